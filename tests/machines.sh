# nix-offload machines: the builders that nix.conf and the command line
# make, checked against what Nix 2.8 reads from the same files.  Two
# oracles: `nix show-config` for the settings, and the debug output of
# Nix's own build hook for the builders ("got N remote builders", then
# "considering building on remote machine 'URI'" for each, in order).
# The golden files of tests/unit/parse are reused here, through a copy
# with @DATA@ made real.

# m_data: that copy, in $T/data.
m_data() {
	cp -R "$TOP/tests/data" "$T/data" &&
	    find "$T/data" -type f -exec sed -i "s|@DATA@|$T/data|g" {} + ||
	    fail "cannot copy tests/data"
}

# m_env DIR: ENVV=(VAR=VALUE...) from a golden configuration's env file.
m_env() {
	local l
	ENVV=()
	while IFS= read -r l; do
		case $l in '#'* | '') continue ;; esac
		ENVV+=("$(printf '%b' "$l")")
	done <"$1/env"
}

# m_clean [VAR=VALUE...] CMD...: CMD with only these variables, no nix.conf
# of the machine's and no user files unless given.
m_clean() {
	mkdir -p "$T/home" "$T/etc-empty"
	env -i PATH="$PATH" HOME="$T/home" NIX_CONF_DIR="$T/etc-empty" \
	    XDG_CONFIG_HOME="$T/home/.config" XDG_CONFIG_DIRS="$T/home/xdg" "$@"
}

# nix_builders [VAR=VALUE...] [-- NIX-BUILD-ARGS]: what Nix 2.8's build
# hook made of the builders: "got N" then one URI per line, or its error.
# The derivation is for a system no builder has, so nothing is contacted.
nix_builders() {
	local vars=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	m_clean "${vars[@]}" nix-build --store "$T/store" \
	    --option substituters '' --no-out-link -vvvvv "$@" \
	    -E 'derivation { name = "oracle"; system = "nix-offload-oracle"; builder = "/bin/sh"; }' 2>&1 |
	    sed -n -e 's/^got \([0-9]*\) remote builders$/got \1/p' \
		-e "s/^considering building on remote machine '\\(.*\\)'\$/\\1/p" \
		-e 's/^error: \(bad machine specification.*\)/error: \1/p'
}

# our_builders FILE: the same from our text listing.
our_builders() {
	echo "got $(grep -c . "$1")"
	awk '{print $1}' "$1"
}

# same_builders NAME NIX-FILE OUR-LISTING
same_builders() {
	our_builders "$3" >"$T/$1.ours"
	cmp -s "$2" "$T/$1.ours" ||
	    fail "$1: Nix 2.8's hook got $(tr '\n' ' ' <"$2"), we $(tr '\n' ' ' <"$T/$1.ours")"
}

