/*
 * Builders specs (the `builders` setting, --builders) and machines files,
 * read with the rules of the newest Nix (nix-protocols.md 7.1):
 *
 *	spec	= { line "\n" }
 *	line	= piece { ";" piece } [ "#" comment ]
 *
 * but for the comment, which, as the installed Nix reads it
 * (machines_rules), runs to the end of the line from Nix 2.28.2 on, and
 * before, to the next ";" only:
 *
 *	line	= piece [ "#" comment ] { ";" piece [ "#" comment ] }
 *	piece	= "" | "@" FILE | URI [ SYSTEMS [ KEY [ JOBS [ SPEED
 *		  [ SUPPORTED [ MANDATORY [ HOSTKEY ] ] ] ] ] ] ]
 *
 * Pieces are trimmed and empty ones skipped, so a leading space before @
 * (which Nix 2.8 mishandled) is fine.  Fields are separated by spaces and
 * tabs; "-" means the default.  SYSTEMS (default: the local system),
 * SUPPORTED and MANDATORY are comma-separated.  KEY is the ssh identity,
 * JOBS a positive whole number (default 1), SPEED a positive number
 * (default 1), HOSTKEY the base64 of a public host key line.  A URI without
 * "://" or "/" that is not auto, daemon or local (alone or with a ?query)
 * is an ssh:// host, as in Nix.  @FILE is read with the same rules; a
 * relative FILE is relative to /, where Nix's build hook runs (Nix itself
 * uses its current directory, and its hook's is always /).
 *
 * Where we part from Nix, on purpose:
 *   - Nix skips an @FILE that does not exist.  Here it is an error naming
 *     the FILE:LINE that includes it: a builder list that silently lost a
 *     file is the kind of surprise this tool exists to remove.  The one
 *     exception is the default machines file, $NIX_CONF_DIR/machines,
 *     implied or written out (the manual shows `builders =
 *     @/etc/nix/machines` as "the default"): missing, it means no builders.
 *   - Nix takes max jobs 0 (a builder that is never free) and turns speed
 *     factor 0 into 1; both are errors here, as are more than 8 fields
 *     (Nix ignores the rest) and a host key that decodes to something
 *     other than a key line (Nix checks only the base64).
 *   - Nix recurses into @FILE without limit; here a cycle is an error, and
 *     so is nesting deeper than MACHINES_DEPTH_MAX.
 *   - Stores other than ssh:// (ssh-ng://, local, daemon, ...) are listed,
 *     unusable, with a warning: nix-offload speaks the serve protocol only.
 * Errors name FILE:LINE (or the setting's own place) and the field; up to
 * MACHINES_ERRORS_MAX of them are reported, and then nothing is returned.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

#define WS	" \t\r\n"	/* Nix's field separators, and trim's */

/* Nix before 2.28.2 cut a "#" comment at the next ";" (machines_rules). */
static int	 comment_to_semicolon;

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

/*
 * Add each comma-separated item of s to l, in order, once.  Returns 0, or
 * -1 (reported) when there are too many.
 */
