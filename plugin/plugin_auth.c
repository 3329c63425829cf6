/*
 * plugin_auth — who may connect.
 *
 * The token arrives either as the MQTT password (MOSQ_EVT_BASIC_AUTH) or as
 * the authentication data of MQTT 5 enhanced authentication with method
 * "jwt" (MOSQ_EVT_EXT_AUTH_START), which is also how a connected MQTT 5
 * client refreshes its token: an AUTH packet with reason 0x19 reaches the
 * same event (src/handle_auth.c:97 in 2.0.11) for a client we already know.
 *
 * Every refusal returns MOSQ_ERR_AUTH, which 2.0.11 answers with CONNACK
 * 0x87 "not authorized" (MQTT 5) or 5 (3.1.1) (src/handle_connect.c:897);
 * the precise reason goes to the log and to a counter, never the token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

static const char *const refusal_names[] = {
	[JW_REFUSE_CLIENTID - JW_TOK_REASON_COUNT] = "clientid_mismatch",
	[JW_REFUSE_IDENTITY_CHANGED - JW_TOK_REASON_COUNT] = "identity_changed",
	[JW_REFUSE_INTERNAL - JW_TOK_REASON_COUNT] = "internal_error",
};

const char *jw_refusal_name(int reason)
{
	if(reason >= 0 && reason < JW_TOK_REASON_COUNT) return jw_token_reason_name((enum jw_token_reason)reason);
	if(reason >= JW_TOK_REASON_COUNT && reason < JW_REFUSE_COUNT) return refusal_names[reason - JW_TOK_REASON_COUNT];
	return "unknown";
}

static int refuse(struct jw_plugin *p, struct mosquitto *client, int reason, const char *what)
{
	p->stats.auth_failures[reason]++;
	const char *id = mosquitto_client_id(client);
	const char *addr = mosquitto_client_address(client);
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "jetwire: refused %s | client=%s address=%s reason=%s",
			what, id ? id : "-", addr ? addr : "-", jw_refusal_name(reason));
	return MOSQ_ERR_AUTH;
}

static int accept_principal(struct jw_plugin *p, struct mosquitto *client,
		const struct jw_principal *who, bool enhanced)
{
	if(!jw_options_clientid_exempt(&p->opts, who->role)
			&& !jw_clientid_belongs_to(who, mosquitto_client_id(client))){
		return refuse(p, client, JW_REFUSE_CLIENTID, "connection");
	}
	char username[JW_ROLE_MAX + JW_SUB_MAX + 2];
	snprintf(username, sizeof(username), "%s:%s", who->role, who->sub);
	/* a SIGHUP re-check of a connected client is not a new connection */
	bool recheck = jw_conn_find(p, client) != NULL;
	if(mosquitto_set_username(client, username) != MOSQ_ERR_SUCCESS
			|| jw_conn_add(p, client, who, enhanced) != MOSQ_ERR_SUCCESS){
		return refuse(p, client, JW_REFUSE_INTERNAL, "connection");
	}
	int ri = jw_role_index(p, who->role);
	if(ri >= 0 && !recheck) p->stats.connects_by_role[ri]++;
	return MOSQ_ERR_SUCCESS;
}

