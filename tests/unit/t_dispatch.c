/*
 * Unit tests for src/dispatch.c, build's dispatch, when a builder goes
 * away: what moves, what is given up, what is retired, what the user is
 * told, in orders of events that the integration tests cannot force (a
 * fetch finishing after its builder was lost, outputs nobody needs any
 * more, a dependency given up under a running build, a worker that dies).
 *
 * Linked with the modules (graph, worker, dispatch); no process is
 * started: workers are entries with pipes for their job ends, and the
 * answers are the lines a worker would send.  Run from tests/.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "harness.h"

/* What cmd_build holds for a run. */
struct build {
	struct machines	 ms;
	struct graph	 g;
	struct dispatch	 ds;
};

static int
same_text(const char *got, const char *want)
{
	return strcmp(got, want) == 0 || no("\"%s\", expected \"%s\"",
	    got, want);
}

/*
 * A graph: node i depends on the nodes in deps[i] (a string of digits),
 * on builders a and b (2 slots each, x86_64-linux), every node needed
 * and waiting or ready.
 */
static void
fixture(struct build *b, const char *const *deps, size_t n)
{
	static const char spec[] = "ssh://a x86_64-linux - 2 1 ; "
	    "ssh://b x86_64-linux - 2 1";
	static char	 plat[] = "x86_64-linux";
	size_t		 i;
	const char	*p;

	memset(b, 0, sizeof(*b));
	if (machines_parse(spec, strlen(spec), "test", "x86_64-linux",
	    &b->ms) == -1 || b->ms.n != 2)
		abort();
	b->g.nodes = calloc(n, sizeof(*b->g.nodes));
	if (b->g.nodes == NULL || dispatch_init(&b->ds, &b->g, &b->ms,
	    4) == -1)
		abort();
	b->ds.event = NULL;	/* no progress lines */
	b->g.nnodes = n;
	for (i = 0; i < n; i++) {
		struct node *v = &b->g.nodes[i];
		snprintf(v->name, sizeof(v->name), "n%zu", i);
		v->d.platform = plat;
		v->needed = 1;
		v->state = N_WAIT;	/* graph_recount() decides */
		v->deps = calloc(8, sizeof(*v->deps));
		v->users = calloc(8, sizeof(*v->users));
		v->nusers_alloc = 8;
		for (p = deps[i]; *p != '\0'; p++)
			v->deps[v->ndeps++] = (size_t)(*p - '0');
	}
	for (i = 0; i < n; i++) {
		size_t j;
		for (j = 0; j < b->g.nodes[i].ndeps; j++) {
			struct node *d = &b->g.nodes[b->g.nodes[i].deps[j]];
			d->users[d->nusers++] = i;
		}
	}
	b->g.nodes[n - 1].root = 1;
	graph_recount(&b->g);
}

static void
fixture_free(struct build *b)
{
	size_t	 i;

	for (i = 0; i < b->ds.ws.n; i++)
		if (b->ds.ws.v[i].cmd != -1)
			close(b->ds.ws.v[i].cmd);
	for (i = 0; i < b->g.nnodes; i++) {
		free(b->g.nodes[i].deps);
		free(b->g.nodes[i].users);
	}
	free(b->g.nodes);
	dispatch_free(&b->ds);
	machines_free(&b->ms);
}

/* A worker on machine m, busy with node (or with fetching it). */
static struct worker *
busy_worker(struct build *b, size_t m, size_t node, int fetch)
{
	struct worker	*w = &b->ds.ws.v[b->ds.ws.n++];
	int		 p[2];

	if (pipe(p) == -1)
		abort();
	close(p[0]);
	memset(w, 0, sizeof(*w));
	w->pid = -1;
	w->cmd = p[1];
	w->res = -1;
	w->slot.machine = m;
	w->slot.fd = -1;
	w->busy = 1;
	w->node = node;
	w->fetch = fetch;
	if (fetch) {
		w->fnodes[0] = node;
		w->nfnodes = 1;
		b->g.nodes[node].state = N_FETCHING;
	} else {
		b->g.nodes[node].state = N_RUNNING;
		b->ds.running++;
	}
	return w;
}

static void
answer_line(struct build *b, struct worker *w, int status, int fail)
{
	char	 line[256];

	snprintf(line, sizeof(line), "R %zu %d %d 0 3 2 1 4096 %s: it went", w->node,
	    status, fail, b->ms.v[w->slot.machine].uri_text);
	dispatch_answer(&b->ds, w, line);
}

