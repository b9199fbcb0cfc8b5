# nix-offload build and copy against the real builders of the test bed,
# each result compared with what Nix itself produces.

SUITE=$TOP/tests/data/build/suite.nix

# Builder 1 only takes derivations that require "special" (mandatory);
# builder 2 also pretends to be a mac, as in Nix's manual.
routes() {
	grep -q special "$TB/host1/etc-nix/nix.conf" ||
	    echo 'system-features = special' >>"$TB/host1/etc-nix/nix.conf"
	grep -q darwin "$TB/host2/etc-nix/nix.conf" ||
	    echo 'extra-platforms = x86_64-darwin' >>"$TB/host2/etc-nix/nix.conf"
	echo "ssh://$H1 x86_64-linux - 2 1 special special $K1
ssh://$H2 x86_64-linux,x86_64-darwin - 2 1 - - $K2" >"$T/routes"
}

both() {
	echo "ssh://$H1 x86_64-linux - 4 1 - - $K1
ssh://$H2 x86_64-linux - 4 1 - - $K2" >"$T/both"
}

# on_builder N PATH: is PATH valid in builder N's store?  0 yes, 1 no; when
# the question cannot be asked (ssh failed), the test fails: a negative
# check must not pass because nothing ran.
on_builder() {
	local rc
	builder_ssh "$1" "nix-store --check-validity '$2' 2>/dev/null && echo valid || echo invalid" \
	    >"$T/on_builder.out" 2>"$T/on_builder.err"
	rc=$?
	case "$(cat "$T/on_builder.out")" in
	valid) return 0 ;;
	invalid) return 1 ;;
	esac
	fail "cannot ask builder $1 about $2 (ssh exit $rc: $(tail -1 "$T/on_builder.err"))"
}

t_build_darwin_route() {
	routes
	run a "$NO" build --builders "@$T/routes" -A darwin --argstr nonce "$T" "$SUITE"
	expect_rc 0
	out=$(cat "$T/a.out")
	expect_in "$T/a.err" "^built darwin-hello on ssh://$H2 "
	on_builder 2 "$out" || fail "not on builder 2"
	on_builder 1 "$out" && fail "also on builder 1"
	nix-store --verify-path "$out" || fail "not valid here"
	[ "$(cat "$out")" = "hello from a pretend mac" ] || fail "wrong contents"
}

t_build_mandatory_route() {
	routes
	run a "$NO" build --builders "@$T/routes" -A special --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "^built special on ssh://$H1 "
	# and a derivation without the feature never goes to builder 1
	run b "$NO" build --builders "@$T/routes" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/b.err" "^built step1 on ssh://$H2 "
}

# Two outputs, sources of every kind, awkward strings: the same paths and
# NAR hashes as Nix building the same derivation here.
t_build_same_as_nix() {
	both
	run a "$NO" build --no-out-link --builders "@$T/both" -A multi --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_lines "$T/a.out" 2
	for p in $(cat "$T/a.out"); do
		nix-store --verify-path "$p" || fail "$p not valid"
		echo "$p $(nix-store -q --hash "$p")" >>"$T/ours"
	done
	grep -q -- '-multi-dev$' "$T/a.out" || fail "no dev output"
	nix-store --delete $(cat "$T/a.out") >/dev/null 2>&1 || fail "cannot delete to rebuild"
	drv=$(nix-instantiate -A multi --argstr nonce "$T" "$SUITE" 2>/dev/null)
	nix-store --realise --max-jobs 1 --option builders '' "$drv" \
	    >"$T/nix.out" 2>"$T/nix.err" || fail "Nix failed: $(tail -3 "$T/nix.err")"
	expect_lines "$T/nix.out" 2
	for p in $(cat "$T/nix.out"); do
		echo "$p $(nix-store -q --hash "$p")" >>"$T/nix"
	done
	sort -u -o "$T/ours" "$T/ours"
	sort -u -o "$T/nix" "$T/nix"
	cmp -s "$T/ours" "$T/nix" || fail "ours: $(cat "$T/ours") Nix: $(cat "$T/nix")"
	out=$(grep -v -- '-dev$' "$T/nix.out")
	[ -x "$out/src/run.sh" ] && [ -L "$out/src/link" ] && [ -f "$out/src/nested/deeper/x" ] ||
	    fail "sources not copied as they are"
}

t_build_chain() {
	both
	run a "$NO" build --builders "@$T/both" -A step3 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	[ "$(cat "$(cat "$T/a.out")")" = 3 ] || fail "step3 says $(cat "$(cat "$T/a.out")")"
	[ "$(grep -c '^built step' "$T/a.err")" = 3 ] || fail "expected 3 builds"
	# built already: nothing to do, same answer
	run b "$NO" build --builders "@$T/both" -A step3 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	cmp -s "$T/a.out" "$T/b.out" || fail "a second build answered differently"
	expect_not_in "$T/b.err" '^built'
}

