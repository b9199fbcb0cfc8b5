/*
 * Unit tests for src/serve.c: the handshake and the queries of the serve
 * protocol against a fake remote, whose answers are written into its
 * pipes before the call under test.  No ssh, no network.
 *
 * Cases marked "regression:" failed when they were written, for a defect
 * in src/ since fixed; they stay so that it does not come back.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "harness.h"
#include "bytes.h"

/* Wire encodings spelled out, so that the tests do not trust wire.c. */
#define LE_MAGIC1	"\xeb\x9d\x0c\x39\0\0\0\0"
#define LE_MAGIC2	"\xcb\xee\x52\x54\0\0\0\0"
#define LE_V(lo, hi)	lo hi "\0\0\0\0\0\0"

/*
 * A fake remote: the client writes into one pipe (srv_in is the far end)
 * and reads from another (srv_out is where the fake server writes).
 */
struct fake {
	struct conn	*c;
	int		 srv_in;
	int		 srv_out;
};

static void
fake_open(struct fake *f)
{
	int	 a[2], b[2];

	/* struct conn holds two 64 KB buffers: not for the stack */
	if (pipe(a) == -1 || pipe(b) == -1 ||
	    (f->c = calloc(1, sizeof(*f->c))) == NULL) {
		perror("fake_open");
		exit(2);
	}
	wire_init(f->c, a[1], b[0], -1, "test");
	f->srv_in = a[0];
	f->srv_out = b[1];
	fcntl(f->srv_in, F_SETFL, fcntl(f->srv_in, F_GETFL) | O_NONBLOCK);
}

static void
fake_hangup(struct fake *f)
{
	if (f->srv_out != -1)
		close(f->srv_out);
	f->srv_out = -1;
}

static void
fake_close(struct fake *f)
{
	fake_hangup(f);
	if (f->c->to != -1)
		close(f->c->to);
	close(f->c->from);
	close(f->srv_in);
	free(f->c);
}

/*
 * serve_handshake against a fake server whose reply is written first.
 */

/* The server's greeting with version 2.minor. */
#define GREET(minor)	LE_MAGIC2 LE_V(minor, "\x02")

enum { REPLY, NOISE, SILENT };	/* SILENT: the pipe stays open */

static const struct hs_case {
	const char	*name;
	const char	*reply;
	size_t		 replylen;
	int		 how;
	enum fail	 fail;		/* FAIL_NONE: must succeed */
	unsigned	 version, remote;
} hs_cases[] = {
	{ "hs_207", B(GREET("\x07")), REPLY, FAIL_NONE, 0x207, 0x207 },
	{ "hs_208_newer", B(GREET("\x08")), REPLY, FAIL_NONE, 0x207, 0x208 },
	{ "hs_205_oldest", B(GREET("\x05")), REPLY, FAIL_NONE, 0x205, 0x205 },
	{ "hs_204_too_old", B(GREET("\x04")), REPLY, FAIL_PROTOCOL, 0, 0 },
	{ "hs_300_major", B(LE_MAGIC2 LE_V("\x00", "\x03")), REPLY,
	    FAIL_PROTOCOL, 0, 0 },
	{ "hs_huge_version", B(LE_MAGIC2 "\x07\x02\x01\0\0\0\0\0"), REPLY,
	    FAIL_PROTOCOL, 0, 0 },
	{ "hs_banner", B("Welcome to the builder\n" GREET("\x07")), REPLY,
	    FAIL_BANNER, 0, 0 },
	{ "hs_banner_utf8", B("Willkommen auf dem B\xc3\xa4" "cker\n"), REPLY,
	    FAIL_BANNER, 0, 0 },
	{ "hs_banner_short", B("hi\n"), REPLY, FAIL_BANNER, 0, 0 },
	/*
	 * regression: looks_like_text() counts every byte >= 0x80 as text, so
	 * uniformly random bytes score 89% "text" on average against a 90%
	 * threshold: this noise is reported as a shell banner.
	 */
	{ "hs_noise", B(""), NOISE, FAIL_PROTOCOL, 0, 0 },
	{ "hs_control_bytes", B("\x01\x02\x03\x04\x05\x06\x07\x08"
	    "\x10\x11\x12\x13\x14\x15\x16\x17\0\0\0\0"), REPLY,
	    FAIL_PROTOCOL, 0, 0 },
	/* a server that echoes our greeting back */
	{ "hs_echo", B(LE_MAGIC1 LE_V("\x07", "\x02")), REPLY, FAIL_PROTOCOL,
	    0, 0 },
	{ "hs_eof_4_bytes", B("\xcb\xee\x52\x54"), REPLY, FAIL_DROPPED, 0, 0 },
	{ "hs_eof_magic_only", B(LE_MAGIC2), REPLY, FAIL_DROPPED, 0, 0 },
	{ "hs_eof_nothing", B(""), REPLY, FAIL_DROPPED, 0, 0 },
	{ "hs_timeout", B(""), SILENT, FAIL_TIMEOUT, 0, 0 },
};

