/*
 * NAR, the Nix archive (spec section 3):
 *
 *	nar   = "nix-archive-1" node
 *	node  = "(" "type" ( "regular" ["executable" ""] "contents" BYTES
 *	                   | "symlink" "target" BYTES
 *	                   | "directory" { "entry" "(" "name" NAME "node" node ")" } )
 *	        ")"
 *
 * Every token is a wire string: u64 length, bytes, zero padding to 8.
 *
 * The reader (nar_copy) applies the newest Nix's rules, which are stricter
 * than 2.8's: fields in this order only, entry names valid and strictly
 * increasing byte-wise, symlink targets non-empty without NUL, capped tags,
 * names and targets, zero padding.  Its depth limit is larger than Nix's 64,
 * since real store paths nest deeper and older Nix wrote them.
 *
 * Neither the reader nor the writer (nar_dump_path) recurses on the C stack:
 * each keeps an explicit stack of open directories, NAR_DEPTH_MAX deep, and
 * file contents go through one NAR_BUF_SIZE buffer.  The reader allocates
 * the same amount whatever it reads.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

static void
put_string(struct nar_sink *s, const void *p, size_t n)
{
	static const unsigned char	 zero[8];
	unsigned char			 len[8];
	int				 i;

	for (i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (8 * i));
	nar_sink_put(s, len, 8);
	nar_sink_put(s, p, n);
	nar_sink_put(s, zero, (8 - n % 8) % 8);
}

static void
put_token(struct nar_sink *s, const char *t)
{
	put_string(s, t, strlen(t));
}

/*
 * Bytes go to the sink's function (if any), and into its size and (unless
 * no_hash is set) its SHA-256, so that a NAR's hash is known as it is
 * written.
 */
void
nar_sink_put(struct nar_sink *s, const void *p, size_t n)
{
	if (n == 0 || s->failed)
		return;
	if (!s->no_hash)
		sha256_update(&s->hash, p, n);
	s->size += n;
	if (s->put != NULL && s->put(s->arg, p, n) == -1)
		s->failed = 1;
}

void
nar_sink_init(struct nar_sink *s, int (*put)(void *, const void *, size_t),
    void *arg)
{
	memset(s, 0, sizeof(*s));
	s->put = put;
	s->arg = arg;
	sha256_init(&s->hash);
}

/* The NAR of a single regular file holding data[0..n). */
int
nar_write_file(struct nar_sink *s, const void *data, size_t n, int executable)
{
	put_token(s, "nix-archive-1");
	put_token(s, "(");
	put_token(s, "type");
	put_token(s, "regular");
	if (executable) {
		put_token(s, "executable");
		put_token(s, "");
	}
	put_token(s, "contents");
	put_string(s, data, n);
	put_token(s, ")");
	return s->failed ? -1 : 0;
}

/* ---- reading: nar_copy ---- */

/* One open directory: the entry being read, or the last one read. */
struct rdir {
	char		 name[NAR_NAME_MAX + 1];
	size_t		 namelen;
	int		 any;		/* name holds an entry */
	int		 open;		/* inside that entry's ( ... ) */
};

struct reader {
	struct nar_source	*src;
	struct nar_sink		*dst;
	uint64_t		 off;	/* bytes of the NAR read so far */
	char			*err;
	size_t			 errsz;
	size_t			 depth;	/* open directories */
	struct rdir		 dir[NAR_DEPTH_MAX];
	unsigned char		 buf[NAR_BUF_SIZE];
};

/*
 * Where in the archive we are, for messages: "/a/b" from the entries being
 * read, "" at the top.  Peer bytes are escaped; a long path keeps its tail.
 */
