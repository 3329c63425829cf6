#define _POSIX_C_SOURCE 200809L
#include "unit_support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jw_mint.h"

int ut_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

char *ut_fmt(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	char *s = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

char *ut_tempdir(void)
{
	const char *base = getenv("TMPDIR");
	char *dir = ut_fmt("%s/jetwire-unit-XXXXXX", base && base[0] ? base : "/tmp");
	if(mkdtemp(dir) == NULL) ck_abort_msg("mkdtemp %s: %s", dir, strerror(errno));
	return dir;
}

void ut_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	if(d == NULL) return;
	struct dirent *de;
	while((de = readdir(d)) != NULL){
		if(!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
		char *p = ut_fmt("%s/%s", dir, de->d_name);
		unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

char *ut_write_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
	char *path = ut_fmt("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if(fd < 0) ck_abort_msg("open %s: %s", path, strerror(errno));
	const char *p = data;
	while(len > 0){
		ssize_t n = write(fd, p, len);
		if(n <= 0) ck_abort_msg("write %s: %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	close(fd);
	/* chmod, not the open mode: the umask must not change what a test means */
	if(chmod(path, mode) != 0) ck_abort_msg("chmod %s: %s", path, strerror(errno));
	return path;
}

/* Copy a memory BIO's contents into a new NUL-terminated string. */
static char *bio_string(BIO *bio, size_t *len)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	ck_assert_int_gt(n, 0);
	char *s = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*len = (size_t)n;
	return s;
}

void ut_keypair_new(struct ut_keypair *kp, enum ut_key_kind kind)
{
	EVP_PKEY *pkey = NULL;
	switch(kind){
	case UT_KEY_RSA2048: pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048); break;
	case UT_KEY_EC_P256: pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); break;
	case UT_KEY_EC_P384: pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"); break;
	}
	ck_assert_msg(pkey != NULL, "key generation failed");

	BIO *priv = BIO_new(BIO_s_mem()), *pub = BIO_new(BIO_s_mem());
	ck_assert(priv != NULL && pub != NULL);
	ck_assert_int_eq(PEM_write_bio_PrivateKey(priv, pkey, NULL, NULL, 0, NULL, NULL), 1);
	ck_assert_int_eq(PEM_write_bio_PUBKEY(pub, pkey), 1);
	kp->private_pem = bio_string(priv, &kp->private_len);
	kp->public_pem = bio_string(pub, &kp->public_len);
	BIO_free(priv);
	BIO_free(pub);
	EVP_PKEY_free(pkey);
}

void ut_keypair_free(struct ut_keypair *kp)
{
	free(kp->private_pem);
	free(kp->public_pem);
	memset(kp, 0, sizeof(*kp));
}

char *ut_b64url(const void *data, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *in = data;
	char *out = malloc(len / 3 * 4 + 5);
	ck_assert_ptr_nonnull(out);
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;
	for(size_t i = 0; i < len; i++){
		acc = (acc << 8) | in[i];
		bits += 8;
		while(bits >= 6){
			bits -= 6;
			out[n++] = alphabet[(acc >> bits) & 0x3f];
		}
	}
	if(bits > 0) out[n++] = alphabet[(acc << (6 - bits)) & 0x3f];
	out[n] = '\0';
	return out;
}

char *ut_raw_token(const char *header, const char *payload, const char *signature)
{
	char *h = ut_b64url(header, strlen(header));
	char *p = ut_b64url(payload, strlen(payload));
	char *t = ut_fmt("%s.%s.%s", h, p, signature);
	free(h);
	free(p);
	return t;
}

char *ut_hmac_token(int bits, const void *secret, size_t secret_len,
		const char *header, const char *payload)
{
	const EVP_MD *md = bits == 256 ? EVP_sha256() : bits == 384 ? EVP_sha384()
		: bits == 512 ? EVP_sha512() : NULL;
	ck_assert_ptr_nonnull(md);
	char *signing_input = ut_raw_token(header, payload, "");
	size_t input_len = strlen(signing_input) - 1; /* without the last '.' */
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	ck_assert_ptr_nonnull(HMAC(md, secret, (int)secret_len, (const unsigned char *)signing_input,
				input_len, mac, &mac_len));
	char *sig = ut_b64url(mac, mac_len);
	char *t = ut_fmt("%s%s", signing_input, sig);
	free(sig);
	free(signing_input);
	return t;
}

char *ut_mint(jwt_alg_t alg, const void *key, size_t key_len, const char *claims_json)
{
	char err[256] = "";
	char *t = jw_mint(alg, key, key_len, claims_json, err, sizeof(err));
	ck_assert_msg(t != NULL, "jw_mint(%s, %s): %s", jwt_alg_str(alg), claims_json, err);
	return t;
}

struct json_object *ut_json_parse(const char *text)
{
	ck_assert_ptr_nonnull(text);
	struct json_tokener *tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *o = json_tokener_parse_ex(tok, text, (int)strlen(text));
	ck_assert_msg(json_tokener_get_error(tok) == json_tokener_success, "not JSON: %s", text);
	ck_assert_uint_eq(json_tokener_get_parse_end(tok), strlen(text));
	json_tokener_free(tok);
	ck_assert_msg(json_object_is_type(o, json_type_object), "not an object: %s", text);
	return o;
}

struct json_object *ut_json_field(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no field %s in %s", key,
		json_object_to_json_string(o));
	return v;
}

void ut_json_assert_str(struct json_object *o, const char *key, const char *want)
{
	struct json_object *v = ut_json_field(o, key);
	ck_assert_msg(json_object_is_type(v, json_type_string), "%s is not a string in %s", key,
		json_object_to_json_string(o));
	ck_assert_str_eq(json_object_get_string(v), want);
	ck_assert_uint_eq((size_t)json_object_get_string_len(v), strlen(want));
}

void ut_json_assert_null(struct json_object *o, const char *key)
{
	ck_assert_msg(ut_json_field(o, key) == NULL, "%s is not null in %s", key, json_object_to_json_string(o));
}

void ut_json_assert_int(struct json_object *o, const char *key, int64_t want)
{
	struct json_object *v = ut_json_field(o, key);
	ck_assert_msg(json_object_is_type(v, json_type_int), "%s is not an integer in %s", key,
		json_object_to_json_string(o));
	ck_assert_int_eq(json_object_get_int64(v), want);
}

void ut_json_assert_keys(struct json_object *o, ...)
{
	va_list ap;
	va_start(ap, o);
	size_t n = 0;
	const char *want;
	struct json_object_iterator it = json_object_iter_begin(o);
	struct json_object_iterator end = json_object_iter_end(o);
	while((want = va_arg(ap, const char *)) != NULL){
		ck_assert_msg(!json_object_iter_equal(&it, &end), "missing key %s in %s", want,
			json_object_to_json_string(o));
		ck_assert_str_eq(json_object_iter_peek_name(&it), want);
		json_object_iter_next(&it);
		n++;
	}
	va_end(ap);
	ck_assert_msg(json_object_iter_equal(&it, &end), "extra keys after %zu in %s", n,
		json_object_to_json_string(o));
}
