# Builders that fail are remembered by every process, skipped for a
# growing while, and tried again after it (or at once with enable).

down_first() {
	echo "ssh://$DOWN x86_64-linux - 1 1 ; ssh://$H2 x86_64-linux - 1 1 - - $K2" >"$T/spec"
}

t_health_failover_and_backoff() {
	down_first
	export NIX_OFFLOAD_BACKOFF=3
	run a "$NO" build --builders "@$T/spec" -A step1 --argstr nonce "$T-1" "$SUITE"
	expect_rc 0
	expect_in "$T/a.err" "^nix-offload: warning: builder ssh://$DOWN is down; 1 derivation moved \\(step1\\)$"
	expect_in "$T/a.err" "^built step1 on ssh://$H2 "
	run m "$NO" machines --builders "@$T/spec"
	expect_in "$T/m.out" "^ssh://$DOWN .*\\(down: skipped for [0-9]+ s after 1 failure: .*Connection refused\\)"
	# another process, at once: the builder is not even tried
	run b "$NO" build --builders "@$T/spec" -A step1 --argstr nonce "$T-2" "$SUITE"
	expect_rc 0
	expect_not_in "$T/b.err" "$DOWN"
	# after the backoff it is tried again, and skipped for longer
	wait_until 10 backoff_over "$T/spec" || fail "the backoff never ended"
	run c "$NO" build --builders "@$T/spec" -A step1 --argstr nonce "$T-3" "$SUITE"
	expect_rc 0
	expect_in "$T/c.err" "ssh://$DOWN is down"
	run m2 "$NO" machines --json --builders "@$T/spec"
	expect_in "$T/m2.out" "\"health\":\\{\"failures\":2,\"downSeconds\":([6-9]|1[0-9]),"
}

t_health_enable() {
	down_first
	run a "$NO" check --builders "@$T/spec"
	expect_rc 1
	expect_in "$T/a.out" "^  builds skip it for [0-9]+ s \\(1 failure in a row\\); \`nix-offload enable ssh://$DOWN\` tries it now\$"
	run j "$NO" check --json --builders "@$T/spec"
	expect_in "$T/j.out" "\"uri\":\"ssh://$DOWN\",\"usable\":true,\"ok\":false,.*\"health\":\\{\"failures\":2,\"downSeconds\":[0-9]+\\}"
	run m "$NO" machines --builders "@$T/spec"
	expect_in "$T/m.out" "^ssh://$DOWN .*\\(down: "
	run e "$NO" enable --builders "@$T/spec" "ssh://$DOWN"
	expect_rc 0
	run m2 "$NO" machines --builders "@$T/spec"
	expect_not_in "$T/m2.out" "down"
	run e2 "$NO" enable --builders "@$T/spec" ssh://nowhere
	expect_rc 2
}

# wait_for FILE PATTERN SECONDS
wait_for() {
	local i
	for i in $(seq $(($3 * 10))); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# SIGINT or SIGTERM during a remote build: out within seconds, with
# 128 + the signal, and nothing left running on the builder.
cancel_with() {	# SIGNAL STATUS
	# what is there before, less other runs' work (tests, a demo, CI)
	tmp_ours >"$T/tmp0"
	"$NO" build --builders "@$T/both" -A cancel --argstr nonce "$T-$1" \
	    "$SUITE" >"$T/$1.out" 2>"$T/$1.err" &
	pid=$!
	wait_for "$T/$1.err" "^cancel> started" 30 || fail "$1: the build did not start"
	pgrep -f '/bin/sleep 47' >/dev/null || fail "$1: no builder process to stop"
	t0=$(ms)
	kill -$1 $pid
	wait $pid
	rc=$?
	[ $rc = $2 ] || fail "$1: exit status $rc, expected $2"
	[ $(($(ms) - t0)) -lt 3000 ] || fail "$1: took $(($(ms) - t0)) ms to stop"
	expect_in "$T/$1.err" "interrupted"
	for i in $(seq 50); do
		pgrep -f '/bin/sleep 47' >/dev/null || break
		sleep 0.1
	done
	pgrep -f '/bin/sleep 47' >/dev/null && fail "$1: the remote build still runs"
	# the run's GC roots live in the runtime directory, and go with it
	ls "$NIX_OFFLOAD_RUNTIME_DIR" | grep -q '^roots\.' && fail "$1: roots left"
	tmp_ours >"$T/tmp1"
	cmp -s "$T/tmp0" "$T/tmp1" ||
	    fail "$1: files left in ${TMPDIR:-/tmp}: $(comm -13 "$T/tmp0" "$T/tmp1")"
	return 0
}

# tmp_ours: the nix-offload files in TMPDIR, less the work directories of
# test runs, demos and benchmarks that may run beside this one
tmp_ours() {
	ls -a "${TMPDIR:-/tmp}" | grep nix-offload |
	    grep -Ev '^nix-offload-(ns|tests|today|bench)\.' | sort
}

t_cancel_build() {
	both
	cancel_with INT 130
	cancel_with TERM 143
	# its slots are free: a build at once gets one
	run b "$NO" build --builders "@$T/both" -A step1 --argstr nonce "$T-after" "$SUITE"
	expect_rc 0
}

# Eight nix-offload processes at once on builders of one slot each: never
# two builds at once on a builder, and every build done.
t_concurrent_processes() {
	one_slot
	for i in 1 2 3 4 5 6 7 8; do
		"$NO" build --builders "@$T/one" -A timed1 --argstr nonce "$T-$i" \
		    "$SUITE" >"$T/p$i.out" 2>"$T/p$i.err" &
	done
	wait
	for h in $H1 $H2; do
		: >"$T/spans"
		for i in 1 2 3 4 5 6 7 8; do
			[ -s "$T/p$i.out" ] || fail "process $i: $(tail -2 "$T/p$i.err")"
			grep -q "^built timed-0 on ssh://$h " "$T/p$i.err" || continue
			f=$(cat "$T/p$i.out")
			echo "$(head -1 "$f") $(tail -1 "$f")" >>"$T/spans"
		done
		sort -n "$T/spans" | awk -v h=$h '
		    NR > 1 && $1 < end { print "overlap on " h; bad = 1 }
		    { end = $2 } END { exit bad }' || fail "two builds at once on $h"
		cat "$T/spans" >>"$T/all"
	done
	[ "$(wc -l <"$T/all")" = 8 ] || fail "found $(wc -l <"$T/all") of 8 builds"
}

# hold FILE SECONDS READY (in the background: $! is the holder) holds both
# bytes of a slot file, as another nix-offload would, for SECONDS; READY
# appears once it does.
hold() {
	exec python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 2, 0)
open(sys.argv[3], "w").close()
time.sleep(float(sys.argv[2]))' "$@"
}

