/*
 * The run of `build`: which derivation goes to which builder, when, and
 * what happens when a builder goes away, until the graph is done.
 *
 * Each builder slot in use has a worker (worker.c).  A ready node whose
 * missing inputs all sit on one builder goes there; a node whose inputs
 * sit on several (or on one that cannot build it) goes to the fitting
 * builder where moving them costs least, and the others come home first.
 * A node whose inputs are all here goes by load and speed, unless they
 * weigh on the links: then to a builder that holds them already, as the
 * builders said at the start (hold.c).
 * Outputs that only a later build on the same builder needs stay there;
 * the rest come home with the build.
 *
 * A builder that goes away (the connection drops, stops answering, or
 * never comes up) is given up for the rest of the run: what it was
 * building, and the outputs that were only there, go back in the queue
 * for the other builders, DISPATCH_ATTEMPTS times at most per derivation,
 * and the caller hears it once (DISPATCH_MOVED), as it hears what is
 * built where (ds->event): the words are the caller's.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

#define DISPATCH_SLOT_POLL_MS	50	/* between tries for a taken slot */
#define DISPATCH_NAMES_SHOWN	5	/* moved derivations named in the line */
#define DISPATCH_SIZE_FLOOR	65536	/* bytes an output costs at least to
					   move (its round trips), and what
					   one of unknown size is taken for */
#define DISPATCH_HOLD_WAIT_MS	3000	/* for the builders' answers, at
					   most, from the run's start */

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

/*
 * Ready to run the graph g on the builders ms: at most jobs workers at
 * once (0: the builders' max-jobs together).  Returns 0, or -1 (reported).
 */
int
dispatch_init(struct dispatch *ds, struct graph *g,
    const struct machines *ms, long jobs)
{
	size_t	 i, n = ms->n ? ms->n : 1;

	memset(ds, 0, sizeof(*ds));
	ds->g = g;
	ds->ms = ms;
	if ((ds->down = calloc(n, 1)) == NULL ||
	    (ds->tried = calloc(n, 1)) == NULL ||
	    (ds->loss = calloc(n, sizeof(*ds->loss))) == NULL ||
	    (ds->probing = calloc(n, 1)) == NULL ||
	    (ds->ws.v = calloc(WORKERS_MAX, sizeof(*ds->ws.v))) == NULL) {
		log_err("build");
		dispatch_free(ds);
		return -1;
	}
	ds->jobs = jobs;
	ds->note_fd = -1;
	ds->since = clock_wall();
	if (ds->jobs == 0)
		for (i = 0; i < ms->n; i++)
			ds->jobs += ms->v[i].usable ? ms->v[i].max_jobs : 0;
	if (ds->jobs > WORKERS_MAX)
		ds->jobs = WORKERS_MAX;
	sched_init(&ds->sched, ms);
	ds->ws.g = g;
	ds->ws.ms = ms;
	ds->ws.sched = &ds->sched;
	return 0;
}

void
dispatch_free(struct dispatch *ds)
{
	sched_free(&ds->sched);
	free(ds->down);
	free(ds->tried);
	free(ds->loss);
	free(ds->probing);
	free(ds->ws.v);
	ds->probing = NULL;
	ds->down = NULL;
	ds->tried = NULL;
	ds->loss = NULL;
	ds->ws.v = NULL;
}

/*
 * How the run is doing: counts, and the derivation that has been running
 * longest (r->slowest; its worker in *longest, or NULL).  Into the run's
 * note for `status` too (the caller's live line reads it each second).
 */
void
dispatch_tally(struct dispatch *ds, struct act_run *rp,
    const struct worker **longestp)
{
	struct act_run		 run, *r = rp != NULL ? rp : &run;
	const struct worker	*lw, **longest = longestp != NULL ? longestp :
	    &lw;
	size_t			 i;
	int64_t			 now = clock_ms();

	memset(r, 0, sizeof(*r));
	*longest = NULL;
	r->since = ds->since;
	r->built = ds->done;
	r->running = ds->running;
	r->total = ds->g->total;
	r->bytes = ds->copied;
	for (i = 0; i < ds->g->nnodes; i++)
		r->queued += ds->g->nodes[i].state == N_READY;
	for (i = 0; i < ds->ws.n; i++) {
		const struct worker *w = &ds->ws.v[i];
		if (!w->busy || w->fetch || w->probe ||
		    (*longest != NULL && w->started >= (*longest)->started))
			continue;
		*longest = w;
	}
	if (*longest != NULL) {
		strlcpy(r->slowest, ds->g->nodes[(*longest)->node].name,
		    sizeof(r->slowest));
		r->slowest_since = clock_wall() - (now - (*longest)->started);
	}
	act_run(ds->note_fd, r);
}

