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

/* Is `role` exempt from client-id binding? */
bool jw_options_clientid_exempt(const struct jw_options *o, const char *role);

#endif
