#define _POSIX_C_SOURCE 200809L
#include "stats.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"

void jwb_stats_init(struct jwb_stats *s, int64_t mono_ms)
{
	memset(s, 0, sizeof(*s));
	s->started_mono = s->interval_start = mono_ms;
	s->backlog_rows = -1;
	s->samples = malloc(JWB_STATS_SAMPLES * sizeof(*s->samples));
	s->rng = 0x9e3779b97f4a7c15u ^ (uint64_t)mono_ms;
}

void jwb_stats_free(struct jwb_stats *s)
{
	free(s->samples);
	s->samples = NULL;
}

static uint64_t next_random(struct jwb_stats *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

void jwb_stats_latency(struct jwb_stats *s, int64_t ms)
{
	uint32_t v = ms < 0 ? 0 : ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
	if (v > s->max_ms)
		s->max_ms = v;
	if (!s->samples)
		return;
	/* Reservoir sampling keeps the percentiles honest when an interval
	 * has more acknowledgements than slots. */
	if (s->n_samples < JWB_STATS_SAMPLES) {
		s->samples[s->n_samples] = v;
	} else {
		uint64_t j = next_random(s) % (s->n_samples + 1);
		if (j < JWB_STATS_SAMPLES)
			s->samples[j] = v;
	}
	s->n_samples++;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

struct summary {
	double rate;
	uint32_t p50, p99, max;
	uint64_t n;
};

static void summarise(struct jwb_stats *s, int64_t mono_ms, struct summary *out)
{
	double secs = (double)(mono_ms - s->interval_start) / 1000.0;
	out->rate = secs > 0 ? (double)(s->changes - s->interval_changes_base) / secs : 0;
	out->n = s->n_samples;
	out->max = s->max_ms;
	out->p50 = out->p99 = 0;
	size_t n = s->n_samples < JWB_STATS_SAMPLES ? (size_t)s->n_samples : JWB_STATS_SAMPLES;
	if (n && s->samples) {
		qsort(s->samples, n, sizeof(*s->samples), cmp_u32);
		out->p50 = s->samples[(n - 1) / 2];
		out->p99 = s->samples[(size_t)((double)(n - 1) * 0.99)];
	}
}

char *jwb_stats_json(struct jwb_stats *s, int64_t mono_ms, int64_t now_ms)
{
	struct summary sum;
	summarise(s, mono_ms, &sum);
	char ts[32];
	jwb_format_timestamp(now_ms, ts, sizeof(ts));
	json_object *o = json_object_new_object();
	json_object_object_add(o, "timestamp", json_object_new_string(ts));
	json_object_object_add(o, "uptimeSeconds", json_object_new_int64((mono_ms - s->started_mono) / 1000));
	json_object_object_add(o, "changesPerSecond", json_object_new_double(sum.rate));
	json_object *lat = json_object_new_object();
	json_object_object_add(lat, "samples", json_object_new_int64((int64_t)sum.n));
	json_object_object_add(lat, "p50", json_object_new_int64(sum.p50));
	json_object_object_add(lat, "p99", json_object_new_int64(sum.p99));
	json_object_object_add(lat, "max", json_object_new_int64(sum.max));
	json_object_object_add(o, "publishLatencyMs", lat);
	json_object *backlog = json_object_new_object();
	json_object_object_add(backlog, "rows", s->backlog_rows >= 0 ? json_object_new_int64(s->backlog_rows) : NULL);
	json_object_object_add(backlog, "oldestAgeSeconds", json_object_new_double(s->backlog_age_s));
	json_object_object_add(o, "backlog", backlog);
	json_object *t = json_object_new_object();
	json_object_object_add(t, "changes", json_object_new_int64((int64_t)s->changes));
	json_object_object_add(t, "published", json_object_new_int64((int64_t)s->published));
	json_object_object_add(t, "controlMessages", json_object_new_int64((int64_t)s->control_sent));
	json_object_object_add(t, "deleted", json_object_new_int64((int64_t)s->deleted));
	json_object_object_add(t, "deadLetters", json_object_new_int64((int64_t)s->dead_letters));
	json_object_object_add(t, "resyncs", json_object_new_int64((int64_t)s->resyncs));
	json_object_object_add(t, "resyncSkipped", json_object_new_int64((int64_t)s->resync_skipped));
	json_object_object_add(t, "controlErrors", json_object_new_int64((int64_t)s->control_errors));
	json_object_object_add(t, "publishRefusals", json_object_new_int64((int64_t)s->publish_refusals));
	json_object_object_add(t, "mqttConnects", json_object_new_int64((int64_t)s->mqtt_connects));
	json_object_object_add(t, "mqttLosses", json_object_new_int64((int64_t)s->mqtt_losses));
	json_object_object_add(t, "dbReconnects", json_object_new_int64((int64_t)s->db_reconnects));
	json_object_object_add(t, "dbFailures", json_object_new_int64((int64_t)s->db_failures));
	json_object_object_add(t, "wakeups", json_object_new_int64((int64_t)s->wakeups));
	json_object_object_add(t, "positionsReceived", json_object_new_int64((int64_t)s->positions_received));
	json_object_object_add(t, "positionsStored", json_object_new_int64((int64_t)s->positions_stored));
	json_object_object_add(t, "positionsRefused", json_object_new_int64((int64_t)s->positions_refused));
	json_object_object_add(t, "positionsDropped", json_object_new_int64((int64_t)s->positions_dropped));
	json_object_object_add(t, "offersSent", json_object_new_int64((int64_t)s->offers_sent));
	json_object_object_add(t, "offerFailures", json_object_new_int64((int64_t)s->offer_failures));
	json_object_object_add(o, "totals", t);
	json_object_object_add(o, "maxRssKiB", json_object_new_int64(s->max_rss_kb));
	char *out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return out;
}

void jwb_stats_line(struct jwb_stats *s, int64_t mono_ms, char *out, size_t outlen)
{
	struct summary sum;
	summarise(s, mono_ms, &sum);
	snprintf(out, outlen,
			"changes_per_s=%.1f latency_ms_p50=%u p99=%u max=%u backlog_rows=%lld "
			"backlog_age_s=%.1f changes=%llu dead_letters=%llu resyncs=%llu "
			"publish_refusals=%llu mqtt_losses=%llu db_failures=%llu positions_stored=%llu rss_kib=%ld",
			sum.rate, sum.p50, sum.p99, sum.max, (long long)s->backlog_rows, s->backlog_age_s,
			(unsigned long long)s->changes, (unsigned long long)s->dead_letters,
			(unsigned long long)s->resyncs, (unsigned long long)s->publish_refusals,
			(unsigned long long)s->mqtt_losses, (unsigned long long)s->db_failures,
			(unsigned long long)s->positions_stored, s->max_rss_kb);
}

void jwb_stats_roll(struct jwb_stats *s, int64_t mono_ms)
{
	s->interval_start = mono_ms;
	s->interval_changes_base = s->changes;
	s->n_samples = 0;
	s->max_ms = 0;
}