# Every golden machines file marked "oracle": the same builders, in the same
# order, for Nix's hook and for us; and our listing is the golden one.
t_machines_golden_vs_nix() {
	m_data
	local f n count=0
	for f in "$T"/data/machines/*.in; do
		n=$(basename "$f" .in)
		head -1 "$f" | grep -q '^# oracle' || continue
		run "$n" m_clean "$NO" machines --builders "@$f"
		expect_rc 0
		sed "s|$T/data|@DATA@|g" "$T/$n.out" >"$T/$n.golden"
		cmp -s "$T/$n.golden" "$TOP/tests/data/machines/$n.out" ||
		    fail "$n: listing differs from tests/data/machines/$n.out"
		nix_builders NIX_CONFIG="builders = @$f" >"$T/$n.nix"
		same_builders "$n" "$T/$n.nix" "$T/$n.out"
		count=$((count + 1))
	done
	[ $count -ge 6 ] || fail "only $count oracle files"
}

# Every golden configuration: `nix show-config` agrees with each expected
# setting and with every setting we print at -v (but extra-platforms,
# whose CPU levels Nix 2.8 detects and we do not); where we refuse a
# configuration, Nix refuses it too; and Nix's hook gets our builders.
t_machines_conf_vs_nix() {
	m_data
	local d n line
	for d in "$T"/data/conf/*/; do
		d=${d%/}
		n=$(basename "$d")
		m_env "$d"
		m_clean "${ENVV[@]}" nix --extra-experimental-features nix-command \
		    show-config >"$T/$n.nix" 2>&1
		nrc=$?
		run "$n" m_clean "${ENVV[@]}" "$NO" -v machines
		if [ ! -f "$d/settings" ]; then
			[ $nrc -ne 0 ] || fail "$n: Nix 2.8 takes what we refuse"
			expect_rc 2
			[ -s "$T/$n.out" ] && fail "$n: output from a bad configuration"
			grep -v '^nix-offload: conf: ' "$T/$n.err" >"$T/$n.errors"
			cmp -s "$T/$n.errors" "$d/stderr" ||
			    fail "$n: stderr: $(cat "$T/$n.errors")"
			continue
		fi
		[ $nrc -eq 0 ] || fail "$n: Nix 2.8 refuses it: $(head -3 "$T/$n.nix")"
		while IFS= read -r line; do
			grep -qxF -- "$line" "$T/$n.nix" ||
			    fail "$n: Nix 2.8 does not say: $line"
		done <"$d/settings"
		grep -q '^nix-offload: conf: max-jobs = ' "$T/$n.err" ||
		    fail "$n: no settings at -v"
		sed -n 's/^nix-offload: conf: \([a-z-]* = .*\)/\1/p' "$T/$n.err" |
		    while IFS= read -r line; do
			case $line in
			'extra-platforms = '*)
				grep -q '^extra-platforms' "$d/settings" || continue ;;
			esac
			grep -qxF -- "$line" "$T/$n.nix" ||
			    fail "$n: we say \"$line\", Nix 2.8: $(grep "^${line%% =*} =" "$T/$n.nix")"
		done || exit 1
		[ -f "$d/machines" ] || continue
		if [ "$(cat "$d/machines")" = "!" ]; then
			expect_rc 2
			continue
		fi
		expect_rc 0
		cmp -s "$T/$n.out" "$d/machines" ||
		    fail "$n: listing differs from tests/data/conf/$n/machines"
		grep -q 'oracle: no' "$d/env" && continue
		nix_builders "${ENVV[@]}" >"$T/$n.hook"
		same_builders "$n" "$T/$n.hook" "$T/$n.out"
	done
}

# The Nix manual's examples, as text and as JSON read back by Nix.
t_machines_manual_example() {
	run a "$NO" machines --builders 'ssh://mac x86_64-darwin ; ssh://beastie x86_64-freebsd'
	expect_rc 0
	printf '%s\n' 'ssh://mac x86_64-darwin - 1 1 - - - # --builders' \
	    'ssh://beastie x86_64-freebsd - 1 1 - - - # --builders' >"$T/want"
	cmp -s "$T/a.out" "$T/want" || fail "listing: $(cat "$T/a.out")"
	[ -s "$T/a.err" ] && fail "stderr not empty"
	run j "$NO" machines --json --builders 'ssh://mac x86_64-darwin ; ssh://beastie x86_64-freebsd'
	expect_rc 0
	run nix m_clean nix-instantiate --store dummy:// --eval --strict --json --expr "
	    map (m: [ m.uri m.systems m.sshKey m.maxJobs m.speedFactor
		m.supportedFeatures m.mandatoryFeatures m.publicHostKey m.source
		m.usable ]) (builtins.fromJSON (builtins.readFile $T/j.out))"
	expect_rc 0
	expect_in "$T/nix.out" '^\[\["ssh://mac",\["x86_64-darwin"\],null,1,1,\[\],\[\],null,"--builders",true\],\["ssh://beastie",\["x86_64-freebsd"\],null,1,1,\[\],\[\],null,"--builders",true\]\]$'
}

