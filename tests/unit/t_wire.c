/*
 * Unit tests for src/wire.c: u64s, strings and string lists through a pipe
 * that loops back, bad input (limits from the length alone, padding, EOF,
 * timeouts), strings longer than the first buffer, memory that follows
 * the bytes and not the claim, and the reply budget.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "harness.h"
#include "bytes.h"

/*
 * wire: round trips through a pipe that loops back (what c writes, c
 * reads), each case on a fresh one so that a failure cannot spill over.
 */

static struct conn *
loop_open(void)
{
	struct conn	*c;
	int		 p[2];

	if (pipe(p) == -1 || (c = calloc(1, sizeof(*c))) == NULL) {
		perror("loop_open");
		exit(2);
	}
	wire_init(c, p[1], p[0], -1, "loop");
	c->timeout_ms = 2000;	/* a bug must not hang the tests */
	return c;
}

static void
loop_close(struct conn *c)
{
	close(c->to);
	close(c->from);
	free(c);
}

/* What c wrote must be the bytes in want; then put them back for c. */
static int
loop_bytes(struct conn *c, const struct buf *want)
{
	unsigned char	 raw[512];
	size_t		 n;

	if (wire_flush(c) == -1)
		return no("write: %s", c->why);
	n = drain(c->from, raw, sizeof(raw));
	write_all(c->to, raw, n);
	return same_mem("bytes", raw, n, want->b, want->n);
}

static const uint64_t	 u64_cases[] = {
	0, 1, 0x0102030405060708ULL, 1ULL << 63, UINT64_MAX
};

/* Lengths around the padding; the last case holds NUL bytes. */
static const size_t	 strlen_cases[] = { 0, 1, 7, 8, 9, 15, 16, 100, 5 };

static const char *const list_words[] = { "a", "", "/nix/store/x-y",
	"12345678" };

static void
test_wire_roundtrip(void)
{
	static const char	 src[] = "0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	struct conn		*c;
	struct buf		 want;
	struct strlist		 in, out;
	uint64_t		 v;
	char			*s, name[64];
	const char		*p;
	size_t			 i, k, l, len;
	int			 good;

	for (i = 0; i < nitems(u64_cases); i++) {
		snprintf(name, sizeof(name), "wire_u64_%llx",
		    (unsigned long long)u64_cases[i]);
		c = loop_open();
		want.n = 0;
		put_u64(&want, u64_cases[i]);
		wire_write_u64(c, u64_cases[i]);
		v = 0;
		report(name, loop_bytes(c, &want) &&
		    (wire_read_u64(c, &v) == 0 || no("read: %s", c->why)) &&
		    (v == u64_cases[i] || no("read %llx",
		    (unsigned long long)v)));
		loop_close(c);
	}

	for (i = 0; i < nitems(strlen_cases); i++) {
		l = strlen_cases[i];
		p = i + 1 < nitems(strlen_cases) ? src : "a\0b\0c";
		snprintf(name, sizeof(name), "wire_string_%zu%s", l,
		    p == src ? "" : "_nul");
		c = loop_open();
		want.n = 0;
		put_str(&want, p, l);
		wire_write_string(c, p, l);
		s = NULL;
		len = 12345;
		good = loop_bytes(c, &want) &&
		    (wire_read_string(c, WIRE_STRING_MAX, &s, &len) == 0 ||
		    no("read: %s", c->why)) &&
		    same_mem("string", s, len, p, l) &&
		    (s[len] == '\0' || no("not NUL-terminated")) &&
		    /* the padding was consumed too */
		    (c->rpos == c->rlen || no("%zu bytes left unread",
		    c->rlen - c->rpos));
		free(s);
		report(name, good);
		loop_close(c);
	}

	/* exactly at the caller's limit is fine */
	c = loop_open();
	wire_write_str(c, "abcd");
	good = (wire_read_string(c, 4, &s, NULL) == 0 ||
	    no("read: %s", c->why)) && same("string", s, "abcd");
	free(s);
	report("wire_string_at_max", good);
	loop_close(c);

	for (k = 0; k <= nitems(list_words); k++) {
		snprintf(name, sizeof(name), "wire_strings_%zu", k);
		c = loop_open();
		memset(&in, 0, sizeof(in));
		memset(&out, 0, sizeof(out));
		want.n = 0;
		put_u64(&want, k);
		for (i = 0; i < k; i++) {
			strlist_add(&in, list_words[i]);
			put_str(&want, list_words[i], strlen(list_words[i]));
		}
		wire_write_strings(c, &in);
		good = loop_bytes(c, &want) && (wire_read_strings(c,
		    WIRE_LIST_MAX, WIRE_PATH_MAX, &out) == 0 ||
		    no("read: %s", c->why)) &&
		    (out.n == k || no("%zu items, expected %zu", out.n, k));
		for (i = 0; good && i < k; i++)
			good = same("item", out.v[i], list_words[i]);
		strlist_free(&in);
		strlist_free(&out);
		report(name, good);
		loop_close(c);
	}
}