/* Tell the caller (ds->event) what happened. */
static void
event(struct dispatch *ds, enum dispatch_ev ev, const struct node *n,
    size_t m, int64_t ms, size_t count)
{
	struct dispatch_event	 e;

	if (ds->event == NULL)
		return;
	memset(&e, 0, sizeof(e));
	e.ev = ev;
	e.node = n;
	e.m = m < ds->ms->n ? &ds->ms->v[m] : NULL;
	e.ms = ms;
	e.count = count;
	if (e.m != NULL && ev == DISPATCH_MOVED) {
		e.why = ds->loss[m].why;
		e.names = ds->loss[m].names;
	}
	ds->event(ds->event_arg, ds, &e);
}

static int
fits(const struct dispatch *ds, size_t m, const struct node *n)
{
	char	 r[256];

	return sched_fits(&ds->ms->v[m], n->d.platform, &n->features, r,
	    sizeof(r));
}

/* Must node n's outputs come home right after it is built on machine m? */
static int
want_home(const struct dispatch *ds, const struct node *n, size_t m)
{
	size_t	 u;

	if (n->root)
		return 1;
	for (u = 0; u < n->nusers; u++) {
		const struct node *user = &ds->g->nodes[n->users[u]];
		if (user->needed && !fits(ds, m, user))
			return 1;
	}
	return 0;
}

/* Our busy workers on machine m, and one, per unit of its speed. */
static double
our_load(const struct dispatch *ds, size_t m)
{
	size_t	 i, k = 1;

	for (i = 0; i < ds->ws.n; i++)
		k += ds->ws.v[i].busy && ds->ws.v[i].slot.machine == m;
	return (double)k / ds->ms->v[m].speed_factor;
}

/*
 * An idle worker on machine m fitting node n; for any machine (m is -1),
 * the one whose machine has the least of our load per unit of speed.
 */
static struct worker *
idle_worker(struct dispatch *ds, long m, const struct node *n)
{
	struct worker	*best = NULL;
	double		 score, least = 0;
	size_t		 i;

	for (i = 0; i < ds->ws.n; i++) {
		struct worker *w = &ds->ws.v[i];
		if (w->busy || w->pid == -1 || ds->down[w->slot.machine])
			continue;
		if (m != -1 && w->slot.machine != (size_t)m)
			continue;
		if (n != NULL && !fits(ds, w->slot.machine, n))
			continue;
		if (m != -1)
			return w;
		score = our_load(ds, w->slot.machine);
		if (best == NULL || score < least) {
			best = w;
			least = score;
		}
	}
	return best;
}

/* Take a new slot on machine m (or the best fitting one, m = -1). */
static struct worker *
new_worker(struct dispatch *ds, long m, const struct node *n)
{
	struct worker	*w;
	struct slot	 slot;
	size_t		 busy = 0, i;
	char		*only = NULL;
	int		 r, pf;

	/* retired workers count no more */
	for (i = 0; i < ds->ws.n; i++)
		busy += ds->ws.v[i].pid != -1 && ds->ws.v[i].cmd != -1;
	/* at -j: an idle worker (on a builder that does not fit, or the
	 * caller would have taken it) gives its place up */
	for (i = 0; (long)busy >= ds->jobs && i < ds->ws.n; i++) {
		struct worker *w = &ds->ws.v[i];
		if (w->pid != -1 && w->cmd != -1 && !w->busy) {
			worker_retire(&ds->ws, w);
			busy--;
		}
	}
	if ((long)busy >= ds->jobs)
		return NULL;
	if (m != -1) {
		/* only machine m will do: the picker skips the others */
		if ((only = calloc(ds->ms->n, 1)) == NULL)
			return NULL;
		for (i = 0; i < ds->ms->n; i++)
			only[i] = i != (size_t)m || ds->down[i];
	}
	pf = local_sched_flags(&n->d);
	r = sched_pick(&ds->sched, n->d.platform, &n->features,
	    only != NULL ? only : ds->down, pf, &slot, NULL, 0);
	if (r == -2 && ds->try_down) {
		/*
		 * Every builder that fits is down: a person waits for a
		 * connect timeout rather than a refusal (the cause may be
		 * fixed), once per builder: one that fails again is down
		 * for the rest of the run.
		 */
		r = sched_pick(&ds->sched, n->d.platform, &n->features,
		    only != NULL ? only : ds->down, SCHED_TRY_DOWN | pf, &slot,
		    NULL, 0);
		if (r == 1 && !ds->tried[slot.machine]) {
			ds->tried[slot.machine] = 1;
			if (health_backoff(&ds->ms->v[slot.machine]) > 0)
				event(ds, DISPATCH_RETRYING, n, slot.machine,
				    0, 0);
		}
	}
	free(only);
	if (r == 0)
		ds->slot_wait = 1;	/* busy, maybe with other processes */
	if (r != 1)
		return NULL;
	log_debug(1, "%s: chosen for %s (system %s)",
	    ds->ms->v[slot.machine].uri_text, n->name, n->d.platform);
	if ((w = worker_start(&ds->ws, &slot)) == NULL)
		sched_release(&ds->sched, &slot);
	return w;
}