t_build_fails() {
	both
	run a "$NO" build --builders "@$T/both" -A fails --argstr nonce "$T" "$SUITE"
	expect_rc 100
	expect_in "$T/a.err" '^fails> this build is going to fail$'
	expect_in "$T/a.err" '^fails> on stderr$'
	# Nix 2.8 says why on the same line, newer Nix on a line of its own
	expect_in "$T/a.err" 'building fails failed: '
	expect_in "$T/a.err" 'exit code 3'
	# the derivation's own failure: not tried on the other builder
	[ "$(grep -c '^fails> on stderr$' "$T/a.err")" = 1 ] || fail "built more than once"
	expect_not_in "$T/a.err" 'moved'
	[ -s "$T/a.out" ] && fail "printed paths for a failed build"
	return 0
}

# kept_dirs: the build directories builder 1 kept for "fails" (Nix before
# 2.30 keeps them in /tmp, newer Nix in /nix/var/nix/builds)
kept_dirs() {
	builder_ssh 1 'ls -d /tmp/nix-build-fails.drv-* /nix/var/nix/builds/nix-build-fails.drv-* 2>/dev/null; true'
}

# --keep-failed reaches the builder (serve protocol 2.7's keepFailed): it
# keeps the failed build's directory, and we say where.  Without it, none
# is kept.
t_build_keep_failed() {
	one1="ssh://$H1 x86_64-linux - 1 1 - - $K1"
	echo "$one1" >"$T/one1"
	kept_dirs >"$T/before"
	run a "$NO" build --builders "@$T/one1" -A fails --argstr nonce "$T-a" "$SUITE"
	expect_rc 100
	kept_dirs >"$T/after-a"
	cmp -s "$T/before" "$T/after-a" || fail "kept without -K: $(cat "$T/after-a")"
	run b "$NO" build --builders "@$T/one1" -K -A fails --argstr nonce "$T-b" "$SUITE"
	expect_rc 100
	kept_dirs >"$T/after-b"
	new=$(comm -13 "$T/before" "$T/after-b")
	[ -n "$new" ] || fail "-K kept nothing on the builder"
	builder_ssh 1 "rm -rf $new"
	# said as Nix's hook says it, with where to look
	expect_in "$T/b.err" "^nix-offload: warning: The failed build directory was kept on the remote builder due to \`--keep-failed\`: on ssh://$H1, nix-build-fails\.drv-N in /tmp \(Nix before 2\.30\)"
	expect_not_in "$T/a.err" "was kept on the remote builder"
}

t_build_timeout() {
	both
	t0=$(ms)
	run a "$NO" build --builders "@$T/both" --option timeout 2 -A slow --argstr nonce "$T" "$SUITE"
	expect_rc 101
	[ $(($(ms) - t0)) -lt 20000 ] || fail "the timeout did not stop the build"
}

# No builder fits: every builder and why, once for both derivations.
t_build_no_builder() {
	both
	run a "$NO" build --builders "@$T/both" -A both-riscv --argstr nonce "$T" "$SUITE"
	expect_rc 1
	[ "$(grep -c 'no builder can build' "$T/a.err")" = 1 ] || fail "explained more than once"
	expect_in "$T/a.err" "no builder can build riscv2? \\(system riscv64-linux\\):"
	expect_in "$T/a.err" "ssh://$H1: system riscv64-linux is not one of its systems \\(x86_64-linux\\)"
	expect_in "$T/a.err" "ssh://$H2: system riscv64-linux is not one of its systems"
}

t_build_links() {
	both
	run a "$NO" build --builders "@$T/both" -o "$T/result" -A multi --argstr nonce "$T-l" "$SUITE"
	expect_rc 0
	[ -L "$T/result" ] && [ -L "$T/result-dev" ] || fail "no result links"
	[ "$(readlink "$T/result")" = "$(grep -v -- -dev "$T/a.out")" ] || fail "result points elsewhere"
	ls -l /nix/var/nix/gcroots/auto | grep -q "$T/result" || fail "no GC root"
}

# A build that ends leaves no run directory (roots.PID, with the GC roots
# of its .drv files) behind in the runtime directory.
t_build_run_dir_removed() {
	both
	run a "$NO" build --no-out-link --builders "@$T/both" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	ls -A "$NIX_OFFLOAD_RUNTIME_DIR" >"$T/rt"
	expect_not_in "$T/rt" '^roots\.'
}

