/*
 * .drv files: a derivation as Nix stores it, in ATerm form (spec section 4).
 * One line, no whitespace between tokens, no newline at the end:
 *
 *	drv     = "Derive(" list(output) "," list(input) "," list(PATH) ","
 *	          STRING "," STRING "," list(STRING) "," list(env) ")"
 *	list(x) = "[" [ x { "," x } ] "]"
 *	output  = "(" NAME "," PATH-or-"" "," HASHALGO "," HASH ")"
 *	input   = "(" PATH "," list(NAME) ")"
 *	env     = "(" STRING "," STRING ")"
 *	STRING  = '"' { any byte but '"' and '\' | '\' any byte } '"'
 *
 * The parts are outputs, inputDrvs, inputSrcs, platform, builder, args and
 * env.  In a STRING, \n \r \t are LF, CR and TAB and \X is X for any other
 * X; Nix escapes only " \ LF CR TAB and writes every other byte raw.
 *
 * Stricter than Nix's own reader, on purpose:
 * - commas go between items only (Nix also takes "[,a" and "[a""b");
 * - no byte may follow the final ')';
 * - NUL is refused anywhere in a string, raw or escaped: the structure holds
 *   C strings, and no Nix evaluator can make a string containing NUL;
 * - duplicate output names, inputDrvs, output names of one inputDrv,
 *   inputSrcs and env names are errors (Nix would keep one silently);
 * - an inputDrv must be a store derivation, STORE_DIR/<hash>-<name>.drv
 *   (Nix: any store path): build.c opens it next, and a .drv from
 *   elsewhere must not make us open just any file;
 * - a derivation needs at least one output, output names are not empty,
 *   and an output's path, hash algorithm and hash must agree: fixed
 *   (path, algo, hash), floating or impure (no path, algo, "" or "impure"),
 *   input-addressed (path) or deferred (nothing).
 * Order is not checked: Nix writes every list but args sorted, and reads
 * any order.  The structure keeps the file's order.
 *
 * DrvWithVersion(...), the form newer Nix writes for dynamic derivations,
 * is refused with a message that says so.  Hash algorithms are those Nix
 * writes, "text:" and blake3 included, so that a newer Nix's fixed outputs
 * pass; the hash itself is left to the builder's Nix.
 *
 * Every count and length has a cap, DRV_*_MAX in extern.h.  An error is one
 * line naming the byte offset, what was expected and what came:
 * "offset 123: expected ',' or ']' in inputSrcs, got 'x'".
 *
 * Structured attrs (__structuredAttrs = true) put every attribute in the
 * JSON text of the env entry "__json"; json.c checks the whole text and
 * finds top-level members in it.  Its errors name offsets in that text.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

struct parser {
	const char	*b;
	size_t		 len;
	size_t		 pos;
	const char	*in;		/* "in outputs", "after env" */
	char		*err;
	size_t		 errsz;
};

