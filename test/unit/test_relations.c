/*
 * Relation store (plugin/core/relations.c): the run-time grants the bridge
 * pushes, checked on every message.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relations.h"
#include "unit_support.h"

#define NOW INT64_C(1700000000)

static struct jw_relstore *rs;

static void store_setup(void)
{
	rs = jw_rel_new();
	ck_assert_ptr_nonnull(rs);
}

static void store_teardown(void)
{
	jw_rel_free(rs);
	rs = NULL;
}

static void add(const char *o, const char *r, const char *s, int64_t expires_at)
{
	ck_assert_msg(jw_rel_add(rs, o, r, s, expires_at) == 0, "add (%s, %s, %s)", o, r, s);
}

START_TEST(adds_checks_and_removes_a_tuple)
{
	ck_assert(!jw_rel_check(rs, NOW, "order:42", "party", "customer:7"));
	add("order:42", "party", "customer:7", 0);
	ck_assert_int_eq(jw_rel_count(rs), 1);
	ck_assert(jw_rel_check(rs, NOW, "order:42", "party", "customer:7"));
	ck_assert(jw_rel_remove(rs, "order:42", "party", "customer:7"));
	ck_assert_int_eq(jw_rel_count(rs), 0);
	ck_assert(!jw_rel_check(rs, NOW, "order:42", "party", "customer:7"));
	ck_assert(!jw_rel_remove(rs, "order:42", "party", "customer:7"));
}
END_TEST

START_TEST(checks_all_three_fields_exactly)
{
	add("order:42", "party", "customer:7", 0);
	ck_assert(!jw_rel_check(rs, NOW, "order:4", "party", "customer:7"));
	ck_assert(!jw_rel_check(rs, NOW, "order:420", "party", "customer:7"));
	ck_assert(!jw_rel_check(rs, NOW, "order:42", "part", "customer:7"));
	ck_assert(!jw_rel_check(rs, NOW, "order:42", "party", "customer:70"));
	ck_assert(!jw_rel_check(rs, NOW, "order:42", "party", "driver:7"));
	ck_assert(!jw_rel_check(rs, NOW, "Order:42", "party", "customer:7"));
	/* the field boundary counts: ("a","bc") is not ("ab","c") */
	add("ab", "x", "c", 0);
	ck_assert(!jw_rel_check(rs, NOW, "a", "x", "bc"));
	ck_assert(!jw_rel_check(rs, NOW, "a", "bx", "c"));
	ck_assert(!jw_rel_remove(rs, "order:42", "party", "customer:70"));
	ck_assert_int_eq(jw_rel_count(rs), 2);
}
END_TEST

START_TEST(duplicate_add_refreshes_the_tuple)
{
	add("order:1", "party", "driver:3", NOW + 10);
	add("order:1", "party", "driver:3", NOW + 100);
	ck_assert_int_eq(jw_rel_count(rs), 1);
	ck_assert(jw_rel_check(rs, NOW + 50, "order:1", "party", "driver:3"));
	ck_assert(!jw_rel_check(rs, NOW + 100, "order:1", "party", "driver:3"));
	/* refreshed to "never", and back to a shorter expiry */
	add("order:1", "party", "driver:3", 0);
	ck_assert(jw_rel_check(rs, INT64_MAX, "order:1", "party", "driver:3"));
	add("order:1", "party", "driver:3", NOW + 5);
	ck_assert(!jw_rel_check(rs, NOW + 5, "order:1", "party", "driver:3"));
	ck_assert_int_eq(jw_rel_count(rs), 1);
}
END_TEST

static bool check_pieces(const char *o1, const char *o2, const char *rel, const char *s1, const char *s2)
{
	struct jw_piece o[2] = {{o1, strlen(o1)}, {o2, strlen(o2)}};
	struct jw_piece s[2] = {{s1, strlen(s1)}, {s2, strlen(s2)}};
	return jw_rel_check_parts(rs, NOW, o, 2, rel, strlen(rel), s, 2);
}

