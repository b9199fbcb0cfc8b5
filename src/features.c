/*
 * What a derivation asks of the builder that builds it: the system
 * features it requires (requiredSystemFeatures), as Nix gives them to the
 * build hook.  They come from the env, or, with structured attrs
 * (__structuredAttrs = true), from the JSON text of the env entry "__json",
 * read by json.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

static const char *
drv_file(const struct drv *d)
{
	return d->file != NULL ? d->file : "derivation";
}

/*
 * Check the structured attrs (d has __json, json of len bytes) and find
 * their top-level member key: *at as for json_find.  Reports a malformed
 * __json.
 */
static int
structured(const struct drv *d, const char *json, size_t len,
    const char *key, size_t *at)
{
	char	 err[DRV_ERR_MAX];

	if (json_find(json, len, key, at, err, sizeof(err)) == -1) {
		log_errx("%s: __json: %s", drv_file(d), err);
		return -1;
	}
	return 0;
}

static int
features_json(const struct drv *d, const char *json, struct strlist *l)
{
	size_t	 len = strlen(json), pos;
	char	 err[DRV_ERR_MAX], *s;
	int	 more;

	if (structured(d, json, len, "requiredSystemFeatures", &pos) == -1)
		return -1;
	if (pos == SIZE_MAX)
		return 0;
	/* already checked: only the types are left to see */
	while ((more = json_array_next(json, len, &pos)) == 1) {
		if (json_type(json, len, pos) != JSON_STRING)
			goto notlist;
		if (l->n == DRV_FEATURES_MAX) {
			log_errx("%s: more than %zu requiredSystemFeatures",
			    drv_file(d), (size_t)DRV_FEATURES_MAX);
			return -1;
		}
		if (json_string_dup(json, len, &pos, DRV_NAME_MAX,
		    "a system feature", &s, err, sizeof(err)) == -1) {
			log_errx("%s: __json: %s", drv_file(d), err);
			return -1;
		}
		if (strlist_add(l, s) == -1) {
			log_err("%s", drv_file(d));
			free(s);
			return -1;
		}
		free(s);
	}
	if (more == 0)
		return 0;
notlist:
	log_errx("%s: requiredSystemFeatures must be a list of strings",
	    drv_file(d));
	return -1;
}

/* Whitespace-separated words, as Nix's tokenizeString splits them. */
static int
features_env(const struct drv *d, const char *v, struct strlist *l)
{
	static const char	 sep[] = " \t\n\r";
	size_t			 n;
	char			*s;

	for (;;) {
		v += strspn(v, sep);
		if (*v == '\0')
			return 0;
		n = strcspn(v, sep);
		if (l->n == DRV_FEATURES_MAX) {
			log_errx("%s: more than %zu requiredSystemFeatures",
			    drv_file(d), (size_t)DRV_FEATURES_MAX);
			return -1;
		}
		if (n > DRV_NAME_MAX) {
			log_errx("%s: a system feature longer than %zu bytes",
			    drv_file(d), (size_t)DRV_NAME_MAX);
			return -1;
		}
		if ((s = strndup(v, n)) == NULL || strlist_add(l, s) == -1) {
			log_err("%s", drv_file(d));
			free(s);
			return -1;
		}
		free(s);
		v += n;
	}
}

/*
 * The system features a builder needs for d, as Nix gives them to the build
 * hook (spec 4.3): requiredSystemFeatures, from the env (whitespace-
 * separated) or from the structured attrs (a list of strings), plus
 * "ca-derivations" when some output's path is not known in advance
 * (floating content-addressed, impure or deferred).  Sorted and unique, like
 * Nix's set.  out must be empty; it is filled, for the caller to free with
 * strlist_free().  Returns 0, or -1 (reported, out empty).
 */
int
features_required(const struct drv *d, struct strlist *out)
{
	struct strlist	 l;
	const char	*v;
	size_t		 i;

	memset(&l, 0, sizeof(l));
	if ((v = drv_env(d, "__json")) != NULL) {
		if (features_json(d, v, &l) == -1)
			goto bad;
	} else if ((v = drv_env(d, "requiredSystemFeatures")) != NULL) {
		if (features_env(d, v, &l) == -1)
			goto bad;
	}
	for (i = 0; i < d->noutputs; i++)
		if (d->outputs[i].path[0] == '\0') {
			if (strlist_add(&l, "ca-derivations") == -1) {
				log_err("%s", drv_file(d));
				goto bad;
			}
			break;
		}
	strlist_sort_uniq(&l);
	*out = l;
	return 0;
bad:
	strlist_free(&l);
	return -1;
}
