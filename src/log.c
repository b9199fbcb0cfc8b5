/*
 * Messages.  log.c owns stderr: in hook mode Nix reads it, so every line we
 * print goes through here: errors, warnings and -v lines, build's progress,
 * the hook's answers and activities, the logs of builds and of local
 * children.  Errors are one line, "nix-offload: ...": what a caller needs
 * of a failure travels as a struct failure (fail.c), never through here.
 */
#include <sys/ioctl.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

#define LOG_MSG_MAX	1024	/* a message, cut there */

int		 verbose;
static int	 nixjson;	/* talking to Nix after a hook's accept */
static char	 live[512];	/* the live line on a terminal, or "" */
static pid_t	 live_pid;	/* the process that draws it */

/* Write all of p to fd; errors are ignored (stderr may be gone). */
static void
write_all(int fd, const void *p, size_t n)
{
	const char	*b = p;
	ssize_t		 w;

	while (n > 0) {
		if ((w = write(fd, b, n)) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		b += w;
		n -= (size_t)w;
	}
}

/*
 * head, text as a JSON string, and tail, to stderr in one write: stderr
 * is unbuffered, and json_string puts a character at a time, a system
 * call each here and a wakeup each for Nix, which reads the hook's
 * stderr as it comes.
 */
static void
nix_line(const char *head, const char *text, const char *tail)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f;

	if ((f = open_memstream(&buf, &len)) == NULL) {
		fputs(head, stderr);
		json_string(stderr, text);
		fputs(tail, stderr);
		return;
	}
	fputs(head, f);
	json_string(f, text);
	fputs(tail, f);
	if (fclose(f) == 0)
		write_all(STDERR_FILENO, buf, len);
	free(buf);
}

/*
 * After a hook's "# accept", Nix reads only JSON log lines on our stderr:
 * {"action":"msg","level":L,"msg":"..."} (0 error, 1 warning, 4 talkative).
 */
static void
nix_msg(int level, const char *prefix, const char *msg)
{
	char	 full[LOG_MSG_MAX + 64], head[64];

	snprintf(full, sizeof(full), "nix-offload: %s%s", prefix, msg);
	snprintf(head, sizeof(head), "@nix {\"action\":\"msg\",\"level\":%d,"
	    "\"msg\":", level);
	nix_line(head, full, "}\n");
}

/*
 * The start of an activity in Nix's form (a type 0 activity at level 3,
 * which Nix shows as it shows its own hook's).  Returns its id, for
 * log_nix_stop.
 */
unsigned long long
log_nix_start(const char *text)
{
	static unsigned long long	 seq;
	unsigned long long		 id;
	char				 head[96];

	id = ((unsigned long long)getpid() << 20) + ++seq;
	snprintf(head, sizeof(head), "@nix {\"action\":\"start\",\"id\":%llu,"
	    "\"level\":3,\"text\":", id);
	nix_line(head, text, ",\"type\":0}\n");
	return id;
}

void
log_nix_stop(unsigned long long id)
{
	fprintf(stderr, "@nix {\"action\":\"stop\",\"id\":%llu}\n", id);
	fflush(stderr);
}


/*
 * The build hook's answer to Nix: "# WORD" and, if arg, a line of it
 * ("# accept" and the builder), in one write.
 */
int
log_hook_answer(const char *word, const char *arg)
{
	char	 line[URI_MAX + 64];
	size_t	 n;

	n = (size_t)snprintf(line, sizeof(line), "# %s\n%s%s", word,
	    arg ? arg : "", arg ? "\n" : "");
	return write(STDERR_FILENO, line, n) == (ssize_t)n ? 0 : -1;
}

/*
 * Around every line written to a terminal that shows a live line: the
 * line is cleared first, so that nothing is written after it, and drawn
 * again after, by the process that draws it (a worker, which only
 * writes build logs, clears it; its parent draws it again within a
 * second).
 */
static void
live_hide(void)
{
	if (live[0] != '\0')
		write_all(STDERR_FILENO, "\r\033[K", 4);
}

static void
live_show(void)
{
	if (live[0] != '\0' && getpid() == live_pid)
		write_all(STDERR_FILENO, live, strlen(live));
}

/*
 * prefix, the formatted line and its new line, in one write to stderr:
 * build's workers write their log lines there too, and one of theirs
 * must not land inside ours.
 */
static void
line_out(const char *prefix, const char *fmt, va_list ap)
{
	char	 buf[4096], *line = buf;
	va_list	 again;
	size_t	 p = strlen(prefix);
	int	 n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	if (n >= 0 && p + (size_t)n + 2 > sizeof(buf))
		line = malloc(p + (size_t)n + 2);
	if (n < 0 || line == NULL) {
		va_end(again);
		return;
	}
	memcpy(line, prefix, p);
	vsnprintf(line + p, (size_t)n + 1, fmt, again);
	va_end(again);
	line[p + (size_t)n] = '\n';
	write_all(STDERR_FILENO, line, p + (size_t)n + 1);
	if (line != buf)
		free(line);
}

/* A plain line for the user, as is: build's progress off a terminal. */
void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	live_hide();
	va_start(ap, fmt);
	line_out("", fmt, ap);
	va_end(ap);
	live_show();
}

