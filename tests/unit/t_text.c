/*
 * Unit tests for src/text.c: a builder's log filtered for a terminal or a
 * pipe (text_filter), bytes made printable (text_printable), and a
 * builder's error message made safe to print (text_clean).
 *
 * Cases marked "regression:" failed when they were written, for a defect
 * in src/ since fixed; they stay so that it does not come back.
 */
#include <string.h>

#include "extern.h"
#include "harness.h"

/*
 * text_filter: a builder's log, as our terminal may show it, and as a
 * pipe gets it.
 */
#define TTY	(TEXT_NO_CR | TEXT_COLOUR)
#define PIPE	TEXT_NO_CR
static const struct {
	const char	*name, *in, *want;
	int		 flags;
} filter_cases[] = {
	{ "filter_plain", "hello\tworld\n", "hello\tworld\n", PIPE },
	{ "filter_colour_tty", "\033[31mred\033[0m", "\033[31mred\033[0m", TTY },
	{ "filter_colour_pipe", "\033[31mred\033[0m", "red", PIPE },
	{ "filter_title", "a\033]0;pwned\007b", "ab", TTY },
	{ "filter_title_st", "a\033]0;pwned\033\\b", "ab", TTY },
	{ "filter_clear", "a\033[2Jb", "ab", TTY },
	{ "filter_cursor", "a\033[10;20Hb", "ab", TTY },
	{ "filter_charset", "a\033(0b", "ab", TTY },
	{ "filter_cr", "50%\r100%\n", "50%100%\n", PIPE },
	{ "filter_c1", "a\xc2\x9b" "2Jb", "a?2Jb", TTY },
	{ "filter_bell", "a\007b", "a?b", PIPE },
	{ "filter_del", "a\177b", "a?b", PIPE },
	{ "filter_utf8", "gr\xc3\xbc\xc3\x9f", "gr\xc3\xbc\xc3\x9f", PIPE },
	{ "filter_trailing_esc", "a\033", "a", TTY },
	/* 8-bit C1 controls, not UTF-8: CSI and OSC to an 8-bit terminal */
	{ "filter_c1_raw_csi", "a\x9b" "2Jb", "a?2Jb", TTY },
	{ "filter_c1_raw_osc", "a\x9d" "0;pwned\x9c" "b", "a?0;pwned?b", TTY },
	{ "filter_c1_raw_all", "\x80\x85\x9f", "???", PIPE },
	{ "filter_utf8_3_4", "\xe2\x82\xac \xf0\x9f\x98\x80",
	    "\xe2\x82\xac \xf0\x9f\x98\x80", PIPE },
	{ "filter_utf8_cut", "a\xe2\x82", "a??", PIPE },
	{ "filter_utf8_lone_cont", "a\xbf" "b", "a?b", PIPE },
	{ "filter_utf8_overlong", "\xc0\xaf\xe0\x80\xaf", "?????", PIPE },
	{ "filter_utf8_surrogate", "\xed\xa0\x80", "???", PIPE },
	{ "filter_latin1", "caf\xe9" "!", "caf?!", PIPE },
};

static void
test_filter(void)
{
	char	 out[256];
	size_t	 i, n;

	for (i = 0; i < nitems(filter_cases); i++) {
		n = text_filter(filter_cases[i].in, strlen(filter_cases[i].in),
		    out, filter_cases[i].flags);
		out[n] = '\0';
		report(filter_cases[i].name, strcmp(out,
		    filter_cases[i].want) == 0 || no("got \"%s\"", out));
	}
}

static const struct {
	const char	*name, *in;
	size_t		 n, outsz;
	const char	*want;
} printable_cases[] = {
	{ "printable_plain", B("abc"), 64, "abc" },
	{ "printable_empty", B(""), 64, "" },
	{ "printable_escapes", B("a\nb\r\t\\"), 64, "a\\nb\\r\\t\\\\" },
	{ "printable_hex", B("\0\x01\x7f\xff"), 64, "\\x00\\x01\\x7f\\xff" },
	{ "printable_cut", B("abcdefghijkl"), 10, "abcdef..." },
	/* an escape is never cut in half */
	{ "printable_cut_escape", B("\x01\x02\x03"), 10, "\\x01..." },
	{ "printable_cut_tiny", B("abcdef"), 4, "..." },
	{ "printable_cut_one", B("abcdef"), 1, "" },
	/* regression: fits exactly (8 bytes and the NUL in 10), but is cut */
	{ "printable_fits", B("abcdefgh"), 10, "abcdefgh" },
};

/* A builder's error message, made safe to print. */
static const struct {
	const char	*name, *in, *want;
} clean_cases[] = {
	{ "clean_plain", "builder failed\n\tline 2", "builder failed\n\tline 2" },
	{ "clean_nix_colours", "\x1b[31;1merror:\x1b[0m builder for '\x1b[35;1m"
	    "/nix/store/x.drv\x1b[0m' failed", "error: builder for "
	    "'/nix/store/x.drv' failed" },
	{ "clean_osc_title_bel", "a\x1b]0;pwned\x07" "b", "ab" },
	{ "clean_osc_title_st", "a\x1b]2;pwned\x1b\\b", "ab" },
	{ "clean_cursor_moves", "x\x1b[2J\x1b[Hy", "xy" },
	{ "clean_lone_esc", "a\x1b" "c", "a" },
	{ "clean_esc_at_end", "a\x1b", "a" },
	{ "clean_csi_cut", "a\x1b[31", "a" },
	{ "clean_osc_cut", "a\x1b]0;title", "a" },
	{ "clean_controls", "a\rb\bc\x7f\x01", "a?b?c??" },
	{ "clean_charset", "a\x1b(Bb\x1b)0c", "abc" },
	{ "clean_c1_utf8", "a\xc2\x9b" "2Jb\xc2\x85" "c", "a?2Jb?c" },
	{ "clean_latin1_kept", "\xc2\xa0\xc2\xbf", "\xc2\xa0\xc2\xbf" },
	{ "clean_utf8_kept", "gr\xc3\xbc\xc3\x9f""e", "gr\xc3\xbc\xc3\x9f""e" },
	{ "clean_empty", "", "" },
};

static void
test_text(void)
{
	char	 out[64], *r;
	size_t	 i;

	for (i = 0; i < nitems(printable_cases); i++) {
		memset(out, 'X', sizeof(out));
		r = text_printable(printable_cases[i].in, printable_cases[i].n,
		    out, printable_cases[i].outsz);
		report(printable_cases[i].name, (r == out ||
		    no("did not return out")) && (memchr(out, '\0',
		    printable_cases[i].outsz) != NULL ||
		    no("not NUL-terminated within outsz")) &&
		    same("text", out, printable_cases[i].want));
	}
	memset(out, 'X', sizeof(out));
	text_printable("abc", 3, out, 0);
	report("printable_outsz_0", out[0] == 'X' || no("wrote into 0 bytes"));

	for (i = 0; i < nitems(clean_cases); i++) {
		char	 buf[256];
		strlcpy(buf, clean_cases[i].in, sizeof(buf));
		r = text_clean(buf);
		report(clean_cases[i].name, (r == buf || no("did not return "
		    "its argument")) && same("text", buf, clean_cases[i].want));
	}
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_filter();
	test_text();
	return done();
}
