# A builder is trusted for the outputs it was asked to build, and for
# nothing else.  Builder 1 builds honestly through tests/tamper, which
# passes the real nix-store's answers on but for one kind, where it lies;
# builder 2 is honest.  After each lie: the error names builder 1, nothing
# it named that was not asked for is valid here (or left on disk), and the
# derivation is built on builder 2, or fails where there is no other.

TAMPER=$TOP/tests/tamper

# plant_on_builder1 NAME: a path NAME, valid in builder 1's store only (its
# contents this test's own); prints it
plant_on_builder1() {
	builder_ssh 1 "d=\$(mktemp -d) && echo 'planted by $T' >\"\$d/$1\" && nix-store --add \"\$d/$1\"" ||
	    fail "cannot plant $1 on builder 1"
}

# victim NAME: a store path NAME on disk here, not registered (as an
# attempt that failed leaves one); prints it
victim() {
	local h p
	h=$(nix-hash --type sha1 --to-base32 "$(printf '%s' "$T/$1" | sha1sum | cut -c1-40)")
	p=/nix/store/$h-$1
	mkdir -p "$p"
	echo "left here" >"$p/file"
	nix-store --check-validity "$p" 2>/dev/null && fail "$p is valid already"
	echo "$p"
}

# not_here PATH...: neither valid in the local store nor on its disk
not_here() {
	local p
	for p; do
		nix-store --check-validity "$p" 2>/dev/null && fail "$p was registered"
		[ -e "$p" ] && fail "$p was left on disk"
	done
	return 0
}

# the outputs of ATTR (built with NONCE, default $T), one per line
outputs_of() {
	nix-instantiate --eval --strict -E "with import $SUITE { nonce = \"${2:-$T}\"; }; map (o: $1.\${o}.outPath) $1.outputs" |
	    tr -d '[]"' | tr ' ' '\n' | grep .
}

# tampered MODE [ARG]: builder 1 through tamper (ARG URI-encoded, %250A a
# new line), preferred; builder 2 as it is ($T/via)
tampered() {
	via "$TAMPER%20$1${2:+%20$2}"
}

# the lines naming builder 1 say what the lie was, and the build moved
lie_said() {	# FILE PATTERN
	expect_in "$1" "^nix-offload: ssh://$H1(\\?remote-program=[^ ]*)?: .*$2"
}

# A path nobody asked for (a planted "glibc"), named in a closure (which
# a fetch never asks for: no round trip, nothing to lie in) and as a
# reference of the output: not imported by build, nor by the hook on
# either route; the build moves.
REF_LIE="as a reference, which is neither in the local store nor among the paths this build asked for: nothing imported"

t_trust_extra_build() {
	evil=$(plant_on_builder1 glibc-2.99)
	tampered closure-extra "$evil"
	run a "$NO" build --builders "@$T/via" -A step1 --argstr nonce "$T-a" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "^built step1 on ssh://$H1"
	not_here "$evil"
	tampered ref "$evil"
	run b "$NO" build --builders "@$T/via" -A step1 --argstr nonce "$T-b" "$SUITE"
	expect_rc 0
	lie_said "$T/b.err" "the builder gave $evil $REF_LIE"
	expect_in "$T/b.err" "^built step1 on ssh://$H2 "
	not_here "$evil"
}

trust_extra_hook() {	# [fake version]
	hook_install
	evil=$(plant_on_builder1 bash-9.9)
	tampered ref "$evil"
	[ -z "${1:-}" ] || fake_nix_version "nix-store (Nix) $1"
	PATH=$T/bin:$PATH run a nb --builders "@$T/via" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	lie_said "$T/a.err" "the builder gave $evil $REF_LIE"
	expect_in "$T/a.err" "trying ssh://$H2 instead"
	nix-store --verify-path "$(cat "$T/a.out")" || fail "not built"
	not_here "$evil"
}

t_trust_extra_hook() {
	trust_extra_hook
}

t_trust_extra_hook_ul() {
	trust_extra_hook 2.30.1
}

