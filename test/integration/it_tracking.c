/*
 * Who reads a driver's location and presence (SPEC): the customer and the
 * merchant of an active order served by that driver, through tracker
 * relations the bridge maintains -- from the assignment to the moment the
 * order ends or the driver is unassigned, unless another active order of
 * the same customer keeps the driver.  Real PostgreSQL, mosquitto with the
 * plugin and the default ACL, the bridge, libmosquitto clients (MQTT 5).
 */
#define _GNU_SOURCE
#include <check.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge_harness.h"
#include "demo_db.h"
#include "harness.h"
#include "pg_harness.h"

static struct jw_pg pg;

/* Database with the demo tables and capture, customers 1 and 2, merchant 1,
 * drivers 1 and 2; a broker; the bridge, resynced. */
static void stack_up(struct jw_demo_stack *s, const char *dbname)
{
	jw_demo_stack_up(s, &pg, dbname,
			"INSERT INTO customers (id, name) VALUES (1, 'Ada'), (2, 'Bo');"
			"INSERT INTO merchants (id, name, pickup_lat, pickup_lng) VALUES (1, 'Fresh Press', 52.52, 13.405);"
			"INSERT INTO drivers (id, name, rating, vehicle_type) VALUES (1, 'Dan', 4.8, 'BIKE'), "
			"(2, 'Eve', 4.5, 'CAR')",
			NULL, NULL);
}

/* Commit `sql`, then wait until `client` sees the status message of order
 * `order` with `status`: the bridge sends relation changes before the
 * state, so once that arrived the relations are in place. */
static void change_and_wait(struct jw_demo_stack *s, struct jw_client *client, int order, const char *status,
		const char *sql)
{
	jw_exec_ok(s->db, sql);
	char topic[64], want[96];
	snprintf(topic, sizeof(topic), "order/%d/status", order);
	snprintf(want, sizeof(want), "\"status\":\"%s\"", status);
	for(;;){
		char *p = jw_client_wait_message(client, topic, 20000);
		ck_assert_msg(p != NULL, "no %s on %s", want, topic);
		bool found = strstr(p, want) != NULL;
		free(p);
		if(found) return;
	}
}

static int location_seq;

/* The driver publishes a fresh, valid location; returns its payload's lat
 * marker so receivers can be matched. */
static void publish_location(struct jw_client *driver, int driver_id, char *payload, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	long long ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	location_seq++;
	snprintf(payload, len, "{\"lat\":52.%04d,\"lng\":13.4,\"ts\":%lld}", location_seq, ms);
	char topic[64];
	snprintf(topic, sizeof(topic), "driver/%d/location", driver_id);
	ck_assert_int_eq(jw_client_publish(driver, topic, payload, 1, true), 0);
}

static bool receives(struct jw_client *c, const char *topic, const char *payload, int timeout_ms)
{
	return jw_client_wait_payload(c, topic, payload, timeout_ms);
}

