/*
 * Unit tests for src/nar.c: nar_dump_path against the real `nix-store
 * --dump` and `nix-hash`, nar_copy round trips, nar_copy on broken
 * archives (a table of token lists), truncation and corruption at every
 * byte, the depth limit, and flat memory for a 200 MiB file.
 *
 * Run from tests/ (golden files are in data/nar/).  Each case prints one
 * line, "ok NAME" or "FAIL NAME: why"; the last line counts them, and the
 * exit status is 1 if anything failed.  The scratch directory is removed
 * when everything passed, and named otherwise.  With NARTEST_SHOW set,
 * the message of each refused archive in the table goes to stderr.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "harness.h"

#define MiB		(1024 * 1024)

static const char	*tmp;	/* the scratch directory */

/* ---- growable byte buffers, as sinks and sources ---- */

struct mem {
	unsigned char	*p;
	size_t		 n, cap;
	size_t		 pos;		/* as a source: bytes read */
	size_t		 fail_after;	/* as a sink: fail past this, 0 never */
};

static void
mem_add(struct mem *m, const void *p, size_t n)
{
	unsigned char	*q;
	size_t		 cap;

	if (m->n + n > m->cap) {
		cap = m->cap ? m->cap : 256;
		while (cap < m->n + n)
			cap *= 2;
		if ((q = realloc(m->p, cap)) == NULL) {
			perror("realloc");
			exit(2);
		}
		m->p = q;
		m->cap = cap;
	}
	if (n > 0)
		memcpy(m->p + m->n, p, n);
	m->n += n;
}

static void
mem_free(struct mem *m)
{
	free(m->p);
	memset(m, 0, sizeof(*m));
}

static int
mem_put(void *arg, const void *p, size_t n)
{
	struct mem	*m = arg;

	if (m->fail_after > 0 && m->n + n > m->fail_after)
		return -1;
	mem_add(m, p, n);
	return 0;
}

/* Exactly n bytes, or -1 with nothing consumed, as the contract says. */
static int
mem_read(void *arg, void *p, size_t n)
{
	struct mem	*m = arg;

	if (n > m->n - m->pos)
		return -1;
	memcpy(p, m->p + m->pos, n);
	m->pos += n;
	return 0;
}

static void
add_u64(struct mem *m, uint64_t v)
{
	unsigned char	 le[8];
	int		 i;

	for (i = 0; i < 8; i++)
		le[i] = (unsigned char)(v >> (8 * i));
	mem_add(m, le, 8);
}

static void
add_str(struct mem *m, const void *s, size_t n)
{
	static const unsigned char	 zero[8];

	add_u64(m, n);
	mem_add(m, s, n);
	mem_add(m, zero, (8 - n % 8) % 8);
}

static void
add_tok(struct mem *m, const char *s)
{
	add_str(m, s, strlen(s));
}

static void
digest_nix32(struct nar_sink *s, char out[64])
{
	unsigned char	 d[SHA256_LEN];
	struct sha256	 h = s->hash;	/* keep the sink's running */

	sha256_final(&h, d);
	nix32_encode(d, SHA256_LEN, out);
}

/* Where two byte strings first differ, for messages. */
static int
same_bytes(const char *what, const struct mem *got, const struct mem *want)
{
	size_t	 i;

	if (got->n == want->n && (got->n == 0 ||
	    memcmp(got->p, want->p, got->n) == 0))
		return 1;
	for (i = 0; i < got->n && i < want->n; i++)
		if (got->p[i] != want->p[i])
			break;
	return no("%s: %zu bytes vs %zu expected, first difference at "
	    "byte %zu", what, got->n, want->n, i);
}

/* ---- the oracle: nix-store and nix-hash ---- */

static int
run_capture(const char *cmd, struct mem *out)
{
	FILE		*f;
	unsigned char	 b[65536];
	size_t		 n;

	if ((f = popen(cmd, "r")) == NULL)
		return no("popen %s: %s", cmd, strerror(errno));
	while ((n = fread(b, 1, sizeof(b), f)) > 0)
		mem_add(out, b, n);
	if (pclose(f) != 0)
		return no("%s failed", cmd);
	return 1;
}

static int
nix_dump(const char *path, struct mem *out)
{
	char	 cmd[1024];

	snprintf(cmd, sizeof(cmd), "nix-store --dump '%s'", path);
	return run_capture(cmd, out);
}

static int
nix_hash(const char *path, char out[64])
{
	struct mem	 m = { 0 };
	char		 cmd[1024];
	int		 ok;

	snprintf(cmd, sizeof(cmd), "nix-hash --type sha256 --base32 '%s'",
	    path);
	out[0] = '\0';
	if ((ok = run_capture(cmd, &m))) {
		if (m.n < 52)
			ok = no("nix-hash printed %zu bytes", m.n);
		else {
			memcpy(out, m.p, 52);
			out[52] = '\0';
		}
	}
	mem_free(&m);
	return ok;
}

/* ---- building trees ---- */

static void
xfile(const char *dir, const char *name, const void *data, size_t n,
    mode_t mode)
{
	char	 p[1024];
	FILE	*f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((f = fopen(p, "w")) == NULL || fwrite(data, 1, n, f) != n ||
	    fclose(f) != 0 || chmod(p, mode) == -1) {
		perror(p);
		exit(2);
	}
}