/* Ask w to bring nodes home. */
static void
send_fetch(struct dispatch *ds, struct worker *w, const size_t *nodes,
    size_t k)
{
	size_t	 i;

	if (worker_fetch(w, nodes, k) == -1)
		return;
	for (i = 0; i < w->nfnodes; i++)
		ds->g->nodes[nodes[i]].state = N_FETCHING;
}

/* Seconds for bytes to cross builder m's link, at rate[m] kbit/s. */
static double
crossing(const long long *rate, size_t m, uint64_t bytes)
{
	return rate[m] <= 0 ? 0 : (double)bytes * 8 / 1000 / (double)rate[m];
}

/*
 * What building n on builder m costs in moving its inputs, in seconds:
 * each input built on another builder during this run comes home over
 * that builder's link (unless it is home already), then goes up m's (at
 * rate[], kbit/s); *bytes (if not NULL) gets their size.  Sizes are the
 * builders' words, a hint for placing and nothing else; each counts
 * DISPATCH_SIZE_FLOOR at least, so that where sizes are unknown or tiny,
 * the count of inputs decides.
 */
static double
move_cost(const struct dispatch *ds, const struct node *n, size_t m,
    const long long *rate, uint64_t *bytes)
{
	const struct node	*d;
	double			 s = 0;
	size_t			 j;
	uint64_t		 b;

	if (bytes != NULL)
		*bytes = 0;
	for (j = 0; j < n->ndeps; j++) {
		d = &ds->g->nodes[n->deps[j]];
		/* home already (brought, or valid before the run): it goes
		 * up to m unless m built it */
		if ((d->state != N_BUILT && d->state != N_LOCAL) ||
		    d->where == m || (d->state == N_LOCAL && d->valid))
			continue;
		b = d->size > DISPATCH_SIZE_FLOOR ? d->size :
		    DISPATCH_SIZE_FLOOR;
		s += (d->state == N_BUILT ? crossing(rate, d->where, b) : 0) +
		    crossing(rate, m, b);
		if (bytes != NULL)
			*bytes += d->size;
	}
	return s;
}

/* Each builder's link in kbit/s: as measured, else guessed; 0 here. */
static long long *
link_rates(const struct dispatch *ds)
{
	long long	*rate;
	size_t		 m;
	int		 measured;

	if ((rate = calloc(ds->ms->n ? ds->ms->n : 1, sizeof(*rate))) == NULL)
		return NULL;
	for (m = 0; m < ds->ms->n; m++)
		if (!ds->ms->v[m].local && ds->ms->v[m].usable)
			rate[m] = ssh_link_rate(&ds->ms->v[m].uri, &measured);
	return rate;
}

/*
 * The inputs of n sit on several builders (or on one that cannot build
 * n): n goes to the fitting builder where it would start soonest, by the
 * bytes its inputs have to move over which links (move_cost): a builder
 * that holds a big input beats one that holds several small ones.  The
 * others come home first, one fetch job per builder.  The local machine
 * is no target: it builds what is here already (local.c).
 */
static void
fetch_for(struct dispatch *ds, struct node *n)
{
	struct graph	*g = ds->g;
	size_t		 m, j, k;
	long		 target = -1;
	long long	*rate;
	double		 cost, best = 0;
	uint64_t	 bytes, *lacks = NULL, all;
	size_t		 list[WORKER_FETCH_MAX];
	char		 say[1024], one[URI_MAX + 64];
	struct worker	*w;

	if ((rate = link_rates(ds)) == NULL)
		return;
	/* and the inputs here that a builder lacks go up to it too */
	if (ds->hold != NULL && ds->hold->paths.n > 0 &&
	    (lacks = calloc(ds->ms->n, sizeof(*lacks))) != NULL &&
	    hold_lacks(ds->hold, g, n, lacks, &all) == -1) {
		free(lacks);
		lacks = NULL;
	}
	say[0] = '\0';
	for (m = 0; m < ds->ms->n; m++) {
		if (ds->down[m] || ds->ms->v[m].local || !fits(ds, m, n))
			continue;
		cost = move_cost(ds, n, m, rate, &bytes);
		if (lacks != NULL) {
			cost += crossing(rate, m, lacks[m]);
			bytes += lacks[m];
		}
		snprintf(one, sizeof(one), "%s%s %.1f MB to move, ~%.1f s",
		    say[0] ? "; " : "", ds->ms->v[m].uri_text,
		    bytes / 1e6, cost);
		strlcat(say, one, sizeof(say));
		if (target == -1 || cost < best) {
			best = cost;
			target = (long)m;
		}
	}
	free(rate);
	free(lacks);
	if (target != -1)
		log_debug(1, "%s: to %s, where its inputs cost least to move "
		    "(%s)", n->name, ds->ms->v[target].uri_text, say);
	for (m = 0; m < ds->ms->n; m++) {
		if ((long)m == target)
			continue;
		for (j = 0, k = 0; j < n->ndeps && k < WORKER_FETCH_MAX; j++) {
			struct node *d = &g->nodes[n->deps[j]];
			if (d->state == N_BUILT && d->where == m)
				list[k++] = n->deps[j];
		}
		if (k == 0)
			continue;
		if ((w = idle_worker(ds, (long)m, NULL)) == NULL &&
		    (w = new_worker(ds, (long)m, &g->nodes[list[0]])) == NULL)
			continue;
		send_fetch(ds, w, list, k);
	}
}

