/*
 * plugin_control — $CONTROL/jetwire/v1: relation commands from the bridge.
 *
 * Who may publish here is decided by the ACL (default policy: service and
 * admin).  The answer goes to $CONTROL/jetwire/v1/response for the sender
 * only.  Errors are answered, never returned: a non-zero return would
 * disconnect the publisher (src/control.c in 2.0.11), and one bad command
 * must not kick the bridge off.
 */
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "plugin.h"

int jw_on_control(int event, void *event_data, void *userdata)
{
	(void)event;
	struct mosquitto_evt_control *ed = event_data;
	struct jw_plugin *p = userdata;

	struct jw_control_outcome out;
	char *resp = jw_control_apply(p->rels, p->now, ed->payload, ed->payloadlen, &out);
	p->stats.control_commands += out.commands;
	p->stats.control_errors += out.failed;
	if(out.failed){
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				"jetwire: control command failed | client=%s user=%s commands=%u failed=%u",
				mosquitto_client_id(ed->client), mosquitto_client_username(ed->client),
				out.commands, out.failed);
	}
	if(out.syncs_completed){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "jetwire: relation sync complete | client=%s relations=%zu",
				mosquitto_client_id(ed->client), jw_rel_count(p->rels));
	}
	if(resp){
		mosquitto_broker_publish_copy(mosquitto_client_id(ed->client), JW_CONTROL_RESPONSE_TOPIC,
				(int)strlen(resp), resp, 0, false, NULL);
		free(resp);
	}
	return MOSQ_ERR_SUCCESS;
}
