#!/bin/sh
# Regenerates the golden derivations in this directory with the real Nix
# (Debian's nix-bin 2.8.0): NAME.drv is the file nix-instantiate wrote for
# the derivation of drvs.nix named NAME, and NAME.expect is what
# `nix show-derivation` says about it, one fact a line, in the form
# tests/unit/drv.c prints:
#
#	drv PATH		name NAME		platform P
#	builder B		output NAME PATH HASHALGO HASH
#	input DRVPATH OUT...	src PATH		arg A
#	env KEY VALUE		features F...
#
# Every field is percent-encoded: bytes other than [A-Za-z0-9_.~/:-] as %XX
# (jq's @uri, made to agree across jq versions); "-" stands for the empty
# string and %2D for "-".
# "features" is what the build hook is sent (spec 4.3): the
# requiredSystemFeatures, plus ca-derivations when an output path is not
# known in advance, sorted and unique.
#
# Nix runs in a private mount namespace over a throw-away /nix, never the
# machine's own.  Run as root: sh tests/data/drv/gen.sh
set -eu

here=$(cd "$(dirname "$0")" && pwd)

if [ "${DRVGEN_TMP:-}" = "" ]; then
	tmp=$(mktemp -d /tmp/drvgen.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/nix/store" "$tmp/nix/var/nix" "$tmp/conf"
	cat > "$tmp/conf/nix.conf" <<-CONF
	build-users-group =
	sandbox = false
	experimental-features = nix-command ca-derivations impure-derivations
	CONF
	DRVGEN_TMP=$tmp unshare -m sh -c \
	    'mount --bind "$DRVGEN_TMP/nix" /nix && exec sh "$0"' "$here/gen.sh"
	exit 0
fi

export NIX_CONF_DIR="$DRVGEN_TMP/conf"
cd "$here"

expect='
def enc: if . == "" then "-" elif . == "-" then "%2D" else @uri |
    gsub("!"; "%21") | gsub("[*]"; "%2A") | gsub("'"'"'"; "%27") |
    gsub("[(]"; "%28") | gsub("[)]"; "%29") | gsub("%2F"; "/") |
    gsub("%3A"; ":") end;
to_entries[0] as $e | $e.value as $d |
(if $d.env.__json then ($d.env.__json | fromjson) else null end) as $j |
"drv \($e.key | enc)",
"name \((if $j then $j.name else $d.env.name end) | enc)",
"platform \($d.system | enc)",
"builder \($d.builder | enc)",
($d.outputs | to_entries[] |
    "output \(.key | enc) \(.value.path // "" | enc) " +
    "\(.value.hashAlgo // "" | enc) " +
    "\(if .value.impure then "impure" else .value.hash // "" end | enc)"),
($d.inputDrvs | to_entries[] |
    "input \(.key | enc)\(.value | map(" " + enc) | join(""))"),
($d.inputSrcs[] | "src \(enc)"),
($d.args[] | "arg \(enc)"),
($d.env | to_entries[] | "env \(.key | enc) \(.value | enc)"),
"features" + ((if $j then $j.requiredSystemFeatures // []
    else [($d.env.requiredSystemFeatures // "") | splits("[ \t\n\r]+")]
    | map(select(. != "")) end) +
    (if any($d.outputs[]; (.path // "") == "") then ["ca-derivations"]
    else [] end) | unique | map(" " + enc) | join(""))
'

for attr in simple escapes multi fodFlat fodRec structured features deps \
    ca deferred impure; do
	drv=$(nix-instantiate -A "$attr" drvs.nix 2>/dev/null)
	name=${drv##*/}
	name=${name#*-}
	name=${name%.drv}
	cp "$drv" "$name.drv"
	chmod 644 "$name.drv"
	nix show-derivation "$drv" | jq -r "$expect" > "$name.expect"
	echo "$name.drv $name.expect"
done
