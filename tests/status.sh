# What runs where and why: status, why, one line per problem, a builder
# that was down tried again by a person's build, the live line.

# building_on_both FILE: status --json, written to FILE, shows at least 4
# slots building, on both builders
building_on_both() {
	"$NO" status --json >"$1" 2>"${1%.out}.err" || return 1
	python3 - "$1" "$H1" "$H2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
on = [b["uri"] for b in d["builders"] for s in b["slots"]
      if s["state"] == "building"]
sys.exit(0 if len(on) >= 4 and set(on) >= {"ssh://" + sys.argv[2],
                                           "ssh://" + sys.argv[3]} else 1)
EOF
}

# status, from a second process, while a build of slow derivations runs:
# every one listed, on the builder it runs on, and the run itself; from
# the runtime directory alone (no --builders: the slots say whose they
# are).  After the run, nothing.
t_status_running() {
	both
	"$NO" build --builders "@$T/both" -A slowfan --argstr nonce "$T" \
	    "$SUITE" >"$T/b.out" 2>"$T/b.err" &
	pid=$!
	wait_for "$T/b.err" "^building slow-" 30 || fail "the build did not start"
	# until the notes say building on both builders (a busy machine takes
	# its time to connect): a condition, bounded, not a guess of how long
	wait_until 30 building_on_both "$T/s.out" ||
	    fail "not building on both builders: $(cat "$T/s.out" "$T/s.err")"
	run t "$NO" status --builders "@$T/both"
	expect_rc 0
	wait $pid || fail "the build failed: $(tail -3 "$T/b.err")"
	python3 - "$T/s.out" "$pid" "$H1" "$H2" <<'EOF' || fail "status --json: $(cat "$T/s.out")"
import json, os, sys
d = json.load(open(sys.argv[1]))
pid, h = int(sys.argv[2]), {"ssh://" + sys.argv[3], "ssh://" + sys.argv[4]}
building = [(b["uri"], s) for b in d["builders"] for s in b["slots"]
            if s["state"] == "building"]
assert len(building) >= 4, building
for uri, s in building:
    assert uri in h, uri
    assert s["name"].startswith("slow-"), s
    assert s["drvPath"].endswith("-" + s["name"] + ".drv"), s
assert {uri for uri, s in building} == h, "not on both builders"
runs = [r for r in d["runs"] if r["pid"] == pid]
assert len(runs) == 1, d["runs"]
assert runs[0]["total"] == 9 and runs[0]["running"] >= 4, runs
assert runs[0]["slowest"]["name"].startswith("slow-"), runs
EOF
	expect_in "$T/t.out" "^ssh://$H1: [1-4] of 4 slots in use"
	expect_in "$T/t.out" "^  slot [1-4]: building slow-[0-7], for [0-9]+ s \\(since [0-9:]+\\), pid [0-9]+$"
	expect_in "$T/t.out" "^  pid $pid: [0-9] of 9 built, [0-9] running, [0-9] queued, "
	run e "$NO" status --json --builders "@$T/both"
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert all(b["inUse"] == 0 and b["free"] == 4 for b in d["builders"]), d
assert d["runs"] == [], d' "$T/e.out" || fail "left in use: $(cat "$T/e.out")"
}

