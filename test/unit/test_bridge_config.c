/*
 * Bridge configuration (bridge/config.c): the file format, every option's
 * checks with the exact message users see, JETWIRE_BRIDGE_* overrides, the
 * whole-config rules (token source, statuses, backoff) and freeing.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "unit_support.h"

extern char **environ;

static const char SECRET40[] = "0123456789abcdefghij0123456789abcdefghij";

static struct jwb_config cfg;
static char *dir;
static char err[8192];

/* ---- environment: the test's own, restored afterwards ---- */

#define MAX_SAVED 256
static char *saved_env[MAX_SAVED];
static size_t n_saved_env;

static bool is_test_var(const char *entry)
{
	static const char *const names[] = {"JWT_SECRET", "JETWIRE_UNIT_SECRET"};
	if(!strncmp(entry, JWB_CONFIG_ENV_PREFIX, strlen(JWB_CONFIG_ENV_PREFIX))) return true;
	for(size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++){
		size_t n = strlen(names[i]);
		if(!strncmp(entry, names[i], n) && entry[n] == '=') return true;
	}
	return false;
}

/* Unset every JETWIRE_BRIDGE_* and test variable, keeping a copy if `save`. */
static void clear_test_vars(bool save)
{
	char *names[MAX_SAVED];
	size_t n = 0;
	for(char **e = environ; *e != NULL && n < MAX_SAVED; e++){
		if(!is_test_var(*e)) continue;
		const char *eq = strchr(*e, '=');
		names[n++] = strndup(*e, eq ? (size_t)(eq - *e) : strlen(*e));
		if(save && n_saved_env < MAX_SAVED) saved_env[n_saved_env++] = strdup(*e);
	}
	for(size_t i = 0; i < n; i++){
		unsetenv(names[i]);
		free(names[i]);
	}
}

static void restore_test_vars(void)
{
	clear_test_vars(false);
	for(size_t i = 0; i < n_saved_env; i++){
		char *eq = strchr(saved_env[i], '=');
		*eq = '\0';
		setenv(saved_env[i], eq + 1, 1);
		free(saved_env[i]);
	}
	n_saved_env = 0;
}

static void setup(void)
{
	clear_test_vars(true);
	setenv("JWT_SECRET", SECRET40, 1);
	dir = ut_tempdir();
	memset(&cfg, 0, sizeof(cfg));
	err[0] = '\0';
}

static void teardown(void)
{
	jwb_config_free(&cfg);
	ut_rmtree(dir);
	free(dir);
	restore_test_vars();
}

/* ---- helpers ---- */

/* Write `text` to dir/name; returns the path. */
static char *write_named(const char *name, const char *text)
{
	return ut_write_file(dir, name, text, strlen(text), 0600);
}

static char *write_conf(const char *text)
{
	return write_named("bridge.conf", text);
}

static void load_ok(const char *path)
{
	err[0] = '\0';
	ck_assert_msg(jwb_config_load(&cfg, path, err, sizeof(err)) == 0, "load failed: %s", err);
}

static void assert_freed(void)
{
	ck_assert_ptr_null(cfg.database);
	ck_assert_ptr_null(cfg.mqtt_host);
	ck_assert_ptr_null(cfg.jwt_alg);
	ck_assert_ptr_null(cfg.statuses);
	ck_assert_ptr_null(cfg.terminal_statuses);
	ck_assert_uint_eq(cfg.n_statuses, 0);
}

/* Loading fails with exactly `want`, and leaves cfg freed. */
static void load_fails(const char *path, const char *want)
{
	err[0] = '\0';
	ck_assert_msg(jwb_config_load(&cfg, path, err, sizeof(err)) == -1, "accepted; expected: %s", want);
	ck_assert_str_eq(err, want);
	assert_freed();
}

/* The file `text` loads. */
static void text_ok(const char *text)
{
	char *path = write_conf(text);
	load_ok(path);
	free(path);
}

/* The file `text` fails with "<path>:<want>" when want_has_place, else `want`. */
static void text_fails_at(const char *text, const char *want)
{
	char *path = write_conf(text);
	char *full = ut_fmt("%s:%s", path, want);
	load_fails(path, full);
	free(full);
	free(path);
}

static void text_fails(const char *text, const char *want)
{
	char *path = write_conf(text);
	load_fails(path, want);
	free(path);
}

#define DB "database dbname=app host=/run/postgresql\n"

/* ---- defaults ---- */

START_TEST(defaults_are_the_documented_ones)
{
	ck_assert_int_eq(jwb_config_defaults(&cfg), 0);
	ck_assert_ptr_null(cfg.database);
	ck_assert(cfg.migrate);
	ck_assert_str_eq(cfg.mqtt_host, "127.0.0.1");
	ck_assert_int_eq(cfg.mqtt_port, 1883);
	ck_assert_str_eq(cfg.mqtt_client_id, "service-bridge");
	ck_assert_int_eq(cfg.mqtt_keepalive, 30);
	ck_assert_int_eq(cfg.mqtt_session_expiry, 86400);
	ck_assert_int_eq(cfg.mqtt_inflight, 64);
	ck_assert_str_eq(cfg.jwt_alg, "HS256");
	ck_assert_ptr_null(cfg.jwt_secret_file);
	ck_assert_str_eq(cfg.jwt_secret_env, "JWT_SECRET");
	ck_assert_ptr_null(cfg.jwt_private_key_file);
	ck_assert_ptr_null(cfg.jwt_token_file);
	ck_assert_str_eq(cfg.jwt_sub, "bridge");
	ck_assert_str_eq(cfg.jwt_role_claim, "userType");
	ck_assert_ptr_null(cfg.jwt_issuer);
	ck_assert_ptr_null(cfg.jwt_audience);
	ck_assert_int_eq(cfg.jwt_lifetime, 3600);
	static const char *const statuses[] = {"PENDING", "CONFIRMED", "ASSIGNED_TO_DRIVER", "PICKED_UP",
		"IN_PROCESS", "READY_FOR_DELIVERY", "OUT_FOR_DELIVERY", "DELIVERED", "CANCELLED"};
	ck_assert_uint_eq(cfg.n_statuses, 9);
	for(size_t i = 0; i < 9; i++) ck_assert_str_eq(cfg.statuses[i], statuses[i]);
	ck_assert_ptr_null(cfg.statuses[9]);
	ck_assert_uint_eq(cfg.n_terminal_statuses, 2);
	ck_assert_str_eq(cfg.terminal_statuses[0], "DELIVERED");
	ck_assert_str_eq(cfg.terminal_statuses[1], "CANCELLED");
	ck_assert_ptr_null(cfg.terminal_statuses[2]);
	ck_assert_int_eq(cfg.terminal_expiry, 3600);
	ck_assert_int_eq(cfg.batch_size, 500);
	ck_assert_int_eq(cfg.resync_batch_size, 1000);
	ck_assert_int_eq(cfg.poll_interval_ms, 1000);
	ck_assert_int_eq(cfg.backoff_initial_ms, 100);
	ck_assert_int_eq(cfg.backoff_max_ms, 30000);
	ck_assert_int_eq(cfg.stats_interval, 10);
	ck_assert_int_eq(cfg.log_interval, 60);
}
END_TEST

