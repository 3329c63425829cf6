/*
 * What drivers publish on driver/{id}/location and driver/{id}/presence,
 * on a real broker with real MQTT 5 and MQTT 3.1.1 clients: valid payloads
 * are delivered and retained (and a retained empty message clears them);
 * each refusal class (too_large, malformed, out_of_range, stale_ts,
 * rate_limited) is answered PUBACK 0x87 under MQTT 5, is never delivered
 * nor retained under either protocol, is counted under
 * $SYS/broker/jetwire/publish/refused/<class> and logged with client id and
 * address at most once per client per 10 s; the ACL still keeps a driver
 * off another driver's topics; other topics are not inspected.
 */
#define _XOPEN_SOURCE 700   /* nftw */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define DENIED5 0x87
#define NEG_WAIT 400
#define POS_WAIT 5000
#define LOC "driver/9/location"
#define PRES "driver/9/presence"

static struct jw_broker B;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A valid location with a fresh ts; `lat` tells messages apart. */
static void location(char *buf, size_t len, double lat)
{
	snprintf(buf, len, "{\"lat\":%.4f,\"lng\":4.89,\"ts\":%lld}", lat, (long long)now_ms());
}

static void presence(char *buf, size_t len, const char *status)
{
	snprintf(buf, len, "{\"status\":\"%s\",\"ts\":%lld}", status, (long long)now_ms());
}

static void start(const char *plugin_opts)
{
	struct jw_broker_opts o = {.plugin_opts = plugin_opts};
	jw_broker_start(&B, &o);
}

static void stop(void)
{
	jw_client_destroy_all();
	ck_assert_int_eq(jw_broker_stop(&B), 0);
}

static struct jw_client *driver(const char *sub, const char *suffix, int protocol)
{
	return jw_connect_as(&B, "driver", sub, suffix, protocol);
}

/* An admin watching driver 9's location and presence. */
static struct jw_client *watcher(const char *suffix)
{
	struct jw_client *w = jw_connect_as(&B, "admin", "1", suffix, 5);
	ck_assert_int_eq(jw_client_subscribe(w, LOC, 1), 1);
	ck_assert_int_eq(jw_client_subscribe(w, PRES, 1), 1);
	return w;
}

#define PUB_EXPECT(c, topic, payload, retain, want) \
	pub_expect(__LINE__, (c), (topic), (payload), strlen(payload), (retain), (want))

static void pub_expect(int line, struct jw_client *c, const char *topic, const char *payload, size_t len,
		bool retain, int want)
{
	int got = jw_client_publish_ex(c, topic, payload, len, 1, retain, 0);
	ck_assert_msg(got == want, "line %d: publish '%.80s' on %s: got %d (0x%x), want %d (0x%x)", line,
			payload, topic, got, (unsigned)got, want, (unsigned)want);
}

/* Poll until at least n messages on `topic` are in the inbox. */
static bool wait_count(struct jw_client *c, const char *topic, int n, int timeout_ms)
{
	int64_t deadline = jw_ms() + timeout_ms;
	while(jw_client_count_messages(c, topic, 0) < n){
		if(jw_ms() >= deadline) return false;
		jw_client_count_messages(c, topic, 20);
	}
	return true;
}

/* The next message on `topic` is exactly `payload` (and retained, if asked). */
#define EXPECT_MSG(c, topic, payload, retained) expect_msg(__LINE__, (c), (topic), (payload), (retained))
static void expect_msg(int line, struct jw_client *c, const char *topic, const char *payload, bool retained)
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
	ck_assert_msg(strcmp(m, payload) == 0, "line %d: message on '%s' is '%.120s', want '%.120s'", line, topic,
			m, payload);
	free(m);
}

#define EXPECT_NONE(c, topic, wait_ms) do { \
	int n_ = jw_client_count_messages((c), (topic), (wait_ms)); \
	ck_assert_msg(n_ == 0, "line %d: %d message(s) on %s, want none", __LINE__, n_, (topic) ? (topic) : "(any)"); \
} while(0)

