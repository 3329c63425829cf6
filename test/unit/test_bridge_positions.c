/*
 * positions: driver/{id}/location and /presence as the bridge keeps them
 * before writing them to PostgreSQL -- parsing, validation, latest wins.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "positions.h"
#include "unit_support.h"

static struct jwb_positions *p;
static char reason[256];

static void setup(void)
{
	p = jwb_positions_new();
	ck_assert_ptr_nonnull(p);
	reason[0] = '\0';
}

static void teardown(void)
{
	jwb_positions_free(p);
}

static int msg(const char *topic, const char *payload)
{
	return jwb_positions_message(p, topic, payload, strlen(payload), reason, sizeof(reason));
}

static struct jwb_position only(void)
{
	size_t n = 0;
	struct jwb_position *all = jwb_positions_snapshot(p, &n);
	ck_assert_uint_eq(n, 1);
	struct jwb_position one = all[0];
	free(all);
	return one;
}

START_TEST(location_with_every_field)
{
	ck_assert_int_eq(msg("driver/d-7/location", "{\"lat\":52.5,\"lng\":-13.25,\"ts\":1795650000123,"
			"\"heading\":270,\"speed\":8.5,\"accuracy\":12,\"orderId\":\"o-1\"}"), 1);
	struct jwb_position q = only();
	ck_assert_str_eq(q.driver_id, "d-7");
	ck_assert(q.has_location);
	ck_assert_double_eq(q.lat, 52.5);
	ck_assert_double_eq(q.lng, -13.25);
	ck_assert(q.has_heading && q.has_speed && q.has_accuracy);
	ck_assert_double_eq(q.heading, 270);
	ck_assert_double_eq(q.speed, 8.5);
	ck_assert_double_eq(q.accuracy, 12);
	ck_assert_str_eq(q.order_id, "o-1");
	ck_assert_int_eq(q.ts_ms, 1795650000123LL);
	ck_assert(!q.has_presence);
}
END_TEST

START_TEST(latest_wins_by_the_drivers_timestamp)
{
	ck_assert_int_eq(msg("driver/1/location", "{\"lat\":1,\"lng\":1,\"ts\":2000}"), 1);
	ck_assert_int_eq(msg("driver/1/location", "{\"lat\":2,\"lng\":2,\"ts\":1000}"), 0);   /* older */
	ck_assert_double_eq(only().lat, 1);
	ck_assert_int_eq(msg("driver/1/location", "{\"lat\":3,\"lng\":3,\"ts\":3000}"), 1);
	ck_assert_double_eq(only().lat, 3);
	ck_assert(!only().has_heading);
	/* presence is kept apart, in the same driver's entry */
	ck_assert_int_eq(msg("driver/1/presence", "{\"status\":\"online\",\"ts\":5000}"), 1);
	ck_assert_int_eq(msg("driver/1/presence", "{\"status\":\"offline\",\"ts\":4000}"), 0);
	struct jwb_position q = only();
	ck_assert(q.has_presence && q.online);
	ck_assert_int_eq(q.presence_ts_ms, 5000);
	ck_assert_double_eq(q.lat, 3);
	ck_assert_int_eq(msg("driver/1/presence", "{\"status\":\"offline\",\"ts\":6000}"), 1);
	ck_assert(!only().online);
}
END_TEST

START_TEST(drivers_are_kept_apart_and_cleared)
{
	ck_assert_int_eq(msg("driver/1/location", "{\"lat\":1,\"lng\":1,\"ts\":1}"), 1);
	ck_assert_int_eq(msg("driver/2/location", "{\"lat\":2,\"lng\":2,\"ts\":1}"), 1);
	ck_assert_int_eq(msg("driver/2/presence", "{\"status\":\"online\",\"ts\":1}"), 1);
	ck_assert_uint_eq(jwb_positions_pending(p), 2);
	jwb_positions_clear(p);
	ck_assert_uint_eq(jwb_positions_pending(p), 0);
	/* after a write the next message starts afresh (the database keeps the order) */
	ck_assert_int_eq(msg("driver/1/location", "{\"lat\":1,\"lng\":1,\"ts\":0}"), 1);
}
END_TEST

START_TEST(bad_payloads_are_refused_with_a_reason)
{
	static const struct { const char *topic, *payload, *reason; } cases[] = {
		{"driver/1/location", "[1,2]", "not a JSON object"},
		{"driver/1/location", "{\"lat\":1", "not a JSON object"},
		{"driver/1/location", "{\"lat\":1,\"lng\":2,\"ts\":3} x", "not a JSON object"},
		{"driver/1/location", "{\"lat\":1,\"lng\":2}", "ts missing"},
		{"driver/1/location", "{\"lat\":1,\"lng\":2,\"ts\":\"now\"}", "ts missing"},
		{"driver/1/location", "{\"lat\":1,\"lng\":2,\"ts\":-5}", "ts missing"},
		{"driver/1/location", "{\"lat\":91,\"lng\":2,\"ts\":3}", "out of range"},
		{"driver/1/location", "{\"lat\":1,\"lng\":-181,\"ts\":3}", "out of range"},
		{"driver/1/location", "{\"lng\":2,\"ts\":3}", "out of range"},
		{"driver/1/location", "{\"lat\":1,\"lng\":2,\"ts\":3,\"speed\":\"fast\"}", "not a number"},
		{"driver/1/presence", "{\"status\":\"away\",\"ts\":3}", "online"},
		{"driver/1/presence", "{\"ts\":3}", "online"},
		{"driver/a+b/location", "{\"lat\":1,\"lng\":2,\"ts\":3}", "driverId"},
		{"driver/1/offers", "{}", "not a driver location or presence topic"},
	};
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++){
		reason[0] = '\0';
		ck_assert_msg(msg(cases[i].topic, cases[i].payload) == -1, "accepted %s %s", cases[i].topic,
				cases[i].payload);
		ck_assert_msg(strstr(reason, cases[i].reason) != NULL, "%s %s: reason '%s'", cases[i].topic,
				cases[i].payload, reason);
	}
	ck_assert_uint_eq(jwb_positions_pending(p), 0);
}
END_TEST

START_TEST(retained_clear_is_ignored)
{
	ck_assert_int_eq(jwb_positions_message(p, "driver/1/location", "", 0, reason, sizeof(reason)), 0);
	ck_assert_uint_eq(jwb_positions_pending(p), 0);
}
END_TEST

START_TEST(topics)
{
	ck_assert(jwb_positions_topic("driver/1/location"));
	ck_assert(jwb_positions_topic("driver/abc/presence"));
	ck_assert(!jwb_positions_topic("driver/1/offers"));
	ck_assert(!jwb_positions_topic("driver//location"));
	ck_assert(!jwb_positions_topic("order/1/status"));
	ck_assert(!jwb_positions_topic("driver/1/location/x"));
}
END_TEST

static Suite *positions_suite(void)
{
	Suite *s = suite_create("bridge_positions");
	TCase *tc = tcase_create("positions");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, location_with_every_field);
	tcase_add_test(tc, latest_wins_by_the_drivers_timestamp);
	tcase_add_test(tc, drivers_are_kept_apart_and_cleared);
	tcase_add_test(tc, bad_payloads_are_refused_with_a_reason);
	tcase_add_test(tc, retained_clear_is_ignored);
	tcase_add_test(tc, topics);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_run(positions_suite());
}
