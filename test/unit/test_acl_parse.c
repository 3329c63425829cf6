/*
 * ACL language parsing (plugin/core/acl_parse.c): every broken file is
 * refused whole with exactly "file:line: reason", and the good forms
 * (comments, includes, multi-role sections, "role *") mean what docs/acl.md
 * says.
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "relations.h"
#include "unit_support.h"

static char *dir;   /* per test, created in the forked test process */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

static void dir_setup(void)
{
	dir = ut_tempdir();
}

static void dir_teardown(void)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	dir = NULL;
}

/* Write `len` bytes to dir/name (creating one level of subdirectory if the
 * name has a slash); returns the full path. */
static char *put_n(const char *name, const char *text, size_t len)
{
	const char *slash = strrchr(name, '/');
	if(slash){
		char *sub = ut_fmt("%s/%.*s", dir, (int)(slash - name), name);
		mkdir(sub, 0700);
		free(sub);
	}
	return ut_write_file(dir, name, text, len, 0644);
}

static char *put(const char *name, const char *text)
{
	return put_n(name, text, strlen(text));
}

static char *path_of(const char *name)
{
	return ut_fmt("%s/%s", dir, name);
}

/* Loading dir/name fails with exactly `expected`. */
static void expect_load_error(const char *name, const char *expected)
{
	char *path = path_of(name);
	char err[1024] = "";
	struct jw_acl *acl = jw_acl_load(path, err, sizeof(err));
	ck_assert_msg(acl == NULL, "%s loaded, expected error '%s'", name, expected);
	ck_assert_str_eq(err, expected);
	free(path);
}

/* Write `text` as dir/x.acl and expect "dir/x.acl:line: reason". */
static void expect_text_error(const char *text, int line, const char *reason)
{
	char *path = put("x.acl", text);
	char *want = ut_fmt("%s:%d: %s", path, line, reason);
	expect_load_error("x.acl", want);
	free(want);
	free(path);
}

static struct jw_acl *load_ok(const char *name)
{
	char *path = path_of(name);
	char err[1024] = "";
	struct jw_acl *acl = jw_acl_load(path, err, sizeof(err));
	ck_assert_msg(acl != NULL, "%s: %s", name, err);
	free(path);
	return acl;
}

static struct jw_acl *text_ok(const char *text)
{
	char *path = put("x.acl", text);
	free(path);
	return load_ok("x.acl");
}

static enum jw_decision decide(const struct jw_acl *acl, const char *role, const char *sub,
		enum jw_access access, const char *topic, const struct jw_rule **by)
{
	struct jw_subject who = {
		.role = role, .role_len = strlen(role),
		.sub = sub, .sub_len = strlen(sub),
	};
	return jw_acl_decide(acl, NULL, 1000, &who, access, topic, strlen(topic), by);
}

/* ---- errors: structure ---------------------------------------------- */

START_TEST(rule_before_role)
{
	expect_text_error("allow read a/b\n", 1,
			"rule before any 'role' line: start a section with 'role <name>'");
	expect_text_error("# policy\n\ndeny write a/b\nrole x\n", 3,
			"rule before any 'role' line: start a section with 'role <name>'");
}
END_TEST

START_TEST(unknown_keyword)
{
	expect_text_error("role customer\n  permit read a/b\n", 2,
			"unknown keyword 'permit' (expected role, allow, deny or include)");
	/* keywords are case-sensitive */
	expect_text_error("role customer\nAllow read a/b\n", 2,
			"unknown keyword 'Allow' (expected role, allow, deny or include)");
	/* a comment is a whole line: a trailing "# ..." is not one */
	expect_text_error("role customer\nallow read a/b # mine\n", 2,
			"expected 'allow <access> <topic> [if <relation> of <object>]'");
}
END_TEST

