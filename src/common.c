/*
 * The start-up the commands with builders share: builder-options
 * (--builders SPEC, --option NAME VALUE) and --json among their options,
 * then nix.conf as Nix reads it with those on top, and the builders.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

void
common_init(struct common *cm)
{
	memset(cm, 0, sizeof(*cm));
	conf_init(&cm->conf);
}

/*
 * An option every command with builders takes: applied to cm (1), or not
 * one of them (0); -1 (reported) for a bad value.  --builders and
 * --option are remembered, so that conf_load applies them again after
 * the files.
 */
int
common_option(struct common *cm, const struct usage_opt *o)
{
	int	 rc;

	if (strcmp(o->name, "--json") == 0) {
		cm->json = 1;
		return 1;
	}
	if (strcmp(o->name, "--builders") == 0)
		rc = conf_cmdline(&cm->conf, "builders", o->arg[0],
		    "--builders");
	else if (strcmp(o->name, "--option") == 0)
		rc = conf_cmdline(&cm->conf, o->arg[0], o->arg[1], "--option");
	else
		return 0;
	if (rc == -1)
		return -1;
	if (rc == 1)
		log_warnx("--option %s: not a setting nix-offload uses, "
		    "ignored", o->arg[0]);
	return 1;
}

/* Add the machines of from to to, whose they are now. */
static int
append(struct machines *to, struct machines *from)
{
	struct machine	*v;

	if (from->n == 0)
		return 0;
	if (to->n + from->n > MACHINES_MAX) {
		log_errx("NIX_REMOTE_SYSTEMS: more than %d builders",
		    MACHINES_MAX);
		return -1;
	}
	if ((v = reallocarray(to->v, to->n + from->n, sizeof(*v))) == NULL) {
		log_err("builders");
		return -1;
	}
	memcpy(v + to->n, from->v, from->n * sizeof(*v));
	strlcpy(to->rules, from->rules, sizeof(to->rules));
	to->v = v;
	to->n += from->n;
	free(from->v);
	memset(from, 0, sizeof(*from));
	return 0;
}

/*
 * The builders a subcommand works with: conf_load, unless done, then the
 * builders setting parsed with conf->system as the local system.  When
 * builders is not set, that is $NIX_CONF_DIR/machines, or as in Nix 2.8
 * the files of the legacy NIX_REMOTE_SYSTEMS (`:`-separated); such a
 * default file may be missing.  Returns 0 with ms filled (machines_free
 * frees it), or -1 (reported) with ms empty: then nothing is to be
 * attempted.
 */
int
common_machines(struct conf *c, struct machines *ms)
{
	struct machines	 part;
	char		 path[PATH_MAX];
	const char	*env, *rv;
	size_t		 n;
	char		 v[64];

	memset(ms, 0, sizeof(*ms));
	if (!c->loaded && conf_load(c) == -1)
		return -1;
	/* as the installed Nix reads them, or the one named */
	if ((rv = getenv("NIX_OFFLOAD_NIX_RULES")) != NULL && *rv != '\0')
		strlcpy(v, rv, sizeof(v));
	else if (nixver_local(v, sizeof(v)) == -1)
		v[0] = '\0';
	log_debug(1, "builders: read as Nix %s reads them", machines_rules(
	    v[0] != '\0' ? v : NULL));
	if (c->builders != NULL)
		return machines_parse(c->builders, strlen(c->builders),
		    c->builders_src, c->system, ms);
	if ((env = getenv("NIX_REMOTE_SYSTEMS")) == NULL || *env == '\0') {
		if (conf_path(path, sizeof(path), "machines") == -1)
			return -1;
		return machines_parse_file(path, 1, c->system, ms);
	}
	for (;;) {
		env += strspn(env, ":");
		if (*env == '\0')
			return 0;
		n = strcspn(env, ":");
		if ((size_t)snprintf(path, sizeof(path), "%.*s", (int)n,
		    env) >= sizeof(path)) {
			log_errx("NIX_REMOTE_SYSTEMS: a path is too long");
			goto fail;
		}
		env += n;
		if (machines_parse_file(path, 1, c->system, &part) == -1)
			goto fail;
		if (append(ms, &part) == -1) {
			machines_free(&part);
			goto fail;
		}
	}
fail:
	machines_free(ms);
	return -1;
}

/*
 * After the options: nix.conf as Nix reads it, the options on top, and
 * the builders.  Returns 0, or -1 (reported): a usage or configuration
 * error (EXIT_USAGE).
 */
int
common_load(struct common *cm)
{
	return common_machines(&cm->conf, &cm->ms);
}

void
common_free(struct common *cm)
{
	machines_free(&cm->ms);
	conf_free(&cm->conf);
}
