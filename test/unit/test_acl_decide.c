/*
 * ACL decisions (plugin/core/acl_decide.c): first match wins, default deny,
 * substitution compares whole levels, relation conditions follow the
 * relation store at once, '$' topics, SUBSCRIBE filter semantics, and the
 * shipped default policy (acl/default.acl) for every role, both ways.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "jw_topic.h"
#include "relations.h"
#include "unit_support.h"

#define NOW INT64_C(1700000000)

enum { R = JW_ACCESS_READ, W = JW_ACCESS_WRITE, S = JW_ACCESS_SUBSCRIBE };

static struct jw_acl *parse(const char *text)
{
	char err[512] = "";
	struct jw_acl *acl = jw_acl_parse_string("t.acl", text, strlen(text), err, sizeof(err));
	ck_assert_msg(acl != NULL, "parse: %s", err);
	return acl;
}

static struct jw_subject subject(const char *role, const char *sub, const char *client_id)
{
	struct jw_subject w = {
		.role = role, .role_len = strlen(role),
		.sub = sub, .sub_len = strlen(sub),
		.client_id = client_id, .client_id_len = client_id ? strlen(client_id) : 0,
	};
	return w;
}

static const char *access_str(int a)
{
	return jw_access_name((enum jw_access)a);
}

/* Decide and check the outcome and the deciding line (0: no rule). */
static void expect_at(const struct jw_acl *acl, const struct jw_relstore *rs, int64_t now,
		const struct jw_subject *who, int access, const char *topic,
		enum jw_decision want, int want_line)
{
	const struct jw_rule *by = (const struct jw_rule *)1;
	enum jw_decision d = jw_acl_decide(acl, rs, now, who, (enum jw_access)access,
			topic, strlen(topic), &by);
	ck_assert_msg(d == want, "%.*s:%.*s %s '%s': got %s, want %s (rule line %d)",
			(int)who->role_len, who->role, (int)who->sub_len, who->sub, access_str(access), topic,
			d == JW_ALLOW ? "allow" : "deny", want == JW_ALLOW ? "allow" : "deny",
			by ? jw_rule_line(by) : 0);
	int line = by ? jw_rule_line(by) : 0;
	ck_assert_msg(line == want_line, "%.*s %s '%s': decided by line %d, want %d",
			(int)who->role_len, who->role, access_str(access), topic, line, want_line);
	/* decisions are pure: the same call gives the same answer, and
	 * decided_by is optional */
	ck_assert_int_eq(jw_acl_decide(acl, rs, now, who, (enum jw_access)access, topic, strlen(topic), NULL), d);
}

#define ALLOW_AT(acl, rs, who, acc, topic, line) expect_at(acl, rs, NOW, who, acc, topic, JW_ALLOW, line)
#define DENY_AT(acl, rs, who, acc, topic, line) expect_at(acl, rs, NOW, who, acc, topic, JW_DENY, line)
#define DENY_DEFAULT(acl, rs, who, acc, topic) expect_at(acl, rs, NOW, who, acc, topic, JW_DENY, 0)

/* ---- order and defaults --------------------------------------------- */

START_TEST(first_match_wins)
{
	struct jw_acl *acl = parse(
			"role a\n"
			"allow read x/#\n"
			"deny read x/secret\n");
	struct jw_subject who = subject("a", "1", NULL);
	/* the later deny never decides: the allow above it matched first */
	ALLOW_AT(acl, NULL, &who, R, "x/secret", 2);
	ALLOW_AT(acl, NULL, &who, R, "x/other", 2);
	jw_acl_free(acl);
}
END_TEST

START_TEST(deny_before_allow)
{
	struct jw_acl *acl = parse(
			"role a\n"
			"deny read x/secret\n"
			"deny read,write x/+/private\n"
			"allow read,write x/#\n");
	struct jw_subject who = subject("a", "1", NULL);
	DENY_AT(acl, NULL, &who, R, "x/secret", 2);
	ALLOW_AT(acl, NULL, &who, W, "x/secret", 4);          /* the deny is read only */
	DENY_AT(acl, NULL, &who, W, "x/y/private", 3);
	ALLOW_AT(acl, NULL, &who, R, "x/secret/deeper", 4);   /* deny is exact, not a prefix */
	ALLOW_AT(acl, NULL, &who, R, "x/secretive", 4);
	ALLOW_AT(acl, NULL, &who, R, "x", 4);                 /* '#' includes the parent */
	jw_acl_free(acl);
}
END_TEST

START_TEST(default_deny)
{
	struct jw_acl *acl = parse("role a\nallow read x/+\nallow write y\n");
	struct jw_subject who = subject("a", "1", NULL);
	DENY_DEFAULT(acl, NULL, &who, R, "x");
	DENY_DEFAULT(acl, NULL, &who, R, "x/1/2");
	DENY_DEFAULT(acl, NULL, &who, R, "y");                /* write rule, read asked */
	DENY_DEFAULT(acl, NULL, &who, W, "x/1");              /* read rule, write asked */
	DENY_DEFAULT(acl, NULL, &who, S, "y");                /* a write rule allows no subscription */
	DENY_DEFAULT(acl, NULL, &who, R, "");
	struct jw_subject other = subject("b", "1", NULL);  /* no section for "b" */
	DENY_DEFAULT(acl, NULL, &other, R, "x/1");
	/* no rule set at all */
	const struct jw_rule *by = (const struct jw_rule *)1;
	ck_assert_int_eq(jw_acl_decide(NULL, NULL, NOW, &who, JW_ACCESS_READ, "x/1", 3, &by), JW_DENY);
	ck_assert_ptr_null(by);
	jw_acl_free(acl);
}
END_TEST

START_TEST(level_counts)
{
	struct jw_acl *acl = parse("role a\nallow read a/+/c\nallow write e//f\n");
	struct jw_subject who = subject("a", "1", NULL);
	ALLOW_AT(acl, NULL, &who, R, "a/b/c", 2);
	ALLOW_AT(acl, NULL, &who, R, "a//c", 2);              /* '+' takes an empty level */
	DENY_DEFAULT(acl, NULL, &who, R, "a/b/c/");
	DENY_DEFAULT(acl, NULL, &who, R, "a/b");
	DENY_DEFAULT(acl, NULL, &who, R, "/a/b/c");
	ALLOW_AT(acl, NULL, &who, W, "e//f", 3);
	DENY_DEFAULT(acl, NULL, &who, W, "e/f");
	DENY_DEFAULT(acl, NULL, &who, W, "e/x/f");
	jw_acl_free(acl);
}
END_TEST

