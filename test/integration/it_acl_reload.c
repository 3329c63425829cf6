/*
 * Editing the ACL file while the broker runs: the file watch
 * (plugin_opt_acl_reload_interval, 1 s in the harness) and SIGHUP.  A new
 * rule set applies to the next decision, subscriptions already made
 * included; a broken file is reported with file:line and the previous rules
 * stay in force; counters under $SYS/broker/jetwire/acl/.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "jw_file.h"

#define DENIED5 0x87
#define NEG_WAIT 400
#define POS_WAIT 5000
#define RELOAD_WAIT 5000   /* interval 1 s + a tick: well within this */
#define SYS "$SYS/broker/jetwire/"
#define RELOADED "jetwire: ACL reloaded"
#define FAILED "jetwire: ACL reload failed | "

static struct jw_broker B;
static char *default_acl;

/* Rules added on top of the default policy: customers read news, the
 * service writes it. */
static const char news_rules[] =
	"\n"
	"role customer\n"
	"  allow read  news/#\n"
	"role service\n"
	"  allow write news/#\n";
/* The service may still write news, customers may not read it. */
static const char news_write_only[] =
	"\n"
	"role service\n"
	"  allow write news/#\n";

static char *acl_with(const char *extra)
{
	size_t n = strlen(default_acl) + strlen(extra) + 1;
	char *t = malloc(n);
	ck_assert_ptr_nonnull(t);
	snprintf(t, n, "%s%s", default_acl, extra);
	return t;
}

static int line_count(const char *text)
{
	int n = 0;
	for(const char *p = text; *p; p++) n += *p == '\n';
	return n;
}

static void write_acl(const char *extra)
{
	char *t = acl_with(extra);
	jw_broker_write_acl(&B, t);
	free(t);
}