START_TEST(bad_access)
{
	expect_text_error("role customer\nallow reed a/b\n", 2,
			"unknown access 'reed' (expected read, write or subscribe)");
	expect_text_error("role customer\ndeny read,publish a/b\n", 2,
			"unknown access 'publish' (expected read, write or subscribe)");
	expect_text_error("role customer\nallow READ a/b\n", 2,
			"unknown access 'READ' (expected read, write or subscribe)");
	expect_text_error("role customer\nallow ,, a/b\n", 2,
			"expected an access (read, write or subscribe)");
}
END_TEST

START_TEST(bad_topic_pattern)
{
	const char *why = "('+' and '#' must be whole levels, '#' last)";
	char *r;
	r = ut_fmt("invalid topic pattern 'a/#/b' %s", why);
	expect_text_error("role customer\nallow read a/#/b\n", 2, r);
	free(r);
	r = ut_fmt("invalid topic pattern 'a+/b' %s", why);
	expect_text_error("role customer\nallow read a+/b\n", 2, r);
	free(r);
	r = ut_fmt("invalid topic pattern 'a/b#' %s", why);
	expect_text_error("role customer\nallow read a/b#\n", 2, r);
	free(r);
}
END_TEST

START_TEST(placeholder_not_whole_level)
{
	expect_text_error("role customer\nallow read customer/a{sub}/x\n", 2,
			"placeholder in 'a{sub}' must be a whole topic level");
	expect_text_error("role customer\nallow read customer/{sub}x/x\n", 2,
			"placeholder in '{sub}x' must be a whole topic level");
	expect_text_error("role customer\nallow read pre{order}\n", 2,
			"placeholder in 'pre{order}' must be a whole topic level");
	expect_text_error("role customer\nallow read a/{}/b\n", 2,
			"malformed placeholder '{}'");
	expect_text_error("role customer\nallow read a/{9x}/b\n", 2,
			"bad placeholder name '{9x}'");
	expect_text_error("role customer\nallow read a/{a}{b}/b\n", 2,
			"bad placeholder name '{a}{b}'");
}
END_TEST

START_TEST(capture_unused)
{
	/* the typo {sud} for {sub} would otherwise open the whole level */
	expect_text_error("role customer\nallow read customer/{sud}/notifications\n", 2,
			"placeholder {sud} is not {sub}, {role} or {clientid} and no condition uses it"
			" (write '+' for any level)");
	/* a second capture the condition does not use */
	expect_text_error("role customer\nallow read order/{order}/{x} if party of order:{order}\n", 2,
			"placeholder {x} is not {sub}, {role} or {clientid} and no condition uses it"
			" (write '+' for any level)");
}
END_TEST

START_TEST(condition_not_captured)
{
	expect_text_error("role customer\nallow read order/{order}/# if party of order:{ordr}\n", 2,
			"placeholder {ordr} in the condition is not captured by the topic pattern");
	expect_text_error("role customer\nallow read order/+/# if party of order:{order}\n", 2,
			"placeholder {order} in the condition is not captured by the topic pattern");
	expect_text_error("role customer\nallow read order/{order}/# if party of order:{order\n", 2,
			"unclosed '{' in object 'order:{order'");
	expect_text_error("role customer\nallow read order/{order}/# if party of order}:{order}\n", 2,
			"stray '}' in object 'order}:{order}'");
}
END_TEST

START_TEST(bad_relation_name)
{
	expect_text_error("role customer\nallow read order/{order}/# if par-ty of order:{order}\n", 2,
			"bad relation name 'par-ty' (letters, digits and _ only)");
	expect_text_error("role customer\nallow read order/{order}/# if 1party of order:{order}\n", 2,
			"bad relation name '1party' (letters, digits and _ only)");
	expect_text_error("role customer\nallow read order/{order}/# when party of order:{order}\n", 2,
			"expected 'if <relation> of <object>' after the topic");
	expect_text_error("role customer\nallow read order/{order}/# if party on order:{order}\n", 2,
			"expected 'if <relation> of <object>' after the topic");
}
END_TEST