static int
list(struct parser *p, const char *where, const char *s, int field,
    const char *what, struct strlist *l)
{
	char	*item;
	size_t	 n, i;
	int	 rc;

	for (;;) {
		s += strspn(s, ",");
		if (*s == '\0')
			return 0;
		n = strcspn(s, ",");
		if ((item = strndup(s, n)) == NULL) {
			bad(p, where, "out of memory");
			return -1;
		}
		s += n;
		/* "-" is the default only as the whole field (fuzzer) */
		if (strcmp(item, "-") == 0) {
			bad(p, where, "a lone \"-\" among the %s (field %d): "
			    "\"-\" means the default only as the whole field",
			    what, field);
			free(item);
			return -1;
		}
		for (i = 0; i < l->n; i++)
			if (strcmp(l->v[i], item) == 0)
				break;
		if (i < l->n) {
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
}

static int
max_jobs(struct parser *p, const char *where, const char *s, long *v)
{
	char	*end;
	long	 n;

	if (*s == '\0' || s[strspn(s, "0123456789")] != '\0' ||
	    (n = strtol(s, &end, 10)) == 0) {
		bad(p, where, "max jobs \"%s\" is not a positive whole number "
		    "(field 4)%s", s, strcmp(s, "0") == 0 ? "; to stop using a "
		    "builder, comment it out" : "");
		return -1;
	}
	if (n > MACHINES_JOBS_MAX) {
		bad(p, where, "max jobs %s is more than %d (field 4)", s,
		    MACHINES_JOBS_MAX);
		return -1;
	}
	*v = n;
	return 0;
}

/* DIGITS [ "." DIGITS ], at least one digit, more than 0. */
static int
speed(struct parser *p, const char *where, const char *s, double *v)
{
	const char	*t = s + strspn(s, "0123456789");
	char		*end;
	double		 d;

	if (*t == '.')
		t += 1 + strspn(t + 1, "0123456789");
	if (*t != '\0' || strpbrk(s, "0123456789") == NULL ||
	    (d = strtod(s, &end)) <= 0) {
		bad(p, where, "speed factor \"%s\" is not a positive number "
		    "(field 5)", s);
		return -1;
	}
	if (d < MACHINES_SPEED_MIN) {
		bad(p, where, "speed factor %s is less than %g (field 5)", s,
		    MACHINES_SPEED_MIN);
		return -1;
	}
	if (d > MACHINES_SPEED_MAX) {
		bad(p, where, "speed factor %s is more than %.0f (field 5)", s,
		    MACHINES_SPEED_MAX);
		return -1;
	}
	*v = d;
	return 0;
}

/* Nix's rule: which URIs get ssh:// in front. */
static int
bare_host(const char *u)
{
	static const char *const special[] = { "auto", "daemon", "local" };
	size_t	 i, n;

	if (strstr(u, "://") != NULL || strchr(u, '/') != NULL || u[0] == '?')
		return 0;
	for (i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		n = strlen(special[i]);
		if (strncmp(u, special[i], n) == 0 &&
		    (u[n] == '\0' || u[n] == '?'))
			return 0;
	}
	return 1;
}

/* Why a store that is not ssh:// cannot be used, for messages. */
static void
unusable(const char *u, char *buf, size_t sz)
{
	const char	*colon = strstr(u, "://");

	if (strncmp(u, "ssh-ng://", 9) == 0)
		snprintf(buf, sz, "ssh-ng:// stores speak the daemon "
		    "protocol; nix-offload speaks to ssh:// stores only");
	else if (colon != NULL)
		snprintf(buf, sz, "%.*s:// is not an ssh:// store; "
		    "nix-offload speaks to ssh:// stores only",
		    (int)(colon - u) > 32 ? 32 : (int)(colon - u), u);
	else
		snprintf(buf, sz, "not a remote store; nix-offload speaks "
		    "to ssh:// stores only");
}

/*
 * The last error of uri.c, which reports without our FILE:LINE: kept
 * quiet, then said again with it.
 */
static int
quietly_uri(const char *text, struct store_uri *u)
{
	int	 rc, was;

	was = log_quiet(1);
	rc = uri_parse(text, u);
	log_quiet(was);
	return rc;
}

static char *
quietly_hostkey(const char *b64)
{
	char	*k;
	int	 was;

	was = log_quiet(1);
	k = hostkey_parse(b64);
	log_quiet(was);
	return k;
}

static void
machine_free(struct machine *m)
{
	free(m->uri_text);
	uri_free(&m->uri);
	strlist_free(&m->systems);
	free(m->ssh_key);
	strlist_free(&m->supported);
	strlist_free(&m->mandatory);
	free(m->host_key_b64);
	free(m->unusable_why);
	memset(m, 0, sizeof(*m));
}

/* One entry: fields split, checked, and appended to the output. */
static void
entry(struct parser *p, char *s, const char *where)
{
	struct machine	 m, *v;
	char		*f[MACHINES_FIELDS], why[256], *key = NULL;
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
	if (total > MACHINES_FIELDS) {
		bad(p, where, "%zu fields, at most %d: URI SYSTEMS SSH-KEY "
		    "MAX-JOBS SPEED-FACTOR SUPPORTED-FEATURES "
		    "MANDATORY-FEATURES HOST-KEY (lists are comma-separated, "
		    "without spaces)", total, MACHINES_FIELDS);
		return;
	}
	if (!SET(0)) {
		bad(p, where, "the store URI is missing (field 1)");
		return;
	}
	if (p->out->n >= MACHINES_MAX) {
		bad(p, where, "more than %d builders", MACHINES_MAX);
		return;
	}
	memset(&m, 0, sizeof(m));
	strlcpy(m.source, where, sizeof(m.source));
	m.max_jobs = 1;
	m.speed_factor = 1;
	if ((m.uri_text = malloc(strlen(f[0]) + 7)) == NULL)
		goto nomem;
	snprintf(m.uri_text, strlen(f[0]) + 7, "%s%s",
	    bare_host(f[0]) ? "ssh://" : "", f[0]);
	if (SET(1)) {
		if (list(p, where, f[1], 2, "systems", &m.systems) == -1)
			goto fail;
		/* "," alone: no system, so never used; and it would print
		 * as "-", the default (fuzzer) */
		if (m.systems.n == 0) {
			bad(p, where, "no system in \"%s\" (field 2)", f[1]);
			goto fail;
		}
	} else if (p->system != NULL && strlist_add(&m.systems,
	    p->system) == -1)
		goto nomem;
	if (SET(2) && (m.ssh_key = strdup(f[2])) == NULL)
		goto nomem;
	if (SET(3) && max_jobs(p, where, f[3], &m.max_jobs) == -1)
		goto fail;
	if (SET(4) && speed(p, where, f[4], &m.speed_factor) == -1)
		goto fail;
	if (SET(5) && list(p, where, f[5], 6, "supported features",
	    &m.supported) == -1)
		goto fail;
	if (SET(6) && list(p, where, f[6], 7, "mandatory features",
	    &m.mandatory) == -1)
		goto fail;
	if (SET(7)) {
		if ((key = quietly_hostkey(f[7])) == NULL) {
			bad(p, where, "%s (field 8)", log_last());
			goto fail;
		}
		if ((m.host_key_b64 = strdup(f[7])) == NULL)
			goto nomem;
	}
#undef SET
	if (strncmp(m.uri_text, "ssh://", 6) == 0) {
		if (quietly_uri(m.uri_text, &m.uri) == -1) {
			bad(p, where, "%s (field 1)", log_last());
			goto fail;
		}
		/* fields 3 and 8 win over ?ssh-key= and the URI's host key */
		if (m.ssh_key != NULL) {
			free(m.uri.ssh_key);
			if ((m.uri.ssh_key = strdup(m.ssh_key)) == NULL)
				goto nomem;
		}
		if (key != NULL) {
			free(m.uri.host_key);
			m.uri.host_key = key;
			key = NULL;
		}
		m.usable = 1;
	} else {
		unusable(m.uri_text, why, sizeof(why));
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
		bad(p, where, "@ without a file name");
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
		if (!comment_to_semicolon)
			line[strcspn(line, "#")] = '\0';
		for (piece = line; piece != NULL &&
		    p->errors < MACHINES_ERRORS_MAX; piece = semi) {
			if ((semi = strchr(piece, ';')) != NULL)
				*semi++ = '\0';
			piece[strcspn(piece, "#")] = '\0';
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
 * Read specs as Nix nix_version does where that changes which builders
 * there are: before 2.28.2 a "#" comment ends at the next ";".  NULL, or
 * a version not known: the newest rules.  Returns the version followed.
 */
const char *
machines_rules(const char *nix_version)
{
	comment_to_semicolon = nix_version != NULL &&
	    !nix_version_at_least(nix_version, 2, 28, 2);
	return nix_version != NULL ? nix_version : "the newest";
}

static void
start(struct parser *p, const char *system, struct machines *out)
{
	memset(out, 0, sizeof(*out));
	memset(p, 0, sizeof(*p));
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
