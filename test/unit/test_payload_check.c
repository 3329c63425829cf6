/*
 * Location and presence payloads (plugin/core/payload_check.c): every rule
 * both ways, the edges of every range, the ts window, and a corpus of
 * malformed JSON.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload_check.h"
#include "unit_support.h"

#define NOW INT64_C(1700000000000)     /* epoch ms */
#define SKEW INT64_C(300000)           /* 300 s */

static char reason[256];

static int loc_n(const char *p, size_t n)
{
	memset(reason, 'x', sizeof(reason));
	return jw_check_location(p, n, NOW, SKEW, reason, sizeof(reason));
}

static int loc(const char *p)
{
	return loc_n(p, strlen(p));
}

static int pres(const char *p)
{
	memset(reason, 'x', sizeof(reason));
	return jw_check_presence(p, strlen(p), NOW, SKEW, reason, sizeof(reason));
}

/* The reason names the problem and is printable ASCII. */
static void reason_ok(int line, const char *payload, const char *needle)
{
	ck_assert_msg(memchr(reason, '\0', sizeof(reason)) != NULL, "line %d: reason not terminated", line);
	ck_assert_msg(strstr(reason, needle) != NULL, "line %d: %s: reason '%s' lacks '%s'", line, payload,
			reason, needle);
	for(const char *r = reason; *r; r++){
		ck_assert_msg(*r >= 0x20 && *r < 0x7f, "line %d: reason has byte 0x%02x", line, (unsigned char)*r);
	}
}

#define LOC_OK(p) do { \
	int v_ = loc(p); \
	ck_assert_msg(v_ == JW_PV_OK, "line %d: %s refused (%s): %s", __LINE__, (p), \
			jw_payload_verdict_name(v_), reason); \
	ck_assert_str_eq(reason, ""); \
} while(0)
#define LOC_BAD(p, verdict, needle) do { \
	int v_ = loc(p); \
	ck_assert_msg(v_ == (verdict), "line %d: %s: got %s (%s), want %s", __LINE__, (p), \
			jw_payload_verdict_name(v_), reason, jw_payload_verdict_name(verdict)); \
	reason_ok(__LINE__, (p), (needle)); \
} while(0)
#define PRES_OK(p) do { \
	int v_ = pres(p); \
	ck_assert_msg(v_ == JW_PV_OK, "line %d: %s refused (%s): %s", __LINE__, (p), \
			jw_payload_verdict_name(v_), reason); \
} while(0)
#define PRES_BAD(p, verdict, needle) do { \
	int v_ = pres(p); \
	ck_assert_msg(v_ == (verdict), "line %d: %s: got %s (%s), want %s", __LINE__, (p), \
			jw_payload_verdict_name(v_), reason, jw_payload_verdict_name(verdict)); \
	reason_ok(__LINE__, (p), (needle)); \
} while(0)

/* ---- location: what is accepted ---- */

START_TEST(accepts_minimal_location)
{
	LOC_OK("{\"lat\":52.37,\"lng\":4.89,\"ts\":1700000000000}");
	LOC_OK("{\"ts\":1700000000000,\"lng\":4.89,\"lat\":52.37}");   /* any order */
	LOC_OK(" \t\r\n{ \"lat\" : 0 , \"lng\" : -0 , \"ts\" : 1700000000000 } \n");
	LOC_OK("{\"lat\":5e1,\"lng\":-1.25E+2,\"ts\":1700000000000}");
	LOC_OK("{\"lat\":0.5e-3,\"lng\":1e-400,\"ts\":1700000000000}");  /* underflow is 0 */
}
END_TEST

START_TEST(accepts_every_optional_field)
{
	LOC_OK("{\"lat\":52.37,\"lng\":4.89,\"ts\":1700000000000,\"heading\":180.5,\"speed\":12.5,"
			"\"accuracy\":8,\"orderId\":\"ord-42\"}");
	LOC_OK("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\\u00e9t\\u00e9 \\ud83d\\ude9a \xc3\xa9\"}");
}
END_TEST

