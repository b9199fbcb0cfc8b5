/*
 * nix-offload build: build derivations on the builders and bring the
 * outputs home.
 *
 * The parent reads the whole graph of .drv files, asks the local store
 * once which outputs it has, and schedules what is missing, dependencies
 * first.  Each builder slot it uses gets a worker: a child process that
 * holds the slot's lock, one serve session on the builder (over the
 * builder's control master) and one on the local store, and takes job
 * after job from the parent on a pipe:
 *
 *	B <node> <fetch>	copy the inputs over, build, and, if fetch,
 *				bring the outputs home
 *	F <node>		bring a node's outputs home
 *
 * and answers each with "R <node> <status> <fail> <bytes> <message>"
 * (status: a BuildResult status, or -1 when the job failed, with the enum
 * fail and the error).  Workers print no errors of their own but a
 * build's: the parent says once that a builder went away, not once per
 * slot.  Outputs that only a later build on the same builder needs stay
 * there.
 *
 * A builder that goes away (the connection drops, stops answering, or
 * never comes up) is given up for the rest of the run: what it was
 * building, and the outputs that were only there, go back in the queue for
 * the other builders, BUILD_ATTEMPTS times at most per derivation, and the
 * user reads one line, "builder X disconnected; N derivations moved".
 */
#include <sys/stat.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

#define BUILD_NODES_MAX		(1u << 20)
#define BUILD_WORKERS_MAX	256
#define BUILD_LINE_MAX		4096
#define BUILD_FETCH_MAX		256	/* nodes fetched by one job */
#define BUILD_SLOT_POLL_MS	50	/* between tries for a taken slot */
#define BUILD_ATTEMPTS		3	/* builders one derivation may lose */
#define BUILD_NAMES_SHOWN	5	/* moved derivations named in the line */

enum node_state {
	N_SKIP,		/* outputs valid locally, or not needed */
	N_WAIT,		/* waiting for dependencies */
	N_READY,
	N_RUNNING,
	N_BUILT,	/* outputs exist on builder node->where */
	N_FETCHING,
	N_LOCAL,	/* outputs valid locally */
	N_FAILED
};

struct node {
	char		*path;		/* the .drv */
	char		 name[256];
	struct drv	 d;
	struct strlist	 features;
	size_t		*deps;		/* nodes of d.inputs, in order */
	size_t		 ndeps;
	size_t		*users;		/* nodes that depend on this one */
	size_t		 nusers;
	size_t		 nusers_alloc;
	int		 root;
	int		 valid;		/* all outputs valid locally */
	int		 needed;
	enum node_state	 state;
	size_t		 where;		/* the builder that has the outputs */
	int		 attempts;
	int		 waiting;	/* unfinished dependencies */
};

struct worker {
	pid_t		 pid;
	int		 cmd;		/* we write jobs here */
	int		 res;		/* and read results here */
	struct slot	 slot;
	int		 busy;
	size_t		 node;
	int		 fetch;		/* the job is a fetch */
	size_t		 fnodes[BUILD_FETCH_MAX]; /* of that fetch */
	size_t		 nfnodes;
	int64_t		 started;
	char		 buf[BUILD_LINE_MAX];
	size_t		 len;
};

/* A builder this process gave up on, and what it took along. */
struct loss {
	enum fail	 why;		/* the first failure */
	char		 first[512];	/* and its message */
	int		 said;		/* the user has been told */
	size_t		 moved;		/* derivations another builder can take */
	char		 names[256];	/* the first BUILD_NAMES_SHOWN moved */
};