static void
xdir(const char *dir, const char *name)
{
	char	 p[1024];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (mkdir(p, 0755) == -1 || chmod(p, 0755) == -1) {
		perror(p);
		exit(2);
	}
}

static void
xlink(const char *dir, const char *name, const char *target)
{
	char	 p[1024];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (symlink(target, p) == -1) {
		perror(p);
		exit(2);
	}
}

/* The tree of data/nar/tricky.nar: names whose order is easy to get wrong. */
static void
make_tricky(const char *d)
{
	char	 sub[1100];

	xdir(d, "");
	xfile(d, "B", "upper\n", 6, 0644);
	xfile(d, "a", "", 0, 0644);
	xfile(d, "a-b", "exec\n", 5, 0755);
	xfile(d, "a.b", "only user x", 11, 0744);
	xdir(d, "a0");
	snprintf(sub, sizeof(sub), "%s/a0", d);
	xdir(sub, "empty");
	xlink(sub, "up", "../B");
	xfile(sub, "twelve bytes", "123456789012", 12, 0600);
	xlink(d, "abs", "/nix/store/x");
	xfile(d, "\xc3\xa9t\xc3\xa9", "high bytes sort after ASCII", 27, 0644);
	xfile(d, "~", "x", 1, 0644);
}

/* ---- dump against nix-store --dump ---- */

/*
 * Dump path ourselves and with nix-store; the bytes, the size and the hash
 * must agree, and nar_copy must pass the archive through unchanged.
 */
/*
 * store_unpack: the NAR unpacked by nar_copy's tree events into the
 * scratch directory, over a link planted where it goes (removed, never
 * followed), dumps to the same NAR again.
 */
static int
check_unpack(struct mem *nar)
{
	static int		 nth;
	struct store_unpack	 u;
	struct nar_sink		 s;
	struct nar_source	 src;
	struct mem		 again = { 0 };
	char			 name[32], path[128], victim[128], err[512];
	int			 ok = 1, rc;

	snprintf(name, sizeof(name), "unpacked-%d", nth++);
	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	snprintf(victim, sizeof(victim), "%s/victim-%d", tmp, nth);
	if (mkdir(victim, 0700) == -1 || symlink(victim, path) == -1)
		return no("cannot plant %s: %s", path, strerror(errno));
	if (store_unpack_begin(&u, tmp, name) == -1)
		return no("store_unpack_begin: %s", last_error());
	nar->pos = 0;
	src.read = mem_read;
	src.arg = nar;
	nar_sink_init(&s, NULL, NULL);
	s.tree = &u.tree;
	rc = nar_copy(&src, &s, err, sizeof(err));
	if (store_unpack_end(&u, rc == 0) == -1)
		ok = no("store_unpack_end failed");
	if (rc == -1)
		return no("unpacking: %s (%s)", err, last_error());
	nar_sink_init(&s, mem_put, &again);
	if (nar_dump_path(path, &s) == -1)
		ok = no("dumping what was unpacked: %s", last_error());
	else
		ok = ok && same_bytes("unpacked, dumped again", &again, nar);
	if (rmdir(victim) == -1)
		ok = no("the planted link was followed: %s", strerror(errno));
	mem_free(&again);
	return ok;
}

static int
check_dump(const char *path, const char *golden)
{
	struct mem		 ours = { 0 }, theirs = { 0 }, copy = { 0 };
	struct mem		 gold = { 0 };
	struct nar_sink		 s, c;
	struct nar_source	 src;
	char			 h1[64], h2[64], h3[64], err[512];
	FILE			*f;
	unsigned char		 b[4096];
	size_t			 n;
	int			 ok = 1;

	nar_sink_init(&s, mem_put, &ours);
	if (nar_dump_path(path, &s) == -1)
		ok = no("nar_dump_path: %s", last_error());
	else if (s.size != ours.n)
		ok = no("sink size %llu, %zu bytes written",
		    (unsigned long long)s.size, ours.n);
	if (ok && nix_dump(path, &theirs))
		ok = same_bytes("nar_dump_path vs nix-store --dump", &ours,
		    &theirs);
	else
		ok = 0;
	if (ok) {
		digest_nix32(&s, h1);
		if (nix_hash(path, h2) && strcmp(h1, h2) != 0)
			ok = no("sha256 %s, nix-hash says %s", h1, h2);
	}
	if (ok && golden != NULL) {
		if ((f = fopen(golden, "r")) == NULL)
			ok = no("%s: %s", golden, strerror(errno));
		else {
			while ((n = fread(b, 1, sizeof(b), f)) > 0)
				mem_add(&gold, b, n);
			fclose(f);
			ok = same_bytes(golden, &ours, &gold);
		}
	}
	if (ok) {
		src.read = mem_read;
		src.arg = &ours;
		nar_sink_init(&c, mem_put, &copy);
		if (nar_copy(&src, &c, err, sizeof(err)) == -1)
			ok = no("nar_copy: %s", err);
		else if (ours.pos != ours.n)
			ok = no("nar_copy read %zu of %zu bytes", ours.pos,
			    ours.n);
		else if (c.size != ours.n)
			ok = no("nar_copy size %llu, not %zu",
			    (unsigned long long)c.size, ours.n);
		else if ((ok = same_bytes("nar_copy output", &copy, &ours))) {
			digest_nix32(&c, h3);
			if (strcmp(h1, h3) != 0)
				ok = no("nar_copy hash %s, dump hash %s", h3,
				    h1);
		}
	}
	if (ok)
		ok = check_unpack(&ours);
	mem_free(&ours);
	mem_free(&theirs);
	mem_free(&copy);
	mem_free(&gold);
	return ok;
}

