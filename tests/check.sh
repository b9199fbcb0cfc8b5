# nix-offload check: every builder probed in parallel, with a write round
# trip, against the real builders of the test bed.

# one good builder, one with the wrong pinned key, one down, one a binary
# cache
mixed_spec() {
	echo "ssh://$H1 x86_64-linux - 2 1 big-parallel - $K1 ;" \
	    "ssh://$H2 x86_64-linux,i686-linux - 1 1 - - $K1 ;" \
	    "ssh://$DOWN x86_64-linux ; file:///nix/cache x86_64-linux"
}

t_check_mixed() {
	run a "$NO" check --builders "$(mixed_spec)"
	expect_rc 1
	expect_in "$T/a.out" '^BUILDER +STATUS +RTT +PROTO +NIX +SYSTEMS +FEATURES +DISK +LOAD$'
	expect_in "$T/a.out" "^ssh://$H1 +up +[0-9]+ms +2\\.7 +$BV1RE +x86_64-linux +big-parallel +[0-9.]+G +[0-9.]+/[0-9]+$"
	expect_in "$T/a.out" "^ssh://$H2 +down +- +- +- +x86_64-linux,i686-linux "
	expect_in "$T/a.out" "^  nix-offload: ssh://$H2: the builder's host key is not the pinned one|^  ssh://$H2: the builder's host key is not the pinned one"
	expect_in "$T/a.out" "^ssh://$DOWN +down "
	expect_in "$T/a.out" "ssh://$DOWN: cannot reach the builder: .*Connection refused"
	expect_in "$T/a.out" "^file:///nix/cache +skipped "
	expect_in "$T/a.out" '^1 of 3 usable builders up$'
}

t_check_json() {
	run a "$NO" check --json --builders "$(mixed_spec)"
	expect_rc 1
	expect_lines "$T/a.out" 1
	expect_in "$T/a.out" "^\\[\\{\"uri\":\"ssh://$H1\",\"usable\":true,\"ok\":true,\"latencyMs\":[0-9]+,\"protocol\":\"2\\.7\",\"remoteProtocol\":\"2\\.7\",\"writable\":true,\"version\":\"$BV1RE\",\"diskFreeBytes\":[0-9]+,\"load\":[0-9.]+,\"cpus\":[0-9]+,\"nativeSystem\":\"x86_64-linux\",\"slotsByOthers\":0,\"systems\":\\[\"x86_64-linux\"\\],\"supportedFeatures\":\\[\"big-parallel\"\\],\"mandatoryFeatures\":\\[\\]\\}"
	expect_in "$T/a.out" "\\{\"uri\":\"ssh://$H2\",\"usable\":true,\"ok\":false,\"error\":\"[^\"]*not the pinned one[^\"]*\",\"kind\":\"hostkey\""
	expect_in "$T/a.out" "\\{\"uri\":\"ssh://$DOWN\",\"usable\":true,\"ok\":false,\"error\":\"[^\"]*Connection refused[^\"]*\",\"kind\":\"unreachable\""
	expect_in "$T/a.out" "\\{\"uri\":\"file:///nix/cache\",\"usable\":false,\"ok\":false,\"error\":"
}

