/*
 * Bytes as the wire and NARs spell them, written out by hand so that the
 * tests do not trust wire.c or nar.c: a fixed buffer for a peer's short
 * answers (struct buf), a growable one for NAR streams (struct mem), and
 * the two ends of a pipe to a scripted peer.  For t_wire, t_serve,
 * t_hash, t_path, t_nar and t_nar_dump.
 */
#ifndef BYTES_H
#define BYTES_H

#include <stddef.h>
#include <stdint.h>

/* A byte buffer for the peer's side of a conversation. */
struct buf {
	unsigned char	 b[2048];
	size_t		 n;
};

void		 put(struct buf *, const void *, size_t);
void		 put_u64(struct buf *, uint64_t);
void		 put_str(struct buf *, const void *, size_t);
void		 hello_nar(struct buf *);

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

void		 write_all(int, const void *, size_t);
size_t		 drain(int, unsigned char *, size_t);

#endif /* BYTES_H */
