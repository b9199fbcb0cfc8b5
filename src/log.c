/*
 * Messages.  log.c owns stderr: in hook mode Nix reads it, so every line we
 * print goes through here.  Errors are one line, "nix-offload: ...", and the
 * last one is kept for --json output.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "extern.h"

int		 verbose;
static int	 quiet;
static char	 last[1024];

static void
vlog(const char *prefix, const char *fmt, va_list ap, const char *tail)
{
	char	 msg[sizeof(last)];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (tail != NULL) {
		strlcat(msg, ": ", sizeof(msg));
		strlcat(msg, tail, sizeof(msg));
	}
	if (prefix[0] == '\0')
		strlcpy(last, msg, sizeof(last));
	if (!quiet || prefix[0] != '\0')
		fprintf(stderr, "nix-offload: %s%s\n", prefix, msg);
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
	fputs("nix-offload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The last error reported, "" if none. */
const char *
log_last(void)
{
	return last;
}

/* With --json the error goes to stdout instead: keep it, print nothing. */
void
log_quiet(int on)
{
	quiet = on;
}

/*
 * Render bytes from a peer for a message: printable ASCII as is, the rest as
 * C escapes.  Returns out, always NUL-terminated, cut with "..." if needed.
 */
char *
log_printable(const void *p, size_t n, char *out, size_t outsz)
{
	const unsigned char	*b = p;
	size_t			 i, o = 0;
	char			 tmp[5];

	if (outsz == 0)
		return out;
	for (i = 0; i < n; i++) {
		if (b[i] == '\n')
			snprintf(tmp, sizeof(tmp), "\\n");
		else if (b[i] == '\r')
			snprintf(tmp, sizeof(tmp), "\\r");
		else if (b[i] == '\t')
			snprintf(tmp, sizeof(tmp), "\\t");
		else if (b[i] == '\\')
			snprintf(tmp, sizeof(tmp), "\\\\");
		else if (b[i] < 0x20 || b[i] >= 0x7f)
			snprintf(tmp, sizeof(tmp), "\\x%02x", b[i]);
		else
			snprintf(tmp, sizeof(tmp), "%c", b[i]);
		if (o + strlen(tmp) + 4 > outsz) {
			strlcpy(out + o, "...", outsz - o);
			return out;
		}
		memcpy(out + o, tmp, strlen(tmp));
		o += strlen(tmp);
	}
	out[o] = '\0';
	return out;
}