# slot_file URI N: the lock file of slot N of a builder
slot_file() {
	mkdir -p -m 700 "$NIX_OFFLOAD_RUNTIME_DIR"
	mkdir -p -m 700 "$NIX_OFFLOAD_RUNTIME_DIR/slots"
	echo "$NIX_OFFLOAD_RUNTIME_DIR/slots/$(printf '%s' "$1" | sha256sum | cut -c1-16).$2"
}

# Every slot of the builder is taken by other processes, one for 2 s, one
# for 25 s: the hook accepts, queues, and takes whichever frees first.
t_hook_queue_first_free() {
	hook_install
	echo "ssh://$H1 x86_64-linux - 2 1 - - $K1" >"$T/two"
	hold "$(slot_file "ssh://$H1" 0)" 25 "$T/r0" &
	long=$!
	hold "$(slot_file "ssh://$H1" 1)" 2 "$T/r1" &
	for i in $(seq 50); do [ -e "$T/r0" ] && [ -e "$T/r1" ] && break; sleep 0.1; done
	t0=$(ms)
	run a nb -vv --builders "@$T/two" -A step1 --argstr nonce "$T" "$SUITE"
	t=$(($(ms) - t0))
	kill $long 2>/dev/null
	expect_rc 0
	expect_in "$T/a.err" "building '.*-step1.drv' on 'ssh://$H1'"
	# accepted and queued, not postponed (Nix 2.8 asks again after 5 s)
	expect_in "$T/a.err" "^nix-offload: waiting for a slot on ssh://$H1\$"
	[ $t -lt 15000 ] || fail "took $t ms: waited for the slot held 25 s, not the one free at 2 s"
	[ $t -ge 1500 ] || fail "took $t ms: did not wait for a slot at all"
}

# A slot that never frees: the wait ends (NIX_OFFLOAD_SLOT_TIMEOUT) with
# who holds it, for the hook and for build alike.
t_slot_wait_bounded() {
	hook_install
	echo "ssh://$H1 x86_64-linux - 1 1 - - $K1" >"$T/one1"
	hold "$(slot_file "ssh://$H1" 0)" 60 "$T/r0" &
	holder=$!
	for i in $(seq 50); do [ -e "$T/r0" ] && break; sleep 0.1; done
	export NIX_OFFLOAD_SLOT_TIMEOUT=2
	run a timeout 60 nix-build --no-out-link --option build-hook "$HOOK" --max-jobs 0 \
	    --builders "@$T/one1" -A step1 --argstr nonce "$T-h" "$SUITE"
	[ "$RC" != 124 ] || fail "the hook waited for ever"
	[ "$RC" != 0 ] || fail "the hook built without a slot"
	expect_in "$T/a.err" "ssh://$H1: no slot came free in 2 s \\(held by process $holder; NIX_OFFLOAD_SLOT_TIMEOUT\\)"
	run b timeout 60 "$NO" build --builders "@$T/one1" -A step1 --argstr nonce "$T-b" "$SUITE"
	kill $holder 2>/dev/null
	[ "$RC" != 124 ] || fail "build waited for ever"
	expect_rc 1
	expect_in "$T/b.err" "no slot came free in 2 s on the builders that fit"
}

