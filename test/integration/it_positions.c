/*
 * Driver positions published once over MQTT reach PostgreSQL through the
 * bridge (jetwire.driver_position, latest per driver, batched), including
 * a position published while the bridge was down (its retained copy is read
 * on reconnect), and the optional history.  Real PostgreSQL, mosquitto with
 * the plugin, the bridge, libmosquitto clients.
 */
#define _GNU_SOURCE
#include <check.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge_harness.h"
#include "demo_db.h"
#include "harness.h"
#include "pg_harness.h"

static struct jw_pg pg;

/* Database with the demo tables and capture, customers 1 and 2, merchant 1,
 * drivers 1 and 2; a broker; the bridge, resynced. */
static void stack_up(struct jw_demo_stack *s, const char *dbname, const char *extra_conf)
{
	jw_demo_stack_up(s, &pg, dbname,
			"INSERT INTO customers (id, name) VALUES (1, 'Ada'), (2, 'Bo');"
			"INSERT INTO merchants (id, name, pickup_lat, pickup_lng) VALUES (1, 'Fresh Press', 52.52, 13.405);"
			"INSERT INTO drivers (id, name, rating, vehicle_type) VALUES (1, 'Dan', 4.8, 'BIKE'), "
			"(2, 'Eve', 4.5, 'CAR')",
			NULL, extra_conf);
}


static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The stored row of a driver as "lat|lng|presence", or NULL. */
static char *stored(PGconn *c, const char *driver)
{
	const char *values[1] = {driver};
	PGresult *r = PQexecParams(c, "SELECT lat || '|' || lng || '|' || COALESCE(presence, '-') "
			"FROM jetwire.driver_position WHERE driver_id = $1", 1, NULL, values, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
	char *v = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
	PQclear(r);
	return v;
}

/* Wait (up to 15 s) until the driver's stored row is `want`. */
static void wait_stored(PGconn *c, const char *driver, const char *want)
{
	char *got = NULL;
	for(int i = 0; i < 300; i++){
		free(got);
		got = stored(c, driver);
		if(got && strcmp(got, want) == 0){
			free(got);
			return;
		}
		usleep(50000);
	}
	ck_abort_msg("driver %s stored '%s', want '%s'", driver, got ? got : "(nothing)", want);
}

static void publish(struct jw_client *d, const char *topic, const char *fmt, double a, double b)
{
	char payload[200];
	snprintf(payload, sizeof(payload), fmt, a, b, now_ms());
	ck_assert_int_eq(jw_client_publish(d, topic, payload, 1, true), 0);
}

START_TEST(latest_position_and_presence_are_stored)
{
	struct jw_demo_stack s;
	stack_up(&s, "pos_latest", NULL);
	struct jw_client *d1 = jw_connect_as(&s.broker, "driver", "1", NULL, 5);
	struct jw_client *d2 = jw_connect_as(&s.broker, "driver", "2", NULL, 5);
	/* A burst (within the plugin's default rate limit for drivers: 10 at
	 * once): only the last of each driver matters. */
	for(int i = 0; i < 8; i++){
		publish(d1, "driver/1/location", "{\"lat\":%.4f,\"lng\":%.4f,\"ts\":%lld,\"heading\":90}",
				52.5 + i / 1000.0, 13.4);
	}
	publish(d2, "driver/2/location", "{\"lat\":%.1f,\"lng\":%.1f,\"ts\":%lld}", -33.9, 151.2);
	char presence[128];
	snprintf(presence, sizeof(presence), "{\"status\":\"online\",\"ts\":%lld}", now_ms());
	ck_assert_int_eq(jw_client_publish(d1, "driver/1/presence", presence, 1, true), 0);
	wait_stored(s.db, "1", "52.507|13.4|online");
	wait_stored(s.db, "2", "-33.9|151.2|-");
	PGresult *r = PQexec(s.db, "SELECT heading, ts > now() - interval '1 minute' FROM jetwire.driver_position "
			"WHERE driver_id = '1'");
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "90");
	ck_assert_str_eq(PQgetvalue(r, 0, 1), "t");
	PQclear(r);
	/* An older position (its ts says so) never overwrites a newer one. */
	char old[160];
	snprintf(old, sizeof(old), "{\"lat\":1.0,\"lng\":1.0,\"ts\":%lld}", now_ms() - 60000);
	ck_assert_int_eq(jw_client_publish(d1, "driver/1/location", old, 1, false), 0);
	publish(d2, "driver/2/location", "{\"lat\":%.1f,\"lng\":%.1f,\"ts\":%lld}", -34.0, 151.0);
	wait_stored(s.db, "2", "-34|151|-");
	wait_stored(s.db, "1", "52.507|13.4|online");
	jw_demo_stack_down(&s);
}
END_TEST

/* The pid of the bridge's PostgreSQL backend (application_name
 * jetwire-bridge), 0 if none. */
static int bridge_backend(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT pid FROM pg_stat_activity WHERE application_name = 'jetwire-bridge' "
			"AND datname = current_database() ORDER BY backend_start DESC LIMIT 1");
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
	int pid = PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	return pid;
}

/* A flood while the bridge cannot write (its PostgreSQL backend stopped):
 * beyond location_queue_max the newest live locations are dropped, counted
 * in positionsDropped and warned about; once PostgreSQL answers again the
 * bridge carries on and stores the next position. */
