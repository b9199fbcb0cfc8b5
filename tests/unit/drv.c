/*
 * Unit tests for drv.c: the .drv (ATerm) parser, its limits and messages,
 * and the structured-attrs JSON reader behind features_required().
 *
 * Run from tests/: the golden derivations are data/drv/NAME.drv, written by
 * the real Nix 2.8, and data/drv/NAME.expect says what `nix
 * show-derivation` makes of them (data/drv/gen.sh makes both).  Every
 * truncation and many one-byte mutations of each golden file must fail
 * cleanly or parse; run this under valgrind or ASan to make that mean
 * something.
 *
 * Each case prints one line, "ok NAME" or "FAIL NAME: why"; the last line
 * counts them, and the exit status is 1 if anything failed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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
#define DUMP1		"platform x86_64-linux\nbuilder /bin/sh\n" \
	"output out /nix/store/x-t - -\n"
/* Input derivations must be store derivations: STORE_DIR/<hash>-<name>.drv */
#define REP32(c)	c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
			c c c c
#define DA		"/nix/store/" REP32("a") "-a.drv"
#define DB		"/nix/store/" REP32("b") "-b.drv"
#define DX		"/nix/store/" REP32("a") "-x.drv"
#define DY		"/nix/store/" REP32("b") "-y.drv"
#define DZ		"/nix/store/" REP32("z") "-z.drv"

/*
 * A field of the dump, as gen.sh writes it: bytes other than
 * [A-Za-z0-9_.~/:-] as %XX, "-" for "", %2D for "-".
 */
static void
enc(FILE *f, const char *s)
{
	const unsigned char	*p;

	if (*s == '\0') {
		fputc('-', f);
		return;
	}
	if (strcmp(s, "-") == 0) {
		fputs("%2D", f);
		return;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("_.~/:-", *p) != NULL)
			fputc(*p, f);
		else
			fprintf(f, "%%%02X", *p);
}

static char *
dec(const char *s)
{
	char		*out, *o;
	unsigned	 x;

	if ((out = o = malloc(strlen(s) + 1)) == NULL)
		return NULL;
	if (strcmp(s, "-") == 0)
		s = "";
	for (; *s != '\0'; s++)
		if (*s == '%' && sscanf(s + 1, "%2x", &x) == 1) {
			*o++ = (char)x;
			s += 2;
		} else
			*o++ = *s;
	*o = '\0';
	return out;
}

/* The parts of d, one a line, as in the .expect files. */
static void
dump(FILE *f, const struct drv *d)
{
	size_t	 i, k;

	fputs("platform ", f);
	enc(f, d->platform);
	fputs("\nbuilder ", f);
	enc(f, d->builder);
	fputc('\n', f);
	for (i = 0; i < d->noutputs; i++) {
		fputs("output ", f);
		enc(f, d->outputs[i].name);
		fputc(' ', f);
		enc(f, d->outputs[i].path);
		fputc(' ', f);
		enc(f, d->outputs[i].hash_algo);
		fputc(' ', f);
		enc(f, d->outputs[i].hash);
		fputc('\n', f);
	}
	for (i = 0; i < d->ninputs; i++) {
		fputs("input ", f);
		enc(f, d->inputs[i].path);
		for (k = 0; k < d->inputs[i].outputs->n; k++) {
			fputc(' ', f);
			enc(f, d->inputs[i].outputs->v[k]);
		}
		fputc('\n', f);
	}
	for (i = 0; i < d->srcs->n; i++) {
		fputs("src ", f);
		enc(f, d->srcs->v[i]);
		fputc('\n', f);
	}
	for (i = 0; i < d->args->n; i++) {
		fputs("arg ", f);
		enc(f, d->args->v[i]);
		fputc('\n', f);
	}
	for (i = 0; i < d->nenv; i++) {
		fputs("env ", f);
		enc(f, d->env[i].key);
		fputc(' ', f);
		enc(f, d->env[i].value);
		fputc('\n', f);
	}
}

static char *
dumped(const struct drv *d)
{
	char	*s = NULL;
	size_t	 n;
	FILE	*f;

	if ((f = open_memstream(&s, &n)) == NULL)
		return NULL;
	dump(f, d);
	fclose(f);
	return s;
}

/* Where two texts first differ, for a message. */
static int
differ(const char *what, const char *got, const char *want)
{
	size_t	 i, line = 1, bol = 0;

	for (i = 0; got[i] != '\0' && got[i] == want[i]; i++)
		if (got[i] == '\n') {
			line++;
			bol = i + 1;
		}
	return no("%s line %zu: got \"%.*s\", want \"%.*s\"", what, line,
	    (int)strcspn(got + bol, "\n"), got + bol,
	    (int)strcspn(want + bol, "\n"), want + bol);
}

static int
empty(const struct drv *d)
{
	static const struct drv	 zero;

	if (memcmp(d, &zero, sizeof(zero)) != 0)
		return no("the struct is not empty after a failure");
	return 1;
}