# SIGKILL: the workers go with the parent, the remote build stops, and
# the next build on the one-slot builder starts only after it has.
t_kill9_build() {
	echo "ssh://$H1 x86_64-linux - 1 1 - - $K1" >"$T/one1"
	"$NO" build --builders "@$T/one1" -A cancel --argstr nonce "$T-k" \
	    "$SUITE" >"$T/k.out" 2>"$T/k.err" &
	pid=$!
	wait_for "$T/k.err" "^cancel> started" 30 || fail "the build did not start"
	# the slot is held by the worker itself, not only by its parent: who
	# holds byte 1 of the slot file (x86_64's struct flock)
	w=$(python3 -c 'import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fl = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack("hh4xqqi4x", fcntl.F_WRLCK, 0, 1, 1, 0))
t, _, _, _, pid = struct.unpack("hh4xqqi4x", fl)
print(pid if t != fcntl.F_UNLCK else 0)' "$(slot_file "ssh://$H1" 0)")
	[ "$w" != 0 ] && [ "$w" != $pid ] && [ "$(ps -o ppid= -p "$w" | tr -d ' ')" = $pid ] ||
	    fail "byte 1 of the slot is held by '$w', not by a worker of $pid"
	kill -KILL $pid
	# reaped: it has exited, and let go of its locks (under load the next
	# run could otherwise look before the kernel has ended it)
	wait $pid 2>/dev/null
	"$NO" build --builders "@$T/one1" -A timed1 --argstr nonce "$T-next" \
	    "$SUITE" >"$T/n.out" 2>"$T/n.err" &
	next=$!
	gone=
	for i in $(seq 100); do
		pgrep -f '/bin/sleep 47' >/dev/null || { gone=$(date +%s%N); break; }
		sleep 0.05
	done
	[ -n "$gone" ] || fail "the remote build still runs 5 s after SIGKILL"
	for i in $(seq 30); do
		pgrep -f "build --builders @$T/one1 -A cancel" >/dev/null || break
		sleep 0.1
	done
	pgrep -f "build --builders @$T/one1 -A cancel" >/dev/null &&
	    fail "a worker outlived its parent: $(pgrep -af "@$T/one1 -A cancel")"
	wait $next || fail "the next build failed: $(tail -3 "$T/n.err")"
	start=$(head -1 "$(cat "$T/n.out")")
	# the killed build was seen gone at most ~0.1 s after it went
	[ $((start + 300000000)) -ge $gone ] ||
	    fail "the next build started $(((gone - start) / 1000000)) ms before the killed one's remote build ended"
	# what the killed run left in the runtime directory, the next removed
	ls "$NIX_OFFLOAD_RUNTIME_DIR" | grep -q "^roots\\.$pid\$" &&
	    fail "roots.$pid left behind"
	return 0
}

# Health records garbled or planted by hand are ignored (said at -v), not
# obeyed: no builder skipped for years, no spin with NIX_OFFLOAD_BACKOFF=0.
t_health_corrupt_records() {
	both
	key1=$(printf '%s' "ssh://$H1" | sha256sum | cut -c1-16)
	key2=$(printf '%s' "ssh://$H2" | sha256sum | cut -c1-16)
	mkdir -m 700 "$NIX_OFFLOAD_RUNTIME_DIR" "$NIX_OFFLOAD_RUNTIME_DIR/health"
	for rec in "1 99203880636 clock stepped back" "-3 $(($(date +%s) + 60)) negative" \
	    "9223372036854775807 $(($(date +%s) + 60)) long max" "garbage" \
	    "$(head -c 300 /dev/urandom | tr -d '\n')"; do
		printf '%s\n' "$rec" >"$NIX_OFFLOAD_RUNTIME_DIR/health/$key1"
		printf '%s\n' "$rec" >"$NIX_OFFLOAD_RUNTIME_DIR/health/$key2"
		run m "$NO" -v machines --builders "@$T/both"
		expect_rc 0
		expect_not_in "$T/m.out" "down"
		expect_in "$T/m.err" "ssh://$H1: ignoring its health record .*/health/$key1: "
	done
	run b timeout 60 "$NO" build --builders "@$T/both" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	# a count at the cap, and no backoff base: a failure is recorded, fast
	echo "ssh://$DOWN x86_64-linux - 1 1 ; ssh://$H2 x86_64-linux - 1 1 - - $K2" >"$T/spec"
	keyd=$(printf '%s' "ssh://$DOWN" | sha256sum | cut -c1-16)
	echo "1000 $(date +%s) x" >"$NIX_OFFLOAD_RUNTIME_DIR/health/$keyd"
	NIX_OFFLOAD_BACKOFF=0 run c timeout 30 "$NO" build --builders "@$T/spec" \
	    -A step2 --argstr nonce "$T-c" "$SUITE"
	expect_rc 0
	read f until rest <"$NIX_OFFLOAD_RUNTIME_DIR/health/$keyd"
	[ "$f" = 1000 ] || fail "the failure count went to $f"
	[ "$until" -le "$(date +%s)" ] || fail "backed off with NIX_OFFLOAD_BACKOFF=0"
}

# flaky_prog: a remote program that prints a banner (a builder failure)
# while $T/broken exists, and is nix-store otherwise
flaky_prog() {
	printf '#!/bin/sh\n[ -e %s/broken ] && { echo "garbage before the protocol"; sleep 1; exit 0; }\nexec nix-store "$@"\n' \
	    "$T" >"$T/prog"
	chmod +x "$T/prog"
	echo "ssh://$H1?remote-program=$T/prog x86_64-linux - 1 1 - - $K1" >"$T/flaky"
}

# failures_of SPEC: the failure count machines --json shows (0: none)
failures_of() {
	"$NO" machines --json --builders "@$1" >"$T/fj" 2>/dev/null
	grep -o '"failures":[0-9]*' "$T/fj" | cut -d: -f2 | head -1 | grep . || echo 0
}

# A success clears a builder's failures: the next failure is the first
# again, with the first backoff, not the second.
t_health_success_clears() {
	flaky_prog
	export NIX_OFFLOAD_BACKOFF=1
	touch "$T/broken"
	run a "$NO" check --builders "@$T/flaky"
	expect_rc 1
	[ "$(failures_of "$T/flaky")" = 1 ] || fail "no failure recorded"
	rm "$T/broken"
	wait_until 10 backoff_over "$T/flaky" || fail "the backoff never ended"
	run b "$NO" check --builders "@$T/flaky"
	expect_rc 0
	[ "$(failures_of "$T/flaky")" = 0 ] || fail "the success did not clear the failure"
	touch "$T/broken"
	run c "$NO" check --builders "@$T/flaky"
	expect_rc 1
	[ "$(failures_of "$T/flaky")" = 1 ] || fail "failures after a success: $(failures_of "$T/flaky")"
}

# However many failures in a row, a builder is skipped for an hour at most
# (and 10% jitter).
t_health_backoff_cap() {
	echo "ssh://$DOWN x86_64-linux" >"$T/spec"
	mkdir -m 700 "$NIX_OFFLOAD_RUNTIME_DIR" "$NIX_OFFLOAD_RUNTIME_DIR/health"
	key=$(printf '%s' "ssh://$DOWN" | sha256sum | cut -c1-16)
	echo "6 $(date +%s) earlier" >"$NIX_OFFLOAD_RUNTIME_DIR/health/$key"
	run a "$NO" check --builders "@$T/spec"
	expect_rc 1
	run m "$NO" machines --json --builders "@$T/spec"
	down=$(grep -o '"downSeconds":[0-9]*' "$T/m.out" | cut -d: -f2)
	expect_in "$T/m.out" '"failures":7,'
	[ "$down" -ge 3230 ] && [ "$down" -le 3960 ] || fail "skipped for $down s, not about an hour"
}

# enable --all: every builder that is down is tried at once again.
t_health_enable_all() {
	echo "ssh://$DOWN x86_64-linux ; ssh://root@$DOWN x86_64-linux" >"$T/spec"
	run a "$NO" check --builders "@$T/spec"
	expect_rc 1
	run m "$NO" machines --builders "@$T/spec"
	[ "$(grep -c '(down: ' "$T/m.out")" = 2 ] || fail "not both down"
	run e "$NO" enable --all --builders "@$T/spec"
	expect_rc 0
	run m2 "$NO" machines --builders "@$T/spec"
	expect_not_in "$T/m2.out" "down|failures"
}

# A builder that cannot be reached is not said to build: "building X on
# H" comes once its session is up, and here never.
t_health_building_said_when_up() {
	echo "ssh://$DOWN x86_64-linux - 1 100 - - $K1
ssh://$H2 x86_64-linux - 1 1 - - $K2" >"$T/spec"
	run a "$NO" build --no-out-link --builders "@$T/spec" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_not_in "$T/a.err" "^building step1 on ssh://$DOWN"
	expect_in "$T/a.err" "^nix-offload: ssh://$DOWN: cannot reach the builder"
	expect_in "$T/a.err" "^building step1 on ssh://$H2\$"
	expect_in "$T/a.err" "^built step1 on ssh://$H2 "
}
