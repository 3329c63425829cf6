/*
 * Token verification (plugin/core/token.c): what a JWT must be for a client
 * to get in, and the precise reason it is refused otherwise.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"
#include "token_cache.h"
#include "unit_support.h"

#define NOW INT64_C(1700000000)
static const char SECRET[] = "unit-test-secret-0123456789abcdef-0123456789";
static const char HS256_HEADER[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* Key pairs are generated once per test case, before Check forks. */
static struct ut_keypair rsa, ec256, ec384, other_ec256;

static void keys_setup(void)
{
	ut_keypair_new(&rsa, UT_KEY_RSA2048);
	ut_keypair_new(&ec256, UT_KEY_EC_P256);
	ut_keypair_new(&ec384, UT_KEY_EC_P384);
	ut_keypair_new(&other_ec256, UT_KEY_EC_P256);
}

static void keys_teardown(void)
{
	ut_keypair_free(&rsa);
	ut_keypair_free(&ec256);
	ut_keypair_free(&ec384);
	ut_keypair_free(&other_ec256);
}

static const struct ut_keypair *keypair_for(jwt_alg_t alg)
{
	switch(alg){
	case JWT_ALG_RS256: case JWT_ALG_RS384: case JWT_ALG_RS512: return &rsa;
	case JWT_ALG_ES256: return &ec256;
	case JWT_ALG_ES384: return &ec384;
	default: return NULL;
	}
}

/* A config pinned to `alg` with the matching verification key. */
static void config_for(struct jw_token_config *cfg, jwt_alg_t alg)
{
	ck_assert_int_eq(jw_token_config_defaults(cfg), 0);
	cfg->alg = alg;
	const struct ut_keypair *kp = keypair_for(alg);
	const char *key = kp ? kp->public_pem : SECRET;
	cfg->key_len = kp ? kp->public_len : strlen(SECRET);
	cfg->key = malloc(cfg->key_len);
	ck_assert_ptr_nonnull(cfg->key);
	memcpy(cfg->key, key, cfg->key_len);
	char err[256];
	ck_assert_msg(jw_token_config_prepare(cfg, err, sizeof(err)) == 0, "%s", err);
}

/* A token for `claims` signed with `alg` and the test's key for it. */
static char *sign(jwt_alg_t alg, const char *claims)
{
	const struct ut_keypair *kp = keypair_for(alg);
	if(kp) return ut_mint(alg, kp->private_pem, kp->private_len, claims);
	return ut_mint(alg, SECRET, strlen(SECRET), claims);
}

/* An HS256 token with a correct signature over exactly these JSON texts. */
static char *hs256_raw(const char *header, const char *payload)
{
	return ut_hmac_token(256, SECRET, strlen(SECRET), header, payload);
}

static char *valid_claims(void)
{
	return ut_fmt("{\"sub\":\"42\",\"userType\":\"customer\",\"exp\":%lld}", (long long)(NOW + 3600));
}

static enum jw_token_reason verify(const struct jw_token_config *cfg, const char *token,
		int64_t now)
{
	struct jw_principal p;
	return jw_token_verify(cfg, token, now, &p);
}

/* Sign `claims` (HS256, byte for byte as given) and verify it at NOW with
 * the default configuration. */
static enum jw_token_reason verify_claims(const char *claims)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	char *t = hs256_raw(HS256_HEADER, claims);
	enum jw_token_reason r = verify(&cfg, t, NOW);
	free(t);
	jw_token_config_clear(&cfg);
	return r;
}

/* Replace the segment `index` (0..2) of a token with `replacement`. */
static char *with_segment(const char *token, int index, const char *replacement)
{
	char *copy = strdup(token);
	ck_assert_ptr_nonnull(copy);
	const char *seg[3];
	char *dot1 = strchr(copy, '.'), *dot2 = strchr(dot1 + 1, '.');
	*dot1 = *dot2 = '\0';
	seg[0] = copy;
	seg[1] = dot1 + 1;
	seg[2] = dot2 + 1;
	seg[index] = replacement;
	char *out = ut_fmt("%s.%s.%s", seg[0], seg[1], seg[2]);
	free(copy);
	return out;
}

/* ---- algorithms ---- */

static const jwt_alg_t all_algs[] = {
	JWT_ALG_HS256, JWT_ALG_HS384, JWT_ALG_HS512,
	JWT_ALG_RS256, JWT_ALG_RS384, JWT_ALG_RS512,
	JWT_ALG_ES256, JWT_ALG_ES384,
};
#define N_ALGS ((int)(sizeof(all_algs) / sizeof(all_algs[0])))

START_TEST(accepts_token_signed_with_the_pinned_algorithm)
{
	jwt_alg_t alg = all_algs[_i];
	struct jw_token_config cfg;
	config_for(&cfg, alg);
	char *claims = valid_claims();
	char *t = sign(alg, claims);
	struct jw_principal p;
	enum jw_token_reason r = jw_token_verify(&cfg, t, NOW, &p);
	ck_assert_msg(r == JW_TOK_OK, "%s: %s", jwt_alg_str(alg), jw_token_reason_name(r));
	ck_assert_str_eq(p.sub, "42");
	ck_assert_str_eq(p.role, "customer");
	ck_assert_int_eq(p.exp, NOW + 3600);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

/* Every pinned algorithm refuses a valid token of every other algorithm. */
START_TEST(refuses_token_signed_with_any_other_algorithm)
{
	jwt_alg_t pinned = all_algs[_i];
	struct jw_token_config cfg;
	config_for(&cfg, pinned);
	char *claims = valid_claims();
	for(int j = 0; j < N_ALGS; j++){
		if(all_algs[j] == pinned) continue;
		char *t = sign(all_algs[j], claims);
		enum jw_token_reason r = verify(&cfg, t, NOW);
		ck_assert_msg(r == JW_TOK_ALG_MISMATCH, "%s token, %s pinned: %s",
				jwt_alg_str(all_algs[j]), jwt_alg_str(pinned), jw_token_reason_name(r));
		free(t);
	}
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_hs256_token_when_rs256_pinned)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_RS256);
	char *claims = valid_claims();
	char *t = sign(JWT_ALG_HS256, claims);
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_ALG_MISMATCH);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_rs256_token_when_hs256_pinned)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	char *claims = valid_claims();
	char *t = sign(JWT_ALG_RS256, claims);
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_ALG_MISMATCH);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

