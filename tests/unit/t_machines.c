/*
 * Unit tests for src/machines.c: builders specs and machines files, and
 * the listing `nix-offload machines` prints of them (builders.c).
 *
 * Cases of three kinds:
 *   - tables below: a spec and its listing, or its exact errors, as the
 *     Nix of a version reads it; every limit, reached and passed;
 *   - Nix's own machines tests and probes, with what Nix made of each at
 *     each version (nixcases.h, made by mknixcases);
 *   - golden machines files: data/machines/NAME.in is parsed as a file;
 *     NAME.out is the listing (absent: it must fail), NAME.err what goes
 *     to stderr (absent: nothing), NAME.json the --json listing, if there.
 * The golden files are used from a copy of data/ (golden.c).
 * tests/machines.sh checks the same files against Nix 2.8: those whose
 * first line says "oracle".
 *
 * Run from tests/: unit/t_machines.  `unit/t_machines -u` rewrites
 * NAME.out, .err and .json from what the code does now (create an empty
 * one to start a new case): review the diff before committing.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "harness.h"
#include "golden.h"

/* base64 -w0 of an ed25519 .pub file, and the key line it holds */
#define HK_B64	"c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUhJTlFi" \
	"VDNKYmNuWWkxN0Z2RXpWVlY1RVkxY3ZvRlo5ekpIWkM2bGR5UjYgcm9vdEBidWls" \
	"ZGVyCg=="
#define HK_LINE	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHINQbT3JbcnYi17FvEz" \
	"VVV5EY1cvoFZ9zJHZC6ldyR6"

static const char	*tmp;		/* the scratch directory */

/*
 * Builders specs given as settings: the listing, or the exact errors, as
 * the Nix of ver reads them (NULL: the newest rules).
 */
#define WARN	"nix-offload: warning: "

