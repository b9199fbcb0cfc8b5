/*
 * Unit tests for src/features.c: the system features a derivation
 * requires (features_required), from its env or from the JSON of its
 * structured attrs, and so json.c's checks of that JSON ("json: ..."):
 * syntax, escapes, UTF-8, numbers, nesting, and the limits on names and
 * counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"
#include "harness.h"

/* ---- required features ---- */

/* A derivation with one output (path or none) and at most one variable. */
static void
fake(struct drv *d, struct drv_output *o, struct drv_env *e, const char *key,
    const char *value, int nopath)
{
	memset(d, 0, sizeof(*d));
	o->name = (char *)"out";
	o->path = (char *)(nopath ? "" : "/nix/store/x-t");
	o->hash_algo = (char *)(nopath ? "r:sha256" : "");
	o->hash = (char *)"";
	d->outputs = o;
	d->noutputs = 1;
	if (key != NULL) {
		e->key = (char *)key;
		e->value = (char *)value;
		d->env = e;
		d->nenv = 1;
	}
}

#define RSF	"requiredSystemFeatures"
static const struct {
	const char	*name;
	const char	*key;		/* RSF, "__json" or NULL */
	const char	*value;
	int		 nopath;	/* output path not known in advance */
	const char	*want;		/* joined by ' '; NULL: must fail */
} features[] = {
	{ "features: none", NULL, NULL, 0, "" },
	{ "features: env, sorted", RSF, "kvm big-parallel", 0,
	    "big-parallel kvm" },
	{ "features: env, any whitespace, duplicates", RSF,
	    "  kvm\tbenchmark\n\r kvm  ", 0, "benchmark kvm" },
	{ "features: env, empty", RSF, "", 0, "" },
	{ "features: floating output adds ca-derivations", NULL, NULL, 1,
	    "ca-derivations" },
	{ "features: ca-derivations once", RSF, "ca-derivations kvm", 1,
	    "ca-derivations kvm" },
	{ "features: json", "__json",
	    "{\"" RSF "\":[\"kvm\",\"big-parallel\"]}", 0, "big-parallel kvm" },
	{ "features: json without them", "__json", "{\"name\":\"x\"}", 0, "" },
	{ "features: json, in an empty object", "__json", "{}", 1,
	    "ca-derivations" },
	{ "features: json, empty list", "__json", "{\"" RSF "\":[]}", 0, "" },
	{ "features: json, not the nested ones", "__json",
	    "{\"a\":{\"" RSF "\":[\"no1\"]},\"b\":[{\"" RSF "\":[\"no2\"]}],"
	    "\"c\":\"\\\"" RSF "\\\":[\\\"no3\\\"]\",\"" RSF "\":[\"yes\"],"
	    "\"d\":[[[{\"e\":[]}]],{}]}", 0, "yes" },
	{ "features: json, the last of two", "__json",
	    "{\"" RSF "\":[\"first\"],\"" RSF "\":[\"second\"]}", 0, "second" },
	{ "features: json, escaped key", "__json",
	    "{\"requiredSystem\\u0046eatures\":[\"kvm\"]}", 0, "kvm" },
	{ "features: json, escapes in names", "__json",
	    "{\"" RSF "\":[\"caf\\u00e9\",\"\\ud83d\\ude80\",\"a\\/b\","
	    "\"t\\tb\",\"q\\\"\\\\\"]}", 0,
	    "a/b caf\xc3\xa9 q\"\\ t\tb \xf0\x9f\x9a\x80" },
	{ "features: json, whitespace everywhere", "__json",
	    " \t\n{ \"" RSF "\" :\r[ \"kvm\" , \"x\" ] , \"n\" : null }\n ", 0,
	    "kvm x" },
	{ "features: json, numbers and literals", "__json",
	    "{\"n\":[0,-0,1.5e10,0.25,-12E-3,1E+2,123456789012345678901234],"
	    "\"l\":[true,false,null],\"" RSF "\":[\"k\"]}", 0, "k" },
	{ "features: json, raw UTF-8", "__json",
	    "{\"u\":\"gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x9a\x80\",\"" RSF
	    "\":[\"\xc3\xa9\"]}", 0, "\xc3\xa9" },
	{ "features: json, NUL elsewhere is fine", "__json",
	    "{\"x\":\"a\\u0000b\",\"" RSF "\":[\"k\"]}", 0, "k" },
	{ "features: json, not a list", "__json", "{\"" RSF "\":\"kvm\"}", 0,
	    NULL },
	{ "features: json, null", "__json", "{\"" RSF "\":null}", 0, NULL },
	{ "features: json, a number in the list", "__json",
	    "{\"" RSF "\":[\"kvm\",1]}", 0, NULL },
	{ "features: json, a list in the list", "__json",
	    "{\"" RSF "\":[[\"kvm\"]]}", 0, NULL },
	{ "features: json, NUL in a feature", "__json",
	    "{\"" RSF "\":[\"a\\u0000b\"]}", 0, NULL },
	{ "json: trailing comma in an object", "__json", "{\"a\":1,}", 0,
	    NULL },
	{ "json: trailing comma in a list", "__json", "{\"a\":[1,]}", 0, NULL },
	{ "json: missing colon", "__json", "{\"a\" 1}", 0, NULL },
	{ "json: missing comma", "__json", "{\"a\":1 \"b\":2}", 0, NULL },
	{ "json: key not a string", "__json", "{a:1}", 0, NULL },
	{ "json: unterminated string", "__json", "{\"a\":\"b}", 0, NULL },
	{ "json: unterminated object", "__json", "{\"a\":1", 0, NULL },
	{ "json: unterminated list", "__json", "{\"a\":[1", 0, NULL },
	{ "json: backslash at the end", "__json", "{\"a\":\"\\", 0, NULL },
	{ "json: unknown escape", "__json", "{\"a\":\"\\x41\"}", 0, NULL },
	{ "json: short \\u", "__json", "{\"a\":\"\\u12\"}", 0, NULL },
	{ "json: bad hex in \\u", "__json", "{\"a\":\"\\u12g4\"}", 0, NULL },
	{ "json: raw control character", "__json", "{\"a\":\"x\ty\"}", 0,
	    NULL },
	{ "json: lone high surrogate", "__json", "{\"a\":\"\\ud800\"}", 0,
	    NULL },
	{ "json: high surrogate then not low", "__json",
	    "{\"a\":\"\\ud800\\u0041\"}", 0, NULL },
	{ "json: lone low surrogate", "__json", "{\"a\":\"\\udc00\"}", 0,
	    NULL },
	{ "json: invalid UTF-8", "__json", "{\"a\":\"\xff\"}", 0, NULL },
	{ "json: overlong UTF-8", "__json", "{\"a\":\"\xc0\x80\"}", 0, NULL },
	{ "json: UTF-8 surrogate", "__json", "{\"a\":\"\xed\xa0\x80\"}", 0,
	    NULL },
	{ "json: UTF-8 cut short", "__json", "{\"a\":\"\xe6\x97\"}", 0, NULL },
	{ "json: leading zero", "__json", "{\"a\":01}", 0, NULL },
	{ "json: bare minus", "__json", "{\"a\":-}", 0, NULL },
	{ "json: dot without digits", "__json", "{\"a\":1.}", 0, NULL },
	{ "json: leading dot", "__json", "{\"a\":.5}", 0, NULL },
	{ "json: exponent without digits", "__json", "{\"a\":1e}", 0, NULL },
	{ "json: plus sign", "__json", "{\"a\":+1}", 0, NULL },
	{ "json: bad literal", "__json", "{\"a\":tru}", 0, NULL },
	{ "json: capitalised literal", "__json", "{\"a\":True}", 0, NULL },
	{ "json: garbage after the object", "__json", "{} x", 0, NULL },
	{ "json: two objects", "__json", "{}{}", 0, NULL },
	{ "json: a list, not an object", "__json", "[]", 0, NULL },
	{ "json: a string, not an object", "__json", "\"x\"", 0, NULL },
	{ "json: empty", "__json", "", 0, NULL },
	{ "json: only whitespace", "__json", " \n", 0, NULL },
};

