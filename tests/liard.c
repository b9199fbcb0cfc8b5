/*
 * liard MODE [VERSION]: a `nix-daemon --stdio` that greets properly
 * (protocol 1.38, or VERSION such as 1.34), reads each operation whole,
 * answers as an honest daemon of a tiny store would, and lies once, as
 * MODE says, for the fault tests (tests/ngfaults.sh).  Run as
 * remote-program (ssh appends --stdio, which is ignored).
 *
 * Its store: every path asked about is valid, with no references and no
 * deriver; the NAR of every path is a regular file "x" (120 bytes, of
 * NAR_X_HEX); a build succeeds at once (Built, no outputs said); what is
 * added is taken.  At 1.35 and later it says the user is trusted, and an
 * untrusted one (build-results) may not build an input-addressed
 * derivation it was sent whole, as Nix's daemon has it.
 *
 * The handshake:
 *	magic		greets as `nix-store --serve` would (its magic, 2.7)
 *	old		speaks protocol 1.33 (Nix 2.7)
 *	major		speaks protocol 2.38
 *	trust		says trust status 7 (at 1.35 and later)
 *	features	a features list of 2^40 items (at 1.38)
 *	version-long	a Nix version string of 2^40 bytes (at 1.33)
 *	eof-handshake	exits half way through its Nix version string
 *
 * The messages before the reply to the first operation:
 *	msg-unknown	a message of tag 0x4c494152 ("LIAR")
 *	msg-next-huge	STDERR_NEXT of 2^62 bytes
 *	msg-fields	STDERR_START_ACTIVITY with 2^40 fields
 *	msg-field-type	STDERR_RESULT with a field of type 7
 *	msg-read	STDERR_READ (it asks for data, which no operation
 *			the client sends calls for)
 *	msg-error	STDERR_ERROR, its message full of terminal escapes
 *			(a title, a screen clear, colours, a carriage
 *			return) and a second line that would pass for
 *			nix-offload's own
 *	log-escapes	while building: a log line (STDERR_RESULT type 101)
 *			and a STDERR_NEXT line full of terminal escapes;
 *			then honest
 *
 * The replies:
 *	valid-count	QueryValidPaths: a list of 2^40 paths
 *	valid-more	QueryValidPaths: the paths asked about, and one more
 *	info-validity	QueryPathInfo: validity 7
 *	info-hash	QueryPathInfo: a NAR hash of 64 characters, not hex
 *	info-refs	QueryPathInfo: 2^40 references
 *	closure-junk	QueryPathInfo: "/etc/passwd" among the references
 *	nar-hash	NarFromPath: a valid NAR (a file "x") that is not the
 *			one QueryPathInfo announced (a file "y", as big)
 *	nar-dotdot	NarFromPath: a directory with an entry ".."
 *	build-status	BuildDerivation: result status 99
 *	build-results	the user is not trusted (trust 2, at 1.35 and
 *			later); BuildPathsWithResults: 5 results for the
 *			one derivation asked
 *	build-other	as build-results, but the one result is of a
 *			derivation that was not asked for
 *	cut		the first reply that has a body (QueryPathInfo,
 *			BuildDerivation or BuildPathsWithResults) stops
 *			half way, and the daemon with it (exit 1)
 *
 * Any other MODE is honest throughout.  After the lie the liar waits for
 * the client to hang up.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIARD_STRING_MAX	4096	/* a path or name we keep */
#define LIARD_LIST_MAX		4096	/* paths kept from one request */

#define MAGIC_1		0x6e697863ULL
#define MAGIC_2		0x6478696fULL
#define SERVE_MAGIC_2	0x5452eecbULL

#define STDERR_NEXT		0x6f6c6d67ULL
#define STDERR_READ		0x64617461ULL
#define STDERR_LAST		0x616c7473ULL
#define STDERR_ERROR		0x63787470ULL
#define STDERR_START_ACTIVITY	0x53545254ULL
#define STDERR_STOP_ACTIVITY	0x53544f50ULL
#define STDERR_RESULT		0x52534c54ULL

