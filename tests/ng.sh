# ssh-ng:// builders: Nix's daemon protocol (`nix-daemon --stdio`) over the
# same owned ssh, against the test bed's real daemons, compared with what
# Nix itself does over ssh-ng://.  root is trusted by the builders' Nix;
# nixuser (scripts/testbed) is not, and its daemon trusts keys signed by
# $TB/sign.sec.

NG1() { echo "ssh-ng://$H1?base64-ssh-public-host-key=$K1"; }
NG2() { echo "ssh-ng://$H2?base64-ssh-public-host-key=$K2"; }
UNG1() { echo "ssh-ng://nixuser@$H1?base64-ssh-public-host-key=$K1"; }
UNG2() { echo "ssh-ng://nixuser@$H2?base64-ssh-public-host-key=$K2"; }

ng_both() {
	echo "ssh-ng://$H1 x86_64-linux - 4 1 - - $K1
ssh-ng://$H2 x86_64-linux - 4 1 - - $K2" >"$T/ng"
}

# the builders' Nix versions say whether their daemons tell us our trust
trust_said() {	# builder N
	local v
	[ "$1" = 1 ] && v=$BV1 || v=$BV2
	nixver_ge "$v" 2.15
}

nixver_ge() {	# VERSION MIN
	[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]
}

# Nix's own words for each builder, and ours, line by line (ours adds the
# protocol's line).
t_ng_store_info() {
	for n in 1 2; do
		h=127.0.0.$((B + n))
		run a$n "$NO" store-info "ssh-ng://root@$h?base64-ssh-public-host-key=$(eval echo \$K$n)"
		expect_rc 0
		expect_in "$T/a$n.out" "^Protocol: 1\\.(3[4-9])$"
		run n$n nix --extra-experimental-features nix-command store ping \
		    --store "ssh-ng://root@$h?base64-ssh-public-host-key=$(eval echo \$K$n)"
		expect_rc 0
		# Nix 2.8 says the URL as given; ours as it names the builder
		grep -v '^Protocol: ' "$T/a$n.out" | sed 's/?.*//' >"$T/ours$n"
		sed 's/?.*//' "$T/n$n.err" >"$T/nix$n"
		# the trust line: from daemons of 2.15 and later, which the
		# local Nix 2.8 does not print
		if trust_said $n; then
			expect_in "$T/ours$n" '^Trusted: 1$'
			grep -v '^Trusted: ' "$T/ours$n" >"$T/ours$n.t"
			mv "$T/ours$n.t" "$T/ours$n"
		else
			expect_not_in "$T/ours$n" '^Trusted'
		fi
		diff "$T/nix$n" "$T/ours$n" >"$T/diff$n" ||
		    fail "builder $n: Nix and nix-offload differ: $(cat "$T/diff$n")"
	done
	run j "$NO" store-info --json "$(NG2)"
	expect_rc 0
	expect_in "$T/j.out" "^\\{\"url\":\"ssh-ng://$H2\",\"ok\":true,\"protocol\":\"1\\.3[4-9]\",\"remoteProtocol\":\"1\\.3[4-9]\",\"version\":\"$BV2\","
	if trust_said 2; then
		expect_in "$T/j.out" '"trusted":true,"latencyMs":[0-9]+\}$'
	else
		expect_not_in "$T/j.out" 'trusted'
	fi
}

# An ordinary user of the builder: its daemon says it does not trust it
# (from Nix 2.15 on).
t_ng_store_info_untrusted() {
	run a "$NO" store-info "$(UNG2)"
	expect_rc 0
	expect_in "$T/a.out" "^Store URL: ssh-ng://nixuser@$H2\$"
	expect_in "$T/a.out" "^Version: $(printf %s "$BV2" | sed 's/\./\\./g')\$"
	if trust_said 2; then
		expect_in "$T/a.out" '^Trusted: 0$'
		run j "$NO" store-info --json "$(UNG2)"
		expect_in "$T/j.out" '"trusted":false'
	else
		expect_not_in "$T/a.out" '^Trusted'
	fi
}

