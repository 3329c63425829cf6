/*
 * jetwire-driver-sim against the real stack: PostgreSQL, mosquitto with the
 * plugin, the bridge.  Its drivers authenticate with their own tokens, their
 * locations pass the plugin's checks (no refusal) and reach
 * jetwire.driver_position through the bridge, within the radius; its clean
 * shutdown leaves every driver 'offline'; with --chaos it drops and
 * reconnects and still exits 0.
 *
 * The binary: $JW_BUILD_DIR/jetwire-driver-sim.
 */
#define _GNU_SOURCE
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge_harness.h"
#include "demo_db.h"
#include "harness.h"
#include "pg_harness.h"

static struct jw_pg pg;

#define CENTER_LAT 52.52
#define CENTER_LNG 13.405
#define RADIUS_KM 3.0

/* As it_positions.c: database with the demo tables and capture, a broker
 * (here with a location rate limit of 10/s, burst 20, for drivers), the
 * bridge, resynced. */
static void stack_up(struct jw_demo_stack *s, const char *dbname, const char *extra_conf)
{
	jw_demo_stack_up(s, &pg, dbname,
			NULL,
			"plugin_opt_location_rate driver:10/20\n", extra_conf);
}

/* Run the simulator with `extra` arguments (NULL-terminated) against the
 * stack's broker; returns its exit code, output in out. */
static int run_sim(struct jw_demo_stack *s, const char *const *extra, char *out, size_t outlen)
{
	const char *dir = getenv("JW_BUILD_DIR");
	ck_assert_msg(dir != NULL, "JW_BUILD_DIR is not set (run through ctest)");
	char prog[1024], port[16], center[64], radius[32];
	snprintf(prog, sizeof(prog), "%s/jetwire-driver-sim", dir);
	ck_assert_msg(access(prog, X_OK) == 0, "%s is missing: build target jetwire-driver-sim", prog);
	snprintf(port, sizeof(port), "%d", s->broker.port);
	snprintf(center, sizeof(center), "%.3f,%.3f", CENTER_LAT, CENTER_LNG);
	snprintf(radius, sizeof(radius), "%.1f", RADIUS_KM);
	const char *args[48] = {"--host", "127.0.0.1", "--port", port, "--secret-file", s->broker.secret_path,
		"--center", center, "--radius-km", radius, "--report", "1"};
	int n = 12;
	for(int i = 0; extra[i] && n < 47; i++) args[n++] = extra[i];
	args[n] = NULL;
	int code = -1;
	char err[512];
	ck_assert_msg(jw_run_program(prog, args, NULL, 60000, out, outlen, &code, err, sizeof(err)) == 0, "%s", err);
	return code;
}

/* The value of `key=` in the summary line, -1 if absent. */
static long summary_value(const char *out, const char *key)
{
	const char *sum = strstr(out, ": summary ");
	if(sum == NULL) return -1;
	char pat[64];
	snprintf(pat, sizeof(pat), " %s=", key);
	const char *p = strstr(sum, pat);
	const char *eol = strchr(sum, '\n');
	if(p == NULL || (eol && p > eol)) return -1;
	return strtol(p + strlen(pat), NULL, 10);
}

static long count_rows(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s -> %s", sql, PQerrorMessage(c));
	long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

/* Wait (up to 15 s) until `sql` (a count) returns `want`. */
static void wait_count(PGconn *c, const char *sql, long want)
{
	long got = -1;
	for(int i = 0; i < 300; i++){
		got = count_rows(c, sql);
		if(got == want) return;
		usleep(50000);
	}
	ck_abort_msg("%s: %ld, want %ld", sql, got, want);
}

START_TEST(drivers_publish_and_end_offline)
{
	struct jw_demo_stack s;
	stack_up(&s, "sim_rate", "location_flush_ms 100\n");
	static char out[65536];
	const char *extra[] = {"--drivers", "5", "--first-id", "101", "--mode", "rate", "--rate", "2",
		"--duration", "4", NULL};
	int code = run_sim(&s, extra, out, sizeof(out));
	ck_assert_msg(code == 0, "exit %d:\n%s", code, out);
	ck_assert_msg(summary_value(out, "ever_connected") == 5, "%s", out);
	ck_assert_msg(summary_value(out, "refused") == 0, "refusals:\n%s", out);
	ck_assert_msg(summary_value(out, "connect_refused") == 0, "%s", out);
	ck_assert_msg(summary_value(out, "publish_errors") == 0, "%s", out);
	long sent = summary_value(out, "location_sent");
	long presence = summary_value(out, "presence_sent");
	/* 2/s for about 4 s (less the ramp): well above the plugin's default
	 * burst of 10 per driver, so the configured rate limit is exercised */
	ck_assert_msg(sent >= 5 * 6, "location_sent %ld:\n%s", sent, out);
	ck_assert_msg(presence == 10, "presence_sent %ld (online + offline per driver):\n%s", presence, out);
	ck_assert_msg(summary_value(out, "puback") == sent + presence, "every publish acknowledged:\n%s", out);
	ck_assert_msg(summary_value(out, "reconnects") == 0, "%s", out);

	/* the clean shutdown published 'offline' for everybody, after the positions */
	wait_count(s.db, "SELECT count(*) FROM jetwire.driver_position WHERE driver_id IN "
			"('101','102','103','104','105') AND presence = 'offline' AND lat IS NOT NULL", 5);
	ck_assert_int_eq(count_rows(s.db, "SELECT count(*) FROM jetwire.driver_position"), 5);
	/* haversine distance from the center, in km, computed by PostgreSQL */
	char sql[1024];
	snprintf(sql, sizeof(sql), "SELECT driver_id, lat, lng, heading, speed, ts > now() - interval '1 minute', "
			"2 * 6371.0088 * asin(sqrt(power(sin(radians(lat - %f) / 2), 2) + cos(radians(%f)) * cos(radians(lat)) "
			"* power(sin(radians(lng - %f) / 2), 2))) FROM jetwire.driver_position ORDER BY driver_id",
			CENTER_LAT, CENTER_LAT, CENTER_LNG);
	PGresult *r = PQexec(s.db, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(s.db));
	ck_assert_int_eq(PQntuples(r), 5);
	for(int i = 0; i < 5; i++){
		double km = atof(PQgetvalue(r, i, 6));
		ck_assert_msg(km <= RADIUS_KM * 1.01, "driver %s at %s,%s: %.3f km from the center",
				PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), km);
		ck_assert_msg(!PQgetisnull(r, i, 3) && !PQgetisnull(r, i, 4), "heading and speed stored");
		ck_assert_str_eq(PQgetvalue(r, i, 5), "t");
	}
	PQclear(r);
	jw_demo_stack_down(&s);
}
END_TEST

