/*
 * Offers (SPEC: when an order becomes ready for pickup, online drivers
 * within a configurable radius of the pickup point get an offer): the
 * nearest online, available drivers with a fresh position, nearest first,
 * at most offer_max_drivers, on driver/{id}/offers, not retained, every
 * payload valid against schemas/json/orderOffer.schema.json.  Real
 * PostgreSQL, broker with the plugin, the bridge, MQTT 5 clients.
 */
#define _GNU_SOURCE
#include <check.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_harness.h"
#include "demo_db.h"
#include "harness.h"
#include "pg_harness.h"

static struct jw_pg pg;

/* Merchant 1 at 52.52,13.405 and drivers around it:
 *   1  1.1 km  online  AVAILABLE      6  0.5 km  online  AVAILABLE
 *   2  8.9 km  online  AVAILABLE  (outside 5 km)
 *   3  0.1 km  online  BUSY           4  0.1 km  offline AVAILABLE
 *   5  0.6 km  online  AVAILABLE  (position an hour old) */
static void stack_up(struct jw_demo_stack *s, const char *dbname, const char *extra_conf)
{
	jw_demo_stack_up(s, &pg, dbname,
			"INSERT INTO customers (id, name) VALUES (1, 'Ada');"
			"INSERT INTO merchants (id, name, pickup_lat, pickup_lng) VALUES (1, 'Fresh Press', 52.52, 13.405);"
			"INSERT INTO drivers (id, name, availability) VALUES (1, 'a', 'AVAILABLE'), (2, 'b', 'AVAILABLE'),"
			" (3, 'c', 'BUSY'), (4, 'd', 'AVAILABLE'), (5, 'e', 'AVAILABLE'), (6, 'f', 'AVAILABLE');"
			"INSERT INTO jetwire.driver_position (driver_id, lat, lng, ts, presence) VALUES"
			" ('1', 52.53, 13.405, now(), 'online'), ('2', 52.60, 13.405, now(), 'online'),"
			" ('3', 52.521, 13.405, now(), 'online'), ('4', 52.521, 13.405, now(), 'offline'),"
			" ('5', 52.525, 13.41, now() - interval '1 hour', 'online'), ('6', 52.5245, 13.405, now(), 'online')",
			NULL, extra_conf);
}

static struct jw_client *drivers[7];

static void connect_drivers(struct jw_demo_stack *s)
{
	for(int i = 1; i <= 6; i++){
		char sub[8], topic[32];
		snprintf(sub, sizeof(sub), "%d", i);
		snprintf(topic, sizeof(topic), "driver/%d/offers", i);
		drivers[i] = jw_connect_as(&s->broker, "driver", sub, NULL, 5);
		ck_assert_int_eq(jw_client_subscribe(drivers[i], topic, 1), 1);
	}
}

static double field_double(json_object *o, const char *key)
{
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
	return json_object_get_double(v);
}

/* Wait for driver i's offer of `order`; check it; return the distance. */
static double offer_for(int i, const char *order, FILE *record)
{
	char topic[32];
	snprintf(topic, sizeof(topic), "driver/%d/offers", i);
	char *payload = jw_client_wait_message(drivers[i], topic, 15000);
	ck_assert_msg(payload != NULL, "driver %d got no offer", i);
	fprintf(record, "%s\t%s\n", topic, payload);
	json_object *o = json_tokener_parse(payload);
	ck_assert_msg(o != NULL, "%s", payload);
	json_object *v, *pickup;
	ck_assert(json_object_object_get_ex(o, "orderId", &v));
	ck_assert_str_eq(json_object_get_string(v), order);
	ck_assert(json_object_object_get_ex(o, "orderNumber", &v));
	ck_assert_str_eq(json_object_get_string(v), "T-1");
	ck_assert(json_object_object_get_ex(o, "pickup", &pickup));
	ck_assert_double_eq(field_double(pickup, "lat"), 52.52);
	ck_assert_double_eq(field_double(pickup, "lng"), 13.405);
	ck_assert(json_object_object_get_ex(o, "expiresAt", &v));
	double km = field_double(o, "distanceKm");
	json_object_put(o);
	free(payload);
	return km;
}

