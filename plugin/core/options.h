/*
 * options — the plugin's configuration (plugin_opt_* lines in
 * mosquitto.conf; docs/configuration.md), parsed and validated without the
 * broker so that the jetwire-acl tool and tests share it.
 */
#ifndef JW_OPTIONS_H
#define JW_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "payload_check.h"
#include "rate_limit.h"
#include "token.h"

struct jw_options {
	struct jw_token_config token;
	char *acl_file;               /* owned */
	char *secret_file;            /* owned; HMAC secret */
	char *secret_env;             /* owned; env var holding the HMAC secret */
	char *public_key_file;        /* owned; PEM for RS and ES algorithms */
	uint32_t clientid_exempt_mask;/* bit per token.roles index */
	bool clientid_exempt_set;
	char *clientid_exempt_csv;    /* owned; resolved after roles are known */
	int acl_reload_interval_s;    /* 0 disables the file watch */
	int stats_interval_s;
	/* Published location and presence (payload_check.h) */
	bool validate_publish;        /* false: not checked or rate-limited at all */
	int location_max_skew_s;      /* allowed |ts - now|; 0: ts window not checked */
	char *rate_csv[JW_PAYLOAD_KIND_COUNT]; /* owned; "role:RATE/BURST,..." as configured */
	/* Resolved by jw_options_finish: the bucket of each kind for each role
	 * (index into token.roles); rate_milli 0 is unlimited. */
	struct jw_rate rate[JW_PAYLOAD_KIND_COUNT][JW_MAX_ROLES];
};

/* Defaults (see docs/configuration.md).  Returns -1 if out of memory. */
int jw_options_init(struct jw_options *o);
void jw_options_clear(struct jw_options *o);

/* Apply one "key value" option.  Unknown keys and bad values return -1
 * with "option <key>: reason" in errbuf. */
int jw_options_set(struct jw_options *o, const char *key, const char *value,
		char *errbuf, size_t errlen);

/* Cross-checks and key loading, after every option is set. */
int jw_options_finish(struct jw_options *o, char *errbuf, size_t errlen);

/* The rate limit of `kind` for the role at index `role_idx` of
 * token.roles (after jw_options_finish); unlimited for -1. */
struct jw_rate jw_options_rate(const struct jw_options *o, enum jw_payload_kind kind, int role_idx);

/* Is `role` exempt from client-id binding? */
bool jw_options_clientid_exempt(const struct jw_options *o, const char *role);

#endif
