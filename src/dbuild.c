/*
 * Building over Nix's daemon protocol (ssh-ng://): the build's limits
 * (SetOptions), the derivation (BuildDerivation) or, for a user the
 * daemon does not trust, its .drv (BuildPathsWithResults), and the
 * result.  The request and its answers are apart, so that other
 * requests may go in the same round trip (proto_build_send).
 */
#include <stdlib.h>
#include <string.h>

#include "extern.h"

/* verbosity and verboseBuild (SetOptions): errors only; logs verbose */
#define LVL_ERROR		0

/* Are all of d's outputs input-addressed (not fixed, floating or impure)? */
static int
input_addressed(const struct drv *d)
{
	size_t	 i;

	for (i = 0; i < d->noutputs; i++)
		if (d->outputs[i].hash_algo[0] != '\0')
			return 0;
	return 1;
}

/*
 * Nix's rule (build-remote, 2.16 on): a daemon that says the user is not
 * trusted builds an input-addressed derivation only from its .drv.
 */
int
daemon_drv_first(struct conn *c, const struct drv *d)
{
	return c->trust == DAEMON_TRUST_NOT && input_addressed(d);
}

/*
 * The build's limits, as SetOptions carries them, once per session and
 * only if some limit is set: it also sets the daemon's max-jobs and cores,
 * whose values on the builder nix-offload cannot know (1 job: one
 * derivation is built; cores 0: all).  An untrusted user may not set
 * max-build-log-size: it is left out for one.
 */
static int
set_options(struct conn *c, const struct build_options *o)
{
	int	 logsize = o->max_log_size > 0 && c->trust != DAEMON_TRUST_NOT;
	char	 num[32];

	if (c->options_sent || (o->max_silent_time == 0 && o->timeout == 0 &&
	    o->max_log_size == 0 && !o->keep_failed))
		return 0;
	c->options_sent = 1;
	if (wire_write_u64(c, OP_SET_OPTIONS) == -1 ||
	    wire_write_u64(c, o->keep_failed != 0) == -1 ||
	    wire_write_u64(c, 0) == -1 ||		/* keep going */
	    wire_write_u64(c, 0) == -1 ||		/* try fallback */
	    wire_write_u64(c, LVL_ERROR) == -1 ||	/* verbosity */
	    wire_write_u64(c, 1) == -1 ||		/* max-jobs */
	    wire_write_u64(c, o->max_silent_time) == -1 ||
	    wire_write_u64(c, 1) == -1 ||		/* (use build hook) */
	    wire_write_u64(c, LVL_ERROR) == -1 ||	/* verbose build */
	    wire_write_u64(c, 0) == -1 ||		/* (log type) */
	    wire_write_u64(c, 0) == -1 ||		/* (print build trace) */
	    wire_write_u64(c, 0) == -1 ||		/* cores: all */
	    wire_write_u64(c, 1) == -1 ||		/* use substitutes */
	    wire_write_u64(c, (o->timeout > 0) + logsize) == -1)
		return -1;
	if (o->timeout > 0) {
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)o->timeout);
		if (wire_write_str(c, "timeout") == -1 ||
		    wire_write_str(c, num) == -1)
			return -1;
	}
	if (logsize) {
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)o->max_log_size);
		if (wire_write_str(c, "max-build-log-size") == -1 ||
		    wire_write_str(c, num) == -1)
			return -1;
	}
	if (o->max_log_size > 0 && !logsize)
		log_debug(1, "%s: max-build-log-size is not sent: the "
		    "builder's user is not trusted", c->host);
	return 1;
}