START_TEST(word_count)
{
	const char *allow_usage = "expected 'allow <access> <topic> [if <relation> of <object>]'";
	const char *deny_usage = "expected 'deny <access> <topic> [if <relation> of <object>]'";
	expect_text_error("role a\nallow\n", 2, allow_usage);
	expect_text_error("role a\nallow read\n", 2, allow_usage);
	expect_text_error("role a\ndeny read a/b c\n", 2, deny_usage);
	expect_text_error("role a\nallow read a/{o} if party\n", 2, allow_usage);
	expect_text_error("role a\nallow read a/{o} if party of\n", 2, allow_usage);
	expect_text_error("role a\nallow read a/{o} if party of o:{o} x\n", 2,
			"expected 'allow <access> <topic> [if <relation> of <object>]'");
	expect_text_error("role a\nallow read a/{o} if party of o:{o} x y z\n", 2,
			"too many words on the line");
	expect_text_error("role\n", 1, "expected 'role <name>[,<name>...]' or 'role *'");
	expect_text_error("role a b\n", 1, "expected 'role <name>[,<name>...]' or 'role *'");
	expect_text_error("role ,\n", 1, "expected a role name after 'role'");
	expect_text_error("role a\ninclude\n", 2, "expected 'include <path>'");
	expect_text_error("role a\ninclude b c\n", 2, "expected 'include <path>'");
}
END_TEST

START_TEST(bad_roles)
{
	expect_text_error("role cust-omer\n", 1, "bad role name 'cust-omer' (letters, digits and _ only)");
	expect_text_error("role a,*\n", 1, "bad role name '*' (letters, digits and _ only)");
	/* 16 roles are fine, the 17th is not */
	char text[512] = "role r0";
	for(int i = 1; i < 16; i++) snprintf(text + strlen(text), sizeof(text) - strlen(text), ",r%d", i);
	strcat(text, "\nallow read x\nrole r16\n");
	expect_text_error(text, 3, "too many roles (at most 16)");
}
END_TEST

START_TEST(too_many_captures)
{
	expect_text_error("role a\nallow read {a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i} if r of {a}{b}{c}{d}{e}{f}{g}{h}{i}\n",
			2, "too many captures (at most 8)");
}
END_TEST

/* ---- errors: lines, bytes ------------------------------------------- */

START_TEST(line_numbers_count_blank_and_comment_lines)
{
	expect_text_error(
			"# header\n"
			"\n"
			"role customer\n"
			"   # indented comment\n"
			"\t\n"
			"  allow read customer/{sub}/notifications\n"
			"\n"
			"\n"
			"  allow read bad/#/x\n",
			9, "invalid topic pattern 'bad/#/x' ('+' and '#' must be whole levels, '#' last)");
	/* the error on the last line, without a trailing newline */
	expect_text_error("role a\n\n\nfoo", 4,
			"unknown keyword 'foo' (expected role, allow, deny or include)");
}
END_TEST

START_TEST(crlf_lines)
{
	expect_text_error("# policy\r\nrole a\r\n\r\nallow read a/b\r\nallow rd a/b\r\n", 5,
			"unknown access 'rd' (expected read, write or subscribe)");
	/* a CR anywhere but at the end of a line is a control character */
	expect_text_error("role a\r\nallow read a/b\rc\r\n", 2, "control character in line");
}
END_TEST

START_TEST(nul_byte)
{
	static const char text[] = "role a\nallow read a/b\nallow read a\0/c\n";
	char *path = put_n("x.acl", text, sizeof(text) - 1);
	char *want = ut_fmt("%s:3: NUL byte in line", path);
	expect_load_error("x.acl", want);
	free(want);

	/* the same from memory */
	char err[256];
	ck_assert_ptr_null(jw_acl_parse_string("mem.acl", text, sizeof(text) - 1, err, sizeof(err)));
	ck_assert_str_eq(err, "mem.acl:3: NUL byte in line");
	free(path);
}
END_TEST

