/*
 * Unit tests for src/nar.c's nar_copy, which validates a NAR while copying
 * it: broken archives (a table of token lists), the limits on names,
 * targets and depth, truncation and corruption at every byte, and flat
 * memory for a 200 MiB file.  nar_dump_path and nar_write_file are in
 * t_nar_dump.c.
 *
 * Run from tests/ (golden files are in data/nar/).  With NARTEST_SHOW set,
 * the message of each refused archive in the table goes to stderr.
 */
#include <sys/resource.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"
#include "harness.h"
#include "bytes.h"

#define MiB		(1024 * 1024)

/* ---- NARs spelled out ---- */

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
	char		 err[512];
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

	for (i = 0; i < nitems(bad_cases); i++)
		report(bad_cases[i].name, bad_check(&bad_cases[i]));
	test_limits();
	test_truncate_corrupt();
	test_depth();
	return done();
}