/*
 * Bad input: the raw bytes of a peer, then EOF (hangup) or silence.  A
 * limit must be caught from the length alone, before reading on (eof stays
 * 0) or allocating.
 */
enum { OP_U64, OP_STRING, OP_LIST };

static const struct {
	const char	*name;
	const char	*raw;
	size_t		 rawlen;
	int		 op;
	int		 hangup;	/* else silence, and a 200 ms timeout */
	int		 eof;		/* expected c->eof; -1: either */
	const char	*why;		/* in c->why */
} bad_cases[] = {
	{ "wire_string_len_2^62", B("\0\0\0\0\0\0\0\x40"), OP_STRING, 1, 0,
	    "limit" },
	{ "wire_string_len_max", B("\xff\xff\xff\xff\xff\xff\xff\xff"),
	    OP_STRING, 1, 0, "limit" },
	{ "wire_string_len_64M+1", B("\x01\0\0\x04\0\0\0\0"), OP_STRING, 1, 0,
	    "limit" },
	{ "wire_list_count_2^40", B("\0\0\0\0\0\x01\0\0"), OP_LIST, 1, 0,
	    "limit" },
	{ "wire_list_count_1M+1", B("\x01\0\x10\0\0\0\0\0"), OP_LIST, 1, 0,
	    "limit" },
	{ "wire_list_item_long", B("\x01\0\0\0\0\0\0\0" "\x01\x10\0\0\0\0\0\0"),
	    OP_LIST, 1, 0, "limit" },
	{ "wire_list_item_nul", B("\x01\0\0\0\0\0\0\0" "\x03\0\0\0\0\0\0\0"
	    "a\0b\0\0\0\0\0"), OP_LIST, 1, -1, "NUL" },
	{ "wire_padding_last", B("\x01\0\0\0\0\0\0\0" "a\0\0\0\0\0\0\x01"),
	    OP_STRING, 1, -1, "padding" },
	{ "wire_padding_first", B("\x03\0\0\0\0\0\0\0" "abc\x80\0\0\0\0"),
	    OP_STRING, 1, -1, "padding" },
	{ "wire_eof_u64", B("\x01\x02\x03"), OP_U64, 1, 1, "closed" },
	{ "wire_eof_string", B("\x0a\0\0\0\0\0\0\0" "abc"), OP_STRING, 1, 1,
	    "closed" },
	{ "wire_eof_padding", B("\x01\0\0\0\0\0\0\0" "a\0\0"), OP_STRING, 1, 1,
	    "closed" },
	{ "wire_eof_list", B("\x02\0\0\0\0\0\0\0" "\x01\0\0\0\0\0\0\0"
	    "a\0\0\0\0\0\0\0"), OP_LIST, 1, 1, "closed" },
	{ "wire_eof_empty", B(""), OP_U64, 1, 1, "closed" },
	{ "wire_timeout_u64", B(""), OP_U64, 0, 0, "no answer" },
	{ "wire_timeout_string", B("\x0a\0\0\0\0\0\0\0" "abc"), OP_STRING, 0, 0,
	    "no answer" },
};

static void
test_wire_bad(void)
{
	struct conn	*c;
	struct strlist	 l;
	uint64_t	 v;
	int64_t		 t0, ms;
	char		*s;
	size_t		 i;
	int		 p[2], rc, good;

	for (i = 0; i < nitems(bad_cases); i++) {
		if (pipe(p) == -1 || (c = calloc(1, sizeof(*c))) == NULL)
			abort();
		wire_init(c, -1, p[0], -1, "test");
		c->timeout_ms = bad_cases[i].hangup ? 2000 : 200;
		write_all(p[1], bad_cases[i].raw, bad_cases[i].rawlen);
		if (bad_cases[i].hangup)
			close(p[1]);
		memset(&l, 0, sizeof(l));
		s = (char *)"unset";
		t0 = clock_ms();
		switch (bad_cases[i].op) {
		case OP_U64:
			rc = wire_read_u64(c, &v);
			break;
		case OP_STRING:
			rc = wire_read_string(c, WIRE_STRING_MAX, &s, NULL);
			break;
		default:
			rc = wire_read_strings(c, WIRE_LIST_MAX, WIRE_PATH_MAX,
			    &l);
			break;
		}
		ms = clock_ms() - t0;
		good = (rc == -1 || no("returned %d, expected -1", rc)) &&
		    (bad_cases[i].op != OP_STRING || s == NULL ||
		    no("*s not NULL after a failure")) &&
		    (strstr(c->why, bad_cases[i].why) != NULL ||
		    no("why \"%s\" does not say \"%s\"", c->why,
		    bad_cases[i].why)) &&
		    (bad_cases[i].eof == -1 || c->eof == bad_cases[i].eof ||
		    no("eof %d, expected %d", c->eof, bad_cases[i].eof));
		if (good && !bad_cases[i].hangup)
			good = (c->timedout || no("timedout not set")) &&
			    ((ms >= 150 && ms <= 1000) ||
			    no("gave up after %lld ms, expected ~200",
			    (long long)ms));
		else if (good && c->timedout)
			good = no("timedout set on %s", c->why);
		report(bad_cases[i].name, good);
		strlist_free(&l);
		if (!bad_cases[i].hangup)
			close(p[1]);
		close(p[0]);
		free(c);
	}
}

