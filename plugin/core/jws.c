#define _POSIX_C_SOURCE 200809L
#include "jws.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jw_jws_key {
	jwt_alg_t alg;
	const EVP_MD *md;
	EVP_PKEY *pkey;            /* RS*, ES* */
	unsigned char *secret;     /* HS* */
	size_t secret_len;
	size_t ec_half;            /* ES*: bytes of R (and of S) */
};

static const EVP_MD *digest_for(jwt_alg_t alg)
{
	switch(alg){
		case JWT_ALG_HS256: case JWT_ALG_RS256: case JWT_ALG_ES256: return EVP_sha256();
		case JWT_ALG_HS384: case JWT_ALG_RS384: case JWT_ALG_ES384: return EVP_sha384();
		case JWT_ALG_HS512: case JWT_ALG_RS512: return EVP_sha512();
		default: return NULL;
	}
}

static bool is_rsa(jwt_alg_t a) { return a == JWT_ALG_RS256 || a == JWT_ALG_RS384 || a == JWT_ALG_RS512; }
static bool is_ec(jwt_alg_t a) { return a == JWT_ALG_ES256 || a == JWT_ALG_ES384; }

static struct jw_jws_key *fail(struct jw_jws_key *k, char *errbuf, size_t errlen, const char *msg)
{
	snprintf(errbuf, errlen, "%s", msg);
	jw_jws_key_free(k);
	return NULL;
}

struct jw_jws_key *jw_jws_key_new(jwt_alg_t alg, const unsigned char *key, size_t len,
		char *errbuf, size_t errlen)
{
	struct jw_jws_key *k = calloc(1, sizeof(*k));
	if(k == NULL) return fail(NULL, errbuf, errlen, "out of memory");
	k->alg = alg;
	k->md = digest_for(alg);
	if(k->md == NULL || (!is_rsa(alg) && !is_ec(alg) && alg != JWT_ALG_HS256
				&& alg != JWT_ALG_HS384 && alg != JWT_ALG_HS512)){
		return fail(k, errbuf, errlen, "unsupported algorithm");
	}
	if(key == NULL || len == 0) return fail(k, errbuf, errlen, "no key");

	if(!is_rsa(alg) && !is_ec(alg)){
		k->secret = malloc(len);
		if(k->secret == NULL) return fail(k, errbuf, errlen, "out of memory");
		memcpy(k->secret, key, len);
		k->secret_len = len;
		return k;
	}

	BIO *bio = BIO_new_mem_buf(key, (int)len);
	if(bio == NULL) return fail(k, errbuf, errlen, "out of memory");
	k->pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if(k->pkey == NULL) return fail(k, errbuf, errlen, "not a PEM public key OpenSSL can read");

	if(is_rsa(alg)){
		if(!EVP_PKEY_is_a(k->pkey, "RSA")) return fail(k, errbuf, errlen, "the RS algorithms need an RSA public key");
		if(EVP_PKEY_get_bits(k->pkey) < 2048) return fail(k, errbuf, errlen, "RSA keys shorter than 2048 bits are refused (RFC 7518 3.3)");
		return k;
	}
	char group[64];
	size_t glen = 0;
	const char *want = alg == JWT_ALG_ES256 ? "prime256v1" : "secp384r1";
	if(!EVP_PKEY_is_a(k->pkey, "EC")
			|| EVP_PKEY_get_group_name(k->pkey, group, sizeof(group), &glen) != 1
			|| strcmp(group, want) != 0){
		return fail(k, errbuf, errlen, alg == JWT_ALG_ES256
				? "ES256 needs an EC public key on P-256 (prime256v1)"
				: "ES384 needs an EC public key on P-384 (secp384r1)");
	}
	k->ec_half = alg == JWT_ALG_ES256 ? 32 : 48;
	return k;
}

void jw_jws_key_free(struct jw_jws_key *k)
{
	if(k == NULL) return;
	EVP_PKEY_free(k->pkey);
	if(k->secret){
		OPENSSL_cleanse(k->secret, k->secret_len);
		free(k->secret);
	}
	free(k);
}

static bool verify_hmac(const struct jw_jws_key *k, const char *input, size_t input_len,
		const unsigned char *sig, size_t sig_len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	if(HMAC(k->md, k->secret, (int)k->secret_len, (const unsigned char *)input, input_len,
				mac, &mac_len) == NULL){
		return false;
	}
	/* constant time: the comparison must not tell how much of a forged MAC was right */
	return sig_len == mac_len && CRYPTO_memcmp(mac, sig, mac_len) == 0;
}

static bool verify_pkey(const struct jw_jws_key *k, const char *input, size_t input_len,
		const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if(ctx == NULL) return false;
	bool ok = EVP_DigestVerifyInit(ctx, NULL, k->md, NULL, k->pkey) == 1
		&& EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)input, input_len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* JWS carries ECDSA signatures as R || S (RFC 7518 3.4); OpenSSL wants DER. */
static bool verify_ec(const struct jw_jws_key *k, const char *input, size_t input_len,
		const unsigned char *sig, size_t sig_len)
{
	if(sig_len != 2 * k->ec_half) return false;
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)k->ec_half, NULL);
	BIGNUM *s = BN_bin2bn(sig + k->ec_half, (int)k->ec_half, NULL);
	bool ok = false;
	if(es && r && s && ECDSA_SIG_set0(es, r, s) == 1){
		r = s = NULL;   /* owned by es now */
		unsigned char *der = NULL;
		int der_len = i2d_ECDSA_SIG(es, &der);
		if(der_len > 0) ok = verify_pkey(k, input, input_len, der, (size_t)der_len);
		OPENSSL_free(der);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return ok;
}

bool jw_jws_verify(const struct jw_jws_key *k, const char *input, size_t input_len,
		const unsigned char *sig, size_t sig_len)
{
	if(k == NULL || sig_len == 0) return false;
	if(k->secret) return verify_hmac(k, input, input_len, sig, sig_len);
	if(k->ec_half) return verify_ec(k, input, input_len, sig, sig_len);
	return verify_pkey(k, input, input_len, sig, sig_len);
}
