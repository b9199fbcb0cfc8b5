/*
 * Fuzz target: NAR streams (nar_copy).  The source reads from the input;
 * the sink checks that every byte it is given is the next byte of the
 * input, so a NAR passes through unchanged, and that nothing past the
 * archive's end is read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

struct input {
	const uint8_t	*b;
	size_t		 len;
	size_t		 pos;	/* read by nar_copy */
	size_t		 out;	/* given to the sink */
};

/* The source: exactly n bytes, or -1 at the end of the input. */
static int
source(void *arg, void *buf, size_t n)
{
	struct input	*in = arg;

	if (n > in->len - in->pos)
		return -1;
	memcpy(buf, in->b + in->pos, n);
	in->pos += n;
	return 0;
}

/* The sink: what comes out is what went in, in order. */
static int
sink(void *arg, const void *p, size_t n)
{
	struct input	*in = arg;

	if (n > in->pos - in->out || memcmp(p, in->b + in->out, n) != 0)
		fuzz_fail("the sink got bytes %zu..%zu, which are not those "
		    "read", in->out, in->out + n);
	in->out += n;
	return 0;
}

static void
input(const uint8_t *data, size_t size)
{
	struct input		 in = { data, size, 0, 0 };
	struct nar_source	 src = { source, &in };
	struct nar_sink		 dst;
	char			 err[256];
	int			 rc;

	nar_sink_init(&dst, sink, &in);
	err[0] = 'x';
	rc = nar_copy(&src, &dst, err, sizeof(err));
	if (rc == -1 && (err[0] == '\0' || strlen(err) >= sizeof(err)))
		abort();	/* a failure says why */
	if (rc == 0 && (in.out != in.pos || dst.size != in.pos))
		fuzz_fail("read %zu bytes, passed on %zu, counted %llu",
		    in.pos, in.out, (unsigned long long)dst.size);
}

const struct fuzz_target fuzz_target = { "nar", NULL, input };