/* Wait until $SYS/broker/jetwire/<suffix> reads `want` (retained, and
 * republished on change every stats_interval = 1 s in the harness). */
static void expect_counter(struct jw_client *admin, const char *suffix, long want)
{
	char topic[256], wanted[32], last[64] = "(nothing)";
	snprintf(topic, sizeof(topic), "$SYS/broker/jetwire/%s", suffix);
	snprintf(wanted, sizeof(wanted), "%ld", want);
	ck_assert_int_eq(jw_client_subscribe(admin, topic, 0), 0);
	int64_t deadline = jw_ms() + POS_WAIT;
	bool seen = false;
	while(!seen && jw_ms() < deadline){
		char *v = jw_client_wait_message(admin, topic, (int)(deadline - jw_ms()));
		if(v == NULL) break;
		snprintf(last, sizeof(last), "%s", v);
		seen = strcmp(v, wanted) == 0;
		free(v);
	}
	ck_assert_msg(seen, "%s: expected %s, last value %s", topic, wanted, last);
}

/* Wait until the broker log holds `needle` exactly `want` times. */
static void expect_log_count(const char *needle, int want, int timeout_ms)
{
	int64_t deadline = jw_ms() + timeout_ms;
	int n;
	while((n = jw_broker_log_count(&B, needle)) != want && jw_ms() < deadline) sleep_ms(25);
	ck_assert_msg(n == want, "broker log has \"%s\" %d times, expected %d (see %s)", needle, n, want,
			B.log_path);
}

static int protocol_of(int i)
{
	return i == 0 ? 5 : 4;
}

/* ---- valid payloads ---- */

static void valid_payloads_are_delivered_and_retained(int protocol)
{
	start(NULL);
	struct jw_client *w = watcher("watch");
	struct jw_client *d = driver("9", "app", protocol);
	char loc[256], pres[128];

	/* every optional field, at its documented edge */
	snprintf(loc, sizeof(loc), "{\"lat\":-90,\"lng\":180,\"ts\":%lld,\"heading\":359.9,\"speed\":0,"
			"\"accuracy\":12.5,\"orderId\":\"ord-1\"}", (long long)now_ms());
	PUB_EXPECT(d, LOC, loc, true, 0);
	EXPECT_MSG(w, LOC, loc, false);
	presence(pres, sizeof(pres), "online");
	PUB_EXPECT(d, PRES, pres, true, 0);
	EXPECT_MSG(w, PRES, pres, false);

	struct jw_client *late = jw_connect_as(&B, "admin", "1", "late", protocol);
	ck_assert_int_eq(jw_client_subscribe(late, "driver/9/+", 1), 1);
	EXPECT_MSG(late, LOC, loc, true);
	EXPECT_MSG(late, PRES, pres, true);

	/* a retained empty message clears the driver's own topics */
	PUB_EXPECT(d, LOC, "", true, 0);
	PUB_EXPECT(d, PRES, "", true, 0);
	struct jw_client *later = jw_connect_as(&B, "admin", "1", "later", 5);
	ck_assert_int_eq(jw_client_subscribe(later, "driver/9/+", 1), 1);
	EXPECT_NONE(later, NULL, NEG_WAIT);

	/* a non-retained empty message is not a location */
	jw_client_clear_inbox(w);
	PUB_EXPECT(d, LOC, "", false, protocol == 5 ? DENIED5 : 0);
	EXPECT_NONE(w, LOC, NEG_WAIT);
	ck_assert(jw_broker_log_wait(&B, "topic=driver/9/location class=malformed reason=empty payload", POS_WAIT));
	stop();
}

START_TEST(valid_payloads_are_delivered_and_retained_loop)
{
	valid_payloads_are_delivered_and_retained(protocol_of(_i));
}
END_TEST

/* ---- each refusal class ---- */

struct refusal_case {
	const char *topic;
	const char *cls;
	char payload[700];
	char reason[160];     /* the start of the logged reason */
};

/* The nine refusals, by class: too_large 2, malformed 3, out_of_range 2,
 * stale_ts 2. */