START_TEST(control_characters)
{
	expect_text_error("role a\nallow read a/\x01/b\n", 2, "control character in line");
	expect_text_error("role a\nallow read a/\x1b[31m/b\n", 2, "control character in line");
	expect_text_error("role a\nallow read a/\x7f/b\n", 2, "control character in line");
	expect_text_error("role a\n\nallow read a/b\f\n", 3, "control character in line");
	expect_text_error("# \x07 bell in a comment\nrole a\n", 1, "control character in line");
}
END_TEST

START_TEST(missing_top_level_file)
{
	char *want = ut_fmt("%s/none.acl: No such file or directory", dir);
	expect_load_error("none.acl", want);
	free(want);
}
END_TEST

/* ---- errors: includes ----------------------------------------------- */

START_TEST(include_missing_names_including_line)
{
	char *a = put("a.acl", "role a\nallow read x\n\ninclude missing.acl\n");
	char *want = ut_fmt("%s:4: include: %s/missing.acl: No such file or directory", a, dir);
	expect_load_error("a.acl", want);
	free(want);
	free(a);
}
END_TEST

START_TEST(include_unreadable_names_including_line)
{
	/* any failure to read the included file, not only a missing one */
	char *a = put("a.acl", "role a\ninclude inc\n");
	free(put("inc/x.acl", "role a\n"));
	char *want = ut_fmt("%s:2: include: %s/inc: read error", a, dir);
	expect_load_error("a.acl", want);
	free(want);
	free(a);
}
END_TEST

START_TEST(include_missing_from_included_file)
{
	/* the include line that failed is in b.acl: b.acl:2 is reported, and
	 * a.acl's include of the (existing) b.acl is not blamed */
	char *a = put("a.acl", "role a\ninclude b.acl\n");
	char *b = put("b.acl", "role b\ninclude gone.acl\n");
	char *want = ut_fmt("%s:2: include: %s/gone.acl: No such file or directory", b, dir);
	expect_load_error("a.acl", want);
	free(want);
	free(a);
	free(b);
}
END_TEST

START_TEST(include_error_names_included_file)
{
	char *a = put("a.acl", "role a\n\ninclude b.acl\n");
	char *b = put("b.acl", "# b\nrole b\nallow read x/{y}\n");
	char *want = ut_fmt("%s:3: placeholder {y} is not {sub}, {role} or {clientid} and no condition uses it"
			" (write '+' for any level)", b);
	expect_load_error("a.acl", want);
	free(want);
	/* a section does not continue into an included file */
	free(put("b.acl", "allow read x\n"));
	want = ut_fmt("%s:1: rule before any 'role' line: start a section with 'role <name>'", b);
	expect_load_error("a.acl", want);
	free(want);
	free(a);
	free(b);
}
END_TEST

START_TEST(include_cycle)
{
	char *a = put("a.acl", "role a\ninclude a.acl\n");
	char *want = ut_fmt("%s:2: includes nested deeper than 8 (a cycle?)", a);
	expect_load_error("a.acl", want);
	free(want);

	/* a -> b -> a: the 8th nested include is a.acl's line 1 */
	free(put("a.acl", "include b.acl\n"));
	char *b = put("b.acl", "\n\ninclude a.acl\n");
	want = ut_fmt("%s:1: includes nested deeper than 8 (a cycle?)", a);
	expect_load_error("a.acl", want);
	free(want);
	free(a);
	free(b);
}
END_TEST