START_TEST(loads_without_a_file_from_the_environment)
{
	setenv("JETWIRE_BRIDGE_DATABASE", "postgresql://bridge@db/app", 1);
	load_ok(NULL);
	ck_assert_str_eq(cfg.database, "postgresql://bridge@db/app");
	ck_assert_str_eq(cfg.mqtt_client_id, "service-bridge");
	ck_assert_int_eq(cfg.mqtt_port, 1883);
	ck_assert_uint_eq(cfg.n_statuses, 9);
}
END_TEST

START_TEST(a_file_with_only_the_database_keeps_every_default)
{
	text_ok(DB);
	ck_assert_str_eq(cfg.database, "dbname=app host=/run/postgresql");
	ck_assert(cfg.migrate);
	ck_assert_str_eq(cfg.mqtt_host, "127.0.0.1");
	ck_assert_int_eq(cfg.backoff_max_ms, 30000);
	ck_assert_str_eq(cfg.jwt_alg, "HS256");
}
END_TEST

START_TEST(loads_a_full_file)
{
	char *key = write_named("bridge.pem", "not read by the config\n");
	char *text = ut_fmt(
		"# the bridge\n"
		"database postgresql://bridge@db.internal:5432/app?sslmode=verify-full\n"
		"migrate false\n"
		"mqtt_host broker.internal\n"
		"mqtt_port 8883\n"
		"mqtt_client_id service-bridge-eu1\n"
		"mqtt_keepalive 20\n"
		"mqtt_session_expiry 0\n"
		"mqtt_inflight 100\n"
		"jwt_alg ES384\n"
		"jwt_secret_env BRIDGE_SECRET\n"
		"jwt_private_key_file %s\n"
		"jwt_sub bridge-eu1\n"
		"jwt_role_claim role\n"
		"jwt_issuer https://auth.example.com/\n"
		"jwt_audience jetwire\n"
		"jwt_lifetime 7200\n"
		"statuses NEW, PAID ,SHIPPED,DONE,VOID\n"
		"terminal_statuses DONE,VOID\n"
		"terminal_expiry 600\n"
		"batch_size 250\n"
		"resync_batch_size 5000\n"
		"poll_interval_ms 250\n"
		"backoff_initial_ms 50\n"
		"backoff_max_ms 10000\n"
		"stats_interval 5\n"
		"log_interval 300\n", key);
	text_ok(text);
	ck_assert_str_eq(cfg.database, "postgresql://bridge@db.internal:5432/app?sslmode=verify-full");
	ck_assert(!cfg.migrate);
	ck_assert_str_eq(cfg.mqtt_host, "broker.internal");
	ck_assert_int_eq(cfg.mqtt_port, 8883);
	ck_assert_str_eq(cfg.mqtt_client_id, "service-bridge-eu1");
	ck_assert_int_eq(cfg.mqtt_keepalive, 20);
	ck_assert_int_eq(cfg.mqtt_session_expiry, 0);
	ck_assert_int_eq(cfg.mqtt_inflight, 100);
	ck_assert_str_eq(cfg.jwt_alg, "ES384");
	ck_assert_ptr_null(cfg.jwt_secret_file);
	ck_assert_str_eq(cfg.jwt_secret_env, "BRIDGE_SECRET");
	ck_assert_str_eq(cfg.jwt_private_key_file, key);
	ck_assert_ptr_null(cfg.jwt_token_file);
	ck_assert_str_eq(cfg.jwt_sub, "bridge-eu1");
	ck_assert_str_eq(cfg.jwt_role_claim, "role");
	ck_assert_str_eq(cfg.jwt_issuer, "https://auth.example.com/");
	ck_assert_str_eq(cfg.jwt_audience, "jetwire");
	ck_assert_int_eq(cfg.jwt_lifetime, 7200);
	ck_assert_uint_eq(cfg.n_statuses, 5);
	ck_assert_str_eq(cfg.statuses[0], "NEW");
	ck_assert_str_eq(cfg.statuses[1], "PAID");
	ck_assert_str_eq(cfg.statuses[4], "VOID");
	ck_assert_ptr_null(cfg.statuses[5]);
	ck_assert_uint_eq(cfg.n_terminal_statuses, 2);
	ck_assert_str_eq(cfg.terminal_statuses[0], "DONE");
	ck_assert_ptr_null(cfg.terminal_statuses[2]);
	ck_assert_int_eq(cfg.terminal_expiry, 600);
	ck_assert_int_eq(cfg.batch_size, 250);
	ck_assert_int_eq(cfg.resync_batch_size, 5000);
	ck_assert_int_eq(cfg.poll_interval_ms, 250);
	ck_assert_int_eq(cfg.backoff_initial_ms, 50);
	ck_assert_int_eq(cfg.backoff_max_ms, 10000);
	ck_assert_int_eq(cfg.stats_interval, 5);
	ck_assert_int_eq(cfg.log_interval, 300);
	ck_assert(jwb_config_status_known(&cfg, "PAID"));
	ck_assert(!jwb_config_status_known(&cfg, "PENDING"));
	ck_assert(jwb_config_status_terminal(&cfg, "VOID"));
	ck_assert(!jwb_config_status_terminal(&cfg, "PAID"));
	free(text);
	free(key);
}
END_TEST

/* ---- the file format ---- */

START_TEST(refuses_a_missing_file)
{
	char *path = ut_fmt("%s/nope.conf", dir);
	char *want = ut_fmt("%s: cannot open: No such file or directory", path);
	load_fails(path, want);
	free(want);
	free(path);
}
END_TEST

START_TEST(refuses_a_directory)
{
	char *want = ut_fmt("%s: cannot read: Is a directory", dir);
	load_fails(dir, want);
	free(want);
}
END_TEST

