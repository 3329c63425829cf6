/*
 * libFuzzer target: jw_control_apply (plugin/core/control.c), the
 * $CONTROL/jetwire/v1 command language, against a relation store that
 * persists across the two applications of each input.
 *
 * Invariants: every payload gets a JSON response with one entry per
 * command (or one error entry), the outcome counters agree with it, and
 * the store stays consistent (every tuple valid, visible to lookups until
 * it expires, counted once).
 */
#define _POSIX_C_SOURCE 200809L
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "relations.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW INT64_C(1700000000)

struct walk {
	const struct jw_relstore *rs;
	int64_t now;
	size_t n;
};

static bool visit(const char *o, const char *r, const char *s, int64_t exp, void *arg)
{
	struct walk *w = arg;
	w->n++;
	if(!jw_rel_field_is_valid(o, strlen(o)) || !jw_rel_field_is_valid(r, strlen(r))
			|| !jw_rel_field_is_valid(s, strlen(s))){
		fprintf(stderr, "invalid tuple stored\n");
		abort();
	}
	if(exp < 0) abort();
	bool live = exp == 0 || exp > w->now;
	if(jw_rel_check(w->rs, w->now, o, r, s) != live){
		fprintf(stderr, "tuple (%s, %s, %s) exp %lld: lookup disagrees\n", o, r, s, (long long)exp);
		abort();
	}
	return true;
}

static void check_store(const struct jw_relstore *rs, int64_t now)
{
	struct walk w = {rs, now, 0};
	jw_rel_foreach(rs, visit, &w);
	if(w.n != jw_rel_count(rs)){
		fprintf(stderr, "foreach saw %zu tuples, count says %zu\n", w.n, jw_rel_count(rs));
		abort();
	}
}

static void check_response(const char *resp, const struct jw_control_outcome *out)
{
	if(resp == NULL) abort();
	json_object *doc = json_tokener_parse(resp);
	json_object *arr;
	if(doc == NULL || !json_object_is_type(doc, json_type_object)
			|| !json_object_object_get_ex(doc, "responses", &arr)
			|| !json_object_is_type(arr, json_type_array)){
		fprintf(stderr, "response is not {\"responses\":[...]}: %s\n", resp);
		abort();
	}
	size_t n = json_object_array_length(arr), errors = 0;
	for(size_t i = 0; i < n; i++){
		json_object *e = json_object_array_get_idx(arr, i), *v;
		if(!json_object_is_type(e, json_type_object)) abort();
		if(json_object_object_get_ex(e, "error", &v)){
			if(!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) abort();
			errors++;
		}
	}
	bool whole_doc_error = out->commands == 0 && out->failed == 1 && n == 1;
	if(!whole_doc_error && (n != out->commands || errors != out->failed)){
		fprintf(stderr, "%zu responses, %zu errors; outcome says %u commands, %u failed: %s\n",
				n, errors, out->commands, out->failed, resp);
		abort();
	}
	json_object_put(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if(size > 1 << 20) return 0;
	struct jw_relstore *rs = jw_rel_new();
	if(rs == NULL) return 0;
	for(int round = 0; round < 2; round++){
		int64_t now = NOW + round * 1800;
		struct jw_control_outcome out;
		char *resp = jw_control_apply(rs, now, data, size, &out);
		check_response(resp, &out);
		free(resp);
		check_store(rs, now);
	}
	/* expiry removes exactly the tuples that lookups already refuse */
	int64_t later = NOW + 86400;
	size_t before = jw_rel_count(rs);
	size_t gone = jw_rel_expire(rs, later);
	if(gone > before || jw_rel_count(rs) != before - gone) abort();
	check_store(rs, later);
	/* the response to NULL outcome is the same document shape */
	char *resp = jw_control_apply(rs, later, data, size, NULL);
	if(resp == NULL) abort();
	free(resp);
	jw_rel_free(rs);
	return 0;
}
