/*
 * Topic helpers (lib/jw_topic.c): levels, $share, filter validity and
 * matching, with MQTT's rules.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "jw_topic.h"
#include "unit_support.h"

static bool matches(const char *filter, const char *topic)
{
	return jw_filter_matches(filter, strlen(filter), topic, strlen(topic));
}

static bool valid_filter(const char *f)
{
	return jw_filter_is_valid(f, strlen(f));
}

static bool valid_name(const char *t)
{
	return jw_topic_is_valid_name(t, strlen(t));
}

static void assert_levels(const char *topic, int want_count, const char *want_joined)
{
	size_t pos = 0;
	struct jw_level lv;
	int n = 0;
	char *joined = ut_fmt("%s", "");
	while(jw_topic_next_level(topic, strlen(topic), &pos, &lv)){
		char *next = ut_fmt("%s%s%.*s", joined, n ? "|" : "", (int)lv.len, lv.ptr);
		free(joined);
		joined = next;
		n++;
	}
	ck_assert_msg(n == want_count, "'%s': %d levels, want %d", topic, n, want_count);
	ck_assert_str_eq(joined, want_joined);
	free(joined);
}

START_TEST(splits_topic_into_levels_including_empty_ones)
{
	assert_levels("a/b/c", 3, "a|b|c");
	assert_levels("a//b", 3, "a||b");
	assert_levels("", 1, "");
	assert_levels("/", 2, "|");
	assert_levels("a/", 2, "a|");
	assert_levels("/a", 2, "|a");
	assert_levels("$SYS/broker", 2, "$SYS|broker");
}
END_TEST

START_TEST(splits_only_within_the_given_length)
{
	/* a view into a larger string: "a/b" of "a/b/c" */
	size_t pos = 0;
	struct jw_level lv;
	const char *t = "a/b/c";
	ck_assert(jw_topic_next_level(t, 3, &pos, &lv));
	ck_assert(jw_topic_next_level(t, 3, &pos, &lv));
	ck_assert_int_eq(lv.len, 1);
	ck_assert_int_eq(lv.ptr[0], 'b');
	ck_assert(!jw_topic_next_level(t, 3, &pos, &lv));
}
END_TEST

static void assert_stripped(const char *filter, const char *want)
{
	size_t len = strlen(filter);
	const char *f = jw_filter_strip_share(filter, &len);
	ck_assert_msg(f != NULL, "'%s' refused", filter);
	ck_assert_int_eq(len, strlen(want));
	ck_assert_msg(memcmp(f, want, len) == 0, "'%s' -> '%.*s', want '%s'", filter, (int)len, f, want);
	ck_assert_ptr_eq(f + len, filter + strlen(filter)); /* points into the filter */
}

START_TEST(strips_share_prefix_and_group)
{
	assert_stripped("$share/workers/order/+/status", "order/+/status");
	assert_stripped("$share/g/#", "#");
	assert_stripped("$share/g/a", "a");
	assert_stripped("$share/g//", "/");
	assert_stripped("$share/g/$SYS/#", "$SYS/#");
}
END_TEST

START_TEST(leaves_other_filters_unchanged)
{
	const char *filters[] = {"order/+/status", "#", "$SYS/#", "$shared/g/a", "share/g/a", "$Share/g/a", "$share"};
	for(size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++){
		size_t len = strlen(filters[i]);
		ck_assert_ptr_eq(jw_filter_strip_share(filters[i], &len), filters[i]);
		ck_assert_int_eq(len, strlen(filters[i]));
	}
}
END_TEST

START_TEST(refuses_malformed_share_filters)
{
	const char *filters[] = {"$share/", "$share/g", "$share/g/", "$share//a", "$share//"};
	for(size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++){
		size_t len = strlen(filters[i]);
		ck_assert_msg(jw_filter_strip_share(filters[i], &len) == NULL, "'%s' accepted", filters[i]);
	}
	/* the length, not a NUL, ends the filter */
	size_t len = 8;
	ck_assert_ptr_null(jw_filter_strip_share("$share/g/a", &len));
}
END_TEST

START_TEST(validates_topic_names)
{
	const char *good[] = {"a", "a/b", "/", "a//b", "$SYS/broker", "order/42/status", "é/ü", " "};
	for(size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) ck_assert_msg(valid_name(good[i]), "'%s'", good[i]);
	const char *bad[] = {"", "+", "#", "a/+", "a/#", "a+b", "order/#/x"};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) ck_assert_msg(!valid_name(bad[i]), "'%s'", bad[i]);
	ck_assert(!jw_topic_is_valid_name("a\0b", 3));

	char *big = malloc(65536);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 65536);
	ck_assert(jw_topic_is_valid_name(big, 65535));
	ck_assert(!jw_topic_is_valid_name(big, 65536));
	free(big);
}
END_TEST

START_TEST(validates_filters)
{
	const char *good[] = {"#", "+", "a", "a/#", "a/+", "+/+/+", "a/+/b", "/#", "a//b", "+/", "/+",
		"$SYS/#", "order/+/status", "a/b/c/#"};
	for(size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) ck_assert_msg(valid_filter(good[i]), "'%s'", good[i]);
	const char *bad[] = {"", "a#", "#a", "a/#/b", "#/", "#/a", "a+", "+a", "a/b+", "a/##", "++", "a/+#", "a/#/#"};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) ck_assert_msg(!valid_filter(bad[i]), "'%s'", bad[i]);
	ck_assert(!jw_filter_is_valid("a/\0", 3));
	/* validity is judged on the given length only: "a/#" of "a/#/b" */
	ck_assert(jw_filter_is_valid("a/#/b", 3));
}
END_TEST

