# lib.sh: helpers for the integration tests, sourced by tests/run.
#
# A test is a shell function named t_*.  It runs in a subshell with its own
# directory $T, and fails by calling fail "why" (or by returning non-zero).
# The builders of scripts/testbed are shared by all tests: $TB is their
# directory, $H1 and $H2 their addresses, $K1 and $K2 their pinned keys.

NO=$TOP/nix-offload

tb_start() {
	TB=$WORK/testbed
	# builders in trees (TESTBED_TREES) see $WORK: tests put remote
	# programs there
	TESTBED_BIND=$WORK "$TOP/scripts/testbed" claim "$TB" "$1" || return 1
	export TESTBED_BASE=$(cat "$TB/base") B
	B=$TESTBED_BASE
	. "$TB/env"
	export TB SSH_AUTH_SOCK
	export H1=127.0.0.$((B + 1)) H2=127.0.0.$((B + 2))
	# addresses where nothing listens, or a silent listener will
	export DOWN=127.0.0.$((B + 9)) SILENT1=127.0.0.$((B + 10)) SILENT2=127.0.0.$((B + 11))
	export K1=$(awk 'NR==1 {print $8}' "$TB/machines")
	export K2=$(awk 'NR==2 {print $8}' "$TB/machines")
	export U1="ssh://$H1?base64-ssh-public-host-key=$K1"
	export U2="ssh://$H2?base64-ssh-public-host-key=$K2"
	# the builders' Nix versions, and as regular expressions
	export BV1=$(builder_ssh 1 nix-store --version | awk '{print $NF}')
	export BV2=$(builder_ssh 2 nix-store --version | awk '{print $NF}')
	export BV1RE=$(printf '%s' "$BV1" | sed 's/\./\\./g')
}

tb_stop() {
	"$TOP/scripts/testbed" stop "$TB"
}

# run_test NAME: run one test in a fresh shell of its own, for at most
# TEST_TIMEOUT seconds (default 300): a test that hangs fails, by name.
run_test() {
	local name=$1 rc limit=${TEST_TIMEOUT:-300}
	export T=$WORK/$name
	mkdir -p "$T"
	timeout -k 10 "$limit" bash -c '
		set -u
		cd "$T" || exit 1
		# a fresh control directory: each test starts cold
		export NIX_OFFLOAD_RUNTIME_DIR=$T/ctl
		for f in "$TOP"/tests/*.sh; do
			. "$f"
		done
		"$1"' sh "$name" >"$T/log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok $name"
	elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		echo "FAIL $name: did not finish in $limit s (TEST_TIMEOUT)"
	else
		echo "FAIL $name: $(grep '^FAIL: ' "$T/log" | head -1 | cut -c7-)"
	fi
}

fail() {
	echo "FAIL: $*"
	exit 1
}

# run NAME CMD...: run a command, keeping its stdout, stderr and status in
# $T/NAME.out, $T/NAME.err and $RC.
run() {
	local n=$1
	shift
	"$@" >"$T/$n.out" 2>"$T/$n.err"
	RC=$?
	echo "+ $* -> $RC"
	sed 's/^/  out: /' "$T/$n.out"
	sed 's/^/  err: /' "$T/$n.err"
}

expect_rc() {	# want
	[ "$RC" = "$1" ] || fail "exit status $RC, expected $1"
}

# expect_in FILE PATTERN: an extended regex that must match a line
expect_in() {
	grep -Eq -- "$2" "$1" || fail "$(basename "$1") lacks /$2/: $(head -c 400 "$1")"
}

expect_not_in() {
	! grep -Eq -- "$2" "$1" || fail "$(basename "$1") has /$2/"
}

# expect_lines FILE N: exactly N lines
expect_lines() {
	[ "$(wc -l <"$1")" -eq "$2" ] || fail "$(basename "$1") has $(wc -l <"$1") lines, expected $2"
}

# expect_lines_matching FILE PATTERN N: exactly N lines match
expect_lines_matching() {
	[ "$(grep -Ec -- "$2" "$1")" -eq "$3" ] ||
	    fail "$(basename "$1") has $(grep -Ec -- "$2" "$1") lines matching /$2/, expected $3"
}

ms() { date +%s%3N; }

# wait_until SECONDS CMD...: run CMD every 0.1 s until it succeeds; false
# after SECONDS.  Tests wait on a condition, never a guessed time.
wait_until() {
	local n=$(($1 * 10)) i
	shift
	for i in $(seq $n); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# quietly CMD...: CMD, its output dropped (for wait_until)
quietly() {
	"$@" >/dev/null 2>&1
}

# broker_pid DIR: the process listening on a lease broker's socket in the
# runtime directory DIR, or nothing
broker_pid() {
	ss -xlpn | grep -F "$1/" | grep "\.lease " | grep -o 'pid=[0-9]*' |
	    head -1 | cut -d= -f2
}

# listening ADDR: does something listen on ADDR:22?
listening() {
	ss -Hltn "( sport = :22 )" | grep -q " $1:22 "
}

# backoff_over SPEC: has every down builder of SPEC served its backoff
# (machines says "to be tried again", or nothing)?
backoff_over() {
	! "$NO" machines --builders "@$1" 2>/dev/null | grep -q "(down: skipped"
}

# builder_ssh N CMD...: run a command on builder N
builder_ssh() {
	local n=$1
	shift
	ssh -oUserKnownHostsFile="$TB/known_hosts" -oBatchMode=yes \
	    root@127.0.0.$((B + n)) "$@"
}

# established ssh connections to an address, as the kernel sees them
conns() {
	ss -Htn state established "( dst $1:22 )" | wc -l
}

# records PATHS-FILE [RUNNER...]: each path of the file with its NAR hash
# and its sorted references, sorted, as the store of RUNNER (in_tree SUITE,
# or nothing: this one) has them; for comparing two builds
records() {
	local f=$1 p
	shift
	for p in $(cat "$f"); do
		echo "$p $("$@" nix-store -q --hash "$p") $("$@" nix-store -q --references "$p" | sort | tr '\n' ' ')"
	done | sort
}

# in_tree SUITE CMD...: run CMD as a local side running SUITE's Nix (a tree
# of scripts/trees, see scripts/intree), with a /nix and /etc/nix of its
# own in $T/SUITE, and $WORK bound in.
in_tree() {
	local s=$1
	shift
	"$TOP/scripts/trees" dir "$s" >/dev/null || fail "no $s tree: run scripts/trees"
	INTREE_BIND=$WORK "$TOP/scripts/intree" "$s" "$T/$s" "$@"
}
