/*
 * What the builders hold already of what `build` would send them.
 *
 * The inputs that are in the local store before a run (input sources,
 * outputs built earlier) go up to whichever builder builds what needs
 * them, with their closure; a builder that has them valid already needs
 * none of those bytes.  hold_load reads that closure from the local store,
 * with sizes and references; a builder asked (a worker's Q job) says which
 * of its paths it has, as lines
 *
 *	held	= "H" SP first SP 1*HEXDIG LF
 *
 * where hex digit k, bit j (value 1 << j) is path first + 4k + j of the
 * sorted closure; and hold_lacks says, for a derivation, how many bytes
 * of its inputs' closure each builder lacks.  Sizes and validity are
 * hints, for placing it: what a job sends is settled by its own query.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The index of path in the sorted closure, or -1. */
static long
index_of(const struct hold *h, const char *path)
{
	char	**hit;

	hit = bsearch(&path, h->paths.v, h->paths.n, sizeof(*h->paths.v),
	    cmp_str);
	return hit == NULL ? -1 : (long)(hit - h->paths.v);
}

/* Ready for nmach builders, and empty: nothing is held, nothing lacks. */
int
hold_init(struct hold *h, size_t nmach)
{
	memset(h, 0, sizeof(*h));
	h->nmach = nmach;
	if ((h->have = calloc(nmach ? nmach : 1, sizeof(*h->have))) == NULL ||
	    (h->said = calloc(nmach ? nmach : 1, sizeof(*h->said))) == NULL) {
		log_err("build");
		hold_free(h);
		return -1;
	}
	return 0;
}

void
hold_free(struct hold *h)
{
	size_t	 m;

	for (m = 0; h->have != NULL && m < h->nmach; m++)
		free(h->have[m]);
	free(h->have);
	free(h->said);
	free(h->size);
	free(h->refs);
	free(h->first);
	free(h->mark);
	free(h->stack);
	free(h->cache);
	strlist_free(&h->paths);
	memset(h, 0, sizeof(*h));
}

static int
cmp_info(const void *a, const void *b)
{
	return strcmp(((const struct path_info *)a)->path,
	    ((const struct path_info *)b)->path);
}

/*
 * The closure's records pi[0..n) (its paths in h->paths, sorted): sizes,
 * and the references as indices.  Sorts pi.  Returns 0, or -1 when there
 * is no memory.
 */
int
hold_index(struct hold *h, struct path_info *pi, size_t n)
{
	size_t	 i, k, j = 0, nrefs = 0, at = 0;
	long	 x;

	for (i = 0; i < n; i++)
		nrefs += pi[i].refs.n;
	if ((h->size = calloc(h->paths.n, sizeof(*h->size))) == NULL ||
	    (h->first = calloc(h->paths.n + 1, sizeof(*h->first))) == NULL ||
	    (h->refs = calloc(nrefs ? nrefs : 1, sizeof(*h->refs))) == NULL ||
	    (h->mark = calloc(h->paths.n, sizeof(*h->mark))) == NULL ||
	    (h->stack = calloc(h->paths.n, sizeof(*h->stack))) == NULL)
		return -1;
	if (n > 0)
		qsort(pi, n, sizeof(*pi), cmp_info);
	for (i = 0; i < h->paths.n; i++) {
		h->first[i] = at;
		while (j < n && strcmp(pi[j].path, h->paths.v[i]) < 0)
			j++;
		if (j == n || strcmp(pi[j].path, h->paths.v[i]) != 0)
			continue;	/* no record: no size, no edges */
		h->size[i] = pi[j].nar_size < JOB_SIZE_HINT_MAX ?
		    pi[j].nar_size : JOB_SIZE_HINT_MAX;
		h->total += h->size[i];
		for (k = 0; k < pi[j].refs.n; k++)
			if ((x = index_of(h, pi[j].refs.v[k])) != -1 &&
			    (size_t)x != i)
				h->refs[at++] = (size_t)x;
	}
	h->first[h->paths.n] = at;
	return 0;
}

/*
 * The closure, in the local store, of what g's derivations to build take
 * from it: their sources and the outputs built before the run.  Left
 * empty when there is none, or more than HOLD_PATHS_MAX paths.  Returns
 * 0, or -1 (reported) when the store fails.
 */
int
hold_load(struct hold *h, struct conn *local, const struct graph *g)
{
	struct strlist	 in = { NULL, 0, 0 }, valid = { NULL, 0, 0 };
	struct path_info *pi = NULL;
	size_t		 i, n = 0;
	int		 rc = -1;

	for (i = 0; i < g->nnodes; i++)
		if (g->nodes[i].needed &&
		    graph_inputs(g, &g->nodes[i], &in) == -1)
			goto out;
	strlist_sort_uniq(&in);
	if (in.n == 0 || proto_valid(local, &in, 0, 0, &valid) == -1)
		goto done;
	if (valid.n == 0)
		goto done;
	if (proto_closure(local, &valid, 0, &h->paths) == -1)
		goto out;
	strlist_sort_uniq(&h->paths);
	if (h->paths.n > HOLD_PATHS_MAX) {
		log_debug(1, "inputs here: %zu paths, more than %d: where "
		    "builders hold them is not asked", h->paths.n,
		    HOLD_PATHS_MAX);
		strlist_free(&h->paths);
		goto done;
	}
	if (proto_infos(local, &h->paths, &pi, &n) == -1)
		goto out;
	if (hold_index(h, pi, n) == -1) {
		log_err("build");
		goto out;
	}
	log_debug(1, "inputs here: %zu paths, %.1f MB", h->paths.n,
	    h->total / 1e6);
done:
	rc = 0;
out:
	if (rc == -1)
		strlist_free(&h->paths);	/* nothing half known */
	serve_path_infos_free(pi, n);
	strlist_free(&in);
	strlist_free(&valid);
	return rc;
}