START_TEST(refuses_an_unreadable_file)
{
	if(geteuid() == 0) return; /* root reads anything */
	char *path = ut_write_file(dir, "locked.conf", DB, strlen(DB), 0000);
	char *want = ut_fmt("%s: cannot open: Permission denied", path);
	load_fails(path, want);
	free(want);
	free(path);
}
END_TEST

START_TEST(skips_comments_and_blank_lines_and_keeps_hash_in_values)
{
	text_ok("# a comment\n"
		"\n"
		"   \t\n"
		"   # an indented comment: mqtt_port 1\n"
		"\tdatabase   \t dbname=app password=a#b   \t\n"
		"jwt_issuer https://auth.example.com/#issuer # not a comment\n"
		"mqtt_host\tbroker # with a hash\n"
		"#mqtt_port 1\n");
	ck_assert_str_eq(cfg.database, "dbname=app password=a#b");
	ck_assert_str_eq(cfg.jwt_issuer, "https://auth.example.com/#issuer # not a comment");
	ck_assert_str_eq(cfg.mqtt_host, "broker # with a hash");
	ck_assert_int_eq(cfg.mqtt_port, 1883);
}
END_TEST

START_TEST(accepts_crlf_line_endings_and_a_missing_final_newline)
{
	text_ok("# windows\r\n" DB "mqtt_port 1884\r\n\r\nmqtt_host broker\r\nbatch_size 7");
	ck_assert_int_eq(cfg.mqtt_port, 1884);
	ck_assert_str_eq(cfg.mqtt_host, "broker");
	ck_assert_int_eq(cfg.batch_size, 7);
}
END_TEST

START_TEST(accepts_a_utf8_byte_order_mark)
{
	text_ok("\xEF\xBB\xBF" DB);
	ck_assert_str_eq(cfg.database, "dbname=app host=/run/postgresql");
}
END_TEST

START_TEST(refuses_a_key_without_a_value)
{
	text_fails_at(DB "mqtt_host\n", "2: mqtt_host: missing value");
	text_fails_at(DB "mqtt_port   \t\n", "2: mqtt_port: missing value");
	text_fails_at("database\n", "1: database: missing value");
}
END_TEST

START_TEST(refuses_unknown_options_with_a_hint)
{
	text_fails_at(DB "\nmqtt_prot 1883\n", "3: unknown option 'mqtt_prot' (did you mean 'mqtt_port'?)");
	text_fails_at("MQTT_PORT 1883\n", "1: unknown option 'MQTT_PORT' (did you mean 'mqtt_port'?)");
	text_fails_at("jwt_private_keyfile /k\n",
			"1: unknown option 'jwt_private_keyfile' (did you mean 'jwt_private_key_file'?)");
	text_fails_at("log_level debug\n", "1: unknown option 'log_level'");
	text_fails_at("listener 1883\n", "1: unknown option 'listener'");
	text_fails_at(DB "jwt_secret 0123456789abcdefghij0123456789abcdefghij\n",
			"2: unknown option 'jwt_secret' (a secret is never written in the configuration: "
			"use jwt_secret_file, or the environment variable named by jwt_secret_env)");
	ck_assert_ptr_null(strstr(err, SECRET40));
}
END_TEST

START_TEST(refuses_a_repeated_option)
{
	text_fails_at(DB "mqtt_port 1884\n# again\nmqtt_port 1885\n", "4: 'mqtt_port' already set at line 2");
	text_fails_at(DB "database other\n", "2: 'database' already set at line 1");
	/* even with the same value */
	text_fails_at("migrate on\n" DB "migrate on\n", "3: 'migrate' already set at line 1");
}
END_TEST

START_TEST(limits_line_length_to_4096_bytes)
{
	char line[4200];
	/* a 4096-byte comment, then the same with CRLF: fine */
	memset(line, 'x', sizeof(line));
	line[0] = '#';
	char *text = ut_fmt("%.4096s\n%.4096s\r\n" DB, line, line);
	text_ok(text);
	free(text);
	jwb_config_free(&cfg);
	/* a 4096-byte value line: fine */
	static const char prefix[] = "jwt_audience ";
	size_t vlen = 4096 - (sizeof(prefix) - 1);
	text = ut_fmt(DB "%s%.*s\n", prefix, (int)vlen, line);
	text_ok(text);
	ck_assert_uint_eq(strlen(cfg.jwt_audience), vlen);
	free(text);
	jwb_config_free(&cfg);
	/* 4097 bytes: refused, with or without a newline after it */
	text = ut_fmt(DB "%.4097s\n", line);
	text_fails_at(text, "2: line longer than 4096 bytes");
	free(text);
	text = ut_fmt(DB "\n%.4097s", line);
	text_fails_at(text, "3: line longer than 4096 bytes");
	free(text);
	text = ut_fmt("%.4199s\n" DB, line);
	text_fails_at(text, "1: line longer than 4096 bytes");
	free(text);
}
END_TEST

START_TEST(refuses_nul_and_control_characters)
{
	static const char with_nul[] = "database dbname=app\nmqtt_host bro\0ker\n";
	char *path = ut_write_file(dir, "nul.conf", with_nul, sizeof(with_nul) - 1, 0600);
	char *want = ut_fmt("%s:2: NUL byte at column 14", path);
	load_fails(path, want);
	free(want);
	free(path);

	text_fails_at(DB "mqtt_host bro\x01ker\n", "2: control character 0x01 at column 14");
	text_fails_at(DB "mqtt_host broker\x1b[0m\n", "2: control character 0x1b at column 17");
	text_fails_at(DB "mqtt_host broker\x7f\n", "2: control character 0x7f at column 17");
	/* a carriage return that does not end the line */
	text_fails_at(DB "mqtt_host bro\rker\n", "2: control character 0x0d at column 14");
	text_fails_at("# comment\x0c\n", "1: control character 0x0c at column 10");
}
END_TEST

/* ---- values ---- */

struct range { const char *key; long long min, max; const char *extra; };

static const struct range ranges[] = {
	{"mqtt_port", 1, 65535, ""},
	{"mqtt_keepalive", 5, 65535, ""},
	{"mqtt_session_expiry", 0, 2147483647, ""},
	{"mqtt_inflight", 1, 1000, ""},
	{"jwt_lifetime", 10, 2592000, ""},
	{"terminal_expiry", 1, 31536000, ""},
	{"batch_size", 1, 10000, ""},
	{"resync_batch_size", 1, 100000, ""},
	{"poll_interval_ms", 10, 600000, ""},
	{"backoff_initial_ms", 1, 60000, "backoff_max_ms 3600000\n"},
	{"backoff_max_ms", 1, 3600000, "backoff_initial_ms 1\n"},
	{"stats_interval", 1, 3600, ""},
	{"log_interval", 1, 86400, ""},
};

