/*
 * Workers: `build` runs each builder slot it uses in a child process of
 * its own, which holds the slot's lock, one serve session on the builder
 * (over the builder's control master) and one on the local store, and
 * takes job after job from the parent.  Both ends of the pipes are here.
 *
 * The parent writes one line per job on the worker's job pipe:
 *
 *	job	= build | fetch
 *	build	= "B" SP node SP fetch LF	copy the inputs over, build,
 *						and if fetch is 1 bring the
 *						outputs home
 *	fetch	= "F" 1*(SP node) LF		bring the outputs of these
 *						nodes (at most WORKER_FETCH_MAX,
 *						all built there) home
 *	probe	= "Q" LF			say which of the inputs here
 *						(ws->held) the builder holds
 *
 * and the worker answers each on its result pipe, in order, after saying
 * when its session with the builder is up (its jobs start then: what is
 * said of them waits for it), a probe's answer after its H lines
 * (hold.c):
 *
 *	up	= "U" LF
 *	answer	= "R" SP node SP status SP fail SP bytes SP rtt SP here SP
 *		  there SP size SP message LF
 *
 * node is the job's (a fetch's first); status a BuildResult status, or
 * -1 when the job failed, with fail (enum fail) and message saying why;
 * bytes what it copied; rtt, here, there what it cost (round trips,
 * processes started here and on the builder); size its outputs' NAR
 * bytes as the builder said them (0: unknown), for placing what needs
 * them.  Nodes are indices into the graph, which the
 * worker has as it was when it was forked: it reads only what does not
 * change, the .drv files and their edges.  A line longer than
 * WORKER_LINE_MAX is cut.
 *
 * Workers print no errors of their own but a build's: the parent says
 * once that a builder went away, not once per slot.  A worker dies with
 * its parent, and its slot stays taken while either lives.
 */
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

/* The worker's side: one slot on one builder. */
struct wctx {
	const struct workers	*ws;
	const struct machine	*m;
	int			 res;		/* the answers' pipe */
	struct conn		 remote;
	struct job		 job;
	int			 up;		/* remote is in conversation */
	int			 opened;	/* remote was opened once */
	struct failure		 gone;		/* why it is not up any more */
	char			 prefix[300];	/* "name> " before log lines */
};

/* Tell the parent how a job ended, with its failure f if it failed. */
static int
answer(int res, unsigned long node, int status, const struct failure *f,
    uint64_t bytes, uint64_t size, const struct cost *c)
{
	char		 out[WORKER_LINE_MAX], *p;
	int		 n;

	n = snprintf(out, sizeof(out), "R %lu %d %d %llu %llu %llu %llu %llu "
	    "%s", node, status, status == -1 ? (int)f->kind : FAIL_NONE,
	    (unsigned long long)bytes, (unsigned long long)c->rtt,
	    (unsigned long long)c->here, (unsigned long long)c->there,
	    (unsigned long long)size,
	    status != -1 ? "" : f->msg[0] != '\0' ? f->msg :
	    "the job failed without a message");
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(out) - 1)
		n = (int)sizeof(out) - 2;
	for (p = out; p < out + n; p++)
		if (*p == '\n')
			*p = ' ';
	out[n++] = '\n';
	return write(res, out, (size_t)n) == n ? 0 : -1;
}

/*
 * The session with the builder, opened again after a job that failed for
 * a reason of its own (a conversation cut off in the middle cannot go
 * on), but not after the builder failed: the parent gives the builder up
 * and retires this worker.
 */
static int
remote_ready(struct wctx *w)
{
	if (w->up)
		return 0;
	if (w->m->local) {	/* no session: each build is a nix-store */
		if (!w->opened)
			(void)!write(w->res, "U\n", 2);
		w->opened = 1;
		return 0;
	}
	if (w->opened && FAIL_BUILDER(w->gone.kind))
		return -1;	/* the job's failure is w->gone */
	w->opened = 1;
	/* its failures go to the parent with the job's answer */
	if (job_open(&w->job, w->m, CONN_QUIET) == -1) {
		w->gone = w->remote.f;
		return -1;
	}
	w->up = 1;
	(void)!write(w->res, "U\n", 2);
	return 0;
}

