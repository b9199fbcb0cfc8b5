/*
 * tamper MODE [ARG]: a builder that builds honestly and then lies about
 * what it built.  Run as remote-program (ssh appends --serve --write): it
 * starts the builder's real `nix-store --serve --write`, passes the
 * conversation through request by request, and changes one kind of
 * answer, for the trust tests (tests/trust.sh).
 *
 *	closure-extra PATH	QueryClosure: PATH (valid on the builder, so
 *				its NAR can be had) is added to every answer
 *	deriver TEXT		QueryPathInfos: every deriver is TEXT
 *	ref TEXT		QueryPathInfos: TEXT is added to every
 *				path's references
 *	ca TEXT			QueryPathInfos: every content address is
 *				TEXT
 *	built-path TEXT		BuildDerivation: every built output is said
 *				to be at the store path named TEXT
 *	size			QueryPathInfos: every NAR size is 8 bytes
 *				more than the real one (the hash is right)
 *	twice			QueryPathInfos: of two or more answers, the
 *				first stands in for the second too
 *	corrupt-second		DumpStorePath: the second NAR asked for has
 *				one byte of a file's contents changed
 *	cut-second		DumpStorePath: the second NAR stops half way
 *				through a file, and the builder with it
 *
 * ARG takes %XX escapes (%0A is a new line).  Everything else passes as
 * the real nix-store says it.  Serve protocol 2.x as spec/nix-protocols.md
 * section 2 has it; the version in use is the lower of both sides'.
 */
#include <sys/wait.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TAMPER_STRING_MAX	(1u << 20)	/* a string kept in memory */
#define TAMPER_LIST_MAX		(1u << 20)

static const char	*mode, *arg;
static int		 cin = 0, cout = 1, sin_, sout;
static unsigned		 minor;		/* of the version in use */
static int		 dumps;		/* DumpStorePath answers so far */

static void	 die(const char *) __attribute__((noreturn));

static void
die(const char *why)
{
	fprintf(stderr, "tamper: %s\n", why);
	exit(1);
}

static void
rd(int fd, void *p, size_t n)
{
	ssize_t	 r;

	while (n > 0) {
		if ((r = read(fd, p, n)) <= 0) {
			if (fd == cin)
				exit(0);	/* the client went */
			die("the real nix-store ended");
		}
		p = (char *)p + r;
		n -= (size_t)r;
	}
}

static void
wr(int fd, const void *p, size_t n)
{
	ssize_t	 r;

	while (n > 0) {
		if ((r = write(fd, p, n)) <= 0)
			exit(0);
		p = (const char *)p + r;
		n -= (size_t)r;
	}
}

