/*
 * token_cache — recently verified tokens, so that a client reconnecting with
 * the token it already used (a mobile app after a network change; every app
 * after a broker restart) skips the signature check, which for RS256 costs
 * more than the rest of a connect.
 *
 * Keyed by the SHA-256 of the whole token, compared in full: a hit is the
 * very token that verified before.  An entry only answers while the token's
 * exp (plus leeway) has not passed; every other check (alg, signature, nbf,
 * iat, iss, aud, claims) was done when it was stored and cannot change for
 * the same bytes under the same configuration.  Direct-mapped: a colliding
 * token simply replaces the older one.
 */
#ifndef JW_TOKEN_CACHE_H
#define JW_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "token.h"

struct jw_token_cache;

/* `entries` is rounded up to a power of two; 0 returns NULL (no cache). */
struct jw_token_cache *jw_token_cache_new(size_t entries);
void jw_token_cache_free(struct jw_token_cache *c);

/* On a hit valid at `now` (exp + leeway not passed), copies the principal
 * to *out and returns true. */
bool jw_token_cache_get(struct jw_token_cache *c, const char *token, size_t len,
		int64_t now, int64_t leeway_s, struct jw_principal *out);
void jw_token_cache_put(struct jw_token_cache *c, const char *token, size_t len,
		const struct jw_principal *who);

uint64_t jw_token_cache_hits(const struct jw_token_cache *c);

#endif
