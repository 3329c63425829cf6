/*
 * jw_mint — sign a token (the bridge authenticates with one it mints, the
 * tools print demo tokens).  Uses libjwt; keys are handed in by the caller.
 */
#ifndef JW_MINT_H
#define JW_MINT_H

#include <jwt.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Sign `claims_json` (a JSON object) with `alg` and `key` (HMAC secret or PEM
 * private key).  Returns a new string owned by the caller (free()), or NULL
 * with a reason in errbuf.
 */
char *jw_mint(jwt_alg_t alg, const unsigned char *key, size_t key_len, const char *claims_json,
		char *errbuf, size_t errlen);

#endif
