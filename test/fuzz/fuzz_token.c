/*
 * libFuzzer target: jw_token_verify (plugin/core/token.c).
 *
 * The first input byte picks a mode (and a configuration); the rest is
 *   mode 0: the token text as received in the MQTT password;
 *   mode 1: "<header JSON>\n<claims JSON>", signed here with the right
 *           HS256 secret, so the fuzzer gets past the signature into the
 *           header and claim checks;
 *   mode 2: "<claims JSON>" under a fixed HS256 header, signed;
 *   mode 3: "<header JSON>\n<claims JSON>" with an arbitrary signature
 *           segment after a second newline.
 * Whatever the input, a token that verifies must carry a safe identity.
 */
#define _POSIX_C_SOURCE 200809L
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jw_topic.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW INT64_C(1700000000)
static const char SECRET[] = "fuzz-secret-0123456789abcdef-0123456789abcdef";

static struct jw_token_config plain_cfg, strict_cfg;
static int ready;

static void set_key(struct jw_token_config *cfg)
{
	cfg->key_len = strlen(SECRET);
	cfg->key = malloc(cfg->key_len);
	if(cfg->key == NULL) abort();
	memcpy(cfg->key, SECRET, cfg->key_len);
	char err[256];
	if(jw_token_config_prepare(cfg, err, sizeof(err)) != 0) abort();
}

static void setup(void)
{
	if(jw_token_config_defaults(&plain_cfg) != 0) abort();
	set_key(&plain_cfg);
	/* issuer and audience checked, exp optional, no leeway */
	if(jw_token_config_defaults(&strict_cfg) != 0) abort();
	set_key(&strict_cfg);
	strict_cfg.issuer = strdup("jetwire-fuzz");
	strict_cfg.audience = strdup("mqtt");
	strict_cfg.require_exp = false;
	strict_cfg.leeway_s = 0;
	if(strict_cfg.issuer == NULL || strict_cfg.audience == NULL) abort();
	ready = 1;
}

static char *b64url(const uint8_t *in, size_t len, char *out)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	for(size_t i = 0; i < len; i += 3){
		uint32_t v = (uint32_t)in[i] << 16;
		if(i + 1 < len) v |= (uint32_t)in[i + 1] << 8;
		if(i + 2 < len) v |= in[i + 2];
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		if(i + 1 < len) out[o++] = tbl[(v >> 6) & 63];
		if(i + 2 < len) out[o++] = tbl[v & 63];
	}
	out[o] = '\0';
	return out + o;
}

/* b64url(header) "." b64url(payload) "." (HMAC or `sig` as given) */
static char *build(const uint8_t *h, size_t hl, const uint8_t *p, size_t pl,
		const uint8_t *sig, size_t sl)
{
	char *tok = malloc((hl + pl) * 4 / 3 + sl + 64 + 8);
	if(tok == NULL) return NULL;
	char *end = b64url(h, hl, tok);
	*end++ = '.';
	end = b64url(p, pl, end);
	if(sig == NULL){
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)tok,
				(size_t)(end - tok), md, &mdlen);
		*end++ = '.';
		b64url(md, mdlen, end);
	}else{
		*end++ = '.';
		memcpy(end, sig, sl);
		end[sl] = '\0';
	}
	return tok;
}

/* The header of a token that verified must have named HS256. */
static void check_header(const uint8_t *h, size_t hl)
{
	json_tokener *t = json_tokener_new();
	json_object *o = json_tokener_parse_ex(t, (const char *)h, (int)hl);
	json_object *alg;
	if(o == NULL || !json_object_object_get_ex(o, "alg", &alg)
			|| strcmp(json_object_get_string(alg), "HS256") != 0){
		fprintf(stderr, "accepted a token whose header is not alg HS256: %.*s\n", (int)hl, (const char *)h);
		abort();
	}
	json_object_put(o);
	json_tokener_free(t);
}

