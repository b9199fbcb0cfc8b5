/*
 * Framed reads and writes on a struct conn: the primitives of Nix's wire
 * format (u64 little-endian; strings as length, bytes, zero padding to 8).
 *
 * Reads wait with poll() on the remote's stdout and stderr together, so a
 * chatty stderr can never fill its pipe and wedge the remote, and every wait
 * has a timeout.  Writes are buffered and flushed before any read.
 *
 * Nothing here prints: a failing call records what it saw in c->why and
 * returns -1, and the caller, who knows what it was waiting for, reports it
 * once through wire_fail().
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

#define SETTLE_QUIET_MS	30	/* stderr quiet this long: nothing more */
#define SETTLE_MAX_MS	300	/* and no longer than this in all */

uint64_t	 wire_round_trips;

/* Set up c over three pipe ends (err may be -1). */
void
wire_init(struct conn *c, int to, int from, int err, const char *host)
{
	memset(c, 0, sizeof(*c));
	c->pid = -1;
	c->to = to;
	c->from = from;
	c->err = err;
	c->host = host;
	c->echo_fd = STDERR_FILENO;
	c->version = SERVE_VERSION;
	if (to != -1)
		fcntl(to, F_SETFL, fcntl(to, F_GETFL) | O_NONBLOCK);
	if (from != -1)
		fcntl(from, F_SETFL, fcntl(from, F_GETFL) | O_NONBLOCK);
	if (err != -1)
		fcntl(err, F_SETFL, fcntl(err, F_GETFL) | O_NONBLOCK);
}

/*
 * The remote's stderr (a build's log), from now on: its tail kept afresh
 * for a failure's message, and if on, copied as it comes to fd (-1:
 * ours) with prefix (or NULL) before each line, until wire_echo_end.
 */
void
wire_echo(struct conn *c, int on, int fd, const char *prefix)
{
	c->errlen = 0;
	c->errtail[0] = '\0';
	c->echo_fd = fd != -1 ? fd : STDERR_FILENO;
	c->log_prefix = prefix;
	c->echo_stderr = on;
}

void
wire_echo_end(struct conn *c)
{
	c->echo_stderr = 0;
}