static void
test_handshake(void)
{
	static const unsigned char greeting[] = LE_MAGIC1 LE_V("\x07", "\x02");
	struct fake	 f;
	struct buf	 noise;
	unsigned char	 sent[64], d[SHA256_LEN];
	struct sha256	 h;
	size_t		 i, n;
	int		 rc, good;

	/* noise: sha256 of 0, 1, ..., 7, fixed so that runs agree */
	noise.n = 0;
	for (i = 0; i < 8; i++) {
		unsigned char b = (unsigned char)i;
		sha256_init(&h);
		sha256_update(&h, &b, 1);
		sha256_final(&h, d);
		put(&noise, d, sizeof(d));
	}

	for (i = 0; i < nitems(hs_cases); i++) {
		const struct hs_case *t = &hs_cases[i];

		fake_open(&f);
		f.c->timeout_ms = t->how == SILENT ? 200 : 2000;
		if (t->how == NOISE)
			write_all(f.srv_out, noise.b, noise.n);
		else
			write_all(f.srv_out, t->reply, t->replylen);
		/* hang up unless silent: peeks for more end at once */
		if (t->how != SILENT)
			fake_hangup(&f);
		rc = serve_handshake(f.c);
		n = drain(f.srv_in, sent, sizeof(sent));
		good = same_mem("greeting sent", sent, n, greeting,
		    sizeof(greeting) - 1) &&
		    (rc == (t->fail == FAIL_NONE ? 0 : -1) ||
		    no("returned %d", rc)) &&
		    same_fail(f.c->f.kind, t->fail);
		if (good && rc == 0)
			good = (f.c->version == t->version ||
			    no("version 0x%x, expected 0x%x", f.c->version,
			    t->version)) && (f.c->remote_version == t->remote ||
			    no("remote_version 0x%x, expected 0x%x",
			    f.c->remote_version, t->remote));
		report(t->name, good);
		fake_close(&f);
	}
}

/*
 * serve_query_valid_paths: the request as bytes, the reply parsed.
 */

#define PATH_A	"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo"
#define PATH_B	"/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-bar"
static const char *const qvp_ask[] = { PATH_A, PATH_B };

static const struct {
	const char	*name;
	int		 lock, substitute;
	int		 nreply;	/* -1: hang up without a word */
	const char	*reply[3];
	int		 rc;
	enum fail	 fail;
} qvp_cases[] = {
	{ "qvp_one", 1, 0, 1, { PATH_A }, 0, FAIL_NONE },
	{ "qvp_none", 0, 1, 0, { NULL }, 0, FAIL_NONE },
	/* any non-zero flag goes out as 1: the server reads a bool */
	{ "qvp_flags_bool", 7, 9, 2, { PATH_A, PATH_B }, 0, FAIL_NONE },
	{ "qvp_too_many", 0, 0, 3, { "/nix/store/a", "/nix/store/b",
	    "/nix/store/c" }, -1, FAIL_PROTOCOL },
	{ "qvp_eof", 0, 0, -1, { NULL }, -1, FAIL_DROPPED },
};

