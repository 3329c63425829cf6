/*
 * jw_topic — MQTT topic and filter helpers shared by the plugin, the tools
 * and the bridge.  Pure functions: no allocation, no I/O.
 *
 * All functions take (pointer, length) views and never read past them, so
 * callers can pass slices of larger strings without copying.
 */
#ifndef JW_TOPIC_H
#define JW_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

/* A view of one topic level inside a larger string (not NUL-terminated). */
struct jw_level {
	const char *ptr;
	size_t len;
};

/*
 * Split off the next level of `topic` starting at *pos.  Returns false when
 * *pos is past the end.  An empty topic has one empty level, as in MQTT
 * ("a//b" has three levels, the middle one empty).
 */
bool jw_topic_next_level(const char *topic, size_t topic_len, size_t *pos,
		struct jw_level *out);

/*
 * If `filter` is a shared subscription ("$share/<group>/<filter>"), return
 * a pointer to <filter> inside it and store its length; otherwise return
 * `filter` unchanged.  Returns NULL for a malformed $share filter (missing
 * group or filter).
 */
const char *jw_filter_strip_share(const char *filter, size_t *len);

/* True if `topic` is a valid topic name to publish to (no wildcards, no NUL,
 * 1..65535 bytes). */
bool jw_topic_is_valid_name(const char *topic, size_t len);

/* True if `filter` is a syntactically valid subscription filter. */
bool jw_filter_is_valid(const char *filter, size_t len);

/* True if `topic` (a name, no wildcards) matches `filter`, with MQTT rules:
 * '+' one level, '#' the rest (including the parent level), and a filter
 * starting with a wildcard never matches a topic starting with '$'. */
bool jw_filter_matches(const char *filter, size_t filter_len,
		const char *topic, size_t topic_len);

/* A single topic level value that is safe to substitute into a topic
 * pattern: 1..max_len bytes, no '/', '+', '#', NUL or control characters. */
bool jw_level_is_safe(const char *value, size_t len, size_t max_len);

#endif
