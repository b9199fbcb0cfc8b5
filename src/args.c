/*
 * Words: argv lists built a word at a time, and the shell's words, quoted
 * for a remote shell and split as a shell would (quotes and backslashes,
 * no expansion) for NIX_SSHOPTS and remote-program.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

/*
 * Append a printf-formatted word to a NULL-terminated argv.  Returns 0, or -1
 * (reported) when out of memory.
 */
int
args_add(struct args *a, const char *fmt, ...)
{
	va_list	 ap;
	char	*s, **l;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL) {
		log_err("args_add");
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (a->num + 2 > a->nalloc) {
		size_t	 na = a->nalloc ? a->nalloc * 2 : 16;
		if ((l = reallocarray(a->list, na, sizeof(*l))) == NULL) {
			log_err("args_add");
			free(s);
			return -1;
		}
		a->list = l;
		a->nalloc = na;
	}
	a->list[a->num++] = s;
	a->list[a->num] = NULL;
	return 0;
}

void
args_free(struct args *a)
{
	size_t	 i;

	for (i = 0; i < a->num; i++)
		free(a->list[i]);
	free(a->list);
	memset(a, 0, sizeof(*a));
}

static int
args_safe(const char *s)
{
	/* zsh expands a leading = to a command's path */
	if (*s == '\0' || *s == '=')
		return 0;
	for (; *s != '\0'; s++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_@%+=:,./-", *s) == NULL)
			return 0;
	return 1;
}

/*
 * Quote one word for a POSIX shell: bare when it holds only safe
 * characters, else in single quotes with each ' written as '\''.
 * Returns a string the caller frees, or NULL (reported).
 */
char *
args_quote(const char *s)
{
	size_t	 n = 3;
	char	*q, *o;
	const char *p;

	if (args_safe(s))
		return strdup(s);
	for (p = s; *p != '\0'; p++)
		n += *p == '\'' ? 4 : 1;
	if ((q = malloc(n)) == NULL) {
		log_err("args_quote");
		return NULL;
	}
	o = q;
	*o++ = '\'';
	for (p = s; *p != '\0'; p++) {
		if (*p == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else
			*o++ = *p;
	}
	*o++ = '\'';
	*o = '\0';
	return q;
}

/* Quote each word and join them with spaces: one command line for a shell. */
char *
args_join(char *const *words)
{
	char	*line = NULL, *q, *nl;
	size_t	 len = 0, ql;

	for (; *words != NULL; words++) {
		if ((q = args_quote(*words)) == NULL) {
			free(line);
			return NULL;
		}
		ql = strlen(q);
		if ((nl = realloc(line, len + ql + 2)) == NULL) {
			log_err("args_join");
			free(q);
			free(line);
			return NULL;
		}
		line = nl;
		if (len > 0)
			line[len++] = ' ';
		memcpy(line + len, q, ql + 1);
		len += ql;
		free(q);
	}
	return line != NULL ? line : strdup("");
}

/*
 * Split a string into words as a POSIX shell would, with quotes and
 * backslashes but no expansion of any kind (Nix does this for NIX_SSHOPTS
 * since 2.26).  Returns 0, or -1 (reported) on an unterminated quote.
 */
int
args_split(const char *s, struct args *out)
{
	const char *orig = s;
	char	*w;
	size_t	 n = 0;
	int	 inword = 0;

	if ((w = malloc(strlen(s) + 1)) == NULL) {
		log_err("args_split");
		return -1;
	}
	for (;;) {
		if (*s == '\0' || *s == ' ' || *s == '\t' || *s == '\n') {
			if (inword) {
				w[n] = '\0';
				if (args_add(out, "%s", w) == -1)
					goto fail;
				n = 0;
				inword = 0;
			}
			if (*s == '\0')
				break;
			s++;
			continue;
		}
		if (*s == '\\' && s[1] == '\n') {	/* a line continuation */
			s += 2;
			continue;
		}
		inword = 1;
		if (*s == '\\') {
			if (s[1] == '\0')
				goto bad;
			w[n++] = s[1];
			s += 2;
		} else if (*s == '\'') {
			for (s++; *s != '\'' ; s++) {
				if (*s == '\0')
					goto bad;
				w[n++] = *s;
			}
			s++;
		} else if (*s == '"') {
			for (s++; *s != '"'; s++) {
				if (*s == '\0')
					goto bad;
				if (*s == '\\' && s[1] != '\0' &&
				    strchr("$`\"\\\n", s[1]) != NULL) {
					s++;
					if (*s == '\n')
						continue;
				}
				w[n++] = *s;
			}
			s++;
		} else
			w[n++] = *s++;
	}
	free(w);
	return 0;
bad:
	log_errx("unterminated quote or trailing backslash in \"%s\"", orig);
fail:
	free(w);
	return -1;
}
