/*
 * Bytes as the wire and NARs spell them, for the tests: see bytes.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "bytes.h"

/* Append n bytes to b; a test that needs more than b holds is wrong. */
void
put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > sizeof(b->b))
		abort();
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

/* A u64 as the wire has it: 8 bytes, little-endian. */
void
put_u64(struct buf *b, uint64_t v)
{
	unsigned char	 le[8];
	int		 i;

	for (i = 0; i < 8; i++)
		le[i] = (unsigned char)(v >> (8 * i));
	put(b, le, 8);
}

/* A string as the wire has it: its length, its bytes, zeros to 8. */
void
put_str(struct buf *b, const void *s, size_t n)
{
	static const unsigned char	 zero[8];

	put_u64(b, n);
	put(b, s, n);
	put(b, zero, (8 - n % 8) % 8);
}

/* The NAR of a regular file holding "hello\n", per spec section 3.1. */
void
hello_nar(struct buf *b)
{
	static const char *const tok[] = {
		"nix-archive-1", "(", "type", "regular", "contents", "hello\n",
		")"
	};
	size_t	 i;

	b->n = 0;
	for (i = 0; i < nitems(tok); i++)
		put_str(b, tok[i], strlen(tok[i]));
}

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

/* Write all of p to a peer's pipe, or end the run. */
void
write_all(int fd, const void *p, size_t n)
{
	/* small writes into an empty pipe: all or nothing */
	if (write(fd, p, n) != (ssize_t)n) {
		perror("write_all");
		exit(2);
	}
}

/* Everything readable on a non-blocking fd now, up to max bytes. */
size_t
drain(int fd, unsigned char *b, size_t max)
{
	size_t	 n = 0;
	ssize_t	 r;

	while (n < max && ((r = read(fd, b + n, max - n)) > 0 ||
	    (r == -1 && errno == EINTR)))
		if (r > 0)
			n += (size_t)r;
	return n;
}
