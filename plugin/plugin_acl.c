/*
 * plugin_acl — every publish (WRITE), subscribe (SUBSCRIBE) and delivery
 * (READ, checked by 2.0.11 for each subscriber in src/subs.c and for retained
 * messages in src/retain.c) goes through here.
 *
 * Hot path: no allocation, no I/O.  The principal is read back from the
 * broker-side username "{role}:{sub}" set at authentication, which the
 * broker keeps for offline sessions and wills.
 */
#include <string.h>

#include "jw_topic.h"
#include "plugin.h"

static enum jw_access map_access(int mosq_access)
{
	switch(mosq_access){
		case MOSQ_ACL_READ: return JW_ACCESS_READ;
		case MOSQ_ACL_WRITE: return JW_ACCESS_WRITE;
		case MOSQ_ACL_SUBSCRIBE: return JW_ACCESS_SUBSCRIBE;
		default: return (enum jw_access)0;
	}
}

static void count_denial(struct jw_plugin *p, enum jw_access a, struct mosquitto *client,
		const char *topic)
{
	switch(a){
		case JW_ACCESS_READ:
			/* a '#' subscriber is denied most deliveries by design: count, don't log */
			p->stats.acl_denied_read++;
			return;
		case JW_ACCESS_WRITE: p->stats.acl_denied_write++; break;
		case JW_ACCESS_SUBSCRIBE: p->stats.acl_denied_subscribe++; break;
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "jetwire: denied %s | client=%s address=%s user=%s topic=%s",
			jw_access_name(a), mosquitto_client_id(client), mosquitto_client_address(client),
			mosquitto_client_username(client), topic);
}

int jw_on_acl_check(int event, void *event_data, void *userdata)
{
	(void)event;
	struct mosquitto_evt_acl_check *ed = event_data;
	struct jw_plugin *p = userdata;

	if(ed->access == MOSQ_ACL_UNSUBSCRIBE) return MOSQ_ERR_SUCCESS;
	enum jw_access access = map_access(ed->access);
	if(access == 0 || ed->topic == NULL) return MOSQ_ERR_ACL_DENIED;

	const char *username = mosquitto_client_username(ed->client);
	const char *colon = username ? strchr(username, ':') : NULL;
	if(colon == NULL){
		count_denial(p, access, ed->client, ed->topic);
		return MOSQ_ERR_ACL_DENIED;
	}
	const char *client_id = mosquitto_client_id(ed->client);
	struct jw_subject who = {
		.role = username, .role_len = (size_t)(colon - username),
		.sub = colon + 1, .sub_len = strlen(colon + 1),
		.client_id = client_id, .client_id_len = client_id ? strlen(client_id) : 0,
	};

	const char *topic = ed->topic;
	size_t len = strlen(topic);
	if(access == JW_ACCESS_SUBSCRIBE){
		/* 2.0.11 passes the filter with "$share/<group>/" still on it */
		topic = jw_filter_strip_share(topic, &len);
		if(topic == NULL){
			count_denial(p, access, ed->client, ed->topic);
			return MOSQ_ERR_ACL_DENIED;
		}
	}
	if(jw_acl_decide(p->acl, p->rels, p->now, &who, access, topic, len, NULL) == JW_ALLOW){
		return MOSQ_ERR_SUCCESS;
	}
	count_denial(p, access, ed->client, ed->topic);
	return MOSQ_ERR_ACL_DENIED;
}
