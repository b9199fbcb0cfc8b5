/*
 * nix.conf, as Nix 2.8 reads it (checked against its `nix show-config`):
 *
 *	file	= { line "\n" }
 *	line	= [ NAME "=" { WORD } | "include" PATH | "!include" PATH ]
 *		  [ "#" comment ]
 *
 * Words are separated by spaces, tabs and CRs, and "=" must be a word of
 * its own; a value is its words joined by single spaces.  There is no line
 * continuation.  `include` of a missing file is an error, `!include` skips
 * it; a relative PATH is relative to the including file.  `extra-NAME`
 * appends to a list setting.
 *
 * The files, later overriding earlier:
 *	1. $NIX_CONF_DIR/nix.conf (/etc/nix/nix.conf)
 *	2. $NIX_USER_CONF_FILES, `:`-separated; else $XDG_CONFIG_HOME/nix/nix.conf
 *	   (~/.config) and DIR/nix/nix.conf for each DIR of $XDG_CONFIG_DIRS
 *	   (/etc/xdg).  Applied last to first, so the first one wins.
 *	3. $NIX_CONFIG, text in the same syntax
 *	4. --builders and --option on our command line, whatever their place
 *	   among the other arguments (common_option records them; conf_load
 *	   replays them last).
 *
 * nix.conf is shared with Nix and its plugins, so settings nix-offload does
 * not use are ignored without a word.  Where Nix would refuse to start (a
 * line that is not NAME = VALUE, a bad value, a missing `include`) we
 * refuse too, naming FILE:LINE.  Where Nix says nothing we say a little
 * more: a file that exists but cannot be read is skipped with a warning,
 * and an include cycle (which crashes Nix 2.8) is an error.
 */
#include <sys/stat.h>
#include <sys/utsname.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

#define WS	" \t\r\n"	/* Nix's word separators */

/*
 * How a setting's value is read, printed and kept.  Each type knows the C
 * type of its field in struct conf: a char * (T_BUILDERS, T_STRING), an
 * int (T_BOOL), a long (T_JOBS, T_SECONDS), a uint64_t (T_BYTES) or a
 * struct strlist (T_SET).
 */
enum type {
	T_BUILDERS,	/* a string; also records builders_src, and when unset
			   defaults to the machines files (conf_value) */
	T_STRING,	/* a string, "" when unset */
	T_BOOL,		/* true/yes/1 or false/no/0 */
	T_JOBS,		/* "auto" (the core count) or a whole number */
	T_SECONDS,	/* a whole number of seconds, 0 = none */
	T_BYTES,	/* a whole number of bytes, 0 = no limit */
	T_SET		/* words, kept sorted and unique; extra-NAME appends */
};

/*
 * The settings nix-offload uses, in the order of `nix show-config`: the
 * one list that conf_set, conf_value, --option, the -v dump and the hook
 * (conf_setting_known) work from.  def is Nix's default as text, set like
 * a value at each load; NULL when it is computed (defaults(), conf_value).
 * A new setting is one line here and its field in struct conf.
 */
