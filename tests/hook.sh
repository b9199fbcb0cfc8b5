# nix-offload as Nix's build hook: the real nix-build (Nix 2.8) forwards
# its builds through it to the real builders of the test bed.

# an installed copy, as make install lays it out
hook_install() {
	[ -x "$WORK/inst/libexec/nix-offload/build-hook" ] ||
	    make -s -C "$TOP" install DESTDIR="$WORK/inst" PREFIX= >/dev/null
	HOOK=$WORK/inst/libexec/nix-offload/build-hook
}

nb() {	# nix-build through our hook, remote only
	nix-build --no-out-link --option build-hook "$HOOK" --max-jobs 0 "$@"
}

t_hook_installed_layout() {
	hook_install
	[ -L "$HOOK" ] && [ -x "$WORK/inst/bin/nix-offload" ] &&
	    [ -f "$WORK/inst/share/man/man1/nix-offload.1" ] || fail "install layout"
	# hook mode by name: no settings on stdin means nothing to do
	"$HOOK" 3 </dev/null || fail "the hook failed on an empty stdin"
}

t_hook_darwin_route() {
	hook_install
	routes
	run a nb --builders "@$T/routes" -A darwin --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "building '.*-darwin-hello.drv' on 'ssh://$H2'"
	nix-store --verify-path "$(cat "$T/a.out")" || fail "not valid"
	on_builder 1 "$(cat "$T/a.out")" && fail "built on builder 1 too"
	return 0
}

t_hook_mandatory_route() {
	hook_install
	routes
	run a nb --builders "@$T/routes" -A special --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "building '.*-special.drv' on 'ssh://$H1'"
}

