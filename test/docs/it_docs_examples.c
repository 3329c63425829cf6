/*
 * The client guide's C example (docs/examples/customer_paho.c), run as a
 * program against a real mosquitto with the plugin and acl/default.acl:
 * it must print exactly the customer's own order messages, once each, and
 * survive a token expiry by reconnecting with the token it finds in its
 * token file.
 *
 * Environment: the integration harness's (JW_MOSQUITTO, JW_PLUGIN,
 * JW_SOURCE_DIR, ...) plus JW_DOCS_CUSTOMER_PAHO, the example's binary
 * built by the test docs/example_paho_builds.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define ORDER_1001_V1 "{\"orderId\":\"1001\",\"orderNumber\":\"T-1001\",\"status\":\"PENDING\"," \
	"\"previousStatus\":null,\"version\":1,\"timestamp\":\"2026-11-25T22:50:01.123Z\"}"
#define ORDER_1001_V2 "{\"orderId\":\"1001\",\"orderNumber\":\"T-1001\",\"status\":\"CONFIRMED\"," \
	"\"previousStatus\":\"PENDING\",\"version\":2,\"timestamp\":\"2026-11-25T22:51:01.000Z\"}"
#define ORDER_1002_V1 "{\"orderId\":\"1002\",\"orderNumber\":\"T-1002\",\"status\":\"PENDING\"," \
	"\"previousStatus\":null,\"version\":1,\"timestamp\":\"2026-11-25T22:50:01.123Z\"}"
#define NOTE_42 "{\"id\":\"7\",\"title\":\"Order ready\",\"body\":\"Ready for pickup.\",\"data\":null," \
	"\"timestamp\":\"2026-11-25T22:52:00.000Z\"}"

struct example {
	pid_t pid;
	char out[400], err[400];
};

static void write_file(const char *path, const char *text)
{
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fputc('\n', f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, path), 0);   /* the example never sees half a token */
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return strdup("");
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strdup(buf);
}

