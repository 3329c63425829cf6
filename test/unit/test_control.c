/*
 * Control commands (plugin/core/control.c): the JSON documents service and
 * admin clients publish to $CONTROL/jetwire/v1, and their responses.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "unit_support.h"

#define NOW INT64_C(1700000000)

static struct jw_relstore *rs;
static struct jw_control_outcome outcome;
static json_object *doc; /* the last response document */

static void setup(void)
{
	rs = jw_rel_new();
	ck_assert_ptr_nonnull(rs);
	doc = NULL;
	memset(&outcome, 0, sizeof(outcome));
}

static void teardown(void)
{
	json_object_put(doc);
	jw_rel_free(rs);
}

/* Apply `len` bytes of `payload` and parse the response into `doc`. */
static void apply_n(const char *payload, size_t len)
{
	char *resp = jw_control_apply(rs, NOW, payload, len, &outcome);
	ck_assert_ptr_nonnull(resp);
	json_object_put(doc);
	doc = json_tokener_parse(resp);
	ck_assert_msg(doc != NULL, "response is not JSON: %s", resp);
	free(resp);
	json_object *responses;
	ck_assert(json_object_object_get_ex(doc, "responses", &responses));
	ck_assert(json_object_is_type(responses, json_type_array));
}

static void apply(const char *payload)
{
	apply_n(payload, strlen(payload));
}

static size_t n_responses(void)
{
	json_object *responses;
	json_object_object_get_ex(doc, "responses", &responses);
	return json_object_array_length(responses);
}

/* responses[i] of the last document. */
static json_object *response(size_t i)
{
	json_object *responses;
	json_object_object_get_ex(doc, "responses", &responses);
	ck_assert_int_lt(i, json_object_array_length(responses));
	return json_object_array_get_idx(responses, i);
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;
	if(!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) return NULL;
	return json_object_get_string(v);
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int),
			"no integer \"%s\" in %s", key, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