# /etc/nix/machines, the default, as Nix's hook reads it; missing, it means
# no builders, even when written out, but another missing file is an error.
t_machines_etc_default() {
	trap 'rm -f /etc/nix/machines' EXIT
	printf '%s\n' '# the default machines file' 'ssh://mac x86_64-darwin' \
	    'beastie x86_64-freebsd - 2 1 kvm' >/etc/nix/machines
	run a env -u NIX_CONF_DIR "$NO" machines
	expect_rc 0
	printf '%s\n' 'ssh://mac x86_64-darwin - 1 1 - - - # /etc/nix/machines:2' \
	    'ssh://beastie x86_64-freebsd - 2 1 kvm - - # /etc/nix/machines:3' >"$T/want"
	cmp -s "$T/a.out" "$T/want" || fail "listing: $(cat "$T/a.out")"
	nix_builders NIX_CONF_DIR=/etc/nix >"$T/a.nix"
	same_builders a "$T/a.nix" "$T/a.out"
	run b "$NO" machines --builders @/etc/nix/machines
	expect_rc 0
	cmp -s "$T/b.out" "$T/want" || fail "--builders @/etc/nix/machines: $(cat "$T/b.out")"
	rm /etc/nix/machines
	run c env -u NIX_CONF_DIR "$NO" machines
	expect_rc 0
	[ -s "$T/c.out" ] && fail "builders from nowhere"
	expect_in "$T/c.err" '^nix-offload: no builders \(builders = @/etc/nix/machines\)$'
	run d "$NO" machines --json --builders @/etc/nix/machines
	expect_rc 0
	[ "$(cat "$T/d.out")" = "[]" ] || fail "--json: $(cat "$T/d.out")"
	[ -s "$T/d.err" ] && fail "stderr not empty"
	# another missing file: nothing from it, as in Nix, but said
	run e "$NO" machines --builders '@/etc/nix/other ; ssh://mac'
	expect_rc 0
	[ "$(cat "$T/e.out")" = "ssh://mac x86_64-linux - 1 1 - - - # --builders" ] ||
	    fail "listing: $(cat "$T/e.out")"
	[ "$(cat "$T/e.err")" = "nix-offload: warning: --builders: no machines file /etc/nix/other: no builders from it" ] ||
	    fail "stderr: $(cat "$T/e.err")"
	return 0
}

# The issue's example error: FILE:LINE, the value, the field; nothing on
# stdout, in --json mode too.  Nix 2.8 refuses the same file.
t_machines_error_names_line() {
	mkdir -p "$T/etc"
	printf '%s\n' 'ssh://a x86_64-linux' '# a comment' 'ssh://b x86_64-linux - zero' \
	    >"$T/etc/machines"
	run a env NIX_CONF_DIR="$T/etc" "$NO" machines
	expect_rc 2
	[ -s "$T/a.out" ] && fail "a listing from a bad file"
	[ "$(cat "$T/a.err")" = "nix-offload: $T/etc/machines:3: max jobs \"zero\" is not a whole number from 0 to 4294967295 (field 4)" ] ||
	    fail "stderr: $(cat "$T/a.err")"
	run b env NIX_CONF_DIR="$T/etc" "$NO" machines --json
	expect_rc 2
	[ -s "$T/b.out" ] && fail "--json: a listing from a bad file"
	nix_builders NIX_CONF_DIR="$T/etc" >"$T/a.nix"
	grep -q '^error: bad machine specification' "$T/a.nix" ||
	    fail "Nix 2.8 took it: $(cat "$T/a.nix")"
}

