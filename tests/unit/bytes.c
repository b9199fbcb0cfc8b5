/*
 * Bytes as NARs spell them, for the tests: see bytes.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "bytes.h"

/* Append n bytes to m, growing it; out of memory ends the run. */
void
mem_add(struct mem *m, const void *p, size_t n)
{
	unsigned char	*q;
	size_t		 cap;

	if (m->n + n > m->cap) {
		cap = m->cap ? m->cap : 256;
		while (cap < m->n + n)
			cap *= 2;
		if ((q = realloc(m->p, cap)) == NULL) {
			perror("realloc");
			exit(2);
		}
		m->p = q;
		m->cap = cap;
	}
	if (n > 0)
		memcpy(m->p + m->n, p, n);
	m->n += n;
}

/* Free m's bytes; m is empty again. */
void
mem_free(struct mem *m)
{
	free(m->p);
	memset(m, 0, sizeof(*m));
}

/* A nar_sink's put into the struct mem arg; fails past fail_after. */
int
mem_put(void *arg, const void *p, size_t n)
{
	struct mem	*m = arg;

	if (m->fail_after > 0 && m->n + n > m->fail_after)
		return -1;
	mem_add(m, p, n);
	return 0;
}

/*
 * A nar_source's read from the struct mem arg: exactly n bytes, or -1
 * with nothing consumed, as the contract says.
 */
int
mem_read(void *arg, void *p, size_t n)
{
	struct mem	*m = arg;

	if (n > m->n - m->pos)
		return -1;
	memcpy(p, m->p + m->pos, n);
	m->pos += n;
	return 0;
}
