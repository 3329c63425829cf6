/*
 * Plugin options (plugin/core/options.c): plugin_opt_* values, their
 * cross-checks, and how the verification key is loaded.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "options.h"
#include "unit_support.h"

static const char SECRET40[] = "0123456789abcdefghij0123456789abcdefghij";

static struct jw_options o;
static char *dir;
static char err[512];

static void setup(void)
{
	/* the default secret variable must come from the test, not the caller */
	unsetenv("JWT_SECRET");
	dir = ut_tempdir();
	ck_assert_int_eq(jw_options_init(&o), 0);
	err[0] = '\0';
}

static void teardown(void)
{
	jw_options_clear(&o);
	ut_rmtree(dir);
	free(dir);
}

static void set_ok(const char *key, const char *value)
{
	ck_assert_msg(jw_options_set(&o, key, value, err, sizeof(err)) == 0, "%s %s: %s", key, value, err);
}

static void assert_error_mentions(const char *needle)
{
	ck_assert_msg(strstr(err, needle) != NULL, "error '%s' does not mention '%s'", err, needle);
}

static void set_fails(const char *key, const char *value)
{
	err[0] = '\0';
	ck_assert_msg(jw_options_set(&o, key, value, err, sizeof(err)) == -1, "%s '%s' accepted", key, value);
	char *want = ut_fmt("option %s:", key);
	assert_error_mentions(want);
	free(want);
}

static void finish_ok(void)
{
	ck_assert_msg(jw_options_finish(&o, err, sizeof(err)) == 0, "finish: %s", err);
}

static void finish_fails(const char *needle)
{
	err[0] = '\0';
	ck_assert_int_eq(jw_options_finish(&o, err, sizeof(err)), -1);
	assert_error_mentions(needle);
}

/* A secret file with `content` and `mode` in the test's directory, set as
 * jwt_secret_file; acl_file set too, so that finish() gets to the key. */
static void use_secret_file(const char *content, mode_t mode)
{
	char *path = ut_write_file(dir, "secret", content, strlen(content), mode);
	set_ok("jwt_secret_file", path);
	set_ok("acl_file", "/etc/jetwire/acl/default.acl");
	free(path);
}

START_TEST(has_documented_defaults)
{
	ck_assert_int_eq(o.token.alg, JWT_ALG_HS256);
	ck_assert_int_eq(o.token.leeway_s, 30);
	ck_assert(o.token.require_exp);
	ck_assert_int_eq(o.token.max_token_len, 8192);
	ck_assert_str_eq(o.token.role_claim, "userType");
	ck_assert_int_eq(o.token.role_count, 5);
	ck_assert_str_eq(o.secret_env, "JWT_SECRET");
	ck_assert_ptr_null(o.acl_file);
	ck_assert_ptr_null(o.token.issuer);
	ck_assert_ptr_null(o.token.audience);
	ck_assert_int_eq(o.acl_reload_interval_s, 2);
	ck_assert_int_eq(o.stats_interval_s, 10);
	ck_assert_int_eq(o.location_max_skew_s, 300);
	ck_assert_str_eq(o.rate_csv[JW_PAYLOAD_LOCATION], "*:1/10");
	ck_assert_str_eq(o.rate_csv[JW_PAYLOAD_PRESENCE], "*:0.2/5");
}
END_TEST

START_TEST(refuses_unknown_option)
{
	set_fails("jwt_algorithm", "HS256");
	assert_error_mentions("unknown option");
	set_fails("", "x");
}
END_TEST

START_TEST(refuses_inline_jwt_secret)
{
	set_fails("jwt_secret", SECRET40);
	assert_error_mentions("jwt_secret_file");
	/* and never echoes it */
	ck_assert_ptr_null(strstr(err, SECRET40));
	ck_assert_ptr_null(o.token.key);
}
END_TEST