START_TEST(check_by_pieces_equals_check_by_string)
{
	add("order:42", "party", "customer:7", 0);
	ck_assert(check_pieces("order:", "42", "party", "customer:", "7"));
	ck_assert(check_pieces("order:42", "", "party", "", "customer:7"));
	ck_assert(check_pieces("o", "rder:42", "party", "customer:7", ""));
	ck_assert(!check_pieces("order:", "4", "party", "customer:", "7"));
	ck_assert(!check_pieces("order:", "420", "party", "customer:", "7"));
	ck_assert(!check_pieces("order:42", "", "party", "customer:", "77"));
	ck_assert(!check_pieces("order:4", "2", "part", "customer:", "7"));

	/* a single piece each, and a relation that is a slice of a longer string */
	struct jw_piece o = {"order:42", 8}, s = {"customer:7", 10};
	const char *rel = "party/extra";
	ck_assert(jw_rel_check_parts(rs, NOW, &o, 1, rel, 5, &s, 1));
	ck_assert(!jw_rel_check_parts(rs, NOW, &o, 1, rel, 6, &s, 1));
	/* no pieces at all is an empty field, which never exists */
	ck_assert(!jw_rel_check_parts(rs, NOW, NULL, 0, "party", 5, &s, 1));
	ck_assert(!jw_rel_check_parts(NULL, NOW, &o, 1, "party", 5, &s, 1));
}
END_TEST

START_TEST(tuple_expires_at_its_expiry_time)
{
	add("order:1", "party", "customer:1", NOW + 10);
	add("order:2", "party", "customer:1", 0);
	ck_assert(jw_rel_check(rs, NOW + 9, "order:1", "party", "customer:1"));
	ck_assert(!jw_rel_check(rs, NOW + 10, "order:1", "party", "customer:1"));
	ck_assert(jw_rel_check(rs, INT64_MAX, "order:2", "party", "customer:1"));
	/* still stored until swept */
	ck_assert_int_eq(jw_rel_count(rs), 2);
	ck_assert_int_eq(jw_rel_expire(rs, NOW + 9), 0);
	ck_assert_int_eq(jw_rel_expire(rs, NOW + 10), 1);
	ck_assert_int_eq(jw_rel_count(rs), 1);
	ck_assert_int_eq(jw_rel_expire(rs, INT64_MAX), 0);
	ck_assert(jw_rel_check(rs, NOW, "order:2", "party", "customer:1"));
}
END_TEST

START_TEST(sync_removes_tuples_not_mentioned_since_begin)
{
	add("order:1", "party", "customer:1", 0);
	add("order:2", "party", "customer:2", 0);
	add("order:3", "party", "customer:3", 0);
	ck_assert(!jw_rel_sync_active(rs));
	jw_rel_sync_begin(rs);
	ck_assert(jw_rel_sync_active(rs));
	add("order:1", "party", "customer:1", 0);        /* re-sent: kept */
	add("order:4", "party", "customer:4", 0);        /* new: kept */
	ck_assert(jw_rel_remove(rs, "order:2", "party", "customer:2")); /* removed during sync */
	/* normal traffic keeps working during the sync */
	ck_assert(jw_rel_check(rs, NOW, "order:3", "party", "customer:3"));
	ck_assert_int_eq(jw_rel_sync_end(rs), 1);        /* order:3 was not re-sent */
	ck_assert(!jw_rel_sync_active(rs));
	ck_assert_int_eq(jw_rel_count(rs), 2);
	ck_assert(jw_rel_check(rs, NOW, "order:1", "party", "customer:1"));
	ck_assert(!jw_rel_check(rs, NOW, "order:2", "party", "customer:2"));
	ck_assert(!jw_rel_check(rs, NOW, "order:3", "party", "customer:3"));
	ck_assert(jw_rel_check(rs, NOW, "order:4", "party", "customer:4"));
}
END_TEST

START_TEST(sync_end_without_begin_changes_nothing)
{
	add("order:1", "party", "customer:1", 0);
	ck_assert_int_eq(jw_rel_sync_end(rs), 0);
	ck_assert_int_eq(jw_rel_count(rs), 1);
	/* and a completed sync cannot be ended twice */
	jw_rel_sync_begin(rs);
	add("order:1", "party", "customer:1", 0);
	ck_assert_int_eq(jw_rel_sync_end(rs), 0);
	add("order:2", "party", "customer:1", 0);
	ck_assert_int_eq(jw_rel_sync_end(rs), 0);
	ck_assert_int_eq(jw_rel_count(rs), 2);
}
END_TEST

START_TEST(empty_sync_removes_everything)
{
	for(int i = 0; i < 100; i++){
		char o[32];
		snprintf(o, sizeof(o), "order:%d", i);
		add(o, "party", "customer:1", 0);
	}
	jw_rel_sync_begin(rs);
	ck_assert_int_eq(jw_rel_sync_end(rs), 100);
	ck_assert_int_eq(jw_rel_count(rs), 0);
}
END_TEST