/* The classic attack: the verifier's RSA public key is public, so an
 * attacker HMAC-signs a token with its PEM bytes and names HS256. */
START_TEST(refuses_hs256_token_signed_with_the_rsa_public_key_when_rs256_pinned)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_RS256);
	char *claims = ut_fmt("{\"sub\":\"1\",\"userType\":\"admin\",\"exp\":%lld}", (long long)(NOW + 3600));
	char *forged = ut_mint(JWT_ALG_HS256, rsa.public_pem, rsa.public_len, claims);

	/* The attack is real: bare libjwt accepts the forgery with this key. */
	jwt_t *jwt = NULL;
	ck_assert_int_eq(jwt_decode(&jwt, forged, (const unsigned char *)rsa.public_pem, (int)rsa.public_len), 0);
	jwt_free(jwt);

	ck_assert_int_eq(verify(&cfg, forged, NOW), JW_TOK_ALG_MISMATCH);
	free(forged);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_alg_none)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	char *claims = valid_claims();
	/* unsigned, as RFC 7515 writes it: an empty signature segment */
	char *t = ut_raw_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", claims, "");
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_MALFORMED);
	free(t);
	/* with some signature bytes, so only the header can refuse it */
	t = ut_raw_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", claims, "c2lnbmF0dXJl");
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_ALG_MISMATCH);
	free(t);
	t = ut_raw_token("{\"alg\":\"None\"}", claims, "c2lnbmF0dXJl");
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_ALG_MISMATCH);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_alg_that_differs_only_in_case)
{
	char *claims = valid_claims();
	char *t = ut_hmac_token(256, SECRET, strlen(SECRET), "{\"alg\":\"hs256\",\"typ\":\"JWT\"}", claims);
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_ALG_MISMATCH);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_header_without_a_string_alg)
{
	char *claims = valid_claims();
	const char *headers[] = {"{\"typ\":\"JWT\"}", "{\"alg\":256}", "{\"alg\":null}", "{\"alg\":[\"HS256\"]}"};
	for(size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++){
		char *t = hs256_raw(headers[i], claims);
		struct jw_token_config cfg;
		config_for(&cfg, JWT_ALG_HS256);
		ck_assert_msg(verify(&cfg, t, NOW) == JW_TOK_MALFORMED, "%s", headers[i]);
		jw_token_config_clear(&cfg);
		free(t);
	}
	free(claims);
}
END_TEST

START_TEST(parses_only_the_offered_algorithm_names)
{
	const char *good[] = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384"};
	for(int i = 0; i < N_ALGS; i++) ck_assert_int_eq(jw_token_alg_parse(good[i]), all_algs[i]);
	const char *bad[] = {"none", "NONE", "", "hs256", "ES512", "PS256", "HS256 ", "HS2560"};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		ck_assert_msg(jw_token_alg_parse(bad[i]) == JWT_ALG_INVAL, "'%s'", bad[i]);
	}
	ck_assert_int_eq(jw_token_alg_parse(NULL), JWT_ALG_INVAL);
	ck_assert(jw_token_alg_is_hmac(JWT_ALG_HS384));
	ck_assert(!jw_token_alg_is_hmac(JWT_ALG_RS256));
	ck_assert(!jw_token_alg_is_hmac(JWT_ALG_NONE));
}
END_TEST

/* ---- signatures ---- */

START_TEST(refuses_token_with_a_flipped_signature_byte)
{
	jwt_alg_t alg = all_algs[_i];
	struct jw_token_config cfg;
	config_for(&cfg, alg);
	char *claims = valid_claims();
	char *t = sign(alg, claims);
	char *sig = strrchr(t, '.') + 1;
	sig[3] = sig[3] == 'A' ? 'B' : 'A';
	enum jw_token_reason r = verify(&cfg, t, NOW);
	ck_assert_msg(r == JW_TOK_BAD_SIGNATURE, "%s: %s", jwt_alg_str(alg), jw_token_reason_name(r));
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_token_signed_with_another_secret)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	char *claims = valid_claims();
	const char other[] = "another-secret-another-secret-another-secret";
	char *t = ut_mint(JWT_ALG_HS256, other, strlen(other), claims);
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_BAD_SIGNATURE);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_token_signed_with_another_ec_key)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_ES256);
	char *claims = valid_claims();
	char *t = ut_mint(JWT_ALG_ES256, other_ec256.private_pem, other_ec256.private_len, claims);
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_BAD_SIGNATURE);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

/* A customer swaps in an admin payload and keeps the original signature. */
START_TEST(refuses_token_whose_payload_was_swapped)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	char *claims = valid_claims();
	char *t = sign(JWT_ALG_HS256, claims);
	char *admin = ut_fmt("{\"sub\":\"42\",\"userType\":\"admin\",\"exp\":%lld}", (long long)(NOW + 3600));
	char *admin_b64 = ut_b64url(admin, strlen(admin));
	char *forged = with_segment(t, 1, admin_b64);
	ck_assert_int_eq(verify(&cfg, forged, NOW), JW_TOK_BAD_SIGNATURE);
	free(forged);
	free(admin_b64);
	free(admin);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_every_token_when_no_key_is_configured)
{
	struct jw_token_config cfg;
	ck_assert_int_eq(jw_token_config_defaults(&cfg), 0);
	char *claims = valid_claims();
	char *t = sign(JWT_ALG_HS256, claims);
	/* libjwt would skip verification without a key; we refuse */
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_BAD_SIGNATURE);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(accepts_hand_built_token_with_correct_hmac)
{
	/* proves ut_hmac_token builds what libjwt accepts, so the malformed
	 * tokens below are refused for what they change, not for the builder */
	char *claims = valid_claims();
	ck_assert_int_eq(verify_claims(claims), JW_TOK_OK);
	free(claims);
}
END_TEST

START_TEST(refuses_typ_other_than_jwt)
{
	char *claims = valid_claims();
	char *t = hs256_raw("{\"alg\":\"HS256\",\"typ\":\"JWE\"}", claims);
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	ck_assert_int_ne(verify(&cfg, t, NOW), JW_TOK_OK);
	free(t);
	/* no typ at all is fine (it is optional in RFC 7519) */
	t = hs256_raw("{\"alg\":\"HS256\"}", claims);
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_OK);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