static bool has(json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

/* responses[i] succeeded and answers `command`. */
static json_object *ok_response(size_t i, const char *command)
{
	json_object *r = response(i);
	ck_assert_msg(!has(r, "error"), "unexpected error: %s", json_object_to_json_string(r));
	ck_assert_pstr_eq(get_str(r, "command"), command);
	return r;
}

/* responses[i] failed with an error mentioning `needle`. */
static json_object *error_response(size_t i, const char *needle)
{
	json_object *r = response(i);
	const char *err = get_str(r, "error");
	ck_assert_msg(err != NULL, "expected an error: %s", json_object_to_json_string(r));
	ck_assert_msg(strstr(err, needle) != NULL, "error '%s' does not mention '%s'", err, needle);
	return r;
}

static void seed(const char *o, const char *r, const char *s)
{
	ck_assert_int_eq(jw_rel_add(rs, o, r, s, 0), 0);
}

/* ---- commands ---- */

START_TEST(add_relations_adds_every_tuple)
{
	apply("{\"commands\":[{\"command\":\"addRelations\",\"relations\":["
			"{\"object\":\"order:42\",\"relation\":\"party\",\"subject\":\"customer:7\"},"
			"{\"object\":\"order:42\",\"relation\":\"party\",\"subject\":\"merchant:3\"}]}]}");
	json_object *r = ok_response(0, "addRelations");
	ck_assert_int_eq(get_int(r, "added"), 2);
	ck_assert(jw_rel_check(rs, NOW, "order:42", "party", "customer:7"));
	ck_assert(jw_rel_check(rs, NOW, "order:42", "party", "merchant:3"));
	ck_assert(jw_rel_check(rs, INT64_MAX, "order:42", "party", "merchant:3")); /* no ttl: never expires */
	ck_assert_int_eq(outcome.commands, 1);
	ck_assert_int_eq(outcome.failed, 0);
	ck_assert_int_eq(outcome.added, 2);
}
END_TEST

START_TEST(add_relations_with_ttl_expires_after_ttl_seconds)
{
	apply("{\"commands\":[{\"command\":\"addRelations\",\"relations\":["
			"{\"object\":\"order:1\",\"relation\":\"serving\",\"subject\":\"driver:9\",\"ttl\":60}]}]}");
	ok_response(0, "addRelations");
	ck_assert(jw_rel_check(rs, NOW + 59, "order:1", "serving", "driver:9"));
	ck_assert(!jw_rel_check(rs, NOW + 60, "order:1", "serving", "driver:9"));
}
END_TEST

START_TEST(add_relations_with_an_empty_list_adds_nothing)
{
	apply("{\"commands\":[{\"command\":\"addRelations\",\"relations\":[]}]}");
	ck_assert_int_eq(get_int(ok_response(0, "addRelations"), "added"), 0);
	ck_assert_int_eq(jw_rel_count(rs), 0);
}
END_TEST

START_TEST(remove_relations_counts_only_tuples_that_existed)
{
	seed("order:1", "party", "customer:1");
	seed("order:1", "party", "merchant:1");
	apply("{\"commands\":[{\"command\":\"removeRelations\",\"relations\":["
			"{\"object\":\"order:1\",\"relation\":\"party\",\"subject\":\"customer:1\"},"
			"{\"object\":\"order:1\",\"relation\":\"party\",\"subject\":\"customer:2\",\"ttl\":\"ignored\"}]}]}");
	ck_assert_int_eq(get_int(ok_response(0, "removeRelations"), "removed"), 1);
	ck_assert_int_eq(outcome.removed, 1);
	ck_assert(!jw_rel_check(rs, NOW, "order:1", "party", "customer:1"));
	ck_assert(jw_rel_check(rs, NOW, "order:1", "party", "merchant:1"));
}
END_TEST

START_TEST(remove_object_removes_all_its_tuples)
{
	seed("order:1", "party", "customer:1");
	seed("order:1", "serving", "driver:1");
	seed("order:2", "party", "customer:1");
	apply("{\"commands\":[{\"command\":\"removeObject\",\"object\":\"order:1\"}]}");
	ck_assert_int_eq(get_int(ok_response(0, "removeObject"), "removed"), 2);
	ck_assert_int_eq(jw_rel_count(rs), 1);
	ck_assert(jw_rel_check(rs, NOW, "order:2", "party", "customer:1"));
}
END_TEST

START_TEST(replace_relations_replaces_the_whole_store)
{
	seed("order:1", "party", "customer:1");
	seed("order:2", "party", "customer:2");
	apply("{\"commands\":[{\"command\":\"replaceRelations\",\"relations\":["
			"{\"object\":\"order:2\",\"relation\":\"party\",\"subject\":\"customer:2\"},"
			"{\"object\":\"order:3\",\"relation\":\"party\",\"subject\":\"customer:3\",\"ttl\":30}]}]}");
	json_object *r = ok_response(0, "replaceRelations");
	ck_assert_int_eq(get_int(r, "added"), 2);
	ck_assert_int_eq(get_int(r, "removed"), 1);
	ck_assert_int_eq(get_int(r, "count"), 2);
	ck_assert(!jw_rel_check(rs, NOW, "order:1", "party", "customer:1"));
	ck_assert(jw_rel_check(rs, NOW, "order:2", "party", "customer:2"));
	ck_assert(jw_rel_check(rs, NOW + 29, "order:3", "party", "customer:3"));
	ck_assert(!jw_rel_check(rs, NOW + 30, "order:3", "party", "customer:3"));
	ck_assert(!jw_rel_sync_active(rs));
	ck_assert_int_eq(outcome.syncs_completed, 1);
}
END_TEST

START_TEST(sync_across_messages_removes_what_was_not_resent)
{
	seed("order:1", "party", "customer:1");
	seed("order:2", "party", "customer:2");
	apply("{\"commands\":[{\"command\":\"syncBegin\"}]}");
	ok_response(0, "syncBegin");
	ck_assert(jw_rel_sync_active(rs));
	apply("{\"commands\":[{\"command\":\"addRelations\",\"relations\":["
			"{\"object\":\"order:2\",\"relation\":\"party\",\"subject\":\"customer:2\"},"
			"{\"object\":\"order:5\",\"relation\":\"party\",\"subject\":\"customer:5\"}]}]}");
	ok_response(0, "addRelations");
	/* during the sync the old grants still hold */
	ck_assert(jw_rel_check(rs, NOW, "order:1", "party", "customer:1"));
	apply("{\"commands\":[{\"command\":\"syncEnd\"}]}");
	json_object *r = ok_response(0, "syncEnd");
	ck_assert_int_eq(get_int(r, "removed"), 1);
	ck_assert_int_eq(get_int(r, "count"), 2);
	ck_assert_int_eq(outcome.syncs_completed, 1);
	ck_assert(!jw_rel_sync_active(rs));
	ck_assert(!jw_rel_check(rs, NOW, "order:1", "party", "customer:1"));
	ck_assert(jw_rel_check(rs, NOW, "order:5", "party", "customer:5"));
}
END_TEST

START_TEST(count_relations_reports_the_store_size)
{
	apply("{\"commands\":[{\"command\":\"countRelations\"}]}");
	ck_assert_int_eq(get_int(ok_response(0, "countRelations"), "count"), 0);
	seed("order:1", "party", "customer:1");
	seed("order:2", "party", "customer:1");
	apply("{\"commands\":[{\"command\":\"countRelations\"}]}");
	ck_assert_int_eq(get_int(ok_response(0, "countRelations"), "count"), 2);
}
END_TEST

/* status: the store's instance, size, sync state and completed syncs. */
static json_object *status(int line)
{
	apply("{\"commands\":[{\"command\":\"status\"}]}");
	ck_assert_int_eq(n_responses(), 1);
	json_object *r = ok_response(0, "status");
	const char *inst = get_str(r, "instance");
	ck_assert_msg(inst != NULL, "line %d: no instance in %s", line, json_object_to_json_string(r));
	ck_assert_msg(strlen(inst) == 32 && strspn(inst, "0123456789abcdef") == 32,
			"line %d: instance '%s' is not 32 lowercase hex digits", line, inst);
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(r, "syncing", &v) && json_object_is_type(v, json_type_boolean),
			"line %d: no boolean syncing in %s", line, json_object_to_json_string(r));
	return r;
}
#define STATUS() status(__LINE__)