# check: the write test passes over the daemon protocol, for root and for
# the untrusted user (the test path is content-addressed).
t_ng_check() {
	echo "ssh-ng://$H1 x86_64-linux - 1 1 - - $K1
ssh-ng://nixuser@$H2 x86_64-linux - 1 1 - - $K2" >"$T/m"
	run a "$NO" check --json --builders "@$T/m"
	expect_rc 0
	expect_in "$T/a.out" "\\{\"uri\":\"ssh-ng://$H1\",\"usable\":true,\"ok\":true,.*\"writable\":true,\"version\":\"$BV1\""
	expect_in "$T/a.out" "\\{\"uri\":\"ssh-ng://nixuser@$H2\",\"usable\":true,\"ok\":true,.*\"writable\":true"
	if trust_said 2; then
		expect_in "$T/a.out" "ssh-ng://nixuser@$H2\".*\"trusted\":false"
		run b "$NO" check --builders "@$T/m"
		expect_in "$T/b.out" "^  its user is not in the builder's trusted-users"
	fi
	# the test path is there, as written
	builder_ssh 1 "nix-store -q --hash /nix/store/*-nix-offload-check" >/dev/null 2>&1 ||
	    fail "no test path on builder 1"
}

# copy --to and --from: the paths, their hashes and references on the
# builder are those `nix copy --to ssh-ng://` leaves on the other one.
# One small path goes in seconds (a stream left open hangs: 124).
t_ng_copy() {
	cp -R "$TOP/tests/data/build/src" "$T/tree"
	echo "$T" >"$T/tree/nonce"
	p=$(nix-store --add "$T/tree")
	run a timeout -k 5 60 "$NO" copy --to "$(NG1)" "$p"
	expect_rc 0
	on_builder 1 "$p" || fail "not on builder 1"
	run n nix --extra-experimental-features nix-command copy \
	    --to "ssh-ng://root@$H2?base64-ssh-public-host-key=$K2" "$p"
	expect_rc 0
	echo "$p" >"$T/paths"
	records "$T/paths" builder_ssh 1 >"$T/ours"
	records "$T/paths" builder_ssh 2 >"$T/nix"
	cmp -s "$T/ours" "$T/nix" || fail "ours: $(cat "$T/ours") Nix's: $(cat "$T/nix")"
	nix-store --delete "$p" >/dev/null || fail "cannot delete"
	run b "$NO" copy --from "$(NG1)" "$p"
	expect_rc 0
	nix-store --verify-path "$p" || fail "not valid after copy --from"
	diff -r "$T/tree" "$p" || fail "contents differ"
	run c "$NO" copy --from "$(NG1)" /nix/store/00000000000000000000000000000000-nope
	expect_rc 1
	expect_in "$T/c.err" 'is not valid'
}

# Many small paths go in one AddMultipleToStore stream; a closure whose
# derivation outputs come along with --include-outputs.
t_ng_copy_closure() {
	ng_both
	run a "$NO" build --builders "@$T/ng" -A step3 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	out=$(cat "$T/a.out")
	drv=$(nix-store -q --deriver "$out")
	run b "$NO" -vv copy --to "$(NG2)" --include-outputs "$drv"
	expect_rc 0
	for p in $(nix-store -qR --include-outputs "$drv"); do
		on_builder 2 "$p" || fail "$p did not go"
	done
	run c "$NO" -vv copy --from "$(NG2)" --include-outputs "$drv"
	expect_rc 0
	expect_in "$T/c.err" 'has [0-9]+ of [0-9]+ paths, 0 to copy'
}

# build: the outputs are Nix's, built over ssh-ng; the log comes as the
# builder's lines.
t_ng_build_same_as_nix() {
	ng_both
	run a "$NO" build --no-out-link --builders "@$T/ng" -A multi --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_lines "$T/a.out" 2
	expect_in "$T/a.err" "^built multi on ssh-ng://"
	records "$T/a.out" >"$T/ours"
	nix-store --delete $(cat "$T/a.out") >/dev/null 2>&1 || fail "cannot delete"
	drv=$(nix-instantiate -A multi --argstr nonce "$T" "$SUITE" 2>/dev/null)
	run b nix-store --realise --max-jobs 0 --builders "@$T/ng" "$drv"
	expect_rc 0
	expect_in "$T/b.err" "building '.*-multi.drv' on 'ssh-ng://"
	records "$T/b.out" >"$T/nix"
	cmp -s "$T/ours" "$T/nix" || fail "ours: $(cat "$T/ours") Nix's: $(cat "$T/nix")"
}