t_hook_chain() {
	hook_install
	both
	run a nb --builders "@$T/both" -A step3 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	[ "$(cat "$(cat "$T/a.out")")" = 3 ] || fail "step3 is not 3"
	[ "$(grep -c "building '.*-step[123].drv' on 'ssh://" "$T/a.err")" = 3 ] ||
	    fail "not all three steps went to the builders"
	# progress in Nix's own words, through its activity messages
	expect_in "$T/a.err" "^copying outputs from 'ssh://"
}

# Builds one after another through the hook, one builder: the first gets
# a new session from the broker, the next the one it gave back (no ssh,
# no store program started for them).  A kept session whose store program
# dies meanwhile is not handed out: the next build gets a new one and
# nothing fails.
t_hook_warm_sessions() {
	hook_install
	echo "ssh://$H1 x86_64-linux - 1 1 - - $K1" >"$T/one"
	run a nb -vv --builders "@$T/one" -A step3 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	[ "$(cat "$(cat "$T/a.out")")" = 3 ] || fail "step3 is not 3"
	expect_lines_matching "$T/a.err" "ssh://$H1: a session from the broker, new$" 1
	expect_lines_matching "$T/a.err" "ssh://$H1: a session from the broker, warm: it served an earlier build$" 2
	expect_lines_matching "$T/a.err" "hook: [0-9]+ round trips with builders, [0-9]+ processes started here, 0 on builders$" 3
	# the builder's end of the kept session killed (the pattern does not
	# match pkill's own command line), and its ssh here gone: the broker
	# (listening in this test's runtime directory) is left with one
	# child, its lease shell's ssh
	b=$(broker_pid "$NIX_OFFLOAD_RUNTIME_DIR")
	[ -n "$b" ] || fail "no broker listens in $NIX_OFFLOAD_RUNTIME_DIR"
	[ "$(pgrep -c -P "$b")" -ge 2 ] || fail "the broker keeps no session"
	builder_ssh 1 "pkill -f 'nix-store --[s]erve --write'" || fail "no store program on the builder"
	wait_until 10 sh -c "[ \$(pgrep -c -P $b) -le 1 ]" ||
	    fail "the kept session's ssh did not end: $(pgrep -a -P "$b")"
	run b nb -vv --builders "@$T/one" -A step1 --argstr nonce "$T-b" "$SUITE"
	expect_rc 0
	expect_in "$T/b.err" "ssh://$H1: a session from the broker, new$"
	expect_not_in "$T/b.err" "warm: it served"
	expect_not_in "$T/b.err" "error"
}

# Two outputs, sources, awkward strings: valid here, and the same paths and
# NAR hashes as through Nix's own hook.
t_hook_same_as_nix_hook() {
	hook_install
	both
	drv=$(nix-instantiate -A multi --argstr nonce "$T" "$SUITE" 2>/dev/null)
	run a nix-store --realise --option build-hook "$HOOK" --max-jobs 0 \
	    --builders "@$T/both" "$drv"
	expect_rc 0
	expect_lines "$T/a.out" 2
	for p in $(cat "$T/a.out"); do
		nix-store --verify-path "$p" || fail "$p not valid"
		echo "$p $(nix-store -q --hash "$p")" >>"$T/ours"
	done
	nix-store --delete $(cat "$T/a.out") >/dev/null 2>&1 || fail "cannot delete"
	run b nix-store --realise --max-jobs 0 --builders "@$T/both" "$drv"
	expect_rc 0
	for p in $(cat "$T/b.out"); do
		echo "$p $(nix-store -q --hash "$p")" >>"$T/nix"
	done
	cmp -s "$T/ours" "$T/nix" || fail "ours: $(cat "$T/ours") Nix's hook: $(cat "$T/nix")"
}

t_hook_fails() {
	hook_install
	both
	run a nb --builders "@$T/both" -A fails --argstr nonce "$T" "$SUITE"
	expect_rc 100
	expect_in "$T/a.err" 'this build is going to fail'
	expect_in "$T/a.err" 'building .*-fails.drv failed: '
	expect_in "$T/a.err" 'exit code 3'
}

# nix-build -K: Nix passes keep-failed to the hook, which passes it to the
# builder (Nix's own hook does too): the failed build's directory is kept.
t_hook_keep_failed() {
	hook_install
	echo "ssh://$H1 x86_64-linux - 1 1 - - $K1" >"$T/one1"
	kept_dirs >"$T/before"
	run a nb -K --builders "@$T/one1" -A fails --argstr nonce "$T" "$SUITE"
	expect_rc 100
	kept_dirs >"$T/after"
	new=$(comm -13 "$T/before" "$T/after")
	[ -n "$new" ] || fail "-K kept nothing on the builder"
	# said with the derivation's name, as the directory is named
	expect_in "$T/a.err" "was kept on the remote builder due to \`--keep-failed\`: on ssh://$H1, nix-build-fails\\.drv-N in /tmp"
	case $new in *nix-build-fails.drv-*) ;; *) fail "kept $new" ;; esac
	builder_ssh 1 "rm -rf $new"
}

t_hook_timeout() {
	hook_install
	both
	run a nb --builders "@$T/both" --option timeout 2 -A slow --argstr nonce "$T" "$SUITE"
	expect_rc 101
}

t_hook_all_down() {
	hook_install
	run a nb --builders "ssh://$DOWN x86_64-linux" -A step1 --argstr nonce "$T" "$SUITE"
	[ "$RC" != 0 ] || fail "built with every builder down"
	expect_in "$T/a.err" "ssh://$DOWN: cannot reach the builder: .*Connection refused"
}

# Every builder refuses after the accept: the hook tries HOOK_ATTEMPTS (3)
# of them, announces each one it moves to and no other, and gives up.
t_hook_retry_all_refuse() {
	hook_install
	printf 'ssh://%s x86_64-linux\n' "$DOWN" "root@$DOWN" "nobody@$DOWN" \
	    "$DOWN:2222" >"$T/refusing"
	run a timeout 60 nix-build --no-out-link --option build-hook "$HOOK" \
	    --max-jobs 0 --builders "@$T/refusing" -A step1 --argstr nonce "$T" "$SUITE"
	[ "$RC" != 124 ] || fail "the hook hung"
	[ "$RC" != 0 ] || fail "built with every builder refusing"
	grep -o "ssh://[^ ]*: cannot reach the builder" "$T/a.err" | cut -d: -f1-2 >"$T/tried"
	grep -o "trying ssh://[^ ]* instead" "$T/a.err" | cut -d' ' -f2 >"$T/announced"
	expect_lines "$T/tried" 3
	expect_lines "$T/announced" 2
	tail -2 "$T/tried" | cmp -s - "$T/announced" ||
	    fail "announced $(cat "$T/announced"), tried $(cat "$T/tried")"
}