static bool syncing(json_object *r)
{
	json_object *v;
	json_object_object_get_ex(r, "syncing", &v);
	return json_object_get_boolean(v);
}

START_TEST(status_of_a_fresh_store)
{
	json_object *r = STATUS();
	ck_assert_int_eq(get_int(r, "count"), 0);
	ck_assert(!syncing(r));
	ck_assert_int_eq(get_int(r, "generation"), 0);
	ck_assert_str_eq(get_str(r, "instance"), jw_relstore_instance(rs));
	/* exactly these fields, nothing else */
	ck_assert_int_eq(json_object_object_length(r), 5);
	ck_assert_int_eq(outcome.commands, 1);
	ck_assert_int_eq(outcome.failed, 0);
	ck_assert_int_eq(outcome.added + outcome.removed, 0);
	ck_assert_int_eq(outcome.syncs_completed, 0);
}
END_TEST

START_TEST(status_follows_adds_and_syncs)
{
	char *inst = ut_fmt("%s", get_str(STATUS(), "instance"));
	apply("{\"commands\":[{\"command\":\"addRelations\",\"relations\":["
			"{\"object\":\"order:1\",\"relation\":\"party\",\"subject\":\"customer:1\"},"
			"{\"object\":\"order:2\",\"relation\":\"party\",\"subject\":\"customer:2\"}]}]}");
	json_object *r = STATUS();
	ck_assert_int_eq(get_int(r, "count"), 2);
	ck_assert(!syncing(r));
	ck_assert_int_eq(get_int(r, "generation"), 0);

	/* during a sync: syncing, the generation not yet counted */
	apply("{\"commands\":[{\"command\":\"syncBegin\"}]}");
	r = STATUS();
	ck_assert(syncing(r));
	ck_assert_int_eq(get_int(r, "count"), 2);
	ck_assert_int_eq(get_int(r, "generation"), 0);
	apply("{\"commands\":[{\"command\":\"addRelations\",\"relations\":["
			"{\"object\":\"order:2\",\"relation\":\"party\",\"subject\":\"customer:2\"}]}]}");
	ck_assert(syncing(STATUS()));

	apply("{\"commands\":[{\"command\":\"syncEnd\"}]}");
	r = STATUS();
	ck_assert(!syncing(r));
	ck_assert_int_eq(get_int(r, "count"), 1);
	ck_assert_int_eq(get_int(r, "generation"), 1);

	/* a refused syncEnd counts nothing; replaceRelations is a sync too */
	apply("{\"commands\":[{\"command\":\"syncEnd\"}]}");
	ck_assert_int_eq(get_int(STATUS(), "generation"), 1);
	apply("{\"commands\":[{\"command\":\"replaceRelations\",\"relations\":[]}]}");
	r = STATUS();
	ck_assert_int_eq(get_int(r, "generation"), 2);
	ck_assert_int_eq(get_int(r, "count"), 0);
	/* the same store answers the same instance every time */
	ck_assert_str_eq(get_str(r, "instance"), inst);
	free(inst);
}
END_TEST