/*
 * The live line on a terminal, written over the last one: one row of the
 * terminal at most (a longer one would wrap, and the next could not
 * clear it), made safe to show.
 */
void
log_status(const char *fmt, ...)
{
	struct winsize	 ws;
	char		 text[sizeof(live)];
	size_t		 cols = 80, n;
	va_list		 ap;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 8)
		cols = ws.ws_col;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	n = text_filter(text, strlen(text), text, TEXT_NO_CR);
	for (n = n < cols - 1 ? n : cols - 1; n > 0 &&
	    ((unsigned char)text[n] & 0xc0) == 0x80; n--)
		;	/* not in the middle of a character */
	text[strcspn(text, "\n")] = '\0';
	snprintf(live, sizeof(live), "\r\033[K%.*s", (int)n, text);
	live_pid = getpid();
	write_all(STDERR_FILENO, live, strlen(live));
}

/* The live line is done with: cleared. */
void
log_status_end(void)
{
	live_hide();
	live[0] = '\0';
}

/* Text for the user as it is: the usage. */
void
log_text(const char *text)
{
	fputs(text, stderr);
}

/* What a local child (nix-instantiate, nix-store) wrote on its stderr. */
void
log_child(const void *p, size_t n)
{
	live_hide();
	write_all(STDERR_FILENO, p, n);
	live_show();
}

/*
 * Lines of a build's log, to fd: our stderr, filtered (text_filter,
 * colours kept on a terminal, as Nix does), or, in the hook, Nix's log
 * pipe, as they come: Nix filters what it shows.
 */
void
log_build(int fd, const void *p, size_t n)
{
	char	 buf[2048];
	size_t	 take;

	if (fd != STDERR_FILENO) {
		write_all(fd, p, n);
		return;
	}
	live_hide();
	for (; n > 0; p = (const char *)p + take, n -= take) {
		take = n < sizeof(buf) ? n : sizeof(buf);
		/* not in the middle of a character, when more follows */
		while (take < n && take > sizeof(buf) - 4 &&
		    (((const unsigned char *)p)[take] & 0xc0) == 0x80)
			take--;
		write_all(fd, buf, text_filter(p, take, buf, TEXT_NO_CR |
		    (isatty(STDERR_FILENO) ? TEXT_COLOUR : 0)));
	}
	live_show();
}

/*
 * The last lines (at most lines) of a failed build's log, buf, under the
 * error, as nix build shows them: filtered, each behind "> ".
 */
void
log_tail(const char *buf, size_t len, long lines)
{
	char		 out[CONN_ERRTAIL];
	const char	*p, *end;
	long		 n = 0;
	size_t		 k;

	while (len > 0 && buf[len - 1] == '\n')
		len--;
	for (p = buf + len; p > buf && n < lines; p--)
		if (p[-1] == '\n' && ++n == lines)
			break;
	if (len == 0)
		return;
	for (n = 0, end = p; end < buf + len; end++)
		n += *end == '\n';
	live_hide();
	fprintf(stderr, "       last %ld log line%s:\n", n + 1,
	    n == 0 ? "" : "s");
	while (p < buf + len) {
		end = memchr(p, '\n', (size_t)(buf + len - p));
		if (end == NULL)
			end = buf + len;
		k = text_filter(p, (size_t)(end - p), out, TEXT_NO_CR);
		fprintf(stderr, "       > %.*s\n", (int)k, out);
		p = end + 1;
	}
	fputs("       For the whole log, build again with -L.\n", stderr);
	live_show();
}

/* Speak to Nix in JSON log lines from now on (see nix_msg). */
void
log_nix_json(int on)
{
	nixjson = on;
}

static void
vlog(const char *prefix, const char *fmt, va_list ap, const char *tail)
{
	char	 msg[LOG_MSG_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (tail != NULL) {
		strlcat(msg, ": ", sizeof(msg));
		strlcat(msg, tail, sizeof(msg));
	}
	if (nixjson) {
		nix_msg(prefix[0] == '\0' ? 0 : 1, prefix, msg);
		return;
	}
	live_hide();
	fprintf(stderr, "nix-offload: %s%s\n", prefix, msg);
	live_show();
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog("warning: ", fmt, ap, NULL);
	va_end(ap);
}

void
log_errx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog("", fmt, ap, NULL);
	va_end(ap);
}

/* Like log_errx, with strerror(errno) appended. */
void
log_err(const char *fmt, ...)
{
	va_list	 ap;
	char	 e[256];

	strlcpy(e, strerror(errno), sizeof(e));
	va_start(ap, fmt);
	vlog("", fmt, ap, e);
	va_end(ap);
}

/* A message for -v (level 1), -vv (2) or -vvv (3). */
void
log_debug(int level, const char *fmt, ...)
{
	va_list	 ap;

	if (verbose < level)
		return;
	va_start(ap, fmt);
	if (nixjson) {
		char	 msg[LOG_MSG_MAX];
		vsnprintf(msg, sizeof(msg), fmt, ap);
		nix_msg(4, "", msg);
	} else {
		live_hide();
		line_out("nix-offload: ", fmt, ap);
		live_show();
	}
	va_end(ap);
}

