/*
 * One build on one builder, for `build`'s workers and for the hook alike:
 * send the inputs the builder lacks, have it build with BuildDerivation,
 * bring the wanted outputs home.  The caller owns the conversation with
 * the builder (it opens it, and knows when it is lost); the job opens the
 * local store when it first needs it, and keeps it for the next job.
 *
 * Here too, once: which build results are successes, and what a failed
 * one means as Nix's exit statuses.
 */
#include <stdlib.h>
#include <string.h>

#include "extern.h"

void
job_init(struct job *j, const char *host, struct conn *remote)
{
	memset(j, 0, sizeof(*j));
	j->host = host;
	j->remote = remote;
	j->log_fd = -1;
	j->note_fd = -1;
	j->since = clock_wall();	/* notes before the first job */
	lease_init(&j->lease);
}

/*
 * For a process with one build whose outputs come home without the
 * caller's locks (the hook on Nix 2.29+): the local store now, while the
 * broker is still free to ask (before the slot's "take"): the daemon's
 * socket, else a nix-store the broker keeps warm, which outlives the
 * hook's process group and serves the next build.  Else local_ready
 * starts one when it is needed.
 */
static void
local_early(struct job *j)
{
	int	 flags = j->quiet ? CONN_QUIET : 0;

	if (!j->unlocked || j->have_local)
		return;
	if (store_daemon(&j->local, flags) == 0)
		j->have_local = 1;
	else if (lease_local_get(&j->lease, &j->local, flags) == 0)
		j->have_local = j->local_warm = 1;
}

/*
 * The session with builder m, in j's remote conversation (flags as for
 * ssh_open_store), its health recorded either way: a failure counts once
 * per incident (health_failed).  Returns 0, or -1 (j->remote->f says
 * why).
 */
int
job_open(struct job *j, const struct machine *m, int flags)
{
	int	 warm = (flags & CONN_WARM) != 0;

	j->m = m;
	j->began = clock_wall();
	lease_close(&j->lease);		/* a session before this one's */
	flags &= ~CONN_WARM;
	/* for a process with one build: a session the broker kept warm */
	if (warm && lease_open(&j->lease, m, 0) == 0 &&
	    lease_session_get(&j->lease, m, j->remote, flags) == 0) {
		health_ok(m);
		local_early(j);
		lease_ask(&j->lease, m);
		return 0;
	}
	if (ssh_open_store(&m->uri, j->remote, flags) == -1) {
		health_failed(m, &j->remote->f, j->began);
		return -1;
	}
	health_ok(m);
	/* and a second, asking at once for a slot on the builder */
	if (warm && j->lease.up) {
		local_early(j);
		lease_ask(&j->lease, m);
		return 0;
	}
	return lease_open(&j->lease, m, 1);
}

/*
 * Done with the session, its conversation finished: given back to the
 * broker for the next process when it came from there (job_open with
 * CONN_WARM), else ended.  Returns 0, or -1 when it did not end cleanly.
 */
int
job_session_end(struct job *j)
{
	if (j->m != NULL && lease_session_put(&j->lease, j->m, j->remote) == 0)
		return 0;
	return ssh_close(j->remote);
}

/*
 * The session with the builder failed in a job: when the builder is to
 * blame (j->remote->f), it counts against it, once per incident.  Returns
 * whether it was the builder's failure.
 */
int
job_lost(struct job *j)
{
	if (!FAIL_BUILDER(j->remote->f.kind))
		return 0;
	if (j->m != NULL)
		health_failed(j->m, &j->remote->f, j->began);
	return 1;
}

/* What this process has cost so far, into c. */
void
cost_now(struct cost *c)
{
	c->rtt = wire_round_trips;
	c->here = spawn_count;
	c->there = ssh_sessions;
}

/* c += b - a */
void
cost_add(struct cost *c, const struct cost *a, const struct cost *b)
{
	c->rtt += b->rtt - a->rtt;
	c->here += b->here - a->here;
	c->there += b->there - a->there;
}

