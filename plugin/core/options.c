#define _POSIX_C_SOURCE 200809L
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jw_file.h"

/* docs/configuration.md: a driver sends a location every 15 s or 100 m
 * (the seed app), so one a second with bursts of ten is over ten times
 * that, and a flood of 100/s is cut to 1/s.  Presence changes far less. */
#define JW_DEFAULT_LOCATION_RATE "*:1/10"
#define JW_DEFAULT_PRESENCE_RATE "*:0.2/5"

int jw_options_init(struct jw_options *o)
{
	memset(o, 0, sizeof(*o));
	if(jw_token_config_defaults(&o->token) != 0) return -1;
	o->secret_env = strdup("JWT_SECRET");
	o->clientid_exempt_csv = strdup("admin,service");
	if(o->secret_env == NULL || o->clientid_exempt_csv == NULL) return -1;
	o->acl_reload_interval_s = 2;
	o->token.cache_entries = 4096;
	o->stats_interval_s = 10;
	o->validate_publish = true;
	o->location_max_skew_s = 300;
	o->rate_csv[JW_PAYLOAD_LOCATION] = strdup(JW_DEFAULT_LOCATION_RATE);
	o->rate_csv[JW_PAYLOAD_PRESENCE] = strdup(JW_DEFAULT_PRESENCE_RATE);
	if(o->rate_csv[JW_PAYLOAD_LOCATION] == NULL || o->rate_csv[JW_PAYLOAD_PRESENCE] == NULL) return -1;
	return 0;
}

void jw_options_clear(struct jw_options *o)
{
	jw_token_config_clear(&o->token);
	free(o->acl_file);
	free(o->secret_file);
	free(o->secret_env);
	free(o->public_key_file);
	free(o->clientid_exempt_csv);
	for(int k = 0; k < JW_PAYLOAD_KIND_COUNT; k++) free(o->rate_csv[k]);
	memset(o, 0, sizeof(*o));
}

static int bad(char *errbuf, size_t errlen, const char *key, const char *why)
{
	snprintf(errbuf, errlen, "option %s: %s", key, why);
	return -1;
}

