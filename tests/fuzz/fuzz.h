/*
 * The fuzz targets' one set-up (fuzz.c, linked into each by
 * scripts/fuzz).  fuzz.c holds libFuzzer's entry points; a target is a
 * struct fuzz_target named fuzz_target: its name, its own set-up, and
 * what it does with one input.
 *
 * Before a target's set-up, fuzz.c gives it: stdin from /dev/null (an
 * include of /dev/stdin in nix.conf or a machines file must end, not wait
 * for a terminal); a scratch directory of its own, fuzz_dir, in $TMPDIR
 * (scripts/fuzz points it at a directory it removes: a crashing run
 * leaves its files behind), removed at exit; none of the machine's Nix
 * configuration (NIX_CONF_DIR is fuzz_dir, no user files, no NIX_CONFIG,
 * no NIX_REMOTE_SYSTEMS); FUZZ_ROUNDTRIP read.
 *
 * The parsers report errors on stderr through log.c; scripts/fuzz adds
 * -close_fd_mask=2, so that a run measures the parser and not the
 * terminal.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "extern.h"

struct fuzz_target {
	const char	*name;		/* as scripts/fuzz names it */
	void		(*setup)(void);	/* once, before any input; or NULL */
	void		(*input)(const uint8_t *, size_t);
};
extern const struct fuzz_target	 fuzz_target;

extern const char	*fuzz_dir;	/* this process's scratch directory */
extern FILE		*fuzz_null;	/* /dev/null, for writing */
extern int		 fuzz_roundtrip; /* 0 if FUZZ_ROUNDTRIP=0 */

char	*fuzz_text(const uint8_t *, size_t);
void	 fuzz_path(char *, size_t, const char *);
void	 fuzz_put(const char *, const char *, const void *, size_t);
void	 fuzz_fail(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif /* FUZZ_H */