/* B: build node n, and bring its outputs home if fetch. */
static int
build(struct wctx *w, const struct node *n, int fetch, int *status)
{
	struct strlist		 inputs = { NULL, 0, 0 }, outs = { NULL, 0, 0 };
	struct build_result	 r;
	struct job_spec		 s;
	int			 rc = -1;

	memset(&r, 0, sizeof(r));
	if (graph_inputs(w->ws->g, n, &inputs) == -1 ||
	    graph_outputs(n, &outs) == -1)
		goto out;
	memset(&s, 0, sizeof(s));
	s.name = n->name;
	s.drvpath = n->path;
	s.drv = &n->d;
	s.inputs = &inputs;
	s.send = &inputs;
	s.fetch = fetch ? &outs : NULL;
	s.sized = &outs;	/* staying there: how big, for what needs them */
	snprintf(w->prefix, sizeof(w->prefix), "%s> ", n->name);
	w->job.log_prefix = w->prefix;
	if ((w->m->local ? local_build(&w->job, &s, &r) :
	    job_run(&w->job, &s, &r)) == -1)
		goto out;
	/* built here: held until the run ends, as a fetch's outputs are */
	if (w->m->local && job_ok(r.status) && job_hold(&w->job, &outs) == -1)
		goto out;
	log_debug(2, "%s: %s: inputs %lld ms, build %lld ms, outputs %lld ms",
	    w->m->uri_text, n->name, (long long)w->job.ms[JOB_INPUTS],
	    (long long)w->job.ms[JOB_BUILD], (long long)w->job.ms[JOB_OUTPUTS]);
	*status = r.status;
	rc = 0;
out:
	build_result_free(&r);
	strlist_free(&inputs);
	strlist_free(&outs);
	return rc;
}

/* Q: which of the inputs here the builder holds, as H lines. */
static int
probe(struct wctx *w)
{
	struct strlist	 valid = { NULL, 0, 0 };
	int		 rc = -1;

	if (w->m->local || w->ws->held == NULL || w->ws->held->n == 0)
		return 0;	/* nothing to ask */
	if (proto_valid(&w->remote, w->ws->held, 0, 0, &valid) == -1)
		goto out;
	strlist_sort_uniq(&valid);
	rc = hold_write(w->res, w->ws->held, &valid);
out:
	strlist_free(&valid);
	return rc;
}

/* F: bring the outputs of nodes home. */
static int
fetch(struct wctx *w, const struct node *const *nodes, size_t k)
{
	struct strlist	 outs = { NULL, 0, 0 };
	size_t		 i;
	int		 rc = -1;

	if (w->m->local)
		return 0;	/* its outputs are here */
	for (i = 0; i < k; i++)
		if (graph_outputs(nodes[i], &outs) == -1)
			goto out;
	rc = job_fetch(&w->job, &outs);
out:
	strlist_free(&outs);
	return rc;
}

