/*
 * Unit tests for src/nar.c's writers: nar_dump_path against the real
 * `nix-store --dump` and `nix-hash` (each archive also through nar_copy,
 * and unpacked by store_unpack and dumped again), its refusals, and
 * nar_write_file.  nar_copy on broken archives is in t_nar.c.
 *
 * Run from tests/ (golden files are in data/nar/).
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "harness.h"
#include "bytes.h"

#define MiB		(1024 * 1024)

static const char	*tmp;	/* the scratch directory */

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

/* The dumper will not write what the copier refuses (t_nar.c). */
static void
test_dump_depth(void)
{
	struct mem	 out = { 0 };
	struct nar_sink	 s;
	char		 d[4096];
	size_t		 i;
	int		 ok;

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

/*
 * The NAR writer, against the NAR of a file holding "hello\n" (spec
 * section 3.1), whose hash is what Nix 2.8 gave it (spec appendix A).
 */
static int
sink_buf(void *arg, const void *p, size_t n)
{
	struct buf	*b = arg;

	if (b->n + n > sizeof(b->b))
		return -1;
	memcpy(b->b + b->n, p, n);
	b->n += n;
	return 0;
}

static void
test_nar_write(void)
{
	struct buf	 want, got;
	struct nar_sink	 s;
	unsigned char	 d[SHA256_LEN];
	char		 b32[64];

	hello_nar(&want);
	got.n = 0;
	nar_sink_init(&s, sink_buf, &got);
	report("nar_write_file_rc", nar_write_file(&s, "hello\n", 6, 0) == 0 ||
	    no("nar_write_file failed"));
	report("nar_write_file_bytes", (got.n == want.n &&
	    memcmp(got.b, want.b, want.n) == 0) ||
	    no("%zu bytes, expected the %zu of the golden NAR", got.n, want.n));
	report("nar_sink_size", s.size == 120 ||
	    no("size %llu", (unsigned long long)s.size));
	sha256_final(&s.hash, d);
	nix32_encode(d, SHA256_LEN, b32);
	report("nar_sink_hash", same("hash", b32,
	    "04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw"));
	got.n = 0;
	nar_sink_init(&s, sink_buf, &got);
	nar_write_file(&s, "#!/bin/sh\n", 10, 1);
	report("nar_write_executable", (got.n == 160 &&
	    memcmp(got.b + 80, "executable", 10) == 0) ||
	    no("%zu bytes, no executable token", got.n));
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();
	tmp = scratch_dir();

	test_dump();
	test_dump_depth();
	test_nar_write();
	return done();
}
