/*
 * service_token — see service_token.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "service_token.h"

#include <ctype.h>
#include <json-c/json.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jw_file.h"
#include "jw_mint.h"

struct jwb_token_source {
	const struct jwb_config *cfg;
	jwt_alg_t alg;
	unsigned char *key;       /* secret or PEM private key; NULL with a token file */
	size_t key_len;
};

struct jwb_token_source *jwb_token_source_new(const struct jwb_config *cfg, char *errbuf, size_t errlen)
{
	struct jwb_token_source *ts = calloc(1, sizeof(*ts));
	if (!ts) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	ts->cfg = cfg;
	ts->alg = jwt_str_alg(cfg->jwt_alg);
	if (ts->alg == JWT_ALG_INVAL || ts->alg == JWT_ALG_NONE) {
		snprintf(errbuf, errlen, "jwt_alg: unsupported algorithm '%s'", cfg->jwt_alg);
		free(ts);
		return NULL;
	}
	if (cfg->jwt_token_file) {
		char *probe = NULL;
		int64_t exp;
		probe = jwb_token_get(ts, 0, &exp, errbuf, errlen);
		if (!probe) {
			free(ts);
			return NULL;
		}
		free(probe);
		return ts;
	}
	char why[256];
	char *key = NULL;
	size_t key_len = 0;
	int rc;
	if (cfg->jwt_private_key_file)
		rc = jw_read_file(cfg->jwt_private_key_file, 64 * 1024, &key, &key_len, why, sizeof(why));
	else
		rc = jw_load_secret(cfg->jwt_secret_file, cfg->jwt_secret_env, &key, &key_len, why, sizeof(why));
	if (rc != 0) {
		snprintf(errbuf, errlen, "cannot load the bridge's signing key: %s", why);
		free(ts);
		return NULL;
	}
	if (!cfg->jwt_private_key_file && key_len < 32) {
		snprintf(errbuf, errlen, "the HMAC secret is %zu bytes; at least 32 are required (the broker "
				"refuses shorter ones too)", key_len);
		free(key);
		free(ts);
		return NULL;
	}
	ts->key = (unsigned char *)key;
	ts->key_len = key_len;
	/* Prove the key signs now, not at the first connect. */
	int64_t exp;
	char *probe = jwb_token_get(ts, 0, &exp, errbuf, errlen);
	if (!probe) {
		jwb_token_source_free(ts);
		return NULL;
	}
	free(probe);
	return ts;
}

void jwb_token_source_free(struct jwb_token_source *ts)
{
	if (!ts)
		return;
	if (ts->key) {
		memset(ts->key, 0, ts->key_len);
		free(ts->key);
	}
	free(ts);
}

static char *read_token_file(const struct jwb_config *cfg, int64_t *exp_s, char *errbuf, size_t errlen)
{
	char why[256];
	char *text = NULL;
	size_t len = 0;
	if (jw_read_file(cfg->jwt_token_file, 16 * 1024, &text, &len, why, sizeof(why)) != 0) {
		snprintf(errbuf, errlen, "jwt_token_file: %s", why);
		return NULL;
	}
	while (len && isspace((unsigned char)text[len - 1]))
		text[--len] = '\0';
	if (len == 0) {
		snprintf(errbuf, errlen, "jwt_token_file: %s is empty", cfg->jwt_token_file);
		free(text);
		return NULL;
	}
	/* Only to schedule the renewal: the broker verifies the signature.
	 * (libjwt 1.10 decodes without verifying when given no key.) */
	*exp_s = 0;
	jwt_t *jwt = NULL;
	if (jwt_decode(&jwt, text, NULL, 0) == 0 && jwt) {
		long exp = jwt_get_grant_int(jwt, "exp");
		if (exp > 0)
			*exp_s = exp;
		jwt_free(jwt);
	}
	return text;
}

char *jwb_token_get(struct jwb_token_source *ts, int64_t now_s, int64_t *exp_s, char *errbuf, size_t errlen)
{
	const struct jwb_config *cfg = ts->cfg;
	if (cfg->jwt_token_file)
		return read_token_file(cfg, exp_s, errbuf, errlen);
	json_object *claims = json_object_new_object();
	json_object_object_add(claims, "sub", json_object_new_string(cfg->jwt_sub));
	json_object_object_add(claims, cfg->jwt_role_claim, json_object_new_string("service"));
	json_object_object_add(claims, "iat", json_object_new_int64(now_s));
	json_object_object_add(claims, "exp", json_object_new_int64(now_s + cfg->jwt_lifetime));
	if (cfg->jwt_issuer)
		json_object_object_add(claims, "iss", json_object_new_string(cfg->jwt_issuer));
	if (cfg->jwt_audience)
		json_object_object_add(claims, "aud", json_object_new_string(cfg->jwt_audience));
	char why[256];
	char *token = jw_mint(ts->alg, ts->key, ts->key_len,
			json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN), why, sizeof(why));
	json_object_put(claims);
	if (!token) {
		snprintf(errbuf, errlen, "cannot sign the bridge's token: %s", why);
		return NULL;
	}
	*exp_s = now_s + cfg->jwt_lifetime;
	return token;
}