static int int_value(const char *key)
{
	if(!strcmp(key, "mqtt_port")) return cfg.mqtt_port;
	if(!strcmp(key, "mqtt_keepalive")) return cfg.mqtt_keepalive;
	if(!strcmp(key, "mqtt_session_expiry")) return cfg.mqtt_session_expiry;
	if(!strcmp(key, "mqtt_inflight")) return cfg.mqtt_inflight;
	if(!strcmp(key, "jwt_lifetime")) return cfg.jwt_lifetime;
	if(!strcmp(key, "terminal_expiry")) return cfg.terminal_expiry;
	if(!strcmp(key, "batch_size")) return cfg.batch_size;
	if(!strcmp(key, "resync_batch_size")) return cfg.resync_batch_size;
	if(!strcmp(key, "poll_interval_ms")) return cfg.poll_interval_ms;
	if(!strcmp(key, "backoff_initial_ms")) return cfg.backoff_initial_ms;
	if(!strcmp(key, "backoff_max_ms")) return cfg.backoff_max_ms;
	if(!strcmp(key, "stats_interval")) return cfg.stats_interval;
	if(!strcmp(key, "log_interval")) return cfg.log_interval;
	ck_abort_msg("no such key %s", key);
	return 0;
}

START_TEST(accepts_integer_range_edges)
{
	const struct range *r = &ranges[_i];
	long long edges[] = {r->min, r->max};
	for(size_t k = 0; k < 2; k++){
		char *text = ut_fmt(DB "%s %lld\n%s", r->key, edges[k], r->extra);
		text_ok(text);
		ck_assert_int_eq(int_value(r->key), edges[k]);
		jwb_config_free(&cfg);
		free(text);
	}
}
END_TEST

START_TEST(refuses_integers_one_past_the_edges)
{
	const struct range *r = &ranges[_i];
	long long outside[] = {r->min - 1, r->max + 1};
	for(size_t k = 0; k < 2; k++){
		char *text = ut_fmt(DB "%s %lld\n%s", r->key, outside[k], r->extra);
		char *want = ut_fmt("2: %s: expected an integer %lld..%lld, got '%lld'",
				r->key, r->min, r->max, outside[k]);
		text_fails_at(text, want);
		free(want);
		free(text);
	}
}
END_TEST

START_TEST(refuses_integers_with_junk)
{
	static const char *const bad[] = {"70000", "-1", "1883x", "18 83", "+1883", "0x50", "1e3", "1.5",
		"99999999999999999999999", "-", "eighty"};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		char *text = ut_fmt(DB "\n\n\n\n\n\n\n\n\n\nmqtt_port %s\n", bad[i]);
		char *want = ut_fmt("12: mqtt_port: expected an integer 1..65535, got '%s'", bad[i]);
		text_fails_at(text, want);
		free(want);
		free(text);
	}
}
END_TEST

START_TEST(accepts_every_boolean_spelling)
{
	static const struct { const char *text; bool value; } cases[] = {
		{"true", true}, {"yes", true}, {"on", true}, {"1", true},
		{"false", false}, {"no", false}, {"off", false}, {"0", false},
	};
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++){
		char *text = ut_fmt(DB "migrate %s\n", cases[i].text);
		text_ok(text);
		ck_assert_msg(cfg.migrate == cases[i].value, "migrate %s", cases[i].text);
		jwb_config_free(&cfg);
		free(text);
	}
}
END_TEST

START_TEST(refuses_other_booleans)
{
	static const char *const bad[] = {"TRUE", "Yes", "maybe", "2", "enabled", "y"};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		char *text = ut_fmt(DB "migrate %s\n", bad[i]);
		char *want = ut_fmt("2: migrate: expected true/false/yes/no/on/off/1/0, got '%s'", bad[i]);
		text_fails_at(text, want);
		free(want);
		free(text);
	}
}
END_TEST

START_TEST(accepts_each_jwt_alg_and_nothing_else)
{
	static const char *const hmac[] = {"HS256", "HS384", "HS512"};
	for(size_t i = 0; i < 3; i++){
		char *text = ut_fmt(DB "jwt_alg %s\n", hmac[i]);
		text_ok(text);
		ck_assert_str_eq(cfg.jwt_alg, hmac[i]);
		jwb_config_free(&cfg);
		free(text);
	}
	char *key = write_named("k.pem", "k");
	static const char *const pk[] = {"RS256", "RS384", "RS512", "ES256", "ES384"};
	for(size_t i = 0; i < 5; i++){
		char *text = ut_fmt(DB "jwt_alg %s\njwt_private_key_file %s\n", pk[i], key);
		text_ok(text);
		ck_assert_str_eq(cfg.jwt_alg, pk[i]);
		jwb_config_free(&cfg);
		free(text);
	}
	free(key);
	static const char *const bad[] = {"none", "hs256", "ES512", "PS256", "HS1024"};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		char *text = ut_fmt(DB "jwt_alg %s\n", bad[i]);
		char *want = ut_fmt("2: jwt_alg: expected one of HS256 HS384 HS512 RS256 RS384 RS512 ES256 ES384, "
				"got '%s'", bad[i]);
		text_fails_at(text, want);
		free(want);
		free(text);
	}
}
END_TEST

START_TEST(checks_names_used_in_topics_and_client_ids)
{
	static const char *const keys[] = {"jwt_sub", "jwt_role_claim", "mqtt_client_id"};
	char long128[129], long129[130];
	memset(long128, 'n', 128);
	long128[128] = '\0';
	memset(long129, 'n', 129);
	long129[129] = '\0';
	for(size_t k = 0; k < 3; k++){
		const char *ok[] = {"a", "bridge-eu_1.x", "with space", long128};
		for(size_t i = 0; i < 4; i++){
			/* a jwt_sub over 120 bytes needs an explicit client id */
			char *text = k == 2 ? ut_fmt(DB "%s %s\n", keys[k], ok[i])
				: ut_fmt(DB "%s %s\nmqtt_client_id c\n", keys[k], ok[i]);
			text_ok(text);
			jwb_config_free(&cfg);
			free(text);
		}
		const char *bad[] = {"a/b", "a+", "#", "tab\there", long129};
		for(size_t i = 0; i < 5; i++){
			char *text = ut_fmt(DB "%s %s\n", keys[k], bad[i]);
			char *want = ut_fmt("2: %s: expected 1..128 bytes without '/', '+', '#' or control characters, "
					"got '%s'", keys[k], bad[i]);
			text_fails_at(text, want);
			free(want);
			free(text);
		}
	}
}
END_TEST