/* A BuildDerivation: d as a BasicDerivation, its inputSrcs srcs. */
static int
write_basic(struct conn *c, const char *drvpath, const struct drv *d,
    const struct strlist *srcs)
{
	struct strlist	 sorted = { NULL, 0, 0 };
	size_t		 j;
	int		 rc = -1;

	for (j = 0; j < srcs->n; j++)
		if (strlist_add(&sorted, srcs->v[j]) == -1)
			goto out;
	strlist_sort_uniq(&sorted);
	if (wire_write_u64(c, OP_BUILD_DERIVATION) == -1 ||
	    wire_write_str(c, drvpath) == -1 ||
	    wire_write_u64(c, d->noutputs) == -1)
		goto out;
	for (j = 0; j < d->noutputs; j++)
		if (wire_write_str(c, d->outputs[j].name) == -1 ||
		    wire_write_str(c, d->outputs[j].path) == -1 ||
		    wire_write_str(c, d->outputs[j].hash_algo) == -1 ||
		    wire_write_str(c, d->outputs[j].hash) == -1)
			goto out;
	if (wire_write_strings(c, &sorted) == -1 ||
	    wire_write_str(c, d->platform) == -1 ||
	    wire_write_str(c, d->builder) == -1 ||
	    wire_write_strings(c, d->args) == -1 ||
	    wire_write_u64(c, d->nenv) == -1)
		goto out;
	for (j = 0; j < d->nenv; j++)
		if (wire_write_str(c, d->env[j].key) == -1 ||
		    wire_write_str(c, d->env[j].value) == -1)
			goto out;
	rc = wire_write_u64(c, 0);		/* build mode: normal */
out:
	strlist_free(&sorted);
	return rc;
}

/*
 * A BuildResult: status, message; at 1.29 times built, not
 * deterministic, start and stop; at 1.37 CPU times; at 1.28 (last on the
 * wire) the built outputs (into r->built).
 */
