#define _POSIX_C_SOURCE 200809L
#include "control.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cmd_ctx {
	struct jw_relstore *rs;
	int64_t now;
	json_object *cmd;      /* the command object */
	json_object *resp;     /* response object to fill */
	struct jw_control_outcome *out;
	char err[256];
};

typedef int (*cmd_handler)(struct cmd_ctx *c);

/* A validated tuple, pointing into the command's JSON. */
struct tuple {
	const char *object, *relation, *subject;
	int64_t ttl;
};

static int field(json_object *o, const char *name, const char **out, char *err, size_t errlen,
		const char *where)
{
	json_object *v;
	if(!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string)){
		snprintf(err, errlen, "%s.%s: missing or not a string", where, name);
		return -1;
	}
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);
	if(strlen(s) != len || !jw_rel_field_is_valid(s, len)){
		snprintf(err, errlen, "%s.%s: must be 1..%d bytes without control characters",
				where, name, JW_REL_FIELD_MAX);
		return -1;
	}
	*out = s;
	return 0;
}

/* Validate every element of "relations" before anything is applied. */
static struct tuple *read_tuples(struct cmd_ctx *c, size_t *n_out, bool want_ttl)
{
	json_object *arr;
	if(!json_object_object_get_ex(c->cmd, "relations", &arr) || !json_object_is_type(arr, json_type_array)){
		snprintf(c->err, sizeof(c->err), "relations: missing or not an array");
		return NULL;
	}
	size_t n = json_object_array_length(arr);
	struct tuple *t = calloc(n ? n : 1, sizeof(*t));
	if(t == NULL){
		snprintf(c->err, sizeof(c->err), "out of memory");
		return NULL;
	}
	for(size_t i = 0; i < n; i++){
		json_object *e = json_object_array_get_idx(arr, i);
		char where[48];
		snprintf(where, sizeof(where), "relations[%zu]", i);
		if(!json_object_is_type(e, json_type_object)){
			snprintf(c->err, sizeof(c->err), "%s: not an object", where);
			free(t);
			return NULL;
		}
		if(field(e, "object", &t[i].object, c->err, sizeof(c->err), where)
				|| field(e, "relation", &t[i].relation, c->err, sizeof(c->err), where)
				|| field(e, "subject", &t[i].subject, c->err, sizeof(c->err), where)){
			free(t);
			return NULL;
		}
		json_object *ttl;
		if(want_ttl && json_object_object_get_ex(e, "ttl", &ttl)){
			if(!json_object_is_type(ttl, json_type_int) || json_object_get_int64(ttl) <= 0
					|| json_object_get_int64(ttl) > 10LL * 365 * 86400){
				snprintf(c->err, sizeof(c->err), "%s.ttl: must be a positive number of seconds", where);
				free(t);
				return NULL;
			}
			t[i].ttl = json_object_get_int64(ttl);
		}
	}
	*n_out = n;
	return t;
}

static int add_tuples(struct cmd_ctx *c)
{
	size_t n;
	struct tuple *t = read_tuples(c, &n, true);
	if(t == NULL) return -1;
	for(size_t i = 0; i < n; i++){
		if(jw_rel_add(c->rs, t[i].object, t[i].relation, t[i].subject,
					t[i].ttl ? c->now + t[i].ttl : 0) != 0){
			snprintf(c->err, sizeof(c->err), "relations[%zu]: out of memory (%zu added before it)", i, i);
			c->out->added += i;
			free(t);
			return -1;
		}
	}
	c->out->added += n;
	json_object_object_add(c->resp, "added", json_object_new_int64((int64_t)n));
	free(t);
	return 0;
}

static int cmd_add(struct cmd_ctx *c)
{
	return add_tuples(c);
}

static int cmd_remove(struct cmd_ctx *c)
{
	size_t n, removed = 0;
	struct tuple *t = read_tuples(c, &n, false);
	if(t == NULL) return -1;
	for(size_t i = 0; i < n; i++){
		removed += jw_rel_remove(c->rs, t[i].object, t[i].relation, t[i].subject);
	}
	free(t);
	c->out->removed += removed;
	json_object_object_add(c->resp, "removed", json_object_new_int64((int64_t)removed));
	return 0;
}

