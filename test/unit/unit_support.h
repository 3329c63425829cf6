/*
 * unit_support — small helpers shared by the unit tests: temp files, key
 * pairs, tokens (minted with jw_mint or hand-built byte by byte), and
 * assertions on JSON documents.
 *
 * Every helper fails the running Check test (ck_abort) instead of returning
 * an error, so tests read as the scenario they prove.  Every char * returned
 * is a new buffer owned by the caller (free()).
 */
#ifndef JW_UNIT_SUPPORT_H
#define JW_UNIT_SUPPORT_H

#include <check.h>
#include <json-c/json.h>
#include <jwt.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Run every test of `s` and return main()'s exit status. */
int ut_run(Suite *s);

/* printf into a new string. */
char *ut_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A new private directory under $TMPDIR (or /tmp). */
char *ut_tempdir(void);
/* Remove `dir` and the plain files directly inside it. */
void ut_rmtree(const char *dir);
/* Write `len` bytes to dir/name, then chmod it to `mode`; returns the path. */
char *ut_write_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode);

/* A PEM key pair generated with OpenSSL. */
enum ut_key_kind { UT_KEY_RSA2048, UT_KEY_EC_P256, UT_KEY_EC_P384 };
struct ut_keypair {
	char *private_pem;  /* "-----BEGIN PRIVATE KEY-----..." (PKCS#8) */
	size_t private_len;
	char *public_pem;   /* "-----BEGIN PUBLIC KEY-----..." (SPKI) */
	size_t public_len;
};
void ut_keypair_new(struct ut_keypair *kp, enum ut_key_kind kind);
void ut_keypair_free(struct ut_keypair *kp);

/* base64url without padding, as JWS uses it. */
char *ut_b64url(const void *data, size_t len);

/* "b64url(header).b64url(payload).<signature>": the JSON texts are encoded
 * verbatim (they need not be JSON at all) and `signature` is appended as is,
 * so any malformed token can be built. */
char *ut_raw_token(const char *header, const char *payload, const char *signature);

/* Like ut_raw_token, but with a correct HMAC-SHA<bits> signature (bits 256,
 * 384 or 512) over whatever header and payload are given. */
char *ut_hmac_token(int bits, const void *secret, size_t secret_len,
		const char *header, const char *payload);

/* jw_mint(), failing the test if it cannot sign. */
char *ut_mint(jwt_alg_t alg, const void *key, size_t key_len, const char *claims_json);

/* JSON (json-c).  ut_json_parse: `text` is exactly one JSON object, parsed
 * strictly (caller json_object_put()s it).  The assertions name the key and
 * show the document when they fail. */
struct json_object *ut_json_parse(const char *text);
/* The value of `key` (NULL for JSON null); fails if the key is absent. */
struct json_object *ut_json_field(struct json_object *o, const char *key);
/* A string equal to `want`, to the byte (no NUL inside). */
void ut_json_assert_str(struct json_object *o, const char *key, const char *want);
void ut_json_assert_null(struct json_object *o, const char *key);
void ut_json_assert_int(struct json_object *o, const char *key, int64_t want);
/* The object has exactly these keys, in this order (NULL-terminated). */
void ut_json_assert_keys(struct json_object *o, ...) __attribute__((sentinel));

#endif
