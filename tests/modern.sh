# Today's Nix on the local side: nix-build and nix-offload build running
# in the trees of scripts/trees (Debian 13's Nix 2.26, sid's 2.34), against
# the test bed's builders, compared with what that Nix's own hook does.
# (The builders themselves run today's Nix when TESTBED_TREES is set: see
# tests/run.)

# all_valid SUITE FILE: every path FILE names is valid in SUITE's store
all_valid() {
	local p
	for p in $(cat "$2"); do
		in_tree "$1" nix-store --verify-path "$p" || fail "$p is not valid"
	done
}

# nix-build of that Nix through our hook (NIX_HELD_LOCKS on 2.26, restored
# and registered on 2.34): valid outputs, the same paths, NAR hashes and
# references as through that Nix's own hook.
modern_hook() {	# suite route [ng: the builders are ssh-ng://]
	local m=both scheme=ssh
	hook_install
	both
	if [ "${3:-}" = ng ]; then
		ng_both
		m=ng scheme=ssh-ng
	fi
	drv=$(in_tree "$1" nix-instantiate -A multi --argstr nonce "$T" "$SUITE" 2>"$T/inst.err") ||
	    fail "nix-instantiate in $1: $(tail -3 "$T/inst.err")"
	run a in_tree "$1" nix-store -vv --realise --option build-hook "$HOOK" \
	    --max-jobs 0 --builders "@$T/$m" "$drv"
	expect_rc 0
	expect_lines "$T/a.out" 2
	expect_in "$T/a.err" "building '$drv' on '$scheme://"
	expect_in "$T/a.err" "hook: Nix [0-9.]+: outputs are $2"
	# no daemon here: the local store is a nix-store
	expect_not_in "$T/a.err" "local store: the nix-daemon at"
	all_valid "$1" "$T/a.out"
	records "$T/a.out" in_tree "$1" >"$T/ours"
	# (on 2.34 the broker's warm local nix-store holds them alive for a
	# second or two after the build)
	wait_until 15 quietly in_tree "$1" nix-store --delete $(cat "$T/a.out") ||
	    fail "cannot delete the outputs to build them again"
	run b in_tree "$1" nix-store --realise --max-jobs 0 --builders "@$T/$m" "$drv"
	expect_rc 0
	expect_in "$T/b.err" "building '$drv' on '$scheme://"
	records "$T/b.out" in_tree "$1" >"$T/nixs"
	cmp -s "$T/ours" "$T/nixs" || fail "not as Nix's own hook: $(diff "$T/ours" "$T/nixs")"
}

t_modern_hook_2_34() {
	modern_hook sid "unpacked and registered without the store's locks"
}

t_modern_hook_2_26() {
	modern_hook trixie "imported with NIX_HELD_LOCKS"
}

# Nix 2.34 without a daemon, a chain of three through our hook: the
# local nix-store each build needs comes warm from the lease broker after
# the first (one nix-store fewer a build), and every output is valid, with
# what the chain computes.  On 2.26 (NIX_HELD_LOCKS: the hook's locks must
# reach the import) each starts its own.
modern_local_warm() {	# suite
	hook_install
	both
	drv=$(in_tree "$1" nix-instantiate -A step3 --argstr nonce "$T" "$SUITE" 2>"$T/inst.err") ||
	    fail "nix-instantiate in $1: $(tail -3 "$T/inst.err")"
	run a in_tree "$1" nix-store -vv --realise --option build-hook "$HOOK" \
	    --max-jobs 0 --builders "@$T/both" "$drv"
	expect_rc 0
	all_valid "$1" "$T/a.out"
	[ "$(in_tree "$1" cat "$(cat "$T/a.out")")" = 3 ] || fail "step3 is not 3"
}

t_modern_local_warm_2_34() {
	modern_local_warm sid
	expect_in "$T/a.err" "local store: a session from the broker, new"
	expect_in "$T/a.err" "local store: a session from the broker, warm: it served an earlier build"
	# what it held alive (temporary roots) is let go once it is idle
	# (LEASE_LOCAL_IDLE, 1 s, and the broker's tick, 1 s)
	wait_until 5 quietly in_tree sid nix-store --delete $(cat "$T/a.out") ||
	    fail "the outputs stayed alive after the build"
	# a hook whose nix-store would read another configuration is handed
	# none: it starts its own
	NIX_CONFIG="show-trace = true" run b in_tree sid nix-store -vv --realise \
	    --option build-hook "$HOOK" --max-jobs 0 --builders "@$T/both" "$drv"
	expect_rc 0
	expect_in "$T/b.err" "(ssh://$H1|ssh://$H2): a session from the broker, warm"
	expect_not_in "$T/b.err" "local store: a session from the broker"
	all_valid sid "$T/b.out"
}

t_modern_local_warm_2_26() {
	modern_local_warm trixie
	expect_not_in "$T/a.err" "local store: a session from the broker"
}

# the same over ssh-ng://, both import routes, against Nix's own hook over
# ssh-ng://
t_modern_ng_hook_2_34() {
	modern_hook sid "unpacked and registered without the store's locks" ng
}

t_modern_ng_hook_2_26() {
	modern_hook trixie "imported with NIX_HELD_LOCKS" ng
}

