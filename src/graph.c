/*
 * The derivations of one build: a graph of .drv files, read from the
 * roots down, with the state of each.  No processes and no scheduler
 * here: dispatch.c decides what runs where and moves nodes between
 * states; this file keeps the edges and the counts consistent.
 *
 *	N_WAIT -> N_READY -> N_RUNNING -> N_BUILT (outputs on a builder)
 *	                                \-> N_LOCAL (outputs home)
 *	N_BUILT -> N_FETCHING -> N_LOCAL
 *	any unfinished state -> N_FAILED, and so every node that uses it
 *
 * A node's index never changes once added; nodes 0..k-1 are the roots
 * the user named.
 */
#include <stdlib.h>
#include <string.h>

#include "extern.h"

/* Find a node by .drv path (linear: graphs here are hundreds of nodes,
 * and this is called once per edge). */
static long
find(const struct graph *g, const char *path)
{
	size_t	 i;

	for (i = g->nnodes; i-- > 0;)
		if (strcmp(g->nodes[i].path, path) == 0)
			return (long)i;
	return -1;
}

/* The node of the .drv at path, added if new.  Returns its index, or -1. */
long
graph_add(struct graph *g, const char *path)
{
	struct node	*v;
	long		 i;

	if ((i = find(g, path)) != -1)
		return i;
	if (g->nnodes >= GRAPH_NODES_MAX) {
		log_errx("more than %u derivations", GRAPH_NODES_MAX);
		return -1;
	}
	if ((v = reallocarray(g->nodes, g->nnodes + 1, sizeof(*v))) == NULL) {
		log_err("build");
		return -1;
	}
	g->nodes = v;
	v = &g->nodes[g->nnodes];
	memset(v, 0, sizeof(*v));
	if ((v->path = strdup(path)) == NULL) {
		log_err("build");
		return -1;
	}
	if (drv_name(path, v->name, sizeof(v->name)) == -1)
		snprintf(v->name, sizeof(v->name), "%s", path);
	return (long)g->nnodes++;
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

/* Read every .drv reachable from the nodes added so far. */
int
graph_load(struct graph *g)
{
	size_t	 i, j;
	long	 k;

	for (i = 0; i < g->nnodes; i++) {
		struct node *n = &g->nodes[i];

		if (drv_read(n->path, &n->d) == -1 ||
		    features_required(&n->d, &n->features) == -1)
			return -1;
		if (n->d.ninputs > 0 &&
		    (n->deps = calloc(n->d.ninputs, sizeof(*n->deps))) == NULL) {
			log_err("build");
			return -1;
		}
		for (j = 0; j < n->d.ninputs; j++) {
			if ((k = graph_add(g, n->d.inputs[j].path)) == -1)
				return -1;
			n = &g->nodes[i];	/* nodes may have moved */
			n->deps[n->ndeps++] = (size_t)k;
			if (add_user(&g->nodes[k], i) == -1) {
				log_err("build");
				return -1;
			}
		}
	}
	return 0;
}

void
graph_free(struct graph *g)
{
	size_t	 i;

	for (i = 0; i < g->nnodes; i++) {
		free(g->nodes[i].path);
		drv_free(&g->nodes[i].d);
		strlist_free(&g->nodes[i].features);
		free(g->nodes[i].deps);
		free(g->nodes[i].users);
	}
	free(g->nodes);
	memset(g, 0, sizeof(*g));
}

/* The output paths of input j of node n (the outputs it uses), into l. */
static int
input_paths(const struct graph *g, const struct node *n, size_t j,
    struct strlist *l)
{
	const struct node	*dep = &g->nodes[n->deps[j]];
	const struct strlist	*want = n->d.inputs[j].outputs;
	const struct drv_output	*o;
	size_t			 k;

	for (k = 0; k < want->n; k++) {
		if ((o = drv_output(&dep->d, want->v[k])) == NULL ||
		    o->path[0] == '\0') {
			log_errx("%s: input %s has no output %s with a known "
			    "path (content-addressed derivations are not "
			    "supported yet)", n->path, dep->path, want->v[k]);
			return -1;
		}
		if (strlist_add(l, o->path) == -1)
			return -1;
	}
	return 0;
}

/*
 * What building n takes, into l (empty; sorted, unique): its sources and
 * the outputs it uses of its input derivations.
 */
int
graph_inputs(const struct graph *g, const struct node *n, struct strlist *l)
{
	size_t	 j;

	for (j = 0; j < n->d.srcs->n; j++)
		if (strlist_add(l, n->d.srcs->v[j]) == -1)
			return -1;
	for (j = 0; j < n->ndeps; j++)
		if (input_paths(g, n, j, l) == -1)
			return -1;
	strlist_sort_uniq(l);
	return 0;
}

/* The output paths of n, added to l. */
int
graph_outputs(const struct node *n, struct strlist *l)
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

/*
 * Which nodes have all their outputs in the local store: valid holds the
 * valid ones among the outputs of every node (graph_outputs), sorted.
 */
void
graph_set_valid(struct graph *g, const struct strlist *valid)
{
	size_t	 i, o, k;

	for (i = 0; i < g->nnodes; i++) {
		struct node *n = &g->nodes[i];
		n->valid = 1;
		for (o = 0; o < n->d.noutputs && n->valid; o++) {
			for (k = 0; k < valid->n; k++)
				if (strcmp(valid->v[k],
				    n->d.outputs[o].path) == 0)
					break;
			if (k == valid->n)
				n->valid = 0;
		}
	}
}

/*
 * Mark what must be built, the missing nodes reachable from the roots
 * through missing ones, and set every node's first state.
 */
void
graph_mark_needed(struct graph *g)
{
	size_t	*stack, ns = 0, i, j;

	if ((stack = calloc(g->nnodes + 1, sizeof(*stack))) == NULL)
		return;
	for (i = 0; i < g->nnodes; i++)
		if (g->nodes[i].root && !g->nodes[i].valid &&
		    !g->nodes[i].needed) {
			g->nodes[i].needed = 1;
			stack[ns++] = i;
		}
	while (ns > 0) {
		struct node *n = &g->nodes[stack[--ns]];
		for (j = 0; j < n->ndeps; j++) {
			struct node *d = &g->nodes[n->deps[j]];
			if (!d->valid && !d->needed) {
				d->needed = 1;
				stack[ns++] = n->deps[j];
			}
		}
	}
	free(stack);
	for (i = 0; i < g->nnodes; i++) {
		struct node *n = &g->nodes[i];
		if (!n->needed) {
			n->state = n->valid ? N_LOCAL : N_SKIP;
			continue;
		}
		g->total++;
		n->waiting = 0;
		for (j = 0; j < n->ndeps; j++)
			if (g->nodes[n->deps[j]].needed)
				n->waiting++;
		n->state = n->waiting == 0 ? N_READY : N_WAIT;
	}
}

/* Do a and b ask for the same kind of builder (system and features)? */
int
graph_same_kind(const struct node *a, const struct node *b)
{
	size_t	 f;

	if (strcmp(a->d.platform, b->d.platform) != 0 ||
	    a->features.n != b->features.n)
		return 0;
	for (f = 0; f < a->features.n; f++)
		if (strcmp(a->features.v[f], b->features.v[f]) != 0)
			return 0;
	return 1;
}

/* Node i failed: so does every node waiting for it, all the way up. */
void
graph_fail(struct graph *g, size_t i)
{
	size_t	 u;

	for (u = 0; u < g->nodes[i].nusers; u++) {
		struct node *user = &g->nodes[g->nodes[i].users[u]];
		if (user->needed && (user->state == N_WAIT ||
		    user->state == N_READY)) {
			user->state = N_FAILED;
			graph_fail(g, g->nodes[i].users[u]);
		}
	}
}

/* Node i was built: the nodes it held back may be ready now. */
void
graph_finished(struct graph *g, size_t i)
{
	size_t	 u;

	for (u = 0; u < g->nodes[i].nusers; u++) {
		struct node *user = &g->nodes[g->nodes[i].users[u]];
		if (user->needed && user->state == N_WAIT &&
		    --user->waiting == 0)
			user->state = N_READY;
	}
}

/* Has a dependency of n failed (so that n cannot be built)? */
int
graph_dep_failed(const struct graph *g, const struct node *n)
{
	size_t	 j;

	for (j = 0; j < n->ndeps; j++)
		if (g->nodes[n->deps[j]].needed &&
		    g->nodes[n->deps[j]].state == N_FAILED)
			return 1;
	return 0;
}

/* After nodes moved back: what each waiting or ready node still waits for. */
void
graph_recount(struct graph *g)
{
	size_t	 i, j;

	for (i = 0; i < g->nnodes; i++) {
		struct node *n = &g->nodes[i];

		if (!n->needed || (n->state != N_WAIT && n->state != N_READY))
			continue;
		if (graph_dep_failed(g, n)) {
			n->state = N_FAILED;
			graph_fail(g, i);
			continue;
		}
		n->waiting = 0;
		for (j = 0; j < n->ndeps; j++) {
			enum node_state ds = g->nodes[n->deps[j]].state;
			if (g->nodes[n->deps[j]].needed && ds != N_BUILT &&
			    ds != N_FETCHING && ds != N_LOCAL)
				n->waiting++;
		}
		n->state = n->waiting == 0 ? N_READY : N_WAIT;
	}
}

/* Are node i's outputs still wanted: home, or by a build not done yet? */
int
graph_still_wanted(const struct graph *g, size_t i)
{
	const struct node	*n = &g->nodes[i];
	size_t			 u;

	if (n->root)
		return 1;
	for (u = 0; u < n->nusers; u++) {
		const struct node *user = &g->nodes[n->users[u]];
		if (user->needed && user->state != N_LOCAL &&
		    user->state != N_FAILED)
			return 1;
	}
	return 0;
}

/* Is something left to do: to build, or on its way, or to come home? */
int
graph_unfinished(const struct graph *g)
{
	size_t	 i;

	for (i = 0; i < g->nnodes; i++) {
		enum node_state s = g->nodes[i].state;
		if (s == N_WAIT || s == N_READY || s == N_RUNNING ||
		    s == N_FETCHING || (s == N_BUILT && g->nodes[i].root))
			return 1;
	}
	return 0;
}
