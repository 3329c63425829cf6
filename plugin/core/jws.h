/*
 * jws — JWS signature verification with a key parsed once.
 *
 * libjwt 1.10 parses the PEM public key again on every jwt_decode()
 * (shared/notes; measured here: 384 us per RS256 verification with the
 * parse, 21 us without), which would make every connect pay for it.  This
 * module holds the configured key as an OpenSSL key object and verifies
 * "header.payload" against the decoded signature; token.c does the rest.
 * libjwt is still what signs tokens (lib/jw_mint.c), and the unit tests
 * check both against each other.
 */
#ifndef JW_JWS_H
#define JW_JWS_H

#include <jwt.h>
#include <stdbool.h>
#include <stddef.h>

struct jw_jws_key;

/* For HS*: `key` is the secret.  For RS* and ES*: a PEM public key, which
 * must be RSA (>= 2048 bits) for RS*, and an EC key on P-256 for ES256 or
 * P-384 for ES384.  Returns NULL with a reason in errbuf. */
struct jw_jws_key *jw_jws_key_new(jwt_alg_t alg, const unsigned char *key, size_t len,
		char *errbuf, size_t errlen);
void jw_jws_key_free(struct jw_jws_key *k);

/* True if `sig` is a valid signature of `input` under the key and its
 * algorithm.  ES signatures are the JWS form: R || S, fixed length. */
bool jw_jws_verify(const struct jw_jws_key *k, const char *input, size_t input_len,
		const unsigned char *sig, size_t sig_len);

#endif