START_TEST(refuses_bad_values)
{
	static const struct { const char *key, *value; } cases[] = {
		{"jwt_alg", "none"}, {"jwt_alg", "HS1024"}, {"jwt_alg", "ES512"}, {"jwt_alg", "PS256"},
		{"jwt_alg", "hs256"}, {"jwt_alg", ""},
		{"jwt_leeway", "-1"}, {"jwt_leeway", "3601"}, {"jwt_leeway", "ten"}, {"jwt_leeway", "10s"},
		{"jwt_leeway", ""}, {"jwt_leeway", "99999999999999999999"},
		{"jwt_require_exp", "maybe"}, {"jwt_require_exp", ""}, {"jwt_require_exp", "TRUE "},
		{"jwt_max_length", "63"}, {"jwt_max_length", "65536"}, {"jwt_max_length", "8k"},
		{"jwt_role_claim", ""},
		{"roles", ""}, {"roles", "customer,a/b"}, {"roles", "ns:admin"}, {"roles", "x#"},
		{"roles", "r1,r2,r3,r4,r5,r6,r7,r8,r9,r10,r11,r12,r13,r14,r15,r16,r17"},
		{"acl_reload_interval", "-1"}, {"acl_reload_interval", "86401"},
		{"stats_interval", "0"}, {"stats_interval", "1.5"},
		{"expiry_grace", "5"},
		{"jwt_cache_size", "-1"}, {"jwt_cache_size", "1048577"}, {"jwt_cache_size", "lots"},
		{"location_max_skew", "-1"}, {"location_max_skew", "5m"}, {"location_max_skew", ""},
		{"location_max_skew", "31622401"}, {"validate_publish", "maybe"}, {"validate_publish", ""},
		{"location_rate", "driver"}, {"location_rate", "driver:"}, {"location_rate", ":1/10"},
		{"location_rate", "driver:1"}, {"location_rate", "driver:0/10"}, {"location_rate", "driver:1/0"},
		{"location_rate", "driver:1/10,driver:2/10"}, {"location_rate", "*:1/10,*:off"},
		{"location_rate", "driver:1.0001/10"}, {"location_rate", "driver:1/10;admin:off"},
		{"presence_rate", "driver:fast"}, {"presence_rate", "driver:-1/5"},
	};
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) set_fails(cases[i].key, cases[i].value);
}
END_TEST

START_TEST(applies_good_values)
{
	set_ok("jwt_alg", "ES384");
	ck_assert_int_eq(o.token.alg, JWT_ALG_ES384);
	set_ok("jwt_leeway", "0");
	ck_assert_int_eq(o.token.leeway_s, 0);
	set_ok("jwt_leeway", "3600");
	ck_assert_int_eq(o.token.leeway_s, 3600);
	const char *falses[] = {"false", "no", "0"};
	for(size_t i = 0; i < 3; i++){
		o.token.require_exp = true;
		set_ok("jwt_require_exp", falses[i]);
		ck_assert(!o.token.require_exp);
	}
	set_ok("jwt_require_exp", "yes");
	ck_assert(o.token.require_exp);
	set_ok("jwt_max_length", "64");
	ck_assert_int_eq(o.token.max_token_len, 64);
	set_ok("jwt_max_length", "65535");
	ck_assert_int_eq(o.token.max_token_len, 65535);
	set_ok("jwt_role_claim", "role");
	ck_assert_str_eq(o.token.role_claim, "role");
	set_ok("jwt_issuer", "https://api.example");
	ck_assert_str_eq(o.token.issuer, "https://api.example");
	set_ok("jwt_audience", "jetwire");
	ck_assert_str_eq(o.token.audience, "jetwire");
	set_ok("roles", "courier, shop");
	ck_assert_int_eq(o.token.role_count, 2);
	ck_assert_str_eq(o.token.roles[1], "shop");
	ck_assert_uint_eq(o.token.cache_entries, 4096);
	set_ok("jwt_cache_size", "0");
	ck_assert_uint_eq(o.token.cache_entries, 0);
	set_ok("acl_reload_interval", "0");
	ck_assert_int_eq(o.acl_reload_interval_s, 0);
	set_ok("stats_interval", "86400");
	ck_assert_int_eq(o.stats_interval_s, 86400);
	ck_assert(o.validate_publish);
	set_ok("validate_publish", "false");
	ck_assert(!o.validate_publish);
	set_ok("validate_publish", "yes");
	ck_assert(o.validate_publish);
	set_ok("location_max_skew", "0");
	ck_assert_int_eq(o.location_max_skew_s, 0);
	set_ok("location_max_skew", "60");
	ck_assert_int_eq(o.location_max_skew_s, 60);
	set_ok("location_rate", "driver:2/20, admin:off");
	ck_assert_str_eq(o.rate_csv[JW_PAYLOAD_LOCATION], "driver:2/20, admin:off");
	set_ok("presence_rate", "");
	/* a later line wins */
	set_ok("acl_file", "/a.acl");
	set_ok("acl_file", "/b.acl");
	ck_assert_str_eq(o.acl_file, "/b.acl");
}
END_TEST