static void
test_dump(void)
{
	char		 d[1024], p[1100];
	unsigned char	*big;
	size_t		 i;
	int		 ok;

	snprintf(d, sizeof(d), "%s/hello", tmp);
	xfile(tmp, "hello", "hello\n", 6, 0644);
	report("dump_regular", check_dump(d, "data/nar/hello.nar"));

	snprintf(d, sizeof(d), "%s/empty", tmp);
	xfile(tmp, "empty", "", 0, 0644);
	report("dump_empty_file", check_dump(d, NULL));

	snprintf(d, sizeof(d), "%s/exec", tmp);
	xfile(tmp, "exec", "#!/bin/sh\n", 10, 0755);
	report("dump_executable", check_dump(d, NULL));

	/* only the owner's x bit counts, as in Nix */
	snprintf(d, sizeof(d), "%s/groupx", tmp);
	xfile(tmp, "groupx", "g", 1, 0655);
	report("dump_group_x_not_executable", check_dump(d, NULL));

	snprintf(d, sizeof(d), "%s/link", tmp);
	xlink(tmp, "link", "some/where/else");
	report("dump_symlink", check_dump(d, NULL));

	snprintf(d, sizeof(d), "%s/dangling", tmp);
	xlink(tmp, "dangling", "/nonexistent/../x");
	report("dump_dangling_symlink", check_dump(d, NULL));

	snprintf(d, sizeof(d), "%s/emptydir", tmp);
	xdir(tmp, "emptydir");
	report("dump_empty_dir", check_dump(d, NULL));

	snprintf(d, sizeof(d), "%s/tricky", tmp);
	make_tricky(d);
	report("dump_tricky_names", check_dump(d, "data/nar/tricky.nar"));

	/* 5 MiB: several turns of the buffer, and a size not a multiple of 8 */
	if ((big = malloc(5 * MiB + 3)) == NULL)
		exit(2);
	for (i = 0; i < 5 * MiB + 3; i++)
		big[i] = (unsigned char)(i * 2654435761u >> 13);
	xfile(tmp, "big", big, 5 * MiB + 3, 0644);
	free(big);
	snprintf(d, sizeof(d), "%s/big", tmp);
	report("dump_5mib_file", check_dump(d, NULL));

	/* nested past Nix 2.35's 64 levels, within ours */
	snprintf(d, sizeof(d), "%s/deep", tmp);
	xdir(tmp, "deep");
	for (i = 0; i < 100; i++) {
		strlcat(d, "/d", sizeof(d));
		xdir(d, "");
	}
	xfile(d, "leaf", "bottom", 6, 0644);
	snprintf(d, sizeof(d), "%s/deep", tmp);
	report("dump_100_levels", check_dump(d, NULL));

	/* a fifo cannot be archived, wherever it is */
	snprintf(d, sizeof(d), "%s/withfifo", tmp);
	xdir(tmp, "withfifo");
	xfile(d, "a", "a", 1, 0644);
	snprintf(p, sizeof(p), "%s/p", d);
	if (mkfifo(p, 0644) == -1) {
		perror(p);
		exit(2);
	}
	{
		struct mem	 m = { 0 };
		struct nar_sink	 s;

		nar_sink_init(&s, mem_put, &m);
		ok = nar_dump_path(d, &s) == -1;
		if (!ok)
			no("a directory with a fifo was archived");
		else if (strstr(last_error(), "unsupported file type") == NULL ||
		    strstr(last_error(), "/withfifo/p") == NULL)
			no("message \"%s\"", last_error());
		report("dump_fifo_refused", ok);
		mem_free(&m);

		snprintf(p, sizeof(p), "%s/nonexistent", tmp);
		nar_sink_init(&s, mem_put, &m);
		ok = nar_dump_path(p, &s) == -1;
		if (!ok)
			no("a missing path was archived");
		else if (strstr(last_error(), "nonexistent: cannot stat") ==
		    NULL)
			no("message \"%s\"", last_error());
		report("dump_missing_path", ok);
		mem_free(&m);

		/* a sink that fails stops the dump */
		snprintf(d, sizeof(d), "%s/tricky", tmp);
		m.fail_after = 200;
		nar_sink_init(&s, mem_put, &m);
		ok = nar_dump_path(d, &s) == -1 && s.failed && m.n <= 200;
		if (!ok)
			no("dump into a failing sink: rc ok, failed %d, %zu "
			    "bytes", s.failed, m.n);
		report("dump_sink_fails", ok);
		mem_free(&m);
	}
}

