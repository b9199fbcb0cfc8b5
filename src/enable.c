/*
 * nix-offload enable [builder-options] uri ... | --all: try builders that
 * are down again at once (their health records cleared, health.c).
 */
#include <string.h>

#include "extern.h"

int
cmd_enable(int argc, char **argv)
{
	const struct usage	*u = usage_find("enable");
	struct usage_opt	 o;
	struct common		 cm;
	struct strlist		 uris = { NULL, 0, 0 };
	size_t			 i, j;
	int			 all = 0, r, rc = EXIT_USAGE, k = 1;

	memset(&o, 0, sizeof(o));
	common_init(&cm);
	while ((r = usage_next(u, argc, argv, &k, &o)) != USAGE_END) {
		if (r == -1)
			goto out;
		if (r == USAGE_OPERAND) {
			if (strlist_add(&uris, o.arg[0]) == -1) {
				rc = EXIT_ERROR;
				goto out;
			}
		} else if (strcmp(o.name, "--all") == 0)
			all = 1;
		else if (common_option(&cm, &o) != 1)
			goto out;
	}
	if (!all && uris.n == 0) {
		usage_error("enable");
		goto out;
	}
	if (common_load(&cm) == -1)
		goto out;
	rc = EXIT_OK;
	for (j = 0; j < uris.n; j++) {
		for (i = 0; i < cm.ms.n; i++)
			if (strcmp(cm.ms.v[i].uri_text, uris.v[j]) == 0)
				break;
		if (i == cm.ms.n) {
			log_errx("enable: %s is not one of the builders (see "
			    "nix-offload machines)", uris.v[j]);
			rc = EXIT_USAGE;
		}
	}
	for (i = 0; i < cm.ms.n; i++)
		if (all || strlist_has(&uris, cm.ms.v[i].uri_text))
			health_ok(&cm.ms.v[i]);
	pub_update(&cm.ms, PUB_LAST);
out:
	common_free(&cm);
	strlist_free(&uris);
	return rc;
}