/* ---- time claims ---- */

/* Verify a token with `claims` at `now`, leeway `leeway`. */
static enum jw_token_reason verify_at(const char *claims, int64_t now, int64_t leeway)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	cfg.leeway_s = leeway;
	char *t = hs256_raw(HS256_HEADER, claims);
	enum jw_token_reason r = verify(&cfg, t, now);
	free(t);
	jw_token_config_clear(&cfg);
	return r;
}

static char *claims_with(const char *extra)
{
	return ut_fmt("{\"sub\":\"42\",\"userType\":\"customer\",%s}", extra);
}

START_TEST(refuses_expired_token)
{
	char *c = claims_with("\"exp\":1699999000");
	ck_assert_int_eq(verify_at(c, NOW, 30), JW_TOK_EXPIRED);
	free(c);
}
END_TEST

START_TEST(refuses_token_at_exactly_exp_without_leeway)
{
	char *c = claims_with("\"exp\":1700000000");
	ck_assert_int_eq(verify_at(c, NOW, 0), JW_TOK_EXPIRED);
	ck_assert_int_eq(verify_at(c, NOW - 1, 0), JW_TOK_OK);
	free(c);
}
END_TEST

START_TEST(accepts_expired_token_only_within_leeway)
{
	char *c = claims_with("\"exp\":1700000000");
	ck_assert_int_eq(verify_at(c, NOW + 30 - 1, 30), JW_TOK_OK);
	ck_assert_int_eq(verify_at(c, NOW + 30, 30), JW_TOK_EXPIRED);
	free(c);
}
END_TEST

START_TEST(refuses_token_before_nbf_beyond_leeway)
{
	char *c = claims_with("\"exp\":1700003600,\"nbf\":1700000100");
	ck_assert_int_eq(verify_at(c, NOW, 30), JW_TOK_NOT_YET_VALID);
	ck_assert_int_eq(verify_at(c, NOW + 100 - 31, 30), JW_TOK_NOT_YET_VALID);
	ck_assert_int_eq(verify_at(c, NOW + 100 - 30, 30), JW_TOK_OK);
	ck_assert_int_eq(verify_at(c, NOW + 100, 0), JW_TOK_OK);
	ck_assert_int_eq(verify_at(c, NOW + 99, 0), JW_TOK_NOT_YET_VALID);
	free(c);
}
END_TEST

START_TEST(refuses_token_issued_in_the_future_beyond_leeway)
{
	char *c = claims_with("\"exp\":1700003600,\"iat\":1700000031");
	ck_assert_int_eq(verify_at(c, NOW, 30), JW_TOK_ISSUED_IN_FUTURE);
	ck_assert_int_eq(verify_at(c, NOW + 1, 30), JW_TOK_OK);
	free(c);
	c = claims_with("\"exp\":1700003600,\"iat\":1700000000");
	ck_assert_int_eq(verify_at(c, NOW, 0), JW_TOK_OK);
	free(c);
}
END_TEST

START_TEST(refuses_token_without_exp_when_exp_is_required)
{
	char *c = claims_with("\"iat\":1700000000");
	ck_assert_int_eq(verify_at(c, NOW, 30), JW_TOK_MISSING_EXP);
	free(c);
}
END_TEST

START_TEST(accepts_token_without_exp_when_exp_is_optional)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	cfg.require_exp = false;
	char *t = hs256_raw(HS256_HEADER, "{\"sub\":\"42\",\"userType\":\"customer\"}");
	struct jw_principal p;
	ck_assert_int_eq(jw_token_verify(&cfg, t, NOW, &p), JW_TOK_OK);
	ck_assert_int_eq(p.exp, 0);
	free(t);
	/* an exp that is present is still enforced */
	t = hs256_raw(HS256_HEADER, "{\"sub\":\"42\",\"userType\":\"customer\",\"exp\":1600000000}");
	ck_assert_int_eq(jw_token_verify(&cfg, t, NOW, &p), JW_TOK_EXPIRED);
	free(t);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_time_claims_that_are_not_numbers)
{
	const char *extras[] = {
		"\"exp\":\"1700003600\"", "\"exp\":null", "\"exp\":true",
		"\"exp\":1700003600,\"nbf\":\"soon\"", "\"exp\":1700003600,\"iat\":[1]",
	};
	for(size_t i = 0; i < sizeof(extras) / sizeof(extras[0]); i++){
		char *c = claims_with(extras[i]);
		ck_assert_msg(verify_at(c, NOW, 30) == JW_TOK_MALFORMED, "%s", c);
		free(c);
	}
}
END_TEST

START_TEST(accepts_fractional_numeric_dates)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	char *t = hs256_raw(HS256_HEADER, "{\"sub\":\"42\",\"userType\":\"customer\",\"exp\":1700003600.75,\"iat\":1699999999.5}");
	struct jw_principal p;
	ck_assert_int_eq(jw_token_verify(&cfg, t, NOW, &p), JW_TOK_OK);
	ck_assert_int_eq(p.exp, NOW + 3600);
	free(t);
	jw_token_config_clear(&cfg);
}
END_TEST

/* exp + leeway must not overflow (UBSan aborts on signed overflow), and a
 * far-future exp must not overflow the shell's "exp + grace" either. */
START_TEST(accepts_far_future_exp_without_overflow)
{
	const char *exps[] = {"9223372036854775807", "9.1e18", "4611686018427387905"};
	for(size_t i = 0; i < sizeof(exps) / sizeof(exps[0]); i++){
		struct jw_token_config cfg;
		config_for(&cfg, JWT_ALG_HS256);
		cfg.leeway_s = 3600;
		char *c = ut_fmt("{\"sub\":\"42\",\"userType\":\"customer\",\"exp\":%s}", exps[i]);
		char *t = hs256_raw(HS256_HEADER, c);
		struct jw_principal p;
		ck_assert_msg(jw_token_verify(&cfg, t, NOW, &p) == JW_TOK_OK, "exp %s", exps[i]);
		ck_assert_int_gt(p.exp, NOW);
		ck_assert_int_le(p.exp, INT64_MAX - 86400);
		free(t);
		free(c);
		jw_token_config_clear(&cfg);
	}
	/* and the far past stays expired */
	char *c = claims_with("\"exp\":-9223372036854775807");
	ck_assert_int_eq(verify_at(c, NOW, 3600), JW_TOK_EXPIRED);
	free(c);
	c = claims_with("\"exp\":1700003600,\"nbf\":9223372036854775807");
	ck_assert_int_eq(verify_at(c, NOW, 3600), JW_TOK_NOT_YET_VALID);
	free(c);
}
END_TEST