# status shows a builder that is down, until when and why, and --watch
# redraws (plain snapshots when not on a terminal, until a signal).
drawn_twice() {
	[ "$(grep -c "^ssh://$DOWN: " "$1")" -ge 2 ]
}

t_status_down_and_watch() {
	echo "ssh://$DOWN x86_64-linux" >"$T/spec"
	run a "$NO" build --builders "@$T/spec" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 1
	run s "$NO" status --builders "@$T/spec"
	expect_in "$T/s.out" "^ssh://$DOWN: 0 of 1 slot in use$"
	expect_in "$T/s.out" "^  down until [0-9:]+ \\([0-9]+ s more\\) after 1 failure in a row: .*Connection refused"
	run j "$NO" status --json --builders "@$T/spec"
	expect_in "$T/j.out" "\"health\":\\{\"failures\":1,\"until\":[0-9]+,\"downSeconds\":[0-9]+,\"reason\":\"[^\"]*Connection refused"
	"$NO" status --watch --builders "@$T/spec" >"$T/w.out" 2>"$T/w.err" &
	wait_until 10 drawn_twice "$T/w.out"
	kill -INT $!
	wait $! || fail "status --watch ended with $? on SIGINT"
	n=$(grep -c "^ssh://$DOWN: " "$T/w.out")
	[ "$n" -ge 2 ] || fail "status --watch drew $n times in 10 s"
}

# why: for a derivation needing feature h2, one line per builder: the
# feature it lacks, the wrong system, a mandatory feature, down and until
# when; and the one a build would take.  Nix's own hook, on the builders
# that do not fit, finds none either.
t_why() {
	cat >"$T/none" <<EOF
ssh://$H1 x86_64-linux - 1 1 - - $K1
ssh://$H2 aarch64-linux - 1 1 h2 - $K2
ssh://root@$H2 x86_64-linux - 1 1 h2,big big $K2
EOF
	{ cat "$T/none"; echo "ssh://root@$H1 x86_64-linux - 2 1 h2 - $K1"; } >"$T/spec"
	run a "$NO" why --builders "@$T/spec" -A h2 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/a.out" "^h2 \\(/nix/store/[a-z0-9]{32}-h2\\.drv\\): system x86_64-linux, features h2$"
	expect_in "$T/a.out" "^  ssh://$H1: no: it does not support the required feature h2$"
	expect_in "$T/a.out" "^  ssh://$H2: no: system x86_64-linux is not one of its systems \\(aarch64-linux\\)$"
	expect_in "$T/a.out" "^  ssh://root@$H2: no: it only takes derivations that require big \\(a mandatory feature\\)$"
	expect_in "$T/a.out" "^  ssh://root@$H1: yes: fits, 2 of 2 slots free$"
	expect_in "$T/a.out" "^  a build now would take ssh://root@$H1$"
	expect_in "$T/a.out" "^  inputs: none here to send$"
	expect_lines "$T/a.out" 7
	run j "$NO" why --json --builders "@$T/spec" -A h2 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))[0]
assert d["requiredFeatures"] == ["h2"] and d["system"] == "x86_64-linux", d
assert [b["fits"] for b in d["builders"]] == ["no", "no", "no", "yes"], d
assert "feature h2" in d["builders"][0]["reason"], d
assert d["pick"]["how"] == "now" and d["pick"]["uri"].startswith("ssh://root@"), d' \
	    "$T/j.out" || fail "why --json: $(cat "$T/j.out")"
	# none fits: exit 1, and Nix's hook finds none either
	run n "$NO" why --builders "@$T/none" -A h2 --argstr nonce "$T" "$SUITE"
	expect_rc 1
	expect_in "$T/n.out" "^  no builder fits: a build would refuse it$"
	run x nix-build --no-out-link --max-jobs 0 --builders "@$T/none" -A h2 \
	    --argstr nonce "$T" "$SUITE"
	[ "$RC" != 0 ] || fail "Nix found a builder where why found none"
	# a builder that is down: until when, and what a build would do
	echo "ssh://$DOWN x86_64-linux - 1 1 h2" >"$T/down"
	run d "$NO" build --builders "@$T/down" -A h2 --argstr nonce "$T" "$SUITE"
	run w "$NO" why --builders "@$T/down" -A h2 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/w.out" "^  ssh://$DOWN: no: down until [0-9:]+ \\([0-9]+ s more\\) after 1 failure in a row: .*Connection refused$"
	expect_in "$T/w.out" "^  a build now would try ssh://$DOWN once more, although it is down; the hook skips it until [0-9:]+$"
}