/* A chain of n directories, each with one entry "d", and a file at the end. */
static void
nested_nar(struct mem *m, size_t n)
{
	size_t	 i;

	add_tok(m, NAR_MAGIC);
	for (i = 0; i < n; i++) {
		add_tok(m, "(");
		add_tok(m, "type");
		add_tok(m, "directory");
		add_tok(m, "entry");
		add_tok(m, "(");
		add_tok(m, "name");
		add_tok(m, "d");
		add_tok(m, "node");
	}
	add_tok(m, "(");
	add_tok(m, "type");
	add_tok(m, "regular");
	add_tok(m, "contents");
	add_tok(m, "leaf");
	add_tok(m, ")");
	for (i = 0; i < n; i++) {
		add_tok(m, ")");	/* the entry */
		add_tok(m, ")");	/* the directory */
	}
}

static int
copy_mem(struct mem *in, struct mem *out, char *err, size_t errsz)
{
	struct nar_source	 src = { mem_read, in };
	struct nar_sink		 s;

	in->pos = 0;
	nar_sink_init(&s, mem_put, out);
	return nar_copy(&src, &s, err, errsz);
}

static void
test_depth(void)
{
	struct mem	 m = { 0 }, out = { 0 };
	char		 err[512], d[4096];
	struct nar_sink	 s;
	size_t		 i;
	int		 ok;

	/* nodes at depth 0 .. NAR_DEPTH_MAX - 1 are fine */
	nested_nar(&m, NAR_DEPTH_MAX - 1);
	ok = copy_mem(&m, &out, err, sizeof(err)) == 0;
	if (!ok)
		no("%s", err);
	else if (m.pos != m.n || out.n != m.n)
		no("read %zu, wrote %zu of %zu", m.pos, out.n, m.n);
	report("copy_depth_max_minus_1", ok);
	mem_free(&m);
	mem_free(&out);

	nested_nar(&m, NAR_DEPTH_MAX);
	ok = copy_mem(&m, &out, err, sizeof(err)) == -1;
	if (!ok)
		no("accepted %d levels", NAR_DEPTH_MAX);
	else if (strstr(err, "NAR_DEPTH_MAX") == NULL ||
	    strstr(err, "/d/d/d") == NULL)
		no("message \"%s\"", err);
	report("copy_depth_max_refused", ok);
	mem_free(&m);
	mem_free(&out);

	/* far deeper: the refusal comes as soon as the limit is passed */
	nested_nar(&m, 100000);
	ok = copy_mem(&m, &out, err, sizeof(err)) == -1 && m.pos < 20000 * 8;
	if (!ok)
		no("100000 levels: read %zu bytes, %s", m.pos, err);
	report("copy_depth_100000_refused_early", ok);
	mem_free(&m);
	mem_free(&out);

	/* and the dumper will not write what the copier refuses */
	snprintf(d, sizeof(d), "%s/toodeep", tmp);
	xdir(tmp, "toodeep");
	for (i = 0; i < NAR_DEPTH_MAX; i++) {
		strlcat(d, "/d", sizeof(d));
		xdir(d, "");
	}
	snprintf(d, sizeof(d), "%s/toodeep", tmp);
	nar_sink_init(&s, mem_put, &out);
	ok = nar_dump_path(d, &s) == -1;
	if (!ok)
		no("dumped %d levels", NAR_DEPTH_MAX + 1);
	else if (strstr(last_error(), "NAR_DEPTH_MAX") == NULL)
		no("message \"%s\"", last_error());
	report("dump_depth_max_refused", ok);
	mem_free(&out);
}

/* ---- nar_copy on broken archives ---- */

struct tok {
	const char	*s;
	size_t		 n;
	int		 raw;	/* as is, not as a string */
};
#define T(s)		{ s, sizeof(s) - 1, 0 }
#define RAW(s)		{ s, sizeof(s) - 1, 1 }
#define MAGIC		T("nix-archive-1")
#define OPEN		T("("), T("type")
#define FILE_X		OPEN, T("regular"), T("contents"), T("x"), T(")")
#define LEN_2_62	RAW("\0\0\0\0\0\0\0\x40")
#define LEN_MAX		RAW("\xff\xff\xff\xff\xff\xff\xff\xff")

struct bad_case {
	const char	*name;
	struct tok	 t[80];
	const char	*want;		/* in the message; NULL: valid NAR */
};

