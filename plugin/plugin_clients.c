#define _POSIX_C_SOURCE 200809L
/*
 * plugin_clients — per-connection state: who the token said the client is,
 * and when that token expires.
 *
 * Keyed by the struct mosquitto pointer, not the client id: when a client id
 * is taken over, the old connection's DISCONNECT arrives after the new one
 * authenticated (shared/notes), and the pointer tells them apart.  An entry
 * lives from successful authentication to the connection's DISCONNECT.
 *
 * ACL decisions do not use this table: they read the principal back from the
 * broker-side username "{role}:{sub}", which the broker keeps for offline
 * sessions and for the last will too (the plugin's DISCONNECT fires before
 * the will is checked).
 */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "plugin.h"

struct jw_conn {
	struct mosquitto *client;      /* key */
	struct jw_principal who;
	int role_idx;
	bool enhanced;                 /* authenticated with AUTH method "jwt" */
	bool kick_queued;
	struct jw_publish_state pub;
	UT_hash_handle hh;
};

int jw_conn_add(struct jw_plugin *p, struct mosquitto *client, const struct jw_principal *who,
		bool enhanced)
{
	struct jw_conn *c = jw_conn_find(p, client);
	bool fresh = c == NULL;
	if(c == NULL){
		c = calloc(1, sizeof(*c));
		if(c == NULL) return MOSQ_ERR_NOMEM;
		c->client = client;
		HASH_ADD_PTR(p->conns, client, c);
	}else{
		/* SIGHUP re-runs authentication for connected clients: not a new connection */
		if(c->role_idx >= 0) p->stats.active_by_role[c->role_idx]--;
	}
	c->who = *who;
	c->enhanced = enhanced;
	c->kick_queued = false;
	c->role_idx = jw_role_index(p, who->role);
	if(c->role_idx >= 0) p->stats.active_by_role[c->role_idx]++;
	if(fresh){
		int64_t now_ns = jw_monotonic_ns();
		for(int k = 0; k < JW_PAYLOAD_KIND_COUNT; k++){
			struct jw_rate r = jw_options_rate(&p->opts, (enum jw_payload_kind)k, c->role_idx);
			jw_bucket_init(&c->pub.bucket[k], &r, now_ns);
		}
		c->pub.log_next_ns = 0;
		c->pub.log_suppressed = 0;
	}
	return MOSQ_ERR_SUCCESS;
}

struct jw_conn *jw_conn_find(struct jw_plugin *p, const struct mosquitto *client)
{
	struct jw_conn *c = NULL;
	HASH_FIND_PTR(p->conns, &client, c);
	return c;
}

const struct jw_principal *jw_conn_principal(const struct jw_conn *c)
{
	return &c->who;
}

void jw_conn_update_expiry(struct jw_conn *c, int64_t exp)
{
	c->who.exp = exp;
	c->kick_queued = false;
}

bool jw_conn_is_enhanced(const struct jw_conn *c)
{
	return c->enhanced;
}

struct jw_publish_state *jw_conn_publish_state(struct jw_conn *c)
{
	return &c->pub;
}

static void remove_conn(struct jw_plugin *p, struct jw_conn *c)
{
	if(c->role_idx >= 0) p->stats.active_by_role[c->role_idx]--;
	HASH_DEL(p->conns, c);
	free(c);
}

int jw_on_disconnect(int event, void *event_data, void *userdata)
{
	(void)event;
	struct mosquitto_evt_disconnect *ed = event_data;
	struct jw_plugin *p = userdata;
	/* may fire twice for one client (shared/notes): the lookup makes it idempotent */
	struct jw_conn *c = jw_conn_find(p, ed->client);
	if(c) remove_conn(p, c);
	return MOSQ_ERR_SUCCESS;
}

void jw_conn_kick_expired(struct jw_plugin *p)
{
	struct jw_conn *c, *tmp;
	char **ids = NULL;
	size_t n = 0, cap = 0;

	/* Collect first, kick after: a kick runs DISCONNECT, which edits the table. */
	HASH_ITER(hh, p->conns, c, tmp){
		/* the same rule as at CONNECT: valid until exp + leeway */
		if(c->who.exp == 0 || c->kick_queued || p->now < c->who.exp + p->opts.token.leeway_s) continue;
		const char *id = mosquitto_client_id(c->client);
		if(id == NULL) continue;
		if(n == cap){
			size_t ncap = cap ? cap * 2 : 16;
			char **nids = realloc(ids, ncap * sizeof(*nids));
			if(nids == NULL) break;
			ids = nids;
			cap = ncap;
		}
		ids[n] = strdup(id);
		if(ids[n] == NULL) break;
		n++;
		c->kick_queued = true;
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"jetwire: token expired | client=%s address=%s user=%s:%s exp=%lld | disconnecting",
				id, mosquitto_client_address(c->client), c->who.role, c->who.sub,
				(long long)c->who.exp);
	}
	for(size_t i = 0; i < n; i++){
		/* with_will: an expired session is a client gone away; its last will
		 * (e.g. presence "offline") is exactly what others should see */
		if(mosquitto_kick_client_by_clientid(ids[i], true) == MOSQ_ERR_SUCCESS){
			p->stats.expired_disconnects++;
		}
		free(ids[i]);
	}
	free(ids);
}

void jw_conn_free_all(struct jw_plugin *p)
{
	struct jw_conn *c, *tmp;
	HASH_ITER(hh, p->conns, c, tmp){
		HASH_DEL(p->conns, c);
		free(c);
	}
}