/* Say at -v what builds cost (n of them, 0: don't divide). */
void
cost_say(const char *who, const struct cost *c, size_t n)
{
	if (n <= 1)
		log_debug(1, "%s: %llu round trips with builders, %llu "
		    "processes started here, %llu on builders", who,
		    (unsigned long long)c->rtt, (unsigned long long)c->here,
		    (unsigned long long)c->there);
	else
		log_debug(1, "%s: %llu round trips with builders, %llu "
		    "processes started here, %llu on builders, for %zu "
		    "derivations (%.1f, %.1f and %.1f each)", who,
		    (unsigned long long)c->rtt, (unsigned long long)c->here,
		    (unsigned long long)c->there, n, (double)c->rtt / n,
		    (double)c->here / n, (double)c->there / n);
}

/* What every build gets from the configuration c: its limits. */
void
job_options(struct build_options *o, const struct conf *c)
{
	o->max_silent_time = (uint64_t)c->max_silent_time;
	o->timeout = (uint64_t)c->timeout;
	o->max_log_size = (uint64_t)c->max_log_size;
	o->keep_failed = c->keep_failed;
}

/* The job's slot is in state now (see activity.c); "idle" ends the job. */
void
job_note(struct job *j, const char *state)
{
	if (strcmp(state, "idle") == 0) {
		j->drv = NULL;
		j->since = clock_wall();
	}
	act_slot(j->note_fd, j->host, state, j->drv, j->since);
}

/* Did the builder build, or have, the outputs? */
int
job_ok(int status)
{
	return status <= BUILD_ALREADY_VALID ||
	    status == BUILD_RESOLVES_TO_ALREADY_VALID;
}

/*
 * What a failed build result adds to Nix's exit status (nix-build and
 * nix-store -r): EXIT_BUILD_BITS | these bits, 100 for a build that
 * failed, 101 timed out, 102 output rejected (a hash mismatch), 104 not
 * deterministic.  0 for a failure without a bit of its own (exit 1).
 */
unsigned
job_fail_bits(int status)
{
	switch (status) {
	case BUILD_TIMED_OUT:
		return EXIT_BIT_FAILED | EXIT_BIT_TIMEOUT;
	case BUILD_OUTPUT_REJECTED:
		return EXIT_BIT_FAILED | EXIT_BIT_HASH;
	case BUILD_NOT_DETERMINISTIC:
		return EXIT_BIT_NONDET;
	case BUILD_PERMANENT_FAILURE:
	case BUILD_INPUT_REJECTED:
	case BUILD_TRANSIENT_FAILURE:
	case BUILD_LOG_LIMIT_EXCEEDED:
		return EXIT_BIT_FAILED;
	default:
		return 0;
	}
}

/*
 * A build hook's exit status for a failed build: Nix reads only 101 (timed
 * out) and 100 (failed); anything else it takes for the hook's own failure.
 */
int
job_hook_exit(int status)
{
	return status == BUILD_TIMED_OUT ? EXIT_BUILD_TIMEOUT :
	    EXIT_BUILD_FAILED;
}

/*
 * The local store, opened on first use: leaves with no inputs whose
 * outputs stay on the builder never need it, and starting a nix-store
 * costs more than building a trivial derivation.
 */
static int
local_ready(struct job *j)
{
	if (j->have_local)
		return 0;
	/* the daemon's socket, where no import needs the caller's locks */
	j->local_warm = 0;
	if (store_open(&j->local, (j->quiet ? CONN_QUIET : 0) |
	    (j->unlocked ? CONN_DAEMON : 0)) == -1)
		return -1;
	j->have_local = 1;
	return 0;
}

/*
 * Hold paths (in the local store) against garbage collection for as long
 * as j's local session lives: what the local machine built, until the run
 * is done with it.  Returns 0, or -1 (said).
 */
int
job_hold(struct job *j, const struct strlist *paths)
{
	struct strlist	 valid = { NULL, 0, 0 };
	int		 rc;

	if (paths->n == 0)
		return 0;
	if (local_ready(j) == -1)
		return -1;
	rc = proto_valid(&j->local, paths, 1, 0, &valid);
	strlist_free(&valid);
	return rc;
}