/*
 * Where the inputs here would take HOLD_SECS or more to send to
 * some builder: ask each builder that fits something to build which of
 * them it holds already (a worker's Q job; the slot serves builds after).
 * At the start of the run: what is ready waits for the answers
 * (hold_place), DISPATCH_HOLD_WAIT_MS at most: a builder slow to answer
 * (down, far) is taken to hold nothing.
 */
static void
hold_probe(struct dispatch *ds)
{
	struct hold	*h = ds->hold;
	struct graph	*g = ds->g;
	long long	*rate;
	struct worker	*w;
	size_t		 m, i;

	if (h == NULL || h->paths.n == 0 || (rate = link_rates(ds)) == NULL)
		return;
	for (m = 0; m < ds->ms->n; m++)
		if (!ds->ms->v[m].local && ds->ms->v[m].usable &&
		    crossing(rate, m, h->total) >= HOLD_SECS)
			break;
	if (m < ds->ms->n)
		ds->probe_until = clock_ms() + DISPATCH_HOLD_WAIT_MS;
	for (m = m < ds->ms->n ? 0 : m; m < ds->ms->n; m++) {
		if (ds->ms->v[m].local || !ds->ms->v[m].usable || ds->down[m])
			continue;
		for (i = 0; i < g->nnodes; i++)
			if (g->nodes[i].needed && fits(ds, m, &g->nodes[i]))
				break;
		if (i == g->nnodes ||
		    (w = new_worker(ds, (long)m, &g->nodes[i])) == NULL)
			continue;
		if (worker_probe(w) == 0)
			ds->probing[m] = 1;
	}
	free(rate);
}

/*
 * The builder a node whose inputs are all here would go to by default:
 * an idle worker's, else the scheduler's pick; -1 if none can start it.
 */
static long
default_pick(struct dispatch *ds, const struct node *n, const struct plan *p)
{
	struct worker	*w;

	if ((w = idle_worker(ds, -1, n)) != NULL)
		return (long)w->slot.machine;
	return p->how == PLAN_NOW ? p->pick : -1;
}

/*
 * Node n's inputs are all here.  Where they weigh HOLD_SECS or
 * more on a link, n goes to the builder, among those that can start it
 * now, whose missing share of them costs least to send, when the builder
 * it would go to by default costs HOLD_SECS more: one that holds
 * them beats a faster one that needs them first.  A derivation that
 * prefers a local build stays local.  Returns 1 when n waits for
 * builders to say what they hold (hold_probe), else 0, with *at the
 * builder (-1: the default).
 */
static int
hold_place(struct dispatch *ds, const struct node *n, long *at)
{
	struct hold	*h = ds->hold;
	struct plan	 p;
	uint64_t	*lacks = NULL, all = 0;
	long long	*rate = NULL;
	double		 cost, best = 0, heavy = 0;
	long		 target = -1, def;
	size_t		 m;
	char		 say[1024], one[URI_MAX + 64];
	int		 rc = 0;

	*at = -1;
	if (h == NULL || ds->probe_until == 0)
		return 0;	/* too light for any link to matter */
	if ((lacks = calloc(ds->ms->n ? ds->ms->n : 1, sizeof(*lacks))) ==
	    NULL || (rate = link_rates(ds)) == NULL ||
	    hold_lacks(h, ds->g, n, lacks, &all) == -1)
		goto out;
	for (m = 0; m < ds->ms->n; m++) {
		if (ds->down[m] || ds->ms->v[m].local || !fits(ds, m, n))
			continue;
		if (crossing(rate, m, all) > heavy)
			heavy = crossing(rate, m, all);
		if (ds->probing[m] && clock_ms() < ds->probe_until)
			rc = 1;
	}
	if (heavy < HOLD_SECS || rc == 1 ||
	    sched_plan(&ds->sched, n->d.platform, &n->features, ds->down,
	    local_sched_flags(&n->d), &p) == -1) {
		if (heavy < HOLD_SECS)
			rc = 0;
		goto out;
	}
	say[0] = '\0';
	for (m = 0; m < ds->ms->n; m++) {
		if (ds->down[m] || ds->ms->v[m].local || !fits(ds, m, n))
			continue;
		cost = crossing(rate, m, lacks[m]);
		snprintf(one, sizeof(one), "%s%s lacks %.1f MB, ~%.1f s",
		    say[0] ? "; " : "", ds->ms->v[m].uri_text,
		    lacks[m] / 1e6, cost);
		strlcat(say, one, sizeof(say));
		if (p.j[m].v != V_FREE && idle_worker(ds, (long)m, n) == NULL)
			continue;	/* it cannot start n now */
		if (target == -1 || cost < best) {
			best = cost;
			target = (long)m;
		}
	}
	def = default_pick(ds, n, &p);
	sched_plan_free(&p);
	if (target == -1 || def == -1 || def == target ||
	    ds->ms->v[def].local ||
	    crossing(rate, (size_t)def, lacks[def]) - best <
	    HOLD_SECS)
		goto out;
	*at = target;
	log_debug(1, "%s: to %s, which holds most of its %.1f MB of inputs "
	    "here (%s)", n->name, ds->ms->v[target].uri_text, all / 1e6, say);
out:
	free(lacks);
	free(rate);
	return rc;
}