START_TEST(include_nesting_limit)
{
	/* f0 includes f1 ... : 8 nested levels load, a 9th does not */
	for(int i = 0; i <= 9; i++){
		char name[16], text[64];
		snprintf(name, sizeof(name), "f%d.acl", i);
		if(i < 8) snprintf(text, sizeof(text), "role r\nallow read t/%d\ninclude f%d.acl\n", i, i + 1);
		else snprintf(text, sizeof(text), "role r\nallow read t/%d\n", i);
		free(put(name, text));
	}
	struct jw_acl *acl = load_ok("f0.acl");
	ck_assert_uint_eq(jw_acl_rule_count(acl), 9);
	ck_assert_uint_eq(jw_acl_file_count(acl), 9);
	ck_assert_int_eq(decide(acl, "r", "1", JW_ACCESS_READ, "t/8", NULL), JW_ALLOW);
	jw_acl_free(acl);

	free(put("f8.acl", "role r\nallow read t/8\ninclude f9.acl\n"));
	char *f8 = path_of("f8.acl");
	char *want = ut_fmt("%s:3: includes nested deeper than 8 (a cycle?)", f8);
	expect_load_error("f0.acl", want);
	free(want);
	free(f8);
}
END_TEST

/* ---- good files ----------------------------------------------------- */

START_TEST(comments_and_whitespace)
{
	struct jw_acl *acl = text_ok(
			"# comment\n"
			"   # indented comment, with role and allow words\n"
			"\n"
			"role\tcustomer\n"
			"\tallow   read\t customer/{sub}/notifications   \n"
			"  allow read #\n"
			"#allow write #\n");
	ck_assert_uint_eq(jw_acl_rule_count(acl), 2);
	const struct jw_rule *by;
	ck_assert_int_eq(decide(acl, "customer", "7", JW_ACCESS_READ, "customer/7/notifications", &by), JW_ALLOW);
	ck_assert_int_eq(jw_rule_line(by), 5);
	/* the rule text is the line as written, trimmed */
	ck_assert_str_eq(jw_rule_text(by), "allow   read\t customer/{sub}/notifications");
	/* "#" is a topic there, not the start of a comment */
	ck_assert_int_eq(decide(acl, "customer", "7", JW_ACCESS_READ, "anything/else", &by), JW_ALLOW);
	ck_assert_int_eq(jw_rule_line(by), 6);
	ck_assert_str_eq(jw_rule_text(by), "allow read #");
	/* the commented-out rule is not a rule */
	ck_assert_int_eq(decide(acl, "customer", "7", JW_ACCESS_WRITE, "anything", &by), JW_DENY);
	ck_assert_ptr_null(by);
	jw_acl_free(acl);
}
END_TEST

START_TEST(empty_file)
{
	struct jw_acl *acl = text_ok("");
	ck_assert_uint_eq(jw_acl_rule_count(acl), 0);
	ck_assert_int_eq(decide(acl, "customer", "7", JW_ACCESS_READ, "a", NULL), JW_DENY);
	jw_acl_free(acl);
	acl = text_ok("# only comments\n\n");
	ck_assert_uint_eq(jw_acl_rule_count(acl), 0);
	jw_acl_free(acl);
}
END_TEST

START_TEST(crlf_file_loads)
{
	struct jw_acl *acl = text_ok("# policy\r\nrole customer\r\n\r\n"
			"allow read order/{order}/# if party of order:{order}\r\n"
			"allow read customer/{sub}/notifications\r\n");
	ck_assert_uint_eq(jw_acl_rule_count(acl), 2);
	const struct jw_rule *by;
	ck_assert_int_eq(decide(acl, "customer", "7", JW_ACCESS_READ, "customer/7/notifications", &by), JW_ALLOW);
	ck_assert_int_eq(jw_rule_line(by), 5);
	ck_assert_str_eq(jw_rule_text(by), "allow read customer/{sub}/notifications");

	/* the condition's object has no trailing CR */
	struct jw_relstore *rs = jw_rel_new();
	ck_assert_int_eq(jw_rel_add(rs, "order:1", "party", "customer:7", 0), 0);
	struct jw_subject who = {"customer", 8, "7", 1, NULL, 0};
	ck_assert_int_eq(jw_acl_decide(acl, rs, 1000, &who, JW_ACCESS_READ, "order/1/status", 14, &by), JW_ALLOW);
	ck_assert_int_eq(jw_rule_line(by), 4);
	jw_rel_free(rs);
	jw_acl_free(acl);
}
END_TEST