static const struct bad_case bad_cases[] = {
	/* valid ones, so that the table is known to build NARs right */
	{ "copy_valid_file", { MAGIC, FILE_X }, NULL },
	{ "copy_valid_exec_empty", { MAGIC, OPEN, T("regular"),
	    T("executable"), T(""), T("contents"), T(""), T(")") }, NULL },
	{ "copy_valid_symlink", { MAGIC, OPEN, T("symlink"), T("target"),
	    T("../a b"), T(")") }, NULL },
	{ "copy_valid_empty_dir", { MAGIC, OPEN, T("directory"), T(")") },
	    NULL },
	{ "copy_valid_sorted", { MAGIC, OPEN, T("directory"),
	    T("entry"), T("("), T("name"), T("B"), T("node"), FILE_X, T(")"),
	    T("entry"), T("("), T("name"), T("a"), T("node"), FILE_X, T(")"),
	    T("entry"), T("("), T("name"), T("a-b"), T("node"), FILE_X, T(")"),
	    T("entry"), T("("), T("name"), T("a.b"), T("node"), FILE_X, T(")"),
	    T("entry"), T("("), T("name"), T("\xc3\xa9"), T("node"), FILE_X,
	    T(")"), T(")") }, NULL },

	{ "copy_bad_magic", { T("nix-archive-2"), FILE_X },
	    "not a Nix archive: expected \"nix-archive-1\", got "
	    "\"nix-archive-2\"" },
	{ "copy_banner", { RAW("Welcome to the builder!\n") },
	    "got \"Welcome " },
	{ "copy_empty_input", { RAW("") }, "byte 0" },
	{ "copy_magic_long", { T("nix-archive-1x"), FILE_X },
	    "not a Nix archive: expected \"nix-archive-1\", got a string of "
	    "14 bytes" },
	{ "copy_magic_pad", { RAW("\x0d\0\0\0\0\0\0\0nix-archive-1\0\0\x01"),
	    FILE_X }, "byte 23: non-zero padding byte 0x01" },
	{ "copy_contents_pad", { MAGIC, OPEN, T("regular"), T("contents"),
	    RAW("\x01\0\0\0\0\0\0\0x\0\0\0\0\0\0\x80"), T(")") },
	    "non-zero padding byte 0x80" },
	{ "copy_tag_pad", { MAGIC, RAW("\x01\0\0\0\0\0\0\0(\0\0\0\0\0\x01\0") },
	    "byte 38: non-zero padding" },
	{ "copy_no_paren", { MAGIC, T("type") },
	    "byte 24: expected \"(\", got \"type\"" },
	{ "copy_no_type", { MAGIC, T("("), T("regular") },
	    "expected \"type\", got \"regular\"" },
	{ "copy_unknown_type", { MAGIC, OPEN, T("fifo"), T(")") },
	    "expected a type (\"regular\", \"symlink\" or \"directory\"), got "
	    "\"fifo\"" },
	{ "copy_type_twice", { MAGIC, OPEN, T("regular"), T("type"),
	    T("regular"), T("contents"), T(""), T(")") },
	    "expected \"executable\" or \"contents\", got \"type\"" },
	{ "copy_contents_missing", { MAGIC, OPEN, T("regular"), T(")") },
	    "expected \"executable\" or \"contents\", got \")\"" },
	{ "copy_executable_value", { MAGIC, OPEN, T("regular"),
	    T("executable"), T("1"), T("contents"), T(""), T(")") },
	    "expected \"\" after \"executable\", got \"1\"" },
	{ "copy_executable_after_contents", { MAGIC, OPEN, T("regular"),
	    T("contents"), T("x"), T("executable"), T(""), T(")") },
	    "expected \")\", got \"executable\"" },
	{ "copy_executable_twice", { MAGIC, OPEN, T("regular"),
	    T("executable"), T(""), T("executable"), T(""), T("contents"),
	    T(""), T(")") },
	    "expected \"contents\", got \"executable\"" },
	{ "copy_contents_twice", { MAGIC, OPEN, T("regular"), T("contents"),
	    T("x"), T("contents"), T("x"), T(")") },
	    "expected \")\", got \"contents\"" },
	{ "copy_tag_2_62", { MAGIC, LEN_2_62 },
	    "expected \"(\", got a string of 4611686018427387904 bytes" },
	{ "copy_tag_33", { MAGIC, T("123456789012345678901234567890123") },
	    "got a string of 33 bytes" },
	{ "copy_contents_2_62", { MAGIC, OPEN, T("regular"), T("contents"),
	    LEN_2_62, RAW("only a few bytes follow") },
	    "cannot read the contents of a file of 4611686018427387904 "
	    "bytes (0 read)" },
	{ "copy_contents_2_64", { MAGIC, OPEN, T("regular"), T("contents"),
	    LEN_MAX, RAW("x") }, "NAR_CONTENTS_MAX" },
	{ "copy_symlink_empty", { MAGIC, OPEN, T("symlink"), T("target"),
	    T(""), T(")") }, "byte 88: empty symlink target" },
	{ "copy_symlink_nul", { MAGIC, OPEN, T("symlink"), T("target"),
	    T("a\0b"), T(")") }, "symlink target contains a NUL byte" },
	{ "copy_symlink_2_62", { MAGIC, OPEN, T("symlink"), T("target"),
	    LEN_2_62 }, "longer than NAR_TARGET_MAX (4095)" },
	{ "copy_symlink_no_target", { MAGIC, OPEN, T("symlink"), T(")") },
	    "expected \"target\", got \")\"" },
	{ "copy_dir_not_entry", { MAGIC, OPEN, T("directory"), T("name") },
	    "expected \"entry\" or \")\", got \"name\"" },
	{ "copy_entry_no_name", { MAGIC, OPEN, T("directory"), T("entry"),
	    T("("), T("node"), FILE_X, T(")"), T(")") },
	    "expected \"name\", got \"node\"" },
	{ "copy_entry_no_node", { MAGIC, OPEN, T("directory"), T("entry"),
	    T("("), T("name"), T("a"), FILE_X, T(")"), T(")") },
	    "in /a: expected \"node\", got \"(\"" },
	{ "copy_entry_unclosed", { MAGIC, OPEN, T("directory"), T("entry"),
	    T("("), T("name"), T("a"), T("node"), FILE_X, T("entry") },
	    "in /a: expected \")\", got \"entry\"" },
	{ "copy_name_empty", { MAGIC, OPEN, T("directory"), T("entry"),
	    T("("), T("name"), T(""), T("node"), FILE_X, T(")"), T(")") },
	    "empty entry name" },
	{ "copy_name_dot", { MAGIC, OPEN, T("directory"), T("entry"),
	    T("("), T("name"), T("."), T("node"), FILE_X, T(")"), T(")") },
	    "invalid entry name \".\"" },
	{ "copy_name_dotdot", { MAGIC, OPEN, T("directory"), T("entry"),
	    T("("), T("name"), T(".."), T("node"), FILE_X, T(")"), T(")") },
	    "invalid entry name \"..\"" },
	{ "copy_name_slash", { MAGIC, OPEN, T("directory"), T("entry"),
	    T("("), T("name"), T("a/b"), T("node"), FILE_X, T(")"), T(")") },
	    "entry name \"a/b\" contains '/'" },
	{ "copy_name_nul", { MAGIC, OPEN, T("directory"), T("entry"),
	    T("("), T("name"), T("a\0b"), T("node"), FILE_X, T(")"), T(")") },
	    "entry name \"a\\x00b\" contains a NUL byte" },
	{ "copy_name_2_62", { MAGIC, OPEN, T("directory"), T("entry"),
	    T("("), T("name"), LEN_2_62 },
	    "entry name of 4611686018427387904 bytes is longer than "
	    "NAR_NAME_MAX (255)" },
	{ "copy_unsorted", { MAGIC, OPEN, T("directory"),
	    T("entry"), T("("), T("name"), T("b"), T("node"), FILE_X, T(")"),
	    T("entry"), T("("), T("name"), T("a"), T("node"), FILE_X, T(")"),
	    T(")") }, "entry \"a\" comes after \"b\"" },
	{ "copy_unsorted_case", { MAGIC, OPEN, T("directory"),
	    T("entry"), T("("), T("name"), T("a"), T("node"), FILE_X, T(")"),
	    T("entry"), T("("), T("name"), T("B"), T("node"), FILE_X, T(")"),
	    T(")") }, "entry \"B\" comes after \"a\"" },
	{ "copy_unsorted_prefix", { MAGIC, OPEN, T("directory"),
	    T("entry"), T("("), T("name"), T("ab"), T("node"), FILE_X, T(")"),
	    T("entry"), T("("), T("name"), T("a"), T("node"), FILE_X, T(")"),
	    T(")") }, "entry \"a\" comes after \"ab\"" },
	{ "copy_unsorted_high_byte", { MAGIC, OPEN, T("directory"),
	    T("entry"), T("("), T("name"), T("\xc3\xa9"), T("node"), FILE_X,
	    T(")"), T("entry"), T("("), T("name"), T("z"), T("node"), FILE_X,
	    T(")"), T(")") }, "entry \"z\" comes after \"\\xc3\\xa9\"" },
	{ "copy_duplicate", { MAGIC, OPEN, T("directory"),
	    T("entry"), T("("), T("name"), T("a"), T("node"), FILE_X, T(")"),
	    T("entry"), T("("), T("name"), T("a"), T("node"), FILE_X, T(")"),
	    T(")") }, "duplicate entry \"a\"" },
	/* order is per directory: the same name in a subdirectory is fine */
	{ "copy_sort_per_dir", { MAGIC, OPEN, T("directory"),
	    T("entry"), T("("), T("name"), T("m"), T("node"), OPEN,
	      T("directory"),
	      T("entry"), T("("), T("name"), T("z"), T("node"), FILE_X, T(")"),
	      T(")"), T(")"),
	    T("entry"), T("("), T("name"), T("n"), T("node"), FILE_X, T(")"),
	    T("entry"), T("("), T("name"), T("z"), T("node"), FILE_X, T(")"),
	    T(")") }, NULL },
	{ "copy_nested_error_path", { MAGIC, OPEN, T("directory"),
	    T("entry"), T("("), T("name"), T("m"), T("node"), OPEN,
	      T("directory"),
	      T("entry"), T("("), T("name"), T("z"), T("node"), OPEN,
	      T("symlink"), T("target"), T(""), T(")") },
	    "in /m/z: empty symlink target" },
};

