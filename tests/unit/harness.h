/*
 * The harness of the unit tests, linked into every program of tests/unit
 * (harness.c).  A case ends in report(), which prints "ok NAME" or "FAIL
 * NAME: why" on stdout; main() ends with done(), which prints "N passed,
 * N failed" and returns the exit status.  tests/run runs each program
 * from tests/ (golden files are in data/) and keeps the ok and FAIL lines.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include "extern.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define B(s)		s, sizeof(s) - 1	/* bytes of a literal */

/* AddressSanitizer reserves terabytes of address space and shadow memory:
 * tests of memory limits and footprints are skipped under it. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN	1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN	0
#endif

/* Cases: why one fails, its line, and the count at the end. */
int		 no(const char *, ...) __attribute__((format(printf, 1, 2)));
int		 failing(void);
void		 report(const char *, int);
int		 done(void);

/* Comparisons that say what differs, through no(). */
int		 same(const char *, const char *, const char *);
int		 same_mem(const char *, const void *, size_t, const void *,
		    size_t);
int		 same_fail(enum fail, enum fail);
extern const char *const fail_names[FAIL_KINDS];

/* What the code under test says on stderr. */
void		 errors_capture(void);
const char	*last_error(void);
void		 capture(void);
char		*captured(void);

/* A scratch directory, removed by done() if every case passed. */
const char	*scratch_dir(void);

#endif /* HARNESS_H */