START_TEST(customer_follows_its_driver_until_delivery)
{
	struct jw_demo_stack s;
	stack_up(&s, "trk_delivery");
	struct jw_client *cust1 = jw_connect_as(&s.broker, "customer", "1", NULL, 5);
	struct jw_client *cust2 = jw_connect_as(&s.broker, "customer", "2", NULL, 5);
	struct jw_client *merchant = jw_connect_as(&s.broker, "merchant", "1", NULL, 5);
	struct jw_client *admin = jw_connect_as(&s.broker, "admin", "ops", NULL, 5);
	struct jw_client *driver = jw_connect_as(&s.broker, "driver", "1", NULL, 5);
	ck_assert_int_eq(jw_client_subscribe(cust1, "order/+/status", 1), 1);
	/* A wildcard: a customer may subscribe before it tracks anyone (a
	 * subscription to driver/1/location itself is refused until then). */
	ck_assert_int_eq(jw_client_subscribe(cust1, "driver/+/location", 1), 1);
	ck_assert_int_eq(jw_client_subscribe(merchant, "driver/+/location", 1), 1);
	ck_assert_int_eq(jw_client_subscribe(cust2, "#", 1), 1);
	ck_assert_int_eq(jw_client_subscribe(cust2, "driver/+/location", 1), 1);
	ck_assert_int_eq(jw_client_subscribe(admin, "driver/+/location", 1), 1);

	/* Before any assignment nobody but the driver's readers by role see it. */
	change_and_wait(&s, cust1, 10, "PENDING",
			"INSERT INTO orders (id, order_number, customer_id, merchant_id) VALUES (10, 'T-10', 1, 1)");
	char loc[128];
	publish_location(driver, 1, loc, sizeof(loc));
	ck_assert(receives(admin, "driver/1/location", loc, 10000));
	ck_assert_int_eq(jw_client_count_messages(cust1, "driver/1/location", 1500), 0);

	/* Assigned: the customer and the merchant follow the driver ... */
	change_and_wait(&s, cust1, 10, "ASSIGNED_TO_DRIVER",
			"UPDATE orders SET status = 'ASSIGNED_TO_DRIVER', pickup_driver_id = 1 WHERE id = 10");
	jw_client_clear_inbox(cust1);
	publish_location(driver, 1, loc, sizeof(loc));
	ck_assert_msg(receives(cust1, "driver/1/location", loc, 10000), "customer 1 does not see driver 1");
	ck_assert_msg(receives(merchant, "driver/1/location", loc, 10000), "merchant 1 does not see driver 1");
	ck_assert(receives(admin, "driver/1/location", loc, 10000));
	/* ... and another customer never does, whatever it subscribes to. */
	ck_assert_int_eq(jw_client_count_messages(cust2, "driver/1/location", 1000), 0);

	/* Delivered: tracking ends at once (the relation goes before the status
	 * message), live and retained. */
	change_and_wait(&s, cust1, 10, "DELIVERED", "UPDATE orders SET status = 'DELIVERED' WHERE id = 10");
	jw_client_clear_inbox(cust1);
	jw_client_clear_inbox(merchant);
	publish_location(driver, 1, loc, sizeof(loc));
	ck_assert(receives(admin, "driver/1/location", loc, 10000));
	ck_assert_int_eq(jw_client_count_messages(cust1, "driver/1/location", 1500), 0);
	ck_assert_int_eq(jw_client_count_messages(merchant, "driver/1/location", 0), 0);
	struct jw_client *again = jw_connect_as(&s.broker, "customer", "1", "again", 5);
	ck_assert_int_eq(jw_client_subscribe(again, "driver/1/location", 1), 0x87);
	ck_assert_int_eq(jw_client_subscribe(again, "driver/+/location", 1), 1);
	ck_assert_int_eq(jw_client_count_messages(again, "driver/1/location", 1500), 0);
	/* ... while the order itself stays readable until its expiry. */
	ck_assert_int_eq(jw_client_subscribe(again, "order/10/status", 1), 1);
	char *st = jw_client_wait_message(again, "order/10/status", 10000);
	ck_assert_msg(st && strstr(st, "DELIVERED"), "%s", st ? st : "(none)");
	free(st);
	jw_demo_stack_down(&s);
}
END_TEST

START_TEST(another_active_order_keeps_tracking)
{
	struct jw_demo_stack s;
	stack_up(&s, "trk_kept");
	struct jw_client *cust1 = jw_connect_as(&s.broker, "customer", "1", NULL, 5);
	struct jw_client *driver = jw_connect_as(&s.broker, "driver", "1", NULL, 5);
	ck_assert_int_eq(jw_client_subscribe(cust1, "order/+/status", 1), 1);
	ck_assert_int_eq(jw_client_subscribe(cust1, "driver/+/location", 1), 1);
	change_and_wait(&s, cust1, 20, "ASSIGNED_TO_DRIVER",
			"INSERT INTO orders (id, order_number, customer_id, merchant_id, pickup_driver_id, status) "
			"VALUES (20, 'T-20', 1, 1, 1, 'ASSIGNED_TO_DRIVER')");
	change_and_wait(&s, cust1, 21, "ASSIGNED_TO_DRIVER",
			"INSERT INTO orders (id, order_number, customer_id, merchant_id, delivery_driver_id, status) "
			"VALUES (21, 'T-21', 1, 1, 1, 'ASSIGNED_TO_DRIVER')");
	/* One of the two orders ends: the other still joins customer 1 and driver 1. */
	change_and_wait(&s, cust1, 20, "CANCELLED", "UPDATE orders SET status = 'CANCELLED' WHERE id = 20");
	char loc[128];
	publish_location(driver, 1, loc, sizeof(loc));
	ck_assert_msg(receives(cust1, "driver/1/location", loc, 10000), "tracking ended with the other order active");
	/* The second one ends too: now it stops. */
	change_and_wait(&s, cust1, 21, "DELIVERED", "UPDATE orders SET status = 'DELIVERED' WHERE id = 21");
	jw_client_clear_inbox(cust1);
	publish_location(driver, 1, loc, sizeof(loc));
	ck_assert_int_eq(jw_client_count_messages(cust1, "driver/1/location", 1500), 0);
	jw_demo_stack_down(&s);
}
END_TEST