# One builder, unreachable, and 9 derivations: the builder is named with
# its error once, the derivations summed up once.  The next build tries
# it again (a person may have fixed it) and says the same.
t_one_line_per_problem() {
	echo "ssh://$DOWN x86_64-linux - 4 1" >"$T/spec"
	for r in a b; do
		run $r "$NO" build --builders "@$T/spec" -A fan --argstr nonce "$T" "$SUITE"
		expect_rc 1
		n=$(grep -c "^nix-offload: .*$DOWN" "$T/$r.err")
		[ "$n" -ge 1 ] && [ "$n" -le 3 ] || fail "$r: the builder is named on $n error lines"
		expect_lines_matching "$T/$r.err" "cannot reach the builder" 1
		expect_in "$T/$r.err" "^nix-offload: 8 derivations not built, nor 1 that needs them: ssh://$DOWN, the builder that fits, failed during this build \\(see above\\): leaf-[0-7], "
		[ "$(grep -c '^nix-offload: ' "$T/$r.err")" = 2 ] || fail "$r: more than two errors"
	done
	expect_in "$T/b.err" "^trying ssh://$DOWN, down after failures, once more$"
}

# Two builders that refuse us, 8 derivations: each named once.
t_one_line_per_builder() {
	printf 'ssh://nobody@%s x86_64-linux - 2 1 - - %s\nssh://nobody@%s x86_64-linux - 2 1 - - %s\n' \
	    "$H1" "$K1" "$H2" "$K2" >"$T/spec"
	run a "$NO" build --builders "@$T/spec" -A fan --argstr nonce "$T" "$SUITE"
	expect_rc 1
	for h in $H1 $H2; do
		# refused, or (builders in trees) let in to a nologin shell
		expect_lines_matching "$T/a.err" "^nix-offload: ssh://nobody@$h: " 1
	done
	# and perhaps that what one was building moved to the other
	[ "$(grep -c '^nix-offload: ' "$T/a.err")" -le 4 ] || fail "more than four errors"
	expect_in "$T/a.err" "^nix-offload: 8 derivations not built, nor 1 that needs them: ssh://nobody@$H1, ssh://nobody@$H2, the builders that fit, failed during this build"
}

# A builder whose remote program fails once, then works (the test mends
# it): the very next build uses it, and its record of failures is gone.
t_fixed_builder_used_at_once() {
	cat >"$T/flaky" <<EOF
#!/bin/sh
[ -e "$T/broken" ] && { echo "flaky: broken on purpose" >&2; exit 1; }
exec nix-store "\$@"
EOF
	chmod +x "$T/flaky"
	echo "ssh://$H1?remote-program=$T/flaky x86_64-linux - 1 1 - - $K1" >"$T/spec"
	touch "$T/broken"
	run a "$NO" build --builders "@$T/spec" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 1
	run m "$NO" machines --builders "@$T/spec"
	expect_in "$T/m.out" "\\(down: skipped for [0-9]+ s after 1 failure: "
	rm "$T/broken"
	run b "$NO" build --builders "@$T/spec" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/b.err" "^trying ssh://$H1\\?remote-program=[^ ]*, down after failures, once more$"
	expect_in "$T/b.err" "^built step1 on ssh://$H1"
	run m2 "$NO" machines --builders "@$T/spec"
	expect_not_in "$T/m2.out" "down|failures"
}

# The hook does not try a builder that is down (Nix would wait for a
# connect timeout per derivation): it says until when, and why once.
t_hook_says_when_back() {
	hook_install
	echo "ssh://$DOWN x86_64-linux" >"$T/spec"
	run a nb --builders "@$T/spec" -A step1 --argstr nonce "$T" "$SUITE"
	[ "$RC" != 0 ] || fail "built with every builder down"
	run b nb --builders "@$T/spec" -A step2 --argstr nonce "$T" "$SUITE"
	[ "$RC" != 0 ] || fail "built with every builder down"
	expect_not_in "$T/b.err" "^nix-offload: ssh://$DOWN: cannot reach the builder"
	expect_in "$T/b.err" "every builder that could build .*-step1\\.drv is down"
	expect_in "$T/b.err" "ssh://$DOWN \\(.*\\): down until [0-9:]+ \\([0-9]+ s more\\) after 1 failure in a row: .*Connection refused.*nix-offload enable ssh://$DOWN"
}

