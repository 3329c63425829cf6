/*
 * Bridge payloads (bridge/payload.c): the orderStatus, driverAssignment and
 * notification documents, their limits and errors, ids, UTF-8, and the
 * timestamp conversions.  Every built document is parsed back with json-c
 * and checked field by field, type included.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"
#include "unit_support.h"

/* 2026-11-25T22:50:01.123Z */
#define TS INT64_C(1795647001123)
#define TS_TEXT "2026-11-25T22:50:01.123Z"

static char err[512];

static void setup(void)
{
	memset(err, 0, sizeof(err));
}

/* A string of n copies of c (caller frees). */
static char *rep(char c, size_t n)
{
	char *s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void assert_err(const char *want)
{
	ck_assert_msg(strcmp(err, want) == 0, "error '%s', want '%s'", err, want);
}

static void assert_err_has(const char *needle)
{
	ck_assert_msg(strstr(err, needle) != NULL, "error '%s' does not mention '%s'", err, needle);
}

/* ------------------------------------------------------------------------ */
/* orderStatus */

static struct jwb_order_status os_sample(void)
{
	return (struct jwb_order_status){
		.order_id = "ord-42", .order_number = "ORD-2026-0042",
		.status = "picked_up", .previous_status = "confirmed",
		.version = 3, .ts_ms = TS,
	};
}

static void os_fails(const struct jwb_order_status *p, const char *want)
{
	memset(err, 0, sizeof(err));
	char *s = jwb_payload_order_status(p, err, sizeof(err));
	ck_assert_msg(s == NULL, "accepted: %s", s ? s : "");
	assert_err(want);
}

static void os_ok(const struct jwb_order_status *p)
{
	char *s = jwb_payload_order_status(p, err, sizeof(err));
	ck_assert_msg(s != NULL, "refused: %s", err);
	free(s);
}

START_TEST(order_status_has_every_field)
{
	struct jwb_order_status p = os_sample();
	char *s = jwb_payload_order_status(&p, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_str_eq(s, "{\"orderId\":\"ord-42\",\"orderNumber\":\"ORD-2026-0042\",\"status\":\"picked_up\","
		"\"previousStatus\":\"confirmed\",\"version\":3,\"timestamp\":\"" TS_TEXT "\"}");
	struct json_object *o = ut_json_parse(s);
	ut_json_assert_keys(o, "orderId", "orderNumber", "status", "previousStatus", "version", "timestamp", NULL);
	ut_json_assert_str(o, "orderId", "ord-42");
	ut_json_assert_str(o, "orderNumber", "ORD-2026-0042");
	ut_json_assert_str(o, "status", "picked_up");
	ut_json_assert_str(o, "previousStatus", "confirmed");
	ut_json_assert_int(o, "version", 3);
	ut_json_assert_str(o, "timestamp", TS_TEXT);
	json_object_put(o);
	free(s);
}
END_TEST

START_TEST(order_status_null_optionals_are_json_null)
{
	struct jwb_order_status p = os_sample();
	p.order_number = NULL;
	p.previous_status = NULL;
	char *s = jwb_payload_order_status(&p, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	struct json_object *o = ut_json_parse(s);
	ut_json_assert_keys(o, "orderId", "orderNumber", "status", "previousStatus", "version", "timestamp", NULL);
	ut_json_assert_null(o, "orderNumber");
	ut_json_assert_null(o, "previousStatus");
	ut_json_assert_str(o, "status", "picked_up");
	json_object_put(o);
	free(s);
}
END_TEST

START_TEST(order_status_writes_large_versions_exactly)
{
	struct jwb_order_status p = os_sample();
	p.version = INT64_MAX;
	char *s = jwb_payload_order_status(&p, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_ptr_nonnull(strstr(s, "\"version\":9223372036854775807,"));
	struct json_object *o = ut_json_parse(s);
	ut_json_assert_int(o, "version", INT64_MAX);
	json_object_put(o);
	free(s);
}
END_TEST

START_TEST(order_status_errors_name_the_field)
{
	struct jwb_order_status p;
	char *ord300 = rep('o', 300);
	char *num257 = rep('n', 257);
	char *st65 = rep('s', 65);

	memset(err, 0, sizeof(err));
	ck_assert_ptr_null(jwb_payload_order_status(NULL, err, sizeof(err)));
	ck_assert_uint_gt(strlen(err), 0);

	p = os_sample(); p.order_id = NULL; os_fails(&p, "orderId is NULL");
	p = os_sample(); p.order_id = ""; os_fails(&p, "orderId is empty");
	p = os_sample(); p.order_id = ord300; os_fails(&p, "orderId is 300 bytes (max 128)");
	p = os_sample(); p.order_id = "a/b"; os_fails(&p, "orderId 'a/b' contains '/'");
	p = os_sample(); p.order_id = "a+b"; os_fails(&p, "orderId 'a+b' contains '+'");
	p = os_sample(); p.order_id = "a#"; os_fails(&p, "orderId 'a#' contains '#'");
	p = os_sample(); p.order_number = num257; os_fails(&p, "orderNumber is 257 bytes (max 256)");
	p = os_sample(); p.status = NULL; os_fails(&p, "status is NULL");
	p = os_sample(); p.status = ""; os_fails(&p, "status is empty");
	p = os_sample(); p.status = st65; os_fails(&p, "status is 65 bytes (max 64)");
	p = os_sample(); p.previous_status = st65; os_fails(&p, "previousStatus is 65 bytes (max 64)");
	p = os_sample(); p.version = 0; os_fails(&p, "version is 0 (must be >= 1)");
	p = os_sample(); p.version = -5; os_fails(&p, "version is -5 (must be >= 1)");
	p = os_sample(); p.status = "caf\xc3"; os_fails(&p, "status is not valid UTF-8");
	p = os_sample(); p.order_number = "\xff"; os_fails(&p, "orderNumber is not valid UTF-8");
	p = os_sample(); p.previous_status = "\xed\xa0\x80"; os_fails(&p, "previousStatus is not valid UTF-8");

	/* no error buffer: still refused, no crash */
	p = os_sample(); p.status = NULL;
	ck_assert_ptr_null(jwb_payload_order_status(&p, NULL, 0));
	ck_assert_ptr_null(jwb_payload_order_status(&p, err, 1));
	ck_assert_str_eq(err, "");
	free(ord300);
	free(num257);
	free(st65);
}
END_TEST

START_TEST(order_status_limits_at_the_edge)
{
	struct jwb_order_status p;
	char *ord128 = rep('o', JWB_ID_MAX);
	char *ord129 = rep('o', JWB_ID_MAX + 1);
	char *num256 = rep('n', JWB_ORDER_NUMBER_MAX);
	char *num257 = rep('n', JWB_ORDER_NUMBER_MAX + 1);
	char *st64 = rep('s', JWB_STATUS_MAX);
	char *st65 = rep('s', JWB_STATUS_MAX + 1);

	p = os_sample(); p.order_id = ord128; os_ok(&p);
	p = os_sample(); p.order_id = ord129; os_fails(&p, "orderId is 129 bytes (max 128)");
	p = os_sample(); p.order_number = num256; os_ok(&p);
	p = os_sample(); p.order_number = num257; os_fails(&p, "orderNumber is 257 bytes (max 256)");
	p = os_sample(); p.order_number = ""; os_ok(&p);
	p = os_sample(); p.status = st64; os_ok(&p);
	p = os_sample(); p.status = st65; os_fails(&p, "status is 65 bytes (max 64)");
	p = os_sample(); p.status = "x"; os_ok(&p);
	p = os_sample(); p.previous_status = st64; os_ok(&p);
	p = os_sample(); p.version = 1; os_ok(&p);
	/* limits are bytes: 32 two-byte characters fill status exactly */
	char st_utf8[2 * 33 + 1] = "";
	for(int i = 0; i < 32; i++) strcat(st_utf8, "\xc3\xa9");
	p = os_sample(); p.status = st_utf8; os_ok(&p);
	strcat(st_utf8, "\xc3\xa9");
	p = os_sample(); p.status = st_utf8; os_fails(&p, "status is 66 bytes (max 64)");

	free(ord128); free(ord129); free(num256); free(num257); free(st64); free(st65);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* driverAssignment */

static struct jwb_driver_assignment da_sample(void)
{
	return (struct jwb_driver_assignment){
		.order_id = "ord-42", .driver_id = "drv-7", .role = "pickup",
		.name = "Ada Driver", .rating = 4.8, .has_rating = true,
		.vehicle_type = "van", .version = 2, .ts_ms = TS,
	};
}

static void da_fails(const struct jwb_driver_assignment *p, const char *want)
{
	memset(err, 0, sizeof(err));
	char *s = jwb_payload_driver_assignment(p, err, sizeof(err));
	ck_assert_msg(s == NULL, "accepted: %s", s ? s : "");
	assert_err(want);
}

static void da_ok(const struct jwb_driver_assignment *p)
{
	char *s = jwb_payload_driver_assignment(p, err, sizeof(err));
	ck_assert_msg(s != NULL, "refused: %s", err);
	free(s);
}

START_TEST(driver_assignment_has_every_field)
{
	struct jwb_driver_assignment p = da_sample();
	char *s = jwb_payload_driver_assignment(&p, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_str_eq(s, "{\"orderId\":\"ord-42\",\"driverId\":\"drv-7\",\"role\":\"pickup\","
		"\"name\":\"Ada Driver\",\"rating\":4.8,\"vehicleType\":\"van\",\"version\":2,"
		"\"timestamp\":\"" TS_TEXT "\"}");
	struct json_object *o = ut_json_parse(s);
	ut_json_assert_keys(o, "orderId", "driverId", "role", "name", "rating", "vehicleType", "version", "timestamp", NULL);
	ut_json_assert_str(o, "orderId", "ord-42");
	ut_json_assert_str(o, "driverId", "drv-7");
	ut_json_assert_str(o, "role", "pickup");
	ut_json_assert_str(o, "name", "Ada Driver");
	struct json_object *r = ut_json_field(o, "rating");
	ck_assert(json_object_is_type(r, json_type_double));
	ck_assert(json_object_get_double(r) == 4.8);
	ut_json_assert_str(o, "vehicleType", "van");
	ut_json_assert_int(o, "version", 2);
	ut_json_assert_str(o, "timestamp", TS_TEXT);
	json_object_put(o);
	free(s);
}
END_TEST

START_TEST(driver_assignment_null_optionals_are_json_null)
{
	struct jwb_driver_assignment p = da_sample();
	p.driver_id = NULL;
	p.name = NULL;
	p.has_rating = false;
	p.rating = NAN; /* ignored without has_rating */
	p.vehicle_type = NULL;
	p.role = "delivery";
	char *s = jwb_payload_driver_assignment(&p, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	struct json_object *o = ut_json_parse(s);
	ut_json_assert_keys(o, "orderId", "driverId", "role", "name", "rating", "vehicleType", "version", "timestamp", NULL);
	ut_json_assert_null(o, "driverId");
	ut_json_assert_str(o, "role", "delivery");
	ut_json_assert_null(o, "name");
	ut_json_assert_null(o, "rating");
	ut_json_assert_null(o, "vehicleType");
	json_object_put(o);
	free(s);
}
END_TEST

START_TEST(driver_assignment_ratings_read_back_exactly)
{
	static const double ratings[] = {0.0, 5.0, 4.8, 3.14159, 0.1, 1.0 / 3.0, 4.999999999999999};
	for(size_t i = 0; i < sizeof(ratings) / sizeof(ratings[0]); i++){
		struct jwb_driver_assignment p = da_sample();
		p.rating = ratings[i];
		char *s = jwb_payload_driver_assignment(&p, err, sizeof(err));
		ck_assert_msg(s != NULL, "%g: %s", ratings[i], err);
		struct json_object *o = ut_json_parse(s);
		struct json_object *r = ut_json_field(o, "rating");
		ck_assert(json_object_is_type(r, json_type_double) || json_object_is_type(r, json_type_int));
		ck_assert_msg(json_object_get_double(r) == ratings[i], "%.17g came back as %.17g in %s",
			ratings[i], json_object_get_double(r), s);
		json_object_put(o);
		free(s);
	}
}
END_TEST

START_TEST(driver_assignment_errors_name_the_field)
{
	struct jwb_driver_assignment p;
	char *name257 = rep('n', JWB_NAME_MAX + 1);
	char *veh65 = rep('v', JWB_VEHICLE_TYPE_MAX + 1);

	memset(err, 0, sizeof(err));
	ck_assert_ptr_null(jwb_payload_driver_assignment(NULL, err, sizeof(err)));
	ck_assert_uint_gt(strlen(err), 0);

	p = da_sample(); p.order_id = NULL; da_fails(&p, "orderId is NULL");
	p = da_sample(); p.order_id = "x/y"; da_fails(&p, "orderId 'x/y' contains '/'");
	p = da_sample(); p.driver_id = ""; da_fails(&p, "driverId is empty");
	p = da_sample(); p.driver_id = "d#1"; da_fails(&p, "driverId 'd#1' contains '#'");
	p = da_sample(); p.driver_id = "d\n1"; da_fails(&p, "driverId contains a control character (U+000A)");
	p = da_sample(); p.role = NULL; da_fails(&p, "role is NULL");
	p = da_sample(); p.role = "both"; da_fails(&p, "role is not \"pickup\" or \"delivery\"");
	p = da_sample(); p.role = "Pickup"; da_fails(&p, "role is not \"pickup\" or \"delivery\"");
	p = da_sample(); p.role = ""; da_fails(&p, "role is not \"pickup\" or \"delivery\"");
	p = da_sample(); p.name = name257; da_fails(&p, "name is 257 bytes (max 256)");
	p = da_sample(); p.name = "\xc0\xaf"; da_fails(&p, "name is not valid UTF-8");
	p = da_sample(); p.vehicle_type = veh65; da_fails(&p, "vehicleType is 65 bytes (max 64)");
	p = da_sample(); p.vehicle_type = "\x80"; da_fails(&p, "vehicleType is not valid UTF-8");
	p = da_sample(); p.rating = 5.0000001; da_fails(&p, "rating 5 is out of range (0..5)");
	p = da_sample(); p.rating = -0.5; da_fails(&p, "rating -0.5 is out of range (0..5)");
	p = da_sample(); p.rating = NAN; da_fails(&p, "rating is not a finite number");
	p = da_sample(); p.rating = INFINITY; da_fails(&p, "rating is not a finite number");
	p = da_sample(); p.rating = -INFINITY; da_fails(&p, "rating is not a finite number");
	p = da_sample(); p.version = 0; da_fails(&p, "version is 0 (must be >= 1)");
	free(name257);
	free(veh65);
}
END_TEST

START_TEST(driver_assignment_limits_at_the_edge)
{
	struct jwb_driver_assignment p;
	char *id128 = rep('d', JWB_ID_MAX);
	char *id129 = rep('d', JWB_ID_MAX + 1);
	char *name256 = rep('n', JWB_NAME_MAX);
	char *name257 = rep('n', JWB_NAME_MAX + 1);
	char *veh64 = rep('v', JWB_VEHICLE_TYPE_MAX);
	char *veh65 = rep('v', JWB_VEHICLE_TYPE_MAX + 1);

	p = da_sample(); p.driver_id = id128; da_ok(&p);
	p = da_sample(); p.driver_id = id129; da_fails(&p, "driverId is 129 bytes (max 128)");
	p = da_sample(); p.order_id = id129; da_fails(&p, "orderId is 129 bytes (max 128)");
	p = da_sample(); p.name = name256; da_ok(&p);
	p = da_sample(); p.name = name257; da_fails(&p, "name is 257 bytes (max 256)");
	p = da_sample(); p.vehicle_type = veh64; da_ok(&p);
	p = da_sample(); p.vehicle_type = veh65; da_fails(&p, "vehicleType is 65 bytes (max 64)");
	p = da_sample(); p.rating = 0.0; da_ok(&p);
	p = da_sample(); p.rating = 5.0; da_ok(&p);
	p = da_sample(); p.rating = nextafter(5.0, 6.0); da_fails(&p, "rating 5 is out of range (0..5)");
	p = da_sample(); p.rating = -nextafter(0.0, 1.0); da_fails(&p, "rating -4.94066e-324 is out of range (0..5)");

	free(id128); free(id129); free(name256); free(name257); free(veh64); free(veh65);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* notification */

static struct jwb_notification nt_sample(void)
{
	return (struct jwb_notification){
		.id = "ntf-1", .title = "Order ready", .body = "Your order is ready for pickup.",
		.data_json = "{\"orderId\":\"ord-42\",\"kind\":\"ready\",\"n\":3,\"x\":[1,true,null]}",
		.ts_ms = TS,
	};
}

static void nt_fails(const struct jwb_notification *p, const char *want)
{
	memset(err, 0, sizeof(err));
	char *s = jwb_payload_notification(p, err, sizeof(err));
	ck_assert_msg(s == NULL, "accepted: %s", s ? s : "");
	assert_err(want);
}

/* data_json refused as not a JSON object: the message says so. */
static void nt_data_fails(const char *data)
{
	struct jwb_notification p = nt_sample();
	p.data_json = data;
	memset(err, 0, sizeof(err));
	char *s = jwb_payload_notification(&p, err, sizeof(err));
	ck_assert_msg(s == NULL, "data '%s' accepted: %s", data, s ? s : "");
	assert_err_has("data is not a JSON object");
}

static char *nt_ok(const struct jwb_notification *p)
{
	char *s = jwb_payload_notification(p, err, sizeof(err));
	ck_assert_msg(s != NULL, "refused: %s", err);
	return s;
}

START_TEST(notification_has_every_field)
{
	struct jwb_notification p = nt_sample();
	char *s = nt_ok(&p);
	ck_assert_str_eq(s, "{\"id\":\"ntf-1\",\"title\":\"Order ready\",\"body\":\"Your order is ready for pickup.\","
		"\"data\":{\"orderId\":\"ord-42\",\"kind\":\"ready\",\"n\":3,\"x\":[1,true,null]},"
		"\"timestamp\":\"" TS_TEXT "\"}");
	struct json_object *o = ut_json_parse(s);
	ut_json_assert_keys(o, "id", "title", "body", "data", "timestamp", NULL);
	ut_json_assert_str(o, "id", "ntf-1");
	ut_json_assert_str(o, "title", "Order ready");
	ut_json_assert_str(o, "body", "Your order is ready for pickup.");
	struct json_object *d = ut_json_field(o, "data");
	ck_assert(json_object_is_type(d, json_type_object));
	ut_json_assert_keys(d, "orderId", "kind", "n", "x", NULL);
	ut_json_assert_str(d, "orderId", "ord-42");
	ut_json_assert_int(d, "n", 3);
	ck_assert_uint_eq(json_object_array_length(ut_json_field(d, "x")), 3);
	ut_json_assert_str(o, "timestamp", TS_TEXT);
	json_object_put(o);
	free(s);
}
END_TEST

START_TEST(notification_null_data_is_json_null)
{
	struct jwb_notification p = nt_sample();
	p.data_json = NULL;
	p.title = "";
	p.body = "";
	char *s = nt_ok(&p);
	ck_assert_str_eq(s, "{\"id\":\"ntf-1\",\"title\":\"\",\"body\":\"\",\"data\":null,"
		"\"timestamp\":\"" TS_TEXT "\"}");
	struct json_object *o = ut_json_parse(s);
	ut_json_assert_null(o, "data");
	ut_json_assert_str(o, "title", "");
	ut_json_assert_str(o, "body", "");
	json_object_put(o);
	free(s);
}
END_TEST

START_TEST(notification_data_is_normalised)
{
	/* jsonb prints ": " and ", "; surrounding whitespace is fine too */
	struct jwb_notification p = nt_sample();
	p.data_json = " \n{\"a\": {\"b\": [1, 2.50, \"x/y\"]}, \"e\": {}, \"s\": \"\\u00e9\\n\"}\t\r\n";
	char *s = nt_ok(&p);
	ck_assert_ptr_nonnull(strstr(s, "\"data\":{\"a\":{\"b\":[1,2.50,\"x/y\"]},\"e\":{},\"s\":\"\xc3\xa9\\n\"}"));
	struct json_object *o = ut_json_parse(s);
	struct json_object *d = ut_json_field(o, "data");
	ut_json_assert_str(d, "s", "\xc3\xa9\n");
	json_object_put(o);
	free(s);

	p.data_json = "{}";
	s = nt_ok(&p);
	ck_assert_ptr_nonnull(strstr(s, "\"data\":{},"));
	free(s);
}
END_TEST

START_TEST(notification_data_must_be_a_json_object)
{
	nt_data_fails("");
	nt_data_fails("   ");
	nt_data_fails("null");
	nt_data_fails("[]");
	nt_data_fails("[{\"a\":1}]");
	nt_data_fails("\"text\"");
	nt_data_fails("42");
	nt_data_fails("true");
	nt_data_fails("{");
	nt_data_fails("{\"a\":");
	nt_data_fails("{\"a\":1,}");
	nt_data_fails("{\"a\":1}x");
	nt_data_fails("{\"a\":1} {\"b\":2}");
	nt_data_fails("{a:1}");
	nt_data_fails("{\"a\":01}");

	struct jwb_notification p = nt_sample();
	p.data_json = "[1,2]";
	nt_fails(&p, "data is not a JSON object (it is array)");

	/* too deep for the tokener */
	char deep[40 * 6 + 1 + 40 + 1] = "";
	for(int i = 0; i < 40; i++) strcat(deep, "{\"a\":");
	strcat(deep, "1");
	for(int i = 0; i < 40; i++) strcat(deep, "}");
	nt_data_fails(deep);
}
END_TEST

START_TEST(notification_data_refuses_what_json_cannot_carry)
{
	struct jwb_notification p = nt_sample();
	p.data_json = "{\"a\":NaN}";
	nt_fails(&p, "data contains a number that is not finite");
	p.data_json = "{\"a\":[-Infinity]}";
	nt_fails(&p, "data contains a number that is not finite");
	p.data_json = "{\"a\":{\"b\":1e999}}";
	nt_fails(&p, "data contains a number that is not finite");
	p.data_json = "{\"big\":123456789012345678901234567890}";
	nt_fails(&p, "data contains an integer outside the 64-bit range");
	p.data_json = "{\"small\":-123456789012345678901234567890}";
	nt_fails(&p, "data contains an integer outside the 64-bit range");
	p.data_json = "{\"a\":\"caf\xc3\"}";
	nt_fails(&p, "data is not valid UTF-8");

	/* 64-bit integers inside the range go through unchanged */
	p.data_json = "{\"i\":9223372036854775807,\"j\":-9223372036854775807,\"u\":18446744073709551614}";
	char *s = nt_ok(&p);
	ck_assert_ptr_nonnull(strstr(s, "{\"i\":9223372036854775807,\"j\":-9223372036854775807,\"u\":18446744073709551614}"));
	free(s);
}
END_TEST

START_TEST(notification_errors_name_the_field)
{
	struct jwb_notification p;
	char *title1025 = rep('t', JWB_TITLE_MAX + 1);
	char *body16385 = rep('b', JWB_BODY_MAX + 1);

	memset(err, 0, sizeof(err));
	ck_assert_ptr_null(jwb_payload_notification(NULL, err, sizeof(err)));
	ck_assert_uint_gt(strlen(err), 0);

	p = nt_sample(); p.id = NULL; nt_fails(&p, "id is NULL");
	p = nt_sample(); p.id = ""; nt_fails(&p, "id is empty");
	p = nt_sample(); p.id = "n/1"; nt_fails(&p, "id 'n/1' contains '/'");
	p = nt_sample(); p.title = NULL; nt_fails(&p, "title is NULL");
	p = nt_sample(); p.title = title1025; nt_fails(&p, "title is 1025 bytes (max 1024)");
	p = nt_sample(); p.title = "\xe2\x28\xa1"; nt_fails(&p, "title is not valid UTF-8");
	p = nt_sample(); p.body = NULL; nt_fails(&p, "body is NULL");
	p = nt_sample(); p.body = body16385; nt_fails(&p, "body is 16385 bytes (max 16384)");
	p = nt_sample(); p.body = "ok \xf4\x90\x80\x80"; nt_fails(&p, "body is not valid UTF-8");
	free(title1025);
	free(body16385);
}
END_TEST

START_TEST(notification_limits_at_the_edge)
{
	struct jwb_notification p;
	char *title1024 = rep('t', JWB_TITLE_MAX);
	char *body16384 = rep('b', JWB_BODY_MAX);
	char *id128 = rep('i', JWB_ID_MAX);
	char *id129 = rep('i', JWB_ID_MAX + 1);
	char *s;

	p = nt_sample(); p.title = title1024; s = nt_ok(&p); free(s);
	p = nt_sample(); p.body = body16384; s = nt_ok(&p);
	struct json_object *o = ut_json_parse(s);
	ut_json_assert_str(o, "body", body16384);
	json_object_put(o);
	free(s);
	p = nt_sample(); p.id = id128; s = nt_ok(&p); free(s);
	p = nt_sample(); p.id = id129; nt_fails(&p, "id is 129 bytes (max 128)");

	free(title1024); free(body16384); free(id128); free(id129);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Escaping and UTF-8 */

START_TEST(strings_are_escaped_and_read_back_unchanged)
{
	static const char tricky[] = "q\"uote b\\ack /slash\n\r\t\b\f \x01\x1f\x7f "
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8 </script>";
	struct jwb_notification p = nt_sample();
	p.title = tricky;
	p.body = tricky;
	p.data_json = NULL;
	char *s = nt_ok(&p);
	/* escapes json-c writes; '/' left alone; UTF-8 written as is */
	ck_assert_ptr_nonnull(strstr(s, "q\\\"uote b\\\\ack /slash\\n\\r\\t\\b\\f \\u0001\\u001f"));
	ck_assert_ptr_nonnull(strstr(s, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	ck_assert_ptr_nonnull(strstr(s, "</script>"));
	ck_assert_ptr_null(strchr(s, '\n'));
	for(const char *c = s; *c; c++){
		ck_assert_msg((unsigned char)*c >= 0x20, "raw control byte 0x%02x in %s", (unsigned char)*c, s);
	}
	struct json_object *o = ut_json_parse(s);
	ut_json_assert_str(o, "title", tricky);
	ut_json_assert_str(o, "body", tricky);
	json_object_put(o);
	free(s);

	/* the same through the other builders */
	struct jwb_order_status os = os_sample();
	os.status = "a\"b\\c";
	os.order_number = "N\xc2\xba 1\t/2";
	os.order_id = "ord-\xc3\xa9\xe2\x82\xac";
	s = jwb_payload_order_status(&os, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	o = ut_json_parse(s);
	ut_json_assert_str(o, "status", "a\"b\\c");
	ut_json_assert_str(o, "orderNumber", "N\xc2\xba 1\t/2");
	ut_json_assert_str(o, "orderId", "ord-\xc3\xa9\xe2\x82\xac");
	json_object_put(o);
	free(s);

	struct jwb_driver_assignment da = da_sample();
	da.name = "Zo\xc3\xab \"Z\" O'Neil\\";
	da.vehicle_type = "\xe8\xbd\xa6";
	s = jwb_payload_driver_assignment(&da, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	o = ut_json_parse(s);
	ut_json_assert_str(o, "name", "Zo\xc3\xab \"Z\" O'Neil\\");
	ut_json_assert_str(o, "vehicleType", "\xe8\xbd\xa6");
	json_object_put(o);
	free(s);
}
END_TEST

START_TEST(utf8_validator_accepts_well_formed_text)
{
	static const char *const ok[] = {
		"", "plain ascii", "\x7f", "caf\xc3\xa9", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80",
		"\xe2\x82\xac", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
		"\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
	};
	for(size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++){
		ck_assert_msg(jwb_utf8_is_valid(ok[i], strlen(ok[i])), "refused case %zu", i);
	}
	/* embedded NUL is a valid code point when a length is given */
	ck_assert(jwb_utf8_is_valid("a\0b", 3));
	ck_assert(!jwb_utf8_is_valid(NULL, 0));
}
END_TEST

START_TEST(utf8_validator_refuses_malformed_text)
{
	static const char *const bad[] = {
		"\x80",                 /* stray continuation byte */
		"a\xbf",
		"\xc3",                 /* truncated */
		"\xc3\x28",             /* bad continuation */
		"\xe2\x82",
		"\xe2\x28\xa1",
		"\xf0\x9f\x98",
		"\xf0\x28\x8c\xbc",
		"\xc0\xaf",             /* overlong '/' */
		"\xc1\xbf",
		"\xe0\x80\xaf",
		"\xe0\x9f\xbf",
		"\xf0\x80\x80\xaf",
		"\xf0\x8f\xbf\xbf",
		"\xed\xa0\x80",         /* surrogates */
		"\xed\xbf\xbf",
		"\xf4\x90\x80\x80",     /* above U+10FFFF */
		"\xf5\x80\x80\x80",
		"\xf8\x88\x80\x80\x80", /* 5-byte forms */
		"\xfe", "\xff",
	};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		ck_assert_msg(!jwb_utf8_is_valid(bad[i], strlen(bad[i])), "accepted case %zu", i);
		/* and every builder field says which one */
		struct jwb_order_status p = os_sample();
		p.status = bad[i];
		os_fails(&p, "status is not valid UTF-8");
	}
	/* the length bounds the scan: a sequence cut by it is malformed */
	ck_assert(!jwb_utf8_is_valid("\xc3\xa9", 1));
	ck_assert(jwb_utf8_is_valid("\xc3\xa9", 2));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Ids */

START_TEST(check_id_accepts_safe_levels)
{
	char *id128 = rep('x', JWB_ID_MAX);
	ck_assert(jwb_check_id("orderId", "ord-1", err, sizeof(err)));
	ck_assert(jwb_check_id("orderId", "a", err, sizeof(err)));
	ck_assert(jwb_check_id("orderId", id128, err, sizeof(err)));
	ck_assert(jwb_check_id("orderId", "cl9x7k2\xc3\xa9-\xe2\x82\xac_$ .:@", err, sizeof(err)));
	ck_assert(jwb_check_id("orderId", "12345", NULL, 0));
	free(id128);
}
END_TEST

START_TEST(check_id_explains_refusals)
{
	char *id300 = rep('x', 300);
	char *id129 = rep('x', JWB_ID_MAX + 1);
	ck_assert(!jwb_check_id("customerId", NULL, err, sizeof(err)));
	assert_err("customerId is NULL");
	ck_assert(!jwb_check_id("orderId", "", err, sizeof(err)));
	assert_err("orderId is empty");
	ck_assert(!jwb_check_id("orderId", "a/b", err, sizeof(err)));
	assert_err("orderId 'a/b' contains '/'");
	ck_assert(!jwb_check_id("orderId", "+", err, sizeof(err)));
	assert_err("orderId '+' contains '+'");
	ck_assert(!jwb_check_id("orderId", "x#", err, sizeof(err)));
	assert_err("orderId 'x#' contains '#'");
	ck_assert(!jwb_check_id("orderId", id300, err, sizeof(err)));
	assert_err("orderId is 300 bytes (max 128)");
	ck_assert(!jwb_check_id("orderId", id129, err, sizeof(err)));
	assert_err("orderId is 129 bytes (max 128)");
	ck_assert(!jwb_check_id("orderId", "a\tb", err, sizeof(err)));
	assert_err("orderId contains a control character (U+0009)");
	ck_assert(!jwb_check_id("orderId", "a\x7f", err, sizeof(err)));
	assert_err("orderId contains a control character (U+007F)");
	/* what MQTT refuses in a topic: C1 controls, non-characters, bad UTF-8 */
	ck_assert(!jwb_check_id("orderId", "a\xc2\x85", err, sizeof(err)));
	assert_err("orderId contains a control character (U+0085)");
	ck_assert(!jwb_check_id("orderId", "a\xef\xbf\xbe", err, sizeof(err)));
	assert_err("orderId contains a non-character (U+FFFE)");
	ck_assert(!jwb_check_id("orderId", "a\xef\xb7\x90", err, sizeof(err)));
	assert_err("orderId contains a non-character (U+FDD0)");
	ck_assert(!jwb_check_id("orderId", "ab\xc3", err, sizeof(err)));
	assert_err("orderId is not valid UTF-8 (byte 2)");
	/* a control character is reported before the value would be quoted */
	ck_assert(!jwb_check_id("orderId", "a/\n", err, sizeof(err)));
	assert_err("orderId contains a control character (U+000A)");
	/* no error buffer, or a tiny one */
	ck_assert(!jwb_check_id("orderId", "a/b", NULL, 0));
	ck_assert(!jwb_check_id("orderId", "a/b", err, 4));
	ck_assert_str_eq(err, "ord");
	free(id300);
	free(id129);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Timestamps */

static void assert_format(int64_t ts, const char *want)
{
	char out[32];
	memset(out, 'X', sizeof(out));
	jwb_format_timestamp(ts, out, sizeof(out));
	ck_assert_str_eq(out, want);
}

START_TEST(formats_rfc3339_utc_with_milliseconds)
{
	assert_format(0, "1970-01-01T00:00:00.000Z");
	assert_format(TS, TS_TEXT);
	assert_format(5, "1970-01-01T00:00:00.005Z");
	assert_format(INT64_C(1709208000000) + 999, "2024-02-29T12:00:00.999Z");
	assert_format(INT64_C(253402300799999), "9999-12-31T23:59:59.999Z");
	/* clamped, never an invalid text */
	assert_format(-1, "1970-01-01T00:00:00.000Z");
	assert_format(INT64_MIN, "1970-01-01T00:00:00.000Z");
	assert_format(INT64_C(253402300800000), "9999-12-31T23:59:59.999Z");
	assert_format(INT64_MAX, "9999-12-31T23:59:59.999Z");

	/* 24 characters: fits the documented 25 bytes exactly */
	char out25[25];
	jwb_format_timestamp(TS, out25, sizeof(out25));
	ck_assert_str_eq(out25, TS_TEXT);
	/* a short buffer is truncated, not overrun */
	char small[12];
	memset(small, 'X', sizeof(small));
	jwb_format_timestamp(TS, small, 8);
	ck_assert_str_eq(small, "2026-11");
	ck_assert_int_eq(small[8], 'X');
	jwb_format_timestamp(TS, small, 0);
	jwb_format_timestamp(TS, NULL, 0);
}
END_TEST

static void assert_parses(const char *text, int64_t want)
{
	int64_t got = -42;
	ck_assert_msg(jwb_parse_pg_timestamp(text, &got), "refused '%s'", text);
	ck_assert_msg(got == want, "'%s' -> %lld, want %lld", text, (long long)got, (long long)want);
}

static void assert_refused(const char *text)
{
	int64_t got = -42;
	ck_assert_msg(!jwb_parse_pg_timestamp(text, &got), "accepted '%s' as %lld", text ? text : "(null)",
		(long long)got);
}

START_TEST(parses_postgres_timestamptz)
{
	assert_parses("2026-11-25 22:50:01.123456+00", TS);
	assert_parses("2026-11-25 22:50:01.123999+00", TS);  /* truncated, not rounded */
	assert_parses("2026-11-25 22:50:01.123+00:00", TS);
	assert_parses("2026-11-25 22:50:01.123Z", TS);
	assert_parses("2026-11-25 22:50:01.1+00", TS - 23);
	assert_parses("2026-11-25 22:50:01.12+00", TS - 3);
	assert_parses("2026-11-25 22:50:01+00", TS - 123);
	assert_parses("1970-01-01 00:00:00+00", 0);
	assert_parses("1969-12-31 23:59:59+00", -1000);
	assert_parses("2024-02-29 12:00:00+00", INT64_C(1709208000000));
	assert_parses("9999-12-31 23:59:59.999999+00", INT64_C(253402300799999));
	/* other offsets are converted to UTC */
	assert_parses("2026-11-26 00:50:01.123+02", TS);
	assert_parses("2026-11-26 04:20:01.123+05:30", TS);
	assert_parses("2026-11-25 17:50:01.123-05", TS);
	assert_parses("2026-11-25 13:20:01.123-09:30", TS);
	assert_parses("2026-11-25 22:50:01.123+00:00:00", TS);
	assert_parses("1937-06-30 23:59:59+00:19:32", INT64_C(-1025741973000));
}
END_TEST

START_TEST(refuses_other_timestamp_texts)
{
	int64_t v;
	ck_assert(!jwb_parse_pg_timestamp("2026-11-25 22:50:01+00", NULL));
	ck_assert(!jwb_parse_pg_timestamp(NULL, &v));
	assert_refused("");
	assert_refused("2026-11-25");
	assert_refused("2026-11-25 22:50:01");            /* no offset */
	assert_refused("2026-11-25 22:50:01.123");
	assert_refused("2026-11-25T22:50:01+00");         /* not PostgreSQL's form */
	assert_refused("2026-11-25 22:50:01.+00");
	assert_refused("2026-11-25 22:50:01.1234567+00"); /* more than microseconds */
	assert_refused("2026-11-25 22:50:01+0");
	assert_refused("2026-11-25 22:50:01+000");
	assert_refused("2026-11-25 22:50:01+00:0");
	assert_refused("2026-11-25 22:50:01+16");
	assert_refused("2026-11-25 22:50:01+00:60");
	assert_refused("2026-11-25 22:50:01 +00");
	assert_refused("2026-11-25 22:50:01+00 ");
	assert_refused("2026-11-25 22:50:01+00 BC");
	assert_refused("2026-11-25 22:50:01z");
	assert_refused("2026-13-01 00:00:00+00");
	assert_refused("2026-00-01 00:00:00+00");
	assert_refused("2026-11-31 00:00:00+00");
	assert_refused("2026-11-00 00:00:00+00");
	assert_refused("2023-02-29 00:00:00+00");
	assert_refused("1900-02-29 00:00:00+00");
	assert_refused("2026-11-25 24:00:00+00");
	assert_refused("2026-11-25 22:60:00+00");
	assert_refused("2026-11-25 22:50:60+00");
	assert_refused("0000-01-01 00:00:00+00");
	assert_refused("12026-11-25 22:50:01+00");
	assert_refused("2026-1-25 22:50:01+00");
	assert_refused("2026-11-25 2:50:01+00");
	assert_refused(" 2026-11-25 22:50:01+00");
	assert_refused("infinity");
	assert_refused("-infinity");
	assert_refused("2026/11/25 22:50:01+00");
	assert_refused("2026-11-25 22:50:01.12a+00");
}
END_TEST

START_TEST(timestamps_round_trip)
{
	static const int64_t samples[] = {
		0, 1, 999, 1000, TS, INT64_C(951782400000) /* 2000-02-29 */, INT64_C(4102444799999),
		INT64_C(253402300799999),
	};
	for(size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++){
		char text[32];
		jwb_format_timestamp(samples[i], text, sizeof(text));
		ck_assert_uint_eq(strlen(text), 24);
		/* RFC 3339 "...T...Z" -> PostgreSQL "... ...+00" */
		text[10] = ' ';
		text[23] = '\0';
		char *pg = ut_fmt("%s+00", text);
		int64_t back;
		ck_assert_msg(jwb_parse_pg_timestamp(pg, &back), "refused %s", pg);
		ck_assert_msg(back == samples[i], "%s -> %lld, want %lld", pg, (long long)back, (long long)samples[i]);
		free(pg);
	}
}
END_TEST

static Suite *payload_suite(void)
{
	Suite *s = suite_create("bridge_payload");
	TCase *tc;

	tc = tcase_create("order_status");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, order_status_has_every_field);
	tcase_add_test(tc, order_status_null_optionals_are_json_null);
	tcase_add_test(tc, order_status_writes_large_versions_exactly);
	tcase_add_test(tc, order_status_errors_name_the_field);
	tcase_add_test(tc, order_status_limits_at_the_edge);
	suite_add_tcase(s, tc);

	tc = tcase_create("driver_assignment");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, driver_assignment_has_every_field);
	tcase_add_test(tc, driver_assignment_null_optionals_are_json_null);
	tcase_add_test(tc, driver_assignment_ratings_read_back_exactly);
	tcase_add_test(tc, driver_assignment_errors_name_the_field);
	tcase_add_test(tc, driver_assignment_limits_at_the_edge);
	suite_add_tcase(s, tc);

	tc = tcase_create("notification");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, notification_has_every_field);
	tcase_add_test(tc, notification_null_data_is_json_null);
	tcase_add_test(tc, notification_data_is_normalised);
	tcase_add_test(tc, notification_data_must_be_a_json_object);
	tcase_add_test(tc, notification_data_refuses_what_json_cannot_carry);
	tcase_add_test(tc, notification_errors_name_the_field);
	tcase_add_test(tc, notification_limits_at_the_edge);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, strings_are_escaped_and_read_back_unchanged);
	tcase_add_test(tc, utf8_validator_accepts_well_formed_text);
	tcase_add_test(tc, utf8_validator_refuses_malformed_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("ids");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, check_id_accepts_safe_levels);
	tcase_add_test(tc, check_id_explains_refusals);
	suite_add_tcase(s, tc);

	tc = tcase_create("timestamps");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, formats_rfc3339_utc_with_milliseconds);
	tcase_add_test(tc, parses_postgres_timestamptz);
	tcase_add_test(tc, refuses_other_timestamp_texts);
	tcase_add_test(tc, timestamps_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ut_run(payload_suite());
}