/*
 * Start what can start.  A ready node whose missing inputs all sit on one
 * builder goes there; if they sit on several, see fetch_for.
 */
static void
dispatch(struct dispatch *ds)
{
	struct graph	*g = ds->g;
	size_t		 i, j;

	for (i = 0; i < g->nnodes; i++) {
		struct node	*n = &g->nodes[i];
		long		 at = -1;
		int		 spread = 0;
		struct worker	*w;

		if (n->state != N_READY)
			continue;
		for (j = 0; j < n->ndeps; j++) {
			struct node *d = &g->nodes[n->deps[j]];
			if (d->state == N_FETCHING)
				break;	/* on its way home: wait */
			if (d->state != N_BUILT)
				continue;
			if (at == -1)
				at = (long)d->where;
			else if ((size_t)at != d->where)
				spread = 1;
		}
		if (j < n->ndeps)
			continue;
		if (at != -1 && (spread || ds->down[at] ||
		    !fits(ds, (size_t)at, n))) {
			fetch_for(ds, n);
			continue;
		}
		if (at == -1 && hold_place(ds, n, &at) == 1)
			continue;	/* builders still say what they hold */
		if ((w = idle_worker(ds, at, n)) == NULL &&
		    (w = new_worker(ds, at, n)) == NULL)
			continue;
		if (worker_build(w, i, want_home(ds, n, w->slot.machine)) == 0) {
			ds->running++;
			n->state = N_RUNNING;
			if (w->up)	/* else when it is (worker_up) */
				event(ds, DISPATCH_BUILDING, n,
				    w->slot.machine, 0, 0);
		}
	}
}

/*
 * Node i was being built on builder m, or its outputs were there only,
 * and m went away: back in the queue, unless it has lost too many or
 * what it needs failed meanwhile.  The caller recounts what waits for
 * what (graph_recount).
 */
static void
requeue(struct dispatch *ds, size_t i, size_t m)
{
	struct graph	*g = ds->g;
	struct node	*n = &g->nodes[i];
	struct loss	*l = &ds->loss[m];
	size_t		 k;

	if (n->state == N_BUILT || n->state == N_FETCHING)
		ds->done--;
	if (graph_dep_failed(g, n)) {
		n->state = N_FAILED;
		graph_fail(g, i);
		return;
	}
	if (++n->attempts >= DISPATCH_ATTEMPTS) {
		log_errx("%s: given up: %d builders went away while building "
		    "it or holding its outputs", n->name, n->attempts);
		n->state = N_FAILED;
		graph_fail(g, i);
		ds->misc = 1;
		return;
	}
	n->state = N_READY;
	for (k = 0; k < ds->ms->n; k++)
		if (!ds->down[k] && fits(ds, k, n))
			break;
	if (k == ds->ms->n)
		return;		/* nowhere to go: stuck() says why */
	if (l->moved < DISPATCH_NAMES_SHOWN) {
		if (l->moved > 0)
			strlcat(l->names, ", ", sizeof(l->names));
		strlcat(l->names, n->name, sizeof(l->names));
	} else if (l->moved == DISPATCH_NAMES_SHOWN)
		strlcat(l->names, ", ...", sizeof(l->names));
	l->moved++;
}

/*
 * Builder m failed: no more jobs there, its outputs are lost to us, and
 * every process skips it for a while (once per failure, not per slot).
 */
static void
machine_lost(struct dispatch *ds, size_t m, const struct failure *f,
    int64_t since)
{
	size_t	 i;

	if (ds->down[m])
		return;
	ds->down[m] = 1;
	ds->loss[m].why = f->kind;
	strlcpy(ds->loss[m].first, f->msg, sizeof(ds->loss[m].first));
	health_failed(&ds->ms->v[m], f, since);
	for (i = 0; i < ds->g->nnodes; i++)
		if (ds->g->nodes[i].state == N_BUILT &&
		    ds->g->nodes[i].where == m && graph_still_wanted(ds->g, i))
			requeue(ds, i, m);
}

/*
 * Once nothing runs on a builder that went down any more: retire its
 * workers, and tell the user, once, what moved.
 */