static int
features_case(size_t t)
{
	struct drv		 d;
	struct drv_output	 o;
	struct drv_env		 e;
	struct strlist		 l;
	char			 got[1024];
	size_t			 i;

	fake(&d, &o, &e, features[t].key, features[t].value,
	    features[t].nopath);
	memset(&l, 0, sizeof(l));
	if (features_required(&d, &l) == -1) {
		if (features[t].want != NULL)
			return no("%s", last_error());
		if (l.n != 0 || l.v != NULL)
			return no("the list is not empty after a failure");
		if (strncmp(last_error(), "derivation: ", 12) != 0)
			return no("message \"%s\"", last_error());
		return 1;
	}
	got[0] = '\0';
	for (i = 0; i < l.n; i++) {
		if (i > 0)
			strlcat(got, " ", sizeof(got));
		strlcat(got, l.v[i], sizeof(got));
	}
	strlist_free(&l);
	if (features[t].want == NULL)
		return no("gave \"%s\", should have failed", got);
	if (strcmp(got, features[t].want) != 0)
		return no("got \"%s\", want \"%s\"", got, features[t].want);
	return 1;
}

/* Nesting: up to the limit, and one more. */
static int
json_depth(int levels, int good)
{
	struct drv		 d;
	struct drv_output	 o;
	struct drv_env		 e;
	struct strlist		 l;
	char			*s;
	int			 i, n = 0, rc;

	if ((s = malloc((size_t)levels * 2 + 16)) == NULL)
		return no("malloc");
	s[n++] = '{';
	s[n++] = '"';
	s[n++] = 'a';
	s[n++] = '"';
	s[n++] = ':';
	for (i = 0; i < levels - 1; i++)
		s[n++] = '[';
	for (i = 0; i < levels - 1; i++)
		s[n++] = ']';
	s[n++] = '}';
	s[n] = '\0';
	fake(&d, &o, &e, "__json", s, 0);
	memset(&l, 0, sizeof(l));
	rc = features_required(&d, &l);
	strlist_free(&l);
	free(s);
	if (good && rc == -1)
		return no("%s", last_error());
	if (!good && rc == 0)
		return no("parsed");
	if (!good && strstr(last_error(), "nested more than") == NULL)
		return no("message \"%s\"", last_error());
	return 1;
}

