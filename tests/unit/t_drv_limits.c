/*
 * Unit tests for src/drv.c's limits: generated derivations at and over
 * each DRV_*_MAX, a 1 MiB value written with escapes, a buffer over
 * DRV_FILE_MAX; and the files drv_read refuses (missing, a directory, a
 * device, a FIFO, a symlink, too big), each message naming the file.
 * The parser's other cases are in t_drv.c.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "harness.h"

/* A derivation around its parts, all but the platform and builder. */
#define OUT1		"[(\"out\",\"/nix/store/x-t\",\"\",\"\")]"
#define DRV(outs, ins, srcs, args, env) \
	"Derive(" outs "," ins "," srcs ",\"x86_64-linux\",\"/bin/sh\"," \
	args "," env ")"
/* Input derivations must be store derivations: STORE_DIR/<hash>-<name>.drv */
#define REP32(c)	c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
			c c c c
#define DA		"/nix/store/" REP32("a") "-a.drv"

/* After a failure, the struct is all zeros. */
static int
empty(const struct drv *d)
{
	static const struct drv	 zero;

	if (memcmp(d, &zero, sizeof(zero)) != 0)
		return no("the struct is not empty after a failure");
	return 1;
}

/* Parse in; it must fail, with want in the message. */
static int
parse_bad(const char *in, size_t len, const char *want)
{
	struct drv	 d;
	char		 err[512];

	if (drv_parse(in, len, &d, err, sizeof(err)) == 0) {
		drv_free(&d);
		return no("parsed, should have failed with \"%s\"", want);
	}
	if (strstr(err, want) == NULL)
		return no("error \"%s\", want \"%s\"", err, want);
	return empty(&d);
}

/* ---- limits, on generated derivations ---- */

/* A derivation whose part (0 outputs ... 4 env) has n generated items. */
static char *
big(int part, size_t n, size_t *lenp)
{
	char	*s = NULL;
	size_t	 i;
	FILE	*f;

	if ((f = open_memstream(&s, lenp)) == NULL)
		return NULL;
	fputs("Derive([", f);
	if (part == 0)
		for (i = 0; i < n; i++)
			fprintf(f, "%s(\"o%07zu\",\"/p\",\"\",\"\")",
			    i ? "," : "", i);
	else
		fputs("(\"out\",\"/p\",\"\",\"\")", f);
	fputs("],[", f);
	if (part == 1)
		for (i = 0; i < n; i++)
			fprintf(f, "%s(\"/nix/store/%032zu-x.drv\",[\"out\"])",
			    i ? "," : "", i);
	else if (part == 5) {
		fputs("(\"" DA "\",[", f);
		for (i = 0; i < n; i++)
			fprintf(f, "%s\"o%07zu\"", i ? "," : "", i);
		fputs("])", f);
	}
	fputs("],[", f);
	if (part == 2)
		for (i = 0; i < n; i++)
			fprintf(f, "%s\"/%07zu\"", i ? "," : "", i);
	fputs("],\"x86_64-linux\",\"/bin/sh\",[", f);
	if (part == 3)
		for (i = 0; i < n; i++)
			fputs(i ? ",\"\"" : "\"\"", f);
	fputs("],[", f);
	if (part == 4)
		for (i = 0; i < n; i++)
			fprintf(f, "%s(\"k%07zu\",\"\")", i ? "," : "", i);
	fputs("])", f);
	fclose(f);
	return s;
}

static int
limit(int part, size_t n, const char *err)
{
	struct drv	 d;
	char		*s, e[512];
	size_t		 len;
	int		 ok = 1;

	if ((s = big(part, n, &len)) == NULL)
		return no("open_memstream");
	if (err == NULL) {
		if (drv_parse(s, len, &d, e, sizeof(e)) == -1)
			ok = no("%s", e);
		else
			drv_free(&d);
	} else
		ok = parse_bad(s, len, err);
	free(s);
	return ok;
}