START_TEST(accepts_range_edges)
{
	LOC_OK("{\"lat\":-90,\"lng\":-180,\"ts\":1700000000000}");
	LOC_OK("{\"lat\":90,\"lng\":180,\"ts\":1700000000000}");
	LOC_OK("{\"lat\":90.0,\"lng\":180.000,\"ts\":1700000000000}");
	LOC_OK("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"heading\":0}");
	LOC_OK("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"heading\":359.999}");
	LOC_OK("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"speed\":0,\"accuracy\":0}");
	LOC_OK("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"speed\":1e300,\"accuracy\":-0}");
}
END_TEST

START_TEST(accepts_order_id_of_1_and_128_bytes)
{
	char p[400], id[200];
	memset(id, 'a', 128);
	id[128] = '\0';
	snprintf(p, sizeof(p), "{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"%s\"}", id);
	LOC_OK(p);
	LOC_OK("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"a\"}");
	/* 128 bytes of UTF-8: 64 two-byte characters */
	id[0] = '\0';
	for(int i = 0; i < 64; i++) strcat(id, "\xc3\xa9");
	snprintf(p, sizeof(p), "{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"%s\"}", id);
	LOC_OK(p);
}
END_TEST

START_TEST(accepts_exactly_512_bytes)
{
	char p[600];
	int n = snprintf(p, sizeof(p), "{\"lat\":1,\"lng\":1,\"ts\":1700000000000}");
	memset(p + n, ' ', 512 - (size_t)n);
	p[512] = '\0';
	ck_assert_int_eq(loc_n(p, 512), JW_PV_OK);
	p[512] = ' ';
	p[513] = '\0';
	ck_assert_int_eq(loc_n(p, 513), JW_PV_TOO_LARGE);
	reason_ok(__LINE__, "513", "payload is 513 bytes (max 512)");
}
END_TEST

/* ---- location: the ts window ---- */

START_TEST(accepts_ts_within_the_skew)
{
	LOC_OK("{\"lat\":1,\"lng\":1,\"ts\":1700000300000}");   /* +300 s exactly */
	LOC_OK("{\"lat\":1,\"lng\":1,\"ts\":1699999700000}");   /* -300 s exactly */
}
END_TEST

START_TEST(refuses_ts_beyond_the_skew)
{
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000300001}", JW_PV_STALE_TS,
			"ts 1700000300001 is 301 s in the future (max skew 300 s)");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1699999699999}", JW_PV_STALE_TS,
			"ts 1699999699999 is 301 s in the past (max skew 300 s)");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1699996400000}", JW_PV_STALE_TS, "is 3600 s in the past");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000}", JW_PV_STALE_TS, "in the past"); /* seconds, not ms */
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":0}", JW_PV_STALE_TS, "in the past");
}
END_TEST

START_TEST(skew_zero_disables_the_window)
{
	const char *p = "{\"lat\":1,\"lng\":1,\"ts\":1}";
	ck_assert_int_eq(jw_check_location(p, strlen(p), NOW, 0, reason, sizeof(reason)), JW_PV_OK);
	p = "{\"lat\":1,\"lng\":1,\"ts\":1.5}";
	ck_assert_int_eq(jw_check_location(p, strlen(p), NOW, 0, reason, sizeof(reason)), JW_PV_MALFORMED);
}
END_TEST

START_TEST(refuses_ts_that_is_not_an_integer)
{
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000.0}", JW_PV_MALFORMED, "ts must be an integer");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1.7e12}", JW_PV_MALFORMED, "ts must be an integer");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":\"1700000000000\"}", JW_PV_MALFORMED, "ts must be an integer");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":null}", JW_PV_MALFORMED, "ts must be an integer");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":-1}", JW_PV_OUT_OF_RANGE, "ts -1 out of range");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":9007199254740992}", JW_PV_OUT_OF_RANGE, "out of range 0..9007199254740991");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":99999999999999999999999}", JW_PV_OUT_OF_RANGE, "out of range");
}
END_TEST

