# The ordinary user behind a nix-daemon: the daemon (root) runs our hook,
# and what the hook tells a person reaches that user's terminal, before
# the accept and after it: a builder that is down (the first build and the
# next), a wrong host key (once per build, however many hooks meet it), a
# derivation no builder fits; and an ordinary user's own build refused by
# the daemon gets the trust remedy.  On local sides of Nix 2.8 (this
# machine's), 2.26 and 2.34 (the trees).

# daemon_run SUITE SCRIPT: SCRIPT (sh) beside a nix-daemon of SUITE's Nix
# ("" for this machine's), which runs our hook with max-jobs = 0 and the
# builders of $T/bld; in SCRIPT, `user CMD...` runs CMD as uid 4242, a
# user the daemon does not trust, with NIX_REMOTE=daemon.
daemon_run() {
	local suite=$1 script=$2
	hook_install
	chmod 711 "$WORK"
	chmod 755 "$T"
	chmod 644 "$T/bld"
	cat >"$T/daemon.sh" <<-EOS
	export NIX_CONFIG="build-hook = $HOOK
	builders = @$T/bld
	max-jobs = 0"
	rm -f /nix/var/nix/daemon-socket/socket	# an earlier daemon's
	nix-daemon >"$T/daemon.log" 2>&1 &
	d=\$!
	unset NIX_CONFIG
	i=0
	while [ ! -S /nix/var/nix/daemon-socket/socket ] && [ \$i -lt 400 ]; do
		i=\$((i + 1)); sleep 0.05
	done
	user() {
		setpriv --reuid=4242 --regid=4242 --clear-groups env \\
		    -u XDG_CONFIG_HOME -u XDG_CONFIG_DIRS -u XDG_CACHE_HOME \\
		    -u XDG_DATA_HOME HOME=/tmp NIX_REMOTE=daemon "\$@"
	}
	. "$script"
	rc=\$?
	kill \$d
	wait \$d
	exit \$rc
	EOS
	if [ -n "$suite" ]; then
		in_tree "$suite" sh "$T/daemon.sh"
	else
		(cd "$WORK" && unshare -m --propagation private sh -c '
			mount -t tmpfs tmpfs /nix/var/nix/daemon-socket 2>/dev/null ||
			    mkdir -p /nix/var/nix/daemon-socket
			exec sh "$1"' sh "$T/daemon.sh")
	fi
}

daemon_messages() {	# suite
	# a builder nothing listens on, then skipped; a wrong host key; no fit
	echo "ssh://$DOWN x86_64-linux - 4 1 - - $K1" >"$T/bld"
	cat >"$T/s1.sh" <<-EOS
	user nix-build --no-out-link --max-jobs 0 -A step1 --argstr nonce "$T-1" "$SUITE" >"$T/a.out" 2>"$T/a.err"
	user nix-build --no-out-link --max-jobs 0 -A step2 --argstr nonce "$T-2" "$SUITE" >"$T/b.out" 2>"$T/b.err"
	user nix-build --no-out-link --max-jobs 0 -A riscv --argstr nonce "$T-3" "$SUITE" >"$T/c.out" 2>"$T/c.err"
	true
	EOS
	daemon_run "$1" "$T/s1.sh"
	for f in a b c; do sed "s/^/  $f: /" "$T/$f.err"; done
	# the first: the connection failed after the accept
	expect_in "$T/a.err" "^nix-offload: ssh://$DOWN: cannot reach the builder: .*Connection refused"
	# the next: down, skipped, said before the accept, with the remedy
	expect_in "$T/b.err" "^nix-offload: every builder that could build /nix/store/[^ ]*-step[12].drv is down"
	expect_in "$T/b.err" "ssh://$DOWN .*down until [0-9:]+ .*cannot reach the builder.*nix-offload enable ssh://$DOWN. tries it now"
	expect_in "$T/c.err" "^nix-offload: no builder can build /nix/store/[^ ]*-riscv.drv \\(system riscv64-linux\\):\$"
	expect_in "$T/c.err" "^  ssh://$DOWN \\([^)]*\\): system riscv64-linux is not one of its systems"
	# a wrong host key (builder 2's pinned for builder 1), four
	# derivations at once: said once for the build
	echo "ssh://$H1 x86_64-linux - 4 1 - - $K2" >"$T/bld"
	cat >"$T/s2.sh" <<-EOS
	user nix-build --no-out-link --max-jobs 0 -A fan --argstr nonce "$T-4" "$SUITE" >"$T/d.out" 2>"$T/d.err"
	true
	EOS
	daemon_run "$1" "$T/s2.sh"
	sed 's/^/  d: /' "$T/d.err"
	# (as the connection's failure, or as why the builder is down, for
	# the hooks that came after; Nix may stop the build before a hook
	# that connected has said it)
	n=$(grep -c "ssh://$H1: the builder's host key is not the pinned one" "$T/d.err")
	[ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "the wrong host key was said $n times"
	[ "$(grep -c "^nix-offload: every builder that could build" "$T/d.err")" -le 1 ] ||
	    fail "that the builder is down was said more than once"
	# one incident, however many hooks met it: one failure
	key=$(printf '%s' "ssh://$H1" | sha256sum | cut -c1-16)
	[ "$(cut -d' ' -f1 "$T/ctl/health/$key")" = 1 ] ||
	    fail "the builder's record: $(cat "$T/ctl/health/$key")"
}

t_daemon_messages() {
	daemon_messages ""
}

t_modern_daemon_messages_2_26() {
	daemon_messages trixie
}

t_modern_daemon_messages_2_34() {
	daemon_messages sid
}

# An ordinary user's status, why and check while the daemon's hook builds
# for them: root's picture, from the summary root keeps (NAME.public
# beside root's runtime directory), with the build in it; its slot
# counted by why; check says whose keys the hook uses.
daemon_view() {	# suite
	both
	cp "$T/both" "$T/bld"
	cat >"$T/s3.sh" <<-EOS
	user nix-build --no-out-link --max-jobs 0 -A slow --argstr nonce "$T" "$SUITE" >"$T/a.out" 2>"$T/a.err" &
	nb=\$!
	i=0
	until grep -q building "$T/ctl.public/status.txt" 2>/dev/null || [ \$i -ge 600 ]; do
		i=\$((i + 1)); sleep 0.05
	done
	user env NIX_OFFLOAD_ROOT_RUNTIME_DIR="$T/ctl" NIX_OFFLOAD_RUNTIME_DIR=/tmp/u1 \\
	    "$NO" status --builders "@$T/bld" >"$T/st.out" 2>"$T/st.err"
	user env NIX_OFFLOAD_ROOT_RUNTIME_DIR="$T/ctl" NIX_OFFLOAD_RUNTIME_DIR=/tmp/u2 \\
	    "$NO" status --json --builders "@$T/bld" >"$T/sj.out" 2>"$T/sj.err"
	user env NIX_OFFLOAD_ROOT_RUNTIME_DIR="$T/ctl" NIX_OFFLOAD_RUNTIME_DIR=/tmp/u3 \\
	    "$NO" why --builders "ssh://$H1 x86_64-linux - 1 1 - - $K1" -A slow --argstr nonce "$T" "$SUITE" >"$T/w.out" 2>"$T/w.err"
	user env NIX_OFFLOAD_ROOT_RUNTIME_DIR="$T/ctl" NIX_OFFLOAD_RUNTIME_DIR=/tmp/u4 \\
	    "$NO" check --builders "@$T/bld" >"$T/c.out" 2>"$T/c.err"
	kill \$nb
	wait \$nb
	true
	EOS
	daemon_run "$1" "$T/s3.sh"
	for f in st sj w c; do sed "s/^/  $f: /" "$T/$f.out" "$T/$f.err"; done
	expect_in "$T/st.out" "^the nix-daemon's build hook \\(root\\), as of [0-9:]+:\$"
	expect_in "$T/st.out" "^  slot 1: building slow, for "
	python3 - "$T/sj.out" <<-'PY' || fail "status --json: $(cat "$T/sj.out")"
	import json, sys
	d = json.load(open(sys.argv[1]))
	root = d["daemon"]["status"]
	assert any(s["state"] == "building" and s["name"] == "slow"
	           for b in root["builders"] for s in b["slots"]), root
	PY
	# the builder's one slot is the hook's: busy, as why sees it
	expect_in "$T/w.out" "^  ssh://$H1: busy: fits, but all 1 slot is in use\$"
	expect_in "$T/c.out" "^note: builds through the nix-daemon reach the builders from its build hook, which runs as root"
	expect_in "$T/c.out" "^the hook's own picture, as of [0-9:]+:\$"
}

t_daemon_view() {
	daemon_view ""
}

t_modern_daemon_view_2_34() {
	daemon_view sid
}

# An ordinary user's own `nix-offload build` through the daemon: the
# daemon refuses the unsigned outputs, in the words of its version
# (2.8: "lacks a valid signature", 2.12 on: "lacks a signature by a
# trusted key"), and the user reads the remedy, not the raw error.  (On
# this machine's Nix 2.8: t_user_build_daemon, tests/root.sh; the trees
# have the user, uid 4242, that ssh wants in /etc/passwd.)
daemon_trust() {	# suite
	both
	cp "$T/both" "$T/bld"
	mkdir -p "$T/uhome"
	cp "$TB/id_user" "$T/uhome/id"
	chown -R 4242 "$T/uhome"
	chmod 600 "$T/uhome/id"
	awk -v k="$T/uhome/id" '{ sub("ssh://", "ssh://root@", $1); $3 = k; print }' \
	    "$T/both" >"$T/ubuilders"
	chmod 644 "$T/ubuilders"
	cat >"$T/s4.sh" <<-EOS
	user env NIX_OFFLOAD_RUNTIME_DIR=/tmp/ut "$NO" build --no-out-link \\
	    --builders "@$T/ubuilders" -A step1 --argstr nonce "$T" "$SUITE" \\
	    >"$T/e.out" 2>"$T/e.err"
	echo \$? >"$T/e.rc"
	true
	EOS
	daemon_run "$1" "$T/s4.sh"
	sed 's/^/  e: /' "$T/e.err"
	[ "$(cat "$T/e.rc")" = 1 ] || fail "exit status $(cat "$T/e.rc"), expected 1"
	expect_in "$T/e.err" "the local Nix refused what the builder built: no key in its trusted-public-keys signed it, and this user \\(uid 4242\\) is not in its trusted-users"
	expect_in "$T/e.err" "secret-key-files"
}

t_modern_daemon_trust_2_26() {
	daemon_trust trixie
}

t_modern_daemon_trust_2_34() {
	daemon_trust sid
}