static int cmd_remove_object(struct cmd_ctx *c)
{
	const char *object;
	if(field(c->cmd, "object", &object, c->err, sizeof(c->err), "command")) return -1;
	size_t removed = jw_rel_remove_object(c->rs, object);
	c->out->removed += removed;
	json_object_object_add(c->resp, "removed", json_object_new_int64((int64_t)removed));
	return 0;
}

static int cmd_sync_begin(struct cmd_ctx *c)
{
	jw_rel_sync_begin(c->rs);
	return 0;
}

static int cmd_sync_end(struct cmd_ctx *c)
{
	if(!jw_rel_sync_active(c->rs)){
		snprintf(c->err, sizeof(c->err), "no sync in progress (send syncBegin first)");
		return -1;
	}
	size_t removed = jw_rel_sync_end(c->rs);
	c->out->removed += removed;
	c->out->syncs_completed++;
	json_object_object_add(c->resp, "removed", json_object_new_int64((int64_t)removed));
	json_object_object_add(c->resp, "count", json_object_new_int64((int64_t)jw_rel_count(c->rs)));
	return 0;
}

/* Replace everything in one message: begin, add, end.  Validated first, so a
 * bad document leaves the store untouched. */
static int cmd_replace(struct cmd_ctx *c)
{
	size_t n;
	struct tuple *t = read_tuples(c, &n, true);
	if(t == NULL) return -1;
	free(t);
	jw_rel_sync_begin(c->rs);
	if(add_tuples(c) != 0){
		/* out of memory half-way: leave the sync open rather than sweep
		 * tuples that were never re-sent; the next sync settles it */
		return -1;
	}
	return cmd_sync_end(c);
}

static int cmd_count(struct cmd_ctx *c)
{
	json_object_object_add(c->resp, "count", json_object_new_int64((int64_t)jw_rel_count(c->rs)));
	return 0;
}

/* Which store is this, and what state is it in?  The bridge asks after every
 * (re)connect: a new instance means the broker restarted with an empty
 * store, so it resyncs. */
static int cmd_status(struct cmd_ctx *c)
{
	json_object_object_add(c->resp, "instance", json_object_new_string(jw_relstore_instance(c->rs)));
	json_object_object_add(c->resp, "count", json_object_new_int64((int64_t)jw_rel_count(c->rs)));
	json_object_object_add(c->resp, "syncing", json_object_new_boolean(jw_rel_sync_active(c->rs)));
	json_object_object_add(c->resp, "generation",
			json_object_new_int64((int64_t)jw_rel_syncs_completed(c->rs)));
	return 0;
}

struct list_arg {
	json_object *arr;
	const char *object, *subject;
	size_t limit;
};

static bool list_one(const char *o, const char *r, const char *s, int64_t exp, void *arg)
{
	struct list_arg *a = arg;
	if(a->object && strcmp(a->object, o) != 0) return true;
	if(a->subject && strcmp(a->subject, s) != 0) return true;
	if(json_object_array_length(a->arr) >= a->limit) return false;
	json_object *t = json_object_new_object();
	json_object_object_add(t, "object", json_object_new_string(o));
	json_object_object_add(t, "relation", json_object_new_string(r));
	json_object_object_add(t, "subject", json_object_new_string(s));
	if(exp) json_object_object_add(t, "expiresAt", json_object_new_int64(exp));
	json_object_array_add(a->arr, t);
	return true;
}

/* Debugging aid: relations of one object or one subject, at most 1000. */
static int cmd_list(struct cmd_ctx *c)
{
	struct list_arg a = {.limit = 1000};
	json_object *v;
	if(json_object_object_get_ex(c->cmd, "object", &v)) a.object = json_object_get_string(v);
	if(json_object_object_get_ex(c->cmd, "subject", &v)) a.subject = json_object_get_string(v);
	if(a.object == NULL && a.subject == NULL){
		snprintf(c->err, sizeof(c->err), "listRelations needs \"object\" or \"subject\"");
		return -1;
	}
	a.arr = json_object_new_array();
	jw_rel_foreach(c->rs, list_one, &a);
	json_object_object_add(c->resp, "relations", a.arr);
	return 0;
}