static const struct mcase {
	const char	*name;
	const char	*spec;
	const char	*src;
	const char	*out;	/* the text listing; NULL: it must fail */
	const char	*err;	/* all of stderr */
	const char	*ver;	/* the Nix whose rules apply */
} mcases[] = {
	/* the Nix manual's examples */
	{ "manual_builders",
	  "ssh://mac x86_64-darwin ; ssh://beastie x86_64-freebsd", "--builders",
	  "ssh://mac x86_64-darwin - 1 1 - - - # --builders\n"
	  "ssh://beastie x86_64-freebsd - 1 1 - - - # --builders\n", "", NULL },
	{ "manual_one", "ssh://mac x86_64-darwin", "/etc/nix/nix.conf:3",
	  "ssh://mac x86_64-darwin - 1 1 - - - # /etc/nix/nix.conf:3\n", "",
	  NULL },
	/* a missing file: no builders, as in Nix, but said */
	{ "manual_include_missing", "@/nonexistent/nix-offload/machines",
	  "--builders", "",
	  "nix-offload: warning: --builders: no machines file "
	  "/nonexistent/nix-offload/machines: no builders from it\n", NULL },
	/* separators, comments, trimming */
	{ "empty", "", "--builders", "", "", NULL },
	{ "only_separators", " ; ;\n\n;\t", "--builders", "", "", NULL },
	{ "only_comment", "; # c", "--builders", "", "", NULL },
	{ "newlines", "a\nb;c\r\n\nd", "--option",
	  "ssh://a x86_64-linux - 1 1 - - - # --option\n"
	  "ssh://b x86_64-linux - 1 1 - - - # --option\n"
	  "ssh://c x86_64-linux - 1 1 - - - # --option\n"
	  "ssh://d x86_64-linux - 1 1 - - - # --option\n", "", NULL },
	{ "comment_cuts_line", "a # b ; c\nd", "--builders",
	  "ssh://a x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://d x86_64-linux - 1 1 - - - # --builders\n", "", NULL },
	{ "tabs", "\ta\tx86_64-linux\t-\t2\t", "--builders",
	  "ssh://a x86_64-linux - 2 1 - - - # --builders\n", "", NULL },
	/* ... before Nix 2.28.2: "#" to the piece's end, nothing trimmed */
	{ "old_comment_to_semicolon", "a # b ; c\nd", "--builders",
	  "ssh://a x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://c x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://d x86_64-linux - 1 1 - - - # --builders\n", "", "2.8.0" },
	{ "old_blank_piece", "a ; ", "--builders", NULL,
	  "nix-offload: --builders: the store URI is missing (field 1): a "
	  "piece of blanks, which Nix before 2.28.2 refuses (an indented "
	  "comment, or blanks around \";\")\n", "2.26.3" },
	{ "old_indented_comment", "  # c\na", "/m", NULL,
	  "nix-offload: /m:1: the store URI is missing (field 1): a piece of "
	  "blanks, which Nix before 2.28.2 refuses (an indented comment, or "
	  "blanks around \";\")\n", "2.28.1" },
	{ "new_indented_comment", "  # c\na", "/m",
	  "ssh://a x86_64-linux - 1 1 - - - # /m:2\n", "", "2.28.2" },
	{ "new_indented_comment_2_24_15", "  # c\na", "/m",
	  "ssh://a x86_64-linux - 1 1 - - - # /m:2\n", "", "2.24.15" },
	/* the comment rule at each side of its boundaries (issue 22): new
	 * in 2.24.15, old again in 2.25.x, new from 2.28.2 */
	{ "comment_rule_2_24_14", "a # b ; c\nd", "--builders",
	  "ssh://a x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://c x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://d x86_64-linux - 1 1 - - - # --builders\n", "", "2.24.14" },
	{ "comment_rule_2_24_15", "a # b ; c\nd", "--builders",
	  "ssh://a x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://d x86_64-linux - 1 1 - - - # --builders\n", "", "2.24.15" },
	{ "comment_rule_2_25_0", "a # b ; c\nd", "--builders",
	  "ssh://a x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://c x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://d x86_64-linux - 1 1 - - - # --builders\n", "", "2.25.0" },
	{ "comment_rule_2_28_1", "a # b ; c\nd", "--builders",
	  "ssh://a x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://c x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://d x86_64-linux - 1 1 - - - # --builders\n", "", "2.28.1" },
	{ "comment_rule_2_28_2", "a # b ; c\nd", "--builders",
	  "ssh://a x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://d x86_64-linux - 1 1 - - - # --builders\n", "", "2.28.2" },
	{ "old_include_with_blank", " @/nonexistent/x", "--builders",
	  "@/nonexistent/x x86_64-linux - 1 1 - - - # --builders (unusable: "
	  "not a remote store; nix-offload speaks to ssh:// and ssh-ng:// stores only)\n",
	  WARN "--builders: @/nonexistent/x: not a remote store; nix-offload "
	  "speaks to ssh:// and ssh-ng:// stores only; listed, never used\n",
	  "2.8.0" },
	/* field 1 */
	{ "bare_user_host", "nix@h", "--builders",
	  "ssh://nix@h x86_64-linux - 1 1 - - - # --builders\n", "", NULL },
	{ "bare_host_port", "h:2222", "--builders",
	  "ssh://h:2222 x86_64-linux - 1 1 - - - # --builders\n", "", NULL },
	{ "old_host_port", "h:2222", "--builders",
	  "ssh://h:2222 x86_64-linux - 1 1 - - - # --builders\n",
	  WARN "--builders: ssh://h:2222: Nix 2.30.5 gives ssh \"host:port\" "
	  "as a host name, which fails; nix-offload connects to port 2222 "
	  "(Nix reads ports from 2.31 on)\n", "2.30.5" },
	{ "ssh_query", "ssh://h?ssh-key=/k&compress=true", "--builders",
	  "ssh://h?ssh-key=/k&compress=true x86_64-linux - 1 1 - - - "
	  "# --builders\n", "", NULL },
	{ "ipv6", "ssh://root@[::1]:22", "--builders",
	  "ssh://root@[::1]:22 x86_64-linux - 1 1 - - - # --builders\n", "",
	  NULL },
	/* written back as Nix 2.31 and later write them (Nix 2.34's
	 * hook lists these) */
	{ "ipv6_bare", "root@::1 ; fe80::1%eth0 ; ::1", "--builders",
	  "ssh://root@[::1] x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://[fe80::1%25eth0] x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://[::1] x86_64-linux - 1 1 - - - # --builders\n", "", NULL },
	{ "ipv6_bare_2_30", "root@::1 ; fe80::1%eth0 ; ::1", "--builders",
	  "ssh://root@::1 x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://fe80::1%eth0 x86_64-linux - 1 1 - - - # --builders\n"
	  "ssh://::1 x86_64-linux - 1 1 - - - # --builders\n", "", "2.30.5" },
	{ "empty_port", "ssh://h:", "--builders",
	  "ssh://h x86_64-linux - 1 1 - - - # --builders\n", "", NULL },
	{ "empty_port_2_30", "ssh://h:", "--builders",
	  "ssh://h: x86_64-linux - 1 1 - - - # --builders\n", "", "2.30.5" },
	{ "ssh_ng", "ssh-ng://h", "--builders",
	  "ssh-ng://h x86_64-linux - 1 1 - - - # --builders\n", "", NULL },
	{ "ssh_ng_ipv6", "ssh-ng://root@::1", "--builders",
	  "ssh-ng://root@[::1] x86_64-linux - 1 1 - - - # --builders\n", "",
	  NULL },
	/* a local store builds through this machine's nix-store --store */
	{ "local_path", "/var/lib/store", "--builders",
	  "/var/lib/store x86_64-linux - 1 1 - - - # --builders\n", "",
	  NULL },
	{ "auto_query", "auto?root=/r", "--builders",
	  "auto?root=/r x86_64-linux - 1 1 - - - # --builders (unusable: "
	  "not a remote store; nix-offload speaks to ssh:// and ssh-ng:// stores only)\n",
	  WARN "--builders: auto?root=/r: not a remote "
	  "store; nix-offload speaks to ssh:// and ssh-ng:// stores only; listed, never "
	  "used\n", NULL },
	{ "daemon_local_bare", "daemonic localhost autobuild", "--builders",
	  "ssh://daemonic localhost autobuild 1 1 - - - # --builders\n", "",
	  NULL },
	{ "other_scheme", "https://cache x86_64-linux", "--builders",
	  "https://cache x86_64-linux - 1 1 - - - # --builders (unusable: "
	  "https:// is not an ssh store; nix-offload speaks to ssh:// and "
	  "ssh-ng:// stores only)\n",
	  WARN "--builders: https://cache: https:// is not "
	  "an ssh store; nix-offload speaks to ssh:// and ssh-ng:// stores only; listed, "
	  "never used\n", NULL },
	/* what Nix lists and fails to connect to: listed, never used */
	{ "uri_dash_host", "ssh://-oProxyCommand=x", "/m:4",
	  "ssh://-oProxyCommand=x x86_64-linux - 1 1 - - - # /m:4 (unusable: "
	  "ssh://-oProxyCommand=x: host name \"-oProxyCommand=x\" starts with "
	  "\"-\")\n",
	  WARN "/m:4: ssh://-oProxyCommand=x: ssh://-oProxyCommand=x: host name "
	  "\"-oProxyCommand=x\" starts with \"-\"; listed, never used\n", NULL },
	{ "uri_path", "ssh://h/x", "/m:4",
	  "ssh://h/x x86_64-linux - 1 1 - - - # /m:4 (unusable: ssh://h/x: "
	  "unexpected \"/\" after the host: expected "
	  "ssh://[user@]host[:port][?params])\n",
	  WARN "/m:4: ssh://h/x: ssh://h/x: unexpected \"/\" after the host: "
	  "expected ssh://[user@]host[:port][?params]; listed, never used\n",
	  NULL },
	{ "uri_bad_port", "h:99999 x86_64-linux", "/m:1", NULL,
	  "nix-offload: /m:1: port \"99999\" of ssh://h:99999 is not a number "
	  "from 1 to 65535 (field 1)\n", NULL },
	{ "old_uri_bad_port", "h:99999 x86_64-linux", "/m:1",
	  "ssh://h:99999 x86_64-linux - 1 1 - - - # /m:1 (unusable: "
	  "ssh://h:99999: port \"99999\" is not a number from 1 to 65535)\n",
	  WARN "/m:1: ssh://h:99999: ssh://h:99999: port \"99999\" is not a "
	  "number from 1 to 65535; listed, never used\n", "2.8.0" },
	{ "uri_schemeless_query", "h?ssh-key=/k2&compress=true x", "/m:1", NULL,
	  "nix-offload: /m:1: h?ssh-key=/k2&compress=true: Nix 2.23.0 cannot "
	  "parse this store URI (field 1); write "
	  "ssh://h?ssh-key=/k2&compress=true\n", "2.23.0" },
	{ "old_uri_schemeless_query", "h?ssh-key=/k2&compress=true x", "/m:1",
	  "h?ssh-key=/k2&compress=true x - 1 1 - - - # /m:1 (unusable: not a "
	  "remote store; nix-offload speaks to ssh:// and ssh-ng:// stores only)\n",
	  WARN "/m:1: h?ssh-key=/k2&compress=true: not a remote store; "
	  "nix-offload speaks to ssh:// and ssh-ng:// stores only; listed, never used\n",
	  "2.22.4" },
	{ "uri_bad_escape", "h%zz x", "/m:1", NULL,
	  "nix-offload: /m:1: ssh://h%zz: a \"%\" without two hex digits: Nix "
	  "2.34 cannot parse this store URI (field 1)\n", NULL },
	{ "uri_missing", "- x86_64-linux", "/m:2", NULL,
	  "nix-offload: /m:2: the store URI is missing (field 1)\n", NULL },
	/* fields 2 to 8 */
	{ "all_defaults", "h - - - - - - -", "--builders",
	  "ssh://h x86_64-linux - 1 1 - - - # --builders\n", "", NULL },
	{ "systems_lists", "h x86_64-linux,,aarch64-linux,x86_64-linux",
	  "--builders",
	  "ssh://h aarch64-linux,x86_64-linux - 1 1 - - - # --builders\n", "",
	  NULL },
	{ "old_systems_lists", "h x86_64-linux,,aarch64-linux,x86_64-linux",
	  "--builders",
	  "ssh://h x86_64-linux,aarch64-linux,x86_64-linux - 1 1 - - - "
	  "# --builders\n", "", "2.19.7" },
	/* regressions, found by tests/fuzz/machines.c: each printed a line
	 * that did not read back the same */
	{ "systems_empty", "h ,", "--builders",
	  "ssh://h , - 1 1 - - - # --builders (unusable: no system (field 2 "
	  "is \",\"): it takes no derivation)\n",
	  WARN "--builders: ssh://h: no system (field 2 is \",\"): it takes no "
	  "derivation; listed, never used\n", NULL },
	{ "systems_lone_dash", "h ,-", "--builders",
	  "ssh://h ,- - 1 1 - - - # --builders\n", "", NULL },
	{ "features_lone_dash", "h x86_64-linux - 1 1 ,-", "--builders",
	  "ssh://h x86_64-linux - 1 1 ,- - - # --builders\n", "", NULL },
	{ "features_dash_inside", "h x86_64-linux - 1 1 f1,-,f2", "--builders",
	  "ssh://h x86_64-linux - 1 1 -,f1,f2 - - # --builders\n", "", NULL },
	{ "speed_small", "h x86_64-linux - 1 0.000001", "--builders",
	  "ssh://h x86_64-linux - 1 0.000001 - - - # --builders\n", "", NULL },
	{ "speed_tiny", "h x86_64-linux - 1 0.0000001", "--builders",
	  "ssh://h x86_64-linux - 1 0.0000001 - - - # --builders\n", "", NULL },
	{ "features", "h i686-linux /k 8 2 kvm,benchmark,kvm benchmark",
	  "--builders",
	  "ssh://h i686-linux /k 8 2 benchmark,kvm benchmark - # --builders\n",
	  "", NULL },
	{ "speed_float", "h - - 3 2.5", "--builders",
	  "ssh://h x86_64-linux - 3 2.5 - - - # --builders\n", "", NULL },
	{ "speed_fraction", "h - - - .25", "--builders",
	  "ssh://h x86_64-linux - 1 0.25 - - - # --builders\n", "", NULL },
	{ "limits_ok", "h - - 4096 1000000", "--builders",
	  "ssh://h x86_64-linux - 4096 1000000 - - - # --builders\n", "", NULL },
	{ "hostkey", "h - - - - - - " HK_B64, "--builders",
	  "ssh://h x86_64-linux - 1 1 - - " HK_B64 " # --builders\n", "", NULL },
	{ "jobs_word", "h x86_64-linux - zero", "/etc/nix/machines:3", NULL,
	  "nix-offload: /etc/nix/machines:3: max jobs \"zero\" is not a "
	  "whole number from 0 to 4294967295 (field 4)\n", NULL },
	{ "jobs_zero", "h - - 0", "--builders",
	  "ssh://h x86_64-linux - 0 1 - - - # --builders (unusable: max jobs "
	  "is 0 (field 4): it is never free, in Nix too)\n",
	  WARN "--builders: ssh://h: max jobs is 0 (field 4): it is never free, "
	  "in Nix too; listed, never used\n", NULL },
	{ "jobs_negative", "h - - -1", "--builders", NULL,
	  "nix-offload: --builders: max jobs \"-1\" is not a whole number from "
	  "0 to 4294967295 (field 4)\n", NULL },
	{ "jobs_minus_zero", "h - - -0", "--builders", NULL,
	  "nix-offload: --builders: max jobs \"-0\" is not a whole number from "
	  "0 to 4294967295 (field 4)\n", NULL },
	{ "jobs_float", "h - - 1.5", "--builders", NULL,
	  "nix-offload: --builders: max jobs \"1.5\" is not a whole number "
	  "from 0 to 4294967295 (field 4)\n", NULL },
	{ "jobs_exponent", "h - - 2E2", "--builders", NULL,
	  "nix-offload: --builders: max jobs \"2E2\" is not a whole number "
	  "from 0 to 4294967295 (field 4)\n", NULL },
	{ "jobs_plus", "h - - +2", "--builders",
	  "ssh://h x86_64-linux - 2 1 - - - # --builders\n", "", NULL },
	{ "jobs_too_many", "h - - 4097", "--builders",
	  "ssh://h x86_64-linux - 4096 1 - - - # --builders\n",
	  WARN "--builders: max jobs 4097 is taken as 4096 (field 4): Nix would "
	  "open a lock file per slot\n", NULL },
	{ "jobs_huge", "h - - 4294967296", "--builders", NULL,
	  "nix-offload: --builders: max jobs \"4294967296\" is not a whole "
	  "number from 0 to 4294967295 (field 4)\n", NULL },
	{ "speed_word", "h - - 1 fast", "--builders", NULL,
	  "nix-offload: --builders: speed factor \"fast\" is not a number "
	  "(field 5)\n", NULL },
	{ "speed_zero", "h - - 1 0", "--builders",
	  "ssh://h x86_64-linux - 1 1 - - - # --builders\n",
	  WARN "--builders: speed factor 0 is taken as 1 (field 5), as Nix "
	  "does\n", NULL },
	{ "speed_zero_point", "h - - 1 -0.0", "--builders",
	  "ssh://h x86_64-linux - 1 1 - - - # --builders\n",
	  WARN "--builders: speed factor -0.0 is taken as 1 (field 5), as Nix "
	  "does\n", NULL },
	{ "speed_negative", "h - - 1 -2", "--builders", NULL,
	  "nix-offload: --builders: speed factor -2 is negative (field 5)\n",
	  NULL },
	{ "speed_exponent", "h - - 1 2E2", "--builders",
	  "ssh://h x86_64-linux - 1 200 - - - # --builders\n", "", NULL },
	{ "old_speed_exponent", "h - - 1 2E2", "--builders", NULL,
	  "nix-offload: --builders: speed factor \"2E2\" is not a whole number "
	  "(field 5), as Nix 2.19.7 reads it; fractions came with Nix 2.20\n",
	  "2.19.7" },
	{ "old_speed_plus", "h - - 1 +3", "--builders",
	  "ssh://h x86_64-linux - 1 3 - - - # --builders\n", "", "2.8.0" },
	{ "speed_overflow", "h - - 1 1e39", "--builders", NULL,
	  "nix-offload: --builders: speed factor 1e39 is too large "
	  "(field 5)\n", NULL },
	{ "speed_dot", "h - - 1 .", "--builders", NULL,
	  "nix-offload: --builders: speed factor \".\" is not a number "
	  "(field 5)\n", NULL },
	{ "speed_hex", "h - - 1 0x10", "--builders", NULL,
	  "nix-offload: --builders: speed factor \"0x10\" is not a number "
	  "(field 5)\n", NULL },
	{ "speed_nan", "h - - 1 nan", "--builders",
	  "ssh://h x86_64-linux - 1 1 - - - # --builders\n",
	  WARN "--builders: speed factor nan is taken as 1 (field 5): it would "
	  "rank this builder above or below every other for ever\n", NULL },
	{ "speed_fast", "h - - 1 1000001", "--builders",
	  "ssh://h x86_64-linux - 1 1000001 - - - # --builders\n", "", NULL },
	{ "hostkey_not_base64", "h - - - - - - !!!!", "--builders", NULL,
	  "nix-offload: --builders: host key \"!!!!\" is not base64 (field 8; "
	  "write it with: base64 -w0 /etc/ssh/ssh_host_ed25519_key.pub)\n",
	  NULL },
	{ "hostkey_stops_at_equals", "h - - - - - - abc=!!!", "--builders",
	  "ssh://h x86_64-linux - 1 1 - - abc=!!! # --builders (unusable: its "
	  "host key (field 8) does not decode to a key line (\"ssh-ed25519 "
	  "AAAA...\"): ssh would refuse every connection)\n",
	  WARN "--builders: ssh://h: its host key (field 8) does not decode to a "
	  "key line (\"ssh-ed25519 AAAA...\"): ssh would refuse every "
	  "connection; listed, never used\n", NULL },
	{ "hostkey_not_key", "h - - - - - - aGVsbG8=", "--builders",
	  "ssh://h x86_64-linux - 1 1 - - aGVsbG8= # --builders (unusable: its "
	  "host key (field 8) does not decode to a key line (\"ssh-ed25519 "
	  "AAAA...\"): ssh would refuse every connection)\n",
	  WARN "--builders: ssh://h: its host key (field 8) does not decode to a "
	  "key line (\"ssh-ed25519 AAAA...\"): ssh would refuse every "
	  "connection; listed, never used\n", NULL },
	{ "nine_fields", "h x86_64-linux, aarch64-linux - 1 1 - - -",
	  "/etc/nix/machines:7",
	  "ssh://h x86_64-linux aarch64-linux 1 1 1 - - # /etc/nix/machines:7\n",
	  WARN "/etc/nix/machines:7: 9 fields: those after the 8th are ignored, "
	  "as Nix ignores them (URI SYSTEMS SSH-KEY MAX-JOBS SPEED-FACTOR "
	  "SUPPORTED-FEATURES MANDATORY-FEATURES HOST-KEY; lists are "
	  "comma-separated, without blanks)\n", NULL },
	{ "include_empty", "@ ; h", "--builders",
	  "ssh://h x86_64-linux - 1 1 - - - # --builders\n",
	  WARN "--builders: \"@\" without a file name: no builders from it, as "
	  "in Nix\n", NULL },
	{ "include_dir", "@/", "--builders", NULL,
	  "nix-offload: --builders: cannot read machines file /: Is a "
	  "directory\n", NULL },
	{ "include_relative", "@nix-offload/no/such/file", "--builders", "",
	  WARN "--builders: no machines file /nix-offload/no/such/file (a "
	  "relative @FILE is read from /, as Nix's build hook does): no "
	  "builders from it\n", NULL },
	/* every bad entry is reported, and none is returned */
	{ "errors_all_reported", "a - - x;b;c - - 1 y", "--builders", NULL,
	  "nix-offload: --builders: max jobs \"x\" is not a whole number from "
	  "0 to 4294967295 (field 4)\n"
	  "nix-offload: --builders: speed factor \"y\" is not a number "
	  "(field 5)\n", NULL },
	/* a place that is not FILE:LINE nor an option is a file name */
	{ "file_lines", "a\n\nb - - x", "/nonexistent/machines", NULL,
	  "nix-offload: /nonexistent/machines:3: max jobs \"x\" is not a "
	  "whole number from 0 to 4294967295 (field 4)\n", NULL },
};