static void
machine_settle(struct dispatch *ds, size_t m)
{
	struct loss	*l = &ds->loss[m];
	size_t		 i;

	for (i = 0; i < ds->ws.n; i++)
		if (ds->ws.v[i].slot.machine == m && ds->ws.v[i].busy)
			return;
	for (i = 0; i < ds->ws.n; i++)
		if (ds->ws.v[i].slot.machine == m)
			worker_retire(&ds->ws, &ds->ws.v[i]);
	if (l->said || l->moved == 0)
		return;
	l->said = 1;
	event(ds, DISPATCH_MOVED, NULL, m, 0, l->moved);
}

/* What a worker's answer means for its node(s) and its builder. */
static void
take_result(struct dispatch *ds, struct worker *w, const struct answer *a)
{
	struct graph	*g = ds->g;
	struct node	*n = &g->nodes[a->node];
	size_t		 m = w->slot.machine, k;
	int64_t		 ms = clock_ms() - w->started;

	if (a->status == -1 && FAIL_BUILDER(a->f.kind)) {
		/* the builder failed, not the derivation: say it once */
		if (ds->down[m])
			log_debug(1, "%s", a->f.msg);
		else
			log_errx("%s", a->f.msg);
		/* failures since the worker began are this one: counted once */
		machine_lost(ds, m, &a->f, w->born);
		if (w->fetch)
			for (k = 0; k < w->nfnodes; k++)
				requeue(ds, w->fnodes[k], m);
		else
			requeue(ds, a->node, m);
		graph_recount(g);
		return;
	}
	if (a->status == -1) {
		/* here, not there: the local store, a bad .drv... */
		log_errx("%s", a->f.msg);
		ds->misc = 1;
		if (w->fetch)
			for (k = 0; k < w->nfnodes; k++) {
				g->nodes[w->fnodes[k]].state = N_FAILED;
				graph_fail(g, w->fnodes[k]);
			}
		else {
			n->state = N_FAILED;
			graph_fail(g, a->node);
		}
		return;
	}
	if (w->fetch) {
		for (k = 0; k < w->nfnodes; k++)
			g->nodes[w->fnodes[k]].state = N_LOCAL;
		event(ds, DISPATCH_FETCHED, NULL, m, ms, w->nfnodes);
		return;
	}
	if (!job_ok(a->status)) {
		n->state = N_FAILED;
		ds->mask |= job_fail_bits(a->status);
		if (job_fail_bits(a->status) == 0)
			ds->misc = 1;
		graph_fail(g, a->node);
		event(ds, DISPATCH_FAILED, n, m, 0, 0);
		return;
	}
	ds->done++;
	n->where = m;
	n->size = a->out_size;
	n->state = ds->ms->v[m].local || want_home(ds, n, m) ? N_LOCAL :
	    N_BUILT;
	event(ds, DISPATCH_BUILT, n, m, ms, 0);
	graph_finished(g, a->node);
	if (ds->down[m] && n->state == N_BUILT &&
	    graph_still_wanted(g, a->node)) {
		/* built, but where nothing more can reach it */
		requeue(ds, a->node, m);
		graph_recount(g);
	}
}

/* What a worker's answer to a probe (hold_probe) means for its builder. */
static void
take_probe(struct dispatch *ds, struct worker *w, const struct answer *a)
{
	size_t	 m = w->slot.machine;

	w->probe = 0;
	ds->probing[m] = 0;
	if (a->status != -1) {
		hold_said(ds->hold, m);
		log_debug(1, "%s: said which inputs here it holds, in %lld ms",
		    ds->ms->v[m].uri_text, (long long)(clock_ms() - w->started));
		return;
	}
	if (ds->down[m] || !FAIL_BUILDER(a->f.kind))
		log_debug(1, "%s", a->f.msg);
	else
		log_errx("%s", a->f.msg);
	if (FAIL_BUILDER(a->f.kind)) {
		machine_lost(ds, m, &a->f, w->born);
		graph_recount(ds->g);
	}
}

/* A worker answered line, or (line NULL) died. */
void
dispatch_answer(struct dispatch *ds, struct worker *w, const char *line)
{
	struct answer	 a;
	int		 probe = w->probe;

	worker_answer(&ds->ws, w, line, &a);
	ds->copied += a.bytes;
	ds->cost.rtt += a.cost.rtt;
	ds->cost.here += a.cost.here;
	ds->cost.there += a.cost.there;
	if (probe)
		take_probe(ds, w, &a);
	else {
		if (!w->fetch)
			ds->running--;
		take_result(ds, w, &a);
	}
	if (ds->down[w->slot.machine])
		machine_settle(ds, w->slot.machine);
}

/* Node i is ready, and no builder can take it: say why, builder by builder. */
static void
stuck(struct dispatch *ds, size_t i)
{
	struct node	*n = &ds->g->nodes[i];
	struct slot	 s;
	char		 why[4096], line[URI_MAX + CONF_SRC_MAX + 600];
	size_t		 m;

	why[0] = '\0';
	for (m = 0; m < ds->ms->n; m++) {
		if (!ds->down[m] || !fits(ds, m, n))
			continue;
		snprintf(line, sizeof(line), "\n  %s (%s): failed during "
		    "this build: %s", ds->ms->v[m].uri_text,
		    ds->ms->v[m].source, ds->loss[m].first);
		strlcat(why, line, sizeof(why));
	}
	/* and the others, as the scheduler sees them */
	if (sched_pick(&ds->sched, n->d.platform, &n->features, ds->down, 0,
	    &s, why + strlen(why), sizeof(why) - strlen(why)) == 1) {
		sched_release(&ds->sched, &s);
		log_errx("%s: no worker could be started for it (%ld at "
		    "most, -j)", n->name, ds->jobs);
		return;
	}
	log_errx("%s: every builder that could build it is down%s", n->name,
	    why);
}