static int
state_is(const struct build *b, size_t i, enum node_state want)
{
	return b->g.nodes[i].state == want || no("n%zu in state %d, "
	    "expected %d", i, (int)b->g.nodes[i].state, (int)want);
}

/* A builder drops a build while a fetch from it is on its way; the fetch
 * then succeeds.  Its workers are retired only then, and the user is told
 * once, after the last. */
static void
test_fetch_after_drop(void)
{
	static const char *const deps[] = { "", "", "01" };
	struct build	 b;
	struct worker	*w0, *w1;
	int		 good;

	fixture(&b, deps, 3);
	w0 = busy_worker(&b, 0, 0, 0);
	w1 = busy_worker(&b, 0, 1, 1);
	answer_line(&b, w0, -1, FAIL_DROPPED);
	good = (b.ds.down[0] || no("builder a not down")) &&
	    (w0->cmd != -1 || no("retired while a fetch still ran")) &&
	    (!b.ds.loss[0].said || no("told before the fetch ended")) &&
	    state_is(&b, 0, N_READY);
	answer_line(&b, w1, BUILD_BUILT, 0);
	good = good && state_is(&b, 1, N_LOCAL) &&
	    (w0->cmd == -1 || no("w0 not retired")) &&
	    (w1->cmd == -1 || no("w1 not retired")) &&
	    (b.ds.loss[0].said || no("the user was not told")) &&
	    (b.ds.loss[0].moved == 1 || no("%zu moved, expected 1",
	    b.ds.loss[0].moved)) && state_is(&b, 2, N_WAIT);
	report("lost_fetch_succeeds_after_the_drop", good);
	fixture_free(&b);
}

/* Outputs on the lost builder that nothing needs any more stay put. */
static void
test_stale_outputs(void)
{
	static const char *const deps[] = { "", "0", "", "13" };
	struct build	 b;
	struct worker	*w;
	int		 good;

	/* n0 built on a, its only user n1 done and home; n2 building on a */
	fixture(&b, deps, 4);
	b.g.nodes[0].state = N_BUILT;
	b.g.nodes[0].where = 0;
	b.g.nodes[1].state = N_LOCAL;
	w = busy_worker(&b, 0, 2, 0);
	answer_line(&b, w, -1, FAIL_DROPPED);
	good = state_is(&b, 0, N_BUILT) && state_is(&b, 2, N_READY) &&
	    (b.g.nodes[0].attempts == 0 || no("n0 lost an attempt")) &&
	    (b.ds.loss[0].moved == 1 || no("%zu moved, expected 1",
	    b.ds.loss[0].moved)) && same_text(b.ds.loss[0].names, "n2");
	report("lost_outputs_nobody_needs_stay", good);
	fixture_free(&b);
}

/* A dependency given up under a running build: that build fails with
 * it, and is not counted as moved. */
static void
test_dep_given_up(void)
{
	static const char *const deps[] = { "", "0" };
	struct build	 b;
	struct worker	*w;
	int		 good;

	fixture(&b, deps, 2);
	b.g.nodes[0].state = N_BUILT;
	b.g.nodes[0].where = 0;
	b.g.nodes[0].attempts = DISPATCH_ATTEMPTS - 1;
	w = busy_worker(&b, 0, 1, 0);
	answer_line(&b, w, -1, FAIL_TIMEOUT);
	good = state_is(&b, 0, N_FAILED) && state_is(&b, 1, N_FAILED) &&
	    (b.ds.misc || no("misc not set")) &&
	    (b.ds.loss[0].moved == 0 || no("%zu moved, expected 0",
	    b.ds.loss[0].moved)) && (!b.ds.loss[0].said || no("told of a move"));
	report("lost_dependency_given_up_fails_its_user", good);
	fixture_free(&b);
}

/* The second slot of a lost builder answers late, and fails too: said
 * once, both moved, a node that waited on them waits again. */
