/*
 * Unit tests for src/hold.c: what a builder says it holds of the inputs
 * here (H lines, written and read, over a pipe as a worker sends them),
 * lines that are nonsense, and the bytes of a derivation's inputs each
 * builder lacks, through their references.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "harness.h"

#define NPATHS	20000	/* more than one line's worth of digits */

static void
fill(struct hold *h, size_t n)
{
	char	 p[128];
	size_t	 i;

	for (i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "/nix/store/%032zu-p", i);
		if (strlist_add(&h->paths, p) == -1)
			abort();
	}
	strlist_sort_uniq(&h->paths);
	if (hold_index(h, NULL, 0) == -1)
		abort();
}

static int
held(const struct hold *h, size_t m, size_t i)
{
	return h->have[m] != NULL && (h->have[m][i / 8] & 1 << i % 8) != 0;
}

/* Every third path held: written by the builder's side, read by ours. */
static void
test_hold_round_trip(void)
{
	struct hold	 h;
	struct strlist	 valid = { NULL, 0, 0 };
	char		*buf, *line, *nl;
	size_t		 i, lines = 0, len = 0;
	int		 fd[2], ok = 1;
	ssize_t		 r;

	if (hold_init(&h, 2) == -1 || pipe(fd) == -1 ||
	    (buf = calloc(1, 65536)) == NULL)
		abort();
	fill(&h, NPATHS);
	for (i = 0; i < NPATHS; i += 3)
		strlist_add(&valid, h.paths.v[i]);
	strlist_sort_uniq(&valid);
	ok = hold_write(fd[1], &h.paths, &valid) == 0 || no("hold_write");
	close(fd[1]);
	while ((r = read(fd[0], buf + len, 65535 - len)) > 0)
		len += (size_t)r;
	close(fd[0]);
	for (line = buf; ok && (nl = strchr(line, '\n')) != NULL;
	    line = nl + 1) {
		*nl = '\0';
		lines++;
		ok = strlen(line) < WORKER_LINE_MAX ||
		    no("a line of %zu bytes", strlen(line));
		ok = ok && (hold_line(&h, 1, line) == 0 ||
		    no("refused \"%.40s...\"", line));
	}
	ok = ok && (lines >= 2 || no("%zu lines, expected 2 or more",
	    lines));
	for (i = 0; ok && i < NPATHS; i++)
		ok = held(&h, 1, i) == (i % 3 == 0) ||
		    no("path %zu: held %d", i, held(&h, 1, i));
	ok = ok && (h.have[0] == NULL || no("builder 0 marked"));
	report("hold_round_trip", ok);
	strlist_free(&valid);
	free(buf);
	hold_free(&h);
}

/* Lines a worker never writes are refused, whole or where they go wrong. */
static void
test_hold_nonsense(void)
{
	static const char *const bad[] = {
		"X 0 f", "H", "H 0", "H x f", "H 0 g", "H 0 F", "H 8 1",
		"H 99999999999999999999 1", "H 7 2", "H -1 1"
	};
	struct hold	 h;
	size_t		 i;
	int		 ok = 1;

	if (hold_init(&h, 1) == -1)
		abort();
	fill(&h, 8);
	for (i = 0; ok && i < nitems(bad); i++)
		ok = hold_line(&h, 0, bad[i]) == -1 ||
		    no("took \"%s\"", bad[i]);
	ok = ok && (hold_line(&h, 1, "H 0 1") == -1 || no("took machine 1"));
	ok = ok && (hold_line(&h, 0, "H 4 9") == 0 || no("refused H 4 9"));
	ok = ok && (hold_line(&h, 0, "H 7 1") == 0 || no("refused H 7 1"));
	for (i = 0; ok && i < 8; i++)
		ok = held(&h, 0, i) == (i == 4 || i == 7) ||
		    no("path %zu: held %d", i, held(&h, 0, i));
	report("hold_nonsense", ok);
	hold_free(&h);
}