START_TEST(requires_an_acl_file)
{
	setenv("JWT_SECRET", SECRET40, 1);
	finish_fails("acl_file");
}
END_TEST

/* ---- HMAC secret ---- */

START_TEST(loads_hmac_secret_from_a_file)
{
	char *content = ut_fmt("%s\n", SECRET40);
	use_secret_file(content, 0600);
	free(content);
	setenv("JWT_SECRET", "the-environment-is-not-used-when-a-file-is-set", 1);
	finish_ok();
	ck_assert_int_eq(o.token.key_len, strlen(SECRET40));
	ck_assert(memcmp(o.token.key, SECRET40, o.token.key_len) == 0);
}
END_TEST

START_TEST(accepts_secret_file_readable_by_group)
{
	use_secret_file(SECRET40, 0640);
	finish_ok();
}
END_TEST

START_TEST(refuses_secret_file_writable_by_group_or_others)
{
	use_secret_file(SECRET40, 0620);
	finish_fails("writable");
	ck_assert_ptr_null(o.token.key);
	use_secret_file(SECRET40, 0602);
	finish_fails("writable");
}
END_TEST

START_TEST(refuses_missing_or_empty_secret_file)
{
	set_ok("acl_file", "/x.acl");
	char *missing = ut_fmt("%s/no-such-secret", dir);
	set_ok("jwt_secret_file", missing);
	finish_fails(missing);
	free(missing);
	use_secret_file("\n", 0600);
	finish_fails("empty");
}
END_TEST

START_TEST(loads_hmac_secret_from_the_named_environment_variable)
{
	set_ok("acl_file", "/x.acl");
	set_ok("jwt_secret_env", "JETWIRE_UNIT_SECRET");
	setenv("JETWIRE_UNIT_SECRET", SECRET40, 1);
	finish_ok();
	ck_assert_int_eq(o.token.key_len, strlen(SECRET40));
	ck_assert(memcmp(o.token.key, SECRET40, o.token.key_len) == 0);
}
END_TEST

START_TEST(loads_hmac_secret_from_jwt_secret_by_default)
{
	set_ok("acl_file", "/x.acl");
	setenv("JWT_SECRET", SECRET40, 1);
	finish_ok();
	ck_assert_int_eq(o.token.key_len, strlen(SECRET40));
}
END_TEST

START_TEST(refuses_hmac_alg_without_any_secret)
{
	set_ok("acl_file", "/x.acl");
	finish_fails("JWT_SECRET");
	set_ok("jwt_secret_env", "JETWIRE_UNIT_UNSET");
	finish_fails("JETWIRE_UNIT_UNSET");
	setenv("JETWIRE_UNIT_EMPTY", "", 1);
	set_ok("jwt_secret_env", "JETWIRE_UNIT_EMPTY");
	finish_fails("JETWIRE_UNIT_EMPTY");
}
END_TEST

START_TEST(refuses_secret_shorter_than_32_bytes)
{
	const char *short31 = "0123456789012345678901234567890";
	ck_assert_int_eq(strlen(short31), 31);
	use_secret_file(short31, 0600);
	finish_fails("too short");
	ck_assert_ptr_null(strstr(err, short31));

	set_ok("jwt_alg", "HS512");
	finish_fails("too short");
}
END_TEST

