/*
 * The client side of Nix's serve protocol (`nix-store --serve --write`):
 * handshake, then one function per command.  See
 * shared/spec/nix-protocols.md section 2.
 *
 *	handshake: -> u64 SERVE_MAGIC_1, u64 our version
 *	           <- u64 SERVE_MAGIC_2, u64 their version
 *
 * There is no in-band error reply: a server that fails prints on stderr and
 * exits, so every failure shows up here as EOF and the transport explains it.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

#define BANNER_MAX	512	/* how much of a shell banner we quote */
#define BANNER_WAIT_MS	300	/* how long we wait for the rest of it */

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
 * Something other than the serve magic came first: quote it and say where
 * it likely comes from.
 */
static void
not_magic(struct conn *c)
{
	static const unsigned char magic[8] = { 0xcb, 0xee, 0x52, 0x54 };
	char		 q[BANNER_MAX * 4 + 8];
	size_t		 n, k;
	const unsigned char *b;

	n = (size_t)wire_peek(c, BANNER_MAX + 16, BANNER_WAIT_MS);
	b = c->rbuf + c->rpos;
	/* text and then the greeting: the shell talked first */
	for (k = 1; k + 8 <= n; k++)
		if (memcmp(b + k, magic, 8) == 0) {
			n = k;
			break;
		}
	if (n > BANNER_MAX)
		n = BANNER_MAX;
	log_printable(b, n, q, sizeof(q));
	if (looks_like_text(b, n)) {
		log_errx("%s: the remote shell printed text before the serve "
		    "protocol started: \"%s\"; this comes from a startup file "
		    "run for non-interactive logins on the builder (~/.bashrc, "
		    "~/.zshenv, /etc/bash.bashrc, ~/.profile) or from a shell "
		    "that is not a shell (nologin, ForceCommand): make it print "
		    "nothing when there is no terminal", c->host, q);
		c->fail = FAIL_BANNER;
	} else {
		log_errx("%s: the remote does not speak Nix's serve protocol: "
		    "expected the magic number 0x%llx, got \"%s\"", c->host,
		    (unsigned long long)SERVE_MAGIC_2, q);
		c->fail = FAIL_PROTOCOL;
	}
}

/*
 * Open the conversation: exchange magic numbers and versions.  Sets
 * c->remote_version and c->version (the lower of both).  Returns 0, or -1
 * with the cause reported and c->fail set.
 */
int
serve_handshake(struct conn *c)
{
	uint64_t	 v;
	int		 n;

	if (wire_write_u64(c, SERVE_MAGIC_1) == -1 ||
	    wire_write_u64(c, SERVE_VERSION) == -1 || wire_flush(c) == -1) {
		wire_fail(c, "sending the serve protocol greeting");
		return -1;
	}
	n = wire_peek(c, 8, c->timeout_ms > 0 ? c->timeout_ms : 1 << 30);
	if (n < 8) {
		if (n > 0 && looks_like_text(c->rbuf + c->rpos, (size_t)n) &&
		    c->rbuf[c->rpos] != (SERVE_MAGIC_2 & 0xff)) {
			not_magic(c);
			return -1;
		}
		if (!c->eof) {
			c->timedout = 1;
			snprintf(c->why, sizeof(c->why), "no answer for %d s",
			    c->timeout_ms / 1000);
		} else if (n > 0)
			snprintf(c->why, sizeof(c->why), "the connection "
			    "closed after %d bytes of the greeting", n);
		wire_fail(c, n > 0 ? "during the serve handshake" :
		    "waiting for the serve protocol greeting");
		return -1;
	}
	if (le64(c->rbuf + c->rpos) != SERVE_MAGIC_2) {
		not_magic(c);
		return -1;
	}
	c->rpos += 8;
	if (wire_read_u64(c, &v) == -1) {
		wire_fail(c, "during the serve handshake");
		return -1;
	}
	if (v > 0xffff || SERVE_MAJOR(v) != SERVE_MAJOR(SERVE_VERSION)) {
		log_errx("%s: the remote speaks serve protocol version %llu.%llu "
		    "(0x%llx); nix-offload speaks %d.x", c->host,
		    (unsigned long long)(v >> 8), (unsigned long long)(v & 0xff),
		    (unsigned long long)v, SERVE_VERSION >> 8);
		c->fail = FAIL_PROTOCOL;
		return -1;
	}
	if (v < SERVE_VERSION_MIN) {
		log_errx("%s: the remote's Nix is too old: it speaks serve "
		    "protocol %d.%d, nix-offload needs %d.%d or newer; upgrade "
		    "Nix on the builder", c->host, (int)(v >> 8), (int)(v & 0xff),
		    SERVE_VERSION_MIN >> 8, SERVE_VERSION_MIN & 0xff);
		c->fail = FAIL_PROTOCOL;
		return -1;
	}
	c->remote_version = (unsigned)v;
	c->version = v < SERVE_VERSION ? (unsigned)v : SERVE_VERSION;
	log_debug(2, "%s: serve protocol %u.%u (remote %u.%u)", c->host,
	    c->version >> 8, c->version & 0xff, c->remote_version >> 8,
	    c->remote_version & 0xff);
	return 0;
}

/*
 * Which of paths the remote has.  lock asks it to hold them against garbage
 * collection for the session, substitute to fetch them from its own
 * substituters first (both need --write).  The valid ones are added to
 * valid.
 */
int
serve_query_valid_paths(struct conn *c, const struct strlist *paths,
    int lock, int substitute, struct strlist *valid)
{
	if (wire_write_u64(c, SERVE_QUERY_VALID_PATHS) == -1 ||
	    wire_write_u64(c, lock != 0) == -1 ||
	    wire_write_u64(c, substitute != 0) == -1 ||
	    wire_write_strings(c, paths) == -1 ||
	    wire_read_strings(c, WIRE_LIST_MAX, WIRE_PATH_MAX, valid) == -1) {
		wire_fail(c, "asking which of %zu paths are valid", paths->n);
		return -1;
	}
	if (valid->n > paths->n) {
		log_errx("%s: asked about %zu paths, the remote named %zu valid",
		    c->host, paths->n, valid->n);
		c->fail = FAIL_PROTOCOL;
		return -1;
	}
	return 0;
}
