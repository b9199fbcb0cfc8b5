# Slots held on the builder itself (src/lease.c): clients on several
# machines, each with its own store and runtime directory (build --store
# ROOT, NIX_OFFLOAD_RUNTIME_DIR), share a builder's max-jobs.

# lease_client N BUILDERS NONCE [ARGS...]: client N builds leasefan (six
# two-second leaves) into its own store, in the background; its pid in
# $T/cN.pid, its exit status in $T/cN.rc when done
lease_client() {
	local n=$1 b=$2 nonce=$3
	shift 3
	rm -f "$T/c$n.rc" "$T/c$n.pid"
	(
		NIX_OFFLOAD_RUNTIME_DIR=$T/ctl$n "$NO" build --store "$T/r$n" \
		    --no-link --print-out-paths --builders "@$b" "$@" \
		    -A "${LEASE_ATTR:-leasefan}" --argstr nonce "$nonce" "$SUITE" \
		    >"$T/c$n.out" 2>"$T/c$n.err" &
		echo $! >"$T/c$n.pid"
		wait $!
		echo $? >"$T/c$n.rc"
	) &
	wait_until 10 test -s "$T/c$n.pid" || fail "client $n did not start"
}

# lease_wait N...: the clients finished, each with status 0
lease_wait() {
	local n
	for n in "$@"; do
		wait_until 120 test -s "$T/c$n.rc" || fail "client $n did not finish"
		sed "s/^/  c$n: /" "$T/c$n.err"
		[ "$(cat "$T/c$n.rc")" = 0 ] || fail "client $n: exit status $(cat "$T/c$n.rc")"
	done
}

# lease_spans HOST N...: "start end" (ns) of the leaves the clients built on
# HOST, read from their stores
lease_spans() {
	local h=$1 n p
	shift
	for n in "$@"; do
		for p in $(cat "$T/r$n$(cat "$T/c$n.out")"); do
			grep -Eq "^built ${p#/nix/store/*-} on ssh(-ng)?://$h[ ?]" "$T/c$n.err" ||
			    continue
			echo "$(head -1 "$T/r$n$p") $(tail -1 "$T/r$n$p")"
		done
	done
}

# at_once FILE: the most spans of FILE that overlap at one moment
at_once() {
	awk '{ print $1, 1; print $2, -1 }' "$1" | sort -k1,1n -k2,2n |
	    awk '{ n += $2; if (n > m) m = n } END { print m + 0 }'
}

# Two clients at once on one 2-job builder: never more than 2 builds on it,
# both finish, in at most 1.5 times the ideal (12 leaves of 2 s on 2
# slots: 12 s).  With shared-slots=false each counts its own: more.
t_lease_two_clients() {
	echo "ssh://$H1 x86_64-linux - 2 1 - - $K1" >"$T/m"
	lease_client 1 "$T/m" "$T-1"
	lease_client 2 "$T/m" "$T-2"
	lease_wait 1 2
	lease_spans "$H1" 1 2 >"$T/spans"
	[ "$(wc -l <"$T/spans")" = 12 ] || fail "$(wc -l <"$T/spans") of 12 leaves built on $H1"
	k=$(at_once "$T/spans")
	echo "at once: $k"
	[ "$k" -le 2 ] || fail "$k builds at once on a 2-job builder"
	whole=$(awk 'NR == 1 || $1 < s { s = $1 } $2 > e { e = $2 } END { print int((e - s) / 1000000) }' "$T/spans")
	echo "whole: $whole ms (ideal 12000)"
	[ "$whole" -le 18000 ] || fail "took $whole ms, more than 1.5 times the ideal"
	cat "$T/c1.err" "$T/c2.err" | grep -q "by other clients" ||
	    fail "neither client waited for the other's slots"
	# the opt-out: each client counts the slots alone, as before
	echo "ssh://$H1?shared-slots=false x86_64-linux - 2 1 - - $K1" >"$T/p"
	lease_client 1 "$T/p" "$T-1b"
	lease_client 2 "$T/p" "$T-2b"
	lease_wait 1 2
	lease_spans "$H1" 1 2 >"$T/spans"
	k=$(at_once "$T/spans")
	echo "at once, slots not shared: $k"
	[ "$k" -gt 2 ] || fail "shared-slots=false: only $k builds at once"
}