# The live line, as a person sees it on a terminal (script(1) gives the
# run a pseudo-terminal): counts, bytes, the derivation running longest,
# redrawn in place and cleared at the end; plain lines elsewhere.
t_build_live_line() {
	both
	script -qec "$NO build --builders @$T/both -A slowfan --argstr nonce $T $SUITE" \
	    /dev/null >"$T/tty.raw" 2>&1 </dev/null || fail "the build failed: $(tail -c 300 "$T/tty.raw")"
	cat -v "$T/tty.raw" >"$T/tty.out"
	expect_in "$T/tty.out" '\^M\^\[\[K\[[0-8]/[2-8]/9 built(, [1-7] queued)?, [0-9.]+ MiB\] building slow-[0-7] on ssh://[0-9.]+, [0-9]+ s'
	expect_in "$T/tty.out" '\^M\^\[\[K\[9/0/9 built, [0-9.]+ MiB\] built slowfan on '

	# cleared before the output is printed, nothing drawn after it
	tail -1 "$T/tty.out" | grep -Eq '\^M\^\[\[K/nix/store/[a-z0-9]{32}-slowfan\^M$' ||
	    fail "the line was not cleared for the output: $(tail -c 200 "$T/tty.out")"
	# each redraw fits a line of the terminal
	tr '\r' '\n' <"$T/tty.raw" | sed "s/$(printf '\033')\\[K//g" |
	    awk 'length > 80 { bad = 1 } END { exit bad }' ||
	    fail "a live line is wider than the terminal"
	# not a terminal: a plain line per event, no escapes
	run p "$NO" build --builders "@$T/both" -A slowfan --argstr nonce "$T-p" "$SUITE"
	expect_rc 0
	expect_in "$T/p.err" "^built slow-[0-7] on ssh://($H1|$H2) in [0-9]+ ms$"
	! grep -q "$(printf '[\r\033]')" "$T/p.err" || fail "escapes off a terminal"
}

# A process queued for a builder's slot (as the hook queues, holding a
# lock on a file of its own) is listed by pid while it lives, and not
# after: a dead waiter's file counts for nothing.
t_status_waiters() {
	one_slot
	run a "$NO" build --builders "@$T/one" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	key=$(ls "$NIX_OFFLOAD_RUNTIME_DIR/slots" | sed -n 's/^\([0-9a-f]\{16\}\)\.0$/\1/p' | head -1)
	[ -n "$key" ] || fail "no slot file after a build"
	python3 -c 'import fcntl, os, sys, time
fd = os.open("%s/slots/%s.w%d" % (sys.argv[1], sys.argv[2], os.getpid()),
    os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX)
print(os.getpid(), flush=True)
time.sleep(60)' "$NIX_OFFLOAD_RUNTIME_DIR" "$key" >"$T/waiter" &
	wait_for "$T/waiter" "^[0-9]" 10 || fail "the waiter did not start"
	wpid=$(cat "$T/waiter")
	run s "$NO" status --builders "@$T/one"
	expect_in "$T/s.out" "^ssh://($H1|$H2): 0 of 1 slot in use, 1 waiting \\(pid $wpid\\)$"
	run j "$NO" status --json --builders "@$T/one"
	expect_in "$T/j.out" "\"waiting\":\\[$wpid\\]"
	kill $!
	wait
	run s2 "$NO" status --builders "@$T/one"
	expect_not_in "$T/s2.out" "waiting"
}
