# The local machine as a builder of `build` (nix.conf's max-jobs above
# 0, as Nix has it): after the builders, first for preferLocalBuild, never
# with max-jobs 0; its log and failures as a builder's.

# No builders, one local slot: the chain is built here, by the local Nix.
t_local_only() {
	run a "$NO" build --option max-jobs 1 --builders "" -A step3 \
	    --argstr nonce "$T" "$SUITE"
	expect_rc 0
	[ "$(cat "$(cat "$T/a.out")")" = 3 ] || fail "wrong output"
	[ "$(grep -c "^built step[123] on local " "$T/a.err")" = 3 ] ||
	    fail "not every step was built on local"
	# and no builder was asked: none is configured
	expect_not_in "$T/a.err" "ssh://"
}

# One builder slot and one local: the leaves go to the builder while it
# has a slot, and to the local machine when it has none; all 9 built,
# the local machine's outputs here without a fetch.
t_local_after_builders() {
	echo "ssh://$H1 x86_64-linux - 1 1 - - $K1" >"$T/m"
	run a "$NO" build --option max-jobs 1 --builders "@$T/m" -A fan \
	    --argstr nonce "$T" "$SUITE"
	expect_rc 0
	nix-store --verify-path "$(cat "$T/a.out")" || fail "not built"
	expect_in "$T/a.err" "^built leaf-[0-9] on ssh://$H1 "
	expect_in "$T/a.err" "^built leaf-[0-9] on local "
	[ "$(grep -c "^built leaf-[0-9] on " "$T/a.err")" = 8 ] || fail "not 8 leaves"
	# max-jobs 0: the builder alone
	run b "$NO" build --option max-jobs 0 --builders "@$T/m" -A fan \
	    --argstr nonce "$T-b" "$SUITE"
	expect_rc 0
	expect_not_in "$T/b.err" " on local "
	# why says where each would go, the local machine among them
	run c "$NO" why --option max-jobs 1 --builders "@$T/m" -A preferlocal \
	    --argstr nonce "$T-c" "$SUITE"
	expect_rc 0
	expect_in "$T/c.out" "^  local: "
	expect_in "$T/c.out" "a build now would take local"
}

# preferLocalBuild: here, though the builder is free; the others go to
# the builder first.
t_local_prefer() {
	echo "ssh://$H1 x86_64-linux - 4 1 - - $K1" >"$T/m"
	run a "$NO" build --option max-jobs 1 --builders "@$T/m" -A preferlocal \
	    -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "^built preferlocal on local "
	expect_in "$T/a.err" "^built step1 on ssh://$H1 "
	# alone, with the local slot free too: the builder, as Nix asks its
	# hook before it builds here
	run b "$NO" build --option max-jobs 1 --builders "@$T/m" -A step2 \
	    --argstr nonce "$T-b" "$SUITE"
	expect_rc 0
	expect_in "$T/b.err" "^built step1 on ssh://$H1 "
	expect_in "$T/b.err" "^built step2 on ssh://$H1 "
}

# A local build that fails: said once as a builder's failure is, its
# log's lines behind its name, Nix's exit status (100), nothing else tried.
t_local_fails() {
	run a "$NO" build --option max-jobs 1 --builders "" -A fails \
	    --argstr nonce "$T" "$SUITE"
	expect_rc 100
	expect_in "$T/a.err" "^fails> this build is going to fail"
	expect_in "$T/a.err" "^nix-offload: local: building fails failed: builder for '/nix/store/[^']*-fails.drv' failed with exit code 3"
	[ "$(grep -c "building fails failed" "$T/a.err")" = 1 ] || fail "said more than once"
}

# What the local machine built is held against garbage collection while
# the run goes on (a later build here may need it; Nix holds what it
# builds too): step1, built first (-j 1), cannot be deleted while cutme
# builds.
t_local_holds() {
	"$NO" build -j 1 --option max-jobs 1 --builders "" -A step1 -A cutme \
	    --argstr nonce "$T" "$SUITE" >"$T/a.out" 2>"$T/a.err" &
	pid=$!
	wait_for "$T/a.err" "^cutme> started" 60 || fail "cutme did not start"
	expect_in "$T/a.err" "^built step1 on local "
	out=$(nix-store -q --outputs "$(nix-instantiate -A step1 --argstr nonce "$T" "$SUITE" 2>/dev/null)")
	nix-store --delete "$out" >"$T/del.out" 2>&1 &&
	    fail "$out was deleted while the run went on"
	wait $pid
	RC=$? expect_rc 0
	nix-store --verify-path "$out" || fail "$out is gone"
}

# A builder named localhost is this machine, as for Nix: its store
# program runs here, without ssh (none is found: NIX_OFFLOAD_SSH names a
# program that fails), for store-info and for build.
t_localhost_no_ssh() {
	export NIX_OFFLOAD_SSH=/bin/false
	run a "$NO" store-info ssh://localhost
	expect_rc 0
	expect_in "$T/a.out" "^Version: "
	# (the "builder" reads this nix.conf, max-jobs 0: NIX_CONFIG lets it
	# build; --option keeps our local machine out of it)
	NIX_CONFIG="max-jobs = 1" run b "$NO" build --option max-jobs 0 \
	    --builders "ssh://localhost x86_64-linux" -A step2 \
	    --argstr nonce "$T" "$SUITE"
	expect_rc 0
	[ "$(cat "$(cat "$T/b.out")")" = 2 ] || fail "wrong output"
	expect_in "$T/b.err" "^built step2 on ssh://localhost "
	# a user or a port makes it a host to reach over ssh, as for Nix
	run c "$NO" store-info ssh://root@localhost
	[ "$RC" != 0 ] || fail "ssh://root@localhost did not use ssh"
}

# A local store under another root as a builder (field 1 a path), as in
# Nix's own remote-building tests: built in that store by this machine's
# nix-store, whose system features are the entry's, as Nix opens it; the
# output comes home as through Nix's own hook.
t_local_store_builder() {
	hook_install
	s=$T/store2
	# a store under another root builds in a sandbox: the suite's /bin/sh
	export NIX_CONFIG="extra-sandbox-paths = /bin /usr /lib /lib64"
	run a nb --builders "$s - - 1 1 special" -A special --argstr nonce "$T" "$SUITE"
	expect_rc 0
	out=$(cat "$T/a.out")
	[ "$(cat "$out")" = special ] || fail "not built: $(cat "$out")"
	nix-store --store "$s" --check-validity "$out" ||
	    fail "$out was not built in $s"
	expect_in "$T/a.err" "building '.*-special.drv' on '$s'"
	# without the feature in the entry, that store lacks it too
	run b nb --builders "$s - - 1 1 -" -A special --argstr nonce "$T-2" "$SUITE"
	[ "$RC" != 0 ] || fail "built where the entry names no feature special"
	# the same through Nix's own hook
	nix-store --delete "$out" >/dev/null 2>&1 || fail "cannot delete $out"
	run c nix-build --no-out-link --max-jobs 0 --builders "$s - - 1 1 special" \
	    -A special --argstr nonce "$T" "$SUITE"
	expect_rc 0
	cmp -s "$T/a.out" "$T/c.out" || fail "Nix's hook gave $(cat "$T/c.out")"
}