START_TEST(derives_the_client_id_from_jwt_sub)
{
	text_ok(DB "jwt_sub eu-1\n");
	ck_assert_str_eq(cfg.mqtt_client_id, "service-eu-1");
	jwb_config_free(&cfg);

	/* after the environment's override of jwt_sub */
	setenv("JETWIRE_BRIDGE_JWT_SUB", "eu-2", 1);
	text_ok(DB "jwt_sub eu-1\n");
	ck_assert_str_eq(cfg.mqtt_client_id, "service-eu-2");
	jwb_config_free(&cfg);

	/* an explicit client id is kept */
	text_ok(DB "mqtt_client_id my-bridge\n");
	ck_assert_str_eq(cfg.mqtt_client_id, "my-bridge");
	jwb_config_free(&cfg);
	unsetenv("JETWIRE_BRIDGE_JWT_SUB");

	/* 120 + 8 = 128: fine; 121 + 8: too long unless set */
	char sub[122];
	memset(sub, 's', sizeof(sub));
	sub[120] = '\0';
	char *text = ut_fmt(DB "jwt_sub %s\n", sub);
	text_ok(text);
	ck_assert_uint_eq(strlen(cfg.mqtt_client_id), 128);
	jwb_config_free(&cfg);
	free(text);
	sub[120] = 's';
	sub[121] = '\0';
	text = ut_fmt(DB "jwt_sub %s\n", sub);
	text_fails(text, "mqtt_client_id: the default 'service-<jwt_sub>' would be 129 bytes (at most 128): "
			"set mqtt_client_id or a shorter jwt_sub");
	free(text);
	text = ut_fmt(DB "jwt_sub %s\nmqtt_client_id svc\n", sub);
	text_ok(text);
	free(text);
}
END_TEST

START_TEST(refuses_a_bad_secret_variable_name)
{
	static const char *const bad[] = {"1SECRET", "MY-SECRET", "A=B", "SECRET$"};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		char *text = ut_fmt(DB "jwt_secret_env %s\n", bad[i]);
		char *want = ut_fmt("2: jwt_secret_env: expected an environment variable name "
				"(A-Z a-z 0-9 _, not starting with a digit), got '%s'", bad[i]);
		text_fails_at(text, want);
		free(want);
		free(text);
	}
}
END_TEST

/* ---- lists ---- */

START_TEST(parses_lists)
{
	text_ok(DB "statuses  A ,B,\tc-1 , D_2\nterminal_statuses D_2 , A\n");
	ck_assert_uint_eq(cfg.n_statuses, 4);
	ck_assert_str_eq(cfg.statuses[0], "A");
	ck_assert_str_eq(cfg.statuses[1], "B");
	ck_assert_str_eq(cfg.statuses[2], "c-1");
	ck_assert_str_eq(cfg.statuses[3], "D_2");
	ck_assert_ptr_null(cfg.statuses[4]);
	ck_assert_uint_eq(cfg.n_terminal_statuses, 2);
	ck_assert_str_eq(cfg.terminal_statuses[0], "D_2");
	ck_assert_str_eq(cfg.terminal_statuses[1], "A");
	ck_assert_ptr_null(cfg.terminal_statuses[2]);
	jwb_config_free(&cfg);

	/* one item; 64 bytes */
	char s64[65];
	memset(s64, 'S', 64);
	s64[64] = '\0';
	char *text = ut_fmt(DB "statuses %s\nterminal_statuses %s\n", s64, s64);
	text_ok(text);
	ck_assert_uint_eq(cfg.n_statuses, 1);
	ck_assert_str_eq(cfg.terminal_statuses[0], s64);
	free(text);
}
END_TEST

START_TEST(refuses_bad_lists)
{
	text_fails_at(DB "statuses A,,B\n", "2: statuses: empty item in the list");
	text_fails_at(DB "statuses A,B,\n", "2: statuses: empty item in the list");
	text_fails_at(DB "statuses ,A\n", "2: statuses: empty item in the list");
	text_fails_at(DB "statuses A, ,B\n", "2: statuses: empty item in the list");
	text_fails_at(DB "terminal_statuses DELIVERED,DELIVERED\n",
			"2: terminal_statuses: 'DELIVERED' is listed twice");
	text_fails_at(DB "statuses A,B, A\n", "2: statuses: 'A' is listed twice");
	text_fails_at(DB "statuses A,IN PROCESS\n",
			"2: statuses: 'IN PROCESS' is not a valid status (1..64 characters from A-Z a-z 0-9 _ -)");
	text_fails_at(DB "statuses A,B/C\n",
			"2: statuses: 'B/C' is not a valid status (1..64 characters from A-Z a-z 0-9 _ -)");
	char s65[66];
	memset(s65, 'S', 65);
	s65[65] = '\0';
	char *text = ut_fmt(DB "statuses A,%s\n", s65);
	char *want = ut_fmt("2: statuses: '%s' is not a valid status (1..64 characters from A-Z a-z 0-9 _ -)", s65);
	text_fails_at(text, want);
	free(want);
	free(text);
}
END_TEST

START_TEST(requires_terminal_statuses_within_statuses)
{
	text_fails(DB "statuses NEW,DONE\n", "terminal_statuses: 'DELIVERED' is not in statuses");
	text_fails(DB "terminal_statuses DELIVERED,DONE\n", "terminal_statuses: 'DONE' is not in statuses");
	/* exact comparison */
	text_fails(DB "terminal_statuses delivered\n", "terminal_statuses: 'delivered' is not in statuses");
}
END_TEST

