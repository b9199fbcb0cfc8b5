/*
 * The runtime directory: control sockets, slot locks, health records and
 * small caches, for every nix-offload process of one user.
 *
 * Where: NIX_OFFLOAD_RUNTIME_DIR if set; for root /run/nix-offload (or
 * /var/run/nix-offload), a place no other user can write to, whatever the
 * environment says (under `sudo -E` XDG_RUNTIME_DIR is the user's); for
 * others $XDG_RUNTIME_DIR/nix-offload, else /tmp/nix-offload-UID.  Anyone
 * may make that last name first: when another user has, the user's own
 * ${XDG_CACHE_HOME:-~/.cache}/nix-offload/run serves instead (said once,
 * when it is made), and keeps serving while it exists.
 *
 * It is checked once, before any use: its parent must be ours or root's
 * and not writable by others unless sticky (so no one can swap it after
 * the check), and the directory itself, opened with O_NOFOLLOW, must be a
 * directory owned by us with mode 0700.  Every file in it is then opened
 * relative to that descriptor, with O_NOFOLLOW; files written whole are
 * written to a temporary name with O_EXCL and renamed into place.  Only
 * ssh is given paths (its control socket), inside the checked directory.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

#define RUNDIR_SUBS	4	/* "", "slots", "health", "told" */

static struct {
	char	 path[RUNDIR_PATH_MAX];
	char	 own[RUNDIR_PATH_MAX];	/* the fallback in the home, or "" */
	int	 state;		/* 0 unchecked, 1 ready, -1 refused */
	int	 fd;
	int	 sub[RUNDIR_SUBS];
} rd = { "", "", 0, -1, { -1, -1, -1, -1 } };

static const char *const subs[RUNDIR_SUBS] = { "", "slots", "health",
	"told" };

/* Choose the directory, from the environment and who we are. */
void
rundir_init(void)
{
	const char	*s;
	struct stat	 st;

	memset(&rd, 0, sizeof(rd));
	rd.fd = rd.sub[0] = rd.sub[1] = rd.sub[2] = rd.sub[3] = -1;
	if ((s = getenv("NIX_OFFLOAD_RUNTIME_DIR")) != NULL && *s != '\0')
		snprintf(rd.path, sizeof(rd.path), "%s", s);
	else if (geteuid() == 0)
		snprintf(rd.path, sizeof(rd.path), "%s/nix-offload",
		    stat("/run", &st) == 0 && S_ISDIR(st.st_mode) ? "/run" :
		    "/var/run");
	else if ((s = getenv("XDG_RUNTIME_DIR")) != NULL && *s == '/')
		snprintf(rd.path, sizeof(rd.path), "%s/nix-offload", s);
	else {
		snprintf(rd.path, sizeof(rd.path), "/tmp/nix-offload-%u",
		    (unsigned)geteuid());
		if ((s = getenv("XDG_CACHE_HOME")) != NULL && *s == '/')
			snprintf(rd.own, sizeof(rd.own), "%s/nix-offload/run",
			    s);
		else if ((s = getenv("HOME")) != NULL && *s == '/')
			snprintf(rd.own, sizeof(rd.own),
			    "%s/.cache/nix-offload/run", s);
		/* a fallback made once serves from then on */
		if (rd.own[0] != '\0' && lstat(rd.own, &st) == 0)
			memcpy(rd.path, rd.own, sizeof(rd.path));
	}
}

const char *
rundir_path(void)
{
	return rd.path;
}

/* Can anyone but us (and root) add, remove or rename entries in dir? */
static int
parent_safe(const char *dir, char *why, size_t sz)
{
	char		 parent[RUNDIR_PATH_MAX], *slash;
	struct stat	 st;

	snprintf(parent, sizeof(parent), "%s", dir);
	while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0')
		*slash = '\0';		/* trailing slashes */
	if ((slash = strrchr(parent, '/')) == NULL)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	if (stat(parent, &st) == -1) {
		snprintf(why, sz, "%s: %s", parent, strerror(errno));
		return 0;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(why, sz, "its parent %s belongs to uid %u", parent,
		    (unsigned)st.st_uid);
		return 0;
	}
	if ((st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0) {
		snprintf(why, sz, "its parent %s is writable by others and "
		    "not sticky", parent);
		return 0;
	}
	return 1;
}

/* Is the open directory fd ours alone?  Else why says what it is. */
static int
dir_private(int fd, char *why, size_t sz)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1) {
		snprintf(why, sz, "%s", strerror(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, sz, "it is not a directory");
		return 0;
	}
	if (st.st_uid != geteuid()) {
		snprintf(why, sz, "it belongs to uid %u, not to uid %u",
		    (unsigned)st.st_uid, (unsigned)geteuid());
		return 0;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(why, sz, "its mode is %04o, not 0700",
		    (unsigned)(st.st_mode & 07777));
		return 0;
	}
	return 1;
}