# Three clients, two builders of 2 jobs each: at most 2 builds on each at
# once, work on both, in at most 1.5 times the ideal (18 leaves of 2 s on 4
# slots: 9 s).
t_lease_three_clients() {
	both_two() {
		echo "ssh://$H1 x86_64-linux - 2 1 - - $K1
ssh://$H2 x86_64-linux - 2 1 - - $K2"
	}
	both_two >"$T/m"
	lease_client 1 "$T/m" "$T-1"
	lease_client 2 "$T/m" "$T-2"
	lease_client 3 "$T/m" "$T-3"
	lease_wait 1 2 3
	for h in $H1 $H2; do
		lease_spans "$h" 1 2 3 >"$T/spans.$h"
		k=$(at_once "$T/spans.$h")
		echo "$h: $(wc -l <"$T/spans.$h") leaves, at most $k at once"
		[ "$k" -le 2 ] || fail "$k builds at once on $h, a 2-job builder"
		[ -s "$T/spans.$h" ] || fail "nothing built on $h"
	done
	cat "$T/spans.$H1" "$T/spans.$H2" >"$T/spans"
	[ "$(wc -l <"$T/spans")" = 18 ] || fail "$(wc -l <"$T/spans") of 18 leaves found"
	whole=$(awk 'NR == 1 || $1 < s { s = $1 } $2 > e { e = $2 } END { print int((e - s) / 1000000) }' "$T/spans")
	echo "whole: $whole ms (ideal 9000)"
	[ "$whole" -le 13500 ] || fail "took $whole ms, more than 1.5 times the ideal"
}

# slot_held HOST-INDEX: a slot is held on builder i (its root's home)
slot_held() {
	ls -d "$TB/host$1/home/.cache/nix-offload/slots"/s.* >/dev/null 2>&1
}

# slow_client_holding: on a 1-job builder ($T/m), client 1's slow build
# runs, its slot held on the builder
slow_client_holding() {
	echo "ssh://$H1 x86_64-linux - 1 1 - - $K1" >"$T/m"
	LEASE_ATTR=slow lease_client 1 "$T/m" "$T-1"
	wait_until 60 grep -q "^slow> sleeping" "$T/c1.err" ||
	    fail "client 1's build did not start: $(cat "$T/c1.err")"
	slot_held 1 || fail "no slot held on the builder"
}

# A client killed with SIGKILL mid-build lets its slot go at once: the
# other client's build on the 1-job builder starts within seconds, not
# after the 30 s a silent slot takes to go stale.
t_lease_killed_client() {
	slow_client_holding
	kill -KILL "$(cat "$T/c1.pid")"
	t0=$(ms)
	LEASE_ATTR=lease1 lease_client 2 "$T/m" "$T-2"
	lease_wait 2
	echo "client 2 done $(($(ms) - t0)) ms after the kill"
	[ $(($(ms) - t0)) -lt 12000 ] || fail "client 2 took $(($(ms) - t0)) ms"
	wait_until 10 sh -c "! ls -d '$TB/host1/home/.cache/nix-offload/slots'/s.* 2>/dev/null" ||
	    fail "a slot is left: $(ls "$TB/host1/home/.cache/nix-offload/slots")"
}

# The broker itself killed with SIGKILL: the builder's shell reads EOF and
# lets its slots go at once; the other client does not wait for them to
# go stale.
t_lease_killed_broker() {
	slow_client_holding
	# the process listening on client 1's broker socket
	b=$(broker_pid "$T/ctl1")
	[ -n "$b" ] || fail "no broker listens in $T/ctl1"
	grep -q "lease broker for ssh://$H1" "/proc/$b/cmdline" ||
	    fail "pid $b is not client 1's broker: $(tr '\0' ' ' <"/proc/$b/cmdline")"
	kill -KILL "$b"
	t0=$(ms)
	LEASE_ATTR=lease1 lease_client 2 "$T/m" "$T-2"
	lease_wait 2
	echo "client 2 done $(($(ms) - t0)) ms after the broker's kill"
	[ $(($(ms) - t0)) -lt 12000 ] || fail "client 2 took $(($(ms) - t0)) ms"
	kill -KILL "$(cat "$T/c1.pid")" 2>/dev/null || :
}