static void
step(struct job *j, enum job_step s, int begin)
{
	static const char *const doing[] = { "copying", "building",
	    "fetching" };

	if (begin)
		job_note(j, doing[s]);
	if (j->step != NULL)
		j->step(j->arg, s, begin);
}

static int
cmp_origin(const void *a, const void *b)
{
	return strcmp(((const struct job_origin *)a)->path,
	    ((const struct job_origin *)b)->path);
}

/*
 * The builder may give us the outputs of d (drvpath), and nothing else we
 * did not ask it for: j keeps pointers into d, which must outlive it.
 * Returns 0, or -1 (reported).
 */
int
job_allow(struct job *j, const char *drvpath, const struct drv *d)
{
	struct job_origin	*v;
	size_t			 i;

	for (i = 0; i < d->noutputs; i++) {
		if (d->outputs[i].path[0] == '\0')
			continue;	/* not known before it is built */
		if (j->norigins == j->origins_alloc) {
			size_t	 na = j->origins_alloc ? 2 * j->origins_alloc : 16;
			if ((v = reallocarray(j->origins, na,
			    sizeof(*v))) == NULL) {
				log_err("job");
				return -1;
			}
			j->origins = v;
			j->origins_alloc = na;
		}
		v = &j->origins[j->norigins++];
		v->path = d->outputs[i].path;
		v->drvpath = drvpath;
		v->out = &d->outputs[i];
	}
	j->origins_sorted = 0;
	return 0;
}

/* The derivation output path is of, if j allows it, or NULL. */
static const struct job_origin *
origin(struct job *j, const char *path)
{
	struct job_origin	 key;

	if (!j->origins_sorted) {
		if (j->norigins > 0)
			qsort(j->origins, j->norigins, sizeof(*j->origins),
			    cmp_origin);
		j->origins_sorted = 1;
	}
	if (j->norigins == 0)
		return NULL;
	key.path = path;
	return bsearch(&key, j->origins, j->norigins, sizeof(*j->origins),
	    cmp_origin);
}

/* Forget what job_allow allowed. */
void
job_free(struct job *j)
{
	lease_close(&j->lease);
	free(j->origins);
	j->origins = NULL;
	j->norigins = j->origins_alloc = 0;
}

/*
 * A builder's record of a floating output: content-addressed the way its
 * derivation asks ("r:sha256" is "fixed:r:sha256:..."), at the path that
 * names that content address and those references.
 */
static int
vet_floating(struct conn *remote, const struct job_origin *o,
    struct path_info *pi)
{
	const char	*a = o->out->hash_algo;
	char		 want[64], *dv;

	if (strncmp(a, "text:", 5) == 0)
		snprintf(want, sizeof(want), "%s:", a);
	else
		snprintf(want, sizeof(want), "fixed:%s:", a);
	if (pi->ca == NULL || strncmp(pi->ca, want, strlen(want)) != 0 ||
	    !ca_path_matches(pi->path, pi->ca, &pi->refs)) {
		wire_error(remote, FAIL_PROTOCOL, "%s, output %s of %s, is not "
		    "the content-addressed path of what the builder says it "
		    "holds: not imported", pi->path, o->out->name, o->drvpath);
		return -1;
	}
	if ((dv = strdup(o->drvpath)) == NULL) {
		log_err("job");
		return -1;
	}
	free(pi->deriver);
	pi->deriver = dv;
	return 0;
}

/*
 * A builder's record of an output we fetch: its deriver is the
 * derivation we asked to build, its content address the one that
 * derivation declares (none for an input-addressed output), whatever the
 * builder said.
 */
static int
vet(void *arg, struct conn *remote, struct path_info *pi)
{
	const struct job_origin	*o = origin(arg, pi->path);
	char			 ca[CA_MAX], *dv, *c;

	if (o == NULL) {
		wire_error(remote, FAIL_PROTOCOL, "%s was not asked for: not "
		    "imported", pi->path);
		return -1;
	}
	if (o->out->path[0] == '\0')
		return vet_floating(remote, o, pi);
	if (ca_output(o->out, ca, sizeof(ca)) == -1) {
		/* the .drv's, not the builder's */
		wire_error(remote, FAIL_OTHER, "%s: output %s: its hash "
		    "\"%s:%s\" is not one Nix writes", o->drvpath, o->out->name,
		    o->out->hash_algo, o->out->hash);
		return -1;
	}
	if ((dv = strdup(o->drvpath)) == NULL || (c = strdup(ca)) == NULL) {
		free(dv);
		log_err("job");
		return -1;
	}
	free(pi->deriver);
	free(pi->ca);
	pi->deriver = dv;
	pi->ca = c;
	return 0;
}

