# Root runs the hook, check, build and copy: nothing it writes may go
# through another user's plant, and nothing may wedge it.  Each test runs
# in a mount namespace of its own, with fresh /tmp and /run and a second
# user, planter (uid 4242), who plants what a local attacker would.

PLANTER=4242
VICTIM_USER=4243

# as_root_ns FUNCTION: run FUNCTION as root in a private mount namespace
# with tmpfs on /tmp and /run ($WORK bound back where it was) and users
# planter and victim in private copies of /etc/passwd and /etc/group.
as_root_ns() {
	cp /etc/passwd "$T/passwd"
	cp /etc/group "$T/group"
	echo "planter:x:$PLANTER:$PLANTER::/nonexistent:/bin/sh" >>"$T/passwd"
	echo "victim:x:$VICTIM_USER:$VICTIM_USER::/nonexistent:/bin/sh" >>"$T/passwd"
	printf 'planter:x:%s:\nvictim:x:%s:\n' $PLANTER $VICTIM_USER >>"$T/group"
	(cd "$WORK" && unshare -m --propagation private bash -c '
		set -e
		exec 8<"$TOP"	# the tree may be under /tmp too (a CI clone)
		mount -t tmpfs -o mode=1777 tmpfs /tmp
		mount -t tmpfs -o mode=755 tmpfs /run
		mkdir -p "$WORK" "$TOP"
		# the old $WORK, our working directory, and the old $TOP, by
		# descriptor (not by their paths: hidden now)
		mount --no-canonicalize --bind . "$WORK"
		mount --no-canonicalize --bind /proc/self/fd/8 "$TOP"
		exec 8<&-
		mount --bind "$T/passwd" /etc/passwd
		mount --bind "$T/group" /etc/group
		set +e
		. "$TOP/tests/lib.sh"
		. "$TOP/tests/build.sh"
		. "$TOP/tests/hook.sh"
		. "$TOP/tests/root.sh"
		cd "$T"
		"$1"' sh "$1")
}

# as USER CMD...: run a command as another user
as() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --clear-groups "$@"
}

# plant DIR: DIR, world-writable and planter's, full of links named like
# every file nix-offload keeps, each pointing at root's victims; NAMES
# lists the names (from a run in a scratch directory).
plant() {
	as $PLANTER mkdir -p "$1"
	as $PLANTER chmod 0777 "$1"
	for n in $(cat "$T/names") local-nix-version roots.1 roots.$$; do
		as $PLANTER ln -sf "$T/victim" "$1/$n"
	done
	as $PLANTER ln -sfn "$T/victimdir" "$1/health"
	as $PLANTER ln -sfn "$T/victimdir" "$1/slots"
}

untouched() {
	[ "$(cat "$T/victim")" = precious ] || fail "$1: the victim file was written"
	[ "$(stat -c %U:%a "$T/victim")" = root:600 ] || fail "$1: the victim's owner or mode changed"
	[ -z "$(ls -A "$T/victimdir")" ] || fail "$1: files in the victim directory: $(ls "$T/victimdir")"
	[ -z "$(find /tmp/nix-offload-0 /tmp/planter-xdg -user root 2>/dev/null)" ] ||
	    fail "$1: root made files among the plants: $(find /tmp/nix-offload-0 /tmp/planter-xdg -user root)"
}