/*
 * Paths a -> b -> c <- d, of 1, 10, 100 and 1000 bytes; builder 0 says it
 * holds c, builder 1 says nothing, builder 2 says it holds none.  Node 0
 * takes a and d (and an input built during the run, not here), node 1
 * takes b.
 */
static void
test_hold_lacks(void)
{
	static const char *const name[] = {
		"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a",
		"/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-b",
		"/nix/store/cccccccccccccccccccccccccccccccc-c",
		"/nix/store/dddddddddddddddddddddddddddddddd-d"
	};
	struct path_info pi[4];
	struct strlist	 src0 = { NULL, 0, 0 }, src1 = { NULL, 0, 0 };
	struct graph	 g;
	struct hold	 h;
	uint64_t	 lacks[3], all;
	size_t		 i;
	int		 ok;

	memset(pi, 0, sizeof(pi));
	memset(&g, 0, sizeof(g));
	if (hold_init(&h, 3) == -1 ||
	    (g.nodes = calloc(2, sizeof(*g.nodes))) == NULL)
		abort();
	g.nnodes = 2;
	for (i = 0; i < 4; i++) {
		strlist_add(&h.paths, name[i]);
		pi[3 - i].path = (char *)name[i];	/* the store's order */
		pi[3 - i].nar_size = i == 0 ? 1 : i == 1 ? 10 : i == 2 ? 100 :
		    1000;
	}
	strlist_add(&pi[3].refs, name[1]);	/* a -> b */
	strlist_add(&pi[3].refs, name[0]);	/* and itself */
	strlist_add(&pi[2].refs, name[2]);	/* b -> c */
	strlist_add(&pi[0].refs, name[2]);	/* d -> c */
	strlist_sort_uniq(&h.paths);
	if (hold_index(&h, pi, 4) == -1)
		abort();
	strlist_add(&src0, name[0]);
	strlist_add(&src0, name[3]);
	strlist_add(&src0, "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-e");
	strlist_add(&src1, name[1]);
	g.nodes[0].d.srcs = &src0;
	g.nodes[1].d.srcs = &src1;
	ok = hold_line(&h, 0, "H 0 4") == 0 || no("refused H 0 4");
	hold_said(&h, 0);
	hold_said(&h, 2);
	ok = ok && (hold_lacks(&h, &g, &g.nodes[0], lacks, &all) == 0 ||
	    no("hold_lacks failed"));
	ok = ok && (all == 1111 || no("node 0 weighs %llu, expected 1111",
	    (unsigned long long)all));
	ok = ok && (lacks[0] == 1011 || no("builder 0 lacks %llu of node 0, "
	    "expected 1011", (unsigned long long)lacks[0]));
	ok = ok && ((lacks[1] == 1111 && lacks[2] == 1111) ||
	    no("builders 1, 2 lack %llu, %llu of node 0, expected 1111",
	    (unsigned long long)lacks[1], (unsigned long long)lacks[2]));
	ok = ok && (hold_lacks(&h, &g, &g.nodes[1], lacks, &all) == 0 ||
	    no("hold_lacks failed"));
	ok = ok && ((all == 110 && lacks[0] == 10 && lacks[1] == 110) ||
	    no("node 1: %llu, lacking %llu and %llu, expected 110, 10, 110",
	    (unsigned long long)all, (unsigned long long)lacks[0],
	    (unsigned long long)lacks[1]));
	/* builder 1 speaks later: what was remembered is not used */
	ok = ok && (hold_line(&h, 1, "H 0 f") == 0 || no("refused H 0 f"));
	hold_said(&h, 1);
	ok = ok && ((hold_lacks(&h, &g, &g.nodes[0], lacks, &all) == 0 &&
	    lacks[1] == 0) || no("builder 1 lacks %llu after holding all",
	    (unsigned long long)lacks[1]));
	report("hold_lacks", ok);
	for (i = 0; i < 4; i++)
		strlist_free(&pi[i].refs);
	strlist_free(&src0);
	strlist_free(&src1);
	free(g.nodes);
	hold_free(&h);
}

int
main(void)
{
	errors_capture();

	test_hold_round_trip();
	test_hold_nonsense();
	test_hold_lacks();
	return done();
}
