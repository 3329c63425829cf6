#include "token_cache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define DIGEST_LEN 32

struct entry {
	unsigned char digest[DIGEST_LEN];
	bool used;
	struct jw_principal who;
};

struct jw_token_cache {
	struct entry *entries;
	size_t mask;
	EVP_MD *sha256;      /* fetched once: a fetch per call costs more than the hash */
	uint64_t hits;
};

struct jw_token_cache *jw_token_cache_new(size_t entries)
{
	if(entries == 0) return NULL;
	size_t n = 1;
	while(n < entries) n <<= 1;
	struct jw_token_cache *c = calloc(1, sizeof(*c));
	if(c == NULL) return NULL;
	c->entries = calloc(n, sizeof(*c->entries));
	c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if(c->entries == NULL || c->sha256 == NULL){
		jw_token_cache_free(c);
		return NULL;
	}
	c->mask = n - 1;
	return c;
}

void jw_token_cache_free(struct jw_token_cache *c)
{
	if(c == NULL) return;
	free(c->entries);
	EVP_MD_free(c->sha256);
	free(c);
}

static struct entry *slot_for(struct jw_token_cache *c, const char *token, size_t len,
		unsigned char digest[DIGEST_LEN])
{
	unsigned int dlen = 0;
	if(EVP_Digest(token, len, digest, &dlen, c->sha256, NULL) != 1 || dlen != DIGEST_LEN) return NULL;
	uint64_t idx;
	memcpy(&idx, digest, sizeof(idx));
	return &c->entries[idx & c->mask];
}

bool jw_token_cache_get(struct jw_token_cache *c, const char *token, size_t len,
		int64_t now, int64_t leeway_s, struct jw_principal *out)
{
	if(c == NULL) return false;
	unsigned char digest[DIGEST_LEN];
	struct entry *e = slot_for(c, token, len, digest);
	if(e == NULL || !e->used || CRYPTO_memcmp(e->digest, digest, DIGEST_LEN) != 0) return false;
	if(e->who.exp != 0 && now >= e->who.exp + leeway_s){
		e->used = false;   /* expired for good */
		return false;
	}
	*out = e->who;
	c->hits++;
	return true;
}

void jw_token_cache_put(struct jw_token_cache *c, const char *token, size_t len,
		const struct jw_principal *who)
{
	if(c == NULL) return;
	unsigned char digest[DIGEST_LEN];
	struct entry *e = slot_for(c, token, len, digest);
	if(e == NULL) return;
	memcpy(e->digest, digest, DIGEST_LEN);
	e->who = *who;
	e->used = true;
}

uint64_t jw_token_cache_hits(const struct jw_token_cache *c)
{
	return c ? c->hits : 0;
}