START_TEST(include_relative_to_including_file)
{
	/* main.acl includes inc/b.acl, which includes c.acl: that is inc/c.acl,
	 * whatever the current directory */
	char *main_acl = put("main.acl", "role customer\nallow read m/1\ninclude inc/b.acl\nallow read m/2\n");
	char *b = put("inc/b.acl", "role customer\nallow read b/1\ninclude c.acl\n");
	char *c = put("inc/c.acl", "role driver\nallow read c/1\n");
	free(put("c.acl", "role driver\nallow read WRONG\n"));
	ck_assert_int_eq(chdir("/"), 0);

	struct jw_acl *acl = load_ok("main.acl");
	ck_assert_uint_eq(jw_acl_rule_count(acl), 4);
	ck_assert_uint_eq(jw_acl_file_count(acl), 3);
	ck_assert_str_eq(jw_acl_file_name(acl, 0), main_acl);
	char *b_as_included = ut_fmt("%s/inc/b.acl", dir);
	char *c_as_included = ut_fmt("%s/inc/c.acl", dir);
	ck_assert_str_eq(jw_acl_file_name(acl, 1), b_as_included);
	ck_assert_str_eq(jw_acl_file_name(acl, 2), c_as_included);

	const struct jw_rule *by;
	ck_assert_int_eq(decide(acl, "driver", "1", JW_ACCESS_READ, "c/1", &by), JW_ALLOW);
	ck_assert_str_eq(jw_rule_file(by), c_as_included);
	ck_assert_int_eq(jw_rule_line(by), 2);
	ck_assert_int_eq(decide(acl, "driver", "1", JW_ACCESS_READ, "WRONG", NULL), JW_DENY);
	ck_assert_int_eq(decide(acl, "customer", "1", JW_ACCESS_READ, "b/1", &by), JW_ALLOW);
	ck_assert_str_eq(jw_rule_file(by), b_as_included);
	/* the including file's section resumes after the include: m/2 is a
	 * customer rule, not a driver one */
	ck_assert_int_eq(decide(acl, "customer", "1", JW_ACCESS_READ, "m/2", &by), JW_ALLOW);
	ck_assert_str_eq(jw_rule_file(by), main_acl);
	ck_assert_int_eq(jw_rule_line(by), 4);
	ck_assert_int_eq(decide(acl, "driver", "1", JW_ACCESS_READ, "m/2", NULL), JW_DENY);
	jw_acl_free(acl);

	/* an absolute include */
	char *abs_text = ut_fmt("role admin\ninclude %s\n", c);
	free(put("abs.acl", abs_text));
	acl = load_ok("abs.acl");
	ck_assert_int_eq(decide(acl, "driver", "1", JW_ACCESS_READ, "c/1", NULL), JW_ALLOW);
	jw_acl_free(acl);

	free(abs_text);
	free(b_as_included);
	free(c_as_included);
	free(main_acl);
	free(b);
	free(c);
}
END_TEST