static void
worker_main(const struct workers *ws, const struct slot *slot, int cmd,
    int res)
{
	const struct graph	*g = ws->g;
	const struct node	*list[WORKER_FETCH_MAX];
	struct wctx		 w;
	FILE			*in;
	char			 line[WORKER_LINE_MAX];
	unsigned long		 node = 0;
	size_t			 k = 0;
	int			 fetch_too = 0;
	int64_t			 t0;
	struct cost		 since, now, spent;

	cost_now(&since);	/* the parent's, as forked */
	memset(&w, 0, sizeof(w));
	w.ws = ws;
	w.m = &ws->ms->v[slot->machine];
	w.res = res;
	job_init(&w.job, w.m->uri_text, &w.remote);
	w.job.note_fd = slot->fd;
	job_note(&w.job, "connecting");
	w.job.substitutes = ws->substitutes;
	w.job.opts = ws->opts;
	w.job.log_tail = ws->log_tail;
	/* a builder may give us the outputs of this run's derivations */
	for (k = 0; k < g->nnodes; k++)
		if (job_allow(&w.job, g->nodes[k].path, &g->nodes[k].d) == -1)
			_exit(1);
	k = 0;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	/* failures go to the parent with each answer (see answer()) */
	w.job.quiet = 1;
	if ((in = fdopen(cmd, "r")) == NULL)
		_exit(1);
	/* connect now, while the parent finds more work */
	t0 = clock_ms();
	if (remote_ready(&w) == 0)
		log_debug(2, "%s: worker ready in %lld ms", w.m->uri_text,
		    (long long)(clock_ms() - t0));
	job_note(&w.job, "idle");
	while (fgets(line, sizeof(line), in) != NULL) {
		struct failure	 f;
		int		 status = -1, built;

		if (line[0] == 'F') {
			char	*p = line + 1, *e;

			for (k = 0; k < WORKER_FETCH_MAX; k++) {
				unsigned long v = strtoul(p, &e, 10);
				if (e == p || v >= g->nnodes)
					break;
				list[k] = &g->nodes[v];
				p = e;
			}
			if (k == 0)
				continue;	/* the parent sends none such */
			node = (unsigned long)(list[0] - g->nodes);
		} else if (line[0] == 'Q')
			node = 0;
		else if (sscanf(line, "B %lu %d", &node, &fetch_too) != 2 ||
		    node >= g->nnodes)
			continue;
		w.job.bytes = 0;
		w.job.out_size = 0;
		fail_clear(&f);
		if (remote_ready(&w) == -1)
			f = w.gone;
		else if (line[0] == 'F') {
			w.job.since = clock_wall();
			if (fetch(&w, list, k) == 0)
				status = BUILD_BUILT;
		} else if (line[0] == 'Q') {
			if (probe(&w) == 0)
				status = BUILD_BUILT;
		} else if (build(&w, &g->nodes[node], fetch_too,
		    &built) == 0)
			status = built;
		if (status == -1 && w.up) {
			/* the builder's failure, or else the local store's */
			f = w.remote.f.kind != FAIL_NONE ? w.remote.f :
			    w.job.local.f;
			if (f.kind == FAIL_NONE)
				f.kind = FAIL_OTHER;
			/* wherever it broke off, the conversation is over */
			w.gone = f;
			ssh_kill(&w.remote);
			w.up = 0;
		}
		if (status == -1) {
			/* and the local store's too: an import may be cut
			 * off in the middle */
			(void)job_close(&w.job, 0);
		}
		job_note(&w.job, "idle");
		/* the job's cost, and its session's if it began it */
		cost_now(&now);
		memset(&spent, 0, sizeof(spent));
		cost_add(&spent, &since, &now);
		since = now;
		if (answer(res, node, status, &f, w.job.bytes,
		    line[0] == 'B' ? w.job.out_size : 0, &spent) == -1)
			break;
	}
	if (w.up)
		ssh_close(&w.remote);
	(void)job_close(&w.job, 1);
	job_free(&w.job);
	_exit(0);
}

/*
 * A free entry in ws->v: one whose worker was retired and has exited
 * (reaped here), or a new one.  NULL when WORKERS_MAX are in use.
 */
static struct worker *
entry(struct workers *ws)
{
	struct worker	*w;
	size_t		 i;

	for (i = 0; i < ws->n; i++) {
		w = &ws->v[i];
		if (w->cmd != -1 || w->busy)
			continue;
		if (w->pid != -1 && waitpid(w->pid, NULL, WNOHANG) == w->pid)
			w->pid = -1;
		if (w->pid == -1)
			break;
	}
	if (i == ws->n) {
		if (ws->n == WORKERS_MAX)
			return NULL;
		ws->n++;
	} else if (ws->v[i].res != -1)
		close(ws->v[i].res);
	w = &ws->v[i];
	memset(w, 0, sizeof(*w));
	w->pid = -1;
	w->cmd = w->res = w->slot.fd = -1;
	return w;
}

/*
 * A worker for slot (taken by the caller): it starts connecting at once.
 * Returns it, or NULL (reported).
 */