static void
test_query_valid_paths(void)
{
	struct fake	 f;
	struct strlist	 ask, valid;
	struct buf	 reply, want;
	unsigned char	 sent[1024];
	size_t		 i, k, n;
	int		 rc, good;

	memset(&ask, 0, sizeof(ask));
	for (k = 0; k < nitems(qvp_ask); k++)
		strlist_add(&ask, qvp_ask[k]);

	for (i = 0; i < nitems(qvp_cases); i++) {
		fake_open(&f);
		f.c->timeout_ms = 2000;
		reply.n = 0;
		if (qvp_cases[i].nreply >= 0) {
			put_u64(&reply, (uint64_t)qvp_cases[i].nreply);
			for (k = 0; k < (size_t)qvp_cases[i].nreply; k++)
				put_str(&reply, qvp_cases[i].reply[k],
				    strlen(qvp_cases[i].reply[k]));
		}
		write_all(f.srv_out, reply.b, reply.n);
		fake_hangup(&f);

		want.n = 0;
		put_u64(&want, SERVE_QUERY_VALID_PATHS);
		put_u64(&want, qvp_cases[i].lock != 0);
		put_u64(&want, qvp_cases[i].substitute != 0);
		put_u64(&want, ask.n);
		for (k = 0; k < ask.n; k++)
			put_str(&want, ask.v[k], strlen(ask.v[k]));

		memset(&valid, 0, sizeof(valid));
		rc = serve_query_valid_paths(f.c, &ask, qvp_cases[i].lock,
		    qvp_cases[i].substitute, &valid);
		n = drain(f.srv_in, sent, sizeof(sent));
		good = same_mem("request", sent, n, want.b, want.n) &&
		    (rc == qvp_cases[i].rc || no("returned %d, expected %d",
		    rc, qvp_cases[i].rc)) && same_fail(f.c->f.kind,
		    qvp_cases[i].fail);
		if (good && rc == 0) {
			good = valid.n == (size_t)qvp_cases[i].nreply ||
			    no("%zu valid, expected %d", valid.n,
			    qvp_cases[i].nreply);
			for (k = 0; good && k < valid.n; k++)
				good = same("valid path", valid.v[k],
				    qvp_cases[i].reply[k]);
		}
		strlist_free(&valid);
		report(qvp_cases[i].name, good);
		fake_close(&f);
	}
	strlist_free(&ask);
}

/*
 * serve_query_closure: at most SERVE_CLOSURE_MAX paths more than asked,
 * every one a store path.  One path is asked about.
 */
static const struct {
	const char	*name;
	uint64_t	 count;		/* the list's length on the wire */
	const char	*reply[3];	/* its first paths; then a hangup */
	int		 rc;
	enum fail	 fail;
} qc_cases[] = {
	{ "qc_two", 2, { PATH_A, PATH_B }, 0, FAIL_NONE },
	{ "qc_not_store_path", 2, { PATH_A, "/etc/passwd" }, -1,
	    FAIL_PROTOCOL },
	{ "qc_other_store", 1, { "/gnu/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x" },
	    -1, FAIL_PROTOCOL },
	{ "qc_bad_hash", 1, { "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x" },
	    -1, FAIL_PROTOCOL },
	{ "qc_dotdot", 1, { "/nix/store/../../etc/passwd" }, -1,
	    FAIL_PROTOCOL },
	{ "qc_empty_name", 1, { "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-" },
	    -1, FAIL_PROTOCOL },
	/* refused from the count: nothing more is read (not "dropped") */
	{ "qc_count_over", 1 + SERVE_CLOSURE_MAX + 1, { NULL }, -1,
	    FAIL_PROTOCOL },
	/* at the limit it reads on, and finds the hangup */
	{ "qc_count_at_max", 1 + SERVE_CLOSURE_MAX, { PATH_A }, -1,
	    FAIL_DROPPED },
};

static void
test_query_closure(void)
{
	struct fake	 f;
	struct strlist	 ask, closure;
	struct buf	 reply;
	unsigned char	 sent[1024];
	size_t		 i, k;
	int		 rc, good;

	memset(&ask, 0, sizeof(ask));
	strlist_add(&ask, PATH_A);
	for (i = 0; i < nitems(qc_cases); i++) {
		fake_open(&f);
		f.c->timeout_ms = 2000;
		reply.n = 0;
		put_u64(&reply, qc_cases[i].count);
		for (k = 0; k < nitems(qc_cases[i].reply) &&
		    qc_cases[i].reply[k] != NULL; k++)
			put_str(&reply, qc_cases[i].reply[k],
			    strlen(qc_cases[i].reply[k]));
		write_all(f.srv_out, reply.b, reply.n);
		fake_hangup(&f);
		memset(&closure, 0, sizeof(closure));
		rc = serve_query_closure(f.c, &ask, 0, &closure);
		drain(f.srv_in, sent, sizeof(sent));
		good = (rc == qc_cases[i].rc || no("returned %d, expected %d",
		    rc, qc_cases[i].rc)) && same_fail(f.c->f.kind,
		    qc_cases[i].fail) && (f.c->reply_max == 0 ||
		    no("the reply budget is still on"));
		if (good && rc == 0) {
			good = closure.n == qc_cases[i].count ||
			    no("%zu paths", closure.n);
			for (k = 0; good && k < closure.n; k++)
				good = same("path", closure.v[k],
				    qc_cases[i].reply[k]);
		}
		strlist_free(&closure);
		report(qc_cases[i].name, good);
		fake_close(&f);
	}
	strlist_free(&ask);
}