root_plants_body() {
	set -u
	hook_install
	both
	echo precious >"$T/victim"
	chmod 600 "$T/victim"
	mkdir -m 700 "$T/victimdir"
	chmod 755 "$T"
	# what root writes, by name, in a scratch runtime directory
	NIX_OFFLOAD_RUNTIME_DIR=$T/scratch timeout 60 "$NO" store-info "$U1" >/dev/null ||
	    fail "the scratch run failed"
	ls "$T/scratch" | sed 's/\.[0-9]*$//' | sort -u >"$T/names"
	[ -s "$T/names" ] || fail "the scratch run wrote nothing"
	# the plants: /tmp/nix-offload-0, and root's XDG_RUNTIME_DIR under
	# sudo -E, a directory of the user's
	plant /tmp/nix-offload-0
	as $PLANTER mkdir -m 700 /tmp/planter-xdg
	plant /tmp/planter-xdg/nix-offload
	ls -laR /tmp/nix-offload-0 /tmp/planter-xdg >"$T/plants.before"
	unset NIX_OFFLOAD_RUNTIME_DIR
	export XDG_RUNTIME_DIR=/tmp/planter-xdg

	run hook timeout 120 nix-build --no-out-link --option build-hook "$HOOK" \
	    --max-jobs 0 --builders "@$T/both" -A step1 --argstr nonce "$T-hook" "$SUITE"
	[ "$RC" = 124 ] && fail "the hook hung"
	expect_rc 0
	expect_in "$T/hook.err" "building '.*-step1.drv' on 'ssh://"
	untouched hook
	run check timeout 120 "$NO" check --builders "@$T/both"
	expect_rc 0
	expect_in "$T/check.out" "^2 of 2 usable builders up$"
	untouched check
	run build timeout 120 "$NO" build --builders "@$T/both" -A step2 \
	    --argstr nonce "$T-build" "$SUITE"
	expect_rc 0
	expect_in "$T/build.err" "^built step2 on "
	untouched build
	run copy timeout 120 "$NO" copy --to "$U1" "$(cat "$T/build.out")"
	expect_rc 0
	untouched copy
	# status reads root's directory, why makes a run directory in it
	run status timeout 60 "$NO" status --json --builders "@$T/both"
	expect_rc 0
	expect_in "$T/status.out" '^\{"builders":\[\{"uri":"ssh://'
	untouched status
	run why timeout 120 "$NO" why --builders "@$T/both" -A step1 \
	    --argstr nonce "$T-why" "$SUITE"
	expect_rc 0
	expect_in "$T/why.out" "^  a build now would take ssh://"
	untouched why
	ls -laR /tmp/nix-offload-0 /tmp/planter-xdg >"$T/plants.after"
	cmp -s "$T/plants.before" "$T/plants.after" || fail "the plants changed"
	# root's state went where no one else can write
	[ "$(stat -c %U:%a /run/nix-offload)" = root:700 ] ||
	    fail "/run/nix-offload is $(stat -c %U:%a /run/nix-offload)"
	ls /run/nix-offload/slots | grep -q . || fail "no slot files in /run/nix-offload"

	# a squatted /tmp/nix-offload-0, a plain file now, is nothing to root
	rm -rf /tmp/nix-offload-0
	as $PLANTER sh -c 'echo squat >/tmp/nix-offload-0'
	run check2 timeout 120 "$NO" check --builders "@$T/both"
	expect_rc 0
	[ "$(cat /tmp/nix-offload-0)" = squat ] || fail "the squatter's file changed"
}

t_root_plants() {
	as_root_ns root_plants_body
}

