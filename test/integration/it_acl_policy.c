/*
 * The default platform policy (acl/default.acl) on a real broker with real
 * clients: every rule of every role, both ways (allowed and denied), for
 * publish (PUBACK), subscribe (SUBACK) and delivery (what a subscriber gets,
 * retained messages included), in MQTT 5 and, where the protocol differs,
 * MQTT 3.1.1.
 *
 * The world every test starts from (world_start):
 *
 *   order:1  party  customer:42, merchant:7, driver:9
 *   order:2  party  customer:43, merchant:8, driver:8
 *   driver:9 tracker customer:42, merchant:7
 *   driver:8 tracker customer:43, merchant:8
 *
 * with retained order/{1,2}/status and /driver (service) and retained
 * driver/{9,8}/location and /presence (published by the drivers).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define DENIED5 0x87    /* MQTT 5 "not authorized" (PUBACK, SUBACK) */
#define DENIED311 0x80  /* MQTT 3.1.1 SUBACK failure */
#define NEG_WAIT 400    /* ms to wait before asserting that nothing arrived */
#define POS_WAIT 5000

#define REL(o, r, s) "{\"object\":\"" o "\",\"relation\":\"" r "\",\"subject\":\"" s "\"}"
#define CMD(name, rels) "{\"commands\":[{\"command\":\"" name "\",\"relations\":[" rels "]}]}"

#define ST1 "{\"orderId\":\"1\",\"status\":\"PENDING\",\"version\":1}"
#define ST2 "{\"orderId\":\"2\",\"status\":\"PENDING\",\"version\":1}"
#define DRV1 "{\"orderId\":\"1\",\"driverId\":\"9\",\"role\":\"pickup\",\"version\":1}"
#define DRV2 "{\"orderId\":\"2\",\"driverId\":\"8\",\"role\":\"pickup\",\"version\":1}"
#define LOC9 "{\"lat\":52.37,\"lng\":4.89,\"ts\":1700000000000}"
#define LOC8 "{\"lat\":48.85,\"lng\":2.35,\"ts\":1700000000000}"
#define PRES9 "{\"status\":\"online\",\"ts\":1700000000000}"
#define PRES8 "{\"status\":\"online\",\"ts\":1700000000001}"
#define FORGED "{\"forged\":true}"
#define FORGED_LOC "{\"lat\":1.5,\"lng\":1.5,\"ts\":1700000000999}"

/* ---- assertions that report the caller's line ---- */

#define SUB_EXPECT(c, filter, want) sub_expect(__LINE__, (c), (filter), (want))
#define PUB_EXPECT(c, topic, payload, retain, want) pub_expect(__LINE__, (c), (topic), (payload), (retain), (want))
/* A message on `topic` arrives (with exactly `payload` unless NULL). */
#define EXPECT_MSG(c, topic, payload) expect_msg(__LINE__, (c), (topic), (payload), false)
/* The same, and it carries the retain flag. */
#define EXPECT_RETAINED(c, topic, payload) expect_msg(__LINE__, (c), (topic), (payload), true)
/* Nothing on `topic` (NULL: any) after wait_ms. */
#define EXPECT_NONE(c, topic, wait_ms) expect_count(__LINE__, (c), (topic), 0, (wait_ms))
/* Exactly n messages in the inbox after wait_ms, whatever the topic. */
#define EXPECT_INBOX(c, n, wait_ms) expect_count(__LINE__, (c), NULL, (n), (wait_ms))

static void sub_expect(int line, struct jw_client *c, const char *filter, int want)
{
	int got = jw_client_subscribe(c, filter, 1);
	ck_assert_msg(got == want, "line %d: subscribe '%s': got %d (0x%x), want %d (0x%x)",
			line, filter, got, (unsigned)got, want, (unsigned)want);
}

static void pub_expect(int line, struct jw_client *c, const char *topic, const char *payload,
		bool retain, int want)
{
	int got = jw_client_publish(c, topic, payload, 1, retain);
	ck_assert_msg(got == want, "line %d: publish '%s': got %d (0x%x), want %d (0x%x)",
			line, topic, got, (unsigned)got, want, (unsigned)want);
}

/* Poll until at least n messages on `topic` (NULL: any) are in the inbox. */
static bool wait_count(struct jw_client *c, const char *topic, int n, int timeout_ms)
{
	int64_t deadline = jw_ms() + timeout_ms;
	while(jw_client_count_messages(c, topic, 0) < n){
		if(jw_ms() >= deadline) return false;
		jw_client_count_messages(c, topic, 20);
	}
	return true;
}

static void expect_msg(int line, struct jw_client *c, const char *topic, const char *payload,
		bool retained)
{
	if(!wait_count(c, topic, 1, POS_WAIT)){
		char *t = jw_client_inbox_topics(c);
		ck_abort_msg("line %d: no message on '%s'; inbox:\n%s", line, topic, t);
	}
	if(retained){
		ck_assert_msg(jw_client_message_retained(c, topic) == 1, "line %d: '%s' not retained", line, topic);
	}
	char *m = jw_client_wait_message(c, topic, 0);
	ck_assert_ptr_nonnull(m);
	if(payload){
		ck_assert_msg(strcmp(m, payload) == 0, "line %d: message on '%s' is '%s', want '%s'",
				line, topic, m, payload);
	}
	free(m);
}

static void expect_count(int line, struct jw_client *c, const char *topic, int want, int wait_ms)
{
	int n = jw_client_count_messages(c, topic, wait_ms);
	if(n != want){
		char *t = jw_client_inbox_topics(c);
		ck_abort_msg("line %d: %d message(s) on '%s', want %d; inbox:\n%s", line, n,
				topic ? topic : "(any)", want, t);
	}
}

/* ---- the world ---- */

static struct jw_broker B;
static struct jw_client *svc;

/* Connect {role}-{sub}[-suffix]; the client is destroyed by world_stop. */
static struct jw_client *connect_as(const char *role, const char *sub, const char *suffix, int protocol)
{
	return jw_connect_as(&B, role, sub, suffix, protocol);
}