/* ---- issuer and audience ---- */

static enum jw_token_reason verify_iss_aud(const char *issuer, const char *audience, const char *extra)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	if(issuer) cfg.issuer = strdup(issuer);
	if(audience) cfg.audience = strdup(audience);
	char *c = ut_fmt("{\"sub\":\"42\",\"userType\":\"customer\",\"exp\":1700003600%s%s}",
			extra[0] ? "," : "", extra);
	char *t = hs256_raw(HS256_HEADER, c);
	enum jw_token_reason r = verify(&cfg, t, NOW);
	free(t);
	free(c);
	jw_token_config_clear(&cfg);
	return r;
}

START_TEST(refuses_issuer_or_audience_with_an_embedded_nul)
{
	ck_assert_int_eq(verify_iss_aud("api", NULL, "\"iss\":\"api\\u0000.evil\""), JW_TOK_BAD_ISSUER);
	ck_assert_int_eq(verify_iss_aud(NULL, "mqtt", "\"aud\":\"mqtt\\u0000x\""), JW_TOK_BAD_AUDIENCE);
	ck_assert_int_eq(verify_iss_aud(NULL, "mqtt", "\"aud\":[\"mqtt\\u0000x\"]"), JW_TOK_BAD_AUDIENCE);
}
END_TEST

/* The configured key must suit the pinned algorithm: refused when the
 * config is prepared, before any token is seen. */
static int prepare_with(jwt_alg_t alg, const char *key)
{
	struct jw_token_config cfg;
	ck_assert_int_eq(jw_token_config_defaults(&cfg), 0);
	cfg.alg = alg;
	cfg.key = (unsigned char *)strdup(key);
	cfg.key_len = strlen(key);
	char err[256];
	int rc = jw_token_config_prepare(&cfg, err, sizeof(err));
	jw_token_config_clear(&cfg);
	return rc;
}

START_TEST(refuses_a_key_that_does_not_suit_the_pinned_algorithm)
{
	ck_assert_int_eq(prepare_with(JWT_ALG_RS256, rsa.public_pem), 0);
	ck_assert_int_eq(prepare_with(JWT_ALG_ES256, ec256.public_pem), 0);
	ck_assert_int_eq(prepare_with(JWT_ALG_ES384, ec384.public_pem), 0);
	ck_assert_int_ne(prepare_with(JWT_ALG_RS256, ec256.public_pem), 0);   /* EC key for RS */
	ck_assert_int_ne(prepare_with(JWT_ALG_ES256, rsa.public_pem), 0);     /* RSA key for ES */
	ck_assert_int_ne(prepare_with(JWT_ALG_ES256, ec384.public_pem), 0);   /* P-384 for ES256 */
	ck_assert_int_ne(prepare_with(JWT_ALG_ES384, ec256.public_pem), 0);   /* P-256 for ES384 */
	ck_assert_int_ne(prepare_with(JWT_ALG_RS256, "not a pem"), 0);
	ck_assert_int_ne(prepare_with(JWT_ALG_RS256, rsa.private_pem), 0);    /* a private key is not a public key */
}
END_TEST

START_TEST(refuses_es256_signature_of_the_wrong_length)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_ES256);
	char *claims = valid_claims();
	char *t = sign(JWT_ALG_ES256, claims);
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_OK);
	/* R || S is 64 bytes; drop the last 3 (4 base64url characters) */
	char *cut = strdup(t);
	cut[strlen(cut) - 4] = '\0';
	ck_assert_int_eq(verify(&cfg, cut, NOW), JW_TOK_BAD_SIGNATURE);
	free(cut);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