static const struct setting {
	const char	*name;
	const char	*alias;		/* the older name Nix 2.8 still takes */
	enum type	 type;
	size_t		 off;		/* its field in struct conf */
	const char	*def;
} settings[] = {
	{ "build-hook", NULL, T_STRING, offsetof(struct conf, build_hook),
	    NULL },	/* NULL: Nix's own, whose path we do not know */
	{ "builders", NULL, T_BUILDERS, offsetof(struct conf, builders),
	    NULL },
	{ "builders-use-substitutes", NULL, T_BOOL,
	    offsetof(struct conf, builders_use_substitutes), "false" },
	{ "extra-platforms", NULL, T_SET,
	    offsetof(struct conf, extra_platforms), NULL },
	{ "keep-failed", NULL, T_BOOL, offsetof(struct conf, keep_failed),
	    "false" },
	{ "log-lines", NULL, T_SECONDS, offsetof(struct conf, log_lines),
	    NULL },	/* NULL: -1, the installed Nix's default (build.c) */
	{ "max-build-log-size", "build-max-log-size", T_BYTES,
	    offsetof(struct conf, max_log_size), "0" },
	{ "max-jobs", "build-max-jobs", T_JOBS,
	    offsetof(struct conf, max_jobs), "1" },
	{ "max-silent-time", "build-max-silent-time", T_SECONDS,
	    offsetof(struct conf, max_silent_time), "0" },
	{ "store", NULL, T_STRING, offsetof(struct conf, store), NULL },
	{ "system", NULL, T_STRING, offsetof(struct conf, system), NULL },
	{ "system-features", NULL, T_SET,
	    offsetof(struct conf, system_features), NULL },
	{ "timeout", "build-timeout", T_SECONDS,
	    offsetof(struct conf, timeout), "0" },
	{ NULL, NULL, T_STRING, 0, NULL }
};

/* Setting s's field in c, a t (CFIELD: read-only). */
#define FIELD(c, s, t)	((t *)(void *)((char *)(c) + (s)->off))
#define CFIELD(c, s, t)	((t const *)(const void *)((const char *)(c) + \
			    (s)->off))

/* The files being read, outermost first: for include cycles. */
struct loader {
	struct conf	*conf;
	struct {
		dev_t	 dev;
		ino_t	 ino;
	}		 stack[CONF_DEPTH_MAX];
	int		 depth;
};

static int	 apply_text(struct loader *, const char *, size_t,
		    const char *, int);
static int	 set(struct conf *, const struct setting *, const char *,
		    const char *, const char *, int);

/*
 * Read a whole file of at most max bytes into a NUL-terminated buffer that
 * the caller frees; st, when not NULL, gets its status.  Returns 0, or -1
 * with errno set (EISDIR for a directory, EFBIG when longer than max) and
 * nothing reported: callers decide whether a missing file is an error.
 */
int
conf_read_file(const char *path, size_t max, char **bufp, size_t *lenp,
    struct stat *stp)
{
	struct stat	 st;
	char		*buf = NULL, *nb;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap == 0 ? 4096 : cap * 2;
			if (cap > max + 1)
				cap = max + 1;
			if ((nb = realloc(buf, cap + 1)) == NULL)
				goto fail;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL && (buf = malloc(1)) == NULL)
		return -1;
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	if (stp != NULL)
		*stp = st;
	return 0;
fail:
	saved = errno;
	close(fd);
	free(buf);
	errno = saved;
	return -1;
}

/*
 * The path of name in Nix's configuration directory, $NIX_CONF_DIR or
 * /etc/nix (an empty NIX_CONF_DIR, which makes Nix 2.8 abort, counts as
 * unset).  Returns 0, or -1 (reported) when it does not fit in sz bytes.
 */
int
conf_path(char *buf, size_t sz, const char *name)
{
	const char	*dir = getenv("NIX_CONF_DIR");
	size_t		 dlen;

	if (dir == NULL || *dir == '\0')
		dir = "/etc/nix";
	for (dlen = strlen(dir); dlen > 1 && dir[dlen - 1] == '/'; dlen--)
		;
	if ((size_t)snprintf(buf, sz, "%.*s%s%s", (int)dlen, dir,
	    dir[dlen - 1] == '/' ? "" : "/", name) >= sz) {
		log_errx("NIX_CONF_DIR=%s: path too long", dir);
		return -1;
	}
	return 0;
}

/* Insert s into a sorted set.  Returns 0, or -1 (reported). */
static int
set_add(struct strlist *l, const char *s)
{
	size_t	 i, j;
	char	*t;
	int	 c;

	for (i = 0; i < l->n; i++) {
		if ((c = strcmp(l->v[i], s)) == 0)
			return 0;
		if (c > 0)
			break;
	}
	if (strlist_add(l, s) == -1) {
		log_err("conf");
		return -1;
	}
	t = l->v[l->n - 1];
	for (j = l->n - 1; j > i; j--)
		l->v[j] = l->v[j - 1];
	l->v[i] = t;
	return 0;
}