START_TEST(multiple_roles_per_section)
{
	struct jw_acl *acl = text_ok(
			"role customer,merchant\n"
			"allow read {role}/{sub}/notifications\n"
			"role driver\n"
			"allow write driver/{sub}/location\n"
			"role merchant\n"
			"allow write shop/{sub}\n");
	ck_assert_int_eq(decide(acl, "customer", "4", JW_ACCESS_READ, "customer/4/notifications", NULL), JW_ALLOW);
	ck_assert_int_eq(decide(acl, "merchant", "4", JW_ACCESS_READ, "merchant/4/notifications", NULL), JW_ALLOW);
	ck_assert_int_eq(decide(acl, "merchant", "4", JW_ACCESS_WRITE, "shop/4", NULL), JW_ALLOW);
	ck_assert_int_eq(decide(acl, "customer", "4", JW_ACCESS_WRITE, "shop/4", NULL), JW_DENY);
	ck_assert_int_eq(decide(acl, "driver", "4", JW_ACCESS_READ, "driver/4/notifications", NULL), JW_DENY);
	ck_assert_int_eq(decide(acl, "driver", "4", JW_ACCESS_WRITE, "driver/4/location", NULL), JW_ALLOW);
	ck_assert_int_eq(decide(acl, "customer", "4", JW_ACCESS_WRITE, "driver/4/location", NULL), JW_DENY);
	/* names are whole: "custom" or "customers" is not "customer" */
	ck_assert_int_eq(decide(acl, "custom", "4", JW_ACCESS_READ, "custom/4/notifications", NULL), JW_DENY);
	ck_assert_int_eq(decide(acl, "customers", "4", JW_ACCESS_READ, "customers/4/notifications", NULL), JW_DENY);
	jw_acl_free(acl);
}
END_TEST

START_TEST(role_star)
{
	struct jw_acl *acl = text_ok(
			"role *\n"
			"deny write $CONTROL/#\n"
			"allow read public/#\n"
			"role customer\n"
			"allow write $CONTROL/jetwire/v1\n"
			"allow read customer/{sub}\n");
	const struct jw_rule *by;
	/* "role *" rules apply to a role with its own section ... */
	ck_assert_int_eq(decide(acl, "customer", "1", JW_ACCESS_READ, "public/x", NULL), JW_ALLOW);
	ck_assert_int_eq(decide(acl, "customer", "1", JW_ACCESS_READ, "customer/1", NULL), JW_ALLOW);
	/* ... in file order: the earlier deny wins */
	ck_assert_int_eq(decide(acl, "customer", "1", JW_ACCESS_WRITE, "$CONTROL/jetwire/v1", &by), JW_DENY);
	ck_assert_int_eq(jw_rule_line(by), 2);
	/* ... and to a role named nowhere */
	ck_assert_int_eq(decide(acl, "visitor", "1", JW_ACCESS_READ, "public/a/b", NULL), JW_ALLOW);
	ck_assert_int_eq(decide(acl, "visitor", "1", JW_ACCESS_READ, "customer/1", NULL), JW_DENY);
	jw_acl_free(acl);

	/* without "role *", a role named nowhere gets nothing */
	acl = text_ok("role customer\nallow read #\n");
	ck_assert_int_eq(decide(acl, "visitor", "1", JW_ACCESS_READ, "a", &by), JW_DENY);
	ck_assert_ptr_null(by);
	jw_acl_free(acl);
}
END_TEST

START_TEST(access_lists)
{
	struct jw_acl *acl = text_ok("role a\nallow read,write x\nallow subscribe y/+\n");
	ck_assert_int_eq(decide(acl, "a", "1", JW_ACCESS_READ, "x", NULL), JW_ALLOW);
	ck_assert_int_eq(decide(acl, "a", "1", JW_ACCESS_WRITE, "x", NULL), JW_ALLOW);
	ck_assert_int_eq(decide(acl, "a", "1", JW_ACCESS_SUBSCRIBE, "y/+", NULL), JW_ALLOW);
	ck_assert_int_eq(decide(acl, "a", "1", JW_ACCESS_READ, "y/1", NULL), JW_DENY);
	ck_assert_int_eq(decide(acl, "a", "1", JW_ACCESS_WRITE, "y/1", NULL), JW_DENY);
	jw_acl_free(acl);

	ck_assert_int_eq(jw_access_parse("read"), JW_ACCESS_READ);
	ck_assert_int_eq(jw_access_parse("write"), JW_ACCESS_WRITE);
	ck_assert_int_eq(jw_access_parse("subscribe"), JW_ACCESS_SUBSCRIBE);
	ck_assert_int_eq(jw_access_parse("publish"), 0);
	ck_assert_str_eq(jw_access_name(JW_ACCESS_SUBSCRIBE), "subscribe");
}
END_TEST