# A runtime directory someone else made, or one open to others, is
# refused in one line naming it and the remedy, at once, by every command
# and by the hook (which then declines: Nix is not kept waiting).
root_refuse_body() {
	set -u
	hook_install
	both
	as $PLANTER mkdir -m 777 /tmp/planted
	for cmd in "store-info $U1" "check --builders @$T/both" \
	    "build --builders @$T/both -A step1 --argstr nonce $T $SUITE" \
	    "copy --to $U1 $SUITE" "enable --all --builders @$T/both" \
	    "status --builders @$T/both" \
	    "why --builders @$T/both -A step1 --argstr nonce $T $SUITE"; do
		NIX_OFFLOAD_RUNTIME_DIR=/tmp/planted run r timeout 30 "$NO" $cmd
		expect_rc 2
		expect_lines "$T/r.err" 1
		expect_in "$T/r.err" "^nix-offload: refusing the runtime directory /tmp/planted: it belongs to uid $PLANTER, not to uid 0; .*set NIX_OFFLOAD_RUNTIME_DIR"
	done
	NIX_OFFLOAD_RUNTIME_DIR=/tmp/planted run hook timeout 60 nix-build --no-out-link \
	    --option build-hook "$HOOK" --max-jobs 0 --builders "@$T/both" \
	    -A step1 --argstr nonce "$T-hook" "$SUITE"
	[ "$RC" = 124 ] && fail "the hook hung"
	[ "$RC" != 0 ] || fail "built with a planted runtime directory"
	expect_in "$T/hook.err" "refusing the runtime directory /tmp/planted"
	[ -z "$(ls -A /tmp/planted)" ] || fail "root wrote into the planted directory"
	# ours, but open to the group, or a link to ours: refused too
	mkdir -m 750 "$T/open"
	NIX_OFFLOAD_RUNTIME_DIR=$T/open run o "$NO" store-info "$U1"
	expect_rc 2
	expect_in "$T/o.err" "refusing the runtime directory $T/open: its mode is 0750, not 0700"
	mkdir -m 700 "$T/real"
	ln -s "$T/real" "$T/link"
	NIX_OFFLOAD_RUNTIME_DIR=$T/link run l "$NO" store-info "$U1"
	expect_rc 2
	expect_in "$T/l.err" "refusing the runtime directory $T/link: it is a symbolic link"
	# in a directory others may change: they could swap it after the check
	mkdir -m 777 "$T/shared"
	mkdir -m 700 "$T/shared/ours"
	NIX_OFFLOAD_RUNTIME_DIR=$T/shared/ours run s "$NO" store-info "$U1"
	expect_rc 2
	expect_in "$T/s.err" "its parent $T/shared is writable by others and not sticky"
	# each check alone (issue 22): another user's directory that is
	# private (fails the owner check only), and one of ours in a
	# directory another user owns, not writable by others (they could
	# still swap it)
	as $PLANTER mkdir -m 700 /tmp/planted700
	NIX_OFFLOAD_RUNTIME_DIR=/tmp/planted700 run p7 "$NO" store-info "$U1"
	expect_rc 2
	expect_in "$T/p7.err" "refusing the runtime directory /tmp/planted700: it belongs to uid $PLANTER, not to uid 0"
	as $PLANTER mkdir -m 755 /tmp/theirs
	mkdir -m 700 /tmp/theirs/ours
	NIX_OFFLOAD_RUNTIME_DIR=/tmp/theirs/ours run po "$NO" store-info "$U1"
	expect_rc 2
	expect_in "$T/po.err" "refusing the runtime directory /tmp/theirs/ours: its parent /tmp/theirs belongs to uid $PLANTER"
	# an ordinary user whose /tmp/nix-offload-UID was made by another:
	# not a hang, not someone else's directory used, and not locked out:
	# said once, and a directory in the user's own home serves
	chmod 755 "$T"
	cp "$NO" /tmp/no
	chmod 755 /tmp/no
	mkdir -m 700 /tmp/vhome
	chown $VICTIM_USER /tmp/vhome
	as $PLANTER mkdir -m 777 /tmp/nix-offload-$VICTIM_USER
	cp "$T/both" /tmp/both
	chmod 644 /tmp/both
	for i in 1 2; do
		run u$i env -u XDG_RUNTIME_DIR -u XDG_CACHE_HOME -u NIX_OFFLOAD_RUNTIME_DIR \
		    HOME=/tmp/vhome setpriv --reuid=$VICTIM_USER --regid=$VICTIM_USER \
		    --clear-groups timeout 30 /tmp/no status --builders @/tmp/both
		expect_rc 0
	done
	expect_lines "$T/u1.err" 1
	expect_in "$T/u1.err" "^nix-offload: warning: /tmp/nix-offload-$VICTIM_USER is taken: it belongs to uid $PLANTER, not to you \\(uid $VICTIM_USER\\); using /tmp/vhome/.cache/nix-offload/run from now on"
	expect_lines "$T/u2.err" 0
	[ -z "$(ls -A /tmp/nix-offload-$VICTIM_USER)" ] || fail "the user wrote into the squatted directory"
	[ "$(stat -c %u:%a /tmp/vhome/.cache/nix-offload/run)" = "$VICTIM_USER:700" ] ||
	    fail "the fallback is $(stat -c %u:%a /tmp/vhome/.cache/nix-offload/run)"
	ls /tmp/vhome/.cache/nix-offload/run/slots >/dev/null ||
	    fail "the fallback was not used"
	# a link planted in its place: the same; and with no home to fall
	# back to, refused in one line
	rm -rf /tmp/vhome/.cache /tmp/nix-offload-$VICTIM_USER
	as $PLANTER ln -s /tmp/planted /tmp/nix-offload-$VICTIM_USER
	run u3 env -u XDG_RUNTIME_DIR -u XDG_CACHE_HOME -u NIX_OFFLOAD_RUNTIME_DIR \
	    -u HOME setpriv --reuid=$VICTIM_USER --regid=$VICTIM_USER \
	    --clear-groups timeout 30 /tmp/no status --builders @/tmp/both
	expect_rc 2
	expect_lines "$T/u3.err" 1
	expect_in "$T/u3.err" "^nix-offload: refusing the runtime directory /tmp/nix-offload-$VICTIM_USER: it is a symbolic link; .*remove it or set NIX_OFFLOAD_RUNTIME_DIR"
	run u4 env -u XDG_RUNTIME_DIR -u NIX_OFFLOAD_RUNTIME_DIR \
	    XDG_CACHE_HOME=/tmp/vhome/c setpriv --reuid=$VICTIM_USER \
	    --regid=$VICTIM_USER --clear-groups timeout 30 /tmp/no status \
	    --builders @/tmp/both
	expect_rc 0
	expect_in "$T/u4.err" "^nix-offload: warning: /tmp/nix-offload-$VICTIM_USER is taken: it belongs to uid $PLANTER, .*using /tmp/vhome/c/nix-offload/run from now on"
	[ -z "$(ls -A /tmp/planted)" ] || fail "the user wrote into the planted directory"
}