START_TEST(refuses_short_secret_from_the_environment)
{
	set_ok("acl_file", "/x.acl");
	setenv("JWT_SECRET", "0123456789012345678901234567890", 1);
	finish_fails("too short");
}
END_TEST

START_TEST(accepts_secret_of_exactly_32_bytes)
{
	/* the trailing newline does not count */
	use_secret_file("01234567890123456789012345678901\n", 0600);
	finish_ok();
	ck_assert_int_eq(o.token.key_len, 32);
}
END_TEST

START_TEST(refuses_public_key_file_with_an_hmac_alg)
{
	use_secret_file(SECRET40, 0600);
	set_ok("jwt_public_key_file", "/etc/jetwire/public.pem");
	finish_fails("HMAC");
	ck_assert_ptr_null(o.token.key);
}
END_TEST

/* ---- public keys ---- */

static struct ut_keypair ec;

static void key_setup(void)
{
	ut_keypair_new(&ec, UT_KEY_EC_P256);
}

static void key_teardown(void)
{
	ut_keypair_free(&ec);
}

START_TEST(refuses_public_key_alg_without_a_key_file)
{
	const char *algs[] = {"RS256", "RS384", "RS512", "ES256", "ES384"};
	set_ok("acl_file", "/x.acl");
	setenv("JWT_SECRET", SECRET40, 1); /* a secret is no substitute */
	for(size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++){
		set_ok("jwt_alg", algs[i]);
		finish_fails("jwt_public_key_file");
	}
}
END_TEST

START_TEST(loads_pem_public_key_for_public_key_algs)
{
	char *path = ut_write_file(dir, "public.pem", ec.public_pem, ec.public_len, 0644);
	set_ok("acl_file", "/x.acl");
	set_ok("jwt_alg", "ES256");
	set_ok("jwt_public_key_file", path);
	finish_ok();
	ck_assert_int_eq(o.token.key_len, ec.public_len);
	ck_assert(memcmp(o.token.key, ec.public_pem, ec.public_len) == 0);
	free(path);
}
END_TEST

START_TEST(refuses_secret_file_with_a_public_key_alg)
{
	char *path = ut_write_file(dir, "public.pem", ec.public_pem, ec.public_len, 0644);
	use_secret_file(SECRET40, 0600);
	set_ok("jwt_alg", "RS256");
	set_ok("jwt_public_key_file", path);
	finish_fails("jwt_secret_file");
	free(path);
}
END_TEST

START_TEST(refuses_key_file_that_is_not_a_pem_public_key)
{
	set_ok("acl_file", "/x.acl");
	set_ok("jwt_alg", "ES256");
	/* a private key by mistake: refused, and not kept as the key */
	char *path = ut_write_file(dir, "private.pem", ec.private_pem, ec.private_len, 0600);
	set_ok("jwt_public_key_file", path);
	finish_fails("not a PEM public key");
	ck_assert_ptr_null(o.token.key);
	free(path);
	path = ut_write_file(dir, "garbage.pem", SECRET40, strlen(SECRET40), 0644);
	set_ok("jwt_public_key_file", path);
	finish_fails("not a PEM public key");
	free(path);
	path = ut_fmt("%s/missing.pem", dir);
	set_ok("jwt_public_key_file", path);
	finish_fails("missing.pem");
	free(path);
}
END_TEST

/* ---- client id exemptions ---- */

START_TEST(exempts_admin_and_service_by_default)
{
	use_secret_file(SECRET40, 0600);
	finish_ok();
	ck_assert(jw_options_clientid_exempt(&o, "admin"));
	ck_assert(jw_options_clientid_exempt(&o, "service"));
	ck_assert(!jw_options_clientid_exempt(&o, "customer"));
	ck_assert(!jw_options_clientid_exempt(&o, "driver"));
	ck_assert(!jw_options_clientid_exempt(&o, "merchant"));
	ck_assert(!jw_options_clientid_exempt(&o, "nobody"));
}
END_TEST