static int	 fail(struct parser *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* The byte at pos for a message: 'x', '\x01', or eof. */
static const char *
shown(const char *b, size_t len, size_t pos, const char *eof, char *out,
    size_t sz)
{
	char	 t[8];

	if (pos >= len) {
		strlcpy(out, eof, sz);
		return out;
	}
	text_printable(b + pos, 1, t, sizeof(t));
	snprintf(out, sz, "'%s'", t);
	return out;
}

/* Record "offset AT: message"; the first failure is the one that counts. */
static int
fail(struct parser *p, size_t at, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (p->err[0] != '\0')
		return -1;
	n = snprintf(p->err, p->errsz, "offset %zu: ", at);
	if (n < 0 || (size_t)n >= p->errsz)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errsz - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
expect(struct parser *p, char c)
{
	char	 got[16];

	if (p->pos < p->len && p->b[p->pos] == c) {
		p->pos++;
		return 0;
	}
	return fail(p, p->pos, "expected '%c' %s, got %s", c, p->in,
	    shown(p->b, p->len, p->pos, "end of file", got, sizeof(got)));
}

/* "[": is there an item before the "]"? */
static int
list_begin(struct parser *p, int *more)
{
	if (expect(p, '[') == -1)
		return -1;
	*more = 1;
	if (p->pos < p->len && p->b[p->pos] == ']') {
		p->pos++;
		*more = 0;
	}
	return 0;
}

/* After an item: "," and another one, or "]" and the end. */
static int
list_next(struct parser *p, int *more)
{
	char	 got[16];

	if (p->pos < p->len && (p->b[p->pos] == ',' || p->b[p->pos] == ']')) {
		*more = p->b[p->pos++] == ',';
		return 0;
	}
	return fail(p, p->pos, "expected ',' or ']' %s, got %s", p->in,
	    shown(p->b, p->len, p->pos, "end of file", got, sizeof(got)));
}

/*
 * A quoted string, decoded into a new C string at *out.  what names it for
 * messages ("an output path"); max is its longest decoded length.
 */
static int
string(struct parser *p, const char *what, size_t max, char **out)
{
	size_t	 start = p->pos, i, n = 0;
	char	*s, *o, got[16];

	*out = NULL;
	if (p->pos >= p->len || p->b[p->pos] != '"')
		return fail(p, p->pos, "expected '\"' starting %s %s, got %s",
		    what, p->in, shown(p->b, p->len, p->pos, "end of file",
		    got, sizeof(got)));
	for (i = start + 1; i < p->len && p->b[i] != '"'; i++, n++) {
		if (p->b[i] == '\\' && ++i == p->len)
			break;
		if (p->b[i] == '\0')
			return fail(p, i, "a NUL byte in %s", what);
		if (n == max)
			return fail(p, start, "%s longer than %zu bytes",
			    what, max);
	}
	if (i >= p->len)
		return fail(p, p->len, "expected '\"' ending %s (which starts "
		    "at offset %zu), got end of file", what, start);
	if ((s = malloc(n + 1)) == NULL)
		return fail(p, start, "out of memory");
	for (i = start + 1, o = s; p->b[i] != '"'; i++) {
		if (p->b[i] != '\\') {
			*o++ = p->b[i];
			continue;
		}
		switch (p->b[++i]) {
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		default:
			*o++ = p->b[i];
			break;
		}
	}
	*o = '\0';
	p->pos = i + 1;
	*out = s;
	return 0;
}

/* A string that must be an absolute path ("" too if may_be_empty). */
static int
path(struct parser *p, const char *what, int may_be_empty, char **out)
{
	size_t	 start = p->pos;
	char	 t[80];

	if (string(p, what, DRV_PATH_MAX, out) == -1)
		return -1;
	if ((*out)[0] == '/' || (may_be_empty && (*out)[0] == '\0'))
		return 0;
	fail(p, start, "%s must be an absolute path, got \"%s\"", what,
	    text_printable(*out, strlen(*out), t, sizeof(t)));
	free(*out);
	*out = NULL;
	return -1;
}

/* Append s, which the list now owns (it is freed on failure). */
static int
push(struct parser *p, struct strlist *l, char *s)
{
	char	**v;
	size_t	  na;

	if (l->n == l->nalloc) {
		na = l->nalloc ? l->nalloc * 2 : 8;
		if ((v = reallocarray(l->v, na, sizeof(*v))) == NULL) {
			free(s);
			return fail(p, p->pos, "out of memory");
		}
		l->v = v;
		l->nalloc = na;
	}
	l->v[l->n++] = s;
	return 0;
}

static void
list_free(struct strlist *l)
{
	if (l != NULL) {
		strlist_free(l);
		free(l);
	}
}

/* Room for item n of an array of nalloc items of size bytes each. */
static void *
grow(void *v, size_t n, size_t *nalloc, size_t size)
{
	void	*nv;
	size_t	 na;

	if (n < *nalloc)
		return v;
	na = *nalloc ? *nalloc * 2 : 8;
	if ((nv = reallocarray(v, na, size)) == NULL)
		return NULL;
	*nalloc = na;
	return nv;
}

/*
 * Duplicate names.  Nix writes lists sorted, so each name is compared with
 * the one before it as it is read (see order()): a duplicate in a sorted
 * list is found there, at its own offset.  An unsorted list is checked
 * once complete by sorting a copy of its names, and a duplicate is then
 * reported at the start of the list.
 */
static int
order(struct parser *p, size_t at, const char *prev, const char *cur,
    const char *what, int *sorted)
{
	int	 c;
	char	 t[80];

	if (prev == NULL)
		return 0;
	if ((c = strcmp(prev, cur)) == 0)
		return fail(p, at, "a second %s \"%s\"", what,
		    text_printable(cur, strlen(cur), t, sizeof(t)));
	if (c > 0)
		*sorted = 0;
	return 0;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
unique(struct parser *p, size_t at, const char **names, size_t n,
    const char *what, const char *in)
{
	size_t	 i;
	char	 t[80];

	qsort(names, n, sizeof(*names), cmp);
	for (i = 1; i < n; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			return fail(p, at, "%s: a second %s \"%s\"", in, what,
			    text_printable(names[i], strlen(names[i]), t,
			    sizeof(t)));
	return 0;
}

static int
unique_strings(struct parser *p, size_t at, const struct strlist *l,
    const char *what, const char *in)
{
	const char	**names;
	int		  rc;

	if ((names = reallocarray(NULL, l->n, sizeof(*names))) == NULL)
		return fail(p, at, "out of memory");
	memcpy(names, l->v, l->n * sizeof(*names));
	rc = unique(p, at, names, l->n, what, in);
	free(names);
	return rc;
}

static void
output_free(struct drv_output *o)
{
	free(o->name);
	free(o->path);
	free(o->hash_algo);
	free(o->hash);
}

/* Is a [r:|text:](md5|sha1|sha256|sha512|blake3), as Nix writes them? */
static int
hash_algo_valid(const char *a)
{
	static const char	*const names[] = {
		"md5", "sha1", "sha256", "sha512", "blake3"
	};
	size_t			 i;

	if (strncmp(a, "r:", 2) == 0)
		a += 2;
	else if (strncmp(a, "text:", 5) == 0)
		a += 5;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(a, names[i]) == 0)
			return 1;
	return 0;
}

/* Do an output's path, hash algorithm and hash make sense together? */
static int
output_check(struct parser *p, size_t at, const struct drv_output *o)
{
	char	 t[80];

	if (o->name[0] == '\0')
		return fail(p, at, "an output with an empty name");
	text_printable(o->name, strlen(o->name), t, sizeof(t));
	if (o->hash_algo[0] == '\0') {
		if (o->hash[0] != '\0')
			return fail(p, at, "output \"%s\" has a hash but no "
			    "hash algorithm", t);
		return 0;
	}
	if (!hash_algo_valid(o->hash_algo)) {
		char	 a[80];
		return fail(p, at, "output \"%s\": unknown hash algorithm "
		    "\"%s\"", t, text_printable(o->hash_algo,
		    strlen(o->hash_algo), a, sizeof(a)));
	}
	if (o->hash[0] == '\0' || strcmp(o->hash, "impure") == 0) {
		if (o->path[0] != '\0')
			return fail(p, at, "output \"%s\" is content-addressed "
			    "without a hash, yet has a path", t);
		return 0;
	}
	if (o->path[0] == '\0')
		return fail(p, at, "output \"%s\" is fixed-output, yet has no "
		    "path", t);
	return 0;
}

static int
output(struct parser *p, struct drv_output *o)
{
	size_t	 at = p->pos;

	memset(o, 0, sizeof(*o));
	if (expect(p, '(') == -1 ||
	    string(p, "an output name", DRV_NAME_MAX, &o->name) == -1 ||
	    expect(p, ',') == -1 ||
	    path(p, "an output path", 1, &o->path) == -1 ||
	    expect(p, ',') == -1 ||
	    string(p, "a hash algorithm", DRV_NAME_MAX, &o->hash_algo) == -1 ||
	    expect(p, ',') == -1 ||
	    string(p, "a hash", DRV_NAME_MAX, &o->hash) == -1 ||
	    expect(p, ')') == -1 ||
	    output_check(p, at, o) == -1) {
		output_free(o);
		return -1;
	}
	return 0;
}

static int
outputs(struct parser *p, struct drv *d)
{
	struct drv_output	 o, *v;
	size_t			 start = p->pos, at, nalloc = 0, i;
	const char		**names, *prev;
	int			 more, sorted = 1, rc;

	p->in = "in outputs";
	if (list_begin(p, &more) == -1)
		return -1;
	while (more) {
		at = p->pos;
		if (d->noutputs == DRV_OUTPUTS_MAX)
			return fail(p, at, "more than %zu outputs",
			    (size_t)DRV_OUTPUTS_MAX);
		if (output(p, &o) == -1)
			return -1;
		prev = d->noutputs ? d->outputs[d->noutputs - 1].name : NULL;
		if (order(p, at, prev, o.name, "output", &sorted) == -1) {
			output_free(&o);
			return -1;
		}
		if ((v = grow(d->outputs, d->noutputs, &nalloc,
		    sizeof(*v))) == NULL) {
			output_free(&o);
			return fail(p, at, "out of memory");
		}
		d->outputs = v;
		d->outputs[d->noutputs++] = o;
		if (list_next(p, &more) == -1)
			return -1;
	}
	if (d->noutputs == 0)
		return fail(p, start, "a derivation without outputs");
	if (sorted)
		return 0;
	if ((names = reallocarray(NULL, d->noutputs, sizeof(*names))) == NULL)
		return fail(p, start, "out of memory");
	for (i = 0; i < d->noutputs; i++)
		names[i] = d->outputs[i].name;
	rc = unique(p, start, names, d->noutputs, "output", "outputs");
	free(names);
	return rc;
}

static void
input_free(struct drv_input *in)
{
	free(in->path);
	list_free(in->outputs);
}

static int
input(struct parser *p, struct drv_input *in)
{
	size_t	 start, at;
	char	*s, t[80];
	int	 more, sorted = 1;

	memset(in, 0, sizeof(*in));
	if ((in->outputs = calloc(1, sizeof(*in->outputs))) == NULL) {
		fail(p, p->pos, "out of memory");
		goto bad;
	}
	if (expect(p, '(') == -1)
		goto bad;
	at = p->pos;
	if (path(p, "an input derivation path", 0, &in->path) == -1)
		goto bad;
	/* we open it next: it must not name just any file */
	if (!drv_path_valid(in->path)) {
		fail(p, at, "an input derivation must be a .drv in %s, "
		    "got \"%s\"", STORE_DIR, text_printable(in->path,
		    strlen(in->path), t, sizeof(t)));
		goto bad;
	}
	if (expect(p, ',') == -1)
		goto bad;
	start = p->pos;
	if (list_begin(p, &more) == -1)
		goto bad;
	while (more) {
		at = p->pos;
		if (in->outputs->n == DRV_OUTPUTS_MAX) {
			fail(p, at, "more than %zu outputs of one input "
			    "derivation", (size_t)DRV_OUTPUTS_MAX);
			goto bad;
		}
		if (string(p, "an output name", DRV_NAME_MAX, &s) == -1)
			goto bad;
		if (s[0] == '\0') {
			free(s);
			fail(p, at, "an empty output name");
			goto bad;
		}
		if (order(p, at, in->outputs->n ?
		    in->outputs->v[in->outputs->n - 1] : NULL, s,
		    "output name", &sorted) == -1) {
			free(s);
			goto bad;
		}
		if (push(p, in->outputs, s) == -1 ||
		    list_next(p, &more) == -1)
			goto bad;
	}
	if (!sorted && unique_strings(p, start, in->outputs, "output name",
	    "inputDrvs") == -1)
		goto bad;
	if (expect(p, ')') == -1)
		goto bad;
	return 0;
bad:
	input_free(in);
	return -1;
}

static int
inputs(struct parser *p, struct drv *d)
{
	struct drv_input	 in, *v;
	size_t			 start = p->pos, at, nalloc = 0, i;
	const char		**names;
	int			 more, sorted = 1, rc;

	p->in = "in inputDrvs";
	if (list_begin(p, &more) == -1)
		return -1;
	while (more) {
		at = p->pos;
		if (d->ninputs == DRV_INPUTS_MAX)
			return fail(p, at, "more than %zu input derivations",
			    (size_t)DRV_INPUTS_MAX);
		if (input(p, &in) == -1)
			return -1;
		if (order(p, at, d->ninputs ? d->inputs[d->ninputs - 1].path :
		    NULL, in.path, "input derivation", &sorted) == -1) {
			input_free(&in);
			return -1;
		}
		if ((v = grow(d->inputs, d->ninputs, &nalloc,
		    sizeof(*v))) == NULL) {
			input_free(&in);
			return fail(p, at, "out of memory");
		}
		d->inputs = v;
		d->inputs[d->ninputs++] = in;
		if (list_next(p, &more) == -1)
			return -1;
	}
	if (sorted)
		return 0;
	if ((names = reallocarray(NULL, d->ninputs, sizeof(*names))) == NULL)
		return fail(p, start, "out of memory");
	for (i = 0; i < d->ninputs; i++)
		names[i] = d->inputs[i].path;
	rc = unique(p, start, names, d->ninputs, "input derivation",
	    "inputDrvs");
	free(names);
	return rc;
}

static int
srcs(struct parser *p, struct drv *d)
{
	size_t		 start = p->pos, at;
	const char	*prev;
	char		*s;
	int		 more, sorted = 1;

	p->in = "in inputSrcs";
	if (list_begin(p, &more) == -1)
		return -1;
	while (more) {
		at = p->pos;
		if (d->srcs->n == DRV_INPUTS_MAX)
			return fail(p, at, "more than %zu input sources",
			    (size_t)DRV_INPUTS_MAX);
		if (path(p, "an input source", 0, &s) == -1)
			return -1;
		prev = d->srcs->n ? d->srcs->v[d->srcs->n - 1] : NULL;
		if (order(p, at, prev, s, "input source", &sorted) == -1) {
			free(s);
			return -1;
		}
		if (push(p, d->srcs, s) == -1 || list_next(p, &more) == -1)
			return -1;
	}
	if (!sorted)
		return unique_strings(p, start, d->srcs, "input source",
		    "inputSrcs");
	return 0;
}

static int
args(struct parser *p, struct drv *d)
{
	char	*s;
	int	 more;

	p->in = "in args";
	if (list_begin(p, &more) == -1)
		return -1;
	while (more) {
		if (d->args->n == DRV_ARGS_MAX)
			return fail(p, p->pos, "more than %zu arguments",
			    (size_t)DRV_ARGS_MAX);
		if (string(p, "an argument", DRV_STRING_MAX, &s) == -1 ||
		    push(p, d->args, s) == -1 ||
		    list_next(p, &more) == -1)
			return -1;
	}
	return 0;
}

static int
env(struct parser *p, struct drv *d)
{
	struct drv_env	 e, *v;
	size_t		 start = p->pos, at, nalloc = 0, i;
	const char	**names;
	int		 more, sorted = 1, rc;

	p->in = "in env";
	if (list_begin(p, &more) == -1)
		return -1;
	while (more) {
		at = p->pos;
		if (d->nenv == DRV_ENV_MAX)
			return fail(p, at, "more than %zu environment "
			    "variables", (size_t)DRV_ENV_MAX);
		memset(&e, 0, sizeof(e));
		if (expect(p, '(') == -1 ||
		    string(p, "a variable name", DRV_STRING_MAX,
		    &e.key) == -1 ||
		    expect(p, ',') == -1 ||
		    string(p, "a variable value", DRV_STRING_MAX,
		    &e.value) == -1 ||
		    expect(p, ')') == -1 ||
		    order(p, at, d->nenv ? d->env[d->nenv - 1].key : NULL,
		    e.key, "variable", &sorted) == -1) {
			free(e.key);
			free(e.value);
			return -1;
		}
		if ((v = grow(d->env, d->nenv, &nalloc, sizeof(*v))) == NULL) {
			free(e.key);
			free(e.value);
			return fail(p, at, "out of memory");
		}
		d->env = v;
		d->env[d->nenv++] = e;
		if (list_next(p, &more) == -1)
			return -1;
	}
	if (sorted)
		return 0;
	if ((names = reallocarray(NULL, d->nenv, sizeof(*names))) == NULL)
		return fail(p, start, "out of memory");
	for (i = 0; i < d->nenv; i++)
		names[i] = d->env[i].key;
	rc = unique(p, start, names, d->nenv, "variable", "env");
	free(names);
	return rc;
}

/*
 * Parse the .drv text buf[0..len) into d.  Returns 0, with d to be freed by
 * drv_free(); or -1 with d empty and a one-line message in err, "offset N:
 * expected '\"' ..., got 'x'".  Prints nothing.
 */
int
drv_parse(const char *buf, size_t len, struct drv *d, char *err, size_t errsz)
{
	static const char	 derive[] = "Derive(";
	static const char	 versioned[] = "DrvWithVersion(";
	struct parser		 p;
	char			 dummy[1], got[96];

	memset(d, 0, sizeof(*d));
	memset(&p, 0, sizeof(p));
	p.b = buf;
	p.len = len;
	p.err = errsz > 0 ? err : dummy;
	p.errsz = errsz > 0 ? errsz : sizeof(dummy);
	p.err[0] = '\0';

	if (len > DRV_FILE_MAX) {
		snprintf(p.err, p.errsz, "%zu bytes, over the limit of %zu "
		    "for a derivation", len, (size_t)DRV_FILE_MAX);
		return -1;
	}
	if (len >= sizeof(versioned) - 1 &&
	    memcmp(buf, versioned, sizeof(versioned) - 1) == 0) {
		fail(&p, 0, "a DrvWithVersion derivation (dynamic derivations, "
		    "from a newer Nix): only Derive(...) is supported");
		return -1;
	}
	if (len < sizeof(derive) - 1 ||
	    memcmp(buf, derive, sizeof(derive) - 1) != 0) {
		if (len == 0)
			strlcpy(got, "end of file", sizeof(got));
		else {
			char	 t[72];
			text_printable(buf, len < 16 ? len : 16, t, sizeof(t));
			snprintf(got, sizeof(got), "\"%s%s\"", t,
			    len > 16 ? "..." : "");
		}
		fail(&p, 0, "expected \"Derive(\", got %s", got);
		return -1;
	}
	p.pos = sizeof(derive) - 1;
	if ((d->srcs = calloc(1, sizeof(*d->srcs))) == NULL ||
	    (d->args = calloc(1, sizeof(*d->args))) == NULL) {
		fail(&p, 0, "out of memory");
		goto bad;
	}

	if (outputs(&p, d) == -1)
		goto bad;
	p.in = "after outputs";
	if (expect(&p, ',') == -1 || inputs(&p, d) == -1)
		goto bad;
	p.in = "after inputDrvs";
	if (expect(&p, ',') == -1 || srcs(&p, d) == -1)
		goto bad;
	p.in = "after inputSrcs";
	if (expect(&p, ',') == -1)
		goto bad;
	if (string(&p, "the platform", DRV_NAME_MAX, &d->platform) == -1)
		goto bad;
	p.in = "after the platform";
	if (expect(&p, ',') == -1)
		goto bad;
	if (string(&p, "the builder", DRV_STRING_MAX, &d->builder) == -1)
		goto bad;
	p.in = "after the builder";
	if (expect(&p, ',') == -1 || args(&p, d) == -1)
		goto bad;
	p.in = "after args";
	if (expect(&p, ',') == -1 || env(&p, d) == -1)
		goto bad;
	p.in = "after env";
	if (expect(&p, ')') == -1)
		goto bad;
	if (p.pos != len) {
		fail(&p, p.pos, "expected the end of the file after the "
		    "derivation, got %s", shown(buf, len, p.pos, "", got,
		    sizeof(got)));
		goto bad;
	}
	return 0;
bad:
	drv_free(d);
	return -1;
}

/*
 * Is p a store derivation's path, "STORE_DIR/<hash>-<name>.drv"?  Only the
 * name: nothing is opened.
 */
int
drv_path_valid(const char *p)
{
	size_t	 n = strlen(p);

	return n > 4 && strcmp(p + n - 4, ".drv") == 0 &&
	    path_valid(STORE_DIR, p);
}

/*
 * Read and parse the .drv file at path into d (see drv_parse).  Only a
 * regular file is read: a FIFO, a device or a socket is refused without
 * waiting on it, and so is a symlink as the last component (a store
 * derivation is never one).  Returns 0, or -1 with the error reported
 * once, "PATH: offset N: ...", and d empty.  d->file is a copy of path,
 * for later messages.
 */
int
drv_read(const char *path, struct drv *d)
{
	struct stat	 st;
	char		*buf = NULL, *nb, err[DRV_ERR_MAX], file[PATH_MAX_LEN];
	size_t		 len = 0, cap, ncap;
	ssize_t		 r;
	int		 fd, rc = -1;

	memset(d, 0, sizeof(*d));
	/* O_NONBLOCK: opening a FIFO with no writer must not hang; in a
	 * store at another root, its file is under that root */
	if ((fd = open(store_file(path, file, sizeof(file)), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW |
	    O_NOCTTY)) == -1) {
		if (errno == ELOOP)
			log_errx("%s: a symbolic link, not a derivation file",
			    path);
		else
			log_err("%s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_err("%s", path);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		log_err("%s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		log_errx("%s: not a regular file (a %s), not a derivation",
		    path, S_ISFIFO(st.st_mode) ? "FIFO" : S_ISSOCK(st.st_mode) ?
		    "socket" : "device");
		goto out;
	}
	if (st.st_size > (off_t)DRV_FILE_MAX) {
		log_errx("%s: larger than the limit of %zu bytes for a "
		    "derivation", path, (size_t)DRV_FILE_MAX);
		goto out;
	}
	cap = (size_t)st.st_size + 1;
	if ((buf = malloc(cap)) == NULL) {
		log_err("%s", path);
		goto out;
	}
	for (;;) {
		if (len == cap) {
			if (cap > DRV_FILE_MAX) {
				log_errx("%s: larger than the limit of %zu "
				    "bytes for a derivation", path,
				    (size_t)DRV_FILE_MAX);
				goto out;
			}
			ncap = cap > DRV_FILE_MAX / 2 ? DRV_FILE_MAX + 1 :
			    cap * 2;
			if ((nb = realloc(buf, ncap)) == NULL) {
				log_err("%s", path);
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		if ((r = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			log_err("%s", path);
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (drv_parse(buf, len, d, err, sizeof(err)) == -1) {
		log_errx("%s: %s", path, err);
		goto out;
	}
	if ((d->file = strdup(path)) == NULL) {
		log_err("%s", path);
		drv_free(d);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Free what drv_parse or drv_read put in d, and empty it. */
void
drv_free(struct drv *d)
{
	size_t	 i;

	for (i = 0; i < d->noutputs; i++)
		output_free(&d->outputs[i]);
	free(d->outputs);
	for (i = 0; i < d->ninputs; i++)
		input_free(&d->inputs[i]);
	free(d->inputs);
	list_free(d->srcs);
	free(d->platform);
	free(d->builder);
	list_free(d->args);
	for (i = 0; i < d->nenv; i++) {
		free(d->env[i].key);
		free(d->env[i].value);
	}
	free(d->env);
	free(d->file);
	memset(d, 0, sizeof(*d));
}

/* The output called name, or NULL. */
const struct drv_output *
drv_output(const struct drv *d, const char *name)
{
	size_t	 i;

	for (i = 0; i < d->noutputs; i++)
		if (strcmp(d->outputs[i].name, name) == 0)
			return &d->outputs[i];
	return NULL;
}

/* The value of the environment variable key, or NULL. */
const char *
drv_env(const struct drv *d, const char *key)
{
	size_t	 i;

	for (i = 0; i < d->nenv; i++)
		if (strcmp(d->env[i].key, key) == 0)
			return d->env[i].value;
	return NULL;
}

/*
 * The name of a derivation from its path: "hello-2.12" for
 * /nix/store/<hash>-hello-2.12.drv, in any directory.  Copies it into out;
 * returns 0, or -1 when the last component is not "<32 nix32 characters>-
 * <valid name>.drv" or the name does not fit in sz.  Prints nothing.
 */
int
drv_name(const char *drvpath, char *out, size_t sz)
{
	static const char	 nix32[] = "0123456789abcdfghijklmnpqrsvwxyz";
	const char		*b;
	size_t			 n, i;

	b = strrchr(drvpath, '/');
	b = b != NULL ? b + 1 : drvpath;
	n = strlen(b);
	if (n < 32 + 1 + 1 + 4)
		return -1;
	for (i = 0; i < 32; i++)
		if (strchr(nix32, b[i]) == NULL)
			return -1;
	if (b[32] != '-' || strcmp(b + n - 4, ".drv") != 0 ||
	    !path_name_valid(b + 33, n - 33))
		return -1;
	n -= 33 + 4;
	if (n >= sz)
		return -1;
	memcpy(out, b + 33, n);
	out[n] = '\0';
	return 0;
}

/* s as an ATerm string, as Nix writes it in a .drv, into h. */
static void
aterm_string(struct sha256 *h, const char *s)
{
	size_t	 n;

	sha256_update(h, "\"", 1);
	for (;;) {
		n = strcspn(s, "\"\\\n\r\t");
		sha256_update(h, s, n);
		s += n;
		if (*s == '\0')
			break;
		sha256_update(h, "\\", 1);
		sha256_update(h, *s == '\n' ? "n" : *s == '\r' ? "r" :
		    *s == '\t' ? "t" : s, 1);
		s++;
	}
	sha256_update(h, "\"", 1);
}

static void
aterm_strings(struct sha256 *h, const struct strlist *l)
{
	size_t	 i;

	sha256_update(h, "[", 1);
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			sha256_update(h, ",", 1);
		aterm_string(h, l->v[i]);
	}
	sha256_update(h, "]", 1);
}

/*
 * The hash Nix gives the outputs of d, a derivation with no input
 * derivations (as Nix hands a floating content-addressed one to its
 * hook, resolved): SHA-256 of its ATerm with the outputs masked (no
 * paths, and "" for the environment's output variables).  A realisation
 * is "sha256:HEX!OUTPUT" of it.  hex holds 65 bytes.  Returns 0, or -1
 * when d has input derivations (their hashes would be needed).
 */
int
drv_hash_modulo(const struct drv *d, char *hex)
{
	struct sha256	 h;
	unsigned char	 md[SHA256_LEN];
	size_t		 i, k;
	int		 out;

	if (d->ninputs > 0)
		return -1;
	sha256_init(&h);
	sha256_update(&h, "Derive([", 8);
	for (i = 0; i < d->noutputs; i++) {
		sha256_update(&h, i > 0 ? ",(" : "(", i > 0 ? 2 : 1);
		aterm_string(&h, d->outputs[i].name);
		sha256_update(&h, ",\"\",", 4);
		aterm_string(&h, d->outputs[i].hash_algo);
		sha256_update(&h, ",", 1);
		aterm_string(&h, d->outputs[i].hash);
		sha256_update(&h, ")", 1);
	}
	sha256_update(&h, "],[],", 5);
	aterm_strings(&h, d->srcs);
	sha256_update(&h, ",", 1);
	aterm_string(&h, d->platform);
	sha256_update(&h, ",", 1);
	aterm_string(&h, d->builder);
	sha256_update(&h, ",", 1);
	aterm_strings(&h, d->args);
	sha256_update(&h, ",[", 2);
	for (i = 0; i < d->nenv; i++) {
		for (k = 0, out = 0; k < d->noutputs && !out; k++)
			out = strcmp(d->env[i].key, d->outputs[k].name) == 0;
		sha256_update(&h, i > 0 ? ",(" : "(", i > 0 ? 2 : 1);
		aterm_string(&h, d->env[i].key);
		sha256_update(&h, ",", 1);
		aterm_string(&h, out ? "" : d->env[i].value);
		sha256_update(&h, ")", 1);
	}
	sha256_update(&h, "])", 2);
	sha256_final(&h, md);
	hash_hex(md, SHA256_LEN, hex);
	return 0;
}