static int
read_result(struct conn *c, const char *drvpath, struct build_result *r)
{
	uint64_t	 v, n, i, k;
	char		*a, *b, err[sizeof(c->why)];
	int		 bad;

	if (wire_read_u64(c, &v) == -1 ||
	    wire_read_string(c, WIRE_STRING_MAX, &r->error, NULL) == -1)
		return -1;
	text_clean(r->error);
	if (v > BUILD_STATUS_MAX) {
		snprintf(c->why, sizeof(c->why), "unknown result status %llu",
		    (unsigned long long)v);
		return -1;
	}
	r->status = (int)v;
	if (DAEMON_MINOR(c->version) >= 29 &&
	    (wire_read_u64(c, &r->times_built) == -1 ||
	    wire_read_u64(c, &v) == -1 ||
	    wire_read_u64(c, &r->start) == -1 ||
	    wire_read_u64(c, &r->stop) == -1))
		return -1;
	r->nondet = DAEMON_MINOR(c->version) >= 29 && v != 0;
	for (k = 0; DAEMON_MINOR(c->version) >= 37 && k < 2; k++)
		if (wire_read_u64(c, &v) == -1 || v > 1 ||
		    (v == 1 && wire_read_u64(c, &v) == -1)) {
			if (v > 1)
				snprintf(c->why, sizeof(c->why), "a CPU time "
				    "tagged %llu", (unsigned long long)v);
			return -1;
		}
	if (DAEMON_MINOR(c->version) < 28)
		return 0;
	if (wire_read_u64(c, &n) == -1)
		return -1;
	if (n > DRV_OUTPUTS_MAX) {
		snprintf(c->why, sizeof(c->why), "building %s: %llu built "
		    "outputs, over the limit of %d", drvpath,
		    (unsigned long long)n, DRV_OUTPUTS_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (wire_read_string(c, WIRE_PATH_MAX, &a, NULL) == -1)
			return -1;
		if (wire_read_string(c, REALISATION_MAX, &b, NULL) == -1) {
			free(a);
			return -1;
		}
		bad = build_output_add(r, a, b, err, sizeof(err)) == -1;
		free(a);
		free(b);
		if (bad) {
			snprintf(c->why, sizeof(c->why), "%s", err);
			return -1;
		}
	}
	return 0;
}

/* The one result of a BuildPathsWithResults for drvpath!*. */
static int
read_results(struct conn *c, const char *drvpath, struct build_result *r)
{
	uint64_t	 n;
	char		*p;
	size_t		 len = strlen(drvpath);
	int		 ok;

	if (wire_read_u64(c, &n) == -1)
		return -1;
	if (n != 1) {
		snprintf(c->why, sizeof(c->why), "%llu results for one "
		    "derivation", (unsigned long long)n);
		return -1;
	}
	if (wire_read_string(c, WIRE_PATH_MAX + DRV_NAME_MAX, &p, NULL) == -1)
		return -1;
	ok = strncmp(p, drvpath, len) == 0 && p[len] == '!';
	free(p);
	if (!ok) {
		snprintf(c->why, sizeof(c->why), "the result of a derivation "
		    "that was not asked for");
		return -1;
	}
	return read_result(c, drvpath, r);
}

/*
 * Ask the daemon to build d: with BuildDerivation, sending d itself, or,
 * for an untrusted user and an input-addressed d, with
 * BuildPathsWithResults of its .drv, which the caller sent first
 * (proto_drv_first); after SetOptions, when limits are set.  Nothing is
 * read: daemon_build_read reads the answers.
 */
int
daemon_build_send(struct conn *c, const char *drvpath, const struct drv *d,
    const struct strlist *srcs, const struct build_options *o)
{
	char	 what[PATH_MAX_LEN + 32];
	int	 opts;

	c->by_drv = daemon_drv_first(c, d);
	snprintf(what, sizeof(what), "building %s", drvpath);
	log_debug(1, "%s: building %s with %s", c->host, drvpath, c->by_drv ?
	    "BuildPathsWithResults: the builder's user is not trusted, the "
	    ".drv was sent" : "BuildDerivation");
	if ((opts = set_options(c, o)) == -1)
		return daemon_send_failed(c, what);
	c->options_pending = opts == 1;
	if (c->by_drv) {
		snprintf(what, sizeof(what), "%s!*", drvpath);
		if (wire_write_u64(c, OP_BUILD_PATHS_WITH_RESULTS) == -1 ||
		    wire_write_u64(c, 1) == -1 || wire_write_str(c, what) == -1 ||
		    wire_write_u64(c, 0) == -1)		/* build mode: normal */
			return daemon_send_failed(c, what);
	} else if (write_basic(c, drvpath, d, srcs) == -1)
		return daemon_send_failed(c, what);
	return 0;
}

/*
 * The answers to daemon_build_send: the build's result into r.  A daemon
 * that did not say whether we are trusted and refuses the first way is
 * answered 1: the caller sends the .drv and asks again.
 */
int
daemon_build_read(struct conn *c, const char *drvpath,
    const struct build_options *o, struct build_result *r)
{
	struct daemon_err e;
	int		 saved = c->timeout_ms, k, rc = -1;
	char		 what[PATH_MAX_LEN + 32];

	memset(r, 0, sizeof(*r));
	snprintf(what, sizeof(what), "building %s", drvpath);
	if (wire_flush(c) == -1)
		return daemon_send_failed(c, what);
	if (c->options_pending) {
		c->options_pending = 0;
		if (daemon_reply(c, "setting the build's limits") == -1)
			return -1;
	}
	c->timeout_ms = proto_build_wait(c, o);
	if ((k = daemon_messages(c, &e)) == 1 && !c->by_drv &&
	    c->trust == DAEMON_TRUST_UNKNOWN &&
	    strstr(e.msg, "not privileged to build input-addressed") != NULL) {
		/* an untrusted user of a daemon that does not say so */
		log_debug(1, "%s: the builder's user is not trusted: sending "
		    "the .drv", c->host);
		c->trust = DAEMON_TRUST_NOT;
		rc = 1;
	} else if (k == 1)
		daemon_refused(c, &e, what);
	else if (k == -1 || (c->by_drv ? read_results(c, drvpath, r) :
	    read_result(c, drvpath, r)) == -1)
		wire_fail(c, "%s", what);
	else
		rc = 0;
	c->timeout_ms = saved;
	return rc;
}