static void
where(const struct reader *r, char *out, size_t outsz)
{
	char	 esc[64];
	size_t	 i, first = 0, need = 0;

	out[0] = '\0';
	for (i = 0; i < r->depth && r->dir[i].open; i++)
		need += 1 + strlen(text_printable(r->dir[i].name,
		    r->dir[i].namelen, esc, sizeof(esc)));
	/* keep the last components when it does not fit */
	while (first < i && need >= outsz - 4) {
		need -= 1 + strlen(text_printable(r->dir[first].name,
		    r->dir[first].namelen, esc, sizeof(esc)));
		first++;
	}
	if (first > 0)
		strlcat(out, "...", outsz);
	for (; first < i; first++) {
		strlcat(out, "/", outsz);
		strlcat(out, text_printable(r->dir[first].name,
		    r->dir[first].namelen, esc, sizeof(esc)), outsz);
	}
}

/* Fail at byte off of the NAR: err gets the place and the message. */
static int
bad(struct reader *r, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad(struct reader *r, uint64_t off, const char *fmt, ...)
{
	char	 msg[512], path[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	where(r, path, sizeof(path));
	if (r->errsz > 0)
		snprintf(r->err, r->errsz, "bad NAR at byte %llu%s%s: %s",
		    (unsigned long long)off, path[0] ? ", in " : "", path, msg);
	return -1;
}

/*
 * Read n bytes, which also go to the sink.  With what NULL, p holds them
 * already: they only go to the sink.
 */
static int
get(struct reader *r, void *p, size_t n, const char *what)
{
	if (n == 0)
		return 0;
	if (what != NULL && r->src->read(r->src->arg, p, n) == -1)
		return bad(r, r->off, "cannot read %s (%zu bytes): the NAR ends "
		    "or its source failed", what, n);
	nar_sink_put(r->dst, p, n);
	if (r->dst->failed)
		return bad(r, r->off, "cannot pass on %s: the NAR's "
		    "destination failed", what ? what : "file contents");
	r->off += n;
	return 0;
}

static int
get_u64(struct reader *r, uint64_t *v, const char *what)
{
	unsigned char	 b[8];
	int		 i;

	if (get(r, b, 8, what) == -1)
		return -1;
	*v = 0;
	for (i = 7; i >= 0; i--)
		*v = *v << 8 | b[i];
	return 0;
}

/* The zero bytes after a string of n bytes. */
static int
get_pad(struct reader *r, uint64_t n)
{
	unsigned char	 b[8];
	size_t		 i, pad = (size_t)((8 - n % 8) % 8);

	if (get(r, b, pad, "padding") == -1)
		return -1;
	for (i = 0; i < pad; i++)
		if (b[i] != 0)
			return bad(r, r->off - pad + i, "non-zero padding "
			    "byte 0x%02x", b[i]);
	return 0;
}

/*
 * A string of at most max bytes into s (max + 1 bytes, NUL-terminated,
 * though it may hold NULs: *lenp is its length).  what names it for
 * messages; *offp is where it began.
 */
static int
get_string(struct reader *r, char *s, size_t max, size_t *lenp,
    uint64_t *offp, const char *what, const char *limit)
{
	uint64_t	 n, off = r->off;

	*offp = off;
	if (get_u64(r, &n, what) == -1)
		return -1;
	if (n > max)
		return bad(r, off, "%s of %llu bytes is longer than %s (%zu)",
		    what, (unsigned long long)n, limit, max);
	if (get(r, s, (size_t)n, what) == -1 || get_pad(r, n) == -1)
		return -1;
	s[n] = '\0';
	*lenp = (size_t)n;
	return 0;
}

/* A token: a short string that the grammar names (a tag). */
static int
get_tag(struct reader *r, char tag[NAR_TAG_MAX + 1], size_t *lenp,
    uint64_t *offp, const char *expected)
{
	uint64_t	 n, off = r->off;

	*offp = off;
	if (get_u64(r, &n, "a token") == -1)
		return -1;
	if (n > NAR_TAG_MAX)
		return bad(r, off, "expected %s, got a string of %llu bytes",
		    expected, (unsigned long long)n);
	if (get(r, tag, (size_t)n, "a token") == -1 || get_pad(r, n) == -1)
		return -1;
	tag[n] = '\0';
	*lenp = (size_t)n;
	return 0;
}

static int
is_tag(const char *tag, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(tag, want, len) == 0;
}

static int
wrong_tag(struct reader *r, uint64_t off, const char *expected,
    const char *tag, size_t len)
{
	char	 esc[NAR_TAG_MAX * 4 + 8];

	return bad(r, off, "expected %s, got \"%s\"", expected,
	    text_printable(tag, len, esc, sizeof(esc)));
}

static int
expect(struct reader *r, const char *want)
{
	char		 tag[NAR_TAG_MAX + 1], exp[NAR_TAG_MAX + 3];
	size_t		 len;
	uint64_t	 off;

	snprintf(exp, sizeof(exp), "\"%s\"", want);
	if (get_tag(r, tag, &len, &off, exp) == -1)
		return -1;
	if (!is_tag(tag, len, want))
		return wrong_tag(r, off, exp, tag, len);
	return 0;
}

/* The magic, with the peer's bytes shown when it is not a NAR at all. */
static int
get_magic(struct reader *r)
{
	unsigned char	 b[8 + 16];
	char		 esc[128];
	uint64_t	 n;
	size_t		 len = sizeof(NAR_MAGIC) - 1;

	if (get(r, b, 8, "the magic") == -1)
		return -1;
	n = (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 |
	    (uint64_t)b[3] << 24 | (uint64_t)b[4] << 32 |
	    (uint64_t)b[5] << 40 | (uint64_t)b[6] << 48 | (uint64_t)b[7] << 56;
	/* a small length is a wrong version; anything else, a banner */
	if (n != len && n <= NAR_TAG_MAX)
		return bad(r, 0, "not a Nix archive: expected \"%s\", got "
		    "a string of %llu bytes", NAR_MAGIC, (unsigned long long)n);
	if (n != len)
		return bad(r, 0, "not a Nix archive: expected \"%s\", got "
		    "\"%s\"", NAR_MAGIC, text_printable(b, 8, esc, sizeof(esc)));
	if (get(r, b + 8, len, "the magic") == -1)
		return -1;
	if (memcmp(b + 8, NAR_MAGIC, len) != 0)
		return bad(r, 0, "not a Nix archive: expected \"%s\", got "
		    "\"%s\"", NAR_MAGIC, text_printable(b + 8, len, esc,
		    sizeof(esc)));
	return get_pad(r, len);
}

/* The tree of the sink, told of a node or an end; -1 stops the copy. */
#define TREE(r)	((r)->dst->tree)
static int
told(struct reader *r, int rc)
{
	if (rc == -1) {
		r->dst->failed = 1;
		return bad(r, r->off, "the NAR's destination failed");
	}
	return 0;
}

/* The name of the node beginning: the entry being read, NULL at the top. */
static const char *
node_name(const struct reader *r)
{
	return r->depth == 0 ? NULL : r->dir[r->depth - 1].name;
}

/* A regular file, after "regular": the contents stream through buf. */
static int
get_regular(struct reader *r)
{
	char		 tag[NAR_TAG_MAX + 1];
	int		 executable = 0;
	size_t		 len, take;
	uint64_t	 off, n, left;

	if (get_tag(r, tag, &len, &off, "\"executable\" or \"contents\"") == -1)
		return -1;
	if (is_tag(tag, len, "executable")) {
		executable = 1;
		if (get_tag(r, tag, &len, &off, "\"\" after \"executable\"")
		    == -1)
			return -1;
		if (len != 0)
			return wrong_tag(r, off, "\"\" after \"executable\"",
			    tag, len);
		if (get_tag(r, tag, &len, &off, "\"contents\"") == -1)
			return -1;
		if (!is_tag(tag, len, "contents"))
			return wrong_tag(r, off, "\"contents\"", tag, len);
	} else if (!is_tag(tag, len, "contents"))
		return wrong_tag(r, off, "\"executable\" or \"contents\"",
		    tag, len);
	if (TREE(r) != NULL && told(r, TREE(r)->file(TREE(r)->arg,
	    node_name(r), executable)) == -1)
		return -1;

	off = r->off;
	if (get_u64(r, &n, "the size of the contents") == -1)
		return -1;
	if (n > NAR_CONTENTS_MAX)
		return bad(r, off, "contents of %llu bytes: more than "
		    "NAR_CONTENTS_MAX (%llu)", (unsigned long long)n,
		    (unsigned long long)NAR_CONTENTS_MAX);
	for (left = n; left > 0; left -= take) {
		take = left < NAR_BUF_SIZE ? (size_t)left : NAR_BUF_SIZE;
		if (r->src->read(r->src->arg, r->buf, take) == -1)
			return bad(r, r->off, "cannot read the contents of a "
			    "file of %llu bytes (%llu read): the NAR ends or "
			    "its source failed", (unsigned long long)n,
			    (unsigned long long)(n - left));
		if (get(r, r->buf, take, NULL) == -1)
			return -1;
		if (TREE(r) != NULL && told(r, TREE(r)->data(TREE(r)->arg,
		    r->buf, take)) == -1)
			return -1;
	}
	if (get_pad(r, n) == -1)
		return -1;
	if (TREE(r) != NULL && told(r, TREE(r)->file_end(TREE(r)->arg)) == -1)
		return -1;
	return expect(r, ")");
}

static int
get_symlink(struct reader *r)
{
	char		 target[NAR_TARGET_MAX + 1];
	size_t		 len;
	uint64_t	 off;

	if (expect(r, "target") == -1 ||
	    get_string(r, target, NAR_TARGET_MAX, &len, &off,
	    "a symlink target", "NAR_TARGET_MAX") == -1)
		return -1;
	if (len == 0)
		return bad(r, off, "empty symlink target");
	if (memchr(target, '\0', len) != NULL)
		return bad(r, off, "symlink target contains a NUL byte");
	if (TREE(r) != NULL && told(r, TREE(r)->link(TREE(r)->arg,
	    node_name(r), target)) == -1)
		return -1;
	return expect(r, ")");
}

/* An entry's name, checked against the one before it in d. */
static int
get_name(struct reader *r, struct rdir *d)
{
	char		 name[NAR_NAME_MAX + 1];
	char		 esc[NAR_NAME_MAX * 4 + 8], pesc[NAR_NAME_MAX * 4 + 8];
	size_t		 len, min;
	uint64_t	 off;
	int		 cmp;

	if (expect(r, "name") == -1 ||
	    get_string(r, name, NAR_NAME_MAX, &len, &off, "an entry name",
	    "NAR_NAME_MAX") == -1)
		return -1;
	text_printable(name, len, esc, sizeof(esc));
	if (len == 0)
		return bad(r, off, "empty entry name");
	if (is_tag(name, len, ".") || is_tag(name, len, ".."))
		return bad(r, off, "invalid entry name \"%s\"", esc);
	if (memchr(name, '/', len) != NULL)
		return bad(r, off, "entry name \"%s\" contains '/'", esc);
	if (memchr(name, '\0', len) != NULL)
		return bad(r, off, "entry name \"%s\" contains a NUL byte", esc);
	if (d->any) {
		min = len < d->namelen ? len : d->namelen;
		cmp = memcmp(name, d->name, min);
		if (cmp == 0)
			cmp = len < d->namelen ? -1 : len > d->namelen;
		text_printable(d->name, d->namelen, pesc, sizeof(pesc));
		if (cmp == 0)
			return bad(r, off, "duplicate entry \"%s\"", esc);
		if (cmp < 0)
			return bad(r, off, "entry \"%s\" comes after \"%s\": "
			    "entries must be sorted byte-wise", esc, pesc);
	}
	memcpy(d->name, name, len + 1);
	d->namelen = len;
	d->any = 1;
	d->open = 1;
	return 0;
}

/*
 * Copy one NAR from src to dst, checking it on the way.  Every byte read is
 * passed to dst with nar_sink_put, so dst->size and dst->hash cover the
 * whole archive; nothing past its end is read.  Returns 0, or -1 with err
 * saying what was wrong and at which byte of the NAR (dst then holds a
 * partial archive, which the caller must discard).  Nothing is logged.
 */
int
nar_copy(struct nar_source *src, struct nar_sink *dst, char *err,
    size_t errsz)
{
	struct reader	*r;
	struct rdir	*d;
	char		 tag[NAR_TAG_MAX + 1];
	size_t		 len;
	uint64_t	 off;
	int		 rc = -1;

	if (errsz > 0)
		err[0] = '\0';
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errsz, "cannot copy a NAR: %s", strerror(errno));
		return -1;
	}
	r->src = src;
	r->dst = dst;
	r->err = err;
	r->errsz = errsz;
	if (dst->failed) {
		bad(r, 0, "the NAR's destination failed already");
		goto out;
	}
	if (get_magic(r) == -1)
		goto out;

	/* A node at depth r->depth begins. */
node:
	if (r->depth >= NAR_DEPTH_MAX) {
		bad(r, r->off, "directories nested deeper than NAR_DEPTH_MAX "
		    "(%d)", NAR_DEPTH_MAX);
		goto out;
	}
	if (expect(r, "(") == -1 || expect(r, "type") == -1 ||
	    get_tag(r, tag, &len, &off,
	    "\"regular\", \"symlink\" or \"directory\"") == -1)
		goto out;
	if (is_tag(tag, len, "regular")) {
		if (get_regular(r) == -1)
			goto out;
	} else if (is_tag(tag, len, "symlink")) {
		if (get_symlink(r) == -1)
			goto out;
	} else if (is_tag(tag, len, "directory")) {
		if (TREE(r) != NULL && told(r, TREE(r)->dir(TREE(r)->arg,
		    node_name(r))) == -1)
			goto out;
		d = &r->dir[r->depth++];
		d->namelen = 0;
		d->any = d->open = 0;
		goto entry;
	} else {
		wrong_tag(r, off, "a type (\"regular\", \"symlink\" or "
		    "\"directory\")", tag, len);
		goto out;
	}

	/* The node just read, and its ")", are done. */
done:
	if (r->depth == 0) {
		rc = 0;
		goto out;
	}
	if (expect(r, ")") == -1)	/* the entry's */
		goto out;
	r->dir[r->depth - 1].open = 0;

	/* In the directory on top: another entry, or its end. */
entry:
	d = &r->dir[r->depth - 1];
	if (get_tag(r, tag, &len, &off, "\"entry\" or \")\"") == -1)
		goto out;
	if (is_tag(tag, len, ")")) {
		r->depth--;
		if (TREE(r) != NULL &&
		    told(r, TREE(r)->dir_end(TREE(r)->arg)) == -1)
			goto out;
		goto done;
	}
	if (!is_tag(tag, len, "entry")) {
		wrong_tag(r, off, "\"entry\" or \")\"", tag, len);
		goto out;
	}
	if (expect(r, "(") == -1 || get_name(r, d) == -1 ||
	    expect(r, "node") == -1)
		goto out;
	goto node;

out:
	free(r);
	return rc;
}

/* ---- writing: nar_dump_path ---- */

/* One directory being written: its entries, sorted, and the next one. */
struct wdir {
	char		**names;
	size_t		  n;
	size_t		  next;
	size_t		  pathlen;	/* the directory's path, in path[] */
};

static int
cmpname(const void *a, const void *b)
{
	/* strcmp compares as unsigned char: byte-wise, as Nix sorts */
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
free_names(struct wdir *w)
{
	size_t	 i;

	for (i = 0; i < w->n; i++)
		free(w->names[i]);
	free(w->names);
	w->names = NULL;
	w->n = w->next = 0;
}

/* The entries of directory path, but . and .., sorted byte-wise. */
static int
list_dir(const char *path, struct wdir *w)
{
	DIR		*dir;
	struct dirent	*de;
	size_t		 nalloc = 0;
	char		**v;

	w->names = NULL;
	w->n = w->next = 0;
	if ((dir = opendir(path)) == NULL) {
		log_err("%s: cannot open directory", path);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (w->n == nalloc) {
			nalloc = nalloc ? nalloc * 2 : 16;
			if ((v = reallocarray(w->names, nalloc,
			    sizeof(*v))) == NULL)
				goto fail;
			w->names = v;
		}
		if ((w->names[w->n] = strdup(de->d_name)) == NULL)
			goto fail;
		w->n++;
	}
	if (errno != 0) {
		log_err("%s: cannot read directory", path);
		goto fail_quiet;
	}
	closedir(dir);
	if (w->n > 0)
		qsort(w->names, w->n, sizeof(*w->names), cmpname);
	return 0;
fail:
	log_err("%s: cannot list directory", path);
fail_quiet:
	closedir(dir);
	free_names(w);
	return -1;
}

/* The "contents" of a regular file, length first, through buf. */
static int
dump_contents(const char *path, const struct stat *lst, struct nar_sink *s,
    unsigned char *buf)
{
	static const unsigned char	 zero[8];
	unsigned char			 len[8];
	struct stat			 st;
	uint64_t			 size, left;
	ssize_t				 got;
	size_t				 want;
	int				 fd, i;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) == -1) {
		log_err("%s: cannot open", path);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_err("%s: cannot stat", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_dev != lst->st_dev ||
	    st.st_ino != lst->st_ino) {
		log_errx("%s: file changed while being archived", path);
		goto fail;
	}
	size = (uint64_t)st.st_size;
	for (i = 0; i < 8; i++)
		len[i] = (unsigned char)(size >> (8 * i));
	nar_sink_put(s, len, 8);
	for (left = size; left > 0 && !s->failed; left -= (uint64_t)got) {
		want = left < NAR_BUF_SIZE ? (size_t)left : NAR_BUF_SIZE;
		if ((got = read(fd, buf, want)) == -1) {
			if (errno == EINTR) {
				got = 0;
				continue;
			}
			log_err("%s: cannot read", path);
			goto fail;
		}
		if (got == 0) {
			log_errx("%s: file shrank while being archived "
			    "(%llu of %llu bytes read)", path,
			    (unsigned long long)(size - left),
			    (unsigned long long)size);
			goto fail;
		}
		nar_sink_put(s, buf, (size_t)got);
	}
	nar_sink_put(s, zero, (size_t)((8 - size % 8) % 8));
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

/*
 * The rest of the node of a regular file or a symlink at p (st), after
 * its type: its contents, or its target, and its end.  0, or -1 (said).
 */
static int
dump_leaf(const char *p, const struct stat *st, struct nar_sink *dst,
    unsigned char *buf)
{
	char	 target[NAR_TARGET_MAX + 1];
	ssize_t	 tl;

	if (S_ISREG(st->st_mode)) {
		put_token(dst, "regular");
		if (st->st_mode & S_IXUSR) {
			put_token(dst, "executable");
			put_token(dst, "");
		}
		put_token(dst, "contents");
		if (dump_contents(p, st, dst, buf) == -1)
			return -1;
	} else {
		if ((tl = readlink(p, target, sizeof(target))) == -1) {
			log_err("%s: cannot read symlink", p);
			return -1;
		}
		if ((size_t)tl > NAR_TARGET_MAX) {
			log_errx("%s: symlink target longer than "
			    "NAR_TARGET_MAX (%d)", p, NAR_TARGET_MAX);
			return -1;
		}
		put_token(dst, "symlink");
		put_token(dst, "target");
		put_string(dst, target, (size_t)tl);
	}
	put_token(dst, ")");
	return 0;
}

/*
 * Write the NAR of the file, directory or symlink at path to dst, as
 * `nix-store --dump` does: entries sorted byte-wise, "executable" when the
 * owner may execute, symlinks not followed, nothing else kept.  Errors are
 * logged naming the file; a failing dst is left to its own function to
 * report.  Returns 0 or -1.
 */
int
nar_dump_path(const char *path, struct nar_sink *dst)
{
	struct wdir	*lv = NULL, *w;
	unsigned char	*buf = NULL;
	char		*p = NULL;
	struct stat	 st;
	size_t		 depth = 0, plen, nlen, i;
	int		 rc = -1;

	if ((lv = calloc(NAR_DEPTH_MAX, sizeof(*lv))) == NULL ||
	    (buf = malloc(NAR_BUF_SIZE)) == NULL ||
	    (p = malloc(NAR_PATH_MAX)) == NULL) {
		log_err("%s: cannot archive", path);
		goto out;
	}
	if (strlcpy(p, path, NAR_PATH_MAX) >= NAR_PATH_MAX) {
		log_errx("%s: path longer than NAR_PATH_MAX (%d)", path,
		    NAR_PATH_MAX);
		goto out;
	}
	plen = strlen(p);
	put_token(dst, NAR_MAGIC);

	/* The node at p, depth directories down, begins. */
node:
	if (dst->failed)
		goto sinkfail;
	if (depth >= NAR_DEPTH_MAX) {
		log_errx("%s: directories nested deeper than NAR_DEPTH_MAX "
		    "(%d)", p, NAR_DEPTH_MAX);
		goto out;
	}
	if (lstat(p, &st) == -1) {
		log_err("%s: cannot stat", p);
		goto out;
	}
	put_token(dst, "(");
	put_token(dst, "type");
	if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
		if (dump_leaf(p, &st, dst, buf) == -1)
			goto out;
	} else if (S_ISDIR(st.st_mode)) {
		w = &lv[depth];
		if (list_dir(p, w) == -1)
			goto out;
		w->pathlen = plen;
		depth++;
		put_token(dst, "directory");
		goto entry;
	} else {
		log_errx("%s: unsupported file type (not a regular file, "
		    "directory or symlink)", p);
		goto out;
	}

	/* The node at p is written. */
done:
	if (depth == 0) {
		if (dst->failed)
			goto sinkfail;
		rc = 0;
		goto out;
	}
	put_token(dst, ")");	/* the entry's */

	/* The directory on top: its next entry, or its end. */
entry:
	w = &lv[depth - 1];
	plen = w->pathlen;
	p[plen] = '\0';
	if (w->next == w->n) {
		free_names(w);
		depth--;
		put_token(dst, ")");
		goto done;
	}
	nlen = strlen(w->names[w->next]);
	if (nlen > NAR_NAME_MAX) {
		log_errx("%s/%s: name longer than NAR_NAME_MAX (%d)", p,
		    w->names[w->next], NAR_NAME_MAX);
		goto out;
	}
	if (plen + 1 + nlen >= NAR_PATH_MAX) {
		log_errx("%s/%s: path longer than NAR_PATH_MAX (%d)", p,
		    w->names[w->next], NAR_PATH_MAX);
		goto out;
	}
	put_token(dst, "entry");
	put_token(dst, "(");
	put_token(dst, "name");
	put_string(dst, w->names[w->next], nlen);
	put_token(dst, "node");
	if (plen == 0 || p[plen - 1] != '/')	/* path "/" */
		p[plen++] = '/';
	memcpy(p + plen, w->names[w->next], nlen + 1);
	plen += nlen;
	w->next++;
	goto node;

sinkfail:
	log_debug(2, "%s: writing its NAR failed", path);
out:
	if (lv != NULL)
		for (i = 0; i < depth; i++)
			free_names(&lv[i]);
	free(lv);
	free(buf);
	free(p);
	return rc;
}
