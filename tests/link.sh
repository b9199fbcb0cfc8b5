# Builders behind real links: scripts/relay between ssh and a builder's
# sshd adds a delay and a rate cap each way (profiles lan, wan, far), or
# goes silent.  What is asserted is behaviour (work spread, nothing lost,
# round trips counted, a frozen link noticed within its bound), never
# how fast: timings are scripts/bench's.

RELAY=$TOP/scripts/relay

# link I PROFILE [RELAY OPTION...]: builder I behind a relay of PROFILE on
# 127.0.1.x:22 (x as the builder's own address), which R<I> names; the
# relay's byte counts in $T/relay<I>.stats.  Killed when the test ends.
link() {
	local i=$1 p=$2 h a k
	shift 2
	eval "h=\$H$i"
	a=127.0.1.${h##*.}
	[ -f "$T/relays" ] || trap 'kill $(cat "$T/relays") 2>/dev/null' EXIT
	python3 "$RELAY" --profile "$p" --stats "$T/relay$i.stats" "$@" \
	    "$a:22" "$h:22" 2>>"$T/relay$i.log" &
	echo $! >>"$T/relays"
	for k in $(seq 100); do
		(exec 3<>"/dev/tcp/$a/22") 2>/dev/null && break
		sleep 0.05
	done
	(exec 3<>"/dev/tcp/$a/22") 2>/dev/null || fail "relay $i did not listen"
	eval "R$i=\$a"
}

# linked_machines P1 P2: both builders behind links, written to $T/m
linked_machines() {
	link 1 "$1"
	link 2 "$2"
	echo "ssh://$R1 x86_64-linux - 4 1 - - $K1
ssh://$R2 x86_64-linux - 4 1 - - $K2" >"$T/m"
}

# A build over two WAN links: every output here, the leaves spread over
# both builders, at most 4 round trips a derivation (Nix's hook: 6 to 8).
t_link_wan_build() {
	linked_machines wan wan
	run a "$NO" -v build -j 8 --builders "@$T/m" -A fan --argstr nonce "$T" "$SUITE"
	expect_rc 0
	nix-store --verify-path "$(cat "$T/a.out")" || fail "not built"
	expect_in "$T/a.err" "^built leaf-[0-9] on ssh://$R1 "
	expect_in "$T/a.err" "^built leaf-[0-9] on ssh://$R2 "
	rt=$(sed -n 's/.*: \([0-9]*\) round trips with builders.*for 9 derivations.*/\1/p' "$T/a.err")
	[ -n "$rt" ] || fail "no round trips said"
	# a connection's handshake is one; each derivation at most 3 more
	[ "$rt" -le $((9 * 3 + 2 * 4)) ] || fail "$rt round trips for 9 derivations"
	# the relays passed it: bytes went both ways through each
	for i in 1 2; do
		grep -q '^down [1-9]' "$T/relay$i.stats" || fail "nothing came through relay $i"
	done
}

# The hook over a far link, for a chain: each step's input comes from the
# previous one, built there; Nix gets every output.
t_link_far_hook() {
	hook_install
	link 1 far
	echo "ssh://$R1 x86_64-linux - 1 1 - - $K1" >"$T/m"
	run a nb --builders "@$T/m" -A step3 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	[ "$(cat "$(cat "$T/a.out")")" = 3 ] || fail "wrong output"
	[ "$(grep -c "^building '.*' on 'ssh://$R1'" "$T/a.err")" = 3 ] ||
	    fail "not every step was built through the link"
}

# frozen NAME PROFILE ATTR [ARGS...] -- RELAY OPTIONS: builder 1 (preferred)
# behind a link that freezes as RELAY OPTIONS say, builder 2 plain; the
# build of ATTR ends well on builder 2, within the bound: 5 keepalives of
# NIX_OFFLOAD_ALIVE_INTERVAL (1 s here), plus the build's own time
frozen() {
	local n=$1 p=$2 a=$3 t0 args=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	link 1 "$p" "$@"
	echo "ssh://$R1 x86_64-linux - 1 100 - - $K1
ssh://$H2 x86_64-linux - 1 1 - - $K2" >"$T/m"
	t0=$(ms)
	# a runtime directory of its own: builder 1 is not yet known lost
	NIX_OFFLOAD_RUNTIME_DIR=$T/ctl-$n NIX_OFFLOAD_ALIVE_INTERVAL=1 \
	    run "$n" "$NO" build -j 1 --builders "@$T/m" \
	    -A "$a" "${args[@]}" --argstr nonce "$T-$n" "$SUITE"
	echo "$n: $(($(ms) - t0)) ms"
	expect_rc 0
	[ -e "$T/relay1.stats" ] || fail "$n: nothing passed relay 1"
	expect_in "$T/$n.err" "^nix-offload: ssh://$R1: .*(lost|closed|ended|no answer)"
	expect_in "$T/$n.err" "^nix-offload: warning: builder ssh://$R1 [a-z ]*; 1 derivation moved \\($a\\)\$"
	expect_in "$T/$n.err" "^built $a on ssh://$H2 "
	nix-store --verify-path "$(cat "$T/$n.out")" || fail "$n: not built"
	[ $(($(ms) - t0)) -lt 40000 ] || fail "$n: took $(($(ms) - t0)) ms"
}

# The link freezes 1 MiB into an 8 MiB input.
t_link_frozen_mid_upload() {
	head -c 8388608 /dev/urandom >"$T/bigfile"
	frozen up wan big --arg bigfile "$T/bigfile" -- --freeze-up 1048576
	grep -q '^up 1[0-9]\{6\}$' "$T/relay1.stats" ||
	    fail "the freeze was not 1 MiB in: $(cat "$T/relay1.stats")"
}

# The link freezes while the builder builds, on every profile.
t_link_frozen_mid_build() {
	local p
	for p in lan wan far; do
		rm -f "$T/freeze-$p"
		(
			for i in $(seq 300); do
				grep -q '^cutme> started' "$T/$p.err" 2>/dev/null && break
				sleep 0.1
			done
			touch "$T/freeze-$p"
		) &
		frozen $p $p cutme -- --freeze-file "$T/freeze-$p"
		expect_in "$T/$p.err" "^cutme> started"
		# gone, and its address free, before the next one starts
		kill "$(tail -1 "$T/relays")" 2>/dev/null
		wait "$(tail -1 "$T/relays")" 2>/dev/null || :
	done
}

# The link freezes 1 MiB into an 8 MiB output on its way back.
t_link_frozen_mid_fetch() {
	frozen down wan bigout -- --freeze-down 1048576
	on_builder 1 "$(cat "$T/down.out")" ||
	    fail "builder 1 had not built it: the freeze was not mid-fetch"
}

# The documented bound, with nothing set: a link frozen mid-build is
# declared lost within 30 s (5 keepalives 5 s apart, and the build's own
# time), the derivation built on builder 2.
t_link_frozen_default_bound() {
	link 1 wan --freeze-file "$T/freeze"
	echo "ssh://$R1 x86_64-linux - 1 100 - - $K1
ssh://$H2 x86_64-linux - 1 1 - - $K2" >"$T/m"
	"$NO" build -j 1 --builders "@$T/m" -A cutme --argstr nonce "$T" \
	    "$SUITE" >"$T/a.out" 2>"$T/a.err" &
	pid=$!
	wait_for "$T/a.err" "^cutme> started" 30 || fail "the build did not start"
	touch "$T/freeze"
	t0=$(ms)
	wait $pid
	RC=$? expect_rc 0
	echo "done $(($(ms) - t0)) ms after the freeze"
	[ $(($(ms) - t0)) -lt 36000 ] || fail "took $(($(ms) - t0)) ms"
	expect_in "$T/a.err" "^nix-offload: warning: builder ssh://$R1 [a-z ]*; 1 derivation moved \\(cutme\\)\$"
	expect_in "$T/a.err" "^built cutme on ssh://$H2 "
}

# up_bytes I: bytes that went towards builder I through its relay so far
up_bytes() {
	sed -n 's/^up //p' "$T/relay$1.stats"
}

# copy_through NAME URI PATH: copy --to at -v, and the bytes it sent
# through relay 1 into $SENT
copy_through() {
	local b0
	b0=$(up_bytes 1 2>/dev/null || echo 0)
	run "$1" "$NO" -v copy --to "$2" "$3"
	expect_rc 0
	SENT=$(($(up_bytes 1) - b0))
	echo "$1: $SENT bytes through the relay"
}

# Compression by the link: the first copy over a WAN link measures it and
# goes as it is; the next connection compresses (6 MiB of binaries cross
# in less than half); over a LAN link nothing is compressed; compress=
# in the URI overrides both.  (Through the relay's "lan" profile the
# rate is the relay's, near the limit: the fast link is loopback.)
t_link_compress_auto() {
	local size=6291456 p q r
	for f in a b c d e f; do
		mkdir -p "$T/bin-$f"
		cat /usr/bin/* 2>/dev/null | head -c $size >"$T/bin-$f/blob"
		echo "$f" >>"$T/bin-$f/blob"
	done
	p=$(nix-store --add "$T/bin-a") q=$(nix-store --add "$T/bin-b")
	link 1 wan
	u="ssh://$R1?base64-ssh-public-host-key=$K1"
	copy_through a "$u" "$p"
	[ "$SENT" -gt $size ] || fail "the first copy sent $SENT bytes, less than its NAR"
	expect_in "$T/a.err" "^nix-offload: ssh://$R1: its link measured at [0-9.]* Mbit/s .*: compressed from the next connection on"
	copy_through b "$u" "$q"
	[ "$SENT" -lt $((size / 2)) ] || fail "the second copy sent $SENT bytes of $size"
	expect_in "$T/b.err" "compressed: its link was measured below 100 Mbit/s"
	r=$(nix-store --add "$T/bin-c")
	copy_through c "ssh://$R1?compress=false&base64-ssh-public-host-key=$K1" "$r"
	[ "$SENT" -gt $size ] || fail "compress=false sent $SENT bytes, less than its NAR"
	# why: what the inputs weigh, and their time over the measured link
	cat >"$T/weigh.nix" <<-EOF
	derivation { name = "weigh"; system = "x86_64-linux"; builder = "/bin/sh";
	  args = [ "-c" "/bin/cat \${builtins.storePath "$p"}/blob > \$out" ]; }
	EOF
	echo "ssh://$R1 x86_64-linux - 1 1 - - $K1" >"$T/weigh"
	run w "$NO" why --builders "@$T/weigh" "$T/weigh.nix"
	expect_rc 0
	expect_in "$T/w.out" "^  inputs: 6\.[0-9] MB in 1 path here; sending them all: ssh://$R1 ~[0-9.]+ s at [0-9.]+ Mbit/s \(measured\)$"
	run j "$NO" why --json --builders "@$T/weigh" "$T/weigh.nix"
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))[0]
b = d["builders"][0]
assert d["inputBytes"] > 6000000 and d["inputPaths"] == 1, d
assert b["linkMeasured"] is True and 0 < b["linkKbps"] < 100000, b
assert abs(b["sendSeconds"] - d["inputBytes"] * 8 / 1000 / b["linkKbps"]) < 0.01, b' \
	    "$T/j.out" || fail "why --json: $(cat "$T/j.out")"
	# a fast link (loopback, no relay): measured, and left alone
	export NIX_OFFLOAD_RUNTIME_DIR=$T/ctl-fast
	p=$(nix-store --add "$T/bin-d") q=$(nix-store --add "$T/bin-e")
	run d "$NO" -v copy --to "$U1" "$p"
	expect_rc 0
	expect_in "$T/d.err" "its link measured at"
	expect_not_in "$T/d.err" "compressed"
	run e "$NO" -vv copy --to "$U1" "$q"
	expect_rc 0
	expect_not_in "$T/e.err" "compressed"
	expect_not_in "$T/e.err" " -C "
	# compress=true: compressed whatever the link
	r=$(nix-store --add "$T/bin-f")
	copy_through f "ssh://$R1?compress=true&base64-ssh-public-host-key=$K1" "$r"
	[ "$SENT" -lt $((size / 2)) ] || fail "compress=true sent $SENT bytes of $size"
}