/* Write a file next to the ACL file, atomically (temp + rename). */
static void write_beside(const char *name, const char *text)
{
	char path[512], tmp[520];
	snprintf(path, sizeof(path), "%s/%s", B.dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
}

static struct jw_client *connect_as(const char *role, const char *sub, const char *suffix, int protocol)
{
	return jw_connect_as(&B, role, sub, suffix, protocol);
}

static void start(const char *plugin_opts)
{
	char path[512], err[256];
	size_t len;
	snprintf(path, sizeof(path), "%s/acl/default.acl", getenv("JW_SOURCE_DIR"));
	ck_assert_msg(jw_read_file(path, 1 << 20, &default_acl, &len, err, sizeof(err)) == 0, "%s", err);
	struct jw_broker_opts o = {.plugin_opts = plugin_opts};
	jw_broker_start(&B, &o);
}

static void stop(void)
{
	jw_client_destroy_all();
	free(default_acl);
	default_acl = NULL;
	ck_assert_int_eq(jw_broker_stop(&B), 0);
}

/* Wait until `needle` occurs at least n times in the broker log. */
static bool log_wait_count(const char *needle, int n, int timeout_ms)
{
	int64_t deadline = jw_ms() + timeout_ms;
	while(jw_broker_log_count(&B, needle) < n){
		if(jw_ms() >= deadline) return false;
		struct timespec ts = {0, 25 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return true;
}

static void expect_sub(int line, struct jw_client *c, const char *filter, int want)
{
	int got = jw_client_subscribe(c, filter, 1);
	ck_assert_msg(got == want, "line %d: subscribe '%s': got 0x%x, want 0x%x", line, filter,
			(unsigned)got, (unsigned)want);
}
#define SUB_EXPECT(c, f, want) expect_sub(__LINE__, (c), (f), (want))

static void expect_pub(int line, struct jw_client *c, const char *topic, const char *payload, int want)
{
	int got = jw_client_publish(c, topic, payload, 1, false);
	ck_assert_msg(got == want, "line %d: publish '%s': got 0x%x, want 0x%x", line, topic,
			(unsigned)got, (unsigned)want);
}
#define PUB_EXPECT(c, t, p, want) expect_pub(__LINE__, (c), (t), (p), (want))

static void expect_msg(int line, struct jw_client *c, const char *topic, const char *payload)
{
	char *m = jw_client_wait_message(c, topic, POS_WAIT);
	ck_assert_msg(m != NULL, "line %d: nothing on '%s'", line, topic);
	ck_assert_msg(strcmp(m, payload) == 0, "line %d: '%s' carries '%s', want '%s'", line, topic, m, payload);
	free(m);
}
#define EXPECT_MSG(c, t, p) expect_msg(__LINE__, (c), (t), (p))

static void expect_none(int line, struct jw_client *c, int wait_ms)
{
	int n = jw_client_count_messages(c, NULL, wait_ms);
	if(n){
		char *t = jw_client_inbox_topics(c);
		ck_abort_msg("line %d: %d unexpected message(s):\n%s", line, n, t);
	}
}
#define EXPECT_NONE(c, wait_ms) expect_none(__LINE__, (c), (wait_ms))

/* Does the news rule set apply?  `fresh` subscribes anew each time. */
static void expect_news_readable(int line, struct jw_client *svc, struct jw_client *subscribed,
		struct jw_client *fresh, bool readable)
{
	static int seq;
	char payload[32];
	snprintf(payload, sizeof(payload), "{\"news\":%d}", ++seq);
	expect_sub(line, fresh, "news/#", readable ? 1 : DENIED5);
	expect_pub(line, svc, "news/today", payload, 0);
	if(readable){
		expect_msg(line, subscribed, "news/today", payload);
		expect_msg(line, fresh, "news/today", payload);
	}
	expect_none(line, subscribed, NEG_WAIT);
	expect_none(line, fresh, 0);
}
#define EXPECT_NEWS(svc, sub, fresh, readable) expect_news_readable(__LINE__, (svc), (sub), (fresh), (readable))

START_TEST(file_watch_applies_edits_and_keeps_rules_on_error)
{
	start(NULL);
	struct jw_client *admin = connect_as("admin", "1", NULL, 5);
	SUB_EXPECT(admin, SYS "acl/#", 1);
	ck_assert(jw_client_wait_payload(admin, SYS "acl/reloads", "0", POS_WAIT));
	struct jw_client *svc = connect_as("service", "bridge", NULL, 5);
	struct jw_client *cust = connect_as("customer", "42", NULL, 5);
	struct jw_client *fresh = connect_as("customer", "42", "fresh", 5);

	/* the default policy: no news */
	SUB_EXPECT(cust, "news/#", DENIED5);
	PUB_EXPECT(svc, "news/today", "{}", DENIED5);

	/* 1. a new rule set, picked up by the watch */
	write_acl(news_rules);
	ck_assert_msg(log_wait_count(RELOADED, 1, RELOAD_WAIT), "no reload logged; see %s", B.log_path);
	SUB_EXPECT(cust, "news/#", 1);
	EXPECT_NEWS(svc, cust, fresh, true);
	ck_assert(jw_client_wait_payload(admin, SYS "acl/reloads", "1", POS_WAIT));

	/* 2. a broken file: reported with file:line, previous rules kept */
	char *good = acl_with(news_rules);
	int bad_line = line_count(good) + 2;
	size_t n = strlen(good) + 64;
	char *broken = malloc(n);
	snprintf(broken, n, "%srole customer\n  allow reed foo/#\n", good);
	jw_broker_write_acl(&B, broken);
	free(broken);
	char expect_log[700];
	snprintf(expect_log, sizeof(expect_log), FAILED "%s:%d: unknown access 'reed'", B.acl_path, bad_line);
	ck_assert_msg(log_wait_count(expect_log, 1, RELOAD_WAIT), "no '%s' in %s", expect_log, B.log_path);
	ck_assert_int_eq(jw_broker_log_count(&B, " | keeping the previous rules"), 1);
	ck_assert(jw_client_wait_payload(admin, SYS "acl/reload_failures", "1", POS_WAIT));
	EXPECT_NEWS(svc, cust, fresh, true);
	ck_assert_int_eq(jw_broker_log_count(&B, RELOADED), 1);
	/* the same broken file is reported once, not every interval */
	jw_client_count_messages(admin, NULL, 1500);
	ck_assert_int_eq(jw_broker_log_count(&B, FAILED), 1);

	/* 3. another broken version (a new error) is reported again */
	n = strlen(good) + 64;
	broken = malloc(n);
	snprintf(broken, n, "role customer\n  allow read a/b\nbogus words here\n%s", good);
	jw_broker_write_acl(&B, broken);
	free(broken);
	snprintf(expect_log, sizeof(expect_log), FAILED "%s:3: unknown keyword 'bogus'", B.acl_path);
	ck_assert_msg(log_wait_count(expect_log, 1, RELOAD_WAIT), "no '%s' in %s", expect_log, B.log_path);
	ck_assert(jw_client_wait_payload(admin, SYS "acl/reload_failures", "2", POS_WAIT));
	EXPECT_NEWS(svc, cust, fresh, true);

	/* 4. fixed: reloads; customers lose news, an existing subscription
	 * included (every delivery is checked against the current rules) */
	write_acl(news_write_only);
	ck_assert_msg(log_wait_count(RELOADED, 2, RELOAD_WAIT), "no second reload; see %s", B.log_path);
	ck_assert(jw_client_wait_payload(admin, SYS "acl/reloads", "2", POS_WAIT));
	EXPECT_NEWS(svc, cust, fresh, false);
	ck_assert_int_eq(jw_broker_log_count(&B, FAILED), 2);

	/* 5. back to exactly the default policy: the service loses news too */
	jw_broker_write_acl(&B, default_acl);
	ck_assert(log_wait_count(RELOADED, 3, RELOAD_WAIT));
	PUB_EXPECT(svc, "news/today", "{}", DENIED5);
	ck_assert(jw_client_wait_payload(admin, SYS "acl/reloads", "3", POS_WAIT));
	ck_assert(jw_client_is_connected(cust));
	free(good);
	stop();
}
END_TEST

START_TEST(missing_file_keeps_rules_and_recovers)
{
	start(NULL);
	struct jw_client *svc = connect_as("service", "bridge", NULL, 5);
	struct jw_client *cust = connect_as("customer", "42", NULL, 5);
	struct jw_client *fresh = connect_as("customer", "42", "fresh", 5);
	write_acl(news_rules);
	ck_assert(log_wait_count(RELOADED, 1, RELOAD_WAIT));
	SUB_EXPECT(cust, "news/#", 1);

	/* the file disappears (an editor's rename gone wrong): kept rules */
	char moved[400];
	snprintf(moved, sizeof(moved), "%s.moved", B.acl_path);
	ck_assert_int_eq(rename(B.acl_path, moved), 0);
	ck_assert(log_wait_count(FAILED, 1, RELOAD_WAIT));
	EXPECT_NEWS(svc, cust, fresh, true);
	/* and comes back changed */
	write_acl(news_write_only);
	ck_assert(log_wait_count(RELOADED, 2, RELOAD_WAIT));
	EXPECT_NEWS(svc, cust, fresh, false);
	stop();
}
END_TEST

/* Included files are part of the rule set: edits to them reload, their
 * errors name them, and an include added by a failed edit is watched
 * too (creating or fixing it afterwards must be noticed). */
START_TEST(included_files_are_watched)
{
	start(NULL);
	struct jw_client *svc = connect_as("service", "bridge", NULL, 5);
	struct jw_client *cust = connect_as("customer", "42", NULL, 5);
	struct jw_client *fresh = connect_as("customer", "42", "fresh", 5);

	write_beside("extra.acl", news_rules);
	write_acl("include extra.acl\n");
	ck_assert(log_wait_count(RELOADED, 1, RELOAD_WAIT));
	SUB_EXPECT(cust, "news/#", 1);
	EXPECT_NEWS(svc, cust, fresh, true);

	/* an edit of the included file alone */
	write_beside("extra.acl", news_write_only);
	ck_assert_msg(log_wait_count(RELOADED, 2, RELOAD_WAIT), "edit of an included file not noticed");
	EXPECT_NEWS(svc, cust, fresh, false);

	/* broken included file: its own name and line */
	write_beside("extra.acl", "role customer\n  allow read news/#\n  allow sometimes x\n");
	char expect_log[700];
	snprintf(expect_log, sizeof(expect_log), FAILED "%s/extra.acl:3: ", B.dir);
	ck_assert_msg(log_wait_count(expect_log, 1, RELOAD_WAIT), "no '%s' in %s", expect_log, B.log_path);
	EXPECT_NEWS(svc, cust, fresh, false);
	write_beside("extra.acl", news_rules);
	ck_assert(log_wait_count(RELOADED, 3, RELOAD_WAIT));
	EXPECT_NEWS(svc, cust, fresh, true);

	/* the main file now includes a file that does not exist yet: refused;
	 * creating it must reload */
	write_acl("include later.acl\n");
	ck_assert(log_wait_count(FAILED, 2, RELOAD_WAIT));
	EXPECT_NEWS(svc, cust, fresh, true);
	write_beside("later.acl", news_write_only);
	ck_assert_msg(log_wait_count(RELOADED, 4, RELOAD_WAIT),
			"creating the missing include was not noticed; see %s", B.log_path);
	EXPECT_NEWS(svc, cust, fresh, false);

	/* the main file now includes a new, broken file: fixing that file
	 * must reload */
	write_beside("broken.acl", "role customer\n  allow reed news/#\n");
	write_acl("include broken.acl\n");
	snprintf(expect_log, sizeof(expect_log), FAILED "%s/broken.acl:2: ", B.dir);
	ck_assert(log_wait_count(expect_log, 1, RELOAD_WAIT));
	EXPECT_NEWS(svc, cust, fresh, false);
	write_beside("broken.acl", news_rules);
	ck_assert_msg(log_wait_count(RELOADED, 5, RELOAD_WAIT),
			"fixing the broken include was not noticed; see %s", B.log_path);
	EXPECT_NEWS(svc, cust, fresh, true);
	/* while broken, each version was reported once */
	ck_assert_int_eq(jw_broker_log_count(&B, FAILED), 3);
	stop();
}
END_TEST

START_TEST(sighup_forces_a_reload)
{
	/* the watch off: only SIGHUP reloads */
	start("plugin_opt_acl_reload_interval 0\n");
	struct jw_client *admin = connect_as("admin", "1", NULL, 5);
	SUB_EXPECT(admin, SYS "acl/#", 1);
	struct jw_client *svc = connect_as("service", "bridge", NULL, 5);
	struct jw_client *cust = connect_as("customer", "42", NULL, 5);
	struct jw_client *fresh = connect_as("customer", "42", "fresh", 5);
	SUB_EXPECT(cust, "order/+/status", 1);
	char *r = jw_control(svc, "{\"commands\":[{\"command\":\"addRelations\",\"relations\":["
			"{\"object\":\"order:1\",\"relation\":\"party\",\"subject\":\"customer:42\"}]}]}", POS_WAIT);
	ck_assert_ptr_nonnull(r);
	free(r);

	/* an unchanged file is re-read all the same */
	ck_assert_int_eq(kill(B.pid, SIGHUP), 0);
	ck_assert_msg(log_wait_count(RELOADED, 1, RELOAD_WAIT), "SIGHUP did not reload; see %s", B.log_path);
	ck_assert(jw_client_wait_payload(admin, SYS "acl/reloads", "1", POS_WAIT));

	/* an edit waits for the signal */
	write_acl(news_rules);
	jw_client_count_messages(cust, NULL, 1500);
	ck_assert_int_eq(jw_broker_log_count(&B, RELOADED), 1);
	SUB_EXPECT(fresh, "news/#", DENIED5);
	ck_assert_int_eq(kill(B.pid, SIGHUP), 0);
	ck_assert(log_wait_count(RELOADED, 2, RELOAD_WAIT));
	SUB_EXPECT(cust, "news/#", 1);
	EXPECT_NEWS(svc, cust, fresh, true);

	/* a broken file on SIGHUP: reported, previous rules kept; every
	 * SIGHUP reports it again */
	char *good = acl_with(news_rules);
	size_t n = strlen(good) + 64;
	char *broken = malloc(n);
	snprintf(broken, n, "%s  allow read x/{y}\n", good);
	int bad_line = line_count(good) + 1;
	jw_broker_write_acl(&B, broken);
	free(broken);
	free(good);
	ck_assert_int_eq(kill(B.pid, SIGHUP), 0);
	char expect_log[700];
	snprintf(expect_log, sizeof(expect_log), FAILED "%s:%d: ", B.acl_path, bad_line);
	ck_assert_msg(log_wait_count(expect_log, 1, RELOAD_WAIT), "no '%s' in %s", expect_log, B.log_path);
	ck_assert(log_wait_count("| keeping the previous rules", 1, RELOAD_WAIT));
	EXPECT_NEWS(svc, cust, fresh, true);
	ck_assert_int_eq(kill(B.pid, SIGHUP), 0);
	ck_assert(log_wait_count(expect_log, 2, RELOAD_WAIT));
	ck_assert(jw_client_wait_payload(admin, SYS "acl/reload_failures", "2", POS_WAIT));
	ck_assert(jw_client_wait_payload(admin, SYS "acl/reloads", "2", POS_WAIT));

	/* clients survive SIGHUP (their tokens are re-checked) and the
	 * relation store is untouched */
	ck_assert(jw_client_is_connected(cust));
	ck_assert(jw_client_is_connected(svc));
	ck_assert_int_eq(jw_client_publish(svc, "order/1/status", "{\"v\":1}", 1, true), 0);
	EXPECT_MSG(cust, "order/1/status", "{\"v\":1}");
	ck_assert_int_eq(jw_control_count(svc), 1);

	/* fixed + SIGHUP */
	write_acl(news_write_only);
	ck_assert_int_eq(kill(B.pid, SIGHUP), 0);
	ck_assert(log_wait_count(RELOADED, 3, RELOAD_WAIT));
	EXPECT_NEWS(svc, cust, fresh, false);
	stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl_reload");
	TCase *tc = tcase_create("reload");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, file_watch_applies_edits_and_keeps_rules_on_error);
	tcase_add_test(tc, missing_file_keeps_rules_and_recovers);
	tcase_add_test(tc, included_files_are_watched);
	tcase_add_test(tc, sighup_forces_a_reload);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
