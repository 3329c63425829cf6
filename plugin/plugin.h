/*
 * The jetwire Mosquitto plugin's internal API.  The plugin is a thin shell:
 * each plugin_*.c file translates one kind of broker event into calls on the
 * pure core (plugin/core) and back into MOSQ_ERR_* codes.
 *
 *   plugin_main.c     init/cleanup, options, callback registration
 *   plugin_auth.c     CONNECT (password) and enhanced auth / re-auth
 *   plugin_acl.c      every publish, subscribe and delivery
 *   plugin_control.c  $CONTROL/jetwire/v1 commands
 *   plugin_message.c  what drivers publish on driver/{id}/location, presence
 *   plugin_clients.c  per-connection state (token expiry, identity,
 *                     publish rate buckets)
 *   plugin_tick.c     periodic work: expiry kicks, ACL reload, relation expiry
 *   plugin_stats.c    counters and their $SYS publication
 *
 * Everything runs on the broker's single thread; no locking.
 */
#ifndef JW_PLUGIN_H
#define JW_PLUGIN_H

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "options.h"
#include "payload_check.h"
#include "rate_limit.h"
#include "relations.h"
#include "token.h"

#define JW_CONTROL_TOPIC "$CONTROL/jetwire/v1"
#define JW_CONTROL_RESPONSE_TOPIC "$CONTROL/jetwire/v1/response"
#define JW_SYS_PREFIX "$SYS/broker/jetwire/"
#define JW_AUTH_METHOD "jwt"
#define JW_STATS_SLOTS 128

/* Refusals beyond the token's own reasons. */
enum jw_auth_refusal {
	JW_REFUSE_CLIENTID = JW_TOK_REASON_COUNT, /* client id not bound to the token */
	JW_REFUSE_IDENTITY_CHANGED,               /* re-auth token names another sub/role */
	JW_REFUSE_INTERNAL,                       /* out of memory */
	JW_REFUSE_COUNT
};

/* Why a publish on driver/{id}/location or presence was refused: the
 * payload verdicts, then the rate limit.  Names: jw_publish_refusal_name(). */
enum jw_publish_refusal {
	JW_PUB_RATE_LIMITED = JW_PV_COUNT,
	JW_PUB_REFUSAL_COUNT
};

/* Per connection: one bucket per payload kind, and the state of the
 * rate-limited refusal log line. */
struct jw_publish_state {
	struct jw_bucket bucket[JW_PAYLOAD_KIND_COUNT];
	int64_t log_next_ns;       /* monotonic; no refusal line before this */
	uint64_t log_suppressed;   /* refusals not logged since the last line */
};

struct jw_stats {
	uint64_t connects_by_role[JW_MAX_ROLES];   /* accepted, total */
	int64_t active_by_role[JW_MAX_ROLES];      /* connected now */
	uint64_t auth_failures[JW_REFUSE_COUNT];
	uint64_t reauths;
	uint64_t acl_denied_read, acl_denied_write, acl_denied_subscribe;
	uint64_t expired_disconnects;
	uint64_t acl_reloads, acl_reload_failures;
	uint64_t control_commands, control_errors;
	uint64_t relations_expired;
	uint64_t publish_refused[JW_PUB_REFUSAL_COUNT]; /* index: verdict or JW_PUB_RATE_LIMITED */
};

struct jw_conn;   /* plugin_clients.c */

struct jw_plugin {
	mosquitto_plugin_id_t *id;
	struct jw_options opts;
	struct jw_acl *acl;
	struct jw_relstore *rels;
	struct jw_conn *conns;          /* uthash, keyed by struct mosquitto * */
	struct jw_stats stats;
	int64_t now;                    /* seconds, refreshed every tick */
	/* ACL file watch */
	int64_t next_reload_check;
	char acl_signature[256];        /* mtime/size/inode of every ACL file */
	char failed_signature[256];     /* last broken version, logged once */
	char failed_error[1024];        /* and its error */
	int64_t next_stats_publish;
	int64_t stats_last[JW_STATS_SLOTS]; /* last published value per topic */
	bool stats_sent[JW_STATS_SLOTS];
	int64_t next_expiry_scan;
	int64_t next_relation_sweep;
	/* Between MOSQ_EVT_RELOAD and the next tick: the broker is re-running
	 * BASIC_AUTH for every session, offline ones included (plugin_auth.c). */
	bool reloading;
};

/* plugin_auth.c */
int jw_on_basic_auth(int event, void *event_data, void *userdata);
int jw_on_ext_auth_start(int event, void *event_data, void *userdata);
int jw_on_ext_auth_continue(int event, void *event_data, void *userdata);
const char *jw_refusal_name(int reason);

/* plugin_acl.c */
int jw_on_acl_check(int event, void *event_data, void *userdata);

/* plugin_message.c */
int jw_on_message(int event, void *event_data, void *userdata);
const char *jw_publish_refusal_name(int refusal);
int64_t jw_monotonic_ns(void);

/* plugin_control.c */
int jw_on_control(int event, void *event_data, void *userdata);

/* plugin_clients.c */
int jw_conn_add(struct jw_plugin *p, struct mosquitto *client, const struct jw_principal *who,
		bool enhanced);
struct jw_conn *jw_conn_find(struct jw_plugin *p, const struct mosquitto *client);
const struct jw_principal *jw_conn_principal(const struct jw_conn *c);
void jw_conn_update_expiry(struct jw_conn *c, int64_t exp);
bool jw_conn_is_enhanced(const struct jw_conn *c);
/* The connection's publish buckets and log state (owned by the entry). */
struct jw_publish_state *jw_conn_publish_state(struct jw_conn *c);
int jw_on_disconnect(int event, void *event_data, void *userdata);
/* Disconnect every client whose token expired (called from the tick). */
void jw_conn_kick_expired(struct jw_plugin *p);
void jw_conn_free_all(struct jw_plugin *p);

/* plugin_tick.c */
int jw_on_tick(int event, void *event_data, void *userdata);
int jw_on_reload(int event, void *event_data, void *userdata);
/* (Re)load the ACL file; keeps the old rules on error.  `force` skips the
 * unchanged-file shortcut. */
void jw_acl_reload(struct jw_plugin *p, bool force);
/* Remember the current ACL files' state, so only later edits reload. */
void jw_acl_watch_init(struct jw_plugin *p);
int64_t jw_now(void);

/* plugin_stats.c */
void jw_stats_publish(struct jw_plugin *p);
int jw_role_index(const struct jw_plugin *p, const char *role);

#endif