static void
test_two_slots(void)
{
	static const char *const deps[] = { "", "", "01" };
	struct build	 b;
	struct worker	*w0, *w1;
	int		 good;

	fixture(&b, deps, 3);
	w0 = busy_worker(&b, 0, 0, 0);
	w1 = busy_worker(&b, 0, 1, 0);
	answer_line(&b, w0, -1, FAIL_DROPPED);
	answer_line(&b, w1, -1, FAIL_DROPPED);
	good = state_is(&b, 0, N_READY) && state_is(&b, 1, N_READY) &&
	    state_is(&b, 2, N_WAIT) && (b.g.nodes[2].waiting == 2 ||
	    no("n2 waits for %d", b.g.nodes[2].waiting)) &&
	    (b.ds.loss[0].moved == 2 || no("%zu moved", b.ds.loss[0].moved)) &&
	    same_text(b.ds.loss[0].names, "n0, n1") &&
	    (b.ds.running == 0 || no("%zu running", b.ds.running));
	report("lost_two_slots_said_once", good);
	fixture_free(&b);
}

/* A build that succeeds on a builder already lost, its outputs meant to
 * stay there: built again elsewhere.  One that came home is kept. */
static void
test_late_success(void)
{
	static const char *const deps[] = { "", "", "", "012" };
	struct build	 b;
	struct worker	*w0, *w1, *w2;
	int		 good;

	fixture(&b, deps, 4);
	w0 = busy_worker(&b, 0, 0, 0);
	w1 = busy_worker(&b, 0, 1, 0);
	w2 = busy_worker(&b, 0, 2, 0);
	answer_line(&b, w0, -1, FAIL_DROPPED);
	answer_line(&b, w1, BUILD_BUILT, 0);	/* stays on a: lost */
	b.g.nodes[3].root = 0;
	b.g.nodes[2].root = 1;			/* n2 comes home */
	answer_line(&b, w2, BUILD_BUILT, 0);
	good = state_is(&b, 0, N_READY) && state_is(&b, 1, N_READY) &&
	    state_is(&b, 2, N_LOCAL) && (b.ds.done == 1 || no("done %zu",
	    b.ds.done)) && (b.ds.loss[0].said || no("not told")) &&
	    (b.g.nodes[2].size == 4096 || no("n2's size %llu, the builder "
	    "said 4096", (unsigned long long)b.g.nodes[2].size));
	report("lost_builder_late_success", good);
	fixture_free(&b);
}

/* A worker that dies is a dropped job, and its builder is lost. */
static void
test_worker_dies(void)
{
	static const char *const deps[] = { "" };
	struct build	 b;
	struct worker	*w;
	int		 good;

	fixture(&b, deps, 1);
	w = busy_worker(&b, 1, 0, 0);
	dispatch_answer(&b.ds, w, NULL);
	good = (b.ds.down[1] || no("builder b not down")) &&
	    state_is(&b, 0, N_READY) && (w->cmd == -1 || no("not retired")) &&
	    (b.ds.loss[1].why == FAIL_DROPPED || no("why %d", b.ds.loss[1].why));
	report("worker_dies", good);
	/* nonsense from a worker is the same */
	fixture_free(&b);
	fixture(&b, deps, 1);
	w = busy_worker(&b, 1, 0, 0);
	dispatch_answer(&b.ds, w, "R x y z");
	report("worker_answers_nonsense", (b.ds.down[1] || no("not down")) &&
	    state_is(&b, 0, N_READY) && !w->busy);
	fixture_free(&b);
}

/* Every builder lost, three times over: given up, with the reason. */
static void
test_given_up(void)
{
	static const char *const deps[] = { "" };
	struct build	 b;
	struct worker	*w;
	int		 good;

	fixture(&b, deps, 1);
	b.g.nodes[0].attempts = DISPATCH_ATTEMPTS - 1;
	w = busy_worker(&b, 1, 0, 0);
	answer_line(&b, w, -1, FAIL_PROTOCOL);
	good = state_is(&b, 0, N_FAILED) && (b.ds.misc || no("misc not set")) &&
	    same_text(b.ds.loss[1].first, "ssh://b: it went");
	report("given_up_after_attempts", good);
	fixture_free(&b);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	/* the slots and locks of the run, out of everyone's way */
	if (setenv("NIX_OFFLOAD_RUNTIME_DIR", scratch_dir(), 1) == -1 ||
	    ssh_init() == -1)
		abort();

	test_fetch_after_drop();
	test_stale_outputs();
	test_dep_given_up();
	test_two_slots();
	test_late_success();
	test_worker_dies();
	test_given_up();
	return done();
}