# A deriver holding new lines, which would add a record to the text the
# unlocked route registers from: the output is registered with the
# derivation we asked to build as its deriver, and the victim (a path on
# disk, unregistered) stays unregistered.  On Nix 2.8's route as well.
trust_deriver() {	# [fake version]
	hook_install
	both
	v=$(victim victim)
	h=$(nix-hash --type sha256 --to-base32 "$(nix-store --dump "$v" | sha256sum | cut -c1-64)")
	size=$(nix-store --dump "$v" | wc -c)
	drv=$(nix-instantiate -A step1 --argstr nonce "$T" "$SUITE" 2>/dev/null)
	forged=$(printf '%s\n%s\nsha256:%s\n%s\n\n0' "$drv" "$v" "$h" "$size" |
	    sed 's/%/%25/g' | awk 'BEGIN { ORS = "%250A" } { print }' | sed 's/%250A$//')
	tampered deriver "$forged"
	[ -z "${1:-}" ] || fake_nix_version "nix-store (Nix) $1"
	PATH=$T/bin:$PATH run a nix-store --realise --option build-hook "$HOOK" \
	    --max-jobs 0 --builders "@$T/via" "$drv"
	expect_rc 0
	expect_in "$T/a.err" "building '$drv' on 'ssh://$H1"
	# taken from builder 1, the lie left out, not from builder 2
	expect_not_in "$T/a.err" "instead"
	[ "$(nix-store -q --deriver "$(cat "$T/a.out")")" = "$drv" ] ||
	    fail "deriver $(nix-store -q --deriver "$(cat "$T/a.out")")"
	nix-store --check-validity "$v" 2>/dev/null && fail "$v was registered"
	return 0
}

t_trust_deriver() {
	trust_deriver
}

t_trust_deriver_ul() {
	trust_deriver 2.30.1
}

# References: one that is on disk here but not valid, and one that is not
# a store path at all (new lines in it).  Refused, the builder blamed.
trust_refs() {	# command...
	v=$(victim refd)
	tampered ref "$v"
	run a "$@" --builders "@$T/via" -A step1 --argstr nonce "$T-a" "$SUITE"
	expect_rc 0
	lie_said "$T/a.err" "the builder gave $v $REF_LIE"
	nix-store --check-validity "$v" 2>/dev/null && fail "$v was registered"
	tampered ref "/nix/store/x%250A$v"
	run b "$@" --builders "@$T/via" -A step1 --argstr nonce "$T-b" "$SUITE"
	expect_rc 0
	lie_said "$T/b.err" "the builder gave \"/nix/store/x\\\\n$v\" as a reference, which is not a store path: nothing imported"
	nix-store --check-validity "$v" 2>/dev/null && fail "$v was registered"
	return 0
}

t_trust_refs_build() {
	trust_refs "$NO" build
}

t_trust_refs_hook_ul() {
	hook_install
	fake_nix_version "nix-store (Nix) 2.30.1"
	PATH=$T/bin:$PATH trust_refs nb
}

# Two outputs asked about, the first answered twice and the second never:
# refused, not taken for both.
t_trust_twice() {
	hook_install
	tampered twice
	run a "$NO" build --builders "@$T/via" -A multi --argstr nonce "$T-a" "$SUITE"
	expect_rc 0
	lie_said "$T/a.err" "the remote sent the path info of \"/nix/store/[^\"]*\" twice"
	expect_in "$T/a.err" "^built multi on ssh://$H2 "
	fake_nix_version "nix-store (Nix) 2.30.1"
	for route in held unlocked; do
		[ $route = held ] && p=$PATH || p=$T/bin:$PATH
		# builder 1 is down after the first: each route starts afresh
		PATH=$p NIX_OFFLOAD_RUNTIME_DIR=$T/c-$route run $route nb \
		    --builders "@$T/via" -A multi --argstr nonce "$T-$route" "$SUITE"
		expect_rc 0
		lie_said "$T/$route.err" "the remote sent the path info of \"/nix/store/[^\"]*\" twice"
		for o in $(outputs_of multi "$T-$route"); do
			nix-store --verify-path "$o" || fail "$o is not valid"
		done
	done
}

# The unlocked route leaves nothing behind: when the second of two
# outputs fails (its NAR not the one announced, or the builder gone half
# way through it), the first, unpacked already, goes too.
t_trust_no_leftovers() {
	hook_install
	fake_nix_version "nix-store (Nix) 2.30.1"
	for mode in corrupt-second cut-second; do
		echo "ssh://$H1?remote-program=$TAMPER%20$mode x86_64-linux - 1 1 - - $K1" >"$T/one"
		PATH=$T/bin:$PATH run $mode nb --builders "@$T/one" -A multi \
		    --argstr nonce "$T-$mode" "$SUITE"
		[ "$RC" != 0 ] || fail "$mode: built"
		case $mode in
		corrupt-*) lie_said "$T/$mode.err" "arrived with hash sha256:[0-9a-z]+ \\([0-9]+ bytes\\), but the builder said" ;;
		cut-*) lie_said "$T/$mode.err" "(lost|ended|closed|nix-store failed)" ;;
		esac
		not_here $(outputs_of multi "$T-$mode")
	done
	expect_not_in "$T/calls" "register-validity"
}