START_TEST(counts_completed_syncs)
{
	ck_assert_int_eq(jw_rel_syncs_completed(rs), 0);
	ck_assert_int_eq(jw_rel_sync_end(rs), 0);          /* nothing to end: not counted */
	ck_assert_int_eq(jw_rel_syncs_completed(rs), 0);
	jw_rel_sync_begin(rs);
	jw_rel_sync_begin(rs);                             /* a restart is still one sync */
	ck_assert_int_eq(jw_rel_syncs_completed(rs), 0);
	jw_rel_sync_end(rs);
	ck_assert_int_eq(jw_rel_syncs_completed(rs), 1);
	jw_rel_sync_end(rs);
	ck_assert_int_eq(jw_rel_syncs_completed(rs), 1);
	jw_rel_sync_begin(rs);
	jw_rel_sync_end(rs);
	ck_assert_int_eq(jw_rel_syncs_completed(rs), 2);
}
END_TEST

static bool is_instance(const char *s)
{
	return s != NULL && strlen(s) == 2 * JW_REL_INSTANCE_BYTES
		&& strspn(s, "0123456789abcdef") == 2 * JW_REL_INSTANCE_BYTES;
}

START_TEST(instance_is_fixed_for_the_life_of_a_store)
{
	const char *inst = jw_relstore_instance(rs);
	ck_assert_msg(is_instance(inst), "instance '%s' is not 32 lowercase hex digits", inst);
	char *before = ut_fmt("%s", inst);
	/* nothing the store goes through changes it */
	for(int i = 0; i < 2000; i++){
		char o[32];
		snprintf(o, sizeof(o), "order:%d", i);
		add(o, "party", "customer:1", 0);
	}
	jw_rel_sync_begin(rs);
	ck_assert_int_eq(jw_rel_sync_end(rs), 2000);
	ck_assert_str_eq(jw_relstore_instance(rs), before);
	ck_assert_str_eq(jw_relstore_instance(rs), jw_relstore_instance(rs));
	free(before);
}
END_TEST

START_TEST(each_store_has_its_own_instance)
{
	enum { N = 16 };
	struct jw_relstore *st[N];
	for(int i = 0; i < N; i++){
		st[i] = jw_rel_new();
		ck_assert_ptr_nonnull(st[i]);
		ck_assert(is_instance(jw_relstore_instance(st[i])));
		ck_assert_str_ne(jw_relstore_instance(st[i]), jw_relstore_instance(rs));
		for(int j = 0; j < i; j++){
			ck_assert_str_ne(jw_relstore_instance(st[i]), jw_relstore_instance(st[j]));
		}
	}
	for(int i = 0; i < N; i++) jw_rel_free(st[i]);
}
END_TEST

START_TEST(remove_object_removes_only_that_object)
{
	add("order:42", "party", "customer:7", 0);
	add("order:42", "party", "merchant:3", 0);
	add("order:42", "serving", "driver:9", NOW + 60);
	add("order:4", "party", "customer:7", 0);
	add("order:420", "party", "customer:7", 0);
	add("customer:7", "party", "order:42", 0);
	ck_assert_int_eq(jw_rel_remove_object(rs, "order:42"), 3);
	ck_assert_int_eq(jw_rel_count(rs), 3);
	ck_assert(!jw_rel_check(rs, NOW, "order:42", "party", "customer:7"));
	ck_assert(jw_rel_check(rs, NOW, "order:4", "party", "customer:7"));
	ck_assert(jw_rel_check(rs, NOW, "order:420", "party", "customer:7"));
	ck_assert(jw_rel_check(rs, NOW, "customer:7", "party", "order:42"));
	ck_assert_int_eq(jw_rel_remove_object(rs, "order:42"), 0);
}
END_TEST