# nix-build's words: ./result by default, as nix-build makes it (and
# result-dev), none with --no-out-link or --no-link, compared with what
# nix-build itself leaves; an unknown option is named in one line.
t_build_default_link() {
	both
	mkdir "$T/ours" "$T/nix" "$T/none"
	(cd "$T/ours" && "$NO" build --builders "@$T/both" -A multi \
	    --argstr nonce "$T" "$SUITE" >"$T/a.out" 2>"$T/a.err") ||
	    fail "build: $(tail -2 "$T/a.err")"
	(cd "$T/nix" && nix-build --max-jobs 1 -A multi --argstr nonce "$T" "$SUITE" \
	    >"$T/b.out" 2>&1) || fail "nix-build: $(tail -2 "$T/b.out")"
	(cd "$T/ours" && for l in *; do echo "$l $(readlink "$l")"; done) >"$T/ours.links"
	(cd "$T/nix" && for l in *; do echo "$l $(readlink "$l")"; done) >"$T/nix.links"
	[ -s "$T/nix.links" ] || fail "nix-build made no link"
	# nix-build -A multi builds out alone; we build every output, and
	# link each as -o does (result-dev): every link of nix-build's too
	while read -r l p; do
		grep -qxF "$l $p" "$T/ours.links" ||
		    fail "ours: $(cat "$T/ours.links"); nix-build's: $(cat "$T/nix.links")"
	done <"$T/nix.links"
	ls -l /nix/var/nix/gcroots/auto | grep -q "$T/ours/result" || fail "no GC root"
	for o in --no-out-link --no-link; do
		(cd "$T/none" && "$NO" build $o --builders "@$T/both" -A step1 \
		    --argstr nonce "$T" "$SUITE" >/dev/null 2>"$T/c.err") ||
		    fail "build $o: $(tail -2 "$T/c.err")"
		[ -z "$(ls -A "$T/none")" ] || fail "$o made $(ls "$T/none")"
	done
	run d "$NO" build --no-such-option -A step1 "$SUITE"
	expect_rc 2
	expect_lines "$T/d.err" 1
	expect_in "$T/d.err" '^nix-offload: build: unknown option --no-such-option \(see nix-offload build --help\)$'
}

t_build_json() {
	both
	run a "$NO" build --json --builders "@$T/both" -A step1 --argstr nonce "$T-j" "$SUITE"
	expect_rc 0
	expect_in "$T/a.out" '^\[\{"drvPath":"/nix/store/[a-z0-9]{32}-step1\.drv","outputs":\{"out":"/nix/store/[a-z0-9]{32}-step1"\}\}\]$'
}

t_copy_round_trip() {
	# a tree of its own: the suite's src may be kept alive by a .drv
	cp -R "$TOP/tests/data/build/src" "$T/tree"
	echo "$T" >"$T/tree/nonce"
	p=$(nix-store --add "$T/tree")
	U="ssh://$H1?base64-ssh-public-host-key=$K1"
	run a "$NO" copy --to "$U" "$p"
	expect_rc 0
	on_builder 1 "$p" || fail "not on the builder"
	nix-store --delete "$p" >/dev/null || fail "cannot delete"
	run b "$NO" copy --from "$U" "$p"
	expect_rc 0
	nix-store --verify-path "$p" || fail "not valid after copy --from"
	diff -r "$T/tree" "$p" || fail "contents differ"
	run c "$NO" copy --from "$U" /nix/store/00000000000000000000000000000000-nope
	expect_rc 1
	expect_in "$T/c.err" 'is not valid'
}

# copy --to a builder it cannot reach exits with the connection's status,
# as store-info does (3: unreachable), not 1; nothing is sent.
t_copy_to_unreachable() {
	echo "$T" >"$T/file"
	p=$(nix-store --add "$T/file")
	run i "$NO" store-info "ssh://$DOWN"
	expect_rc 3
	run a "$NO" copy --to "ssh://$DOWN" "$p"
	expect_rc 3
	expect_in "$T/a.err" "^nix-offload: ssh://$DOWN: cannot reach the builder: .*Connection refused"
	expect_lines "$T/a.err" 1
	expect_lines "$T/a.out" 0
}

