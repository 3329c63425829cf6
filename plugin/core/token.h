/*
 * token — JWT verification: a token string in, a principal or a precise
 * refusal reason out.  Pure: no broker calls, no logging; the only I/O is
 * none (keys are loaded by the caller and handed in).
 */
#ifndef JW_TOKEN_H
#define JW_TOKEN_H

#include <jwt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JW_SUB_MAX 128   /* SPEC: claim values substituted into topics */
#define JW_ROLE_MAX 32
#define JW_MAX_ROLES 16

/* Why a token was refused.  The names (jw_token_reason_name) are stable:
 * they appear in logs and as $SYS counter topic levels. */
enum jw_token_reason {
	JW_TOK_OK = 0,
	JW_TOK_EMPTY,            /* no password / no auth data */
	JW_TOK_TOO_LONG,         /* longer than max_token_len */
	JW_TOK_MALFORMED,        /* not three base64url segments of JSON */
	JW_TOK_ALG_MISMATCH,     /* header alg is not the configured alg */
	JW_TOK_BAD_SIGNATURE,    /* signature does not verify */
	JW_TOK_MISSING_EXP,
	JW_TOK_EXPIRED,
	JW_TOK_NOT_YET_VALID,    /* nbf in the future */
	JW_TOK_ISSUED_IN_FUTURE, /* iat in the future */
	JW_TOK_BAD_ISSUER,
	JW_TOK_BAD_AUDIENCE,
	JW_TOK_MISSING_SUB,
	JW_TOK_BAD_SUB,          /* not a safe single topic level */
	JW_TOK_MISSING_ROLE,
	JW_TOK_UNKNOWN_ROLE,     /* not one of the configured roles */
	JW_TOK_REASON_COUNT
};

const char *jw_token_reason_name(enum jw_token_reason r);

struct jw_jws_key;
struct jw_token_cache;

struct jw_token_config {
	jwt_alg_t alg;            /* pinned algorithm */
	unsigned char *key;       /* HMAC secret or PEM public key; owned */
	size_t key_len;
	struct jw_jws_key *verify_key; /* key parsed for alg; owned; see jw_token_config_prepare */
	size_t cache_entries;     /* verified-token cache size, 0: none (token_cache.h) */
	struct jw_token_cache *cache;  /* owned; made by jw_token_config_prepare */
	int64_t leeway_s;         /* applied to exp, nbf, iat */
	bool require_exp;
	char *issuer;             /* NULL: not checked; owned */
	char *audience;           /* NULL: not checked; owned */
	char *role_claim;         /* claim naming the role; owned */
	char *roles[JW_MAX_ROLES];/* accepted roles; owned */
	size_t role_count;
	size_t max_token_len;
};

/* Fill `cfg` with defaults (alg HS256, leeway 30 s, exp required, role claim
 * "userType", the SPEC's five roles, 8 KiB tokens).  No key. */
int jw_token_config_defaults(struct jw_token_config *cfg);
void jw_token_config_clear(struct jw_token_config *cfg);

/* Parse the key for the algorithm, once (jws.h), and make the cache of
 * cache_entries verified tokens.  Call after setting alg
 * and key, before jw_token_verify (which refuses every token until then).
 * Returns -1 with a reason in errbuf if the key does not suit the alg. */
int jw_token_config_prepare(struct jw_token_config *cfg, char *errbuf, size_t errlen);

/* Parse "HS256".."ES384"; returns JWT_ALG_INVAL for anything else,
 * including "none" and algorithms libjwt has but we do not offer. */
jwt_alg_t jw_token_alg_parse(const char *name);
bool jw_token_alg_is_hmac(jwt_alg_t alg);

/* Set cfg->roles from a comma-separated list.  Returns -1 on bad input. */
int jw_token_config_set_roles(struct jw_token_config *cfg, const char *csv);

/* The identity a verified token carries.  Fixed-size: no allocation. */
struct jw_principal {
	char role[JW_ROLE_MAX + 1];
	char sub[JW_SUB_MAX + 1];
	int64_t exp;   /* 0 when the token has no exp */
};

/* Verify `token` at time `now` (Unix seconds).  On JW_TOK_OK `out` holds the
 * principal.  Never accepts a token without verifying its signature. */
enum jw_token_reason jw_token_verify(const struct jw_token_config *cfg,
		const char *token, int64_t now, struct jw_principal *out);

/* Client ids a principal may use: "{role}-{sub}" or "{role}-{sub}-<suffix>". */
bool jw_clientid_belongs_to(const struct jw_principal *p, const char *client_id);

#endif
