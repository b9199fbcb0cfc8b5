/*
 * Fuzz target: .drv files (drv_parse), and what is read out of a parsed
 * derivation: its required system features (the env, or the JSON of the
 * structured attrs), and the names of its output and input paths
 * (drv_name).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define ERRSZ	512

static void
input(const uint8_t *data, size_t size)
{
	struct drv	 d;
	struct strlist	 features;
	char		 err[ERRSZ], name[256];
	size_t		 i;

	err[0] = 'x';
	if (drv_parse((const char *)data, size, &d, err, sizeof(err)) == -1) {
		/* a message, and nothing left to free */
		if (err[0] == '\0' || strlen(err) >= sizeof(err) ||
		    d.outputs != NULL || d.srcs != NULL || d.env != NULL)
			abort();
		return;
	}
	if (d.noutputs == 0 || d.srcs == NULL || d.args == NULL ||
	    d.platform == NULL || d.builder == NULL)
		abort();
	memset(&features, 0, sizeof(features));
	if (features_required(&d, &features) == 0)
		strlist_free(&features);
	else if (features.n != 0)
		abort();
	(void)drv_env(&d, "__json");
	for (i = 0; i < d.noutputs; i++)
		(void)drv_name(d.outputs[i].path, name, sizeof(name));
	for (i = 0; i < d.ninputs; i++)
		(void)drv_name(d.inputs[i].path, name, sizeof(name));
	drv_free(&d);
}

const struct fuzz_target fuzz_target = { "drv", NULL, input };