START_TEST(exempts_exactly_the_configured_roles)
{
	use_secret_file(SECRET40, 0600);
	set_ok("clientid_exempt_roles", "driver, merchant");
	finish_ok();
	ck_assert(jw_options_clientid_exempt(&o, "driver"));
	ck_assert(jw_options_clientid_exempt(&o, "merchant"));
	ck_assert(!jw_options_clientid_exempt(&o, "admin"));
	ck_assert(!jw_options_clientid_exempt(&o, "service"));
}
END_TEST

START_TEST(exempts_nobody_when_configured_empty)
{
	use_secret_file(SECRET40, 0600);
	set_ok("clientid_exempt_roles", "");
	finish_ok();
	for(size_t i = 0; i < o.token.role_count; i++){
		ck_assert_msg(!jw_options_clientid_exempt(&o, o.token.roles[i]), "%s", o.token.roles[i]);
	}
}
END_TEST

START_TEST(refuses_exempt_role_that_is_not_a_role)
{
	use_secret_file(SECRET40, 0600);
	set_ok("clientid_exempt_roles", "admin,root");
	finish_fails("root");
}
END_TEST

START_TEST(resolves_exempt_roles_after_all_roles_are_known)
{
	use_secret_file(SECRET40, 0600);
	set_ok("clientid_exempt_roles", "ops");
	set_ok("roles", "courier,shop,ops");
	finish_ok();
	ck_assert(jw_options_clientid_exempt(&o, "ops"));
	ck_assert(!jw_options_clientid_exempt(&o, "courier"));
}
END_TEST

/* The default exemptions apply to those of admin and service that are
 * roles: configuring roles without them must not need a second option. */
START_TEST(default_exemptions_skip_roles_that_are_not_configured)
{
	use_secret_file(SECRET40, 0600);
	set_ok("roles", "customer,driver,admin");
	finish_ok();
	ck_assert(jw_options_clientid_exempt(&o, "admin"));
	ck_assert(!jw_options_clientid_exempt(&o, "customer"));
	ck_assert(!jw_options_clientid_exempt(&o, "service"));
}
END_TEST

/* ---- publish rate limits, resolved per role at finish ---- */

static void expect_rate(enum jw_payload_kind k, const char *role, uint32_t rate_milli, uint32_t burst)
{
	int idx = -1;
	for(size_t i = 0; i < o.token.role_count; i++){
		if(!strcmp(o.token.roles[i], role)) idx = (int)i;
	}
	ck_assert_msg(idx >= 0, "no role %s", role);
	struct jw_rate r = jw_options_rate(&o, k, idx);
	ck_assert_msg(r.rate_milli == rate_milli && r.burst == burst, "%s %s: %u/%u, want %u/%u",
			jw_payload_kind_name(k), role, (unsigned)r.rate_milli, (unsigned)r.burst,
			(unsigned)rate_milli, (unsigned)burst);
}

START_TEST(limits_every_role_by_default)
{
	use_secret_file(SECRET40, 0600);
	finish_ok();
	for(size_t i = 0; i < o.token.role_count; i++){
		expect_rate(JW_PAYLOAD_LOCATION, o.token.roles[i], 1000, 10);
		expect_rate(JW_PAYLOAD_PRESENCE, o.token.roles[i], 200, 5);
	}
	/* an unknown role index is not limited (no such connection exists) */
	ck_assert_uint_eq(jw_options_rate(&o, JW_PAYLOAD_LOCATION, -1).rate_milli, 0);
}
END_TEST

START_TEST(limits_listed_roles_and_the_rest_by_star)
{
	use_secret_file(SECRET40, 0600);
	set_ok("location_rate", "driver:2/20, *:0.5/2 ,admin:off");
	set_ok("presence_rate", "driver:1/3");
	finish_ok();
	expect_rate(JW_PAYLOAD_LOCATION, "driver", 2000, 20);
	expect_rate(JW_PAYLOAD_LOCATION, "admin", 0, 0);
	expect_rate(JW_PAYLOAD_LOCATION, "customer", 500, 2);
	expect_rate(JW_PAYLOAD_PRESENCE, "driver", 1000, 3);
	/* without "*", roles not listed are not limited */
	expect_rate(JW_PAYLOAD_PRESENCE, "customer", 0, 0);
}
END_TEST