static void
build(const struct tok *t, size_t nt, struct mem *m)
{
	size_t	 i;

	for (i = 0; i < nt && t[i].s != NULL; i++)
		if (t[i].raw)
			mem_add(m, t[i].s, t[i].n);
		else
			add_str(m, t[i].s, t[i].n);
}

static int
bad_check(const struct bad_case *bc)
{
	struct mem	 in = { 0 }, out = { 0 };
	char		 err[512];
	int		 rc, ok = 1;

	build(bc->t, nitems(bc->t), &in);
	rc = copy_mem(&in, &out, err, sizeof(err));
	if (rc == -1 && getenv("NARTEST_SHOW") != NULL)
		fprintf(stderr, "%s: %s\n", bc->name, err);
	if (bc->want == NULL) {
		if (rc == -1)
			ok = no("%s", err);
		else if (in.pos != in.n || out.n != in.n)
			ok = no("read %zu, wrote %zu of %zu", in.pos, out.n,
			    in.n);
	} else if (rc == 0)
		ok = no("accepted");
	else if (strstr(err, bc->want) == NULL)
		ok = no("message \"%s\", expected \"%s\"", err, bc->want);
	else if (out.n != in.pos)
		ok = no("read %zu, passed on %zu", in.pos, out.n);
	mem_free(&in);
	mem_free(&out);
	return ok;
}

