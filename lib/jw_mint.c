#include "jw_mint.h"

#include <stdio.h>
#include <stdlib.h>

char *jw_mint(jwt_alg_t alg, const unsigned char *key, size_t key_len, const char *claims_json,
		char *errbuf, size_t errlen)
{
	jwt_t *jwt = NULL;
	char *out = NULL;
	if(key == NULL || key_len == 0){
		snprintf(errbuf, errlen, "no signing key");
		return NULL;
	}
	if(jwt_new(&jwt) != 0){
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	if(jwt_add_grants_json(jwt, claims_json) != 0){
		snprintf(errbuf, errlen, "claims are not a JSON object");
	}else if(jwt_set_alg(jwt, alg, key, (int)key_len) != 0){
		snprintf(errbuf, errlen, "cannot use this key with %s", jwt_alg_str(alg));
	}else if((out = jwt_encode_str(jwt)) == NULL){
		snprintf(errbuf, errlen, "signing failed (is the key a private key for %s?)", jwt_alg_str(alg));
	}
	jwt_free(jwt);
	return out;
}