START_TEST(status_in_a_batch_sees_the_commands_before_it)
{
	apply("{\"commands\":["
			"{\"command\":\"syncBegin\"},"
			"{\"command\":\"status\",\"correlationData\":\"mid\"},"
			"{\"command\":\"addRelations\",\"relations\":["
			"{\"object\":\"order:1\",\"relation\":\"party\",\"subject\":\"customer:1\"}]},"
			"{\"command\":\"syncEnd\"},"
			"{\"command\":\"status\",\"ignored\":[1,2]}]}");
	ck_assert_int_eq(n_responses(), 5);
	json_object *mid = ok_response(1, "status"), *end = ok_response(4, "status"), *v;
	ck_assert_pstr_eq(get_str(mid, "correlationData"), "mid");
	ck_assert(json_object_object_get_ex(mid, "syncing", &v) && json_object_get_boolean(v));
	ck_assert_int_eq(get_int(mid, "count"), 0);
	ck_assert_int_eq(get_int(mid, "generation"), 0);
	ck_assert(json_object_object_get_ex(end, "syncing", &v) && !json_object_get_boolean(v));
	ck_assert_int_eq(get_int(end, "count"), 1);
	ck_assert_int_eq(get_int(end, "generation"), 1);
	ck_assert_str_eq(get_str(mid, "instance"), get_str(end, "instance"));
}
END_TEST

START_TEST(status_of_two_stores_gives_two_instances)
{
	char *first = ut_fmt("%s", get_str(STATUS(), "instance"));
	struct jw_relstore *other = jw_rel_new();
	ck_assert_ptr_nonnull(other);
	const char *p = "{\"commands\":[{\"command\":\"status\"}]}";
	char *resp = jw_control_apply(other, NOW, p, strlen(p), NULL);
	ck_assert_ptr_nonnull(resp);
	json_object *d = json_tokener_parse(resp), *arr;
	ck_assert_ptr_nonnull(d);
	ck_assert(json_object_object_get_ex(d, "responses", &arr));
	const char *second = get_str(json_object_array_get_idx(arr, 0), "instance");
	ck_assert_ptr_nonnull(second);
	ck_assert_int_eq(strlen(second), 32);
	ck_assert_str_ne(first, second);
	ck_assert_str_eq(second, jw_relstore_instance(other));
	/* asking again does not change either */
	ck_assert_str_eq(get_str(STATUS(), "instance"), first);
	json_object_put(d);
	free(resp);
	jw_rel_free(other);
	free(first);
}
END_TEST

