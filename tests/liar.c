/*
 * liar MODE: a `nix-store --serve` that greets properly (protocol 2.7),
 * reads each request whole, and answers one of them with a lie, for the
 * fault tests.  Run as remote-program (ssh appends --serve --write, which
 * is ignored).
 *
 *	random		the first answer is 4096 bytes of noise
 *	strlen		a string of 2^62 bytes (in a path list, or a
 *			build's error message)
 *	count		a list of 2^40 paths (or built outputs)
 *	padding		a path whose padding is not zero
 *	nar-dotdot	DumpStorePath: a directory entry named ".."
 *	nar-slash	... an entry named "a/b"
 *	nar-empty	... an entry with an empty name
 *	nar-unsorted	... entries "b" then "a"
 *	nar-symlink	... a symlink with file contents where its target
 *			should be
 *	escapes		BuildDerivation fails, its message full of terminal
 *			escapes (a title, a screen clear, colours)
 *	nondet		BuildDerivation: not deterministic (status 12)
 *	nar-hash	DumpStorePath: a valid NAR (a file "x", 120 bytes)
 *			whose hash is not the one QueryPathInfos announced
 *	nar-size	... whose size is not the one announced (the hash is)
 *	closure-big	QueryClosure: 100 000 valid-looking store paths of
 *			the longest kind (255 bytes, 26 MB in all)
 *	closure-junk	QueryClosure: the path asked for, then "/etc/passwd"
 *	refs-huge	QueryPathInfos: the path asked for, with 2^20
 *			references of 255 bytes (272 MB) and as many
 *			signatures
 *
 * The NAR modes answer QueryClosure and QueryPathInfos truthfully about
 * the one path asked for, then send the bad NAR in DumpStorePath.  Every
 * mode answers QueryValidPaths with "all valid".  After the lie the liar
 * waits for the client to hang up.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIAR_STRING_MAX	65536	/* a path we keep from a request */
#define LIAR_LIST_MAX	4096
#define LIAR_NAME_LEN	211	/* the longest store path name */

enum {
	QUERY_VALID_PATHS = 1, QUERY_PATH_INFOS = 2, DUMP_STORE_PATH = 3,
	QUERY_CLOSURE = 7, BUILD_DERIVATION = 8
};

static const char	*mode;
static char		 asked[LIAR_STRING_MAX + 1];	/* a path asked about */

static void
done(void)
{
	char	 b[4096];

	fflush(stdout);
	while (read(0, b, sizeof(b)) > 0)
		;
	exit(0);
}

static void
put(const void *p, size_t n)
{
	fwrite(p, 1, n, stdout);
}

static void
put_u64(uint64_t v)
{
	unsigned char	 b[8];
	int		 i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put(b, 8);
}

static void
put_str(const char *s)
{
	static const char zero[8];
	size_t		 n = strlen(s);

	put_u64(n);
	put(s, n);
	put(zero, (8 - n % 8) % 8);
}

