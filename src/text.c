/*
 * A peer's bytes made safe to show: as C escapes in a message
 * (text_printable), or with terminal escape sequences and control bytes
 * taken out of a log (text_filter, text_clean).
 */
#include <stdio.h>
#include <string.h>

#include "extern.h"

/* The length of the UTF-8 character at p (n bytes there), 0 if invalid. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t	 len, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* no overlong forms, surrogates or code points past U+10FFFF */
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return len;
}

/*
 * What a peer wrote, made safe for a terminal into out (at least n bytes;
 * it may be in itself): escape sequences go, but for colours (CSI ... m)
 * with TEXT_COLOUR; carriage returns go with TEXT_NO_CR; other control
 * bytes, C1 controls in UTF-8 among them, become '?', and so does any
 * byte of 0x80 and above that is not part of a whole UTF-8 character
 * (0x9b and 0x9d are CSI and OSC to an 8-bit terminal); lines and tabs
 * stay.  Returns the length of out.
 */
size_t
text_filter(const char *in, size_t n, char *out, int flags)
{
	const unsigned char	*r = (const unsigned char *)in, *end = r + n;
	const unsigned char	*seq;
	size_t			 o = 0;

	while (r < end) {
		if (*r == 0x1b) {
			seq = r++;
			if (r < end && *r == '[') {	/* CSI: to a final byte */
				for (r++; r < end && (*r < 0x40 || *r > 0x7e);
				    r++)
					;
				if (r < end && *r == 'm' &&
				    (flags & TEXT_COLOUR)) {
					memmove(out + o, seq, (size_t)(r - seq) + 1);
					o += (size_t)(r - seq) + 1;
				}
			} else if (r < end && *r == ']') {	/* OSC */
				for (r++; r < end && *r != 0x07 &&
				    !(*r == 0x1b && r + 1 < end && r[1] == '\\');
				    r++)
					;
				if (r < end && *r == 0x1b)
					r++;
			} else
				while (r < end && *r >= 0x20 && *r <= 0x2f)
					r++;
			if (r < end)
				r++;
			continue;
		}
		if (*r == 0xc2 && r + 1 < end && r[1] >= 0x80 && r[1] <= 0x9f) {
			out[o++] = '?';
			r += 2;
			continue;
		}
		if (*r >= 0x80) {
			/* whole UTF-8 characters pass; a lone byte, such as
			 * an 8-bit C1 control (0x9b CSI), does not */
			size_t	 len = utf8_len(r, (size_t)(end - r));

			if (len == 0) {
				out[o++] = '?';
				r++;
			} else {
				memmove(out + o, r, len);
				o += len;
				r += len;
			}
			continue;
		}
		if (*r == '\r' && (flags & TEXT_NO_CR)) {
			r++;
			continue;
		}
		if ((*r < 0x20 && *r != '\n' && *r != '\t') || *r == 0x7f)
			out[o++] = '?';
		else
			out[o++] = (char)*r;
		r++;
	}
	return o;
}

/* The printable form of one byte into tmp (5 bytes); returns its length. */
static size_t
escape(unsigned char c, char *tmp)
{
	if (c == '\n')
		return (size_t)snprintf(tmp, 5, "\\n");
	if (c == '\r')
		return (size_t)snprintf(tmp, 5, "\\r");
	if (c == '\t')
		return (size_t)snprintf(tmp, 5, "\\t");
	if (c == '\\')
		return (size_t)snprintf(tmp, 5, "\\\\");
	if (c < 0x20 || c >= 0x7f)
		return (size_t)snprintf(tmp, 5, "\\x%02x", c);
	tmp[0] = (char)c;
	tmp[1] = '\0';
	return 1;
}

/*
 * Render bytes from a peer for a message: printable ASCII as is, the rest as
 * C escapes.  Returns out, always NUL-terminated, cut with "..." if needed.
 */
char *
text_printable(const void *p, size_t n, char *out, size_t outsz)
{
	const unsigned char	*b = p;
	size_t			 i, o = 0, need = 0, room;
	char			 tmp[5];

	if (outsz == 0)
		return out;
	for (i = 0; i < n; i++)
		need += escape(b[i], tmp);
	/* when it does not all fit, keep room for "..." */
	room = need < outsz ? outsz - 1 : (outsz > 4 ? outsz - 4 : 0);
	for (i = 0; i < n; i++) {
		size_t	 len = escape(b[i], tmp);
		if (o + len > room)
			break;
		memcpy(out + o, tmp, len);
		o += len;
	}
	out[o] = '\0';
	if (i < n)
		strlcat(out, "...", outsz);
	return out;
}

/*
 * Make a peer's message (a build's error) safe to print, in place: its
 * terminal escape sequences go (Nix colours its errors; a hostile builder
 * could move the cursor or retitle the terminal), other control bytes,
 * C1 controls in UTF-8 among them, become '?', and lines and tabs stay.
 * Returns s.
 */
char *
text_clean(char *s)
{
	s[text_filter(s, strlen(s), s, 0)] = '\0';
	return s;
}