static size_t refusal_cases(struct refusal_case *c)
{
	long long now = (long long)now_ms();
	size_t n = 0;

	c[n] = (struct refusal_case){LOC, "too_large", "", "payload is 600 bytes (max 512)"};
	int k = snprintf(c[n].payload, sizeof(c[n].payload), "{\"lat\":1,\"lng\":1,\"ts\":%lld}", now);
	memset(c[n].payload + k, ' ', 600 - (size_t)k);
	c[n].payload[600] = '\0';
	n++;
	c[n] = (struct refusal_case){PRES, "too_large", "", "payload is 300 bytes (max 256)"};
	k = snprintf(c[n].payload, sizeof(c[n].payload), "{\"status\":\"online\",\"ts\":%lld}", now);
	memset(c[n].payload + k, ' ', 300 - (size_t)k);
	c[n].payload[300] = '\0';
	n++;
	c[n] = (struct refusal_case){LOC, "malformed", "52.37,4.89", "not a JSON object"};
	n++;
	c[n] = (struct refusal_case){LOC, "malformed", "", "unknown field 'foo'"};
	snprintf(c[n].payload, sizeof(c[n].payload), "{\"lat\":1,\"lng\":1,\"ts\":%lld,\"foo\":\"bar\"}", now);
	n++;
	c[n] = (struct refusal_case){PRES, "malformed", "", "ts missing"};
	snprintf(c[n].payload, sizeof(c[n].payload), "{\"status\":\"online\"}");
	n++;
	c[n] = (struct refusal_case){LOC, "out_of_range", "", "lat 91.5 out of range -90..90"};
	snprintf(c[n].payload, sizeof(c[n].payload), "{\"lat\":91.5,\"lng\":1,\"ts\":%lld}", now);
	n++;
	c[n] = (struct refusal_case){PRES, "out_of_range", "", "status must be \"online\" or \"offline\""};
	snprintf(c[n].payload, sizeof(c[n].payload), "{\"status\":\"away\",\"ts\":%lld}", now);
	n++;
	c[n] = (struct refusal_case){LOC, "stale_ts", "", ""};
	snprintf(c[n].payload, sizeof(c[n].payload), "{\"lat\":1,\"lng\":1,\"ts\":%lld}", now - 3600000);
	snprintf(c[n].reason, sizeof(c[n].reason), "ts %lld is 36", now - 3600000);
	n++;
	c[n] = (struct refusal_case){PRES, "stale_ts", "", ""};
	snprintf(c[n].payload, sizeof(c[n].payload), "{\"status\":\"online\",\"ts\":%lld}", now + 3600000);
	snprintf(c[n].reason, sizeof(c[n].reason), "ts %lld is 3600 s in the future (max skew 300 s)", now + 3600000);
	n++;
	return n;
}