# Errors Nix 2.8 makes too, and the ones only we make, on purpose (see
# src/machines.c): max jobs 0, a missing @FILE, a 9th field, a host key
# that is base64 but not of a key line.
t_machines_errors_vs_nix() {
	local spec
	for spec in 'h - - -1' 'h - - 1.5' 'h - - zero' 'h - - 1 fast' \
	    'h - - - - - - !!!!'; do
		run a "$NO" machines --builders "$spec"
		expect_rc 2
		nix_builders -- --builders "$spec" >"$T/a.nix"
		grep -q '^error: bad machine specification' "$T/a.nix" ||
		    fail "Nix 2.8 takes \"$spec\""
	done
	# what Nix 2.8 takes, we take, with a warning
	for spec in 'h - - 0' "@$T/missing" 'h - - 1 1 - - - ninth' \
	    'h - - - - - - aGVsbG8='; do
		run b "$NO" machines --builders "$spec"
		expect_rc 0
		expect_in "$T/b.err" '^nix-offload: warning: --builders: '
		nix_builders -- --builders "$spec" >"$T/b.nix"
		grep -q '^error' "$T/b.nix" && fail "Nix 2.8 refuses \"$spec\""
	done
	return 0
}

# --builders and --option win over nix.conf, NIX_CONFIG and the user files,
# wherever they stand among the arguments; Nix agrees on the settings.
t_machines_cmdline_wins() {
	mkdir -p "$T/etc"
	printf '%s\n' 'builders = conf-host' 'max-jobs = 7' 'system-features = kvm' \
	    >"$T/etc/nix.conf"
	run a env NIX_CONF_DIR="$T/etc" NIX_CONFIG='builders = env-host' "$NO" machines --builders 'cli-host aarch64-linux'
	expect_rc 0
	[ "$(cat "$T/a.out")" = "ssh://cli-host aarch64-linux - 1 1 - - - # --builders" ] ||
	    fail "--builders: $(cat "$T/a.out")"
	run b env NIX_CONF_DIR="$T/etc" "$NO" machines --option builders opt-host --json
	expect_rc 0
	expect_in "$T/b.out" '"uri":"ssh://opt-host".*"source":"--option"'
	run c env NIX_CONF_DIR="$T/etc" "$NO" machines --json --option builders opt-host
	cmp -s "$T/b.out" "$T/c.out" || fail "the order of the arguments matters"
	run d env NIX_CONF_DIR="$T/etc" "$NO" -v machines --option max-jobs 5 \
	    --option extra-system-features big-parallel
	expect_rc 0
	expect_in "$T/d.out" '^ssh://conf-host .* # '"$T"'/etc/nix.conf:1$'
	m_clean NIX_CONF_DIR="$T/etc" nix --extra-experimental-features nix-command \
	    show-config --option max-jobs 5 --option extra-system-features big-parallel \
	    >"$T/d.nix" 2>&1 || fail "Nix refuses the options"
	for s in max-jobs system-features builders; do
		ours=$(sed -n "s/^nix-offload: conf: \\($s = .*\\)/\\1/p" "$T/d.err")
		grep -qxF -- "$ours" "$T/d.nix" ||
		    fail "we say \"$ours\", Nix: $(grep "^$s =" "$T/d.nix")"
	done
	expect_in "$T/d.err" '^nix-offload: conf: max-jobs = 5$'
	expect_in "$T/d.err" '^nix-offload: conf: system-features = big-parallel kvm$'
}

t_machines_usage() {
	run a "$NO" machines --bogus
	expect_rc 2
	expect_in "$T/a.err" '^nix-offload: machines: unknown option --bogus \(see nix-offload machines --help\)$'
	run b "$NO" machines --builders
	expect_rc 2
	expect_in "$T/b.err" '^nix-offload: machines: --builders needs 1 word after it'
	run c "$NO" machines --option max-jobs
	expect_rc 2
	run d "$NO" machines --option max-jobs many
	expect_rc 2
	expect_in "$T/d.err" '^nix-offload: --option: max-jobs = many: expected auto or a whole number'
	run e "$NO" machines --option no-such-thing 1 --builders ''
	expect_rc 0
	expect_in "$T/e.err" 'warning: --option no-such-thing: not a setting nix-offload uses'
}