/*
 * The builder's side: which of paths (sorted) are in valid (sorted), as
 * H lines on fd.  Returns 0, or -1 when fd fails.
 */
int
hold_write(int fd, const struct strlist *paths, const struct strlist *valid)
{
	char	 line[WORKER_LINE_MAX];
	size_t	 i, k, at, len;
	int	 v;

	for (i = 0; i < paths->n; i = at) {
		len = (size_t)snprintf(line, sizeof(line), "H %zu ", i);
		for (at = i; at < paths->n && len < sizeof(line) - 2; len++) {
			for (v = 0, k = 0; k < 4 && at < paths->n; k++, at++)
				if (strlist_in_set(valid, paths->v[at]))
					v |= 1 << k;
			line[len] = "0123456789abcdef"[v];
		}
		line[len++] = '\n';
		if (write(fd, line, len) != (ssize_t)len)
			return -1;
	}
	return 0;
}

/*
 * An H line from builder m: the paths it holds, marked.  Returns 0, or -1
 * when the line is nonsense (its first path out of the closure, a digit
 * that is not one); what it marked stays.
 */
int
hold_line(struct hold *h, size_t m, const char *line)
{
	unsigned long long	 first;
	const char		*p;
	char			*e;
	size_t			 i;
	int			 v, k;

	if (m >= h->nmach || strncmp(line, "H ", 2) != 0)
		return -1;
	first = strtoull(line + 2, &e, 10);
	if (e == line + 2 || *e != ' ' || first >= h->paths.n)
		return -1;
	if (h->have[m] == NULL &&
	    (h->have[m] = calloc(h->paths.n / 8 + 1, 1)) == NULL) {
		log_err("build");
		return -1;
	}
	free(h->cache);		/* what lacks where has changed */
	h->cache = NULL;
	for (i = (size_t)first, p = e + 1; *p != '\0' && *p != '\n'; p++) {
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else
			return -1;
		for (k = 0; k < 4; k++, i++) {
			if (i >= h->paths.n)
				return v >> k ? -1 : 0;
			if (v & 1 << k)
				h->have[m][i / 8] |= 1 << i % 8;
		}
	}
	return 0;
}

/* Builder m has answered: what it did not mark it lacks. */
void
hold_said(struct hold *h, size_t m)
{
	if (m < h->nmach && !h->said[m]) {
		h->said[m] = 1;
		free(h->cache);
		h->cache = NULL;
	}
}

/*
 * For node n of g: the bytes of the closure of its inputs that are here
 * (*all), and how many of them each builder lacks (lacks[m]: all, for a
 * builder that has not said what it holds).  Remembered per node until
 * a builder says more.  Returns 0, or -1 (reported).
 */
int
hold_lacks(struct hold *h, const struct graph *g, const struct node *n,
    uint64_t *lacks, uint64_t *all)
{
	struct strlist	 in = { NULL, 0, 0 };
	size_t		 i, m, top = 0, k, x = (size_t)(n - g->nodes);
	size_t		 w = h->nmach + 1;
	uint64_t	*c;
	long		 at;

	*all = 0;
	for (m = 0; m < h->nmach; m++)
		lacks[m] = 0;
	if (h->paths.n == 0)
		return 0;
	if (h->cache == NULL) {
		if ((h->cache = malloc(g->nnodes * w * sizeof(*c))) == NULL) {
			log_err("build");
			return -1;
		}
		for (i = 0; i < g->nnodes * w; i++)
			h->cache[i] = UINT64_MAX;
	}
	c = &h->cache[x * w];
	if (c[0] == UINT64_MAX) {
		if (graph_inputs(g, n, &in) == -1)
			return -1;
		c[0] = 0;
		for (m = 0; m < h->nmach; m++)
			c[m + 1] = 0;
		if (++h->gen == 0) {	/* wrapped: every mark is stale */
			memset(h->mark, 0, h->paths.n * sizeof(*h->mark));
			h->gen = 1;
		}
		for (i = 0; i < in.n; i++)
			if ((at = index_of(h, in.v[i])) != -1 &&
			    h->mark[at] != h->gen) {
				h->mark[at] = h->gen;
				h->stack[top++] = (size_t)at;
			}
		while (top > 0) {
			i = h->stack[--top];
			c[0] += h->size[i];
			for (m = 0; m < h->nmach; m++)
				if (!h->said[m] || h->have[m] == NULL ||
				    !(h->have[m][i / 8] & 1 << i % 8))
					c[m + 1] += h->size[i];
			for (k = h->first[i]; k < h->first[i + 1]; k++)
				if (h->mark[h->refs[k]] != h->gen) {
					h->mark[h->refs[k]] = h->gen;
					h->stack[top++] = h->refs[k];
				}
		}
		strlist_free(&in);
	}
	*all = c[0];
	for (m = 0; m < h->nmach; m++)
		lacks[m] = c[m + 1];
	return 0;
}