static char *
slurp(const char *path, size_t *lenp)
{
	char	*buf = NULL;
	size_t	 n = 0, cap = 0;
	ssize_t	 r;
	int	 fd;

	if ((fd = open(path, O_RDONLY)) == -1) {
		no("%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n + 4096 > cap) {
			char	*nb;
			cap = cap ? cap * 2 : 8192;
			if ((nb = realloc(buf, cap + 1)) == NULL)
				break;
			buf = nb;
		}
		if ((r = read(fd, buf + n, cap - n)) <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (buf != NULL)
		buf[n] = '\0';
	*lenp = n;
	return buf;
}

/* Parse and compare the dump; or expect failure with err in the message. */
static int
parse_ok(const char *in, size_t len, const char *want)
{
	struct drv	 d;
	char		 err[512], *got;
	int		 ok;

	if (drv_parse(in, len, &d, err, sizeof(err)) == -1)
		return no("%s", err);
	if ((got = dumped(&d)) == NULL)
		return no("open_memstream");
	ok = strcmp(got, want) == 0 ? 1 : differ("dump", got, want);
	free(got);
	drv_free(&d);
	return ok;
}

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

/* ---- the golden derivations from the real Nix ---- */

static const char *const goldens[] = {
	"simple", "escapes", "multi", "fod-flat", "fod-rec", "structured",
	"features", "deps", "ca", "deferred", "impure"
};

static int
golden(const char *name)
{
	struct drv	 d;
	struct strlist	 feat;
	char		 path[256], ename[256], dname[256];
	char		*want, *got = NULL;
	char		*drvpath = NULL;
	size_t		 len, i;
	FILE		*f;
	int		 ok = 0;

	snprintf(ename, sizeof(ename), "data/drv/%s.expect", name);
	if ((want = slurp(ename, &len)) == NULL)
		return 0;
	if (strncmp(want, "drv ", 4) != 0) {
		free(want);
		return no("%s: no drv line", ename);
	}
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(want + 4, "\n"),
	    want + 4);
	drvpath = dec(path);
	snprintf(path, sizeof(path), "data/drv/%s.drv", name);
	if (drv_read(path, &d) == -1) {
		free(want);
		free(drvpath);
		return no("%s", last_error());
	}
	if (d.file == NULL || strcmp(d.file, path) != 0)
		no("d.file is %s", d.file ? d.file : "NULL");
	memset(&feat, 0, sizeof(feat));
	if (features_required(&d, &feat) == -1)
		no("features: %s", last_error());
	if (drv_name(drvpath, dname, sizeof(dname)) == -1)
		no("drv_name(%s) failed", drvpath);
	if ((f = open_memstream(&got, &len)) != NULL) {
		fputs("drv ", f);
		enc(f, drvpath);
		fputs("\nname ", f);
		enc(f, dname);
		fputc('\n', f);
		dump(f, &d);
		fputs("features", f);
		for (i = 0; i < feat.n; i++) {
			fputc(' ', f);
			enc(f, feat.v[i]);
		}
		fputc('\n', f);
		fclose(f);
		ok = strcmp(got, want) == 0 ? 1 : differ(name, got, want);
	}
	strlist_free(&feat);
	drv_free(&d);
	free(got);
	free(want);
	free(drvpath);
	return ok;
}

/* Every proper prefix of a golden file must fail, at or before its end. */
static int
truncated(const char *name)
{
	struct drv	 d;
	char		 path[256], err[512], *buf;
	size_t		 len, k;
	unsigned long	 at;

	snprintf(path, sizeof(path), "data/drv/%s.drv", name);
	if ((buf = slurp(path, &len)) == NULL)
		return 0;
	for (k = 0; k < len; k++) {
		char	*cut;
		/* a buffer of exactly k bytes, so that ASan sees overreads */
		if ((cut = malloc(k ? k : 1)) == NULL)
			break;
		memcpy(cut, buf, k);
		if (drv_parse(cut, k, &d, err, sizeof(err)) == 0) {
			drv_free(&d);
			no("prefix of %zu bytes parsed", k);
		} else if (sscanf(err, "offset %lu:", &at) != 1 || at > k)
			no("prefix of %zu bytes: \"%s\"", k, err);
		else
			empty(&d);
		free(cut);
		if (failing())
			break;
	}
	free(buf);
	return 1;
}

/*
 * One-byte changes and deletions at every offset: each must parse or fail
 * cleanly, and what parses must survive the structured-attrs reader.
 */
static int
mutated(const char *name)
{
	static const char	 bytes[] = "\"\\,()[]x/{}:n \0";
	struct drv		 d;
	struct strlist		 feat;
	char			 path[256], err[512], *buf, *m;
	size_t			 len, i, k, n;

	snprintf(path, sizeof(path), "data/drv/%s.drv", name);
	if ((buf = slurp(path, &len)) == NULL)
		return 0;
	if ((m = malloc(len)) == NULL) {
		free(buf);
		return no("malloc");
	}
	for (i = 0; i < len && !failing(); i++)
		for (k = 0; k <= sizeof(bytes) - 1; k++) {
			memcpy(m, buf, len);
			n = len;
			if (k == sizeof(bytes) - 1) {
				memmove(m + i, m + i + 1, len - i - 1);
				n--;
			} else
				m[i] = bytes[k];
			if (drv_parse(m, n, &d, err, sizeof(err)) == -1) {
				if (strncmp(err, "offset ", 7) != 0)
					no("byte %zu: \"%s\"", i, err);
				empty(&d);
				continue;
			}
			memset(&feat, 0, sizeof(feat));
			if (features_required(&d, &feat) == 0)
				strlist_free(&feat);
			else if (feat.n != 0)
				no("byte %zu: features left after failure", i);
			drv_free(&d);
		}
	free(m);
	free(buf);
	return 1;
}

/* ---- strings: every escape, any byte ---- */

static const struct {
	const char	*name;
	const char	*raw;		/* between the quotes, in the file */
	size_t		 rawlen;
	const char	*want;		/* decoded */
	size_t		 wantlen;
} strings[] = {
	{ "string plain", B("abc"), B("abc") },
	{ "string empty", B(""), B("") },
	{ "escape \\\"", B("a\\\"b"), B("a\"b") },
	{ "escape \\\\", B("a\\\\b"), B("a\\b") },
	{ "escape \\n", B("a\\nb"), B("a\nb") },
	{ "escape \\r", B("a\\rb"), B("a\rb") },
	{ "escape \\t", B("a\\tb"), B("a\tb") },
	{ "escape \\X is X", B("\\a\\x41\\/\\0\\ \\'"), B("ax41/0 '") },
	{ "escape \\\\n is not LF", B("\\\\n"), B("\\n") },
	{ "escape all as Nix writes them", B("a\\\"b\\\\c\\nd\\te\\rf"),
	    B("a\"b\\c\nd\te\rf") },
	{ "escape before a UTF-8 byte", B("\\\xc3\xa9"), B("\xc3\xa9") },
	{ "escape of a raw LF", B("a\\\nb"), B("a\nb") },
	{ "raw LF CR TAB", B("a\nb\rc\td"), B("a\nb\rc\td") },
	{ "raw control bytes", B("\x01\x1f\x7f"), B("\x01\x1f\x7f") },
	{ "non-ASCII UTF-8", B("gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x9a\x80"),
	    B("gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x9a\x80") },
	{ "bytes that are not UTF-8", B("\xff\xfe\x80"), B("\xff\xfe\x80") },
	{ "parens and brackets in a string", B("([,])"), B("([,])") },
};

/* raw as the builder, an argument, an env name and an env value */
static int
string_case(size_t t)
{
	static const char	 pre[] = "Derive(" OUT1 ",[],[],\"x\",\"";
	struct drv		 d;
	char			 buf[512], err[512];
	size_t			 n = 0, i;
	const char		*parts[] = { "\",[\"", "\"],[(\"", "\",\"",
				    "\")])" };
	const char		*got[4];

	memcpy(buf, pre, sizeof(pre) - 1);
	n = sizeof(pre) - 1;
	for (i = 0; i < 4; i++) {
		memcpy(buf + n, strings[t].raw, strings[t].rawlen);
		n += strings[t].rawlen;
		memcpy(buf + n, parts[i], strlen(parts[i]));
		n += strlen(parts[i]);
	}
	if (drv_parse(buf, n, &d, err, sizeof(err)) == -1)
		return no("%s", err);
	got[0] = d.builder;
	got[1] = d.args->n == 1 ? d.args->v[0] : "";
	got[2] = d.nenv == 1 ? d.env[0].key : "";
	got[3] = d.nenv == 1 ? d.env[0].value : "";
	for (i = 0; i < 4; i++)
		if (strlen(got[i]) != strings[t].wantlen ||
		    memcmp(got[i], strings[t].want, strings[t].wantlen) != 0)
			no("part %zu: got \"%s\"", i, got[i]);
	drv_free(&d);
	return 1;
}

/* ---- whole derivations that parse ---- */

static const struct {
	const char	*name;
	const char	*in;
	size_t		 len;
	const char	*want;
} goods[] = {
	{ "empty lists", B(DRV(OUT1, "[]", "[]", "[]", "[]")), DUMP1 },
	{ "multiple outputs, kept in the file's order",
	    B(DRV("[(\"out\",\"/nix/store/a-t\",\"\",\"\"),"
	    "(\"dev\",\"/nix/store/b-t-dev\",\"\",\"\"),"
	    "(\"bin\",\"/nix/store/c-t-bin\",\"\",\"\")]",
	    "[]", "[]", "[]", "[]")),
	    "platform x86_64-linux\nbuilder /bin/sh\n"
	    "output out /nix/store/a-t - -\n"
	    "output dev /nix/store/b-t-dev - -\n"
	    "output bin /nix/store/c-t-bin - -\n" },
	{ "fixed-output, flat",
	    B(DRV("[(\"out\",\"/nix/store/f-x\",\"sha256\",\"2cf24dba\")]",
	    "[]", "[]", "[]", "[]")),
	    "platform x86_64-linux\nbuilder /bin/sh\n"
	    "output out /nix/store/f-x sha256 2cf24dba\n" },
	{ "fixed-output, recursive",
	    B(DRV("[(\"out\",\"/nix/store/f-x\",\"r:sha256\",\"5529\")]",
	    "[]", "[]", "[]", "[]")),
	    "platform x86_64-linux\nbuilder /bin/sh\n"
	    "output out /nix/store/f-x r:sha256 5529\n" },
	{ "fixed-output, other algorithms",
	    B(DRV("[(\"a\",\"/nix/store/a\",\"md5\",\"1\"),"
	    "(\"b\",\"/nix/store/b\",\"r:sha1\",\"2\"),"
	    "(\"c\",\"/nix/store/c\",\"sha512\",\"3\"),"
	    "(\"d\",\"/nix/store/d\",\"text:sha256\",\"4\")]",
	    "[]", "[]", "[]", "[]")),
	    "platform x86_64-linux\nbuilder /bin/sh\n"
	    "output a /nix/store/a md5 1\noutput b /nix/store/b r:sha1 2\n"
	    "output c /nix/store/c sha512 3\n"
	    "output d /nix/store/d text:sha256 4\n" },
	{ "floating, impure and deferred outputs",
	    B(DRV("[(\"a\",\"\",\"r:sha256\",\"\"),"
	    "(\"b\",\"\",\"r:sha256\",\"impure\"),(\"c\",\"\",\"\",\"\")]",
	    "[]", "[]", "[]", "[]")),
	    "platform x86_64-linux\nbuilder /bin/sh\n"
	    "output a - r:sha256 -\noutput b - r:sha256 impure\n"
	    "output c - - -\n" },
	{ "inputs, sources, args and env",
	    B(DRV(OUT1, "[(\"" DX "\",[\"dev\",\"out\"]),"
	    "(\"" DY "\",[\"out\"])]",
	    "[\"/nix/store/s-1\",\"/nix/store/s-2\"]",
	    "[\"-c\",\"echo hi\",\"-c\"]",
	    "[(\"a\",\"1\"),(\"b\",\"\")]")),
	    DUMP1 "input " DX " dev out\n"
	    "input " DY " out\n"
	    "src /nix/store/s-1\nsrc /nix/store/s-2\n"
	    "arg -c\narg echo%20hi\narg -c\nenv a 1\nenv b -\n" },
	{ "unsorted lists without duplicates",
	    B(DRV("[(\"z\",\"/nix/store/z\",\"\",\"\"),"
	    "(\"a\",\"/nix/store/a\",\"\",\"\")]",
	    "[(\"" DZ "\",[\"z\",\"a\"]),"
	    "(\"" DA "\",[\"out\"])]",
	    "[\"/nix/store/z\",\"/nix/store/a\"]", "[]",
	    "[(\"z\",\"\"),(\"a\",\"\"),(\"m\",\"\")]")),
	    "platform x86_64-linux\nbuilder /bin/sh\n"
	    "output z /nix/store/z - -\noutput a /nix/store/a - -\n"
	    "input " DZ " z a\ninput " DA " out\n"
	    "src /nix/store/z\nsrc /nix/store/a\n"
	    "env z -\nenv a -\nenv m -\n" },
	{ "an input derivation with no outputs",
	    B(DRV(OUT1, "[(\"" DX "\",[])]", "[]", "[]", "[]")),
	    DUMP1 "input " DX "\n" },
	{ "a builtin builder and an empty platform",
	    B("Derive(" OUT1 ",[],[],\"\",\"builtin:fetchurl\",[],[])"),
	    "platform -\nbuilder builtin:fetchurl\n"
	    "output out /nix/store/x-t - -\n" },
	{ "an empty env name",
	    B(DRV(OUT1, "[]", "[]", "[]", "[(\"\",\"x\")]")),
	    DUMP1 "env - x\n" },
};

/* ---- and those that do not ---- */

static const struct {
	const char	*name;
	const char	*in;
	size_t		 len;
	const char	*err;
} bads[] = {
	{ "empty file", B(""), "offset 0: expected \"Derive(\", got end of "
	    "file" },
	{ "wrong keyword", B("Derivation([])"),
	    "offset 0: expected \"Derive(\", got \"Derivation([])\"" },
	{ "lower-case keyword", B("derive([])"), "offset 0: expected "
	    "\"Derive(\"" },
	{ "keyword cut short", B("Deri"), "offset 0: expected \"Derive(\", "
	    "got \"Deri\"" },
	{ "leading space", B(" " DRV(OUT1, "[]", "[]", "[]", "[]")),
	    "offset 0: expected \"Derive(\", got \" Derive([(\"out\",...\"" },
	{ "DrvWithVersion", B("DrvWithVersion(\"xp-dyn-drv\"," OUT1 ",[],[],"
	    "\"x86_64-linux\",\"/bin/sh\",[],[])"), "offset 0: a "
	    "DrvWithVersion derivation (dynamic derivations, from a newer "
	    "Nix): only Derive(...) is supported" },
	{ "binary junk", B("\x7f" "ELF\x02\x01"), "offset 0: expected "
	    "\"Derive(\", got \"\\x7fELF\\x02\\x01\"" },
	{ "trailing newline", B(DRV(OUT1, "[]", "[]", "[]", "[]") "\n"),
	    "offset 77: expected the end of the file after the derivation, "
	    "got '\\n'" },
	{ "trailing garbage", B(DRV(OUT1, "[]", "[]", "[]", "[]") ")"),
	    "offset 77: expected the end of the file" },
	{ "missing final paren", B("Derive(" OUT1 ",[],[],\"x86_64-linux\","
	    "\"/bin/sh\",[],[]"), "offset 76: expected ')' after env, got end "
	    "of file" },
	{ "no outputs", B(DRV("[]", "[]", "[]", "[]", "[]")),
	    "offset 7: a derivation without outputs" },
	{ "outputs not a list", B("Derive((\"out\"))"),
	    "offset 7: expected '[' in outputs, got '('" },
	{ "whitespace between tokens", B("Derive( [])"),
	    "offset 7: expected '[' in outputs, got ' '" },
	{ "missing quote", B(DRV("[(out,\"/p\",\"\",\"\")]", "[]", "[]", "[]",
	    "[]")), "offset 9: expected '\"' starting an output name in "
	    "outputs, got 'o'" },
	{ "unterminated string", B("Derive([(\"out"),
	    "offset 13: expected '\"' ending an output name (which starts "
	    "at offset 9), got end of file" },
	{ "backslash at the end", B("Derive([(\"out\\"),
	    "offset 14: expected '\"' ending an output name (which starts "
	    "at offset 9)" },
	{ "escaped quote at the end", B("Derive([(\"out\\\""),
	    "offset 15: expected '\"' ending an output name" },
	{ "raw NUL in a string", B("Derive([(\"o\0t\""),
	    "offset 11: a NUL byte in an output name" },
	{ "escaped NUL in a string", B(DRV(OUT1, "[]", "[]", "[]",
	    "[(\"a\",\"x\\\0\")]")), "offset 83: a NUL byte in a variable "
	    "value" },
	{ "three fields in an output", B(DRV("[(\"out\",\"/p\",\"\")]", "[]",
	    "[]", "[]", "[]")), "offset 22: expected ',' in outputs, got ')'" },
	{ "five fields in an output", B(DRV("[(\"out\",\"/p\",\"\",\"\",\"\")]",
	    "[]", "[]", "[]", "[]")), "offset 25: expected ')' in outputs, got "
	    "','" },
	{ "missing comma between items", B(DRV("[(\"a\",\"/a\",\"\",\"\")"
	    "(\"b\",\"/b\",\"\",\"\")]", "[]", "[]", "[]", "[]")),
	    "offset 24: expected ',' or ']' in outputs, got '('" },
	{ "leading comma", B(DRV("[,(\"a\",\"/a\",\"\",\"\")]", "[]", "[]",
	    "[]", "[]")), "offset 8: expected '(' in outputs, got ','" },
	{ "trailing comma", B(DRV(OUT1, "[]", "[\"/a\",]", "[]", "[]")),
	    "offset 49: expected '\"' starting an input source in inputSrcs, "
	    "got ']'" },
	{ "missing comma after outputs", B("Derive(" OUT1 "[],[],\"x\","
	    "\"/bin/sh\",[],[])"), "offset 39: expected ',' after outputs, "
	    "got '['" },
	{ "platform not quoted", B("Derive(" OUT1 ",[],[],x86_64-linux,"
	    "\"/bin/sh\",[],[])"), "offset 46: expected '\"' starting the "
	    "platform after inputSrcs, got 'x'" },
	{ "builder missing", B("Derive(" OUT1 ",[],[],\"x86_64-linux\",[],"
	    "[])"), "offset 61: expected '\"' starting the builder after the "
	    "platform, got '['" },
	{ "args missing", B("Derive(" OUT1 ",[],[],\"x86_64-linux\","
	    "\"/bin/sh\",[])"), "offset 73: expected ',' after args, got ')'" },
	{ "env item not a pair", B(DRV(OUT1, "[]", "[]", "[]",
	    "[(\"a\",\"b\",\"c\")]")),
	    "offset 83: expected ')' in env, got ','" },
	{ "env item a bare string", B(DRV(OUT1, "[]", "[]", "[]", "[\"a\"]")),
	    "offset 75: expected '(' in env, got '\"'" },
	{ "input outputs not a list", B(DRV(OUT1,
	    "[(\"" DA "\",\"out\")]", "[]", "[]", "[]")),
	    "offset 94: expected '[' in inputDrvs, got '\"'" },
	{ "relative output path", B(DRV("[(\"out\",\"nix/store/x\",\"\",\"\")]",
	    "[]", "[]", "[]", "[]")), "offset 15: an output path must be an "
	    "absolute path, got \"nix/store/x\"" },
	{ "relative input derivation", B(DRV(OUT1, "[(\"x.drv\",[\"out\"])]",
	    "[]", "[]", "[]")), "offset 42: an input derivation path must be "
	    "an absolute path, got \"x.drv\"" },
	{ "empty input derivation path", B(DRV(OUT1, "[(\"\",[\"out\"])]", "[]",
	    "[]", "[]")), "an input derivation path must be an absolute path, "
	    "got \"\"" },
	{ "input derivation outside the store", B(DRV(OUT1,
	    "[(\"/etc/passwd\",[\"out\"])]", "[]", "[]", "[]")),
	    "offset 42: an input derivation must be a .drv in /nix/store, got "
	    "\"/etc/passwd\"" },
	{ "input derivation, a FIFO outside the store", B(DRV(OUT1,
	    "[(\"/tmp/fifo.drv\",[\"out\"])]", "[]", "[]", "[]")),
	    "offset 42: an input derivation must be a .drv in /nix/store, got "
	    "\"/tmp/fifo.drv\"" },
	{ "input derivation not a .drv", B(DRV(OUT1,
	    "[(\"/nix/store/" REP32("a") "-a\",[\"out\"])]", "[]", "[]",
	    "[]")), "offset 42: an input derivation must be a .drv in "
	    "/nix/store, got \"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a\"" },
	{ "input derivation below a store path", B(DRV(OUT1,
	    "[(\"/nix/store/" REP32("a") "-a/x.drv\",[\"out\"])]", "[]",
	    "[]", "[]")), "offset 42: an input derivation must be a .drv in "
	    "/nix/store" },
	{ "input derivation with ..", B(DRV(OUT1,
	    "[(\"/nix/store/../../etc/x.drv\",[\"out\"])]", "[]", "[]",
	    "[]")), "offset 42: an input derivation must be a .drv in "
	    "/nix/store, got \"/nix/store/../../etc/x.drv\"" },
	{ "input derivation, hash part not nix32", B(DRV(OUT1,
	    "[(\"/nix/store/" REP32("e") "-a.drv\",[\"out\"])]", "[]", "[]",
	    "[]")), "offset 42: an input derivation must be a .drv in "
	    "/nix/store" },
	{ "input derivation in another store", B(DRV(OUT1,
	    "[(\"/gnu/store/" REP32("a") "-a.drv\",[\"out\"])]", "[]", "[]",
	    "[]")), "offset 42: an input derivation must be a .drv in "
	    "/nix/store" },
	{ "input derivation, an escaped name", B(DRV(OUT1,
	    "[(\"/nix/store/" REP32("a") "-a\\n.drv\",[\"out\"])]", "[]",
	    "[]", "[]")), "offset 42: an input derivation must be a .drv in "
	    "/nix/store, got \"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-"
	    "a\\n.drv\"" },
	{ "relative input source", B(DRV(OUT1, "[]", "[\"./src\"]", "[]",
	    "[]")), "offset 44: an input source must be an absolute path, "
	    "got \"./src\"" },
	{ "empty input source", B(DRV(OUT1, "[]", "[\"\"]", "[]", "[]")),
	    "offset 44: an input source must be an absolute path, got \"\"" },
	{ "empty output name", B(DRV("[(\"\",\"/p\",\"\",\"\")]", "[]", "[]",
	    "[]", "[]")), "offset 8: an output with an empty name" },
	{ "empty output name of an input", B(DRV(OUT1, "[(\"" DA "\",[\"\"])]",
	    "[]", "[]", "[]")), "offset 95: an empty output name" },
	{ "duplicate output", B(DRV("[(\"out\",\"/a\",\"\",\"\"),"
	    "(\"out\",\"/b\",\"\",\"\")]", "[]", "[]", "[]", "[]")),
	    "offset 27: a second output \"out\"" },
	{ "duplicate output, unsorted", B(DRV("[(\"out\",\"/a\",\"\",\"\"),"
	    "(\"dev\",\"/b\",\"\",\"\"),(\"out\",\"/c\",\"\",\"\")]", "[]",
	    "[]", "[]", "[]")), "offset 7: outputs: a second output \"out\"" },
	{ "duplicate input derivation", B(DRV(OUT1, "[(\"" DA "\",[\"out\"]),"
	    "(\"" DA "\",[\"dev\"])]", "[]", "[]", "[]")),
	    "offset 103: a second input derivation \"" DA "\"" },
	{ "duplicate input derivation, unsorted", B(DRV(OUT1,
	    "[(\"" DB "\",[\"out\"]),(\"" DA "\",[\"out\"]),"
	    "(\"" DB "\",[\"out\"])]", "[]", "[]", "[]")),
	    "offset 40: inputDrvs: a second input derivation \"" DB "\"" },
	{ "duplicate output of an input", B(DRV(OUT1,
	    "[(\"" DA "\",[\"out\",\"out\"])]", "[]", "[]", "[]")),
	    "offset 101: a second output name \"out\"" },
	{ "duplicate output of an input, unsorted", B(DRV(OUT1,
	    "[(\"" DA "\",[\"out\",\"dev\",\"out\"])]", "[]", "[]", "[]")),
	    "offset 94: inputDrvs: a second output name \"out\"" },
	{ "duplicate input source", B(DRV(OUT1, "[]", "[\"/a\",\"/a\"]", "[]",
	    "[]")), "offset 49: a second input source \"/a\"" },
	{ "duplicate input source, unsorted", B(DRV(OUT1, "[]",
	    "[\"/b\",\"/a\",\"/b\"]", "[]", "[]")),
	    "offset 43: inputSrcs: a second input source \"/b\"" },
	{ "duplicate env name", B(DRV(OUT1, "[]", "[]", "[]",
	    "[(\"a\",\"1\"),(\"a\",\"2\")]")),
	    "offset 85: a second variable \"a\"" },
	{ "duplicate env name, unsorted", B(DRV(OUT1, "[]", "[]", "[]",
	    "[(\"b\",\"1\"),(\"a\",\"2\"),(\"b\",\"3\")]")),
	    "offset 74: env: a second variable \"b\"" },
	{ "fixed output without a path", B(DRV("[(\"out\",\"\",\"sha256\","
	    "\"abc\")]", "[]", "[]", "[]", "[]")),
	    "offset 8: output \"out\" is fixed-output, yet has no path" },
	{ "floating output with a path", B(DRV("[(\"out\",\"/p\",\"r:sha256\","
	    "\"\")]", "[]", "[]", "[]", "[]")), "offset 8: output \"out\" is "
	    "content-addressed without a hash, yet has a path" },
	{ "impure output with a path", B(DRV("[(\"out\",\"/p\",\"r:sha256\","
	    "\"impure\")]", "[]", "[]", "[]", "[]")), "offset 8: output "
	    "\"out\" is content-addressed without a hash, yet has a path" },
	{ "hash without an algorithm", B(DRV("[(\"out\",\"/p\",\"\",\"abc\")]",
	    "[]", "[]", "[]", "[]")), "offset 8: output \"out\" has a hash but "
	    "no hash algorithm" },
	{ "unknown hash algorithm", B(DRV("[(\"out\",\"/p\",\"sha257\","
	    "\"abc\")]", "[]", "[]", "[]", "[]")), "offset 8: output \"out\": "
	    "unknown hash algorithm \"sha257\"" },
	{ "bare r: hash algorithm", B(DRV("[(\"out\",\"/p\",\"r:\",\"abc\")]",
	    "[]", "[]", "[]", "[]")), "unknown hash algorithm \"r:\"" },
	{ "upper-case hash algorithm", B(DRV("[(\"out\",\"/p\",\"R:SHA256\","
	    "\"abc\")]", "[]", "[]", "[]", "[]")), "unknown hash algorithm" },
};

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

/* ---- required features ---- */

/* A derivation with one output (path or none) and at most one variable. */
static void
fake(struct drv *d, struct drv_output *o, struct drv_env *e, const char *key,
    const char *value, int nopath)
{
	memset(d, 0, sizeof(*d));
	o->name = (char *)"out";
	o->path = (char *)(nopath ? "" : "/nix/store/x-t");
	o->hash_algo = (char *)(nopath ? "r:sha256" : "");
	o->hash = (char *)"";
	d->outputs = o;
	d->noutputs = 1;
	if (key != NULL) {
		e->key = (char *)key;
		e->value = (char *)value;
		d->env = e;
		d->nenv = 1;
	}
}

#define RSF	"requiredSystemFeatures"
static const struct {
	const char	*name;
	const char	*key;		/* RSF, "__json" or NULL */
	const char	*value;
	int		 nopath;	/* output path not known in advance */
	const char	*want;		/* joined by ' '; NULL: must fail */
} features[] = {
	{ "features: none", NULL, NULL, 0, "" },
	{ "features: env, sorted", RSF, "kvm big-parallel", 0,
	    "big-parallel kvm" },
	{ "features: env, any whitespace, duplicates", RSF,
	    "  kvm\tbenchmark\n\r kvm  ", 0, "benchmark kvm" },
	{ "features: env, empty", RSF, "", 0, "" },
	{ "features: floating output adds ca-derivations", NULL, NULL, 1,
	    "ca-derivations" },
	{ "features: ca-derivations once", RSF, "ca-derivations kvm", 1,
	    "ca-derivations kvm" },
	{ "features: json", "__json",
	    "{\"" RSF "\":[\"kvm\",\"big-parallel\"]}", 0, "big-parallel kvm" },
	{ "features: json without them", "__json", "{\"name\":\"x\"}", 0, "" },
	{ "features: json, in an empty object", "__json", "{}", 1,
	    "ca-derivations" },
	{ "features: json, empty list", "__json", "{\"" RSF "\":[]}", 0, "" },
	{ "features: json, not the nested ones", "__json",
	    "{\"a\":{\"" RSF "\":[\"no1\"]},\"b\":[{\"" RSF "\":[\"no2\"]}],"
	    "\"c\":\"\\\"" RSF "\\\":[\\\"no3\\\"]\",\"" RSF "\":[\"yes\"],"
	    "\"d\":[[[{\"e\":[]}]],{}]}", 0, "yes" },
	{ "features: json, the last of two", "__json",
	    "{\"" RSF "\":[\"first\"],\"" RSF "\":[\"second\"]}", 0, "second" },
	{ "features: json, escaped key", "__json",
	    "{\"requiredSystem\\u0046eatures\":[\"kvm\"]}", 0, "kvm" },
	{ "features: json, escapes in names", "__json",
	    "{\"" RSF "\":[\"caf\\u00e9\",\"\\ud83d\\ude80\",\"a\\/b\","
	    "\"t\\tb\",\"q\\\"\\\\\"]}", 0,
	    "a/b caf\xc3\xa9 q\"\\ t\tb \xf0\x9f\x9a\x80" },
	{ "features: json, whitespace everywhere", "__json",
	    " \t\n{ \"" RSF "\" :\r[ \"kvm\" , \"x\" ] , \"n\" : null }\n ", 0,
	    "kvm x" },
	{ "features: json, numbers and literals", "__json",
	    "{\"n\":[0,-0,1.5e10,0.25,-12E-3,1E+2,123456789012345678901234],"
	    "\"l\":[true,false,null],\"" RSF "\":[\"k\"]}", 0, "k" },
	{ "features: json, raw UTF-8", "__json",
	    "{\"u\":\"gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x9a\x80\",\"" RSF
	    "\":[\"\xc3\xa9\"]}", 0, "\xc3\xa9" },
	{ "features: json, NUL elsewhere is fine", "__json",
	    "{\"x\":\"a\\u0000b\",\"" RSF "\":[\"k\"]}", 0, "k" },
	{ "features: json, not a list", "__json", "{\"" RSF "\":\"kvm\"}", 0,
	    NULL },
	{ "features: json, null", "__json", "{\"" RSF "\":null}", 0, NULL },
	{ "features: json, a number in the list", "__json",
	    "{\"" RSF "\":[\"kvm\",1]}", 0, NULL },
	{ "features: json, a list in the list", "__json",
	    "{\"" RSF "\":[[\"kvm\"]]}", 0, NULL },
	{ "features: json, NUL in a feature", "__json",
	    "{\"" RSF "\":[\"a\\u0000b\"]}", 0, NULL },
	{ "json: trailing comma in an object", "__json", "{\"a\":1,}", 0,
	    NULL },
	{ "json: trailing comma in a list", "__json", "{\"a\":[1,]}", 0, NULL },
	{ "json: missing colon", "__json", "{\"a\" 1}", 0, NULL },
	{ "json: missing comma", "__json", "{\"a\":1 \"b\":2}", 0, NULL },
	{ "json: key not a string", "__json", "{a:1}", 0, NULL },
	{ "json: unterminated string", "__json", "{\"a\":\"b}", 0, NULL },
	{ "json: unterminated object", "__json", "{\"a\":1", 0, NULL },
	{ "json: unterminated list", "__json", "{\"a\":[1", 0, NULL },
	{ "json: backslash at the end", "__json", "{\"a\":\"\\", 0, NULL },
	{ "json: unknown escape", "__json", "{\"a\":\"\\x41\"}", 0, NULL },
	{ "json: short \\u", "__json", "{\"a\":\"\\u12\"}", 0, NULL },
	{ "json: bad hex in \\u", "__json", "{\"a\":\"\\u12g4\"}", 0, NULL },
	{ "json: raw control character", "__json", "{\"a\":\"x\ty\"}", 0,
	    NULL },
	{ "json: lone high surrogate", "__json", "{\"a\":\"\\ud800\"}", 0,
	    NULL },
	{ "json: high surrogate then not low", "__json",
	    "{\"a\":\"\\ud800\\u0041\"}", 0, NULL },
	{ "json: lone low surrogate", "__json", "{\"a\":\"\\udc00\"}", 0,
	    NULL },
	{ "json: invalid UTF-8", "__json", "{\"a\":\"\xff\"}", 0, NULL },
	{ "json: overlong UTF-8", "__json", "{\"a\":\"\xc0\x80\"}", 0, NULL },
	{ "json: UTF-8 surrogate", "__json", "{\"a\":\"\xed\xa0\x80\"}", 0,
	    NULL },
	{ "json: UTF-8 cut short", "__json", "{\"a\":\"\xe6\x97\"}", 0, NULL },
	{ "json: leading zero", "__json", "{\"a\":01}", 0, NULL },
	{ "json: bare minus", "__json", "{\"a\":-}", 0, NULL },
	{ "json: dot without digits", "__json", "{\"a\":1.}", 0, NULL },
	{ "json: leading dot", "__json", "{\"a\":.5}", 0, NULL },
	{ "json: exponent without digits", "__json", "{\"a\":1e}", 0, NULL },
	{ "json: plus sign", "__json", "{\"a\":+1}", 0, NULL },
	{ "json: bad literal", "__json", "{\"a\":tru}", 0, NULL },
	{ "json: capitalised literal", "__json", "{\"a\":True}", 0, NULL },
	{ "json: garbage after the object", "__json", "{} x", 0, NULL },
	{ "json: two objects", "__json", "{}{}", 0, NULL },
	{ "json: a list, not an object", "__json", "[]", 0, NULL },
	{ "json: a string, not an object", "__json", "\"x\"", 0, NULL },
	{ "json: empty", "__json", "", 0, NULL },
	{ "json: only whitespace", "__json", " \n", 0, NULL },
};

static int
features_case(size_t t)
{
	struct drv		 d;
	struct drv_output	 o;
	struct drv_env		 e;
	struct strlist		 l;
	char			 got[1024];
	size_t			 i;

	fake(&d, &o, &e, features[t].key, features[t].value,
	    features[t].nopath);
	memset(&l, 0, sizeof(l));
	if (features_required(&d, &l) == -1) {
		if (features[t].want != NULL)
			return no("%s", last_error());
		if (l.n != 0 || l.v != NULL)
			return no("the list is not empty after a failure");
		if (strncmp(last_error(), "derivation: ", 12) != 0)
			return no("message \"%s\"", last_error());
		return 1;
	}
	got[0] = '\0';
	for (i = 0; i < l.n; i++) {
		if (i > 0)
			strlcat(got, " ", sizeof(got));
		strlcat(got, l.v[i], sizeof(got));
	}
	strlist_free(&l);
	if (features[t].want == NULL)
		return no("gave \"%s\", should have failed", got);
	if (strcmp(got, features[t].want) != 0)
		return no("got \"%s\", want \"%s\"", got, features[t].want);
	return 1;
}

/*
 * json.c's own calls on a checked text: members found by name, each
 * value's type, an array stepped through, strings read out of it.
 */
static int
json_api(void)
{
	static const char	 t[] = " { \"s\" : \"x\", \"n\": -1.5e3, "
	    "\"o\": {\"a\": [1]}, \"t\": true, \"f\": false, \"z\": null, "
	    "\"e\": [ ], \"a\": [ \"p\" , [2], \"q\\u00e9\" ], "
	    "\"a\": [\"last\"] } ";
	static const struct {
		const char	*key;
		enum json_type	 type;
	} m[] = {
		{ "s", JSON_STRING }, { "n", JSON_NUMBER }, { "o", JSON_OBJECT },
		{ "t", JSON_TRUE }, { "f", JSON_FALSE }, { "z", JSON_NULL },
		{ "e", JSON_ARRAY }, { "a", JSON_ARRAY }
	};
	char		 err[512], want[64], *s = NULL;
	size_t		 at, pos, len = sizeof(t) - 1, i;

	for (i = 0; i < nitems(m); i++) {
		if (json_find(t, len, m[i].key, &at, err, sizeof(err)) == -1)
			return no("%s", err);
		if (at == SIZE_MAX || json_type(t, len, at) != m[i].type)
			return no("member %s: type %d, want %d", m[i].key,
			    at == SIZE_MAX ? -1 : (int)json_type(t, len, at),
			    (int)m[i].type);
	}
	if (json_find(t, len, "x", &at, err, sizeof(err)) == -1 ||
	    at != SIZE_MAX)
		return no("found a member x");
	if (json_type(t, len, len) != JSON_NONE)
		return no("a type past the end");
	json_find(t, len, "s", &pos, err, sizeof(err));
	if (json_array_next(t, len, &pos) != -1)
		return no("a string stepped through as an array");
	json_find(t, len, "e", &pos, err, sizeof(err));
	if (json_array_next(t, len, &pos) != 0 || t[pos] != ',')
		return no("[ ]: not empty at once");
	/* the first of the two "a": the last is what json_find gives */
	pos = (size_t)(strstr(t, "[ \"p\"") - t);
	if (json_array_next(t, len, &pos) != 1 ||
	    json_string_dup(t, len, &pos, 16, "p", &s, err, sizeof(err)) == -1 ||
	    strcmp(s, "p") != 0)
		return no("first element: %s", s ? s : err);
	free(s);
	s = NULL;
	if (json_array_next(t, len, &pos) != 1 ||
	    json_type(t, len, pos) != JSON_ARRAY)
		return no("second element not an array");
	snprintf(want, sizeof(want), "offset %zu: expected '\"', got '['",
	    (size_t)(strstr(t, "[2]") - t));
	if (json_string_dup(t, len, &pos, 16, "an array", &s, err,
	    sizeof(err)) != -1 || s != NULL || strcmp(err, want) != 0)
		return no("an array read as a string: \"%s\"", err);
	pos += 3;
	snprintf(want, sizeof(want), "offset %zu: q longer than 2 bytes",
	    (size_t)(strstr(t, "\"q") - t));
	if (json_array_next(t, len, &pos) != 1 ||
	    json_string_dup(t, len, &pos, 2, "q", &s, err, sizeof(err)) != -1 ||
	    strcmp(err, want) != 0)
		return no("a long string: \"%s\"", err);
	if (json_string_dup(t, len, &pos, 3, "q", &s, err, sizeof(err)) == -1 ||
	    strcmp(s, "q\xc3\xa9") != 0)
		return no("\\u00e9: %s", err);
	free(s);
	if (json_array_next(t, len, &pos) != 0 || t[pos] != ',')
		return no("the end of the array not seen");
	return 1;
}

/* Nesting: up to the limit, and one more. */
static int
json_depth(int levels, int good)
{
	struct drv		 d;
	struct drv_output	 o;
	struct drv_env		 e;
	struct strlist		 l;
	char			*s;
	int			 i, n = 0, rc;

	if ((s = malloc((size_t)levels * 2 + 16)) == NULL)
		return no("malloc");
	s[n++] = '{';
	s[n++] = '"';
	s[n++] = 'a';
	s[n++] = '"';
	s[n++] = ':';
	for (i = 0; i < levels - 1; i++)
		s[n++] = '[';
	for (i = 0; i < levels - 1; i++)
		s[n++] = ']';
	s[n++] = '}';
	s[n] = '\0';
	fake(&d, &o, &e, "__json", s, 0);
	memset(&l, 0, sizeof(l));
	rc = features_required(&d, &l);
	strlist_free(&l);
	free(s);
	if (good && rc == -1)
		return no("%s", last_error());
	if (!good && rc == 0)
		return no("parsed");
	if (!good && strstr(last_error(), "nested more than") == NULL)
		return no("message \"%s\"", last_error());
	return 1;
}

/* A feature name longer than DRV_NAME_MAX, in the env or in JSON. */
static int
long_feature(int json)
{
	struct drv		 d;
	struct drv_output	 o;
	struct drv_env		 e;
	struct strlist		 l;
	char			 s[DRV_NAME_MAX + 64];
	size_t			 n;
	int			 rc;

	n = (size_t)sprintf(s, json ? "{\"" RSF "\":[\"kvm\",\"" : "kvm ");
	memset(s + n, 'x', DRV_NAME_MAX + 1);
	n += DRV_NAME_MAX + 1;
	strlcpy(s + n, json ? "\"]}" : " big", sizeof(s) - n);
	fake(&d, &o, &e, json ? "__json" : RSF, s, 0);
	memset(&l, 0, sizeof(l));
	rc = features_required(&d, &l);
	strlist_free(&l);
	if (rc == 0)
		return no("parsed");
	if (strstr(last_error(), "longer than 256 bytes") == NULL)
		return no("message \"%s\"", last_error());
	return 1;
}

/* More requiredSystemFeatures than DRV_FEATURES_MAX. */
static int
many_features(int json)
{
	struct drv		 d;
	struct drv_output	 o;
	struct drv_env		 e;
	struct strlist		 l;
	char			*s;
	size_t			 i, n = 0;
	int			 rc;

	if ((s = malloc((DRV_FEATURES_MAX + 1) * 8 + 64)) == NULL)
		return no("malloc");
	if (json)
		n += (size_t)sprintf(s, "{\"" RSF "\":[");
	for (i = 0; i <= DRV_FEATURES_MAX; i++)
		n += (size_t)sprintf(s + n, json ? "%s\"f%04zu\"" : "%sf%04zu",
		    i ? (json ? "," : " ") : "", i);
	if (json)
		sprintf(s + n, "]}");
	fake(&d, &o, &e, json ? "__json" : RSF, s, 0);
	memset(&l, 0, sizeof(l));
	rc = features_required(&d, &l);
	strlist_free(&l);
	free(s);
	if (rc == 0)
		return no("parsed");
	if (strstr(last_error(), "more than 1024 requiredSystemFeatures") == NULL)
		return no("message \"%s\"", last_error());
	return 1;
}

/* ---- drv_name ---- */

#define H32	"6n1nxr2pnbalfx90m7wsxyh2pm0l0cs1"
static const struct {
	const char	*in;
	size_t		 sz;
	const char	*want;		/* NULL: must fail */
} names[] = {
	{ "/nix/store/" H32 "-simple.drv", 256, "simple" },
	{ H32 "-hello-2.12.drv", 256, "hello-2.12" },
	{ "data/drv/" H32 "-a+b_c?=d.drv", 256, "a+b_c?=d" },
	{ "/nix/store/" H32 "-simple.drv", 7, "simple" },
	{ "/nix/store/" H32 "-simple.drv", 6, NULL },
	{ "/nix/store/" H32 "-simple.drv", 0, NULL },
	{ "/nix/store/" H32 "-simple", 256, NULL },
	{ "/nix/store/" H32 "-.drv", 256, NULL },
	{ "/nix/store/" H32 "simple.drv", 256, NULL },
	{ "/nix/store/6n1nxr2pnbalfx90m7wsxyh2pm0l0cs-simple.drv", 256, NULL },
	{ "/nix/store/en1nxr2pnbalfx90m7wsxyh2pm0l0cs1-simple.drv", 256, NULL },
	{ "/nix/store/6N1NXR2PNBALFX90M7WSXYH2PM0L0CS1-simple.drv", 256, NULL },
	{ "/nix/store/" H32 "-sim ple.drv", 256, NULL },
	{ "/nix/store/" H32 "-simple.drv/", 256, NULL },
	{ "", 256, NULL },
};

static int
name_case(size_t t)
{
	char	 out[256];
	int	 rc;

	memset(out, 'X', sizeof(out));
	rc = drv_name(names[t].in, out, names[t].sz);
	if (names[t].want == NULL)
		return rc == -1 ? 1 : no("gave \"%s\"", out);
	if (rc == -1)
		return no("failed");
	if (strcmp(out, names[t].want) != 0)
		return no("got \"%s\"", out);
	return 1;
}

/* ---- drv_read ---- */

static char	 tmpdir[] = "/tmp/drvtest.XXXXXX";

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

	if (mkdtemp(tmpdir) == NULL) {
		no("mkdtemp: %s", strerror(errno));
		report("read: temporary directory", 0);
		return;
	}
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

	snprintf(path, sizeof(path), "rm -rf '%s'", tmpdir);
	if (system(path) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* ---- odds and ends ---- */

static void
misc_tests(void)
{
	static const char	 in[] = DRV(OUT1, "[]", "[]", "[]",
				    "[(\"a\",\"1\"),(\"b\",\"\")]");
	struct drv		 d;
	char			 err[12];

	if (drv_parse(in, sizeof(in) - 1, &d, err, sizeof(err)) == -1)
		no("%s", err);
	else {
		if (drv_env(&d, "a") == NULL || strcmp(drv_env(&d, "a"), "1"))
			no("a");
		if (drv_env(&d, "b") == NULL || strcmp(drv_env(&d, "b"), ""))
			no("b");
		if (drv_env(&d, "c") != NULL || drv_env(&d, "") != NULL)
			no("c");
		if (d.file != NULL)
			no("file set by drv_parse");
		drv_free(&d);
	}
	report("drv_env", 1);

	if (drv_parse(B("Derive(["), &d, err, sizeof(err)) == 0 ||
	    strlen(err) != sizeof(err) - 1 || strncmp(err, "offset 8: ", 10))
		no("err \"%s\"", err);
	report("a small error buffer is filled and terminated", 1);
	if (drv_parse(B("Derive(["), &d, NULL, 0) == 0)
		no("parsed");
	report("no error buffer at all", empty(&d));
	memset(&d, 0, sizeof(d));
	drv_free(&d);
	report("drv_free of an empty struct", 1);
}

int
main(void)
{
	size_t	 i;
	char	 name[128];

	errors_capture();
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (i = 0; i < nitems(goldens); i++) {
		snprintf(name, sizeof(name), "golden %s", goldens[i]);
		report(name, golden(goldens[i]));
	}
	for (i = 0; i < nitems(goldens); i++) {
		snprintf(name, sizeof(name), "every prefix of %s fails",
		    goldens[i]);
		report(name, truncated(goldens[i]));
	}
	for (i = 0; i < nitems(goldens); i++) {
		snprintf(name, sizeof(name), "one-byte changes to %s",
		    goldens[i]);
		report(name, mutated(goldens[i]));
	}
	for (i = 0; i < nitems(strings); i++)
		report(strings[i].name, string_case(i));
	for (i = 0; i < nitems(goods); i++)
		report(goods[i].name, parse_ok(goods[i].in, goods[i].len,
		    goods[i].want));
	for (i = 0; i < nitems(bads); i++)
		report(bads[i].name, parse_bad(bads[i].in, bads[i].len,
		    bads[i].err));

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

	for (i = 0; i < nitems(features); i++)
		report(features[i].name, features_case(i));
	report("json: find, types, arrays, strings", json_api());
	report("json: nested 128 deep", json_depth(JSON_DEPTH_MAX, 1));
	report("json: nested 129 deep", json_depth(JSON_DEPTH_MAX + 1, 0));
	report("features: env, a name over DRV_NAME_MAX", long_feature(0));
	report("features: json, a name over DRV_NAME_MAX", long_feature(1));
	report("features: env, over DRV_FEATURES_MAX", many_features(0));
	report("features: json, over DRV_FEATURES_MAX", many_features(1));
	for (i = 0; i < nitems(names); i++) {
		snprintf(name, sizeof(name), "drv_name(\"%.60s\", %zu)",
		    names[i].in, names[i].sz);
		report(name, name_case(i));
	}
	read_tests();
	misc_tests();

	return done();
}