static void control_ok(struct jw_client *c, const char *json)
{
	char *r = jw_control(c, json, POS_WAIT);
	ck_assert_msg(r != NULL, "no response to control command %s", json);
	ck_assert_msg(strstr(r, "\"error\"") == NULL, "control command %s failed: %s", json, r);
	free(r);
}

static void world_start(void)
{
	/* The fixtures carry fixed 2023 timestamps: this test is about the ACL,
	 * not payloads, so the plugin's ts window is off (it_location tests it). */
	struct jw_broker_opts o = {.plugin_opts = "plugin_opt_location_max_skew 0\n"};
	jw_broker_start(&B, &o);
	svc = connect_as("service", "bridge", NULL, 5);
	control_ok(svc, CMD("addRelations",
			REL("order:1", "party", "customer:42") "," REL("order:1", "party", "merchant:7") ","
			REL("order:1", "party", "driver:9") ","
			REL("order:2", "party", "customer:43") "," REL("order:2", "party", "merchant:8") ","
			REL("order:2", "party", "driver:8") ","
			REL("driver:9", "tracker", "customer:42") "," REL("driver:9", "tracker", "merchant:7") ","
			REL("driver:8", "tracker", "customer:43") "," REL("driver:8", "tracker", "merchant:8")));
	ck_assert_int_eq(jw_control_count(svc), 10);
	PUB_EXPECT(svc, "order/1/status", ST1, true, 0);
	PUB_EXPECT(svc, "order/2/status", ST2, true, 0);
	PUB_EXPECT(svc, "order/1/driver", DRV1, true, 0);
	PUB_EXPECT(svc, "order/2/driver", DRV2, true, 0);
	struct jw_client *d9 = connect_as("driver", "9", "init", 5);
	struct jw_client *d8 = connect_as("driver", "8", "init", 5);
	PUB_EXPECT(d9, "driver/9/location", LOC9, true, 0);
	PUB_EXPECT(d9, "driver/9/presence", PRES9, true, 0);
	PUB_EXPECT(d8, "driver/8/location", LOC8, true, 0);
	PUB_EXPECT(d8, "driver/8/presence", PRES8, true, 0);
}

static void world_stop(void)
{
	jw_client_destroy_all();
	svc = NULL;
	ck_assert_int_eq(jw_broker_stop(&B), 0);
}

/* A fresh subscriber (service, which may read order and driver state) sees
 * the retained value of `topic`: proves a refused write changed nothing. */
static void expect_retained_value(const char *topic, const char *payload)
{
	static int seq;
	char suffix[32];
	snprintf(suffix, sizeof(suffix), "check%d", seq++);
	struct jw_client *c = connect_as("service", "bridge", suffix, 5);
	SUB_EXPECT(c, topic, 1);
	EXPECT_RETAINED(c, topic, payload);
}

/* ---- customer and merchant: the same rules, with their own notifications ---- */

static void party_role_rules(const char *role, const char *sub, const char *other_sub,
		const char *other_role)
{
	char own_notes[64], other_notes[64], role_notes_of_other[64], same_sub_other_role[64];
	snprintf(own_notes, sizeof(own_notes), "%s/%s/notifications", role, sub);
	snprintf(other_notes, sizeof(other_notes), "%s/%s/notifications", role, other_sub);
	snprintf(role_notes_of_other, sizeof(role_notes_of_other), "%s/%s/notifications", other_role, sub);
	snprintf(same_sub_other_role, sizeof(same_sub_other_role), "driver/%s/notifications", sub);

	world_start();
	struct jw_client *admin_watch = connect_as("admin", "1", "watch", 5);
	SUB_EXPECT(admin_watch, "#", 1);

	/* SUBSCRIBE, granted: the rules' own topics */
	struct jw_client *c = connect_as(role, sub, "a", 5);
	SUB_EXPECT(c, "order/1/status", 1);      /* party of order:1 */
	EXPECT_RETAINED(c, "order/1/status", ST1);
	SUB_EXPECT(c, "order/1/driver", 1);
	EXPECT_RETAINED(c, "order/1/driver", DRV1);
	SUB_EXPECT(c, "driver/9/location", 1);   /* tracker of driver:9 */
	EXPECT_RETAINED(c, "driver/9/location", LOC9);
	SUB_EXPECT(c, "driver/9/presence", 1);
	EXPECT_RETAINED(c, "driver/9/presence", PRES9);
	SUB_EXPECT(c, own_notes, 1);              /* {role}/{sub}/notifications */
	EXPECT_NONE(c, NULL, 0);

	/* SUBSCRIBE, denied: the same rules for objects the client holds no
	 * relation to, other users' notifications, and everything else */
	const char *denied[] = {
		"order/2/status", "order/2/driver", "order/2/#",
		"driver/8/location", "driver/8/presence",
		"driver/9/offers", "driver/8/#", "driver/9/notifications",
		other_notes, role_notes_of_other, same_sub_other_role,
		"$CONTROL/jetwire/v1", "$CONTROL/jetwire/v1/response", "$CONTROL/#",
		"$SYS/#", "$SYS/broker/jetwire/#", "jetwire/bridge/#",
		"$share/g/order/2/status", "$share/g/driver/8/location", "$share/g/$SYS/#",
	};
	for(size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) SUB_EXPECT(c, denied[i], DENIED5);
	EXPECT_NONE(c, NULL, NEG_WAIT);

	/* Delivery: a "#" subscriber gets its own orders, its tracked driver and
	 * its own notifications, nothing else */
	struct jw_client *all = connect_as(role, sub, "b", 5);
	SUB_EXPECT(all, "#", 1);
	EXPECT_RETAINED(all, "order/1/status", ST1);
	EXPECT_RETAINED(all, "order/1/driver", DRV1);
	EXPECT_RETAINED(all, "driver/9/location", LOC9);
	EXPECT_RETAINED(all, "driver/9/presence", PRES9);
	EXPECT_INBOX(all, 0, NEG_WAIT);

	struct jw_client *d9 = connect_as("driver", "9", NULL, 5);
	struct jw_client *d8 = connect_as("driver", "8", NULL, 5);
	PUB_EXPECT(svc, "order/2/status", "{\"v\":2}", false, 0);
	PUB_EXPECT(svc, "order/2/driver", "{\"v\":2}", false, 0);
	PUB_EXPECT(svc, other_notes, "{\"n\":\"other\"}", false, 0);
	PUB_EXPECT(svc, role_notes_of_other, "{\"n\":\"other role\"}", false, 0);
	PUB_EXPECT(svc, same_sub_other_role, "{\"n\":\"driver\"}", false, 0);
	PUB_EXPECT(svc, "driver/9/offers", "{\"offer\":1}", false, 0);
	PUB_EXPECT(svc, "jetwire/bridge/status", "{}", false, 0);
	PUB_EXPECT(d8, "driver/8/location", LOC8, false, 0);
	PUB_EXPECT(d8, "driver/8/presence", PRES8, false, 0);
	PUB_EXPECT(svc, "order/1/status", "{\"v\":1}", false, 0);
	PUB_EXPECT(svc, "order/1/driver", "{\"v\":1}", false, 0);
	PUB_EXPECT(svc, own_notes, "{\"n\":\"mine\"}", false, 0);
	PUB_EXPECT(d9, "driver/9/location", LOC9, false, 0);
	PUB_EXPECT(d9, "driver/9/presence", PRES9, false, 0);
	EXPECT_MSG(all, "order/1/status", "{\"v\":1}");
	EXPECT_MSG(all, "order/1/driver", "{\"v\":1}");
	EXPECT_MSG(all, own_notes, "{\"n\":\"mine\"}");
	EXPECT_MSG(all, "driver/9/location", LOC9);
	EXPECT_MSG(all, "driver/9/presence", PRES9);
	EXPECT_INBOX(all, 0, NEG_WAIT);
	EXPECT_MSG(c, "order/1/status", "{\"v\":1}");
	EXPECT_MSG(c, "order/1/driver", "{\"v\":1}");
	EXPECT_MSG(c, own_notes, "{\"n\":\"mine\"}");
	EXPECT_MSG(c, "driver/9/location", LOC9);
	EXPECT_MSG(c, "driver/9/presence", PRES9);
	EXPECT_INBOX(c, 0, 0);

	/* PUBLISH: this role writes nothing; refused writes reach nobody and
	 * leave retained state alone */
	jw_client_clear_inbox(admin_watch);
	const char *no_write[] = {
		"order/1/status", "order/1/driver", "order/2/status",
		"driver/9/location", "driver/9/presence", "driver/9/offers",
		own_notes, "jetwire/bridge/status",
	};
	for(size_t i = 0; i < sizeof(no_write) / sizeof(no_write[0]); i++){
		PUB_EXPECT(c, no_write[i], strstr(no_write[i], "location") ? FORGED_LOC : FORGED, true, DENIED5);
	}
	/* $CONTROL: refused, and the relation store is unchanged */
	PUB_EXPECT(c, "$CONTROL/jetwire/v1",
			CMD("addRelations", REL("order:2", "party", "customer:42") "," REL("order:2", "party", "merchant:7")),
			false, DENIED5);
	ck_assert_int_eq(jw_control_count(svc), 10);
	EXPECT_NONE(admin_watch, NULL, NEG_WAIT);
	EXPECT_NONE(c, NULL, 0);   /* no control response either */
	expect_retained_value("order/1/status", ST1);
	expect_retained_value("driver/9/location", LOC9);
	SUB_EXPECT(c, "order/2/status", DENIED5);
	world_stop();
}