/*
 * Make (if need be) and open the directory path, checked.  Returns its
 * descriptor, or -1 with why saying what is wrong; *made tells whether
 * this call made it.
 */
static int
dir_open(const char *path, int *made, char *why, size_t sz)
{
	struct stat	 st;
	int		 fd = -1, e;

	*made = 0;
	if (path[0] != '/')
		snprintf(why, sz, "it is not an absolute path");
	else if (parent_safe(path, why, sz)) {
		if (mkdir(path, 0700) == 0)
			*made = 1;
		if (!*made && errno != EEXIST)
			snprintf(why, sz, "%s", strerror(errno));
		else if ((fd = open(path, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1) {
			e = errno;
			snprintf(why, sz, "%s", lstat(path, &st) == 0 &&
			    S_ISLNK(st.st_mode) ? "it is a symbolic link" :
			    e == ENOTDIR ? "it is not a directory" :
			    strerror(e));
		} else if (!dir_private(fd, why, sz)) {
			close(fd);
			fd = -1;
		}
	}
	return fd;
}

/*
 * The fallback in the user's home, when /tmp/nix-offload-UID is another
 * user's (or their link): made with its parent, said once.  Returns its
 * descriptor, or -1 (and the caller refuses the first choice).
 */
static int
fallback(const char *taken)
{
	char		 parent[RUNDIR_PATH_MAX], why[RUNDIR_PATH_MAX + 128];
	struct stat	 st;
	int		 fd, made;

	if (rd.own[0] == '\0' || lstat(taken, &st) == -1 ||
	    st.st_uid == geteuid())
		return -1;
	/* CACHE/nix-offload/run: CACHE may not be there yet (made 0700) */
	snprintf(parent, sizeof(parent), "%s", rd.own);
	*strrchr(parent, '/') = '\0';
	*strrchr(parent, '/') = '\0';
	(void)mkdir(parent, 0700);
	snprintf(parent, sizeof(parent), "%s", rd.own);
	*strrchr(parent, '/') = '\0';
	(void)mkdir(parent, 0700);
	if ((fd = dir_open(rd.own, &made, why, sizeof(why))) == -1)
		return -1;
	if (made)
		log_warnx("%s is taken: it belongs to uid %u, not to you (uid "
		    "%u); using %s from now on (once it is gone, remove this "
		    "one to go back, or set XDG_RUNTIME_DIR)", taken,
		    (unsigned)st.st_uid, (unsigned)geteuid(), rd.own);
	memcpy(rd.path, rd.own, sizeof(rd.path));
	return fd;
}

/*
 * The runtime directory's descriptor, checked and opened on first use.
 * Returns it, or -1 after one line that names the path and the remedy
 * (said once per process).
 */
int
rundir_fd(void)
{
	char	 why[RUNDIR_PATH_MAX + 128];
	int	 fd, made;

	if (rd.state == 1)
		return rd.fd;
	if (rd.state == -1)
		return -1;
	if (rd.path[0] == '\0')
		rundir_init();
	why[0] = '\0';
	fd = dir_open(rd.path, &made, why, sizeof(why));
	if (fd == -1 && strcmp(rd.path, rd.own) != 0)
		fd = fallback(rd.path);
	if (fd == -1) {
		rd.state = -1;
		log_errx("refusing the runtime directory %s: %s; it must be a "
		    "directory of uid %u's alone (mode 0700, not a link, in a "
		    "directory others cannot change): remove it or set "
		    "NIX_OFFLOAD_RUNTIME_DIR to a private directory", rd.path,
		    why, (unsigned)geteuid());
		return -1;
	}
	rd.fd = rd.sub[0] = fd;
	rd.state = 1;
	return fd;
}

/* A subdirectory's descriptor ("" is the directory itself), or -1. */
static int
sub_fd(const char *sub)
{
	char	 why[128];
	int	 i, top, fd;

	for (i = 0; i < RUNDIR_SUBS && strcmp(subs[i], sub) != 0; i++)
		;
	if (i == RUNDIR_SUBS || (top = rundir_fd()) == -1)
		return -1;
	if (rd.sub[i] != -1)
		return rd.sub[i];
	if (mkdirat(top, sub, 0700) == -1 && errno != EEXIST) {
		log_err("%s/%s", rd.path, sub);
		return -1;
	}
	if ((fd = openat(top, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_err("%s/%s", rd.path, sub);
		return -1;
	}
	if (!dir_private(fd, why, sizeof(why))) {
		log_errx("refusing %s/%s: %s", rd.path, sub, why);
		close(fd);
		return -1;
	}
	return rd.sub[i] = fd;
}

/*
 * Open sub/name in the runtime directory (flags as for open(2); O_NOFOLLOW
 * and O_CLOEXEC are added).  Returns a descriptor, or -1 with errno set;
 * nothing is reported, since a missing file is often no error.
 */
int
rundir_open(const char *sub, const char *name, int flags, mode_t mode)
{
	int	 dfd;

	if ((dfd = sub_fd(sub)) == -1) {
		errno = EACCES;
		return -1;
	}
	return openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

/* A descriptor of sub, for fdopendir and the *at calls, or -1. */
int
rundir_dirfd(const char *sub)
{
	return sub_fd(sub);
}

int
rundir_unlink(const char *sub, const char *name, int flags)
{
	int	 dfd;

	if ((dfd = sub_fd(sub)) == -1)
		return -1;
	return unlinkat(dfd, name, flags);
}

/*
 * Replace sub/name with data, whole: written to "name.PID" (O_EXCL), then
 * renamed.  Returns 0, or -1 (not reported: callers decide).
 */
int
rundir_write(const char *sub, const char *name, const void *data, size_t len)
{
	char	 tmp[RUNDIR_NAME_MAX + 32];
	int	 dfd, fd;

	if ((dfd = sub_fd(sub)) == -1 || (size_t)snprintf(tmp, sizeof(tmp),
	    "%s.%ld", name, (long)getpid()) >= sizeof(tmp))
		return -1;
	(void)unlinkat(dfd, tmp, 0);	/* left by a killed process */
	if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	if (write(fd, data, len) != (ssize_t)len || close(fd) == -1 ||
	    renameat(dfd, tmp, dfd, name) == -1) {
		(void)unlinkat(dfd, tmp, 0);
		return -1;
	}
	return 0;
}

/*
 * Read sub/name (at most sz - 1 bytes) into buf, NUL-terminated.  Returns
 * the length, or -1 (not reported).  st, if not NULL, gets its fstat.
 */
ssize_t
rundir_read(const char *sub, const char *name, char *buf, size_t sz,
    struct stat *st)
{
	struct stat	 s;
	ssize_t		 n;
	int		 fd;

	if ((fd = rundir_open(sub, name, O_RDONLY | O_NONBLOCK, 0)) == -1)
		return -1;
	if (fstat(fd, &s) == -1 || !S_ISREG(s.st_mode) ||
	    (n = read(fd, buf, sz - 1)) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	buf[n] = '\0';
	if (st != NULL)
		*st = s;
	return n;
}

/* The path of name in the runtime directory, for ssh.  0, or -1. */
int
rundir_name(const char *name, char *path, size_t sz)
{
	if (rundir_fd() == -1)
		return -1;
	return (size_t)snprintf(path, sz, "%s/%s", rd.path, name) < sz ?
	    0 : -1;
}

/* A builder's name in the runtime directory: 16 hex digits of a digest. */
void
rundir_key(const char *text, char *hex)
{
	struct sha256	 h;
	unsigned char	 d[SHA256_LEN];

	sha256_init(&h);
	sha256_update(&h, text, strlen(text));
	sha256_final(&h, d);
	hash_hex(d, 8, hex);
}

/*
 * A record lock on bytes [start, start + len) of fd (len 0: to the end):
 * F_SETLK (never waits), F_GETLK (then *pid, if not NULL, gets the
 * holder, 0 if none) or unlock.  Returns 0, or -1 (errno set).
 */
int
rundir_lock(int fd, int cmd, short type, off_t start, off_t len, pid_t *pid)
{
	struct flock	 fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	if (fcntl(fd, cmd, &fl) == -1)
		return -1;
	if (pid != NULL)
		*pid = fl.l_type == F_UNLCK ? 0 : fl.l_pid;
	return 0;
}

/*
 * A run's own directory, where build keeps the GC roots nix-instantiate
 * makes: "roots.PID" in the runtime directory, with a file "lock" that the
 * run holds locked: a run killed by SIGKILL leaves its directory behind, and
 * the next run, finding it unlocked, removes it.  It is made and locked
 * as "roots-new.PID" and renamed, so that no sweep finds it unlocked while
 * it is being made; a run with the same pid removes one left behind.
 */
#define ROOTS_PREFIX	"roots."
#define ROOTS_NEW	"roots-new."	/* being made: not yet locked */

/* Remove directory name of the runtime directory and what is in it. */
static void
remove_run(const char *name)
{
	DIR		*d;
	struct dirent	*e;
	int		 top, fd;

	if ((top = rundir_dirfd("")) == -1 || (fd = openat(top, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			(void)unlinkat(fd, e->d_name, 0);
	closedir(d);
	(void)unlinkat(top, name, AT_REMOVEDIR);
}

/*
 * Each run directory (roots.PID) of the runtime directory, in turn:
 * fn(arg, its name, the descriptor of its lock file, or -1 when it has
 * none), each opened without following a link.  fn may remove the
 * directory; the descriptor is closed after it.
 */
void
rundir_runs(void (*fn)(void *, const char *, int), void *arg)
{
	DIR		*d;
	struct dirent	*e;
	int		 top, fd, dfd, lk;

	if ((top = rundir_dirfd("")) == -1 || (fd = dup(top)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, ROOTS_PREFIX,
		    strlen(ROOTS_PREFIX)) != 0)
			continue;
		lk = -1;
		if ((dfd = openat(top, e->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) != -1) {
			lk = openat(dfd, "lock", O_RDWR | O_NOFOLLOW |
			    O_NONBLOCK | O_CLOEXEC);
			close(dfd);
		}
		fn(arg, e->d_name, lk);
		if (lk != -1)
			close(lk);
	}
	closedir(d);
}

/* A run that was killed left name behind, unlocked: removed. */
static void
sweep_one(void *arg, const char *name, int lock)
{
	(void)arg;
	if (lock != -1 && rundir_lock(lock, F_SETLK, F_WRLCK, 0, 0,
	    NULL) == -1)
		return;		/* its run goes on */
	log_debug(1, "removing %s/%s, left by a run that was killed",
	    rundir_path(), name);
	remove_run(name);
}

/* Remove what runs that were killed left behind. */
static void
sweep_runs(void)
{
	rundir_runs(sweep_one, NULL);
}

/*
 * Make this run's own directory; its path goes into dir.  Returns the
 * descriptor of its lock, to hold until rundir_run_close, or -1
 * (reported).
 */
int
rundir_run_open(char *dir, size_t sz)
{
	char		 name[64], tmp[64], lockname[80];
	int		 top, lk;

	sweep_runs();
	snprintf(name, sizeof(name), ROOTS_PREFIX "%ld", (long)getpid());
	snprintf(tmp, sizeof(tmp), ROOTS_NEW "%ld", (long)getpid());
	snprintf(lockname, sizeof(lockname), "%s/lock", tmp);
	if ((top = rundir_dirfd("")) == -1 || rundir_name(name, dir, sz) == -1)
		return -1;
	/* made and locked under another name: a sweep never sees it unlocked */
	remove_run(tmp);
	if (mkdirat(top, tmp, 0700) == -1 || (lk = openat(top, lockname,
	    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		log_err("%s/%s", rundir_path(), tmp);
		return -1;
	}
	if (rundir_lock(lk, F_SETLK, F_WRLCK, 0, 0, NULL) == -1 ||
	    renameat(top, tmp, top, name) == -1) {
		log_err("%s", dir);
		close(lk);
		remove_run(tmp);
		return -1;
	}
	return lk;
}

/* The end of this run's directory (rundir_run_open's lock): removed. */
void
rundir_run_close(int lock)
{
	char	 name[64];

	if (lock == -1)
		return;
	snprintf(name, sizeof(name), ROOTS_PREFIX "%ld", (long)getpid());
	remove_run(name);
	close(lock);
}

/*
 * Root's runtime directory: what rundir_init picks for root, or
 * NIX_OFFLOAD_ROOT_RUNTIME_DIR (another root's, as the tests have it).
 */
static void
root_dir(char *buf, size_t sz)
{
	const char	*s;
	struct stat	 st;

	if ((s = getenv("NIX_OFFLOAD_ROOT_RUNTIME_DIR")) != NULL && *s == '/')
		snprintf(buf, sz, "%s", s);
	else if (geteuid() == 0 && rd.path[0] != '\0')
		snprintf(buf, sz, "%s", rd.path);
	else
		snprintf(buf, sz, "%s/nix-offload", stat("/run", &st) == 0 &&
		    S_ISDIR(st.st_mode) ? "/run" : "/var/run");
}

/*
 * The public directory beside root's runtime directory, "DIR.public":
 * made (by root) and opened, checked as root's (owner root, mode 0755,
 * not a link, in a directory others cannot change).  Its descriptor, or
 * -1.
 */
static int
pub_dir(int make)
{
	char		 dir[RUNDIR_PATH_MAX], why[RUNDIR_PATH_MAX + 128];
	struct stat	 st;
	int		 fd;

	root_dir(dir, sizeof(dir));
	if (strlcat(dir, ".public", sizeof(dir)) >= sizeof(dir))
		return -1;
	if (make && geteuid() == 0 && parent_safe(dir, why, sizeof(why)))
		(void)mkdir(dir, 0755);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	/* made under root's umask, maybe 077 */
	if (make && geteuid() == 0 && fstat(fd, &st) == 0 && st.st_uid == 0 &&
	    S_ISDIR(st.st_mode) && (st.st_mode & 07777) != 0755)
		(void)fchmod(fd, 0755);
	if (fstat(fd, &st) == -1 || st.st_uid != 0 ||
	    (st.st_mode & 07777) != 0755 || !parent_safe(dir, why,
	    sizeof(why))) {
		log_debug(1, "%s: not root's public directory: ignored", dir);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Root's summary for the other users (pub.c): name in the public
 * directory, replaced whole with data, readable by all.  Root's alone:
 * returns -1 for anyone else, or when it cannot.
 */
int
rundir_pub_write(const char *name, const void *data, size_t len)
{
	char	 tmp[RUNDIR_NAME_MAX + 32];
	int	 dfd, fd, rc = -1;

	if (geteuid() != 0 || (dfd = pub_dir(1)) == -1)
		return -1;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld", name,
	    (long)getpid()) >= sizeof(tmp))
		goto out;
	(void)unlinkat(dfd, tmp, 0);
	if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1)
		goto out;
	if (fchmod(fd, 0644) == -1 || write(fd, data, len) != (ssize_t)len ||
	    close(fd) == -1 || renameat(dfd, tmp, dfd, name) == -1) {
		(void)unlinkat(dfd, tmp, 0);
		goto out;
	}
	rc = 0;
out:
	close(dfd);
	return rc;
}

/*
 * One of root's summary files, for anyone: at most sz - 1 bytes of it
 * into buf, NUL-terminated, if it is root's, a regular file, not a link
 * and written by root alone.  Returns its length (*mtime: when it was
 * written, clock_wall), or -1.
 */
ssize_t
rundir_pub_read(const char *name, char *buf, size_t sz, int64_t *mtime)
{
	struct stat	 st;
	ssize_t		 n;
	int		 dfd, fd;

	if ((dfd = pub_dir(0)) == -1)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022) != 0 || (n = read(fd, buf, sz - 1)) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	buf[n] = '\0';
	*mtime = (int64_t)st.st_mtim.tv_sec * 1000 +
	    st.st_mtim.tv_nsec / 1000000;
	return n;
}