/* ---- location: ranges and types ---- */

START_TEST(refuses_values_out_of_range)
{
	LOC_BAD("{\"lat\":91.5,\"lng\":1,\"ts\":1700000000000}", JW_PV_OUT_OF_RANGE, "lat 91.5 out of range -90..90");
	LOC_BAD("{\"lat\":-90.0001,\"lng\":1,\"ts\":1700000000000}", JW_PV_OUT_OF_RANGE, "lat -90.0001 out of range");
	LOC_BAD("{\"lat\":1,\"lng\":180.5,\"ts\":1700000000000}", JW_PV_OUT_OF_RANGE, "lng 180.5 out of range -180..180");
	LOC_BAD("{\"lat\":1,\"lng\":-181,\"ts\":1700000000000}", JW_PV_OUT_OF_RANGE, "lng -181");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"heading\":360}", JW_PV_OUT_OF_RANGE,
			"heading 360 out of range 0..360 (360 excluded)");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"heading\":-0.1}", JW_PV_OUT_OF_RANGE, "heading -0.1");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"speed\":-1}", JW_PV_OUT_OF_RANGE, "speed -1 out of range >= 0");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"accuracy\":-0.5}", JW_PV_OUT_OF_RANGE, "accuracy -0.5");
	LOC_BAD("{\"lat\":1e999,\"lng\":1,\"ts\":1700000000000}", JW_PV_OUT_OF_RANGE, "lat 1e999 is not a finite number");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"speed\":1e309}", JW_PV_OUT_OF_RANGE, "not a finite number");
}
END_TEST

START_TEST(refuses_values_of_the_wrong_type)
{
	LOC_BAD("{\"lat\":\"52.37\",\"lng\":1,\"ts\":1700000000000}", JW_PV_MALFORMED, "lat must be a number");
	LOC_BAD("{\"lat\":true,\"lng\":1,\"ts\":1700000000000}", JW_PV_MALFORMED, "lat must be a number");
	LOC_BAD("{\"lat\":null,\"lng\":1,\"ts\":1700000000000}", JW_PV_MALFORMED, "lat must be a number");
	LOC_BAD("{\"lat\":[52.37],\"lng\":1,\"ts\":1700000000000}", JW_PV_MALFORMED, "lat must be a number");
	LOC_BAD("{\"lat\":{\"v\":1},\"lng\":1,\"ts\":1700000000000}", JW_PV_MALFORMED, "lat must be a number");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"heading\":\"N\"}", JW_PV_MALFORMED, "heading must be a number");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"speed\":false}", JW_PV_MALFORMED, "speed must be a number");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"accuracy\":[]}", JW_PV_MALFORMED, "accuracy must be a number");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":42}", JW_PV_MALFORMED,
			"orderId must be a string of 1..128 bytes");
}
END_TEST

START_TEST(refuses_order_id_empty_too_long_or_with_controls)
{
	char p[400], id[200];
	memset(id, 'a', 129);
	id[129] = '\0';
	snprintf(p, sizeof(p), "{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"%s\"}", id);
	LOC_BAD(p, JW_PV_OUT_OF_RANGE, "orderId must be a string of 1..128 bytes (got 129)");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\"}", JW_PV_OUT_OF_RANGE, "(got 0)");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"a\\nb\"}", JW_PV_OUT_OF_RANGE,
			"orderId must not contain control characters");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"a\\u0000b\"}", JW_PV_OUT_OF_RANGE,
			"control characters");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"a\x7f\"}", JW_PV_OUT_OF_RANGE,
			"control characters");
}
END_TEST