t_check_all_up() {
	run a "$NO" check --builders "ssh://$H1 - - - - - - $K1
ssh://$H2 - - - - - - $K2"
	expect_rc 0
	expect_in "$T/a.out" '^2 of 2 usable builders up$'
	# the probe wrote a path and the builder registered it, valid
	p=$(ls -d "$TB"/host1/nix/store/*-nix-offload-check | tail -1)
	[ -n "$p" ] || fail "no test path in host1's store"
	builder_ssh 1 nix-store --verify-path "/nix/store/$(basename "$p")" ||
	    fail "not valid on the builder"
	# a second check reuses the masters: the same two sockets, the same
	# master processes (other tests' connections do not count)
	masters >"$T/before"
	[ "$(wc -l <"$T/before")" = 2 ] || fail "expected 2 masters: $(cat "$T/before")"
	run b "$NO" check --builders "ssh://$H1 - - - - - - $K1
ssh://$H2 - - - - - - $K2"
	expect_rc 0
	masters >"$T/after"
	cmp -s "$T/before" "$T/after" || fail "the second check made new masters"
}

# masters: our control sockets (inode) and their ssh masters (pid)
masters() {
	for s in "$NIX_OFFLOAD_RUNTIME_DIR"/*; do
		[ -S "$s" ] || continue
		case $s in *.lease) continue ;; esac	# a lease broker's
		echo "$(stat -c %i "$s") $(pgrep -f -- "-oControlPath=$s( |\$)" | sort | head -1)"
	done | sort
}

# overlap A B SECONDS: did connections to A:22 and to B:22 stand at the
# same moment, sampled every 0.1 s for SECONDS?  (prints yes or no)  Both
# from one listing: two, one after the other, can see the first probe
# just before it ends and the next just after it starts.
overlap() {
	local i seen=no out
	for i in $(seq $(($3 * 10))); do
		out=$(ss -Htn state established "( dst $1:22 or dst $2:22 )")
		echo "$out" | grep -qF " $1:22" && echo "$out" | grep -qF " $2:22" &&
		    { seen=yes; break; }
		sleep 0.1
	done
	echo $seen
}

# Two builders that never answer cost one connect timeout, not two.
t_check_parallel_timeouts() {
	"$TOP/tests/silentd" $SILENT1 22 &
	p1=$!
	"$TOP/tests/silentd" $SILENT2 22 &
	p2=$!
	wait_until 10 listening $SILENT1 && wait_until 10 listening $SILENT2 ||
	    fail "the silent builders never listened"
	overlap $SILENT1 $SILENT2 3 >"$T/overlap" &
	t0=$(ms)
	NIX_OFFLOAD_CONNECT_TIMEOUT=2 run a "$NO" check --builders \
	    "ssh://$SILENT1 ; ssh://$SILENT2 ; ssh://$H1 - - - - - - $K1"
	t=$(($(ms) - t0))
	wait $!
	kill $p1 $p2
	expect_rc 1
	expect_in "$T/a.out" '^1 of 3 usable builders up$'
	[ "$(grep -c 'timed out' "$T/a.out")" -eq 2 ] || fail "expected two timeouts"
	# both silent builders were being probed at the same moment
	[ "$(cat "$T/overlap")" = yes ] || fail "the probes never overlapped"
	[ $t -lt 4500 ] || fail "took $t ms: probes did not run in parallel"
	# -j 1 runs them one after the other
	"$TOP/tests/silentd" $SILENT1 22 &
	p1=$!
	"$TOP/tests/silentd" $SILENT2 22 &
	p2=$!
	wait_until 10 listening $SILENT1 && wait_until 10 listening $SILENT2 ||
	    fail "the silent builders never listened"
	overlap $SILENT1 $SILENT2 5 >"$T/overlap" &
	t0=$(ms)
	NIX_OFFLOAD_CONNECT_TIMEOUT=2 run b "$NO" check -j 1 --builders \
	    "ssh://$SILENT1 ; ssh://$SILENT2"
	t=$(($(ms) - t0))
	wait $!
	kill $p1 $p2
	[ "$(cat "$T/overlap")" = no ] || fail "-j 1 probed both at once"
	[ $t -ge 3800 ] || fail "-j 1 took only $t ms"
}

t_check_no_builders() {
	run a "$NO" check --builders ""
	expect_rc 0
	expect_in "$T/a.out" '^no builders configured'
}

t_check_bad_config() {
	run a "$NO" check --builders "ssh://$H1 x86_64-linux - zero"
	expect_rc 2
	expect_in "$T/a.err" '^nix-offload: --builders'
	[ -s "$T/a.out" ] && fail "printed a table for a bad configuration"
	return 0
}

# What a builder says (tests/fake/version: a Nix version with quotes, JSON
# and terminal escapes, and a line taken for the load) reaches the table
# escaped, and --json as strings and numbers: exactly the keys of a
# builder that is up, no escape byte anywhere.
t_check_hostile_builder() {
	spec="ssh://$H1?remote-program=$TOP/tests/fake/version x86_64-linux - 1 1 - - $K1"
	run a "$NO" check --builders "$spec"
	expect_rc 0
	[ "$(grep -c $'\033' "$T/a.out")" = 0 ] || fail "an escape reached the table"
	grep -qF ' 2.8.0"},"evil":1,"x":"\x1b]0;title\x07\x1b[2J ' "$T/a.out" ||
	    fail "the version is not shown escaped"
	expect_in "$T/a.out" "^ssh://$H1\\?[^ ]* +up .* [0-9]+\\.[0-9]{2}/[0-9]+\$"
	expect_in "$T/a.out" '^1 of 1 usable builders up$'
	run b "$NO" check --json --builders "$spec"
	expect_rc 0
	[ "$(grep -c $'\033' "$T/b.out")" = 0 ] || fail "an escape reached --json"
	python3 - "$T/b.out" >"$T/b.py" 2>&1 <<'PY' || fail "check --json: $(tail -1 "$T/b.py")"
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, list) and len(d) == 1, d
b = d[0]
want = {"uri", "usable", "ok", "latencyMs", "protocol", "remoteProtocol",
        "writable", "version", "diskFreeBytes", "load", "cpus", "nativeSystem", "slotsByOthers",
        "systems", "supportedFeatures", "mandatoryFeatures"}
assert set(b) == want, "keys differ: %s" % sorted(set(b) ^ want)
assert b["ok"] is True, b
assert b["version"] == '2.8.0"},"evil":1,"x":"\x1b]0;title\x07\x1b[2J', b["version"]
for k in ("load", "diskFreeBytes", "cpus"):
    assert b[k] is None or type(b[k]) in (int, float), (k, b[k])
PY
}

# A builder declared for a system it does not run (uname): said, with
# what to do; one declared for its own, and another too, is not.
t_check_native_system() {
	echo "ssh://$H1 aarch64-linux - 1 1 - - $K1
ssh://$H2 x86_64-linux,i686-linux - 1 1 - - $K2" >"$T/spec"
	run a "$NO" check --builders "@$T/spec"
	expect_rc 0
	expect_lines_matching "$T/a.err" "declares" 1
	expect_in "$T/a.err" "^nix-offload: warning: ssh://$H1 \\([^)]*\\) declares aarch64-linux, but runs x86_64-linux: .*add x86_64-linux to its systems"
	run b "$NO" check --json --builders "@$T/spec"
	expect_in "$T/b.out" '"nativeSystem":"x86_64-linux"'
}

# Nix's own hook in use, silently: check says so; with ours named, not.
t_check_no_hook() {
	both
	run a "$NO" check --builders "@$T/both"
	expect_rc 0
	expect_in "$T/a.err" "^nix-offload: warning: the configuration sets no build-hook: Nix's builds go to the builders through Nix's own hook"
	hook_install
	run b env NIX_CONFIG="build-hook = $HOOK" "$NO" check --builders "@$T/both"
	expect_rc 0
	expect_not_in "$T/b.err" "build-hook"
}
