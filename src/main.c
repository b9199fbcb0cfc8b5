/*
 * nix-offload: the command table, global options and exit statuses.
 * Commands return an exit status; nothing below main() exits.
 */
#include <sys/resource.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

static const char usage_text[] =
"usage: nix-offload [-v...] COMMAND [ARGS]\n"
"\n"
"commands:\n"
"  build [--builders SPEC] [--option NAME VALUE] [-o LINK] [-j N]\n"
"        [--keep-going] [--keep-failed] [--json] [-A ATTR]\n"
"        [--arg NAME EXPR] [--argstr NAME STRING] DRV|FILE.nix|EXPR ...\n"
"             build on the builders, bring the outputs home, print them\n"
"  copy (--to|--from) URI [--include-outputs] PATH ...\n"
"             copy closures to or from a builder, like nix-copy-closure\n"
"  check [--json] [-j N] [--builders SPEC] [--option NAME VALUE]\n"
"             probe every builder: up, round trip, Nix, disk, load, writes\n"
"  machines [--json] [--builders SPEC] [--option NAME VALUE]\n"
"             the effective builders, every field, where it came from,\n"
"             and whether it is down (skipped after failures)\n"
"  enable URI... | --all\n"
"             try builders that are down again at once\n"
"  hook VERBOSITY (also __build-remote, and libexec/nix-offload/build-hook)\n"
"             Nix's build hook: build-hook = .../libexec/nix-offload/build-hook\n"
"  store-info [--json] [--store] URI\n"
"             connect to an ssh:// store, complete the serve handshake,\n"
"             print the protocol and Nix version it speaks\n"
"  help       this text\n"
"  version    print nix-offload's version\n"
"\n"
"options:\n"
"  -v         say more (-v decisions, -vv protocol steps and the ssh\n"
"             command line, -vvvv ssh's own debug output)\n"
"\n"
"environment:\n"
"  NIX_SSHOPTS                  extra ssh options, split like a shell would\n"
"  NIX_OFFLOAD_SSH              the ssh program (default: ssh)\n"
"  NIX_OFFLOAD_RUNTIME_DIR      control sockets, slot locks, health (default:\n"
"                               root: /run/nix-offload; others:\n"
"                               $XDG_RUNTIME_DIR/nix-offload or\n"
"                               /tmp/nix-offload-UID); must be 0700, ours\n"
"  NIX_OFFLOAD_PERSIST          seconds an idle master stays (default 300)\n"
"  NIX_OFFLOAD_CONNECT_TIMEOUT  seconds to connect (default 10)\n"
"  NIX_OFFLOAD_ALIVE_INTERVAL   seconds between keepalives (default 15)\n"
"  NIX_OFFLOAD_IO_TIMEOUT       seconds a builder may be silent outside a\n"
"                               build (default 300)\n"
"  NIX_OFFLOAD_BACKOFF          seconds a failed builder is skipped, x3 for\n"
"                               each failure in a row (default 60)\n"
"  NIX_OFFLOAD_SLOT_TIMEOUT     seconds to wait for a builder's slot that\n"
"                               other processes hold (default 43200)\n"
"  NIX_CONF_DIR, NIX_USER_CONF_FILES, XDG_CONFIG_HOME, XDG_CONFIG_DIRS,\n"
"  NIX_CONFIG                   where nix.conf is read, as Nix reads it\n"
"\n"
"exit status: 0 ok, 1 error, 2 usage or configuration, 3 unreachable,\n"
"4 authentication refused, 5 host key, 6 no nix-store on the builder,\n"
"7 shell banner, 8 protocol, 9 connection dropped; build: 100 a build\n"
"failed, 101 timed out, 102 hash mismatch, 104 not deterministic (as\n"
"Nix); see nix-offload(1).\n";

/*
 * rundir: the command cannot start without its runtime directory (the
 * hook checks it itself: it must still answer Nix).
 */
static const struct cmd {
	const char	*name;
	int		(*fn)(int, char **);
	int		 rundir;
} cmds[] = {
	{ "store-info", cmd_store_info, 1 },
	{ "ping", cmd_store_info, 1 },	/* Nix 2.8's name for it */
	{ "machines", cmd_machines, 0 },
	{ "enable", cmd_enable, 1 },
	{ "check", cmd_check, 1 },
	{ "copy", cmd_copy, 1 },
	{ "build", cmd_build, 1 },
	{ "status", cmd_status, 1 },
	{ "why", cmd_why, 1 },
	{ "hook", cmd_hook, 0 },
	{ "__build-remote", cmd_hook, 0 },	/* newer Nix's name */
	{ NULL, NULL, 0 }
};

int
main(int argc, char *argv[])
{
	const struct cmd	*c;
	struct rusage		 ru;
	const char		*p0;
	int			 i, rc;

	signal(SIGPIPE, SIG_IGN);
	/* Nix 2.8 runs build-hook as one path: libexec/.../build-hook */
	if ((p0 = strrchr(argv[0], '/')) != NULL)
		p0++;
	else
		p0 = argv[0];
	if (strcmp(p0, "build-hook") == 0) {
		if (ssh_init() == -1)
			return EXIT_USAGE;
		return cmd_hook(argc, argv);
	}
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *p = argv[i] + 1;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("nix-offload %s\n", NIX_OFFLOAD_VERSION_STR);
			return EXIT_OK;
		}
		if (strcmp(argv[i], "--verbose") == 0) {
			verbose++;
			continue;
		}
		for (; *p == 'v'; p++)
			verbose++;
		if (*p != '\0' || p == argv[i] + 1) {
			log_errx("unknown option %s (see nix-offload --help)",
			    argv[i]);
			return EXIT_USAGE;
		}
	}
	if (i == argc) {
		log_text(usage_text);
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[i], "version") == 0) {
		printf("nix-offload %s\n", NIX_OFFLOAD_VERSION_STR);
		return EXIT_OK;
	}
	for (c = cmds; c->name != NULL; c++)
		if (strcmp(argv[i], c->name) == 0)
			break;
	if (c->name == NULL) {
		log_errx("unknown command \"%s\" (see nix-offload --help)",
		    argv[i]);
		return EXIT_USAGE;
	}
	if (ssh_init() == -1 || (c->rundir && rundir_fd() == -1))
		return EXIT_USAGE;
	rc = c->fn(argc - i, argv + i);
	if (verbose >= 2 && getrusage(RUSAGE_SELF, &ru) == 0)
		log_debug(2, "peak memory %ld KiB", ru.ru_maxrss);
	return rc;
}