/*
 * Strings longer than the first buffer (WIRE_GROW) come whole; and a peer
 * that claims a long string but sends little makes us allocate little:
 * memory follows the bytes, not the claim.  The claim is read in a child
 * whose address space is capped well below the claimed length (not under
 * AddressSanitizer, which reserves terabytes of address space).
 */
static void
test_wire_string_growth(void)
{
	static const size_t	 lens[] = { WIRE_GROW - 1, WIRE_GROW,
	    WIRE_GROW + 1, 3 * WIRE_GROW + 5, 1000003 };
	struct conn	*c;
	char		*s, *want, name[64], hdr[8];
	size_t		 i, j, len, got;
	int		 p[2], status, good;
	pid_t		 pid;

	for (i = 0; i < nitems(lens); i++) {
		len = lens[i];
		snprintf(name, sizeof(name), "wire_string_grows_%zu", len);
		if ((want = malloc(len)) == NULL || pipe(p) == -1 ||
		    (c = calloc(1, sizeof(*c))) == NULL)
			abort();
		for (j = 0; j < len; j++)
			want[j] = (char)('a' + j % 23);
		if ((pid = fork()) == 0) {
			struct conn	 w;
			close(p[0]);
			wire_init(&w, p[1], -1, -1, "writer");
			wire_write_string(&w, want, len);
			_exit(wire_flush(&w) == 0 ? 0 : 1);
		}
		close(p[1]);
		wire_init(c, -1, p[0], -1, "test");
		c->timeout_ms = 5000;
		s = NULL;
		got = 0;
		good = (wire_read_string(c, WIRE_STRING_MAX, &s, &got) == 0 ||
		    no("read: %s", c->why)) && same_mem("string", s, got,
		    want, len) && (s[len] == '\0' || no("not terminated")) &&
		    (wire_read_u64(c, (uint64_t *)(void *)hdr) == -1 ||
		    no("padding not consumed"));
		waitpid(pid, &status, 0);
		report(name, good);
		free(s);
		free(want);
		close(p[0]);
		free(c);
	}

#if UNDER_ASAN
	report("wire_string_claim_not_allocated (skipped under ASan)", 1);
#else
	/* 60 MiB claimed, 16 bytes sent, under a cap of 40 MiB more */
	struct rlimit	 rl;
	FILE		*f;
	unsigned long	 vm;

	if (pipe(p) == -1)
		abort();
	memcpy(hdr, "\0\0\xc0\x03\0\0\0\0", 8);
	write_all(p[1], hdr, 8);
	write_all(p[1], "0123456789abcdef", 16);
	close(p[1]);
	if ((pid = fork()) == 0) {
		vm = 0;
		if ((f = fopen("/proc/self/statm", "r")) == NULL ||
		    fscanf(f, "%lu", &vm) != 1)
			_exit(3);
		fclose(f);
		rl.rlim_cur = rl.rlim_max = vm * (unsigned long)sysconf(
		    _SC_PAGESIZE) + 40u * 1024 * 1024;
		if (setrlimit(RLIMIT_AS, &rl) == -1 ||
		    (c = calloc(1, sizeof(*c))) == NULL)
			_exit(3);
		wire_init(c, -1, p[0], -1, "test");
		c->timeout_ms = 2000;
		if (wire_read_string(c, WIRE_STRING_MAX, &s, NULL) == 0)
			_exit(4);
		/* the peer hung up: that, not memory, must be the cause */
		_exit(strstr(c->why, "closed") != NULL ? 0 : 5);
	}
	close(p[0]);
	waitpid(pid, &status, 0);
	report("wire_string_claim_not_allocated", (WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0) || no("child: %s %d", WIFEXITED(status) ?
	    "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) :
	    WTERMSIG(status)));
#endif
}