struct build {
	struct conf	 conf;
	struct machines	 ms;
	struct sched	 sched;
	struct node	*nodes;
	size_t		 nnodes;
	struct worker	*workers;
	size_t		 nworkers;
	long		 jobs;
	int		 keep_going;
	int		 slot_wait;	/* a builder fit, but had no free slot */
	int		 json;
	int		 tty;
	char		*down;		/* [machine]: failed to connect */
	struct loss	*loss;		/* [machine]: since it went down */
	struct build_options opts;
	unsigned	 mask;		/* Nix's exit status bits */
	int		 misc;		/* a failure without a bit */
	size_t		 done, total, running;
	uint64_t	 copied;
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

/* Find a node by .drv path (linear in a sorted index would do; graphs here
 * are hundreds of nodes, and this is called once per edge). */
static long
node_find(struct build *b, const char *path)
{
	size_t	 i;

	for (i = b->nnodes; i-- > 0;)
		if (strcmp(b->nodes[i].path, path) == 0)
			return (long)i;
	return -1;
}

static long
node_add(struct build *b, const char *path)
{
	struct node	*v;
	long		 i;

	if ((i = node_find(b, path)) != -1)
		return i;
	if (b->nnodes >= BUILD_NODES_MAX) {
		log_errx("more than %u derivations", BUILD_NODES_MAX);
		return -1;
	}
	if ((v = reallocarray(b->nodes, b->nnodes + 1, sizeof(*v))) == NULL) {
		log_err("build");
		return -1;
	}
	b->nodes = v;
	v = &b->nodes[b->nnodes];
	memset(v, 0, sizeof(*v));
	if ((v->path = strdup(path)) == NULL) {
		log_err("build");
		return -1;
	}
	if (drv_name(path, v->name, sizeof(v->name)) == -1)
		snprintf(v->name, sizeof(v->name), "%s", path);
	return (long)b->nnodes++;
}

static int
add_user(struct node *n, size_t user)
{
	size_t	*v;

	if (n->nusers == n->nusers_alloc) {
		size_t	 na = n->nusers_alloc ? n->nusers_alloc * 2 : 4;
		if ((v = reallocarray(n->users, na, sizeof(*v))) == NULL)
			return -1;
		n->users = v;
		n->nusers_alloc = na;
	}
	n->users[n->nusers++] = user;
	return 0;
}

/* Read every .drv reachable from the roots (nodes 0..nroots-1). */
static int
load_graph(struct build *b)
{
	size_t	 i, j;
	long	 k;

	for (i = 0; i < b->nnodes; i++) {
		struct node *n = &b->nodes[i];

		if (drv_read(n->path, &n->d) == -1 ||
		    drv_required_features(&n->d, &n->features) == -1)
			return -1;
		if (n->d.ninputs > 0 &&
		    (n->deps = calloc(n->d.ninputs, sizeof(*n->deps))) == NULL) {
			log_err("build");
			return -1;
		}
		for (j = 0; j < n->d.ninputs; j++) {
			if ((k = node_add(b, n->d.inputs[j].path)) == -1)
				return -1;
			n = &b->nodes[i];	/* nodes may have moved */
			n->deps[n->ndeps++] = (size_t)k;
			if (add_user(&b->nodes[k], i) == -1) {
				log_err("build");
				return -1;
			}
		}
	}
	return 0;
}

/* The output path of input j of node n (its used outputs), into l. */
static int
input_paths(struct build *b, struct node *n, size_t j, struct strlist *l)
{
	const struct node	*dep = &b->nodes[n->deps[j]];
	const struct strlist	*want = n->d.inputs[j].outputs;
	size_t			 k, o;

	for (k = 0; k < want->n; k++) {
		for (o = 0; o < dep->d.noutputs; o++)
			if (strcmp(dep->d.outputs[o].name, want->v[k]) == 0)
				break;
		if (o == dep->d.noutputs || dep->d.outputs[o].path[0] == '\0') {
			log_errx("%s: input %s has no output %s with a known "
			    "path (content-addressed derivations are not "
			    "supported yet)", n->path, dep->path, want->v[k]);
			return -1;
		}
		if (strlist_add(l, dep->d.outputs[o].path) == -1)
			return -1;
	}
	return 0;
}

static int
outputs_of(const struct node *n, struct strlist *l)
{
	size_t	 o;

	for (o = 0; o < n->d.noutputs; o++) {
		if (n->d.outputs[o].path[0] == '\0') {
			log_errx("%s: output %s has no path known in advance "
			    "(content-addressed derivations are not supported "
			    "yet)", n->path, n->d.outputs[o].name);
			return -1;
		}
		if (strlist_add(l, n->d.outputs[o].path) == -1)
			return -1;
	}
	return 0;
}

/* Which nodes have all their outputs in the local store already. */
static int
check_valid(struct build *b, struct conn *local)
{
	struct strlist	 all = { NULL, 0, 0 }, valid = { NULL, 0, 0 };
	size_t		 i, o, k;
	int		 rc = -1;

	for (i = 0; i < b->nnodes; i++)
		if (outputs_of(&b->nodes[i], &all) == -1)
			goto out;
	if (serve_query_valid_paths(local, &all, 0, 0, &valid) == -1)
		goto out;
	strlist_sort_uniq(&valid);
	for (i = 0; i < b->nnodes; i++) {
		struct node *n = &b->nodes[i];
		n->valid = 1;
		for (o = 0; o < n->d.noutputs && n->valid; o++) {
			for (k = 0; k < valid.n; k++)
				if (strcmp(valid.v[k], n->d.outputs[o].path) == 0)
					break;
			if (k == valid.n)
				n->valid = 0;
		}
	}
	rc = 0;
out:
	strlist_free(&all);
	strlist_free(&valid);
	return rc;
}

/* Mark what must be built: missing nodes reachable through missing ones. */
static void
mark_needed(struct build *b, size_t nroots)
{
	size_t	*stack, ns = 0, i, j;

	if ((stack = calloc(b->nnodes + 1, sizeof(*stack))) == NULL)
		return;
	for (i = 0; i < nroots; i++)
		if (!b->nodes[i].valid && !b->nodes[i].needed) {
			b->nodes[i].needed = 1;
			stack[ns++] = i;
		}
	while (ns > 0) {
		struct node *n = &b->nodes[stack[--ns]];
		for (j = 0; j < n->ndeps; j++) {
			struct node *d = &b->nodes[n->deps[j]];
			if (!d->valid && !d->needed) {
				d->needed = 1;
				stack[ns++] = n->deps[j];
			}
		}
	}
	free(stack);
	for (i = 0; i < b->nnodes; i++) {
		struct node *n = &b->nodes[i];
		if (!n->needed) {
			n->state = n->valid ? N_LOCAL : N_SKIP;
			continue;
		}
		b->total++;
		n->waiting = 0;
		for (j = 0; j < n->ndeps; j++)
			if (b->nodes[n->deps[j]].needed)
				n->waiting++;
		n->state = n->waiting == 0 ? N_READY : N_WAIT;
	}
}

/*
 * Before anything starts: every derivation to build must fit some builder.
 * If one does not, say why for every builder, once per kind of
 * derivation (system and features), not once per derivation.
 */
static int
check_fits(struct build *b)
{
	size_t		 i, j, k;
	char		 why[8192], r[256];
	int		 bad = 0;

	for (i = 0; i < b->nnodes; i++) {
		struct node	*n = &b->nodes[i];
		int		 fits = 0, seen = 0;

		if (!n->needed)
			continue;
		for (j = 0; j < b->ms.n && !fits; j++)
			fits = sched_fits(&b->ms.v[j], n->d.platform,
			    &n->features, r, sizeof(r));
		if (fits)
			continue;
		/* said already for an earlier node of the same kind? */
		for (k = 0; k < i && !seen; k++) {
			struct node *o = &b->nodes[k];
			size_t f;
			if (!o->needed || strcmp(o->d.platform,
			    n->d.platform) != 0 ||
			    o->features.n != n->features.n)
				continue;
			for (f = 0; f < n->features.n; f++)
				if (strcmp(o->features.v[f],
				    n->features.v[f]) != 0)
					break;
			seen = f == n->features.n;
		}
		bad++;
		if (seen)
			continue;
		why[0] = '\0';
		for (j = 0; j < b->ms.n; j++) {
			char	 line[512];
			sched_fits(&b->ms.v[j], n->d.platform, &n->features, r,
			    sizeof(r));
			snprintf(line, sizeof(line), "\n  %s: %s",
			    b->ms.v[j].uri_text, r);
			strlcat(why, line, sizeof(why));
		}
		{
			char	 feat[512] = "";
			for (j = 0; j < n->features.n; j++) {
				strlcat(feat, j ? "," : ", features ",
				    sizeof(feat));
				strlcat(feat, n->features.v[j], sizeof(feat));
			}
			log_errx("no builder can build %s (system %s%s)%s%s",
			    n->name, n->d.platform, feat,
			    b->ms.n == 0 ? ": no builders are configured "
			    "(builders = ... in nix.conf, or --builders)" : ":",
			    why);
		}
	}
	return bad ? -1 : 0;
}

/* Progress: a live line on a terminal, a plain line per event elsewhere. */
static void
progress(struct build *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
progress(struct build *b, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (b->json && !b->tty)
		return;
	if (b->tty)
		fprintf(stderr, "\r\033[K[%zu/%zu/%zu built, %.1f MiB copied] %s",
		    b->done, b->running, b->total, b->copied / 1048576.0, msg);
	else
		fprintf(stderr, "%s\n", msg);
}

/*
 * The worker: one slot on one builder.
 */
struct wctx {
	struct build	*b;
	struct conn	 local, remote;
	int		 up;		/* remote is in conversation */
	int		 opened;	/* remote was opened once */
	char		 gone[1024];	/* why it is not up any more */
	const struct machine *m;
	char		 prefix[300];	/* "name> " before each log line */
	int		 have_local;
};

/*
 * The worker's session with the local store, opened on first use: leaves
 * with no inputs whose outputs stay on the builder never need it, and
 * starting a nix-store costs more than building a trivial derivation.
 */
static int
local_ready(struct wctx *w)
{
	if (w->have_local)
		return 0;
	if (store_open(&w->local) == -1)
		return -1;
	w->have_local = 1;
	return 0;
}

/* Copy the outputs of nodes (with their closure) home, in one stream. */
static int
fetch_outputs(struct wctx *w, struct node **nodes, size_t k, uint64_t *bytes)
{
	struct strlist	 outs = { NULL, 0, 0 }, closure = { NULL, 0, 0 };
	struct copy_stats st = { 0, 0 };
	size_t		 i;
	int		 rc = -1;

	for (i = 0; i < k; i++)
		if (outputs_of(nodes[i], &outs) == -1)
			goto out;
	if (local_ready(w) == 0 &&
	    serve_query_closure(&w->remote, &outs, 0, &closure) == 0 &&
	    copy_from(&w->remote, &w->local, &closure, &st) == 0)
		rc = 0;
out:
	*bytes += st.bytes;
	strlist_free(&outs);
	strlist_free(&closure);
	return rc;
}

static int
do_build(struct wctx *w, struct node *n, int fetch, uint64_t *bytes,
    struct build_result *r)
{
	struct build	*b = w->b;
	struct strlist	 inputs = { NULL, 0, 0 }, valid = { NULL, 0, 0 };
	struct strlist	 closure = { NULL, 0, 0 };
	struct copy_stats st = { 0, 0 };
	size_t		 j;
	int		 rc = -1;
	int64_t		 t0, t1, t2;

	/* the inputs: sources and the used outputs of input derivations */
	for (j = 0; j < n->d.srcs->n; j++)
		if (strlist_add(&inputs, n->d.srcs->v[j]) == -1)
			goto out;
	for (j = 0; j < n->ndeps; j++)
		if (input_paths(b, n, j, &inputs) == -1)
			goto out;
	strlist_sort_uniq(&inputs);
	/* those in the local store go over with their closure; the others
	 * were built on this builder and are there already */
	if (inputs.n > 0 && (local_ready(w) == -1 ||
	    serve_query_valid_paths(&w->local, &inputs, 0, 0, &valid) == -1) )
		goto out;
	if (valid.n > 0 &&
	    serve_query_closure(&w->local, &valid, 0, &closure) == -1)
		goto out;
	t0 = now_ms();
	if (closure.n > 0 && copy_to(&w->local, &w->remote, &closure,
	    b->conf.builders_use_substitutes, &st) == -1)
		goto out;
	t1 = now_ms();
	*bytes += st.bytes;
	w->remote.echo_stderr = 1;
	snprintf(w->prefix, sizeof(w->prefix), "%s> ", n->name);
	w->remote.log_prefix = w->prefix;
	if (serve_build_derivation(&w->remote, n->path, &n->d, &inputs,
	    &b->opts, r) == -1)
		goto out;
	w->remote.echo_stderr = 0;
	t2 = now_ms();
	if (r->status <= BUILD_ALREADY_VALID ||
	    r->status == BUILD_RESOLVES_TO_ALREADY_VALID) {
		if (fetch && fetch_outputs(w, &n, 1, bytes) == -1)
			goto out;
	}
	log_debug(2, "%s: %s: inputs %lld ms, build %lld ms, outputs %lld ms",
	    w->m->uri_text, n->name, (long long)(t1 - t0),
	    (long long)(t2 - t1), (long long)(now_ms() - t2));
	rc = 0;
out:
	w->remote.echo_stderr = 0;
	strlist_free(&inputs);
	strlist_free(&valid);
	strlist_free(&closure);
	return rc;
}

/* Tell the parent how a job ended, with the error if it failed. */
static int
answer(int res, unsigned long node, int status, int fail, uint64_t bytes)
{
	char		 out[BUILD_LINE_MAX], *p;
	const char	*msg = log_last();
	int		 n;

	if (status == -1 && *msg == '\0')
		msg = "the job failed without a message";
	n = snprintf(out, sizeof(out), "R %lu %d %d %llu %s", node, status,
	    fail, (unsigned long long)bytes, status == -1 ? msg : "");
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
 * The worker's session with its builder, opened again after a job that
 * failed for a reason of its own (a conversation cut off in the middle
 * cannot go on), but not after the builder failed: the parent gives the
 * builder up and retires this worker.
 */
static int
remote_ready(struct wctx *w)
{
	if (w->up)
		return 0;
	if (w->opened && FAIL_BUILDER(w->remote.fail)) {
		log_errx("%s", w->gone);	/* for this job's answer */
		return -1;
	}
	w->opened = 1;
	if (ssh_open_serve(&w->m->uri, &w->remote) == -1) {
		strlcpy(w->gone, log_last(), sizeof(w->gone));
		return -1;
	}
	w->up = 1;
	health_ok(w->m);
	return 0;
}

static void
worker_main(struct build *b, size_t machine, int cmd, int res)
{
	struct wctx	 w;
	FILE		*in;
	char		 line[BUILD_LINE_MAX];
	struct node	*list[BUILD_FETCH_MAX];
	unsigned long	 node = 0;
	size_t		 k = 0;
	int		 fetch = 0;
	int64_t		 t0;

	memset(&w, 0, sizeof(w));
	w.b = b;
	w.m = &b->ms.v[machine];
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	/* errors go to the parent with each answer (see answer()) */
	log_quiet(1);
	if ((in = fdopen(cmd, "r")) == NULL)
		_exit(1);
	/* connect now, while the parent finds more work */
	t0 = now_ms();
	if (remote_ready(&w) == 0)
		log_debug(2, "%s: worker ready in %lld ms", w.m->uri_text,
		    (long long)(now_ms() - t0));
	while (fgets(line, sizeof(line), in) != NULL) {
		struct build_result	 r;
		uint64_t		 bytes = 0;
		int			 status = -1, fail = FAIL_OTHER;

		memset(&r, 0, sizeof(r));
		if (line[0] == 'F') {
			char	*p = line + 1, *e;

			for (k = 0; k < BUILD_FETCH_MAX; k++) {
				unsigned long v = strtoul(p, &e, 10);
				if (e == p || v >= b->nnodes)
					break;
				list[k] = &b->nodes[v];
				p = e;
			}
			if (k == 0)
				continue;	/* the parent sends none such */
			node = (unsigned long)(list[0] - b->nodes);
		} else if (sscanf(line, "B %lu %d", &node, &fetch) != 2 ||
		    node >= b->nnodes)
			continue;
		log_clear();
		if (remote_ready(&w) == -1)
			fail = w.remote.fail != FAIL_NONE ? w.remote.fail :
			    FAIL_OTHER;
		else if (line[0] == 'F') {
			if (fetch_outputs(&w, list, k, &bytes) == 0)
				status = BUILD_BUILT;
			else
				fail = w.remote.fail;
		} else if (do_build(&w, &b->nodes[node], fetch, &bytes,
		    &r) == 0) {
			status = r.status;
			if (r.status > BUILD_ALREADY_VALID &&
			    r.status != BUILD_RESOLVES_TO_ALREADY_VALID) {
				/* the derivation's own failure */
				log_quiet(0);
				log_errx("%s: building %s failed: %s",
				    w.m->uri_text, b->nodes[node].name,
				    r.error && *r.error ? r.error :
				    "no message");
				log_quiet(1);
			}
		} else
			fail = w.remote.fail;
		free(r.error);
		if (status == -1 && w.up) {
			/* wherever it broke off, the conversation is over */
			strlcpy(w.gone, log_last(), sizeof(w.gone));
			ssh_kill(&w.remote);
			w.up = 0;
		}
		if (status == -1 && w.have_local) {
			/* and the local store's too: an import may be cut
			 * off in the middle (unsent bytes are dropped) */
			w.local.wlen = 0;
			store_close(&w.local);
			w.have_local = 0;
		}
		if (answer(res, node, status, fail, bytes) == -1)
			break;
	}
	if (w.up)
		ssh_close(&w.remote);
	if (w.have_local)
		store_close(&w.local);
	_exit(0);
}

/*
 * A free entry in b->workers: one whose worker was retired and has
 * exited (reaped here), or a new one.  NULL when BUILD_WORKERS_MAX are
 * in use.
 */
static struct worker *
worker_entry(struct build *b)
{
	struct worker	*w;
	size_t		 i;

	for (i = 0; i < b->nworkers; i++) {
		w = &b->workers[i];
		if (w->cmd != -1 || w->busy)
			continue;
		if (w->pid != -1 && waitpid(w->pid, NULL, WNOHANG) == w->pid)
			w->pid = -1;
		if (w->pid == -1)
			break;
	}
	if (i == b->nworkers) {
		if (b->nworkers == BUILD_WORKERS_MAX)
			return NULL;
		b->nworkers++;
	} else if (b->workers[i].res != -1)
		close(b->workers[i].res);
	w = &b->workers[i];
	memset(w, 0, sizeof(*w));
	w->pid = -1;
	w->cmd = w->res = w->slot.fd = -1;
	return w;
}

static struct worker *
worker_start(struct build *b, struct slot *slot)
{
	struct worker	*w;
	int		 c[2], r[2];
	pid_t		 pid, parent;
	size_t		 i;

	if ((w = worker_entry(b)) == NULL)
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
		for (i = 0; i < b->nworkers; i++) {
			if (b->workers[i].cmd != -1)
				close(b->workers[i].cmd);
			if (b->workers[i].res != -1)
				close(b->workers[i].res);
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
		worker_main(b, slot->machine, c[0], r[1]);
	}
	close(c[0]);
	close(r[1]);
	fcntl(c[1], F_SETFD, FD_CLOEXEC);
	fcntl(r[0], F_SETFD, FD_CLOEXEC);
	w->pid = pid;
	w->cmd = c[1];
	w->res = r[0];
	/* our lock on the slot lasts until the worker is retired, the
	 * worker's as long as it lives */
	w->slot = *slot;
	return w;
}

/* A worker that will get no more jobs: its pipe closes, its slot is free
 * (for other processes too), and stop_workers or worker_entry reaps it. */
static void
retire(struct build *b, struct worker *w)
{
	if (w->cmd == -1)
		return;
	close(w->cmd);
	w->cmd = -1;
	sched_release(&b->sched, &w->slot);
}

/* Ask w to bring the outputs of nodes (all built on its builder) home. */
static int
send_fetch(struct build *b, struct worker *w, const size_t *nodes, size_t k)
{
	char	 line[BUILD_LINE_MAX], num[24];
	size_t	 i;

	strlcpy(line, "F", sizeof(line));
	for (i = 0; i < k; i++) {
		snprintf(num, sizeof(num), " %zu", nodes[i]);
		strlcat(line, num, sizeof(line));
		w->fnodes[i] = nodes[i];
	}
	w->nfnodes = k;
	strlcat(line, "\n", sizeof(line));
	if (write(w->cmd, line, strlen(line)) != (ssize_t)strlen(line)) {
		log_err("worker");
		return -1;
	}
	w->busy = 1;
	w->node = nodes[0];
	w->fetch = 1;
	w->started = now_ms();
	for (i = 0; i < k; i++)
		b->nodes[nodes[i]].state = N_FETCHING;
	return 0;
}

static int
send_job(struct build *b, struct worker *w, size_t node, int fetch_only,
    int fetch)
{
	char	 line[BUILD_LINE_MAX];

	snprintf(line, sizeof(line), "B %zu %d\n", node, fetch);
	if (write(w->cmd, line, strlen(line)) != (ssize_t)strlen(line)) {
		log_err("worker");
		return -1;
	}
	w->busy = 1;
	w->node = node;
	w->fetch = fetch_only;
	w->started = now_ms();
	b->running += !fetch_only;
	return 0;
}

/* Must node n's outputs come home right after it is built on machine m? */
static int
want_home(struct build *b, const struct node *n, size_t m)
{
	size_t	 u;
	char	 r[256];

	if (n->root)
		return 1;
	for (u = 0; u < n->nusers; u++) {
		const struct node *user = &b->nodes[n->users[u]];
		if (user->needed && !sched_fits(&b->ms.v[m],
		    user->d.platform, &user->features, r, sizeof(r)))
			return 1;
	}
	return 0;
}

/* An idle worker on machine m (any machine if m is -1) fitting node n. */
static struct worker *
idle_worker(struct build *b, long m, const struct node *n)
{
	size_t	 i;
	char	 r[256];

	for (i = 0; i < b->nworkers; i++) {
		struct worker *w = &b->workers[i];
		if (w->busy || w->pid == -1 || b->down[w->slot.machine])
			continue;
		if (m != -1 && w->slot.machine != (size_t)m)
			continue;
		if (n != NULL && !sched_fits(&b->ms.v[w->slot.machine],
		    n->d.platform, &n->features, r, sizeof(r)))
			continue;
		return w;
	}
	return NULL;
}

static int
machine_down(void *arg, size_t m)
{
	struct build *b = arg;

	return b->down[m];
}

/* Take a new slot on machine m (or the best fitting one, m = -1). */
static struct worker *
new_worker(struct build *b, long m, const struct node *n)
{
	struct worker	*w;
	struct slot	 slot;
	size_t		 busy = 0, i;
	int		 r;

	/* retired workers count no more */
	for (i = 0; i < b->nworkers; i++)
		busy += b->workers[i].pid != -1 && b->workers[i].cmd != -1;
	/* at -j: an idle worker (on a builder that does not fit, or the
	 * caller would have taken it) gives its place up */
	for (i = 0; (long)busy >= b->jobs && i < b->nworkers; i++) {
		struct worker *w = &b->workers[i];
		if (w->pid != -1 && w->cmd != -1 && !w->busy) {
			retire(b, w);
			busy--;
		}
	}
	if ((long)busy >= b->jobs)
		return NULL;
	if (m == -1)
		r = sched_pick(&b->sched, n->d.platform, &n->features, &slot,
		    NULL, 0);
	else {
		/* only machine m will do: hide the others from the picker */
		char	*save = b->down;
		char	*only = calloc(b->ms.n, 1);
		if (only == NULL)
			return NULL;
		for (i = 0; i < b->ms.n; i++)
			only[i] = i != (size_t)m || save[i];
		b->down = only;
		r = sched_pick(&b->sched, n->d.platform, &n->features, &slot,
		    NULL, 0);
		b->down = save;
		free(only);
	}
	if (r == 0)
		b->slot_wait = 1;	/* busy, maybe with other processes */
	if (r != 1)
		return NULL;
	log_debug(1, "%s: chosen for %s (system %s)", b->ms.v[slot.machine].uri_text,
	    n->name, n->d.platform);
	if ((w = worker_start(b, &slot)) == NULL)
		sched_release(&b->sched, &slot);
	return w;
}

/*
 * The inputs of n sit on several builders (or on one that cannot build
 * n): n goes to the fitting builder that holds most of them, and the
 * others come home first, one fetch job per builder.
 */
static void
fetch_for(struct build *b, struct node *n)
{
	size_t		*count, m, j, best = 0, k;
	long		 target = -1;
	size_t		 list[BUILD_FETCH_MAX];
	struct worker	*w;
	char		 r[256];

	if ((count = calloc(b->ms.n, sizeof(*count))) == NULL)
		return;
	for (j = 0; j < n->ndeps; j++)
		if (b->nodes[n->deps[j]].state == N_BUILT)
			count[b->nodes[n->deps[j]].where]++;
	for (m = 0; m < b->ms.n; m++)
		if (count[m] > best && !b->down[m] && sched_fits(&b->ms.v[m],
		    n->d.platform, &n->features, r, sizeof(r))) {
			best = count[m];
			target = (long)m;
		}
	for (m = 0; m < b->ms.n; m++) {
		if ((long)m == target || count[m] == 0)
			continue;
		for (j = 0, k = 0; j < n->ndeps && k < BUILD_FETCH_MAX; j++) {
			struct node *d = &b->nodes[n->deps[j]];
			if (d->state == N_BUILT && d->where == m)
				list[k++] = n->deps[j];
		}
		if ((w = idle_worker(b, (long)m, NULL)) == NULL &&
		    (w = new_worker(b, (long)m, &b->nodes[list[0]])) == NULL)
			continue;
		send_fetch(b, w, list, k);
	}
	free(count);
}

/*
 * Start what can start.  A ready node whose missing inputs all sit on one
 * builder goes there; if they sit on several, see fetch_for.
 */
static void
dispatch(struct build *b)
{
	size_t	 i, j;

	for (i = 0; i < b->nnodes; i++) {
		struct node	*n = &b->nodes[i];
		long		 at = -1;
		int		 spread = 0;
		struct worker	*w;
		char		 r[256];

		if (n->state != N_READY)
			continue;
		for (j = 0; j < n->ndeps; j++) {
			struct node *d = &b->nodes[n->deps[j]];
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
		if (at != -1 && (spread || b->down[at] ||
		    !sched_fits(&b->ms.v[at], n->d.platform, &n->features, r,
		    sizeof(r)))) {
			fetch_for(b, n);
			continue;
		}
		if ((w = idle_worker(b, at, n)) == NULL &&
		    (w = new_worker(b, at, n)) == NULL)
			continue;
		if (send_job(b, w, i, 0, want_home(b, n, w->slot.machine)) == 0) {
			n->state = N_RUNNING;
			progress(b, "building %s on %s", n->name,
			    b->ms.v[w->slot.machine].uri_text);
		}
	}
}

/* Nix's exit status bits for a failed build result. */
static void
account_failure(struct build *b, int status)
{
	switch (status) {
	case BUILD_TIMED_OUT:
		b->mask |= 0x04 | 0x01;
		break;
	case BUILD_OUTPUT_REJECTED:
		b->mask |= 0x04 | 0x02;
		break;
	case BUILD_NOT_DETERMINISTIC:
		b->mask |= 0x08;
		break;
	case BUILD_PERMANENT_FAILURE:
	case BUILD_INPUT_REJECTED:
	case BUILD_TRANSIENT_FAILURE:
	case BUILD_LOG_LIMIT_EXCEEDED:
		b->mask |= 0x04;
		break;
	default:
		b->misc = 1;
	}
}

static void
fail_users(struct build *b, size_t i)
{
	size_t	 u;

	for (u = 0; u < b->nodes[i].nusers; u++) {
		struct node *user = &b->nodes[b->nodes[i].users[u]];
		if (user->needed && (user->state == N_WAIT ||
		    user->state == N_READY)) {
			user->state = N_FAILED;
			fail_users(b, b->nodes[i].users[u]);
		}
	}
}

static void
finished(struct build *b, size_t i)
{
	size_t	 u;

	for (u = 0; u < b->nodes[i].nusers; u++) {
		struct node *user = &b->nodes[b->nodes[i].users[u]];
		if (user->needed && user->state == N_WAIT &&
		    --user->waiting == 0)
			user->state = N_READY;
	}
}

/* Has a dependency of n failed (so that n cannot be built)? */
static int
dep_failed(const struct build *b, const struct node *n)
{
	size_t	 j;

	for (j = 0; j < n->ndeps; j++)
		if (b->nodes[n->deps[j]].needed &&
		    b->nodes[n->deps[j]].state == N_FAILED)
			return 1;
	return 0;
}

/*
 * Node i was being built on builder m, or its outputs were there only,
 * and m went away: back in the queue, unless it has lost too many or
 * what it needs failed meanwhile.  The caller recounts what waits for
 * what (recount).
 */
static void
requeue(struct build *b, size_t i, size_t m)
{
	struct node	*n = &b->nodes[i];
	struct loss	*l = &b->loss[m];
	size_t		 k;
	char		 r[256];

	if (n->state == N_BUILT || n->state == N_FETCHING)
		b->done--;
	if (dep_failed(b, n)) {
		n->state = N_FAILED;
		fail_users(b, i);
		return;
	}
	if (++n->attempts >= BUILD_ATTEMPTS) {
		log_errx("%s: given up: %d builders went away while building "
		    "it or holding its outputs", n->name, n->attempts);
		n->state = N_FAILED;
		fail_users(b, i);
		b->misc = 1;
		return;
	}
	n->state = N_READY;
	for (k = 0; k < b->ms.n; k++)
		if (!b->down[k] && sched_fits(&b->ms.v[k], n->d.platform,
		    &n->features, r, sizeof(r)))
			break;
	if (k == b->ms.n)
		return;		/* nowhere to go: run() says why */
	if (l->moved < BUILD_NAMES_SHOWN) {
		if (l->moved > 0)
			strlcat(l->names, ", ", sizeof(l->names));
		strlcat(l->names, n->name, sizeof(l->names));
	} else if (l->moved == BUILD_NAMES_SHOWN)
		strlcat(l->names, ", ...", sizeof(l->names));
	l->moved++;
}

/* After a requeue: what each waiting or ready node still waits for. */
static void
recount(struct build *b)
{
	size_t	 i, j;

	for (i = 0; i < b->nnodes; i++) {
		struct node *n = &b->nodes[i];

		if (!n->needed || (n->state != N_WAIT && n->state != N_READY))
			continue;
		if (dep_failed(b, n)) {
			n->state = N_FAILED;
			fail_users(b, i);
			continue;
		}
		n->waiting = 0;
		for (j = 0; j < n->ndeps; j++) {
			enum node_state ds = b->nodes[n->deps[j]].state;
			if (b->nodes[n->deps[j]].needed && ds != N_BUILT &&
			    ds != N_FETCHING && ds != N_LOCAL)
				n->waiting++;
		}
		n->state = n->waiting == 0 ? N_READY : N_WAIT;
	}
}

/* Are node i's outputs still wanted: home, or by a build not done yet? */
static int
still_wanted(const struct build *b, size_t i)
{
	const struct node	*n = &b->nodes[i];
	size_t			 u;

	if (n->root)
		return 1;
	for (u = 0; u < n->nusers; u++) {
		const struct node *user = &b->nodes[n->users[u]];
		if (user->needed && user->state != N_LOCAL &&
		    user->state != N_FAILED)
			return 1;
	}
	return 0;
}

/*
 * Builder m failed: no more jobs there, its outputs are lost to us, and
 * every process skips it for a while (once per failure, not per slot).
 */
static void
machine_lost(struct build *b, size_t m, enum fail why, const char *msg)
{
	size_t	 i;

	if (b->down[m])
		return;
	b->down[m] = 1;
	b->loss[m].why = why;
	strlcpy(b->loss[m].first, msg, sizeof(b->loss[m].first));
	health_failed(&b->ms.v[m], msg);
	for (i = 0; i < b->nnodes; i++)
		if (b->nodes[i].state == N_BUILT && b->nodes[i].where == m &&
		    still_wanted(b, i))
			requeue(b, i, m);
}

/*
 * Once nothing runs on a builder that went down any more: retire its
 * workers, and tell the user, once, what moved.
 */
static void
machine_settle(struct build *b, size_t m)
{
	struct loss	*l = &b->loss[m];
	size_t		 i;

	for (i = 0; i < b->nworkers; i++)
		if (b->workers[i].slot.machine == m && b->workers[i].busy)
			return;
	for (i = 0; i < b->nworkers; i++)
		if (b->workers[i].slot.machine == m)
			retire(b, &b->workers[i]);
	if (l->said || l->moved == 0)
		return;
	l->said = 1;
	log_warnx("builder %s %s; %zu derivation%s moved (%s)",
	    b->ms.v[m].uri_text, l->why == FAIL_DROPPED ? "disconnected" :
	    l->why == FAIL_TIMEOUT ? "stopped answering" :
	    l->why == FAIL_PROTOCOL ? "broke the serve protocol" : "is down",
	    l->moved, l->moved == 1 ? "" : "s", l->names);
}

/* What a worker's answer means for its node(s) and its builder. */
static void
take_result(struct build *b, struct worker *w, unsigned long node,
    int status, int fail, const char *msg)
{
	struct node	*n = &b->nodes[node];
	size_t		 m = w->slot.machine, k;
	int64_t		 ms = now_ms() - w->started;

	if (status == -1 && FAIL_BUILDER(fail)) {
		/* the builder failed, not the derivation: say it once */
		if (b->down[m])
			log_debug(1, "%s", msg);
		else
			log_errx("%s", msg);
		machine_lost(b, m, (enum fail)fail, msg);
		if (w->fetch)
			for (k = 0; k < w->nfnodes; k++)
				requeue(b, w->fnodes[k], m);
		else
			requeue(b, node, m);
		recount(b);
		return;
	}
	if (status == -1) {
		/* here, not there: the local store, a bad .drv... */
		log_errx("%s", msg);
		b->misc = 1;
		if (w->fetch)
			for (k = 0; k < w->nfnodes; k++) {
				b->nodes[w->fnodes[k]].state = N_FAILED;
				fail_users(b, w->fnodes[k]);
			}
		else {
			n->state = N_FAILED;
			fail_users(b, node);
		}
		return;
	}
	if (w->fetch) {
		for (k = 0; k < w->nfnodes; k++)
			b->nodes[w->fnodes[k]].state = N_LOCAL;
		progress(b, "fetched %zu outputs from %s in %lld ms",
		    w->nfnodes, b->ms.v[m].uri_text, (long long)ms);
		return;
	}
	if (status > BUILD_ALREADY_VALID &&
	    status != BUILD_RESOLVES_TO_ALREADY_VALID) {
		n->state = N_FAILED;
		account_failure(b, status);
		fail_users(b, node);
		progress(b, "failed %s on %s", n->name, b->ms.v[m].uri_text);
		return;
	}
	b->done++;
	n->where = m;
	n->state = want_home(b, n, m) ? N_LOCAL : N_BUILT;
	progress(b, "built %s on %s in %lld ms", n->name, b->ms.v[m].uri_text,
	    (long long)ms);
	finished(b, node);
	if (b->down[m] && n->state == N_BUILT && still_wanted(b, node)) {
		/* built, but where nothing more can reach it */
		requeue(b, node, m);
		recount(b);
	}
}

/* A worker answered, or (line NULL) died. */
static void
result(struct build *b, struct worker *w, const char *line)
{
	unsigned long		 node;
	int			 status, fail, off = 0;
	unsigned long long	 bytes;
	char			 msg[BUILD_LINE_MAX];

	if (line == NULL || sscanf(line, "R %lu %d %d %llu %n", &node,
	    &status, &fail, &bytes, &off) != 4 || off == 0 ||
	    node != w->node) {
		/* as if its builder had dropped the job */
		snprintf(msg, sizeof(msg), "%s: the worker for this builder %s",
		    b->ms.v[w->slot.machine].uri_text, line == NULL ?
		    "ended unexpectedly" : "answered nonsense");
		node = w->node;
		status = -1;
		fail = FAIL_DROPPED;
		bytes = 0;
		line = msg;
		off = 0;
	}
	w->busy = 0;
	b->copied += bytes;
	if (!w->fetch)
		b->running--;
	take_result(b, w, node, status, fail, line + off);
	if (b->down[w->slot.machine])
		machine_settle(b, w->slot.machine);
}

static int
unfinished(struct build *b)
{
	size_t	 i;

	for (i = 0; i < b->nnodes; i++) {
		enum node_state s = b->nodes[i].state;
		if (s == N_WAIT || s == N_READY || s == N_RUNNING ||
		    s == N_FETCHING || (s == N_BUILT && b->nodes[i].root))
			return 1;
	}
	return 0;
}

/* Node i is ready, and no builder can take it: say why, builder by builder. */
static void
stuck(struct build *b, size_t i)
{
	struct node	*n = &b->nodes[i];
	struct slot	 s;
	char		 why[4096], line[URI_MAX + CONF_SRC_MAX + 600], r[256];
	size_t		 m;

	why[0] = '\0';
	for (m = 0; m < b->ms.n; m++) {
		if (!b->down[m] || !sched_fits(&b->ms.v[m], n->d.platform,
		    &n->features, r, sizeof(r)))
			continue;
		snprintf(line, sizeof(line), "\n  %s (%s): failed during "
		    "this build: %s", b->ms.v[m].uri_text, b->ms.v[m].source,
		    b->loss[m].first);
		strlcat(why, line, sizeof(why));
	}
	/* and the others, as the scheduler sees them */
	if (sched_pick(&b->sched, n->d.platform, &n->features, &s,
	    why + strlen(why), sizeof(why) - strlen(why)) == 1) {
		sched_release(&b->sched, &s);
		log_errx("%s: no worker could be started for it (%ld at "
		    "most, -j)", n->name, b->jobs);
		return;
	}
	log_errx("%s: every builder that could build it is down%s", n->name,
	    why);
}

static int
busy_workers(struct build *b)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < b->nworkers; i++)
		n += b->workers[i].busy;
	return n;
}

/* Run the schedule to the end (or the first failure, without -k). */
static void
run(struct build *b)
{
	struct pollfd	 pfd[BUILD_WORKERS_MAX];
	size_t		 i;
	int		 n;
	int64_t		 waiting = 0;	/* for other processes' slots, since */

	for (;;) {
		if (interrupted)
			break;
		b->slot_wait = 0;
		if (b->mask == 0 && !b->misc)
			dispatch(b);
		else if (b->keep_going)
			dispatch(b);
		if (busy_workers(b) == 0) {
			if (!unfinished(b) || b->mask || b->misc)
				break;
			if (b->slot_wait && waiting == 0)
				waiting = now_ms();
			if (b->slot_wait && now_ms() - waiting <
			    (int64_t)b->sched.slot_timeout * 1000) {
				/* other processes hold the slots: wait */
				poll(NULL, 0, BUILD_SLOT_POLL_MS);
				continue;
			}
			if (b->slot_wait)
				log_errx("no slot came free in %ld s on the "
				    "builders that fit (other processes hold "
				    "them; NIX_OFFLOAD_SLOT_TIMEOUT)",
				    b->sched.slot_timeout);
			/* nothing runs and nothing can start */
			for (i = 0; i < b->nnodes; i++)
				if (b->nodes[i].state == N_READY) {
					if (!b->slot_wait)
						stuck(b, i);
					b->nodes[i].state = N_FAILED;
					fail_users(b, i);
				}
			b->misc = 1;
			break;
		}
		waiting = 0;
		for (i = 0; i < b->nworkers; i++) {
			pfd[i].fd = b->workers[i].busy ? b->workers[i].res : -1;
			pfd[i].events = POLLIN;
		}
		if ((n = poll(pfd, b->nworkers, 1000)) <= 0)
			continue;
		for (i = 0; i < b->nworkers; i++) {
			struct worker	*w = &b->workers[i];
			ssize_t		 r;
			char		*nl;

			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			r = read(w->res, w->buf + w->len,
			    sizeof(w->buf) - 1 - w->len);
			if (r <= 0) {
				/* the worker died: its job is lost */
				result(b, w, NULL);
				retire(b, w);
				waitpid(w->pid, NULL, 0);
				w->pid = -1;
				continue;
			}
			w->len += (size_t)r;
			w->buf[w->len] = '\0';
			if ((nl = strchr(w->buf, '\n')) != NULL) {
				*nl = '\0';
				result(b, w, w->buf);
				w->len = 0;
			}
		}
	}
	if (b->tty)
		fputs("\r\033[K", stderr);
}

static void
stop_workers(struct build *b)
{
	size_t	 i;

	for (i = 0; i < b->nworkers; i++) {
		struct worker *w = &b->workers[i];
		if (w->cmd != -1)
			close(w->cmd);
		if (interrupted && w->pid != -1)
			kill(w->pid, SIGTERM);
	}
	for (i = 0; i < b->nworkers; i++) {
		struct worker *w = &b->workers[i];
		if (w->pid != -1)
			waitpid(w->pid, NULL, 0);
		if (w->res != -1)
			close(w->res);
		if (w->slot.fd != -1)
			close(w->slot.fd);
	}
}

/* A line nix-instantiate printed: the root link it made, or a .drv. */
static int
instantiated(void *arg, const char *line)
{
	struct build	*b = arg;
	char		*real, t[256];
	long		 k;

	if (line[0] == '\0')
		return 0;
	/* with --add-root it prints the root link, not the .drv */
	if ((real = realpath(line, NULL)) == NULL || !drv_path_valid(real)) {
		if (real == NULL)
			log_err("nix-instantiate printed \"%s\"",
			    log_printable(line, strlen(line), t, sizeof(t)));
		else
			log_errx("nix-instantiate printed \"%s\", not a "
			    "store derivation", log_printable(line,
			    strlen(line), t, sizeof(t)));
		free(real);
		return -1;
	}
	k = node_add(b, real);
	free(real);
	return k == -1 ? -1 : 0;
}

/*
 * nix-instantiate ARGS..., adding the .drv paths it prints as roots.  The
 * .drv files are GC roots for as long as we run (links in gcdir), so a
 * garbage collection meanwhile cannot take them.  Its stderr (warnings,
 * traces: any amount) goes to ours as it comes.  No time limit: evaluation
 * may be silent for long, and nix-build waits for it too.
 */
static int
instantiate(struct build *b, struct args *ia, const char *gcdir)
{
	int	 status, rc;

	if (args_add(ia, "--add-root") == -1 ||
	    args_add(ia, "%s/drv", gcdir) == -1 ||
	    args_add(ia, "--indirect") == -1)
		return -1;
	rc = spawn_lines(ia->list, " (install Nix)", 0, instantiated, b,
	    &status);
	if (status == -1)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_errx("nix-instantiate failed (exit %d)",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	return rc;
}

/*
 * -o LINK: GC-rooted links, as nix-build makes them.  nix-store's own
 * messages say why one failed; a nix-store silent for longer than
 * NIX_OFFLOAD_IO_TIMEOUT is stopped.
 */
static int
make_links(struct build *b, size_t nroots, const char *link)
{
	size_t	 i, o;
	int	 rc = 0;

	for (i = 0; i < nroots; i++) {
		struct node *n = &b->nodes[i];
		for (o = 0; o < n->d.noutputs; o++) {
			char	 name[PATH_MAX_LEN];
			char	*argv[] = { "nix-store", "--realise",
			    "--add-root", name, "--indirect",
			    n->d.outputs[o].path, NULL };
			int	 status;

			snprintf(name, sizeof(name), "%s%s%.0zu%s%s", link,
			    i > 0 ? "-" : "", i > 0 ? i + 1 : 0,
			    strcmp(n->d.outputs[o].name, "out") ? "-" : "",
			    strcmp(n->d.outputs[o].name, "out") ?
			    n->d.outputs[o].name : "");
			if (spawn_lines(argv, NULL, (int)sshconf.io_timeout,
			    NULL, NULL, &status) == -1 && status == -1)
				return -1;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				log_errx("cannot make the GC root %s", name);
				rc = -1;
			}
		}
	}
	return rc;
}

static void
print_results(struct build *b, size_t nroots)
{
	size_t	 i, o;

	if (b->json)
		putchar('[');
	for (i = 0; i < nroots; i++) {
		struct node *n = &b->nodes[i];
		if (b->json) {
			printf("%s{\"drvPath\":", i ? "," : "");
			json_string(stdout, n->path);
			printf(",\"outputs\":{");
		}
		for (o = 0; o < n->d.noutputs; o++) {
			if (b->json) {
				printf("%s", o ? "," : "");
				json_string(stdout, n->d.outputs[o].name);
				putchar(':');
				json_string(stdout, n->d.outputs[o].path);
			} else
				printf("%s\n", n->d.outputs[o].path);
		}
		if (b->json)
			printf("}}");
	}
	if (b->json)
		printf("]\n");
}

/*
 * The GC roots of a run (the links nix-instantiate makes) live in
 * "roots.PID" in the runtime directory, with a file "lock" that the run
 * holds locked: a run killed by SIGKILL leaves its directory behind, and
 * the next run, finding it unlocked, removes it.  It is made and locked
 * as "roots-new.PID" and renamed, so that no sweep finds it unlocked while
 * it is being made; a run with the same pid removes one left behind.
 */
#define ROOTS_PREFIX	"roots."
#define ROOTS_NEW	"roots-new."	/* being made: not yet locked */

/* Remove directory name of the runtime directory and what is in it. */
static void
roots_remove(const char *name)
{
	DIR		*d;
	struct dirent	*e;
	int		 top, fd;

	if ((top = rundir_dirfd("")) == -1 || (fd = openat(top, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			(void)unlinkat(fd, e->d_name, 0);
	closedir(d);
	(void)unlinkat(top, name, AT_REMOVEDIR);
}

/* Remove what runs that were killed left behind. */
static void
roots_sweep(void)
{
	DIR		*d;
	struct dirent	*e;
	int		 top, fd, lk;

	if ((top = rundir_dirfd("")) == -1 || (fd = dup(top)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		char	 lockname[RUNDIR_NAME_MAX + 8];

		if (strncmp(e->d_name, ROOTS_PREFIX,
		    strlen(ROOTS_PREFIX)) != 0)
			continue;
		snprintf(lockname, sizeof(lockname), "%s/lock", e->d_name);
		if ((lk = openat(top, lockname, O_RDWR | O_NOFOLLOW |
		    O_CLOEXEC)) != -1) {
			if (rundir_lock(lk, F_SETLK, F_WRLCK, 0, 0,
			    NULL) == -1) {
				close(lk);	/* its run goes on */
				continue;
			}
			close(lk);
		}
		log_debug(1, "removing %s/%s, left by a run that was killed",
		    rundir_path(), e->d_name);
		roots_remove(e->d_name);
	}
	closedir(d);
}

/*
 * Make this run's roots directory; its path goes into dir.  Returns the
 * descriptor of its lock (held until we exit), or -1 (reported).
 */
static int
roots_make(char *dir, size_t sz)
{
	char		 name[64], tmp[64], lockname[80];
	int		 top, lk;

	roots_sweep();
	snprintf(name, sizeof(name), ROOTS_PREFIX "%ld", (long)getpid());
	snprintf(tmp, sizeof(tmp), ROOTS_NEW "%ld", (long)getpid());
	snprintf(lockname, sizeof(lockname), "%s/lock", tmp);
	if ((top = rundir_dirfd("")) == -1 || rundir_name(name, dir, sz) == -1)
		return -1;
	/* made and locked under another name: a sweep never sees it unlocked */
	roots_remove(tmp);
	if (mkdirat(top, tmp, 0700) == -1 || (lk = openat(top, lockname,
	    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		log_err("%s/%s", rundir_path(), tmp);
		return -1;
	}
	if (rundir_lock(lk, F_SETLK, F_WRLCK, 0, 0, NULL) == -1 ||
	    renameat(top, tmp, top, name) == -1) {
		log_err("%s", dir);
		close(lk);
		roots_remove(tmp);
		return -1;
	}
	return lk;
}

static int
usage(void)
{
	log_errx("usage: nix-offload build [--builders SPEC] [--option NAME "
	    "VALUE] [-o LINK] [-j N] [--keep-going] [--json] [-A ATTR] "
	    "[--arg NAME EXPR] [--argstr NAME STRING] DRV|FILE.nix|EXPR ...");
	return EXIT_USAGE;
}

int
cmd_build(int argc, char **argv)
{
	struct build	 b;
	struct args	 ia = { NULL, 0, 0 };
	struct strlist	 exprs = { NULL, 0, 0 };
	struct conn	 local;
	const char	*link = NULL;
	size_t		 nroots, i;
	int		 r, rc = EXIT_ERROR, have_local = 0, need_inst = 0;
	int64_t		 t0 = 0;
	char		 gcdir[PATH_MAX_LEN] = "";
	int		 rootslock = -1;
	char		*end;

	memset(&b, 0, sizeof(b));
	conf_init(&b.conf);
	b.tty = isatty(STDERR_FILENO);
	if (args_add(&ia, "nix-instantiate") == -1)
		return EXIT_ERROR;
	for (i = 1; i < (size_t)argc; i++) {
		int	 ii = (int)i;
		if ((r = conf_option(&b.conf, argc, argv, &ii)) == -1)
			goto usage;
		i = (size_t)ii;
		if (r == 1)
			continue;
		if (strcmp(argv[i], "-o") == 0 && i + 1 < (size_t)argc)
			link = argv[++i];
		else if (strcmp(argv[i], "-j") == 0 && i + 1 < (size_t)argc) {
			b.jobs = strtol(argv[++i], &end, 10);
			if (*end != '\0' || b.jobs < 1 ||
			    b.jobs > BUILD_WORKERS_MAX)
				goto usage;
		} else if (strcmp(argv[i], "--keep-going") == 0 ||
		    strcmp(argv[i], "-k") == 0)
			b.keep_going = 1;
		else if (strcmp(argv[i], "--json") == 0)
			b.json = 1;
		else if (strcmp(argv[i], "-v") == 0)
			verbose++;
		else if (strcmp(argv[i], "-A") == 0 && i + 1 < (size_t)argc) {
			if (args_add(&ia, "-A") == -1 ||
			    args_add(&ia, "%s", argv[++i]) == -1)
				goto out;
		} else if ((strcmp(argv[i], "--arg") == 0 ||
		    strcmp(argv[i], "--argstr") == 0) &&
		    i + 2 < (size_t)argc) {
			if (args_add(&ia, "%s", argv[i]) == -1 ||
			    args_add(&ia, "%s", argv[i + 1]) == -1 ||
			    args_add(&ia, "%s", argv[i + 2]) == -1)
				goto out;
			i += 2;
		} else if (argv[i][0] == '-')
			goto usage;
		else if (strlist_add(&exprs, argv[i]) == -1)
			goto out;
	}
	if (exprs.n == 0)
		goto usage;
	t0 = now_ms();
	if (builders_load(&b.conf, &b.ms) == -1) {
		rc = EXIT_USAGE;
		goto out;
	}
	b.opts.max_silent_time = (uint64_t)b.conf.max_silent_time;
	b.opts.timeout = (uint64_t)b.conf.timeout;
	b.opts.max_log_size = (uint64_t)b.conf.max_log_size;
	/*
	 * roots first: store derivations as given, then what nix-instantiate
	 * says.  As nix-build does, an argument is a derivation when it
	 * resolves (symlinks and all) to a .drv in the store; a .drv
	 * anywhere else is refused before it is opened: it may be any file.
	 */
	for (i = 0; i < exprs.n; i++) {
		size_t	 l = strlen(exprs.v[i]);
		char	*real = realpath(exprs.v[i], NULL);
		int	 e = errno;

		if (real != NULL && drv_path_valid(real)) {
			r = node_add(&b, real) == -1;
			free(real);
			if (r)
				goto out;
			continue;
		}
		if (l > 4 && strcmp(exprs.v[i] + l - 4, ".drv") == 0) {
			if (real == NULL) {
				errno = e;
				log_err("%s", exprs.v[i]);
			} else if (strcmp(real, exprs.v[i]) == 0)
				log_errx("%s: not a store derivation (a .drv "
				    "in %s)", exprs.v[i], STORE_DIR);
			else
				log_errx("%s: resolves to %s, not a store "
				    "derivation (a .drv in %s)", exprs.v[i],
				    real, STORE_DIR);
			free(real);
			goto out;
		}
		free(real);
		need_inst = 1;
		if (access(exprs.v[i], F_OK) == 0) {
			if (args_add(&ia, "%s", exprs.v[i]) == -1)
				goto out;
		} else if (args_add(&ia, "-E") == -1 ||
		    args_add(&ia, "%s", exprs.v[i]) == -1)
			goto out;
	}
	if (need_inst) {
		if ((rootslock = roots_make(gcdir, sizeof(gcdir))) == -1) {
			gcdir[0] = '\0';
			goto out;
		}
		if (instantiate(&b, &ia, gcdir) == -1)
			goto out;
	}
	log_debug(2, "%zu derivations to build, at %lld ms", b.nnodes,
	    (long long)(now_ms() - t0));
	nroots = b.nnodes;
	for (i = 0; i < nroots; i++)
		b.nodes[i].root = 1;
	if (load_graph(&b) == -1)
		goto out;
	if (store_open(&local) == -1)
		goto out;
	have_local = 1;
	if (check_valid(&b, &local) == -1)
		goto out;
	store_close(&local);
	have_local = 0;
	mark_needed(&b, nroots);
	log_debug(2, "%zu derivations in the graph, %zu to build, at %lld ms",
	    b.nnodes, b.total, (long long)(now_ms() - t0));
	if (b.total > 0) {
		if (check_fits(&b) == -1)
			goto out;
		if ((b.down = calloc(b.ms.n ? b.ms.n : 1, 1)) == NULL ||
		    (b.loss = calloc(b.ms.n ? b.ms.n : 1,
		    sizeof(*b.loss))) == NULL ||
		    (b.workers = calloc(BUILD_WORKERS_MAX,
		    sizeof(*b.workers))) == NULL) {
			log_err("build");
			goto out;
		}
		if (b.jobs == 0)
			for (i = 0; i < b.ms.n; i++)
				b.jobs += b.ms.v[i].usable ? b.ms.v[i].max_jobs : 0;
		if (b.jobs > BUILD_WORKERS_MAX)
			b.jobs = BUILD_WORKERS_MAX;
		sched_init(&b.sched, &b.ms);
		b.sched.down = machine_down;
		b.sched.arg = &b;
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		run(&b);
		stop_workers(&b);
		sched_free(&b.sched);
	}
	if (interrupted) {
		log_errx("interrupted");
		rc = 128 + interrupted;
		goto out;
	}
	if (b.mask != 0)
		rc = 0x60 | (int)b.mask;
	else if (b.misc)
		rc = EXIT_ERROR;
	else {
		for (i = 0; i < nroots; i++)
			if (b.nodes[i].state != N_LOCAL) {
				log_errx("%s: not built", b.nodes[i].name);
				goto out;
			}
		if (link != NULL && make_links(&b, nroots, link) == -1)
			goto out;
		print_results(&b, nroots);
		rc = EXIT_OK;
	}
out:
	if (have_local)
		store_close(&local);
	if (gcdir[0] != '\0')
		roots_remove(strrchr(gcdir, '/') + 1);
	if (rootslock != -1)
		close(rootslock);
	for (i = 0; i < b.nnodes; i++) {
		free(b.nodes[i].path);
		drv_free(&b.nodes[i].d);
		strlist_free(&b.nodes[i].features);
		free(b.nodes[i].deps);
		free(b.nodes[i].users);
	}
	free(b.nodes);
	free(b.workers);
	free(b.down);
	free(b.loss);
	machines_free(&b.ms);
	conf_free(&b.conf);
	args_free(&ia);
	strlist_free(&exprs);
	return rc;
usage:
	rc = usage();
	goto out;
}