START_TEST(customer_rules_both_ways)
{
	party_role_rules("customer", "42", "43", "merchant");
}
END_TEST

START_TEST(merchant_rules_both_ways)
{
	party_role_rules("merchant", "7", "8", "customer");
}
END_TEST

/* ---- driver ---- */

START_TEST(driver_rules_both_ways)
{
	world_start();
	struct jw_client *watch = connect_as("service", "bridge", "watch", 5);
	SUB_EXPECT(watch, "driver/+/location", 1);
	SUB_EXPECT(watch, "driver/+/presence", 1);
	SUB_EXPECT(watch, "order/+/#", 1);
	struct jw_client *cust = connect_as("customer", "42", NULL, 5);  /* tracks driver 9 */
	SUB_EXPECT(cust, "driver/+/location", 1);
	EXPECT_MSG(cust, "driver/9/location", LOC9);
	jw_client_clear_inbox(watch);

	/* SUBSCRIBE */
	struct jw_client *d = connect_as("driver", "9", "a", 5);
	const char *granted[] = {
		"driver/9/offers", "driver/9/notifications", "driver/9/location", "driver/9/presence",
		"order/1/status", "order/1/driver",
	};
	for(size_t i = 0; i < sizeof(granted) / sizeof(granted[0]); i++) SUB_EXPECT(d, granted[i], 1);
	EXPECT_MSG(d, "driver/9/location", LOC9);
	EXPECT_MSG(d, "driver/9/presence", PRES9);
	EXPECT_MSG(d, "order/1/status", ST1);
	EXPECT_MSG(d, "order/1/driver", DRV1);
	const char *denied[] = {
		"driver/8/offers", "driver/8/notifications", "driver/8/location", "driver/8/presence",
		"driver/8/#", "order/2/status", "order/2/#", "customer/42/notifications",
		"customer/9/notifications", "$CONTROL/jetwire/v1", "$SYS/#", "jetwire/bridge/#",
	};
	for(size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) SUB_EXPECT(d, denied[i], DENIED5);
	EXPECT_NONE(d, NULL, 0);

	/* Delivery to a "#" subscriber: own driver/9/# and order 1 only */
	struct jw_client *all = connect_as("driver", "9", "b", 5);
	SUB_EXPECT(all, "#", 1);
	EXPECT_RETAINED(all, "order/1/status", ST1);
	EXPECT_RETAINED(all, "order/1/driver", DRV1);
	EXPECT_RETAINED(all, "driver/9/location", LOC9);
	EXPECT_RETAINED(all, "driver/9/presence", PRES9);
	EXPECT_INBOX(all, 0, NEG_WAIT);
	PUB_EXPECT(svc, "driver/8/offers", "{\"offer\":8}", false, 0);
	PUB_EXPECT(svc, "driver/8/notifications", "{\"n\":8}", false, 0);
	PUB_EXPECT(svc, "customer/9/notifications", "{\"n\":\"c9\"}", false, 0);
	PUB_EXPECT(svc, "order/2/status", "{\"v\":2}", false, 0);
	PUB_EXPECT(svc, "driver/9/offers", "{\"offer\":9}", false, 0);       /* service writes offers */
	PUB_EXPECT(svc, "driver/9/notifications", "{\"n\":9}", false, 0);    /* and notifications */
	PUB_EXPECT(svc, "order/1/status", "{\"v\":1}", false, 0);            /* and order state */
	EXPECT_MSG(all, "driver/9/offers", "{\"offer\":9}");
	EXPECT_MSG(all, "driver/9/notifications", "{\"n\":9}");
	EXPECT_MSG(all, "order/1/status", "{\"v\":1}");
	EXPECT_MSG(d, "driver/9/offers", "{\"offer\":9}");
	EXPECT_MSG(d, "driver/9/notifications", "{\"n\":9}");
	EXPECT_MSG(d, "order/1/status", "{\"v\":1}");
	EXPECT_INBOX(all, 0, NEG_WAIT);
	EXPECT_INBOX(d, 0, 0);
	jw_client_clear_inbox(watch);

	/* PUBLISH, granted: its own location and presence, which the service
	 * and the tracking customer receive */
	const char *loc = "{\"lat\":52.38,\"lng\":4.9,\"ts\":1700000001000}";
	const char *pres = "{\"status\":\"online\",\"ts\":1700000001000}";
	PUB_EXPECT(d, "driver/9/location", loc, true, 0);
	PUB_EXPECT(d, "driver/9/presence", pres, true, 0);
	EXPECT_MSG(watch, "driver/9/location", loc);
	EXPECT_MSG(watch, "driver/9/presence", pres);
	EXPECT_MSG(cust, "driver/9/location", loc);
	EXPECT_MSG(all, "driver/9/location", loc);   /* reads its own */

	/* PUBLISH, denied: another driver's location and presence, and
	 * everything the service writes */
	jw_client_clear_inbox(watch);
	jw_client_clear_inbox(all);
	PUB_EXPECT(d, "driver/8/location", FORGED_LOC, true, DENIED5);
	PUB_EXPECT(d, "driver/8/presence", "{\"status\":\"offline\",\"ts\":1}", true, DENIED5);
	PUB_EXPECT(d, "driver/9/offers", FORGED, false, DENIED5);
	PUB_EXPECT(d, "driver/9/notifications", FORGED, false, DENIED5);
	PUB_EXPECT(d, "order/1/status", FORGED, true, DENIED5);
	PUB_EXPECT(d, "order/1/driver", FORGED, true, DENIED5);
	PUB_EXPECT(d, "customer/42/notifications", FORGED, false, DENIED5);
	PUB_EXPECT(d, "jetwire/bridge/status", FORGED, false, DENIED5);
	PUB_EXPECT(d, "$CONTROL/jetwire/v1", CMD("addRelations", REL("order:2", "party", "driver:9")),
			false, DENIED5);
	ck_assert_int_eq(jw_control_count(svc), 10);
	EXPECT_NONE(watch, NULL, NEG_WAIT);
	EXPECT_NONE(all, NULL, 0);
	EXPECT_NONE(cust, NULL, 0);
	expect_retained_value("driver/8/location", LOC8);
	expect_retained_value("driver/8/presence", PRES8);
	expect_retained_value("order/1/status", ST1);
	SUB_EXPECT(d, "order/2/status", DENIED5);

	/* Last will: its own presence is published when it drops; a will on
	 * another driver's presence is not */
	struct jw_client *w9 = jw_client_new("driver-9-will", 5, true);
	jw_client_set_will(w9, "driver/9/presence", "{\"status\":\"offline\",\"ts\":1}", 1, true);
	char *tok9 = jw_token(&B, "9", "driver", 600);
	ck_assert_int_eq(jw_client_connect(w9, B.port, tok9), 0);
	struct jw_client *w8 = jw_client_new("driver-9-forge", 5, true);
	jw_client_set_will(w8, "driver/8/presence", "{\"status\":\"offline\",\"ts\":2}", 1, true);
	ck_assert_int_eq(jw_client_connect(w8, B.port, tok9), 0);
	free(tok9);
	jw_client_clear_inbox(watch);
	jw_client_drop(w8);
	jw_client_drop(w9);
	EXPECT_MSG(watch, "driver/9/presence", "{\"status\":\"offline\",\"ts\":1}");
	EXPECT_NONE(watch, "driver/8/presence", NEG_WAIT);
	expect_retained_value("driver/8/presence", PRES8);
	jw_client_destroy(w8);
	jw_client_destroy(w9);
	world_stop();
}
END_TEST