# Leaves on both builders, a root that needs them all: the root goes where
# most of its inputs are, the others come home and go over, and the result
# is Nix's.
t_build_spread() {
	both
	run a "$NO" build --no-out-link --builders "@$T/both" -A fan --argstr nonce "$T" "$SUITE"
	expect_rc 0
	n1=$(grep -c "^built leaf-.* on ssh://$H1 " "$T/a.err")
	n2=$(grep -c "^built leaf-.* on ssh://$H2 " "$T/a.err")
	[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && [ $((n1 + n2)) = 8 ] ||
	    fail "leaves built $n1 on builder 1, $n2 on builder 2"
	out=$(cat "$T/a.out")
	[ "$(wc -l <"$out")" = 8 ] || fail "the root saw $(wc -l <"$out") leaves"
	hash=$(nix-store -q --hash "$out")
	nix-store --delete "$out" >/dev/null 2>&1 || fail "cannot delete to rebuild"
	drv=$(nix-instantiate -A fan --argstr nonce "$T" "$SUITE" 2>/dev/null)
	nix-store --realise --max-jobs 1 --option builders '' "$drv" >/dev/null 2>&1 ||
	    fail "Nix failed"
	[ "$(nix-store -q --hash "$out")" = "$hash" ] || fail "Nix made another NAR"
}

# Where a root's inputs sit on both builders, it goes where moving them
# costs least: builder 1 holds one input of 3 MB, builder 2 two small
# ones; counting inputs would pick builder 2.  The small ones come home
# and go over; the big one never moves.
t_build_place_bytes() {
	local h
	for h in 1 2; do
		grep -q special2 "$TB/host$h/etc-nix/nix.conf" ||
		    echo 'system-features = special special2' >>"$TB/host$h/etc-nix/nix.conf"
	done
	echo "ssh://$H1 x86_64-linux - 2 1 special - $K1
ssh://$H2 x86_64-linux - 2 1 special2 - $K2" >"$T/place"
	run a "$NO" -v build --no-out-link --builders "@$T/place" -A place \
	    --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "^built place-big on ssh://$H1 "
	expect_in "$T/a.err" "^built place-small-0 on ssh://$H2 "
	expect_in "$T/a.err" "^built place-small-1 on ssh://$H2 "
	expect_in "$T/a.err" "^built place on ssh://$H1 "
	expect_in "$T/a.err" "place: to ssh://$H1, where its inputs cost least to move \(ssh://$H1 0\.0 MB to move, [^;]*; ssh://$H2 3\.1 MB to move"
	[ "$(tail -1 "$(cat "$T/a.out")")" = 3145728 ] || fail "place saw no 3 MB input"
	big=$(nix-instantiate --eval -A placebig.outPath --argstr nonce "$T" "$SUITE" 2>/dev/null | tr -d '"')
	on_builder 2 "$big" && fail "the big input went to builder 2"
	:
}

# Inputs already on a builder count: builder 2 holds the 16 MB source of
# "big", builder 1 is four times as fast and holds nothing.  Asked at the
# start of the run, builder 2 says it has the source, and big goes there;
# the source never goes to builder 1.  A source neither holds goes to the
# faster one, as Nix would send it, though builder 2 comes first and both
# have a worker waiting (links not measured yet: a runtime directory of
# its own).
t_build_place_held() {
	echo "ssh://$H2 x86_64-linux - 2 1 - - $K2
ssh://$H1 x86_64-linux - 2 4 - - $K1" >"$T/held"
	head -c 16000000 /dev/urandom >"$T/bigfile"
	run b env NIX_OFFLOAD_RUNTIME_DIR="$T/ctl2" "$NO" -v build --no-out-link \
	    --builders "@$T/held" -A big --arg bigfile "$T/bigfile" \
	    --argstr nonce "$T-b" "$SUITE"
	expect_rc 0
	expect_in "$T/b.err" "^built big on ssh://$H1 "
	expect_not_in "$T/b.err" "which holds most of its"
	head -c 16000000 /dev/urandom >"$T/bigfile"
	drv=$(nix-instantiate -A big --arg bigfile "$T/bigfile" --argstr nonce "$T" "$SUITE" 2>/dev/null)
	src=$(nix-store -q --references "$drv" | grep -- '-bigfile$')
	[ -n "$src" ] || fail "no bigfile among the inputs of $drv"
	run c "$NO" copy --to "ssh://$H2?base64-ssh-public-host-key=$K2" "$src"
	expect_rc 0
	run a "$NO" -v build --no-out-link --builders "@$T/held" -A big \
	    --arg bigfile "$T/bigfile" --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "^built big on ssh://$H2 "
	expect_in "$T/a.err" "ssh://$H1: said which inputs here it holds"
	expect_in "$T/a.err" "ssh://$H2: said which inputs here it holds"
	expect_in "$T/a.err" "big: to ssh://$H2, which holds most of its 16\\.0 MB of inputs here \\(ssh://$H2 lacks 0\\.0 MB, [^;]*; ssh://$H1 lacks 16\\.0 MB"
	on_builder 1 "$src" && fail "the source went to builder 1"
	[ "$(cat "$(cat "$T/a.out")")" = 16000000 ] || fail "wrong output"
	# why says so: 16 MB over a link not measured takes over a second
	run e "$NO" why --builders "@$T/held" -A big --arg bigfile "$T/bigfile" \
	    --argstr nonce "$T-e" "$SUITE"
	expect_rc 0
	expect_in "$T/e.out" "^  a build asks the builders which of them they hold, and sends it where sending the rest takes least, when that saves 0\\.5 s or more$"
	run f "$NO" why --json --builders "@$T/held" -A big --arg bigfile "$T/bigfile" \
	    --argstr nonce "$T-e" "$SUITE"
	expect_in "$T/f.out" '"asksWhatBuildersHold":true'
	run g "$NO" why --json --builders "@$T/held" -A step1 --argstr nonce "$T-e" "$SUITE"
	expect_in "$T/g.out" '"asksWhatBuildersHold":false'
	expect_not_in "$T/g.out" '"asksWhatBuildersHold":true'
	# a builder that never answers is not waited for beyond the bound
	# (DISPATCH_HOLD_WAIT_MS, 3 s), though its connect timeout is longer
	"$TOP/tests/silentd" $SILENT1 22 &
	p1=$!
	wait_until 10 listening $SILENT1 || fail "the silent builder never listened"
	echo "ssh://$SILENT1 x86_64-linux - 2 4
ssh://$H2 x86_64-linux - 2 1 - - $K2" >"$T/silent"
	t0=$(ms)
	NIX_OFFLOAD_CONNECT_TIMEOUT=25 run d "$NO" -v build --no-out-link \
	    --builders "@$T/silent" -A big --arg bigfile "$T/bigfile" \
	    --argstr nonce "$T-d" "$SUITE"
	t=$(($(ms) - t0))
	kill $p1
	expect_rc 0
	expect_in "$T/d.err" "^built big on ssh://$H2 "
	[ $t -lt 20000 ] || fail "took $t ms: waited for the silent builder"
}

# max-build-log-size reaches the builder: a chatty build is stopped.
t_build_log_limit() {
	both
	run a "$NO" build --builders "@$T/both" --option max-build-log-size 1000 \
	    -A chatty --argstr nonce "$T" "$SUITE"
	expect_rc 100
	expect_in "$T/a.err" 'building chatty failed: .*(exceeded|log).*'
	[ "$(grep -c '^chatty> line' "$T/a.err")" -lt 1000 ] || fail "the log was not cut"
}

one_slot() {
	echo "ssh://$H1 x86_64-linux - 1 1 - - $K1
ssh://$H2 x86_64-linux - 1 1 - - $K2" >"$T/one"
}

# no_overlap LOG FAN [N]: the N (6) timed leaves (their paths are FAN's
# contents) built on each builder, as LOG says, never ran at once.
no_overlap() {
	local h f seen=0 want=${3:-6}
	for h in $H1 $H2; do
		: >"$T/spans"
		for f in $(cat "$2"); do
			grep -q "${f#/nix/store/*-}[^0-9].*$h" "$1" || continue
			echo "$(head -1 "$f") $(tail -1 "$f")" >>"$T/spans"
			seen=$((seen + 1))
		done
		sort -n "$T/spans" | awk -v h=$h '
		    NR > 1 && $1 < end { print "overlap on " h; bad = 1 }
		    { end = $2 } END { exit bad }' || fail "two builds at once on $h"
	done
	[ $seen = $want ] || fail "found where $seen of the $want timed leaves were built"
}

t_build_slots() {
	one_slot
	run a "$NO" build --builders "@$T/one" -A timedfan --argstr nonce "$T" "$SUITE"
	expect_rc 0
	grep '^built timed-' "$T/a.err" >"$T/built"
	no_overlap "$T/built" "$(cat "$T/a.out")"
	grep -q "$H1" "$T/built" && grep -q "$H2" "$T/built" || fail "one builder did it all"
}

# A .drv in the store whose inputDrvs name /etc/passwd or a FIFO: refused
# as it is parsed, before either is opened, in one line naming the offset.
# Nix itself would not register it (nor nix-store --add it), but any file
# can sit in the store directory: we write one into the test's own /nix.
t_build_drv_bad_input() {
	drv1=$(nix-instantiate -A step1 --argstr nonce "$T" "$SUITE" 2>/dev/null) &&
	    drv2=$(nix-instantiate -A step2 --argstr nonce "$T" "$SUITE" 2>/dev/null) ||
	    fail "nix-instantiate failed"
	grep -qF "$drv1" "$drv2" || fail "step2 does not name step1"
	both
	mkfifo "$T/fifo.drv"
	for c in passwd fifo; do
		case $c in
		passwd) to=/etc/passwd ;;
		fifo) to=$T/fifo.drv ;;
		esac
		p=/nix/store/$(head -c 64 /dev/urandom | od -An -tu1 | tr -dc 0-9 |
		    head -c 32)-$c-evil.drv
		sed "s|$drv1|$to|" "$drv2" >"$p" || fail "cannot write $p"
		run $c timeout 20 "$NO" build --builders "@$T/both" "$p"
		rm -f "$p"
		expect_rc 1
		expect_lines "$T/$c.err" 1
		expect_in "$T/$c.err" "^nix-offload: $p: offset [0-9]+: an input derivation must be a \\.drv in /nix/store, got \"$to\"\$"
	done
}

