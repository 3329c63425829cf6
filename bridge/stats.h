/*
 * stats — the bridge's counters and its commit-to-acknowledgement latency,
 * published retained on jetwire/bridge/stats (JSON) and logged as one line
 * every log_interval.  Rates and percentiles are over the last interval.
 */
#ifndef JWB_STATS_H
#define JWB_STATS_H

#include <stddef.h>
#include <stdint.h>

#define JWB_STATS_SAMPLES 65536

struct jwb_stats {
	int64_t started_mono;
	/* totals since start */
	uint64_t changes, published, control_sent, deleted, reads, wakeups;
	uint64_t dead_letters, resyncs, resync_skipped, control_errors, publish_refusals;
	uint64_t mqtt_connects, mqtt_losses, db_reconnects, db_failures, driver_lookup_failures;
	uint64_t positions_received, positions_stored, positions_refused;
	uint64_t positions_dropped;      /* QoS 0 locations over location_queue_max (mqtt_link) */
	uint64_t offers_sent, offer_failures;
	/* gauges, set before each report */
	int64_t backlog_rows;          /* -1: unknown */
	double backlog_age_s;
	long max_rss_kb;
	/* the current interval */
	int64_t interval_start;
	uint64_t interval_changes_base;
	uint32_t *samples;             /* latency, ms; reservoir of JWB_STATS_SAMPLES */
	uint64_t n_samples;
	uint32_t max_ms;
	uint64_t rng;
};

void jwb_stats_init(struct jwb_stats *s, int64_t mono_ms);
void jwb_stats_free(struct jwb_stats *s);
/* One change acknowledged `ms` after it was captured. */
void jwb_stats_latency(struct jwb_stats *s, int64_t ms);
/* The report (caller frees), and the one-line form for the log. */
char *jwb_stats_json(struct jwb_stats *s, int64_t mono_ms, int64_t now_ms);
void jwb_stats_line(struct jwb_stats *s, int64_t mono_ms, char *out, size_t outlen);
/* Start a new interval. */
void jwb_stats_roll(struct jwb_stats *s, int64_t mono_ms);

#endif
