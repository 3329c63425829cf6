/*
 * $CONTROL/jetwire/v1 on a real broker: who gets the responses, what a bad
 * command does to its sender, replace-all syncs (one message and three
 * messages), relation lifetimes (ttl), the $SYS counters that follow
 * the store, and status (the store's instance changes with a broker restart).  Access is always observed end to end: a customer's
 * subscription to order/+/status.
 */
#define _POSIX_C_SOURCE 200809L   /* strndup */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "jw_file.h"

#define DENIED5 0x87
#define NEG_WAIT 400
#define POS_WAIT 5000
#define RESPONSE "$CONTROL/jetwire/v1/response"
#define CONTROL "$CONTROL/jetwire/v1"
#define SYS "$SYS/broker/jetwire/"

#define REL(o, r, s) "{\"object\":\"" o "\",\"relation\":\"" r "\",\"subject\":\"" s "\"}"
#define RELTTL(o, r, s, ttl) "{\"object\":\"" o "\",\"relation\":\"" r "\",\"subject\":\"" s "\",\"ttl\":" #ttl "}"
#define CMD(name, rels) "{\"commands\":[{\"command\":\"" name "\",\"relations\":[" rels "]}]}"
#define SIMPLE(name) "{\"commands\":[{\"command\":\"" name "\"}]}"

static struct jw_broker B;

static struct jw_client *connect_as(const char *role, const char *sub, const char *suffix, int protocol)
{
	return jw_connect_as(&B, role, sub, suffix, protocol);
}

static void start(const char *acl_text)
{
	struct jw_broker_opts o = {.acl_text = acl_text};
	jw_broker_start(&B, &o);
}

static void stop(void)
{
	jw_client_destroy_all();
	ck_assert_int_eq(jw_broker_stop(&B), 0);
}

/* Send and return the response (caller frees), which must contain want1
 * and want2 (each may be NULL). */
static char *control_expect(int line, struct jw_client *c, const char *json, const char *want1,
		const char *want2)
{
	char *r = jw_control(c, json, POS_WAIT);
	ck_assert_msg(r != NULL, "line %d: no response to %s", line, json);
	ck_assert_msg(want1 == NULL || strstr(r, want1), "line %d: response to %s is %s, want %s",
			line, json, r, want1);
	ck_assert_msg(want2 == NULL || strstr(r, want2), "line %d: response to %s is %s, want %s",
			line, json, r, want2);
	return r;
}
#define CONTROL_EXPECT(c, json, w1, w2) free(control_expect(__LINE__, (c), (json), (w1), (w2)))
#define CONTROL_OK(c, json) do { \
	char *r_ = control_expect(__LINE__, (c), (json), NULL, NULL); \
	ck_assert_msg(strstr(r_, "\"error\"") == NULL, "line %d: %s failed: %s", __LINE__, (json), r_); \
	free(r_); \
} while(0)

static void expect_count(int line, struct jw_client *c, const char *topic, int want, int wait_ms)
{
	int n = jw_client_count_messages(c, topic, wait_ms);
	if(n != want){
		char *t = jw_client_inbox_topics(c);
		ck_abort_msg("line %d: %d message(s) on '%s', want %d; inbox:\n%s", line, n,
				topic ? topic : "(any)", want, t);
	}
}
#define EXPECT_NONE(c, topic, wait_ms) expect_count(__LINE__, (c), (topic), 0, (wait_ms))
#define EXPECT_INBOX(c, n, wait_ms) expect_count(__LINE__, (c), NULL, (n), (wait_ms))

static void expect_msg(int line, struct jw_client *c, const char *topic, const char *payload)
{
	char *m = jw_client_wait_message(c, topic, POS_WAIT);
	if(m == NULL){
		char *t = jw_client_inbox_topics(c);
		ck_abort_msg("line %d: no message on '%s'; inbox:\n%s", line, topic, t);
	}
	if(payload){
		ck_assert_msg(strcmp(m, payload) == 0, "line %d: '%s' carries '%s', want '%s'",
				line, topic, m, payload);
	}
	free(m);
}
#define EXPECT_MSG(c, topic, payload) expect_msg(__LINE__, (c), (topic), (payload))