START_TEST(a_flood_beyond_location_queue_max_is_dropped_and_counted)
{
	struct jw_demo_stack s;
	jw_demo_stack_up(&s, &pg, "pos_flood", NULL, "plugin_opt_location_rate driver:off\n",
			"location_queue_max 10\n");
	struct jw_client *admin = jw_connect_as(&s.broker, "admin", "1", "stats", 5);
	ck_assert_int_eq(jw_client_subscribe(admin, "jetwire/bridge/stats", 0), 0);
	struct jw_client *d1 = jw_connect_as(&s.broker, "driver", "1", NULL, 5);
	publish(d1, "driver/1/location", "{\"lat\":%.2f,\"lng\":%.2f,\"ts\":%lld}", 10.0, 10.0);
	wait_stored(s.db, "1", "10|10|-");
	int backend = bridge_backend(s.db);
	ck_assert_int_gt(backend, 0);
	ck_assert_int_eq(kill(backend, SIGSTOP), 0);
	usleep(1500 * 1000);          /* the bridge's next statement (stats: every second) now hangs */
	for(int i = 0; i < 200; i++){
		char payload[160];
		snprintf(payload, sizeof(payload), "{\"lat\":%.3f,\"lng\":11.0,\"ts\":%lld}", 20.0 + i / 1000.0, now_ms());
		ck_assert_int_eq(jw_client_publish(d1, "driver/1/location", payload, 0, false), 0);
	}
	usleep(1000 * 1000);
	ck_assert_int_eq(kill(backend, SIGCONT), 0);
	ck_assert(jw_bridge_log_wait(&s.bridge, "driver locations dropped since the last stats", 1, 15000));
	long long dropped = 0;
	for(int i = 0; i < 30 && dropped == 0; i++){
		char *m = jw_client_wait_message(admin, "jetwire/bridge/stats", 2000);
		const char *p = m ? strstr(m, "\"positionsDropped\":") : NULL;
		if(p) dropped = atoll(p + strlen("\"positionsDropped\":"));
		free(m);
	}
	ck_assert_msg(dropped >= 150, "positionsDropped %lld after 200 locations with room for 10", dropped);
	/* carrying on: the driver's next locations are stored (a location is
	 * QoS 0 to the bridge: one lost right after the stall is within the
	 * contract, so the driver sends one a second, as an app would, for up
	 * to 20 s), and the bridge stops cleanly */
	char *got = NULL;
	for(int i = 0; i < 20; i++){
		publish(d1, "driver/1/location", "{\"lat\":%.2f,\"lng\":%.2f,\"ts\":%lld}", 30.0, 30.0 + i);
		usleep(1000 * 1000);
		free(got);
		got = stored(s.db, "1");
		if(got && strncmp(got, "30|", 3) == 0) break;
	}
	ck_assert_msg(got && strncmp(got, "30|", 3) == 0, "after the flood, driver 1 stored '%s' (bridge log %s)",
			got ? got : "(nothing)", s.bridge.log_path);
	free(got);
	jw_demo_stack_down(&s);
}
END_TEST

START_TEST(position_published_while_the_bridge_is_down_is_stored_after_restart)
{
	struct jw_demo_stack s;
	stack_up(&s, "pos_restart", NULL);
	struct jw_client *d1 = jw_connect_as(&s.broker, "driver", "1", NULL, 5);
	publish(d1, "driver/1/location", "{\"lat\":%.2f,\"lng\":%.2f,\"ts\":%lld}", 48.85, 2.35);
	wait_stored(s.db, "1", "48.85|2.35|-");
	ck_assert_int_eq(jw_bridge_kill(&s.bridge), 0);
	/* While no bridge runs: the broker keeps the retained copy. */
	publish(d1, "driver/1/location", "{\"lat\":%.2f,\"lng\":%.2f,\"ts\":%lld}", 48.86, 2.36);
	char err[512];
	ck_assert_msg(jw_bridge_restart(&s.bridge, true, err, sizeof(err)) == 0, "%s", err);
	wait_stored(s.db, "1", "48.86|2.36|-");
	/* ... and live traffic still flows after the retained copies were read. */
	publish(d1, "driver/1/location", "{\"lat\":%.2f,\"lng\":%.2f,\"ts\":%lld}", 48.87, 2.37);
	wait_stored(s.db, "1", "48.87|2.37|-");
	jw_demo_stack_down(&s);
}
END_TEST

START_TEST(history_is_appended_when_configured)
{
	struct jw_demo_stack s;
	stack_up(&s, "pos_history", "location_history true\nlocation_flush_ms 50\n");
	struct jw_client *d1 = jw_connect_as(&s.broker, "driver", "1", NULL, 5);
	for(int i = 0; i < 3; i++){
		publish(d1, "driver/1/location", "{\"lat\":%.1f,\"lng\":%.1f,\"ts\":%lld}", 10.0 + i, 20.0);
		char want[64];
		snprintf(want, sizeof(want), "%d|20|-", 10 + i);
		wait_stored(s.db, "1", want);
	}
	PGresult *r = PQexec(s.db, "SELECT count(*), min(lat), max(lat) FROM jetwire.driver_position_history "
			"WHERE driver_id = '1'");
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "3");
	ck_assert_str_eq(PQgetvalue(r, 0, 1), "10");
	ck_assert_str_eq(PQgetvalue(r, 0, 2), "12");
	PQclear(r);
	jw_demo_stack_down(&s);
}
END_TEST

int main(void)
{
	char err[1024];
	if(jw_pg_start(&pg, NULL, err, sizeof(err)) != 0){
		fprintf(stderr, "it_positions: %s\n", err);
		return 1;
	}
	Suite *s = suite_create("positions");
	TCase *tc = tcase_create("positions");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, latest_position_and_presence_are_stored);
	tcase_add_test(tc, position_published_while_the_bridge_is_down_is_stored_after_restart);
	tcase_add_test(tc, history_is_appended_when_configured);
	tcase_add_test(tc, a_flood_beyond_location_queue_max_is_dropped_and_counted);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	jw_pg_stop(&pg, err, sizeof(err));
	return failed ? 1 : 0;
}