/* ---- service ---- */

START_TEST(service_rules_both_ways)
{
	world_start();
	struct jw_client *admin = connect_as("admin", "1", NULL, 5);
	SUB_EXPECT(admin, "jetwire/#", 1);
	struct jw_client *cust = connect_as("customer", "42", NULL, 5);
	SUB_EXPECT(cust, "customer/42/notifications", 1);
	struct jw_client *merch = connect_as("merchant", "7", NULL, 5);
	SUB_EXPECT(merch, "merchant/7/notifications", 1);
	struct jw_client *drv = connect_as("driver", "9", NULL, 5);
	SUB_EXPECT(drv, "driver/9/#", 1);
	EXPECT_MSG(drv, "driver/9/location", LOC9);
	EXPECT_MSG(drv, "driver/9/presence", PRES9);

	/* PUBLISH, granted */
	struct jw_client *s = connect_as("service", "bridge", "w", 5);
	PUB_EXPECT(s, "order/1/status", "{\"v\":11}", true, 0);
	PUB_EXPECT(s, "order/1/driver", "{\"v\":12}", true, 0);
	PUB_EXPECT(s, "driver/9/offers", "{\"offer\":1}", false, 0);
	PUB_EXPECT(s, "customer/42/notifications", "{\"n\":1}", false, 0);
	PUB_EXPECT(s, "merchant/7/notifications", "{\"n\":2}", false, 0);
	PUB_EXPECT(s, "driver/9/notifications", "{\"n\":3}", false, 0);
	PUB_EXPECT(s, "jetwire/bridge/status", "{\"up\":true}", false, 0);
	PUB_EXPECT(s, "jetwire/bridge/a/b", "{}", false, 0);
	control_ok(s, CMD("addRelations", REL("order:3", "party", "customer:42")));
	EXPECT_MSG(drv, "driver/9/offers", "{\"offer\":1}");
	EXPECT_MSG(drv, "driver/9/notifications", "{\"n\":3}");
	EXPECT_MSG(cust, "customer/42/notifications", "{\"n\":1}");
	EXPECT_MSG(merch, "merchant/7/notifications", "{\"n\":2}");
	EXPECT_MSG(admin, "jetwire/bridge/status", "{\"up\":true}");
	EXPECT_MSG(admin, "jetwire/bridge/a/b", "{}");
	expect_retained_value("order/1/status", "{\"v\":11}");
	expect_retained_value("order/1/driver", "{\"v\":12}");
	ck_assert_int_eq(jw_control_count(s), 11);

	/* PUBLISH, denied: topics next to the granted ones */
	jw_client_clear_inbox(admin);
	SUB_EXPECT(admin, "#", 1);
	ck_assert(wait_count(admin, NULL, 8, POS_WAIT));   /* the retained state "#" brings */
	EXPECT_INBOX(admin, 8, 200);
	jw_client_clear_inbox(admin);
	jw_client_clear_inbox(drv);
	const char *denied_w[] = {
		"driver/9/location", "driver/9/presence", "order/1/other", "order/1/status/x", "order/1",
		"order/1/driver/x", "driver/9/offers/x", "customer/42/other", "customer/42/notifications/x",
		"jetwire/other", "jetwire", "$CONTROL/jetwire/v2", "$CONTROL/jetwire/v1/response",
		"$CONTROL/dynamic-security/v1", "$SYS/broker/jetwire/relations/count",
	};
	for(size_t i = 0; i < sizeof(denied_w) / sizeof(denied_w[0]); i++){
		PUB_EXPECT(s, denied_w[i], strstr(denied_w[i], "location") ? FORGED_LOC : FORGED, false, DENIED5);
	}
	EXPECT_NONE(admin, NULL, NEG_WAIT);
	EXPECT_NONE(drv, NULL, 0);
	expect_retained_value("driver/9/location", LOC9);
	ck_assert_int_eq(jw_control_count(s), 11);

	/* SUBSCRIBE and delivery: order state, driver location and presence,
	 * its own jetwire/bridge tree; never offers, notifications or $SYS */
	struct jw_client *r = connect_as("service", "bridge", "r", 5);
	SUB_EXPECT(r, "order/+/#", 1);
	EXPECT_RETAINED(r, "order/1/status", "{\"v\":11}");
	EXPECT_RETAINED(r, "order/2/status", ST2);
	EXPECT_RETAINED(r, "order/1/driver", "{\"v\":12}");
	EXPECT_RETAINED(r, "order/2/driver", DRV2);
	SUB_EXPECT(r, "driver/+/location", 1);
	EXPECT_RETAINED(r, "driver/9/location", LOC9);
	EXPECT_RETAINED(r, "driver/8/location", LOC8);
	SUB_EXPECT(r, "driver/+/presence", 1);
	EXPECT_RETAINED(r, "driver/9/presence", PRES9);
	EXPECT_RETAINED(r, "driver/8/presence", PRES8);
	SUB_EXPECT(r, "jetwire/bridge/#", 1);
	const char *denied_s[] = {
		"driver/+/offers", "driver/9/offers", "customer/42/notifications", "driver/9/notifications",
		"$SYS/#", "$CONTROL/jetwire/v1", "jetwire/other",
	};
	for(size_t i = 0; i < sizeof(denied_s) / sizeof(denied_s[0]); i++) SUB_EXPECT(r, denied_s[i], DENIED5);
	EXPECT_INBOX(r, 0, NEG_WAIT);

	struct jw_client *all = connect_as("service", "bridge", "all", 5);
	SUB_EXPECT(all, "#", 1);
	ck_assert(wait_count(all, NULL, 8, POS_WAIT));   /* order x4, driver x4 */
	EXPECT_INBOX(all, 8, 200);
	jw_client_clear_inbox(all);
	PUB_EXPECT(s, "driver/9/offers", "{\"offer\":2}", false, 0);
	PUB_EXPECT(s, "customer/42/notifications", "{\"n\":4}", false, 0);
	PUB_EXPECT(s, "merchant/7/notifications", "{\"n\":5}", false, 0);
	PUB_EXPECT(s, "jetwire/bridge/status", "{\"up\":2}", false, 0);
	PUB_EXPECT(s, "order/2/status", "{\"v\":22}", false, 0);
	PUB_EXPECT(drv, "driver/9/location", LOC9, false, 0);
	EXPECT_MSG(all, "jetwire/bridge/status", "{\"up\":2}");
	EXPECT_MSG(all, "order/2/status", "{\"v\":22}");
	EXPECT_MSG(all, "driver/9/location", LOC9);
	EXPECT_MSG(r, "jetwire/bridge/status", "{\"up\":2}");
	EXPECT_MSG(r, "order/2/status", "{\"v\":22}");
	EXPECT_MSG(r, "driver/9/location", LOC9);
	EXPECT_INBOX(all, 0, NEG_WAIT);
	EXPECT_INBOX(r, 0, 0);
	world_stop();
}
END_TEST