START_TEST(nearest_online_available_drivers_get_the_offer)
{
	struct jw_demo_stack s;
	stack_up(&s, "offers_near", NULL);
	connect_drivers(&s);
	char path[400];
	snprintf(path, sizeof(path), "%s/offers.txt", s.broker.dir);
	FILE *record = fopen(path, "w");
	ck_assert_ptr_nonnull(record);

	/* A new order is not ready for pickup yet: no offers. */
	jw_exec_ok(s.db, "INSERT INTO orders (id, order_number, customer_id, merchant_id) VALUES (1, 'T-1', 1, 1)");
	ck_assert_int_eq(jw_client_count_messages(drivers[1], "driver/1/offers", 1500), 0);
	/* CONFIRMED (offer_statuses by default: CONFIRMED, READY_FOR_DELIVERY). */
	jw_exec_ok(s.db, "UPDATE orders SET status = 'CONFIRMED' WHERE id = 1");
	double near = offer_for(6, "1", record);
	double far = offer_for(1, "1", record);
	ck_assert_msg(near > 0.49 && near < 0.51, "driver 6 at %f km", near);
	ck_assert_msg(far > 1.10 && far < 1.12, "driver 1 at %f km", far);
	/* outside the radius, busy, offline, stale: nothing */
	for(int i = 2; i <= 5; i++){
		char topic[32];
		snprintf(topic, sizeof(topic), "driver/%d/offers", i);
		ck_assert_msg(jw_client_count_messages(drivers[i], topic, i == 2 ? 1500 : 0) == 0,
				"driver %d got an offer", i);
	}
	/* not retained: a driver subscribing now gets nothing */
	struct jw_client *late = jw_connect_as(&s.broker, "driver", "6", "late", 5);
	ck_assert_int_eq(jw_client_subscribe(late, "driver/6/offers", 1), 1);
	ck_assert_int_eq(jw_client_count_messages(late, "driver/6/offers", 1000), 0);
	/* A status change that is not into an offer status offers nothing more. */
	jw_exec_ok(s.db, "UPDATE orders SET status = 'ASSIGNED_TO_DRIVER', pickup_driver_id = 6 WHERE id = 1");
	ck_assert_int_eq(jw_client_count_messages(drivers[1], "driver/1/offers", 1500), 0);
	fclose(record);

	/* Every offer matches schemas/json/orderOffer.schema.json. */
	char schemas[600], script[600], out[4096], err[512];
	snprintf(schemas, sizeof(schemas), "%s/schemas/json", getenv("JW_SOURCE_DIR"));
	snprintf(script, sizeof(script), "%s/test/schema/validate_payloads.py", getenv("JW_SOURCE_DIR"));
	const char *args[] = {script, schemas, path, "--require-some", NULL};
	int code = -1;
	ck_assert_msg(jw_run_program("/usr/bin/python3", args, NULL, 60000, out, sizeof(out), &code, err,
			sizeof(err)) == 0, "%s", err);
	ck_assert_msg(code == 0, "validator exit %d: %s", code, out);
	ck_assert_int_eq(jw_bridge_log_count(&s.bridge, ": error:"), 0);
	jw_demo_stack_down(&s);
}
END_TEST

START_TEST(at_most_offer_max_drivers_within_offer_radius)
{
	struct jw_demo_stack s;
	stack_up(&s, "offers_max", "offer_max_drivers 1\noffer_radius_m 20000\n");
	connect_drivers(&s);
	char path[400];
	snprintf(path, sizeof(path), "%s/offers.txt", s.broker.dir);
	FILE *record = fopen(path, "w");
	jw_exec_ok(s.db, "INSERT INTO orders (id, order_number, customer_id, merchant_id, status) "
			"VALUES (1, 'T-1', 1, 1, 'READY_FOR_DELIVERY')");
	offer_for(6, "1", record);     /* only the nearest, although 1 and 2 are within 20 km */
	ck_assert_int_eq(jw_client_count_messages(drivers[1], "driver/1/offers", 1500), 0);
	ck_assert_int_eq(jw_client_count_messages(drivers[2], "driver/2/offers", 0), 0);
	fclose(record);
	jw_demo_stack_down(&s);
}
END_TEST

/* The orderId of driver i's next offer ("" if none within the wait). */
static void next_offer(int i, char *order_id, size_t len, int wait_ms)
{
	char topic[32];
	snprintf(topic, sizeof(topic), "driver/%d/offers", i);
	char *payload = jw_client_wait_message(drivers[i], topic, wait_ms);
	order_id[0] = '\0';
	if(payload == NULL) return;
	json_object *o = json_tokener_parse(payload), *v;
	if(o && json_object_object_get_ex(o, "orderId", &v)) snprintf(order_id, len, "%s", json_object_get_string(v));
	json_object_put(o);
	free(payload);
}

/* Orders of two merchants entering an offer status in one transaction --
 * one batch, one offers query -- each go to the drivers near their own
 * merchant. */
START_TEST(orders_of_one_batch_each_go_to_their_own_merchants_drivers)
{
	struct jw_demo_stack s;
	stack_up(&s, "offers_batch", NULL);
	connect_drivers(&s);
	jw_exec_ok(s.db, "INSERT INTO merchants (id, name, pickup_lat, pickup_lng) VALUES (2, 'North', 52.60, 13.405)");
	jw_exec_ok(s.db, "BEGIN;"
			"INSERT INTO orders (id, order_number, customer_id, merchant_id, status) VALUES"
			" (1, 'T-1', 1, 1, 'CONFIRMED'), (2, 'T-2', 1, 2, 'CONFIRMED'), (3, 'T-3', 1, 1, 'PENDING');"
			"COMMIT");
	char got[32];
	next_offer(2, got, sizeof(got), 15000);     /* driver 2 is 8.9 km from merchant 1, at merchant 2 */
	ck_assert_str_eq(got, "2");
	next_offer(6, got, sizeof(got), 15000);
	ck_assert_str_eq(got, "1");
	next_offer(1, got, sizeof(got), 15000);
	ck_assert_str_eq(got, "1");
	next_offer(2, got, sizeof(got), 1000);      /* nothing of merchant 1's for driver 2 */
	ck_assert_str_eq(got, "");
	next_offer(6, got, sizeof(got), 0);         /* nor merchant 2's (or the PENDING order's) for 6 */
	ck_assert_str_eq(got, "");
	ck_assert_int_eq(jw_bridge_log_count(&s.bridge, ": error:"), 0);
	jw_demo_stack_down(&s);
}
END_TEST

int main(void)
{
	char err[1024];
	if(jw_pg_start(&pg, NULL, err, sizeof(err)) != 0){
		fprintf(stderr, "it_offers: %s\n", err);
		return 1;
	}
	Suite *s = suite_create("offers");
	TCase *tc = tcase_create("offers");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, nearest_online_available_drivers_get_the_offer);
	tcase_add_test(tc, at_most_offer_max_drivers_within_offer_radius);
	tcase_add_test(tc, orders_of_one_batch_each_go_to_their_own_merchants_drivers);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	jw_pg_stop(&pg, err, sizeof(err));
	return failed ? 1 : 0;
}
