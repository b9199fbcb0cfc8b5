/*
 * Builders specs (the `builders` setting, --builders) and machines files,
 * read as the installed Nix reads them (machines_rules), rule by rule as
 * Nix changed them between 2.8 and 2.34:
 *
 *	piece	= "" | "@" FILE | URI [ SYSTEMS [ KEY [ JOBS [ SPEED
 *		  [ SUPPORTED [ MANDATORY [ HOSTKEY ] ] ] ] ] ] ]
 *
 *   - Pieces: from Nix 2.28.2 (and 2.24.15), lines split on "\n", a "#"
 *     runs to the end of the line, then ";" splits, and pieces are
 *     trimmed (blank ones skipped).  Before, the text split on "\n" and
 *     ";" at once, a "#" ran to the end of its piece, and nothing was
 *     trimmed: a piece of blanks (an indented comment) is an error, and
 *     " @FILE" a builder named "@FILE".
 *   - Fields are separated by blanks; "-" is the default.  Fields after
 *     the 8th are ignored, with a warning.  SYSTEMS (default: the local
 *     system) is a list as written before Nix 2.20, a sorted set since;
 *     SUPPORTED and MANDATORY are sorted sets ("-" in a list is a
 *     feature).  JOBS is a whole number ("+3" too; 0: never used).
 *     SPEED is a whole number before 2.20, a float since ("2E2", ".5");
 *     0 is taken as 1.  HOSTKEY must be base64 up to its first "=".
 *   - URI: without "://" or "/", and not auto, daemon or local, it is an
 *     ssh:// host.  Before 2.23 Nix checks nothing more until it
 *     connects; since, a URI that does not parse is an error.  host:port
 *     reaches ssh as -p (Nix 2.31 on; before, Nix gives ssh "host:port"
 *     as a host name, which fails: a warning says so); bare IPv6 hosts
 *     (::1, root@::1, fe80::1%eth0) and an empty port (ssh://h:) are
 *     read as Nix 2.31.3 and later read them.
 *   - @FILE: a relative FILE is read from /, where Nix's build hook runs;
 *     a FILE that does not exist (or a bare "@") adds nothing, as in Nix,
 *     but with a warning, unless it is the default machines file.
 *
 * Where Nix accepts an entry nix-offload cannot use (a store other than
 * ssh:// and ssh-ng://, max jobs 0, no systems, a host key that is not a key line, a
 * URI ssh would refuse), it is listed, unusable, with its reason and a
 * warning.  Where following Nix would hurt, a warning says what is done
 * instead: max jobs above MACHINES_JOBS_MAX are capped (Nix opens a lock
 * file per slot), an infinite or NaN speed factor is taken as 1.  And Nix
 * recurses into @FILE without limit: a cycle, or nesting deeper than
 * MACHINES_DEPTH_MAX, is an error here.  Errors name FILE:LINE (or the
 * setting's own place) and the field; up to MACHINES_ERRORS_MAX of them
 * are reported, and then nothing is returned.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "extern.h"

#define WS	" \t\r\n"	/* Nix's field separators, and trim's */

/* The rules of the installed Nix (machines_rules); the newest at first. */
static struct {
	char	 version[64];	/* whose, for messages; "" for the newest */
	int	 split_old;	/* "\n" and ";" at once, "#" to the piece's end */
	int	 int_speed;	/* before 2.20: a whole speed factor */
	int	 systems_list;	/* before 2.20: systems as written */
	int	 strict_uri;	/* 2.23: a URI that does not parse is an error */
	int	 port_in_host;	/* before 2.31: host:port is a host name */
} rules = { "2.34", 0, 0, 0, 1, 0 };

struct parser {
	const char	*system;	/* the local system: default field 2 */
	struct machines	*out;
	struct {
		dev_t		 dev;
		ino_t		 ino;
		const char	*path;
	}		 stack[MACHINES_DEPTH_MAX];
	int		 depth;
	int		 errors;
	char		 deflt[PATH_MAX]; /* the default machines file */
};

static void	 text(struct parser *, const char *, size_t, const char *,
		    int);

