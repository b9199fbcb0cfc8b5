/*
 * Unit tests for src/check.c's parsers of what a builder prints: its load
 * average (check_parse_load) and the free space of its store
 * (check_parse_df).
 */
#include <string.h>

#include "extern.h"
#include "harness.h"

/*
 * check_parse_load: the builder's /proc/loadavg, a number or nothing.
 */
static const struct {
	const char	*name, *in;
	int		 rc;
	double		 want;
} load_cases[] = {
	{ "load_proc", "0.47 0.30 0.25 1/234 5678", 0, 0.47 },
	{ "load_alone", "12.5", 0, 12.5 },
	{ "load_integer", "3 1 1 1/2 3", 0, 3 },
	{ "load_three_decimals", "1.125 x", 0, 1.125 },
	{ "load_big", "999999.99 0 0", 0, 999999.99 },
	{ "load_err_empty", "", -1, 0 },
	{ "load_err_json", "1},\"evil\":1,\"x\":\"/", -1, 0 },
	{ "load_err_json_space", "1, \"evil\":1 1/2", -1, 0 },
	{ "load_err_escape", "0.5\x1b[2J 1/2", -1, 0 },
	{ "load_err_sign", "-1.00 0 0 1/2", -1, 0 },
	{ "load_err_plus", "+1.00 0 0 1/2", -1, 0 },
	{ "load_err_point_first", ".5 0 0 1/2", -1, 0 },
	{ "load_err_point_last", "5. 0 0 1/2", -1, 0 },
	{ "load_err_four_decimals", "0.1234 0 0 1/2", -1, 0 },
	{ "load_err_seven_digits", "1234567 0 0 1/2", -1, 0 },
	{ "load_err_exponent", "1e3 0 0 1/2", -1, 0 },
	{ "load_err_hex", "0x10 0 0 1/2", -1, 0 },
	{ "load_err_nan", "nan 0 0 1/2", -1, 0 },
	{ "load_err_tab", "0.5\t0 0 1/2", -1, 0 },
	{ "load_err_leading_space", " 0.5 0 0 1/2", -1, 0 },
	{ "load_err_two_points", "0.5.5 0 0 1/2", -1, 0 },
};

static void
test_load(void)
{
	double	 v;
	size_t	 i;
	int	 rc;

	for (i = 0; i < nitems(load_cases); i++) {
		v = -7;
		rc = check_parse_load(load_cases[i].in, &v);
		report(load_cases[i].name, (rc == load_cases[i].rc ||
		    no("returned %d, expected %d", rc, load_cases[i].rc)) &&
		    (rc == 0 ? (v > load_cases[i].want - 1e-9 &&
		    v < load_cases[i].want + 1e-9) || no("load %g, expected %g",
		    v, load_cases[i].want) : v == -7 || no("set the load on "
		    "failure")));
	}
}

/*
 * check_parse_df: df -P's line for the store, whatever its file system is
 * called (a ZFS dataset, tmpfs, "-" in a container), and never the lines
 * around it.
 */
static const struct {
	const char	*name, *in;
	int		 rc;
	long long	 want;
} df_cases[] = {
	{ "df_device", "/dev/sda1 81000000 20000000 61000000 25% /", 0, 61000000 },
	{ "df_zfs", "rpool/nix 1000 400 600 40% /nix", 0, 600 },
	{ "df_tmpfs", "tmpfs 2048 0 2048 0% /nix", 0, 2048 },
	{ "df_container", "- 82432 10 82422 1% /nix", 0, 82422 },
	{ "df_no_capacity", "- 0 0 0 - /nix", 0, 0 },
	{ "df_err_header", "Filesystem 1024-blocks Used Available Capacity Mounted on", -1, 0 },
	{ "df_err_loadavg", "0.47 0.30 0.25 1/234 5678", -1, 0 },
	{ "df_err_nproc", "2", -1, 0 },
	{ "df_err_version", "nix-store (Nix) 2.34.8", -1, 0 },
	{ "df_err_negative", "- 10 5 -5 50% /nix", -1, 0 },
	{ "df_err_huge", "- 10 5 99999999999999999999 50% /nix", -1, 0 },
	{ "df_err_no_mount", "- 10 5 5 50%", -1, 0 },
};

static void
test_df(void)
{
	long long	 v;
	size_t		 i;
	int		 rc;

	for (i = 0; i < nitems(df_cases); i++) {
		v = -7;
		rc = check_parse_df(df_cases[i].in, &v);
		report(df_cases[i].name, (rc == df_cases[i].rc ||
		    no("returned %d, expected %d", rc, df_cases[i].rc)) &&
		    (rc == 0 ? v == df_cases[i].want || no("%lld free, "
		    "expected %lld", v, df_cases[i].want) : v == -7 ||
		    no("set the size on failure")));
	}
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_load();
	test_df();
	return done();
}