/*
 * Which of paths (a set) does the local store lack?  Added to missing;
 * all are held as temporary roots for as long as the session lasts.
 */
static int
local_missing(struct job *j, const struct strlist *paths,
    struct strlist *missing)
{
	struct strlist	 valid = { NULL, 0, 0 };
	size_t		 i;
	int		 rc = -1;

	if (proto_valid(&j->local, paths, 1, 0, &valid) == -1)
		goto out;
	strlist_sort_uniq(&valid);
	for (i = 0; i < paths->n; i++)
		if (!strlist_in_set(&valid, paths->v[i]) &&
		    strlist_add(missing, paths->v[i]) == -1)
			goto out;
	rc = 0;
out:
	strlist_free(&valid);
	return rc;
}

/* Append the m records src to the *n of *all, which takes them. */
static int
records_add(struct path_info **all, size_t *n, struct path_info *src,
    size_t m)
{
	struct path_info	*v;

	if (m > 0) {
		if ((v = reallocarray(*all, *n + m, sizeof(*v))) == NULL) {
			log_err("job");
			serve_path_infos_free(src, m);
			return -1;
		}
		memcpy(v + *n, src, m * sizeof(*v));
		*all = v;
		*n += m;
	}
	free(src);
	return 0;
}

/* The builder's records of exactly paths, in one round trip. */
static int
records_of(struct job *j, const struct strlist *paths, struct path_info **pi,
    size_t *n)
{
	if (proto_infos(j->remote, paths, pi, n) == -1)
		return -1;
	if (*n != paths->n) {
		wire_error(j->remote, FAIL_PROTOCOL, "%zu of %zu paths to bring "
		    "home are not valid on the builder", paths->n - *n,
		    paths->n);
		return -1;
	}
	return 0;
}

/* Is every one of paths an output job_allow allowed?  Said if not. */
static int
all_asked(struct job *j, const struct strlist *paths, const char *how)
{
	size_t	 i;

	for (i = 0; i < paths->n; i++)
		if (origin(j, paths->v[i]) == NULL) {
			wire_error(j->remote, FAIL_PROTOCOL, "the builder gave "
			    "%s %s: nothing imported", paths->v[i], how);
			return -1;
		}
	return 0;
}

/* A builder's references are store paths before they are looked up. */
static int
refs_are_paths(struct job *j, const struct strlist *refs)
{
	size_t	 i;
	char	 q[256];

	for (i = 0; i < refs->n; i++)
		if (!path_valid(STORE_DIR, refs->v[i])) {
			wire_error(j->remote, FAIL_PROTOCOL, "the builder gave "
			    "\"%s\" as a reference, which is not a store "
			    "path: nothing imported", text_printable(refs->v[i],
			    strlen(refs->v[i]), q, sizeof(q)));
			return -1;
		}
	return 0;
}

/*
 * The closure of the n records pi (outputs) that the local store lacks,
 * their records added to *pi: what they refer to is here already (held
 * as temporary roots from now on), or must be an output this build asked
 * for, whose record is asked for in turn, a level per round trip (none,
 * usually: a build's inputs are here).
 */