/*
 * The reply budget (wire_reply_begin): a list of k strings of len bytes
 * costs k * (WIRE_ITEM_COST + len), counted as it is read.
 */
static const struct {
	const char	*name;
	size_t		 k, len;
	uint64_t	 budget;	/* 0: not counted */
	int		 rc;
} budget_cases[] = {
	{ "reply_budget_exact", 10, 8, 10 * (WIRE_ITEM_COST + 8), 0 },
	{ "reply_budget_one_over", 10, 8, 10 * (WIRE_ITEM_COST + 8) - 1, -1 },
	/* empty strings are not free */
	{ "reply_budget_empty_strings", 100, 0, 100 * WIRE_ITEM_COST - 1, -1 },
	{ "reply_budget_off", 100, 0, 0, 0 },
};

static void
test_reply_budget(void)
{
	struct conn	*c;
	struct strlist	 l;
	char		 item[16];
	size_t		 i, k;
	int		 rc, good;

	memset(item, 'x', sizeof(item));
	for (i = 0; i < nitems(budget_cases); i++) {
		c = loop_open();
		memset(&l, 0, sizeof(l));
		wire_write_u64(c, budget_cases[i].k);
		for (k = 0; k < budget_cases[i].k; k++)
			wire_write_string(c, item, budget_cases[i].len);
		wire_flush(c);
		wire_reply_begin(c, budget_cases[i].budget);
		rc = wire_read_strings(c, WIRE_LIST_MAX, WIRE_PATH_MAX, &l);
		wire_reply_end(c);
		good = (rc == budget_cases[i].rc || no("returned %d, expected "
		    "%d (%s)", rc, budget_cases[i].rc, c->why)) &&
		    (rc == 0 || strstr(c->why, "limit of") != NULL ||
		    no("why \"%s\"", c->why)) &&
		    (rc != 0 || l.n == budget_cases[i].k ||
		    no("%zu items", l.n));
		report(budget_cases[i].name, good);
		strlist_free(&l);
		loop_close(c);
	}

	/* a claimed length is charged before a byte of it is read */
	c = loop_open();
	wire_write_u64(c, 1);
	wire_write_u64(c, 1000000);
	wire_flush(c);
	wire_reply_begin(c, 1000000);
	memset(&l, 0, sizeof(l));
	rc = wire_read_strings(c, WIRE_LIST_MAX, WIRE_STRING_MAX, &l);
	report("reply_budget_claim", (rc == -1 || no("returned %d", rc)) &&
	    (strstr(c->why, "limit of 1000000 bytes") != NULL ||
	    no("why \"%s\"", c->why)) && (!c->timedout ||
	    no("waited for the bytes")));
	strlist_free(&l);
	loop_close(c);
}

/*
 * The peer's last message from its stderr: Nix's "error:" with the indented
 * lines after it on one line; else the last line.
 */
static const struct {
	const char	*name, *tail, *want;
} message_cases[] = {
	{ "last_message_nix_error", "copying path\n"
	  "error: hash mismatch importing path '/nix/store/x';\n"
	  "         specified: sha256:aaa\n"
	  "         got:       sha256:bbb\n",
	  "error: hash mismatch importing path '/nix/store/x'; specified: "
	  "sha256:aaa got: sha256:bbb" },
	{ "last_message_last_line", "error: old\nsomething else\n"
	  "  indented, no error line before\n",
	  "indented, no error line before" },
	{ "last_message_plain", "one\ntwo  \n\n", "two" },
	{ "last_message_only_error", "error: alone", "error: alone" },
	{ "last_message_empty", "", "" },
	{ "last_message_escaped", "error: a\033[31mb\n\tc\n",
	  "error: a\\x1b[31mb c" },
};

static void
test_last_message(void)
{
	struct conn	 c;
	char		 out[200];
	size_t		 i;

	for (i = 0; i < nitems(message_cases); i++) {
		memset(&c, 0, sizeof(c));
		wire_log(&c, message_cases[i].tail,
		    strlen(message_cases[i].tail));
		wire_last_message(&c, out, sizeof(out));
		report(message_cases[i].name, same("message", out,
		    message_cases[i].want));
	}
}

int
main(void)
{
	/* a peer that hangs up must fail a write, not kill us */
	signal(SIGPIPE, SIG_IGN);
	errors_capture();

	test_wire_roundtrip();
	test_wire_bad();
	test_wire_string_growth();
	test_reply_budget();
	test_last_message();
	return done();
}
