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
	expect_in "$T/m.out" "^ssh://$DOWN .*\\(down: skipped for [0-9]+ s after 1 failures: .*Connection refused\\)"
	# another process, at once: the builder is not even tried
	run b "$NO" build --builders "@$T/spec" -A step1 --argstr nonce "$T-2" "$SUITE"
	expect_rc 0
	expect_not_in "$T/b.err" "$DOWN"
	# after the backoff it is tried again, and skipped for longer
	sleep 4
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

# Every builder that fits is down: say so, with each one's reason.
t_health_all_down() {
	echo "ssh://$DOWN x86_64-linux" >"$T/spec"
	run a "$NO" build --builders "@$T/spec" -A step1 --argstr nonce "$T-a" "$SUITE"
	expect_rc 1
	run b "$NO" build --builders "@$T/spec" -A step1 --argstr nonce "$T-b" "$SUITE"
	expect_rc 1
	expect_in "$T/b.err" "every builder that could build it is down"
	expect_in "$T/b.err" "ssh://$DOWN .*down, skipped for [0-9]+ s more after 1 failures .*nix-offload enable"
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
	tmp0=$(ls -a "${TMPDIR:-/tmp}" | grep -c nix-offload)
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
	[ "$(ls -a "${TMPDIR:-/tmp}" | grep -c nix-offload)" = "$tmp0" ] ||
	    fail "$1: files left in ${TMPDIR:-/tmp}: $(ls "${TMPDIR:-/tmp}" | grep nix-offload)"
	return 0
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