/* Workers with a job; with probes, those asking what a builder holds too. */
static int
busy_workers(const struct dispatch *ds, int probes)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < ds->ws.n; i++)
		n += ds->ws.v[i].busy && (probes || !ds->ws.v[i].probe);
	return n;
}

/*
 * Ready nodes of the kind of node k (system and features) that no builder
 * can take, all of whose fitting builders failed during this run: one
 * line for them all, naming the builders (their errors were said when
 * they failed) and the first few derivations.  Marks them in said.
 * Returns 0, or -1 if one of the builders that fit did not fail: then
 * stuck() says what it knows.
 */
static int
stuck_kind(struct dispatch *ds, size_t k, char *said, size_t dependents)
{
	struct graph	*g = ds->g;
	const struct node *n = &g->nodes[k];
	char		 names[512], builders[1024];
	size_t		 i, m, count = 0;

	builders[0] = '\0';
	for (m = 0; m < ds->ms->n; m++) {
		if (!fits(ds, m, n))
			continue;
		if (!ds->down[m])
			return -1;
		strlcat(builders, builders[0] ? ", " : "", sizeof(builders));
		strlcat(builders, ds->ms->v[m].uri_text, sizeof(builders));
	}
	names[0] = '\0';
	for (i = k; i < g->nnodes; i++) {
		if (g->nodes[i].state != N_READY || said[i] ||
		    !graph_same_kind(&g->nodes[i], n))
			continue;
		said[i] = 1;
		if (count < DISPATCH_NAMES_SHOWN) {
			strlcat(names, count ? ", " : "", sizeof(names));
			strlcat(names, g->nodes[i].name, sizeof(names));
		} else if (count == DISPATCH_NAMES_SHOWN)
			strlcat(names, ", ...", sizeof(names));
		count++;
	}
	log_errx("%zu derivation%s not built%s%.0zu%s: %s, the builder%s that "
	    "fit%s, failed during this build (see above): %s", count,
	    count == 1 ? "" : "s", dependents ? ", nor " : "", dependents,
	    dependents == 0 ? "" : dependents == 1 ? " that needs them" :
	    " that need them", builders, strchr(builders, ',') ? "s" : "",
	    strchr(builders, ',') ? "" : "s", names);
	return 0;
}

/*
 * Nothing runs and nothing can start: fail what is ready, and say why,
 * one line per kind of derivation rather than one per derivation.
 */
static void
give_up(struct dispatch *ds)
{
	struct graph	*g = ds->g;
	size_t		 i, dependents = 0;
	char		*said;

	ds->misc = 1;
	if (ds->slot_wait)
		log_errx("no slot came free in %ld s on the builders that "
		    "fit (other processes hold them; "
		    "NIX_OFFLOAD_SLOT_TIMEOUT)", ds->sched.slot_timeout);
	/* what waits for them fails with them */
	for (i = 0; i < g->nnodes; i++)
		dependents += g->nodes[i].state == N_WAIT;
	if ((said = calloc(g->nnodes ? g->nnodes : 1, 1)) == NULL) {
		log_err("build");
		return;
	}
	for (i = 0; i < g->nnodes; i++) {
		if (g->nodes[i].state != N_READY || said[i])
			continue;
		if (!ds->slot_wait && stuck_kind(ds, i, said, dependents) == -1)
			stuck(ds, i);
		dependents = 0;		/* said once */
	}
	for (i = 0; i < g->nnodes; i++)
		if (g->nodes[i].state == N_READY) {
			g->nodes[i].state = N_FAILED;
			graph_fail(g, i);
		}
	free(said);
}

/*
 * w's session with its builder is up: what it builds has begun (said
 * only now, so that a builder that cannot be reached is not said to
 * build).
 */
static void
worker_up(struct dispatch *ds, struct worker *w)
{
	w->up = 1;
	if (w->busy && !w->fetch && !w->probe)
		event(ds, DISPATCH_BUILDING, &ds->g->nodes[w->node],
		    w->slot.machine, 0, 0);
}