struct worker *
worker_start(struct workers *ws, struct slot *slot)
{
	struct worker	*w;
	int		 c[2], r[2];
	pid_t		 pid, parent;
	size_t		 i;

	if ((w = entry(ws)) == NULL)
		return NULL;
	if (pipe(c) == -1) {
		log_err("pipe");
		return NULL;
	}
	if (pipe(r) == -1) {
		log_err("pipe");
		close(c[0]);
		close(c[1]);
		return NULL;
	}
	fflush(stdout);
	fflush(stderr);
	parent = getpid();
	if ((pid = fork()) == -1) {
		log_err("fork");
		close(c[0]);
		close(c[1]);
		close(r[0]);
		close(r[1]);
		return NULL;
	}
	if (pid == 0) {
		close(c[1]);
		close(r[0]);
		for (i = 0; i < ws->n; i++) {
			if (ws->v[i].cmd != -1)
				close(ws->v[i].cmd);
			if (ws->v[i].res != -1)
				close(ws->v[i].res);
		}
		/*
		 * The worker dies with us, even by SIGKILL: by a signal
		 * where the kernel sends one, and where it does not, when
		 * it sees its job pipe hang up.  Until then it holds its
		 * slot too (sched_adopt), so the slot stays taken while
		 * it builds.
		 */
#ifdef __linux__
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
		if (getppid() != parent || sched_adopt(slot) == -1)
			_exit(1);
		wire_lifeline(c[0]);
		worker_main(ws, slot, c[0], r[1]);
	}
	close(c[0]);
	close(r[1]);
	fcntl(c[1], F_SETFD, FD_CLOEXEC);
	fcntl(r[0], F_SETFD, FD_CLOEXEC);
	w->pid = pid;
	w->born = clock_wall();
	w->cmd = c[1];
	w->res = r[0];
	/* our lock on the slot lasts until the worker is retired, the
	 * worker's as long as it lives */
	w->slot = *slot;
	return w;
}

/*
 * A worker that will get no more jobs: its pipe closes, its slot is free
 * (for other processes too), and worker_stop_all or a new worker_start
 * reaps it.
 */
void
worker_retire(struct workers *ws, struct worker *w)
{
	if (w->cmd == -1)
		return;
	close(w->cmd);
	w->cmd = -1;
	sched_release(ws->sched, &w->slot);
}

/* A worker whose pipe hung up: retired and reaped. */
void
worker_lost(struct workers *ws, struct worker *w)
{
	worker_retire(ws, w);
	if (w->pid != -1)
		waitpid(w->pid, NULL, 0);
	w->pid = -1;
}

static int
send_line(struct worker *w, const char *line)
{
	if (write(w->cmd, line, strlen(line)) != (ssize_t)strlen(line)) {
		log_err("worker");
		return -1;
	}
	w->busy = 1;
	w->started = clock_ms();
	return 0;
}

/* Ask w to build node (and with fetch, to bring its outputs home). */
int
worker_build(struct worker *w, size_t node, int fetch)
{
	char	 line[WORKER_LINE_MAX];

	snprintf(line, sizeof(line), "B %zu %d\n", node, fetch);
	if (send_line(w, line) == -1)
		return -1;
	w->node = node;
	w->fetch = 0;
	w->probe = 0;
	return 0;
}

/* Ask w which of the inputs here its builder holds (hold.c). */
int
worker_probe(struct worker *w)
{
	if (send_line(w, "Q\n") == -1)
		return -1;
	w->node = 0;
	w->fetch = 0;
	w->probe = 1;
	return 0;
}

/* Ask w to bring the outputs of nodes (all built on its builder) home. */
int
worker_fetch(struct worker *w, const size_t *nodes, size_t k)
{
	char	 line[WORKER_LINE_MAX], num[24];
	size_t	 i;

	strlcpy(line, "F", sizeof(line));
	for (i = 0; i < k && i < WORKER_FETCH_MAX; i++) {
		snprintf(num, sizeof(num), " %zu", nodes[i]);
		strlcat(line, num, sizeof(line));
		w->fnodes[i] = nodes[i];
	}
	w->nfnodes = i;
	strlcat(line, "\n", sizeof(line));
	if (send_line(w, line) == -1)
		return -1;
	w->node = nodes[0];
	w->fetch = 1;
	w->probe = 0;
	return 0;
}