static void each_refusal_is_refused_and_never_delivered(int protocol)
{
	start(NULL);
	struct jw_client *w = watcher("watch");
	struct jw_client *admin = jw_connect_as(&B, "admin", "1", "sys", 5);
	struct refusal_case cases[9];
	size_t n = refusal_cases(cases);
	ck_assert_uint_eq(n, 9);
	char good[256], last_loc[256] = "", last_pres[256] = "";

	for(size_t i = 0; i < n; i++){
		const struct refusal_case *c = &cases[i];
		/* one connection per case: each logs its own refusal line */
		char suffix[32], line[512];
		snprintf(suffix, sizeof(suffix), "r%zu", i);
		struct jw_client *d = driver("9", suffix, protocol);
		PUB_EXPECT(d, c->topic, c->payload, true, protocol == 5 ? DENIED5 : 0);
		/* the next valid message is the first one the watcher sees */
		if(!strcmp(c->topic, LOC)){
			location(good, sizeof(good), 10.0 + (double)i);
			snprintf(last_loc, sizeof(last_loc), "%s", good);
		}else{
			presence(good, sizeof(good), i % 2 ? "online" : "offline");
			snprintf(last_pres, sizeof(last_pres), "%s", good);
		}
		PUB_EXPECT(d, c->topic, good, true, 0);
		EXPECT_MSG(w, c->topic, good, false);
		EXPECT_NONE(w, NULL, 0);
		snprintf(line, sizeof(line), "jetwire: refused publish | client=driver-9-%s address=127.0.0.1 topic=%s"
				" class=%s reason=%s", suffix, c->topic, c->cls, c->reason);
		ck_assert_msg(jw_broker_log_wait(&B, line, POS_WAIT), "case %zu: log lacks \"%s\" (see %s)", i, line,
				B.log_path);
	}
	/* nothing refused was retained either */
	struct jw_client *late = jw_connect_as(&B, "admin", "1", "late", protocol);
	ck_assert_int_eq(jw_client_subscribe(late, "driver/9/+", 1), 1);
	EXPECT_MSG(late, LOC, last_loc, true);
	EXPECT_MSG(late, PRES, last_pres, true);

	expect_counter(admin, "publish/refused/too_large", 2);
	expect_counter(admin, "publish/refused/malformed", 3);
	expect_counter(admin, "publish/refused/out_of_range", 2);
	expect_counter(admin, "publish/refused/stale_ts", 2);
	expect_counter(admin, "publish/refused/rate_limited", 0);
	expect_counter(admin, "publish/refused/total", 9);
	stop();
}

START_TEST(each_refusal_is_refused_and_never_delivered_loop)
{
	each_refusal_is_refused_and_never_delivered(protocol_of(_i));
}
END_TEST

/* ---- the rate limit ---- */

#define FLOOD 50

static void a_flood_is_cut_to_the_burst_and_the_rate(int protocol)
{
	start(NULL);
	struct jw_client *w = watcher("watch");
	struct jw_client *admin = jw_connect_as(&B, "admin", "1", "sys", 5);
	struct jw_client *d = driver("9", "flood", protocol);
	char loc[256];

	int accepted = 0, refused = 0;
	int64_t t0 = jw_ms();
	for(int i = 0; i < FLOOD; i++){
		location(loc, sizeof(loc), 1.0 + i / 1000.0);
		int rc = jw_client_publish(d, LOC, loc, 1, false);
		if(rc == 0) accepted++;
		else if(rc == DENIED5) refused++;
		else ck_abort_msg("publish %d: %d", i, rc);
	}
	int64_t elapsed = jw_ms() - t0;
	/* the default for every role: 1 a second, burst 10 */
	int most = 10 + (int)(elapsed / 1000) + 1;
	if(protocol == 5){
		ck_assert_int_eq(accepted + refused, FLOOD);
		ck_assert_msg(accepted >= 10 && accepted <= most, "%d accepted in %lld ms", accepted, (long long)elapsed);
	}else{
		/* MQTT 3.1.1 has no refusal: every PUBACK is 0 */
		ck_assert_int_eq(accepted, FLOOD);
	}
	/* the subscriber gets the accepted ones only */
	ck_assert(wait_count(w, LOC, 10, POS_WAIT));
	int delivered = jw_client_count_messages(w, LOC, NEG_WAIT);
	if(protocol == 5){
		ck_assert_int_eq(delivered, accepted);
	}else{
		ck_assert_msg(delivered >= 10 && delivered <= most, "%d delivered in %lld ms", delivered, (long long)elapsed);
	}
	expect_counter(admin, "publish/refused/rate_limited", FLOOD - delivered);

	/* one log line for the whole flood (well inside 10 s) */
	const char *needle = "jetwire: refused publish | client=driver-9-flood address=127.0.0.1 topic=driver/9/location"
		" class=rate_limited reason=over the location rate limit of 1/10";
	expect_log_count(needle, 1, POS_WAIT);
	ck_assert_int_eq(jw_broker_log_count(&B, "jetwire: refused publish"), 1);

	if(protocol == 5){
		/* 10 s later the next refusal is logged again, with the count of
		 * those that were not: the bucket has refilled to 10 by then */
		sleep_ms((int)(10500 - (jw_ms() - t0 > 10500 ? 10500 : jw_ms() - t0)));
		int more_accepted = 0;
		for(int i = 0; i < 12; i++){
			location(loc, sizeof(loc), 2.0 + i / 1000.0);
			if(jw_client_publish(d, LOC, loc, 1, false) == 0) more_accepted++;
		}
		ck_assert_int_ge(more_accepted, 10);
		ck_assert_int_le(more_accepted, 11);
		char more[160];
		snprintf(more, sizeof(more), "| %d more refused from this client since the last line, not logged",
				FLOOD - accepted - 1);
		expect_log_count(more, 1, POS_WAIT);
		expect_log_count(needle, 2, POS_WAIT);
	}
	stop();
}