t_root_refuse() {
	as_root_ns root_refuse_body
}

# Links inside one's own runtime directory (left there by whoever: root
# or the user) are never followed: slot files that are links to files
# that do not exist yet are not created through, and the build says why
# instead of waiting.
t_rundir_links() {
	both
	mkdir -m 700 "$NIX_OFFLOAD_RUNTIME_DIR" "$NIX_OFFLOAD_RUNTIME_DIR/slots"
	for h in $H1 $H2; do
		key=$(printf '%s' "ssh://$h" | sha256sum | cut -c1-16)
		for i in 0 1 2 3; do
			ln -s "$T/created-$h-$i" "$NIX_OFFLOAD_RUNTIME_DIR/slots/$key.$i"
		done
	done
	NIX_OFFLOAD_SLOT_TIMEOUT=3 run a timeout 60 "$NO" build --builders "@$T/both" \
	    -A step1 --argstr nonce "$T" "$SUITE"
	[ "$RC" != 124 ] || fail "build hung"
	ls "$T" | grep -q '^created-' && fail "created through a link: $(ls "$T" | grep created)"
	expect_rc 1
	expect_in "$T/a.err" "slots/[0-9a-f]{16}\\.0: Too many levels of symbolic links"
}

# daemon_listens: the local nix-daemon takes connections (its socket file
# alone is not enough: it is bound before it listens), within 20 s
daemon_listens() {
	local i
	for i in $(seq 400); do
		python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])' /nix/var/nix/daemon-socket/socket 2>/dev/null && return 0
		sleep 0.05
	done
	fail "the local nix-daemon does not listen: $(tail -3 "$T/daemon.log")"
}