/* ---- substitution ---------------------------------------------------- */

START_TEST(substitution_whole_levels)
{
	struct jw_acl *acl = parse(
			"role customer,merchant\n"
			"allow read {role}/{sub}/notifications\n"
			"allow write client/{clientid}/state\n"
			"allow write shared/{sub}\n");
	struct jw_subject c42 = subject("customer", "42", "customer-42-phone");
	struct jw_subject m42 = subject("merchant", "42", NULL);
	ALLOW_AT(acl, NULL, &c42, R, "customer/42/notifications", 2);
	ALLOW_AT(acl, NULL, &m42, R, "merchant/42/notifications", 2);
	DENY_DEFAULT(acl, NULL, &c42, R, "merchant/42/notifications");   /* {role} is the caller's */
	DENY_DEFAULT(acl, NULL, &m42, R, "customer/42/notifications");
	DENY_DEFAULT(acl, NULL, &c42, R, "customer/43/notifications");
	/* the whole level is compared: no prefix, suffix or substring match */
	DENY_DEFAULT(acl, NULL, &c42, R, "customer/4/notifications");
	DENY_DEFAULT(acl, NULL, &c42, R, "customer/420/notifications");
	DENY_DEFAULT(acl, NULL, &c42, R, "customer/142/notifications");
	DENY_DEFAULT(acl, NULL, &c42, R, "customer/42 /notifications");
	DENY_DEFAULT(acl, NULL, &c42, R, "customers/42/notifications");
	DENY_DEFAULT(acl, NULL, &c42, R, "custome/42/notifications");
	/* extra or missing levels around the substituted value */
	DENY_DEFAULT(acl, NULL, &c42, R, "customer/42/x/notifications");
	DENY_DEFAULT(acl, NULL, &c42, R, "customer/42/notifications/x");
	DENY_DEFAULT(acl, NULL, &c42, R, "customer/42/43/notifications");
	DENY_DEFAULT(acl, NULL, &c42, R, "customer/42");
	DENY_DEFAULT(acl, NULL, &c42, R, "customer//notifications");
	/* a principal whose value looks like part of a path cannot reach
	 * further: "4" never matches "4/2" (and the token refuses '/', '+', '#') */
	struct jw_subject c4 = subject("customer", "4", NULL);
	DENY_DEFAULT(acl, NULL, &c4, R, "customer/4/2/notifications");
	ALLOW_AT(acl, NULL, &c4, R, "customer/4/notifications", 2);
	/* a topic that literally contains '+' or '#' text is not a wildcard for a
	 * substituted value (and is not a valid topic name anyway) */
	DENY_DEFAULT(acl, NULL, &c42, W, "shared/+");
	DENY_DEFAULT(acl, NULL, &c42, W, "shared/#");
	ALLOW_AT(acl, NULL, &c42, W, "shared/42", 4);
	/* {clientid} */
	ALLOW_AT(acl, NULL, &c42, W, "client/customer-42-phone/state", 3);
	DENY_DEFAULT(acl, NULL, &c42, W, "client/customer-42/state");
	DENY_DEFAULT(acl, NULL, &c42, W, "client/customer-42-phone-2/state");
	DENY_DEFAULT(acl, NULL, &m42, W, "client//state");          /* no client id: no match */
	DENY_DEFAULT(acl, NULL, &m42, W, "client/(null)/state");
	/* a sub that is a prefix of the topic with length passed explicitly */
	const struct jw_rule *by;
	static const char topic[] = "customer/42/notificationsXYZ";
	ck_assert_int_eq(jw_acl_decide(acl, NULL, NOW, &c42, JW_ACCESS_READ, topic, sizeof(topic) - 4, &by), JW_ALLOW);
	ck_assert_int_eq(jw_acl_decide(acl, NULL, NOW, &c42, JW_ACCESS_READ, topic, sizeof(topic) - 1, &by), JW_DENY);
	/* the subject's strings are views: only role_len/sub_len bytes count */
	struct jw_subject view = {.role = "customerXX", .role_len = 8, .sub = "42/../43", .sub_len = 2};
	ck_assert_int_eq(jw_acl_decide(acl, NULL, NOW, &view, JW_ACCESS_READ, "customer/42/notifications", 25, &by), JW_ALLOW);
	ck_assert_int_eq(jw_acl_decide(acl, NULL, NOW, &view, JW_ACCESS_READ, "customer/42/../43/notifications", 31, &by), JW_DENY);
	/* a role view longer than a role name, with a NUL inside, is another role */
	static const char nul_role[] = "customer\0merchant";
	struct jw_subject nul = {.role = nul_role, .role_len = sizeof(nul_role) - 1, .sub = "42", .sub_len = 2};
	ck_assert_int_eq(jw_acl_decide(acl, NULL, NOW, &nul, JW_ACCESS_READ, "customer/42/notifications", 25, &by), JW_DENY);
	ck_assert_ptr_null(by);
	jw_acl_free(acl);
}
END_TEST

/* ---- relation conditions -------------------------------------------- */

static const char ORDER_ACL[] =
	"role customer,merchant,driver\n"
	"allow read order/{order}/#   if party of order:{order}\n"
	"allow read driver/{d}/location if tracker of driver:{d}\n"
	"allow read pair/{a}/{b} if link of {a}:{b}\n"
	"allow read same/{x}/and/{x} if party of order:{x}\n"
	"allow read mine/{sub}/{o} if owner of user:{sub}/{o}\n";