/* The tuples listed in response(0), as "object|relation|subject|expiresAt" lines, sorted. */
static char *listed(void)
{
	json_object *arr;
	ck_assert(json_object_object_get_ex(response(0), "relations", &arr));
	size_t n = json_object_array_length(arr);
	char **lines = calloc(n + 1, sizeof(*lines));
	ck_assert_ptr_nonnull(lines);
	for(size_t i = 0; i < n; i++){
		json_object *t = json_object_array_get_idx(arr, i);
		lines[i] = has(t, "expiresAt")
			? ut_fmt("%s|%s|%s|%lld", get_str(t, "object"), get_str(t, "relation"),
					get_str(t, "subject"), (long long)get_int(t, "expiresAt"))
			: ut_fmt("%s|%s|%s", get_str(t, "object"), get_str(t, "relation"), get_str(t, "subject"));
	}
	/* insertion sort: a handful of lines */
	for(size_t i = 1; i < n; i++){
		for(size_t j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--){
			char *tmp = lines[j];
			lines[j] = lines[j - 1];
			lines[j - 1] = tmp;
		}
	}
	char *out = ut_fmt("%s", "");
	for(size_t i = 0; i < n; i++){
		char *next = ut_fmt("%s%s;", out, lines[i]);
		free(out);
		free(lines[i]);
		out = next;
	}
	free(lines);
	return out;
}

START_TEST(list_relations_by_object_or_by_subject)
{
	seed("order:1", "party", "customer:1");
	seed("order:1", "party", "merchant:2");
	seed("order:2", "party", "customer:1");
	ck_assert_int_eq(jw_rel_add(rs, "order:3", "serving", "driver:4", NOW + 90), 0);

	apply("{\"commands\":[{\"command\":\"listRelations\",\"object\":\"order:1\"}]}");
	ok_response(0, "listRelations");
	char *l = listed();
	ck_assert_str_eq(l, "order:1|party|customer:1;order:1|party|merchant:2;");
	free(l);

	apply("{\"commands\":[{\"command\":\"listRelations\",\"subject\":\"customer:1\"}]}");
	l = listed();
	ck_assert_str_eq(l, "order:1|party|customer:1;order:2|party|customer:1;");
	free(l);

	apply("{\"commands\":[{\"command\":\"listRelations\",\"object\":\"order:3\",\"subject\":\"driver:4\"}]}");
	l = listed();
	ck_assert_str_eq(l, "order:3|serving|driver:4|1700000090;");
	free(l);

	apply("{\"commands\":[{\"command\":\"listRelations\",\"object\":\"order:9\"}]}");
	l = listed();
	ck_assert_str_eq(l, "");
	free(l);
}
END_TEST

START_TEST(list_relations_needs_an_object_or_a_subject)
{
	apply("{\"commands\":[{\"command\":\"listRelations\"}]}");
	error_response(0, "object");
	ck_assert_int_eq(outcome.failed, 1);
}
END_TEST

START_TEST(runs_every_command_of_a_document_in_order)
{
	apply("{\"commands\":["
			"{\"command\":\"addRelations\",\"relations\":[{\"object\":\"o:1\",\"relation\":\"r\",\"subject\":\"s:1\"}]},"
			"{\"command\":\"frobnicate\"},"
			"{\"command\":\"countRelations\"},"
			"{\"command\":\"removeObject\",\"object\":\"o:1\"},"
			"{\"command\":\"countRelations\"}]}");
	ck_assert_int_eq(n_responses(), 5);
	ok_response(0, "addRelations");
	error_response(1, "frobnicate");
	ck_assert_int_eq(get_int(ok_response(2, "countRelations"), "count"), 1);
	ck_assert_int_eq(get_int(ok_response(3, "removeObject"), "removed"), 1);
	ck_assert_int_eq(get_int(ok_response(4, "countRelations"), "count"), 0);
	ck_assert_int_eq(outcome.commands, 5);
	ck_assert_int_eq(outcome.failed, 1);
	ck_assert_int_eq(outcome.added, 1);
	ck_assert_int_eq(outcome.removed, 1);
}
END_TEST