START_TEST(parse_string_errors)
{
	char err[512];
	static const char text[] = "role a\n\nallow read {x}\n";
	ck_assert_ptr_null(jw_acl_parse_string("mem.acl", text, sizeof(text) - 1, err, sizeof(err)));
	ck_assert_str_eq(err, "mem.acl:3: placeholder {x} is not {sub}, {role} or {clientid} and no condition"
			" uses it (write '+' for any level)");
	/* only `len` bytes are parsed */
	struct jw_acl *acl = jw_acl_parse_string("mem.acl", text, 7, err, sizeof(err));
	ck_assert_msg(acl != NULL, "%s", err);
	ck_assert_uint_eq(jw_acl_rule_count(acl), 0);
	jw_acl_free(acl);
	/* a small error buffer truncates, it never overflows */
	char small[8];
	memset(small, 'Z', sizeof(small));
	ck_assert_ptr_null(jw_acl_parse_string("mem.acl", text, sizeof(text) - 1, small, sizeof(small)));
	ck_assert_str_eq(small, "mem.acl");
}
END_TEST

START_TEST(long_line)
{
	/* a topic level of 2000 bytes: the rule text may be shortened for
	 * explanations, the rule itself is not */
	size_t n = 2000;
	char *lvl = malloc(n + 1);
	memset(lvl, 'q', n);
	lvl[n] = '\0';
	char *text = ut_fmt("role a\nallow read x/%s\n", lvl);
	struct jw_acl *acl = text_ok(text);
	char *topic = ut_fmt("x/%s", lvl);
	ck_assert_int_eq(decide(acl, "a", "1", JW_ACCESS_READ, topic, NULL), JW_ALLOW);
	topic[strlen(topic) - 1] = '\0';
	ck_assert_int_eq(decide(acl, "a", "1", JW_ACCESS_READ, topic, NULL), JW_DENY);
	jw_acl_free(acl);
	free(topic);
	free(text);
	free(lvl);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl_parse");
	TCase *tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, rule_before_role);
	tcase_add_test(tc, unknown_keyword);
	tcase_add_test(tc, bad_access);
	tcase_add_test(tc, bad_topic_pattern);
	tcase_add_test(tc, placeholder_not_whole_level);
	tcase_add_test(tc, capture_unused);
	tcase_add_test(tc, condition_not_captured);
	tcase_add_test(tc, bad_relation_name);
	tcase_add_test(tc, word_count);
	tcase_add_test(tc, bad_roles);
	tcase_add_test(tc, too_many_captures);
	tcase_add_test(tc, line_numbers_count_blank_and_comment_lines);
	tcase_add_test(tc, crlf_lines);
	tcase_add_test(tc, nul_byte);
	tcase_add_test(tc, control_characters);
	tcase_add_test(tc, missing_top_level_file);
	tcase_add_test(tc, parse_string_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("includes");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, include_missing_names_including_line);
	tcase_add_test(tc, include_missing_from_included_file);
	tcase_add_test(tc, include_unreadable_names_including_line);
	tcase_add_test(tc, include_error_names_included_file);
	tcase_add_test(tc, include_cycle);
	tcase_add_test(tc, include_nesting_limit);
	tcase_add_test(tc, include_relative_to_including_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("good");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, comments_and_whitespace);
	tcase_add_test(tc, empty_file);
	tcase_add_test(tc, crlf_file_loads);
	tcase_add_test(tc, multiple_roles_per_section);
	tcase_add_test(tc, role_star);
	tcase_add_test(tc, access_lists);
	tcase_add_test(tc, long_line);
	suite_add_tcase(s, tc);
	return ut_run(s);
}