START_TEST(unassigned_driver_is_no_longer_followed_and_resync_restores_trackers)
{
	struct jw_demo_stack s;
	stack_up(&s, "trk_unassign");
	struct jw_client *cust1 = jw_connect_as(&s.broker, "customer", "1", NULL, 5);
	struct jw_client *d1 = jw_connect_as(&s.broker, "driver", "1", NULL, 5);
	struct jw_client *d2 = jw_connect_as(&s.broker, "driver", "2", NULL, 5);
	ck_assert_int_eq(jw_client_subscribe(cust1, "order/+/status", 1), 1);
	ck_assert_int_eq(jw_client_subscribe(cust1, "driver/+/location", 1), 1);
	change_and_wait(&s, cust1, 30, "ASSIGNED_TO_DRIVER",
			"INSERT INTO orders (id, order_number, customer_id, merchant_id, pickup_driver_id, status) "
			"VALUES (30, 'T-30', 1, 1, 1, 'ASSIGNED_TO_DRIVER')");
	/* Driver 1 replaced by driver 2 (with a status change to see it land). */
	change_and_wait(&s, cust1, 30, "PICKED_UP",
			"UPDATE orders SET status = 'PICKED_UP', pickup_driver_id = 2 WHERE id = 30");
	jw_client_clear_inbox(cust1);
	char loc1[128], loc2[128];
	publish_location(d1, 1, loc1, sizeof(loc1));
	publish_location(d2, 2, loc2, sizeof(loc2));
	ck_assert_msg(receives(cust1, "driver/2/location", loc2, 10000), "the new driver is not followed");
	ck_assert_int_eq(jw_client_count_messages(cust1, "driver/1/location", 1500), 0);

	/* A broker restart loses the plugin's relations; the bridge's resync
	 * brings the tracker back. */
	char err[512];
	jw_client_destroy_all();
	ck_assert_int_eq(jw_broker_halt(&s.broker, SIGTERM), 0);
	ck_assert_int_eq(jw_broker_resume(&s.broker), 0);
	ck_assert_msg(jw_bridge_log_wait(&s.bridge, "resync complete", 2, 30000), "no resync; log %s",
			s.bridge.log_path);
	cust1 = jw_connect_as(&s.broker, "customer", "1", NULL, 5);
	d2 = jw_connect_as(&s.broker, "driver", "2", NULL, 5);
	/* granted only because the resync re-added the tracker */
	ck_assert_int_eq(jw_client_subscribe(cust1, "driver/2/location", 1), 1);
	publish_location(d2, 2, loc2, sizeof(loc2));
	ck_assert_msg(receives(cust1, "driver/2/location", loc2, 10000), "tracker not restored by the resync");
	(void)err;
	jw_demo_stack_down(&s);
}
END_TEST

int main(void)
{
	char err[1024];
	if(jw_pg_start(&pg, NULL, err, sizeof(err)) != 0){
		fprintf(stderr, "it_tracking: %s\n", err);
		return 1;
	}
	Suite *s = suite_create("tracking");
	TCase *tc = tcase_create("tracking");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, customer_follows_its_driver_until_delivery);
	tcase_add_test(tc, another_active_order_keeps_tracking);
	tcase_add_test(tc, unassigned_driver_is_no_longer_followed_and_resync_restores_trackers);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	jw_pg_stop(&pg, err, sizeof(err));
	return failed ? 1 : 0;
}
