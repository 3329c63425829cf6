/*
 * jetwire-token — mint a token for demos, tests and the bridge's operators.
 *
 *   jetwire-token --sub 42 --role customer [--ttl 3600] [--claim k=v]...
 *                 [--alg HS256] [--secret-file F | --secret-env VAR | --private-key F]
 *                 [--role-claim userType] [--iss ISS] [--aud AUD] [--nbf-offset S]
 *
 * Prints the token on stdout.  The HMAC secret defaults to $JWT_SECRET.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jw_file.h"
#include "jw_mint.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: jetwire-token --sub SUB --role ROLE [--ttl SECONDS] [--claim NAME=VALUE]...\n"
		"                     [--alg HS256|HS384|HS512|RS256|RS384|RS512|ES256|ES384]\n"
		"                     [--secret-file F | --secret-env VAR | --private-key F]\n"
		"                     [--role-claim NAME] [--iss ISS] [--aud AUD] [--no-exp]\n");
	return 2;
}

static long parse_long(const char *s, int *ok)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	*ok = !(errno || end == s || *end);
	return v;
}

int main(int argc, char **argv)
{
	const char *sub = NULL, *role = NULL, *alg_name = "HS256", *secret_file = NULL;
	const char *secret_env = "JWT_SECRET", *private_key = NULL, *role_claim = "userType";
	const char *iss = NULL, *aud = NULL;
	long ttl = 3600;
	int no_exp = 0, ok;
	json_object *claims = json_object_new_object();

	for(int i = 1; i < argc; i++){
		const char *a = argv[i];
		if(!strcmp(a, "--no-exp")){ no_exp = 1; continue; }
		if(i + 1 >= argc) return usage();
		const char *v = argv[++i];
		if(!strcmp(a, "--sub")) sub = v;
		else if(!strcmp(a, "--role")) role = v;
		else if(!strcmp(a, "--alg")) alg_name = v;
		else if(!strcmp(a, "--secret-file")) secret_file = v;
		else if(!strcmp(a, "--secret-env")) secret_env = v;
		else if(!strcmp(a, "--private-key")) private_key = v;
		else if(!strcmp(a, "--role-claim")) role_claim = v;
		else if(!strcmp(a, "--iss")) iss = v;
		else if(!strcmp(a, "--aud")) aud = v;
		else if(!strcmp(a, "--ttl")){
			ttl = parse_long(v, &ok);
			if(!ok) return usage();
		}else if(!strcmp(a, "--claim")){
			const char *eq = strchr(v, '=');
			if(eq == NULL || eq == v) return usage();
			char *name = strndup(v, (size_t)(eq - v));
			json_object *val = json_tokener_parse(eq + 1);   /* JSON value, or a plain string */
			json_object_object_add(claims, name, val ? val : json_object_new_string(eq + 1));
			free(name);
		}else return usage();
	}
	if(sub == NULL || role == NULL) return usage();

	jwt_alg_t alg = jwt_str_alg(alg_name);
	if(alg == JWT_ALG_INVAL || alg == JWT_ALG_NONE){
		fprintf(stderr, "jetwire-token: unknown --alg %s\n", alg_name);
		return 2;
	}
	char err[512];
	char *key = NULL;
	size_t key_len = 0;
	int rc = private_key
		? jw_read_file(private_key, 64 * 1024, &key, &key_len, err, sizeof(err))
		: jw_load_secret(secret_file, secret_env, &key, &key_len, err, sizeof(err));
	if(rc != 0){
		fprintf(stderr, "jetwire-token: %s\n", err);
		return 2;
	}

	long now = (long)time(NULL);
	ok = 0;
	long numeric_sub = parse_long(sub, &ok);
	char canon[32];
	snprintf(canon, sizeof(canon), "%ld", numeric_sub);
	ok = ok && strcmp(canon, sub) == 0;   /* "007" stays a string */
	json_object_object_add(claims, "sub", ok ? json_object_new_int64(numeric_sub) : json_object_new_string(sub));
	json_object_object_add(claims, role_claim, json_object_new_string(role));
	json_object_object_add(claims, "iat", json_object_new_int64(now));
	if(!no_exp) json_object_object_add(claims, "exp", json_object_new_int64(now + ttl));
	if(iss) json_object_object_add(claims, "iss", json_object_new_string(iss));
	if(aud) json_object_object_add(claims, "aud", json_object_new_string(aud));

	char *token = jw_mint(alg, (unsigned char *)key, key_len,
			json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN), err, sizeof(err));
	json_object_put(claims);
	free(key);
	if(token == NULL){
		fprintf(stderr, "jetwire-token: %s\n", err);
		return 2;
	}
	printf("%s\n", token);
	free(token);
	return 0;
}