static int parse_int(const char *v, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if(errno || end == v || *end != '\0' || n < min || n > max) return -1;
	*out = n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if(!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1")){ *out = true; return 0; }
	if(!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0")){ *out = false; return 0; }
	return -1;
}

static int set_str(char **dst, const char *v)
{
	char *s = strdup(v);
	if(s == NULL) return -1;
	free(*dst);
	*dst = s;
	return 0;
}

/*
 * "ROLE:RATE/BURST[, ROLE:RATE/BURST...]", ROLE a role name or "*" (every
 * role not listed), RATE/BURST as jw_rate_parse() (or "off").  Empty: no
 * limit.  With `tok` NULL only the syntax is checked; otherwise `out` gets
 * the rate of every role of tok->roles.  Returns 0, or -1 with the reason
 * in why.
 */
static int parse_rate_list(const char *csv, const struct jw_token_config *tok,
		struct jw_rate out[JW_MAX_ROLES], char *why, size_t whylen)
{
	struct jw_rate any = {0, 0};
	bool listed[JW_MAX_ROLES] = {false};
	bool any_set = false;
	char names[JW_MAX_ROLES + 1][JW_ROLE_MAX + 1];
	size_t n_names = 0;
	const char *p = csv;

	if(out) for(size_t i = 0; i < JW_MAX_ROLES; i++) out[i] = any;
	for(;;){
		while(*p == ' ' || *p == ',') p++;
		if(*p == '\0') break;
		const char *e = p;
		while(*e && *e != ',') e++;
		const char *last = e;
		while(last > p && last[-1] == ' ') last--;
		const char *colon = memchr(p, ':', (size_t)(last - p));
		if(colon == NULL || colon == p){
			snprintf(why, whylen, "'%.*s': expected ROLE:RATE/BURST (e.g. driver:1/10) or ROLE:off",
					(int)(last - p), p);
			return -1;
		}
		size_t rlen = (size_t)(colon - p);
		struct jw_rate r;
		if(jw_rate_parse(colon + 1, (size_t)(last - colon - 1), &r) != 0){
			snprintf(why, whylen, "'%.*s': expected RATE/BURST after the role: RATE messages a second"
					" (0.001..1000000, at most 3 decimals), BURST 1..1000000; or off",
					(int)(last - p), p);
			return -1;
		}
		if(rlen > JW_ROLE_MAX){
			snprintf(why, whylen, "'%.*s': role name too long", (int)rlen, p);
			return -1;
		}
		for(size_t i = 0; i < n_names; i++){
			if(strlen(names[i]) == rlen && memcmp(names[i], p, rlen) == 0){
				snprintf(why, whylen, "role '%.*s' listed twice", (int)rlen, p);
				return -1;
			}
		}
		if(n_names == JW_MAX_ROLES + 1){
			snprintf(why, whylen, "too many entries");
			return -1;
		}
		memcpy(names[n_names], p, rlen);
		names[n_names++][rlen] = '\0';
		if(rlen == 1 && p[0] == '*'){
			any = r;
			any_set = true;
		}else if(tok){
			size_t i;
			for(i = 0; i < tok->role_count; i++){
				if(strlen(tok->roles[i]) == rlen && memcmp(tok->roles[i], p, rlen) == 0) break;
			}
			if(i == tok->role_count){
				snprintf(why, whylen, "'%.*s' is not one of the roles", (int)rlen, p);
				return -1;
			}
			out[i] = r;
			listed[i] = true;
		}
		p = e;
	}
	if(out && any_set){
		for(size_t i = 0; i < JW_MAX_ROLES; i++){
			if(!listed[i]) out[i] = any;
		}
	}
	return 0;
}

int jw_options_set(struct jw_options *o, const char *key, const char *value,
		char *errbuf, size_t errlen)
{
	long n;
	if(value == NULL) value = "";

	if(!strcmp(key, "jwt_alg")){
		o->token.alg = jw_token_alg_parse(value);
		if(o->token.alg == JWT_ALG_INVAL){
			return bad(errbuf, errlen, key, "expected HS256, HS384, HS512, RS256, RS384, RS512, ES256 or ES384");
		}
		return 0;
	}
	if(!strcmp(key, "jwt_secret")){
		return bad(errbuf, errlen, key, "secrets are not accepted inline in mosquitto.conf;"
				" use jwt_secret_file or jwt_secret_env");
	}
	if(!strcmp(key, "jwt_secret_file")) return set_str(&o->secret_file, value) ? bad(errbuf, errlen, key, "out of memory") : 0;
	if(!strcmp(key, "jwt_secret_env")) return set_str(&o->secret_env, value) ? bad(errbuf, errlen, key, "out of memory") : 0;
	if(!strcmp(key, "jwt_public_key_file")) return set_str(&o->public_key_file, value) ? bad(errbuf, errlen, key, "out of memory") : 0;
	if(!strcmp(key, "acl_file")) return set_str(&o->acl_file, value) ? bad(errbuf, errlen, key, "out of memory") : 0;
	if(!strcmp(key, "jwt_issuer")) return set_str(&o->token.issuer, value) ? bad(errbuf, errlen, key, "out of memory") : 0;
	if(!strcmp(key, "jwt_audience")) return set_str(&o->token.audience, value) ? bad(errbuf, errlen, key, "out of memory") : 0;
	if(!strcmp(key, "jwt_role_claim")){
		if(value[0] == '\0') return bad(errbuf, errlen, key, "must not be empty");
		return set_str(&o->token.role_claim, value) ? bad(errbuf, errlen, key, "out of memory") : 0;
	}
	if(!strcmp(key, "jwt_leeway")){
		if(parse_int(value, 0, 3600, &n)) return bad(errbuf, errlen, key, "expected seconds, 0..3600");
		o->token.leeway_s = n;
		return 0;
	}
	if(!strcmp(key, "jwt_require_exp")){
		if(parse_bool(value, &o->token.require_exp)) return bad(errbuf, errlen, key, "expected true or false");
		return 0;
	}
	if(!strcmp(key, "jwt_cache_size")){
		if(parse_int(value, 0, 1 << 20, &n)) return bad(errbuf, errlen, key, "expected entries, 0..1048576 (0 disables)");
		o->token.cache_entries = (size_t)n;
		return 0;
	}
	if(!strcmp(key, "jwt_max_length")){
		if(parse_int(value, 64, 65535, &n)) return bad(errbuf, errlen, key, "expected bytes, 64..65535");
		o->token.max_token_len = (size_t)n;
		return 0;
	}
	if(!strcmp(key, "roles")){
		if(jw_token_config_set_roles(&o->token, value)){
			return bad(errbuf, errlen, key, "expected a comma-separated list of at most 16 role names");
		}
		return 0;
	}
	if(!strcmp(key, "clientid_exempt_roles")){
		o->clientid_exempt_set = true;
		return set_str(&o->clientid_exempt_csv, value) ? bad(errbuf, errlen, key, "out of memory") : 0;
	}
	if(!strcmp(key, "acl_reload_interval")){
		if(parse_int(value, 0, 86400, &n)) return bad(errbuf, errlen, key, "expected seconds, 0..86400 (0 disables)");
		o->acl_reload_interval_s = (int)n;
		return 0;
	}
	if(!strcmp(key, "stats_interval")){
		if(parse_int(value, 1, 86400, &n)) return bad(errbuf, errlen, key, "expected seconds, 1..86400");
		o->stats_interval_s = (int)n;
		return 0;
	}
	if(!strcmp(key, "validate_publish")){
		if(parse_bool(value, &o->validate_publish)) return bad(errbuf, errlen, key, "expected true or false");
		return 0;
	}
	if(!strcmp(key, "location_max_skew")){
		if(parse_int(value, 0, 86400 * 366, &n)) return bad(errbuf, errlen, key, "expected seconds, 0..31622400 (0 disables)");
		o->location_max_skew_s = (int)n;
		return 0;
	}
	if(!strcmp(key, "location_rate") || !strcmp(key, "presence_rate")){
		int kind = !strcmp(key, "location_rate") ? JW_PAYLOAD_LOCATION : JW_PAYLOAD_PRESENCE;
		char why[256];
		if(parse_rate_list(value, NULL, NULL, why, sizeof(why)) != 0) return bad(errbuf, errlen, key, why);
		return set_str(&o->rate_csv[kind], value) ? bad(errbuf, errlen, key, "out of memory") : 0;
	}
	return bad(errbuf, errlen, key, "unknown option (see docs/configuration.md)");
}

static int load_key(struct jw_options *o, char *errbuf, size_t errlen)
{
	char err[512];
	char *buf = NULL;
	size_t len = 0;

	if(jw_token_alg_is_hmac(o->token.alg)){
		if(o->public_key_file){
			snprintf(errbuf, errlen, "option jwt_public_key_file: set, but jwt_alg %s is an HMAC algorithm;"
					" an HMAC token must never be checked against a public key", jwt_alg_str(o->token.alg));
			return -1;
		}
		if(jw_load_secret(o->secret_file, o->secret_env, &buf, &len, err, sizeof(err)) != 0){
			snprintf(errbuf, errlen, "jwt secret: %s", err);
			return -1;
		}
		if(len < 32){
			/* RFC 7518 3.2: the key must be at least as long as the hash output */
			memset(buf, 0, len);
			free(buf);
			snprintf(errbuf, errlen, "jwt secret: %zu bytes is too short for %s; use at least 32",
					len, jwt_alg_str(o->token.alg));
			return -1;
		}
	}else{
		if(o->public_key_file == NULL){
			snprintf(errbuf, errlen, "option jwt_public_key_file: required for jwt_alg %s",
					jwt_alg_str(o->token.alg));
			return -1;
		}
		if(o->secret_file){
			snprintf(errbuf, errlen, "option jwt_secret_file: set, but jwt_alg %s uses a public key",
					jwt_alg_str(o->token.alg));
			return -1;
		}
		if(jw_read_file(o->public_key_file, 64 * 1024, &buf, &len, err, sizeof(err)) != 0){
			snprintf(errbuf, errlen, "jwt public key: %s", err);
			return -1;
		}
		if(strstr(buf, "-----BEGIN PUBLIC KEY-----") == NULL){
			free(buf);
			snprintf(errbuf, errlen, "jwt public key: %s: not a PEM public key (expected -----BEGIN PUBLIC KEY-----)",
					o->public_key_file);
			return -1;
		}
	}
	o->token.key = (unsigned char *)buf;
	o->token.key_len = len;
	char err2[256];
	if(jw_token_config_prepare(&o->token, err2, sizeof(err2)) != 0){
		snprintf(errbuf, errlen, "jwt %s: %s", jw_token_alg_is_hmac(o->token.alg) ? "secret" : "public key",
				err2);
		return -1;
	}
	return 0;
}

int jw_options_finish(struct jw_options *o, char *errbuf, size_t errlen)
{
	if(o->acl_file == NULL){
		snprintf(errbuf, errlen, "option acl_file: required");
		return -1;
	}
	o->clientid_exempt_mask = 0;
	char *copy = strdup(o->clientid_exempt_csv ? o->clientid_exempt_csv : "");
	if(copy == NULL){
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	char *save = NULL;
	for(char *r = strtok_r(copy, ", ", &save); r; r = strtok_r(NULL, ", ", &save)){
		size_t i;
		for(i = 0; i < o->token.role_count; i++){
			if(!strcmp(o->token.roles[i], r)) break;
		}
		if(i == o->token.role_count){
			/* the default "admin,service" applies to those that are roles */
			if(!o->clientid_exempt_set) continue;
			snprintf(errbuf, errlen, "option clientid_exempt_roles: '%s' is not one of the roles", r);
			free(copy);
			return -1;
		}
		o->clientid_exempt_mask |= 1u << i;
	}
	free(copy);
	static const char *const rate_keys[JW_PAYLOAD_KIND_COUNT] = {
		[JW_PAYLOAD_LOCATION] = "location_rate", [JW_PAYLOAD_PRESENCE] = "presence_rate",
	};
	for(int k = 0; k < JW_PAYLOAD_KIND_COUNT; k++){
		char why[256];
		if(parse_rate_list(o->rate_csv[k] ? o->rate_csv[k] : "", &o->token, o->rate[k], why, sizeof(why)) != 0){
			snprintf(errbuf, errlen, "option %s: %s", rate_keys[k], why);
			return -1;
		}
	}
	return load_key(o, errbuf, errlen);
}

struct jw_rate jw_options_rate(const struct jw_options *o, enum jw_payload_kind kind, int role_idx)
{
	struct jw_rate none = {0, 0};
	if((unsigned)kind >= JW_PAYLOAD_KIND_COUNT || role_idx < 0 || role_idx >= JW_MAX_ROLES) return none;
	return o->rate[kind][role_idx];
}

bool jw_options_clientid_exempt(const struct jw_options *o, const char *role)
{
	for(size_t i = 0; i < o->token.role_count; i++){
		if(!strcmp(o->token.roles[i], role)) return (o->clientid_exempt_mask >> i) & 1u;
	}
	return false;
}