static uint64_t
rd_u64(int fd)
{
	unsigned char	 b[8];
	uint64_t	 v = 0;
	int		 i;

	rd(fd, b, 8);
	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static void
wr_u64(int fd, uint64_t v)
{
	unsigned char	 b[8];
	int		 i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	wr(fd, b, 8);
}

static uint64_t
u64(int from, int to)
{
	uint64_t	 v = rd_u64(from);

	wr_u64(to, v);
	return v;
}

/* A string kept whole: for paths and the like. */
static char *
rd_str(int fd)
{
	uint64_t	 n = rd_u64(fd);
	char		*s, pad[8];

	if (n > TAMPER_STRING_MAX || (s = malloc(n + 1)) == NULL)
		die("a string too long to keep");
	rd(fd, s, n);
	s[n] = '\0';
	if (n % 8)
		rd(fd, pad, 8 - n % 8);
	return s;
}

static void
wr_str(int fd, const char *s)
{
	static const char zero[8];
	size_t		 n = strlen(s);

	wr_u64(fd, n);
	wr(fd, s, n);
	if (n % 8)
		wr(fd, zero, 8 - n % 8);
}

enum { PASS, FLIP, CUT };	/* what str does to the bytes */

/*
 * Pass a string through, streaming; its first bytes (at most keepsz - 1)
 * into keep if not NULL.  FLIP: its middle byte is changed on the way;
 * CUT: only its first half goes, and then the tamperer ends.
 */
static void
str(int from, int to, char *keep, size_t keepsz, int how)
{
	uint64_t	 n = u64(from, to), left, k, at;
	char		 b[65536];
	size_t		 kept = 0;

	left = n + (n % 8 ? 8 - n % 8 : 0);
	while (left > 0) {
		k = left < sizeof(b) ? left : sizeof(b);
		rd(from, b, k);
		at = n + (n % 8 ? 8 - n % 8 : 0) - left;
		if (keep != NULL && kept < keepsz - 1) {
			size_t	 c = keepsz - 1 - kept < k ? keepsz - 1 - kept : k;
			memcpy(keep + kept, b, c);
			kept += c;
		}
		if (how != PASS && n > 0 && at <= n / 2 && n / 2 < at + k) {
			if (how == CUT) {
				wr(to, b, n / 2 - at);
				exit(1);
			}
			b[n / 2 - at] ^= 0x20;
			how = PASS;
		}
		wr(to, b, k);
		left -= k;
	}
	if (keep != NULL)
		keep[kept < n ? kept : n] = '\0';
}

static uint64_t
strs(int from, int to)
{
	uint64_t	 n = u64(from, to), i;

	if (n > TAMPER_LIST_MAX)
		die("a list too long");
	for (i = 0; i < n; i++)
		str(from, to, NULL, 0, 0);
	return n;
}

/*
 * A NAR, passed through: strings until the parentheses close.  The string
 * after "contents", "target" or "name" is data, whatever it says.  how
 * (FLIP, CUT) is done to the first file's contents.
 */
static void
nar(int from, int to, int how)
{
	char	 tok[32];
	int	 depth = 0, data = 0, started = 0, contents = 0;

	for (;;) {
		str(from, to, tok, sizeof(tok), contents ? how : PASS);
		if (contents)
			how = PASS;
		contents = 0;
		if (data) {
			data = 0;
			continue;
		}
		if (strcmp(tok, "(") == 0) {
			depth++;
			started = 1;
		} else if (strcmp(tok, ")") == 0)
			depth--;
		else if (strcmp(tok, "contents") == 0 ||
		    strcmp(tok, "target") == 0 || strcmp(tok, "name") == 0) {
			data = 1;
			contents = tok[0] == 'c';
		}
		if (started && depth == 0)
			return;
	}
}

/* QueryPathInfos' answer, as the mode would have it. */
static void
path_infos(void)
{
	char		*first = NULL, *p, *d;
	uint64_t	 i, n, v[2];
	int		 answers = 0;

	for (;;) {
		p = rd_str(sout);
		if (*p == '\0') {
			wr_str(cout, p);
			free(p);
			break;
		}
		answers++;
		if (strcmp(mode, "twice") == 0 && answers == 1)
			first = strdup(p);
		wr_str(cout, strcmp(mode, "twice") == 0 && answers == 2 ?
		    first : p);
		free(p);
		d = rd_str(sout);
		wr_str(cout, strcmp(mode, "deriver") == 0 ? arg : d);
		free(d);
		n = rd_u64(sout);
		wr_u64(cout, n + (strcmp(mode, "ref") == 0));
		for (i = 0; i < n; i++)
			str(sout, cout, NULL, 0, 0);
		if (strcmp(mode, "ref") == 0)
			wr_str(cout, arg);
		v[0] = u64(sout, cout);			/* download size */
		v[1] = rd_u64(sout);			/* NAR size */
		wr_u64(cout, v[1] + 8 * (strcmp(mode, "size") == 0));
		if (minor >= 4) {
			str(sout, cout, NULL, 0, 0);	/* NAR hash */
			d = rd_str(sout);		/* ca */
			wr_str(cout, strcmp(mode, "ca") == 0 ? arg : d);
			free(d);
			strs(sout, cout);		/* signatures */
		}
	}
	free(first);
}

/* One built output (its id, its realisation's JSON), as the mode would
 * have it. */
static void
built_output(void)
{
	char	*id = rd_str(sout), *json = rd_str(sout), *j;
	size_t	 n;

	wr_str(cout, id);
	if (strcmp(mode, "built-path") == 0) {
		n = strlen(id) + strlen(arg) + 128;
		if ((j = malloc(n)) == NULL)
			die("out of memory");
		snprintf(j, n, "{\"dependentRealisations\":{},\"id\":\"%s\","
		    "\"outPath\":\"%s\",\"signatures\":[]}", id, arg);
		wr_str(cout, j);
		free(j);
	} else
		wr_str(cout, json);
	free(id);
	free(json);
}

/* Take %XX escapes out of s, in place. */
static char *
unescape(char *s)
{
	char	*r = s, *w = s;
	int	 c;

	while (*r != '\0') {
		if (r[0] == '%' && sscanf(r + 1, "%2x", &c) == 1) {
			*w++ = (char)c;
			r += 3;
		} else
			*w++ = *r++;
	}
	*w = '\0';
	return s;
}

int
main(int argc, char **argv)
{
	int		 a[2], b[2];
	uint64_t	 cmd, n, i, client;
	pid_t		 pid;
	char		 path[4096];

	if (argc < 2)
		die("usage: tamper MODE [ARG]");
	mode = argv[1];
	arg = argc > 2 && strcmp(argv[2], "--serve") != 0 ?
	    unescape(argv[2]) : "";
	if (pipe(a) == -1 || pipe(b) == -1)
		die("pipe");
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		dup2(a[0], 0);
		dup2(b[1], 1);
		close(a[0]);
		close(a[1]);
		close(b[0]);
		close(b[1]);
		execlp("nix-store", "nix-store", "--serve", "--write",
		    (char *)NULL);
		_exit(127);
	}
	close(a[0]);
	close(b[1]);
	sin_ = a[1];
	sout = b[0];

	/* handshake: magic and version each way */
	u64(cin, sin_);
	client = u64(cin, sin_);
	u64(sout, cout);
	n = u64(sout, cout);
	minor = (unsigned)((client < n ? client : n) & 0xff);

	for (;;) {
		cmd = u64(cin, sin_);
		switch (cmd) {
		case 1:		/* QueryValidPaths */
			u64(cin, sin_);
			u64(cin, sin_);
			strs(cin, sin_);
			strs(sout, cout);
			break;
		case 2:		/* QueryPathInfos */
			strs(cin, sin_);
			path_infos();
			break;
		case 3:		/* DumpStorePath */
			str(cin, sin_, NULL, 0, 0);
			dumps++;
			nar(sout, cout, dumps != 2 ? PASS :
			    strcmp(mode, "corrupt-second") == 0 ? FLIP :
			    strcmp(mode, "cut-second") == 0 ? CUT : PASS);
			break;
		case 7:		/* QueryClosure */
			u64(cin, sin_);
			strs(cin, sin_);
			n = rd_u64(sout);
			wr_u64(cout, n + (strcmp(mode, "closure-extra") == 0));
			for (i = 0; i < n; i++)
				str(sout, cout, NULL, 0, 0);
			if (strcmp(mode, "closure-extra") == 0)
				wr_str(cout, arg);
			break;
		case 8:		/* BuildDerivation */
			str(cin, sin_, path, sizeof(path), 0);
			n = u64(cin, sin_);
			for (i = 0; i < 4 * n; i++)
				str(cin, sin_, NULL, 0, 0);
			strs(cin, sin_);		/* input sources */
			str(cin, sin_, NULL, 0, 0);	/* platform */
			str(cin, sin_, NULL, 0, 0);	/* builder */
			strs(cin, sin_);		/* args */
			n = u64(cin, sin_);
			for (i = 0; i < 2 * n; i++)
				str(cin, sin_, NULL, 0, 0);
			u64(cin, sin_);			/* max silent time */
			u64(cin, sin_);			/* timeout */
			if (minor >= 2)
				u64(cin, sin_);		/* max log size */
			if (minor >= 3) {
				u64(cin, sin_);		/* repeats */
				u64(cin, sin_);		/* determinism */
			}
			if (minor >= 7)
				u64(cin, sin_);		/* keep failed */
			u64(sout, cout);		/* status */
			str(sout, cout, NULL, 0, 0);	/* error */
			if (minor >= 3)
				for (i = 0; i < 4; i++)
					u64(sout, cout);
			n = u64(sout, cout);		/* built outputs */
			for (i = 0; i < n; i++)
				built_output();
			break;
		case 9:		/* AddToStoreNar */
			str(cin, sin_, NULL, 0, 0);	/* path */
			str(cin, sin_, NULL, 0, 0);	/* deriver */
			str(cin, sin_, NULL, 0, 0);	/* NAR hash */
			strs(cin, sin_);		/* references */
			u64(cin, sin_);
			u64(cin, sin_);
			u64(cin, sin_);
			strs(cin, sin_);		/* signatures */
			str(cin, sin_, NULL, 0, 0);	/* ca */
			nar(cin, sin_, PASS);
			u64(sout, cout);
			break;
		default:
			die("a command the tamperer does not know");
		}
	}
}