/* ---- admin ---- */

START_TEST(admin_rules_both_ways)
{
	world_start();
	PUB_EXPECT(svc, "customer/42/notifications", "{\"retained\":true}", true, 0);
	struct jw_client *a = connect_as("admin", "1", NULL, 5);

	/* SUBSCRIBE: everything but notifications ("deny read +/+/notifications"
	 * comes first), $SYS too */
	const char *denied[] = {
		"+/+/notifications", "customer/42/notifications", "customer/+/notifications",
		"driver/9/notifications", "+/9/notifications", "$CONTROL/jetwire/v1",
	};
	for(size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) SUB_EXPECT(a, denied[i], DENIED5);
	EXPECT_NONE(a, NULL, NEG_WAIT);   /* not even the retained notification */

	struct jw_client *all = connect_as("admin", "1", "all", 5);
	SUB_EXPECT(all, "#", 1);
	EXPECT_RETAINED(all, "order/1/status", ST1);
	EXPECT_RETAINED(all, "order/2/status", ST2);
	EXPECT_RETAINED(all, "order/1/driver", DRV1);
	EXPECT_RETAINED(all, "order/2/driver", DRV2);
	EXPECT_RETAINED(all, "driver/9/location", LOC9);
	EXPECT_RETAINED(all, "driver/8/location", LOC8);
	EXPECT_RETAINED(all, "driver/9/presence", PRES9);
	EXPECT_RETAINED(all, "driver/8/presence", PRES8);
	EXPECT_INBOX(all, 0, NEG_WAIT);   /* no notification, no $SYS */

	struct jw_client *d9 = connect_as("driver", "9", NULL, 5);
	PUB_EXPECT(svc, "customer/42/notifications", "{\"n\":1}", false, 0);
	PUB_EXPECT(svc, "merchant/7/notifications", "{\"n\":2}", false, 0);
	PUB_EXPECT(svc, "driver/9/notifications", "{\"n\":3}", false, 0);
	PUB_EXPECT(svc, "order/1/status", "{\"v\":2}", false, 0);
	PUB_EXPECT(svc, "driver/9/offers", "{\"offer\":1}", false, 0);
	PUB_EXPECT(svc, "jetwire/bridge/status", "{}", false, 0);
	PUB_EXPECT(d9, "driver/9/location", LOC9, false, 0);
	EXPECT_MSG(all, "order/1/status", "{\"v\":2}");
	EXPECT_MSG(all, "driver/9/offers", "{\"offer\":1}");
	EXPECT_MSG(all, "jetwire/bridge/status", "{}");
	EXPECT_MSG(all, "driver/9/location", LOC9);
	EXPECT_INBOX(all, 0, NEG_WAIT);

	/* $SYS: jetwire's counters */
	SUB_EXPECT(a, "$SYS/#", 1);
	EXPECT_MSG(a, "$SYS/broker/jetwire/connections/active", NULL);
	ck_assert(jw_client_wait_payload(a, "$SYS/broker/jetwire/relations/count", "10", POS_WAIT));
	char *topics = jw_client_inbox_topics(a);   /* one snapshot: $SYS keeps arriving */
	for(const char *t = topics; *t; t = strchr(t, '\n') + 1){
		ck_assert_msg(strncmp(t, "$SYS/", 5) == 0, "admin got more than $SYS:\n%s", topics);
	}
	free(topics);

	/* PUBLISH: $CONTROL only */
	control_ok(a, CMD("addRelations", REL("order:5", "party", "customer:42")));
	ck_assert_int_eq(jw_control_count(svc), 11);
	ck_assert(jw_client_wait_payload(a, "$SYS/broker/jetwire/relations/count", "11", POS_WAIT));
	jw_client_clear_inbox(all);
	const char *no_write[] = {
		"order/1/status", "order/1/driver", "driver/9/offers", "customer/42/notifications",
		"jetwire/bridge/status", "admin/1/notifications", "$CONTROL/jetwire/v2",
	};
	for(size_t i = 0; i < sizeof(no_write) / sizeof(no_write[0]); i++){
		PUB_EXPECT(a, no_write[i], FORGED, false, DENIED5);
	}
	PUB_EXPECT(a, "driver/9/location", FORGED_LOC, true, DENIED5);
	EXPECT_INBOX(all, 0, NEG_WAIT);
	expect_retained_value("driver/9/location", LOC9);
	world_stop();
}
END_TEST

