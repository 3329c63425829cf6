/*
 * jetwire-acl — check an ACL file, or explain one decision.
 *
 *   jetwire-acl check FILE
 *   jetwire-acl explain FILE (--claims JSON | --token TOKEN [key options])
 *                       --topic TOPIC --access read|write|subscribe
 *                       [--relation "OBJECT RELATION SUBJECT"]... [--clientid ID]
 *
 * Exit status: check 0 valid, 1 invalid; explain 0 allow, 1 deny; 2 usage or
 * other error.  Key options take the plugin's option names:
 *   --jwt_alg RS256 --jwt_public_key_file key.pem --jwt_secret_file f ...
 */
#define _POSIX_C_SOURCE 200809L
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "jw_topic.h"
#include "options.h"
#include "relations.h"
#include "token.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: jetwire-acl check FILE\n"
		"       jetwire-acl explain FILE (--claims JSON | --token TOKEN [--jwt_alg ALG]\n"
		"                   [--jwt_secret_file F | --jwt_secret_env VAR | --jwt_public_key_file F]\n"
		"                   [--jwt_role_claim NAME] ...) --topic TOPIC --access read|write|subscribe\n"
		"                   [--relation \"OBJECT RELATION SUBJECT\"]... [--clientid ID]\n");
	return 2;
}

static int cmd_check(const char *file)
{
	char err[1024];
	struct jw_acl *acl = jw_acl_load(file, err, sizeof(err));
	if(acl == NULL){
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%s: OK, %zu rules in %zu file(s)\n", file, jw_acl_rule_count(acl), jw_acl_file_count(acl));
	jw_acl_free(acl);
	return 0;
}

/* --claims '{"sub":"42","userType":"customer"}': identity without a token. */
static int principal_from_claims(const char *json, const char *role_claim, struct jw_principal *out)
{
	json_object *o = json_tokener_parse(json);
	json_object *v;
	int rc = -1;
	memset(out, 0, sizeof(*out));
	if(o == NULL || !json_object_is_type(o, json_type_object)){
		fprintf(stderr, "jetwire-acl: --claims: not a JSON object\n");
		goto done;
	}
	if(!json_object_object_get_ex(o, "sub", &v)
			|| !(json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int))){
		fprintf(stderr, "jetwire-acl: --claims: \"sub\" missing (string or integer)\n");
		goto done;
	}
	const char *sub = json_object_get_string(v);
	if(!jw_level_is_safe(sub, strlen(sub), JW_SUB_MAX)){
		fprintf(stderr, "jetwire-acl: --claims: \"sub\" is not a safe topic level (the broker refuses it)\n");
		goto done;
	}
	snprintf(out->sub, sizeof(out->sub), "%s", sub);
	if(!json_object_object_get_ex(o, role_claim, &v) || !json_object_is_type(v, json_type_string)
			|| !jw_level_is_safe(json_object_get_string(v), strlen(json_object_get_string(v)), JW_ROLE_MAX)
			|| strchr(json_object_get_string(v), ':') != NULL){
		/* the broker refuses such a token (unknown_role): say so rather than explain */
		fprintf(stderr, "jetwire-acl: --claims: \"%s\" missing or not a role name\n", role_claim);
		goto done;
	}
	snprintf(out->role, sizeof(out->role), "%s", json_object_get_string(v));
	rc = 0;
done:
	json_object_put(o);
	return rc;
}

static int add_relation(struct jw_relstore *rs, const char *spec)
{
	char o[JW_REL_FIELD_MAX + 1], r[JW_REL_FIELD_MAX + 1], s[JW_REL_FIELD_MAX + 1];
	char extra;
	if(sscanf(spec, "%255s %255s %255s %c", o, r, s, &extra) != 3 || jw_rel_add(rs, o, r, s, 0) != 0){
		fprintf(stderr, "jetwire-acl: --relation \"%s\": expected \"OBJECT RELATION SUBJECT\"\n", spec);
		return -1;
	}
	return 0;
}