/* A feature name longer than DRV_NAME_MAX, in the env or in JSON. */
static int
long_feature(int json)
{
	struct drv		 d;
	struct drv_output	 o;
	struct drv_env		 e;
	struct strlist		 l;
	char			 s[DRV_NAME_MAX + 64];
	size_t			 n;
	int			 rc;

	n = (size_t)sprintf(s, json ? "{\"" RSF "\":[\"kvm\",\"" : "kvm ");
	memset(s + n, 'x', DRV_NAME_MAX + 1);
	n += DRV_NAME_MAX + 1;
	strlcpy(s + n, json ? "\"]}" : " big", sizeof(s) - n);
	fake(&d, &o, &e, json ? "__json" : RSF, s, 0);
	memset(&l, 0, sizeof(l));
	rc = features_required(&d, &l);
	strlist_free(&l);
	if (rc == 0)
		return no("parsed");
	if (strstr(last_error(), "longer than 256 bytes") == NULL)
		return no("message \"%s\"", last_error());
	return 1;
}

/* More requiredSystemFeatures than DRV_FEATURES_MAX. */
static int
many_features(int json)
{
	struct drv		 d;
	struct drv_output	 o;
	struct drv_env		 e;
	struct strlist		 l;
	char			*s;
	size_t			 i, n = 0;
	int			 rc;

	if ((s = malloc((DRV_FEATURES_MAX + 1) * 8 + 64)) == NULL)
		return no("malloc");
	if (json)
		n += (size_t)sprintf(s, "{\"" RSF "\":[");
	for (i = 0; i <= DRV_FEATURES_MAX; i++)
		n += (size_t)sprintf(s + n, json ? "%s\"f%04zu\"" : "%sf%04zu",
		    i ? (json ? "," : " ") : "", i);
	if (json)
		sprintf(s + n, "]}");
	fake(&d, &o, &e, json ? "__json" : RSF, s, 0);
	memset(&l, 0, sizeof(l));
	rc = features_required(&d, &l);
	strlist_free(&l);
	free(s);
	if (rc == 0)
		return no("parsed");
	if (strstr(last_error(), "more than 1024 requiredSystemFeatures") == NULL)
		return no("message \"%s\"", last_error());
	return 1;
}

int
main(void)
{
	size_t	 i;

	/* messages are checked through last_error(), not printed */
	errors_capture();

	for (i = 0; i < nitems(features); i++)
		report(features[i].name, features_case(i));
	report("json: nested 128 deep", json_depth(JSON_DEPTH_MAX, 1));
	report("json: nested 129 deep", json_depth(JSON_DEPTH_MAX + 1, 0));
	report("features: env, a name over DRV_NAME_MAX", long_feature(0));
	report("features: json, a name over DRV_NAME_MAX", long_feature(1));
	report("features: env, over DRV_FEATURES_MAX", many_features(0));
	report("features: json, over DRV_FEATURES_MAX", many_features(1));
	return done();
}