t_hook_no_builder_fits() {
	hook_install
	both
	run a nb --builders "@$T/both" -A riscv --argstr nonce "$T" "$SUITE"
	[ "$RC" != 0 ] || fail "built riscv"
	expect_in "$T/a.err" "no builder can build .*-riscv.drv \\(system riscv64-linux\\):"
	expect_in "$T/a.err" "ssh://$H1.*system riscv64-linux is not one of its systems"
}

# No builders: the hook bows out for good (Nix starts it once, not once per
# derivation) and Nix builds the chain locally.
t_hook_no_builders() {
	hook_install
	# each start of the hook leaves a line first (the hook itself may be
	# killed by Nix as soon as it has answered)
	printf '#!/bin/sh\necho start >>%s/starts\nexec %s "$@"\n' "$T" "$HOOK" >"$T/hook"
	chmod +x "$T/hook"
	run a nix-build --no-out-link --option build-hook "$T/hook" --max-jobs 1 \
	    --builders '' -A step3 --argstr nonce "$T-nb" "$SUITE"
	expect_rc 0
	[ "$(cat "$(cat "$T/a.out")")" = 3 ] || fail "step3 is not 3"
	expect_not_in "$T/a.err" "on 'ssh://"
	[ "$(wc -l <"$T/starts")" = 1 ] || fail "Nix started the hook $(wc -l <"$T/starts") times"
}

# Eight nix-build leaves, builders of one slot each: the hook accepts them
# all and queues them, never two at once on a builder, all built.
t_hook_slots() {
	hook_install
	one_slot
	run a nb --builders "@$T/one" -A timedfan --argstr nonce "$T" "$SUITE"
	expect_rc 0
	no_overlap "$T/a.err" "$(cat "$T/a.out")"
	grep -q "timed-.*on 'ssh://$H1'" "$T/a.err" && grep -q "timed-.*on 'ssh://$H2'" "$T/a.err" ||
	    fail "one builder did it all"
}

# Hooks that find every builder busy queue for the one that will free
# first, not all behind the first builder: six 0.4 s leaves on two
# one-slot builders are shared out, each builder building two at least.
t_hook_queues_spread() {
	hook_install
	one_slot
	run a nb --builders "@$T/one" -A timedfan --argstr nonce "$T" "$SUITE"
	expect_rc 0
	n1=$(grep -c "building '.*-timed-[0-9].drv' on 'ssh://$H1'" "$T/a.err")
	n2=$(grep -c "building '.*-timed-[0-9].drv' on 'ssh://$H2'" "$T/a.err")
	[ $((n1 + n2)) -eq 6 ] || fail "$((n1 + n2)) of 6 leaves built remotely"
	[ $n1 -ge 2 ] && [ $n2 -ge 2 ] || fail "queued unevenly: $n1 on builder 1, $n2 on builder 2"
}

# A derivation needing a feature this machine lacks, while the one builder
# that has it is busy: the hook takes it and waits for that builder (Nix,
# declined, would fail it: it cannot build it here), even though Nix may
# build other things locally.
t_hook_feature_waits() {
	hook_install
	routes
	echo "ssh://$H1 x86_64-linux - 1 1 special special $K1" >"$T/special1"
	run a nix-build --no-out-link --option build-hook "$HOOK" --max-jobs 1 \
	    --builders "@$T/special1" -A specialfan --argstr nonce "$T" "$SUITE"
	expect_rc 0
	[ "$(grep -c "building '.*-timed-special-[01].drv' on 'ssh://$H1'" "$T/a.err")" -eq 2 ] ||
	    fail "the special leaves were not both built on builder 1"
	no_overlap "$T/a.err" "$(cat "$T/a.out")" 2
}