START_TEST(relation_conditions)
{
	struct jw_acl *acl = parse(ORDER_ACL);
	struct jw_relstore *rs = jw_rel_new();
	ck_assert_int_eq(jw_rel_add(rs, "order:7", "party", "customer:42", 0), 0);
	struct jw_subject c42 = subject("customer", "42", NULL);
	struct jw_subject c43 = subject("customer", "43", NULL);
	struct jw_subject m42 = subject("merchant", "42", NULL);

	ALLOW_AT(acl, rs, &c42, R, "order/7/status", 2);
	ALLOW_AT(acl, rs, &c42, R, "order/7/driver", 2);
	ALLOW_AT(acl, rs, &c42, R, "order/7", 2);
	DENY_DEFAULT(acl, rs, &c42, R, "order/8/status");
	DENY_DEFAULT(acl, rs, &c42, R, "order/77/status");
	DENY_DEFAULT(acl, rs, &c42, W, "order/7/status");       /* a read rule */
	DENY_DEFAULT(acl, rs, &c43, R, "order/7/status");       /* another user */
	DENY_DEFAULT(acl, rs, &m42, R, "order/7/status");       /* same sub, other role */
	DENY_DEFAULT(acl, NULL, &c42, R, "order/7/status");     /* no store: conditions are false */

	/* removing the tuple denies at once */
	ck_assert(jw_rel_remove(rs, "order:7", "party", "customer:42"));
	DENY_DEFAULT(acl, rs, &c42, R, "order/7/status");
	/* and adding it back allows at once */
	ck_assert_int_eq(jw_rel_add(rs, "order:7", "party", "customer:42", 0), 0);
	ALLOW_AT(acl, rs, &c42, R, "order/7/status", 2);
	ck_assert_uint_eq(jw_rel_remove_object(rs, "order:7"), 1);
	DENY_DEFAULT(acl, rs, &c42, R, "order/7/status");

	/* a different relation or object is not enough */
	ck_assert_int_eq(jw_rel_add(rs, "order:7", "tracker", "customer:42", 0), 0);
	ck_assert_int_eq(jw_rel_add(rs, "driver:7", "party", "customer:42", 0), 0);
	DENY_DEFAULT(acl, rs, &c42, R, "order/7/status");
	DENY_DEFAULT(acl, rs, &c42, R, "driver/7/location");
	ck_assert_int_eq(jw_rel_add(rs, "driver:7", "tracker", "customer:42", 0), 0);
	ALLOW_AT(acl, rs, &c42, R, "driver/7/location", 3);
	DENY_DEFAULT(acl, rs, &c42, R, "driver/7/presence");

	jw_rel_free(rs);
	jw_acl_free(acl);
}
END_TEST

START_TEST(relation_expiry)
{
	struct jw_acl *acl = parse(ORDER_ACL);
	struct jw_relstore *rs = jw_rel_new();
	struct jw_subject c42 = subject("customer", "42", NULL);
	/* expired before now */
	ck_assert_int_eq(jw_rel_add(rs, "order:1", "party", "customer:42", NOW - 1), 0);
	DENY_DEFAULT(acl, rs, &c42, R, "order/1/status");
	/* valid until NOW + 60: allowed before, denied from that second on,
	 * without anyone sweeping the store */
	ck_assert_int_eq(jw_rel_add(rs, "order:2", "party", "customer:42", NOW + 60), 0);
	expect_at(acl, rs, NOW, &c42, R, "order/2/status", JW_ALLOW, 2);
	expect_at(acl, rs, NOW + 59, &c42, R, "order/2/status", JW_ALLOW, 2);
	expect_at(acl, rs, NOW + 60, &c42, R, "order/2/status", JW_DENY, 0);
	expect_at(acl, rs, NOW + 3600, &c42, S, "order/2/status", JW_DENY, 0);
	/* refreshing the tuple extends it */
	ck_assert_int_eq(jw_rel_add(rs, "order:2", "party", "customer:42", NOW + 7200), 0);
	expect_at(acl, rs, NOW + 3600, &c42, R, "order/2/status", JW_ALLOW, 2);
	jw_rel_free(rs);
	jw_acl_free(acl);
}
END_TEST

START_TEST(relation_templates)
{
	struct jw_acl *acl = parse(ORDER_ACL);
	struct jw_relstore *rs = jw_rel_new();
	struct jw_subject c42 = subject("customer", "42", NULL);
	/* two captures in one object */
	ck_assert_int_eq(jw_rel_add(rs, "x:y", "link", "customer:42", 0), 0);
	ALLOW_AT(acl, rs, &c42, R, "pair/x/y", 4);
	DENY_DEFAULT(acl, rs, &c42, R, "pair/y/x");
	DENY_DEFAULT(acl, rs, &c42, R, "pair/x:y/");      /* object "x:y:" */
	DENY_DEFAULT(acl, rs, &c42, R, "pair/x/y/z");
	/* the same capture twice must see the same value */
	ck_assert_int_eq(jw_rel_add(rs, "order:5", "party", "customer:42", 0), 0);
	ALLOW_AT(acl, rs, &c42, R, "same/5/and/5", 5);
	DENY_DEFAULT(acl, rs, &c42, R, "same/5/and/6");
	DENY_DEFAULT(acl, rs, &c42, R, "same/6/and/5");
	/* {sub} inside an object */
	ck_assert_int_eq(jw_rel_add(rs, "user:42/car", "owner", "customer:42", 0), 0);
	ALLOW_AT(acl, rs, &c42, R, "mine/42/car", 6);
	DENY_DEFAULT(acl, rs, &c42, R, "mine/42/bike");
	struct jw_subject c43 = subject("customer", "43", NULL);
	DENY_DEFAULT(acl, rs, &c43, R, "mine/42/car");
	DENY_DEFAULT(acl, rs, &c43, R, "mine/43/car");
	jw_rel_free(rs);
	jw_acl_free(acl);
}
END_TEST

START_TEST(relation_with_clientid)
{
	struct jw_acl *acl = parse(
			"role device\n"
			"allow read dev/{d}/cmd if user of {clientid}:{d}\n"
			"allow read own/{role}/{sub}/{x} if owner of {role}.{sub}.{x}\n");
	struct jw_relstore *rs = jw_rel_new();
	ck_assert_int_eq(jw_rel_add(rs, "phone-1:x", "user", "device:1", 0), 0);
	ck_assert_int_eq(jw_rel_add(rs, ":x", "user", "device:1", 0), 0);
	ck_assert_int_eq(jw_rel_add(rs, "device.1.y", "owner", "device:1", 0), 0);
	struct jw_subject with = subject("device", "1", "phone-1");
	struct jw_subject other = subject("device", "1", "phone-2");
	struct jw_subject without = subject("device", "1", NULL);
	ALLOW_AT(acl, rs, &with, R, "dev/x/cmd", 2);
	DENY_DEFAULT(acl, rs, &other, R, "dev/x/cmd");
	/* no client id: a condition naming {clientid} is false, it is not ""
	 * (":x" exists) */
	DENY_DEFAULT(acl, rs, &without, R, "dev/x/cmd");
	DENY_DEFAULT(acl, rs, &without, S, "dev/x/cmd");
	ALLOW_AT(acl, rs, &without, R, "own/device/1/y", 3);
	DENY_DEFAULT(acl, rs, &without, R, "own/device/1/z");
	jw_rel_free(rs);
	jw_acl_free(acl);
}
END_TEST

/* ---- '$' topics ------------------------------------------------------ */