static int
records_closure(struct job *j, struct path_info **pi, size_t *n)
{
	struct strlist		 known = { NULL, 0, 0 }, refs = { NULL, 0, 0 };
	struct strlist		 missing = { NULL, 0, 0 };
	struct path_info	*more;
	size_t			 i, k, from = 0, m;
	int			 rc = -1;

	for (;;) {
		for (i = from; i < *n; i++)
			if (strlist_add(&known, (*pi)[i].path) == -1)
				goto out;
		strlist_sort_uniq(&known);
		for (i = from; i < *n; i++)
			for (k = 0; k < (*pi)[i].refs.n; k++)
				if (!strlist_in_set(&known, (*pi)[i].refs.v[k]) &&
				    strlist_add(&refs, (*pi)[i].refs.v[k]) == -1)
					goto out;
		strlist_sort_uniq(&refs);
		from = *n;
		if (refs.n == 0)
			break;
		if (refs_are_paths(j, &refs) == -1 ||
		    local_missing(j, &refs, &missing) == -1 ||
		    all_asked(j, &missing, "as a reference, which is neither "
		    "in the local store nor among the paths this build asked "
		    "for") == -1)
			goto out;
		strlist_free(&refs);
		if (missing.n == 0)
			break;
		if (records_of(j, &missing, &more, &m) == -1 ||
		    records_add(pi, n, more, m) == -1)
			goto out;
		strlist_free(&missing);
	}
	rc = 0;
out:
	strlist_free(&known);
	strlist_free(&refs);
	strlist_free(&missing);
	return rc;
}

/*
 * Bring outputs home from the builder, given its n records pi of them
 * (taken), with what of their closure the local store lacks, in one
 * stream.  A builder is trusted with what it was asked to build and
 * nothing more: every path that would come must be an output job_allow
 * allowed; anything else is a lie, and nothing of the answer is imported.
 */
static int
fetch_records(struct job *j, const struct strlist *outputs,
    struct path_info *pi, size_t n)
{
	struct strlist		 all = { NULL, 0, 0 }, need = { NULL, 0, 0 };
	struct transfer_stats	 st = { 0, 0 };
	struct transfer_vet	 v = { vet, j };
	struct path_info	 t;
	size_t			 i, k;
	int			 rc = -1;

	if (local_ready(j) == -1)
		goto free;
	step(j, JOB_OUTPUTS, 1);
	if (n != outputs->n) {
		wire_error(j->remote, FAIL_PROTOCOL, "%zu of %zu outputs to "
		    "bring home are not valid on the builder", outputs->n - n,
		    outputs->n);
		goto out;
	}
	if (records_closure(j, &pi, &n) == -1)
		goto out;
	for (i = 0; i < n; i++)
		if (strlist_add(&all, pi[i].path) == -1)
			goto out;
	strlist_sort_uniq(&all);
	if (local_missing(j, &all, &need) == -1 ||
	    all_asked(j, &need, "as a path to bring home, which this build "
	    "did not ask for") == -1)
		goto out;
	/* the records of what is needed first, in the order given */
	for (i = k = 0; i < n; i++)
		if (strlist_in_set(&need, pi[i].path)) {
			t = pi[k];
			pi[k++] = pi[i];
			pi[i] = t;
		}
	log_debug(1, "%s: %zu paths to bring home", j->host, k);
	rc = transfer_fetch(j->remote, &j->local, pi, k, &v, j->unlocked, &st);
out:
	step(j, JOB_OUTPUTS, 0);
free:
	j->bytes += st.bytes;
	serve_path_infos_free(pi, n);
	strlist_free(&all);
	strlist_free(&need);
	return rc;
}

/* Bring outputs, built on the builder before, home (fetch_records). */
int
job_fetch(struct job *j, const struct strlist *outputs)
{
	struct path_info	*pi;
	size_t			 n;

	if (proto_infos(j->remote, outputs, &pi, &n) == -1)
		return -1;
	return fetch_records(j, outputs, pi, n);
}

/*
 * After a build of d (drvpath) that has floating outputs: where the
 * builder says the wanted ones went (r->built) is taken only as a path of
 * the output's name, and only the content-addressed path of what it holds
 * (vet_floating) is brought home; then their realisations are registered
 * here, keyed as Nix keys them.  d has no input derivations (Nix resolves
 * a floating derivation before its hook sees it).  Returns 0, or -1
 * (reported).
 */