/* The verified-token cache (token_cache.h). */
static void cached_config(struct jw_token_config *cfg)
{
	ck_assert_int_eq(jw_token_config_defaults(cfg), 0);
	cfg->key = (unsigned char *)strdup(SECRET);
	cfg->key_len = strlen(SECRET);
	cfg->cache_entries = 16;
	char err[256];
	ck_assert_msg(jw_token_config_prepare(cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(cfg->cache);
}

START_TEST(serves_a_token_seen_before_from_the_cache)
{
	struct jw_token_config cfg;
	cached_config(&cfg);
	char *claims = valid_claims();
	char *t = sign(JWT_ALG_HS256, claims);
	struct jw_principal a, b;
	ck_assert_int_eq(jw_token_verify(&cfg, t, NOW, &a), JW_TOK_OK);
	ck_assert_uint_eq(jw_token_cache_hits(cfg.cache), 0);
	ck_assert_int_eq(jw_token_verify(&cfg, t, NOW + 1, &b), JW_TOK_OK);
	ck_assert_uint_eq(jw_token_cache_hits(cfg.cache), 1);
	ck_assert_str_eq(b.sub, a.sub);
	ck_assert_str_eq(b.role, a.role);
	ck_assert_int_eq(b.exp, a.exp);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(cache_never_serves_an_expired_or_altered_token)
{
	struct jw_token_config cfg;
	cached_config(&cfg);
	cfg.leeway_s = 0;
	char *claims = valid_claims();   /* exp = NOW + 3600 */
	char *t = sign(JWT_ALG_HS256, claims);
	struct jw_principal p;
	ck_assert_int_eq(jw_token_verify(&cfg, t, NOW, &p), JW_TOK_OK);
	/* same bytes, later: the cached entry has expired with the token */
	ck_assert_int_eq(jw_token_verify(&cfg, t, NOW + 3600, &p), JW_TOK_EXPIRED);
	ck_assert_uint_eq(jw_token_cache_hits(cfg.cache), 0);
	/* a token differing in one signature byte is not the cached one */
	ck_assert_int_eq(jw_token_verify(&cfg, t, NOW, &p), JW_TOK_OK);
	char *altered = strdup(t);
	size_t n = strlen(altered);
	altered[n - 2] = altered[n - 2] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(jw_token_verify(&cfg, altered, NOW, &p), JW_TOK_BAD_SIGNATURE);
	free(altered);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(checks_issuer_when_configured)
{
	ck_assert_int_eq(verify_iss_aud("https://api.example", NULL, "\"iss\":\"https://api.example\""), JW_TOK_OK);
	ck_assert_int_eq(verify_iss_aud("https://api.example", NULL, "\"iss\":\"https://evil.example\""), JW_TOK_BAD_ISSUER);
	ck_assert_int_eq(verify_iss_aud("https://api.example", NULL, "\"iss\":\"https://api.example/\""), JW_TOK_BAD_ISSUER);
	ck_assert_int_eq(verify_iss_aud("https://api.example", NULL, ""), JW_TOK_BAD_ISSUER);
	ck_assert_int_eq(verify_iss_aud("https://api.example", NULL, "\"iss\":[\"https://api.example\"]"), JW_TOK_BAD_ISSUER);
}
END_TEST

START_TEST(ignores_issuer_and_audience_when_not_configured)
{
	ck_assert_int_eq(verify_iss_aud(NULL, NULL, "\"iss\":\"anyone\",\"aud\":42"), JW_TOK_OK);
}
END_TEST

START_TEST(checks_audience_given_as_a_string)
{
	ck_assert_int_eq(verify_iss_aud(NULL, "jetwire", "\"aud\":\"jetwire\""), JW_TOK_OK);
	ck_assert_int_eq(verify_iss_aud(NULL, "jetwire", "\"aud\":\"jetwire-admin\""), JW_TOK_BAD_AUDIENCE);
	ck_assert_int_eq(verify_iss_aud(NULL, "jetwire", ""), JW_TOK_BAD_AUDIENCE);
	ck_assert_int_eq(verify_iss_aud(NULL, "jetwire", "\"aud\":null"), JW_TOK_BAD_AUDIENCE);
	ck_assert_int_eq(verify_iss_aud(NULL, "jetwire", "\"aud\":{\"jetwire\":true}"), JW_TOK_BAD_AUDIENCE);
}
END_TEST

START_TEST(checks_audience_given_as_an_array)
{
	ck_assert_int_eq(verify_iss_aud(NULL, "jetwire", "\"aud\":[\"api\",\"jetwire\"]"), JW_TOK_OK);
	ck_assert_int_eq(verify_iss_aud(NULL, "jetwire", "\"aud\":[\"api\",\"web\"]"), JW_TOK_BAD_AUDIENCE);
	ck_assert_int_eq(verify_iss_aud(NULL, "jetwire", "\"aud\":[]"), JW_TOK_BAD_AUDIENCE);
	ck_assert_int_eq(verify_iss_aud(NULL, "jetwire", "\"aud\":[1,[\"jetwire\"]]"), JW_TOK_BAD_AUDIENCE);
}
END_TEST

/* ---- subject ---- */

static enum jw_token_reason verify_sub(const char *sub_json, struct jw_principal *p)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	char *c = ut_fmt("{\"sub\":%s,\"userType\":\"driver\",\"exp\":1700003600}", sub_json);
	char *t = hs256_raw(HS256_HEADER, c);
	enum jw_token_reason r = jw_token_verify(&cfg, t, NOW, p);
	free(t);
	free(c);
	jw_token_config_clear(&cfg);
	return r;
}

START_TEST(accepts_sub_given_as_a_string)
{
	struct jw_principal p;
	ck_assert_int_eq(verify_sub("\"d-7f3a\"", &p), JW_TOK_OK);
	ck_assert_str_eq(p.sub, "d-7f3a");
	ck_assert_str_eq(p.role, "driver");
}
END_TEST

START_TEST(accepts_sub_given_as_an_integer)
{
	struct jw_principal p;
	ck_assert_int_eq(verify_sub("42", &p), JW_TOK_OK);
	ck_assert_str_eq(p.sub, "42");
	ck_assert_int_eq(verify_sub("9007199254740993", &p), JW_TOK_OK);
	ck_assert_str_eq(p.sub, "9007199254740993");
}
END_TEST

START_TEST(refuses_token_without_sub)
{
	struct jw_principal p;
	ck_assert_int_eq(verify_sub("null", &p), JW_TOK_MISSING_SUB);
	ck_assert_int_eq(verify_claims("{\"userType\":\"driver\",\"exp\":1700003600}"), JW_TOK_MISSING_SUB);
}
END_TEST

/* SPEC "Identity": a claim value substituted into a topic must be one level. */
START_TEST(refuses_sub_that_is_not_a_single_topic_level)
{
	const char *subs[] = {
		"\"a/b\"", "\"+\"", "\"a+b\"", "\"#\"", "\"42#\"", "\"\"", "\"a\\u0001b\"", "\"line\\n\"",
		"\"tab\\t\"", "\"del\\u007f\"", "\"/\"",
		"4.2", "true", "[\"42\"]", "{\"id\":42}",
	};
	for(size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++){
		struct jw_principal p;
		enum jw_token_reason r = verify_sub(subs[i], &p);
		ck_assert_msg(r == JW_TOK_BAD_SUB, "sub %s: %s", subs[i], jw_token_reason_name(r));
	}
	/* A NUL is refused, too (libjwt's JSON parser already rejects \u0000,
	 * so the reason is libjwt's decode failure). */
	struct jw_principal p;
	ck_assert_int_ne(verify_sub("\"nul\\u0000byte\"", &p), JW_TOK_OK);
}
END_TEST

START_TEST(accepts_sub_of_128_bytes_and_refuses_129)
{
	char s128[JW_SUB_MAX + 1], s129[JW_SUB_MAX + 2];
	memset(s128, 'x', JW_SUB_MAX);
	s128[JW_SUB_MAX] = '\0';
	memset(s129, 'x', JW_SUB_MAX + 1);
	s129[JW_SUB_MAX + 1] = '\0';
	ck_assert_int_eq(JW_SUB_MAX, 128);

	char *j = ut_fmt("\"%s\"", s128);
	struct jw_principal p;
	ck_assert_int_eq(verify_sub(j, &p), JW_TOK_OK);
	ck_assert_str_eq(p.sub, s128);
	free(j);
	j = ut_fmt("\"%s\"", s129);
	ck_assert_int_eq(verify_sub(j, &p), JW_TOK_BAD_SUB);
	free(j);
}
END_TEST

/* ---- role ---- */

START_TEST(reads_role_from_the_configured_claim)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	free(cfg.role_claim);
	cfg.role_claim = strdup("role");
	struct jw_principal p;
	char *t = hs256_raw(HS256_HEADER, "{\"sub\":\"5\",\"role\":\"merchant\",\"exp\":1700003600}");
	ck_assert_int_eq(jw_token_verify(&cfg, t, NOW, &p), JW_TOK_OK);
	ck_assert_str_eq(p.role, "merchant");
	free(t);
	/* the default claim name no longer counts */
	t = hs256_raw(HS256_HEADER, "{\"sub\":\"5\",\"userType\":\"merchant\",\"exp\":1700003600}");
	ck_assert_int_eq(jw_token_verify(&cfg, t, NOW, &p), JW_TOK_MISSING_ROLE);
	free(t);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_token_without_role)
{
	ck_assert_int_eq(verify_claims("{\"sub\":\"5\",\"exp\":1700003600}"), JW_TOK_MISSING_ROLE);
	ck_assert_int_eq(verify_claims("{\"sub\":\"5\",\"userType\":null,\"exp\":1700003600}"), JW_TOK_MISSING_ROLE);
	ck_assert_int_eq(verify_claims("{\"sub\":\"5\",\"userType\":3,\"exp\":1700003600}"), JW_TOK_MISSING_ROLE);
}
END_TEST

START_TEST(refuses_role_that_is_not_configured)
{
	ck_assert_int_eq(verify_claims("{\"sub\":\"5\",\"userType\":\"superuser\",\"exp\":1700003600}"), JW_TOK_UNKNOWN_ROLE);
	ck_assert_int_eq(verify_claims("{\"sub\":\"5\",\"userType\":\"Admin\",\"exp\":1700003600}"), JW_TOK_UNKNOWN_ROLE);
	ck_assert_int_eq(verify_claims("{\"sub\":\"5\",\"userType\":\"admin \",\"exp\":1700003600}"), JW_TOK_UNKNOWN_ROLE);
	ck_assert_int_eq(verify_claims("{\"sub\":\"5\",\"userType\":\"\",\"exp\":1700003600}"), JW_TOK_UNKNOWN_ROLE);
}
END_TEST

/* "admin\0x" is not "admin", even though a C string compare would say so
 * (libjwt's JSON parser refuses \u0000 before the role is looked at). */
START_TEST(refuses_role_with_an_embedded_nul)
{
	ck_assert_int_ne(verify_claims("{\"sub\":\"5\",\"userType\":\"admin\\u0000x\",\"exp\":1700003600}"),
			JW_TOK_OK);
}
END_TEST

START_TEST(accepts_only_roles_from_a_custom_role_list)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	ck_assert_int_eq(jw_token_config_set_roles(&cfg, "courier, shop,ops"), 0);
	ck_assert_int_eq(cfg.role_count, 3);
	struct jw_principal p;
	char *t = hs256_raw(HS256_HEADER, "{\"sub\":\"5\",\"userType\":\"ops\",\"exp\":1700003600}");
	ck_assert_int_eq(jw_token_verify(&cfg, t, NOW, &p), JW_TOK_OK);
	ck_assert_str_eq(p.role, "ops");
	free(t);
	t = hs256_raw(HS256_HEADER, "{\"sub\":\"5\",\"userType\":\"customer\",\"exp\":1700003600}");
	ck_assert_int_eq(jw_token_verify(&cfg, t, NOW, &p), JW_TOK_UNKNOWN_ROLE);
	free(t);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_role_lists_that_cannot_be_topic_levels)
{
	struct jw_token_config cfg;
	ck_assert_int_eq(jw_token_config_defaults(&cfg), 0);
	char long_role[JW_ROLE_MAX + 2];
	memset(long_role, 'r', JW_ROLE_MAX + 1);
	long_role[JW_ROLE_MAX + 1] = '\0';
	const char *bad[] = {"", " , ", "a/b", "cust+omer", "x#", "ns:role", long_role,
		"r1,r2,r3,r4,r5,r6,r7,r8,r9,r10,r11,r12,r13,r14,r15,r16,r17"};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		ck_assert_msg(jw_token_config_set_roles(&cfg, bad[i]) == -1, "'%s'", bad[i]);
		ck_assert_int_eq(cfg.role_count, 5); /* unchanged */
	}
	ck_assert_int_eq(jw_token_config_set_roles(&cfg, "r1,r2,r3,r4,r5,r6,r7,r8,r9,r10,r11,r12,r13,r14,r15,r16"), 0);
	ck_assert_int_eq(cfg.role_count, 16);
	jw_token_config_clear(&cfg);
}
END_TEST