# fake_nix_version VERSION-LINE: nix-store --version says so, in $T/bin;
# every other call is logged in $T/calls, with NIX_HELD_LOCKS
fake_nix_version() {
	mkdir -p "$T/bin"
	printf '#!/bin/sh\n[ "$1" = --version ] && { echo "%s"; exit 0; }\necho "$* held=${NIX_HELD_LOCKS:-}" >>"%s"\nexec /usr/bin/nix-store "$@"\n' \
	    "$1" "$T/calls" >"$T/bin/nix-store"
	chmod +x "$T/bin/nix-store"
}

# Lix 2.94 and newer speak Cap'n Proto to their hook: the hook bows out,
# loudly, and Lix builds locally instead.
t_hook_lix_declines() {
	hook_install
	both
	fake_nix_version "nix-store (Lix, like Nix) 2.94.0"
	PATH=$T/bin:$PATH run a nix-build --no-out-link --option build-hook "$HOOK" \
	    --max-jobs 1 --builders "@$T/both" -A step1 --argstr nonce "$T-new" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "Lix 2.94.0 speaks Cap'n Proto to its build hook"
	expect_not_in "$T/a.err" "on 'ssh://"
}

# A Nix without NIX_HELD_LOCKS (2.29 on): the outputs are unpacked and
# registered without the store's locks, which nix-build holds meanwhile.
# Nix 2.8 told it is 2.30 takes that route: valid outputs, the same paths
# and NAR hashes as Nix's own hook gives, the deriver recorded, and
# NIX_HELD_LOCKS never set.
t_hook_unlocked_route() {
	hook_install
	both
	fake_nix_version "nix-store (Nix) 2.30.1"
	drv=$(nix-instantiate -A multi --argstr nonce "$T" "$SUITE" 2>/dev/null)
	PATH=$T/bin:$PATH run a nix-store --realise --option build-hook "$HOOK" \
	    --max-jobs 0 --builders "@$T/both" "$drv"
	expect_rc 0
	# unpacked by nix-offload itself, registered by nix-store
	expect_not_in "$T/calls" "^--restore"
	expect_in "$T/calls" "^--register-validity --hash-given"
	expect_not_in "$T/calls" "held=/"
	for p in $(cat "$T/a.out"); do
		nix-store --verify-path "$p" || fail "$p is not valid"
		[ "$(nix-store -q --deriver "$p")" = "$drv" ] || fail "$p: deriver $(nix-store -q --deriver "$p")"
	done
	records "$T/a.out" >"$T/ours"
	# again through Nix's own hook, in a store of its own (the broker's
	# warm local nix-store holds them alive for a second or two)
	wait_until 15 quietly nix-store --delete $(cat "$T/a.out") ||
	    fail "cannot delete the outputs to build them again"
	run b nix-store --realise --max-jobs 0 --builders "@$T/both" "$drv"
	expect_rc 0
	records "$T/b.out" >"$T/nixs"
	cmp -s "$T/ours" "$T/nixs" || fail "not as Nix's own hook: $(diff "$T/ours" "$T/nixs")"
}

# ca_builders: both builders take floating content-addressed derivations
# (the experimental feature is on in the test bed: their daemons have it),
# with ca-derivations in their entries
ca_builders() {
	grep -q ca-derivations "$TB/host1/etc-nix/nix.conf" ||
	    fail "the test bed's builders lack ca-derivations"
	echo "ssh://$H1 x86_64-linux - 2 1 ca-derivations - $K1
ssh://$H2 x86_64-linux - 2 1 ca-derivations - $K2" >"$T/ca"
}

# Nix 2.17 stopped hashing where a content-addressed output refers to
# itself: true when this machine's Nix and builder 1's are on either side.
before_217() { [ "$(printf '%s\n2.17\n' "$1" | sort -V | head -1)" != 2.17 ]; }
ca_eras_differ() {
	local here
	here=$(nix-store --version | awk '{print $NF}')
	if before_217 "$here"; then ! before_217 "$BV1"; else before_217 "$BV1"; fi
}