static void
why(struct conn *c, const char *fmt, ...)
{
	va_list	 ap;

	if (c->why[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

/*
 * Copy the remote's stderr to ours a whole line at a time, each line
 * behind c->log_prefix, so that the logs of builds running at once stay
 * readable and each line says whose it is.
 */
static void
echo_lines(struct conn *c, const char *b, size_t n)
{
	const char	*pfx = c->log_prefix ? c->log_prefix : "";
	size_t		 plen = strlen(pfx), take;
	const char	*nl;

	while (n > 0) {
		if (c->loglen == 0) {
			take = plen < sizeof(c->logline) / 2 ? plen : 0;
			memcpy(c->logline, pfx, take);
			c->loglen = take;
		}
		nl = memchr(b, '\n', n);
		take = nl != NULL ? (size_t)(nl - b) + 1 : n;
		if (take > sizeof(c->logline) - c->loglen)
			take = sizeof(c->logline) - c->loglen;
		memcpy(c->logline + c->loglen, b, take);
		c->loglen += take;
		b += take;
		n -= take;
		if (c->logline[c->loglen - 1] == '\n' ||
		    c->loglen == sizeof(c->logline)) {
			log_build(c->echo_fd, c->logline, c->loglen);
			c->loglen = 0;
		}
	}
}

/*
 * Text of the remote's log, from its stderr or (the daemon protocol) its
 * messages: its tail kept for a failure's message, copied to ours if
 * asked (wire_echo).
 */
void
wire_log(struct conn *c, const char *b, size_t n)
{
	size_t	 keep = sizeof(c->errtail) - 1;

	if (c->echo_stderr)
		echo_lines(c, b, n);
	if (n >= keep) {
		memcpy(c->errtail, b + n - keep, keep);
		c->errlen = keep;
	} else {
		if (c->errlen + n > keep) {
			size_t drop = c->errlen + n - keep;
			memmove(c->errtail, c->errtail + drop, c->errlen - drop);
			c->errlen -= drop;
		}
		memcpy(c->errtail + c->errlen, b, n);
		c->errlen += n;
	}
	c->errtail[c->errlen] = '\0';
}

/*
 * The peer's last message, from its stderr's tail, on one line in out:
 * Nix says an error as "error: ..." with indented lines after it
 * ("specified: ...", "got: ..."), so the message is its last line with the
 * indented lines before it, back to their "error:" line.
 */
const char *
wire_last_message(const struct conn *c, char *out, size_t sz)
{
	const char	*b = c->errtail, *e = c->errtail + c->errlen, *s, *p;
	char		 tmp[CONN_ERRTAIL];
	size_t		 n = 0;

	while (e > b && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' '))
		e--;
	for (s = e; s > b && s[-1] != '\n'; s--)
		;
	/* an indented line continues the one before it */
	for (p = s; (*p == ' ' || *p == '\t') && p > b; p = s) {
		for (s = p - 1; s > b && s[-1] != '\n'; s--)
			;
		if (strncmp(s, "error:", 6) == 0)
			break;
	}
	if (strncmp(s, "error:", 6) != 0)
		for (s = e; s > b && s[-1] != '\n'; s--)
			;
	/* one line, runs of blanks as one space */
	for (p = s; p < e && n < sizeof(tmp) - 1; p++) {
		if (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t') {
			if (n > 0 && tmp[n - 1] != ' ')
				tmp[n++] = ' ';
		} else
			tmp[n++] = *p;
	}
	return text_printable(tmp, n, out, sz);
}

/* Read what the remote's stderr has now; close it at EOF. */
void
wire_drain_stderr(struct conn *c)
{
	char	 b[4096];
	ssize_t	 n;

	while (c->err != -1) {
		n = read(c->err, b, sizeof(b));
		if (n > 0) {
			wire_log(c, b, (size_t)n);
			continue;
		}
		if (n == -1 && (errno == EINTR))
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		close(c->err);
		c->err = -1;
	}
}

/*
 * What the remote wrote to stderr before its answer may still be on its
 * way (ssh passes stdout and stderr on as two streams): read it until
 * it has been quiet for SETTLE_QUIET_MS, SETTLE_MAX_MS at most.  For a
 * failed build's last log lines.
 */
void
wire_settle_stderr(struct conn *c)
{
	struct pollfd	 p;
	int64_t		 end = clock_ms() + SETTLE_MAX_MS;

	while (c->err != -1 && clock_ms() < end) {
		p.fd = c->err;
		p.events = POLLIN;
		if (poll(&p, 1, SETTLE_QUIET_MS) <= 0)
			return;
		wire_drain_stderr(c);
	}
}

static int	 lifeline = -1;

/*
 * A pipe whose other end our parent holds: when it hangs up, the parent
 * is gone, and this process (a worker) ends too, whatever it waits for.
 */
void
wire_lifeline(int fd)
{
	lifeline = fd;
}

/*
 * Wait until fd is ready for ev (POLLIN or POLLOUT), serving stderr
 * meanwhile.  wait_ms < 0 uses c->timeout_ms (0 = forever).  Returns 1 when
 * ready, 0 on timeout, -1 on error.
 */
static int
wait_fd(struct conn *c, int fd, short ev, int wait_ms)
{
	struct pollfd	 pfd[3];
	int64_t		 deadline;
	int		 n, left;

	if (wait_ms < 0)
		wait_ms = c->timeout_ms;
	deadline = wait_ms > 0 ? clock_ms() + wait_ms : 0;
	for (;;) {
		pfd[0].fd = fd;
		pfd[0].events = ev;
		pfd[1].fd = c->err;
		pfd[1].events = POLLIN;
		pfd[2].fd = lifeline;
		pfd[2].events = 0;	/* only its hangup */
		pfd[2].revents = 0;
		left = -1;
		if (deadline != 0) {
			int64_t l = deadline - clock_ms();
			left = l > 0 ? (int)l : 0;
		}
		n = poll(pfd, 3, left);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			why(c, "poll: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		if (pfd[2].revents != 0)
			kill(getpid(), SIGTERM);	/* orphaned */
		if (c->err != -1 && pfd[1].revents != 0) {
			wire_drain_stderr(c);
			/* a remote that talks on stderr is alive */
			if (wait_ms > 0)
				deadline = clock_ms() + wait_ms;
		}
		if (pfd[0].revents != 0)
			return 1;
	}
}

/* Get more bytes into the read buffer.  Returns 1, or 0 at EOF, or -1. */
static int
fill(struct conn *c, int wait_ms)
{
	ssize_t	 n;
	int	 r;

	if (c->wlen > 0 && wire_flush(c) == -1)
		return -1;
	if (c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	/* a reply awaited after a request: a round trip */
	if (c->sent && c->builder)
		wire_round_trips++;
	c->sent = 0;
	for (;;) {
		if ((r = wait_fd(c, c->from, POLLIN, wait_ms)) <= 0) {
			if (r == 0 && wait_ms < 0) {
				c->timedout = 1;
				why(c, "no answer for %d s", c->timeout_ms / 1000);
			}
			return r == 0 ? -2 : -1;
		}
		n = read(c->from, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
		if (n > 0) {
			c->rlen += (size_t)n;
			c->nread += (uint64_t)n;
			return 1;
		}
		if (n == 0) {
			c->eof = 1;
			why(c, "the connection closed");
			return 0;
		}
		if (errno == EINTR || errno == EAGAIN)
			continue;
		why(c, "read: %s", strerror(errno));
		return -1;
	}
}

/* Read exactly n bytes.  Returns 0, or -1 with c->why set. */
int
wire_read(struct conn *c, void *buf, size_t n)
{
	unsigned char	*p = buf;
	size_t		 take;

	while (n > 0) {
		if (c->rpos == c->rlen && fill(c, -1) != 1)
			return -1;
		take = c->rlen - c->rpos < n ? c->rlen - c->rpos : n;
		memcpy(p, c->rbuf + c->rpos, take);
		c->rpos += take;
		p += take;
		n -= take;
	}
	return 0;
}

/*
 * Make up to n bytes readable without consuming them, waiting at most
 * wait_ms for more.  Returns how many are buffered (perhaps fewer than n).
 */
int
wire_peek(struct conn *c, size_t n, int wait_ms)
{
	int64_t	 deadline = clock_ms() + wait_ms;

	if (n > sizeof(c->rbuf))
		n = sizeof(c->rbuf);
	while (c->rlen - c->rpos < n && !c->eof) {
		int64_t	 left = deadline - clock_ms();
		if (left <= 0 || fill(c, (int)left) != 1)
			break;
	}
	return (int)(c->rlen - c->rpos);
}

int
wire_read_u64(struct conn *c, uint64_t *v)
{
	unsigned char	 b[8];
	int		 i;

	if (wire_read(c, b, 8) == -1)
		return -1;
	*v = 0;
	for (i = 7; i >= 0; i--)
		*v = *v << 8 | b[i];
	return 0;
}

static int
read_padding(struct conn *c, uint64_t len)
{
	unsigned char	 pad[8];
	size_t		 n = (8 - len % 8) % 8, i;

	if (n == 0)
		return 0;
	if (wire_read(c, pad, n) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (pad[i] != 0) {
			why(c, "non-zero padding after a string");
			return -1;
		}
	return 0;
}

/*
 * Count a reply's strings and records against the limit set by
 * wire_reply_begin, so that a peer cannot make us keep more than that
 * however it splits it: many short strings cost their WIRE_ITEM_COST
 * each.  Between replies nothing is counted.
 */
void
wire_reply_begin(struct conn *c, uint64_t max)
{
	c->reply_max = max;
	c->reply_cost = 0;
}

void
wire_reply_end(struct conn *c)
{
	c->reply_max = 0;
}

/* Charge n bytes to the reply being read.  Returns 0, or -1 over its limit. */
int
wire_charge(struct conn *c, uint64_t n)
{
	if (c->reply_max == 0)
		return 0;
	if (n > c->reply_max - c->reply_cost) {
		why(c, "the reply passed its limit of %llu bytes",
		    (unsigned long long)c->reply_max);
		c->reply_cost = c->reply_max;
		return -1;
	}
	c->reply_cost += n;
	return 0;
}

/*
 * Read a string of at most max bytes into a new NUL-terminated buffer.
 * *lenp (if not NULL) gets its length: strings may hold NUL bytes.  The
 * buffer grows with the bytes that come, WIRE_GROW at first, so memory
 * follows what the peer sends, not the length it claims.  In a reply its
 * claimed length is charged (wire_charge) before anything is allocated.
 */
int
wire_read_string(struct conn *c, size_t max, char **s, size_t *lenp)
{
	uint64_t	 len;
	size_t		 have = 0, cap;
	char		*b, *nb;

	*s = NULL;
	if (wire_read_u64(c, &len) == -1)
		return -1;
	if (len > max) {
		why(c, "a string of %llu bytes, over the limit of %zu",
		    (unsigned long long)len, max);
		return -1;
	}
	if (wire_charge(c, WIRE_ITEM_COST + len) == -1)
		return -1;
	cap = len < WIRE_GROW ? (size_t)len : WIRE_GROW;
	if ((b = malloc(cap + 1)) == NULL) {
		why(c, "out of memory");
		return -1;
	}
	while (have < len) {
		if (have == cap) {
			cap = len - cap < cap ? (size_t)len : cap * 2;
			if ((nb = realloc(b, cap + 1)) == NULL) {
				why(c, "out of memory");
				free(b);
				return -1;
			}
			b = nb;
		}
		if (wire_read(c, b + have, cap - have) == -1) {
			free(b);
			return -1;
		}
		have = cap;
	}
	if (read_padding(c, len) == -1) {
		free(b);
		return -1;
	}
	b[len] = '\0';
	*s = b;
	if (lenp != NULL)
		*lenp = (size_t)len;
	return 0;
}

/*
 * Read a list of at most maxn strings of at most maxlen bytes each,
 * appended to l.  Each string is kept in the buffer it was read into.
 */
int
wire_read_strings(struct conn *c, size_t maxn, size_t maxlen,
    struct strlist *l)
{
	uint64_t	 n, i;
	char		*s;
	size_t		 len;

	if (wire_read_u64(c, &n) == -1)
		return -1;
	if (n > maxn) {
		why(c, "a list of %llu items, over the limit of %zu",
		    (unsigned long long)n, maxn);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (wire_read_string(c, maxlen, &s, &len) == -1)
			return -1;
		if (strlen(s) != len) {
			why(c, "a NUL byte inside a list item");
			free(s);
			return -1;
		}
		if (strlist_push(l, s) == -1) {
			why(c, "out of memory");
			free(s);
			return -1;
		}
	}
	return 0;
}

/* Drop what is buffered and not sent yet: the conversation is over. */
void
wire_discard(struct conn *c)
{
	c->wlen = 0;
}

/* Write all n bytes of b.  Returns 0, or -1 with c->why set. */
static int
put(struct conn *c, const unsigned char *b, size_t len)
{
	size_t	 off = 0;
	ssize_t	 n;
	int	 r;

	while (off < len) {
		n = write(c->to, b + off, len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			if ((r = wait_fd(c, c->to, POLLOUT, -1)) == 1)
				continue;
			if (r == 0) {
				c->timedout = 1;
				why(c, "the remote took no input for %d s",
				    c->timeout_ms / 1000);
			}
			return -1;
		}
		if (errno == EPIPE)
			c->eof = 1;
		why(c, "write: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Send what is buffered: as one frame, between wire_frames_begin and end. */
int
wire_flush(struct conn *c)
{
	unsigned char	 len[8];
	int		 i;

	if (c->wlen == 0)
		return 0;
	if (c->framed) {
		for (i = 0; i < 8; i++)
			len[i] = (unsigned char)((uint64_t)c->wlen >> (8 * i));
		if (put(c, len, sizeof(len)) == -1)
			return -1;
	}
	if (put(c, c->wbuf, c->wlen) == -1)
		return -1;
	c->wlen = 0;
	c->sent = 1;
	return 0;
}

/*
 * From now on what is written goes in frames (a length, then that many
 * bytes), as the daemon protocol sends a stream whose length is not known
 * ahead, until wire_frames_end sends the empty frame that ends it.
 */
int
wire_frames_begin(struct conn *c)
{
	if (wire_flush(c) == -1)
		return -1;
	c->framed = 1;
	return 0;
}

int
wire_frames_end(struct conn *c)
{
	if (wire_flush(c) == -1)
		return -1;
	c->framed = 0;
	return wire_write_u64(c, 0);
}

int
wire_write(struct conn *c, const void *buf, size_t n)
{
	const unsigned char	*p = buf;
	size_t			 take;

	while (n > 0) {
		if (c->wlen == sizeof(c->wbuf) && wire_flush(c) == -1)
			return -1;
		take = sizeof(c->wbuf) - c->wlen < n ? sizeof(c->wbuf) - c->wlen : n;
		memcpy(c->wbuf + c->wlen, p, take);
		c->wlen += take;
		p += take;
		n -= take;
	}
	return 0;
}

int
wire_write_u64(struct conn *c, uint64_t v)
{
	unsigned char	 b[8];
	int		 i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return wire_write(c, b, 8);
}

int
wire_write_string(struct conn *c, const void *s, size_t n)
{
	static const unsigned char	 zero[8];

	if (wire_write_u64(c, n) == -1 || wire_write(c, s, n) == -1)
		return -1;
	return wire_write(c, zero, (8 - n % 8) % 8);
}

int
wire_write_str(struct conn *c, const char *s)
{
	return wire_write_string(c, s, strlen(s));
}

int
wire_write_strings(struct conn *c, const struct strlist *l)
{
	size_t	 i;

	if (wire_write_u64(c, l->n) == -1)
		return -1;
	for (i = 0; i < l->n; i++)
		if (wire_write_str(c, l->v[i]) == -1)
			return -1;
	return 0;
}

/*
 * The conversation failed this way, as fmt says: kept in c->f (as "HOST:
 * ..."), for whoever records the builder's health or answers for the job,
 * and said once on stderr, unless c->quiet.  The first diagnosis stands.
 */
void
wire_error(struct conn *c, enum fail kind, const char *fmt, ...)
{
	va_list	 ap;

	if (c->f.kind != FAIL_NONE)
		return;
	va_start(ap, fmt);
	fail_vset(&c->f, kind, c->host, fmt, ap);
	va_end(ap);
	if (!c->quiet)
		log_errx("%s", c->f.msg);
}

/*
 * The conversation failed while doing what: the transport (c->diagnose)
 * knows best what really happened; else what wire.c saw (c->why).
 */
void
wire_fail(struct conn *c, const char *fmt, ...)
{
	char	 what[256];
	va_list	 ap;

	if (c->f.kind != FAIL_NONE)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (c->diagnose != NULL) {
		c->diagnose(c, what);
		if (c->f.kind != FAIL_NONE)
			return;
	}
	wire_error(c, c->eof ? FAIL_DROPPED : c->timedout ? FAIL_TIMEOUT :
	    FAIL_PROTOCOL, "%s: %s", what, c->why[0] != '\0' ? c->why :
	    "failed");
}

/*
 * Read until EOF, keeping at most max - 1 bytes in buf (NUL-terminated).
 * For short text answers such as `nix-store --version`.  Returns the length
 * kept, or -1 on timeout or error.
 */
ssize_t
wire_read_all(struct conn *c, char *buf, size_t max)
{
	size_t	 n = 0, take;
	int	 r;

	while (!c->eof) {
		if (c->rpos == c->rlen && (r = fill(c, -1)) != 1) {
			if (r == 0)
				break;
			return -1;
		}
		take = c->rlen - c->rpos;
		if (take > max - 1 - n)
			take = max - 1 - n;
		memcpy(buf + n, c->rbuf + c->rpos, take);
		n += take;
		c->rpos = c->rlen;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}