START_TEST(empty_rate_list_limits_nobody)
{
	use_secret_file(SECRET40, 0600);
	set_ok("location_rate", "");
	finish_ok();
	expect_rate(JW_PAYLOAD_LOCATION, "driver", 0, 0);
}
END_TEST

START_TEST(resolves_rate_roles_after_all_roles_are_known)
{
	use_secret_file(SECRET40, 0600);
	set_ok("location_rate", "courier:3/4");
	set_ok("roles", "courier,shop,ops");
	finish_ok();
	expect_rate(JW_PAYLOAD_LOCATION, "courier", 3000, 4);
	expect_rate(JW_PAYLOAD_LOCATION, "shop", 0, 0);
}
END_TEST

START_TEST(refuses_rate_for_a_role_that_is_not_a_role)
{
	use_secret_file(SECRET40, 0600);
	set_ok("presence_rate", "driver:1/3,courier:1/1");
	finish_fails("option presence_rate: 'courier' is not one of the roles");
}
END_TEST

static Suite *options_suite(void)
{
	Suite *s = suite_create("options");
	TCase *tc = tcase_create("values");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, has_documented_defaults);
	tcase_add_test(tc, refuses_unknown_option);
	tcase_add_test(tc, refuses_inline_jwt_secret);
	tcase_add_test(tc, refuses_bad_values);
	tcase_add_test(tc, applies_good_values);
	tcase_add_test(tc, requires_an_acl_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("secret");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, loads_hmac_secret_from_a_file);
	tcase_add_test(tc, accepts_secret_file_readable_by_group);
	tcase_add_test(tc, refuses_secret_file_writable_by_group_or_others);
	tcase_add_test(tc, refuses_missing_or_empty_secret_file);
	tcase_add_test(tc, loads_hmac_secret_from_the_named_environment_variable);
	tcase_add_test(tc, loads_hmac_secret_from_jwt_secret_by_default);
	tcase_add_test(tc, refuses_hmac_alg_without_any_secret);
	tcase_add_test(tc, refuses_secret_shorter_than_32_bytes);
	tcase_add_test(tc, refuses_short_secret_from_the_environment);
	tcase_add_test(tc, accepts_secret_of_exactly_32_bytes);
	tcase_add_test(tc, refuses_public_key_file_with_an_hmac_alg);
	suite_add_tcase(s, tc);

	tc = tcase_create("public_key");
	tcase_add_unchecked_fixture(tc, key_setup, key_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, refuses_public_key_alg_without_a_key_file);
	tcase_add_test(tc, loads_pem_public_key_for_public_key_algs);
	tcase_add_test(tc, refuses_secret_file_with_a_public_key_alg);
	tcase_add_test(tc, refuses_key_file_that_is_not_a_pem_public_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("publish_rate");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, limits_every_role_by_default);
	tcase_add_test(tc, limits_listed_roles_and_the_rest_by_star);
	tcase_add_test(tc, empty_rate_list_limits_nobody);
	tcase_add_test(tc, resolves_rate_roles_after_all_roles_are_known);
	tcase_add_test(tc, refuses_rate_for_a_role_that_is_not_a_role);
	suite_add_tcase(s, tc);

	tc = tcase_create("clientid_exempt");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, exempts_admin_and_service_by_default);
	tcase_add_test(tc, exempts_exactly_the_configured_roles);
	tcase_add_test(tc, exempts_nobody_when_configured_empty);
	tcase_add_test(tc, refuses_exempt_role_that_is_not_a_role);
	tcase_add_test(tc, resolves_exempt_roles_after_all_roles_are_known);
	tcase_add_test(tc, default_exemptions_skip_roles_that_are_not_configured);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_run(options_suite());
}