START_TEST(dollar_topics)
{
	struct jw_acl *acl = parse(
			"role a\n"
			"allow read,write #\n"
			"allow read +/status\n"
			"allow read {c}/x if r of {c}\n"
			"role b\n"
			"allow read $SYS/#\n"
			"allow write $CONTROL/jetwire/v1\n");
	struct jw_relstore *rs = jw_rel_new();
	ck_assert_int_eq(jw_rel_add(rs, "$SYS", "r", "a:1", 0), 0);
	struct jw_subject a = subject("a", "1", NULL);
	struct jw_subject b = subject("b", "1", NULL);
	ALLOW_AT(acl, rs, &a, R, "order/1/status", 2);
	ALLOW_AT(acl, rs, &a, W, "anything", 2);
	/* a leading wildcard or capture never takes a '$' level */
	DENY_DEFAULT(acl, rs, &a, R, "$SYS/broker/jetwire/clients");
	DENY_DEFAULT(acl, rs, &a, W, "$CONTROL/jetwire/v1");
	DENY_DEFAULT(acl, rs, &a, R, "$x/status");
	DENY_DEFAULT(acl, rs, &a, R, "$SYS/x");
	DENY_DEFAULT(acl, rs, &a, S, "$SYS/#");
	DENY_DEFAULT(acl, rs, &a, S, "$CONTROL/jetwire/v1");
	/* a '$' further down is an ordinary level */
	ALLOW_AT(acl, rs, &a, R, "x/$SYS", 2);
	/* explicit '$' patterns do */
	ALLOW_AT(acl, rs, &b, R, "$SYS/broker/jetwire/clients", 6);
	ALLOW_AT(acl, rs, &b, R, "$SYS", 6);
	ALLOW_AT(acl, rs, &b, W, "$CONTROL/jetwire/v1", 7);
	DENY_DEFAULT(acl, rs, &b, W, "$CONTROL/jetwire/v2");
	DENY_DEFAULT(acl, rs, &b, R, "$CONTROL/jetwire/v1");
	DENY_DEFAULT(acl, rs, &b, R, "SYS/x");
	ALLOW_AT(acl, rs, &b, S, "$SYS/#", 6);
	ALLOW_AT(acl, rs, &b, S, "$SYS/broker/+", 6);
	/* a filter with a leading wildcard never matches '$' topics */
	DENY_DEFAULT(acl, rs, &b, S, "#");
	DENY_DEFAULT(acl, rs, &b, S, "+/broker/#");
	jw_rel_free(rs);
	jw_acl_free(acl);
}
END_TEST

/* ---- SUBSCRIBE -------------------------------------------------------- */

static const char CUSTOMER_ACL[] =
	"role customer\n"
	"allow read order/{order}/#            if party of order:{order}\n"
	"allow read driver/{driver}/location   if tracker of driver:{driver}\n"
	"allow read customer/{sub}/notifications\n";

START_TEST(subscribe_allow_could_match)
{
	struct jw_acl *acl = parse(CUSTOMER_ACL);
	struct jw_relstore *rs = jw_rel_new();
	ck_assert_int_eq(jw_rel_add(rs, "order:7", "party", "customer:42", 0), 0);
	struct jw_subject c = subject("customer", "42", NULL);
	/* broad filters that could match an allowed topic: allowed (each
	 * delivery is still checked with READ) */
	ALLOW_AT(acl, rs, &c, S, "#", 2);
	ALLOW_AT(acl, rs, &c, S, "+/+/+", 2);
	ALLOW_AT(acl, rs, &c, S, "+/#", 2);
	ALLOW_AT(acl, rs, &c, S, "order/+/status", 2);
	ALLOW_AT(acl, rs, &c, S, "order/#", 2);
	ALLOW_AT(acl, rs, &c, S, "order/+", 2);                  /* "order/7" is allowed */
	ALLOW_AT(acl, rs, &c, S, "driver/+/location", 3);
	ALLOW_AT(acl, rs, &c, S, "customer/+/notifications", 4);
	ALLOW_AT(acl, rs, &c, S, "+/42/notifications", 4);
	ALLOW_AT(acl, rs, &c, S, "customer/42/notifications", 4);
	ALLOW_AT(acl, rs, &c, S, "customer/42/notifications/#", 4);  /* takes the parent */
	ALLOW_AT(acl, rs, &c, S, "customer/42/#", 4);
	/* concrete filters need the concrete right */
	ALLOW_AT(acl, rs, &c, S, "order/7/status", 2);
	ALLOW_AT(acl, rs, &c, S, "order/7/#", 2);
	DENY_DEFAULT(acl, rs, &c, S, "order/8/status");
	DENY_DEFAULT(acl, rs, &c, S, "order/8/#");
	DENY_DEFAULT(acl, rs, &c, S, "driver/9/location");
	DENY_DEFAULT(acl, rs, &c, S, "merchant/9/notifications");
	DENY_DEFAULT(acl, rs, &c, S, "customer/43/notifications");
	DENY_DEFAULT(acl, rs, &c, S, "customer/43/#");
	DENY_DEFAULT(acl, rs, &c, S, "merchant/#");
	ALLOW_AT(acl, rs, &c, S, "+/+/offers", 2);                   /* "order/7/offers" */
	DENY_DEFAULT(acl, rs, &c, S, "driver/+/presence");
	DENY_DEFAULT(acl, rs, &c, S, "customer/42/notifications/+");  /* one level too deep */
	DENY_DEFAULT(acl, rs, &c, S, "customer/42");
	DENY_DEFAULT(acl, rs, &c, S, "customer/+");
	DENY_DEFAULT(acl, rs, &c, S, "+");
	DENY_DEFAULT(acl, rs, &c, S, "order");
	ALLOW_AT(acl, rs, &c, S, "+/+/+/+/+", 2);                     /* deep, under order/{order}/# */
	DENY_DEFAULT(acl, rs, &c, S, "customer/+/+/+");
	jw_rel_free(rs);
	jw_acl_free(acl);
}
END_TEST