START_TEST(refuses_invalid_fields)
{
	char max[JW_REL_FIELD_MAX + 1], over[JW_REL_FIELD_MAX + 2];
	memset(max, 'x', JW_REL_FIELD_MAX);
	max[JW_REL_FIELD_MAX] = '\0';
	memset(over, 'x', JW_REL_FIELD_MAX + 1);
	over[JW_REL_FIELD_MAX + 1] = '\0';

	const char *bad[] = {"", over, "a\nb", "\t", "a\x01", "del\x7f", "\x1f"};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		ck_assert(!jw_rel_field_is_valid(bad[i], strlen(bad[i])));
		ck_assert_int_eq(jw_rel_add(rs, bad[i], "party", "customer:1", 0), -1);
		ck_assert_int_eq(jw_rel_add(rs, "order:1", bad[i], "customer:1", 0), -1);
		ck_assert_int_eq(jw_rel_add(rs, "order:1", "party", bad[i], 0), -1);
	}
	ck_assert(!jw_rel_field_is_valid(NULL, 3));
	ck_assert(!jw_rel_field_is_valid("a\0b", 3));
	ck_assert_int_eq(jw_rel_count(rs), 0);

	/* the limits themselves are fine: 255 bytes, UTF-8, spaces, '/' */
	ck_assert(jw_rel_field_is_valid(max, JW_REL_FIELD_MAX));
	add(max, max, max, 0);
	add("order:é", "party of", "a/b+#", 0);
	ck_assert(jw_rel_check(rs, NOW, max, max, max));
	ck_assert(jw_rel_check(rs, NOW, "order:é", "party of", "a/b+#"));
	ck_assert_int_eq(jw_rel_count(rs), 2);
}
END_TEST

struct visit {
	size_t seen, stop_after;
	bool saw_expiry;
};

static bool count_visit(const char *o, const char *r, const char *s, int64_t expires_at, void *arg)
{
	struct visit *v = arg;
	ck_assert(jw_rel_check(rs, NOW, o, r, s));
	if(!strcmp(o, "order:5")) v->saw_expiry = expires_at == NOW + 60;
	v->seen++;
	return v->stop_after == 0 || v->seen < v->stop_after;
}

START_TEST(foreach_visits_every_tuple_and_can_stop)
{
	struct visit v = {0};
	jw_rel_foreach(rs, count_visit, &v);
	ck_assert_int_eq(v.seen, 0);
	for(int i = 0; i < 50; i++){
		char o[32];
		snprintf(o, sizeof(o), "order:%d", i);
		add(o, "party", "customer:1", i == 5 ? NOW + 60 : 0);
	}
	jw_rel_foreach(rs, count_visit, &v);
	ck_assert_int_eq(v.seen, 50);
	ck_assert(v.saw_expiry);
	struct visit early = {.stop_after = 3};
	jw_rel_foreach(rs, count_visit, &early);
	ck_assert_int_eq(early.seen, 3);
}
END_TEST

/* ---- many entries against a reference model ----
 * Hot loops use "if(...) ck_abort_msg()": every ck_assert that passes costs
 * Check a write to its parent process. */

#define N_OBJECTS 2000
#define N_SUBJECTS 16
#define N_TUPLES (N_OBJECTS * N_SUBJECTS)