/*
 * Read what w has sent.  Returns 1 with *line its answer (in w's
 * buffer), 0 when the line is not complete yet, -1 when w hung up.
 */
int
worker_read(struct worker *w, char **line)
{
	ssize_t	 r;
	char	*nl;

	/* the line taken last time goes first */
	if (w->taken > 0) {
		memmove(w->buf, w->buf + w->taken, w->len - w->taken);
		w->len -= w->taken;
		w->buf[w->len] = '\0';
		w->taken = 0;
	}
	if (memchr(w->buf, '\n', w->len) == NULL) {
		r = read(w->res, w->buf + w->len, sizeof(w->buf) - 1 - w->len);
		if (r <= 0)
			return -1;
		w->len += (size_t)r;
		w->buf[w->len] = '\0';
	}
	if ((nl = memchr(w->buf, '\n', w->len)) == NULL) {
		if (w->len == sizeof(w->buf) - 1)
			w->len = 0;	/* a line too long: cut */
		return 0;
	}
	*nl = '\0';
	w->taken = (size_t)(nl - w->buf) + 1;
	*line = w->buf;
	return 1;
}

/* Is another whole line of w's waiting in its buffer? */
int
worker_pending(const struct worker *w)
{
	return w->len > w->taken && memchr(w->buf + w->taken, '\n',
	    w->len - w->taken) != NULL;
}

/*
 * w's answer line (NULL: w died) into a; w is idle again.  Nonsense, and
 * a worker that died, count as if its builder had dropped the job.
 */
void
worker_answer(const struct workers *ws, struct worker *w, const char *line,
    struct answer *a)
{
	const char		*uri = ws->ms->v[w->slot.machine].uri_text;
	unsigned long		 node;
	unsigned long long	 bytes, rtt, here, there, size;
	int			 off = 0, kind;

	memset(a, 0, sizeof(*a));
	if (line == NULL || sscanf(line, "R %lu %d %d %llu %llu %llu %llu %llu "
	    "%n", &node, &a->status, &kind, &bytes, &rtt, &here, &there, &size,
	    &off) != 8 || off == 0 ||
	    node != w->node || kind < FAIL_NONE || kind >= FAIL_KINDS) {
		fail_set(&a->f, FAIL_DROPPED, uri, "the worker for this "
		    "builder %s", line == NULL ? "ended unexpectedly" :
		    "answered nonsense");
		a->node = w->node;
		a->status = -1;
	} else {
		a->node = node;
		a->bytes = bytes;
		a->out_size = size < JOB_SIZE_HINT_MAX ? size :
		    JOB_SIZE_HINT_MAX;
		a->cost.rtt = rtt;
		a->cost.here = here;
		a->cost.there = there;
		if (a->status == -1) {
			/* the worker's message names the builder already */
			fail_set(&a->f, (enum fail)kind, NULL, "%s",
			    line + off);
			strlcpy(a->f.where, uri, sizeof(a->f.where));
		}
	}
	w->busy = 0;
}

/* End every worker (by SIGTERM if kill), and reap them. */
void
worker_stop_all(struct workers *ws, int kill_them)
{
	size_t	 i;

	for (i = 0; i < ws->n; i++) {
		struct worker *w = &ws->v[i];
		if (w->cmd != -1)
			close(w->cmd);
		if (kill_them && w->pid != -1)
			kill(w->pid, SIGTERM);
	}
	for (i = 0; i < ws->n; i++) {
		struct worker *w = &ws->v[i];
		if (w->pid != -1)
			waitpid(w->pid, NULL, 0);
		if (w->res != -1)
			close(w->res);
		if (w->slot.fd != -1)
			close(w->slot.fd);
	}
}
