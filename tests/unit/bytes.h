/*
 * Bytes as NARs spell them, written out by hand so that the tests do not
 * trust nar.c: a growable buffer for NAR streams (struct mem).  For t_nar
 * and t_nar_dump.
 */
#ifndef BYTES_H
#define BYTES_H

#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer, as a NAR sink and source ({ 0 } is empty). */
struct mem {
	unsigned char	*p;
	size_t		 n, cap;
	size_t		 pos;		/* as a source: bytes read */
	size_t		 fail_after;	/* as a sink: fail past this, 0 never */
};

void		 mem_add(struct mem *, const void *, size_t);
void		 mem_free(struct mem *);
int		 mem_put(void *, const void *, size_t);
int		 mem_read(void *, void *, size_t);

#endif /* BYTES_H */