/* ---- delivery filtering, whatever the filter ---- */

START_TEST(customer_filters_receive_only_own_orders)
{
	world_start();
	PUB_EXPECT(svc, "order/3/status", "{\"orderId\":\"3\"}", true, 0);   /* nobody's order */
	const char *filters[] = {"#", "+/+/+", "order/+/status", "$share/g/order/+/status", "order/#",
		"+/1/status"};
	enum { NF = sizeof(filters) / sizeof(filters[0]) };
	struct jw_client *c[NF];
	for(int i = 0; i < NF; i++){
		char suffix[8];
		snprintf(suffix, sizeof(suffix), "f%d", i);
		c[i] = connect_as("customer", "42", suffix, 5);
		SUB_EXPECT(c[i], filters[i], 1);
	}
	/* retained on subscribe: order 1 only (2.0.11 sends retained messages
	 * to $share subscriptions too: src/topic_tok.c strips the prefix and
	 * src/retain.c checks READ for the subscriber) */
	for(int i = 0; i < NF; i++) EXPECT_RETAINED(c[i], "order/1/status", ST1);
	/* "#", "+/+/+" and "order/#" also see order 1's driver and the tracked
	 * driver; drain those */
	EXPECT_MSG(c[0], "order/1/driver", DRV1);
	EXPECT_MSG(c[0], "driver/9/location", LOC9);
	EXPECT_MSG(c[0], "driver/9/presence", PRES9);
	EXPECT_MSG(c[1], "order/1/driver", DRV1);
	EXPECT_MSG(c[1], "driver/9/location", LOC9);
	EXPECT_MSG(c[1], "driver/9/presence", PRES9);
	EXPECT_MSG(c[4], "order/1/driver", DRV1);
	for(int i = 0; i < NF; i++) EXPECT_INBOX(c[i], 0, i == 0 ? NEG_WAIT : 0);

	/* live: other orders never, own order once per subscriber */
	PUB_EXPECT(svc, "order/2/status", "{\"v\":2}", false, 0);
	PUB_EXPECT(svc, "order/3/status", "{\"v\":3}", false, 0);
	PUB_EXPECT(svc, "order/1/status", "{\"v\":1}", false, 0);
	for(int i = 0; i < NF; i++) EXPECT_MSG(c[i], "order/1/status", "{\"v\":1}");
	/* and never $SYS, although the counters changed while subscribed (one
	 * stats interval is 1 s) */
	struct jw_client *admin = connect_as("admin", "1", NULL, 5);
	SUB_EXPECT(admin, "$SYS/broker/jetwire/relations/count", 1);
	control_ok(svc, CMD("addRelations", REL("order:9", "party", "customer:99")));
	ck_assert(jw_client_wait_payload(admin, "$SYS/broker/jetwire/relations/count", "11", POS_WAIT));
	for(int i = 0; i < NF; i++) EXPECT_INBOX(c[i], 0, i == 0 ? 200 : 0);

	/* removing the relation stops deliveries at once */
	control_ok(svc, CMD("removeRelations", REL("order:1", "party", "customer:42")));
	PUB_EXPECT(svc, "order/1/status", "{\"v\":\"after\"}", true, 0);
	for(int i = 0; i < NF; i++) EXPECT_INBOX(c[i], 0, i == 0 ? NEG_WAIT : 0);
	/* and the retained state is no longer delivered on (re)subscribe */
	for(int i = 0; i < NF; i++){
		/* a filter naming order 1 is now refused outright */
		SUB_EXPECT(c[i], filters[i], strcmp(filters[i], "+/1/status") == 0 ? DENIED5 : 1);
	}
	struct jw_client *fresh = connect_as("customer", "42", "fresh", 5);
	SUB_EXPECT(fresh, "order/+/status", 1);
	SUB_EXPECT(fresh, "order/1/status", DENIED5);
	EXPECT_INBOX(fresh, 0, NEG_WAIT);
	for(int i = 0; i < NF; i++){
		/* "#" and "+/+/+" still get the tracked driver's retained state */
		if(i == 0 || i == 1){
			EXPECT_MSG(c[i], "driver/9/location", LOC9);
			EXPECT_MSG(c[i], "driver/9/presence", PRES9);
		}
		EXPECT_INBOX(c[i], 0, 0);
	}
	world_stop();
}
END_TEST

