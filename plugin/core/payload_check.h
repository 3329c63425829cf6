/*
 * payload_check — what a driver may publish on driver/{id}/location and
 * driver/{id}/presence (SPEC "Payloads"; schemas/json/location.schema.json,
 * presence.schema.json; docs/security.md "Publishing location and
 * presence").  Pure: no broker calls, no allocation, no JSON library.
 *
 * The payload must be exactly one JSON object (RFC 8259, UTF-8, optional
 * whitespace around it) whose members are all known fields with scalar
 * values:
 *
 *   location  lat   number, -90..90               required
 *             lng   number, -180..180             required
 *             ts    integer, epoch ms, |ts - now| <= skew   required
 *             heading   number, 0 <= heading < 360
 *             speed     number >= 0 (m/s)
 *             accuracy  number >= 0 (m)
 *             orderId   string, 1..128 bytes of UTF-8, no control characters
 *             at most JW_LOCATION_MAX_BYTES bytes
 *
 *   presence  status  "online" or "offline"       required
 *             ts      integer, epoch ms, ts <= now + skew (any age: a last
 *                     will is published long after its ts was written)
 *             at most JW_PRESENCE_MAX_BYTES bytes
 *
 * Unknown fields, duplicate fields, nested objects or arrays, and anything
 * after the object are refused.  Because every accepted value is a scalar,
 * the scanner never descends into a nested value: it refuses one at its
 * first byte, so there is no recursion and no depth to exhaust (the
 * nesting depth limit is 1).
 *
 * Strings are checked in full: escapes (\uXXXX with surrogate pairs
 * paired), no raw control characters, well-formed UTF-8 (no overlong
 * forms, no encoded surrogates, nothing above U+10FFFF).  Numbers follow the
 * RFC 8259 grammar (no leading zeros, no NaN/Infinity, no '+', no bare '.')
 * and must be finite doubles; numbers longer than JW_NUMBER_MAX_CHARS
 * characters are refused.  `ts` must be written as an integer (digits only,
 * no fraction or exponent), at most 2^53 - 1.
 *
 * A skew of 0 disables the ts window (ts must still be a valid integer).
 */
#ifndef JW_PAYLOAD_CHECK_H
#define JW_PAYLOAD_CHECK_H

#include <stddef.h>
#include <stdint.h>

#define JW_LOCATION_MAX_BYTES 512
#define JW_PRESENCE_MAX_BYTES 256
#define JW_ORDER_ID_MAX_BYTES 128
#define JW_NUMBER_MAX_CHARS 32

enum jw_payload_kind {
	JW_PAYLOAD_LOCATION,
	JW_PAYLOAD_PRESENCE,
	JW_PAYLOAD_KIND_COUNT
};

/* Why a payload was refused: the class names are the $SYS counter names
 * (docs/operations.md). */
enum jw_payload_verdict {
	JW_PV_OK = 0,
	JW_PV_TOO_LARGE,      /* over the size limit */
	JW_PV_MALFORMED,      /* not the JSON object the schema describes */
	JW_PV_OUT_OF_RANGE,   /* a value of the right type outside its range */
	JW_PV_STALE_TS,       /* ts outside the allowed window around now */
	JW_PV_COUNT
};

/*
 * Check a location payload (`len` bytes, not NUL-terminated, may hold any
 * bytes).  `now_ms` is the wall clock in epoch ms, `skew_ms` the allowed
 * distance of ts from it (0: not checked).  Returns JW_PV_OK, or the class
 * of the first problem found with a one-line reason in `reason` (always
 * NUL-terminated when reason_len > 0; printable ASCII only, so it is safe to
 * log: bytes from the payload are shown only after sanitising).
 */
int jw_check_location(const char *payload, size_t len, int64_t now_ms, int64_t skew_ms,
		char *reason, size_t reason_len);

/* The same for a presence payload. */
int jw_check_presence(const char *payload, size_t len, int64_t now_ms, int64_t skew_ms,
		char *reason, size_t reason_len);

/* Dispatch on kind. */
int jw_check_payload(enum jw_payload_kind kind, const char *payload, size_t len, int64_t now_ms,
		int64_t skew_ms, char *reason, size_t reason_len);

/* Size limit of a kind, in bytes. */
size_t jw_payload_max_bytes(enum jw_payload_kind kind);

/* "location", "presence". */
const char *jw_payload_kind_name(enum jw_payload_kind kind);

/* "ok", "too_large", "malformed", "out_of_range", "stale_ts". */
const char *jw_payload_verdict_name(int verdict);

#endif
