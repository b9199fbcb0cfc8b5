# Faults over ssh-ng://: daemons that lie (tests/liard, a fake `nix-daemon
# --stdio` that lies one way per mode), and real daemons whose builder
# dies, whose connection is cut, or that are killed mid-build.  After a
# lie: the exit status says what failed, one line names the builder and
# what was expected, nothing it lied about is imported, no escape byte
# reaches the terminal, no hang, memory bounded.

LIARD=$TOP/tests/liard

# the most memory a lie may cost (as tests/faults.sh has it)
NGLIAR_KIB=$([ -n "${ASAN_OPTIONS:-}" ] && echo 131072 || echo 8192)

# liard_uri MODE [VERSION]: builder 1 through liard
liard_uri() {
	echo "ssh-ng://$H1?remote-program=$LIARD%20$1${2:+%20$2}&base64-ssh-public-host-key=$K1"
}

# liard_via MODE [VERSION]: builder 1 through liard, preferred (speed
# 100), and builder 2's real daemon ($T/via)
liard_via() {
	echo "ssh-ng://$H1?remote-program=$LIARD%20$1${2:+%20$2} x86_64-linux - 1 100 - - $K1
ssh-ng://$H2 x86_64-linux - 1 1 - - $K2" >"$T/via"
}

# fresh_path NAME: a store path of this test's own, in no store; liard
# says it has every path
fresh_path() {
	local h
	h=$(nix-hash --type sha1 --to-base32 "$(printf '%s' "$T/$1" | sha1sum | cut -c1-40)")
	echo "/nix/store/$h-$1"
}

# no_escapes FILE: no control byte but new lines and tabs (no ESC, no
# BEL, no carriage return) reached it
no_escapes() {
	! LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$1" ||
	    fail "$(basename "$1") holds control bytes: $(od -c "$1" | head -5)"
}

# not_imported PATH: not valid here.  (What the local nix-store unpacked
# of a NAR it then refused may stay on disk, invalid, as with ssh://: Nix
# removes it when the path is added again.)
not_imported() {
	nix-store --check-validity "$1" 2>/dev/null && fail "$1 was imported"
	return 0
}

# ng_lie NAME STATUS PATTERN ARGS...: `nix-offload ARGS` against a liard
# ends with STATUS within 15 s, saying one line, which names builder 1 and
# matches PATTERN, with no control byte; at -vv it costs at most
# NGLIAR_KIB
ng_lie() {
	local n=$1 rc=$2 pat=$3 t0 kib
	shift 3
	t0=$(ms)
	NIX_OFFLOAD_IO_TIMEOUT=30 run "$n" "$NO" "$@"
	[ $(($(ms) - t0)) -lt 15000 ] || fail "$n: took $(($(ms) - t0)) ms"
	expect_rc "$rc"
	expect_lines "$T/$n.err" 1
	expect_in "$T/$n.err" "^nix-offload: ssh-ng://$H1: $pat"
	no_escapes "$T/$n.err"
	NIX_OFFLOAD_IO_TIMEOUT=30 "$NO" -vv "$@" >/dev/null 2>"$T/$n.vv"
	kib=$(sed -n 's/.*peak memory \([0-9]*\) KiB.*/\1/p' "$T/$n.vv")
	[ -n "$kib" ] || fail "$n: no peak memory in $(tail -2 "$T/$n.vv")"
	echo "$n: peak memory $kib KiB"
	[ "$kib" -lt "$NGLIAR_KIB" ] || fail "$n: peak memory $kib KiB"
}

# ng_lie_from NAME STATUS PATTERN MODE [VERSION]: copy --from a liard of
# a path of its own fails so, and nothing of it is imported
ng_lie_from() {
	local p
	p=$(fresh_path "liard-$4")
	ng_lie "$1" "$2" "$(printf '%s' "$3" | sed "s#@P@#$p#g")" \
	    copy --from "$(liard_uri "$4" ${5:-})" "$p"
	not_imported "$p"
}