/*
 * serve_infos_ask and _read: each path asked about is answered at most once,
 * none that was not asked about; a builder answering "A, A" for {A, B}
 * must not pass for having answered both.
 */
static const struct {
	const char	*name;
	const char	*reply[3];	/* the paths answered, in order */
	int		 rc;
	size_t		 n;
	enum fail	 fail;
} qpi_cases[] = {
	{ "qpi_both", { PATH_A, PATH_B }, 0, 2, FAIL_NONE },
	{ "qpi_reversed", { PATH_B, PATH_A }, 0, 2, FAIL_NONE },
	{ "qpi_one_missing", { PATH_B }, 0, 1, FAIL_NONE },
	{ "qpi_twice", { PATH_A, PATH_A }, -1, 0, FAIL_PROTOCOL },
	{ "qpi_twice_after", { PATH_A, PATH_B, PATH_B }, -1, 0, FAIL_PROTOCOL },
	{ "qpi_not_asked", { PATH_A, "/nix/store/cccccccccccccccccccccccccccccccc-x" },
	    -1, 0, FAIL_PROTOCOL },
};

static void
test_query_path_infos(void)
{
	struct fake	 f;
	struct strlist	 ask;
	struct path_info *pi;
	struct buf	 reply;
	unsigned char	 sent[1024];
	size_t		 i, k, n;
	int		 rc, good;

	memset(&ask, 0, sizeof(ask));
	strlist_add(&ask, PATH_A);
	strlist_add(&ask, PATH_B);
	for (i = 0; i < nitems(qpi_cases); i++) {
		fake_open(&f);
		f.c->timeout_ms = 2000;
		f.c->version = 0x207;
		reply.n = 0;
		for (k = 0; k < nitems(qpi_cases[i].reply) &&
		    qpi_cases[i].reply[k] != NULL; k++) {
			put_str(&reply, qpi_cases[i].reply[k],
			    strlen(qpi_cases[i].reply[k]));
			put_str(&reply, "", 0);		/* deriver */
			put_u64(&reply, 0);		/* references */
			put_u64(&reply, 0);		/* download size */
			put_u64(&reply, 120);		/* NAR size */
			put_str(&reply, "sha256:x", 8);	/* NAR hash */
			put_str(&reply, "", 0);		/* ca */
			put_u64(&reply, 0);		/* signatures */
		}
		put_str(&reply, "", 0);
		write_all(f.srv_out, reply.b, reply.n);
		fake_hangup(&f);
		pi = NULL;
		n = 99;
		rc = serve_infos_ask(f.c, &ask) == -1 ? -1 :
		    serve_infos_read(f.c, &ask, &pi, &n);
		drain(f.srv_in, sent, sizeof(sent));
		good = (rc == qpi_cases[i].rc || no("returned %d, expected %d",
		    rc, qpi_cases[i].rc)) && same_fail(f.c->f.kind,
		    qpi_cases[i].fail) && (n == qpi_cases[i].n ||
		    no("%zu records, expected %zu", n, qpi_cases[i].n));
		for (k = 0; good && k < n; k++)
			good = same("path", pi[k].path, qpi_cases[i].reply[k]);
		serve_path_infos_free(pi, n);
		report(qpi_cases[i].name, good);
		fake_close(&f);
	}
	strlist_free(&ask);
}

int
main(void)
{
	/* a peer that hangs up must fail a write, not kill us */
	signal(SIGPIPE, SIG_IGN);
	errors_capture();

	test_handshake();
	test_query_valid_paths();
	test_query_closure();
	test_query_path_infos();
	return done();
}