# A .drv argument must be a store derivation, after symlinks, as nix-build
# has it: a copy elsewhere, a FIFO, a link out of the store are refused at
# once (exit 1) without being opened; a link into the store is followed.
t_build_drv_argument() {
	both
	drv=$(nix-instantiate -A step1 --argstr nonce "$T" "$SUITE" 2>/dev/null) ||
	    fail "nix-instantiate failed"
	cp "$drv" "$T/copy.drv"
	mkfifo "$T/fifo.drv"
	ln -s /etc/passwd "$T/passwd.drv"
	for c in copy fifo passwd; do
		t0=$(ms)
		run $c timeout 20 "$NO" build --builders "@$T/both" "$T/$c.drv"
		expect_rc 1
		[ $(($(ms) - t0)) -lt 5000 ] || fail "$c: not refused at once"
		expect_lines "$T/$c.err" 1
		[ -s "$T/$c.out" ] && fail "$c: output"
	done
	expect_in "$T/copy.err" "^nix-offload: $T/copy.drv: not a store derivation \\(a \\.drv in /nix/store\\)\$"
	expect_in "$T/fifo.err" "^nix-offload: $T/fifo.drv: not a store derivation"
	expect_in "$T/passwd.err" "^nix-offload: $T/passwd.drv: resolves to /etc/passwd, not a store derivation"
	ln -s "$drv" "$T/result-drv"
	run d "$NO" build --builders "@$T/both" "$T/result-drv"
	expect_rc 0
	expect_in "$T/d.out" '^/nix/store/[a-z0-9]{32}-step1$'
}