# An ordinary user's build on a multi-user install: a nix-daemon owns the
# store, and planter (not in trusted-users) runs nix-offload build.  The
# outputs the builder built unsigned are refused by the daemon: one error
# says why and what to do, and the builder is not counted down.  When the
# builder signs with a key the daemon trusts, the same build works.
user_build_body() {
	set -u
	both
	chmod 711 "$WORK"
	chmod 755 "$T"
	mkdir -p "$T/uhome"
	cp "$TB/id_user" "$T/uhome/id"
	chown -R $PLANTER "$T/uhome"
	chmod 600 "$T/uhome/id"
	awk -v k="$T/uhome/id" '{ sub("ssh://", "ssh://root@", $1); $3 = k; print }' "$T/both" >"$T/ubuilders"
	chmod 644 "$T/ubuilders"
	nix-store --generate-binary-cache-key testbed-1 "$T/key.sec" "$T/key.pub" ||
	    fail "no signing key"
	rm -f /nix/var/nix/daemon-socket/socket	# an earlier daemon's
	NIX_CONFIG="trusted-public-keys = $(cat "$T/key.pub")" nix-daemon \
	    >"$T/daemon.log" 2>&1 &
	dpid=$!
	daemon_listens
	ubuild() {	# name nonce
		run "$1" as $PLANTER env HOME="$T/uhome" NIX_REMOTE=daemon \
		    NIX_OFFLOAD_RUNTIME_DIR="$T/uhome/run" "$NO" build \
		    --no-out-link --builders "@$T/ubuilders" -A step1 \
		    --argstr nonce "$2" "$SUITE"
	}
	ubuild a "$T-unsigned"
	expect_rc 1
	expect_in "$T/a.err" "the local Nix refused what the builder built: no key in its trusted-public-keys signed it, and this user \\(uid $PLANTER\\) is not in its trusted-users"
	expect_in "$T/a.err" "secret-key-files"
	expect_not_in "$T/a.err" "is down|disconnected|moved"
	[ -z "$(ls -A "$T/uhome/run/health" 2>/dev/null)" ] ||
	    fail "a builder was counted down: $(ls "$T/uhome/run/health")"
	# the builders sign: the daemon takes the same build (their nix.conf
	# comes back whatever happens: the test bed is shared)
	for h in 1 2; do
		cp "$TB/host$h/etc-nix/nix.conf" "$T/nix.conf.$h"
	done
	trap 'for h in 1 2; do cp "$T/nix.conf.$h" "$TB/host$h/etc-nix/nix.conf"; done; kill $dpid 2>/dev/null' EXIT
	for h in 1 2; do
		echo "secret-key-files = $T/key.sec" >>"$TB/host$h/etc-nix/nix.conf"
	done
	ubuild b "$T-signed"
	for h in 1 2; do
		cp "$T/nix.conf.$h" "$TB/host$h/etc-nix/nix.conf"
	done
	kill $dpid
	wait $dpid 2>/dev/null
	expect_rc 0
	out=$(cat "$T/b.out")
	nix-store --verify-path "$out" || fail "$out is not valid here"
	nix --extra-experimental-features nix-command path-info --sigs "$out" 2>/dev/null |
	    grep -q testbed-1 ||
	    fail "$out came without the builder's signature"
}

t_user_build_daemon() {
	as_root_ns user_build_body
}

# Nix 2.8's nix-daemon runs our hook (named in its environment) for an
# ordinary user's nix-build: valid outputs, built on the builders.
daemon_hook_body() {
	set -u
	hook_install
	both
	chmod 711 "$WORK"
	chmod 755 "$T"
	cp /etc/nix/nix.conf "$T/nix.conf.saved"
	dpid=
	# whatever happens, the shared nix.conf comes back, the daemon goes
	trap 'cp "$T/nix.conf.saved" /etc/nix/nix.conf; [ -z "$dpid" ] || kill $dpid' EXIT
	printf 'max-jobs = 0\nbuilders = @%s\n' "$T/both" >>/etc/nix/nix.conf
	rm -f /nix/var/nix/daemon-socket/socket	# an earlier daemon's
	NIX_CONFIG="build-hook = $HOOK" nix-daemon >"$T/daemon.log" 2>&1 &
	dpid=$!
	daemon_listens
	run a as $PLANTER env HOME="$T" NIX_REMOTE=daemon nix-build -vv \
	    --no-out-link -A step3 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	[ "$(grep -c "building '[^']*-step[123].drv' on 'ssh://" "$T/a.err")" = 3 ] ||
	    fail "not all three steps went to the builders"
	# said before the accept, as a JSON log line: the user reads it
	expect_in "$T/a.err" "hook: Nix 2\\.8\\.[0-9]+: outputs are imported with NIX_HELD_LOCKS"
	expect_not_in "$T/daemon.log" "nix-offload"
	nix-store --verify-path "$(cat "$T/a.out")" || fail "not valid"
	[ "$(cat "$(cat "$T/a.out")")" = 3 ] || fail "step3 is not 3"
}

t_hook_daemon_user() {
	as_root_ns daemon_hook_body
}
