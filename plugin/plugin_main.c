/*
 * plugin_main — the entry points Mosquitto calls: version, init, cleanup.
 */
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

/* The broker's single thread owns this; the callbacks receive it as userdata
 * and there is only ever one instance. */
static struct jw_plugin *g_plugin;

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

static void fail_init(const char *msg)
{
	mosquitto_log_printf(MOSQ_LOG_ERR, "jetwire: %s", msg);
}

static const struct {
	int event;
	MOSQ_FUNC_generic_callback cb;
	const char *data;
} callbacks[] = {
	{MOSQ_EVT_BASIC_AUTH, jw_on_basic_auth, NULL},
	{MOSQ_EVT_EXT_AUTH_START, jw_on_ext_auth_start, JW_AUTH_METHOD},
	{MOSQ_EVT_EXT_AUTH_CONTINUE, jw_on_ext_auth_continue, JW_AUTH_METHOD},
	{MOSQ_EVT_ACL_CHECK, jw_on_acl_check, NULL},
	{MOSQ_EVT_CONTROL, jw_on_control, JW_CONTROL_TOPIC},
	/* every PUBLISH that passed the ACL (not wills, not $CONTROL):
	 * plugin_message.c checks driver location and presence */
	{MOSQ_EVT_MESSAGE, jw_on_message, NULL},
	{MOSQ_EVT_DISCONNECT, jw_on_disconnect, NULL},
	{MOSQ_EVT_TICK, jw_on_tick, NULL},
	{MOSQ_EVT_RELOAD, jw_on_reload, NULL},
};

static void release(struct jw_plugin *p)
{
	if(p == NULL) return;
	jw_conn_free_all(p);
	jw_acl_free(p->acl);
	jw_rel_free(p->rels);
	jw_options_clear(&p->opts);
	free(p);
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	char err[1024];
	struct jw_plugin *p = calloc(1, sizeof(*p));
	if(p == NULL || jw_options_init(&p->opts) != 0){
		free(p);
		fail_init("out of memory");
		return MOSQ_ERR_NOMEM;
	}
	p->id = identifier;

	/* With per_listener_settings true, 2.0.11 never fires MOSQ_EVT_TICK
	 * (src/plugin.c:185, "FIXME - iterate over all listeners"), so expired
	 * tokens would never be disconnected.  The identifier is opaque, but in
	 * 2.0.11 it is exactly { struct mosquitto__listener *listener; }
	 * (src/mosquitto_broker_internal.h:252), non-NULL only per listener. */
	if(*(void *const *)identifier != NULL){
		fail_init("per_listener_settings true is not supported: mosquitto 2.0.11 sends plugins"
				" no tick events then, so expired tokens would stay connected; set"
				" per_listener_settings false and load the plugin globally");
		release(p);
		return MOSQ_ERR_NOT_SUPPORTED;
	}
	for(int i = 0; i < option_count; i++){
		if(jw_options_set(&p->opts, options[i].key, options[i].value, err, sizeof(err)) != 0){
			fail_init(err);
			release(p);
			return MOSQ_ERR_INVAL;
		}
	}
	if(jw_options_finish(&p->opts, err, sizeof(err)) != 0){
		fail_init(err);
		release(p);
		return MOSQ_ERR_INVAL;
	}
	p->acl = jw_acl_load(p->opts.acl_file, err, sizeof(err));
	if(p->acl == NULL){
		fail_init(err);
		release(p);
		return MOSQ_ERR_INVAL;
	}
	p->rels = jw_rel_new();
	if(p->rels == NULL){
		fail_init("out of memory");
		release(p);
		return MOSQ_ERR_NOMEM;
	}
	p->now = jw_now();
	jw_acl_watch_init(p);

	for(size_t i = 0; i < sizeof(callbacks) / sizeof(callbacks[0]); i++){
		/* validate_publish false: no MOSQ_EVT_MESSAGE callback at all, so
		 * the broker's publish path is exactly as without it */
		if(callbacks[i].event == MOSQ_EVT_MESSAGE && !p->opts.validate_publish) continue;
		int rc = mosquitto_callback_register(identifier, callbacks[i].event, callbacks[i].cb,
				callbacks[i].data, p);
		if(rc != MOSQ_ERR_SUCCESS){
			fail_init("cannot register a callback");
			for(size_t j = 0; j < i; j++){
				if(callbacks[j].event == MOSQ_EVT_MESSAGE && !p->opts.validate_publish) continue;
				mosquitto_callback_unregister(identifier, callbacks[j].event, callbacks[j].cb, callbacks[j].data);
			}
			release(p);
			return rc;
		}
	}
	g_plugin = p;
	*userdata = p;
	mosquitto_log_printf(MOSQ_LOG_NOTICE,
			"jetwire: plugin ready | alg=%s acl=%s rules=%zu roles=%zu leeway=%llds%s",
			jwt_alg_str(p->opts.token.alg), p->opts.acl_file, jw_acl_rule_count(p->acl),
			p->opts.token.role_count, (long long)p->opts.token.leeway_s,
			p->opts.validate_publish ? "" : " validate_publish=false (driver location and presence NOT checked)");
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)options;
	(void)option_count;
	struct jw_plugin *p = userdata;
	if(p == NULL) return MOSQ_ERR_SUCCESS;
	for(size_t i = 0; i < sizeof(callbacks) / sizeof(callbacks[0]); i++){
		if(callbacks[i].event == MOSQ_EVT_MESSAGE && !p->opts.validate_publish) continue;
		mosquitto_callback_unregister(p->id, callbacks[i].event, callbacks[i].cb, callbacks[i].data);
	}
	release(p);
	g_plugin = NULL;
	return MOSQ_ERR_SUCCESS;
}