#define ACT_BUILD		105
#define RES_BUILD_LOG_LINE	101

/* the NAR of a regular file "x", and of one "y": 120 bytes each */
#define NAR_SIZE	120
#define NAR_X_HEX	"2ca0b8ce996f865db37619bfe91023559305aad8158042fc6ddb0ef1d43c5b67"
#define NAR_Y_HEX	"8f289118b1f43f855db910215e67b9aa02988d2fb0a7c56feacdb246b815e1b4"

enum {
	OP_ADD_TEMP_ROOT = 11, OP_SET_OPTIONS = 19, OP_QUERY_PATH_INFO = 26,
	OP_QUERY_VALID_PATHS = 31, OP_BUILD_DERIVATION = 36,
	OP_NAR_FROM_PATH = 38, OP_ADD_TO_STORE_NAR = 39,
	OP_QUERY_DERIVATION_OUTPUT_MAP = 41, OP_ADD_MULTIPLE_TO_STORE = 44,
	OP_BUILD_PATHS_WITH_RESULTS = 46
};

struct paths {
	char	*v[LIARD_LIST_MAX];
	size_t	 n;
};

static const char	*mode;
static unsigned		 minor = 38;	/* ours, then the lower of both */
static unsigned long	 ops;		/* operations answered so far */

static int
is(const char *m)
{
	return strcmp(mode, m) == 0;
}

static void	 done(void) __attribute__((noreturn));

/* The lie is told: wait for the client to hang up. */
static void
done(void)
{
	char	 b[4096];

	fflush(stdout);
	while (read(0, b, sizeof(b)) > 0)
		;
	exit(0);
}

static void
put(const void *p, size_t n)
{
	fwrite(p, 1, n, stdout);
}

static void
put_u64(uint64_t v)
{
	unsigned char	 b[8];
	int		 i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put(b, 8);
}

static void
put_str(const char *s)
{
	static const char zero[8];
	size_t		 n = strlen(s);

	put_u64(n);
	put(s, n);
	put(zero, (8 - n % 8) % 8);
}