/* A derivation with one string of n bytes c as the named part. */
static int
longstring(const char *where, size_t n, char c, const char *err)
{
	char	*s, *p;
	size_t	 len;
	int	 ok;

	if ((s = malloc(n + 256)) == NULL)
		return no("malloc");
	p = s;
	p += sprintf(p, "Derive([(\"");
	if (strcmp(where, "name") == 0) {
		memset(p, c, n);
		p += n;
		p += sprintf(p, "\",\"/p");
	} else if (strcmp(where, "path") == 0) {
		p += sprintf(p, "out\",\"");
		memset(p, c, n);
		p += n;
	} else
		p += sprintf(p, "out\",\"/p");
	p += sprintf(p, "\",\"\",\"\")],[],[],\"");
	if (strcmp(where, "platform") == 0) {
		memset(p, c, n);
		p += n;
	}
	p += sprintf(p, "\",\"/bin/sh\",[],[])");
	len = (size_t)(p - s);
	if (err != NULL)
		ok = parse_bad(s, len, err);
	else {
		struct drv	 d;
		char		 e[512];
		if ((ok = drv_parse(s, len, &d, e, sizeof(e)) == 0))
			drv_free(&d);
		else
			no("%s", e);
	}
	free(s);
	return ok;
}

/* A 1 MiB env value and argument, written with escapes, read back whole. */
static int
huge_value(void)
{
	static const char	 unit[] = "ab\\\"c\\\\\\n\xc3\xa9\\t";
	static const char	 dec1[] = "ab\"c\\\n\xc3\xa9\t";
	const size_t		 reps = (1u << 20) / (sizeof(dec1) - 1) + 1;
	struct drv		 d;
	char			*s, *p, e[512];
	size_t			 i, k;
	int			 ok = 1;

	if ((s = malloc(reps * 2 * (sizeof(unit) - 1) + 256)) == NULL)
		return no("malloc");
	p = s + sprintf(s, "Derive(" OUT1 ",[],[],\"x\",\"/bin/sh\",[\"");
	for (i = 0; i < reps; i++, p += sizeof(unit) - 1)
		memcpy(p, unit, sizeof(unit) - 1);
	p += sprintf(p, "\"],[(\"big\",\"");
	for (i = 0; i < reps; i++, p += sizeof(unit) - 1)
		memcpy(p, unit, sizeof(unit) - 1);
	p += sprintf(p, "\")])");
	if (drv_parse(s, (size_t)(p - s), &d, e, sizeof(e)) == -1) {
		free(s);
		return no("%s", e);
	}
	for (k = 0; k < 2; k++) {
		const char *v = k ? drv_env(&d, "big") : d.args->v[0];
		if (v == NULL || strlen(v) != reps * (sizeof(dec1) - 1)) {
			ok = no("part %zu: length %zu", k, v ? strlen(v) : 0);
			continue;
		}
		for (i = 0; i < reps; i++)
			if (memcmp(v + i * (sizeof(dec1) - 1), dec1,
			    sizeof(dec1) - 1) != 0) {
				ok = no("part %zu: differs at %zu", k, i);
				break;
			}
	}
	drv_free(&d);
	free(s);
	return ok;
}

/* A buffer over DRV_FILE_MAX is refused before it is read. */
static int
too_big(void)
{
	char	*s;
	int	 ok;

	if ((s = malloc((size_t)DRV_FILE_MAX + 1)) == NULL)
		return no("malloc");
	memset(s, ' ', (size_t)DRV_FILE_MAX + 1);
	memcpy(s, "Derive(", 7);
	ok = parse_bad(s, (size_t)DRV_FILE_MAX + 1, "67108865 bytes, over the "
	    "limit of 67108864 for a derivation");
	free(s);
	return ok;
}

/* ---- drv_read ---- */

static const char	*tmpdir;	/* the scratch directory */

static int
put(const char *name, const char *s, size_t n)
{
	char	 path[512];
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1)
		return no("%s: %s", path, strerror(errno));
	if (write(fd, s, n) != (ssize_t)n)
		no("%s: short write", path);
	close(fd);
	return 1;
}

static int
read_case(const char *name, const char *want)
{
	struct drv	 d;
	char		 path[512], msg[1024];

	if (name[0] == '/')
		strlcpy(path, name, sizeof(path));
	else
		snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (drv_read(path, &d) == 0) {
		drv_free(&d);
		return no("read, should have failed");
	}
	snprintf(msg, sizeof(msg), "%s: %s", path, want);
	if (strncmp(last_error(), msg, strlen(msg)) != 0)
		return no("message \"%s\", want \"%s\"", last_error(), msg);
	return empty(&d);
}

