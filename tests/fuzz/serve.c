/*
 * Fuzz target: the replies of `nix-store --serve`, as the client reads
 * them (serve.c over wire.c).  The first byte picks what is asked after
 * the handshake; the rest is what the remote says, handshake included:
 *
 *	0  every command below, in turn, while they succeed
 *	1  QueryValidPaths	2  QueryPathInfos	3  QueryClosure
 *	4  BuildDerivation	5  ImportPaths' ack	6  AddToStoreNar acks
 *	7  DumpStorePath (a NAR)
 *
 * With bit 3 of the first byte set, the next two bytes are a length L
 * (little-endian) and the L bytes after them are the remote's stderr,
 * which the client keeps the tail of and copies line by line behind a
 * prefix (echo_stderr), as it does for a remote build's log.
 *
 * The streams are read from regular files rather than pipes: the same
 * bytes, the same EOF, and no pipe capacity to limit the input's size.
 * What the client sends, and the stderr it copies, go to /dev/null.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#define PATH_A	"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo"
#define PATH_B	"/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-bar"
#define PATH_D	"/nix/store/dddddddddddddddddddddddddddddddd-foo.drv"

static struct conn	*c;
static int		 replyfd = -1, errfd = -1, nullfd = -1;
static char		 errpath[PATH_MAX];
static struct strlist	 ask;	/* PATH_A, PATH_B */
static struct drv	 drv;
static int		 debug;	/* FUZZ_DEBUG=1: say how far each input got */

static void
setup(void)
{
	static struct drv_output out = { "out", PATH_A, "", "" };
	static struct drv_env	 env[] = { { "out", PATH_A }, { "a", "b" } };
	static struct strlist	 args, srcs;
	char			 replypath[PATH_MAX];

	fuzz_path(replypath, sizeof(replypath), "reply");
	fuzz_path(errpath, sizeof(errpath), "stderr");
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (replyfd = open(replypath, O_RDWR | O_CREAT | O_TRUNC,
	    0600)) == -1 ||
	    (errfd = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		abort();
	nullfd = fileno(fuzz_null);
	if (strlist_add(&ask, PATH_A) == -1 || strlist_add(&ask, PATH_B) == -1 ||
	    strlist_add(&args, "-c") == -1 || strlist_add(&args, "true") == -1)
		abort();
	drv.outputs = &out;
	drv.noutputs = 1;
	drv.srcs = &srcs;
	drv.platform = "x86_64-linux";
	drv.builder = "/bin/sh";
	drv.args = &args;
	drv.env = env;
	drv.nenv = 2;
	debug = getenv("FUZZ_DEBUG") != NULL;
}

/* With FUZZ_DEBUG, for checking seeds: which step passed or failed. */
static int
step(const char *what, int rc)
{
	if (debug)
		fprintf(stderr, "serve: %s: %s\n", what, rc == 0 ? "ok" :
		    "failed");
	return rc;
}

static int
discard(void *arg, const void *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 0;
}

static int
ask_valid(void)
{
	struct strlist	 valid;
	int		 rc;

	memset(&valid, 0, sizeof(valid));
	rc = serve_query_valid_paths(c, &ask, 1, 0, &valid);
	if (rc == 0 && valid.n > ask.n)
		abort();
	strlist_free(&valid);
	return rc;
}

static int
ask_infos(void)
{
	struct path_info	*pi;
	size_t			 n;
	int			 rc;

	rc = serve_query_path_infos(c, &ask, &pi, &n);
	if (rc == -1 && (pi != NULL || n != 0))
		abort();
	if (rc == 0 && n > ask.n)
		abort();
	serve_path_infos_free(pi, n);
	return rc;
}

static int
ask_closure(void)
{
	struct strlist	 closure;
	int		 rc;

	memset(&closure, 0, sizeof(closure));
	rc = serve_query_closure(c, &ask, 1, &closure);
	strlist_free(&closure);
	return rc;
}

static int
build(void)
{
	struct build_options	 o = { 60, 3600, 0, 0 };
	struct build_result	 r;
	int			 rc;

	rc = serve_build_derivation(c, PATH_D, &drv, &ask, &o, &r);
	if (rc == 0 && (r.error == NULL || r.status < 0 ||
	    r.status > BUILD_STATUS_MAX))
		abort();
	free(r.error);
	return rc;
}

static int
dump(void)
{
	struct nar_sink	 sink;

	nar_sink_init(&sink, discard, NULL);
	if (serve_dump_request(c, PATH_A) == -1)
		return -1;
	return serve_dump_read(c, PATH_A, &sink);
}

static void
input(const uint8_t *data, size_t size)
{
	unsigned	 op;
	size_t		 errlen = 0;
	int		 err = -1;

	if (size < 1)
		return;
	op = data[0] % 8;
	if (data[0] & 8) {
		if (size < 3)
			return;
		errlen = (size_t)data[1] | (size_t)data[2] << 8;
		if (errlen > size - 3)
			errlen = size - 3;
		if (ftruncate(errfd, 0) == -1 || pwrite(errfd, data + 3,
		    errlen, 0) != (ssize_t)errlen)
			abort();
		/* wire.c closes it at EOF */
		if ((err = open(errpath, O_RDONLY)) == -1)
			abort();
		data += 3 + errlen;
		size -= 3 + errlen;
	} else {
		data++;
		size--;
	}
	if (ftruncate(replyfd, 0) == -1 ||
	    pwrite(replyfd, data, size, 0) != (ssize_t)size ||
	    lseek(replyfd, 0, SEEK_SET) == -1)
		abort();
	wire_init(c, nullfd, replyfd, err, "fuzz");
	c->echo_stderr = 1;
	c->echo_fd = nullfd;
	c->log_prefix = "fuzz> ";
	c->timeout_ms = 1000;
	if (step("handshake", serve_handshake(c)) == -1)
		goto out;
	if (op == 0 || op == 1)
		if (step("valid paths", ask_valid()) == -1 && op == 0)
			goto out;
	if (op == 0 || op == 2)
		if (step("path infos", ask_infos()) == -1 && op == 0)
			goto out;
	if (op == 0 || op == 3)
		if (step("closure", ask_closure()) == -1 && op == 0)
			goto out;
	if (op == 0 || op == 4)
		if (step("build", build()) == -1 && op == 0)
			goto out;
	if (op == 0 || op == 5)
		if (step("add nar ack", serve_add_nar_acks(c, 1)) == -1 &&
		    op == 0)
			goto out;
	if (op == 0 || op == 6)
		if (step("add nar acks", serve_add_nar_acks(c, 2)) == -1 &&
		    op == 0)
			goto out;
	if (op == 0 || op == 7)
		(void)step("dump", dump());
out:
	wire_drain_stderr(c);
	if (c->err != -1)
		close(c->err);
	if (c->errlen >= CONN_ERRTAIL || c->errtail[c->errlen] != '\0' ||
	    c->loglen > sizeof(c->logline))
		abort();
}

const struct fuzz_target fuzz_target = { "serve", setup, input };
