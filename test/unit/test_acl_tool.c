/*
 * The jetwire-acl command (tools/jetwire_acl.c), run as a program: "check"
 * reports a broken file exactly as "file:line: reason", "explain" names the
 * deciding rule, with claims or with a real token minted by jetwire-token.
 *
 * JW_ACL_TOOL and JW_TOKEN_TOOL (set by CTest) locate the built programs.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_support.h"

static char *dir;

static void dir_setup(void)
{
	dir = ut_tempdir();
}

static void dir_teardown(void)
{
	ut_rmtree(dir);
	free(dir);
	dir = NULL;
}

static const char *tool(const char *env)
{
	const char *p = getenv(env);
	ck_assert_msg(p != NULL && p[0], "%s is not set (run through ctest)", env);
	return p;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	size_t n;
	while((n = fread(buf + len, 1, cap - len - 1, f)) > 0){
		len += n;
		if(cap - len - 1 == 0){
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

struct result {
	int status;   /* exit status, or -signal */
	char *out, *err;
};

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* Run argv[0] with argv, stdin from /dev/null, capturing stdout and stderr. */
static struct result run(char *const argv[])
{
	char *out_path = ut_fmt("%s/.stdout", dir);
	char *err_path = ut_fmt("%s/.stderr", dir);
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if(pid == 0){
		int in = open("/dev/null", O_RDONLY);
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if(in < 0 || o < 0 || e < 0) _exit(127);
		dup2(in, 0);
		dup2(o, 1);
		dup2(e, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	while(waitpid(pid, &st, 0) < 0){
		ck_assert_int_eq(errno, EINTR);
	}
	struct result r;
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
	r.out = slurp(out_path);
	r.err = slurp(err_path);
	ck_assert_msg(r.status != 127, "could not run %s", argv[0]);
	free(out_path);
	free(err_path);
	return r;
}

#define MAX_ARGS 32

/* run(JW_ACL_TOOL, args..., NULL) */
static struct result acl_tool(const char *first, ...)
{
	char *argv[MAX_ARGS];
	int n = 0;
	argv[n++] = (char *)tool("JW_ACL_TOOL");
	va_list ap;
	va_start(ap, first);
	for(const char *a = first; a != NULL; a = va_arg(ap, const char *)){
		ck_assert_int_lt(n, MAX_ARGS - 1);
		argv[n++] = (char *)a;
	}
	va_end(ap);
	argv[n] = NULL;
	return run(argv);
}

static char *put(const char *name, const char *text, mode_t mode)
{
	return ut_write_file(dir, name, text, strlen(text), mode);
}

static const char SECRET[] = "tool-test-secret-0123456789abcdef-0123456789\n";

/* Mint with jetwire-token; returns the token without its newline. */
static char *mint(const char *sub, const char *role, const char *ttl, const char *secret_file)
{
	char *argv[] = {(char *)tool("JW_TOKEN_TOOL"), "--sub", (char *)sub, "--role", (char *)role,
		"--ttl", (char *)ttl, "--secret-file", (char *)secret_file, NULL};
	struct result r = run(argv);
	ck_assert_msg(r.status == 0, "jetwire-token exited %d: %s", r.status, r.err);
	size_t len = strlen(r.out);
	ck_assert_msg(len > 20 && r.out[len - 1] == '\n', "jetwire-token printed '%s'", r.out);
	r.out[len - 1] = '\0';
	char *tok = r.out;
	free(r.err);
	return tok;
}

static const char POLICY[] =
	"# test policy\n"
	"role customer\n"
	"  deny read order/13/#\n"
	"  allow read order/{order}/# if party of order:{order}\n"
	"  allow read customer/{sub}/notifications\n"
	"  allow write client/{clientid}\n"
	"\n"
	"include more.acl\n";

static const char MORE[] =
	"role driver\n"
	"allow write driver/{sub}/location\n";

/* ---- check ------------------------------------------------------------ */

START_TEST(check_good)
{
	char *policy = put("policy.acl", POLICY, 0644);
	free(put("more.acl", MORE, 0644));
	struct result r = acl_tool("check", policy, NULL);
	ck_assert_int_eq(r.status, 0);
	char *want = ut_fmt("%s: OK, 5 rules in 2 file(s)\n", policy);
	ck_assert_str_eq(r.out, want);
	ck_assert_str_eq(r.err, "");
	free(want);
	result_free(&r);
	free(policy);
}
END_TEST

START_TEST(check_default_policy)
{
	const char *src = getenv("JW_SOURCE_DIR");
	ck_assert_msg(src != NULL, "JW_SOURCE_DIR is not set");
	char *path = ut_fmt("%s/acl/default.acl", src);
	struct result r = acl_tool("check", path, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.err, "");
	ck_assert_ptr_nonnull(strstr(r.out, ": OK, "));
	result_free(&r);
	free(path);
}
END_TEST

START_TEST(check_broken)
{
	char *policy = put("policy.acl", "role customer\n\n  allow rd order/+/status\n", 0644);
	struct result r = acl_tool("check", policy, NULL);
	ck_assert_int_eq(r.status, 1);
	char *want = ut_fmt("%s:3: unknown access 'rd' (expected read, write or subscribe)\n", policy);
	ck_assert_str_eq(r.err, want);
	ck_assert_str_eq(r.out, "");
	free(want);
	result_free(&r);

	/* a broken included file: its own name and line */
	free(put("policy.acl", POLICY, 0644));
	char *more = put("more.acl", "role driver\nallow write driver/{sud}/location\n", 0644);
	r = acl_tool("check", policy, NULL);
	ck_assert_int_eq(r.status, 1);
	want = ut_fmt("%s:2: placeholder {sud} is not {sub}, {role} or {clientid} and no condition uses it"
			" (write '+' for any level)\n", more);
	ck_assert_str_eq(r.err, want);
	free(want);
	result_free(&r);

	/* a missing included file: the including file's line */
	unlink(more);
	r = acl_tool("check", policy, NULL);
	ck_assert_int_eq(r.status, 1);
	want = ut_fmt("%s:8: include: %s: No such file or directory\n", policy, more);
	ck_assert_str_eq(r.err, want);
	free(want);
	result_free(&r);

	/* a missing file */
	char *none = ut_fmt("%s/none.acl", dir);
	r = acl_tool("check", none, NULL);
	ck_assert_int_eq(r.status, 1);
	want = ut_fmt("%s: No such file or directory\n", none);
	ck_assert_str_eq(r.err, want);
	free(want);
	result_free(&r);
	free(none);
	free(more);
	free(policy);
}
END_TEST

START_TEST(usage_errors)
{
	struct result r = acl_tool(NULL, NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "usage: jetwire-acl"));
	result_free(&r);
	r = acl_tool("check", NULL);
	ck_assert_int_eq(r.status, 2);
	result_free(&r);
	r = acl_tool("check", "a", "b", NULL);
	ck_assert_int_eq(r.status, 2);
	result_free(&r);
	r = acl_tool("frobnicate", "x.acl", NULL);
	ck_assert_int_eq(r.status, 2);
	result_free(&r);

	char *policy = put("policy.acl", POLICY, 0644);
	free(put("more.acl", MORE, 0644));
	/* explain: neither or both identities, missing --topic, bad --access */
	r = acl_tool("explain", policy, "--topic", "a", "--access", "read", NULL);
	ck_assert_int_eq(r.status, 2);
	result_free(&r);
	r = acl_tool("explain", policy, "--claims", "{}", "--token", "x", "--topic", "a", "--access", "read", NULL);
	ck_assert_int_eq(r.status, 2);
	result_free(&r);
	r = acl_tool("explain", policy, "--claims", "{\"sub\":\"1\",\"userType\":\"customer\"}",
			"--access", "read", NULL);
	ck_assert_int_eq(r.status, 2);
	result_free(&r);
	r = acl_tool("explain", policy, "--claims", "{\"sub\":\"1\",\"userType\":\"customer\"}",
			"--topic", "a", "--access", "publish", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, "jetwire-acl: --access: expected read, write or subscribe\n");
	result_free(&r);
	r = acl_tool("explain", policy, "--claims", "{\"sub\":\"1\",\"userType\":\"customer\"}",
			"--topic", "a", "--access", "read", "--relation", "order:1 party", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, "jetwire-acl: --relation \"order:1 party\": expected \"OBJECT RELATION SUBJECT\"\n");
	result_free(&r);
	free(policy);
}
END_TEST

/* ---- explain with claims --------------------------------------------- */

#define C42 "{\"sub\":\"42\",\"userType\":\"customer\"}"

START_TEST(explain_claims_allow)
{
	char *policy = put("policy.acl", POLICY, 0644);
	free(put("more.acl", MORE, 0644));
	struct result r = acl_tool("explain", policy, "--claims", C42, "--topic", "order/7/status",
			"--access", "read", "--relation", "order:7 party customer:42", NULL);
	ck_assert_int_eq(r.status, 0);
	char *want = ut_fmt("allow: principal customer:42 read order/7/status\n"
			"  decided by %s:4: allow read order/{order}/# if party of order:{order}\n", policy);
	ck_assert_str_eq(r.out, want);
	ck_assert_str_eq(r.err, "");
	free(want);
	result_free(&r);

	/* a numeric sub, a subscription through $share, and several relations */
	r = acl_tool("explain", policy, "--claims", "{\"sub\":42,\"userType\":\"customer\"}",
			"--topic", "$share/g/order/+/status", "--access", "subscribe",
			"--relation", "order:8 party customer:42", "--relation", "order:7 party customer:42", NULL);
	ck_assert_int_eq(r.status, 0);
	want = ut_fmt("allow: principal customer:42 subscribe $share/g/order/+/status\n"
			"  decided by %s:4: allow read order/{order}/# if party of order:{order}\n", policy);
	ck_assert_str_eq(r.out, want);
	free(want);
	result_free(&r);

	/* {clientid} */
	r = acl_tool("explain", policy, "--claims", C42, "--topic", "client/customer-42-a",
			"--access", "write", "--clientid", "customer-42-a", NULL);
	ck_assert_int_eq(r.status, 0);
	want = ut_fmt("allow: principal customer:42 write client/customer-42-a\n"
			"  decided by %s:6: allow write client/{clientid}\n", policy);
	ck_assert_str_eq(r.out, want);
	free(want);
	result_free(&r);

	/* a rule from the included file names that file */
	r = acl_tool("explain", policy, "--claims", "{\"sub\":\"9\",\"userType\":\"driver\"}",
			"--topic", "driver/9/location", "--access", "write", NULL);
	ck_assert_int_eq(r.status, 0);
	want = ut_fmt("allow: principal driver:9 write driver/9/location\n"
			"  decided by %s/more.acl:2: allow write driver/{sub}/location\n", dir);
	ck_assert_str_eq(r.out, want);
	free(want);
	result_free(&r);
	free(policy);
}
END_TEST

START_TEST(explain_claims_deny)
{
	char *policy = put("policy.acl", POLICY, 0644);
	free(put("more.acl", MORE, 0644));
	/* no relation: no rule matches */
	struct result r = acl_tool("explain", policy, "--claims", C42, "--topic", "order/7/status",
			"--access", "read", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "deny: principal customer:42 read order/7/status\n"
			"  no rule matched: denied by default\n");
	ck_assert_str_eq(r.err, "");
	result_free(&r);

	/* the relation of someone else */
	r = acl_tool("explain", policy, "--claims", C42, "--topic", "order/7/status",
			"--access", "subscribe", "--relation", "order:7 party customer:43", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "deny: principal customer:42 subscribe order/7/status\n"
			"  no rule matched: denied by default\n");
	result_free(&r);

	/* an explicit deny rule */
	r = acl_tool("explain", policy, "--claims", C42, "--topic", "order/13/status",
			"--access", "read", "--relation", "order:13 party customer:42", NULL);
	ck_assert_int_eq(r.status, 1);
	char *want = ut_fmt("deny: principal customer:42 read order/13/status\n"
			"  decided by %s:3: deny read order/13/#\n", policy);
	ck_assert_str_eq(r.out, want);
	free(want);
	result_free(&r);

	/* not a topic name / not a filter */
	r = acl_tool("explain", policy, "--claims", C42, "--topic", "customer/+/notifications",
			"--access", "read", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "deny: 'customer/+/notifications' is not a valid topic name\n");
	result_free(&r);
	r = acl_tool("explain", policy, "--claims", C42, "--topic", "customer/#/x",
			"--access", "subscribe", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "deny: 'customer/#/x' is not a valid subscription filter\n");
	result_free(&r);
	r = acl_tool("explain", policy, "--claims", C42, "--topic", "$share/g/",
			"--access", "subscribe", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "deny: '$share/g/' is not a valid subscription filter\n");
	result_free(&r);

	/* claims the broker would refuse */
	r = acl_tool("explain", policy, "--claims", "{\"sub\":\"4/2\",\"userType\":\"customer\"}",
			"--topic", "customer/4/2/notifications", "--access", "read", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "jetwire-acl: --claims: \"sub\" is not a safe topic level (the broker refuses it)\n");
	result_free(&r);
	free(policy);
}
END_TEST

START_TEST(explain_default_policy_deny_rule)
{
	const char *src = getenv("JW_SOURCE_DIR");
	ck_assert_msg(src != NULL, "JW_SOURCE_DIR is not set");
	char *path = ut_fmt("%s/acl/default.acl", src);
	/* find the admin deny rule's line as written */
	char *text = slurp(path);
	int line = 1, deny_line = 0;
	char deny_text[256] = "";
	for(char *l = text; l && *l; line++){
		char *nl = strchr(l, '\n');
		if(nl) *nl = '\0';
		char *t = l + strspn(l, " \t");
		if(strncmp(t, "deny", 4) == 0 && strstr(t, "+/+/notifications")){
			deny_line = line;
			snprintf(deny_text, sizeof(deny_text), "%s", t);
			size_t n = strlen(deny_text);
			while(n && (deny_text[n - 1] == ' ' || deny_text[n - 1] == '\t')) deny_text[--n] = '\0';
		}
		l = nl ? nl + 1 : NULL;
	}
	ck_assert_msg(deny_line > 0, "no admin deny rule in %s", path);
	struct result r = acl_tool("explain", path, "--claims", "{\"sub\":\"1\",\"userType\":\"admin\"}",
			"--topic", "customer/42/notifications", "--access", "read", NULL);
	ck_assert_int_eq(r.status, 1);
	char *want = ut_fmt("deny: principal admin:1 read customer/42/notifications\n"
			"  decided by %s:%d: %s\n", path, deny_line, deny_text);
	ck_assert_str_eq(r.out, want);
	free(want);
	result_free(&r);
	free(text);
	free(path);
}
END_TEST

START_TEST(explain_broken_policy)
{
	char *policy = put("policy.acl", "role customer\nallow read {x}\n", 0644);
	struct result r = acl_tool("explain", policy, "--claims", C42, "--topic", "a", "--access", "read", NULL);
	ck_assert_int_eq(r.status, 2);
	char *want = ut_fmt("%s:2: placeholder {x} is not {sub}, {role} or {clientid} and no condition uses it"
			" (write '+' for any level)\n", policy);
	ck_assert_str_eq(r.err, want);
	ck_assert_str_eq(r.out, "");
	free(want);
	result_free(&r);
	free(policy);
}
END_TEST

/* ---- explain with a token --------------------------------------------- */

START_TEST(explain_token)
{
	char *policy = put("policy.acl", POLICY, 0644);
	free(put("more.acl", MORE, 0644));
	char *secret = put("secret", SECRET, 0600);
	char *token = mint("42", "customer", "3600", secret);

	struct result r = acl_tool("explain", policy, "--token", token, "--jwt_secret_file", secret,
			"--topic", "customer/42/notifications", "--access", "read", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s%s", r.status, r.out, r.err);
	char *want = ut_fmt("allow: principal customer:42 read customer/42/notifications\n"
			"  decided by %s:5: allow read customer/{sub}/notifications\n", policy);
	ck_assert_str_eq(r.out, want);
	free(want);
	result_free(&r);

	r = acl_tool("explain", policy, "--token", token, "--jwt_secret_file", secret,
			"--topic", "order/7/status", "--access", "read", "--relation", "order:7 party customer:42", NULL);
	ck_assert_int_eq(r.status, 0);
	result_free(&r);

	r = acl_tool("explain", policy, "--token", token, "--jwt_secret_file", secret,
			"--topic", "customer/43/notifications", "--access", "read", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "deny: principal customer:42 read customer/43/notifications\n"
			"  no rule matched: denied by default\n");
	result_free(&r);

	/* the same token checked with another secret */
	char *other = put("other", "another-secret-0123456789abcdef-0123456789\n", 0600);
	r = acl_tool("explain", policy, "--token", token, "--jwt_secret_file", other,
			"--topic", "customer/42/notifications", "--access", "read", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "deny: the broker refuses this token at connect (bad_signature)\n");
	result_free(&r);

	/* the pinned algorithm is not the token's */
	r = acl_tool("explain", policy, "--token", token, "--jwt_secret_file", secret, "--jwt_alg", "HS512",
			"--topic", "customer/42/notifications", "--access", "read", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "deny: the broker refuses this token at connect (alg_mismatch)\n");
	result_free(&r);

	/* a bad key option is an error, not a decision */
	r = acl_tool("explain", policy, "--token", token, "--jwt_secret_file", secret, "--jwt_nonsense", "1",
			"--topic", "customer/42/notifications", "--access", "read", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "jetwire-acl: option jwt_nonsense: unknown option (see docs/configuration.md)\n");
	result_free(&r);

	free(other);
	free(token);
	free(secret);
	free(policy);
}
END_TEST

START_TEST(explain_expired_token)
{
	char *policy = put("policy.acl", POLICY, 0644);
	free(put("more.acl", MORE, 0644));
	char *secret = put("secret", SECRET, 0600);
	char *token = mint("42", "customer", "-100", secret);
	struct result r = acl_tool("explain", policy, "--token", token, "--jwt_secret_file", secret,
			"--topic", "customer/42/notifications", "--access", "read", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "deny: the broker refuses this token at connect (expired)\n");
	result_free(&r);

	/* a role the broker does not accept */
	free(token);
	token = mint("42", "visitor", "3600", secret);
	r = acl_tool("explain", policy, "--token", token, "--jwt_secret_file", secret,
			"--topic", "customer/42/notifications", "--access", "read", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "deny: the broker refuses this token at connect (unknown_role)\n");
	result_free(&r);

	/* not a token at all */
	r = acl_tool("explain", policy, "--token", "not.a.token", "--jwt_secret_file", secret,
			"--topic", "customer/42/notifications", "--access", "read", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "deny: the broker refuses this token at connect (malformed)\n");
	result_free(&r);
	free(token);
	free(secret);
	free(policy);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl_tool");
	TCase *tc = tcase_create("check");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, check_good);
	tcase_add_test(tc, check_default_policy);
	tcase_add_test(tc, check_broken);
	tcase_add_test(tc, usage_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("explain");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, explain_claims_allow);
	tcase_add_test(tc, explain_claims_deny);
	tcase_add_test(tc, explain_default_policy_deny_rule);
	tcase_add_test(tc, explain_broken_policy);
	tcase_add_test(tc, explain_token);
	tcase_add_test(tc, explain_expired_token);
	suite_add_tcase(s, tc);
	return ut_run(s);
}