/* The service publishes a fresh status for each order in `ids` (retained),
 * then the customer must have received exactly the ones in `want` (a
 * string of order digits, e.g. "13"). */
static void check_live(int line, struct jw_client *svc, struct jw_client *cust, const char *ids,
		const char *want)
{
	static int version;
	char topic[64], payload[64];
	version++;
	for(const char *p = ids; *p; p++){
		snprintf(topic, sizeof(topic), "order/%c/status", *p);
		snprintf(payload, sizeof(payload), "{\"v\":%d}", version);
		ck_assert_int_eq(jw_client_publish(svc, topic, payload, 1, true), 0);
	}
	for(const char *p = want; *p; p++){
		snprintf(topic, sizeof(topic), "order/%c/status", *p);
		snprintf(payload, sizeof(payload), "{\"v\":%d}", version);
		expect_msg(line, cust, topic, payload);
	}
	expect_count(line, cust, NULL, 0, NEG_WAIT);
}
#define CHECK_LIVE(svc, cust, ids, want) check_live(__LINE__, (svc), (cust), (ids), (want))

/* A fresh subscription to order/+/status brings exactly the retained
 * statuses of the orders in `want`. */
static void check_retained(int line, const char *suffix, const char *want)
{
	struct jw_client *c = connect_as("customer", "42", suffix, 5);
	ck_assert_int_eq(jw_client_subscribe(c, "order/+/status", 1), 1);
	char topic[64];
	for(const char *p = want; *p; p++){
		snprintf(topic, sizeof(topic), "order/%c/status", *p);
		expect_msg(line, c, topic, NULL);
	}
	expect_count(line, c, NULL, 0, NEG_WAIT);
}
#define CHECK_RETAINED(suffix, want) check_retained(__LINE__, (suffix), (want))

/* ---- responses go to the sender only ---- */

START_TEST(responses_reach_only_the_sender)
{
	start(NULL);
	struct jw_client *s1 = connect_as("service", "bridge", NULL, 5);
	struct jw_client *s2 = connect_as("service", "bridge", "2", 5);
	struct jw_client *admin = connect_as("admin", "1", NULL, 5);
	/* service and admin may subscribe to the response topic (so that
	 * mosquitto_rr works), yet each response is sent to its sender only:
	 * these two subscribers must never see s1's */
	ck_assert_int_eq(jw_client_subscribe(s2, RESPONSE, 1), 1);
	ck_assert_int_eq(jw_client_subscribe(admin, RESPONSE, 1), 1);
	/* a filter overlapping the response topic is granted too; it brings
	 * nothing, since no one may read $CONTROL topics */
	ck_assert_int_eq(jw_client_subscribe(s2, "$CONTROL/#", 1), 1);
	ck_assert_int_eq(jw_client_subscribe(admin, "#", 1), 1);

	/* the response comes back without subscribing, once, with the
	 * correlation data */
	const char *cmd = "{\"commands\":[{\"command\":\"addRelations\",\"correlationData\":\"s1-a\","
		"\"relations\":[" REL("order:1", "party", "customer:42") "]}]}";
	char *r = control_expect(__LINE__, s1, cmd, "\"added\":1", "\"correlationData\":\"s1-a\"");
	free(r);
	EXPECT_NONE(s1, RESPONSE, NEG_WAIT);   /* exactly one copy */
	EXPECT_INBOX(s2, 0, 0);
	EXPECT_INBOX(admin, 0, 0);

	/* two senders interleaved: each gets its own answer */
	ck_assert_int_eq(jw_client_publish(s1, CONTROL, "{\"commands\":[{\"command\":\"countRelations\","
			"\"correlationData\":\"from-s1\"}]}", 1, false), 0);
	ck_assert_int_eq(jw_client_publish(s2, CONTROL, "{\"commands\":[{\"command\":\"countRelations\","
			"\"correlationData\":\"from-s2\"}]}", 1, false), 0);
	ck_assert_int_eq(jw_client_publish(admin, CONTROL, "{\"commands\":[{\"command\":\"countRelations\","
			"\"correlationData\":\"from-admin\"}]}", 1, false), 0);
	char *r1 = jw_client_wait_message(s1, RESPONSE, POS_WAIT);
	char *r2 = jw_client_wait_message(s2, RESPONSE, POS_WAIT);
	char *r3 = jw_client_wait_message(admin, RESPONSE, POS_WAIT);
	ck_assert_ptr_nonnull(r1);
	ck_assert_ptr_nonnull(r2);
	ck_assert_ptr_nonnull(r3);
	ck_assert_ptr_nonnull(strstr(r1, "from-s1"));
	ck_assert_ptr_nonnull(strstr(r2, "from-s2"));
	ck_assert_ptr_nonnull(strstr(r3, "from-admin"));
	ck_assert_ptr_nonnull(strstr(r1, "\"count\":1"));
	free(r1);
	free(r2);
	free(r3);
	EXPECT_INBOX(s1, 0, NEG_WAIT);
	EXPECT_INBOX(s2, 0, 0);
	EXPECT_INBOX(admin, 0, 0);

	/* QoS 0 and MQTT 3.1.1 senders are answered as well */
	ck_assert_int_eq(jw_client_publish(s2, CONTROL, SIMPLE("countRelations"), 0, false), 0);
	EXPECT_MSG(s2, RESPONSE, NULL);
	struct jw_client *s4 = connect_as("service", "bridge", "v4", 4);
	CONTROL_EXPECT(s4, SIMPLE("countRelations"), "\"count\":1", NULL);
	EXPECT_INBOX(s1, 0, NEG_WAIT);
	stop();
}
END_TEST