START_TEST(refuses_missing_required_fields)
{
	LOC_BAD("{\"lng\":1,\"ts\":1700000000000}", JW_PV_MALFORMED, "lat missing");
	LOC_BAD("{\"lat\":1,\"ts\":1700000000000}", JW_PV_MALFORMED, "lng missing");
	LOC_BAD("{\"lat\":1,\"lng\":1}", JW_PV_MALFORMED, "ts missing");
	LOC_BAD("{}", JW_PV_MALFORMED, "lat missing");
	/* malformed wins over a range problem found earlier */
	LOC_BAD("{\"lat\":95,\"lng\":1}", JW_PV_MALFORMED, "ts missing");
}
END_TEST

START_TEST(refuses_unknown_fields)
{
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"foo\":1}", JW_PV_MALFORMED, "unknown field 'foo'");
	LOC_BAD("{\"Lat\":1,\"lng\":1,\"ts\":1700000000000}", JW_PV_MALFORMED, "unknown field 'Lat'");
	LOC_BAD("{\"\":1}", JW_PV_MALFORMED, "unknown field ''");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"status\":\"online\"}", JW_PV_MALFORMED,
			"unknown field 'status'");
	/* a huge key is cut, and odd bytes are not copied into the reason */
	LOC_BAD("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}",
			JW_PV_MALFORMED, "unknown field 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
	LOC_BAD("{\"a\\nb\\u001b[31m'\":1}", JW_PV_MALFORMED, "unknown field 'a?b?[31m?'");
	LOC_BAD("{\"\xc3\xa9t\xc3\xa9\":1}", JW_PV_MALFORMED, "unknown field '?\?t?\?'");
}
END_TEST

START_TEST(accepts_escaped_field_names)
{
	LOC_OK("{\"l\\u0061t\":1,\"\\u006cng\":1,\"ts\":1700000000000}");
}
END_TEST

START_TEST(refuses_duplicate_fields)
{
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"lat\":2}", JW_PV_MALFORMED, "duplicate field 'lat'");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"l\\u0061t\":2}", JW_PV_MALFORMED, "duplicate field 'lat'");
	LOC_BAD("{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"speed\":1,\"speed\":1}", JW_PV_MALFORMED,
			"duplicate field 'speed'");
}
END_TEST

START_TEST(refuses_oversized_payload_before_reading_it)
{
	char p[2000];
	memset(p, '{', sizeof(p));
	ck_assert_int_eq(loc_n(p, sizeof(p)), JW_PV_TOO_LARGE);
	reason_ok(__LINE__, "2000", "payload is 2000 bytes (max 512)");
}
END_TEST

/* ---- malformed JSON corpus ---- */