START_TEST(chaos_drops_and_reconnects)
{
	struct jw_demo_stack s;
	stack_up(&s, "sim_chaos", "location_flush_ms 100\n");
	static char out[65536];
	const char *extra[] = {"--drivers", "3", "--first-id", "201", "--mode", "rate", "--rate", "1",
		"--duration", "5", "--chaos", "1", NULL};
	int code = run_sim(&s, extra, out, sizeof(out));
	ck_assert_msg(code == 0, "exit %d:\n%s", code, out);
	ck_assert_msg(summary_value(out, "ever_connected") == 3, "%s", out);
	ck_assert_msg(summary_value(out, "drops") > 0, "%s", out);
	ck_assert_msg(summary_value(out, "reconnects") > 0, "%s", out);
	ck_assert_msg(summary_value(out, "connect_refused") == 0, "%s", out);
	/* every driver's position made it to the database despite the drops */
	wait_count(s.db, "SELECT count(*) FROM jetwire.driver_position WHERE driver_id IN ('201','202','203') "
			"AND lat IS NOT NULL", 3);
	jw_demo_stack_down(&s);
}
END_TEST

START_TEST(no_broker_exits_non_zero_with_the_reason)
{
	static char out[8192];
	const char *dir = getenv("JW_BUILD_DIR");
	ck_assert_ptr_nonnull(dir);
	char prog[1024], port[16], secret[512];
	snprintf(prog, sizeof(prog), "%s/jetwire-driver-sim", dir);
	snprintf(port, sizeof(port), "%d", jw_free_port());
	snprintf(secret, sizeof(secret), "/tmp/it_driver_sim_secret.%d", (int)getpid());
	FILE *f = fopen(secret, "w");
	ck_assert_ptr_nonnull(f);
	fputs("not-a-real-secret", f);
	fclose(f);
	const char *args[] = {"--port", port, "--secret-file", secret, "--drivers", "2", "--duration", "1", NULL};
	int code = -1;
	char err[512];
	int rc = jw_run_program(prog, args, NULL, 30000, out, sizeof(out), &code, err, sizeof(err));
	unlink(secret);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_msg(code == 1, "exit %d:\n%s", code, out);
	ck_assert_msg(strstr(out, "no driver could connect") && strstr(out, "Connection refused"), "%s", out);
	/* bad arguments: exit 2 with a precise message */
	const char *bad[] = {"--drivers", "zero", NULL};
	ck_assert_int_eq(jw_run_program(prog, bad, NULL, 30000, out, sizeof(out), &code, err, sizeof(err)), 0);
	ck_assert_msg(code == 2 && strstr(out, "--drivers: expected an integer"), "exit %d: %s", code, out);
}
END_TEST

int main(void)
{
	char err[1024];
	if(jw_pg_start(&pg, NULL, err, sizeof(err)) != 0){
		fprintf(stderr, "it_driver_sim: %s\n", err);
		return 1;
	}
	Suite *s = suite_create("driver_sim");
	TCase *tc = tcase_create("driver_sim");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, drivers_publish_and_end_offline);
	tcase_add_test(tc, chaos_drops_and_reconnects);
	tcase_add_test(tc, no_broker_exits_non_zero_with_the_reason);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	jw_pg_stop(&pg, err, sizeof(err));
	return failed ? 1 : 0;
}