START_TEST(subscribe_relation_changes)
{
	struct jw_acl *acl = parse(CUSTOMER_ACL);
	struct jw_relstore *rs = jw_rel_new();
	struct jw_subject c = subject("customer", "42", NULL);
	DENY_DEFAULT(acl, rs, &c, S, "order/7/status");
	/* wildcard filters do not need a tuple: no topic is delivered without one */
	ALLOW_AT(acl, rs, &c, S, "order/+/status", 2);
	DENY_DEFAULT(acl, rs, &c, R, "order/7/status");
	ck_assert_int_eq(jw_rel_add(rs, "order:7", "party", "customer:42", 0), 0);
	ALLOW_AT(acl, rs, &c, S, "order/7/status", 2);
	ALLOW_AT(acl, rs, &c, R, "order/7/status", 2);
	ck_assert(jw_rel_remove(rs, "order:7", "party", "customer:42"));
	DENY_DEFAULT(acl, rs, &c, S, "order/7/status");
	DENY_DEFAULT(acl, rs, &c, R, "order/7/status");
	jw_rel_free(rs);
	jw_acl_free(acl);
}
END_TEST

START_TEST(subscribe_deny_only_when_covering)
{
	struct jw_acl *acl = parse(
			"role admin\n"
			"deny  read  +/+/notifications\n"
			"deny  subscribe secret/#\n"
			"deny  read  order/{order}/# if blocked of order:{order}\n"
			"allow read  #\n");
	struct jw_relstore *rs = jw_rel_new();
	ck_assert_int_eq(jw_rel_add(rs, "order:3", "blocked", "admin:1", 0), 0);
	struct jw_subject a = subject("admin", "1", NULL);
	/* the deny covers every topic of these filters */
	DENY_AT(acl, rs, &a, S, "customer/42/notifications", 2);
	DENY_AT(acl, rs, &a, S, "customer/+/notifications", 2);
	DENY_AT(acl, rs, &a, S, "+/+/notifications", 2);
	DENY_AT(acl, rs, &a, S, "secret/#", 3);
	DENY_AT(acl, rs, &a, S, "secret", 3);
	DENY_AT(acl, rs, &a, S, "secret/a/+/b", 3);
	DENY_AT(acl, rs, &a, S, "order/3/status", 4);
	DENY_AT(acl, rs, &a, S, "order/3/#", 4);
	/* ...not these, which also take allowed topics: the allow decides and
	 * each delivery is checked with READ */
	ALLOW_AT(acl, rs, &a, S, "#", 5);
	ALLOW_AT(acl, rs, &a, S, "+/+/+", 5);
	ALLOW_AT(acl, rs, &a, S, "customer/#", 5);
	ALLOW_AT(acl, rs, &a, S, "customer/42/+", 5);
	ALLOW_AT(acl, rs, &a, S, "+/42/#", 5);
	ALLOW_AT(acl, rs, &a, S, "customer/42/notifications/#", 5);  /* also notifications/x */
	ALLOW_AT(acl, rs, &a, S, "+/#", 5);
	ALLOW_AT(acl, rs, &a, S, "order/+/status", 5);            /* a wildcard is not one object */
	ALLOW_AT(acl, rs, &a, S, "order/4/status", 5);
	ALLOW_AT(acl, rs, &a, S, "secre/#", 5);
	/* READ still refuses each covered message */
	DENY_AT(acl, rs, &a, R, "customer/42/notifications", 2);
	DENY_AT(acl, rs, &a, R, "order/3/status", 4);
	ALLOW_AT(acl, rs, &a, R, "order/4/status", 5);
	ALLOW_AT(acl, rs, &a, R, "customer/42/notifications/x", 5);
	/* a subscribe-only deny does not stop deliveries */
	ALLOW_AT(acl, rs, &a, R, "secret/x", 5);
	jw_rel_free(rs);
	jw_acl_free(acl);
}
END_TEST

START_TEST(subscribe_vs_read_rules)
{
	struct jw_acl *acl = parse(
			"role a\n"
			"allow subscribe feed/+\n"
			"allow write out/#\n"
			"allow read in/{sub}\n");
	struct jw_subject who = subject("a", "5", NULL);
	/* a subscribe rule allows the subscription, not the deliveries */
	ALLOW_AT(acl, NULL, &who, S, "feed/+", 2);
	ALLOW_AT(acl, NULL, &who, S, "feed/x", 2);
	DENY_DEFAULT(acl, NULL, &who, R, "feed/x");
	/* a read rule allows both */
	ALLOW_AT(acl, NULL, &who, S, "in/5", 4);
	ALLOW_AT(acl, NULL, &who, S, "in/+", 4);
	ALLOW_AT(acl, NULL, &who, R, "in/5", 4);
	DENY_DEFAULT(acl, NULL, &who, S, "in/6");
	/* a write rule allows neither */
	DENY_DEFAULT(acl, NULL, &who, S, "out/#");
	DENY_DEFAULT(acl, NULL, &who, S, "out/x");
	jw_acl_free(acl);
}
END_TEST