/* Split s into words (Nix's tokenizeString); 0, or -1 (reported). */
static int
words(const char *s, struct strlist *out)
{
	char	*w;
	size_t	 n;
	int	 rc;

	for (;;) {
		s += strspn(s, WS);
		if (*s == '\0')
			return 0;
		n = strcspn(s, WS);
		if ((w = strndup(s, n)) == NULL) {
			log_err("conf");
			return -1;
		}
		rc = strlist_add(out, w);
		free(w);
		if (rc == -1) {
			log_err("conf");
			return -1;
		}
		s += n;
	}
}

/*
 * The system Nix would have been built for: uname's machine and OS, in
 * Nix's spelling (x86_64-linux, aarch64-darwin, i686-linux...).
 */
static int
local_system(char *buf, size_t sz)
{
	struct utsname	 u;
	const char	*m;
	char		*p;

	if (uname(&u) == -1) {
		log_err("uname");
		return -1;
	}
	m = u.machine;
	if (strcmp(m, "amd64") == 0)
		m = "x86_64";
	else if (strcmp(m, "arm64") == 0)
		m = "aarch64";
	else if (strcmp(m, "i386") == 0 || strcmp(m, "i486") == 0 ||
	    strcmp(m, "i586") == 0 || strcmp(m, "i86pc") == 0)
		m = "i686";
	for (p = u.sysname; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	snprintf(buf, sz, "%s-%s", m, u.sysname);
	return 0;
}

/* Free the settings and zero them, keeping the command line. */
static void
clear(struct conf *c)
{
	const struct setting	*s;

	for (s = settings; s->name != NULL; s++)
		switch (s->type) {
		case T_BUILDERS:
			c->builders_src[0] = '\0';
			/* FALLTHROUGH */
		case T_STRING:
			free(*FIELD(c, s, char *));
			*FIELD(c, s, char *) = NULL;
			break;
		case T_BOOL:
			*FIELD(c, s, int) = 0;
			break;
		case T_JOBS:
		case T_SECONDS:
			*FIELD(c, s, long) = 0;
			break;
		case T_BYTES:
			*FIELD(c, s, uint64_t) = 0;
			break;
		case T_SET:
			strlist_free(FIELD(c, s, struct strlist));
			break;
		}
}

/*
 * Nix 2.8's defaults.  It also adds the x86_64-vN-linux levels its CPU
 * library detects to extra-platforms; we do not guess those: they matter
 * for local builds only, never for choosing a builder.
 */
static int
defaults(struct conf *c)
{
	const struct setting	*s;
	char			 sys[256];

	for (s = settings; s->name != NULL; s++)
		if (s->def != NULL &&
		    set(c, s, s->name, s->def, "default", 0) == -1)
			return -1;
	c->log_lines = -1;
	if (local_system(sys, sizeof(sys)) == -1)
		return -1;
	if ((c->system = strdup(sys)) == NULL) {
		log_err("conf");
		return -1;
	}
	if (strcmp(sys, "x86_64-linux") == 0 &&
	    set_add(&c->extra_platforms, "i686-linux") == -1)
		return -1;
	if (set_add(&c->system_features, "nixos-test") == -1 ||
	    set_add(&c->system_features, "benchmark") == -1 ||
	    set_add(&c->system_features, "big-parallel") == -1)
		return -1;
	if (strlen(sys) > 6 && strcmp(sys + strlen(sys) - 6, "-linux") == 0 &&
	    access("/dev/kvm", R_OK | W_OK) == 0 &&
	    set_add(&c->system_features, "kvm") == -1)
		return -1;
	return 0;
}

/*
 * log-lines: the lines of a failed build's log nix build shows, as set,
 * or the installed Nix's default (10 before 2.20, 25 since).
 */
long
conf_log_lines(const struct conf *c)
{
	char	 v[64];

	if (c->log_lines >= 0)
		return c->log_lines;
	if (nixver_local(v, sizeof(v)) == 0 &&
	    !nixver_at_least(v, 2, 20, 0))
		return 10;
	return 25;
}

/*
 * Set up c with Nix's defaults.  Nothing is read yet: conf_load does that.
 * conf_free frees it.
 */
void
conf_init(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	(void)defaults(c);	/* conf_load sets them again, and reports */
}

void
conf_free(struct conf *c)
{
	clear(c);
	strlist_free(&c->cmdline);
	memset(c, 0, sizeof(*c));
}

static const struct setting *
lookup(const char *name)
{
	const struct setting	*s;

	for (s = settings; s->name != NULL; s++)
		if (strcmp(name, s->name) == 0 ||
		    (s->alias != NULL && strcmp(name, s->alias) == 0))
			return s;
	return NULL;
}

/* "+"? DIGITS, at most max, as Nix's string2Int reads it. */
static int
whole(const char *s, long max, long *v)
{
	const char	*d = *s == '+' ? s + 1 : s;
	char		*end;
	long		 n;

	if (*d == '\0' || d[strspn(d, "0123456789")] != '\0')
		return -1;
	errno = 0;
	n = strtol(d, &end, 10);
	if (errno != 0 || n > max)
		return -1;
	*v = n;
	return 0;
}

/*
 * "+"? DIGITS up to UINT64_MAX, as Nix's string2Int<unsigned long> reads
 * it: no sign but "+", no spaces, no unit suffix ("10MB" is refused).
 */
static int
whole_u64(const char *s, uint64_t *v)
{
	const char	*d = *s == '+' ? s + 1 : s;
	uint64_t	 n = 0;

	if (*d == '\0' || d[strspn(d, "0123456789")] != '\0')
		return -1;
	for (; *d != '\0'; d++) {
		if (n > (UINT64_MAX - (uint64_t)(*d - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*d - '0');
	}
	*v = n;
	return 0;
}

/*
 * Set s, called name where it was read, to value, read at src; append adds
 * the words of a T_SET instead of replacing it.  Returns 0, or -1
 * (reported, naming src) when the value is not valid for it.
 */
static int
set(struct conf *c, const struct setting *s, const char *name,
    const char *value, const char *src, int append)
{
	struct strlist	 w = { NULL, 0, 0 };
	struct strlist	*l;
	size_t		 i;
	char		*d;
	long		 n;

	switch (s->type) {
	case T_BUILDERS:
	case T_STRING:
		if ((d = strdup(value)) == NULL) {
			log_err("conf");
			return -1;
		}
		free(*FIELD(c, s, char *));
		*FIELD(c, s, char *) = d;
		if (s->type == T_BUILDERS)
			strlcpy(c->builders_src, src, sizeof(c->builders_src));
		return 0;
	case T_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 ||
		    strcmp(value, "1") == 0)
			*FIELD(c, s, int) = 1;
		else if (strcmp(value, "false") == 0 ||
		    strcmp(value, "no") == 0 || strcmp(value, "0") == 0)
			*FIELD(c, s, int) = 0;
		else {
			log_errx("%s: %s = %s: expected true or false",
			    src, name, value);
			return -1;
		}
		return 0;
	case T_JOBS:
		if (strcmp(value, "auto") == 0) {
			n = sysconf(_SC_NPROCESSORS_ONLN);
			*FIELD(c, s, long) = n < 1 ? 1 : n;
		} else if (whole(value, CONF_NUM_MAX,
		    FIELD(c, s, long)) == -1) {
			log_errx("%s: %s = %s: expected auto or a whole number "
			    "from 0 to %ld", src, name, value, CONF_NUM_MAX);
			return -1;
		}
		return 0;
	case T_SECONDS:
		/* Nix 2.8 takes a negative number, and then times out at once */
		if (whole(value, CONF_NUM_MAX, FIELD(c, s, long)) == -1) {
			log_errx("%s: %s = %s: expected a whole number of "
			    "seconds from 0 (none) to %ld", src, name, value,
			    CONF_NUM_MAX);
			return -1;
		}
		return 0;
	case T_BYTES:
		/* Nix 2.8: an unsigned long, bytes; "-1" and "10MB" refused */
		if (whole_u64(value, FIELD(c, s, uint64_t)) == -1) {
			log_errx("%s: %s = %s: expected a whole number of bytes "
			    "from 0 (no limit) to %" PRIu64, src, name, value,
			    UINT64_MAX);
			return -1;
		}
		return 0;
	case T_SET:
		break;
	}
	l = FIELD(c, s, struct strlist);
	if (words(value, &w) == -1)
		goto fail;
	if (!append)
		strlist_free(l);
	for (i = 0; i < w.n; i++)
		if (set_add(l, w.v[i]) == -1)
			goto fail;
	strlist_free(&w);
	return 0;
fail:
	strlist_free(&w);
	return -1;
}

/*
 * Set the setting name (or extra-name, for a list) to value, as read at
 * src ("FILE:LINE", "--builders", "--option").  Returns 0; 1 when name is
 * not a setting nix-offload uses (nothing is done); -1 (reported, naming
 * src) when the value is not valid for it.
 */
int
conf_set(struct conf *c, const char *name, const char *value,
    const char *src)
{
	const struct setting	*s;
	int			 append = 0;

	if ((s = lookup(name)) == NULL && strncmp(name, "extra-", 6) == 0 &&
	    (s = lookup(name + 6)) != NULL) {
		if (s->type != T_SET)
			s = NULL;	/* Nix: an unknown setting */
		append = 1;
	}
	if (s == NULL) {
		log_debug(2, "%s: %s is not a setting nix-offload uses",
		    src, name);
		return 1;
	}
	return set(c, s, name, value, src, append);
}

/*
 * Is name (or its older alias) a setting nix-offload uses?  1 or 0.  Not
 * extra-NAME: Nix sends each setting under its own name.
 */
int
conf_setting_known(const char *name)
{
	return lookup(name) != NULL;
}

/*
 * Apply one file.  where is the FILE:LINE of the include line, NULL for
 * the files of conf_load.  A missing file is skipped silently unless
 * must_exist (`include`); one that exists but cannot be read is skipped
 * with a warning.  Returns 0, or -1 (reported).
 */
static int
load_file(struct loader *l, const char *path, const char *where,
    int must_exist)
{
	struct stat	 st;
	char		*buf;
	size_t		 len;
	int		 i, rc;

	if (l->depth >= CONF_DEPTH_MAX) {
		log_errx("%s: include %s: includes nested deeper than %d",
		    where, path, CONF_DEPTH_MAX);
		return -1;
	}
	if (conf_read_file(path, CONF_FILE_MAX, &buf, &len, &st) == -1) {
		if (errno == ENOENT || errno == ENOTDIR) {
			if (must_exist) {
				log_errx("%s: included file %s not found",
				    where, path);
				return -1;
			}
			log_debug(2, "conf: %s: not found", path);
			return 0;
		}
		if (errno == EFBIG) {
			log_errx("%s%s%s is larger than %d bytes",
			    where ? where : "", where ? ": " : "", path,
			    CONF_FILE_MAX);
			return -1;
		}
		log_warnx("%s%scannot read %s, skipped: %s",
		    where ? where : "", where ? ": " : "", path,
		    strerror(errno));
		return 0;
	}
	for (i = 0; i < l->depth; i++)
		if (l->stack[i].dev == st.st_dev &&
		    l->stack[i].ino == st.st_ino) {
			log_errx("%s: include %s makes a cycle: that file is "
			    "already being read", where, path);
			free(buf);
			return -1;
		}
	log_debug(1, "conf: reading %s", path);
	l->stack[l->depth].dev = st.st_dev;
	l->stack[l->depth].ino = st.st_ino;
	l->depth++;
	rc = apply_text(l, buf, len, path, 1);
	l->depth--;
	free(buf);
	return rc;
}

/* An include line: the path relative to the including file. */
static int
include(struct loader *l, const char *name, const char *path, int isfile,
    const char *src, int must_exist)
{
	char		 full[PATH_MAX];
	const char	*slash;
	int		 dlen;

	if (name[0] == '/')
		return load_file(l, name, src, must_exist);
	if (!isfile) {
		log_errx("%s: include %s: the path must be absolute here",
		    src, name);
		return -1;
	}
	if ((slash = strrchr(path, '/')) == NULL) {
		dlen = 1;
		path = ".";
	} else
		dlen = slash == path ? 1 : (int)(slash - path);
	if ((size_t)snprintf(full, sizeof(full), "%.*s%s%s", dlen, path,
	    dlen == 1 && path[0] == '/' ? "" : "/", name) >= sizeof(full)) {
		log_errx("%s: include %s: path too long", src, name);
		return -1;
	}
	return load_file(l, full, src, must_exist);
}

/*
 * Apply nix.conf text.  path names it: a file (isfile; relative includes
 * are relative to it) or NIX_CONFIG.  Returns 0, or -1 (reported).
 */
static int
apply_text(struct loader *l, const char *buf, size_t len, const char *path,
    int isfile)
{
	const char	*p, *e, *end = buf + len;
	char		 src[CONF_SRC_MAX], *line, *value = NULL;
	struct strlist	 tok = { NULL, 0, 0 };
	size_t		 lineno, n, i, vlen;
	int		 rc = -1, inc;

	if (memchr(buf, '\0', len) != NULL) {
		log_errx("%s: contains a NUL byte: not a nix.conf", path);
		return -1;
	}
	if ((line = malloc(CONF_LINE_MAX + 1)) == NULL) {
		log_err("conf");
		return -1;
	}
	for (p = buf, lineno = 1; p < end; p = e + 1, lineno++) {
		if ((e = memchr(p, '\n', (size_t)(end - p))) == NULL)
			e = end;
		if ((size_t)snprintf(src, sizeof(src), "%s:%zu", path,
		    lineno) >= sizeof(src)) {
			log_errx("%.64s...: file name too long", path);
			goto out;
		}
		if ((n = (size_t)(e - p)) > CONF_LINE_MAX) {
			log_errx("%s: line longer than %d bytes", src,
			    CONF_LINE_MAX);
			goto out;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		line[strcspn(line, "#")] = '\0';
		strlist_free(&tok);
		if (words(line, &tok) == -1)
			goto out;
		if (tok.n == 0)
			continue;
		inc = strcmp(tok.v[0], "include") == 0 ? 1 :
		    strcmp(tok.v[0], "!include") == 0 ? 2 : 0;
		if (tok.n < 2 || (inc && tok.n != 2) ||
		    (!inc && strcmp(tok.v[1], "=") != 0)) {
			log_errx("%s: illegal line \"%s\": expected NAME = "
			    "VALUE (with spaces around the =), include FILE "
			    "or !include FILE", src, line + strspn(line, WS));
			goto out;
		}
		if (inc) {
			if (include(l, tok.v[1], path, isfile, src,
			    inc == 1) == -1)
				goto out;
			continue;
		}
		for (vlen = 0, i = 2; i < tok.n; i++)
			vlen += strlen(tok.v[i]) + 1;
		free(value);
		if ((value = malloc(vlen + 1)) == NULL) {
			log_err("conf");
			goto out;
		}
		value[0] = '\0';
		for (i = 2; i < tok.n; i++) {
			if (i > 2)
				strlcat(value, " ", vlen + 1);
			strlcat(value, tok.v[i], vlen + 1);
		}
		if (conf_set(l->conf, tok.v[0], value, src) == -1)
			goto out;
	}
	rc = 0;
out:
	free(value);
	free(line);
	strlist_free(&tok);
	return rc;
}

/* ~/.config, from $HOME or the password database. */
static const char *
home(void)
{
	const char	*h = getenv("HOME");
	struct passwd	*pw;

	if (h != NULL)
		return h;
	if ((pw = getpwuid(getuid())) != NULL)
		return pw->pw_dir;
	return "/";
}

/* Add each element of a `:`-separated list, with tail appended. */
static int
add_dirs(struct strlist *l, const char *list, const char *tail,
    const char *var)
{
	char	 path[PATH_MAX];
	size_t	 n;

	for (;;) {
		list += strspn(list, ":");
		if (*list == '\0')
			return 0;
		n = strcspn(list, ":");
		if (l->n >= CONF_FILES_MAX) {
			log_errx("%s lists more than %d files", var,
			    CONF_FILES_MAX);
			return -1;
		}
		if ((size_t)snprintf(path, sizeof(path), "%.*s%s", (int)n,
		    list, tail) >= sizeof(path)) {
			log_errx("%s: a path is too long", var);
			return -1;
		}
		if (strlist_add(l, path) == -1) {
			log_err("conf");
			return -1;
		}
		list += n;
	}
}

/* The user's nix.conf files, first (strongest) first. */
static int
user_files(struct strlist *l)
{
	const char	*e, *cfg;
	char		 path[PATH_MAX];

	if ((e = getenv("NIX_USER_CONF_FILES")) != NULL)
		return add_dirs(l, e, "", "NIX_USER_CONF_FILES");
	/* an empty XDG_CONFIG_HOME is used as is, as Nix does */
	if ((cfg = getenv("XDG_CONFIG_HOME")) != NULL)
		snprintf(path, sizeof(path), "%s/nix/nix.conf", cfg);
	else
		snprintf(path, sizeof(path), "%s/.config/nix/nix.conf", home());
	if (strlist_add(l, path) == -1) {
		log_err("conf");
		return -1;
	}
	if ((e = getenv("XDG_CONFIG_DIRS")) == NULL)
		e = "/etc/xdg";
	return add_dirs(l, e, "/nix/nix.conf", "XDG_CONFIG_DIRS");
}

/*
 * Read the configuration as Nix would: defaults, the nix.conf files,
 * NIX_CONFIG, then what common_option recorded from the command line.
 * Every setting is computed afresh, so it may be called again.  Returns 0,
 * or -1 (reported, naming FILE:LINE) when Nix too would refuse it.
 */
int
conf_load(struct conf *c)
{
	struct loader	 l;
	struct strlist	 files = { NULL, 0, 0 };
	char		 path[PATH_MAX], *val;
	const char	*env;
	size_t		 i;

	clear(c);
	c->loaded = 0;
	if (defaults(c) == -1)
		return -1;
	memset(&l, 0, sizeof(l));
	l.conf = c;
	if (conf_path(path, sizeof(path), "nix.conf") == -1 ||
	    load_file(&l, path, NULL, 0) == -1 ||
	    user_files(&files) == -1)
		goto fail;
	for (i = files.n; i-- > 0; )
		if (load_file(&l, files.v[i], NULL, 0) == -1)
			goto fail;
	if ((env = getenv("NIX_CONFIG")) != NULL) {
		if (strlen(env) > CONF_FILE_MAX) {
			log_errx("NIX_CONFIG is longer than %d bytes",
			    CONF_FILE_MAX);
			goto fail;
		}
		if (apply_text(&l, env, strlen(env), "NIX_CONFIG", 0) == -1)
			goto fail;
	}
	for (i = 0; i + 2 < c->cmdline.n; i += 3)
		if (conf_set(c, c->cmdline.v[i], c->cmdline.v[i + 1],
		    c->cmdline.v[i + 2]) == -1)
			goto fail;
	strlist_free(&files);
	c->loaded = 1;
	if (verbose >= 1 && (val = malloc(CONF_LINE_MAX + PATH_MAX)) != NULL) {
		for (i = 0; settings[i].name != NULL; i++)
			if ((settings[i].type != T_STRING ||
			    *CFIELD(c, &settings[i], char *) != NULL) &&
			    conf_value(c, settings[i].name, val,
			    CONF_LINE_MAX + PATH_MAX) == 0)
				log_debug(1, "conf: %s = %s", settings[i].name,
				    val);
		free(val);
	}
	if (c->builders != NULL)
		log_debug(1, "conf: builders set at %s", c->builders_src);
	return 0;
fail:
	strlist_free(&files);
	return -1;
}

/*
 * A setting from the command line (src names the option): applied now,
 * and again by conf_load after the files.  Returns as conf_set does.
 */
int
conf_cmdline(struct conf *c, const char *name, const char *value,
    const char *src)
{
	if (strlist_add(&c->cmdline, name) == -1 ||
	    strlist_add(&c->cmdline, value) == -1 ||
	    strlist_add(&c->cmdline, src) == -1) {
		log_err("conf");
		return -1;
	}
	return conf_set(c, name, value, src);
}

static int
join(const struct strlist *l, char *buf, size_t sz)
{
	size_t	 i;

	buf[0] = '\0';
	for (i = 0; i < l->n; i++)
		if ((i > 0 && strlcat(buf, " ", sz) >= sz) ||
		    strlcat(buf, l->v[i], sz) >= sz)
			return -1;
	return 0;
}

/*
 * The value of a setting as `nix show-config` prints it, into buf.
 * Returns 0, or -1 when name is not one of ours or buf is too small.
 */
int
conf_value(const struct conf *c, const char *name, char *buf, size_t sz)
{
	const struct setting	*s;
	const char		*env, *str;
	size_t			 k, o;
	int			 n = -1;

	if ((s = lookup(name)) == NULL)
		return -1;
	switch (s->type) {
	case T_BUILDERS:
		if ((str = *CFIELD(c, s, char *)) != NULL)
			n = snprintf(buf, sz, "%s", str);
		else if ((env = getenv("NIX_REMOTE_SYSTEMS")) != NULL &&
		    *env != '\0') {
			/* Nix 2.8's default then: "@FILE @FILE..." */
			buf[0] = '\0';
			for (; *(env += strspn(env, ":")) != '\0'; env += k) {
				k = strcspn(env, ":");
				o = strlen(buf);
				n = snprintf(buf + o, sz - o, "%s@%.*s",
				    o > 0 ? " " : "", (int)k, env);
				if (n < 0 || (size_t)n >= sz - o)
					return -1;
			}
			return 0;
		} else {
			if (sz < 2 || conf_path(buf + 1, sz - 1,
			    "machines") == -1)
				return -1;
			buf[0] = '@';
			n = (int)strlen(buf);
		}
		break;
	case T_STRING:
		str = *CFIELD(c, s, char *);
		n = snprintf(buf, sz, "%s", str != NULL ? str : "");
		break;
	case T_BOOL:
		n = snprintf(buf, sz, "%s",
		    *CFIELD(c, s, int) ? "true" : "false");
		break;
	case T_JOBS:
	case T_SECONDS:
		n = snprintf(buf, sz, "%ld", s->off == offsetof(struct conf,
		    log_lines) ? conf_log_lines(c) : *CFIELD(c, s, long));
		break;
	case T_BYTES:
		n = snprintf(buf, sz, "%" PRIu64, *CFIELD(c, s, uint64_t));
		break;
	case T_SET:
		return join(CFIELD(c, s, struct strlist), buf, sz);
	}
	return n < 0 || (size_t)n >= sz ? -1 : 0;
}