int
job_fetch_built(struct job *j, const char *drvpath, const struct drv *d,
    const struct strlist *wanted, const struct build_result *r)
{
	struct strlist	 paths = { NULL, 0, 0 }, json = { NULL, 0, 0 };
	struct job_origin *v;
	struct path_info *pi;
	char		 hex[65], name[PATH_MAX_LEN], want[PATH_MAX_LEN];
	char		 text[2 * PATH_MAX_LEN];
	const char	*path;
	size_t		 i, k, n;
	int		 rc = -1;

	for (i = 0; i < d->noutputs; i++)
		if (d->outputs[i].path[0] == '\0' &&
		    strlist_has(wanted, d->outputs[i].name))
			break;
	if (i == d->noutputs)
		return 0;	/* none floating: fetched with the build */
	if (drv_hash_modulo(d, hex) == -1 ||
	    drv_name(drvpath, name, sizeof(name)) == -1) {
		log_errx("%s: not a derivation whose floating outputs "
		    "nix-offload can register", drvpath);
		return -1;
	}
	for (i = 0; i < d->noutputs; i++) {
		const struct drv_output *o = &d->outputs[i];
		if (o->path[0] != '\0' || !strlist_has(wanted, o->name))
			continue;
		for (k = 0, path = NULL; k + 1 < r->built.n && !path; k += 2)
			if (strcmp(r->built.v[k], o->name) == 0)
				path = r->built.v[k + 1];
		if ((size_t)snprintf(want, sizeof(want), "%s%s%s", name,
		    strcmp(o->name, "out") ? "-" : "",
		    strcmp(o->name, "out") ? o->name : "") >= sizeof(want))
			want[0] = '\0';
		if (path == NULL || strcmp(path + strlen(STORE_DIR) + 34,
		    want) != 0) {
			wire_error(j->remote, FAIL_PROTOCOL, "built %s but %s "
			    "output %s: nothing imported", drvpath, path ?
			    "named a path of another name as" : "did not say "
			    "where it put", o->name);
			goto out;
		}
		if (j->norigins == j->origins_alloc) {
			size_t	 na = j->origins_alloc ? 2 * j->origins_alloc : 16;
			if ((v = reallocarray(j->origins, na,
			    sizeof(*v))) == NULL) {
				log_err("job");
				goto out;
			}
			j->origins = v;
			j->origins_alloc = na;
		}
		v = &j->origins[j->norigins++];
		v->path = path;
		v->drvpath = drvpath;
		v->out = o;
		j->origins_sorted = 0;
		if ((size_t)snprintf(text, sizeof(text), "{\"dependentRealisations\":{},"
		    "\"id\":\"sha256:%s!%s\",\"outPath\":\"%s\","
		    "\"signatures\":[]}", hex, o->name,
		    path + strlen(STORE_DIR) + 1) >= sizeof(text)) {
			log_errx("%s: output %s: a name too long", drvpath,
			    o->name);
			goto out;
		}
		if (strlist_add(&paths, path) == -1 ||
		    strlist_add(&json, text) == -1)
			goto out;
	}
	/*
	 * Every record vetted, also of a path valid here already (which is
	 * not fetched again); valid here once fetched: a realisation names
	 * a valid path.
	 */
	if (paths.n == 0 || proto_infos(j->remote, &paths, &pi, &n) == -1)
		goto out;
	for (i = 0; i < n; i++)
		if (vet(j, j->remote, &pi[i]) == -1) {
			serve_path_infos_free(pi, n);
			goto out;
		}
	rc = fetch_records(j, &paths, pi, n) == -1 ? -1 :
	    store_realisations(&json);
out:
	strlist_free(&paths);
	strlist_free(&json);
	return rc;
}

/*
 * Of paths, those in the local store, with their closure, into closure:
 * the others were built on the builder and are there already.
 */
static int
local_closure(struct job *j, const struct strlist *paths,
    struct strlist *closure)
{
	struct strlist	 valid = { NULL, 0, 0 };
	int		 rc = -1;

	if (paths->n == 0)
		return 0;
	if (local_ready(j) == -1 ||
	    proto_valid(&j->local, paths, 0, 0, &valid) == -1)
		goto out;
	if (valid.n > 0 &&
	    proto_closure(&j->local, &valid, 0, closure) == -1)
		goto out;
	rc = 0;
out:
	strlist_free(&valid);
	return rc;
}