START_TEST(tracker_relation_grants_and_revokes_driver_location)
{
	world_start();
	control_ok(svc, CMD("removeRelations", REL("driver:9", "tracker", "customer:42")));
	struct jw_client *d9 = connect_as("driver", "9", NULL, 5);
	struct jw_client *c = connect_as("customer", "42", NULL, 5);
	SUB_EXPECT(c, "driver/9/location", DENIED5);
	SUB_EXPECT(c, "driver/+/location", 1);
	SUB_EXPECT(c, "driver/+/presence", 1);
	EXPECT_INBOX(c, 0, NEG_WAIT);   /* no retained location without the tuple */
	PUB_EXPECT(d9, "driver/9/location", LOC9, true, 0);
	EXPECT_INBOX(c, 0, NEG_WAIT);

	control_ok(svc, CMD("addRelations", REL("driver:9", "tracker", "customer:42")));
	const char *loc = "{\"lat\":52.4,\"lng\":4.9,\"ts\":1700000002000}";
	PUB_EXPECT(d9, "driver/9/location", loc, true, 0);
	EXPECT_MSG(c, "driver/9/location", loc);
	PUB_EXPECT(d9, "driver/9/presence", PRES9, true, 0);
	EXPECT_MSG(c, "driver/9/presence", PRES9);
	struct jw_client *late = connect_as("customer", "42", "late", 5);
	SUB_EXPECT(late, "driver/9/location", 1);
	EXPECT_RETAINED(late, "driver/9/location", loc);
	SUB_EXPECT(late, "driver/9/presence", 1);
	EXPECT_RETAINED(late, "driver/9/presence", PRES9);
	/* another driver: never */
	struct jw_client *d8 = connect_as("driver", "8", NULL, 5);
	PUB_EXPECT(d8, "driver/8/location", LOC8, true, 0);
	EXPECT_INBOX(c, 0, NEG_WAIT);

	control_ok(svc, CMD("removeRelations", REL("driver:9", "tracker", "customer:42")));
	PUB_EXPECT(d9, "driver/9/location", LOC9, true, 0);
	PUB_EXPECT(d9, "driver/9/presence", "{\"status\":\"offline\",\"ts\":1}", true, 0);
	EXPECT_INBOX(c, 0, NEG_WAIT);
	EXPECT_INBOX(late, 0, 0);
	SUB_EXPECT(c, "driver/+/location", 1);
	SUB_EXPECT(late, "driver/9/location", DENIED5);
	SUB_EXPECT(late, "driver/9/presence", DENIED5);
	EXPECT_INBOX(c, 0, NEG_WAIT);
	world_stop();
}
END_TEST

/* ---- $SYS and $CONTROL ---- */

START_TEST(sys_readable_by_admin_only)
{
	world_start();
	struct jw_client *admin = connect_as("admin", "1", NULL, 5);
	SUB_EXPECT(admin, "$SYS/broker/jetwire/#", 1);
	ck_assert(jw_client_wait_payload(admin, "$SYS/broker/jetwire/relations/count", "10", POS_WAIT));
	EXPECT_MSG(admin, "$SYS/broker/jetwire/connections/active", NULL);

	struct jw_client *others[] = {
		connect_as("customer", "42", NULL, 5), connect_as("merchant", "7", NULL, 5),
		connect_as("driver", "9", NULL, 5), connect_as("service", "bridge", "sys", 5),
	};
	enum { NO = sizeof(others) / sizeof(others[0]) };
	for(int i = 0; i < NO; i++){
		SUB_EXPECT(others[i], "$SYS/#", DENIED5);
		SUB_EXPECT(others[i], "$SYS/broker/jetwire/#", DENIED5);
		SUB_EXPECT(others[i], "$SYS/broker/jetwire/relations/count", DENIED5);
		SUB_EXPECT(others[i], "#", 1);
	}
	/* make a counter change while they are subscribed */
	control_ok(svc, CMD("addRelations", REL("order:7", "party", "customer:77")));
	ck_assert(jw_client_wait_payload(admin, "$SYS/broker/jetwire/relations/count", "11", 5000));
	for(int i = 0; i < NO; i++) ck_assert_int_eq(jw_client_count_prefix(others[i], "$", 0), 0);

	/* MQTT 3.1.1 */
	struct jw_client *c4 = connect_as("customer", "42", "v4", 4);
	SUB_EXPECT(c4, "$SYS/#", DENIED311);
	struct jw_client *a4 = connect_as("admin", "1", "v4", 4);
	SUB_EXPECT(a4, "$SYS/broker/jetwire/#", 1);
	EXPECT_RETAINED(a4, "$SYS/broker/jetwire/relations/count", "11");
	ck_assert_int_eq(jw_client_count_prefix(c4, "$", 300), 0);
	world_stop();
}
END_TEST

