#define _POSIX_C_SOURCE 200809L
#include "token.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jw_topic.h"
#include "jws.h"
#include "token_cache.h"

static const char *const reason_names[JW_TOK_REASON_COUNT] = {
	[JW_TOK_OK] = "ok",
	[JW_TOK_EMPTY] = "no_token",
	[JW_TOK_TOO_LONG] = "token_too_long",
	[JW_TOK_MALFORMED] = "malformed",
	[JW_TOK_ALG_MISMATCH] = "alg_mismatch",
	[JW_TOK_BAD_SIGNATURE] = "bad_signature",
	[JW_TOK_MISSING_EXP] = "missing_exp",
	[JW_TOK_EXPIRED] = "expired",
	[JW_TOK_NOT_YET_VALID] = "not_yet_valid",
	[JW_TOK_ISSUED_IN_FUTURE] = "issued_in_future",
	[JW_TOK_BAD_ISSUER] = "bad_issuer",
	[JW_TOK_BAD_AUDIENCE] = "bad_audience",
	[JW_TOK_MISSING_SUB] = "missing_sub",
	[JW_TOK_BAD_SUB] = "bad_sub",
	[JW_TOK_MISSING_ROLE] = "missing_role",
	[JW_TOK_UNKNOWN_ROLE] = "unknown_role",
};

const char *jw_token_reason_name(enum jw_token_reason r)
{
	if((int)r < 0 || r >= JW_TOK_REASON_COUNT) return "unknown";
	return reason_names[r];
}

static const char *const default_roles[] = {"customer", "driver", "merchant", "admin", "service"};

int jw_token_config_defaults(struct jw_token_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->alg = JWT_ALG_HS256;
	cfg->leeway_s = 30;
	cfg->require_exp = true;
	cfg->max_token_len = 8192;
	cfg->role_claim = strdup("userType");
	if(cfg->role_claim == NULL) return -1;
	for(size_t i = 0; i < sizeof(default_roles) / sizeof(default_roles[0]); i++){
		cfg->roles[i] = strdup(default_roles[i]);
		if(cfg->roles[i] == NULL) return -1;
		cfg->role_count++;
	}
	return 0;
}

int jw_token_config_prepare(struct jw_token_config *cfg, char *errbuf, size_t errlen)
{
	jw_jws_key_free(cfg->verify_key);
	jw_token_cache_free(cfg->cache);
	cfg->cache = NULL;
	cfg->verify_key = jw_jws_key_new(cfg->alg, cfg->key, cfg->key_len, errbuf, errlen);
	if(cfg->verify_key == NULL) return -1;
	if(cfg->cache_entries){
		cfg->cache = jw_token_cache_new(cfg->cache_entries);
		if(cfg->cache == NULL){
			snprintf(errbuf, errlen, "out of memory for the token cache");
			return -1;
		}
	}
	return 0;
}

void jw_token_config_clear(struct jw_token_config *cfg)
{
	jw_jws_key_free(cfg->verify_key);
	jw_token_cache_free(cfg->cache);
	if(cfg->key){
		/* do not leave the secret in freed memory */
		memset(cfg->key, 0, cfg->key_len);
		free(cfg->key);
	}
	free(cfg->issuer);
	free(cfg->audience);
	free(cfg->role_claim);
	for(size_t i = 0; i < cfg->role_count; i++) free(cfg->roles[i]);
	memset(cfg, 0, sizeof(*cfg));
}

int jw_token_config_set_roles(struct jw_token_config *cfg, const char *csv)
{
	char *copy = strdup(csv);
	if(copy == NULL) return -1;
	char *roles[JW_MAX_ROLES];
	size_t n = 0;
	char *save = NULL;
	for(char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)){
		if(n == JW_MAX_ROLES || !jw_level_is_safe(tok, strlen(tok), JW_ROLE_MAX)
				|| strchr(tok, ':') != NULL){
			for(size_t i = 0; i < n; i++) free(roles[i]);
			free(copy);
			return -1;
		}
		roles[n] = strdup(tok);
		if(roles[n] == NULL){
			for(size_t i = 0; i < n; i++) free(roles[i]);
			free(copy);
			return -1;
		}
		n++;
	}
	free(copy);
	if(n == 0) return -1;
	for(size_t i = 0; i < cfg->role_count; i++) free(cfg->roles[i]);
	memcpy(cfg->roles, roles, n * sizeof(roles[0]));
	cfg->role_count = n;
	return 0;
}

