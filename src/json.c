/*
 * JSON (RFC 8259), just enough for structured attrs: the whole text is
 * checked (strings must be UTF-8, surrogates paired, nesting at most
 * JSON_DEPTH_MAX deep), top-level members can be found by name, and an
 * array of strings can be read out of checked text.  Nix reads __json with
 * nlohmann::json, which refuses what this refuses.
 *
 *	text   = ws object ws
 *	value  = object | array | string | number | "true" | "false" | "null"
 *	object = "{" ws [ string ws ":" ws value ws { "," ws string ws ":"
 *		 ws value ws } ] "}"
 *	array  = "[" ws [ value ws { "," ws value ws } ] "]"
 *	number = [ "-" ] ( "0" | DIGIT19 { DIGIT } ) [ "." DIGIT { DIGIT } ]
 *		 [ ( "e" | "E" ) [ "+" | "-" ] DIGIT { DIGIT } ]
 *	ws     = { " " | TAB | LF | CR }
 *
 * A buffer in, never a stream.  An error is one line naming the byte
 * offset in the text: "offset 12: expected ',' or '}', got 'x'".
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

struct json {
	const char	*b;
	size_t		 len;
	size_t		 pos;
	char		*err;		/* the caller's: the first error */
	size_t		 errsz;
};

static int	 fail(struct json *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* Record "offset AT: message"; the first failure is the one that counts. */
static int
fail(struct json *j, size_t at, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (j->err[0] != '\0')
		return -1;
	n = snprintf(j->err, j->errsz, "offset %zu: ", at);
	if (n < 0 || (size_t)n >= j->errsz)
		return -1;
	va_start(ap, fmt);
	vsnprintf(j->err + n, j->errsz - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* The byte at j->pos for a message: 'x', '\x01', or the end. */
static const char *
shown(struct json *j, char *out, size_t sz)
{
	char	 t[8];

	if (j->pos >= j->len) {
		strlcpy(out, "the end", sz);
		return out;
	}
	text_printable(j->b + j->pos, 1, t, sizeof(t));
	snprintf(out, sz, "'%s'", t);
	return out;
}

static void
space(struct json *j)
{
	while (j->pos < j->len && (j->b[j->pos] == ' ' ||
	    j->b[j->pos] == '\t' || j->b[j->pos] == '\n' ||
	    j->b[j->pos] == '\r'))
		j->pos++;
}

static int
expect(struct json *j, char c)
{
	char	 got[16];

	if (j->pos < j->len && j->b[j->pos] == c) {
		j->pos++;
		return 0;
	}
	return fail(j, j->pos, "expected '%c', got %s", c,
	    shown(j, got, sizeof(got)));
}

/* The length of the well-formed UTF-8 sequence at s, or 0. */
static size_t
utf8_len(const unsigned char *s, size_t avail)
{
	unsigned long	 cp;
	size_t		 n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 ||
	    cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int
hex4(const char *s, unsigned long *u)
{
	int	 i;

	*u = 0;
	for (i = 0; i < 4; i++) {
		*u <<= 4;
		if (s[i] >= '0' && s[i] <= '9')
			*u |= (unsigned long)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			*u |= (unsigned long)(s[i] - 'a' + 10);
		else if (s[i] >= 'A' && s[i] <= 'F')
			*u |= (unsigned long)(s[i] - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

static size_t
utf8_put(unsigned long u, char *o)
{
	if (u < 0x80) {
		o[0] = (char)u;
		return 1;
	}
	if (u < 0x800) {
		o[0] = (char)(0xc0 | u >> 6);
		o[1] = (char)(0x80 | (u & 0x3f));
		return 2;
	}
	if (u < 0x10000) {
		o[0] = (char)(0xe0 | u >> 12);
		o[1] = (char)(0x80 | (u >> 6 & 0x3f));
		o[2] = (char)(0x80 | (u & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | u >> 18);
	o[1] = (char)(0x80 | (u >> 12 & 0x3f));
	o[2] = (char)(0x80 | (u >> 6 & 0x3f));
	o[3] = (char)(0x80 | (u & 0x3f));
	return 4;
}

/*
 * The string at j->pos: check it and leave j->pos after it; *np is its
 * decoded length, and the bytes go to o unless o is NULL.  The decoded
 * form is never longer than the text, and may contain NUL.
 */
static int
string(struct json *j, char *o, size_t *np)
{
	size_t		 n = 0, k, at;
	unsigned long	 u, lo;
	unsigned char	 c;
	char		 t[4], got[16];

	if (expect(j, '"') == -1)
		return -1;
	for (;;) {
		if (j->pos >= j->len)
			return fail(j, j->pos, "expected '\"' ending a "
			    "string, got the end");
		c = (unsigned char)j->b[j->pos];
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(j, j->pos, "a control character %s in "
			    "a string", shown(j, got, sizeof(got)));
		if (c != '\\') {
			if ((k = utf8_len((const unsigned char *)j->b + j->pos,
			    j->len - j->pos)) == 0)
				return fail(j, j->pos, "ill-formed UTF-8");
			if (o != NULL)
				memcpy(o + n, j->b + j->pos, k);
			n += k;
			j->pos += k;
			continue;
		}
		at = j->pos++;
		if (j->pos >= j->len)
			return fail(j, j->pos, "expected an escape after "
			    "'\\', got the end");
		k = 1;
		switch (j->b[j->pos++]) {
		case '"':
			t[0] = '"';
			break;
		case '\\':
			t[0] = '\\';
			break;
		case '/':
			t[0] = '/';
			break;
		case 'b':
			t[0] = '\b';
			break;
		case 'f':
			t[0] = '\f';
			break;
		case 'n':
			t[0] = '\n';
			break;
		case 'r':
			t[0] = '\r';
			break;
		case 't':
			t[0] = '\t';
			break;
		case 'u':
			if (j->len - j->pos < 4 ||
			    hex4(j->b + j->pos, &u) == -1)
				return fail(j, at, "expected four hex digits "
				    "after \\u");
			j->pos += 4;
			if (u >= 0xdc00 && u <= 0xdfff)
				return fail(j, at, "a lone low surrogate");
			if (u >= 0xd800 && u <= 0xdbff) {
				if (j->len - j->pos < 6 ||
				    j->b[j->pos] != '\\' ||
				    j->b[j->pos + 1] != 'u' ||
				    hex4(j->b + j->pos + 2, &lo) == -1 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return fail(j, at, "a high surrogate "
					    "without a low one");
				j->pos += 6;
				u = 0x10000 + ((u - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			k = utf8_put(u, t);
			break;
		default:
			return fail(j, at, "an unknown escape '\\%s'",
			    text_printable(j->b + j->pos - 1, 1, got,
			    sizeof(got)));
		}
		if (o != NULL)
			memcpy(o + n, t, k);
		n += k;
	}
	j->pos++;
	*np = n;
	return 0;
}

/* The string at j->pos as a new C string at *out. */
static int
string_dup(struct json *j, size_t max, const char *what, char **out)
{
	size_t	 start = j->pos, n;

	*out = NULL;
	if (string(j, NULL, &n) == -1)
		return -1;
	if (n > max)
		return fail(j, start, "%s longer than %zu bytes", what, max);
	if ((*out = malloc(n + 1)) == NULL)
		return fail(j, start, "out of memory");
	j->pos = start;
	string(j, *out, &n);
	(*out)[n] = '\0';
	if (strlen(*out) != n) {
		free(*out);
		*out = NULL;
		return fail(j, start, "a NUL character in %s", what);
	}
	return 0;
}

static int
literal(struct json *j, const char *word)
{
	size_t	 n = strlen(word);
	char	 got[16];

	if (j->len - j->pos < n || memcmp(j->b + j->pos, word, n) != 0)
		return fail(j, j->pos, "expected \"%s\", got %s", word,
		    shown(j, got, sizeof(got)));
	j->pos += n;
	return 0;
}

static int
digits(struct json *j)
{
	char	 got[16];

	if (j->pos >= j->len || j->b[j->pos] < '0' || j->b[j->pos] > '9')
		return fail(j, j->pos, "expected a digit, got %s",
		    shown(j, got, sizeof(got)));
	while (j->pos < j->len && j->b[j->pos] >= '0' && j->b[j->pos] <= '9')
		j->pos++;
	return 0;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
number(struct json *j)
{
	if (j->b[j->pos] == '-')
		j->pos++;
	if (j->pos < j->len && j->b[j->pos] == '0')
		j->pos++;
	else if (digits(j) == -1)
		return -1;
	if (j->pos < j->len && j->b[j->pos] == '.') {
		j->pos++;
		if (digits(j) == -1)
			return -1;
	}
	if (j->pos < j->len && (j->b[j->pos] == 'e' || j->b[j->pos] == 'E')) {
		j->pos++;
		if (j->pos < j->len && (j->b[j->pos] == '+' ||
		    j->b[j->pos] == '-'))
			j->pos++;
		if (digits(j) == -1)
			return -1;
	}
	return 0;
}

/* Check the value at j->pos, depth levels deep, and step over it. */
static int
value(struct json *j, int depth)
{
	size_t	 n;
	char	 close, got[16];

	space(j);
	if (j->pos >= j->len)
		return fail(j, j->pos, "expected a value, got the end");
	switch (j->b[j->pos]) {
	case '{':
	case '[':
		close = j->b[j->pos] == '{' ? '}' : ']';
		if (depth >= JSON_DEPTH_MAX)
			return fail(j, j->pos, "nested more than %d deep",
			    JSON_DEPTH_MAX);
		j->pos++;
		space(j);
		if (j->pos < j->len && j->b[j->pos] == close) {
			j->pos++;
			return 0;
		}
		for (;;) {
			if (close == '}') {
				space(j);
				if (string(j, NULL, &n) == -1)
					return -1;
				space(j);
				if (expect(j, ':') == -1)
					return -1;
			}
			if (value(j, depth + 1) == -1)
				return -1;
			space(j);
			if (j->pos < j->len && j->b[j->pos] == ',') {
				j->pos++;
				continue;
			}
			if (j->pos < j->len && j->b[j->pos] == close) {
				j->pos++;
				return 0;
			}
			return fail(j, j->pos, "expected ',' or '%c', got %s",
			    close, shown(j, got, sizeof(got)));
		}
	case '"':
		return string(j, NULL, &n);
	case 't':
		return literal(j, "true");
	case 'f':
		return literal(j, "false");
	case 'n':
		return literal(j, "null");
	case '-':
		return number(j);
	default:
		if (j->b[j->pos] >= '0' && j->b[j->pos] <= '9')
			return number(j);
		return fail(j, j->pos, "expected a value, got %s",
		    shown(j, got, sizeof(got)));
	}
}

/*
 * Check the whole JSON text, which must be an object, and find its member
 * key: *at is the offset of its value (of the last one, as in Nix), or
 * SIZE_MAX when there is none.
 */
static int
find(struct json *j, const char *key, size_t *at)
{
	size_t	 klen = strlen(key), start, n;
	char	 name[64], got[16];

	*at = SIZE_MAX;
	j->pos = 0;
	space(j);
	if (j->pos >= j->len || j->b[j->pos] != '{')
		return fail(j, j->pos, "expected '{' starting an object, "
		    "got %s", shown(j, got, sizeof(got)));
	j->pos++;
	space(j);
	if (j->pos < j->len && j->b[j->pos] == '}')
		j->pos++;
	else
		for (;;) {
			space(j);
			start = j->pos;
			if (string(j, NULL, &n) == -1)
				return -1;
			if (n == klen && n < sizeof(name)) {
				j->pos = start;
				string(j, name, &n);
				if (memcmp(name, key, n) != 0)
					start = SIZE_MAX;
			} else
				start = SIZE_MAX;
			space(j);
			if (expect(j, ':') == -1)
				return -1;
			space(j);
			if (start != SIZE_MAX)
				*at = j->pos;
			if (value(j, 1) == -1)
				return -1;
			space(j);
			if (j->pos < j->len && j->b[j->pos] == ',') {
				j->pos++;
				continue;
			}
			if (j->pos < j->len && j->b[j->pos] == '}') {
				j->pos++;
				break;
			}
			return fail(j, j->pos, "expected ',' or '}', got %s",
			    shown(j, got, sizeof(got)));
		}
	space(j);
	if (j->pos != j->len)
		return fail(j, j->pos, "expected the end after the object, "
		    "got %s", shown(j, got, sizeof(got)));
	return 0;
}

static void
start(struct json *j, const char *text, size_t len, size_t pos, char *err,
    size_t errsz)
{
	j->b = text;
	j->len = len;
	j->pos = pos;
	j->err = err;
	j->errsz = errsz;
	err[0] = '\0';
}

/*
 * Check the JSON text of len bytes, which must be an object, and find its
 * top-level member key: *at is the offset of its value (of the last one,
 * as in Nix), or SIZE_MAX when there is none.  Returns 0, or -1 with a
 * message in err ("offset N: ...", errsz bytes at most); prints nothing.
 */
int
json_find(const char *text, size_t len, const char *key, size_t *at,
    char *err, size_t errsz)
{
	struct json	 j;

	start(&j, text, len, 0, err, errsz);
	return find(&j, key, at);
}

/*
 * What the value at pos is, in text that json_find has checked; JSON_NONE
 * past its end.
 */
enum json_type
json_type(const char *text, size_t len, size_t pos)
{
	if (pos >= len)
		return JSON_NONE;
	switch (text[pos]) {
	case '{':
		return JSON_OBJECT;
	case '[':
		return JSON_ARRAY;
	case '"':
		return JSON_STRING;
	case 't':
		return JSON_TRUE;
	case 'f':
		return JSON_FALSE;
	case 'n':
		return JSON_NULL;
	default:
		return JSON_NUMBER;
	}
}

/* An array's (open '[') or an object's ('{') next element: see json_array_next. */
static int
json_array_next_in(const char *text, size_t len, size_t *pos, char open,
    char close)
{
	struct json	 j;
	char		 c;

	memset(&j, 0, sizeof(j));
	j.b = text;
	j.len = len;
	j.pos = *pos;
	space(&j);
	if (j.pos >= len ||
	    ((c = text[j.pos]) != open && c != ',' && c != close))
		return -1;
	j.pos++;
	if (c != close)
		space(&j);
	if (c == open && j.pos < len && text[j.pos] == close) {
		c = close;
		j.pos++;
	}
	*pos = j.pos;
	return c == close ? 0 : 1;
}

/*
 * Step through an array of text that json_find has checked: *pos is at
 * its '[' for the first call, and just after the element read since for
 * the next ones.  Returns 1 with *pos at the next element, 0 with *pos
 * after the ']', or -1 when *pos is at neither (not an array).
 */
int
json_array_next(const char *text, size_t len, size_t *pos)
{
	return json_array_next_in(text, len, pos, '[', ']');
}

/*
 * The string at *pos as a new C string at *out, for the caller to free;
 * *pos moves past it.  what names it in messages.  Returns 0, or -1 with a
 * message in err (not a string, longer than max bytes decoded, a NUL in
 * it, out of memory) and *out NULL; prints nothing.
 */
int
json_string_dup(const char *text, size_t len, size_t *pos, size_t max,
    const char *what, char **out, char *err, size_t errsz)
{
	struct json	 j;

	start(&j, text, len, *pos, err, errsz);
	if (string_dup(&j, max, what, out) == -1)
		return -1;
	*pos = j.pos;
	return 0;
}

/*
 * Check the whole JSON text of len bytes: one value of any kind, with
 * nothing after it.  Returns 0, or -1 with a message in err.
 */
int
json_check(const char *text, size_t len, char *err, size_t errsz)
{
	struct json	 j;
	char		 got[16];

	start(&j, text, len, 0, err, errsz);
	if (value(&j, 0) == -1)
		return -1;
	space(&j);
	if (j.pos != j.len)
		return fail(&j, j.pos, "expected the end after the value, got "
		    "%s", shown(&j, got, sizeof(got)));
	return 0;
}

/*
 * Step through an object of text that json_check has checked, as
 * json_array_next does an array: *pos at its '{' for the first call, just
 * after the member's value read since for the next ones.  Returns 1 with
 * the member's name in key (keysz bytes; a longer one is cut) and *pos at
 * its value, 0 with *pos after the '}', or -1 when *pos is at neither.
 */
int
json_object_next(const char *text, size_t len, size_t *pos, char *key,
    size_t keysz)
{
	struct json	 j;
	char		 err[8], name[JSON_KEY_MAX];
	size_t		 n;
	int		 r;

	if ((r = json_array_next_in(text, len, pos, '{', '}')) != 1)
		return r;
	start(&j, text, len, *pos, err, sizeof(err));
	if (string(&j, NULL, &n) == -1)
		return -1;
	j.pos = *pos;
	if (n < sizeof(name)) {
		string(&j, name, &n);
		name[n] = '\0';
	} else {
		string(&j, NULL, &n);
		name[0] = '\0';
	}
	strlcpy(key, name, keysz);
	space(&j);
	if (expect(&j, ':') == -1)
		return -1;
	space(&j);
	*pos = j.pos;
	return 1;
}

/* Step over the value at *pos of checked text.  Returns 0, or -1. */
int
json_skip(const char *text, size_t len, size_t *pos)
{
	struct json	 j;
	char		 err[8];

	start(&j, text, len, *pos, err, sizeof(err));
	if (value(&j, 0) == -1)
		return -1;
	*pos = j.pos;
	return 0;
}

/* Print a list of strings as a JSON array. */
void
json_list(FILE *f, const struct strlist *l)
{
	size_t	 i;

	fputc('[', f);
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			fputc(',', f);
		json_string(f, l->v[i]);
	}
	fputc(']', f);
}

/* Print s as a JSON string, quotes included. */
void
json_string(FILE *f, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;

	fputc('"', f);
	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}
