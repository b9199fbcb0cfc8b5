/*
 * One store interface, the protocols behind it: what nix-offload does to
 * a store (which paths it has, their infos and closure, adding NARs,
 * fetching one, building) goes through the table of the conversation's
 * protocol, set when it was opened; its callers never know which
 * protocol it is: serve.c's for `nix-store --serve` (ssh://), daemon.c's
 * for `nix-daemon --stdio` (ssh-ng://).  And what both handshakes share:
 * telling a greeting from a shell's banner.
 */
#include <string.h>

#include "extern.h"

#define BANNER_MAX	512	/* how much of a shell banner we quote */
#define BANNER_WAIT_MS	300	/* how long we wait for the rest of it */
#define BUILD_WAIT_MAX	1000000	/* seconds: a longer wait is none */


static uint64_t
le64(const unsigned char *b)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/*
 * Text a shell would print (printable ASCII, white space, colour escapes,
 * valid UTF-8) rather than a foreign protocol's binary.
 */
static int
looks_like_text(const unsigned char *b, size_t n)
{
	size_t	 i, k, len;

	for (i = 0; i < n; i++) {
		if ((b[i] >= 0x20 && b[i] < 0x7f) || b[i] == '\n' ||
		    b[i] == '\r' || b[i] == '\t' || b[i] == 0x1b)
			continue;
		if (b[i] >= 0xc2 && b[i] <= 0xdf)
			len = 1;
		else if (b[i] >= 0xe0 && b[i] <= 0xef)
			len = 2;
		else if (b[i] >= 0xf0 && b[i] <= 0xf4)
			len = 3;
		else
			return 0;
		if (i + len >= n)	/* cut short by our read: accept */
			return 1;
		for (k = 1; k <= len; k++)
			if ((b[i + k] & 0xc0) != 0x80)
				return 0;
		i += len;
	}
	return 1;
}

/*
 * Something other than the greeting magic came first: quote it and say
 * where it likely comes from.
 */
static void
not_magic(struct conn *c, uint64_t magic, const char *proto)
{
	unsigned char	 m[8];
	char		 q[BANNER_MAX * 4 + 8];
	size_t		 n, k;
	const unsigned char *b;

	for (k = 0; k < 8; k++)
		m[k] = (unsigned char)(magic >> (8 * k));
	n = (size_t)wire_peek(c, BANNER_MAX + 16, BANNER_WAIT_MS);
	b = c->rbuf + c->rpos;
	/* text and then the greeting: the shell talked first */
	for (k = 1; k + 8 <= n; k++)
		if (memcmp(b + k, m, 8) == 0) {
			n = k;
			break;
		}
	if (n > BANNER_MAX)
		n = BANNER_MAX;
	text_printable(b, n, q, sizeof(q));
	if (looks_like_text(b, n)) {
		wire_error(c, FAIL_BANNER, "the remote shell printed text "
		    "before the %s protocol started: \"%s\"; this comes from "
		    "a startup file run for non-interactive logins on the "
		    "builder (~/.bashrc, ~/.zshenv, /etc/bash.bashrc, "
		    "~/.profile) or from a shell that is not a shell (nologin, "
		    "ForceCommand): make it print nothing when there is no "
		    "terminal", proto, q);
	} else {
		wire_error(c, FAIL_PROTOCOL, "the remote does not speak Nix's "
		    "%s protocol: expected the magic number 0x%llx, got \"%s\"",
		    proto, (unsigned long long)magic, q);
	}
}

/*
 * The remote's first 8 bytes must be magic, the greeting of protocol
 * proto ("serve", "daemon"); anything else is explained (a shell's
 * banner, a foreign protocol, silence, an early end).  Returns 0 with
 * the magic consumed, or -1 with the cause in c->f.
 */
int
proto_greeting(struct conn *c, uint64_t magic, const char *proto)
{
	int	 n;

	n = wire_peek(c, 8, c->timeout_ms > 0 ? c->timeout_ms : 1 << 30);
	if (n < 8) {
		if (n > 0 && looks_like_text(c->rbuf + c->rpos, (size_t)n) &&
		    c->rbuf[c->rpos] != (magic & 0xff)) {
			not_magic(c, magic, proto);
			return -1;
		}
		if (!c->eof) {
			c->timedout = 1;
			snprintf(c->why, sizeof(c->why), "no answer for %d s",
			    c->timeout_ms / 1000);
		} else if (n > 0)
			snprintf(c->why, sizeof(c->why), "the connection "
			    "closed after %d bytes of the greeting", n);
		wire_fail(c, n > 0 ? "during the %s handshake" :
		    "waiting for the %s protocol greeting", proto);
		return -1;
	}
	if (le64(c->rbuf + c->rpos) != magic) {
		not_magic(c, magic, proto);
		return -1;
	}
	c->rpos += 8;
	return 0;
}

/* Greet the remote in the protocol of its store URI's scheme. */
int
proto_handshake(struct conn *c, int ng)
{
	return ng ? daemon_handshake(c) : serve_handshake(c);
}

/*
 * n proto_add_nar follow, then proto_add_done(n): a protocol that sends
 * them as one stream must know how many.
 */
int
proto_add_begin(struct conn *c, size_t n)
{
	return c->proto->add_begin != NULL ? c->proto->add_begin(c, n) : 0;
}

/*
 * Does the store build d only once it has the .drv file and its closure
 * (an untrusted user of a daemon may only build derivations it has)?
 */
int
proto_drv_first(struct conn *c, const struct drv *d)
{
	return c->proto->drv_first != NULL ? c->proto->drv_first(c, d) : 0;
}