/* Even a policy that lets service clients subscribe to $CONTROL does not
 * leak another client's commands or responses. */
START_TEST(responses_are_private_even_when_control_is_readable)
{
	char path[512], err[256], *text = NULL;
	size_t len;
	snprintf(path, sizeof(path), "%s/acl/default.acl", getenv("JW_SOURCE_DIR"));
	ck_assert_msg(jw_read_file(path, 1 << 20, &text, &len, err, sizeof(err)) == 0, "%s", err);
	char *acl = malloc(len + 128);
	snprintf(acl, len + 128, "%s\nrole service\n  allow read $CONTROL/#\n", text);
	free(text);
	start(acl);
	free(acl);

	struct jw_client *s1 = connect_as("service", "bridge", NULL, 5);
	struct jw_client *s2 = connect_as("service", "bridge", "2", 5);
	ck_assert_int_eq(jw_client_subscribe(s2, "$CONTROL/#", 1), 1);
	ck_assert_int_eq(jw_client_subscribe(s1, "$CONTROL/#", 1), 1);
	CONTROL_EXPECT(s1, CMD("addRelations", REL("order:1", "party", "customer:42")), "\"added\":1", NULL);
	/* s1: its response once, not its command; s2: nothing */
	EXPECT_INBOX(s1, 0, NEG_WAIT);
	EXPECT_INBOX(s2, 0, 0);
	CONTROL_EXPECT(s2, SIMPLE("countRelations"), "\"count\":1", NULL);
	EXPECT_INBOX(s1, 0, NEG_WAIT);
	EXPECT_INBOX(s2, 0, 0);
	stop();
}
END_TEST

/* ---- bad commands ---- */