/* Wait for answers (a second at most) and take them. */
static void
take_answers(struct dispatch *ds)
{
	struct pollfd	 pfd[WORKERS_MAX];
	size_t		 i;
	char		*line;
	int		 r;

	int		 wait = 1000;

	for (i = 0; i < ds->ws.n; i++) {
		pfd[i].fd = ds->ws.v[i].busy ? ds->ws.v[i].res : -1;
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
		if (ds->ws.v[i].busy && worker_pending(&ds->ws.v[i]))
			wait = 0;	/* lines read already */
	}
	if (poll(pfd, ds->ws.n, wait) < 0)
		return;
	for (i = 0; i < ds->ws.n; i++) {
		struct worker *w = &ds->ws.v[i];

		if (pfd[i].fd == -1 || (pfd[i].revents == 0 &&
		    !worker_pending(w)))
			continue;
		do {
			if ((r = worker_read(w, &line)) == -1) {
				/* the worker died: its job is lost */
				dispatch_answer(ds, w, NULL);
				worker_lost(&ds->ws, w);
			} else if (r == 1 && line[0] == 'U')
				worker_up(ds, w);
			else if (r == 1 && line[0] == 'H') {
				if (ds->hold == NULL || hold_line(ds->hold,
				    w->slot.machine, line) == -1)
					log_debug(1, "%s: a worker's answer "
					    "of what it holds is nonsense",
					    ds->ms->v[w->slot.machine].uri_text);
			}
			else if (r == 1)
				dispatch_answer(ds, w, line);
		} while (r == 1 && w->busy && worker_pending(w));
	}
}

/*
 * Run the schedule to the end (or the first failure, without
 * keep_going), then stop the workers.  Returns the signal that
 * interrupted the run, or 0.
 */
int
dispatch_run(struct dispatch *ds)
{
	int64_t		 waiting = 0;	/* for other processes' slots, since */
	size_t		 i;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	hold_probe(ds);
	for (;;) {
		if (interrupted)
			break;
		ds->slot_wait = 0;
		if (ds->mask == 0 && !ds->misc)
			dispatch(ds);
		else if (ds->keep_going)
			dispatch(ds);
		if (busy_workers(ds, 0) == 0) {
			if (!graph_unfinished(ds->g) || ds->mask || ds->misc)
				break;
		}
		if (busy_workers(ds, 1) == 0) {
			if (ds->slot_wait && waiting == 0)
				waiting = clock_ms();
			if (ds->slot_wait && clock_ms() - waiting <
			    (int64_t)ds->sched.slot_timeout * 1000) {
				/* other processes hold the slots: wait */
				poll(NULL, 0, DISPATCH_SLOT_POLL_MS);
				continue;
			}
			give_up(ds);
			break;
		}
		waiting = 0;
		take_answers(ds);
		dispatch_tally(ds, NULL, NULL);	/* status's note, each second */
		pub_update(ds->ms, PUB_DUE);
		event(ds, DISPATCH_TICK, NULL, (size_t)-1, 0, 0);
	}
	event(ds, DISPATCH_END, NULL, (size_t)-1, 0, 0);
	pub_update(ds->ms, PUB_LAST);
	/* a builder still to say what it holds is not waited for */
	for (i = 0; i < ds->ws.n; i++)
		if (ds->ws.v[i].busy && ds->ws.v[i].probe &&
		    ds->ws.v[i].pid != -1)
			kill(ds->ws.v[i].pid, SIGTERM);
	worker_stop_all(&ds->ws, interrupted != 0);
	return interrupted;
}

/*
 * Before anything starts: every derivation to build must fit some builder.
 * If one does not, say why for every builder, once per kind of
 * derivation (system and features), not once per derivation.
 */
int
dispatch_check_fits(const struct graph *g, const struct machines *ms)
{
	size_t		 i, j, k;
	char		 why[8192], r[256], line[512], feat[512];
	int		 bad = 0, seen;

	for (i = 0; i < g->nnodes; i++) {
		const struct node	*n = &g->nodes[i];
		int			 ok = 0;

		if (!n->needed)
			continue;
		for (j = 0; j < ms->n && !ok; j++)
			ok = sched_fits(&ms->v[j], n->d.platform,
			    &n->features, r, sizeof(r));
		if (ok)
			continue;
		bad++;
		/* said already for an earlier node of the same kind? */
		for (k = 0, seen = 0; k < i && !seen; k++)
			seen = g->nodes[k].needed &&
			    graph_same_kind(&g->nodes[k], n);
		if (seen)
			continue;
		why[0] = '\0';
		for (j = 0; j < ms->n; j++) {
			sched_fits(&ms->v[j], n->d.platform, &n->features, r,
			    sizeof(r));
			snprintf(line, sizeof(line), "\n  %s: %s",
			    ms->v[j].uri_text, r);
			strlcat(why, line, sizeof(why));
		}
		feat[0] = '\0';
		for (j = 0; j < n->features.n; j++) {
			strlcat(feat, j ? "," : ", features ", sizeof(feat));
			strlcat(feat, n->features.v[j], sizeof(feat));
		}
		log_errx("no builder can build %s (system %s%s)%s%s",
		    n->name, n->d.platform, feat,
		    ms->n == 0 ? ": no builders are configured "
		    "(builders = ... in nix.conf, or --builders)" : ":", why);
	}
	return bad ? -1 : 0;
}