# ng_lie_build NAME PATTERN HOW MODE [VERSION]: build step1 with builder 1
# through a liard, preferred: the lie (PATTERN) is said once, naming
# builder 1, the derivation moves (HOW: "disconnected", "broke the ...")
# and builder 2 builds it; what is here is builder 2's output
ng_lie_build() {
	local n=$1
	liard_via "$4" ${5:-}
	NIX_OFFLOAD_IO_TIMEOUT=30 run "$n" "$NO" build --builders "@$T/via" \
	    -A step1 --argstr nonce "$T-$n" "$SUITE"
	expect_rc 0
	expect_in "$T/$n.err" "^nix-offload: ssh-ng://$H1: $2"
	expect_in "$T/$n.err" "^nix-offload: warning: builder ssh-ng://$H1\\?[^ ]* $3; 1 derivation moved \\(step1\\)\$"
	[ "$(grep -c "^nix-offload: .*ssh-ng://$H1" "$T/$n.err")" = 2 ] ||
	    fail "$n: $(grep -c "^nix-offload: .*ssh-ng://$H1" "$T/$n.err") lines name builder 1, expected 2"
	expect_in "$T/$n.err" "^built step1 on ssh-ng://$H2 "
	[ "$(cat "$(cat "$T/$n.out")")" = 1 ] ||
	    fail "$n: the output here is not builder 2's: $(head -c 80 "$(cat "$T/$n.out")")"
	no_escapes "$T/$n.err"
}

# liard is honest but where its mode says: the same conversations with
# an honest liard succeed, at 1.38 and at 1.34 (no trust said), so that
# every failure below is the lie's
t_ngfault_honest() {
	run a "$NO" store-info "$(liard_uri honest)"
	expect_rc 0
	expect_in "$T/a.out" '^Protocol: 1\.38$'
	expect_in "$T/a.out" '^Version: 2\.99\.0-liard$'
	expect_in "$T/a.out" '^Trusted: 1$'
	run b "$NO" store-info "$(liard_uri honest 1.34)"
	expect_rc 0
	expect_in "$T/b.out" '^Protocol: 1\.34$'
	expect_not_in "$T/b.out" '^Trusted'
	for v in 1.38 1.34; do
		p=$(fresh_path "liard-honest-$v")
		run c$v "$NO" copy --from "$(liard_uri honest $v)" "$p"
		expect_rc 0
		[ "$(cat "$p")" = x ] || fail "$v: $p is not liard's file"
		nix-store --delete "$p" >/dev/null 2>&1 || fail "cannot delete $p"
		p=$(nix-store --add "$TOP/tests/data/build/suite.nix")
		run d$v "$NO" copy --to "$(liard_uri honest $v)" "$p"
		expect_rc 0
	done
}

# The handshake: a foreign greeting, protocols too old or of another
# major, a trust status out of range, lists and strings past their limits,
# an end in the middle.
t_ngfault_handshake() {
	ng_lie magic 8 "the remote does not speak Nix's daemon protocol: expected the magic number 0x6478696f, got \"\\\\xcb\\\\xeeRT\\\\x00" \
	    store-info "$(liard_uri magic)"
	ng_lie old 8 "the builder's nix-daemon is too old: it speaks protocol 1\\.33, nix-offload needs 1\\.34 \\(Nix 2\\.8\\) or newer" \
	    store-info "$(liard_uri old)"
	ng_lie major 8 "the builder's nix-daemon speaks protocol 2\\.38; nix-offload speaks 1\\.x\$" \
	    store-info "$(liard_uri major)"
	ng_lie trust 8 "during the daemon handshake: trust status 7, expected 0 to 2\$" \
	    store-info "$(liard_uri trust)"
	ng_lie features 8 "during the daemon handshake: a list of 1099511627776 items, over the limit of 64\$" \
	    store-info "$(liard_uri features)"
	ng_lie version 8 "during the daemon handshake: a string of 1099511627776 bytes, over the limit of 63\$" \
	    store-info "$(liard_uri version-long)"
	ng_lie eof 9 "during the daemon handshake: the connection closed" \
	    store-info "$(liard_uri eof-handshake)"
	# and in the JSON, what kind of failure it was
	run j "$NO" store-info --json "$(liard_uri trust)"
	expect_rc 8
	expect_in "$T/j.out" '"ok":false,"error":"ssh-ng://[^"]*: during the daemon handshake: trust status 7, expected 0 to 2","kind":"protocol"'
	# at 1.34 no trust status is sent, so none is read
	run k "$NO" store-info "$(liard_uri trust 1.34)"
	expect_rc 0
}

# The messages before a reply, at 1.38 and 1.34: tags, lengths, counts and
# field types the client does not know or allow.
t_ngfault_messages() {
	for v in 1.38 1.34; do
		ng_lie_from unknown$v 8 "asking for path infos: a message of unknown type 0x4c494152\$" msg-unknown $v
		ng_lie_from next$v 8 "asking for path infos: a string of 4611686018427387904 bytes, over the limit of 16777216\$" msg-next-huge $v
		ng_lie_from fields$v 8 "asking for path infos: 1099511627776 fields in a message, over the limit of 64\$" msg-fields $v
		ng_lie_from type$v 8 "asking for path infos: a message field of unknown type 7\$" msg-field-type $v
		ng_lie_from read$v 8 "asking for path infos: a message of unknown type 0x64617461\$" msg-read $v
	done
}

# The daemon's error is the builder's text: shown without its terminal
# escapes (title, screen clear, colours, carriage return), and on one
# line: the line it tries to start cannot pass for nix-offload's own.
t_ngfault_error_escapes() {
	ng_lie_from error 1 "asking for path infos: the builder's nix-daemon failed: path is \\?not valid" msg-error
	expect_not_in "$T/error.err" '^nix-offload: all is well'
}

# A build's log lines (STDERR_RESULT 101 and STDERR_NEXT) reach the
# terminal without their escapes, behind the derivation's name; the build
# and its fetch are otherwise honest (liard's output is a file "x").
t_ngfault_log_escapes() {
	for v in 1.38 1.34; do
		echo "ssh-ng://$H1?remote-program=$LIARD%20log-escapes%20$v x86_64-linux - 1 1 - - $K1" >"$T/spec"
		run a$v "$NO" build --builders "@$T/spec" -A step1 --argstr nonce "$T-$v" "$SUITE"
		expect_rc 0
		expect_in "$T/a$v.err" '^step1> log line red over$'
		expect_in "$T/a$v.err" '^step1> next line$'
		no_escapes "$T/a$v.err"
		[ "$(cat "$(cat "$T/a$v.out")")" = x ] || fail "$v: not liard's output"
	done
}

# Replies to QueryValidPaths (copy --to): a list past its limit, more
# paths valid than were asked about.
t_ngfault_valid() {
	p=$(nix-store --add "$TOP/tests/data/build/suite.nix")
	ng_lie count 8 "asking which of 1 paths are valid: a list of 1099511627776 items, over the limit of 1048576\$" \
	    copy --to "$(liard_uri valid-count)" "$p"
	ng_lie more 8 "asked about 1 paths, the daemon named 2 valid\$" \
	    copy --to "$(liard_uri valid-more)" "$p"
}

# Replies to QueryPathInfo (copy --from): validity out of range, a NAR
# hash that is not hex, references past their limit, a reference that is
# not a store path, a cut.  Nothing is imported.
t_ngfault_path_info() {
	ng_lie_from validity 8 "asking for the path info of @P@: validity 7, expected 0 or 1\$" info-validity
	ng_lie_from hash 8 "the daemon gave @P@ the NAR hash \"2ca0b8ce996f865db37619bfe91023559305aad8158042fc6ddb0ef1d43c5bzz\", not a SHA-256 in hex\$" info-hash
	ng_lie_from refs 8 "reading the path info of @P@: a list of 1099511627776 items, over the limit of 1048576\$" info-refs
	ng_lie_from junk 8 "the daemon named \"/etc/passwd\" in a closure, which is not a store path\$" closure-junk
	ng_lie_from cut 9 "reading the path info of @P@: the connection closed \\(remote exit 1\\)\$" cut
}

# NarFromPath: a valid NAR that is not the one announced, a NAR with an
# entry "..": not imported.
t_ngfault_nar() {
	ng_lie_from hash 8 "@P@ arrived with hash sha256:0rsv7kag23nvdpy4500mv2m0b4sm4c8fkgqrfsrmv1kgk77bi81c \\(120 bytes\\), but the builder said sha256:1d712nw4dcndx9pwb9xh5y6rh0map5kmw88hp5fqagzln4c92a4g \\(120 bytes\\): not imported\$" nar-hash
	ng_lie_from dotdot 8 "the contents of @P@ are not a valid NAR: .*invalid entry name \"\\.\\.\"" nar-dotdot
}

# A builder that lies about its build or what it built is a failed
# builder: the derivation moves to builder 2, whose output is the one here.
t_ngfault_build() {
	drv="building /nix/store/[^ ]*-step1\\.drv"
	broke="broke the daemon protocol"
	ng_lie_build status "$drv: unknown result status 99\$" "$broke" build-status
	ng_lie_build status134 "$drv: unknown result status 99\$" "$broke" build-status 1.34
	ng_lie_build cut "$drv: the connection closed \\(remote exit 1\\)\$" disconnected cut
	ng_lie_build hash "/nix/store/[^ ]*-step1 arrived with hash sha256:0rsv7kag23nvdpy4500mv2m0b4sm4c8fkgqrfsrmv1kgk77bi81c \\(120 bytes\\), but the builder said sha256:1d712nw4dcndx9pwb9xh5y6rh0map5kmw88hp5fqagzln4c92a4g \\(120 bytes\\): not imported\$" "$broke" nar-hash
	ng_lie_build junk "the builder gave \"/etc/passwd\" as a reference, which is not a store path: nothing imported\$" "$broke" closure-junk
}

# An untrusted user builds an input-addressed derivation from its .drv
# (BuildPathsWithResults), whose reply must hold one result, for it.
t_ngfault_build_results() {
	for m in build-results build-other; do
		liard_via $m
		NIX_OFFLOAD_IO_TIMEOUT=30 run $m "$NO" -v build --builders "@$T/via" \
		    -A step1 --argstr nonce "$T-$m" "$SUITE"
		expect_rc 0
		expect_in "$T/$m.err" "building /nix/store/[^ ]*-step1\\.drv with BuildPathsWithResults: the builder's user is not trusted"
		expect_in "$T/$m.err" "^nix-offload: warning: builder ssh-ng://$H1\\?[^ ]* broke the daemon protocol; 1 derivation moved \\(step1\\)\$"
		expect_in "$T/$m.err" "^built step1 on ssh-ng://$H2 "
		[ "$(cat "$(cat "$T/$m.out")")" = 1 ] || fail "$m: the output here is not builder 2's"
	done
	expect_in "$T/build-results.err" "^nix-offload: ssh-ng://$H1: building /nix/store/[^ ]*-step1\\.drv: 5 results for one derivation\$"
	expect_in "$T/build-other.err" "^nix-offload: ssh-ng://$H1: building /nix/store/[^ ]*-step1\\.drv: the result of a derivation that was not asked for\$"
}

# The daemon's refusal of a build, with escapes: the build fails (the
# builder said why), its words filtered, on one line.
t_ngfault_build_error() {
	echo "ssh-ng://$H1?remote-program=$LIARD%20msg-error x86_64-linux - 1 1 - - $K1" >"$T/spec"
	NIX_OFFLOAD_IO_TIMEOUT=30 run a "$NO" build --builders "@$T/spec" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 1
	expect_in "$T/a.err" "^nix-offload: ssh-ng://$H1(\\?[^ ]*)?: building /nix/store/[^ ]*-step1\\.drv: the builder's nix-daemon failed: path is \\?not valid"
	expect_not_in "$T/a.err" '^nix-offload: all is well'
	no_escapes "$T/a.err"
}

# The real daemon of a builder, through a wrapper ($T/cutd) that cuts
# the connection as tests/fake/cut does for nix-store --serve, or kills
# the daemon:
#   cutd in N      after N bytes have come in
#   cutd out N     after N bytes have gone out
#   cutd file F    when F appears, kill the sshd of the connection
#   cutd daemon F  when F appears, kill the daemon (SIGKILL)
cutd() {
	cat >"$T/cutd" <<'EOF'
#!/bin/bash
set -u
sshd=$$
while [ "$sshd" -gt 1 ] && [ "$(cat /proc/$sshd/comm)" != sshd ] &&
    [ "$(cat /proc/$sshd/comm)" != sshd-session ]; do
	sshd=$(sed 's/.*) //' /proc/$sshd/stat | cut -d' ' -f2)
done
[ "$sshd" -gt 1 ] || { echo "cutd: no sshd above $$" >&2; exit 1; }
# N bytes, each read passed on at once: dd's count=N counts reads, and
# the daemon protocol's are small (many messages before a NAR); head alone
# would hold its output back
pass() { stdbuf -o0 head -c "$1"; }
case $1 in
in)	{ pass "$2"; kill -KILL "$sshd"; } | nix-daemon --stdio ;;
out)	nix-daemon --stdio | { pass "$2"; kill -KILL "$sshd"; } ;;
file|daemon)
	nix-daemon --stdio <&0 &
	d=$!
	while kill -0 $d 2>/dev/null; do
		if [ -e "$2" ]; then
			[ "$1" = file ] && kill -KILL "$sshd" || kill -KILL $d
			break
		fi
		sleep 0.1
	done
	# bash's word on its killed child would pass for the builder's
	{ wait $d; } 2>/dev/null ;;