static void
machines_table(void)
{
	const struct mcase	*c;
	struct machines		 ms;
	char			 name[128], *out, *err;
	size_t			 i;
	int			 rc;

	for (i = 0; i < nitems(mcases); i++) {
		c = &mcases[i];
		(void)machines_rules(c->ver);
		capture();
		rc = machines_parse(c->spec, strlen(c->spec), c->src, SYS, &ms);
		err = captured();
		(void)machines_rules(NULL);
		out = golden_listing(&ms, 0);
		if (c->out == NULL && rc != -1)
			no("parsed, expected an error; got: %s", out);
		else if (c->out != NULL && rc != 0)
			no("failed: %s", err);
		else if (c->out != NULL && strcmp(out, c->out) != 0)
			no("listing:\nwant: %s\ngot:  %s", c->out, out);
		else if (rc == -1 && ms.n != 0)
			no("failed but returned %zu machines", ms.n);
		if (strcmp(err, c->err) != 0)
			no("stderr:\nwant: %s\ngot:  %s", c->err, err);
		machines_free(&ms);
		free(out);
		free(err);
		xsnprintf(name, sizeof(name), "parse_machines_%s", c->name);
		report(name, 1);
	}
}

/* Fields 3 and 8 reach the ssh URI, and win over the URI's own. */
static void
test_uri_merge(void)
{
	struct machines	 ms;
	const char	*spec = "ssh://u@h:2?ssh-key=/old x86_64-linux /new - - -"
	    " - " HK_B64 "; ssh://h2?ssh-key=/k2";
	char		*err;

	capture();
	if (machines_parse(spec, strlen(spec), "--builders", SYS, &ms) == -1)
		no("failed");
	err = captured();
	if (*err != '\0')
		no("stderr: %s", err);
	else if (ms.n != 2)
		no("%zu machines", ms.n);
	else if (!ms.v[0].usable || ms.v[0].uri.port != 2 ||
	    strcmp(ms.v[0].uri.user, "u") != 0 ||
	    strcmp(ms.v[0].uri.host, "h") != 0)
		no("URI not parsed: %s", ms.v[0].uri.display);
	else if (ms.v[0].uri.ssh_key == NULL ||
	    strcmp(ms.v[0].uri.ssh_key, "/new") != 0)
		no("ssh key %s, expected /new", ms.v[0].uri.ssh_key);
	else if (ms.v[0].uri.host_key == NULL ||
	    strcmp(ms.v[0].uri.host_key, HK_LINE) != 0)
		no("host key %s", ms.v[0].uri.host_key);
	else if (ms.v[1].uri.ssh_key == NULL ||
	    strcmp(ms.v[1].uri.ssh_key, "/k2") != 0 || ms.v[1].ssh_key != NULL)
		no("?ssh-key= lost without field 3");
	free(err);
	machines_free(&ms);
	report("parse_machines_uri_merge", 1);
}