# A nix-instantiate that floods stderr (3 000 lines were enough to hang us:
# a full pipe) before it prints the .drv; then a nix-store whose --realise
# (the -o links) floods stdout and stderr together.  Both pipes are read at
# once: the build ends, and every line of stderr is passed on.
t_build_child_floods() {
	both
	drv=$(nix-instantiate -A step1 --argstr nonce "$T" "$SUITE" 2>/dev/null) ||
	    fail "nix-instantiate failed"
	mkdir "$T/bin"
	cat >"$T/bin/nix-instantiate" <<-EOS
	#!/bin/sh
	awk 'BEGIN { for (i = 0; i < 200000; i++) print "warning: noise " i > "/dev/stderr" }'
	echo "$drv"
	EOS
	real=$(command -v nix-store)
	cat >"$T/bin/nix-store" <<-EOS
	#!/bin/sh
	if [ "\$1" = --realise ]; then
		awk 'BEGIN { for (i = 0; i < 200000; i++) {
			print "store noise " i > "/dev/stderr"; print "out noise " i } }'
	fi
	exec "$real" "\$@"
	EOS
	chmod +x "$T/bin/nix-instantiate" "$T/bin/nix-store"
	run a timeout 120 env PATH="$T/bin:$PATH" "$NO" build --builders "@$T/both" \
	    -o "$T/result" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_lines "$T/a.out" 1
	expect_in "$T/a.out" '^/nix/store/[a-z0-9]{32}-step1$'
	[ "$(grep -c '^warning: noise ' "$T/a.err")" = 200000 ] ||
	    fail "nix-instantiate's stderr not passed on whole"
	[ "$(grep -c '^store noise ' "$T/a.err")" = 200000 ] ||
	    fail "nix-store's stderr not passed on whole"
	expect_not_in "$T/a.err" '^out noise'
	[ "$(readlink "$T/result")" = "$(cat "$T/a.out")" ] || fail "no result link"
	# what nix-instantiate prints must be a store derivation
	printf '#!/bin/sh\necho /etc/passwd\n' >"$T/bin/nix-instantiate"
	run b timeout 60 env PATH="$T/bin:$PATH" "$NO" build --builders "@$T/both" \
	    -A step1 "$SUITE"
	expect_rc 1
	expect_lines "$T/b.err" 1
	expect_in "$T/b.err" '^nix-offload: nix-instantiate printed "/etc/passwd", not a store derivation$'
}

# max-build-log-size is bytes, read as Nix 2.8 reads it: the same values
# taken and printed the same way, the same ones refused.
t_build_log_size_vs_nix() {
	local v nix ours
	for v in 1048576 +0010485760 0 18446744073709551615; do
		nix=$(nix --extra-experimental-features nix-command show-config \
		    --option max-build-log-size "$v" 2>&1 | grep '^max-build-log-size = ')
		run a "$NO" -v machines --builders '' --option max-build-log-size "$v"
		expect_rc 0
		ours=$(sed -n 's/^nix-offload: conf: \(max-build-log-size = .*\)/\1/p' "$T/a.err")
		[ -n "$nix" ] && [ "$ours" = "$nix" ] || fail "$v: we say \"$ours\", Nix 2.8 \"$nix\""
	done
	for v in 10MB 10M 1K -1 18446744073709551616 ' 5' 0x10 ''; do
		nix --extra-experimental-features nix-command show-config \
		    --option max-build-log-size "$v" 2>&1 |
		    grep -qF "setting 'max-build-log-size' has invalid value '$v'" ||
		    fail "\"$v\": Nix 2.8 takes it"
		run a "$NO" machines --builders '' --option max-build-log-size "$v"
		expect_rc 2
		expect_lines "$T/a.err" 1
		expect_in "$T/a.err" "^nix-offload: --option: max-build-log-size = $v: expected a whole number of bytes from 0 \\(no limit\\) to 18446744073709551615\$"
	done
}

# A fixed-output hash mismatch: 102, as Nix itself exits on the same
# derivation.
t_build_hash_mismatch() {
	both
	run nix nix-build --no-out-link --max-jobs 1 --builders '' -A badhash \
	    --argstr nonce "$T" "$SUITE"
	[ "$RC" = 102 ] || fail "Nix exits $RC here, not 102: the test's premise is gone"
	run a "$NO" build --builders "@$T/both" -A badhash --argstr nonce "$T" "$SUITE"
	expect_rc 102
	expect_in "$T/a.err" "building badhash failed: .*hash mismatch"
}

# max-silent-time reaches the builder, which stops the silent build there
# (101), long before the local side's own limit (1 s + I/O timeout).
t_build_silent_time_sent() {
	both
	t0=$(ms)
	run a "$NO" build --builders "@$T/both" --option max-silent-time 1 -A silent \
	    --argstr nonce "$T" "$SUITE"
	expect_rc 101
	# Nix 2.8 says "of silence"; 2.34's builders say less
	case $BV1 in
	2.8.*)	expect_in "$T/a.err" "building silent failed: .*timed out after 1 seconds? of silence" ;;
	*)	expect_in "$T/a.err" "building silent failed: .*timed out after 1 seconds?" ;;
	esac
	[ $(($(ms) - t0)) -lt 4000 ] || fail "took $(($(ms) - t0)) ms: the builder did not stop it"
}

