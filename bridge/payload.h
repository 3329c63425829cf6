/*
 * payload — the JSON documents the bridge publishes (SPEC "Payloads",
 * schemas/json/NAME.schema.json) and the checks a captured row must pass
 * before it is published.  Pure: json-c, no I/O.
 */
#ifndef JWB_PAYLOAD_H
#define JWB_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits, the same as the JSON Schemas. */
#define JWB_ID_MAX 128             /* orderId, driverId, notification id, userId: also one safe topic level */
#define JWB_STATUS_MAX 64
#define JWB_ORDER_NUMBER_MAX 256
#define JWB_NAME_MAX 256
#define JWB_VEHICLE_TYPE_MAX 64
#define JWB_TITLE_MAX 1024
#define JWB_BODY_MAX 16384

struct jwb_order_status {
	const char *order_id;        /* required */
	const char *order_number;    /* may be NULL */
	const char *status;          /* required */
	const char *previous_status; /* NULL on the first one */
	int64_t version;             /* >= 1 */
	int64_t ts_ms;               /* epoch milliseconds of the change */
};

struct jwb_driver_assignment {
	const char *order_id;        /* required */
	const char *driver_id;       /* NULL: unassigned */
	const char *role;            /* "pickup" or "delivery" */
	const char *name;            /* NULL when unknown */
	double rating;               /* used when has_rating */
	bool has_rating;
	const char *vehicle_type;    /* NULL when unknown */
	int64_t version;
	int64_t ts_ms;
};

struct jwb_notification {
	const char *id;              /* required */
	const char *title;           /* required */
	const char *body;            /* required ("" allowed) */
	const char *data_json;       /* a JSON object's text, or NULL -> null */
	int64_t ts_ms;
};

/*
 * Each builder returns a new NUL-terminated JSON string owned by the caller
 * (free()), or NULL with a reason in errbuf (a required field missing, a
 * field over its limit, data_json not a JSON object).  timestamp is written
 * as RFC 3339 UTC with milliseconds: "2026-11-25T22:50:01.123Z".
 */
char *jwb_payload_order_status(const struct jwb_order_status *p, char *errbuf, size_t errlen);
char *jwb_payload_driver_assignment(const struct jwb_driver_assignment *p, char *errbuf, size_t errlen);
char *jwb_payload_notification(const struct jwb_notification *p, char *errbuf, size_t errlen);

struct jwb_order_offer {
	const char *order_id;        /* required */
	const char *order_number;    /* may be NULL */
	double pickup_lat, pickup_lng;
	double distance_km;
	int64_t expires_ms;          /* epoch milliseconds */
};
char *jwb_payload_order_offer(const struct jwb_order_offer *p, char *errbuf, size_t errlen);

/* Format epoch milliseconds as RFC 3339 UTC with milliseconds into out
 * (>= 25 bytes). */
void jwb_format_timestamp(int64_t ts_ms, char *out, size_t outlen);

/*
 * Parse a PostgreSQL timestamptz text as the bridge reads it (the server's
 * DateStyle ISO, TimeZone UTC: "2026-11-25 22:50:01.123456+00") into epoch
 * milliseconds.  Returns false if it is not in that form.
 */
bool jwb_parse_pg_timestamp(const char *text, int64_t *ts_ms);

/*
 * True if `value` can be an id in a topic level: 1..JWB_ID_MAX bytes, no
 * '/', '+', '#', NUL or control characters (jw_level_is_safe).  Otherwise
 * writes "<field> <why>" into errbuf, e.g. "customerId is NULL",
 * "orderId 'a/b' contains '/'", "orderId is 300 bytes (max 128)".
 * Also refuses what MQTT refuses in a topic (mosquitto would drop the
 * connection): invalid UTF-8, C1 controls and Unicode non-characters.
 */
bool jwb_check_id(const char *field, const char *value, char *errbuf, size_t errlen);

/* True if s[0..len) is well-formed UTF-8: no stray or missing continuation
 * bytes, overlong forms, surrogates or code points above U+10FFFF. */
bool jwb_utf8_is_valid(const char *s, size_t len);

#endif