START_TEST(answers_status_questions_exactly)
{
	text_ok(DB);
	ck_assert(jwb_config_status_known(&cfg, "PENDING"));
	ck_assert(jwb_config_status_known(&cfg, "CANCELLED"));
	ck_assert(!jwb_config_status_known(&cfg, "pending"));
	ck_assert(!jwb_config_status_known(&cfg, "PEND"));
	ck_assert(!jwb_config_status_known(&cfg, "PENDING "));
	ck_assert(!jwb_config_status_known(&cfg, ""));
	ck_assert(!jwb_config_status_known(&cfg, NULL));
	ck_assert(jwb_config_status_terminal(&cfg, "DELIVERED"));
	ck_assert(jwb_config_status_terminal(&cfg, "CANCELLED"));
	ck_assert(!jwb_config_status_terminal(&cfg, "PENDING"));
	ck_assert(!jwb_config_status_terminal(&cfg, "Delivered"));
	ck_assert(!jwb_config_status_terminal(&cfg, NULL));
	jwb_config_free(&cfg);
	ck_assert(!jwb_config_status_known(&cfg, "PENDING"));
	ck_assert(!jwb_config_status_terminal(&cfg, "DELIVERED"));
}
END_TEST

/* ---- whole-config rules ---- */

START_TEST(requires_a_database)
{
	static const char want[] = "database: required (set it in the file or JETWIRE_BRIDGE_DATABASE)";
	text_fails("mqtt_port 1884\n", want);
	load_fails(NULL, want);
	setenv("JETWIRE_BRIDGE_DATABASE", "", 1);
	load_fails(NULL, want);
}
END_TEST

START_TEST(requires_backoff_max_at_least_initial)
{
	text_fails(DB "backoff_initial_ms 500\nbackoff_max_ms 499\n",
			"backoff_max_ms: 499 is less than backoff_initial_ms (500)");
	text_fails(DB "backoff_initial_ms 31000\n", "backoff_max_ms: 30000 is less than backoff_initial_ms (31000)");
	text_ok(DB "backoff_initial_ms 500\nbackoff_max_ms 500\n");
}
END_TEST

/* ---- token source ---- */

START_TEST(hmac_takes_the_secret_from_the_environment)
{
	text_ok(DB);
	jwb_config_free(&cfg);
	unsetenv("JWT_SECRET");
	text_fails(DB, "jwt_alg HS256: no secret: set jwt_secret_file, the environment variable JWT_SECRET, "
			"or jwt_token_file");
	setenv("JWT_SECRET", "", 1);
	text_fails(DB "jwt_alg HS512\n", "jwt_alg HS512: no secret: set jwt_secret_file, the environment "
			"variable JWT_SECRET, or jwt_token_file");
	/* a variable of its own */
	setenv("JETWIRE_UNIT_SECRET", SECRET40, 1);
	text_ok(DB "jwt_secret_env JETWIRE_UNIT_SECRET\n");
	jwb_config_free(&cfg);
	unsetenv("JETWIRE_UNIT_SECRET");
	setenv("JWT_SECRET", SECRET40, 1);
	text_fails(DB "jwt_secret_env JETWIRE_UNIT_SECRET\n", "jwt_alg HS256: no secret: set jwt_secret_file, "
			"the environment variable JETWIRE_UNIT_SECRET, or jwt_token_file");
}
END_TEST

START_TEST(hmac_takes_the_secret_from_a_file)
{
	unsetenv("JWT_SECRET");
	char *secret = write_named("jwt.secret", SECRET40);
	char *text = ut_fmt(DB "jwt_secret_file %s\n", secret);
	text_ok(text);
	ck_assert_str_eq(cfg.jwt_secret_file, secret);
	jwb_config_free(&cfg);
	/* the file wins over a variable that is set as well */
	setenv("JWT_SECRET", SECRET40, 1);
	text_ok(text);
	free(text);
	jwb_config_free(&cfg);

	char *missing = ut_fmt("%s/missing.secret", dir);
	text = ut_fmt(DB "jwt_secret_file %s\n", missing);
	char *want = ut_fmt("jwt_secret_file: %s: No such file or directory", missing);
	text_fails(text, want);
	free(want);
	free(text);
	free(missing);

	text = ut_fmt(DB "jwt_secret_file %s\n", dir);
	want = ut_fmt("jwt_secret_file: %s: Is a directory", dir);
	text_fails(text, want);
	free(want);
	free(text);

	if(geteuid() != 0){
		chmod(secret, 0000);
		text = ut_fmt(DB "jwt_secret_file %s\n", secret);
		want = ut_fmt("jwt_secret_file: %s: Permission denied", secret);
		text_fails(text, want);
		free(want);
		free(text);
	}
	free(secret);
}
END_TEST

START_TEST(hmac_refuses_a_private_key)
{
	char *key = write_named("k.pem", "k");
	char *text = ut_fmt(DB "jwt_alg HS384\njwt_private_key_file %s\n", key);
	text_fails(text, "jwt_private_key_file: not used with jwt_alg HS384 (HMAC signs with a shared secret: "
			"jwt_secret_file or the environment variable JWT_SECRET)");
	free(text);
	free(key);
}
END_TEST

START_TEST(public_key_algs_need_a_private_key_file)
{
	text_fails(DB "jwt_alg ES256\n", "jwt_alg ES256: no key: set jwt_private_key_file (or jwt_token_file)");
	text_fails(DB "jwt_alg RS512\n", "jwt_alg RS512: no key: set jwt_private_key_file (or jwt_token_file)");

	char *missing = ut_fmt("%s/missing.pem", dir);
	char *text = ut_fmt(DB "jwt_alg RS256\njwt_private_key_file %s\n", missing);
	char *want = ut_fmt("jwt_private_key_file: %s: No such file or directory", missing);
	text_fails(text, want);
	free(want);
	free(text);
	free(missing);

	char *key = write_named("k.pem", "k");
	unsetenv("JWT_SECRET"); /* not needed */
	text = ut_fmt(DB "jwt_alg RS256\njwt_private_key_file %s\n", key);
	text_ok(text);
	ck_assert_str_eq(cfg.jwt_private_key_file, key);
	free(text);
	free(key);
}
END_TEST

START_TEST(public_key_algs_refuse_a_secret_file)
{
	char *key = write_named("k.pem", "k");
	char *secret = write_named("jwt.secret", SECRET40);
	char *text = ut_fmt(DB "jwt_alg RS256\njwt_private_key_file %s\njwt_secret_file %s\n", key, secret);
	text_fails(text, "jwt_secret_file: not used with jwt_alg RS256 (it signs with jwt_private_key_file)");
	free(text);
	free(secret);
	free(key);
}
END_TEST

