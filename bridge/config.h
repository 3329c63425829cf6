/*
 * config — the bridge's configuration: one file of `key value` lines plus
 * environment overrides (JETWIRE_BRIDGE_<KEY>), validated whole before the
 * daemon starts.  docs/bridge-config.md is the reference for every option.
 *
 * Nothing is printed here: every problem is described in errbuf, with
 * "<file>:<line>: " or "<ENV_NAME>: " in front when it has a place.
 */
#ifndef JWB_CONFIG_H
#define JWB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define JWB_CONFIG_ENV_PREFIX "JETWIRE_BRIDGE_"

struct jwb_config {
	/* PostgreSQL */
	char *database;            /* libpq conninfo or URI; required */
	bool migrate;              /* apply embedded migrations at start (true) */

	/* MQTT */
	char *mqtt_host;           /* "127.0.0.1" */
	int mqtt_port;             /* 1883 */
	char *mqtt_client_id;      /* default "service-<jwt_sub>" */
	int mqtt_keepalive;        /* seconds, 30 */
	int mqtt_session_expiry;   /* seconds, 86400 */
	int mqtt_inflight;         /* QoS 1 publishes awaiting PUBACK, 64 (1..1000) */

	/* The bridge's own token (exactly one source) */
	char *jwt_alg;             /* "HS256" (HS256/384/512, RS256/384/512, ES256/384) */
	char *jwt_secret_file;     /* HS*: secret from a file ... */
	char *jwt_secret_env;      /* ... or this environment variable ("JWT_SECRET") */
	char *jwt_private_key_file;/* RS*, ES*: PEM private key */
	char *jwt_token_file;      /* or a ready token, re-read before it expires */
	char *jwt_sub;             /* "bridge" */
	char *jwt_role_claim;      /* "userType" */
	char *jwt_issuer;          /* NULL: no iss claim */
	char *jwt_audience;        /* NULL: no aud claim */
	int jwt_lifetime;          /* seconds, 3600 (10..2592000); renewed at 2/3 */

	/* Orders */
	char **statuses;           /* every known status; NULL-terminated */
	size_t n_statuses;
	char **terminal_statuses;  /* subset of statuses; NULL-terminated */
	size_t n_terminal_statuses;
	int terminal_expiry;       /* seconds a terminal order stays retained/readable, 3600 */

	/* Pacing */
	int batch_size;            /* outbox rows per read, 500 (1..10000) */
	int resync_batch_size;     /* orders per resync fetch, 1000 (1..100000) */
	int poll_interval_ms;      /* backup poll when idle, 1000 (10..600000) */
	int backoff_initial_ms;    /* first reconnect delay, 100 (1..60000) */
	int backoff_max_ms;        /* reconnect delay cap, 30000 (>= initial, ..3600000) */
	int stats_interval;        /* seconds between retained stats, 10 (1..3600) */
	/* Driver positions (driver/+/location, driver/+/presence -> jetwire.driver_position) */
	int location_batch_size;   /* drivers per write, 1000 (1..100000) */
	int location_flush_ms;     /* write at least this often, 1000 (10..60000) */
	int location_queue_max;    /* QoS 0 locations waiting for the loop before new ones are dropped */
	bool location_history;     /* also append to jetwire.driver_position_history, false */
	int location_history_retention; /* seconds of history kept, 86400 (60..31536000) */

	/* Offers (driver/{id}/offers) */
	char **offer_statuses;     /* an order reaching one is offered; subset of statuses; NULL-terminated */
	size_t n_offer_statuses;
	char **offer_availability; /* driver availability values that take offers ("AVAILABLE") */
	size_t n_offer_availability;
	int offer_radius_m;        /* around the merchant's pickup point, 5000 (100..1000000) */
	int offer_max_drivers;     /* nearest first, 5 (1..100) */
	int offer_lifetime;        /* seconds: MQTT 5 message expiry and expiresAt, 60 (5..3600) */
	int offer_max_position_age;/* seconds; older positions are not offered, 300 (10..86400) */
	int log_interval;          /* seconds between stats log lines, 60 (1..86400) */
};

/* Fill `cfg` with the defaults (database NULL).  Never fails except for
 * memory, then returns -1. */
int jwb_config_defaults(struct jwb_config *cfg);

/*
 * Load: defaults, then the file at `path` (NULL: no file), then environment
 * overrides, then validation of the whole (ranges, exactly one token source,
 * terminal_statuses within statuses, files readable).  Returns 0, or -1 with
 * the first problem in errbuf.  On failure cfg is left freed.
 */
int jwb_config_load(struct jwb_config *cfg, const char *path, char *errbuf, size_t errlen);

void jwb_config_free(struct jwb_config *cfg);

bool jwb_config_status_known(const struct jwb_config *cfg, const char *status);
bool jwb_config_status_terminal(const struct jwb_config *cfg, const char *status);
bool jwb_config_status_offered(const struct jwb_config *cfg, const char *status);

#endif