START_TEST(echoes_correlation_data)
{
	apply("{\"commands\":["
			"{\"command\":\"countRelations\",\"correlationData\":\"abc-123\"},"
			"{\"command\":\"syncEnd\",\"correlationData\":{\"n\":7}},"
			"{\"command\":\"countRelations\"}]}");
	ck_assert_pstr_eq(get_str(ok_response(0, "countRelations"), "correlationData"), "abc-123");
	/* failures carry it too, whatever its JSON type */
	json_object *r = error_response(1, "syncBegin"), *c;
	ck_assert(json_object_object_get_ex(r, "correlationData", &c));
	ck_assert_int_eq(get_int(c, "n"), 7);
	ck_assert(!has(ok_response(2, "countRelations"), "correlationData"));
}
END_TEST

/* ---- refusals ---- */

/* The document as a whole is refused: one response with an error. */
static void assert_document_refused(const char *payload, size_t len)
{
	seed("order:1", "party", "customer:1");
	apply_n(payload, len);
	ck_assert_int_eq(n_responses(), 1);
	ck_assert_ptr_nonnull(get_str(response(0), "error"));
	ck_assert_int_eq(outcome.failed, 1);
	ck_assert_int_eq(outcome.commands, 0);
	ck_assert_int_eq(jw_rel_count(rs), 1);
}

static void assert_refused(const char *payload)
{
	assert_document_refused(payload, strlen(payload));
}

START_TEST(refuses_payload_that_is_not_json)
{
	assert_refused("hello");
	assert_refused("{\"commands\":[");
	assert_refused("{'commands':[}");
	assert_document_refused("", 0);
	assert_document_refused("\x00\x01\x02", 3);
}
END_TEST

START_TEST(refuses_json_that_is_not_an_object)
{
	assert_refused("[]");
	assert_refused("[{\"command\":\"countRelations\"}]");
	assert_refused("\"commands\"");
	assert_refused("null");
	assert_refused("42");
}
END_TEST

START_TEST(refuses_document_without_a_commands_array)
{
	assert_refused("{}");
	assert_refused("{\"command\":\"countRelations\"}");
	assert_refused("{\"commands\":{\"command\":\"countRelations\"}}");
	assert_refused("{\"commands\":null}");
	assert_refused("{\"Commands\":[]}");
}
END_TEST

START_TEST(refuses_trailing_garbage_after_the_document)
{
	assert_refused("{\"commands\":[{\"command\":\"removeObject\",\"object\":\"order:1\"}]}x");
	assert_refused("{\"commands\":[]}{\"commands\":[]}");
}
END_TEST

START_TEST(reads_only_len_bytes_of_the_payload)
{
	/* the payload is not NUL-terminated in the broker; a trailing newline
	 * (mosquitto_pub -f) is whitespace, not garbage */
	const char *p = "{\"commands\":[{\"command\":\"countRelations\"}]}\nGARBAGE";
	apply_n(p, strlen(p) - 7);
	ok_response(0, "countRelations");
}
END_TEST

START_TEST(refuses_unknown_command)
{
	apply("{\"commands\":[{\"command\":\"dropEverything\"},{\"command\":\"addrelations\",\"relations\":[]}]}");
	ck_assert_pstr_eq(get_str(error_response(0, "unknown command"), "command"), "dropEverything");
	error_response(1, "unknown command");
	ck_assert_int_eq(outcome.failed, 2);
}
END_TEST

START_TEST(refuses_command_entry_without_a_command_name)
{
	apply("{\"commands\":[{\"relations\":[]},{\"command\":42},\"addRelations\",null]}");
	ck_assert_int_eq(n_responses(), 4);
	for(size_t i = 0; i < 4; i++) error_response(i, "command");
	ck_assert_int_eq(outcome.commands, 4);
	ck_assert_int_eq(outcome.failed, 4);
}
END_TEST

