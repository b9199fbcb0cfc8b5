# store-info against the real builders of the test bed, and every way a
# connection can fail, each with its own exit status.

# wait (5 s at most) until the background session has learned the version
version_learned() {
	local i
	for i in $(seq 50); do
		ls "$NIX_OFFLOAD_RUNTIME_DIR"/*.nixversion >/dev/null 2>&1 && return
		sleep 0.1
	done
}

# no control socket is left in the runtime directory
no_master() {
	! ls "$NIX_OFFLOAD_RUNTIME_DIR" | grep -Eq '^[0-9a-f]{16}$'
}

# Cold, the version is left to a background session, for the calls after.
t_info_ok() {
	run a "$NO" store-info "$U1"
	expect_rc 0
	expect_in "$T/a.out" "^Store URL: ssh://$H1\$"
	expect_in "$T/a.out" '^Protocol: 2\.7$'
	expect_lines "$T/a.out" 2
	[ -s "$T/a.err" ] && fail "stderr not empty"
	version_learned "$U1"
	run b "$NO" store-info "$U1"
	expect_rc 0
	expect_in "$T/b.out" "^Version: $BV1RE\$"
	expect_lines "$T/b.out" 3
	[ -s "$T/b.err" ] && fail "stderr not empty"
	return 0
}

# Nix's own answer for the same store: the same URL line.
t_info_same_as_nix() {
	run nix nix --extra-experimental-features nix-command store ping --store "$U2"
	expect_rc 0
	run ours "$NO" store-info --store "$U2"
	expect_rc 0
	grep '^Store URL: ' "$T/nix.err" >"$T/nix.url"
	grep '^Store URL: ' "$T/ours.out" >"$T/ours.url"
	[ -s "$T/nix.url" ] || fail "Nix printed no Store URL: $(cat "$T/nix.err")"
	cmp -s "$T/nix.url" "$T/ours.url" || fail "Nix said $(cat "$T/nix.url"), we said $(cat "$T/ours.url")"
}

t_info_json() {
	run a0 "$NO" store-info --json "$U1"
	expect_rc 0
	expect_in "$T/a0.out" '^\{"url":"ssh://'"$H1"'","ok":true,"protocol":"2\.7","remoteProtocol":"2\.7","version":null,"latencyMs":[0-9]+\}$'
	version_learned "$U1"
	run a "$NO" store-info --json "$U1"
	expect_rc 0
	expect_in "$T/a.out" '^\{"url":"ssh://'"$H1"'","ok":true,"protocol":"2\.7","remoteProtocol":"2\.7","version":"[0-9.]+","latencyMs":[0-9]+\}$'
	run b "$NO" store-info --json "ssh://$DOWN"
	expect_rc 3
	expect_in "$T/b.out" "^\\{\"url\":\"ssh://$DOWN\",\"ok\":false,\"error\":\".*Connection refused.*\",\"kind\":\"unreachable\"\\}\$"
	[ -s "$T/b.err" ] && fail "--json failure also printed on stderr"
	return 0
}

# The second call rides the first one's master: no new TCP connection, and
# the master is ours (in our control directory), not the user's.
t_info_reuses_master() {
	before=$(conns $H2)
	run a "$NO" store-info "$U2"
	expect_rc 0
	[ "$(conns $H2)" -eq $((before + 1)) ] || fail "expected one new connection"
	ls "$NIX_OFFLOAD_RUNTIME_DIR" | grep -Eq '^[0-9a-f]{16}$' || fail "no control socket"
	for i in 1 2 3; do
		run b "$NO" store-info "$U2"
		expect_rc 0
	done
	[ "$(conns $H2)" -eq $((before + 1)) ] || fail "warm calls opened connections"
	[ "$(stat -c %a "$NIX_OFFLOAD_RUNTIME_DIR")" = 700 ] || fail "control dir not 0700"
}

t_info_persist_off() {
	NIX_OFFLOAD_PERSIST=0 run a "$NO" store-info "$U1"
	expect_rc 0
	wait_until 10 no_master || fail "master stayed"
}

# Concurrent cold calls race for the master; all must succeed.
t_info_concurrent_cold() {
	for i in 1 2 3 4 5 6; do
		"$NO" store-info "$U1" >"$T/c$i.out" 2>"$T/c$i.err" &
	done
	wait
	for i in 1 2 3 4 5 6; do
		grep -q '^Protocol: 2.7' "$T/c$i.out" || fail "call $i: $(cat "$T/c$i.err")"
	done
}

# A user's own ControlMaster (and Nix's LocalCommand trick) must not matter.
t_info_user_controlmaster() {
	cat >/root/.ssh/config <<-EOF2
	Host *
	  ControlMaster auto
	  ControlPath /root/.ssh/cm-%C
	  ControlPersist 60
	  PermitLocalCommand yes
	  LocalCommand echo started
	EOF2
	run a "$NO" store-info "$U1"
	rca=$RC
	run b "$NO" store-info "$U1"
	rm -f /root/.ssh/config
	expect_rc 0
	RC=$rca expect_rc 0
	ls /root/.ssh | grep -q '^cm-' && fail "the user's ControlPath was used"
	return 0
}

t_info_known_hosts() {
	cp "$TB/known_hosts" /root/.ssh/known_hosts
	run a "$NO" store-info "ssh://$H1"
	rm -f /root/.ssh/known_hosts
	expect_rc 0
	# a new master (the first one was checked already)
	NIX_OFFLOAD_RUNTIME_DIR=$T/ctl2 run b "$NO" store-info "ssh://$H1"
	expect_rc 5
	expect_in "$T/b.err" "^nix-offload: ssh://$H1: the builder's host key is not known: .*ssh-keyscan $H1"
	expect_lines "$T/b.err" 1
}

t_info_known_hosts_changed() {
	# host2's key under host1's name: a man in the middle, as ssh sees it
	awk -v h=$H1 'NR==2 {print h, $2, $3}' "$TB/known_hosts" >/root/.ssh/known_hosts
	run a "$NO" store-info "ssh://$H1"
	rm -f /root/.ssh/known_hosts
	expect_rc 5
	expect_in "$T/a.err" "host key differs from the one in known_hosts.*ssh-keygen -R $H1"
}

t_info_pinned_mismatch() {
	run a "$NO" store-info "ssh://$H1?base64-ssh-public-host-key=$K2"
	expect_rc 5
	expect_in "$T/a.err" "^nix-offload: ssh://$H1: the builder's host key is not the pinned one"
	expect_lines "$T/a.err" 1
	# the pin is the only key accepted: known_hosts does not rescue it
	cp "$TB/known_hosts" /root/.ssh/known_hosts
	run b "$NO" store-info "ssh://$H1?base64-ssh-public-host-key=$K2"
	rm -f /root/.ssh/known_hosts
	expect_rc 5
}

t_info_refused() {
	t0=$(ms)
	run a "$NO" store-info "ssh://$DOWN"
	expect_rc 3
	expect_in "$T/a.err" "^nix-offload: ssh://$DOWN: cannot reach the builder: .*Connection refused"
	expect_lines "$T/a.err" 1
	[ $(($(ms) - t0)) -lt 3000 ] || fail "took $(($(ms) - t0)) ms"
}

t_info_connect_timeout() {
	"$TOP/tests/silentd" $SILENT1 22 &
	pid=$!
	wait_until 10 listening $SILENT1 || fail "the silent builder never listened"
	t0=$(ms)
	NIX_OFFLOAD_CONNECT_TIMEOUT=2 run a "$NO" store-info "ssh://$SILENT1"
	t=$(($(ms) - t0))
	kill $pid
	expect_rc 3
	expect_in "$T/a.err" 'cannot reach the builder: .*timed out.*NIX_OFFLOAD_CONNECT_TIMEOUT'
	[ $t -ge 1500 ] && [ $t -lt 6000 ] || fail "took $t ms with a 2 s connect timeout"
}

# queue_full ADDR: does silentd's full listener on ADDR:22 hold its two
# connections (every further SYN dropped)?
queue_full() {
	ss -Hltn "( sport = :22 )" | grep -Eq "^LISTEN +2 +1 +$1:22 "
}

# A TCP connect that times out (SYNs dropped: the listener's accept queue
# is full), not a silent sshd: said as unreachable, with the setting to
# raise, within the timeout.
t_info_connect_timeout_syn() {
	"$TOP/tests/silentd" $SILENT2 22 full &
	pid=$!
	wait_until 10 queue_full $SILENT2 || fail "the full listener never filled its queue"
	t0=$(ms)
	NIX_OFFLOAD_CONNECT_TIMEOUT=2 run a "$NO" store-info "ssh://$SILENT2"
	t=$(($(ms) - t0))
	kill $pid
	expect_rc 3
	expect_in "$T/a.err" "^nix-offload: ssh://$SILENT2: cannot reach the builder: .*connect to host $SILENT2 port 22: Connection timed out \\(connect timeout NIX_OFFLOAD_CONNECT_TIMEOUT\\)\$"
	expect_lines "$T/a.err" 1
	[ $t -ge 1500 ] && [ $t -lt 6000 ] || fail "took $t ms with a 2 s connect timeout"
}

t_info_auth_refused() {
	run a env -u SSH_AUTH_SOCK "$NO" store-info "$U1"
	expect_rc 4
	expect_in "$T/a.err" "^nix-offload: ssh://$H1: the builder refused our identities \(.*Permission denied.*\).*SSH_AUTH_SOCK is not set"
	expect_lines "$T/a.err" 1
	# a key the builder does not know, named explicitly
	ssh-keygen -q -t ed25519 -N '' -f "$T/stranger"
	run b env -u SSH_AUTH_SOCK "$NO" store-info "$U1&ssh-key=$T/stranger"
	expect_rc 4
}

t_info_ssh_key() {
	run a env -u SSH_AUTH_SOCK "$NO" store-info "$U1&ssh-key=$TB/id_user"
	expect_rc 0
	expect_in "$T/a.out" '^Protocol: 2\.7$'
}

t_info_no_nix_store() {
	run a "$NO" store-info "$U2&remote-program=/nonexistent/bin/nix-store"
	expect_rc 6
	expect_in "$T/a.err" "^nix-offload: ssh://$H2: nix-store was not found on the builder \(remote exit 127: .*\): the PATH of non-interactive login shells on the builder must contain Nix"
	expect_lines "$T/a.err" 1
}

t_info_banner() {
	echo 'echo "Welcome to builder two"' >"$TB/host2/bashrc"
	run a "$NO" store-info "$U2"
	: >"$TB/host2/bashrc"
	expect_rc 7
	expect_in "$T/a.err" "^nix-offload: ssh://$H2: the remote shell printed text before the serve protocol started: \"Welcome to builder two\\\\n\"; .*bashrc"
	expect_lines "$T/a.err" 1
}

t_info_protocol_major() {
	run a "$NO" store-info "$U2&remote-program=$TOP/tests/fake/serve%20major3"
	expect_rc 8
	expect_in "$T/a.err" 'speaks serve protocol version 3\.0'
}

t_info_protocol_too_old() {
	run a "$NO" store-info "$U2&remote-program=$TOP/tests/fake/serve%20old"
	expect_rc 8
	expect_in "$T/a.err" "Nix is too old: it speaks serve protocol 2\.4"
}

t_info_protocol_garbage() {
	run a "$NO" store-info "$U2&remote-program=$TOP/tests/fake/serve%20garbage"
	expect_rc 8
	expect_in "$T/a.err" "does not speak Nix's serve protocol: expected the magic number 0x5452eecb, got \"\\\\x01\\\\x9a"
}

# A remote that never greets: given up after the connect timeout and the
# I/O timeout (at most 20 s), not waited for forever.
t_info_handshake_timeout() {
	t0=$(ms)
	NIX_OFFLOAD_CONNECT_TIMEOUT=1 NIX_OFFLOAD_IO_TIMEOUT=2 \
	    run a "$NO" store-info "$U2&remote-program=$TOP/tests/fake/serve%20silent"
	expect_rc 9
	[ $(($(ms) - t0)) -lt 8000 ] || fail "took $(($(ms) - t0)) ms"
	expect_lines "$T/a.err" 1
	expect_in "$T/a.err" "^nix-offload: ssh://$H2: waiting for the serve protocol greeting: no answer for 3 s"
}

t_info_dropped() {
	for m in drop dropver; do
		run a "$NO" store-info "$U2&remote-program=$TOP/tests/fake/serve%20$m"
		expect_rc 9
		expect_in "$T/a.err" "^nix-offload: ssh://$H2: during the serve handshake: the connection closed"
		expect_lines "$T/a.err" 1
	done
}

t_info_ipv6() {
	# builder 1 listens on [::1] too, on a port of its block's own
	run a "$NO" store-info "ssh://root@[::1]:$((22000 + B))?base64-ssh-public-host-key=$K1"
	expect_rc 0
	expect_in "$T/a.out" "^Store URL: ssh://root@\\[::1\\]:$((22000 + B))\$"
}

# Bad URIs fail before any process starts (a fake ssh would leave a mark).
t_info_bad_uri() {
	printf '#!/bin/sh\ntouch %s/ran\n' "$T" >"$T/ssh"
	chmod +x "$T/ssh"
	for u in "http://$H1" "ssh-ng://-oProxyCommand=x" "ssh-ng://$H1/p" "$H1" "ssh://" "ssh://root@" \
	    "ssh://-oProxyCommand=touch%20$T/pwned" "ssh://$H1:0" "ssh://$H1:99999" \
	    "ssh://$H1?compress=maybe" "ssh://$H1?novalue" "ssh://$H1/path" \
	    "ssh://$H1?ssh-key=%zz" "ssh://$H1?base64-ssh-public-host-key=bm90IGEga2V5"; do
		NIX_OFFLOAD_SSH=$T/ssh run a "$NO" store-info "$u"
		expect_rc 2
		expect_lines "$T/a.err" 1
		expect_in "$T/a.err" '^nix-offload: '
	done
	[ -e "$T/ran" ] && fail "a process was started for a bad URI"
	[ -e "$T/pwned" ] && fail "pwned"
	return 0
}

# Shell metacharacters in remote-store and remote-program stay words.
t_info_quoting() {
	# an absolute path: nix-store takes the value, whole, for a local
	# store there, and makes it
	run a "$NO" store-info "$U2&remote-store=$T/%24(touch%20$T/pwned1)%3Bx"
	expect_rc 0
	[ -d "$T/\$(touch $T/pwned1);x" ] || fail "remote-store did not reach nix-store as one word"
	# the program's name, whole, with its ; and spaces: no such program
	run b "$NO" store-info "$U2&remote-program=nix-store%3Btouch%20$T/pwned2"
	expect_rc 6
	expect_in "$T/b.err" "nix-store was not found on the builder"
	[ -e "$T/pwned1" ] || [ -e "$T/pwned2" ] && fail "the remote shell ran an injected command"
	return 0
}

# The exact ssh command line: our options first, NIX_SSHOPTS after them and
# before our overridable defaults, the host alone after "--".
t_info_ssh_argv() {
	printf '#!/bin/sh\nf=$(mktemp %s/argv.XXXXXX)\nfor a; do printf "%%s\\n" "$a"; done >$f\nexec ssh "$@"\n' "$T" >"$T/ssh"
	chmod +x "$T/ssh"
	NIX_SSHOPTS='-o "ConnectTimeout 7" -v' NIX_OFFLOAD_SSH=$T/ssh \
	    run a "$NO" store-info "ssh://root@$H1:22?base64-ssh-public-host-key=$K1&compress=true&ssh-key=$TB/id_user"
	expect_rc 0
	mv "$(grep -l -- '--serve' "$T"/argv.*)" "$T/argv"
	tail -3 "$T/argv" >"$T/tail"
	printf -- '--\n%s\nnix-store --serve --write\n' $H1 >"$T/want"
	cmp -s "$T/tail" "$T/want" || fail "argv ends $(cat "$T/tail")"
	for w in -x -a -T -oBatchMode=yes -oClearAllForwardings=yes -oPermitLocalCommand=no \
	    -oControlMaster=auto -oStrictHostKeyChecking=yes -oHostKeyAlias=nix-offload-pinned \
	    -C -l -p 'ConnectTimeout 7'; do
		grep -qxF -- "$w" "$T/argv" || fail "argv lacks $w"
	done
	user=$(grep -nxF 'ConnectTimeout 7' "$T/argv" | cut -d: -f1)
	ours=$(grep -nx -- '-oConnectTimeout=10' "$T/argv" | cut -d: -f1)
	ctl=$(grep -n -- '-oControlPath=' "$T/argv" | cut -d: -f1)
	[ "$ctl" -lt "$user" ] && [ "$user" -lt "$ours" ] || fail "option order"
}

# NIX_SSHOPTS words that would take our control master away are dropped,
# each with a warning, and the rest reach ssh as they were written.
t_info_sshopts_control() {
	printf '#!/bin/sh\nf=$(mktemp %s/argv.XXXXXX)\nfor a; do printf "%%s\\n" "$a"; done >$f\nexec ssh "$@"\n' "$T" >"$T/ssh"
	chmod +x "$T/ssh"
	export NIX_SSHOPTS='-S /nonexistent/s -MqC -o "ControlPath /nonexistent/p" -oControlMaster=no -O exit -oControlPersist=1 -o ConnectTimeout=7'
	NIX_OFFLOAD_SSH=$T/ssh run a "$NO" store-info "$U1"
	expect_rc 0
	for w in "-S /nonexistent/s" "-M" "-o ControlPath /nonexistent/p" \
	    "-o ControlMaster=no" "-O exit" "-o ControlPersist=1"; do
		expect_in "$T/a.err" "^nix-offload: warning: NIX_SSHOPTS: ignoring $w: nix-offload keeps a control master of its own\$"
	done
	mv "$(grep -l -- '--serve' "$T"/argv.*)" "$T/argv"
	expect_not_in "$T/argv" "nonexistent|^-S|^-M|^-O|ControlMaster=no|ControlPersist=1"
	grep -qx -- -qC "$T/argv" && grep -qx -- ConnectTimeout=7 "$T/argv" ||
	    fail "the other words did not reach ssh: $(cat "$T/argv")"
	# and the master is ours: the next call finds it
	ls "$NIX_OFFLOAD_RUNTIME_DIR" | grep -Eq '^[0-9a-f]{16}$' || fail "no control socket"
	NIX_OFFLOAD_SSH=$T/ssh run b "$NO" -vv store-info "$U1"
	expect_rc 0
	expect_in "$T/b.err" "-oControlPath=$NIX_OFFLOAD_RUNTIME_DIR/"
}

# Every word of NIX_SSHOPTS is looked at, not only a leading run of
# options: a word that is not an option (ssh would take it for the host and
# read options after it again) is dropped, and so is what follows it that
# would take our master away.
t_info_sshopts_every_word() {
	printf '#!/bin/sh\nf=$(mktemp %s/argv.XXXXXX)\nfor a; do printf "%%s\\n" "$a"; done >$f\nexec ssh "$@"\n' "$T" >"$T/ssh"
	chmod +x "$T/ssh"
	export NIX_SSHOPTS='foo -S /nonexistent/s -M -- bar -q'
	NIX_OFFLOAD_SSH=$T/ssh run a "$NO" store-info "$U1"
	expect_rc 0
	for w in '"foo": not an option' '"--": not an option' '"bar": not an option' \
	    "-S /nonexistent/s: nix-offload keeps" "-M: nix-offload keeps"; do
		expect_in "$T/a.err" "^nix-offload: warning: NIX_SSHOPTS: ignoring $w"
	done
	mv "$(grep -l -- '--serve' "$T"/argv.*)" "$T/argv"
	expect_not_in "$T/argv" "^foo$|^bar$|nonexistent|^-S$|^-M$"
	expect_lines_matching "$T/argv" "^--$" 1
	grep -qx -- -q "$T/argv" || fail "-q did not reach ssh: $(cat "$T/argv")"
}

t_info_nix_sshopts() {
	NIX_SSHOPTS='-p 2222' run a "$NO" store-info "$U1"
	expect_rc 3
	expect_in "$T/a.err" 'port 2222: Connection refused'
	NIX_SSHOPTS='-o "unterminated' run b "$NO" store-info "$U1"
	expect_rc 2
}

t_info_no_ssh_program() {
	NIX_OFFLOAD_SSH=/nonexistent/ssh run a "$NO" store-info "$U1"
	expect_rc 1
	expect_in "$T/a.err" '^nix-offload: cannot run /nonexistent/ssh: No such file'
}

t_info_usage() {
	run a "$NO" store-info
	expect_rc 2
	run b "$NO" store-info --bogus "$U1"
	expect_rc 2
	run c "$NO" frobnicate
	expect_rc 2
	run d "$NO" --help
	expect_rc 0
	expect_in "$T/d.out" 'store-info'
}

# A version with quotes, JSON and terminal escapes (tests/fake/version):
# printed escaped, and a JSON string in --json.
t_info_hostile_version() {
	u="ssh://$H1?remote-program=$TOP/tests/fake/version&base64-ssh-public-host-key=$K1"
	run a "$NO" store-info "$u"
	expect_rc 0
	version_learned
	run b "$NO" store-info "$u"
	expect_rc 0
	grep -qxF 'Version: 2.8.0"},"evil":1,"x":"\x1b]0;title\x07\x1b[2J' "$T/b.out" ||
	    fail "the version is not shown escaped"
	[ "$(grep -c $'\033' "$T/b.out")" = 0 ] || fail "an escape reached the terminal"
	run c "$NO" store-info --json "$u"
	expect_rc 0
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == "2.8.0\"},\"evil\":1,\"x\":\"\x1b]0;title\x07\x1b[2J", d
assert "evil" not in d, d' "$T/c.out" >"$T/c.py" 2>&1 ||
	    fail "store-info --json: $(tail -1 "$T/c.py")"
}