# Across 2.17, floating (no self-reference) moves as it does with Nix's own
# hook, and floatmore, which names itself, is refused by the local Nix: in
# one line of ours that says why and what to do, as Nix's hook fails too.
floating_across_eras() {
	run a nix-build --no-out-link --option build-hook "$HOOK" \
	    --option experimental-features 'nix-command ca-derivations' \
	    --max-jobs 0 --builders "@$T/ca" -A floatmore.out \
	    --argstr nonce "$T" "$SUITE"
	[ "$RC" != 0 ] || fail "floatmore was taken across 2.17"
	ours=$RC
	expect_in "$T/a.err" "building '.*-floating.drv' on 'ssh://"
	expect_lines_matching "$T/a.err" "nix-offload: .*refers to itself: Nix 2.17 changed how such outputs are hashed.*build it on a builder whose Nix is on the same side of 2.17 as this machine's \\(error: ca hash mismatch importing path '/nix/store/[a-z0-9]{32}-floatmore'" 1
	f=$(nix-build --no-out-link --max-jobs 0 --builders '' --option \
	    experimental-features 'nix-command ca-derivations' -A floating \
	    --argstr nonce "$T" "$SUITE" 2>/dev/null) ||
	    fail "floating was not kept"
	[ "$(cat "$f")" = floating ] || fail "floating: $(cat "$f")"
	nix-store --delete "$f" >/dev/null 2>&1
	run b nix-build --no-out-link --option experimental-features \
	    'nix-command ca-derivations' --max-jobs 0 --builders "@$T/ca" \
	    -A floatmore.out --argstr nonce "$T" "$SUITE"
	expect_rc "$ours"
	expect_in "$T/b.err" "ca hash mismatch importing path"
}

# realisations FILE: the realisations of floating and floatmore's outputs,
# as the local store has them, one per line
realisations() {
	nix --extra-experimental-features 'nix-command ca-derivations' \
	    realisation info --json -f "$SUITE" --argstr nonce "$T" \
	    floating floatmore.out floatmore.dev >"$1.json" 2>"$1.err" ||
	    fail "nix realisation info: $(tail -2 "$1.err")"
	python3 -c 'import json, sys
for r in json.load(sys.stdin): print(r["id"], r["outPath"])' <"$1.json" |
	    sort >"$1"
}

# Floating content-addressed derivations through the hook, as through
# Nix's own: built on the builders, the second once Nix has resolved it;
# their outputs valid here at the same paths with the same contents, and
# the same realisations registered.
t_hook_floating() {
	hook_install
	ca_builders
	if ca_eras_differ; then
		floating_across_eras
		return
	fi
	run a nix-build --no-out-link --option build-hook "$HOOK" \
	    --option experimental-features 'nix-command ca-derivations' \
	    --max-jobs 0 --builders "@$T/ca" -A floatmore.out -A floatmore.dev \
	    --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "building '.*-floating.drv' on 'ssh://"
	expect_in "$T/a.err" "building '.*-floatmore.drv' on 'ssh://"
	out=$(head -1 "$T/a.out")
	nix-store --verify-path "$out" || fail "$out is not valid"
	grep -q "$out" "$out" || fail "floatmore does not name itself"
	realisations "$T/ours"
	[ "$(wc -l <"$T/ours")" = 3 ] || fail "realisations: $(cat "$T/ours")"
	nix-store -qR $(cat "$T/a.out") | sort >"$T/closure"
	records "$T/closure" >"$T/ours.records"
	# again through Nix's own hook, in a store emptied of them (and of the
	# resolved derivations, which refer to floating's output)
	nix-store --delete $(nix-store -q --referrers-closure $(cat "$T/closure")) \
	    >/dev/null 2>&1 ||
	    fail "cannot delete the outputs to build them again"
	run b nix-build --no-out-link --option experimental-features \
	    'nix-command ca-derivations' --max-jobs 0 --builders "@$T/ca" \
	    -A floatmore.out -A floatmore.dev --argstr nonce "$T" "$SUITE"
	expect_rc 0
	cmp -s "$T/a.out" "$T/b.out" || fail "Nix's hook gave $(cat "$T/b.out")"
	realisations "$T/nixs"
	cmp -s "$T/ours" "$T/nixs" || fail "realisations not as Nix's: $(diff "$T/ours" "$T/nixs")"
	records "$T/closure" >"$T/nixs.records"
	cmp -s "$T/ours.records" "$T/nixs.records" ||
	    fail "not as Nix's own hook: $(diff "$T/ours.records" "$T/nixs.records")"
}

