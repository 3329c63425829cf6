/*
 * rate_limit — a token bucket per client and payload kind, and the text
 * form of its parameters ("RATE/BURST", docs/configuration.md).  Pure: the
 * caller passes a monotonic clock in nanoseconds.
 *
 * A bucket holds at most `burst` tokens and gains `rate` tokens a second;
 * each message takes one.  It starts full.  Arithmetic is in integers
 * (nano-tokens), exact enough for rates from 0.001/s to 1,000,000/s.
 */
#ifndef JW_RATE_LIMIT_H
#define JW_RATE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JW_RATE_MAX_MILLI UINT32_C(1000000000)   /* 1,000,000 messages a second */
#define JW_BURST_MAX UINT32_C(1000000)

struct jw_rate {
	uint32_t rate_milli;   /* thousandths of a message per second; 0: unlimited */
	uint32_t burst;        /* 1..JW_BURST_MAX when limited */
};

struct jw_bucket {
	struct jw_rate rate;
	int64_t level;         /* nano-tokens, 0..burst * 1e9 */
	int64_t last_ns;       /* clock at the last refill */
};

/* Parse "RATE/BURST" (RATE a decimal number of messages a second with at
 * most three decimals, 0.001..1000000; BURST an integer 1..1000000) or
 * "off" (no limit).  Returns 0, or -1 if the text is not one of those. */
int jw_rate_parse(const char *text, size_t len, struct jw_rate *out);

/* "1/10", "0.5/3", "off" into buf. */
void jw_rate_format(const struct jw_rate *r, char *buf, size_t buflen);

/* A full bucket. */
void jw_bucket_init(struct jw_bucket *b, const struct jw_rate *r, int64_t now_ns);

/* Refill for the time since the last call, then take one token.  False
 * (and nothing taken) if the bucket is empty.  An unlimited bucket always
 * says true.  A clock that goes backwards adds nothing. */
bool jw_bucket_take(struct jw_bucket *b, int64_t now_ns);

#endif