static uint64_t
get_u64(void)
{
	unsigned char	 b[8];
	uint64_t	 v = 0;
	int		 i;

	if (fread(b, 1, 8, stdin) != 8)
		done();
	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* A string of the request, into buf (NULL: skip it). */
static void
get_str(char *buf)
{
	uint64_t	 n = get_u64(), i;
	char		 skip[8];

	if (buf == NULL) {
		for (i = 0; i < n; i++)
			if (getchar() == EOF)
				done();
	} else {
		if (n > LIAR_STRING_MAX)
			exit(1);
		if (fread(buf, 1, n, stdin) != n)
			done();
		buf[n] = '\0';
	}
	if (fread(skip, 1, (8 - n % 8) % 8, stdin) != (8 - n % 8) % 8)
		done();
}

/* A list of strings; the first goes to asked. */
static void
get_strs(void)
{
	uint64_t	 n = get_u64(), i;

	if (n > LIAR_LIST_MAX)
		exit(1);
	for (i = 0; i < n; i++)
		get_str(i == 0 ? asked : NULL);
}

static int
is(const char *m)
{
	return strcmp(mode, m) == 0;
}

/* The lies that fit anywhere a list of paths is expected. */
static void
lie_list(void)
{
	if (is("random")) {
		uint32_t	 x = 2463534242u;
		int		 i;
		for (i = 0; i < 4096; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			putchar((int)(x & 0xff));
		}
	} else if (is("strlen")) {
		put_u64(1);
		put_u64(1ULL << 62);
	} else if (is("count")) {
		put_u64(1ULL << 40);
	} else if (is("padding")) {
		put_u64(1);
		put_u64(5);
		put("/nix/\0\0\x01", 8);
	} else
		return;
	done();
}

/* The i-th of many distinct store paths of the longest kind. */
static const char *
long_path(uint64_t i)
{
	static const char	 nix32[] = "0123456789abcdfghijklmnpqrsvwxyz";
	static char		 p[11 + 32 + 1 + LIAR_NAME_LEN + 1];
	int			 k;

	memcpy(p, "/nix/store/", 11);
	for (k = 0; k < 32; k++, i >>= 5)
		p[11 + k] = nix32[i & 31];
	p[43] = '-';
	memset(p + 44, 'x', LIAR_NAME_LEN);
	p[44 + LIAR_NAME_LEN] = '\0';
	return p;
}

/* The lies about a closure. */
static void
lie_closure(void)
{
	uint64_t	 i;

	if (is("closure-big")) {
		put_u64(100000);
		for (i = 0; i < 100000; i++)
			put_str(long_path(i));
	} else if (is("closure-junk")) {
		put_u64(2);
		put_str(asked);
		put_str("/etc/passwd");
	} else
		return;
	done();
}

/* A regular file "x": 120 bytes as a NAR, of a hash the liar knows. */
static void
nar_file(void)
{
	put_str("(");
	put_str("type");
	put_str("regular");
	put_str("contents");
	put_str("x");
	put_str(")");
}

/* A directory of the given entries (each a regular file "x"). */
static void
nar_dir(const char *const *names, size_t n)
{
	size_t	 i;

	put_str("nix-archive-1");
	put_str("(");
	put_str("type");
	put_str("directory");
	for (i = 0; i < n; i++) {
		put_str("entry");
		put_str("(");
		put_str("name");
		put_str(names[i]);
		put_str("node");
		nar_file();
		put_str(")");
	}
	put_str(")");
}

static void
lie_nar(void)
{
	static const char *const dotdot[] = { ".." }, *const slash[] = {
	    "a/b" }, *const empty[] = { "" }, *const unsorted[] = { "b", "a" };

	if (is("nar-dotdot"))
		nar_dir(dotdot, 1);
	else if (is("nar-slash"))
		nar_dir(slash, 1);
	else if (is("nar-empty"))
		nar_dir(empty, 1);
	else if (is("nar-unsorted"))
		nar_dir(unsorted, 2);
	else if (is("nar-hash") || is("nar-size")) {
		put_str("nix-archive-1");	/* valid, just not as said */
		nar_file();
		return;
	} else if (is("nar-symlink")) {
		put_str("nix-archive-1");
		put_str("(");
		put_str("type");
		put_str("symlink");
		put_str("contents");
		put_str("#!/bin/sh");
		put_str(")");
	}
	done();
}

int
main(int argc, char *argv[])
{
	uint64_t	 cmd, n, i;

	if (argc < 2) {
		fprintf(stderr, "usage: liar MODE\n");
		return 2;
	}
	mode = argv[1];
	if (get_u64() != 0x390c9debULL)
		return 1;
	(void)get_u64();
	put_u64(0x5452eecbULL);
	put_u64(0x207);
	fflush(stdout);
	for (;;) {
		switch (cmd = get_u64()) {
		case QUERY_VALID_PATHS:		/* lock, substitute, paths */
			(void)get_u64();
			/* FALLTHROUGH */
		case QUERY_CLOSURE:		/* include outputs, paths */
			(void)get_u64();
			get_strs();
			lie_list();
			if (cmd == QUERY_CLOSURE)
				lie_closure();
			put_u64(1);
			put_str(asked);
			break;
		case QUERY_PATH_INFOS:
			get_strs();
			lie_list();
			put_str(asked);
			put_str("");		/* deriver */
			if (is("refs-huge")) {
				put_u64(1ULL << 20);
				for (i = 0; i < 1ULL << 20; i++)
					put_str(long_path(i));
			} else
				put_u64(0);	/* references */
			put_u64(0);		/* download size */
			/* the NAR of a file "x" is 120 bytes, of this hash */
			put_u64(is("nar-hash") ? 120 : is("nar-size") ? 121 :
			    1000);		/* NAR size */
			put_str(is("nar-size") ? "sha256:0rsv7kag23nvdpy4500mv2"
			    "m0b4sm4c8fkgqrfsrmv1kgk77bi81c" : "sha256:1b8m03r6"
			    "3zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s");
			put_str("");		/* ca */
			if (is("refs-huge")) {
				put_u64(1ULL << 20);
				for (i = 0; i < 1ULL << 20; i++)
					put_str("cache.example.org-1:AAAA");
			} else
				put_u64(0);	/* signatures */
			put_str("");
			break;
		case DUMP_STORE_PATH:
			get_str(NULL);
			lie_list();
			lie_nar();
			break;
		case BUILD_DERIVATION:
			get_str(NULL);
			for (n = get_u64(), i = 0; i < n * 4; i++)
				get_str(NULL);
			get_strs();
			get_str(NULL);
			get_str(NULL);
			get_strs();
			for (n = get_u64(), i = 0; i < n * 2; i++)
				get_str(NULL);
			for (i = 0; i < 6; i++)
				(void)get_u64();
			if (is("random") || is("padding"))
				lie_list();
			if (is("escapes")) {
				put_u64(3);	/* PermanentFailure */
				put_str("\x1b]0;pwned\x07\x1b[2J\x1b[31mthe "
				    "build\rfailed\x1b[0m");
			} else if (is("nondet")) {
				put_u64(12);	/* NotDeterministic */
				put_str("derivation may not be deterministic: "
				    "output differs");
			} else
				put_u64(0);	/* built */
			if (is("strlen")) {
				put_u64(1ULL << 62);
				done();
			}
			if (!is("escapes") && !is("nondet"))
				put_str("");
			put_u64(1);		/* times built */
			put_u64(0);
			put_u64(0);
			put_u64(0);
			if (is("count")) {
				put_u64(1ULL << 40);
				done();
			}
			put_u64(0);
			break;
		default:
			fprintf(stderr, "liar: command %llu not handled\n",
			    (unsigned long long)cmd);
			return 1;
		}
		fflush(stdout);
	}
}