# No builder takes floating derivations (none has ca-derivations): the
# hook declines, saying why once, and Nix builds it itself; no builder is
# blamed.
t_hook_floating_declined() {
	hook_install
	both
	run a nix-build --no-out-link --option build-hook "$HOOK" \
	    --option experimental-features ca-derivations --max-jobs 1 \
	    --builders "@$T/both" -A floating --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "no builder can build .*-floating.drv"
	expect_not_in "$T/a.err" "on 'ssh://"
	[ -z "$(ls -A "$NIX_OFFLOAD_RUNTIME_DIR/health" 2>/dev/null)" ] ||
	    fail "a builder was counted down: $(ls "$NIX_OFFLOAD_RUNTIME_DIR/health")"
	[ "$(cat "$(cat "$T/a.out")")" = floating ] || fail "not built"
}

# The unlocked route checks what it unpacks: an output whose NAR is not
# the one the builder announced is removed again, and nothing is
# registered.
t_hook_unlocked_liar() {
	hook_install
	fake_nix_version "nix-store (Nix) 2.30.1"
	echo "ssh://$H1?remote-program=$TOP/tests/liar%20nar-hash x86_64-linux - 1 1 - - $K1" >"$T/liar"
	out=$(nix-instantiate --eval -E "(import $SUITE { nonce = \"$T\"; }).step1.outPath" |
	    tr -d '"')
	PATH=$T/bin:$PATH run a nix-build --no-out-link --option build-hook "$HOOK" \
	    --max-jobs 0 --builders "@$T/liar" -A step1 --argstr nonce "$T" "$SUITE"
	[ "$RC" != 0 ] || fail "built from a liar"
	expect_in "$T/a.err" "$out arrived with hash sha256:[0-9a-z]+ \\(120 bytes\\), but the builder said sha256:[0-9a-z]+ \\(120 bytes\\): not registered"
	[ -e "$out" ] && fail "$out was left on disk"
	nix-store --check-validity "$out" 2>/dev/null && fail "$out was registered"
	expect_not_in "$T/calls" "register-validity"
}

# A failed build's error comes back as Nix's own hook shows it: its lines
# after the first indented, the output paths among them (from builders
# whose Nix says them: 2.34's).
t_hook_failure_indented() {
	hook_install
	echo "ssh://$H2 x86_64-linux - 1 1 - - $K2" >"$T/two"
	run a nb --builders "@$T/two" -A fails --argstr nonce "$T" "$SUITE"
	expect_rc 100
	expect_in "$T/a.err" "^nix-offload: ssh://$H2: building /nix/store/[^ ]*-fails.drv failed: "
	if grep -q "Output paths:" "$T/a.err"; then
		expect_in "$T/a.err" "^       Output paths:\$"
		expect_in "$T/a.err" "^         /nix/store/[a-z0-9]{32}-fails\$"
	fi
	expect_not_in "$T/a.err" "^Reason:|^Output paths:"
}

# A store under another root (nix-build --store DIR, as nixos-install
# builds into /mnt): Nix gives the hook its store setting, and the .drv
# files are read, the outputs queried and imported there, not in the
# default store.
t_hook_store_root() {
	hook_install
	both
	r=$T/root
	run a nb --store "$r" --builders "@$T/both" -A step2 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	out=$(cat "$T/a.out")
	[ "$(cat "$r$out")" = 2 ] || fail "$r$out does not hold 2"
	nix-store --store "$r" --verify-path "$out" || fail "$out is not valid in $r"
	nix-store --check-validity "$out" 2>/dev/null && fail "$out is valid in the default store"
	expect_in "$T/a.err" "building '/nix/store/[^']*-step2.drv' on 'ssh://"
	return 0
}