static uint64_t
get_u64(void)
{
	unsigned char	 b[8];
	uint64_t	 v = 0;
	int		 i;

	if (fread(b, 1, 8, stdin) != 8)
		done();
	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* A string of the request into buf (of LIARD_STRING_MAX + 1), or skipped. */
static void
get_str(char *buf)
{
	uint64_t	 n = get_u64(), i;
	char		 pad[8];

	if (buf == NULL) {
		for (i = 0; i < n; i++)
			if (getchar() == EOF)
				done();
	} else {
		if (n > LIARD_STRING_MAX) {
			fprintf(stderr, "liard: a string of %llu bytes\n",
			    (unsigned long long)n);
			exit(1);
		}
		if (fread(buf, 1, n, stdin) != n)
			done();
		buf[n] = '\0';
	}
	if (fread(pad, 1, (8 - n % 8) % 8, stdin) != (8 - n % 8) % 8)
		done();
}

/* A list of strings, kept in p (or skipped). */
static void
get_strs(struct paths *p)
{
	uint64_t	 n = get_u64(), i;
	char		 buf[LIARD_STRING_MAX + 1];

	if (p != NULL && n > LIARD_LIST_MAX) {
		fprintf(stderr, "liard: a list of %llu items\n",
		    (unsigned long long)n);
		exit(1);
	}
	for (i = 0; i < n; i++) {
		get_str(p != NULL ? buf : NULL);
		if (p != NULL && (p->v[p->n++] = strdup(buf)) == NULL)
			exit(1);
	}
}

static void
paths_free(struct paths *p)
{
	while (p->n > 0)
		free(p->v[--p->n]);
}

/* A framed stream (AddToStoreNar, AddMultipleToStore), skipped. */
static void
get_frames(void)
{
	uint64_t	 n, i;

	while ((n = get_u64()) != 0)
		for (i = 0; i < n; i++)
			if (getchar() == EOF)
				done();
}

/* The daemon's error, in the form of the version in use. */
static void
put_error(const char *msg)
{
	put_u64(STDERR_ERROR);
	if (minor < 26) {
		put_str(msg);
		put_u64(1);
		return;
	}
	put_str("Error");
	put_u64(0);		/* level: error */
	put_str("Error");
	put_str(msg);
	put_u64(0);		/* no position */
	put_u64(0);		/* no traces */
}

/*
 * The messages before a reply: the lies of the msg- modes at the first
 * operation, the log of log-escapes while building, then STDERR_LAST.
 */
static void
messages(int building)
{
	if (ops++ == 0) {
		if (is("msg-unknown")) {
			put_u64(0x4c494152);
			done();
		} else if (is("msg-next-huge")) {
			put_u64(STDERR_NEXT);
			put_u64(1ULL << 62);
			done();
		} else if (is("msg-fields")) {
			put_u64(STDERR_START_ACTIVITY);
			put_u64(1);		/* id */
			put_u64(3);		/* level: info */
			put_u64(ACT_BUILD);
			put_str("building");
			put_u64(1ULL << 40);
			done();
		} else if (is("msg-field-type")) {
			put_u64(STDERR_RESULT);
			put_u64(1);		/* id */
			put_u64(RES_BUILD_LOG_LINE);
			put_u64(1);
			put_u64(7);		/* neither int (0) nor string (1) */
			put_u64(0);
			done();
		} else if (is("msg-read")) {
			put_u64(STDERR_READ);
			put_u64(65536);
			done();
		} else if (is("msg-error")) {
			put_error("error: \x1b]0;pwned\x07\x1b[2J\x1b[H\x1b[31;1m"
			    "path is\x1b[0m \rnot valid\nnix-offload: all is "
			    "well");
			done();
		}
	}
	if (building && is("log-escapes")) {
		put_u64(STDERR_START_ACTIVITY);
		put_u64(1);
		put_u64(3);
		put_u64(ACT_BUILD);
		put_str("building '/nix/store/...'");
		put_u64(4);
		put_u64(1);
		put_str("/nix/store/...");
		put_u64(1);
		put_str("");
		put_u64(0);
		put_u64(1);
		put_u64(0);
		put_u64(1);
		put_u64(0);		/* no parent */
		put_u64(STDERR_RESULT);
		put_u64(1);
		put_u64(RES_BUILD_LOG_LINE);
		put_u64(1);
		put_u64(1);
		put_str("log \x1b]0;pwned\x07\x1b[2J\x1b[Hline\x1b[31m red"
		    "\x1b[0m\r over");
		put_u64(STDERR_NEXT);
		put_str("next \x1b]2;pwned\x1b\\\x1b[1;1Hline\n");
		put_u64(STDERR_STOP_ACTIVITY);
		put_u64(1);
	}
	put_u64(STDERR_LAST);
}

/*
 * The first reply with a body stops half way (cut): after the number
 * lead, if any, in the middle of the string that follows.
 */
static void
cut(int lead, uint64_t v)
{
	if (!is("cut"))
		return;
	if (lead)
		put_u64(v);
	put_u64(64);
	put(NAR_X_HEX, 32);
	fflush(stdout);
	exit(1);
}

/* A BuildResult of the version in use. */
static void
put_result(uint64_t status, const char *msg)
{
	put_u64(status);
	put_str(msg);
	if (minor >= 29) {
		put_u64(1);		/* times built */
		put_u64(0);		/* not deterministic: no */
		put_u64(0);		/* start */
		put_u64(0);		/* stop */
	}
	if (minor >= 37) {
		put_u64(0);		/* no CPU user time */
		put_u64(0);		/* nor system */
	}
	if (minor >= 28)
		put_u64(0);		/* built outputs */
}

static void
query_path_info(void)
{
	get_str(NULL);
	messages(0);
	if (is("info-validity")) {
		put_u64(7);
		done();
	}
	put_u64(1);
	cut(0, 0);			/* in the deriver */
	put_str("");			/* deriver */
	put_str(is("info-hash") ? "2ca0b8ce996f865db37619bfe91023559305aad81"
	    "58042fc6ddb0ef1d43c5bzz" : is("nar-hash") ? NAR_Y_HEX : NAR_X_HEX);
	if (is("info-refs")) {
		put_u64(1ULL << 40);
		done();
	} else if (is("closure-junk")) {
		put_u64(1);
		put_str("/etc/passwd");
	} else
		put_u64(0);
	put_u64(0);			/* registered: then */
	put_u64(NAR_SIZE);
	if (minor >= 16) {
		put_u64(0);		/* not ultimately trusted */
		put_u64(0);		/* signatures */
		put_str("");		/* ca */
	}
}

static void
query_valid_paths(void)
{
	struct paths	 p = { { NULL }, 0 };
	size_t		 i;

	get_strs(&p);
	if (minor >= 27)
		(void)get_u64();	/* substitute */
	messages(0);
	if (is("valid-count")) {
		put_u64(1ULL << 40);
		done();
	}
	put_u64(p.n + is("valid-more"));
	for (i = 0; i < p.n; i++)
		put_str(p.v[i]);
	if (is("valid-more"))
		put_str("/nix/store/00000000000000000000000000000000-liard-extra");
	paths_free(&p);
}

/* A NAR: a file "x", or a directory with an entry "..". */
static void
nar_from_path(void)
{
	get_str(NULL);
	messages(0);
	put_str("nix-archive-1");
	put_str("(");
	put_str("type");
	if (is("nar-dotdot")) {
		put_str("directory");
		put_str("entry");
		put_str("(");
		put_str("name");
		put_str("..");
		put_str("node");
		put_str("(");
		put_str("type");
	}
	put_str("regular");
	put_str("contents");
	put_str("x");
	put_str(")");
	if (is("nar-dotdot")) {
		put_str(")");
		put_str(")");
		done();
	}
}

static void
build_derivation(int trust)
{
	uint64_t	 n, i;
	char		 algo[LIARD_STRING_MAX + 1];
	int		 input_addressed = 1;

	get_str(NULL);			/* the .drv's path */
	for (n = get_u64(), i = 0; i < n; i++) {
		get_str(NULL);		/* name */
		get_str(NULL);		/* path */
		get_str(algo);
		get_str(NULL);		/* hash */
		input_addressed &= algo[0] == '\0';
	}
	get_strs(NULL);			/* input sources */
	get_str(NULL);			/* platform */
	get_str(NULL);			/* builder */
	get_strs(NULL);			/* arguments */
	for (n = get_u64(), i = 0; i < 2 * n; i++)
		get_str(NULL);		/* environment */
	(void)get_u64();		/* build mode */
	if (trust == 2 && input_addressed) {
		ops++;
		put_error("you are not privileged to build input-addressed "
		    "derivations");
		return;
	}
	messages(1);
	cut(1, 0);			/* status Built, in the message */
	if (is("build-status")) {
		put_u64(99);
		put_str("");
		done();
	}
	put_result(0, "");
}

static void
build_paths_with_results(void)
{
	struct paths	 p = { { NULL }, 0 };
	size_t		 i, k, n;

	get_strs(&p);
	(void)get_u64();		/* build mode */
	messages(1);
	cut(1, 1);			/* one result, in its path */
	n = is("build-results") ? 5 : p.n;
	put_u64(n);
	for (i = 0; i < n; i++) {
		k = p.n > 0 ? i % p.n : 0;
		put_str(is("build-other") ? "/nix/store/00000000000000000000000"
		    "000000000-other.drv!*" : p.n > 0 ? p.v[k] : "");
		put_result(0, "");
	}
	paths_free(&p);
}

/* The handshake, up to the end of its messages; returns the trust said. */
static int
handshake(void)
{
	uint64_t	 v;
	int		 trust = is("trust") ? 7 : is("build-results") ||
			    is("build-other") ? 2 : 1;

	if (get_u64() != MAGIC_1)
		exit(1);
	if (is("magic")) {
		put_u64(SERVE_MAGIC_2);
		put_u64(0x207);
		done();
	}
	put_u64(MAGIC_2);
	put_u64(is("major") ? 0x226 : is("old") ? 0x121 : 0x100 | minor);
	fflush(stdout);
	v = get_u64();
	if ((v & 0xff) < minor)
		minor = (unsigned)(v & 0xff);
	if (minor >= 38)
		get_strs(NULL);		/* the client's features */
	if (minor >= 14 && get_u64() != 0)
		(void)get_u64();	/* CPU affinity */
	if (minor >= 11)
		(void)get_u64();	/* reserve space */
	if (minor >= 38) {
		if (is("features")) {
			put_u64(1ULL << 40);
			done();
		}
		put_u64(0);
	}
	if (minor >= 33) {
		if (is("version-long")) {
			put_u64(1ULL << 40);
			done();
		}
		if (is("eof-handshake")) {
			put_u64(6);
			put("2.", 2);
			fflush(stdout);
			exit(1);
		}
		put_str("2.99.0-liard");
	}
	if (minor >= 35)
		put_u64((uint64_t)trust);
	put_u64(STDERR_LAST);
	fflush(stdout);
	return minor >= 35 ? trust : 0;
}

int
main(int argc, char *argv[])
{
	uint64_t	 op, n, i;
	unsigned	 maj, min;
	int		 trust;

	if (argc < 2) {
		fprintf(stderr, "usage: liard MODE [VERSION]\n");
		return 2;
	}
	mode = argv[1];
	if (argc > 2 && argv[2][0] != '-') {
		if (sscanf(argv[2], "%u.%u", &maj, &min) != 2 || maj != 1 ||
		    min > 38) {
			fprintf(stderr, "liard: version %s: 1.0 to 1.38\n",
			    argv[2]);
			return 2;
		}
		minor = min;
	}
	trust = handshake();
	for (;;) {
		switch (op = get_u64()) {
		case OP_ADD_TEMP_ROOT:
			get_str(NULL);
			messages(0);
			put_u64(1);
			break;
		case OP_SET_OPTIONS:
			for (i = 0; i < 12; i++)
				(void)get_u64();
			if (minor >= 12)
				for (n = get_u64(), i = 0; i < 2 * n; i++)
					get_str(NULL);
			messages(0);
			break;
		case OP_QUERY_PATH_INFO:
			query_path_info();
			break;
		case OP_QUERY_VALID_PATHS:
			query_valid_paths();
			break;
		case OP_BUILD_DERIVATION:
			build_derivation(trust);
			break;
		case OP_NAR_FROM_PATH:
			nar_from_path();
			break;
		case OP_ADD_TO_STORE_NAR:
			get_str(NULL);		/* path */
			get_str(NULL);		/* deriver */
			get_str(NULL);		/* NAR hash */
			get_strs(NULL);		/* references */
			for (i = 0; i < 3; i++)	/* time, size, ultimate */
				(void)get_u64();
			get_strs(NULL);		/* signatures */
			get_str(NULL);		/* ca */
			(void)get_u64();	/* repair */
			(void)get_u64();	/* don't check signatures */
			get_frames();
			messages(0);
			break;
		case OP_QUERY_DERIVATION_OUTPUT_MAP:
			get_str(NULL);
			messages(0);
			put_u64(0);
			break;
		case OP_ADD_MULTIPLE_TO_STORE:
			(void)get_u64();	/* repair */
			(void)get_u64();	/* don't check signatures */
			get_frames();
			messages(0);
			break;
		case OP_BUILD_PATHS_WITH_RESULTS:
			build_paths_with_results();
			break;
		default:
			fprintf(stderr, "liard: operation %llu not handled\n",
			    (unsigned long long)op);
			return 1;
		}
		fflush(stdout);
	}
}
