/*
 * The bridge's own credentials against the real broker and plugin: a
 * minted token renewed before it expires (a reconnect, no resync), a token
 * read from a file, and a key the broker does not accept (refused, logged,
 * retried; the bridge stays up and exits cleanly).
 *
 * One throwaway PostgreSQL for the file; each test has its own database,
 * broker and bridge.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge_harness.h"
#include "demo_db.h"
#include "harness.h"
#include "pg_harness.h"

static struct jw_pg pg;

/* A migrated demo database with capture, one customer and one merchant. */
static PGconn *demo_db(const char *name, char *conninfo, size_t len)
{
	PGconn *c = jw_demo_db(&pg, name, conninfo, len);
	jw_exec_ok(c, "INSERT INTO customers (id, name) VALUES (1, 'Ada');"
			"INSERT INTO merchants (id, name, pickup_lat, pickup_lng) VALUES (1, 'Fresh Press', 52.52, 13.405)");
	return c;
}

/* Insert order `id` and wait until customer 1 receives its status. */
static void order_reaches_customer(PGconn *c, struct jw_client *customer, int id)
{
	char sql[256], topic[64];
	snprintf(sql, sizeof(sql), "INSERT INTO orders (id, order_number, customer_id, merchant_id) "
			"VALUES (%d, 'T-%d', 1, 1)", id, id);
	jw_exec_ok(c, sql);
	snprintf(topic, sizeof(topic), "order/%d/status", id);
	char *payload = jw_client_wait_message(customer, topic, 20000);
	ck_assert_msg(payload != NULL, "customer 1 did not receive %s", topic);
	ck_assert_msg(strstr(payload, "\"status\":\"PENDING\"") != NULL, "%s", payload);
	free(payload);
}

static void stop_clean(struct jw_bridge *br)
{
	char err[256];
	int code = -1;
	ck_assert_msg(jw_bridge_stop(br, &code, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(code == 0, "the bridge exited with %d; log: %s", code, br->log_path);
	jw_bridge_cleanup(br);
}

START_TEST(minted_token_is_renewed_without_a_resync)
{
	char ci[600], err[1024];
	PGconn *c = demo_db("token_renew", ci, sizeof(ci));
	struct jw_broker b;
	jw_broker_start(&b, &(struct jw_broker_opts){0});
	struct jw_client *customer = jw_connect_as(&b, "customer", "1", NULL, 5);
	ck_assert_int_eq(jw_client_subscribe(customer, "order/+/status", 1), 1);

	/* A 10 s token is renewed at about 6.7 s: two renewals within 40 s. */
	struct jw_bridge br = {0};
	struct jw_bridge_opts o = {.database = ci, .mqtt_port = b.port, .secret_path = b.secret_path,
		.extra_conf = "jwt_lifetime 10\n"};
	ck_assert_msg(jw_bridge_start(&br, &o, err, sizeof(err)) == 0, "%s", err);
	order_reaches_customer(c, customer, 1);
	ck_assert_msg(jw_bridge_log_wait(&br, "renewing the bridge's token", 2, 40000),
			"no two token renewals; log: %s", br.log_path);
	order_reaches_customer(c, customer, 2);
	/* The renewal is a clean reconnect: the broker kept the session, the
	 * plugin instance and the checkpoint, so nothing is rebuilt. */
	ck_assert_int_eq(jw_bridge_log_count(&br, "resync complete"), 1);
	ck_assert_int_eq(jw_bridge_log_count(&br, "resync needed"), 1);
	ck_assert_int_ge(jw_bridge_log_count(&br, "connected to the broker | session_present=1"), 2);
	/* No error on the way (paho ignores a connect issued while its
	 * disconnect is still running: the bridge waits for it). */
	ck_assert_int_eq(jw_bridge_log_count(&br, ": error:"), 0);
	/* ... and the plugin never had to cut the bridge off for an expired token. */
	ck_assert_int_eq(jw_broker_log_count(&b, "reason=expired"), 0);

	stop_clean(&br);
	jw_client_destroy_all();
	jw_broker_stop(&b);
	PQfinish(c);
}
END_TEST

START_TEST(token_from_a_file)
{
	char ci[600], err[1024];
	PGconn *c = demo_db("token_file", ci, sizeof(ci));
	struct jw_broker b;
	jw_broker_start(&b, &(struct jw_broker_opts){0});
	struct jw_client *customer = jw_connect_as(&b, "customer", "1", NULL, 5);
	ck_assert_int_eq(jw_client_subscribe(customer, "order/+/status", 1), 1);

	char *token = jw_token(&b, "bridge", "service", 3600);
	char path[400];
	snprintf(path, sizeof(path), "%s/bridge.jwt", b.dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n", token);
	fclose(f);
	chmod(path, 0600);
	free(token);

	char conf[512];
	snprintf(conf, sizeof(conf), "jwt_token_file %s\n", path);
	struct jw_bridge br = {0};
	struct jw_bridge_opts o = {.database = ci, .mqtt_port = b.port, .extra_conf = conf};
	ck_assert_msg(jw_bridge_start(&br, &o, err, sizeof(err)) == 0, "%s", err);
	order_reaches_customer(c, customer, 1);

	stop_clean(&br);
	jw_client_destroy_all();
	jw_broker_stop(&b);
	PQfinish(c);
}
END_TEST

START_TEST(a_key_the_broker_refuses_is_retried_not_fatal)
{
	char ci[600], err[1024];
	PGconn *c = demo_db("token_wrong_key", ci, sizeof(ci));
	struct jw_broker b;
	jw_broker_start(&b, &(struct jw_broker_opts){0});

	char path[400];
	snprintf(path, sizeof(path), "%s/other.secret", b.dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "not-the-broker-secret-but-long-enough-0123456789\n");
	fclose(f);
	chmod(path, 0600);

	struct jw_bridge br = {0};
	struct jw_bridge_opts o = {.database = ci, .mqtt_port = b.port, .secret_path = path, .no_wait = true};
	ck_assert_msg(jw_bridge_start(&br, &o, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(jw_bridge_log_wait(&br, "cannot connect to the broker", 2, 20000),
			"no retried refusal in %s", br.log_path);
	ck_assert_int_ge(jw_bridge_log_count(&br, "CONNACK 0x87 not authorized"), 2);
	ck_assert_int_ge(jw_bridge_log_count(&br, "retry_in="), 2);
	ck_assert(jw_bridge_alive(&br, NULL));
	/* The broker counted the refusals under its own reason. */
	ck_assert_int_ge(jw_broker_log_count(&b, "refused connection"), 2);

	stop_clean(&br);
	jw_broker_stop(&b);
	PQfinish(c);
}
END_TEST

int main(void)
{
	char err[1024];
	if(jw_pg_start(&pg, NULL, err, sizeof(err)) != 0){
		fprintf(stderr, "it_bridge_token: %s\n", err);
		return 1;
	}
	Suite *s = suite_create("bridge_token");
	TCase *tc = tcase_create("token");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, minted_token_is_renewed_without_a_resync);
	tcase_add_test(tc, token_from_a_file);
	tcase_add_test(tc, a_key_the_broker_refuses_is_retried_not_fatal);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	jw_pg_stop(&pg, err, sizeof(err));
	return failed ? 1 : 0;
}