/*
 * The .drv of drvpath and its closure, to a builder that builds only
 * derivations it has (proto_drv_first): .drv files are content-addressed,
 * so a daemon takes them from a user it does not trust.
 */
static int
send_drv(struct job *j, const char *drvpath)
{
	struct strlist		 one = { NULL, 0, 0 }, closure = { NULL, 0, 0 };
	struct transfer_stats	 st = { 0, 0 };
	int			 rc = -1;

	if (local_ready(j) == -1 || strlist_add(&one, drvpath) == -1 ||
	    proto_closure(&j->local, &one, 0, &closure) == -1)
		goto out;
	step(j, JOB_INPUTS, 1);
	rc = transfer_to(&j->local, j->remote, &closure, 0, &st);
	step(j, JOB_INPUTS, 0);
	j->bytes += st.bytes;
out:
	strlist_free(&one);
	strlist_free(&closure);
	return rc;
}

/*
 * text with its lines after the first indented by 7 spaces, as Nix
 * indents an error's, into buf (cut to fit).  Returns buf.
 */
static char *
indented(const char *text, char *buf, size_t sz)
{
	size_t	 o = 0;

	for (; *text != '\0' && o + 9 < sz; text++) {
		buf[o++] = *text;
		if (*text == '\n' && text[1] != '\0') {
			memcpy(buf + o, "       ", 7);
			o += 7;
		}
	}
	buf[o] = '\0';
	return buf;
}

/*
 * Build s's derivation and, in the same round trip, ask for the builder's
 * records of the outputs to bring home (into *pi, *n; none when there is
 * nothing to fetch).  Returns as proto_build; the records are read
 * whatever the build's result, as the conversation goes on.
 */
static int
build_asking(struct job *j, const struct job_spec *s, struct build_result *r,
    struct path_info **pi, size_t *n, int *asked)
{
	const struct strlist *which = s->fetch != NULL ? s->fetch : s->sized;
	int	 ask = which != NULL && which->n > 0, k;
	size_t	 i;

	*pi = NULL;
	*n = 0;
	j->out_size = 0;
	for (i = 0; ask && i < which->n; i++)
		ask = path_valid(STORE_DIR, which->v[i]);
	*asked = ask && s->fetch != NULL;
	if (proto_build_send(j->remote, s->drvpath, s->drv, s->inputs,
	    &j->opts) == -1 || (ask && proto_infos_ask(j->remote,
	    which) == -1))
		return -1;
	k = proto_build_read(j->remote, s->drvpath, &j->opts, r);
	if (k != -1 && ask &&
	    proto_infos_read(j->remote, which, pi, n) == -1)
		return -1;
	/* for placing what needs them: a hint, capped, never trusted */
	for (i = 0; i < *n; i++)
		j->out_size += (*pi)[i].nar_size < JOB_SIZE_HINT_MAX ?
		    (*pi)[i].nar_size : JOB_SIZE_HINT_MAX;
	return k;
}

/*
 * Run the job s on the builder.  Returns 0 when the conversation went as
 * it should, with the build's result in r (a failed build is reported
 * here, and its outputs not fetched); -1 (reported) when it did not: the
 * connection's fail tells whether the builder is to blame.
 */
