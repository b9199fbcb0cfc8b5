/*
 * The local machine as one more builder of `build`, as Nix has it: with
 * nix.conf's max-jobs above 0 it has that many slots, its system and
 * extra-platforms, its system-features, and is taken when no builder has
 * a free slot, or first for a derivation that prefers a local build
 * (preferLocalBuild).  A derivation goes to it only once its inputs are
 * here; the local Nix builds it (`nix-store --realise`, its builders
 * turned off, so that it is not sent away again) and its outputs are
 * here when it is done.  Its log goes where a builder's goes, behind the
 * same prefix; Nix's own words about the build are not part of it.
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

#define LOCAL_ERROR_MAX	1024	/* the first line of Nix's error kept */

struct realise {
	struct conn	*c;		/* the log's echo and tail */
	char		 error[LOCAL_ERROR_MAX];
	int		 in_error;	/* the lines that follow Nix's error */
};

/* A line of nix-store's stderr: the build's log, or Nix's own words. */
static int
err_line(void *arg, const char *line)
{
	struct realise	*r = arg;
	size_t		 sl = strlen(STORE_DIR);

	if (strncmp(line, "error: ", 7) == 0 && r->error[0] == '\0') {
		strlcpy(r->error, line + 7, sizeof(r->error));
		r->in_error = 1;
		return 0;
	}
	/* the plan, "building '...'", the error's own tail, and a word
	 * on GC roots (the run's own hold the outputs) */
	if (r->in_error || strncmp(line, "building '", 10) == 0 ||
	    strncmp(line, "warning: you did not specify '--add-root'",
	    41) == 0 ||
	    strncmp(line, "warning: ignoring the client-specified setting",
	    46) == 0 ||
	    strncmp(line, "these ", 6) == 0 ||
	    strncmp(line, "this derivation ", 16) == 0 ||
	    (strncmp(line, "  ", 2) == 0 &&
	    strncmp(line + 2, STORE_DIR, sl) == 0))
		return 0;
	wire_log(r->c, line, strlen(line));
	wire_log(r->c, "\n", 1);
	return 0;
}

/* nix-store's exit status as a build's result (Nix's 100 + bits). */
static int
result_of(int status)
{
	if (WIFEXITED(status))
		switch (WEXITSTATUS(status)) {
		case EXIT_OK:
			return BUILD_BUILT;
		case EXIT_BUILD_TIMEOUT:
			return BUILD_TIMED_OUT;
		case EXIT_BUILD_HASH:
			return BUILD_OUTPUT_REJECTED;
		case EXIT_BUILD_NONDET:
			return BUILD_NOT_DETERMINISTIC;
		case EXIT_BUILD_FAILED:
			return BUILD_PERMANENT_FAILURE;
		}
	return BUILD_MISC_FAILURE;
}

/*
 * Build s's derivation here, its inputs all here: as job_run does on a
 * builder, the result in r and a failure said once.  Returns 0, or -1
 * when nix-store could not be run at all.
 */
int
local_build(struct job *j, const struct job_spec *s, struct build_result *r)
{
	struct realise	 rz;
	struct args	 a = { NULL, 0, 0 };
	char		 msg[LOCAL_ERROR_MAX + 64];
	int		 status = -1, rc;

	memset(r, 0, sizeof(*r));
	memset(&rz, 0, sizeof(rz));
	rz.c = j->remote;
	wire_init(j->remote, -1, -1, -1, LOCAL_URI);
	wire_echo(j->remote, j->log_tail == 0, j->log_fd, j->log_prefix);
	j->drv = s->drvpath;
	j->since = clock_wall();
	job_note(j, "building");
	/* one build, here: the slot is the limit, not nix.conf's max-jobs */
	rc = args_add(&a, "nix-store") | args_add(&a, "--realise") |
	    args_add(&a, "%s", s->drvpath) | args_add(&a, "--max-jobs") |
	    args_add(&a, "1") | args_add(&a, "--option") |
	    args_add(&a, "builders") | args_add(&a, "%s", "");
	if (j->opts.max_silent_time > 0)
		rc |= args_add(&a, "--option") |
		    args_add(&a, "max-silent-time") |
		    args_add(&a, "%llu", (unsigned long long)j->opts.max_silent_time);
	if (j->opts.timeout > 0)
		rc |= args_add(&a, "--option") | args_add(&a, "timeout") |
		    args_add(&a, "%llu", (unsigned long long)j->opts.timeout);
	if (rc != 0 || store_args(&a) == -1) {
		args_free(&a);
		log_err("%s", LOCAL_URI);
		return -1;
	}
	/* the local Nix keeps its own time limits: no silence limit here */
	rc = spawn_streams(a.list, " (install Nix, or put nix-store on the "
	    "PATH)", 0, 0, NULL, err_line, &rz, &status);
	args_free(&a);
	wire_echo_end(j->remote);
	if (rc == -1 && status == -1)
		return -1;
	r->status = result_of(status);
	if (r->status == BUILD_BUILT)
		return 0;
	if (rz.error[0] == '\0')
		snprintf(rz.error, sizeof(rz.error), "nix-store --realise "
		    "ended with status %d", WIFEXITED(status) ?
		    WEXITSTATUS(status) : 128 + WTERMSIG(status));
	r->error = strdup(rz.error);
	text_printable(rz.error, strlen(rz.error), msg, sizeof(msg));
	log_errx("%s: building %s failed: %s", LOCAL_URI, s->name, msg);
	if (j->log_tail > 0)
		log_tail(j->remote->errtail, j->remote->errlen, j->log_tail);
	return 0;
}

/* How to pick for d: the local machine first if d prefers a local build. */
int
local_sched_flags(const struct drv *d)
{
	const char	*v = drv_env(d, "preferLocalBuild");

	return v != NULL && strcmp(v, "1") == 0 ? SCHED_LOCAL_FIRST : 0;
}

/*
 * The local machine, appended to ms when conf's max-jobs is above 0.
 * Returns 0, or -1 (reported).
 */
int
local_machine_add(struct machines *ms, const struct conf *c)
{
	struct machine	*v, *m;
	size_t		 i;

	if (c->max_jobs <= 0)
		return 0;
	if ((v = reallocarray(ms->v, ms->n + 1, sizeof(*v))) == NULL) {
		log_err("builders");
		return -1;
	}
	ms->v = v;
	m = &v[ms->n];
	memset(m, 0, sizeof(*m));
	m->local = 1;
	m->usable = 1;
	m->max_jobs = c->max_jobs;
	m->speed_factor = 1.0;
	strlcpy(m->source, "max-jobs", sizeof(m->source));
	strlcpy(m->uri.display, LOCAL_URI, sizeof(m->uri.display));
	if ((m->uri_text = strdup(LOCAL_URI)) == NULL ||
	    strlist_add(&m->systems, c->system) == -1)
		goto fail;
	for (i = 0; i < c->extra_platforms.n; i++)
		if (strlist_add(&m->systems, c->extra_platforms.v[i]) == -1)
			goto fail;
	for (i = 0; i < c->system_features.n; i++)
		if (strlist_add(&m->supported, c->system_features.v[i]) == -1)
			goto fail;
	ms->n++;
	return 0;
fail:
	log_err("builders");
	ms->n++;	/* machines_free frees what it has */
	return -1;
}