START_TEST(refuses_malformed_json)
{
	/* n 0: strlen(p) */
	static const struct { const char *p; size_t n; const char *why; } cases[] = {
		{"", 0, "empty payload"},
		{" ", 0, "not a JSON object"},
		{"null", 0, "not a JSON object"},
		{"[1,2]", 0, "not a JSON object"},
		{"\"lat\"", 0, "not a JSON object"},
		{"52.37", 0, "not a JSON object"},
		{"\xef\xbb\xbf{\"lat\":1,\"lng\":1,\"ts\":1700000000000}", 0, "not a JSON object"},   /* BOM */
		{"{", 0, "unterminated object"},
		{"{\"lat\":1", 0, "unterminated object"},
		{"{\"lat\":1,", 0, "unterminated object"},
		{"{\"lat\"", 0, "expected ':' after 'lat'"},
		{"{\"lat\":", 0, "unterminated object"},
		{"{\"lat\" 1}", 0, "expected ':' after 'lat'"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,}", 0, "trailing comma"},
		{"{\"lat\":1,,\"lng\":1}", 0, "expected a field name"},
		{"{,}", 0, "expected a field name"},
		{"{lat:1,lng:1,ts:1700000000000}", 0, "expected a field name"},
		{"{'lat':1}", 0, "expected a field name"},
		{"{\"lat\":1 \"lng\":1}", 0, "expected ',' or '}' after the value of 'lat'"},
		{"{\"lat\":1;\"lng\":1}", 0, "expected ',' or '}'"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000}}", 0, "trailing data"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000} {}", 0, "trailing data"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000}\0", 37, "trailing data"},
		{"{\"lat\":NaN,\"lng\":1,\"ts\":1700000000000}", 0, "lat must be a number"},
		{"{\"lat\":Infinity,\"lng\":1,\"ts\":1700000000000}", 0, "lat must be a number"},
		{"{\"lat\":-Infinity,\"lng\":1,\"ts\":1700000000000}", 0, "lat: invalid number"},
		{"{\"lat\":+1,\"lng\":1,\"ts\":1700000000000}", 0, "lat must be a number"},
		{"{\"lat\":.5,\"lng\":1,\"ts\":1700000000000}", 0, "lat must be a number"},
		{"{\"lat\":01,\"lng\":1,\"ts\":1700000000000}", 0, "lat: invalid number (leading zero)"},
		{"{\"lat\":-01,\"lng\":1,\"ts\":1700000000000}", 0, "leading zero"},
		{"{\"lat\":1,\"lng\":1,\"ts\":01700000000000}", 0, "ts: invalid number (leading zero)"},
		{"{\"lat\":1.,\"lng\":1,\"ts\":1700000000000}", 0, "no digit after '.'"},
		{"{\"lat\":1e,\"lng\":1,\"ts\":1700000000000}", 0, "no digit in the exponent"},
		{"{\"lat\":1e+,\"lng\":1,\"ts\":1700000000000}", 0, "no digit in the exponent"},
		{"{\"lat\":-,\"lng\":1,\"ts\":1700000000000}", 0, "lat: invalid number"},
		{"{\"lat\":0x10,\"lng\":1,\"ts\":1700000000000}", 0, "expected ',' or '}'"},
		{"{\"lat\":1.000000000000000000000000000000001,\"lng\":1,\"ts\":1700000000000}",
			0, "number longer than 32 characters"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"abc}", 0, "unterminated string"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"a\tb\"}", 0, "control character 0x09"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"a\\x41\"}", 0, "invalid escape"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"a\\'\"}", 0, "invalid escape"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\\u12\"}", 0, "invalid \\u escape"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\\u12g4\"}", 0, "invalid \\u escape"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\\ud83d\"}", 0, "unpaired UTF-16 surrogate"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\\ude9a\"}", 0, "unpaired UTF-16 surrogate"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\\ud83d\\u0041\"}", 0, "unpaired"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\\",
			0, "unterminated string"},
		/* invalid UTF-8: lone continuation, overlong, encoded surrogate,
		 * above U+10FFFF, truncated sequence, 0xFF */
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\x80\"}", 0, "invalid UTF-8"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\xc0\xaf\"}", 0, "invalid UTF-8"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\xe0\x80\xaf\"}", 0, "invalid UTF-8"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\xed\xa0\x80\"}", 0, "invalid UTF-8"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\xf4\x90\x80\x80\"}", 0, "invalid UTF-8"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\xe2\x82\"}", 0, "invalid UTF-8"},
		{"{\"lat\":1,\"lng\":1,\"ts\":1700000000000,\"orderId\":\"\xff\"}", 0, "invalid UTF-8"},
		{"{\"\xc3\":1}", 0, "invalid UTF-8"},
	};
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++){
		size_t n = cases[i].n ? cases[i].n : strlen(cases[i].p);
		int v = loc_n(cases[i].p, n);
		ck_assert_msg(v == JW_PV_MALFORMED, "case %zu %s: got %s (%s)", i, cases[i].p,
				jw_payload_verdict_name(v), reason);
		reason_ok(__LINE__, cases[i].p, cases[i].why);
	}
}
END_TEST