START_TEST(a_flood_is_cut_to_the_burst_and_the_rate_loop)
{
	a_flood_is_cut_to_the_burst_and_the_rate(protocol_of(_i));
}
END_TEST

/* Each connection has its own buckets, and location and presence have
 * separate ones. */
START_TEST(buckets_are_per_connection_and_per_kind)
{
	start(NULL);
	struct jw_client *a = driver("9", "a", 5);
	struct jw_client *b = driver("9", "b", 5);
	char loc[256], pres[128];
	for(int i = 0; i < 10; i++){
		location(loc, sizeof(loc), 3.0);
		PUB_EXPECT(a, LOC, loc, false, 0);
	}
	PUB_EXPECT(a, LOC, loc, false, DENIED5);
	/* presence: its own bucket (default burst 5) */
	presence(pres, sizeof(pres), "online");
	for(int i = 0; i < 5; i++) PUB_EXPECT(a, PRES, pres, false, 0);
	PUB_EXPECT(a, PRES, pres, false, DENIED5);
	/* another connection of the same driver starts full */
	PUB_EXPECT(b, LOC, loc, false, 0);
	stop();
}
END_TEST

/* ---- options ---- */

START_TEST(configured_rate_and_skew_apply)
{
	start("plugin_opt_location_rate driver:off\nplugin_opt_location_max_skew 10\n"
			"plugin_opt_presence_rate driver:1/2\n");
	struct jw_client *d = driver("9", "cfg", 5);
	char loc[256], pres[128];
	for(int i = 0; i < 30; i++){
		location(loc, sizeof(loc), 4.0);
		PUB_EXPECT(d, LOC, loc, false, 0);
	}
	snprintf(loc, sizeof(loc), "{\"lat\":1,\"lng\":1,\"ts\":%lld}", (long long)(now_ms() - 60000));
	PUB_EXPECT(d, LOC, loc, false, DENIED5);
	ck_assert(jw_broker_log_wait(&B, "s in the past (max skew 10 s)", POS_WAIT));
	presence(pres, sizeof(pres), "online");
	PUB_EXPECT(d, PRES, pres, false, 0);
	PUB_EXPECT(d, PRES, pres, false, 0);
	PUB_EXPECT(d, PRES, pres, false, DENIED5);
	stop();
}
END_TEST

/* validate_publish false: no payload check, no rate limit, no counter --
 * but the ACL still keeps a driver off another driver's topics */
START_TEST(validation_can_be_turned_off)
{
	start("plugin_opt_validate_publish false\n");
	ck_assert(jw_broker_log_wait(&B, "validate_publish=false (driver location and presence NOT checked)", POS_WAIT));
	struct jw_client *w = watcher("watch");
	struct jw_client *admin = jw_connect_as(&B, "admin", "1", "sys", 5);
	struct jw_client *d = driver("9", "off", 5);
	const char *bad = "{\"lat\":500,\"lng\":1,\"ts\":1}";
	PUB_EXPECT(d, LOC, bad, false, 0);
	EXPECT_MSG(w, LOC, bad, false);
	char loc[256];
	for(int i = 0; i < 30; i++){   /* far over the default 1/s burst 10 */
		location(loc, sizeof(loc), 6.0);
		PUB_EXPECT(d, LOC, loc, false, 0);
	}
	ck_assert_msg(wait_count(w, LOC, 30, POS_WAIT), "not all 30 locations were delivered");
	PUB_EXPECT(d, "driver/8/location", loc, false, DENIED5);
	expect_counter(admin, "publish/refused/total", 0);
	ck_assert_int_eq(jw_broker_log_count(&B, "jetwire: refused publish"), 0);
	stop();
}
END_TEST

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