/* The reference: one slot per possible tuple. */
struct ref {
	bool present[N_TUPLES];
	int64_t expires_at[N_TUPLES];
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure replays identically */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void tuple_names(size_t t, char *o, char *s)
{
	snprintf(o, 32, "order:%zu", t / N_SUBJECTS);
	snprintf(s, 32, "%s:%zu", (t % 3) ? "customer" : "driver", t % N_SUBJECTS);
}

static bool collect(const char *o, const char *r, const char *s, int64_t expires_at, void *arg)
{
	struct ref *seen = arg;
	size_t obj, subj;
	char kind[16];
	if(strcmp(r, "party") != 0 || sscanf(o, "order:%zu", &obj) != 1
			|| sscanf(s, "%15[a-z]:%zu", kind, &subj) != 2){
		ck_abort_msg("foreach visited a tuple never added: (%s, %s, %s)", o, r, s);
	}
	size_t t = obj * N_SUBJECTS + subj;
	if(seen->present[t]) ck_abort_msg("tuple %zu visited twice", t);
	seen->present[t] = true;
	seen->expires_at[t] = expires_at;
	return true;
}

static void assert_matches(const struct ref *ref, int64_t now)
{
	size_t n = 0;
	char o[32], s[32];
	for(size_t t = 0; t < N_TUPLES; t++){
		tuple_names(t, o, s);
		bool want = ref->present[t] && (ref->expires_at[t] == 0 || ref->expires_at[t] > now);
		if(jw_rel_check(rs, now, o, "party", s) != want) ck_abort_msg("tuple %zu (%s, %s)", t, o, s);
		n += ref->present[t];
	}
	ck_assert_int_eq(jw_rel_count(rs), n);

	struct ref *seen = calloc(1, sizeof(*seen));
	ck_assert_ptr_nonnull(seen);
	jw_rel_foreach(rs, collect, seen);
	for(size_t t = 0; t < N_TUPLES; t++){
		if(seen->present[t] != ref->present[t]
				|| (ref->present[t] && seen->expires_at[t] != ref->expires_at[t])){
			ck_abort_msg("foreach disagrees on tuple %zu", t);
		}
	}
	free(seen);
}

START_TEST(stays_consistent_through_growth_and_random_removes)
{
	struct ref *ref = calloc(1, sizeof(*ref));
	ck_assert_ptr_nonnull(ref);
	char o[32], s[32];

	for(int round = 0; round < 6; round++){
		for(int op = 0; op < 50000; op++){
			size_t t = (size_t)(rng() % N_TUPLES);
			tuple_names(t, o, s);
			uint64_t what = rng() % 1000;
			if(what < 600){
				int64_t exp = (rng() % 4 == 0) ? NOW + (int64_t)(rng() % 1000) : 0;
				if(jw_rel_add(rs, o, "party", s, exp) != 0) ck_abort_msg("add %zu", t);
				ref->present[t] = true;
				ref->expires_at[t] = exp;
			}else if(what < 997){ /* remove_object scans the table: rarer */
				if(jw_rel_remove(rs, o, "party", s) != ref->present[t]) ck_abort_msg("remove %zu", t);
				ref->present[t] = false;
			}else{
				size_t obj = t / N_SUBJECTS, want = 0;
				for(size_t k = obj * N_SUBJECTS; k < (obj + 1) * N_SUBJECTS; k++){
					want += ref->present[k];
					ref->present[k] = false;
				}
				ck_assert_int_eq(jw_rel_remove_object(rs, o), want);
			}
		}
		assert_matches(ref, NOW + round * 100);
	}
	ck_assert_int_gt(jw_rel_count(rs), 10000); /* the table grew well past its first size */

	/* sweeping expired tuples in bulk (exercises deletion across the table) */
	int64_t cut = NOW + 500;
	size_t want = 0;
	for(size_t t = 0; t < N_TUPLES; t++){
		if(ref->present[t] && ref->expires_at[t] != 0 && ref->expires_at[t] <= cut){
			ref->present[t] = false;
			want++;
		}
	}
	ck_assert_int_gt(want, 0);
	ck_assert_int_eq(jw_rel_expire(rs, cut), want);
	assert_matches(ref, cut);

	/* a sync that re-sends every other present tuple */
	jw_rel_sync_begin(rs);
	want = 0;
	for(size_t t = 0; t < N_TUPLES; t++){
		if(!ref->present[t]) continue;
		if(t % 2){
			tuple_names(t, o, s);
			add(o, "party", s, ref->expires_at[t]);
		}else{
			ref->present[t] = false;
			want++;
		}
	}
	ck_assert_int_eq(jw_rel_sync_end(rs), want);
	assert_matches(ref, cut);

	/* and everything can be removed again */
	for(size_t t = 0; t < N_TUPLES; t++){
		if(!ref->present[t]) continue;
		tuple_names(t, o, s);
		ck_assert(jw_rel_remove(rs, o, "party", s));
		ref->present[t] = false;
	}
	ck_assert_int_eq(jw_rel_count(rs), 0);
	assert_matches(ref, cut);
	free(ref);
}
END_TEST

static Suite *relations_suite(void)
{
	Suite *s = suite_create("relations");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, store_setup, store_teardown);
	tcase_add_test(tc, adds_checks_and_removes_a_tuple);
	tcase_add_test(tc, checks_all_three_fields_exactly);
	tcase_add_test(tc, duplicate_add_refreshes_the_tuple);
	tcase_add_test(tc, check_by_pieces_equals_check_by_string);
	tcase_add_test(tc, tuple_expires_at_its_expiry_time);
	tcase_add_test(tc, sync_removes_tuples_not_mentioned_since_begin);
	tcase_add_test(tc, sync_end_without_begin_changes_nothing);
	tcase_add_test(tc, empty_sync_removes_everything);
	tcase_add_test(tc, counts_completed_syncs);
	tcase_add_test(tc, instance_is_fixed_for_the_life_of_a_store);
	tcase_add_test(tc, each_store_has_its_own_instance);
	tcase_add_test(tc, remove_object_removes_only_that_object);
	tcase_add_test(tc, refuses_invalid_fields);
	tcase_add_test(tc, foreach_visits_every_tuple_and_can_stop);
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	tcase_add_checked_fixture(tc, store_setup, store_teardown);
	tcase_add_test(tc, stays_consistent_through_growth_and_random_removes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_run(relations_suite());
}
