/*
 * Unit tests for src/conf.c: nix.conf and the environment, as Nix reads
 * them, and the builders they name (common_machines); the defaults; the
 * settings the hook forwards.
 *
 * Golden configurations: data/conf/NAME/env sets the environment
 * (VAR=VALUE lines, "\n" for a newline); then NAME/settings lists
 * settings as `nix show-config` prints them (absent: conf_load must fail),
 * NAME/machines the listing common_machines makes ("!": it must fail;
 * absent: not tried), NAME/stderr what goes to stderr (absent: nothing).
 * They are used from a copy of data/ (golden.c); tests/machines.sh checks
 * every one against Nix 2.8.
 *
 * Run from tests/: unit/t_conf.  `unit/t_conf -u` rewrites NAME/machines
 * and NAME/stderr from what the code does now: review the diff before
 * committing.
 */
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

static const char	*tmp;		/* the scratch directory */

/*
 * Golden configurations: data/conf/NAME/.  settings holds lines as
 * `nix show-config` prints them, each compared with conf_value.
 */
static void
conf_golden(void)
{
	DIR		*d;
	struct dirent	*e;
	struct strlist	 names = { NULL, 0, 0 };
	struct conf	 c;
	struct machines	 ms;
	char		 dir[PATH_MAX], gdir[PATH_MAX], path[PATH_MAX];
	char		 name[256], val[4096];
	char		*settings, *line, *next, *eq, *err, *err2, *out, *m;
	size_t		 i;
	int		 rc;

	if ((d = opendir("data/conf")) == NULL) {
		no("data/conf: %s", strerror(errno));
		report("parse_golden_conf", 1);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			strlist_add(&names, e->d_name);
	closedir(d);
	strlist_sort_uniq(&names);
	for (i = 0; i < names.n; i++) {
		xsnprintf(dir, sizeof(dir), "%s/conf/%s", golden_data,
		    names.v[i]);
		xsnprintf(gdir, sizeof(gdir), "data/conf/%s", names.v[i]);
		if (golden_env(dir) == -1)
			continue;
		xsnprintf(path, sizeof(path), "%s/settings", gdir);
		settings = golden_read(path);
		conf_init(&c);
		capture();
		rc = conf_load(&c);
		err = captured();
		out = NULL;
		if (settings == NULL && rc != -1)
			no("conf_load succeeded, expected an error");
		else if (settings != NULL && rc == -1)
			no("conf_load failed: %s", err);
		for (line = settings; rc == 0 && line != NULL && *line != '\0';
		    line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			if ((eq = strstr(line, " = ")) == NULL)
				continue;
			*eq = '\0';
			if (conf_value(&c, line, val, sizeof(val)) == -1)
				no("%s: no such setting", line);
			else if (strcmp(val, eq + 3) != 0)
				no("%s = \"%s\", expected \"%s\"", line, val,
				    eq + 3);
		}
		xsnprintf(path, sizeof(path), "%s/machines", gdir);
		m = golden_read(path);
		if (rc == 0 && m != NULL) {
			capture();
			rc = common_machines(&c, &ms);
			err2 = captured();
			out = rc == 0 ? golden_listing(&ms, 0) : strdup("!\n");
			golden_check(path, out, "listing");
			machines_free(&ms);
			if ((err = realloc(err, strlen(err) +
			    strlen(err2) + 1)) == NULL)
				exit(2);
			strcat(err, err2);
			free(err2);
		}
		xsnprintf(path, sizeof(path), "%s/stderr", gdir);
		golden_check(path, golden_opt(err), "stderr");
		conf_free(&c);
		free(settings);
		free(err);
		free(out);
		free(m);
		xsnprintf(name, sizeof(name), "parse_conf_%s", names.v[i]);
		report(name, 1);
	}
	golden_env_clear();
	strlist_free(&names);
}

/* Defaults, with nothing configured at all. */
static void
test_defaults(void)
{
	struct conf	 c;
	char		 val[256];
	long		 n = sysconf(_SC_NPROCESSORS_ONLN);

	setenv("NIX_CONF_DIR", tmp, 1);
	setenv("NIX_USER_CONF_FILES", "", 1);
	conf_init(&c);
	if (conf_load(&c) == -1)
		no("conf_load failed");
	xsnprintf(val, sizeof(val), "@%s/machines", tmp);
	if (c.builders != NULL)
		no("builders set");
	if (c.max_jobs != 1 || c.timeout != 0 || c.max_silent_time != 0 ||
	    c.builders_use_substitutes != 0)
		no("numbers are not Nix's defaults");
	if (c.system == NULL || strchr(c.system, '-') == NULL)
		no("system = %s", c.system ? c.system : "(null)");
	if (conf_value(&c, "system-features", val, sizeof(val)) == -1 ||
	    strncmp(val, "benchmark big-parallel", 22) != 0)
		no("system-features = %s", val);
	if (conf_set(&c, "max-jobs", "auto", "-") != 0 || c.max_jobs != n)
		no("max-jobs = auto: %ld, expected %ld", c.max_jobs, n);
	if (conf_set(&c, "build-max-jobs", "3", "-") != 0 || c.max_jobs != 3)
		no("build-max-jobs: not max-jobs");
	if (conf_set(&c, "extra-max-jobs", "4", "-") != 1 || c.max_jobs != 3)
		no("extra-max-jobs: not ignored");
	conf_free(&c);
	unsetenv("NIX_CONF_DIR");
	unsetenv("NIX_USER_CONF_FILES");
	report("parse_conf_defaults", 1);
}

/* The settings the hook forwards: the table's names and old aliases. */
static void
test_setting_known(void)
{
	static const struct {
		const char	*name;
		int		 known;
	} t[] = {
		{ "builders", 1 }, { "builders-use-substitutes", 1 },
		{ "extra-platforms", 1 }, { "max-build-log-size", 1 },
		{ "build-max-log-size", 1 }, { "max-jobs", 1 },
		{ "build-max-jobs", 1 }, { "max-silent-time", 1 },
		{ "build-max-silent-time", 1 }, { "system", 1 },
		{ "system-features", 1 }, { "timeout", 1 },
		{ "build-timeout", 1 },
		{ "extra-system-features", 0 }, { "extra-max-jobs", 0 },
		{ "substituters", 0 }, { "max-jobs ", 0 }, { "Builders", 0 },
		{ "", 0 }
	};
	struct conf	 c;
	char		 val[4096];
	size_t		 i;

	conf_init(&c);
	for (i = 0; i < nitems(t); i++) {
		if (conf_setting_known(t[i].name) != t[i].known)
			no("%s: known %d, expected %d", t[i].name,
			    conf_setting_known(t[i].name), t[i].known);
		if (t[i].known && conf_value(&c, t[i].name, val,
		    sizeof(val)) == -1)
			no("%s: known, yet no value", t[i].name);
	}
	conf_free(&c);
	report("parse_conf_setting_known", 1);
}

int
main(int argc, char *argv[])
{
	golden_init(argc, argv);
	tmp = scratch_dir();

	conf_golden();
	test_defaults();
	test_setting_known();
	return done();
}