static const struct {
	const char *name;
	cmd_handler fn;
} commands[] = {
	{"addRelations", cmd_add},
	{"removeRelations", cmd_remove},
	{"removeObject", cmd_remove_object},
	{"replaceRelations", cmd_replace},
	{"syncBegin", cmd_sync_begin},
	{"syncEnd", cmd_sync_end},
	{"countRelations", cmd_count},
	{"listRelations", cmd_list},
	{"status", cmd_status},
};

static void run_command(struct cmd_ctx *c, json_object *responses)
{
	json_object *name, *corr;
	c->resp = json_object_new_object();
	c->err[0] = '\0';
	c->out->commands++;

	if(!json_object_is_type(c->cmd, json_type_object)
			|| !json_object_object_get_ex(c->cmd, "command", &name)
			|| !json_object_is_type(name, json_type_string)){
		json_object_object_add(c->resp, "error", json_object_new_string("command: missing or not a string"));
		c->out->failed++;
		json_object_array_add(responses, c->resp);
		return;
	}
	json_object_object_add(c->resp, "command", json_object_get(name));
	if(json_object_object_get_ex(c->cmd, "correlationData", &corr)){
		json_object_object_add(c->resp, "correlationData", json_object_get(corr));
	}
	cmd_handler fn = NULL;
	for(size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++){
		if(strcmp(commands[i].name, json_object_get_string(name)) == 0) fn = commands[i].fn;
	}
	if(fn == NULL){
		snprintf(c->err, sizeof(c->err), "unknown command '%.64s'", json_object_get_string(name));
	}
	if(fn == NULL || fn(c) != 0){
		json_object_object_add(c->resp, "error", json_object_new_string(c->err));
		c->out->failed++;
	}
	json_object_array_add(responses, c->resp);
}

static char *error_document(const char *msg, struct jw_control_outcome *out)
{
	out->failed++;
	json_object *doc = json_object_new_object();
	json_object *arr = json_object_new_array();
	json_object *r = json_object_new_object();
	json_object_object_add(r, "error", json_object_new_string(msg));
	json_object_array_add(arr, r);
	json_object_object_add(doc, "responses", arr);
	char *s = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
	json_object_put(doc);
	return s;
}

char *jw_control_apply(struct jw_relstore *rs, int64_t now, const void *payload, size_t len,
		struct jw_control_outcome *outcome)
{
	struct jw_control_outcome scratch;
	struct jw_control_outcome *out = outcome ? outcome : &scratch;
	memset(out, 0, sizeof(*out));

	if(len == 0) return error_document("empty payload", out);
	if(len > JW_CONTROL_MAX_PAYLOAD) return error_document("payload too large", out);

	json_tokener *tok = json_tokener_new_ex(32);
	if(tok == NULL) return NULL;
	json_object *doc = json_tokener_parse_ex(tok, payload, (int)len);
	bool ok = doc != NULL && json_tokener_get_error(tok) == json_tokener_success
		&& (size_t)json_tokener_get_parse_end(tok) == len;
	json_tokener_free(tok);
	json_object *cmds;
	if(!ok || !json_object_is_type(doc, json_type_object)
			|| !json_object_object_get_ex(doc, "commands", &cmds)
			|| !json_object_is_type(cmds, json_type_array)){
		json_object_put(doc);
		return error_document("payload must be a JSON object with a \"commands\" array", out);
	}

	json_object *resp_doc = json_object_new_object();
	json_object *responses = json_object_new_array();
	json_object_object_add(resp_doc, "responses", responses);
	struct cmd_ctx c = {.rs = rs, .now = now, .out = out};
	size_t n = json_object_array_length(cmds);
	for(size_t i = 0; i < n; i++){
		c.cmd = json_object_array_get_idx(cmds, i);
		run_command(&c, responses);
	}
	char *s = strdup(json_object_to_json_string_ext(resp_doc, JSON_C_TO_STRING_PLAIN));
	json_object_put(resp_doc);
	json_object_put(doc);
	return s;
}