int
job_run(struct job *j, const struct job_spec *s, struct build_result *r)
{
	struct strlist		 closure = { NULL, 0, 0 };
	const struct strlist	*send = s->send;
	struct transfer_stats	 st = { 0, 0 };
	struct path_info	*pi = NULL;
	size_t			 n = 0;
	int			 rc = -1, k, asked = 0;
	int64_t			 t0, t1, t2;
	char			 msg[8192], name[DRV_NAME_MAX];

	memset(r, 0, sizeof(*r));
	j->drv = s->drvpath;
	j->since = clock_wall();
	/* Nix gives the hook a whole closure, to send even when empty */
	if (!s->closed) {
		if (local_closure(j, s->send, &closure) == -1)
			goto out;
		send = &closure;
	}
	t0 = clock_ms();
	/* a slot asked for now, its answer read once the inputs are there */
	if (j->m != NULL)
		lease_ask(&j->lease, j->m);
	if (send->n > 0 || s->closed) {
		if (local_ready(j) == -1)
			goto out;
		step(j, JOB_INPUTS, 1);
		k = transfer_to(&j->local, j->remote, send, j->substitutes, &st);
		step(j, JOB_INPUTS, 0);
		j->bytes += st.bytes;
		if (k == -1)
			goto out;
	}
	if (proto_drv_first(j->remote, s->drv) &&
	    send_drv(j, s->drvpath) == -1)
		goto out;
	t1 = clock_ms();
	/* the log as it comes, or only its tail if the build fails */
	wire_echo(j->remote, j->log_tail == 0, j->log_fd, j->log_prefix);
	step(j, JOB_BUILD, 1);
	/* a slot on the builder, as long as the build runs */
	if (j->m != NULL && lease_take(&j->lease, j->m) == -1) {
		wire_error(j->remote, FAIL_OTHER, "no slot on the builder");
		step(j, JOB_BUILD, 0);
		goto out;
	}
	k = build_asking(j, s, r, &pi, &n, &asked);
	/* refused: it builds only what it has (an untrusted user) */
	if (k == 1) {
		serve_path_infos_free(pi, n);
		pi = NULL;
		n = 0;
		if ((k = send_drv(j, s->drvpath)) == 0)
			k = build_asking(j, s, r, &pi, &n, &asked);
	}
	if (k == 1)
		wire_error(j->remote, FAIL_OTHER, "building %s: the builder "
		    "refused the derivation it was sent", s->drvpath);
	lease_drop(&j->lease);
	step(j, JOB_BUILD, 0);
	if (k != 0)
		goto out;
	/* a failed build's last log lines may trail its result */
	if (!job_ok(r->status))
		wire_settle_stderr(j->remote);
	wire_echo_end(j->remote);
	t2 = clock_ms();
	if (!job_ok(r->status)) {
		/* the derivation's own failure: the user's to read, from
		 * build's workers too; its lines after the first indented,
		 * as Nix shows the error of a remote build */
		log_errx("%s: building %s failed: %s", j->host, s->name,
		    indented(r->error && *r->error ? r->error : "no message",
		    msg, sizeof(msg)));
		if (j->log_tail > 0)
			log_tail(j->remote->errtail, j->remote->errlen,
			    j->log_tail);
		/* Nix's own words, and where to look */
		if (j->opts.keep_failed) {
			if (drv_name(s->drvpath, name, sizeof(name)) == -1)
				strlcpy(name, s->name, sizeof(name));
			log_warnx("The failed build directory was kept on the "
			    "remote builder due to `--keep-failed`: on %s, "
			    "nix-build-%s.drv-N in /tmp (Nix before 2.30) or "
			    "in /nix/var/nix/builds (2.30, 2.31); since 2.32 "
			    "the newest nix-PID-N there", j->host, name);
		}
	} else if (s->fetch != NULL && s->fetch->n > 0) {
		k = asked ? fetch_records(j, s->fetch, pi, n) :
		    job_fetch(j, s->fetch);
		pi = NULL;	/* taken */
		n = 0;
		if (k == -1)
			goto out;
	}
	j->ms[JOB_INPUTS] = t1 - t0;
	j->ms[JOB_BUILD] = t2 - t1;
	j->ms[JOB_OUTPUTS] = clock_ms() - t2;
	rc = 0;
out:
	wire_echo_end(j->remote);
	serve_path_infos_free(pi, n);
	strlist_free(&closure);
	return rc;
}

/*
 * Done with the local store: closed, after what is pending if ok, else
 * dropping it (an import cut off in the middle cannot go on).  Returns
 * -1 when the local nix-store did not end well.
 */
int
job_close(struct job *j, int ok)
{
	if (!j->have_local)
		return 0;
	j->have_local = 0;
	/* the broker's: back to it for the next build */
	if (ok && j->local_warm && lease_local_put(&j->lease, &j->local) == 0)
		return 0;
	if (!ok)
		wire_discard(&j->local);
	return store_close(&j->local);
}