# Least load per unit of speed, not the first builder that fits: a faster
# builder wins an idle race, and a loaded one loses to an idle one.
t_sched_speed_and_load() {
	echo "ssh://$H1 x86_64-linux - 4 1 - - $K1
ssh://$H2 x86_64-linux - 4 4 - - $K2" >"$T/fast2"
	run a "$NO" build --builders "@$T/fast2" -A step1 --argstr nonce "$T-a" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "^built step1 on ssh://$H2 "
	# equal speeds; three of builder 1's four slots held elsewhere
	both
	for i in 0 1 2; do
		hold "$(slot_file "ssh://$H1" $i)" 60 "$T/r$i" &
		echo $! >>"$T/holders"
	done
	for i in $(seq 50); do [ -e "$T/r0" ] && [ -e "$T/r1" ] && [ -e "$T/r2" ] && break; sleep 0.1; done
	run b "$NO" build --builders "@$T/both" -A step1 --argstr nonce "$T-b" "$SUITE"
	kill $(cat "$T/holders") 2>/dev/null
	expect_rc 0
	expect_in "$T/b.err" "^built step1 on ssh://$H2 "
}

# A root whose inputs sit on two builders goes to the one with most of
# them (3 of 4), and the other input comes to it.
t_sched_root_where_inputs_are() {
	routes
	echo "ssh://$H1 x86_64-linux - 4 1 special - $K1
ssh://$H2 x86_64-linux,x86_64-darwin - 4 1 - - $K2" >"$T/spread"
	run a "$NO" build --builders "@$T/spread" -A sproot --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "^built sp-special on ssh://$H1 "
	expect_in "$T/a.err" "^built sp-root on ssh://$H2 "
	[ "$(wc -l <"$(cat "$T/a.out")")" = 4 ] || fail "the root did not read its 4 inputs"
}

# --keep-going: a failing branch does not stop the other; without it, the
# other stops where it was.
t_build_keep_going() {
	both
	run a "$NO" build --builders "@$T/both" --keep-going -A fails -A kgood \
	    --argstr nonce "$T-k" "$SUITE"
	expect_rc 100
	expect_in "$T/a.err" "^built kgood on "
	run b "$NO" build --builders "@$T/both" -A fails -A kgood --argstr nonce "$T-n" "$SUITE"
	expect_rc 100
	expect_not_in "$T/b.err" "^built kgood on "
	# the failures' bits together, as nix-build's: a timeout (1) and a
	# hash mismatch (2) make 103, whichever ends last (issue 22)
	run c "$NO" build --builders "@$T/both" --keep-going --option timeout 2 \
	    -A slow -A badhash --argstr nonce "$T-c" "$SUITE"
	expect_rc 103
}

# -o LINK with several roots: the links nix-build makes, LINK, LINK-2, ...,
# pointing where nix-build's point.
t_build_links_several_roots() {
	both
	mkdir "$T/L"
	run a "$NO" build --builders "@$T/both" -o "$T/L/ours" -A step1 -A step2 -A step3 \
	    --argstr nonce "$T" "$SUITE"
	expect_rc 0
	run nix nix-build --max-jobs 1 -o "$T/L/nix" -A step1 -A step2 -A step3 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	(cd "$T/L" && for l in nix*; do echo "${l#nix} $(readlink "$l")"; done) >"$T/nix.links"
	(cd "$T/L" && for l in ours*; do echo "${l#ours} $(readlink "$l")"; done) >"$T/ours.links"
	[ "$(wc -l <"$T/nix.links")" = 3 ] || fail "nix-build made $(cat "$T/nix.links")"
	cmp -s "$T/nix.links" "$T/ours.links" ||
	    fail "ours: $(cat "$T/ours.links"); nix-build's: $(cat "$T/nix.links")"
}

# copy --include-outputs: a derivation's outputs go along with it.
t_copy_include_outputs() {
	both
	run a "$NO" build --builders "@$T/both" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	out=$(cat "$T/a.out")
	drv=$(nix-store -q --deriver "$out")
	on_builder 2 "$out" && builder_ssh 2 nix-store --delete "$out" >/dev/null 2>&1
	on_builder 2 "$out" && fail "cannot start with $out missing on builder 2"
	run b "$NO" copy --to "$U2" "$drv"
	expect_rc 0
	on_builder 2 "$out" && fail "the output went along without --include-outputs"
	run c "$NO" copy --to "$U2" --include-outputs "$drv"
	expect_rc 0
	on_builder 2 "$out" || fail "the output did not go along"
}

# tee_prog: a remote program that keeps what the client sends (in
# $T/wire.N, one file per session) and is nix-store otherwise; and a
# builders file whose builder 1 runs it
tee_prog() {
	printf '#!/bin/sh\ntee "$(mktemp %s/wire.XXXXXX)" | nix-store "$@"\n' "$T" >"$T/teeprog"
	chmod +x "$T/teeprog"
	echo "ssh://$H1?remote-program=$T/teeprog x86_64-linux - 1 1 - - $K1" >"$T/tee"
}