/* Long names and targets: at the limit and one past it. */
static void
test_limits(void)
{
	struct mem	 m = { 0 }, out = { 0 };
	char		 s[NAR_TARGET_MAX + 2], err[512];
	int		 ok, k;

	memset(s, 'n', sizeof(s));
	for (k = 0; k < 2; k++) {
		add_tok(&m, NAR_MAGIC);
		add_tok(&m, "(");
		add_tok(&m, "type");
		add_tok(&m, "directory");
		add_tok(&m, "entry");
		add_tok(&m, "(");
		add_tok(&m, "name");
		add_str(&m, s, NAR_NAME_MAX + k);
		add_tok(&m, "node");
		add_tok(&m, "(");
		add_tok(&m, "type");
		add_tok(&m, "symlink");
		add_tok(&m, "target");
		add_str(&m, s, NAR_TARGET_MAX);
		add_tok(&m, ")");
		add_tok(&m, ")");
		add_tok(&m, ")");
		ok = copy_mem(&m, &out, err, sizeof(err)) == (k ? -1 : 0);
		if (!ok)
			no("%s", k ? "accepted" : err);
		else if (k && strstr(err, "entry name of 256 bytes") == NULL)
			no("message \"%s\"", err);
		report(k ? "copy_name_256_refused" : "copy_name_255_target_4095",
		    ok);
		mem_free(&m);
		mem_free(&out);
	}

	add_tok(&m, NAR_MAGIC);
	add_tok(&m, "(");
	add_tok(&m, "type");
	add_tok(&m, "symlink");
	add_tok(&m, "target");
	add_str(&m, s, NAR_TARGET_MAX + 1);
	add_tok(&m, ")");
	ok = copy_mem(&m, &out, err, sizeof(err)) == -1;
	if (!ok)
		no("accepted");
	else if (strstr(err, "symlink target of 4096 bytes") == NULL)
		no("message \"%s\"", err);
	report("copy_target_4096_refused", ok);
	mem_free(&m);
	mem_free(&out);
}

/* Reads the golden tree NAR, the small valid archive for what follows. */
static int
load_tricky(struct mem *m)
{
	unsigned char	 b[4096];
	size_t		 n;
	FILE		*f;

	if ((f = fopen("data/nar/tricky.nar", "r")) == NULL)
		return no("data/nar/tricky.nar: %s", strerror(errno));
	while ((n = fread(b, 1, sizeof(b), f)) > 0)
		mem_add(m, b, n);
	fclose(f);
	return 1;
}

/*
 * Every proper prefix of a valid NAR is refused, cleanly; every single
 * corrupted byte either still makes a valid NAR or is refused.
 */
static void
test_truncate_corrupt(void)
{
	struct mem	 whole = { 0 }, cut = { 0 }, out = { 0 };
	char		 err[512];
	size_t		 i, refused = 0;
	int		 ok = 1;

	if (!load_tricky(&whole)) {
		report("copy_truncated_everywhere", 0);
		return;
	}
	for (i = 0; i < whole.n && ok; i++) {
		cut.n = 0;
		mem_add(&cut, whole.p, i);
		out.n = 0;
		err[0] = '\0';
		if (copy_mem(&cut, &out, err, sizeof(err)) == 0)
			ok = no("a %zu-byte prefix was accepted", i);
		else if (strstr(err, "the NAR ends") == NULL)
			ok = no("prefix %zu: message \"%s\"", i, err);
		else if (out.n != cut.pos)
			ok = no("prefix %zu: read %zu, passed on %zu", i,
			    cut.pos, out.n);
	}
	report("copy_truncated_everywhere", ok);

	for (i = 0, ok = 1; i < whole.n * 8 && ok; i++) {
		cut.n = 0;
		mem_add(&cut, whole.p, whole.n);
		cut.p[i / 8] ^= (unsigned char)(1 << (i % 8));
		out.n = 0;
		err[0] = '\0';
		if (copy_mem(&cut, &out, err, sizeof(err)) == -1) {
			refused++;
			if (err[0] == '\0')
				ok = no("bit %zu: refused without a message",
				    i);
		} else if (cut.pos > cut.n || out.n != cut.pos)
			ok = no("bit %zu: read %zu, passed on %zu", i, cut.pos,
			    out.n);
	}
	/* flips in file contents keep it valid; most others do not */
	if (ok && refused < whole.n * 8 / 2)
		ok = no("only %zu of %zu bit flips refused", refused,
		    whole.n * 8);
	report("copy_bit_flip_everywhere", ok);

	/* trailing bytes stay in the source */
	cut.n = 0;
	mem_add(&cut, whole.p, whole.n);
	mem_add(&cut, "GARBAGE!", 8);
	out.n = 0;
	ok = 1;
	if (copy_mem(&cut, &out, err, sizeof(err)) == -1)
		ok = no("%s", err);
	else if (cut.pos != whole.n || out.n != whole.n)
		ok = no("read %zu, wrote %zu, the NAR has %zu", cut.pos, out.n,
		    whole.n);
	else if (memcmp(cut.p + cut.pos, "GARBAGE!", 8) != 0)
		ok = no("the next bytes changed");
	report("copy_stops_at_end", ok);

	/* a destination that fails is an error, named as such */
	out.n = 0;
	out.fail_after = 100;
	ok = copy_mem(&whole, &out, err, sizeof(err)) == -1;
	if (!ok)
		no("copied into a failing sink");
	else if (strstr(err, "destination failed") == NULL)
		no("message \"%s\"", err);
	report("copy_sink_fails", ok);

	mem_free(&whole);
	mem_free(&cut);
	mem_free(&out);
}