static void
read_tests(void)
{
	struct drv	 d;
	char		 path[512];
	int		 fd;

	tmpdir = scratch_dir();
	report("read: missing file", read_case("missing.drv",
	    "No such file or directory"));
	report("read: a directory", read_case(".", "Is a directory"));
	report("read: a device is refused", read_case("/dev/null",
	    "not a regular file (a device), not a derivation"));
	/* a FIFO without a writer would block open() and read() */
	snprintf(path, sizeof(path), "%s/fifo.drv", tmpdir);
	if (mkfifo(path, 0644) == -1)
		no("mkfifo: %s", strerror(errno));
	alarm(10);	/* a hang kills the test instead */
	report("read: a FIFO is refused at once", !failing() &&
	    read_case("fifo.drv", "not a regular file (a FIFO), not a "
	    "derivation"));
	alarm(0);
	put("empty.drv", "", 0);
	report("read: empty file", read_case("empty.drv",
	    "offset 0: expected \"Derive(\", got end of file"));
	put("bad.drv", B(DRV("[(\"out\",\"x\",\"\",\"\")]", "[]", "[]", "[]",
	    "[]")));
	report("read: names the file and the offset", read_case("bad.drv",
	    "offset 15: an output path must be an absolute path, got \"x\""));

	snprintf(path, sizeof(path), "%s/big.drv", tmpdir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    ftruncate(fd, (off_t)DRV_FILE_MAX + 1) == -1)
		no("%s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	report("read: over DRV_FILE_MAX", !failing() &&
	    read_case("big.drv", "larger than the limit of 67108864 bytes"));
	snprintf(path, sizeof(path), "%s/max.drv", tmpdir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    ftruncate(fd, (off_t)DRV_FILE_MAX) == -1)
		no("%s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	report("read: DRV_FILE_MAX is read, then parsed", !failing() &&
	    read_case("max.drv", "offset 0: expected \"Derive(\", got "
	    "\"\\x00\\x00"));

	put("good.drv", B(DRV(OUT1, "[]", "[]", "[]", "[]")));
	snprintf(path, sizeof(path), "%s/link.drv", tmpdir);
	if (symlink("good.drv", path) == -1)
		no("symlink: %s", strerror(errno));
	report("read: a symlink is refused", !failing() &&
	    read_case("link.drv", "a symbolic link, not a derivation file"));
	snprintf(path, sizeof(path), "%s/good.drv", tmpdir);
	if (drv_read(path, &d) == -1)
		no("%s", last_error());
	else {
		if (d.file == NULL || strcmp(d.file, path) != 0)
			no("file %s", d.file ? d.file : "NULL");
		drv_free(&d);
		if (!empty(&d))
			no("not empty after drv_free");
		drv_free(&d);	/* twice is harmless */
	}
	report("read: a good file", 1);
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	report("limit: 1024 outputs", limit(0, DRV_OUTPUTS_MAX, NULL));
	report("limit: 1025 outputs", limit(0, DRV_OUTPUTS_MAX + 1,
	    "more than 1024 outputs"));
	report("limit: 1025 outputs of one input", limit(5,
	    DRV_OUTPUTS_MAX + 1, "more than 1024 outputs of one input"));
	report("limit: inputDrvs", limit(1, DRV_INPUTS_MAX + 1,
	    "more than 1048576 input derivations"));
	report("limit: inputSrcs", limit(2, DRV_INPUTS_MAX + 1,
	    "more than 1048576 input sources"));
	report("limit: args at the limit", limit(3, DRV_ARGS_MAX, NULL));
	report("limit: args", limit(3, DRV_ARGS_MAX + 1,
	    "more than 1048576 arguments"));
	report("limit: env", limit(4, DRV_ENV_MAX + 1,
	    "more than 1048576 environment variables"));
	report("limit: a path at DRV_PATH_MAX", longstring("path",
	    DRV_PATH_MAX, '/', NULL));
	report("limit: a path over DRV_PATH_MAX", longstring("path",
	    DRV_PATH_MAX + 1, '/', "offset 15: an output path longer than "
	    "4096 bytes"));
	report("limit: an output name at DRV_NAME_MAX", longstring("name",
	    DRV_NAME_MAX, 'o', NULL));
	report("limit: an output name over DRV_NAME_MAX", longstring("name",
	    DRV_NAME_MAX + 1, 'o', "offset 9: an output name longer than 256 "
	    "bytes"));
	report("limit: a platform over DRV_NAME_MAX", longstring("platform",
	    DRV_NAME_MAX + 1, 'x', "the platform longer than 256 bytes"));
	report("limit: a file over DRV_FILE_MAX", too_big());
	report("a 1 MiB value with escapes", huge_value());
	read_tests();
	return done();
}