START_TEST(bad_commands_get_errors_and_the_sender_stays)
{
	start(NULL);
	struct jw_client *s = connect_as("service", "bridge", NULL, 5);
	struct jw_client *admin = connect_as("admin", "1", NULL, 5);
	ck_assert_int_eq(jw_client_subscribe(admin, SYS "control/errors", 1), 1);

	const char *bad[] = {
		"not json",
		"{\"commands\":",
		"{\"commands\":[]} trailing",
		"[]",
		"{}",
		"{\"commands\":{}}",
		"{\"commands\":[42]}",
		"{\"commands\":[{\"command\":\"nope\"}]}",
		"{\"commands\":[{\"command\":7}]}",
		"{\"commands\":[{\"command\":\"addRelations\"}]}",
		"{\"commands\":[{\"command\":\"addRelations\",\"relations\":{}}]}",
		"{\"commands\":[{\"command\":\"addRelations\",\"relations\":[{\"object\":\"order:1\"}]}]}",
		/* one bad tuple: the whole command is refused */
		CMD("addRelations", REL("order:1", "party", "customer:42") ",{\"object\":\"order:2\",\"relation\":\"party\",\"subject\":3}"),
		CMD("addRelations", REL("order:1", "party", "customer:42") "," REL("order:2", "party", "")),
		CMD("addRelations", RELTTL("order:1", "party", "customer:42", -5)),
		CMD("addRelations", RELTTL("order:1", "party", "customer:42", 0)),
		CMD("addRelations", RELTTL("order:1", "party", "customer:42", "10")),
		CMD("replaceRelations", REL("order:1", "party", "customer:42") ",17"),
		"{\"commands\":[{\"command\":\"removeObject\"}]}",
		"{\"commands\":[{\"command\":\"listRelations\"}]}",
		SIMPLE("syncEnd"),
		"\xff\xfe garbage",
	};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		char *r = jw_control(s, bad[i], POS_WAIT);
		ck_assert_msg(r != NULL, "no response to bad command #%zu %s", i, bad[i]);
		ck_assert_msg(strstr(r, "\"error\""), "bad command #%zu %s answered without error: %s", i, bad[i], r);
		free(r);
		ck_assert_msg(jw_client_is_connected(s), "sender disconnected after #%zu %s", i, bad[i]);
	}
	/* an empty payload, too */
	ck_assert_int_eq(jw_client_publish_ex(s, CONTROL, "", 0, 1, false, 0), 0);
	char *r = jw_client_wait_message(s, RESPONSE, POS_WAIT);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(strstr(r, "\"error\""));
	free(r);
	ck_assert(jw_client_is_connected(s));
	ck_assert_int_eq(jw_control_count(s), 0);   /* nothing was added */

	/* errors are per command: the good command of a batch applies */
	r = control_expect(__LINE__, s, "{\"commands\":["
			"{\"command\":\"addRelations\",\"relations\":[" REL("order:1", "party", "customer:42") "]},"
			"{\"command\":\"bogus\"},"
			"{\"command\":\"countRelations\"}]}", "\"added\":1", "\"count\":1");
	ck_assert_ptr_nonnull(strstr(r, "unknown command"));
	free(r);

	/* the sender goes on working: publishes and commands */
	struct jw_client *c = connect_as("customer", "42", NULL, 5);
	ck_assert_int_eq(jw_client_subscribe(c, "order/+/status", 1), 1);
	CHECK_LIVE(s, c, "12", "1");
	CONTROL_OK(s, CMD("addRelations", REL("order:2", "party", "customer:42")));
	CHECK_LIVE(s, c, "12", "12");
	/* every refusal counted: the list, the empty payload, "bogus" */
	char errors[16];
	snprintf(errors, sizeof(errors), "%zu", sizeof(bad) / sizeof(bad[0]) + 2);
	ck_assert(jw_client_wait_payload(admin, SYS "control/errors", errors, POS_WAIT));
	stop();
}
END_TEST

/* ---- replace-all ---- */