START_TEST(a_token_file_works_with_any_alg_alone)
{
	unsetenv("JWT_SECRET");
	char *token = write_named("bridge.jwt", "a.b.c\n");
	static const char *const algs[] = {"HS256", "RS384", "ES384"};
	for(size_t i = 0; i < 3; i++){
		char *text = ut_fmt(DB "jwt_alg %s\njwt_token_file %s\n", algs[i], token);
		text_ok(text);
		ck_assert_str_eq(cfg.jwt_token_file, token);
		jwb_config_free(&cfg);
		free(text);
	}
	/* the secret variable being set does not matter */
	setenv("JWT_SECRET", SECRET40, 1);
	char *text = ut_fmt(DB "jwt_token_file %s\n", token);
	text_ok(text);
	free(text);
	free(token);
}
END_TEST

START_TEST(a_token_file_excludes_the_other_sources)
{
	char *token = write_named("bridge.jwt", "a.b.c\n");
	char *key = write_named("k.pem", "k");
	char *secret = write_named("jwt.secret", SECRET40);
	char *text = ut_fmt(DB "jwt_token_file %s\njwt_secret_file %s\n", token, secret);
	text_fails(text, "jwt_token_file: cannot be combined with jwt_secret_file "
			"(the token is used as is; remove one of them)");
	free(text);
	text = ut_fmt(DB "jwt_alg ES256\njwt_token_file %s\njwt_private_key_file %s\n", token, key);
	text_fails(text, "jwt_token_file: cannot be combined with jwt_private_key_file "
			"(the token is used as is; remove one of them)");
	free(text);

	char *missing = ut_fmt("%s/missing.jwt", dir);
	text = ut_fmt(DB "jwt_token_file %s\n", missing);
	char *want = ut_fmt("jwt_token_file: %s: No such file or directory", missing);
	text_fails(text, want);
	free(want);
	free(text);
	free(missing);
	free(secret);
	free(key);
	free(token);
}
END_TEST

/* ---- environment ---- */

START_TEST(the_environment_beats_the_file)
{
	setenv("JETWIRE_BRIDGE_MQTT_PORT", "1885", 1);
	setenv("JETWIRE_BRIDGE_DATABASE", "dbname=from_env", 1);
	setenv("JETWIRE_BRIDGE_MIGRATE", "off", 1);
	setenv("JETWIRE_BRIDGE_STATUSES", "A, B,DELIVERED,CANCELLED", 1);
	setenv("JETWIRE_BRIDGE_JWT_ISSUER", "  https://issuer/  ", 1); /* blanks around: trimmed */
	text_ok(DB "mqtt_port 1884\nmqtt_host broker\nmigrate yes\n");
	ck_assert_int_eq(cfg.mqtt_port, 1885);
	ck_assert_str_eq(cfg.database, "dbname=from_env");
	ck_assert(!cfg.migrate);
	ck_assert_str_eq(cfg.mqtt_host, "broker");
	ck_assert_uint_eq(cfg.n_statuses, 4);
	ck_assert_str_eq(cfg.statuses[1], "B");
	ck_assert_str_eq(cfg.jwt_issuer, "https://issuer/");
}
END_TEST

START_TEST(an_empty_variable_is_unset)
{
	setenv("JETWIRE_BRIDGE_MQTT_PORT", "", 1);
	setenv("JETWIRE_BRIDGE_MQTT_HOST", " \t ", 1);
	setenv("JETWIRE_BRIDGE_MQTT_PROT", "", 1); /* unknown, but empty */
	text_ok(DB "mqtt_port 1884\n");
	ck_assert_int_eq(cfg.mqtt_port, 1884);
	ck_assert_str_eq(cfg.mqtt_host, "127.0.0.1");
}
END_TEST

START_TEST(names_the_variable_in_its_errors)
{
	setenv("JETWIRE_BRIDGE_MQTT_PORT", "x", 1);
	text_fails(DB, "JETWIRE_BRIDGE_MQTT_PORT: expected an integer 1..65535, got 'x'");
	setenv("JETWIRE_BRIDGE_MQTT_PORT", "65536", 1);
	text_fails(DB, "JETWIRE_BRIDGE_MQTT_PORT: expected an integer 1..65535, got '65536'");
	unsetenv("JETWIRE_BRIDGE_MQTT_PORT");
	setenv("JETWIRE_BRIDGE_MIGRATE", "sometimes", 1);
	load_fails(NULL, "JETWIRE_BRIDGE_MIGRATE: expected true/false/yes/no/on/off/1/0, got 'sometimes'");
	unsetenv("JETWIRE_BRIDGE_MIGRATE");
	setenv("JETWIRE_BRIDGE_TERMINAL_STATUSES", "DELIVERED,,CANCELLED", 1);
	text_fails(DB, "JETWIRE_BRIDGE_TERMINAL_STATUSES: empty item in the list");
	setenv("JETWIRE_BRIDGE_TERMINAL_STATUSES", "DELIVERED,LOST", 1);
	text_fails(DB, "terminal_statuses: 'LOST' is not in statuses");
	unsetenv("JETWIRE_BRIDGE_TERMINAL_STATUSES");
	setenv("JETWIRE_BRIDGE_JWT_SUB", "a/b", 1);
	text_fails(DB, "JETWIRE_BRIDGE_JWT_SUB: expected 1..128 bytes without '/', '+', '#' or control "
			"characters, got 'a/b'");
	setenv("JETWIRE_BRIDGE_JWT_SUB", "line\nbreak", 1);
	text_fails(DB, "JETWIRE_BRIDGE_JWT_SUB: control character 0x0a at position 5");
}
END_TEST

START_TEST(a_variable_set_does_not_count_as_a_repeat)
{
	setenv("JETWIRE_BRIDGE_BATCH_SIZE", "9", 1);
	text_ok(DB "batch_size 8\n");
	ck_assert_int_eq(cfg.batch_size, 9);
}
END_TEST