# first_query: the substitute flag of the first QueryValidPaths any session
# sent (after the 16-byte hello: u64 1, lock, substitute), or "none"
first_query() {
	python3 -c 'import struct, sys
for f in sys.argv[1:]:
    d = open(f, "rb").read()
    if len(d) >= 40 and struct.unpack_from("<Q", d, 16)[0] == 1:
        print(struct.unpack_from("<Q", d, 32)[0])
        sys.exit(0)
print("none")' "$T"/wire.*
}

# builders-use-substitutes reaches the builder (in QueryValidPaths, where
# it lets the builder substitute inputs instead of receiving them), from
# build and from the hook, and is off unless set.
t_settings_substitutes() {
	tee_prog
	hook_install
	for v in true false; do
		rm -f "$T"/wire.*
		run b$v "$NO" build --builders "@$T/tee" --option builders-use-substitutes $v \
		    -A multi --argstr nonce "$T-b$v" "$SUITE"
		expect_rc 0
		[ "$(first_query)" = "$([ $v = true ] && echo 1 || echo 0)" ] ||
		    fail "build with builders-use-substitutes $v sent $(first_query)"
		rm -f "$T"/wire.*
		# a runtime directory each: a session the broker kept from the
		# run before would write to a file removed above
		NIX_OFFLOAD_RUNTIME_DIR=$T/ctl-h$v run h$v nb --builders "@$T/tee" \
		    --option builders-use-substitutes $v \
		    -A multi --argstr nonce "$T-h$v" "$SUITE"
		expect_rc 0
		[ "$(first_query)" = "$([ $v = true ] && echo 1 || echo 0)" ] ||
		    fail "the hook with builders-use-substitutes $v sent $(first_query)"
	done
}

# What a builder writes in its log reaches our terminal filtered, as Nix
# shows build logs: off a terminal no escape sequence at all, on one (a
# real pseudo-terminal) never a title or a screen clear.  (Nix on the
# builder filters too, in its own way: 2.8 leaves a title's text, newer
# Nix drops colours.  log_filter's unit tests cover what they let by.)
t_build_log_filtered() {
	both
	run a "$NO" build --builders "@$T/both" -A logescapes --argstr nonce "$T-a" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" '^logescapes> plain .*red end$'
	! grep -q "$(printf '\033')" "$T/a.err" || fail "an escape sequence reached stderr"
	! grep -q "$(printf '\r')" "$T/a.err" || fail "a carriage return reached stderr"
	script -qec "$NO build --builders @$T/both -A logescapes --argstr nonce $T-b $SUITE" \
	    /dev/null >"$T/tty.out" 2>&1 </dev/null
	grep -q 'logescapes> plain' "$T/tty.out" || fail "no build log on the terminal"
	grep -q "$(printf '\033\\]0;')" "$T/tty.out" && fail "a title escape reached the terminal"
	grep -q "$(printf '\033\\[2J')" "$T/tty.out" && fail "a screen clear reached the terminal"
	return 0
}

# A feature the builder lists only as mandatory is one it supports, as
# Nix has it: a derivation requiring it is built there (issue 22).
t_build_mandatory_is_supported() {
	routes	# builder 1's Nix has the feature
	echo "ssh://$H1 x86_64-linux - 1 1 - special $K1" >"$T/m"
	run w "$NO" why --builders "@$T/m" -A special --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/w.out" "^  ssh://$H1: yes: fits"
	run a "$NO" build --builders "@$T/m" -A special --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "^built special on ssh://$H1 "
}

# A build that starts while another runs leaves the other's run directory
# (its GC roots, its note for status) alone: only a killed run's, unlocked,
# is swept (issue 22).
t_build_runs_keep_roots() {
	both
	"$NO" build --builders "@$T/both" -A cutme --argstr nonce "$T-a" "$SUITE" \
	    >"$T/a.out" 2>"$T/a.err" &
	pid=$!
	wait_for "$T/a.err" "^cutme> started" 30 || fail "the first build did not start"
	[ -d "$NIX_OFFLOAD_RUNTIME_DIR/roots.$pid" ] || fail "no run directory roots.$pid"
	# and a killed run's, left behind unlocked
	mkdir -m 700 "$NIX_OFFLOAD_RUNTIME_DIR/roots.999999"
	: >"$NIX_OFFLOAD_RUNTIME_DIR/roots.999999/lock"
	run b "$NO" build --builders "@$T/both" -A step1 --argstr nonce "$T-b" "$SUITE"
	expect_rc 0
	[ -d "$NIX_OFFLOAD_RUNTIME_DIR/roots.$pid" ] ||
	    fail "the second build swept the running first's run directory"
	[ -e "$NIX_OFFLOAD_RUNTIME_DIR/roots.999999" ] &&
	    fail "the killed run's directory was not swept"
	wait $pid
	RC=$? expect_rc 0
}