# check says when Nix will not run the hook nix.conf names: Nix 2.26 puts
# its own in place of nix.conf's build-hook, 2.34 and 2.8 honour it.
modern_check_hook() {	# suite warns
	hook_install
	both
	mkdir -p "$T/$1/etc-nix"
	printf 'build-users-group =\nsandbox = false\nsubstituters =\nbuild-hook = %s\n' \
	    "$HOOK" >"$T/$1/etc-nix/nix.conf"
	run a in_tree "$1" "$NO" check --builders "@$T/both"
	expect_rc 0
	if [ "$2" = yes ]; then
		expect_in "$T/a.err" "warning: the configuration sets build-hook = $HOOK, but Nix 2\\.26\\.[0-9]+ runs /[^ ]*/nix __build-remote instead"
		expect_in "$T/a.err" "^Environment=\"NIX_CONFIG=build-hook = $HOOK\"$"
	else
		expect_not_in "$T/a.err" "build-hook"
	fi
}

t_modern_check_hook_2_26() {
	modern_check_hook trixie yes
}

t_modern_check_hook_2_34() {
	modern_check_hook sid no
}

t_check_hook_honoured() {
	hook_install
	both
	run a env NIX_CONFIG="build-hook = $HOOK" "$NO" check --builders "@$T/both"
	expect_rc 0
	expect_not_in "$T/a.err" "build-hook"
}

# A failed build through the hook: Nix 2.26 exits 100 as 2.8 does; Nix
# 2.34 takes any failure of a hook for its own (MiscFailure) and exits 1,
# as the man page says.  The build's own error reaches the user both ways.
modern_hook_fails() {	# suite status
	hook_install
	both
	run a in_tree "$1" nix-build --no-out-link --option build-hook "$HOOK" \
	    --max-jobs 0 --builders "@$T/both" -A fails --argstr nonce "$T" "$SUITE"
	expect_rc "$2"
	expect_in "$T/a.err" 'this build is going to fail'
	expect_in "$T/a.err" 'exit code 3'
}

t_modern_hook_fails_2_26() {
	modern_hook_fails trixie 100
}

t_modern_hook_fails_2_34() {
	modern_hook_fails sid 1
}

# Under nix-daemon, for an ordinary user: the daemon (root) runs our hook,
# named in its environment (NIX_CONFIG, which every version honours), and
# the user's nix-build gets valid outputs.  On 2.34 the outputs take the
# unlocked route, its local store the daemon's socket; on 2.26
# NIX_HELD_LOCKS, through a nix-store that carries them.
modern_daemon_hook() {	# suite route
	hook_install
	both
	chmod 711 "$WORK"
	chmod 755 "$T"
	mkdir -p "$T/$1/etc-nix"
	printf 'build-users-group =\nsandbox = false\nsubstituters =\nmax-jobs = 0\nbuilders = @%s\n' \
	    "$T/both" >"$T/$1/etc-nix/nix.conf"
	cat >"$T/daemon.sh" <<-EOS
	NIX_CONFIG="build-hook = $HOOK" nix-daemon >"$T/daemon.log" 2>&1 &
	d=\$!
	i=0
	while [ ! -S /nix/var/nix/daemon-socket/socket ] && [ \$i -lt 200 ]; do
		i=\$((i + 1)); sleep 0.05
	done
	setpriv --reuid=4242 --regid=4242 --clear-groups env HOME=/tmp \\
	    NIX_REMOTE=daemon nix-build -vv --no-out-link -A multi \\
	    --argstr nonce "$T" "$SUITE" >"$T/a.out" 2>"$T/a.err"
	rc=\$?
	kill \$d
	wait \$d
	exit \$rc
	EOS
	in_tree "$1" sh "$T/daemon.sh"
	RC=$?
	sed 's/^/  err: /' "$T/a.err" | tail -20
	expect_rc 0
	expect_lines "$T/a.out" 1
	expect_in "$T/a.err" "building '[^']*-multi.drv' on 'ssh://"
	# said before the accept, as a JSON log line: the user reads it
	expect_in "$T/a.err" "hook: Nix [0-9.]+: outputs are $2"
	# where no import needs Nix's locks, the daemon's socket serves
	# the local store: no nix-store started for it
	if [ "$3" = socket ]; then
		expect_in "$T/a.err" "local store: the nix-daemon at /nix/var/nix/daemon-socket/socket"
	else
		expect_not_in "$T/a.err" "local store: the nix-daemon at"
	fi
	expect_not_in "$T/daemon.log" "nix-offload"
	all_valid "$1" "$T/a.out"
	[ "$(in_tree "$1" cat "$(head -1 "$T/a.out")/quotes")" = "$(printf 'a "double" '"'"'single'"'"' back\\slash\nnew line\ttab $dollar `tick`')" ] ||
	    fail "wrong contents"
}

t_modern_daemon_hook_2_34() {
	modern_daemon_hook sid "unpacked and registered without the store's locks" socket
}

t_modern_daemon_hook_2_26() {
	modern_daemon_hook trixie "imported with NIX_HELD_LOCKS" nix-store
}

# nix-offload build on a local side running today's Nix: its own
# nix-instantiate and nix-store, the outputs valid in its store, the paths
# that Nix says.
modern_build() {	# suite
	both
	run a in_tree "$1" "$NO" build --builders "@$T/both" -A step3 \
	    --argstr nonce "$T" "$SUITE"
	expect_rc 0
	want=$(in_tree "$1" nix-instantiate --eval \
	    -E "(import $SUITE { nonce = \"$T\"; }).step3.outPath" 2>/dev/null | tr -d '"')
	[ "$(cat "$T/a.out")" = "$want" ] || fail "built $(cat "$T/a.out"), Nix says $want"
	in_tree "$1" nix-store --verify-path "$want" || fail "$want is not valid"
	[ "$(in_tree "$1" cat "$want")" = 3 ] || fail "step3 is not 3"
}

t_modern_build_2_34() {
	modern_build sid
}

t_modern_build_2_26() {
	modern_build trixie
}
