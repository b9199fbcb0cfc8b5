# Faults on the way: connections cut mid-copy, mid-build and mid-fetch,
# a builder that stops answering, and remotes that lie.  After each, the
# stores on both sides must verify, and a retry must succeed.

CUT=$TOP/tests/fake/cut
FAKE=$TOP/tests/fake/serve

# Every store in play passes `nix-store --verify --check-contents`.
verify_stores() {
	nix-store --verify --check-contents >"$T/verify.0" 2>&1 ||
	    fail "the local store does not verify: $(tail -3 "$T/verify.0")"
	for n in 1 2; do
		builder_ssh $n nix-store --verify --check-contents \
		    >"$T/verify.$n" 2>&1 ||
		    fail "builder $n's store does not verify: $(tail -3 "$T/verify.$n")"
	done
}

# Builder 1 through a remote program PROG (URI-encoded), preferred (speed
# 100), and builder 2 as it is.
via() {
	echo "ssh://$H1?remote-program=$1 x86_64-linux - 1 100 - - $K1
ssh://$H2 x86_64-linux - 1 1 - - $K2" >"$T/via"
}

# One line for the failure, one for what moved, then the build elsewhere.
expect_moved() {	# ATTR-NAME [HOW]
	expect_in "$T/a.err" "^nix-offload: warning: builder ssh://$H1\\?[^ ]* ${2:-disconnected}; 1 derivation moved \\($1\\)\$"
	[ "$(grep -c "^nix-offload: .*ssh://$H1" "$T/a.err")" = 2 ] ||
	    fail "$(grep -c "^nix-offload: .*ssh://$H1" "$T/a.err") messages name builder 1, expected 2"
	expect_in "$T/a.err" "^built $1 on ssh://$H2 "
}

bigfile() {
	head -c 8388608 /dev/urandom >"$T/bigfile"
}

# The input source is cut 1 MiB into its 8 MiB: builder 1 registers
# nothing of it, builder 2 builds.
t_cut_build_mid_copy() {
	bigfile
	via "$CUT%20in%201048576"
	run a "$NO" build --builders "@$T/via" -A big --arg bigfile "$T/bigfile" \
	    --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "^nix-offload: ssh://$H1: sending /nix/store/[^ ]*-bigfile: the connection to the builder was lost"
	expect_moved big
	[ "$(cat "$(cat "$T/a.out")")" = 8388608 ] || fail "wrong output"
	drv=$(nix-instantiate -A big --arg bigfile "$T/bigfile" --argstr nonce "$T" "$SUITE" 2>/dev/null)
	src=$(nix-store -q --references "$drv" | grep -- '-bigfile$')
	[ -n "$src" ] || fail "no bigfile among the inputs of $drv"
	on_builder 1 "$src" && fail "the cut copy is valid on builder 1"
	on_builder 2 "$src" || fail "the source is not on builder 2"
	verify_stores
	# builder 1 works again, and takes the copy whole
	run b "$NO" copy --to "$U1" "$src"
	expect_rc 0
	on_builder 1 "$src" || fail "the copy after the cut failed"
	verify_stores
}

# The connection goes while the builder builds: built elsewhere, once.
# (-j 1: the worker of the lost builder must not hold the only job.)
t_cut_build_mid_build() {
	via "$CUT%20file%20$T/cutnow"
	"$NO" build -j 1 --builders "@$T/via" -A cutme --argstr nonce "$T" \
	    "$SUITE" >"$T/a.out" 2>"$T/a.err" &
	pid=$!
	wait_for "$T/a.err" "^cutme> started" 30 || fail "the build did not start"
	touch "$T/cutnow"
	wait $pid
	RC=$? expect_rc 0
	expect_in "$T/a.err" "^nix-offload: ssh://$H1: building /nix/store/[^ ]*-cutme.drv: the connection to the builder was lost \\(ssh exit 255\\)\$"
	expect_moved cutme
	[ "$(grep -c '^cutme> started' "$T/a.err")" = 2 ] || fail "not started twice"
	verify_stores
}

# A builder lost mid-build is remembered: status shows it down after the
# build that lost it, which ended well elsewhere.
t_cut_build_mid_build_down() {
	via "$CUT%20file%20$T/cutnow"
	"$NO" build -j 1 --builders "@$T/via" -A cutme --argstr nonce "$T" \
	    "$SUITE" >"$T/a.out" 2>"$T/a.err" &
	pid=$!
	wait_for "$T/a.err" "^cutme> started" 30 || fail "the build did not start"
	touch "$T/cutnow"
	wait $pid
	RC=$? expect_rc 0
	expect_moved cutme
	run s "$NO" status --builders "@$T/via"
	expect_rc 0
	expect_in "$T/s.out" "^ssh://$H1\\?[^ ]*: 0 of 1 slot in use\$"
	expect_in "$T/s.out" "^  down until [0-9:]+ \\([0-9]+ s more\\) after 1 failure in a row: .*connection to the builder was lost"
	expect_lines_matching "$T/s.out" "^  down until" 1
}

# A builder with four slots goes while it builds some derivations and
# holds the outputs of others: all of them move, and the user reads one
# line about it.
t_cut_many() {
	echo "ssh://$H1?remote-program=$CUT%20file%20$T/cutnow x86_64-linux - 4 100 - - $K1
ssh://$H2 x86_64-linux - 4 1 - - $K2" >"$T/via"
	"$NO" build --builders "@$T/via" -A slowfan --argstr nonce "$T" "$SUITE" \
	    >"$T/a.out" 2>"$T/a.err" &
	pid=$!
	wait_for "$T/a.err" "^built slow-[0-9] on ssh://$H1" 30 || fail "nothing built on builder 1"
	touch "$T/cutnow"
	wait $pid
	RC=$? expect_rc 0
	expect_lines "$T/a.out" 1
	[ "$(tr -d '\n' <"$(cat "$T/a.out")")" = 01234567 ] || fail "wrong output"
	[ "$(grep -c 'disconnected' "$T/a.err")" = 1 ] || fail "not said once"
	n=$(sed -n 's/.* disconnected; \([0-9]*\) derivations moved (.*)$/\1/p' "$T/a.err")
	[ "${n:-0}" -ge 2 ] || fail "${n:-no} derivations moved, expected several"
	[ "$(grep -c "^nix-offload: .*ssh://$H1" "$T/a.err")" = 2 ] ||
	    fail "$(grep -c "^nix-offload: .*ssh://$H1" "$T/a.err") messages name builder 1, expected 2"
	expect_in "$T/a.err" "^built slowfan on ssh://$H2 "
	verify_stores
}

# The output is cut 1 MiB into its 8 MiB on its way home: nothing of it
# is registered here, and what is here is builder 2's.
t_cut_build_mid_fetch() {
	via "$CUT%20out%201048576"
	run a "$NO" build --builders "@$T/via" -A bigout --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "^nix-offload: ssh://$H1: reading the contents of /nix/store/[^ ]*-bigout: the connection to the builder was lost"
	expect_moved bigout
	out=$(cat "$T/a.out")
	[ "$(nix-store -q --hash "$out")" = "$(builder_ssh 2 nix-store -q --hash "$out")" ] ||
	    fail "the output here is not builder 2's"
	[ "$(nix-store -q --hash "$out")" != "$(builder_ssh 1 nix-store -q --hash "$out")" ] ||
	    fail "builder 1 built the same bytes: the test proves nothing"
	verify_stores
}

# copy --to, cut: a clean failure naming the builder, nothing registered
# there, and the next copy succeeds.
t_cut_copy_to() {
	bigfile
	p=$(nix-store --add "$T/bigfile")
	run a "$NO" copy --to "ssh://$H1?remote-program=$CUT%20in%201048576&base64-ssh-public-host-key=$K1" "$p"
	expect_rc 9
	expect_lines "$T/a.err" 1
	expect_in "$T/a.err" "^nix-offload: ssh://$H1: .*sending $p"
	on_builder 1 "$p" && fail "the cut copy is valid on builder 1"
	verify_stores
	run b "$NO" copy --to "$U1" "$p"
	expect_rc 0
	on_builder 1 "$p" || fail "the copy after the cut failed"
	verify_stores
}

# copy --from, cut: nothing registered here; the next copy succeeds.
t_cut_copy_from() {
	bigfile
	p=$(nix-store --add "$T/bigfile")
	run a "$NO" copy --to "$U2" "$p"
	expect_rc 0
	nix-store --delete "$p" >/dev/null 2>&1 || fail "cannot delete $p here"
	run b "$NO" copy --from "ssh://$H2?remote-program=$CUT%20out%201048576&base64-ssh-public-host-key=$K2" "$p"
	expect_rc 9
	expect_lines "$T/b.err" 1
	expect_in "$T/b.err" "^nix-offload: ssh://$H2: .*$p"
	nix-store --check-validity "$p" 2>/dev/null && fail "the cut copy is valid here"
	verify_stores
	run c "$NO" copy --from "$U2" "$p"
	expect_rc 0
	cmp -s "$p" "$T/bigfile" || fail "the copy differs from the file"
	verify_stores
}

# A builder that stops answering mid-build, its connection open (a dead
# link): ssh's keepalive gives up on it, and the build moves.
t_stop_answering_mid_build() {
	via "$CUT%20stop%20$T/stopnow"
	NIX_OFFLOAD_ALIVE_INTERVAL=1 "$NO" build --builders "@$T/via" -A cutme \
	    --argstr nonce "$T" "$SUITE" >"$T/a.out" 2>"$T/a.err" &
	pid=$!
	wait_for "$T/a.err" "^cutme> started" 30 || fail "the build did not start"
	touch "$T/stopnow"
	t0=$(ms)
	wait $pid
	RC=$? expect_rc 0
	echo "done $(($(ms) - t0)) ms after the stop"
	[ $(($(ms) - t0)) -lt 20000 ] || fail "took $(($(ms) - t0)) ms"
	expect_moved cutme
}

# A remote that answers the handshake, then nothing: NIX_OFFLOAD_IO_TIMEOUT.
t_io_timeout_copy() {
	p=$(nix-store --add "$TOP/tests/data/build/suite.nix")
	t0=$(ms)
	NIX_OFFLOAD_IO_TIMEOUT=2 run a "$NO" copy --to \
	    "ssh://$H1?remote-program=$FAKE%20mute&base64-ssh-public-host-key=$K1" "$p"
	expect_rc 9
	[ $(($(ms) - t0)) -lt 10000 ] || fail "took $(($(ms) - t0)) ms"
	expect_lines "$T/a.err" 1
	expect_in "$T/a.err" "^nix-offload: ssh://$H1: .*no answer for 2 s"
}

# ... and in a build, silent past the max-silent-time the builder was given.
t_io_timeout_build() {
	via "$FAKE%20mute"
	NIX_OFFLOAD_IO_TIMEOUT=2 run a "$NO" build --builders "@$T/via" \
	    --option max-silent-time 1 -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "^nix-offload: ssh://$H1: building /nix/store/[^ ]*-step1.drv: no answer for 3 s"
	expect_moved step1 "stopped answering"
}

# Remotes that lie (tests/liar): one clear line naming the builder, the
# protocol status, no crash, memory flat, nothing registered here.
LIAR=$TOP/tests/liar
P=/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-liar

liar_uri() {
	echo "ssh://$H1?remote-program=$LIAR%20$1&base64-ssh-public-host-key=$K1"
}

# liar_copy MODE PATTERN [KIB]: copy --from a liar fails as it should,
# costing at most KIB (default LIAR_KIB) of memory
liar_copy() {
	run "$1" "$NO" copy --from "$(liar_uri "$1")" "$P"
	expect_rc 8
	expect_lines "$T/$1.err" 1
	expect_in "$T/$1.err" "^nix-offload: ssh://$H1: .*$2"
	# and with -vv, what it cost us at most
	"$NO" -vv copy --from "$(liar_uri "$1")" "$P" 2>"$T/$1.vv" >/dev/null
	kib=$(sed -n 's/.*peak memory \([0-9]*\) KiB.*/\1/p' "$T/$1.vv")
	[ -n "$kib" ] || fail "$1: no peak memory in $(tail -2 "$T/$1.vv")"
	echo "$1: peak memory $kib KiB"
	[ "$kib" -lt "${3:-$LIAR_KIB}" ] || fail "$1: peak memory $kib KiB"
	nix-store --check-validity "$P" 2>/dev/null && fail "$1: $P was registered"
	return 0
}

# the most memory a lie may cost: a plain run stays under 4 MiB;
# the sanitizers' shadow memory is generous
LIAR_KIB=$([ -n "${ASAN_OPTIONS:-}" ] && echo 131072 || echo 8192)
# what a reply may make us keep: SERVE_REPLY_MAX (64 MiB), and a plain run
LIAR_REPLY_KIB=$([ -n "${ASAN_OPTIONS:-}" ] && echo 393216 || echo $((65536 + 8192)))

t_liar_wire() {
	liar_copy random "asking for the closure of 1 paths: "
	liar_copy strlen "a string of 4611686018427387904 bytes, over the limit of 4096"
	liar_copy count "a list of 1099511627776 items, over the limit of 65537"
	liar_copy padding "non-zero padding"
	verify_stores
}

t_liar_nar() {
	liar_copy nar-dotdot "the contents of $P are not a valid NAR: .*invalid entry name \"\\.\\.\""
	liar_copy nar-slash "not a valid NAR: .*entry name \"a/b\" contains '/'"
	liar_copy nar-empty "not a valid NAR: .*empty entry name"
	liar_copy nar-unsorted "not a valid NAR: .*entry \"a\" comes after \"b\""
	liar_copy nar-symlink "not a valid NAR: .*expected \"target\", got \"contents\""
	verify_stores
}

# A valid NAR that is not what the builder announced, by hash or by size:
# nothing is registered (the man page: outputs "come home with their NAR
# hash and size checked").
t_liar_nar_announced() {
	liar_copy nar-hash "$P arrived with hash sha256:0rsv7kag23nvdpy4500mv2m0b4sm4c8fkgqrfsrmv1kgk77bi81c \\(120 bytes\\), but the builder said sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s \\(120 bytes\\): not imported"
	liar_copy nar-size "$P arrived with hash sha256:0rsv7kag23nvdpy4500mv2m0b4sm4c8fkgqrfsrmv1kgk77bi81c \\(120 bytes\\), but the builder said sha256:0rsv7kag23nvdpy4500mv2m0b4sm4c8fkgqrfsrmv1kgk77bi81c \\(121 bytes\\): not imported"
	verify_stores
}

# A builder that says its build is not deterministic: 104, as Nix exits.
t_liar_nondeterministic() {
	via "$LIAR%20nondet"
	run a "$NO" build --builders "@$T/via" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 104
	expect_in "$T/a.err" "building step1 failed: derivation may not be deterministic"
}

# A closure of 100 000 paths (26 MB) when one was asked about: refused
# from its count (SERVE_CLOSURE_MAX more than asked), memory stays flat.
t_liar_closure_big() {
	liar_copy closure-big "asking for the closure of 1 paths: a list of 100000 items, over the limit of 65537\$"
}

# A closure that names something other than a store path.
t_liar_closure_junk() {
	liar_copy closure-junk "asking for the closure of 1 paths: the remote named \"/etc/passwd\", which is not a store path\$"
}

# A path info with 2^20 references of 255 bytes (272 MB): read up to
# SERVE_REPLY_MAX and refused there, memory bounded by it.
t_liar_refs_huge() {
	liar_copy refs-huge "reading the path infos of 1 paths: the reply passed its limit of 67108864 bytes\$" "$LIAR_REPLY_KIB"
}

# A builder that lies in its build result is a failed builder, not a
# failed build: the derivation moves, and is built.
t_liar_build() {
	for m in strlen count random; do
		T=$T/$m
		mkdir -p "$T"
		via "$LIAR%20$m"
		run a "$NO" build --builders "@$T/via" -A step1 --argstr nonce "$T" "$SUITE"
		expect_rc 0
		expect_in "$T/a.err" "^nix-offload: ssh://$H1: building /nix/store/[^ ]*-step1.drv: "
		expect_in "$T/a.err" "^nix-offload: warning: builder ssh://$H1\\?[^ ]* broke the serve protocol; 1 derivation moved \\(step1\\)\$"
		expect_in "$T/a.err" "^built step1 on ssh://$H2 "
		T=${T%/*}
	done
}

# A build's error message comes without its terminal escapes.
t_liar_escapes() {
	echo "ssh://$H1?remote-program=$LIAR%20escapes x86_64-linux - 1 1 - - $K1" >"$T/spec"
	run a "$NO" build --builders "@$T/spec" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 100
	expect_in "$T/a.err" "^nix-offload: ssh://$H1\\?[^ ]*: building step1 failed: the build\\?failed\$"
	! grep -q "$(printf '\033')" "$T/a.err" || fail "an escape reached stderr"
}

# Hostile configuration: a host that would be an ssh option, shell syntax
# in remote-program and remote-store.  Nothing runs that was not asked for.
t_hostile_config() {
	echo "ssh://-oProxyCommand=touch%20$(echo "$T/pwned1" | sed 's|/|%2F|g') x86_64-linux" >"$T/dash"
	# Nix lists such a builder and fails when it connects: we list it,
	# unusable, and never connect
	for cmd in machines check build; do
		run $cmd "$NO" $cmd --builders "@$T/dash" \
		    $([ $cmd = build ] && echo "-A step1 --argstr nonce $T $SUITE")
		case $cmd in
		machines) expect_rc 0 ;;
		check) expect_in "$T/check.out" "^ssh://-oProxyCommand=[^ ]* +skipped " ;;
		build) expect_rc 1 ;;
		esac
		expect_in "$T/$cmd.err" "dash:1: ssh://-oProxyCommand=touch%20[^ ]*: .*host name \"-oProxyCommand=touch[^\"]*\" starts with \"-\"; listed, never used"
	done
	echo "ssh://$H1?remote-program=nix-store%3Btouch%20$T/pwned2 x86_64-linux - 1 1 - - $K1
ssh://$H2?remote-store=$T/st%24(touch%20$T/pwned3)%3Bx%60touch%20$T/pwned4%60 x86_64-linux - 1 1 - - $K2" >"$T/meta"
	run b "$NO" build --builders "@$T/meta" -A step1 --argstr nonce "$T" "$SUITE"
	expect_in "$T/b.err" "ssh://$H1: nix-store was not found on the builder \\(remote exit 127: bash: line 1: nix-store;touch: command not found\\)"
	# the remote-store is a (strange) local store path for nix-store
	expect_in "$T/b.err" "^building step1 on ssh://$H2\\?remote-store="
	run c "$NO" check --builders "@$T/meta"
	expect_rc 1
	for i in 1 2 3 4; do
		[ -e "$T/pwned$i" ] && fail "pwned$i: an injected command ran"
	done
	return 0
}

# The oddest derivation name Nix allows, and shell syntax in an argument
# and a variable: the builder gets them as they are, nothing runs them,
# and the output is the one Nix builds from the same derivation here.
t_hostile_derivation() {
	both
	rm -f /tmp/nix-offload-pwned-arg /tmp/nix-offload-pwned-env
	run a "$NO" build --no-out-link --builders "@$T/both" -A awkward --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" '^built awk\?ward=\+-\._name on ssh://'
	out=$(cat "$T/a.out")
	expect_in "$out" '^\$\(/usr/bin/touch /tmp/nix-offload-pwned-arg\); `/usr/bin/touch /tmp/nix-offload-pwned-arg`\|'"'"'; /usr/bin/touch /tmp/nix-offload-pwned-env; '"'"'"\$\(/usr/bin/touch /tmp/nix-offload-pwned-env\)"$'
	ours=$(nix-store -q --hash "$out")
	nix-store --delete "$out" >/dev/null 2>&1 || fail "cannot delete to rebuild"
	drv=$(nix-instantiate -A awkward --argstr nonce "$T" "$SUITE" 2>/dev/null)
	nix-store --realise --max-jobs 1 --option builders '' "$drv" >/dev/null 2>&1 || fail "Nix failed"
	[ "$(nix-store -q --hash "$out")" = "$ours" ] || fail "Nix built other bytes"
	ls /tmp/nix-offload-pwned-* 2>/dev/null && fail "an injected command ran"
	# a .drv argument with quotes, spaces and shell syntax is only a name
	run b "$NO" build --builders "@$T/both" "$T/it's a \"drv\" \$(touch $T/pwned5); \`touch $T/pwned6\`.drv"
	expect_rc 1
	expect_lines "$T/b.err" 1
	expect_in "$T/b.err" "^nix-offload: $T/it's a \"drv\" .*: No such file or directory"
	ls "$T"/pwned* 2>/dev/null && fail "an injected command ran"
	return 0
}

# The same cut under Nix itself, through our hook: the build moves to the
# other builder, and nix-build never knows.
t_hook_cut_mid_build() {
	hook_install
	via "$CUT%20file%20$T/cutnow"
	nb --builders "@$T/via" -A cutme --argstr nonce "$T" "$SUITE" \
	    >"$T/a.out" 2>"$T/a.err" &
	pid=$!
	wait_for "$T/a.err" "started" 30 || fail "the build did not start"
	touch "$T/cutnow"
	wait $pid
	RC=$? expect_rc 0
	expect_in "$T/a.err" "ssh://$H1: building /nix/store/[^ ]*-cutme.drv: the connection to the builder was lost"
	expect_in "$T/a.err" "trying ssh://$H2 instead"
	nix-store --verify-path "$(cat "$T/a.out")" || fail "not valid here"
	on_builder 2 "$(cat "$T/a.out")" || fail "not built on builder 2"
	verify_stores
}