START_TEST(refuses_unknown_variables)
{
	setenv("JETWIRE_BRIDGE_MQTT_PROT", "1883", 1);
	text_fails(DB, "JETWIRE_BRIDGE_MQTT_PROT: unknown option 'mqtt_prot' (did you mean 'mqtt_port'?)");
	unsetenv("JETWIRE_BRIDGE_MQTT_PROT");
	setenv("JETWIRE_BRIDGE_LOG_LEVEL", "debug", 1);
	load_fails(NULL, "JETWIRE_BRIDGE_LOG_LEVEL: unknown option 'log_level'");
	unsetenv("JETWIRE_BRIDGE_LOG_LEVEL");
	setenv("JETWIRE_BRIDGE_JWT_SECRET", SECRET40, 1);
	text_fails(DB, "JETWIRE_BRIDGE_JWT_SECRET: unknown option 'jwt_secret' (a secret is never written in "
			"the configuration: use jwt_secret_file, or the environment variable named by jwt_secret_env)");
	ck_assert_ptr_null(strstr(err, SECRET40));
	unsetenv("JETWIRE_BRIDGE_JWT_SECRET");
	setenv("JETWIRE_BRIDGE_mqtt_port", "1884", 1);
	text_fails(DB, "JETWIRE_BRIDGE_mqtt_port: unknown variable (the name is upper case: JETWIRE_BRIDGE_MQTT_PORT)");
	unsetenv("JETWIRE_BRIDGE_mqtt_port");
	setenv("JETWIRE_BRIDGE_", "x", 1);
	text_fails(DB, "JETWIRE_BRIDGE_: unknown option ''");
	unsetenv("JETWIRE_BRIDGE_");
	/* other prefixes are none of its business */
	setenv("JETWIRE_BRIDGEX", "1", 1);
	setenv("JETWIRE_PLUGIN_MQTT_PORT", "1", 1);
	text_ok(DB);
	unsetenv("JETWIRE_BRIDGEX");
	unsetenv("JETWIRE_PLUGIN_MQTT_PORT");
}
END_TEST

/* ---- freeing ---- */

START_TEST(free_is_safe_on_zeroed_partial_and_freed_structs)
{
	struct jwb_config c;
	memset(&c, 0, sizeof(c));
	jwb_config_free(&c);
	jwb_config_free(&c);
	jwb_config_free(NULL);

	/* partly filled by hand */
	c.database = strdup("x");
	c.jwt_issuer = strdup("y");
	c.statuses = calloc(3, sizeof(char *));
	ck_assert_ptr_nonnull(c.statuses);
	c.statuses[0] = strdup("A");
	c.n_statuses = 1;
	jwb_config_free(&c);
	ck_assert_ptr_null(c.database);
	ck_assert_ptr_null(c.statuses);
	jwb_config_free(&c);

	ck_assert_int_eq(jwb_config_defaults(&c), 0);
	jwb_config_free(&c);
	jwb_config_free(&c);
}
END_TEST

START_TEST(free_after_a_failed_load_and_a_reload)
{
	/* fails late: after the file and the environment filled everything */
	setenv("JETWIRE_BRIDGE_JWT_AUDIENCE", "aud", 1);
	text_fails(DB "jwt_issuer iss\nstatuses A,B\nterminal_statuses C\n",
			"terminal_statuses: 'C' is not in statuses");
	jwb_config_free(&cfg);
	jwb_config_free(&cfg);
	/* fails in the middle of the file */
	text_fails_at(DB "jwt_issuer iss\nstatuses A,B\nmqtt_port 0\n",
			"4: mqtt_port: expected an integer 1..65535, got '0'");
	jwb_config_free(&cfg);
	/* the same struct loads again after a failure */
	text_ok(DB);
	ck_assert_str_eq(cfg.jwt_audience, "aud");
	jwb_config_free(&cfg);
	jwb_config_free(&cfg);
	assert_freed();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bridge_config");
	TCase *tc = tcase_create("format");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults_are_the_documented_ones);
	tcase_add_test(tc, loads_without_a_file_from_the_environment);
	tcase_add_test(tc, a_file_with_only_the_database_keeps_every_default);
	tcase_add_test(tc, loads_a_full_file);
	tcase_add_test(tc, refuses_a_missing_file);
	tcase_add_test(tc, refuses_a_directory);
	tcase_add_test(tc, refuses_an_unreadable_file);
	tcase_add_test(tc, skips_comments_and_blank_lines_and_keeps_hash_in_values);
	tcase_add_test(tc, accepts_crlf_line_endings_and_a_missing_final_newline);
	tcase_add_test(tc, accepts_a_utf8_byte_order_mark);
	tcase_add_test(tc, refuses_a_key_without_a_value);
	tcase_add_test(tc, refuses_unknown_options_with_a_hint);
	tcase_add_test(tc, refuses_a_repeated_option);
	tcase_add_test(tc, limits_line_length_to_4096_bytes);
	tcase_add_test(tc, refuses_nul_and_control_characters);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, accepts_integer_range_edges, 0, (int)(sizeof(ranges) / sizeof(ranges[0])));
	tcase_add_loop_test(tc, refuses_integers_one_past_the_edges, 0, (int)(sizeof(ranges) / sizeof(ranges[0])));
	tcase_add_test(tc, refuses_integers_with_junk);
	tcase_add_test(tc, accepts_every_boolean_spelling);
	tcase_add_test(tc, refuses_other_booleans);
	tcase_add_test(tc, accepts_each_jwt_alg_and_nothing_else);
	tcase_add_test(tc, checks_names_used_in_topics_and_client_ids);
	tcase_add_test(tc, derives_the_client_id_from_jwt_sub);
	tcase_add_test(tc, refuses_a_bad_secret_variable_name);
	tcase_add_test(tc, parses_lists);
	tcase_add_test(tc, refuses_bad_lists);
	tcase_add_test(tc, requires_terminal_statuses_within_statuses);
	tcase_add_test(tc, answers_status_questions_exactly);
	suite_add_tcase(s, tc);

	tc = tcase_create("whole");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, requires_a_database);
	tcase_add_test(tc, requires_backoff_max_at_least_initial);
	tcase_add_test(tc, hmac_takes_the_secret_from_the_environment);
	tcase_add_test(tc, hmac_takes_the_secret_from_a_file);
	tcase_add_test(tc, hmac_refuses_a_private_key);
	tcase_add_test(tc, public_key_algs_need_a_private_key_file);
	tcase_add_test(tc, public_key_algs_refuse_a_secret_file);
	tcase_add_test(tc, a_token_file_works_with_any_alg_alone);
	tcase_add_test(tc, a_token_file_excludes_the_other_sources);
	suite_add_tcase(s, tc);

	tc = tcase_create("environment");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, the_environment_beats_the_file);
	tcase_add_test(tc, an_empty_variable_is_unset);
	tcase_add_test(tc, names_the_variable_in_its_errors);
	tcase_add_test(tc, a_variable_set_does_not_count_as_a_repeat);
	tcase_add_test(tc, refuses_unknown_variables);
	suite_add_tcase(s, tc);

	tc = tcase_create("free");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, free_is_safe_on_zeroed_partial_and_freed_structs);
	tcase_add_test(tc, free_after_a_failed_load_and_a_reload);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_run(suite());
}
