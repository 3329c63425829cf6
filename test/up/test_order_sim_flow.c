/*
 * Unit tests of tools/order_sim_flow.c: the status path of jetwire-order-sim,
 * which transitions assign drivers and notify whom, its random numbers.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "order_sim_flow.h"

START_TEST(path_runs_from_pending_to_delivered_one_status_at_a_time)
{
	const char *want[] = {"PENDING", "CONFIRMED", "ASSIGNED_TO_DRIVER", "PICKED_UP", "IN_PROCESS",
		"READY_FOR_DELIVERY", "OUT_FOR_DELIVERY", "DELIVERED"};
	enum os_status s = OS_PENDING;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_str_eq(os_status_name(s), want[i]);
		ck_assert_int_eq(os_status_parse(want[i]), s);
		ck_assert(!os_status_terminal(s) == (i + 1 < sizeof(want) / sizeof(want[0])));
		s = os_status_next(s);
	}
	ck_assert_int_eq(s, OS_UNKNOWN);
	ck_assert_int_eq(os_status_next(OS_CANCELLED), OS_UNKNOWN);
	ck_assert(os_status_terminal(OS_CANCELLED));
}
END_TEST

START_TEST(parse_is_exact)
{
	ck_assert_int_eq(os_status_parse("CANCELLED"), OS_CANCELLED);
	ck_assert_int_eq(os_status_parse("pending"), OS_UNKNOWN);
	ck_assert_int_eq(os_status_parse("PENDING "), OS_UNKNOWN);
	ck_assert_int_eq(os_status_parse(""), OS_UNKNOWN);
	ck_assert_int_eq(os_status_parse(NULL), OS_UNKNOWN);
	ck_assert_str_eq(os_status_name(OS_UNKNOWN), "?");
}
END_TEST

START_TEST(pickup_and_delivery_drivers_are_assigned_on_their_statuses_only)
{
	for (enum os_status s = OS_PENDING; s <= OS_UNKNOWN; s++) {
		char want = s == OS_ASSIGNED_TO_DRIVER ? 'p' : s == OS_OUT_FOR_DELIVERY ? 'd' : 0;
		ck_assert_int_eq(os_status_assigns(s), want);
	}
}
END_TEST

START_TEST(orders_are_cancellable_only_before_pickup)
{
	for (enum os_status s = OS_PENDING; s <= OS_UNKNOWN; s++)
		ck_assert(os_status_cancellable(s) == (s <= OS_ASSIGNED_TO_DRIVER));
}
END_TEST

START_TEST(notices_go_to_merchant_on_new_order_and_customer_on_milestones)
{
	struct os_notice n[4];
	ck_assert_int_eq(os_notices(OS_PENDING, n, 4), 1);
	ck_assert_str_eq(n[0].to, "merchant");
	ck_assert_int_eq(os_notices(OS_CONFIRMED, n, 4), 1);
	ck_assert_str_eq(n[0].to, "customer");
	ck_assert_int_eq(os_notices(OS_ASSIGNED_TO_DRIVER, n, 4), 2);
	ck_assert_str_eq(n[0].to, "customer");
	ck_assert_str_eq(n[1].to, "driver");
	ck_assert_int_eq(os_notices(OS_PICKED_UP, n, 4), 0);
	ck_assert_int_eq(os_notices(OS_DELIVERED, n, 4), 1);
	ck_assert_int_eq(os_notices(OS_CANCELLED, n, 4), 2);
	ck_assert_int_eq(os_notices(OS_CANCELLED, n, 1), 1);   /* capped by max */
	ck_assert_int_eq(os_notices(OS_UNKNOWN, n, 4), 0);
	/* every format takes at most: order number, one name */
	for (enum os_status s = OS_PENDING; s < OS_UNKNOWN; s++) {
		int k = os_notices(s, n, 4);
		for (int i = 0; i < k; i++) {
			int conv = 0;
			for (const char *p = n[i].body_fmt; (p = strchr(p, '%')) != NULL; p += 2) {
				ck_assert_int_eq(p[1], 's');
				conv++;
			}
			ck_assert_int_ge(conv, 1);
			ck_assert_int_le(conv, 2);
		}
	}
}
END_TEST

START_TEST(jitter_stays_within_a_quarter_of_the_step)
{
	struct os_rng r;
	os_rng_seed(&r, 1);
	for (int i = 0; i < 10000; i++) {
		int64_t ms = os_jitter_ms(&r, 8);
		ck_assert_int_ge(ms, 6000);
		ck_assert_int_lt(ms, 10000);
	}
	ck_assert_int_ge(os_jitter_ms(&r, 0), 1);
}
END_TEST

START_TEST(same_seed_same_numbers)
{
	struct os_rng a, b;
	os_rng_seed(&a, 42);
	os_rng_seed(&b, 42);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(os_rng_next(&a), os_rng_next(&b));
	for (int i = 0; i < 1000; i++) {
		double u = os_rng_unit(&a);
		ck_assert(u >= 0.0 && u < 1.0);
	}
}
END_TEST

START_TEST(cancel_plan_follows_the_rate)
{
	struct os_rng r;
	os_rng_seed(&r, 7);
	int cancelled = 0;
	for (int i = 0; i < 10000; i++) {
		ck_assert_int_eq(os_plan_cancel(&r, 0), OS_UNKNOWN);
		ck_assert(os_status_cancellable(os_plan_cancel(&r, 1)));
		enum os_status s = os_plan_cancel(&r, 0.2);
		if (s != OS_UNKNOWN) {
			ck_assert(os_status_cancellable(s));
			cancelled++;
		}
	}
	ck_assert_int_gt(cancelled, 1700);   /* 2000 expected; 7 sigma from 1700 */
	ck_assert_int_lt(cancelled, 2300);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("order_sim_flow");
	TCase *tc = tcase_create("flow");
	tcase_add_test(tc, path_runs_from_pending_to_delivered_one_status_at_a_time);
	tcase_add_test(tc, parse_is_exact);
	tcase_add_test(tc, pickup_and_delivery_drivers_are_assigned_on_their_statuses_only);
	tcase_add_test(tc, orders_are_cancellable_only_before_pickup);
	tcase_add_test(tc, notices_go_to_merchant_on_new_order_and_customer_on_milestones);
	tcase_add_test(tc, jitter_stays_within_a_quarter_of_the_step);
	tcase_add_test(tc, same_seed_same_numbers);
	tcase_add_test(tc, cancel_plan_follows_the_rate);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