# The honest cases: outputs that refer to intermediates kept on the
# builder (build), to a sibling output (both routes of the hook), and a
# fixed output, whose content address is the one Nix's own hook records.
t_trust_honest_build() {
	both
	run a "$NO" build --builders "@$T/both" -A refchain --argstr nonce "$T" "$SUITE"
	expect_rc 0
	out=$(cat "$T/a.out")
	nix-store --verify-path "$out" || fail "not valid"
	[ "$(nix-store -qR "$out" | wc -l)" = 3 ] || fail "closure: $(nix-store -qR "$out")"
	for p in $(nix-store -qR "$out"); do
		case $p in *-refchain) ;; *)
			nix-store -q --deriver "$p" | grep -q '\.drv$' || fail "$p has no deriver" ;;
		esac
	done
}

trust_honest_hook() {	# [fake version]
	hook_install
	both
	[ -z "${1:-}" ] || fake_nix_version "nix-store (Nix) $1"
	drv=$(nix-instantiate -A refout --argstr nonce "$T" "$SUITE" 2>/dev/null)
	fixed=$(nix-instantiate -A fixed --argstr nonce "$T" "$SUITE" 2>/dev/null)
	PATH=$T/bin:$PATH run a nix-store --realise --option build-hook "$HOOK" \
	    --max-jobs 0 --builders "@$T/both" "$drv" "$fixed"
	expect_rc 0
	expect_lines "$T/a.out" 3
	records "$T/a.out" >"$T/ours"
	nix --extra-experimental-features nix-command path-info --json $(cat "$T/a.out") | tr ',' '\n' | grep '"ca"' >"$T/ours.ca"
	# (on the unlocked route the broker's warm local nix-store holds
	# them alive for a second or two after the build)
	wait_until 15 quietly nix-store --delete $(cat "$T/a.out") ||
	    fail "cannot delete the outputs to build them again"
	run b nix-store --realise --max-jobs 0 --builders "@$T/both" "$drv" "$fixed"
	expect_rc 0
	records "$T/b.out" >"$T/nixs"
	nix --extra-experimental-features nix-command path-info --json $(cat "$T/b.out") | tr ',' '\n' | grep '"ca"' >"$T/nixs.ca"
	cmp -s "$T/ours" "$T/nixs" || fail "not as Nix's own hook: $(diff "$T/ours" "$T/nixs")"
	[ -z "${1:-}" ] || return 0	# the unlocked route registers no ca
	grep -q 'fixed:sha256:' "$T/nixs.ca" || fail "Nix's own hook records no ca: $(cat "$T/nixs.ca")"
	cmp -s "$T/ours.ca" "$T/nixs.ca" || fail "content address: $(cat "$T/ours.ca") vs $(cat "$T/nixs.ca")"
}

t_trust_honest_hook() {
	trust_honest_hook
}

t_trust_honest_hook_ul() {
	trust_honest_hook 2.30.1
}

# Today's Nix on the local side (2.26: NIX_HELD_LOCKS; 2.34: unlocked):
# the planted path is not imported, the forged deriver not registered.
modern_trust() {	# suite
	hook_install
	evil=$(plant_on_builder1 glibc-2.99)
	tampered ref "$evil"
	run a in_tree "$1" nix-build --no-out-link --option build-hook "$HOOK" \
	    --max-jobs 0 --builders "@$T/via" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	lie_said "$T/a.err" "the builder gave $evil $REF_LIE"
	in_tree "$1" nix-store --check-validity "$evil" 2>/dev/null && fail "$evil was registered"
	[ -e "$T/$1/nix/store/${evil#/nix/store/}" ] && fail "$evil is on disk"
	drv=$(in_tree "$1" nix-instantiate -A step2 --argstr nonce "$T" "$SUITE" 2>/dev/null)
	tampered deriver "/nix/store/x%250A/nix/store/y"
	run b in_tree "$1" nix-store --realise --option build-hook "$HOOK" \
	    --max-jobs 0 --builders "@$T/via" "$drv"
	expect_rc 0
	[ "$(in_tree "$1" nix-store -q --deriver "$(cat "$T/b.out")")" = "$drv" ] ||
	    fail "deriver $(in_tree "$1" nix-store -q --deriver "$(cat "$T/b.out")")"
	# a reference that is no store path, a path answered twice: refused
	v=$(victim refd)
	tampered ref "$v"
	NIX_OFFLOAD_RUNTIME_DIR=$T/c-ref run c in_tree "$1" nix-build --no-out-link \
	    --option build-hook "$HOOK" --max-jobs 0 --builders "@$T/via" \
	    -A step3 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	lie_said "$T/c.err" "the builder gave $v as a reference, which is neither"
	tampered twice
	NIX_OFFLOAD_RUNTIME_DIR=$T/c-twice run d in_tree "$1" nix-build --no-out-link \
	    --option build-hook "$HOOK" --max-jobs 0 --builders "@$T/via" \
	    -A multi --argstr nonce "$T" "$SUITE"
	expect_rc 0
	lie_said "$T/d.err" "the remote sent the path info of \"/nix/store/[^\"]*\" twice"
	# the second of two outputs corrupt, and no other builder: on the
	# unlocked route (2.34) nothing of either is left (through 2.26's
	# nix-store, the first may be imported whole: it was asked for)
	[ "$1" = sid ] || return 0
	echo "ssh://$H1?remote-program=$TAMPER%20corrupt-second x86_64-linux - 1 1 - - $K1" >"$T/one"
	NIX_OFFLOAD_RUNTIME_DIR=$T/c-one run e in_tree "$1" nix-build --no-out-link \
	    --option build-hook "$HOOK" --max-jobs 0 --builders "@$T/one" \
	    -A refout --argstr nonce "$T" "$SUITE"
	[ "$RC" != 0 ] || fail "built from a corrupt NAR"
	for o in $(outputs_of refout); do
		in_tree "$1" nix-store --check-validity "$o" 2>/dev/null && fail "$o was registered"
		[ -e "$T/$1/nix/store/${o#/nix/store/}" ] && fail "$o is on disk"
	done
	return 0
}