/* Strip "$share/<group>/" as the plugin and the CLI do, then decide. */
static enum jw_decision decide_shared(const struct jw_acl *acl, const struct jw_relstore *rs,
		const struct jw_subject *who, const char *filter)
{
	size_t len = strlen(filter);
	const char *f = jw_filter_strip_share(filter, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert(jw_filter_is_valid(f, len));
	return jw_acl_decide(acl, rs, NOW, who, JW_ACCESS_SUBSCRIBE, f, len, NULL);
}

START_TEST(subscribe_shared)
{
	struct jw_acl *acl = parse(CUSTOMER_ACL);
	struct jw_relstore *rs = jw_rel_new();
	ck_assert_int_eq(jw_rel_add(rs, "order:7", "party", "customer:42", 0), 0);
	struct jw_subject c = subject("customer", "42", NULL);
	ck_assert_int_eq(decide_shared(acl, rs, &c, "$share/g/order/+/status"), JW_ALLOW);
	ck_assert_int_eq(decide_shared(acl, rs, &c, "$share/g/order/7/status"), JW_ALLOW);
	ck_assert_int_eq(decide_shared(acl, rs, &c, "$share/g/order/8/status"), JW_DENY);
	ck_assert_int_eq(decide_shared(acl, rs, &c, "$share/g/#"), JW_ALLOW);
	ck_assert_int_eq(decide_shared(acl, rs, &c, "$share/g/merchant/9/notifications"), JW_DENY);
	ck_assert_int_eq(decide_shared(acl, rs, &c, "$share/order/customer/43/notifications"), JW_DENY);
	/* the group name is not a level of the filter */
	ck_assert_int_eq(decide_shared(acl, rs, &c, "$share/customer/42/notifications"), JW_DENY);
	/* an unstripped "$share/..." is a '$' filter that no rule here names */
	DENY_DEFAULT(acl, rs, &c, S, "$share/g/order/+/status");
	/* malformed shares are refused before any decision */
	size_t len = strlen("$share/g/");
	ck_assert_ptr_null(jw_filter_strip_share("$share/g/", &len));
	len = strlen("$share//x");
	ck_assert_ptr_null(jw_filter_strip_share("$share//x", &len));
	jw_rel_free(rs);
	jw_acl_free(acl);
}
END_TEST

/* ---- the default platform policy ------------------------------------ */

static struct jw_acl *load_default(void)
{
	const char *src = getenv("JW_SOURCE_DIR");
	ck_assert_msg(src != NULL && src[0], "JW_SOURCE_DIR is not set (run through ctest)");
	char *path = ut_fmt("%s/acl/default.acl", src);
	char err[1024] = "";
	struct jw_acl *acl = jw_acl_load(path, err, sizeof(err));
	ck_assert_msg(acl != NULL, "%s", err);
	free(path);
	return acl;
}

/* The rule that decided, as written with runs of blanks made one space. */
static void squeeze(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	bool blank = false;
	for(; *in && n + 1 < cap; in++){
		if(*in == ' ' || *in == '\t'){ blank = true; continue; }
		if(blank && n > 0) out[n++] = ' ';
		blank = false;
		out[n++] = *in;
	}
	out[n] = '\0';
}

struct case_ {
	const char *role, *sub;
	int access;
	const char *topic;
	const char *rule;   /* deciding rule, blanks squeezed; NULL: no rule (default deny) */
	enum jw_decision want;
};

#define OK(role, sub, acc, topic, rule) {role, sub, acc, topic, rule, JW_ALLOW}
#define NO(role, sub, acc, topic) {role, sub, acc, topic, NULL, JW_DENY}
#define NO_BY(role, sub, acc, topic, rule) {role, sub, acc, topic, rule, JW_DENY}

/* Relations as the bridge pushes them: order 7 has customer 42, merchant 5
 * and driver 9, who serves it (customer and merchant track driver 9). */
static struct jw_relstore *default_relations(void)
{
	struct jw_relstore *rs = jw_rel_new();
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(jw_rel_add(rs, "order:7", "party", "customer:42", 0), 0);
	ck_assert_int_eq(jw_rel_add(rs, "order:7", "party", "merchant:5", 0), 0);
	ck_assert_int_eq(jw_rel_add(rs, "order:7", "party", "driver:9", 0), 0);
	ck_assert_int_eq(jw_rel_add(rs, "driver:9", "tracker", "customer:42", 0), 0);
	ck_assert_int_eq(jw_rel_add(rs, "driver:9", "tracker", "merchant:5", 0), 0);
	/* an order that ended: access lasts until its retained status expires */
	ck_assert_int_eq(jw_rel_add(rs, "order:6", "party", "customer:42", NOW - 1), 0);
	return rs;
}

static void run_cases(const struct case_ *cases, size_t n)
{
	struct jw_acl *acl = load_default();
	struct jw_relstore *rs = default_relations();
	for(size_t i = 0; i < n; i++){
		const struct case_ *c = &cases[i];
		struct jw_subject who = subject(c->role, c->sub, NULL);
		const struct jw_rule *by = NULL;
		enum jw_decision d = jw_acl_decide(acl, rs, NOW, &who, (enum jw_access)c->access,
				c->topic, strlen(c->topic), &by);
		char got[256] = "(none)";
		if(by) squeeze(jw_rule_text(by), got, sizeof(got));
		ck_assert_msg(d == c->want, "%s:%s %s '%s': got %s by '%s', want %s",
				c->role, c->sub, access_str(c->access), c->topic,
				d == JW_ALLOW ? "allow" : "deny", got, c->want == JW_ALLOW ? "allow" : "deny");
		if(c->rule == NULL){
			ck_assert_msg(by == NULL, "%s:%s %s '%s': decided by '%s', want no rule",
					c->role, c->sub, access_str(c->access), c->topic, got);
		}else{
			ck_assert_msg(by != NULL && strcmp(got, c->rule) == 0,
					"%s:%s %s '%s': decided by '%s', want '%s'",
					c->role, c->sub, access_str(c->access), c->topic, got, c->rule);
		}
	}
	jw_rel_free(rs);
	jw_acl_free(acl);
}

#define ORDER_RULE "allow read order/{order}/# if party of order:{order}"
#define LOC_RULE "allow read driver/{driver}/location if tracker of driver:{driver}"
#define PRES_RULE "allow read driver/{driver}/presence if tracker of driver:{driver}"

START_TEST(default_policy_loads)
{
	struct jw_acl *acl = load_default();
	ck_assert_uint_eq(jw_acl_file_count(acl), 1);
	ck_assert_uint_ge(jw_acl_rule_count(acl), 20);
	jw_acl_free(acl);
}
END_TEST

START_TEST(default_customer)
{
	static const struct case_ cases[] = {
		/* my orders */
		OK("customer", "42", R, "order/7/status", ORDER_RULE),
		OK("customer", "42", R, "order/7/driver", ORDER_RULE),
		OK("customer", "42", S, "order/7/status", ORDER_RULE),
		OK("customer", "42", S, "order/+/status", ORDER_RULE),
		OK("customer", "42", S, "order/+/driver", ORDER_RULE),
		NO("customer", "42", R, "order/8/status"),
		NO("customer", "42", S, "order/8/status"),
		NO("customer", "42", R, "order/6/status"),          /* expired tuple */
		NO("customer", "42", W, "order/7/status"),
		NO("customer", "43", R, "order/7/status"),
		/* the serving driver */
		OK("customer", "42", R, "driver/9/location", LOC_RULE),
		OK("customer", "42", R, "driver/9/presence", PRES_RULE),
		OK("customer", "42", S, "driver/+/location", LOC_RULE),
		NO("customer", "42", R, "driver/10/location"),
		NO("customer", "42", R, "driver/10/presence"),
		NO("customer", "42", R, "driver/9/offers"),
		NO("customer", "42", R, "driver/9/notifications"),
		NO("customer", "42", S, "driver/+/offers"),
		NO("customer", "42", W, "driver/9/location"),
		NO("customer", "43", R, "driver/9/location"),
		/* my notifications, nobody else's */
		OK("customer", "42", R, "customer/42/notifications", "allow read customer/{sub}/notifications"),
		OK("customer", "42", S, "customer/42/notifications", "allow read customer/{sub}/notifications"),
		NO("customer", "42", R, "customer/43/notifications"),
		NO("customer", "42", S, "customer/43/notifications"),
		NO("customer", "42", R, "merchant/42/notifications"),
		NO("customer", "42", S, "merchant/9/notifications"),
		NO("customer", "42", W, "customer/42/notifications"),
		/* broad filters: allowed, deliveries checked one by one */
		OK("customer", "42", S, "#", ORDER_RULE),
		OK("customer", "42", S, "+/+/+", ORDER_RULE),
		/* nothing else */
		NO("customer", "42", W, "$CONTROL/jetwire/v1"),
		NO("customer", "42", R, "$SYS/broker/jetwire/clients"),
		NO("customer", "42", S, "$SYS/#"),
		NO("customer", "42", W, "driver/42/location"),
		NO("customer", "42", W, "jetwire/bridge/x"),
		NO("customer", "42", R, "jetwire/bridge/x"),
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

START_TEST(default_merchant)
{
	static const struct case_ cases[] = {
		OK("merchant", "5", R, "order/7/status", ORDER_RULE),
		OK("merchant", "5", R, "order/7/driver", ORDER_RULE),
		OK("merchant", "5", S, "order/+/status", ORDER_RULE),
		NO("merchant", "5", R, "order/8/status"),
		NO("merchant", "5", W, "order/7/status"),
		NO("merchant", "6", R, "order/7/status"),
		OK("merchant", "5", R, "driver/9/location", LOC_RULE),
		OK("merchant", "5", R, "driver/9/presence", PRES_RULE),
		NO("merchant", "5", R, "driver/10/location"),
		NO("merchant", "5", R, "driver/9/offers"),
		NO("merchant", "5", W, "driver/9/location"),
		OK("merchant", "5", R, "merchant/5/notifications", "allow read merchant/{sub}/notifications"),
		OK("merchant", "5", S, "merchant/5/notifications", "allow read merchant/{sub}/notifications"),
		NO("merchant", "5", R, "merchant/6/notifications"),
		NO("merchant", "5", R, "customer/5/notifications"),
		NO("merchant", "5", S, "customer/+/notifications"),
		NO("merchant", "5", W, "merchant/5/notifications"),
		NO("merchant", "5", W, "$CONTROL/jetwire/v1"),
		NO("merchant", "5", R, "$SYS/broker/jetwire/clients"),
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

START_TEST(default_driver)
{
	static const struct case_ cases[] = {
		OK("driver", "9", W, "driver/9/location", "allow write driver/{sub}/location"),
		OK("driver", "9", W, "driver/9/presence", "allow write driver/{sub}/presence"),
		NO("driver", "9", W, "driver/10/location"),
		NO("driver", "9", W, "driver/10/presence"),
		NO("driver", "9", W, "driver/9/offers"),
		NO("driver", "9", W, "driver/9/notifications"),
		NO("driver", "9", W, "driver/9/location/x"),
		OK("driver", "9", R, "driver/9/location", "allow read driver/{sub}/#"),
		OK("driver", "9", R, "driver/9/presence", "allow read driver/{sub}/#"),
		OK("driver", "9", R, "driver/9/offers", "allow read driver/{sub}/#"),
		OK("driver", "9", R, "driver/9/notifications", "allow read driver/{sub}/#"),
		OK("driver", "9", S, "driver/9/#", "allow read driver/{sub}/#"),
		OK("driver", "9", S, "driver/+/offers", "allow read driver/{sub}/#"),
		NO("driver", "9", R, "driver/10/offers"),
		NO("driver", "9", R, "driver/10/location"),
		NO("driver", "9", S, "driver/10/offers"),
		OK("driver", "9", R, "order/7/status", ORDER_RULE),
		OK("driver", "9", R, "order/7/driver", ORDER_RULE),
		OK("driver", "9", S, "order/7/#", ORDER_RULE),
		NO("driver", "9", R, "order/8/status"),
		NO("driver", "10", R, "order/7/status"),
		NO("driver", "9", W, "order/7/status"),
		NO("driver", "9", R, "customer/42/notifications"),
		NO("driver", "9", W, "$CONTROL/jetwire/v1"),
		NO("driver", "9", R, "$SYS/broker/jetwire/clients"),
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

START_TEST(default_service)
{
	static const struct case_ cases[] = {
		OK("service", "bridge", W, "order/7/status", "allow write order/+/status"),
		OK("service", "bridge", W, "order/7/driver", "allow write order/+/driver"),
		NO("service", "bridge", W, "order/7/other"),
		NO("service", "bridge", W, "order/7"),
		OK("service", "bridge", W, "driver/9/offers", "allow write driver/+/offers"),
		NO("service", "bridge", W, "driver/9/location"),
		NO("service", "bridge", W, "driver/9/presence"),
		OK("service", "bridge", W, "customer/42/notifications", "allow write +/+/notifications"),
		OK("service", "bridge", W, "driver/9/notifications", "allow write +/+/notifications"),
		NO("service", "bridge", W, "a/b/c/notifications"),
		OK("service", "bridge", W, "$CONTROL/jetwire/v1", "allow write $CONTROL/jetwire/v1"),
		NO("service", "bridge", W, "$CONTROL/jetwire/v2"),
		NO("service", "bridge", W, "$SYS/broker/x"),
		OK("service", "bridge", W, "jetwire/bridge/stats", "allow write jetwire/bridge/#"),
		OK("service", "bridge", R, "order/7/status", "allow read order/+/#"),
		OK("service", "bridge", R, "order/123/driver", "allow read order/+/#"),
		OK("service", "bridge", S, "order/+/status", "allow read order/+/#"),
		OK("service", "bridge", R, "driver/9/location", "allow read driver/+/location"),
		OK("service", "bridge", R, "driver/9/presence", "allow read driver/+/presence"),
		OK("service", "bridge", S, "driver/+/location", "allow read driver/+/location"),
		OK("service", "bridge", R, "jetwire/bridge/x", "allow read jetwire/bridge/#"),
		NO("service", "bridge", R, "driver/9/offers"),
		NO("service", "bridge", R, "customer/42/notifications"),
		NO("service", "bridge", S, "customer/+/notifications"),
		NO("service", "bridge", R, "$SYS/broker/jetwire/clients"),
		NO("service", "bridge", R, "$CONTROL/jetwire/v1"),
		NO("service", "bridge", S, "$CONTROL/jetwire/v1"),
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

#define ADMIN_DENY "deny read +/+/notifications"

START_TEST(default_admin)
{
	static const struct case_ cases[] = {
		NO_BY("admin", "1", R, "customer/42/notifications", ADMIN_DENY),
		NO_BY("admin", "1", R, "driver/9/notifications", ADMIN_DENY),
		NO_BY("admin", "1", S, "customer/42/notifications", ADMIN_DENY),
		NO_BY("admin", "1", S, "+/+/notifications", ADMIN_DENY),
		NO_BY("admin", "1", S, "merchant/+/notifications", ADMIN_DENY),
		OK("admin", "1", R, "order/7/status", "allow read #"),
		OK("admin", "1", R, "driver/9/location", "allow read #"),
		OK("admin", "1", R, "driver/9/offers", "allow read #"),
		OK("admin", "1", R, "customer/42/notifications/x", "allow read #"),
		OK("admin", "1", S, "#", "allow read #"),
		OK("admin", "1", S, "+/+/+", "allow read #"),
		OK("admin", "1", S, "order/+/status", "allow read #"),
		OK("admin", "1", R, "$SYS/broker/jetwire/clients", "allow read $SYS/#"),
		OK("admin", "1", S, "$SYS/#", "allow read $SYS/#"),
		OK("admin", "1", W, "$CONTROL/jetwire/v1", "allow write $CONTROL/jetwire/v1"),
		NO("admin", "1", R, "$CONTROL/jetwire/v1"),
		NO("admin", "1", W, "$CONTROL/jetwire/v2"),
		NO("admin", "1", W, "order/7/status"),
		NO("admin", "1", W, "driver/9/location"),
		NO("admin", "1", W, "customer/42/notifications"),
		NO("admin", "1", W, "$SYS/broker/x"),
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

START_TEST(default_unknown_role)
{
	static const struct case_ cases[] = {
		NO("guest", "1", R, "order/7/status"),
		NO("guest", "1", S, "#"),
		NO("guest", "1", R, "guest/1/notifications"),
		NO("guest", "1", W, "driver/1/location"),
		NO("Customer", "42", R, "customer/42/notifications"),
		NO("customer ", "42", R, "customer/42/notifications"),
	};
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

/* The text of the rule deciding, blanks squeezed, or "" for default deny. */
static enum jw_decision decide_rule(const struct jw_acl *acl, const struct jw_relstore *rs,
		const char *role, const char *sub, int access, const char *topic, char *rule, size_t cap)
{
	struct jw_subject who = subject(role, sub, NULL);
	const struct jw_rule *by;
	enum jw_decision d = jw_acl_decide(acl, rs, NOW, &who, (enum jw_access)access, topic, strlen(topic), &by);
	rule[0] = '\0';
	if(by) squeeze(jw_rule_text(by), rule, cap);
	return d;
}

START_TEST(default_lifecycle)
{
	/* SPEC: access to the serving driver ends when the driver is unassigned
	 * (tracker tuple removed) while the order stays readable; the order's
	 * access ends when its party tuple goes */
	struct jw_acl *acl = load_default();
	struct jw_relstore *rs = default_relations();
	char rule[256];
	ck_assert_int_eq(decide_rule(acl, rs, "customer", "42", R, "driver/9/location", rule, sizeof(rule)), JW_ALLOW);
	ck_assert_str_eq(rule, LOC_RULE);
	ck_assert(jw_rel_remove(rs, "driver:9", "tracker", "customer:42"));
	ck_assert_int_eq(decide_rule(acl, rs, "customer", "42", R, "driver/9/location", rule, sizeof(rule)), JW_DENY);
	ck_assert_str_eq(rule, "");
	ck_assert_int_eq(decide_rule(acl, rs, "customer", "42", R, "driver/9/presence", rule, sizeof(rule)), JW_DENY);
	ck_assert_int_eq(decide_rule(acl, rs, "customer", "42", R, "order/7/status", rule, sizeof(rule)), JW_ALLOW);
	ck_assert_str_eq(rule, ORDER_RULE);
	/* the merchant still tracks */
	ck_assert_int_eq(decide_rule(acl, rs, "merchant", "5", R, "driver/9/location", rule, sizeof(rule)), JW_ALLOW);
	/* the order's terminal status expires: party tuples carry that expiry */
	ck_assert_int_eq(jw_rel_add(rs, "order:7", "party", "customer:42", NOW + 10), 0);
	ck_assert_int_eq(decide_rule(acl, rs, "customer", "42", R, "order/7/status", rule, sizeof(rule)), JW_ALLOW);
	struct jw_subject c = subject("customer", "42", NULL);
	expect_at(acl, rs, NOW + 10, &c, R, "order/7/status", JW_DENY, 0);
	expect_at(acl, rs, NOW + 10, &c, S, "order/7/#", JW_DENY, 0);
	/* the driver, unassigned: removed from the order */
	ck_assert(jw_rel_remove(rs, "order:7", "party", "driver:9"));
	ck_assert_int_eq(decide_rule(acl, rs, "driver", "9", R, "order/7/status", rule, sizeof(rule)), JW_DENY);
	ck_assert_int_eq(decide_rule(acl, rs, "driver", "9", S, "order/7/status", rule, sizeof(rule)), JW_DENY);
	/* its own topics stay */
	ck_assert_int_eq(decide_rule(acl, rs, "driver", "9", W, "driver/9/location", rule, sizeof(rule)), JW_ALLOW);
	jw_rel_free(rs);
	jw_acl_free(acl);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl_decide");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, first_match_wins);
	tcase_add_test(tc, deny_before_allow);
	tcase_add_test(tc, default_deny);
	tcase_add_test(tc, level_counts);
	tcase_add_test(tc, substitution_whole_levels);
	tcase_add_test(tc, relation_conditions);
	tcase_add_test(tc, relation_expiry);
	tcase_add_test(tc, relation_templates);
	tcase_add_test(tc, relation_with_clientid);
	tcase_add_test(tc, dollar_topics);
	suite_add_tcase(s, tc);

	tc = tcase_create("subscribe");
	tcase_add_test(tc, subscribe_allow_could_match);
	tcase_add_test(tc, subscribe_relation_changes);
	tcase_add_test(tc, subscribe_deny_only_when_covering);
	tcase_add_test(tc, subscribe_vs_read_rules);
	tcase_add_test(tc, subscribe_shared);
	suite_add_tcase(s, tc);

	tc = tcase_create("default_policy");
	tcase_add_test(tc, default_policy_loads);
	tcase_add_test(tc, default_customer);
	tcase_add_test(tc, default_merchant);
	tcase_add_test(tc, default_driver);
	tcase_add_test(tc, default_service);
	tcase_add_test(tc, default_admin);
	tcase_add_test(tc, default_unknown_role);
	tcase_add_test(tc, default_lifecycle);
	suite_add_tcase(s, tc);
	return ut_run(s);
}
