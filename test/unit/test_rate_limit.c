/*
 * Token buckets (plugin/core/rate_limit.c): burst, refill, the cap, odd
 * clocks, and the RATE/BURST text form.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "rate_limit.h"
#include "unit_support.h"

#define SEC INT64_C(1000000000)
#define T0 (INT64_C(5000) * SEC)

static struct jw_rate rate_of(const char *text)
{
	struct jw_rate r;
	ck_assert_msg(jw_rate_parse(text, strlen(text), &r) == 0, "'%s' refused", text);
	return r;
}

/* How many of `n` takes at `now` succeed. */
static int take_n(struct jw_bucket *b, int n, int64_t now)
{
	int ok = 0;
	for(int i = 0; i < n; i++) ok += jw_bucket_take(b, now);
	return ok;
}

START_TEST(starts_full_and_allows_the_burst_at_once)
{
	struct jw_rate r = rate_of("1/10");
	struct jw_bucket b;
	jw_bucket_init(&b, &r, T0);
	ck_assert_int_eq(take_n(&b, 50, T0), 10);
	ck_assert(!jw_bucket_take(&b, T0));
}
END_TEST

START_TEST(refills_at_the_rate)
{
	struct jw_rate r = rate_of("1/10");
	struct jw_bucket b;
	jw_bucket_init(&b, &r, T0);
	ck_assert_int_eq(take_n(&b, 10, T0), 10);
	ck_assert(!jw_bucket_take(&b, T0 + SEC - 1));     /* 0.999999999 tokens */
	ck_assert(jw_bucket_take(&b, T0 + SEC));
	ck_assert(!jw_bucket_take(&b, T0 + SEC));
	ck_assert_int_eq(take_n(&b, 10, T0 + 4 * SEC), 3);
}
END_TEST

START_TEST(a_flood_is_cut_to_the_rate)
{
	/* 100 messages a second for 10 s against 1/s burst 10: 10 + 10 */
	struct jw_rate r = rate_of("1/10");
	struct jw_bucket b;
	jw_bucket_init(&b, &r, T0);
	int ok = 0;
	for(int i = 0; i < 1000; i++) ok += jw_bucket_take(&b, T0 + i * (SEC / 100));
	ck_assert_int_ge(ok, 19);
	ck_assert_int_le(ok, 20);
}
END_TEST

START_TEST(the_seed_cadence_is_never_limited)
{
	/* one location every 15 s, and bursts of 5 when the driver moves fast
	 * (100 m steps): never refused with the default */
	struct jw_rate r = rate_of("1/10");
	struct jw_bucket b;
	jw_bucket_init(&b, &r, T0);
	for(int i = 0; i < 200; i++){
		int64_t t = T0 + i * 15 * SEC;
		ck_assert_int_eq(take_n(&b, 5, t), 5);
	}
}
END_TEST

START_TEST(never_holds_more_than_the_burst)
{
	struct jw_rate r = rate_of("2/3");
	struct jw_bucket b;
	jw_bucket_init(&b, &r, T0);
	ck_assert_int_eq(take_n(&b, 3, T0), 3);
	/* a day idle: still only 3 */
	ck_assert_int_eq(take_n(&b, 10, T0 + 86400 * SEC), 3);
	/* and years: no overflow */
	ck_assert_int_eq(take_n(&b, 10, T0 + INT64_C(200) * 365 * 86400 * SEC), 3);
}
END_TEST

START_TEST(fractional_rates)
{
	struct jw_rate r = rate_of("0.2/1");
	struct jw_bucket b;
	jw_bucket_init(&b, &r, T0);
	ck_assert(jw_bucket_take(&b, T0));
	ck_assert(!jw_bucket_take(&b, T0 + 4 * SEC));
	ck_assert(jw_bucket_take(&b, T0 + 5 * SEC));
	/* the refused attempt at 4 s did not lose the time it waited */
	r = rate_of("0.001/1");
	jw_bucket_init(&b, &r, T0);
	ck_assert(jw_bucket_take(&b, T0));
	ck_assert(!jw_bucket_take(&b, T0 + 999 * SEC));
	ck_assert(jw_bucket_take(&b, T0 + 1000 * SEC));
}
END_TEST