static int cmd_explain(int argc, char **argv)
{
	const char *file = argv[0];
	const char *claims = NULL, *token = NULL, *topic = NULL, *access_name = NULL, *client_id = NULL;
	char err[1024];
	int rc = 2;
	struct jw_options opts;
	bool key_options = false;
	struct jw_relstore *rs = jw_rel_new();
	struct jw_acl *acl = NULL;

	if(rs == NULL || jw_options_init(&opts) != 0){
		fprintf(stderr, "jetwire-acl: out of memory\n");
		jw_rel_free(rs);
		return 2;
	}
	if(jw_options_set(&opts, "acl_file", file, err, sizeof(err)) != 0) goto out;

	for(int i = 1; i < argc; i++){
		const char *a = argv[i];
		if(i + 1 >= argc){ rc = usage(); goto out; }
		const char *v = argv[++i];
		if(!strcmp(a, "--claims")) claims = v;
		else if(!strcmp(a, "--token")) token = v;
		else if(!strcmp(a, "--topic")) topic = v;
		else if(!strcmp(a, "--access")) access_name = v;
		else if(!strcmp(a, "--clientid")) client_id = v;
		else if(!strcmp(a, "--relation")){
			if(add_relation(rs, v) != 0) goto out;
		}else if(!strncmp(a, "--", 2)){
			if(jw_options_set(&opts, a + 2, v, err, sizeof(err)) != 0){
				fprintf(stderr, "jetwire-acl: %s\n", err);
				goto out;
			}
			key_options = true;
		}else{
			rc = usage();
			goto out;
		}
	}
	if((claims == NULL) == (token == NULL) || topic == NULL || access_name == NULL){
		rc = usage();
		goto out;
	}
	enum jw_access access = jw_access_parse(access_name);
	if(access == 0){
		fprintf(stderr, "jetwire-acl: --access: expected read, write or subscribe\n");
		goto out;
	}

	struct jw_principal who;
	if(token){
		if(jw_options_finish(&opts, err, sizeof(err)) != 0){
			fprintf(stderr, "jetwire-acl: %s\n", err);
			goto out;
		}
		enum jw_token_reason r = jw_token_verify(&opts.token, token, (int64_t)time(NULL), &who);
		if(r != JW_TOK_OK){
			printf("deny: the broker refuses this token at connect (%s)\n", jw_token_reason_name(r));
			rc = 1;
			goto out;
		}
	}else{
		(void)key_options;
		if(principal_from_claims(claims, opts.token.role_claim, &who) != 0) goto out;
	}

	acl = jw_acl_load(file, err, sizeof(err));
	if(acl == NULL){
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	size_t len = strlen(topic);
	const char *t = topic;
	if(access == JW_ACCESS_SUBSCRIBE){
		t = jw_filter_strip_share(topic, &len);
		if(t == NULL || !jw_filter_is_valid(t, len)){
			printf("deny: '%s' is not a valid subscription filter\n", topic);
			rc = 1;
			goto out;
		}
	}else if(!jw_topic_is_valid_name(topic, len)){
		printf("deny: '%s' is not a valid topic name\n", topic);
		rc = 1;
		goto out;
	}
	struct jw_subject subj = {
		.role = who.role, .role_len = strlen(who.role),
		.sub = who.sub, .sub_len = strlen(who.sub),
		.client_id = client_id, .client_id_len = client_id ? strlen(client_id) : 0,
	};
	const struct jw_rule *rule;
	enum jw_decision d = jw_acl_decide(acl, rs, (int64_t)time(NULL), &subj, access, t, len, &rule);
	printf("%s: %s %s:%s %s %s\n", d == JW_ALLOW ? "allow" : "deny", "principal", who.role, who.sub,
			access_name, topic);
	if(rule){
		printf("  decided by %s:%d: %s\n", jw_rule_file(rule), jw_rule_line(rule), jw_rule_text(rule));
	}else{
		printf("  no rule matched: denied by default\n");
	}
	rc = d == JW_ALLOW ? 0 : 1;
out:
	jw_acl_free(acl);
	jw_rel_free(rs);
	jw_options_clear(&opts);
	return rc;
}

int main(int argc, char **argv)
{
	if(argc >= 3 && !strcmp(argv[1], "check") && argc == 3) return cmd_check(argv[2]);
	if(argc >= 3 && !strcmp(argv[1], "explain")) return cmd_explain(argc - 2, argv + 2);
	return usage();
}