/* ---- malformed input ---- */

START_TEST(refuses_empty_token)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	ck_assert_int_eq(verify(&cfg, "", NOW), JW_TOK_EMPTY);
	ck_assert_int_eq(verify(&cfg, NULL, NOW), JW_TOK_EMPTY);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_64_kib_token_as_too_long)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	size_t n = 64 * 1024;
	char *t = malloc(n + 1);
	ck_assert_ptr_nonnull(t);
	memset(t, 'A', n);
	t[10] = '.';
	t[20] = '.';
	t[n] = '\0';
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_TOO_LONG);
	free(t);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(accepts_token_of_exactly_the_maximum_length)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	char *claims = valid_claims();
	char *t = sign(JWT_ALG_HS256, claims);
	cfg.max_token_len = strlen(t);
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_OK);
	cfg.max_token_len = strlen(t) - 1;
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_TOO_LONG);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_garbage_strings_as_malformed)
{
	const char *garbage[] = {
		"x", "garbage", "password123", ".", "..", "...", "a.b", "a.b.c.d", ".b.c", "a..c", "a.b.",
		"eyJ.eyJ.eyJ", "Bearer x.y.z", "{\"alg\":\"HS256\"}", "\xff\xfe.\x01.\x02",
	};
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	for(size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++){
		enum jw_token_reason r = verify(&cfg, garbage[i], NOW);
		ck_assert_msg(r == JW_TOK_MALFORMED, "'%s': %s", garbage[i], jw_token_reason_name(r));
	}
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_token_with_missing_empty_or_extra_segments)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	char *claims = valid_claims();
	char *t = sign(JWT_ALG_HS256, claims);
	size_t d1 = (size_t)(strchr(t, '.') - t), d2 = (size_t)(strrchr(t, '.') - t);

	char *cases[] = {
		ut_fmt("%.*s", (int)d1, t),             /* header only */
		ut_fmt("%.*s", (int)d1 + 1, t),         /* header. */
		ut_fmt("%.*s", (int)d2, t),             /* header.payload */
		ut_fmt("%.*s", (int)d2 + 1, t),         /* header.payload. (no signature) */
		ut_fmt("%s.%s", t, t + d2 + 1),         /* four segments */
		ut_fmt("%s.", t),                       /* trailing dot */
		ut_fmt(".%s", t),                       /* leading dot */
		with_segment(t, 0, ""),                 /* empty header */
		with_segment(t, 1, ""),                 /* empty payload */
		ut_fmt("%.*s", (int)strlen(t) - 1, t),  /* signature cut short by a char */
	};
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++){
		enum jw_token_reason r = verify(&cfg, cases[i], NOW);
		/* a shortened signature is still three segments: refused by the check */
		enum jw_token_reason want = i == 9 ? JW_TOK_BAD_SIGNATURE : JW_TOK_MALFORMED;
		ck_assert_msg(r == want, "case %zu '%s': %s", i, cases[i], jw_token_reason_name(r));
		free(cases[i]);
	}
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_segments_with_non_base64url_characters)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	char *claims = valid_claims();
	char *t = sign(JWT_ALG_HS256, claims);
	const char *bad_chars = "+/=*! \n%";
	for(const char *c = bad_chars; *c; c++){
		for(int seg = 0; seg < 2; seg++){
			char *copy = strdup(t);
			char *p = seg == 0 ? copy : strchr(copy, '.') + 1;
			p[2] = *c;
			enum jw_token_reason r = verify(&cfg, copy, NOW);
			/* the header is read first (to pin the algorithm); the payload is
			 * only parsed once the signature over it holds, and an altered
			 * payload breaks the signature */
			enum jw_token_reason want = seg == 0 ? JW_TOK_MALFORMED : JW_TOK_BAD_SIGNATURE;
			ck_assert_msg(r == want, "'%c' in segment %d: %s", *c, seg, jw_token_reason_name(r));
			free(copy);
		}
	}
	/* standard base64 padding is not base64url */
	char *padded = ut_fmt("%.*s==%s", (int)(strchr(t, '.') - t), t, strchr(t, '.'));
	ck_assert_int_eq(verify(&cfg, padded, NOW), JW_TOK_MALFORMED);
	free(padded);
	free(t);
	free(claims);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_segment_with_a_lone_trailing_base64_character)
{
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	char *h = ut_b64url(HS256_HEADER, strlen(HS256_HEADER));
	char *claims = valid_claims();
	char *p = ut_b64url(claims, strlen(claims));
	/* 4n+1 characters cannot be base64 of anything */
	int pad = (int)((5 - strlen(h) % 4) % 4);
	char *t = ut_fmt("%s%.*s.%s.c2ln", h, pad, "AAA", p);
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_MALFORMED);
	free(t);
	free(p);
	free(claims);
	free(h);
	jw_token_config_clear(&cfg);
}
END_TEST