# Stores nix-offload cannot use are listed, marked, and warned about;
# ssh-ng:// builders are usable.
t_machines_unusable_listed() {
	run a "$NO" machines --json --builders 'ssh-ng://ng x86_64-linux ; file:///c x86_64-linux ; ssh://ok'
	expect_rc 0
	expect_in "$T/a.out" '^\[\{"uri":"ssh-ng://ng",.*"usable":true,"unusableReason":null'
	expect_in "$T/a.out" '^\{"uri":"file:///c",.*"usable":false,"unusableReason":"file:// is not an ssh store; nix-offload speaks to ssh:// and ssh-ng:// stores only"'
	expect_in "$T/a.out" '^\{"uri":"ssh://ok",.*"usable":true,"unusableReason":null,"nixRules":"[0-9.]+"\}\]$'
	expect_in "$T/a.err" '^nix-offload: warning: --builders: file:///c: .*listed, never used$'
	expect_not_in "$T/a.err" 'ssh-ng://ng'
	run b "$NO" machines --builders 'ssh-ng://ng x86_64-linux ; file:///c x86_64-linux'
	expect_in "$T/b.out" '^ssh-ng://ng x86_64-linux - 1 1 - - - # --builders$'
	expect_in "$T/b.out" '^file:///c x86_64-linux - 1 1 - - - # --builders \(unusable: '
}

# The test bed's own machines file: both builders usable, keys pinned, as
# Nix's hook reads it.
t_machines_testbed() {
	run a "$NO" machines --builders "@$TB/machines"
	expect_rc 0
	awk -v f="$TB/machines" '{ print $0 " # " f ":" NR }' "$TB/machines" >"$T/want"
	[ "$(wc -l <"$T/want")" -eq 2 ] || fail "the test bed has no 2 builders"
	cmp -s "$T/a.out" "$T/want" || fail "listing: $(cat "$T/a.out")"
	grep -qF " $K1 " "$T/a.out" || fail "no pinned key for $H1"
	nix_builders -- --builders "@$TB/machines" >"$T/a.nix"
	same_builders a "$T/a.nix" "$T/a.out"
}

# A "#" comment with a ";" after it, in a machines file: Nix before 2.28.2
# cut the comment at the ";" (the builder after it counts), newer Nix at
# the end of the line.  We read it as the installed Nix does: here Nix
# 2.8's own hook gets the same builders; in the trees, 2.26 keeps b too,
# 2.34 does not.
t_machines_comment_rules() {
	printf '%s\n' 'ssh://a x86_64-linux # a comment ; ssh://b x86_64-linux' \
	    'ssh://c x86_64-linux' >"$T/m"
	chmod 755 "$T"
	run a "$NO" -v machines --builders "@$T/m"
	expect_rc 0
	expect_in "$T/a.err" "builders: read as Nix 2\\.8\\.0 reads them"
	[ "$(awk '{print $1}' "$T/a.out" | tr '\n' ' ')" = "ssh://a ssh://b ssh://c " ] ||
	    fail "Nix 2.8's rules: $(cat "$T/a.out")"
	nix_builders NIX_CONFIG="builders = @$T/m" >"$T/a.nix"
	same_builders a "$T/a.nix" "$T/a.out"
	run b in_tree trixie "$NO" machines --builders "@$T/m"
	expect_rc 0
	[ "$(awk '{print $1}' "$T/b.out" | tr '\n' ' ')" = "ssh://a ssh://b ssh://c " ] ||
	    fail "Nix 2.26's rules: $(cat "$T/b.out")"
	run c in_tree sid "$NO" machines --builders "@$T/m"
	expect_rc 0
	[ "$(awk '{print $1}' "$T/c.out" | tr '\n' ' ')" = "ssh://a ssh://c " ] ||
	    fail "Nix 2.34's rules: $(cat "$T/c.out")"
}

# spec_run SUITE CMD...: on this machine (SUITE ""), or in SUITE's tree
spec_run() {
	local s=$1
	shift
	if [ -z "$s" ]; then m_clean "$@"; else in_tree "$s" "$@"; fi
}