static void
test_json(void)
{
	struct machines	 ms;
	const char	*spec = "ssh://mac x86_64-darwin,aarch64-darwin /k 4 1.5 "
	    "big-parallel kvm " HK_B64 ";ssh-ng://x\\y";
	const char	*want = "[{\"uri\":\"ssh://mac\",\"systems\":"
	    "[\"aarch64-darwin\",\"x86_64-darwin\"],\"sshKey\":\"/k\","
	    "\"maxJobs\":4,\"speedFactor\":1.5,\"supportedFeatures\":"
	    "[\"big-parallel\"],\"mandatoryFeatures\":[\"kvm\"],"
	    "\"publicHostKey\":\"" HK_B64 "\",\"source\":\"--builders\","
	    "\"usable\":true,\"unusableReason\":null,\"nixRules\":\"2.34\"},\n"
	    "{\"uri\":\"ssh-ng://x\\\\y\",\"systems\":[\"x86_64-linux\"],"
	    "\"sshKey\":null,\"maxJobs\":1,\"speedFactor\":1,"
	    "\"supportedFeatures\":[],\"mandatoryFeatures\":[],"
	    "\"publicHostKey\":null,\"source\":\"--builders\",\"usable\":false,"
	    "\"unusableReason\":\"ssh-ng://x\\\\y: invalid host name "
	    "\\\"x\\\\y\\\"\",\"nixRules\":\"2.34\"}]"
	    "\n";
	char		*out, *err;

	capture();
	if (machines_parse(spec, strlen(spec), "--builders", SYS, &ms) == -1)
		no("failed");
	err = captured();
	out = golden_listing(&ms, 1);
	if (strcmp(out, want) != 0)
		no("\nwant: %s\ngot:  %s", want, out);
	free(out);
	free(err);
	machines_free(&ms);
	out = golden_listing(&ms, 1);
	if (strcmp(out, "[]\n") != 0)
		no("no machines: %s", out);
	free(out);
	report("parse_machines_json", 1);
}

