/*
 * Unit tests for src/drv.c: the .drv (ATerm) parser on hand-written text
 * (every escape, whole derivations that parse and those that do not, with
 * their messages), and on the golden derivations of the real Nix; drv_env,
 * drv_name, drv_free.  The limits, and drv_read's refusals of files, are
 * in t_drv_limits.c; required features and structured attrs in
 * t_features.c.
 *
 * Run from tests/: the golden derivations are data/drv/NAME.drv, written by
 * the real Nix 2.8, and data/drv/NAME.expect says what `nix
 * show-derivation` makes of them (data/drv/gen.sh makes both).  Every
 * truncation and many one-byte mutations of each golden file must fail
 * cleanly or parse; run this under valgrind or ASan to make that mean
 * something.
 */
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

/* ---- the hash of a derivation's outputs ---- */

/* The realisation id Nix 2.8 registered for floating-x1's output. */
#define FLOATING_X1 \
	"c8fdc8d5aee2eaf751a90732736ae2f39dbd8007e34801ff2bf9b15663798fec"

static int
read_drv(const char *name, struct drv *d)
{
	char	 path[256], err[256], *buf;
	size_t	 len;
	int	 rc;

	snprintf(path, sizeof(path), "data/drv/%s.drv", name);
	if ((buf = slurp(path, &len)) == NULL)
		return -1;
	rc = drv_parse(buf, len, d, err, sizeof(err));
	free(buf);
	if (rc == -1)
		no("%s: %s", name, err);
	return rc;
}

/*
 * An input-addressed derivation with no input derivations: each output's
 * path is made of the same hash (as "output:NAME"), so the .drv Nix wrote
 * checks the ATerm we hash, escapes and all.
 */
static int
modulo_paths(const char *name)
{
	struct drv	 d;
	unsigned char	 md[SHA256_LEN];
	char		 hex[65], path[512], oname[256];
	const char	*dn;
	size_t		 i;
	int		 ok = 1;

	if (read_drv(name, &d) == -1)
		return 0;
	if (drv_hash_modulo(&d, hex) == -1 ||
	    hash_hex_decode(hex, SHA256_LEN, md) == -1)
		ok = no("no hash");
	dn = drv_env(&d, "name");
	for (i = 0; ok && i < d.noutputs; i++) {
		snprintf(oname, sizeof(oname), "%s%s%s", dn, strcmp(
		    d.outputs[i].name, "out") ? "-" : "", strcmp(
		    d.outputs[i].name, "out") ? d.outputs[i].name : "");
		snprintf(path, sizeof(path), "output:%s", d.outputs[i].name);
		if (path_make(STORE_DIR, path, md, oname, path,
		    sizeof(path)) == -1 || strcmp(path, d.outputs[i].path))
			ok = no("%s: made %s, the .drv says %s",
			    d.outputs[i].name, path, d.outputs[i].path);
	}
	drv_free(&d);
	return ok;
}

static void
modulo_tests(void)
{
	static const char *const ia[] = { "simple", "escapes", "multi" };
	struct drv	 d;
	char		 hex[65];
	size_t		 i;

	for (i = 0; i < nitems(ia); i++) {
		char	 name[128];
		snprintf(name, sizeof(name), "drv_hash_modulo makes the "
		    "output paths of %s", ia[i]);
		report(name, modulo_paths(ia[i]));
	}
	if (read_drv("floating-x1", &d) == 0) {
		if (drv_hash_modulo(&d, hex) == -1 ||
		    strcmp(hex, FLOATING_X1) != 0)
			no("got %s", hex);
		drv_free(&d);
	}
	report("drv_hash_modulo of a floating derivation is Nix's "
	    "realisation id", 1);
	if (read_drv("deps", &d) == 0) {
		if (d.ninputs == 0)
			no("deps has no input derivations");
		else if (drv_hash_modulo(&d, hex) != -1)
			no("hashed a derivation with input derivations");
		drv_free(&d);
	}
	report("drv_hash_modulo refuses input derivations", 1);
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

	/* messages are checked through last_error(), not printed */
	errors_capture();

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
	for (i = 0; i < nitems(names); i++) {
		snprintf(name, sizeof(name), "drv_name(\"%.60s\", %zu)",
		    names[i].in, names[i].sz);
		report(name, name_case(i));
	}
	modulo_tests();
	misc_tests();
	return done();
}