static void check_principal(const struct jw_token_config *cfg, const struct jw_principal *p)
{
	size_t sl = strlen(p->sub), rl = strlen(p->role);
	if(!jw_level_is_safe(p->sub, sl, JW_SUB_MAX)){
		fprintf(stderr, "accepted an unsafe sub '%s'\n", p->sub);
		abort();
	}
	int known = 0;
	for(size_t i = 0; i < cfg->role_count; i++) known |= strcmp(p->role, cfg->roles[i]) == 0;
	if(!known || rl == 0){
		fprintf(stderr, "accepted an unknown role '%s'\n", p->role);
		abort();
	}
	if(cfg->require_exp && (p->exp == 0 || NOW >= p->exp + cfg->leeway_s)){
		fprintf(stderr, "accepted a token without a valid exp (%lld)\n", (long long)p->exp);
		abort();
	}
	/* client ids: "{role}-{sub}" and "{role}-{sub}-x" belong, others do not */
	char id[JW_ROLE_MAX + JW_SUB_MAX + 8];
	snprintf(id, sizeof(id), "%s-%s", p->role, p->sub);
	if(!jw_clientid_belongs_to(p, id)) abort();
	snprintf(id, sizeof(id), "%s-%s-x", p->role, p->sub);
	if(!jw_clientid_belongs_to(p, id)) abort();
	snprintf(id, sizeof(id), "%s-%sx", p->role, p->sub);
	if(jw_clientid_belongs_to(p, id)) abort();
	snprintf(id, sizeof(id), "%s-%s-", p->role, p->sub);
	if(jw_clientid_belongs_to(p, id)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if(!ready) setup();
	if(size < 1 || size > 16384) return 0;
	uint8_t mode = data[0] & 3;
	const struct jw_token_config *cfg = (data[0] & 4) ? &strict_cfg : &plain_cfg;
	const uint8_t *rest = data + 1;
	size_t n = size - 1;

	static const char fixed_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	const uint8_t *h = NULL, *p = NULL, *sig = NULL;
	size_t hl = 0, pl = 0, sl = 0;
	char *tok = NULL;
	if(mode == 0){
		tok = malloc(n + 1);
		if(tok == NULL) return 0;
		memcpy(tok, rest, n);
		tok[n] = '\0';
	}else if(mode == 2){
		h = (const uint8_t *)fixed_header;
		hl = sizeof(fixed_header) - 1;
		p = rest;
		pl = n;
		tok = build(h, hl, p, pl, NULL, 0);
	}else{
		const uint8_t *nl = memchr(rest, '\n', n);
		if(nl == NULL) return 0;
		h = rest;
		hl = (size_t)(nl - rest);
		p = nl + 1;
		pl = n - hl - 1;
		if(mode == 3){
			const uint8_t *nl2 = memchr(p, '\n', pl);
			if(nl2 == NULL) return 0;
			sig = nl2 + 1;
			sl = pl - (size_t)(nl2 - p) - 1;
			pl = (size_t)(nl2 - p);
		}
		tok = build(h, hl, p, pl, sig, sl);
	}
	if(tok == NULL) return 0;

	struct jw_principal who;
	memset(&who, 0x5a, sizeof(who));
	enum jw_token_reason r = jw_token_verify(cfg, tok, NOW, &who);
	if((int)r < 0 || r >= JW_TOK_REASON_COUNT) abort();
	if(strcmp(jw_token_reason_name(r), "unknown") == 0) abort();
	if(r == JW_TOK_OK){
		check_principal(cfg, &who);
		if(h != NULL) check_header(h, hl);
		/* the same token verifies the same way again */
		struct jw_principal again;
		if(jw_token_verify(cfg, tok, NOW, &again) != JW_TOK_OK
				|| strcmp(again.sub, who.sub) != 0 || strcmp(again.role, who.role) != 0){
			abort();
		}
	}
	free(tok);
	return 0;
}