esac
EOF
	chmod +x "$T/cutd"
	echo "ssh-ng://$H1?remote-program=$T/cutd%20$1%20$2 x86_64-linux - 1 100 - - $K1
ssh-ng://$H2 x86_64-linux - 1 1 - - $K2" >"$T/via"
}

# A builder that is down: said once, the derivation goes to the other;
# store-info says it cannot reach it.
t_ngfault_dead_builder() {
	echo "ssh-ng://$DOWN x86_64-linux - 1 100 ; ssh-ng://$H2 x86_64-linux - 1 1 - - $K2" >"$T/spec"
	run a "$NO" build --builders "@$T/spec" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "^nix-offload: ssh-ng://$DOWN: cannot reach the builder: .*Connection refused"
	expect_in "$T/a.err" "^nix-offload: warning: builder ssh-ng://$DOWN is down; 1 derivation moved \\(step1\\)\$"
	expect_in "$T/a.err" "^built step1 on ssh-ng://$H2 "
	run b "$NO" store-info "ssh-ng://$DOWN"
	expect_rc 3
	expect_lines "$T/b.err" 1
	expect_in "$T/b.err" "^nix-offload: ssh-ng://$DOWN: cannot reach the builder: "
}

# The builder goes while its daemon builds: said once, built elsewhere.
t_ngfault_cut_mid_build() {
	cutd file "$T/cutnow"
	"$NO" build -j 1 --builders "@$T/via" -A cutme --argstr nonce "$T" \
	    "$SUITE" >"$T/a.out" 2>"$T/a.err" &
	pid=$!
	wait_for "$T/a.err" "^cutme> started" 30 || fail "the build did not start"
	touch "$T/cutnow"
	wait $pid
	RC=$? expect_rc 0
	expect_in "$T/a.err" "^nix-offload: ssh-ng://$H1: building /nix/store/[^ ]*-cutme\\.drv: the connection to the builder was lost \\(ssh exit 255\\)\$"
	expect_in "$T/a.err" "^nix-offload: warning: builder ssh-ng://$H1\\?[^ ]* disconnected; 1 derivation moved \\(cutme\\)\$"
	[ "$(grep -c "^nix-offload: .*ssh-ng://$H1" "$T/a.err")" = 2 ] ||
	    fail "$(grep -c "^nix-offload: .*ssh-ng://$H1" "$T/a.err") lines name builder 1, expected 2"
	expect_in "$T/a.err" "^built cutme on ssh-ng://$H2 "
	[ "$(grep -c '^cutme> started' "$T/a.err")" = 2 ] || fail "not started twice"
	verify_stores
}

# The daemon dies while it builds (the link stays): said once, with its
# exit, built elsewhere.
t_ngfault_daemon_killed() {
	cutd daemon "$T/killnow"
	"$NO" build -j 1 --builders "@$T/via" -A cutme --argstr nonce "$T" \
	    "$SUITE" >"$T/a.out" 2>"$T/a.err" &
	pid=$!
	wait_for "$T/a.err" "^cutme> started" 30 || fail "the build did not start"
	touch "$T/killnow"
	wait $pid
	RC=$? expect_rc 0
	expect_in "$T/a.err" "^nix-offload: ssh-ng://$H1: building /nix/store/[^ ]*-cutme\\.drv: the connection closed \\(remote exit 137\\)(: started)?\$"
	expect_in "$T/a.err" "^nix-offload: warning: builder ssh-ng://$H1\\?[^ ]* disconnected; 1 derivation moved \\(cutme\\)\$"
	expect_in "$T/a.err" "^built cutme on ssh-ng://$H2 "
	verify_stores
}

# The output is cut 1 MiB into its 8 MiB on its way home: nothing of it
# is registered here, and what is here is builder 2's.
t_ngfault_cut_mid_fetch() {
	cutd out 1048576
	run a "$NO" build --builders "@$T/via" -A bigout --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "^nix-offload: ssh-ng://$H1: reading the contents of /nix/store/[^ ]*-bigout: the connection to the builder was lost"
	expect_in "$T/a.err" "^nix-offload: warning: builder ssh-ng://$H1\\?[^ ]* disconnected; 1 derivation moved \\(bigout\\)\$"
	out=$(cat "$T/a.out")
	[ "$(nix-store -q --hash "$out")" = "$(builder_ssh 2 nix-store -q --hash "$out")" ] ||
	    fail "the output here is not builder 2's"
	[ "$(nix-store -q --hash "$out")" != "$(builder_ssh 1 nix-store -q --hash "$out")" ] ||
	    fail "builder 1 built the same bytes: the test proves nothing"
	verify_stores
}

# copy --to, cut 1 MiB into 8: one line naming the builder, nothing
# registered there, and the next copy succeeds.
t_ngfault_cut_copy_to() {
	head -c 8388608 /dev/urandom >"$T/bigfile"
	p=$(nix-store --add "$T/bigfile")
	cutd in 1048576
	run a "$NO" copy --to "ssh-ng://$H1?remote-program=$T/cutd%20in%201048576&base64-ssh-public-host-key=$K1" "$p"
	expect_rc 9
	expect_lines "$T/a.err" 1
	expect_in "$T/a.err" "^nix-offload: ssh-ng://$H1: sending (a path|$p): the connection to the builder was lost"
	on_builder 1 "$p" && fail "the cut copy is valid on builder 1"
	verify_stores
	run b "$NO" copy --to "ssh-ng://$H1?base64-ssh-public-host-key=$K1" "$p"
	expect_rc 0
	on_builder 1 "$p" || fail "the copy after the cut failed"
}

# SIGTERM while a daemon builds: out within seconds, and the daemon's
# build stops with the session.
t_ngfault_cancel() {
	echo "ssh-ng://$H1 x86_64-linux - 1 1 - - $K1" >"$T/spec"
	"$NO" build --builders "@$T/spec" -A cancel --argstr nonce "$T" \
	    "$SUITE" >"$T/a.out" 2>"$T/a.err" &
	pid=$!
	wait_for "$T/a.err" "^cancel> started" 30 || fail "the build did not start"
	pgrep -f '/bin/sleep 47' >/dev/null || fail "no builder process to stop"
	t0=$(ms)
	kill -TERM $pid
	wait $pid
	rc=$?
	[ $rc = 143 ] || fail "exit status $rc, expected 143"
	[ $(($(ms) - t0)) -lt 3000 ] || fail "took $(($(ms) - t0)) ms to stop"
	for i in $(seq 100); do
		pgrep -f '/bin/sleep 47' >/dev/null || break
		sleep 0.1
	done
	pgrep -f '/bin/sleep 47' >/dev/null && fail "the remote build still runs"
	return 0
}

# Every protocol version from 1.34 to 1.38, so that each of the client's
# version gates (trust at 1.35, CPU times at 1.37, features at 1.38) is
# met at its boundary: store-info, copy --from and --to, and a build
# against an honest liard of that version.
t_ngfault_versions() {
	for m in 34 35 36 37 38; do
		v=1.$m
		run i$m "$NO" store-info "$(liard_uri honest $v)"
		expect_rc 0
		expect_in "$T/i$m.out" "^Protocol: 1\\.$m\$"
		if [ $m -ge 35 ]; then
			expect_in "$T/i$m.out" '^Trusted: 1$'
		else
			expect_not_in "$T/i$m.out" '^Trusted'
		fi
		p=$(fresh_path "liard-versions-$v")
		NIX_OFFLOAD_IO_TIMEOUT=30 run f$m timeout -k 5 60 "$NO" copy --from "$(liard_uri honest $v)" "$p"
		expect_rc 0
		[ "$(cat "$p")" = x ] || fail "$v: $p is not liard's file"
		p=$(nix-store --add "$TOP/tests/data/build/suite.nix")
		NIX_OFFLOAD_IO_TIMEOUT=30 run t$m timeout -k 5 60 "$NO" copy --to "$(liard_uri honest $v)" "$p"
		expect_rc 0
		echo "ssh-ng://$H1?remote-program=$LIARD%20honest%20$v x86_64-linux - 1 1 - - $K1" >"$T/spec"
		NIX_OFFLOAD_IO_TIMEOUT=30 run b$m timeout -k 5 60 "$NO" build --builders "@$T/spec" \
		    -A step1 --argstr nonce "$T-$v" "$SUITE"
		expect_rc 0
		expect_in "$T/b$m.err" "^built step1 on ssh-ng://$H1"
		[ "$(cat "$(cat "$T/b$m.out")")" = x ] || fail "$v: the build's output is not liard's"
	done
}
