/*
 * nix-offload: global options, and the command to run (usage.c has the
 * table, and here what runs each).  Commands return an exit status;
 * nothing below main() exits.
 */
#include <sys/resource.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

static int	 cmd_help(int, char **);
static int	 cmd_version(int, char **);

/* What runs each command of usage.c's table. */
static const struct {
	const char	*name;
	int		(*fn)(int, char **);
} runs[] = {
	{ "build", cmd_build }, { "copy", cmd_copy }, { "check", cmd_check },
	{ "machines", cmd_machines }, { "enable", cmd_enable },
	{ "status", cmd_status }, { "why", cmd_why }, { "hook", cmd_hook },
	{ "store-info", cmd_store_info }, { "help", cmd_help },
	{ "version", cmd_version }
};

/* nix-offload help [command] */
static int
cmd_help(int argc, char **argv)
{
	const struct usage	*c = NULL;

	if (argc > 2) {
		usage_error("help");
		return EXIT_USAGE;
	}
	if (argc == 2 && (c = usage_find(argv[1])) == NULL) {
		log_errx("help: unknown command \"%s\" (see nix-offload --help)",
		    argv[1]);
		return EXIT_USAGE;
	}
	usage_print(stdout, c);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
}

/* nix-offload version */
static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("nix-offload %s\n", NIX_OFFLOAD_VERSION_STR);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
}

/*
 * Asks for the help of a command rather than to run it: "--help" among
 * its arguments (those before a "--"), or "-h" first.
 */
static int
wants_help(int argc, char **argv)
{
	int	 i;

	if (argc > 1 && strcmp(argv[1], "-h") == 0)
		return 1;
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0)
			return 1;
	return 0;
}

/* The help of all commands on stderr, through log.c: no command given. */
static void
usage(void)
{
	char	*text = NULL;
	size_t	 len;
	FILE	*f;

	if ((f = open_memstream(&text, &len)) == NULL) {
		log_errx("usage: nix-offload [-v...] command [arg ...] "
		    "(see nix-offload --help)");
		return;
	}
	usage_print(f, NULL);
	if (fclose(f) == 0)
		log_text(text);
	free(text);
}

int
main(int argc, char *argv[])
{
	const struct usage	*c;
	struct rusage		 ru;
	const char		*p0;
	size_t			 k;
	int			 i, rc;

	signal(SIGPIPE, SIG_IGN);
	title_init(argc, argv);
	/* Nix 2.8 runs build-hook as one path: libexec/.../build-hook */
	if ((p0 = strrchr(argv[0], '/')) != NULL)
		p0++;
	else
		p0 = argv[0];
	if (strcmp(p0, "build-hook") == 0) {
		if (wants_help(argc, argv)) {
			usage_print(stdout, usage_find("hook"));
			return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
		}
		if (ssh_init() == -1)
			return EXIT_USAGE;
		return cmd_hook(argc, argv);
	}
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *p = argv[i] + 1;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			usage_print(stdout, NULL);
			return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
		}
		if (strcmp(argv[i], "--version") == 0)
			return cmd_version(1, argv + i);
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
		usage();
		return EXIT_USAGE;
	}
	if ((c = usage_find(argv[i])) == NULL) {
		log_errx("unknown command \"%s\" (see nix-offload --help)",
		    argv[i]);
		return EXIT_USAGE;
	}
	if (wants_help(argc - i, argv + i)) {
		usage_print(stdout, c);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
	}
	if (((c->needs & CMD_SSH) && ssh_init() == -1) ||
	    ((c->needs & CMD_RUNDIR) && rundir_fd() == -1))
		return EXIT_USAGE;
	for (k = 0; strcmp(runs[k].name, c->name) != 0; k++)
		;	/* every command of the table runs */
	rc = runs[k].fn(argc - i, argv + i);
	if (verbose >= 2 && getrusage(RUSAGE_SELF, &ru) == 0)
		log_debug(2, "peak memory %ld KiB", ru.ru_maxrss);
	return rc;
}