START_TEST(refuses_deep_nesting_at_its_first_byte)
{
	char p[512];
	size_t n = 0;
	n += (size_t)snprintf(p, sizeof(p), "{\"lat\":");
	while(n < 400) p[n++] = '[';
	p[n] = '\0';
	LOC_BAD(p, JW_PV_MALFORMED, "lat must be a number");
	/* an unknown field is refused at its name: its value is never read */
	n = (size_t)snprintf(p, sizeof(p), "{\"x\":");
	while(n < 500) p[n++] = '{';
	p[n] = '\0';
	LOC_BAD(p, JW_PV_MALFORMED, "unknown field 'x'");
}
END_TEST

START_TEST(works_without_a_reason_buffer)
{
	const char *bad = "{\"lat\":91,\"lng\":1,\"ts\":1700000000000}";
	ck_assert_int_eq(jw_check_location(bad, strlen(bad), NOW, SKEW, NULL, 0), JW_PV_OUT_OF_RANGE);
	/* a short buffer is cut, still terminated */
	char tiny[8];
	ck_assert_int_eq(jw_check_location(bad, strlen(bad), NOW, SKEW, tiny, sizeof(tiny)), JW_PV_OUT_OF_RANGE);
	ck_assert_str_eq(tiny, "lat 91 ");
}
END_TEST

START_TEST(reads_only_len_bytes)
{
	/* the payload is not NUL-terminated: what follows len is not read */
	const char *p = "{\"lat\":1,\"lng\":1,\"ts\":1700000000000}garbage";
	ck_assert_int_eq(loc_n(p, strlen(p) - 7), JW_PV_OK);
	ck_assert_int_eq(loc_n(p, 10), JW_PV_MALFORMED);
}
END_TEST

/* ---- presence ---- */

START_TEST(accepts_presence)
{
	PRES_OK("{\"status\":\"online\",\"ts\":1700000000000}");
	PRES_OK("{\"ts\":1700000000000,\"status\":\"offline\"}");
	PRES_OK("{\"status\":\"offline\",\"ts\":1}");             /* a last will written long ago */
	PRES_OK("{\"status\":\"online\",\"ts\":1700000300000}");  /* +300 s */
	PRES_OK("{\"status\":\"o\\u006eline\",\"ts\":1700000000000}");
}
END_TEST

START_TEST(refuses_bad_presence)
{
	PRES_BAD("{\"status\":\"online\",\"ts\":1700000300001}", JW_PV_STALE_TS, "is 301 s in the future (max skew 300 s)");
	PRES_BAD("{\"status\":\"away\",\"ts\":1700000000000}", JW_PV_OUT_OF_RANGE, "status must be \"online\" or \"offline\"");
	PRES_BAD("{\"status\":\"Online\",\"ts\":1700000000000}", JW_PV_OUT_OF_RANGE, "status must be");
	PRES_BAD("{\"status\":\"onlinex\",\"ts\":1700000000000}", JW_PV_OUT_OF_RANGE, "status must be");
	PRES_BAD("{\"status\":1,\"ts\":1700000000000}", JW_PV_MALFORMED, "status must be");
	PRES_BAD("{\"status\":\"online\"}", JW_PV_MALFORMED, "ts missing");
	PRES_BAD("{\"ts\":1700000000000}", JW_PV_MALFORMED, "status missing");
	PRES_BAD("{\"status\":\"online\",\"ts\":1700000000000,\"lat\":1}", JW_PV_MALFORMED, "unknown field 'lat'");
	PRES_BAD("{\"status\":\"online\",\"status\":\"offline\",\"ts\":1}", JW_PV_MALFORMED, "duplicate field 'status'");
	PRES_BAD("{\"status\":\"online\",\"ts\":1.5}", JW_PV_MALFORMED, "ts must be an integer");
	PRES_BAD("online", JW_PV_MALFORMED, "not a JSON object");
	char p[300];
	int n = snprintf(p, sizeof(p), "{\"status\":\"online\",\"ts\":1700000000000}");
	memset(p + n, ' ', 257 - (size_t)n);
	p[257] = '\0';
	PRES_BAD(p, JW_PV_TOO_LARGE, "payload is 257 bytes (max 256)");
	p[256] = '\0';
	PRES_OK(p);
}
END_TEST