# build --store DIR does the same as nix-build --store: the derivations
# instantiated there, the outputs brought home there and linked from
# there, the default store untouched; and the same outputs as through
# Nix's own hook.
t_build_store_root() {
	both
	r=$T/root
	run a "$NO" build --store "$r" --no-link --print-out-paths \
	    --builders "@$T/both" -A step2 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	out=$(cat "$T/a.out")
	[ "$(cat "$r$out")" = 2 ] || fail "$r$out does not hold 2"
	nix-store --store "$r" --verify-path "$out" || fail "$out is not valid in $r"
	nix-store --check-validity "$out" 2>/dev/null && fail "$out is valid in the default store"
	[ -e "$out" ] && fail "$out is on the default store's disk"
	drv=$(nix-store --store "$r" -q --deriver "$out")
	[ -e "$r$drv" ] || fail "its .drv $drv is not in $r"
	# leaves built on one builder, sent from that store to the other
	run f "$NO" build --store "$r" --no-link --print-out-paths \
	    --builders "@$T/both" -A fan --argstr nonce "$T" "$SUITE"
	expect_rc 0
	grep -q "^built leaf-.* on ssh://$H1 " "$T/f.err" &&
	    grep -q "^built leaf-.* on ssh://$H2 " "$T/f.err" ||
	    fail "the leaves were not spread: nothing was sent between builders"
	[ "$(wc -l <"$r$(cat "$T/f.out")")" = 8 ] || fail "fan: $(cat "$r$(cat "$T/f.out")")"
	# a link: rooted in that store
	run b "$NO" build --store "local?root=$r" -o "$T/result" \
	    --builders "@$T/both" -A step2 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	[ "$(readlink "$T/result")" = "$out" ] || fail "result -> $(readlink "$T/result")"
	run c nix-build --store "$r" --no-out-link --max-jobs 0 \
	    --builders "@$T/both" -A step2 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	[ "$(cat "$T/c.out")" = "$out" ] || fail "Nix's own build gives $(cat "$T/c.out")"
}

# ... and through today's Nix, whose hook settings say the store too:
# 2.26 imports through nix-store --store, 2.34 unpacks under the root's
# real store directory and registers there.
modern_store_root() {	# suite
	hook_install
	both
	r=$T/root-$1
	run a in_tree "$1" nix-build --store "$r" --no-out-link --option build-hook "$HOOK" \
	    --max-jobs 0 --builders "@$T/both" -A step2 --argstr nonce "$T-$1" "$SUITE"
	expect_rc 0
	out=$(cat "$T/a.out")
	[ "$(cat "$r$out")" = 2 ] || fail "$r$out does not hold 2"
	in_tree "$1" nix-store --store "$r" --verify-path "$out" ||
	    fail "$out is not valid in $r"
	[ -e "$T/$1$out" ] && fail "$out is in the tree's own store"
	return 0
}

t_modern_store_root_2_26() {
	modern_store_root trixie
}

t_modern_store_root_2_34() {
	modern_store_root sid
}

# The route at its boundary (issue 22): the last Nix with NIX_HELD_LOCKS
# (2.28) imports under the locks nix-build holds; the first without (2.29)
# unpacks and registers.
t_hook_route_boundary() {
	hook_install
	both
	for v in 2.28.4 2.29.0; do
		fake_nix_version "nix-store (Nix) $v"
		: >"$T/calls"
		# a runtime directory each: the hook remembers the local Nix's
		# version there, and both fakes may be written in one second
		PATH=$T/bin:$PATH NIX_OFFLOAD_RUNTIME_DIR=$T/ctl-$v run $v nb --builders "@$T/both" -A step1 \
		    --argstr nonce "$T-$v" "$SUITE"
		expect_rc 0
		nix-store --verify-path "$(cat "$T/$v.out")" || fail "$v: not built"
		case $v in
		2.28.*)	expect_in "$T/calls" "^--serve --write held=/"
			expect_not_in "$T/calls" "^--register-validity" ;;
		*)	expect_in "$T/calls" "^--register-validity --hash-given"
			expect_not_in "$T/calls" "held=/" ;;
		esac
	done
}