START_TEST(refuses_header_that_is_not_json)
{
	char *claims = valid_claims();
	const char *headers[] = {"HS256", "alg=HS256", "{\"alg\":\"HS256\"", "", "null", "\"HS256\"", "[\"HS256\"]"};
	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	for(size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++){
		char *t = ut_raw_token(headers[i], claims, "c2ln");
		ck_assert_msg(verify(&cfg, t, NOW) == JW_TOK_MALFORMED, "header '%s'", headers[i]);
		free(t);
	}
	jw_token_config_clear(&cfg);
	free(claims);
}
END_TEST

START_TEST(refuses_payload_that_is_not_a_json_object)
{
	const char *payloads[] = {
		"[{\"sub\":\"42\",\"userType\":\"customer\",\"exp\":1700003600}]",
		"\"sub\"", "42", "null", "true", "not json", "{\"sub\":\"42\"",
	};
	for(size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++){
		ck_assert_msg(verify_claims(payloads[i]) == JW_TOK_MALFORMED, "payload '%s'", payloads[i]);
	}
}
END_TEST

START_TEST(refuses_trailing_garbage_after_json)
{
	char *claims = valid_claims();
	char *with_garbage = ut_fmt("%sx", claims);
	ck_assert_int_eq(verify_claims(with_garbage), JW_TOK_MALFORMED);
	free(with_garbage);
	char *two = ut_fmt("%s{}", claims);
	ck_assert_int_eq(verify_claims(two), JW_TOK_MALFORMED);
	free(two);

	struct jw_token_config cfg;
	config_for(&cfg, JWT_ALG_HS256);
	char *t = hs256_raw("{\"alg\":\"HS256\",\"typ\":\"JWT\"}{\"alg\":\"none\"}", claims);
	ck_assert_int_eq(verify(&cfg, t, NOW), JW_TOK_MALFORMED);
	free(t);
	jw_token_config_clear(&cfg);
	free(claims);
}
END_TEST

START_TEST(names_every_refusal_reason)
{
	for(int r = 0; r < JW_TOK_REASON_COUNT; r++){
		const char *name = jw_token_reason_name((enum jw_token_reason)r);
		ck_assert_ptr_nonnull(name);
		ck_assert_str_ne(name, "unknown");
		/* names are $SYS topic levels */
		ck_assert(name[0] != '\0' && strpbrk(name, "/+# ") == NULL);
		for(int s = 0; s < r; s++) ck_assert_str_ne(name, jw_token_reason_name((enum jw_token_reason)s));
	}
	ck_assert_str_eq(jw_token_reason_name(JW_TOK_REASON_COUNT), "unknown");
	ck_assert_str_eq(jw_token_reason_name((enum jw_token_reason)-1), "unknown");
}
END_TEST

/* ---- client id binding ---- */