START_TEST(refuses_commands_with_missing_fields)
{
	seed("order:1", "party", "customer:1");
	apply("{\"commands\":["
			"{\"command\":\"addRelations\"},"
			"{\"command\":\"addRelations\",\"relations\":{\"object\":\"o\",\"relation\":\"r\",\"subject\":\"s\"}},"
			"{\"command\":\"addRelations\",\"relations\":[{\"object\":\"o\",\"relation\":\"r\"}]},"
			"{\"command\":\"addRelations\",\"relations\":[{\"object\":\"o\",\"subject\":\"s\"}]},"
			"{\"command\":\"addRelations\",\"relations\":[{\"relation\":\"r\",\"subject\":\"s\"}]},"
			"{\"command\":\"addRelations\",\"relations\":[{\"object\":1,\"relation\":\"r\",\"subject\":\"s\"}]},"
			"{\"command\":\"addRelations\",\"relations\":[\"o r s\"]},"
			"{\"command\":\"removeRelations\"},"
			"{\"command\":\"removeObject\"},"
			"{\"command\":\"removeObject\",\"object\":7},"
			"{\"command\":\"replaceRelations\"}]}");
	const char *mention[] = {"relations", "relations", "subject", "relation", "object", "object",
		"not an object", "relations", "object", "object", "relations"};
	ck_assert_int_eq(n_responses(), 11);
	for(size_t i = 0; i < 11; i++) error_response(i, mention[i]);
	ck_assert_int_eq(outcome.failed, 11);
	ck_assert_int_eq(jw_rel_count(rs), 1);
	ck_assert(jw_rel_check(rs, NOW, "order:1", "party", "customer:1"));
}
END_TEST

START_TEST(refuses_fields_that_are_not_valid_relation_fields)
{
	char *long_field = malloc(JW_REL_FIELD_MAX + 2);
	ck_assert_ptr_nonnull(long_field);
	memset(long_field, 'x', JW_REL_FIELD_MAX + 1);
	long_field[JW_REL_FIELD_MAX + 1] = '\0';
	const char *bad[] = {"", "a\\nb", "a\\u0000b", "\\u001f", long_field};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		char *p = ut_fmt("{\"commands\":[{\"command\":\"addRelations\",\"relations\":["
				"{\"object\":\"%s\",\"relation\":\"r\",\"subject\":\"s\"}]}]}", bad[i]);
		apply(p);
		error_response(0, "object");
		free(p);
	}
	ck_assert_int_eq(jw_rel_count(rs), 0);
	free(long_field);
}
END_TEST

START_TEST(refuses_bad_ttl)
{
	const char *ttls[] = {"0", "-5", "\"60\"", "60.5", "true", "null", "315360001", "99999999999999999999"};
	for(size_t i = 0; i < sizeof(ttls) / sizeof(ttls[0]); i++){
		char *p = ut_fmt("{\"commands\":[{\"command\":\"addRelations\",\"relations\":["
				"{\"object\":\"o:1\",\"relation\":\"r\",\"subject\":\"s:1\",\"ttl\":%s}]}]}", ttls[i]);
		apply(p);
		ck_assert_msg(get_str(response(0), "error") != NULL, "ttl %s accepted", ttls[i]);
		error_response(0, "ttl");
		free(p);
	}
	ck_assert_int_eq(jw_rel_count(rs), 0);
	/* ten years is the longest ttl */
	apply("{\"commands\":[{\"command\":\"addRelations\",\"relations\":["
			"{\"object\":\"o:1\",\"relation\":\"r\",\"subject\":\"s:1\",\"ttl\":315360000}]}]}");
	ok_response(0, "addRelations");
	ck_assert(jw_rel_check(rs, NOW + 315360000 - 1, "o:1", "r", "s:1"));
}
END_TEST