/* Write text to tmp/name; returns the path in a static buffer. */
static const char *
scratch(const char *name, const char *text, size_t len)
{
	static char	 path[PATH_MAX];
	FILE		*f;

	xsnprintf(path, sizeof(path), "%s/%s", tmp, name);
	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(text, 1, len, f) != len || fclose(f) == EOF) {
		perror(path);
		exit(2);
	}
	return path;
}

/* Parse spec; it must fail with an error containing what. */
static void
expect_error(const char *name, const char *spec, size_t len,
    const char *src, const char *what, int nerrors)
{
	struct machines	 ms;
	char		*err, *p;
	int		 n = 0;

	capture();
	if (machines_parse(spec, len, src, SYS, &ms) != -1)
		no("parsed, %zu machines", ms.n);
	err = captured();
	if (strstr(err, what) == NULL)
		no("stderr lacks \"%s\": %.300s", what, err);
	for (p = err; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	if (nerrors > 0 && n != nerrors)
		no("%d lines on stderr, expected %d: %.300s", n, nerrors, err);
	if (ms.n != 0 || ms.v != NULL)
		no("machines returned");
	free(err);
	report(name, 1);
}

/* Every limit of machines.c, reached and passed. */
static void
test_limits(void)
{
	char	*buf, path[PATH_MAX], text[PATH_MAX + 16];
	size_t	 i, n;
	int	 d;
	struct machines ms;

	/* MACHINES_MAX builders pass, one more does not */
	n = (MACHINES_MAX + 1) * 8;
	if ((buf = malloc(n + 1)) == NULL)
		exit(2);
	buf[0] = '\0';
	for (i = 0; i < MACHINES_MAX; i++)
		strcat(buf, "h;");
	capture();
	if (machines_parse(buf, strlen(buf), "--builders", SYS, &ms) == -1 ||
	    ms.n != MACHINES_MAX)
		no("%d builders refused", MACHINES_MAX);
	free(captured());
	machines_free(&ms);
	report("parse_limit_machines_max", 1);
	strcat(buf, "h");
	expect_error("parse_limit_machines_over", buf, strlen(buf),
	    "--builders", "--builders: more than 1024 builders", 1);

	/* MACHINES_ERRORS_MAX errors, then silence */
	buf[0] = '\0';
	for (i = 0; i < MACHINES_ERRORS_MAX + 5; i++)
		strcat(buf, "h - - x\n");
	expect_error("parse_limit_errors", buf, strlen(buf), "/m",
	    "/m:10: max jobs", MACHINES_ERRORS_MAX);
	free(buf);

	/* a line of CONF_LINE_MAX bytes passes, one more does not */
	if ((buf = malloc(CONF_LINE_MAX + 8)) == NULL)
		exit(2);
	memset(buf, ' ', CONF_LINE_MAX + 1);
	buf[0] = 'h';
	capture();
	if (machines_parse(buf, CONF_LINE_MAX, "/m", SYS, &ms) == -1 ||
	    ms.n != 1)
		no("a line of %d bytes refused", CONF_LINE_MAX);
	free(captured());
	machines_free(&ms);
	report("parse_limit_line_max", 1);
	expect_error("parse_limit_line_over", buf, CONF_LINE_MAX + 1, "/m",
	    "/m:1: line longer than 65536 bytes", 1);
	free(buf);

	/* MACHINES_LIST_MAX systems pass, one more does not */
	if ((buf = malloc(16 * (MACHINES_LIST_MAX + 2))) == NULL)
		exit(2);
	strcpy(buf, "h ");
	for (i = 0; i < MACHINES_LIST_MAX; i++)
		sprintf(buf + strlen(buf), "s%zu,", i);
	capture();
	if (machines_parse(buf, strlen(buf), "--builders", SYS, &ms) == -1 ||
	    ms.n != 1 || ms.v[0].systems.n != MACHINES_LIST_MAX)
		no("%d systems refused", MACHINES_LIST_MAX);
	free(captured());
	machines_free(&ms);
	report("parse_limit_list_max", 1);
	strcat(buf, "one-more - - - kvm");
	expect_error("parse_limit_list_over", buf, strlen(buf), "--builders",
	    "--builders: more than 256 systems (field 2)", 1);
	free(buf);

	expect_error("parse_nul_byte", "h\0j", 3, "/m",
	    "/m: contains a NUL byte", 1);

	/* MACHINES_DEPTH_MAX nested files pass, one more does not */
	for (d = MACHINES_DEPTH_MAX + 1; d >= 1; d--) {
		xsnprintf(path, sizeof(path), "%s/d%d", tmp, d + 1);
		xsnprintf(text, sizeof(text), "h%d\n@%s\n", d, path);
		xsnprintf(path, sizeof(path), "d%d", d);
		scratch(path, text, strlen(text));
	}
	xsnprintf(path, sizeof(path), "%s/d%d", tmp, MACHINES_DEPTH_MAX + 2);
	unlink(path);
	/* d2 -> d3 -> ... -> d9 -> d10: one file too many */
	xsnprintf(path, sizeof(path), "@%s/d2", tmp);
	expect_error("parse_limit_depth_over", path, strlen(path),
	    "--builders", "machines files nested deeper than 8", 1);
	xsnprintf(path, sizeof(path), "%s/d%d", tmp, MACHINES_DEPTH_MAX + 1);
	scratch(strrchr(path, '/') + 1, "last\n", 5);
	xsnprintf(path, sizeof(path), "@%s/d2", tmp);
	capture();
	if (machines_parse(path, strlen(path), "--builders", SYS, &ms) == -1 ||
	    ms.n != MACHINES_DEPTH_MAX)
		no("%d nested files refused (%zu machines)", MACHINES_DEPTH_MAX,
		    ms.n);
	free(captured());
	machines_free(&ms);
	report("parse_limit_depth_max", 1);

	/* a file larger than CONF_FILE_MAX */
	if ((buf = malloc(CONF_FILE_MAX + 1)) == NULL)
		exit(2);
	memset(buf, '\n', CONF_FILE_MAX + 1);
	scratch("big", buf, CONF_FILE_MAX + 1);
	free(buf);
	xsnprintf(path, sizeof(path), "@%s/big", tmp);
	expect_error("parse_limit_file_over", path, strlen(path), "--builders",
	    "is larger than 1048576 bytes", 1);
}

/*
 * The default machines file may be missing; another @FILE too, as in Nix,
 * but with a warning; a top-level file named on its own may not.
 */
static void
test_default_file(void)
{
	struct machines	 ms;
	char		 spec[PATH_MAX + 64], *err;

	setenv("NIX_CONF_DIR", tmp, 1);
	capture();
	xsnprintf(spec, sizeof(spec), "%s/machines", tmp);
	if (machines_parse_file(spec, 1, SYS, &ms) == -1 || ms.n != 0)
		no("missing default file: an error");
	if (machines_parse_file(spec, 0, SYS, &ms) == -1)
		no("missing default file, not missing_ok: an error");
	xsnprintf(spec, sizeof(spec), "%s/other", tmp);
	if (machines_parse_file(spec, 0, SYS, &ms) != -1)
		no("missing file: not an error");
	xsnprintf(spec, sizeof(spec), "a;@%s/machines;b", tmp);
	if (machines_parse(spec, strlen(spec), "/etc/nix/nix.conf:2", SYS,
	    &ms) == -1 || ms.n != 2)
		no("explicit default file: an error");
	machines_free(&ms);
	xsnprintf(spec, sizeof(spec), "a;@%s/machines2;b", tmp);
	if (machines_parse(spec, strlen(spec), "/etc/nix/nix.conf:2", SYS,
	    &ms) == -1 || ms.n != 2)
		no("missing included file: an error, or not the others");
	machines_free(&ms);
	err = captured();
	xsnprintf(spec, sizeof(spec), "nix-offload: cannot read machines file "
	    "%s/other: No such file or directory\nnix-offload: warning: "
	    "/etc/nix/nix.conf:2: no machines file %s/machines2: no builders "
	    "from it\n", tmp, tmp);
	if (strcmp(err, spec) != 0)
		no("stderr:\nwant: %s\ngot:  %s", spec, err);
	free(err);
	unsetenv("NIX_CONF_DIR");
	report("parse_machines_default_file", 1);
}

/*
 * Nix's own machines tests, and probes of other specs, with what Nix made
 * of each at each version (unit/mknixcases): the same builders, or an
 * error, with nix-offload following that version's rules.  Files the
 * cases include are written to the scratch directory (@T@).
 */
struct nixm {
	const char	*systems, *key, *sup, *mand, *hostkey;
	long		 jobs;
	int		 cmp_jobs;
	double		 speed;
	int		 cmp_speed;
};
static const struct nixcase {
	const char	*name, *input, *versions, *system;
	int		 error, nm;
	const char	*file1, *text1, *file2, *text2, *source;
	struct nixm	 m[4];
} nixcases[] = {
#include "nixcases.h"
};

static void
write_text(const char *path, const char *text)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) == EOF) {
		perror(path);
		exit(2);
	}
}