/* Report an error at where (FILE:LINE; NULL for none) and count it. */
static void
bad(struct parser *p, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
bad(struct parser *p, const char *where, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (where != NULL)
		log_errx("%s: %s", where, msg);
	else
		log_errx("%s", msg);
	p->errors++;
}

static char *
trim(char *s)
{
	size_t	 n;

	s += strspn(s, WS);
	for (n = strlen(s); n > 0 && strchr(WS, s[n - 1]) != NULL; n--)
		;
	s[n] = '\0';
	return s;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Add each comma-separated item of s to l, as Nix does: empty items are
 * dropped, "-" is an item like another; as written (as_written: order and
 * repeats kept, Nix's systems before 2.20), or as a sorted set.  Returns
 * 0, or -1 (reported) when there are too many.
 */
static int
list(struct parser *p, const char *where, const char *s, int field,
    const char *what, int as_written, struct strlist *l)
{
	char	*item;
	size_t	 n, i;
	int	 rc;

	for (;;) {
		s += strspn(s, ",");
		if (*s == '\0')
			break;
		n = strcspn(s, ",");
		if ((item = strndup(s, n)) == NULL) {
			bad(p, where, "out of memory");
			return -1;
		}
		s += n;
		for (i = 0; !as_written && i < l->n; i++)
			if (strcmp(l->v[i], item) == 0)
				break;
		if (!as_written && i < l->n) {
			free(item);
			continue;
		}
		if (l->n >= MACHINES_LIST_MAX) {
			bad(p, where, "more than %d %s (field %d)",
			    MACHINES_LIST_MAX, what, field);
			free(item);
			return -1;
		}
		rc = strlist_add(l, item);
		free(item);
		if (rc == -1) {
			bad(p, where, "out of memory");
			return -1;
		}
	}
	if (!as_written && l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	return 0;
}

/*
 * A whole number as Nix reads one (string2Int<unsigned int>): an optional
 * "+", digits, at most UINT_MAX.  Returns 0, or -1.
 */
static int
nix_uint(const char *s, unsigned long *v)
{
	const char	*d = s + (*s == '+');
	char		*end;

	if (*d == '\0' || d[strspn(d, "0123456789")] != '\0' ||
	    strlen(d) > 20)
		return -1;
	errno = 0;
	*v = strtoul(d, &end, 10);
	return errno != 0 || *v > UINT_MAX ? -1 : 0;
}

/* Field 4.  Returns 0, or -1 (reported). */
static int
max_jobs(struct parser *p, const char *where, const char *s, long *v)
{
	unsigned long	 n;

	if (nix_uint(s, &n) == -1) {
		bad(p, where, "max jobs \"%s\" is not a whole number from 0 to "
		    "%u (field 4)", s, UINT_MAX);
		return -1;
	}
	if (n > MACHINES_JOBS_MAX) {
		log_warnx("%s: max jobs %s is taken as %d (field 4): Nix would "
		    "open a lock file per slot", where, s, MACHINES_JOBS_MAX);
		n = MACHINES_JOBS_MAX;
	}
	*v = (long)n;
	return 0;
}

/*
 * Does s read as a float, as boost::lexical_cast<float> reads one (Nix's
 * speed factor since 2.20)?  [+-] then digits with an optional point (at
 * least one digit), an optional exponent; or nan, inf, infinity.
 */
static int
float_text(const char *s)
{
	const char	*t = s + (*s == '+' || *s == '-');
	size_t		 d;

	if (strcasecmp(t, "nan") == 0 || strcasecmp(t, "inf") == 0 ||
	    strcasecmp(t, "infinity") == 0)
		return 1;
	d = strspn(t, "0123456789");
	t += d;
	if (*t == '.') {
		t++;
		d += strspn(t, "0123456789");
		t += strspn(t, "0123456789");
	}
	if (d == 0)
		return 0;
	if (*t == 'e' || *t == 'E') {
		t++;
		t += *t == '+' || *t == '-';
		if (strspn(t, "0123456789") == 0)
			return 0;
		t += strspn(t, "0123456789");
	}
	return *t == '\0';
}

/*
 * Field 5, as the installed Nix reads it: a whole number before 2.20, a
 * float since; 0 is 1, as in Nix.  Returns 0, or -1 (reported).
 */
static int
speed(struct parser *p, const char *where, const char *s, double *v)
{
	unsigned long	 n;
	double		 d;
	float		 f;

	if (rules.int_speed) {
		if (nix_uint(s, &n) == -1) {
			bad(p, where, "speed factor \"%s\" is not a whole number "
			    "(field 5), as Nix %s reads it; fractions came with "
			    "Nix 2.20", s, rules.version);
			return -1;
		}
		d = (double)n;
	} else {
		if (!float_text(s)) {
			bad(p, where, "speed factor \"%s\" is not a number "
			    "(field 5)", s);
			return -1;
		}
		errno = 0;
		f = strtof(s, NULL);
		if (errno == ERANGE && (f == HUGE_VALF || f == -HUGE_VALF)) {
			bad(p, where, "speed factor %s is too large (field 5)",
			    s);
			return -1;
		}
		d = strtod(s, NULL);
		if (f == 0)
			d = 0;	/* as small as a float is 0, as in Nix */
		if (d < 0) {
			bad(p, where, "speed factor %s is negative (field 5)",
			    s);
			return -1;
		}
		if (isnan(d) || isinf(d)) {
			log_warnx("%s: speed factor %s is taken as 1 (field "
			    "5): it would rank this builder above or below "
			    "every other for ever", where, s);
			d = 1;
		}
	}
	if (d == 0) {
		log_warnx("%s: speed factor %s is taken as 1 (field 5), as "
		    "Nix does", where, s);
		d = 1;
	}
	*v = d;
	return 0;
}

/* auto, daemon or local, alone or with a ?query, or a ?query alone. */
static int
special(const char *u)
{
	static const char *const words[] = { "auto", "daemon", "local" };
	size_t	 i, n;

	if (u[0] == '?')
		return 1;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		n = strlen(words[i]);
		if (strncmp(u, words[i], n) == 0 &&
		    (u[n] == '\0' || u[n] == '?'))
			return 1;
	}
	return 0;
}

/* Nix's rule: which URIs get ssh:// in front. */
static int
bare_host(const char *u)
{
	return strstr(u, "://") == NULL && strchr(u, '/') == NULL &&
	    !special(u);
}

/* The length of u's "ssh://" or "ssh-ng://", or 0 for another store. */
static size_t
ssh_scheme(const char *u)
{
	if (strncmp(u, "ssh://", 6) == 0)
		return 6;
	if (strncmp(u, "ssh-ng://", 9) == 0)
		return 9;
	return 0;
}

/* A local store, as Nix's hook takes one: a path, or local[?params]. */
static int
local_store(const char *u)
{
	return u[0] == '/' ||
	    (strncmp(u, "local", 5) == 0 && (u[5] == '\0' || u[5] == '?'));
}

/*
 * A local store as a builder: Nix's hook builds in it in its own process;
 * we run this machine's nix-store --serve --write --store URI, as for a
 * builder named localhost (no ssh).  Its slots are this machine's.  As
 * Nix opens it, the store's system-features are the entry's features,
 * supported and mandatory (none: none, not this machine's).
 */
static int
local_uri(struct machine *m)
{
	char		 store[URI_MAX * 2];
	const char	*f;
	size_t		 i, n;

	n = (size_t)snprintf(store, sizeof(store), "%s%csystem-features=",
	    m->uri_text, strchr(m->uri_text, '?') != NULL ? '&' : '?');
	for (i = 0; i < m->supported.n + m->mandatory.n; i++) {
		f = i < m->supported.n ? m->supported.v[i] :
		    m->mandatory.v[i - m->supported.n];
		if (i > 0 && n < sizeof(store))
			n += (size_t)snprintf(store + n, sizeof(store) - n,
			    "%%20");
		/* a feature is a word of the URI's query, escaped */
		for (; *f != '\0' && n < sizeof(store); f++)
			n += (size_t)snprintf(store + n, sizeof(store) - n,
			    isalnum((unsigned char)*f) || strchr("._-", *f) ?
			    "%c" : "%%%02X", (unsigned char)*f);
	}
	if (n >= sizeof(store))
		return -1;
	uri_free(&m->uri);
	memset(&m->uri, 0, sizeof(m->uri));
	if ((m->uri.host = strdup("localhost")) == NULL ||
	    (m->uri.remote_store = strdup(store)) == NULL)
		return -1;
	m->uri.private_slots = 1;
	m->uri.local_store = 1;
	strlcpy(m->uri.display, m->uri_text, sizeof(m->uri.display));
	m->usable = 1;
	return 0;
}

/* Why a store that is not ssh[-ng]:// cannot be used, for messages. */
static void
unusable(const char *u, char *buf, size_t sz)
{
	const char	*colon = strstr(u, "://");

	if (colon != NULL)
		snprintf(buf, sz, "%.*s:// is not an ssh store; nix-offload "
		    "speaks to ssh:// and ssh-ng:// stores only",
		    (int)(colon - u) > 32 ? 32 : (int)(colon - u), u);
	else
		snprintf(buf, sz, "not a remote store; nix-offload speaks "
		    "to ssh:// and ssh-ng:// stores only");
}

/*
 * An ssh[-ng]:// URI as Nix 2.31 and later write it back: a bare IPv6 address
 * bracketed, its zone's "%" written "%25", an empty port dropped
 * ("ssh://fe80::1%eth0" -> "ssh://[fe80::1%25eth0]", "ssh://h:" ->
 * "ssh://h").  Into buf; anything else as it is.
 */
static void
nix_written(const char *u, char *buf, size_t sz)
{
	size_t		 sl = ssh_scheme(u), al, o;
	const char	*a = u + sl, *end, *at, *h, *colon;

	if (sl == 0) {
		snprintf(buf, sz, "%s", u);
		return;
	}
	al = strcspn(a, "/?");
	end = a + al;
	for (at = NULL, h = a; h < end; h++)
		if (*h == '@')
			at = h;
	h = at != NULL ? at + 1 : a;
	o = (size_t)snprintf(buf, sz, "%.*s%.*s", (int)sl, u, (int)(h - a),
	    a);
	if (*h == '[' || (colon = memchr(h, ':', (size_t)(end - h))) == NULL ||
	    memchr(colon + 1, ':', (size_t)(end - colon - 1)) == NULL) {
		/* bracketed, or host[:port]: only an empty port goes */
		size_t	 hl = (size_t)(end - h);
		if (hl > 0 && h[hl - 1] == ':' && h[0] != '[')
			hl--;
		o += (size_t)snprintf(buf + (o < sz ? o : sz), o < sz ?
		    sz - o : 0, "%.*s%s", (int)hl, h, end);
		return;
	}
	/* a bare IPv6 address (two colons or more), no port */
	o += (size_t)snprintf(buf + (o < sz ? o : sz), o < sz ? sz - o : 0,
	    "[");
	for (; h < end && o + 4 < sz; h++) {
		if (*h == '%' && strncmp(h + 1, "25", 2) != 0)
			o += (size_t)snprintf(buf + o, sz - o, "%%25");
		else
			buf[o++] = *h;
	}
	snprintf(buf + (o < sz ? o : sz), o < sz ? sz - o : 0, "]%s", end);
}

static void
machine_free(struct machine *m)
{
	free(m->uri_text);
	free(m->uri_nix);
	uri_free(&m->uri);
	strlist_free(&m->systems);
	free(m->ssh_key);
	strlist_free(&m->supported);
	strlist_free(&m->mandatory);
	free(m->host_key_b64);
	free(m->unusable_why);
	memset(m, 0, sizeof(*m));
}

/* Base64 as Nix checks it: up to the first "=", letters, digits, + / \n. */
static int
nix_base64(const char *s)
{
	for (; *s != '\0' && *s != '='; s++)
		if (!isalnum((unsigned char)*s) && strchr("+/\n", *s) == NULL)
			return 0;
	return 1;
}

/* A "%" not followed by two hex digits in s[0..n). */
static int
bad_escape(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (s[i] == '%' && (i + 2 >= n ||
		    !isxdigit((unsigned char)s[i + 1]) ||
		    !isxdigit((unsigned char)s[i + 2])))
			return 1;
	return 0;
}

/*
 * An ssh[-ng]:// URI as Nix 2.31.3 and later read it, into buf: a bare IPv6
 * host (::1, root@fe80::1%eth0) in brackets, an empty port dropped.  Sets
 * *port to the text of the port (NULL: none) for the caller's checks.
 * Returns buf, or u itself when nothing changes.
 */
static const char *
ssh_normal(const char *u, char *buf, size_t sz, const char **port)
{
	size_t		 sl = ssh_scheme(u), alen, hlen, i;
	const char	*auth = u + sl, *host, *colon, *rb;

	*port = NULL;
	alen = strcspn(auth, "?/#");
	for (host = auth, i = 0; i < alen; i++)
		if (auth[i] == '@')
			host = auth + i + 1;
	hlen = (size_t)(auth + alen - host);
	colon = memchr(host, ':', hlen);
	if (host[0] != '[' && colon != NULL &&
	    memchr(colon + 1, ':', hlen - (size_t)(colon + 1 - host)) != NULL) {
		snprintf(buf, sz, "%.*s%.*s[%.*s]%s", (int)sl, u,
		    (int)(host - auth), auth, (int)hlen, host, auth + alen);
		return buf;
	}
	if (host[0] == '[') {
		/* the port's ":" comes after the "]" */
		rb = memchr(host, ']', hlen);
		colon = rb == NULL ? NULL : memchr(rb, ':',
		    (size_t)(auth + alen - rb));
	}
	if (colon == NULL)
		return u;
	if (colon + 1 == auth + alen) {
		snprintf(buf, sz, "%.*s%s", (int)(colon - u), u, colon + 1);
		return buf;
	}
	*port = colon + 1;
	return u;
}

/*
 * The URI of field 1 for an ssh[-ng]:// entry m: parsed into m->uri (usable),
 * or, where Nix lists the entry and fails only when it connects, the
 * reason in why (whysz bytes), unless why holds one already: the caller
 * then makes m unusable.  Returns 0, or -1 (reported) where the installed
 * Nix refuses the spec.
 */
static int
ssh_uri(struct parser *p, const char *where, struct machine *m, char *why,
    size_t whysz)
{
	char		 norm[URI_MAX + 8], err[URI_MAX + 256];
	const char	*text, *port, *q;
	size_t		 n, sl = ssh_scheme(m->uri_text);
	unsigned long	 pv;
	char		*end;

	text = ssh_normal(m->uri_text, norm, sizeof(norm), &port);
	if (text != m->uri_text)
		log_debug(1, "%s: %s read as %s, as Nix 2.31.3 and later read "
		    "it", where, m->uri_text, text);
	if (port != NULL) {
		n = strcspn(port, "?/#");
		pv = strtoul(port, &end, 10);
		if (end != port + n || n > 5 || pv < 1 || pv > 65535) {
			if (!rules.port_in_host) {
				bad(p, where, "port \"%.*s\" of %s is not a "
				    "number from 1 to 65535 (field 1)", (int)n,
				    port, m->uri_text);
				return -1;
			}
		} else if (rules.port_in_host)
			log_warnx("%s: %s: Nix %s gives ssh \"host:port\" as a "
			    "host name, which fails; nix-offload connects to "
			    "port %lu (Nix reads ports from 2.31 on)", where,
			    m->uri_text, rules.version, pv);
	}
	/* a "%" outside an IPv6 address's zone, and not an escape */
	q = text + sl + strcspn(text + sl, "?");
	if (rules.strict_uri && (bad_escape(q, strlen(q)) ||
	    (memchr(text + sl, '[', (size_t)(q - text - sl)) == NULL &&
	    bad_escape(text + sl, (size_t)(q - text - sl))))) {
		bad(p, where, "%s: a \"%%\" without two hex digits: Nix %s "
		    "cannot parse this store URI (field 1)", m->uri_text,
		    rules.version);
		return -1;
	}
	if (uri_check(text, &m->uri, err, sizeof(err)) == -1) {
		if (why[0] == '\0')	/* else the entry's first reason */
			strlcpy(why, err, whysz);
		return 0;
	}
	m->usable = 1;
	return 0;
}

/* One entry: fields split, checked, and appended to the output. */
/*
 * Fields 2 to 8 of an entry (f, nf of them) into m; why gets the first
 * reason it cannot be used, *key its host key line.  Returns 0, or -1
 * (reported).
 */
static int
fields(struct parser *p, const char *where, char **f, size_t nf,
    struct machine *m, char *why, size_t whysz, char **key)
{
	char	 kerr[512];

#define SET(i)	((i) < nf && strcmp(f[(i)], "-") != 0)
	if (SET(1)) {
		if (list(p, where, f[1], 2, "systems", rules.systems_list,
		    &m->systems) == -1)
			return -1;
		if (m->systems.n == 0)
			snprintf(why, whysz, "no system (field 2 is "
			    "\"%s\"): it takes no derivation", f[1]);
	} else if (p->system != NULL && strlist_add(&m->systems,
	    p->system) == -1)
		goto nomem;
	if (SET(2) && (m->ssh_key = strdup(f[2])) == NULL)
		goto nomem;
	if (SET(3) && max_jobs(p, where, f[3], &m->max_jobs) == -1)
		return -1;
	if (m->max_jobs == 0 && why[0] == '\0')
		snprintf(why, whysz, "max jobs is 0 (field 4): it is "
		    "never free, in Nix too");
	if (SET(4) && speed(p, where, f[4], &m->speed_factor) == -1)
		return -1;
	if (SET(5) && list(p, where, f[5], 6, "supported features", 0,
	    &m->supported) == -1)
		return -1;
	if (SET(6) && list(p, where, f[6], 7, "mandatory features", 0,
	    &m->mandatory) == -1)
		return -1;
	if (SET(7)) {
		if (!nix_base64(f[7])) {
			bad(p, where, "host key \"%.40s%s\" is not base64 (field "
			    "8; write it with: base64 -w0 "
			    "/etc/ssh/ssh_host_ed25519_key.pub)", f[7],
			    strlen(f[7]) > 40 ? "..." : "");
			return -1;
		}
		if ((m->host_key_b64 = strdup(f[7])) == NULL)
			goto nomem;
		if ((*key = uri_hostkey_check(f[7], kerr, sizeof(kerr))) == NULL &&
		    why[0] == '\0')
			snprintf(why, whysz, "its host key (field 8) "
			    "does not decode to a key line (\"ssh-ed25519 "
			    "AAAA...\"): ssh would refuse every connection");
	}
#undef SET
	return 0;
nomem:
	bad(p, where, "out of memory");
	return -1;
}

static void
entry(struct parser *p, char *s, const char *where)
{
	struct machine	 m, *v;
	char		*f[MACHINES_FIELDS], why[512], *key = NULL;
	size_t		 nf = 0, total = 0;

	while (*(s += strspn(s, WS)) != '\0') {
		if (nf < MACHINES_FIELDS)
			f[nf++] = s;
		total++;
		s += strcspn(s, WS);
		if (*s != '\0')
			*s++ = '\0';
	}
#define SET(i)	((i) < nf && strcmp(f[(i)], "-") != 0)
	if (!SET(0)) {
		bad(p, where, "the store URI is missing (field 1)%s", nf == 0 ?
		    ": a piece of blanks, which Nix before 2.28.2 refuses "
		    "(an indented comment, or blanks around \";\")" : "");
		return;
	}
	if (total > MACHINES_FIELDS)
		log_warnx("%s: %zu fields: those after the 8th are ignored, as "
		    "Nix ignores them (URI SYSTEMS SSH-KEY MAX-JOBS "
		    "SPEED-FACTOR SUPPORTED-FEATURES MANDATORY-FEATURES "
		    "HOST-KEY; lists are comma-separated, without blanks)",
		    where, total);
	if (p->out->n >= MACHINES_MAX) {
		bad(p, where, "more than %d builders", MACHINES_MAX);
		return;
	}
	memset(&m, 0, sizeof(m));
	why[0] = '\0';
	strlcpy(m.source, where, sizeof(m.source));
	m.max_jobs = 1;
	m.speed_factor = 1;
	if ((m.uri_text = malloc(strlen(f[0]) + 7)) == NULL)
		goto nomem;
	snprintf(m.uri_text, strlen(f[0]) + 7, "%s%s",
	    bare_host(f[0]) ? "ssh://" : "", f[0]);
	/* as that Nix writes it back, for `machines` */
	if (!rules.port_in_host) {
		char	 w[URI_MAX + 64];
		nix_written(m.uri_text, w, sizeof(w));
		if (strcmp(w, m.uri_text) != 0 &&
		    (m.uri_nix = strdup(w)) == NULL)
			goto nomem;
	}
	if (fields(p, where, f, nf, &m, why, sizeof(why), &key) == -1)
		goto fail;
#undef SET
	if (ssh_scheme(m.uri_text) > 0) {
		if (ssh_uri(p, where, &m, why, sizeof(why)) == -1)
			goto fail;
		/* fields 3 and 8 win over ?ssh-key= and the URI's host key */
		if (m.usable && m.ssh_key != NULL) {
			free(m.uri.ssh_key);
			if ((m.uri.ssh_key = strdup(m.ssh_key)) == NULL)
				goto nomem;
		}
		if (m.usable && key != NULL) {
			free(m.uri.host_key);
			m.uri.host_key = key;
			key = NULL;
		}
	} else if (local_store(m.uri_text) && why[0] == '\0') {
		if (local_uri(&m) == -1)
			goto nomem;
	} else if (rules.strict_uri && strstr(m.uri_text, "://") == NULL &&
	    strchr(f[0], '?') != NULL && memchr(f[0], '/',
	    strcspn(f[0], "?")) == NULL && !special(f[0])) {
		/* h?ssh-key=/k: the "/" kept ssh:// off, and Nix 2.23
		 * and later refuse what is left */
		bad(p, where, "%s: Nix %s cannot parse this store URI (field 1)"
		    "; write ssh://%s", f[0], rules.version, f[0]);
		goto fail;
	} else if (why[0] == '\0')
		unusable(m.uri_text, why, sizeof(why));
	if (why[0] != '\0') {
		/* Nix lists it, and fails when it is used: so do we */
		m.usable = 0;
		uri_free(&m.uri);
		if ((m.unusable_why = strdup(why)) == NULL)
			goto nomem;
		log_warnx("%s: %s: %s; listed, never used", where, m.uri_text,
		    why);
	}
	v = reallocarray(p->out->v, p->out->n + 1, sizeof(*v));
	if (v == NULL)
		goto nomem;
	p->out->v = v;
	v[p->out->n++] = m;
	free(key);
	return;
nomem:
	bad(p, where, "out of memory");
fail:
	free(key);
	machine_free(&m);
}

/*
 * Read machines file path, included from where (NULL at the top).  When
 * missing_ok, or when it is the default machines file, a file that does not
 * exist adds nothing.  A relative path is read from /, as Nix's build hook
 * does: it runs there, whatever the caller's directory.
 */
static void
include(struct parser *p, const char *path, const char *where,
    int missing_ok)
{
	struct stat	 st;
	char		*buf, chain[1024], full[PATH_MAX];
	const char	*file = path, *hint = "";
	size_t		 len;
	int		 i, j;

	if (*path == '\0') {
		log_warnx("%s: \"@\" without a file name: no builders from "
		    "it, as in Nix", where);
		return;
	}
	if (path[0] != '/') {
		if ((size_t)snprintf(full, sizeof(full), "/%s", path) >=
		    sizeof(full)) {
			bad(p, where, "@%.64s...: file name too long", path);
			return;
		}
		file = full;
		hint = " (a relative @FILE is read from /, as Nix's build "
		    "hook does)";
	}
	if (p->depth >= MACHINES_DEPTH_MAX) {
		bad(p, where, "@%s: machines files nested deeper than %d",
		    path, MACHINES_DEPTH_MAX);
		return;
	}
	if (conf_read_file(file, CONF_FILE_MAX, &buf, &len, &st) == -1) {
		if ((errno == ENOENT || errno == ENOTDIR) &&
		    (missing_ok || strcmp(file, p->deflt) == 0)) {
			log_debug(1, "no machines file %s: no builders from it",
			    file);
			return;
		}
		if (errno == ENOENT && where != NULL) {
			/* Nix reads no builders from it, and says nothing */
			log_warnx("%s: no machines file %s%s: no builders "
			    "from it", where, file, hint);
			return;
		}
		if (errno == EFBIG)
			bad(p, where, "machines file %s is larger than %d bytes",
			    file, CONF_FILE_MAX);
		else
			bad(p, where, "cannot read machines file %s: %s%s",
			    file, strerror(errno), hint);
		return;
	}
	for (i = 0; i < p->depth; i++) {
		if (p->stack[i].dev != st.st_dev ||
		    p->stack[i].ino != st.st_ino)
			continue;
		chain[0] = '\0';
		for (j = i; j < p->depth; j++) {
			strlcat(chain, p->stack[j].path, sizeof(chain));
			strlcat(chain, " -> ", sizeof(chain));
		}
		strlcat(chain, file, sizeof(chain));
		bad(p, where, "@%s: include cycle: %s", path, chain);
		free(buf);
		return;
	}
	p->stack[p->depth].dev = st.st_dev;
	p->stack[p->depth].ino = st.st_ino;
	p->stack[p->depth].path = file;
	p->depth++;
	text(p, buf, len, file, 1);
	p->depth--;
	free(buf);
}

/*
 * Parse spec text.  src is a file name (isfile: places are "src:LINE") or
 * the place of a setting, used as is.
 */
static void
text(struct parser *p, const char *buf, size_t len, const char *src,
    int isfile)
{
	const char	*s, *e, *end = buf + len;
	char		 where[CONF_SRC_MAX], *line, *piece, *semi;
	size_t		 lineno, n;

	if (len > CONF_FILE_MAX) {
		bad(p, src, "longer than %d bytes", CONF_FILE_MAX);
		return;
	}
	if (memchr(buf, '\0', len) != NULL) {
		bad(p, src, "contains a NUL byte: not a machines file");
		return;
	}
	if ((line = malloc(CONF_LINE_MAX + 1)) == NULL) {
		bad(p, src, "out of memory");
		return;
	}
	for (s = buf, lineno = 1; s < end && p->errors < MACHINES_ERRORS_MAX;
	    s = e + 1, lineno++) {
		if ((e = memchr(s, '\n', (size_t)(end - s))) == NULL)
			e = end;
		if (!isfile)
			strlcpy(where, src, sizeof(where));
		else if ((size_t)snprintf(where, sizeof(where), "%s:%zu", src,
		    lineno) >= sizeof(where)) {
			bad(p, NULL, "%.64s...: file name too long", src);
			break;
		}
		if ((n = (size_t)(e - s)) > CONF_LINE_MAX) {
			bad(p, where, "line longer than %d bytes",
			    CONF_LINE_MAX);
			continue;
		}
		memcpy(line, s, n);
		line[n] = '\0';
		if (!rules.split_old)
			line[strcspn(line, "#")] = '\0';
		for (piece = line; piece != NULL &&
		    p->errors < MACHINES_ERRORS_MAX; piece = semi) {
			if ((semi = strchr(piece, ';')) != NULL)
				*semi++ = '\0';
			/* before 2.28.2, a "#" ends at the piece's end, and
			 * only an empty piece is nothing: " @F" is no include,
			 * and a piece of blanks is refused (entry) */
			piece[strcspn(piece, "#")] = '\0';
			if (!rules.split_old)
				piece = trim(piece);
			if (*piece == '\0')
				continue;
			if (*piece == '@')
				include(p, trim(piece + 1), where, 0);
			else
				entry(p, piece, where);
		}
	}
	free(line);
}

/*
 * Read specs as Nix nix_version reads them (see the top of this file).
 * NULL, or a version not known: the newest rules.  Returns the version
 * whose rules are followed, for messages.
 */
const char *
machines_rules(const char *nix_version)
{
	const char	*v = nix_version;

	memset(&rules, 0, sizeof(rules));
	strlcpy(rules.version, "2.34", sizeof(rules.version));
	rules.strict_uri = 1;
	if (v == NULL)
		return "the newest";
	strlcpy(rules.version, v, sizeof(rules.version));
	rules.split_old = !nixver_at_least(v, 2, 28, 2) &&
	    !(nixver_at_least(v, 2, 24, 15) &&
	    !nixver_at_least(v, 2, 25, 0));
	rules.int_speed = rules.systems_list = !nixver_at_least(v, 2, 20,
	    0);
	rules.strict_uri = nixver_at_least(v, 2, 23, 0);
	rules.port_in_host = !nixver_at_least(v, 2, 31, 0);
	return rules.version;
}

static void
start(struct parser *p, const char *system, struct machines *out)
{
	memset(out, 0, sizeof(*out));
	memset(p, 0, sizeof(*p));
	strlcpy(out->rules, rules.version, sizeof(out->rules));
	p->system = system;
	p->out = out;
	if (conf_path(p->deflt, sizeof(p->deflt), "machines") == -1)
		p->deflt[0] = '\0';
}

static int
finish(struct parser *p)
{
	if (p->errors == 0)
		return 0;
	machines_free(p->out);
	return -1;
}

/* "--builders", "--option", "FILE:LINE", "NIX_CONFIG:LINE": a setting. */
static int
is_setting(const char *src)
{
	const char	*colon = strrchr(src, ':');

	return src[0] == '-' || (colon != NULL && colon[1] != '\0' &&
	    colon[1 + strspn(colon + 1, "0123456789")] == '\0');
}

/*
 * Parse the builders spec buf[0..len) into out, which the caller frees
 * with machines_free.  src says where buf came from: a file name (then
 * places are FILE:LINE), or the place of a setting ("--builders",
 * "FILE:LINE"), used as is for each entry.  Entries without systems get
 * local_system.  Returns 0, or -1 with every error reported (up to
 * MACHINES_ERRORS_MAX) and out empty.
 */
int
machines_parse(const char *buf, size_t len, const char *src,
    const char *local_system, struct machines *out)
{
	struct parser	 p;
	struct stat	 st;
	int		 isfile = !is_setting(src);

	start(&p, local_system, out);
	if (isfile && stat(src, &st) == 0) {	/* for cycles through it */
		p.stack[0].dev = st.st_dev;
		p.stack[0].ino = st.st_ino;
		p.stack[0].path = src;
		p.depth = 1;
	}
	text(&p, buf, len, src, isfile);
	return finish(&p);
}

/*
 * Parse the machines file path into out, as machines_parse does.  When
 * missing_ok, a file that does not exist means no builders.
 */
int
machines_parse_file(const char *path, int missing_ok,
    const char *local_system, struct machines *out)
{
	struct parser	 p;

	start(&p, local_system, out);
	include(&p, path, NULL, missing_ok);
	return finish(&p);
}

void
machines_free(struct machines *ms)
{
	size_t	 i;

	for (i = 0; i < ms->n; i++)
		machine_free(&ms->v[i]);
	free(ms->v);
	memset(ms, 0, sizeof(*ms));
}