# A client whose link froze mid-build stops beating: its slot goes stale
# within LEASE_STALE (30 s), and the other client then takes it; not
# before it is stale.
t_lease_frozen_link() {
	link 1 lan --freeze-file "$T/freeze"
	echo "ssh://$R1 x86_64-linux - 1 1 - - $K1" >"$T/m1"
	echo "ssh://$H1 x86_64-linux - 1 1 - - $K1" >"$T/m2"
	LEASE_ATTR=slow lease_client 1 "$T/m1" "$T-1"
	wait_until 60 grep -q "^slow> sleeping" "$T/c1.err" ||
	    fail "client 1's build did not start: $(cat "$T/c1.err")"
	slot_held 1 || fail "no slot held on the builder"
	touch "$T/freeze"
	t0=$(ms)
	LEASE_ATTR=lease1 lease_client 2 "$T/m2" "$T-2"
	lease_wait 2
	took=$(($(ms) - t0))
	echo "client 2 done $took ms after the freeze"
	expect_in "$T/c2.err" "ssh://$H1: 1 of 1 slot in use by other clients: waiting"
	[ $took -ge 18000 ] || fail "the frozen client's slot went after $took ms"
	[ $took -lt 40000 ] || fail "the frozen client's slot held $took ms"
	kill -KILL "$(cat "$T/c1.pid")" 2>/dev/null || :
}

# A builder where no slot can be held (the directory is a link) is said
# once and builds go on, counted here; NIX_OFFLOAD_SHARED_SLOTS=0 does
# not try.
t_lease_fallback() {
	local d=$TB/host1/home/.cache/nix-offload
	echo "ssh://$H1 x86_64-linux - 2 1 - - $K1" >"$T/m"
	mkdir -p "$d"
	rm -rf "$d/slots"
	ln -s /tmp "$d/slots"
	lease_client 1 "$T/m" "$T-1"
	lease_wait 1
	rm -f "$d/slots"
	expect_lines_matching "$T/c1.err" "^nix-offload: warning: ssh://$H1: cannot hold slots on the builder \\(.*/slots is not a writable directory\\): its slots are counted on this machine only\$" 1
	ln -s /tmp "$d/slots"
	NIX_OFFLOAD_SHARED_SLOTS=0 lease_client 2 "$T/m" "$T-2"
	lease_wait 2
	rm -f "$d/slots"
	expect_not_in "$T/c2.err" "cannot hold slots"
}

# What other clients hold shows in check, status and why of this one.
t_lease_shown() {
	echo "ssh://$H1 x86_64-linux - 1 1 - - $K1" >"$T/m"
	LEASE_ATTR=slow lease_client 1 "$T/m" "$T-1"
	wait_until 60 grep -q "^slow> sleeping" "$T/c1.err" ||
	    fail "client 1's build did not start: $(cat "$T/c1.err")"
	export NIX_OFFLOAD_RUNTIME_DIR=$T/ctl2
	run a "$NO" check --builders "@$T/m"
	expect_in "$T/a.out" "^  1 of 1 slot in use by other clients\$"
	run b "$NO" check --json --builders "@$T/m"
	expect_in "$T/b.out" '"slotsByOthers":1'
	run c "$NO" status --builders "@$T/m"
	expect_in "$T/c.out" "^ssh://$H1: 1 of 1 slot in use, 1 by other client"
	run d "$NO" why --builders "@$T/m" -A step1 --argstr nonce "$T" "$SUITE"
	expect_in "$T/d.out" "ssh://$H1: .*\\(1 in use by other clients\\)"
	kill -KILL "$(cat "$T/c1.pid")"
	wait_until 10 sh -c "! ls -d '$TB/host1/home/.cache/nix-offload/slots'/s.* 2>/dev/null" ||
	    fail "client 1's slot is left"
	run e "$NO" check --json --builders "@$T/m"
	expect_in "$T/e.out" '"slotsByOthers":0'
}

# ssh-ng:// builders share slots the same way (and with ssh:// clients).
t_lease_ng() {
	echo "ssh-ng://$H1 x86_64-linux - 2 1 - - $K1" >"$T/m1"
	echo "ssh://$H1 x86_64-linux - 2 1 - - $K1" >"$T/m2"
	lease_client 1 "$T/m1" "$T-1"
	lease_client 2 "$T/m2" "$T-2"
	lease_wait 1 2
	lease_spans "$H1" 1 2 >"$T/spans"
	[ "$(wc -l <"$T/spans")" = 12 ] || fail "$(wc -l <"$T/spans") of 12 leaves built on $H1"
	k=$(at_once "$T/spans")
	[ "$k" -le 2 ] || fail "$k builds at once on a 2-job builder"
}