START_TEST(replace_relations_replaces_the_set)
{
	start(NULL);
	struct jw_client *s = connect_as("service", "bridge", NULL, 5);
	struct jw_client *c = connect_as("customer", "42", NULL, 5);
	CONTROL_OK(s, CMD("addRelations", REL("order:1", "party", "customer:42") ","
			REL("order:2", "party", "customer:42") "," REL("order:1", "party", "merchant:7")));
	ck_assert_int_eq(jw_client_subscribe(c, "order/+/status", 1), 1);
	CHECK_LIVE(s, c, "1234", "12");

	CONTROL_EXPECT(s, CMD("replaceRelations", REL("order:2", "party", "customer:42") ","
			REL("order:3", "party", "customer:42")), "\"removed\":2", "\"count\":2");
	/* tuples not re-sent stop granting at once, new ones grant */
	CHECK_LIVE(s, c, "1234", "23");
	CHECK_RETAINED("r1", "23");
	ck_assert_int_eq(jw_control_count(s), 2);

	/* an invalid replacement leaves the store untouched */
	CONTROL_EXPECT(s, CMD("replaceRelations", REL("order:4", "party", "customer:42") ",{}"), "\"error\"", NULL);
	CHECK_LIVE(s, c, "1234", "23");
	/* and an empty one empties it */
	CONTROL_EXPECT(s, CMD("replaceRelations", ""), "\"removed\":2", "\"count\":0");
	CHECK_LIVE(s, c, "1234", "");
	CHECK_RETAINED("r2", "");
	stop();
}
END_TEST

START_TEST(sync_begin_add_end_replaces_the_set)
{
	start(NULL);
	struct jw_client *s = connect_as("service", "bridge", NULL, 5);
	struct jw_client *c = connect_as("customer", "42", NULL, 5);
	CONTROL_OK(s, CMD("addRelations", REL("order:1", "party", "customer:42") ","
			REL("order:2", "party", "customer:42")));
	ck_assert_int_eq(jw_client_subscribe(c, "order/+/status", 1), 1);
	CHECK_LIVE(s, c, "1234", "12");

	CONTROL_OK(s, SIMPLE("syncBegin"));
	CONTROL_OK(s, CMD("addRelations", REL("order:2", "party", "customer:42")));
	CONTROL_OK(s, CMD("addRelations", REL("order:3", "party", "customer:42")));
	/* during the sync the old set still grants, the new tuples already do */
	CHECK_LIVE(s, c, "1234", "123");
	ck_assert_int_eq(jw_control_count(s), 3);
	CONTROL_EXPECT(s, SIMPLE("syncEnd"), "\"removed\":1", "\"count\":2");
	CHECK_LIVE(s, c, "1234", "23");
	CHECK_RETAINED("s1", "23");

	/* a second sync, in one message, that re-sends nothing */
	CONTROL_EXPECT(s, "{\"commands\":[{\"command\":\"syncBegin\"},"
			"{\"command\":\"addRelations\",\"relations\":[" REL("order:4", "party", "customer:42") "]},"
			"{\"command\":\"syncEnd\"}]}", "\"removed\":2", "\"count\":1");
	CHECK_LIVE(s, c, "1234", "4");
	CHECK_RETAINED("s2", "4");
	/* syncEnd without syncBegin is an error and changes nothing */
	CONTROL_EXPECT(s, SIMPLE("syncEnd"), "\"error\"", NULL);
	ck_assert_int_eq(jw_control_count(s), 1);
	stop();
}
END_TEST

/* ---- ttl ---- */

