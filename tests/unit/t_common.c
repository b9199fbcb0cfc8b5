/*
 * Unit tests for src/common.c: the options every command with builders
 * takes (common_option, through usage_next), and the command line winning
 * over nix.conf.  Run from tests/ (data/conf/basic is the nix.conf).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"
#include "harness.h"
#include "golden.h"

/*
 * One word of a command line through usage_next and common_option, as
 * every command with builders reads it: 1 taken, 0 not a common option,
 * -1 refused; *i moves past it.
 */
static int
common_word(struct common *cm, int argc, char **argv, int *i)
{
	struct usage_opt	 o;
	int			 r;

	memset(&o, 0, sizeof(o));
	r = usage_next(usage_find("machines"), argc, argv, i, &o);
	if (r == -1)
		return -1;
	if (r != USAGE_OPTION)
		return 0;
	return common_option(cm, &o);
}

/* The command line wins over nix.conf, whatever the order. */
static void
test_cmdline(void)
{
	struct common	 cm;
	char		 dir[PATH_MAX], val[256], *err;
	char		*argv[] = { "machines", "--option", "max-jobs", "5",
	    "--json", "--builders", "b1 aarch64-linux", "--option",
	    "extra-system-features", "cmd", "--option", "no-such-setting",
	    "x", NULL };
	int		 argc = nitems(argv) - 1, i = 1, others = 0;

	xsnprintf(dir, sizeof(dir), "%s/conf/basic", golden_data);
	golden_env(dir);
	common_init(&cm);
	capture();
	while (i < argc)
		switch (common_word(&cm, argc, argv, &i)) {
		case -1:
			no("refused at %s", argv[i]);
			i = argc;
			break;
		case 0:
			others++;
			break;
		}
	if (others != 0 || !cm.json)
		no("%d other arguments, --json %s", others, cm.json ?
		    "taken" : "not taken");
	if (conf_load(&cm.conf) == -1)
		no("conf_load failed");
	if (conf_value(&cm.conf, "max-jobs", val, sizeof(val)) == -1 ||
	    strcmp(val, "5") != 0)
		no("max-jobs = %s, expected 5", val);
	if (conf_value(&cm.conf, "system-features", val, sizeof(val)) == -1 ||
	    strcmp(val, "big-parallel cmd foo kvm") != 0)
		no("system-features = %s", val);
	if (strcmp(cm.conf.builders_src, "--builders") != 0)
		no("builders from %s", cm.conf.builders_src);
	if (common_load(&cm) == -1 || cm.ms.n != 1 ||
	    strcmp(cm.ms.v[0].source, "--builders") != 0 ||
	    strcmp(cm.ms.v[0].systems.v[0], "aarch64-linux") != 0)
		no("builders not from --builders");
	err = captured();
	if (strcmp(err, "nix-offload: warning: --option no-such-setting: not a "
	    "setting nix-offload uses, ignored\n") != 0)
		no("stderr: %s", err);
	free(err);
	common_free(&cm);
	report("parse_conf_cmdline_wins", 1);
}

static const struct optcase {
	const char	*name;
	const char	*args[4];
	int		 rc;
	const char	*err;
} optcases[] = {
	{ "builders_no_value", { "--builders" }, -1,
	  "nix-offload: machines: --builders needs 1 word after it (see "
	  "nix-offload machines --help)\n" },
	{ "option_no_value", { "--option", "max-jobs" }, -1,
	  "nix-offload: machines: --option needs 2 words after it (see "
	  "nix-offload machines --help)\n" },
	{ "option_bad_value", { "--option", "max-jobs", "many" }, -1,
	  "nix-offload: --option: max-jobs = many: expected auto or a whole "
	  "number from 0 to 2147483647\n" },
	{ "option_bad_bool", { "--option", "builders-use-substitutes",
	  "maybe" }, -1, "nix-offload: --option: builders-use-substitutes = "
	  "maybe: expected true or false\n" },
	/* bytes, as Nix 2.8 reads them (tests/build.sh asks Nix itself) */
	{ "option_log_size_unit", { "--option", "max-build-log-size",
	  "10MB" }, -1, "nix-offload: --option: max-build-log-size = 10MB: "
	  "expected a whole number of bytes from 0 (no limit) to "
	  "18446744073709551615\n" },
	{ "option_log_size_negative", { "--option", "max-build-log-size",
	  "-1" }, -1, "nix-offload: --option: max-build-log-size = -1: "
	  "expected a whole number of bytes from 0 (no limit) to "
	  "18446744073709551615\n" },
	{ "option_log_size_bytes", { "--option", "max-build-log-size",
	  "1048576" }, 1, "" },
	{ "other_argument", { "x.nix" }, 0, "" },
	{ "unknown_option", { "--bogus" }, -1,
	  "nix-offload: machines: unknown option --bogus (see nix-offload "
	  "machines --help)\n" },
	{ "builders_empty", { "--builders", "" }, 1, "" },
	{ "verbose_any_command", { "-vv", "--json" }, 1, "" },
};

static void
test_options(void)
{
	const struct optcase	*o;
	struct common		 cm;
	char			*argv[6], name[128], *err;
	size_t			 k;
	int			 argc, i, rc, v0 = verbose;

	for (k = 0; k < nitems(optcases); k++) {
		o = &optcases[k];
		argv[0] = "machines";
		for (argc = 1; argc < 5 && o->args[argc - 1] != NULL; argc++)
			argv[argc] = (char *)o->args[argc - 1];
		argv[argc] = NULL;
		common_init(&cm);
		i = 1;
		verbose = 0;
		capture();
		rc = common_word(&cm, argc, argv, &i);
		err = captured();
		if (rc != o->rc)
			no("returned %d, expected %d", rc, o->rc);
		if (rc == 1 && i != argc)
			no("left i at %d, expected %d", i, argc);
		if (strcmp(o->name, "verbose_any_command") == 0 && verbose != 2)
			no("-vv: verbose %d", verbose);
		if (strcmp(err, o->err) != 0)
			no("stderr:\nwant: %s\ngot:  %s", o->err, err);
		free(err);
		common_free(&cm);
		xsnprintf(name, sizeof(name), "parse_option_%s", o->name);
		report(name, 1);
	}
	verbose = v0;
}

int
main(int argc, char *argv[])
{
	golden_init(argc, argv);

	test_cmdline();
	test_options();
	return done();
}