/* s with @T@ made the scratch directory, into a new string. */
static char *
at_tmp(const char *s)
{
	char	*out, *o;
	size_t	 n = strlen(s) + 1;
	const char *p;

	for (p = s; (p = strstr(p, "@T@")) != NULL; p += 3)
		n += strlen(tmp);
	if ((out = o = malloc(n)) == NULL)
		exit(2);
	while (*s != '\0') {
		if (strncmp(s, "@T@", 3) == 0) {
			o += sprintf(o, "%s", tmp);
			s += 3;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	return out;
}

static void
joined(const struct strlist *l, char *buf, size_t sz)
{
	size_t	 i;

	buf[0] = '\0';
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			strlcat(buf, ",", sz);
		strlcat(buf, l->v[i], sz);
	}
}

static void
nix_one(const struct nixcase *c, const char *ver)
{
	struct machines	 ms;
	char		*in, *f, buf[1024], name[256];
	size_t		 i;
	int		 rc;

	for (i = 0; i < 2; i++) {
		const char *fn = i == 0 ? c->file1 : c->file2;
		const char *tx = i == 0 ? c->text1 : c->text2;
		if (fn == NULL)
			continue;
		f = at_tmp(fn);
		xsnprintf(buf, sizeof(buf), "mkdir -p \"$(dirname '%s')\"", f);
		if (system(buf) != 0)
			exit(2);
		write_text(f, tx);
		free(f);
	}
	in = at_tmp(c->input);
	(void)machines_rules(ver);
	capture();
	rc = machines_parse(in, strlen(in), "--builders", c->system, &ms);
	free(captured());
	(void)machines_rules(NULL);
	xsnprintf(name, sizeof(name), "at %s", ver);
	if (c->error) {
		if (rc != -1)
			no("%s: parsed (%zu builders), Nix refuses it", name,
			    ms.n);
		goto out;
	}
	if (rc == -1) {
		no("%s: refused, Nix takes it", name);
		goto out;
	}
	if (ms.n != (size_t)c->nm) {
		no("%s: %zu builders, Nix %d", name, ms.n, c->nm);
		goto out;
	}
	for (i = 0; i < ms.n; i++) {
		const struct machine	*m = &ms.v[i];
		const struct nixm	*w = &c->m[i];

		joined(&m->systems, buf, sizeof(buf));
		if (strcmp(buf, w->systems) != 0)
			no("%s: builder %zu: systems \"%s\", Nix \"%s\"", name,
			    i + 1, buf, w->systems);
		if (strcmp(m->ssh_key ? m->ssh_key : "", w->key) != 0)
			no("%s: builder %zu: key \"%s\", Nix \"%s\"", name, i + 1,
			    m->ssh_key ? m->ssh_key : "", w->key);
		if (w->cmp_jobs && m->max_jobs != w->jobs)
			no("%s: builder %zu: max jobs %ld, Nix %ld", name, i + 1,
			    m->max_jobs, w->jobs);
		if (w->cmp_speed && (float)m->speed_factor != (float)w->speed)
			no("%s: builder %zu: speed %g, Nix %g", name, i + 1,
			    m->speed_factor, w->speed);
		joined(&m->supported, buf, sizeof(buf));
		if (strcmp(buf, w->sup) != 0)
			no("%s: builder %zu: supported \"%s\", Nix \"%s\"", name,
			    i + 1, buf, w->sup);
		joined(&m->mandatory, buf, sizeof(buf));
		if (strcmp(buf, w->mand) != 0)
			no("%s: builder %zu: mandatory \"%s\", Nix \"%s\"", name,
			    i + 1, buf, w->mand);
		if (strcmp(m->host_key_b64 ? m->host_key_b64 : "",
		    w->hostkey) != 0)
			no("%s: builder %zu: host key differs", name, i + 1);
	}
out:
	machines_free(&ms);
	free(in);
}

static void
test_nix_cases(void)
{
	char	 vers[512], *v, *next, name[256];
	size_t	 i;

	for (i = 0; i < nitems(nixcases); i++) {
		strlcpy(vers, nixcases[i].versions, sizeof(vers));
		for (v = vers; v != NULL; v = next) {
			if ((next = strchr(v, ',')) != NULL)
				*next++ = '\0';
			nix_one(&nixcases[i], v);
		}
		xsnprintf(name, sizeof(name), "parse_nix_%zu %s (%s)", i,
		    nixcases[i].name, nixcases[i].source);
		report(name, 1);
	}
}

/* Golden machines files: data/machines/NAME.in. */
static void
machines_golden(void)
{
	DIR		*d;
	struct dirent	*e;
	struct strlist	 names = { NULL, 0, 0 };
	struct machines	 ms;
	char		 path[PATH_MAX], name[256], *buf, *err, *out, *json;
	size_t		 i, len, n;
	int		 rc;

	if ((d = opendir("data/machines")) == NULL) {
		no("data/machines: %s", strerror(errno));
		report("parse_golden_machines", 1);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if ((n = strlen(e->d_name)) > 3 &&
		    strcmp(e->d_name + n - 3, ".in") == 0)
			strlist_add(&names, e->d_name);
	closedir(d);
	strlist_sort_uniq(&names);
	for (i = 0; i < names.n; i++) {
		n = strlen(names.v[i]) - 3;
		xsnprintf(path, sizeof(path), "%s/machines/%s", golden_data,
		    names.v[i]);
		if (conf_read_file(path, CONF_FILE_MAX, &buf, &len,
		    NULL) == -1) {
			no("%s: %s", path, strerror(errno));
			continue;
		}
		/* those tests/machines.sh holds to Nix 2.8 ("oracle" on
		 * their first line) as it reads them, the others as the
		 * newest Nix does */
		(void)machines_rules(strstr(buf, "oracle") != NULL &&
		    strstr(buf, "oracle") < buf + strcspn(buf, "\n") ?
		    "2.8.0" : NULL);
		capture();
		rc = machines_parse(buf, len, path, SYS, &ms);
		err = captured();
		out = rc == 0 ? golden_listing(&ms, 0) : NULL;
		json = rc == 0 ? golden_listing(&ms, 1) : NULL;
		xsnprintf(path, sizeof(path), "data/machines/%.*s.out", (int)n,
		    names.v[i]);
		golden_check(path, out, "listing");
		xsnprintf(path, sizeof(path), "data/machines/%.*s.err", (int)n,
		    names.v[i]);
		golden_check(path, golden_opt(err), "stderr");
		xsnprintf(path, sizeof(path), "data/machines/%.*s.json", (int)n,
		    names.v[i]);
		if (access(path, F_OK) == 0)
			golden_check(path, json, "JSON listing");
		free(buf);
		free(err);
		free(out);
		free(json);
		machines_free(&ms);
		xsnprintf(name, sizeof(name), "parse_golden_%.*s", (int)n,
		    names.v[i]);
		report(name, 1);
	}
	strlist_free(&names);
	(void)machines_rules(NULL);
}

int
main(int argc, char *argv[])
{
	golden_init(argc, argv);
	tmp = scratch_dir();

	machines_table();
	test_uri_merge();
	test_json();
	test_nix_cases();
	test_limits();
	test_default_file();
	machines_golden();
	return done();
}
