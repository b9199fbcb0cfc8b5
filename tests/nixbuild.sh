# build as a drop-in for nix build: the example of Nix's manual, flake
# installables with output selectors, nix build's links, JSON and flags,
# held against what nix build itself prints and links, on local sides of
# Nix 2.8 (this machine's), 2.26 and 2.34 (the trees).

NIXF="--extra-experimental-features nix-command --extra-experimental-features flakes"

# on SUITE CMD...: CMD on this machine (SUITE "") or as a local side
# running SUITE's Nix
on() {
	local s=$1
	shift
	if [ -z "$s" ]; then "$@"; else in_tree "$s" "$@"; fi
}

# The example of Nix's manual ("Remote Builds"), word for word but for the
# program's name and the builder's address; <nixpkgs> is a stand-in with
# runCommand.  The result holds the builder's uname.
nixbuild_seed() {	# suite
	routes	# builder 2 takes x86_64-darwin
	cp "$TB/known_hosts" "$T/known_hosts"
	mkdir -p "$T/seed" && cd "$T/seed" || fail "no directory"
	run a on "$1" env NIX_PATH="nixpkgs=$TOP/tests/data/nixpkgs" \
	    NIX_OFFLOAD_TEST_NONCE="$T" \
	    NIX_SSHOPTS="-o UserKnownHostsFile=$T/known_hosts" \
	    "$NO" build --impure \
	    --expr '(with import <nixpkgs> { system = "x86_64-darwin"; }; runCommand "foo" {} "uname > $out")' \
	    --builders "ssh://$H2 x86_64-darwin"
	expect_rc 0
	expect_in "$T/a.err" "^built foo on ssh://$H2 in [0-9]+ ms$"
	[ -L result ] || fail "no ./result link"
	# (in a tree, the link leads into that tree's store)
	u=$(on "$1" cat "$T/seed/result")
	[ "$u" = "$(builder_ssh 2 uname)" ] ||
	    fail "./result holds \"$u\", not the builder's uname"
	[ ! -s "$T/a.out" ] || fail "printed on stdout: $(cat "$T/a.out")"
}

t_nixbuild_seed() { nixbuild_seed ""; }
t_modern_nixbuild_seed_2_26() { nixbuild_seed trixie; }
t_modern_nixbuild_seed_2_34() { nixbuild_seed sid; }

# A flake with no inputs (nothing to fetch): one output, two, three with
# meta.outputsToInstall, and a default package.
mkflake() {
	mkdir -p "$T/flk"
	cat >"$T/flk/flake.nix" <<'EOF'
{
  outputs = { self }: let
    sys = "x86_64-linux";
    mk = name: outs: derivation {
      inherit name; system = sys; builder = "/bin/sh"; nonce = "NONCE";
      outputs = outs;
      args = [ "-c" "for o in $outputs; do eval echo $o \\> \\$$o; done" ];
    };
  in {
    packages.${sys} = {
      foo = mk "foo" [ "out" ];
      multi = mk "multi" [ "out" "dev" ];
      meta3 = (mk "meta3" [ "out" "dev" "man" ]) // {
        meta.outputsToInstall = [ "out" "man" ];
      };
      default = mk "dflt" [ "out" ];
    };
  };
}
EOF
	sed -i "s|NONCE|$T|" "$T/flk/flake.nix"
}

# what DIR holds: its links, each "NAME -> TARGET", sorted
links() {
	(cd "$1" && for l in *; do [ -L "$l" ] && echo "$l -> $(readlink "$l")"; done | sort)
}

# stdout without what only one of them prints (nix build's times)
norm() {
	sed -e 's/,"startTime":[0-9]*,"stopTime":[0-9]*//g' "$1"
}

# nixbuild_case SUITE NAME ARGS...: nix-offload build ARGS, then nix build
# ARGS (the outputs are there by then: it only prints and links), each in
# a copy of the flake; the same stdout and the same links, or, where this
# Nix's nix build lacks the feature, ours alone is checked by the caller.
nixbuild_case() {
	local s=$1 n=$2
	shift 2
	rm -rf "$T/o-$n" "$T/n-$n"
	cp -r "$T/flk" "$T/o-$n" && cp -r "$T/flk" "$T/n-$n" || fail "copy"
	(cd "$T/o-$n" && on "$s" "$NO" build --builders "@$T/both" "$@") \
	    >"$T/$n.out" 2>"$T/$n.err"
	RC=$?
	[ $RC = 0 ] || fail "$n: exit $RC: $(tail -3 "$T/$n.err")"
	links "$T/o-$n" >"$T/$n.links"
	(cd "$T/n-$n" && on "$s" nix $NIXF build "$@") >"$T/$n.nix.out" 2>"$T/$n.nix.err"
	if [ $? != 0 ]; then
		grep -Eq "unrecognised flag|not a valid URL|unexpected argument|does not exist|is not valid|unrecognised" "$T/$n.nix.err" ||
		    fail "$n: nix build failed: $(tail -3 "$T/$n.nix.err")"
		echo "$n: nix build lacks it: $(head -1 "$T/$n.nix.err")"
		NIX_LACKS=1
		return 0
	fi
	NIX_LACKS=0
	links "$T/n-$n" >"$T/$n.nix.links"
	norm "$T/$n.out" >"$T/$n.o"
	norm "$T/$n.nix.out" >"$T/$n.n"
	cmp -s "$T/$n.o" "$T/$n.n" || fail "$n: prints otherwise than nix build: $(diff "$T/$n.o" "$T/$n.n")"
	cmp -s "$T/$n.links" "$T/$n.nix.links" ||
	    fail "$n: links otherwise than nix build: $(diff "$T/$n.links" "$T/$n.nix.links")"
}