# spec_nix SUITE SPEC: what the Nix of SUITE ("": this machine's 2.8) makes
# of the builders spec SPEC, from its own hook's debug output: "error", or
# each builder's URI (ssh:// ones; "other" for the rest) and the line it
# prints for it, (systems, maxjobs, supported, mandatory).
spec_nix() {
	printf '%s' "$2" >"$T/spec.m"
	spec_run "$1" nix-build \
	    --store "$T/store-${1:-here}" --option substituters '' --no-out-link \
	    -vvvvv --builders "@$T/spec.m" \
	    -E 'derivation { name = "oracle"; system = "nix-offload-oracle"; builder = "/bin/sh"; }' 2>&1 |
	    awk '/bad machine specification|Cannot parse Nix store|speed factor must be/ { print "error"; exit }
		/^considering building on remote machine/ {
			u = $0; sub(/^[^'"'"']*'"'"'/, "", u); sub(/'"'"'$/, "", u)
			if (u !~ /^ssh:\/\//) u = "other"; print "uri " u }
		/^\(systems, maxjobs/ { t = 1; next }
		t && /^\(/ { print "m " $0; next }
		{ t = 0 }'
}

# spec_ours SUITE SPEC: the same from nix-offload machines --json, read as
# that Nix reads specs (the installed one: in SUITE's tree), each builder
# printed in the shape that Nix prints it.
spec_ours() {
	spec_run "$1" "$NO" machines --json --builders "@$T/spec.m" \
	    2>"$T/spec.err" >"$T/spec.json" || { echo error; return; }
	python3 -c 'import json, sys
old = sys.argv[2] == ""
ms = json.load(open(sys.argv[1]))
for m in ms:
    print("uri", m["uri"] if m["uri"].startswith("ssh://") else "other")
for m in ms:
    if old:
        j = ", ".join
        print("m (" + j([j(m["systems"]), str(m["maxJobs"]),
            j(m["supportedFeatures"]), j(m["mandatoryFeatures"])]) + ")")
    else:
        l = lambda v: "[" + ", ".join(v) + "]"
        print("m (%s, %d, %s, %s)" % (l(m["systems"]), m["maxJobs"],
            l(m["supportedFeatures"]), l(m["mandatoryFeatures"])))' "$T/spec.json" "$1"
}

# Builders specs on which Nix versions part: each read by nix-offload as
# the local Nix reads it, held to what that Nix's own hook makes of it,
# on Nix 2.8 (here), 2.26 and 2.34 (local sides in the trees).
t_machines_specs_vs_nix() {
	local s i=0
	chmod 755 "$T"
	while IFS= read -r spec; do
		spec=$(printf '%b' "$spec")
		for s in "" trixie sid; do
			spec_nix "$s" "$spec" >"$T/nix.$i.${s:-2.8}"
			spec_ours "$s" "$spec" >"$T/ours.$i.${s:-2.8}"
			cmp -s "$T/nix.$i.${s:-2.8}" "$T/ours.$i.${s:-2.8}" ||
			    fail "$(printf %q "$spec") on ${s:-Nix 2.8}: Nix: $(tr '\n' ' ' <"$T/nix.$i.${s:-2.8}"); we: $(tr '\n' ' ' <"$T/ours.$i.${s:-2.8}") $(head -2 "$T/spec.err")"
		done
		i=$((i + 1))
	done <<'EOF'
nix@h1 x-y,a-b,x-y - +3 2E2 f2,-,f1 m1
nix@h1 x-y - 07 0
nix@h1 x-y - 1 1 - - - extra1 extra2
  # an indented comment\nnix@h1 x-y
nix@h1 x-y ; 
 @/nonexistent/m ; nix@h2 x-y
@/nonexistent/m\nnix@h2 x-y
nix@h1:2222 x-y
h?ssh-key=/k2&compress=true x-y
nix@h1 x-y - 0
nix@h1 , - 1
nix@h1 x-y - 1 1 - - YWJj
nix@h1 x-y - 1 1.5
a x-y # c ; b x-y
nix@h1 x-y - 4294967296
nix@h1 x-y - 1 -3
EOF
}