t_ng_build_log_and_failure() {
	ng_both
	run a "$NO" build --no-out-link --builders "@$T/ng" -A fails --argstr nonce "$T" "$SUITE"
	expect_rc 100
	expect_in "$T/a.err" '^fails> this build is going to fail$'
	expect_in "$T/a.err" '^fails> on stderr$'
	expect_in "$T/a.err" "^nix-offload: ssh-ng://127\\.0\\.0\\.[0-9]+: building fails failed: builder for '.*-fails.drv' failed with exit code 3"
	run b "$NO" build --no-out-link --builders "@$T/ng" -A chatty --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_lines_matching "$T/b.err" '^chatty> line [0-9]+$' 2000
}

# Both kinds in one machines file: the leaves spread over both.
t_ng_mixed() {
	echo "ssh://$H1 x86_64-linux - 4 1 - - $K1
ssh-ng://$H2 x86_64-linux - 4 1 - - $K2" >"$T/mixed"
	run a "$NO" build --no-out-link --builders "@$T/mixed" -A fan --argstr nonce "$T" "$SUITE"
	expect_rc 0
	n1=$(grep -c "^built leaf-.* on ssh://$H1 " "$T/a.err")
	n2=$(grep -c "^built leaf-.* on ssh-ng://$H2 " "$T/a.err")
	[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && [ $((n1 + n2)) = 8 ] ||
	    fail "leaves built $n1 over ssh://, $n2 over ssh-ng://"
	[ "$(wc -l <"$(cat "$T/a.out")")" = 8 ] || fail "the root saw not 8 leaves"
	run m "$NO" machines --builders "@$T/mixed"
	expect_rc 0
	expect_in "$T/m.out" "^ssh-ng://$H2 x86_64-linux - 4 1 - - $K2 # "
	expect_not_in "$T/m.out" unusable
	run w "$NO" why --builders "@$T/mixed" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/w.out" "ssh-ng://$H2"
}

# The hook: Nix's own builds through nix-offload to ssh-ng:// builders, a
# chain, and the failure's status as Nix's own hook gives it.
t_ng_hook() {
	hook_install
	ng_both
	run a nb --builders "@$T/ng" -A step3 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	[ "$(cat "$(cat "$T/a.out")")" = 3 ] || fail "step3 is not 3"
	[ "$(grep -c "building '.*-step[123].drv' on 'ssh-ng://" "$T/a.err")" = 3 ] ||
	    fail "not all three steps went to the builders"
	run b nb --builders "@$T/ng" -A fails --argstr nonce "$T" "$SUITE"
	expect_rc 100
	expect_in "$T/b.err" "failed: builder for '.*-fails.drv' failed with exit code 3"
}

# Floating content-addressed derivations through the hook to ssh-ng://
# builders, as a trusted user (BuildDerivation) and as an untrusted one
# (the .drv sent, BuildPathsWithResults): valid here, realisations
# registered (Nix fails the build without them).
t_ng_floating() {
	hook_install
	ca_builders
	for u in "" nixuser@; do
		echo "ssh-ng://$u$H1 x86_64-linux - 2 1 ca-derivations - $K1" >"$T/ngca"
		if ca_eras_differ; then
			# floatmore names itself: not across 2.17 (t_hook_floating)
			run c nix-build --no-out-link --option build-hook "$HOOK" \
			    --option experimental-features 'nix-command ca-derivations' \
			    --max-jobs 0 --builders "@$T/ngca" -A floatmore.out \
			    --argstr nonce "$T-$u" "$SUITE"
			[ "$RC" != 0 ] || fail "floatmore was taken across 2.17"
			expect_lines_matching "$T/c.err" "nix-offload: .*Nix 2.17 changed how" 1
			run a nix-build --no-out-link --option build-hook "$HOOK" \
			    --option experimental-features 'nix-command ca-derivations' \
			    --max-jobs 0 --builders "@$T/ngca" -A floatnonce \
			    --argstr nonce "$T-$u" "$SUITE"
			expect_rc 0
			expect_in "$T/a.err" "building '.*-floatnonce.drv' on 'ssh-ng://$u$H1'"
			[ "$(cat "$(cat "$T/a.out")")" = "$T-$u" ] || fail "floatnonce: $(cat "$(cat "$T/a.out")")"
			continue
		fi
		run a nix-build --no-out-link --option build-hook "$HOOK" \
		    --option experimental-features 'nix-command ca-derivations' \
		    --max-jobs 0 --builders "@$T/ngca" -A floatmore.out \
		    -A floatnonce --argstr nonce "$T-$u" "$SUITE"
		expect_rc 0
		expect_in "$T/a.err" "building '.*-floatmore.drv' on 'ssh-ng://$u$H1'"
		expect_in "$T/a.err" "building '.*-floatnonce.drv' on 'ssh-ng://$u$H1'"
		for p in $(cat "$T/a.out"); do
			nix-store --verify-path "$p" || fail "$p is not valid"
		done
		[ "$(cat "$(tail -1 "$T/a.out")")" = "$T-$u" ] || fail "floatnonce: $(cat "$(tail -1 "$T/a.out")")"
	done
}

# An untrusted user builds a derivation from its .drv (BuildPathsWithResults),
# as Nix's own hook does since 2.16: leaves need nothing signed.  A daemon
# that does not say (2.8) is answered from its refusal.
t_ng_untrusted_leaves() {
	echo "$(UNG1 | sed 's/?.*//') x86_64-linux - 4 1 - - $K1" >"$T/u"
	run a "$NO" -v build --no-out-link --builders "@$T/u" -A step3 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	[ "$(cat "$(cat "$T/a.out")")" = 3 ] || fail "step3 is not 3"
	expect_in "$T/a.err" "building .*-step3.drv with BuildPathsWithResults: the builder's user is not trusted"
	if ! trust_said 1; then
		expect_in "$T/a.err" "the builder's user is not trusted: sending the .drv"
	fi
	# and through the hook
	hook_install
	run b nb --builders "@$T/u" -A step2 --argstr nonce "$T.2" "$SUITE"
	expect_rc 0
}

# An input the builder lacks, unsigned: refused, with what to do; signed
# by a key the builder's daemon trusts: built.
t_ng_untrusted_signed() {
	# step1 built here, so that its output is local and unsigned
	run a nix-build --no-out-link --max-jobs 1 --option builders '' -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	in1=$(cat "$T/a.out")
	echo "$(UNG2 | sed 's/?.*//') x86_64-linux - 4 1 - - $K2" >"$T/u"
	run b "$NO" build --no-out-link --builders "@$T/u" -A step2 --argstr nonce "$T" "$SUITE"
	expect_rc 1
	expect_in "$T/b.err" "ssh-ng://nixuser@$H2: .*the builder's nix-daemon refused: cannot add path '$in1' because it lacks a (valid signature|signature by a trusted key); the builder's user is not in its trusted-users, so what it is sent must be signed by a key in its trusted-public-keys \\(secret-key-files here\\), or be content-addressed; or add the user to trusted-users on the builder"
	expect_lines_matching "$T/b.err" 'lacks a' 1
	nix --extra-experimental-features nix-command store sign --key-file "$TB/sign.sec" "$in1" ||
	    fail "cannot sign"
	run c "$NO" build --no-out-link --builders "@$T/u" -A step2 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	[ "$(cat "$(cat "$T/c.out")")" = 2 ] || fail "step2 is not 2"
}

# The build's limits reach a daemon: max-silent-time stops a silent build
# as over ssh:// (SetOptions), with Nix's status.
t_ng_silent_time() {
	ng_both
	run a "$NO" build --no-out-link --builders "@$T/ng" --option max-silent-time 1 \
	    -A silent --argstr nonce "$T" "$SUITE"
	expect_rc 101
	expect_in "$T/a.err" "building silent failed: .*timed out after 1 seconds?"
}

# remote-program names the daemon's program; a missing one is said.
t_ng_remote_program() {
	run a "$NO" store-info "ssh-ng://$H1?base64-ssh-public-host-key=$K1&remote-program=nix-daemon"
	expect_rc 0
	run b "$NO" store-info "ssh-ng://$H1?base64-ssh-public-host-key=$K1&remote-program=no-such-daemon"
	expect_rc 6
	expect_in "$T/b.err" "no-such-daemon|nix-daemon was not found on the builder"
}

# A shell that talks before the daemon protocol starts.
t_ng_banner() {
	echo 'echo "Welcome to builder one"' >"$TB/host1/bashrc"
	run a "$NO" store-info "$(NG1)"
	: >"$TB/host1/bashrc"
	expect_rc 7
	expect_in "$T/a.err" 'the remote shell printed text before the daemon protocol started: "Welcome to builder one'
}