int
proto_valid(struct conn *c, const struct strlist *paths, int lock,
    int substitute, struct strlist *valid)
{
	if (proto_settle(c) == -1)
		return -1;
	return c->proto->valid(c, paths, lock, substitute, valid);
}

int
proto_infos(struct conn *c, const struct strlist *paths,
    struct path_info **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (c->proto->infos_ask(c, paths) == -1)
		return -1;
	return proto_infos_read(c, paths, out, n);
}

/*
 * Ask for the path infos of paths, to be read by proto_infos_read after
 * the answers to what was asked before: several requests, one round trip.
 */
int
proto_infos_ask(struct conn *c, const struct strlist *paths)
{
	return c->proto->infos_ask(c, paths);
}

int
proto_infos_read(struct conn *c, const struct strlist *paths,
    struct path_info **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (proto_settle(c) == -1)
		return -1;
	return c->proto->infos_read(c, paths, out, n);
}

int
proto_closure(struct conn *c, const struct strlist *paths,
    int include_outputs, struct strlist *closure)
{
	if (proto_settle(c) == -1)
		return -1;
	return c->proto->closure(c, paths, include_outputs, closure);
}

/* Add pi's path, its NAR from nar; acknowledged later (proto_add_done). */
int
proto_add_nar(struct conn *c, const struct path_info *pi,
    int (*nar)(void *, struct conn *), void *arg)
{
	return c->proto->add_nar(c, pi, nar, arg);
}

/* The answers to adds that proto_add_later left for later. */
int
proto_settle(struct conn *c)
{
	size_t	 k = c->acks_pending;

	if (k == 0)
		return 0;
	c->acks_pending = 0;
	return c->proto->add_acks(c, k);
}

/* The last n proto_add_nar are done: wait for the store to say so. */
int
proto_add_done(struct conn *c, size_t n)
{
	return proto_add_later(c, n) == -1 ? -1 : proto_settle(c);
}

/*
 * The same, but the store's answers are read with the next answer read
 * (its failure said then): a request sent meanwhile, the build after its
 * inputs, costs no round trip of its own.
 */
int
proto_add_later(struct conn *c, size_t n)
{
	int	 k;

	/* their stream ends: a protocol without add_end answers each */
	k = c->proto->add_end != NULL ? c->proto->add_end(c, n) : (int)n;
	if (k == -1)
		return -1;
	c->acks_pending += (size_t)k;
	return 0;
}

/* Ask for path's NAR (several may be asked before the first is read). */
int
proto_nar_ask(struct conn *c, const char *path)
{
	return c->proto->nar_ask(c, path);
}

static int
source_conn(void *arg, void *buf, size_t n)
{
	return wire_read(arg, buf, n);
}

/*
 * The NAR of path, next on c's wire, into sink through a fixed buffer,
 * validated on the way: for both protocols' nar_read, once the answer's
 * preamble is read.  Returns 0, or -1 (reported).
 */
int
proto_nar_copy(struct conn *c, const char *path, struct nar_sink *sink)
{
	struct nar_source	 src = { source_conn, c };
	char			 err[256];

	if (nar_copy(&src, sink, err, sizeof(err)) == 0)
		return 0;
	if (sink->failed)
		return -1;	/* the receiving side failed and said so */
	if (c->why[0] != '\0')
		wire_fail(c, "reading the contents of %s", path);
	else
		wire_error(c, FAIL_PROTOCOL, "the contents of %s are not a "
		    "valid NAR: %s", path, err);
	return -1;
}

/* Read the NAR of the oldest proto_nar_ask into sink, validated. */
int
proto_nar_read(struct conn *c, const char *path, struct nar_sink *sink)
{
	if (proto_settle(c) == -1)
		return -1;
	return c->proto->nar_read(c, path, sink);
}

/*
 * Build d.  Returns 0 with the result in r, -1 (c->f), or 1 when the
 * store refused to build a derivation it does not have: send the .drv
 * closure, and ask again (proto_drv_first then says so).
 */
int
proto_build(struct conn *c, const char *drvpath, const struct drv *d,
    const struct strlist *srcs, const struct build_options *o,
    struct build_result *r)
{
	if (proto_build_send(c, drvpath, d, srcs, o) == -1)
		return -1;
	return proto_build_read(c, drvpath, o, r);
}

/* Ask for d's build; proto_build_read reads the result, as proto_build. */
int
proto_build_send(struct conn *c, const char *drvpath, const struct drv *d,
    const struct strlist *srcs, const struct build_options *o)
{
	return c->proto->build_send(c, drvpath, d, srcs, o);
}

int
proto_build_read(struct conn *c, const char *drvpath,
    const struct build_options *o, struct build_result *r)
{
	if (proto_settle(c) == -1)
		return -1;
	return c->proto->build_read(c, drvpath, o, r);
}

/*
 * How long a build may be silent before the builder is stuck, in ms (0:
 * forever): a builder says nothing for as long as its own max-silent-time
 * or timeout allows, then our I/O timeout (c's now).  With neither, only
 * ssh's keepalive tells a dead connection from a quiet build.
 */
int
proto_build_wait(const struct conn *c, const struct build_options *o)
{
	uint64_t	 quiet = o->max_silent_time;

	if (o->timeout > 0 && (quiet == 0 || o->timeout < quiet))
		quiet = o->timeout;
	return quiet == 0 || c->timeout_ms == 0 || quiet > BUILD_WAIT_MAX ?
	    0 : (int)quiet * 1000 + c->timeout_ms;
}