jwt_alg_t jw_token_alg_parse(const char *name)
{
	static const struct { const char *name; jwt_alg_t alg; } algs[] = {
		{"HS256", JWT_ALG_HS256}, {"HS384", JWT_ALG_HS384}, {"HS512", JWT_ALG_HS512},
		{"RS256", JWT_ALG_RS256}, {"RS384", JWT_ALG_RS384}, {"RS512", JWT_ALG_RS512},
		{"ES256", JWT_ALG_ES256}, {"ES384", JWT_ALG_ES384},
	};
	for(size_t i = 0; name && i < sizeof(algs) / sizeof(algs[0]); i++){
		if(strcmp(name, algs[i].name) == 0) return algs[i].alg;
	}
	return JWT_ALG_INVAL;
}

bool jw_token_alg_is_hmac(jwt_alg_t alg)
{
	return alg == JWT_ALG_HS256 || alg == JWT_ALG_HS384 || alg == JWT_ALG_HS512;
}

/* base64url without padding, as JWS uses it.  Returns decoded length or -1. */
static long b64url_decode(const char *in, size_t in_len, char *out, size_t out_cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	for(size_t i = 0; i < in_len; i++){
		char c = in[i];
		int v;
		if(c >= 'A' && c <= 'Z') v = c - 'A';
		else if(c >= 'a' && c <= 'z') v = c - 'a' + 26;
		else if(c >= '0' && c <= '9') v = c - '0' + 52;
		else if(c == '-') v = 62;
		else if(c == '_') v = 63;
		else return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if(bits >= 8){
			bits -= 8;
			if(n >= out_cap) return -1;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	if(bits >= 6) return -1; /* a lone trailing character cannot encode a byte */
	return (long)n;
}

/* Decode one segment into a json object.  Returns NULL if it is not a JSON
 * object. */
static json_object *segment_json(const char *seg, size_t len)
{
	size_t cap = len * 3 / 4 + 4;
	char *buf = malloc(cap);
	if(buf == NULL) return NULL;
	long n = b64url_decode(seg, len, buf, cap);
	json_object *obj = NULL;
	if(n > 0){
		json_tokener *tok = json_tokener_new();
		if(tok){
			obj = json_tokener_parse_ex(tok, buf, (int)n);
			/* trailing garbage after the object is malformed, too */
			if(obj && (json_tokener_get_error(tok) != json_tokener_success
						|| (size_t)json_tokener_get_parse_end(tok) != (size_t)n
						|| !json_object_is_type(obj, json_type_object))){
				json_object_put(obj);
				obj = NULL;
			}
			json_tokener_free(tok);
		}
	}
	free(buf);
	return obj;
}

/* Times are clamped to +-2^62 s (far beyond any real date) so that
 * "exp + leeway" here and "exp + grace" in the plugin cannot overflow. */
#define TIME_LIMIT (INT64_C(1) << 62)

static int64_t clamp_time(int64_t t)
{
	return t > TIME_LIMIT ? TIME_LIMIT : t < -TIME_LIMIT ? -TIME_LIMIT : t;
}

/* A NumericDate: integer or fractional seconds.  Returns false if present
 * but not a number; *present says whether it was there at all. */
static bool numeric_claim(json_object *claims, const char *name, int64_t *out, bool *present)
{
	json_object *v;
	*present = json_object_object_get_ex(claims, name, &v);
	if(!*present) return true;
	if(json_object_is_type(v, json_type_int)){
		*out = clamp_time(json_object_get_int64(v));
		return true;
	}
	if(json_object_is_type(v, json_type_double)){
		double d = json_object_get_double(v);
		if(!(d > -9.2e18 && d < 9.2e18)) return false;
		*out = clamp_time((int64_t)d);
		return true;
	}
	return false;
}

static enum jw_token_reason check_times(const struct jw_token_config *cfg,
		json_object *claims, int64_t now, int64_t *exp_out)
{
	int64_t exp = 0, nbf = 0, iat = 0;
	bool has_exp, has_nbf, has_iat;

	if(!numeric_claim(claims, "exp", &exp, &has_exp)) return JW_TOK_MALFORMED;
	if(!numeric_claim(claims, "nbf", &nbf, &has_nbf)) return JW_TOK_MALFORMED;
	if(!numeric_claim(claims, "iat", &iat, &has_iat)) return JW_TOK_MALFORMED;

	if(!has_exp && cfg->require_exp) return JW_TOK_MISSING_EXP;
	/* RFC 7519 4.1.4: must not be accepted "on or after" exp */
	if(has_exp && now >= exp + cfg->leeway_s) return JW_TOK_EXPIRED;
	if(has_nbf && now + cfg->leeway_s < nbf) return JW_TOK_NOT_YET_VALID;
	if(has_iat && iat > now + cfg->leeway_s) return JW_TOK_ISSUED_IN_FUTURE;
	*exp_out = has_exp ? exp : 0;
	return JW_TOK_OK;
}

/* A JSON string equal to `want`; json-c strings may hold NUL, and
 * "api\u0000.evil" must not pass for "api". */
static bool json_string_is(json_object *v, const char *want)
{
	if(!json_object_is_type(v, json_type_string)) return false;
	size_t len = (size_t)json_object_get_string_len(v);
	return len == strlen(want) && memcmp(json_object_get_string(v), want, len) == 0;
}

static enum jw_token_reason check_iss_aud(const struct jw_token_config *cfg, json_object *claims)
{
	json_object *v;
	if(cfg->issuer){
		if(!json_object_object_get_ex(claims, "iss", &v) || !json_string_is(v, cfg->issuer)){
			return JW_TOK_BAD_ISSUER;
		}
	}
	if(cfg->audience){
		if(!json_object_object_get_ex(claims, "aud", &v)) return JW_TOK_BAD_AUDIENCE;
		if(json_object_is_type(v, json_type_string)){
			if(!json_string_is(v, cfg->audience)) return JW_TOK_BAD_AUDIENCE;
		}else if(json_object_is_type(v, json_type_array)){
			size_t n = json_object_array_length(v);
			bool found = false;
			for(size_t i = 0; i < n && !found; i++){
				json_object *e = json_object_array_get_idx(v, i);
				found = json_string_is(e, cfg->audience);
			}
			if(!found) return JW_TOK_BAD_AUDIENCE;
		}else{
			return JW_TOK_BAD_AUDIENCE;
		}
	}
	return JW_TOK_OK;
}

static enum jw_token_reason extract_identity(const struct jw_token_config *cfg,
		json_object *claims, struct jw_principal *out)
{
	json_object *v;
	const char *s;
	char numbuf[32];

	if(!json_object_object_get_ex(claims, "sub", &v) || json_object_is_type(v, json_type_null)){
		return JW_TOK_MISSING_SUB;
	}
	if(json_object_is_type(v, json_type_string)){
		s = json_object_get_string(v);
		/* json-c strings may hold NUL; a value with one is not a topic level */
		if((size_t)json_object_get_string_len(v) != strlen(s)) return JW_TOK_BAD_SUB;
	}else if(json_object_is_type(v, json_type_int)){
		snprintf(numbuf, sizeof(numbuf), "%lld", (long long)json_object_get_int64(v));
		s = numbuf;
	}else{
		return JW_TOK_BAD_SUB;
	}
	if(!jw_level_is_safe(s, strlen(s), JW_SUB_MAX)) return JW_TOK_BAD_SUB;
	memcpy(out->sub, s, strlen(s) + 1);

	if(!json_object_object_get_ex(claims, cfg->role_claim, &v) || !json_object_is_type(v, json_type_string)){
		return JW_TOK_MISSING_ROLE;
	}
	s = json_object_get_string(v);
	/* "admin\u0000x" must not pass as "admin" */
	if((size_t)json_object_get_string_len(v) != strlen(s)) return JW_TOK_UNKNOWN_ROLE;
	for(size_t i = 0; i < cfg->role_count; i++){
		if(strcmp(s, cfg->roles[i]) == 0){
			memcpy(out->role, s, strlen(s) + 1); /* roles are <= JW_ROLE_MAX */
			return JW_TOK_OK;
		}
	}
	return JW_TOK_UNKNOWN_ROLE;
}

/* 8192-bit RSA signatures are the largest we take */
#define JW_SIG_MAX 1024

static enum jw_token_reason check_header(const struct jw_token_config *cfg, json_object *header)
{
	json_object *v;
	if(!json_object_object_get_ex(header, "alg", &v) || !json_object_is_type(v, json_type_string)){
		return JW_TOK_MALFORMED;
	}
	if(jw_token_alg_parse(json_object_get_string(v)) != cfg->alg) return JW_TOK_ALG_MISMATCH;
	/* typ is optional (RFC 7519 5.1); if present it must say JWT */
	if(json_object_object_get_ex(header, "typ", &v)
			&& (!json_object_is_type(v, json_type_string) || strcasecmp(json_object_get_string(v), "JWT") != 0)){
		return JW_TOK_MALFORMED;
	}
	/* we implement no JWS extension, so a token that requires one is refused
	 * (RFC 7515 4.1.11) */
	if(json_object_object_get_ex(header, "crit", &v)) return JW_TOK_MALFORMED;
	return JW_TOK_OK;
}

enum jw_token_reason jw_token_verify(const struct jw_token_config *cfg,
		const char *token, int64_t now, struct jw_principal *out)
{
	if(token == NULL || token[0] == '\0') return JW_TOK_EMPTY;
	size_t len = strnlen(token, cfg->max_token_len + 1);
	if(len > cfg->max_token_len) return JW_TOK_TOO_LONG;
	if(cfg->verify_key == NULL) return JW_TOK_BAD_SIGNATURE;   /* never accept unverified */
	if(jw_token_cache_get(cfg->cache, token, len, now, cfg->leeway_s, out)) return JW_TOK_OK;

	const char *dot1 = memchr(token, '.', len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if(dot1 == NULL || dot2 == NULL || dot1 == token || dot2 == dot1 + 1
			|| dot2 + 1 == token + len || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))){
		return JW_TOK_MALFORMED;
	}

	/* The algorithm is pinned: the header must name the configured one, and
	 * the signature is checked with the configured key's algorithm whatever
	 * the header says (an HS256 token "signed" with an RSA public key's PEM
	 * bytes never meets an HMAC check). */
	json_object *header = segment_json(token, (size_t)(dot1 - token));
	if(header == NULL) return JW_TOK_MALFORMED;
	enum jw_token_reason r = check_header(cfg, header);
	json_object_put(header);
	if(r != JW_TOK_OK) return r;

	/* Nothing else of the token is looked at before its signature holds. */
	unsigned char sig[JW_SIG_MAX];
	long sig_len = b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), (char *)sig, sizeof(sig));
	if(sig_len <= 0) return JW_TOK_MALFORMED;
	if(!jw_jws_verify(cfg->verify_key, token, (size_t)(dot2 - token), sig, (size_t)sig_len)){
		return JW_TOK_BAD_SIGNATURE;
	}

	json_object *claims = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if(claims == NULL) return JW_TOK_MALFORMED;

	int64_t exp = 0;
	if(r == JW_TOK_OK) r = check_times(cfg, claims, now, &exp);
	if(r == JW_TOK_OK) r = check_iss_aud(cfg, claims);
	if(r == JW_TOK_OK){
		memset(out, 0, sizeof(*out));
		r = extract_identity(cfg, claims, out);
		out->exp = exp;
	}
	json_object_put(claims);
	if(r == JW_TOK_OK) jw_token_cache_put(cfg->cache, token, len, out);
	return r;
}

bool jw_clientid_belongs_to(const struct jw_principal *p, const char *client_id)
{
	if(client_id == NULL) return false;
	size_t rl = strlen(p->role), sl = strlen(p->sub);
	if(strncmp(client_id, p->role, rl) != 0 || client_id[rl] != '-') return false;
	const char *rest = client_id + rl + 1;
	if(strncmp(rest, p->sub, sl) != 0) return false;
	rest += sl;
	return rest[0] == '\0' || (rest[0] == '-' && rest[1] != '\0');
}