t_modern_trust_2_26() {
	modern_trust trixie
}

t_modern_trust_2_34() {
	modern_trust sid
}

# A NAR size that is not the NAR's (its hash the right one), on the route
# that unpacks and registers by itself (2.29 on): refused, nothing
# registered, built on builder 2 (issue 22).
t_trust_size_ul() {
	hook_install
	fake_nix_version "nix-store (Nix) 2.30.1"
	tampered size
	PATH=$T/bin:$PATH run a nb --builders "@$T/via" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	# (step1's NAR is 120 bytes: the same hash, 8 bytes more said)
	lie_said "$T/a.err" "arrived with hash sha256:[0-9a-z]+ \\(120 bytes\\), but the builder said sha256:[0-9a-z]+ \\(128 bytes\\): not registered"
	expect_in "$T/a.err" "trying ssh://$H2 instead"
	nix-store --verify-path "$(cat "$T/a.out")" || fail "not built"
}

# ca_tampered MODE ARG: as tampered, both builders taking floating
# content-addressed derivations
ca_tampered() {
	ca_builders
	echo "ssh://$H1?remote-program=$TAMPER%20$1%20$2 x86_64-linux - 1 100 ca-derivations - $K1
ssh://$H2 x86_64-linux - 1 1 ca-derivations - $K2" >"$T/via"
}

# nb_ca ATTR: nix-build through our hook, remote only, with floating
# content-addressed derivations on
nb_ca() {
	nb --option experimental-features 'nix-command ca-derivations' \
	    --builders "@$T/via" -A "$1" --argstr nonce "$T" "$SUITE"
}

# A floating output's path is the builder's word: one of another name is
# refused, nothing of it imported, and the derivation built elsewhere.
t_trust_floating_name() {
	hook_install
	ca_tampered built-path 00000000000000000000000000000000-glibc
	run a nb_ca floatnonce
	expect_rc 0
	lie_said "$T/a.err" "built .*-floatnonce.drv but named a path of another name as output out: nothing imported"
	expect_in "$T/a.err" "trying ssh://$H2 instead"
	not_here /nix/store/00000000000000000000000000000000-glibc
	[ "$(cat "$(cat "$T/a.out")")" = "$T" ] || fail "not built"
}

# And its record must name its contents: a content address that does not
# make its path is refused, whether the path is to be fetched or valid
# here already (and not fetched again).
t_trust_floating_ca() {
	hook_install
	ca_tampered ca "fixed:r:sha256:$(printf '%052d' 0)"
	for a in floatnonce floating; do
		if [ $a = floating ]; then
			nix-build --max-jobs 1 --option experimental-features \
			    ca-derivations -A floating --argstr nonce "$T-here" \
			    "$SUITE" >/dev/null 2>&1 || fail "not built here"
			# builder 1 is not down for the last lie
			rm -f "$NIX_OFFLOAD_RUNTIME_DIR"/health/*
		fi
		run $a nb_ca $a
		expect_rc 0
		lie_said "$T/$a.err" "-$a, output out of .*-$a.drv, is not the content-addressed path of what the builder says it holds: not imported"
		expect_in "$T/$a.err" "trying ssh://$H2 instead"
		nix-store --verify-path "$(cat "$T/$a.out")" || fail "$a not built"
	done
}
