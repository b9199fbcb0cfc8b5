/*
 * What root's processes (the hook, under a nix-daemon) tell the other
 * users, who cannot read root's runtime directory: a summary beside it,
 * in DIR.public (rundir_pub_write), written whole after root's state
 * changes.  status.txt and status.json are root's `status`; load has a
 * line per builder, "KEY PIDS", the pids holding its slots (or "-"), for
 * the plan of an ordinary user's `why` and `build` to count.  Nothing in
 * it is a secret: builders, derivations, pids, health.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

#define PUB_FILE_MAX	(1024 * 1024)	/* a summary file read */
#define PUB_MIN_MS	1000	/* between two writes of a busy process */
#define PUB_WAIT_MS	5000	/* for the child that writes them */

static pid_t	 child = -1;	/* the last writer, not waited for yet */
static int	 child_fd = -1;	/* its pipe's end: hangs up when it ends */

/*
 * Wait for the last child that writes the summary, PUB_WAIT_MS at most
 * (then it is killed): woken by its end, not by polling.
 */
static void
pub_wait(void)
{
	struct pollfd	 p;
	int64_t		 end = clock_ms() + PUB_WAIT_MS, left;
	int		 status;

	if (child == -1)
		return;
	p.fd = child_fd;
	p.events = POLLIN;
	while ((left = end - clock_ms()) > 0 && poll(&p, 1, (int)left) == -1 &&
	    errno == EINTR)
		continue;
	if (waitpid(child, &status, WNOHANG) == 0) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
	}
	close(child_fd);
	child = -1;
	child_fd = -1;
}

/*
 * Write root's summary (PUB_NOW), or if the last write of this process
 * is a second old (PUB_DUE); with PUB_LAST, now, and wait until it is
 * written: the process ends.  Nothing for anyone but root.  The writer
 * is a child the process goes on beside; the next waits for it, so that
 * no older picture lands after a newer one.
 */
void
pub_update(const struct machines *ms, int how)
{
	static int64_t		 last;
	struct slot_seen	*seen = NULL;
	char			*text = NULL, *json = NULL, *load = NULL;
	char			 key[17];
	size_t			 tl = 0, jl = 0, ll = 0, n = 0, i, k;
	FILE			*f;
	pid_t			 pid;
	int			 any, fd[2];

	if (geteuid() != 0 ||
	    (how == PUB_DUE && clock_ms() - last < PUB_MIN_MS))
		return;
	last = clock_ms();
	pub_wait();
	/*
	 * In a child: a process does not see its own record locks, and
	 * its own slots are the ones to show.
	 */
	fflush(stdout);
	fflush(stderr);
	if (pipe(fd) == -1)
		return;
	if ((pid = fork()) == -1) {
		close(fd[0]);
		close(fd[1]);
		return;
	}
	if (pid != 0) {
		close(fd[1]);
		(void)fcntl(fd[0], F_SETFD, FD_CLOEXEC);
		child = pid;
		child_fd = fd[0];
		if (how == PUB_LAST)
			pub_wait();
		return;
	}
	close(fd[0]);
	if ((f = open_memstream(&text, &tl)) == NULL)
		goto out;
	(void)seen_print(f, 0, ms);
	fclose(f);
	if ((f = open_memstream(&json, &jl)) == NULL)
		goto out;
	(void)seen_print(f, 1, ms);
	fclose(f);
	if (sched_seen(&seen, &n) == -1 ||
	    (f = open_memstream(&load, &ll)) == NULL)
		goto out;
	for (i = 0; i < ms->n; i++) {
		rundir_key(ms->v[i].uri_text, key);
		fputs(key, f);
		for (k = 0, any = 0; k < n; k++)
			if (strcmp(seen[k].key, key) == 0 &&
			    seen[k].index >= 0) {
				fprintf(f, "%c%ld", any ? ',' : ' ',
				    (long)seen[k].pid);
				any = 1;
			}
		fputs(any ? "\n" : " -\n", f);
	}
	fclose(f);
	(void)rundir_pub_write("status.txt", text, tl);
	(void)rundir_pub_write("status.json", json, jl);
	(void)rundir_pub_write("load", load, ll);
out:
	_exit(0);
}

/*
 * Root's summary file name (status.txt, status.json), for an ordinary
 * user: in *buf (to free), with when it was written.  Returns its length,
 * or -1 when there is none, or we are root.
 */
ssize_t
pub_get(const char *name, char **buf, int64_t *mtime)
{
	ssize_t	 n;

	*buf = NULL;
	if (geteuid() == 0 || (*buf = malloc(PUB_FILE_MAX)) == NULL)
		return -1;
	if ((n = rundir_pub_read(name, *buf, PUB_FILE_MAX, mtime)) <= 0) {
		free(*buf);
		*buf = NULL;
		return -1;
	}
	return n;
}

/*
 * Slots of builder m that root's processes hold now, as the summary
 * says and their pids still live: 0 for root, or without a summary.
 */
int
pub_load(const struct machine *m)
{
	static char	*buf;		/* read again a second later */
	static int64_t	 read_at;
	char		*line, *next, *p, key[17];
	int64_t		 at;
	long		 pid;
	int		 n = 0;

	if (geteuid() == 0)
		return 0;
	if (buf == NULL || clock_ms() - read_at > PUB_MIN_MS) {
		free(buf);
		if (pub_get("load", &buf, &at) == -1)
			buf = NULL;
		read_at = clock_ms();
	}
	if (buf == NULL)
		return 0;
	rundir_key(m->uri_text, key);
	for (line = buf; (next = strchr(line, '\n')) != NULL;
	    line = next + 1) {
		if (strncmp(line, key, 16) != 0 || line[16] != ' ')
			continue;
		for (p = line + 17; *p != '\0' && *p != '-'; p++) {
			pid = strtol(p, &p, 10);
			/* root's: EPERM says it lives */
			if (pid > 0 && (kill((pid_t)pid, 0) == 0 ||
			    errno == EPERM))
				n++;
			if (*p != ',')
				break;
		}
	}
	return n;
}
