/*
 * nix-offload machines [--json] [builder-options]: the effective builders
 * (common.c reads them), where each came from, which are down.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "extern.h"


/* The shortest text that reads back as the same double. */
static void
number(double d, char *buf, size_t sz)
{
	snprintf(buf, sz, "%.15g", d);
	if (strtod(buf, NULL) != d)
		snprintf(buf, sz, "%.17g", d);
}

/*
 * The same, in plain decimals (no exponent): what a machines file takes
 * back.  Found by the fuzzer: a speed factor of 0.0000001 printed 1e-07.
 */
static void
plain_number(double d, char *buf, size_t sz)
{
	int	 prec;

	for (prec = 0; prec < 40; prec++) {
		snprintf(buf, sz, "%.*f", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/*
 * A list as a field that reads back the same: "-" for none, but for the
 * systems, where "-" is the default and none is ","; a lone "-" item
 * (a system or feature named "-", which Nix keeps) is ",-".
 */
static void
text_list(FILE *f, const struct strlist *l, int systems)
{
	size_t	 i;

	if (l->n == 0)
		fputc(systems ? ',' : '-', f);
	if (l->n == 1 && strcmp(l->v[0], "-") == 0)
		fputc(',', f);
	for (i = 0; i < l->n; i++)
		fprintf(f, "%s%s", i > 0 ? "," : "", l->v[i]);
}

static void
json_or_null(FILE *f, const char *s)
{
	if (s == NULL)
		fputs("null", f);
	else
		json_string(f, s);
}

/*
 * Print the machines.  Text: one line per builder, in the order Nix reads
 * them, every field filled in, so that each line is itself a valid
 * machines-file entry followed by a comment:
 *
 *	URI SYSTEMS SSH-KEY MAX-JOBS SPEED SUPPORTED MANDATORY HOST-KEY # SOURCE
 *
 * Lists are comma-separated; "-" stands for none (no key, no features, no
 * host key).  SOURCE is FILE:LINE or --builders (--option, NIX_CONFIG:N);
 * a builder nix-offload cannot use ends in "(unusable: WHY)".  JSON: an
 * array of objects, one per line, with the keys uri, systems, sshKey,
 * maxJobs, speedFactor, supportedFeatures, mandatoryFeatures,
 * publicHostKey, source, usable and unusableReason.
 */
void
builders_print(FILE *f, const struct machines *ms, int json)
{
	const struct machine	*m;
	char			 sp[64], reason[HEALTH_REASON_MAX];
	size_t			 i;
	long			 fails;
	long long		 until;

	if (json)
		fputc('[', f);
	else if (ms->n > 0 && isatty(fileno(f)))
		fprintf(f, "# read as Nix %s reads builders\n", ms->rules);
	for (i = 0; i < ms->n; i++) {
		m = &ms->v[i];
		if (json)
			number(m->speed_factor, sp, sizeof(sp));
		else
			plain_number(m->speed_factor, sp, sizeof(sp));
		if (!json) {
			fprintf(f, "%s ", m->uri_nix ? m->uri_nix :
			    m->uri_text);
			text_list(f, &m->systems, 1);
			fprintf(f, " %s %ld %s ", m->ssh_key ? m->ssh_key : "-",
			    m->max_jobs, sp);
			text_list(f, &m->supported, 0);
			fputc(' ', f);
			text_list(f, &m->mandatory, 0);
			fprintf(f, " %s # %s", m->host_key_b64 ?
			    m->host_key_b64 : "-", m->source);
			if (!m->usable)
				fprintf(f, " (unusable: %s)", m->unusable_why);
			else if (health_get(m, &fails, &until, reason,
			    sizeof(reason)) == 0) {
				long long left = until - (long long)time(NULL);
				if (left > 0)
					fprintf(f, " (down: skipped for %lld s "
					    "after %ld failure%s: %s)", left,
					    fails, fails == 1 ? "" : "s",
					    reason);
				else
					fprintf(f, " (%ld failure%s, to be "
					    "tried again: %s)", fails, fails == 1 ?
					    "" : "s", reason);
			}
			fputc('\n', f);
			continue;
		}
		fputs(i > 0 ? ",\n{\"uri\":" : "{\"uri\":", f);
		json_string(f, m->uri_text);
		fputs(",\"systems\":", f);
		json_list(f, &m->systems);
		fputs(",\"sshKey\":", f);
		json_or_null(f, m->ssh_key);
		fprintf(f, ",\"maxJobs\":%ld,\"speedFactor\":%s", m->max_jobs,
		    sp);
		fputs(",\"supportedFeatures\":", f);
		json_list(f, &m->supported);
		fputs(",\"mandatoryFeatures\":", f);
		json_list(f, &m->mandatory);
		fputs(",\"publicHostKey\":", f);
		json_or_null(f, m->host_key_b64);
		fputs(",\"source\":", f);
		json_string(f, m->source);
		fprintf(f, ",\"usable\":%s,\"unusableReason\":",
		    m->usable ? "true" : "false");
		json_or_null(f, m->usable ? NULL : m->unusable_why);
		fputs(",\"nixRules\":", f);
		json_string(f, ms->rules);
		/* only a builder that failed lately has a "health" */
		if (m->usable && health_get(m, &fails, &until, reason,
		    sizeof(reason)) == 0) {
			long long left = until - (long long)time(NULL);
			fprintf(f, ",\"health\":{\"failures\":%ld,"
			    "\"downSeconds\":%lld,\"reason\":", fails,
			    left > 0 ? left : 0);
			json_string(f, reason);
			fputc('}', f);
		}
		fputc('}', f);
	}
	if (json)
		fputs("]\n", f);
}

/*
 * nix-offload machines [--json] [--builders SPEC] [--option NAME VALUE]
 *
 * The builders nix-offload would use, as builders_print shows them.
 * Configuration errors are reported on stderr, in --json mode too, and
 * give EXIT_USAGE with nothing on stdout.
 */
int
cmd_machines(int argc, char **argv)
{
	const struct usage	*u = usage_find("machines");
	struct usage_opt	 o;
	struct common		 cm;
	char			 val[256];
	int			 i = 1, r, rc = EXIT_USAGE;

	memset(&o, 0, sizeof(o));
	common_init(&cm);
	while ((r = usage_next(u, argc, argv, &i, &o)) != USAGE_END) {
		if (r == USAGE_OPERAND) {
			usage_error("machines");
			goto out;
		}
		if (r == -1 || common_option(&cm, &o) != 1)
			goto out;
	}
	if (common_load(&cm) == -1)
		goto out;
	if (cm.ms.n == 0 && !cm.json) {
		if (conf_value(&cm.conf, "builders", val, sizeof(val)) == -1)
			strlcpy(val, "...", sizeof(val));
		log_debug(0, "no builders (builders = %s%s%s)", val,
		    cm.conf.builders ? ", from " : "",
		    cm.conf.builders ? cm.conf.builders_src : "");
	}
	builders_print(stdout, &cm.ms, cm.json);
	rc = EXIT_OK;
	if (fflush(stdout) == EOF || ferror(stdout)) {
		log_err("machines: stdout");
		rc = EXIT_ERROR;
	}
out:
	common_free(&cm);
	return rc;
}