START_TEST(relation_ttl_lapses)
{
	start(NULL);
	struct jw_client *s = connect_as("service", "bridge", NULL, 5);
	struct jw_client *admin = connect_as("admin", "1", NULL, 5);
	ck_assert_int_eq(jw_client_subscribe(admin, SYS "relations/#", 1), 1);
	struct jw_client *c = connect_as("customer", "42", NULL, 5);
	ck_assert_int_eq(jw_client_subscribe(c, "order/+/status", 1), 1);
	int64_t t0 = jw_ms();
	CONTROL_OK(s, CMD("addRelations", RELTTL("order:1", "party", "customer:42", 10) ","
			REL("order:2", "party", "customer:42")));
	CONTROL_EXPECT(s, "{\"commands\":[{\"command\":\"listRelations\",\"object\":\"order:1\"}]}",
			"\"expiresAt\":", "\"subject\":\"customer:42\"");
	CHECK_LIVE(s, c, "12", "12");
	/* the ttl counts whole seconds of the broker clock: it lapses 9..10 s
	 * after the command (long enough for a loaded CI machine to see the
	 * grant first) */
	ck_assert_msg(jw_ms() - t0 < 8900, "the test was too slow to see the grant before the ttl");
	while(jw_ms() - t0 < 11100) jw_client_count_messages(c, NULL, 100);
	CHECK_LIVE(s, c, "12", "2");
	CHECK_RETAINED("t1", "2");
	/* the sweep removes it from the store and counts it */
	ck_assert(jw_client_wait_payload(admin, SYS "relations/expired", "1", 8000));
	ck_assert(jw_client_wait_payload(admin, SYS "relations/count", "1", POS_WAIT));
	ck_assert_int_eq(jw_control_count(s), 1);

	/* re-adding without ttl makes it permanent again (a refresh replaces the expiry) */
	CONTROL_OK(s, CMD("addRelations", RELTTL("order:3", "party", "customer:42", 1)));
	CONTROL_OK(s, CMD("addRelations", REL("order:3", "party", "customer:42")));
	int64_t t1 = jw_ms();
	while(jw_ms() - t1 < 2100) jw_client_count_messages(c, NULL, 100);
	CHECK_LIVE(s, c, "123", "23");
	stop();
}
END_TEST

/* ---- status: which broker run is this? ---- */

/* Send status through `c`; the response must succeed and show `count`,
 * `syncing` and `generation`.  Returns the instance (caller frees). */
static char *status_expect(int line, struct jw_client *c, long count, bool syncing, long generation)
{
	char want_count[48], want_gen[48];
	snprintf(want_count, sizeof(want_count), "\"count\":%ld", count);
	snprintf(want_gen, sizeof(want_gen), "\"generation\":%ld", generation);
	char *r = control_expect(line, c, SIMPLE("status"), want_count, want_gen);
	ck_assert_msg(strstr(r, "\"error\"") == NULL, "line %d: status failed: %s", line, r);
	ck_assert_msg(strstr(r, syncing ? "\"syncing\":true" : "\"syncing\":false"),
			"line %d: status %s, want syncing %d", line, r, syncing);
	const char *p = strstr(r, "\"instance\":\"");
	ck_assert_msg(p != NULL, "line %d: no instance in %s", line, r);
	p += strlen("\"instance\":\"");
	ck_assert_msg(strspn(p, "0123456789abcdef") == 32 && p[32] == '"',
			"line %d: instance in %s is not 32 lowercase hex digits", line, r);
	char *inst = strndup(p, 32);
	free(r);
	return inst;
}
#define STATUS_EXPECT(c, count, syncing, generation) \
	status_expect(__LINE__, (c), (count), (syncing), (generation))

START_TEST(status_tells_a_restarted_broker_apart)
{
	start(NULL);
	struct jw_client *s = connect_as("service", "bridge", NULL, 5);
	char *first = STATUS_EXPECT(s, 0, false, 0);
	/* a second service client sees the same store */
	struct jw_client *admin = connect_as("admin", "1", NULL, 5);
	char *again = STATUS_EXPECT(admin, 0, false, 0);
	ck_assert_str_eq(again, first);
	free(again);

	CONTROL_OK(s, CMD("addRelations", REL("order:1", "party", "customer:42") ","
			REL("order:2", "party", "customer:42")));
	again = STATUS_EXPECT(s, 2, false, 0);
	ck_assert_str_eq(again, first);
	free(again);
	CONTROL_OK(s, SIMPLE("syncBegin"));
	CONTROL_OK(s, CMD("addRelations", REL("order:2", "party", "customer:42")));
	free(STATUS_EXPECT(s, 2, true, 0));
	CONTROL_EXPECT(s, SIMPLE("syncEnd"), "\"removed\":1", "\"count\":1");
	again = STATUS_EXPECT(s, 1, false, 1);
	ck_assert_str_eq(again, first);
	free(again);
	/* the sender reconnecting is not a restart: same instance, same store */
	jw_client_destroy_all();
	s = connect_as("service", "bridge", NULL, 5);
	again = STATUS_EXPECT(s, 1, false, 1);
	ck_assert_str_eq(again, first);
	free(again);
	stop();

	/* a new broker run: a new instance and an empty store, so the bridge
	 * knows to push everything again */
	start(NULL);
	s = connect_as("service", "bridge", NULL, 5);
	char *second = STATUS_EXPECT(s, 0, false, 0);
	ck_assert_str_ne(second, first);
	CONTROL_OK(s, CMD("replaceRelations", REL("order:2", "party", "customer:42")));
	again = STATUS_EXPECT(s, 1, false, 1);
	ck_assert_str_eq(again, second);
	free(again);
	/* customers may not ask (no write on $CONTROL) */
	struct jw_client *c = connect_as("customer", "42", NULL, 5);
	ck_assert_int_eq(jw_client_publish(c, CONTROL, SIMPLE("status"), 1, false), DENIED5);
	EXPECT_NONE(c, RESPONSE, NEG_WAIT);
	stop();
	free(first);
	free(second);
}
END_TEST