# expect_links CASE NAME...: the links ours made, by name
expect_links() {
	local n=$1
	shift
	local got=$(cut -d' ' -f1 "$T/$n.links" | tr '\n' ' ')
	[ "${got% }" = "$*" ] || fail "$n: links \"${got% }\", expected \"$*\""
}

nixbuild_flake() {	# suite
	both
	mkflake
	nixbuild_case "$1" foo .#foo
	expect_links foo result
	expect_in "$T/foo.err" "^built foo on ssh://"
	[ "$(on "$1" cat "$T/o-foo/result")" = out ] ||
	    fail "result holds \"$(on "$1" cat "$T/o-foo/result")\""
	nixbuild_case "$1" dev "$T/flk#multi^dev"
	expect_links dev result-dev
	nixbuild_case "$1" all '.#multi^*'
	expect_links all result result-dev
	# two outputs named: both, not the first alone (issue 22)
	nixbuild_case "$1" two '.#multi^dev,out'
	expect_links two result result-dev
	nixbuild_case "$1" dflt .#
	expect_links dflt result
	nixbuild_case "$1" dflt2 "path:$T/flk"
	expect_links dflt2 result
	nixbuild_case "$1" meta3 .#meta3
	nixbuild_case "$1" nolink --no-link --print-out-paths .#multi .#foo
	expect_links nolink
	[ "$(wc -l <"$T/nolink.out")" -ge 2 ] || fail "nolink: printed $(cat "$T/nolink.out")"
	nixbuild_case "$1" json --json '.#multi^*' .#foo
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 2 and sorted(d[0]["outputs"]) == ["dev", "out"], d
assert d[0]["drvPath"].endswith("-multi.drv") and list(d[1]["outputs"]) == ["out"], d' \
	    "$T/json.out" || fail "json: $(cat "$T/json.out")"
	nixbuild_case "$1" olink -o out .#foo '.#multi^dev'
	expect_links olink out out-1-dev
	# a store derivation with an output selector
	drv=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["drvPath"])' "$T/json.out")
	nixbuild_case "$1" drvsel "$drv^dev"
	expect_links drvsel result-dev
	# -f FILE ATTR, with --argstr passed to the local Nix
	# (which outputs: Nix's choice, which changed after 2.8; held to it)
	nixbuild_case "$1" file -f "$SUITE" multi --argstr nonce "$T-f"
	[ "$NIX_LACKS" = 0 ] || fail "file: nix build -f failed"
	# an output path: there already, linked, nothing built
	p=$(readlink "$T/o-foo/result")
	nixbuild_case "$1" path "$p"
	expect_links path result
	expect_not_in "$T/path.err" "^building "
}

t_nixbuild_flake() { nixbuild_flake ""; }
t_modern_nixbuild_flake_2_26() { nixbuild_flake trixie; }
t_modern_nixbuild_flake_2_34() { nixbuild_flake sid; }

# nix build's failures: exit 1, the tail of the log (all of it with -L);
# Nix's own evaluation errors as Nix prints them; nix-build's -A refused
# with nix build's forms.
t_nixbuild_failures() {
	both
	mkflake
	cd "$T/flk" || fail "no flake"
	fails='derivation { name = "failx"; system = "x86_64-linux"; builder = "/bin/sh"; nonce = "'$T'"; args = [ "-c" "i=0; while [ $i -lt 30 ]; do i=$((i + 1)); echo line $i; done; exit 3" ]; }'
	run a "$NO" build --builders "@$T/both" --expr "$fails"
	expect_rc 1
	expect_in "$T/a.err" "building failx failed: .*failed with exit code 3"
	expect_in "$T/a.err" "^       last 10 log lines:$"
	expect_in "$T/a.err" "^       > line 30$"
	expect_not_in "$T/a.err" "^       > line 20$|^failx> "
	run b "$NO" build --builders "@$T/both" -L --expr "$fails"
	expect_rc 1
	expect_in "$T/b.err" "^failx> line 1$"
	run c "$NO" build --builders "@$T/both" .#nonexistent
	expect_rc 1
	expect_in "$T/c.err" "^error: flake '.*' does not provide attribute .*nonexistent"
	run d "$NO" build --builders "@$T/both" -A foo .#foo
	expect_rc 2
	expect_in "$T/d.err" "-A is nix-build's"
	# nix-build's words behave as nix-build: the output paths, ./result
	run e "$NO" build --builders "@$T/both" -A step1 --argstr nonce "$T" "$SUITE"
	expect_rc 0
	expect_in "$T/e.out" "^/nix/store/[a-z0-9]{32}-step1$"
	[ "$(readlink result)" = "$(cat "$T/e.out")" ] || fail "nix-build's form made no ./result"
}