int jw_on_basic_auth(int event, void *event_data, void *userdata)
{
	(void)event;
	struct mosquitto_evt_basic_auth *ed = event_data;
	struct jw_plugin *p = userdata;
	int64_t now = jw_now();

	/* SIGHUP re-runs BASIC_AUTH for every client (shared/notes).  A client
	 * that authenticated by AUTH packet has no password to re-check: keep it
	 * while its token is valid. */
	struct jw_conn *known = jw_conn_find(p, ed->client);

	/* ... and for every offline session (src/security_default.c:1254).  A
	 * connected client always has a jw_conn, so an unknown client during the
	 * re-check is an offline session -- unless it is a WebSocket client whose
	 * CONNECT lws_service() handles in the same loop pass (src/loop.c:251);
	 * TCP CONNECTs are not read there.  Leave offline sessions alone: they
	 * authenticate again when they reconnect, and delivery to them is
	 * ACL-checked anyway.  Refusing one makes 2.0.11 put the session on its
	 * expiry list twice (context__disconnect -> session_expiry__add), which
	 * leaves a dangling entry once the session expires (broker crash seen at
	 * shutdown); accepting one would register a jw_conn that no DISCONNECT
	 * ever removes (session expiry frees the context without the event). */
	if(known == NULL && p->reloading && mosquitto_client_protocol(ed->client) != mp_websockets){
		return MOSQ_ERR_SUCCESS;
	}
	if(ed->password == NULL && known && jw_conn_is_enhanced(known)){
		const struct jw_principal *who = jw_conn_principal(known);
		if(who->exp == 0 || now < who->exp + p->opts.token.leeway_s) return MOSQ_ERR_SUCCESS;
		return refuse(p, ed->client, JW_TOK_EXPIRED, "connection");
	}

	struct jw_principal who;
	enum jw_token_reason r = jw_token_verify(&p->opts.token, ed->password, now, &who);
	if(r != JW_TOK_OK) return refuse(p, ed->client, (int)r, "connection");
	return accept_principal(p, ed->client, &who, false);
}

/* Copy AUTH data (not NUL-terminated) into a string for the verifier. */
static enum jw_token_reason verify_auth_data(struct jw_plugin *p, const void *data, uint16_t len,
		struct jw_principal *who)
{
	if(data == NULL || len == 0) return JW_TOK_EMPTY;
	if(len > p->opts.token.max_token_len) return JW_TOK_TOO_LONG;
	char *token = malloc((size_t)len + 1);
	if(token == NULL) return JW_TOK_MALFORMED;
	memcpy(token, data, len);
	token[len] = '\0';
	enum jw_token_reason r = strlen(token) == len
		? jw_token_verify(&p->opts.token, token, jw_now(), who)
		: JW_TOK_MALFORMED;   /* an embedded NUL */
	memset(token, 0, len);
	free(token);
	return r;
}

int jw_on_ext_auth_start(int event, void *event_data, void *userdata)
{
	(void)event;
	struct mosquitto_evt_extended_auth *ed = event_data;
	struct jw_plugin *p = userdata;

	if(ed->auth_method == NULL || strcmp(ed->auth_method, JW_AUTH_METHOD) != 0){
		/* the broker answers CONNACK 0x8C "bad authentication method" */
		return MOSQ_ERR_NOT_SUPPORTED;
	}
	struct jw_principal who;
	enum jw_token_reason r = verify_auth_data(p, ed->data_in, ed->data_in_len, &who);
	struct jw_conn *known = jw_conn_find(p, ed->client);

	if(known == NULL){
		if(r != JW_TOK_OK) return refuse(p, ed->client, (int)r, "connection");
		return accept_principal(p, ed->client, &who, true);
	}

	/* Re-authentication of a connected client: a refreshed token for the
	 * same identity.  On refusal 2.0.11 sends a CONNACK 0x87 and closes the
	 * connection (src/handle_auth.c:124; fixed upstream in 2.0.13). */
	if(r != JW_TOK_OK) return refuse(p, ed->client, (int)r, "re-authentication");
	const struct jw_principal *old = jw_conn_principal(known);
	if(strcmp(old->sub, who.sub) != 0 || strcmp(old->role, who.role) != 0){
		return refuse(p, ed->client, JW_REFUSE_IDENTITY_CHANGED, "re-authentication");
	}
	jw_conn_update_expiry(known, who.exp);
	p->stats.reauths++;
	mosquitto_log_printf(MOSQ_LOG_INFO, "jetwire: token refreshed | client=%s user=%s:%s exp=%lld",
			mosquitto_client_id(ed->client), who.role, who.sub, (long long)who.exp);
	return MOSQ_ERR_SUCCESS;
}

int jw_on_ext_auth_continue(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)userdata;
	struct mosquitto_evt_extended_auth *ed = event_data;
	/* "jwt" is a single-step method: the token comes with the first packet */
	if(ed->auth_method == NULL || strcmp(ed->auth_method, JW_AUTH_METHOD) != 0){
		return MOSQ_ERR_NOT_SUPPORTED;
	}
	return MOSQ_ERR_AUTH;
}