START_TEST(refuses_to_start_with_a_bad_rate)
{
	struct jw_broker_opts o = {.plugin_opts = "plugin_opt_location_rate driver:fast\n", .expect_start_failure = true};
	ck_assert_int_ne(jw_broker_start(&B, &o), 0);
	ck_assert(jw_broker_log_wait(&B, "jetwire: option location_rate: 'driver:fast': expected RATE/BURST", POS_WAIT));
	/* the harness keeps a failed broker's directory: this failure was the point */
	nftw(B.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

/* ---- what is not this file's business stays as it was ---- */

static void acl_keeps_drivers_off_each_others_topics(int protocol)
{
	start(NULL);
	struct jw_client *w = watcher("watch");
	struct jw_client *admin = jw_connect_as(&B, "admin", "1", "sys", 5);
	struct jw_client *d8 = driver("8", "x", protocol);
	char loc[256], pres[128];
	location(loc, sizeof(loc), 5.0);
	presence(pres, sizeof(pres), "online");
	PUB_EXPECT(d8, LOC, loc, true, protocol == 5 ? DENIED5 : 0);
	PUB_EXPECT(d8, PRES, pres, true, protocol == 5 ? DENIED5 : 0);
	EXPECT_NONE(w, NULL, NEG_WAIT);
	/* refused by the ACL (before any payload check): counted there */
	expect_counter(admin, "acl/denied/write", 2);
	expect_counter(admin, "publish/refused/total", 0);
	ck_assert_int_eq(jw_broker_log_count(&B, "jetwire: refused publish"), 0);
	stop();
}

START_TEST(acl_keeps_drivers_off_each_others_topics_loop)
{
	acl_keeps_drivers_off_each_others_topics(protocol_of(_i));
}
END_TEST

START_TEST(other_topics_are_not_inspected)
{
	start(NULL);
	struct jw_client *w = jw_connect_as(&B, "admin", "1", "watch", 5);
	ck_assert_int_eq(jw_client_subscribe(w, "order/1/status", 1), 1);
	struct jw_client *svc = jw_connect_as(&B, "service", "bridge", NULL, 5);
	/* not JSON, and far more than 512 bytes: none of the plugin's business */
	char big[2048];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	PUB_EXPECT(svc, "order/1/status", big, false, 0);
	EXPECT_MSG(w, "order/1/status", big, false);
	stop();
}
END_TEST

static TCase *tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, 180);
	suite_add_tcase(s, tc);
	return tc;
}

int main(void)
{
	Suite *s = suite_create("location");
	/* loop tests: _i 0 is MQTT 5, 1 is MQTT 3.1.1 */
	TCase *tc = tcase(s, "valid");
	tcase_add_loop_test(tc, valid_payloads_are_delivered_and_retained_loop, 0, 2);
	tc = tcase(s, "refused");
	tcase_add_loop_test(tc, each_refusal_is_refused_and_never_delivered_loop, 0, 2);
	tc = tcase(s, "rate");
	tcase_add_loop_test(tc, a_flood_is_cut_to_the_burst_and_the_rate_loop, 0, 2);
	tcase_add_test(tc, buckets_are_per_connection_and_per_kind);
	tc = tcase(s, "config");
	tcase_add_test(tc, configured_rate_and_skew_apply);
	tcase_add_test(tc, refuses_to_start_with_a_bad_rate);
	tcase_add_test(tc, validation_can_be_turned_off);
	tc = tcase(s, "scope");
	tcase_add_loop_test(tc, acl_keeps_drivers_off_each_others_topics_loop, 0, 2);
	tcase_add_test(tc, other_topics_are_not_inspected);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