START_TEST(extreme_rates)
{
	struct jw_rate r = rate_of("1000000/1000000");
	struct jw_bucket b;
	jw_bucket_init(&b, &r, T0);
	ck_assert_int_eq(take_n(&b, 1000, T0), 1000);
	ck_assert_int_eq(take_n(&b, 1000, T0 + SEC / 1000), 1000);
	r = rate_of("1000000/1");
	jw_bucket_init(&b, &r, T0);
	ck_assert(jw_bucket_take(&b, T0));
	ck_assert(!jw_bucket_take(&b, T0 + 999));
	ck_assert(jw_bucket_take(&b, T0 + 1000 + 999));
}
END_TEST

START_TEST(a_clock_going_backwards_adds_nothing)
{
	struct jw_rate r = rate_of("1/1");
	struct jw_bucket b;
	jw_bucket_init(&b, &r, T0);
	ck_assert(jw_bucket_take(&b, T0));
	ck_assert(!jw_bucket_take(&b, T0 - 100 * SEC));
	ck_assert(!jw_bucket_take(&b, T0 + SEC / 2));
	ck_assert(jw_bucket_take(&b, T0 + SEC));
}
END_TEST

START_TEST(off_is_unlimited)
{
	struct jw_rate r = rate_of("off");
	ck_assert_uint_eq(r.rate_milli, 0);
	struct jw_bucket b;
	jw_bucket_init(&b, &r, T0);
	ck_assert_int_eq(take_n(&b, 100000, T0), 100000);
}
END_TEST

START_TEST(parses_rate_and_burst)
{
	struct jw_rate r = rate_of("1/10");
	ck_assert_uint_eq(r.rate_milli, 1000);
	ck_assert_uint_eq(r.burst, 10);
	r = rate_of("0.5/3");
	ck_assert_uint_eq(r.rate_milli, 500);
	r = rate_of("2.125/1");
	ck_assert_uint_eq(r.rate_milli, 2125);
	r = rate_of("0.001/1000000");
	ck_assert_uint_eq(r.rate_milli, 1);
	ck_assert_uint_eq(r.burst, 1000000);
	r = rate_of("1000000/1");
	ck_assert_uint_eq(r.rate_milli, 1000000000);
	/* only len bytes are read */
	ck_assert_int_eq(jw_rate_parse("1/10,driver", 4, &r), 0);
	ck_assert_uint_eq(r.burst, 10);
}
END_TEST

START_TEST(refuses_bad_rate_text)
{
	static const char *const bad[] = {
		"", "1", "/10", "1/", "1/0", "0/10", "0.0/1", "0.0001/1", "1.2345/1", "-1/10", "1/-1",
		"1/10/2", "1 /10", "1/10 ", "1e3/10", ".5/1", "1./1", "1000001/1", "1/1000001",
		"99999999999999999999/1", "1/99999999999999999999", "OFF", "off ", "none",
	};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		struct jw_rate r;
		ck_assert_msg(jw_rate_parse(bad[i], strlen(bad[i]), &r) == -1, "'%s' accepted", bad[i]);
	}
}
END_TEST

START_TEST(formats_what_it_parses)
{
	static const char *const texts[] = {"1/10", "0.2/5", "0.5/3", "2.125/1", "0.001/1", "0.05/2", "off"};
	for(size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++){
		struct jw_rate r = rate_of(texts[i]);
		char buf[32];
		jw_rate_format(&r, buf, sizeof(buf));
		ck_assert_str_eq(buf, texts[i]);
	}
}
END_TEST

static Suite *rate_suite(void)
{
	Suite *s = suite_create("rate_limit");
	TCase *tc = tcase_create("bucket");
	tcase_add_test(tc, starts_full_and_allows_the_burst_at_once);
	tcase_add_test(tc, refills_at_the_rate);
	tcase_add_test(tc, a_flood_is_cut_to_the_rate);
	tcase_add_test(tc, the_seed_cadence_is_never_limited);
	tcase_add_test(tc, never_holds_more_than_the_burst);
	tcase_add_test(tc, fractional_rates);
	tcase_add_test(tc, extreme_rates);
	tcase_add_test(tc, a_clock_going_backwards_adds_nothing);
	tcase_add_test(tc, off_is_unlimited);
	suite_add_tcase(s, tc);
	tc = tcase_create("text");
	tcase_add_test(tc, parses_rate_and_burst);
	tcase_add_test(tc, refuses_bad_rate_text);
	tcase_add_test(tc, formats_what_it_parses);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_run(rate_suite());
}