START_TEST(control_writable_by_service_and_admin_only)
{
	world_start();
	const char *cmd = CMD("addRelations", REL("order:2", "party", "customer:42") ","
			REL("order:2", "party", "driver:9") "," REL("order:2", "party", "merchant:7"));
	struct jw_client *refused[] = {
		connect_as("customer", "42", NULL, 5), connect_as("merchant", "7", NULL, 5),
		connect_as("driver", "9", NULL, 5),
		connect_as("customer", "42", "v4", 4), connect_as("driver", "9", "v4", 4),
	};
	for(size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++){
		/* MQTT 5: PUBACK 0x87; 3.1.1: PUBACK, silently dropped */
		PUB_EXPECT(refused[i], "$CONTROL/jetwire/v1", cmd, false, i < 3 ? DENIED5 : 0);
		PUB_EXPECT(refused[i], "$CONTROL/jetwire/v1",
				"{\"commands\":[{\"command\":\"removeObject\",\"object\":\"order:1\"}]}", false,
				i < 3 ? DENIED5 : 0);
		ck_assert_int_eq(jw_control_count(svc), 10);
		ck_assert(jw_client_is_connected(refused[i]));
	}
	for(size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) EXPECT_INBOX(refused[i], 0, i ? 0 : NEG_WAIT);
	SUB_EXPECT(refused[0], "order/2/status", DENIED5);
	SUB_EXPECT(refused[0], "order/1/status", 1);

	struct jw_client *admin = connect_as("admin", "1", NULL, 5);
	control_ok(admin, CMD("addRelations", REL("order:2", "party", "customer:42")));
	ck_assert_int_eq(jw_control_count(svc), 11);
	ck_assert_int_eq(jw_control_count(admin), 11);
	SUB_EXPECT(refused[0], "order/2/status", 1);
	world_stop();
}
END_TEST

/* ---- MQTT 3.1.1: refused publishes are dropped silently ---- */

START_TEST(mqtt311_denials_are_silent_drops)
{
	world_start();
	struct jw_client *watch = connect_as("service", "bridge", "watch", 5);
	SUB_EXPECT(watch, "order/+/#", 1);
	SUB_EXPECT(watch, "driver/+/location", 1);
	SUB_EXPECT(watch, "driver/+/presence", 1);
	jw_client_count_messages(watch, NULL, 200);
	jw_client_clear_inbox(watch);

	/* SUBSCRIBE: 0x80 for refused filters, and the same delivery filtering */
	struct jw_client *c = connect_as("customer", "42", NULL, 4);
	SUB_EXPECT(c, "order/2/status", DENIED311);
	SUB_EXPECT(c, "driver/8/location", DENIED311);
	SUB_EXPECT(c, "customer/43/notifications", DENIED311);
	SUB_EXPECT(c, "#", 1);
	EXPECT_RETAINED(c, "order/1/status", ST1);
	EXPECT_RETAINED(c, "order/1/driver", DRV1);
	EXPECT_RETAINED(c, "driver/9/location", LOC9);
	EXPECT_RETAINED(c, "driver/9/presence", PRES9);
	EXPECT_INBOX(c, 0, NEG_WAIT);
	PUB_EXPECT(svc, "order/2/status", "{\"v\":2}", false, 0);
	PUB_EXPECT(svc, "customer/43/notifications", "{\"n\":43}", false, 0);
	PUB_EXPECT(svc, "customer/42/notifications", "{\"n\":42}", false, 0);
	EXPECT_MSG(c, "customer/42/notifications", "{\"n\":42}");
	EXPECT_MSG(watch, "order/2/status", "{\"v\":2}");

	/* PUBLISH: acknowledged but dropped: nobody receives, retained unchanged */
	PUB_EXPECT(c, "order/1/status", FORGED, true, 0);
	PUB_EXPECT(c, "driver/9/location", FORGED_LOC, true, 0);
	struct jw_client *d = connect_as("driver", "9", NULL, 4);
	PUB_EXPECT(d, "driver/8/location", FORGED_LOC, true, 0);
	PUB_EXPECT(d, "driver/8/presence", FORGED, true, 0);
	PUB_EXPECT(d, "order/1/status", FORGED, true, 0);
	EXPECT_NONE(watch, NULL, NEG_WAIT);
	EXPECT_INBOX(c, 0, 0);
	expect_retained_value("order/1/status", ST1);
	expect_retained_value("driver/9/location", LOC9);
	expect_retained_value("driver/8/location", LOC8);
	expect_retained_value("driver/8/presence", PRES8);
	ck_assert(jw_client_is_connected(c));
	ck_assert(jw_client_is_connected(d));

	/* the driver's own location goes through */
	const char *loc = "{\"lat\":52.5,\"lng\":4.9,\"ts\":1700000003000}";
	PUB_EXPECT(d, "driver/9/location", loc, true, 0);
	EXPECT_MSG(watch, "driver/9/location", loc);
	EXPECT_MSG(c, "driver/9/location", loc);

	/* admin's notification deny under 3.1.1 */
	struct jw_client *a = connect_as("admin", "1", NULL, 4);
	SUB_EXPECT(a, "customer/42/notifications", DENIED311);
	SUB_EXPECT(a, "order/1/status", 1);
	EXPECT_RETAINED(a, "order/1/status", ST1);
	world_stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl_policy");
	TCase *tc = tcase_create("default.acl");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, customer_rules_both_ways);
	tcase_add_test(tc, merchant_rules_both_ways);
	tcase_add_test(tc, driver_rules_both_ways);
	tcase_add_test(tc, service_rules_both_ways);
	tcase_add_test(tc, admin_rules_both_ways);
	tcase_add_test(tc, customer_filters_receive_only_own_orders);
	tcase_add_test(tc, tracker_relation_grants_and_revokes_driver_location);
	tcase_add_test(tc, sys_readable_by_admin_only);
	tcase_add_test(tc, control_writable_by_service_and_admin_only);
	tcase_add_test(tc, mqtt311_denials_are_silent_drops);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