START_TEST(dispatches_on_kind)
{
	const char *l = "{\"lat\":1,\"lng\":1,\"ts\":1700000000000}";
	const char *s = "{\"status\":\"online\",\"ts\":1700000000000}";
	ck_assert_int_eq(jw_check_payload(JW_PAYLOAD_LOCATION, l, strlen(l), NOW, SKEW, reason, sizeof(reason)), JW_PV_OK);
	ck_assert_int_eq(jw_check_payload(JW_PAYLOAD_PRESENCE, s, strlen(s), NOW, SKEW, reason, sizeof(reason)), JW_PV_OK);
	ck_assert_int_eq(jw_check_payload(JW_PAYLOAD_LOCATION, s, strlen(s), NOW, SKEW, reason, sizeof(reason)),
			JW_PV_MALFORMED);
	ck_assert_int_eq(jw_check_payload(JW_PAYLOAD_KIND_COUNT, s, strlen(s), NOW, SKEW, reason, sizeof(reason)),
			JW_PV_MALFORMED);
	ck_assert_uint_eq(jw_payload_max_bytes(JW_PAYLOAD_LOCATION), 512);
	ck_assert_uint_eq(jw_payload_max_bytes(JW_PAYLOAD_PRESENCE), 256);
	ck_assert_str_eq(jw_payload_kind_name(JW_PAYLOAD_PRESENCE), "presence");
	ck_assert_str_eq(jw_payload_verdict_name(JW_PV_TOO_LARGE), "too_large");
	ck_assert_str_eq(jw_payload_verdict_name(JW_PV_MALFORMED), "malformed");
	ck_assert_str_eq(jw_payload_verdict_name(JW_PV_OUT_OF_RANGE), "out_of_range");
	ck_assert_str_eq(jw_payload_verdict_name(JW_PV_STALE_TS), "stale_ts");
}
END_TEST

static Suite *payload_suite(void)
{
	Suite *s = suite_create("payload_check");
	TCase *tc = tcase_create("location");
	tcase_add_test(tc, accepts_minimal_location);
	tcase_add_test(tc, accepts_every_optional_field);
	tcase_add_test(tc, accepts_range_edges);
	tcase_add_test(tc, accepts_order_id_of_1_and_128_bytes);
	tcase_add_test(tc, accepts_exactly_512_bytes);
	tcase_add_test(tc, accepts_ts_within_the_skew);
	tcase_add_test(tc, refuses_ts_beyond_the_skew);
	tcase_add_test(tc, skew_zero_disables_the_window);
	tcase_add_test(tc, refuses_ts_that_is_not_an_integer);
	tcase_add_test(tc, refuses_values_out_of_range);
	tcase_add_test(tc, refuses_values_of_the_wrong_type);
	tcase_add_test(tc, refuses_order_id_empty_too_long_or_with_controls);
	tcase_add_test(tc, refuses_missing_required_fields);
	tcase_add_test(tc, refuses_unknown_fields);
	tcase_add_test(tc, accepts_escaped_field_names);
	tcase_add_test(tc, refuses_duplicate_fields);
	tcase_add_test(tc, refuses_oversized_payload_before_reading_it);
	tcase_add_test(tc, works_without_a_reason_buffer);
	tcase_add_test(tc, reads_only_len_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_test(tc, refuses_malformed_json);
	tcase_add_test(tc, refuses_deep_nesting_at_its_first_byte);
	suite_add_tcase(s, tc);

	tc = tcase_create("presence");
	tcase_add_test(tc, accepts_presence);
	tcase_add_test(tc, refuses_bad_presence);
	tcase_add_test(tc, dispatches_on_kind);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_run(payload_suite());
}
