/*
 * Golden files of the configuration tests (t_machines, t_conf, t_common):
 * data/ copied into the scratch directory with @DATA@ made real, what the
 * code makes compared with a file there, or the file rewritten (-u).
 */
#ifndef GOLDEN_H
#define GOLDEN_H

#include <limits.h>

#include "extern.h"

#define SYS		"x86_64-linux"	/* the local system in these tests */

extern char	 golden_data[PATH_MAX];	/* absolute path of the copy of data/ */

void		 golden_init(int, char *[]);
char		*golden_read(const char *);
void		 golden_check(const char *, const char *, const char *);
const char	*golden_opt(const char *);
char		*golden_listing(const struct machines *, int);
int		 golden_env(const char *);
void		 golden_env_clear(void);

void		 xsnprintf(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

#endif /* GOLDEN_H */