START_TEST(matches_exact_topics)
{
	ck_assert(matches("order/42/status", "order/42/status"));
	ck_assert(!matches("order/42/status", "order/42/Status"));
	ck_assert(!matches("order/42/status", "order/42"));
	ck_assert(!matches("order/42", "order/42/status"));
	ck_assert(!matches("order/4", "order/42"));
	ck_assert(!matches("a/b", "a/b/"));
	ck_assert(matches("a//b", "a//b"));
	ck_assert(!matches("a//b", "a/b"));
}
END_TEST

START_TEST(plus_matches_exactly_one_level)
{
	ck_assert(matches("order/+/status", "order/42/status"));
	ck_assert(!matches("order/+/status", "order/42/7/status"));
	ck_assert(!matches("order/+", "order"));
	ck_assert(matches("order/+", "order/"));          /* an empty level is a level */
	ck_assert(matches("a/+/b", "a//b"));
	ck_assert(matches("+/+", "/a"));
	ck_assert(!matches("+", "/a"));
	ck_assert(matches("+", "a"));
	ck_assert(matches("+/+/+", "a/b/c"));
	ck_assert(!matches("+/+/+", "a/b"));
}
END_TEST

START_TEST(hash_matches_the_rest_including_the_parent_level)
{
	ck_assert(matches("#", "a"));
	ck_assert(matches("#", "a/b/c"));
	ck_assert(matches("#", "/a"));
	ck_assert(matches("order/42/#", "order/42/status"));
	ck_assert(matches("order/42/#", "order/42/a/b/c"));
	ck_assert(matches("order/42/#", "order/42"));     /* the parent level */
	ck_assert(matches("order/42/#", "order/42/"));
	ck_assert(!matches("order/42/#", "order/4"));
	ck_assert(!matches("order/42/#", "order"));
	ck_assert(!matches("order/42/#", "order/43/status"));
	ck_assert(matches("+/42/#", "order/42"));
}
END_TEST

START_TEST(leading_wildcards_never_match_dollar_topics)
{
	ck_assert(!matches("#", "$SYS/broker/uptime"));
	ck_assert(!matches("+/broker/uptime", "$SYS/broker/uptime"));
	ck_assert(!matches("+/#", "$CONTROL/jetwire/v1"));
	ck_assert(!matches("#", "$"));
	ck_assert(matches("$SYS/#", "$SYS/broker/uptime"));
	ck_assert(matches("$SYS/+/uptime", "$SYS/broker/uptime"));
	ck_assert(matches("$CONTROL/jetwire/v1", "$CONTROL/jetwire/v1"));
	/* '$' elsewhere is an ordinary character */
	ck_assert(matches("#", "a/$SYS"));
	ck_assert(matches("a/+", "a/$x"));
}
END_TEST

START_TEST(matches_only_within_the_given_lengths)
{
	const char *filter = "order/+/status/extra", *topic = "order/42/status/more";
	ck_assert(jw_filter_matches(filter, 14, topic, 15));
	ck_assert(!jw_filter_matches(filter, 14, topic, 16));
	ck_assert(!jw_filter_matches(filter, 13, topic, 15));
}
END_TEST

START_TEST(accepts_safe_single_levels)
{
	const char *good[] = {"42", "customer", "d-7f3a", "a.b_c~d", "é", "a b", "$x", "x:y"};
	for(size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++){
		ck_assert_msg(jw_level_is_safe(good[i], strlen(good[i]), 128), "'%s'", good[i]);
	}
	ck_assert(jw_level_is_safe("abcd", 4, 4));
}
END_TEST

START_TEST(refuses_values_that_are_not_one_safe_level)
{
	const char *bad[] = {"", "a/b", "/", "+", "a+", "#", "a#", "\n", "a\tb", "\x01", "\x1f", "\x7f"};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		ck_assert_msg(!jw_level_is_safe(bad[i], strlen(bad[i]), 128), "'%s'", bad[i]);
	}
	ck_assert(!jw_level_is_safe("a\0b", 3, 128));
	ck_assert(!jw_level_is_safe("abcde", 5, 4));
	ck_assert(!jw_level_is_safe(NULL, 0, 4));
}
END_TEST

static Suite *topic_suite(void)
{
	Suite *s = suite_create("topic");
	TCase *tc = tcase_create("topic");
	tcase_add_test(tc, splits_topic_into_levels_including_empty_ones);
	tcase_add_test(tc, splits_only_within_the_given_length);
	tcase_add_test(tc, strips_share_prefix_and_group);
	tcase_add_test(tc, leaves_other_filters_unchanged);
	tcase_add_test(tc, refuses_malformed_share_filters);
	tcase_add_test(tc, validates_topic_names);
	tcase_add_test(tc, validates_filters);
	tcase_add_test(tc, matches_exact_topics);
	tcase_add_test(tc, plus_matches_exactly_one_level);
	tcase_add_test(tc, hash_matches_the_rest_including_the_parent_level);
	tcase_add_test(tc, leading_wildcards_never_match_dollar_topics);
	tcase_add_test(tc, matches_only_within_the_given_lengths);
	tcase_add_test(tc, accepts_safe_single_levels);
	tcase_add_test(tc, refuses_values_that_are_not_one_safe_level);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_run(topic_suite());
}
