/*
 * Lists of strings: what the wire carries as lists, and what the rest of
 * nix-offload keeps paths, features and systems in.  A list made a set
 * (strlist_sort_uniq) is sorted byte-wise without duplicates, as Nix
 * writes sets; strlist_in_set then finds in log time.
 */
#include <stdlib.h>
#include <string.h>

#include "extern.h"

/* Append s to l, which owns it from now on.  Returns 0, or -1. */
int
strlist_push(struct strlist *l, char *s)
{
	char	**v;

	if (l->n + 1 > l->nalloc) {
		size_t	 na = l->nalloc ? l->nalloc * 2 : 8;
		if ((v = reallocarray(l->v, na, sizeof(*v))) == NULL)
			return -1;
		l->v = v;
		l->nalloc = na;
	}
	l->v[l->n++] = s;
	return 0;
}

int
strlist_add(struct strlist *l, const char *s)
{
	char	*d;

	if ((d = strdup(s)) == NULL)
		return -1;
	if (strlist_push(l, d) == -1) {
		free(d);
		return -1;
	}
	return 0;
}

void
strlist_free(struct strlist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort a list byte-wise and drop duplicates: a set, as Nix writes one. */
void
strlist_sort_uniq(struct strlist *l)
{
	size_t	 i, o = 0;

	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	for (i = 1; i < l->n; i++) {
		if (strcmp(l->v[i], l->v[o]) == 0)
			free(l->v[i]);
		else
			l->v[++o] = l->v[i];
	}
	l->n = o + 1;
}

/* Is s in l? */
int
strlist_has(const struct strlist *l, const char *s)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

/* Is s in l, a set (strlist_sort_uniq)?  In log time. */
int
strlist_in_set(const struct strlist *l, const char *s)
{
	return l->n > 0 &&
	    bsearch(&s, l->v, l->n, sizeof(*l->v), cmp_str) != NULL;
}