/* ---- memory: a 200 MiB file made up as it is read ---- */

struct gen {
	struct mem	 head;	/* magic ... "contents", size */
	struct mem	 tail;	/* padding, ")" */
	uint64_t	 size;	/* of the contents */
	uint64_t	 pos;	/* in the whole NAR */
	struct sha256	 hash;	/* of what was handed out */
};

static unsigned char
gen_byte(uint64_t i)
{
	return (unsigned char)((i * 0x9e3779b97f4a7c15ULL) >> 56);
}

static int
gen_read(void *arg, void *buf, size_t n)
{
	struct gen	*g = arg;
	unsigned char	*p = buf;
	uint64_t	 total = g->head.n + g->size + g->tail.n, c;
	size_t		 i;

	if (n > total - g->pos)
		return -1;
	for (i = 0; i < n; i++, g->pos++) {
		if (g->pos < g->head.n)
			p[i] = g->head.p[g->pos];
		else if ((c = g->pos - g->head.n) < g->size)
			p[i] = gen_byte(c);
		else
			p[i] = g->tail.p[g->pos - g->head.n - g->size];
	}
	sha256_update(&g->hash, buf, n);
	return 0;
}

static long
maxrss_kb(void)
{
	struct rusage	 ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return -1;
	return ru.ru_maxrss;
}

static void
test_memory(void)
{
	static const unsigned char	 zero[8];
	struct gen			 g;
	struct nar_source		 src = { gen_read, &g };
	struct nar_sink			 s;
	unsigned char			 d1[SHA256_LEN], d2[SHA256_LEN];
	char				 err[512];
	long				 before, after;
	int				 ok = 1;

	memset(&g, 0, sizeof(g));
	g.size = 200ULL * MiB + 5;
	add_tok(&g.head, NAR_MAGIC);
	add_tok(&g.head, "(");
	add_tok(&g.head, "type");
	add_tok(&g.head, "regular");
	add_tok(&g.head, "executable");
	add_tok(&g.head, "");
	add_tok(&g.head, "contents");
	add_u64(&g.head, g.size);
	mem_add(&g.tail, zero, (size_t)((8 - g.size % 8) % 8));
	add_tok(&g.tail, ")");
	sha256_init(&g.hash);

	before = maxrss_kb();
	nar_sink_init(&s, NULL, NULL);
	if (nar_copy(&src, &s, err, sizeof(err)) == -1)
		ok = no("%s", err);
	after = maxrss_kb();
	if (ok && s.size != g.head.n + g.size + g.tail.n)
		ok = no("size %llu", (unsigned long long)s.size);
	if (ok) {
		sha256_final(&s.hash, d1);
		sha256_final(&g.hash, d2);
		if (memcmp(d1, d2, SHA256_LEN) != 0)
			ok = no("the sink's hash is not the source's");
	}
	/* under ASan, shadow memory inflates the total: check the growth */
	if (ok && ((!UNDER_ASAN && after > 20 * 1024) ||
	    after - before > 1024))
		ok = no("peak RSS %ld KiB (was %ld KiB before the copy)",
		    after, before);
	printf("# 200 MiB copy: peak RSS %ld KiB, %ld KiB before%s\n", after,
	    before, UNDER_ASAN ? " (ASan: growth checked only)" : "");
	report("copy_200mib_flat_memory", ok);
	mem_free(&g.head);
	mem_free(&g.tail);
}

int
main(void)
{
	size_t	 i;

	/* messages are checked through last_error(), not printed */
	errors_capture();

	/* first, while nothing else has grown the heap */
	test_memory();

	tmp = scratch_dir();
	for (i = 0; i < nitems(bad_cases); i++)
		report(bad_cases[i].name, bad_check(&bad_cases[i]));
	test_limits();
	test_truncate_corrupt();
	test_depth();
	test_dump();

	return done();
}