/* ---- $SYS counters follow the store ---- */

START_TEST(relation_counters_follow_the_store)
{
	start(NULL);
	struct jw_client *s = connect_as("service", "bridge", NULL, 5);
	struct jw_client *admin = connect_as("admin", "1", NULL, 5);
	ck_assert_int_eq(jw_client_subscribe(admin, SYS "#", 1), 1);
	const char *count = SYS "relations/count";
	ck_assert(jw_client_wait_payload(admin, count, "0", POS_WAIT));

	CONTROL_OK(s, CMD("addRelations", REL("order:1", "party", "customer:42") ","
			REL("order:1", "party", "merchant:7") "," REL("order:1", "party", "driver:9") ","
			REL("driver:9", "tracker", "customer:42")));
	ck_assert(jw_client_wait_payload(admin, count, "4", POS_WAIT));
	/* adding the same tuple again does not count twice */
	CONTROL_OK(s, CMD("addRelations", REL("order:1", "party", "customer:42")));
	CONTROL_EXPECT(s, CMD("removeRelations", REL("driver:9", "tracker", "customer:42") ","
			REL("driver:9", "tracker", "customer:1")), "\"removed\":1", NULL);
	ck_assert(jw_client_wait_payload(admin, count, "3", POS_WAIT));
	CONTROL_EXPECT(s, "{\"commands\":[{\"command\":\"removeObject\",\"object\":\"order:1\"}]}",
			"\"removed\":3", NULL);
	ck_assert(jw_client_wait_payload(admin, count, "0", POS_WAIT));
	CONTROL_OK(s, CMD("replaceRelations", REL("order:5", "party", "customer:1") ","
			REL("order:6", "party", "customer:1")));
	ck_assert(jw_client_wait_payload(admin, count, "2", POS_WAIT));
	/* commands counted: 1 + 1 + 1 + 1 + 1 (+ the bad one below) */
	ck_assert(jw_client_wait_payload(admin, SYS "control/commands", "5", POS_WAIT));
	CONTROL_EXPECT(s, "oops", "\"error\"", NULL);
	ck_assert(jw_client_wait_payload(admin, SYS "control/errors", "1", POS_WAIT));
	/* a late subscriber gets the current value, retained */
	struct jw_client *late = connect_as("admin", "1", "late", 5);
	ck_assert_int_eq(jw_client_subscribe(late, count, 1), 1);
	EXPECT_MSG(late, count, "2");
	stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("control");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, responses_reach_only_the_sender);
	tcase_add_test(tc, responses_are_private_even_when_control_is_readable);
	tcase_add_test(tc, bad_commands_get_errors_and_the_sender_stays);
	tcase_add_test(tc, replace_relations_replaces_the_set);
	tcase_add_test(tc, sync_begin_add_end_replaces_the_set);
	tcase_add_test(tc, relation_ttl_lapses);
	tcase_add_test(tc, relation_counters_follow_the_store);
	tcase_add_test(tc, status_tells_a_restarted_broker_apart);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