START_TEST(binds_client_id_to_role_and_sub)
{
	struct jw_principal p = {.role = "customer", .sub = "42"};
	ck_assert(jw_clientid_belongs_to(&p, "customer-42"));
	ck_assert(jw_clientid_belongs_to(&p, "customer-42-phone"));
	ck_assert(jw_clientid_belongs_to(&p, "customer-42-a-b"));
	ck_assert(jw_clientid_belongs_to(&p, "customer-42--"));
}
END_TEST

START_TEST(refuses_client_id_of_another_user)
{
	struct jw_principal p = {.role = "customer", .sub = "42"};
	const char *ids[] = {
		"customer-4", "customer-420", "customer-4-2", "customer-42-", "customer-", "customer",
		"customer42", "driver-42", "admin-42", "Customer-42", "-42", "", "customer-42x",
		" customer-42", "xcustomer-42",
	};
	for(size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++){
		ck_assert_msg(!jw_clientid_belongs_to(&p, ids[i]), "'%s'", ids[i]);
	}
	ck_assert(!jw_clientid_belongs_to(&p, NULL));

	struct jw_principal q = {.role = "customer", .sub = "4"};
	ck_assert(!jw_clientid_belongs_to(&q, "customer-42"));
	ck_assert(jw_clientid_belongs_to(&q, "customer-4-2"));
}
END_TEST

static Suite *token_suite(void)
{
	Suite *s = suite_create("token");
	TCase *tc = tcase_create("algorithms");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_loop_test(tc, accepts_token_signed_with_the_pinned_algorithm, 0, N_ALGS);
	tcase_add_loop_test(tc, refuses_token_signed_with_any_other_algorithm, 0, N_ALGS);
	tcase_add_test(tc, refuses_hs256_token_when_rs256_pinned);
	tcase_add_test(tc, refuses_a_key_that_does_not_suit_the_pinned_algorithm);
	tcase_add_test(tc, refuses_es256_signature_of_the_wrong_length);
	tcase_add_test(tc, refuses_rs256_token_when_hs256_pinned);
	tcase_add_test(tc, refuses_hs256_token_signed_with_the_rsa_public_key_when_rs256_pinned);
	tcase_add_test(tc, refuses_alg_none);
	tcase_add_test(tc, refuses_alg_that_differs_only_in_case);
	tcase_add_test(tc, refuses_header_without_a_string_alg);
	tcase_add_test(tc, parses_only_the_offered_algorithm_names);
	tcase_add_loop_test(tc, refuses_token_with_a_flipped_signature_byte, 0, N_ALGS);
	tcase_add_test(tc, refuses_token_signed_with_another_secret);
	tcase_add_test(tc, refuses_token_signed_with_another_ec_key);
	tcase_add_test(tc, refuses_token_whose_payload_was_swapped);
	tcase_add_test(tc, refuses_every_token_when_no_key_is_configured);
	tcase_add_test(tc, accepts_hand_built_token_with_correct_hmac);
	tcase_add_test(tc, refuses_typ_other_than_jwt);
	suite_add_tcase(s, tc);

	tc = tcase_create("claims");
	tcase_add_test(tc, serves_a_token_seen_before_from_the_cache);
	tcase_add_test(tc, cache_never_serves_an_expired_or_altered_token);
	tcase_add_test(tc, refuses_issuer_or_audience_with_an_embedded_nul);
	tcase_add_test(tc, refuses_expired_token);
	tcase_add_test(tc, refuses_token_at_exactly_exp_without_leeway);
	tcase_add_test(tc, accepts_expired_token_only_within_leeway);
	tcase_add_test(tc, refuses_token_before_nbf_beyond_leeway);
	tcase_add_test(tc, refuses_token_issued_in_the_future_beyond_leeway);
	tcase_add_test(tc, refuses_token_without_exp_when_exp_is_required);
	tcase_add_test(tc, accepts_token_without_exp_when_exp_is_optional);
	tcase_add_test(tc, refuses_time_claims_that_are_not_numbers);
	tcase_add_test(tc, accepts_fractional_numeric_dates);
	tcase_add_test(tc, accepts_far_future_exp_without_overflow);
	tcase_add_test(tc, checks_issuer_when_configured);
	tcase_add_test(tc, ignores_issuer_and_audience_when_not_configured);
	tcase_add_test(tc, checks_audience_given_as_a_string);
	tcase_add_test(tc, checks_audience_given_as_an_array);
	tcase_add_test(tc, accepts_sub_given_as_a_string);
	tcase_add_test(tc, accepts_sub_given_as_an_integer);
	tcase_add_test(tc, refuses_token_without_sub);
	tcase_add_test(tc, refuses_sub_that_is_not_a_single_topic_level);
	tcase_add_test(tc, accepts_sub_of_128_bytes_and_refuses_129);
	tcase_add_test(tc, reads_role_from_the_configured_claim);
	tcase_add_test(tc, refuses_token_without_role);
	tcase_add_test(tc, refuses_role_that_is_not_configured);
	tcase_add_test(tc, refuses_role_with_an_embedded_nul);
	tcase_add_test(tc, accepts_only_roles_from_a_custom_role_list);
	tcase_add_test(tc, refuses_role_lists_that_cannot_be_topic_levels);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_test(tc, refuses_empty_token);
	tcase_add_test(tc, refuses_64_kib_token_as_too_long);
	tcase_add_test(tc, accepts_token_of_exactly_the_maximum_length);
	tcase_add_test(tc, refuses_garbage_strings_as_malformed);
	tcase_add_test(tc, refuses_token_with_missing_empty_or_extra_segments);
	tcase_add_test(tc, refuses_segments_with_non_base64url_characters);
	tcase_add_test(tc, refuses_segment_with_a_lone_trailing_base64_character);
	tcase_add_test(tc, refuses_header_that_is_not_json);
	tcase_add_test(tc, refuses_payload_that_is_not_a_json_object);
	tcase_add_test(tc, refuses_trailing_garbage_after_json);
	tcase_add_test(tc, names_every_refusal_reason);
	suite_add_tcase(s, tc);

	tc = tcase_create("clientid");
	tcase_add_test(tc, binds_client_id_to_role_and_sub);
	tcase_add_test(tc, refuses_client_id_of_another_user);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_run(token_suite());
}
