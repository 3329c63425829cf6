/*
 * plugin_stats — counters, published retained under $SYS/broker/jetwire/
 * every stats_interval seconds, each topic only when its value changed.
 * Topic list: docs/operations.md.
 */
#include <stdio.h>
#include <string.h>

#include "plugin.h"

int jw_role_index(const struct jw_plugin *p, const char *role)
{
	for(size_t i = 0; i < p->opts.token.role_count; i++){
		if(strcmp(p->opts.token.roles[i], role) == 0) return (int)i;
	}
	return -1;
}

static void publish(struct jw_plugin *p, size_t *slot, const char *suffix, int64_t value)
{
	size_t i = (*slot)++;
	if(i >= JW_STATS_SLOTS) return;
	if(p->stats_sent[i] && p->stats_last[i] == value) return;
	char topic[256], payload[32];
	snprintf(topic, sizeof(topic), JW_SYS_PREFIX "%s", suffix);
	int n = snprintf(payload, sizeof(payload), "%lld", (long long)value);
	if(mosquitto_broker_publish_copy(NULL, topic, n, payload, 0, true, NULL) == MOSQ_ERR_SUCCESS){
		p->stats_sent[i] = true;
		p->stats_last[i] = value;
	}
}

void jw_stats_publish(struct jw_plugin *p)
{
	const struct jw_stats *s = &p->stats;
	size_t slot = 0;
	char name[128];
	int64_t active_total = 0;
	uint64_t failures_total = 0;

	for(size_t r = 0; r < p->opts.token.role_count; r++){
		snprintf(name, sizeof(name), "connections/%s/active", p->opts.token.roles[r]);
		publish(p, &slot, name, s->active_by_role[r]);
		snprintf(name, sizeof(name), "connections/%s/total", p->opts.token.roles[r]);
		publish(p, &slot, name, (int64_t)s->connects_by_role[r]);
		active_total += s->active_by_role[r];
	}
	publish(p, &slot, "connections/active", active_total);
	for(int r = 1; r < JW_REFUSE_COUNT; r++){
		snprintf(name, sizeof(name), "auth/failures/%s", jw_refusal_name(r));
		publish(p, &slot, name, (int64_t)s->auth_failures[r]);
		failures_total += s->auth_failures[r];
	}
	publish(p, &slot, "auth/failures/total", (int64_t)failures_total);
	publish(p, &slot, "auth/reauthentications", (int64_t)s->reauths);
	publish(p, &slot, "auth/expired_disconnects", (int64_t)s->expired_disconnects);
	publish(p, &slot, "acl/denied/read", (int64_t)s->acl_denied_read);
	publish(p, &slot, "acl/denied/write", (int64_t)s->acl_denied_write);
	publish(p, &slot, "acl/denied/subscribe", (int64_t)s->acl_denied_subscribe);
	publish(p, &slot, "acl/rules", (int64_t)jw_acl_rule_count(p->acl));
	publish(p, &slot, "acl/reloads", (int64_t)s->acl_reloads);
	publish(p, &slot, "acl/reload_failures", (int64_t)s->acl_reload_failures);
	publish(p, &slot, "relations/count", (int64_t)jw_rel_count(p->rels));
	publish(p, &slot, "relations/expired", (int64_t)s->relations_expired);
	publish(p, &slot, "control/commands", (int64_t)s->control_commands);
	publish(p, &slot, "control/errors", (int64_t)s->control_errors);
	uint64_t refused_total = 0;
	for(int r = 1; r < JW_PUB_REFUSAL_COUNT; r++){
		snprintf(name, sizeof(name), "publish/refused/%s", jw_publish_refusal_name(r));
		publish(p, &slot, name, (int64_t)s->publish_refused[r]);
		refused_total += s->publish_refused[r];
	}
	publish(p, &slot, "publish/refused/total", (int64_t)refused_total);
}