START_TEST(batch_with_one_bad_tuple_changes_nothing)
{
	seed("order:1", "party", "customer:1");
	seed("order:2", "party", "customer:2");
	const char *good = "{\"object\":\"order:1\",\"relation\":\"party\",\"subject\":\"customer:1\"},"
		"{\"object\":\"order:9\",\"relation\":\"party\",\"subject\":\"customer:9\"}";
	const char *bad = "{\"object\":\"order:3\",\"relation\":\"party\",\"subject\":\"customer:3\",\"ttl\":-1}";
	const char *commands[] = {"addRelations", "removeRelations", "replaceRelations"};
	for(size_t i = 0; i < 3; i++){
		char *p = ut_fmt("{\"commands\":[{\"command\":\"%s\",\"relations\":[%s,%s]}]}",
				commands[i], good, i == 1 ? "{\"object\":\"order:2\"}" : bad);
		apply(p);
		error_response(0, "relations[2]");
		free(p);
		ck_assert_int_eq(jw_rel_count(rs), 2);
		ck_assert(jw_rel_check(rs, NOW, "order:1", "party", "customer:1"));
		ck_assert(jw_rel_check(rs, NOW, "order:2", "party", "customer:2"));
		ck_assert(!jw_rel_check(rs, NOW, "order:9", "party", "customer:9"));
		ck_assert(!jw_rel_sync_active(rs));
	}
	ck_assert_int_eq(outcome.added, 0);
	ck_assert_int_eq(outcome.removed, 0);
}
END_TEST

START_TEST(refuses_sync_end_without_sync_begin)
{
	seed("order:1", "party", "customer:1");
	apply("{\"commands\":[{\"command\":\"syncEnd\"}]}");
	error_response(0, "syncBegin");
	ck_assert_int_eq(outcome.syncs_completed, 0);
	ck_assert_int_eq(jw_rel_count(rs), 1);
}
END_TEST

START_TEST(answers_without_an_outcome_pointer)
{
	const char *p = "{\"commands\":[{\"command\":\"countRelations\"}]}";
	char *resp = jw_control_apply(rs, NOW, p, strlen(p), NULL);
	ck_assert_ptr_nonnull(resp);
	ck_assert_ptr_nonnull(strstr(resp, "\"count\":0"));
	free(resp);
	resp = jw_control_apply(rs, NOW, "nope", 4, NULL);
	ck_assert_ptr_nonnull(resp);
	ck_assert_ptr_nonnull(strstr(resp, "\"error\""));
	free(resp);
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("commands");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, add_relations_adds_every_tuple);
	tcase_add_test(tc, add_relations_with_ttl_expires_after_ttl_seconds);
	tcase_add_test(tc, add_relations_with_an_empty_list_adds_nothing);
	tcase_add_test(tc, remove_relations_counts_only_tuples_that_existed);
	tcase_add_test(tc, remove_object_removes_all_its_tuples);
	tcase_add_test(tc, replace_relations_replaces_the_whole_store);
	tcase_add_test(tc, sync_across_messages_removes_what_was_not_resent);
	tcase_add_test(tc, count_relations_reports_the_store_size);
	tcase_add_test(tc, list_relations_by_object_or_by_subject);
	tcase_add_test(tc, list_relations_needs_an_object_or_a_subject);
	tcase_add_test(tc, runs_every_command_of_a_document_in_order);
	tcase_add_test(tc, echoes_correlation_data);
	tcase_add_test(tc, answers_without_an_outcome_pointer);
	tcase_add_test(tc, status_of_a_fresh_store);
	tcase_add_test(tc, status_follows_adds_and_syncs);
	tcase_add_test(tc, status_in_a_batch_sees_the_commands_before_it);
	tcase_add_test(tc, status_of_two_stores_gives_two_instances);
	suite_add_tcase(s, tc);

	tc = tcase_create("refusals");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, refuses_payload_that_is_not_json);
	tcase_add_test(tc, refuses_json_that_is_not_an_object);
	tcase_add_test(tc, refuses_document_without_a_commands_array);
	tcase_add_test(tc, refuses_trailing_garbage_after_the_document);
	tcase_add_test(tc, reads_only_len_bytes_of_the_payload);
	tcase_add_test(tc, refuses_unknown_command);
	tcase_add_test(tc, refuses_command_entry_without_a_command_name);
	tcase_add_test(tc, refuses_commands_with_missing_fields);
	tcase_add_test(tc, refuses_fields_that_are_not_valid_relation_fields);
	tcase_add_test(tc, refuses_bad_ttl);
	tcase_add_test(tc, batch_with_one_bad_tuple_changes_nothing);
	tcase_add_test(tc, refuses_sync_end_without_sync_begin);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_run(control_suite());
}