static void start_example(struct example *ex, const struct jw_broker *b, const char *count,
		const char *token_file)
{
	const char *bin = getenv("JW_DOCS_CUSTOMER_PAHO");
	ck_assert_msg(bin && *bin, "JW_DOCS_CUSTOMER_PAHO is not set (run through ctest)");
	snprintf(ex->out, sizeof(ex->out), "%s/customer.out", b->dir);
	snprintf(ex->err, sizeof(ex->err), "%s/customer.err", b->dir);
	char port[16];
	snprintf(port, sizeof(port), "%d", b->port);
	ex->pid = fork();
	ck_assert_int_ge(ex->pid, 0);
	if (ex->pid == 0) {
		int o = open(ex->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(ex->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execl(bin, bin, "-H", "127.0.0.1", "-p", port, "-n", count, "42", token_file, (char *)NULL);
		_exit(127);
	}
}

/* Wait for the example to exit by itself; kill it after timeout_ms. */
static int wait_example(struct example *ex, int timeout_ms)
{
	int status = 0;
	for (int waited = 0; waited < timeout_ms; waited += 50) {
		pid_t r = waitpid(ex->pid, &status, WNOHANG);
		if (r == ex->pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	kill(ex->pid, SIGKILL);
	waitpid(ex->pid, &status, 0);
	return -1;
}

static struct jw_client *service(struct jw_broker *b)
{
	struct jw_client *svc = jw_connect_as(b, "service", "bridge", NULL, 5);
	char *resp = jw_control(svc, "{\"commands\":[{\"command\":\"addRelations\",\"relations\":["
			"{\"object\":\"order:1001\",\"relation\":\"party\",\"subject\":\"customer:42\"}]}]}", 5000);
	ck_assert_ptr_nonnull(resp);
	ck_assert_ptr_nonnull(strstr(resp, "\"added\":1"));
	free(resp);
	return svc;
}

START_TEST(paho_example_prints_the_customers_orders_once_each)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	struct jw_client *svc = service(&b);
	/* before the app runs: its order (twice, as a redelivery would), and an
	 * order that is not its own */
	ck_assert_int_eq(jw_client_publish(svc, "order/1001/status", ORDER_1001_V1, 1, true), 0);
	ck_assert_int_eq(jw_client_publish(svc, "order/1001/status", ORDER_1001_V1, 1, true), 0);
	ck_assert_int_eq(jw_client_publish(svc, "order/1002/status", ORDER_1002_V1, 1, true), 0);

	char token_file[400];
	snprintf(token_file, sizeof(token_file), "%s/customer.jwt", b.dir);
	char *tok = jw_token(&b, "42", "customer", 600);
	write_file(token_file, tok);
	free(tok);

	struct example ex;
	start_example(&ex, &b, "3", token_file);
	ck_assert_msg(jw_broker_log_wait(&b, "Sending SUBACK to customer-42", 15000), "the example never subscribed");
	/* while it runs: the retained copy again (dropped by version), a
	 * transition, a notification */
	ck_assert_int_eq(jw_client_publish(svc, "order/1001/status", ORDER_1001_V1, 1, true), 0);
	ck_assert_int_eq(jw_client_publish(svc, "order/1001/status", ORDER_1001_V2, 1, true), 0);
	ck_assert_int_eq(jw_client_publish(svc, "customer/42/notifications", NOTE_42, 1, false), 0);

	int rc = wait_example(&ex, 20000);
	char *out = read_all(ex.out), *err = read_all(ex.err);
	ck_assert_msg(rc == 0, "example exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
	ck_assert_str_eq(out,
			"order/1001/status " ORDER_1001_V1 "\n"
			"order/1001/status " ORDER_1001_V2 "\n"
			"customer/42/notifications " NOTE_42 "\n");
	ck_assert_ptr_nonnull(strstr(err, "connected as customer-42 (session present: no)"));
	free(out);
	free(err);
	jw_client_destroy_all();
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(paho_example_reconnects_with_a_fresh_token_after_expiry)
{
	struct jw_broker b;
	/* no leeway: the token's exp is the moment the broker disconnects */
	struct jw_broker_opts o = {.plugin_opts = "plugin_opt_jwt_leeway 0\n"};
	jw_broker_start(&b, &o);
	struct jw_client *svc = service(&b);
	ck_assert_int_eq(jw_client_publish(svc, "order/1001/status", ORDER_1001_V1, 1, true), 0);

	char token_file[400];
	snprintf(token_file, sizeof(token_file), "%s/customer.jwt", b.dir);
	char *tok = jw_token(&b, "42", "customer", 3);
	write_file(token_file, tok);
	free(tok);

	struct example ex;
	start_example(&ex, &b, "2", token_file);
	ck_assert(jw_broker_log_wait(&b, "Sending SUBACK to customer-42", 15000));
	/* the token runs out: DISCONNECT 0x98; the example retries with the
	 * same, expired token (CONNACK 0x87) until the app's token store has a
	 * new one */
	ck_assert(jw_broker_log_wait(&b, "jetwire: token expired | client=customer-42", 15000));
	ck_assert(jw_broker_log_wait(&b, "jetwire: refused connection | client=customer-42", 15000));
	tok = jw_token(&b, "42", "customer", 600);
	write_file(token_file, tok);
	free(tok);
	/* the session was kept: a transition published now reaches it */
	ck_assert_int_eq(jw_client_publish(svc, "order/1001/status", ORDER_1001_V2, 1, true), 0);

	int rc = wait_example(&ex, 90000);
	char *out = read_all(ex.out), *err = read_all(ex.err);
	ck_assert_msg(rc == 0, "example exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
	ck_assert_str_eq(out,
			"order/1001/status " ORDER_1001_V1 "\n"
			"order/1001/status " ORDER_1001_V2 "\n");
	ck_assert_msg(strstr(err, "DISCONNECT 0x98"), "stderr:\n%s", err);
	ck_assert_msg(strstr(err, "CONNACK 0x87"), "stderr:\n%s", err);
	ck_assert_msg(strstr(err, "connected as customer-42 (session present: yes)"), "stderr:\n%s", err);
	free(out);
	free(err);
	jw_client_destroy_all();
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("docs_examples");
	TCase *tc = tcase_create("paho");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, paho_example_prints_the_customers_orders_once_each);
	tcase_add_test(tc, paho_example_reconnects_with_a_fresh_token_after_expiry);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
