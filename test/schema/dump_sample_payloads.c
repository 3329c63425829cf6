/*
 * dump_sample_payloads OUT — write a representative set of MQTT messages,
 * one "TOPIC<TAB>PAYLOAD" line each, for test/schema/validate_payloads.py
 * to check against schemas/json/.
 *
 * The bridge's documents (orderStatus, driverAssignment, notification) come
 * from its own builders (bridge/payload.c) with typical, edge and awkward
 * values: null optionals, limits, escapes, non-ASCII text.  The documents
 * that apps publish (location, presence) and the offers are written out
 * literally, as the SPEC shows them.  A few lines the validator must skip
 * (bridge status, control channel, a retained clear) are included too.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"

static FILE *out;
static int failures;

static void line(const char *topic, const char *payload)
{
	fprintf(out, "%s\t%s\n", topic, payload);
}

/* Topic for a built payload; NULL payload is a builder failure. */
static void emit(const char *topic, char *payload, const char *what, const char *err)
{
	if(payload == NULL){
		fprintf(stderr, "dump_sample_payloads: %s refused: %s\n", what, err);
		failures++;
		return;
	}
	if(strchr(payload, '\n') != NULL){
		fprintf(stderr, "dump_sample_payloads: %s has a raw newline\n", what);
		failures++;
	}
	line(topic, payload);
	free(payload);
}

static char *rep(char c, size_t n)
{
	char *s = malloc(n + 1);
	if(s == NULL){
		perror("malloc");
		exit(2);
	}
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void order_statuses(void)
{
	char err[256];
	char topic[256];
	static const struct jwb_order_status cases[] = {
		{"ord-1", "ORD-2026-0001", "pending", NULL, 1, INT64_C(1795647001123)},
		{"ord-1", "ORD-2026-0001", "confirmed", "pending", 2, INT64_C(1795647061000)},
		{"ord-1", "ORD-2026-0001", "delivered", "out_for_delivery", 9, INT64_C(1795650001999)},
		{"ord-2", NULL, "pending", NULL, 1, 0},
		{"42", "", "cancelled", "", 9223372036854775807, INT64_C(253402300799999)},
		{"ord-\xc3\xa9\xe2\x82\xac", "N\xc2\xba \"7\" \\ /x\t\x01", "st\xc3\xa4tus \xf0\x9f\x98\x80",
			"a\"b", 3, INT64_C(1795647001001)},
	};
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++){
		snprintf(topic, sizeof(topic), "order/%s/status", cases[i].order_id);
		emit(topic, jwb_payload_order_status(&cases[i], err, sizeof(err)), "orderStatus", err);
	}
	/* every limit at its edge */
	char *id = rep('o', JWB_ID_MAX);
	char *num = rep('n', JWB_ORDER_NUMBER_MAX);
	char *st = rep('s', JWB_STATUS_MAX);
	struct jwb_order_status edge = {id, num, st, st, 1, 1};
	snprintf(topic, sizeof(topic), "order/%s/status", id);
	emit(topic, jwb_payload_order_status(&edge, err, sizeof(err)), "orderStatus at limits", err);
	free(id);
	free(num);
	free(st);
}

static void driver_assignments(void)
{
	char err[256];
	static const struct jwb_driver_assignment cases[] = {
		{"ord-1", "drv-7", "pickup", "Ada Driver", 4.8, true, "van", 1, INT64_C(1795647001123)},
		{"ord-1", "drv-8", "delivery", "Zo\xc3\xab \"Z\" O'Neil\\", 5.0, true, "\xe8\xbd\xa6", 2,
			INT64_C(1795647002000)},
		{"ord-1", NULL, "delivery", NULL, 0.0, false, NULL, 3, INT64_C(1795647003000)},
		{"ord-2", "drv-9", "pickup", "", 0.0, true, "", 1, 0},
		{"ord-2", "drv-9", "delivery", NULL, 1.0 / 3.0, true, NULL, 2, 1},
	};
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++){
		char topic[256];
		snprintf(topic, sizeof(topic), "order/%s/driver", cases[i].order_id);
		emit(topic, jwb_payload_driver_assignment(&cases[i], err, sizeof(err)), "driverAssignment", err);
	}
	char *name = rep('n', JWB_NAME_MAX);
	char *veh = rep('v', JWB_VEHICLE_TYPE_MAX);
	char *drv = rep('d', JWB_ID_MAX);
	struct jwb_driver_assignment edge = {"ord-3", drv, "pickup", name, 0.0, true, veh, 1, 1};
	emit("order/ord-3/driver", jwb_payload_driver_assignment(&edge, err, sizeof(err)),
		"driverAssignment at limits", err);
	free(name);
	free(veh);
	free(drv);
}

static void notifications(void)
{
	char err[256];
	static const struct {
		const char *topic;
		struct jwb_notification n;
	} cases[] = {
		{"customer/cus-1/notifications", {"ntf-1", "Order ready", "Your order is ready for pickup.",
			"{\"orderId\":\"ord-1\",\"kind\":\"ready\"}", INT64_C(1795647001123)}},
		{"driver/drv-7/notifications", {"ntf-2", "", "", NULL, 0}},
		{"merchant/mer-3/notifications", {"ntf-3", "Caf\xc3\xa9 \xe2\x80\x94 \"new\" order \\o/",
			"line 1\nline 2\r\n\ttabbed \x01\x1f </script> \xf0\x9f\x91\x95",
			"{\"nested\": {\"a\": [1, 2.5, -3e2, true, false, null, \"\\u00e9\\n\"]}, \"empty\": {}}",
			INT64_C(1795647009999)}},
		{"admin/1/notifications", {"9", "t", "b", "{}", 1}},
	};
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++){
		emit(cases[i].topic, jwb_payload_notification(&cases[i].n, err, sizeof(err)), "notification", err);
	}
	char *title = rep('t', JWB_TITLE_MAX);
	char *body = rep('b', JWB_BODY_MAX);
	struct jwb_notification edge = {"ntf-4", title, body, NULL, 1};
	emit("customer/cus-1/notifications", jwb_payload_notification(&edge, err, sizeof(err)),
		"notification at limits", err);
	free(title);
	free(body);
}

/* What apps and the offer code publish, as the SPEC describes it. */
static void literal_messages(void)
{
	line("driver/drv-7/location", "{\"lat\":48.8566,\"lng\":2.3522,\"ts\":1795647001123}");
	line("driver/drv-7/location", "{\"lat\":-90,\"lng\":180,\"ts\":0,\"heading\":359.9,\"speed\":12.5,"
		"\"accuracy\":5,\"orderId\":\"ord-1\"}");
	line("driver/drv-7/presence", "{\"status\":\"online\",\"ts\":1795647001123}");
	line("driver/drv-7/presence", "{\"status\":\"offline\",\"ts\":1795647009000}");
	line("driver/drv-7/offers", "{\"orderId\":\"ord-1\",\"orderNumber\":\"ORD-2026-0001\","
		"\"pickup\":{\"lat\":48.85,\"lng\":2.35},\"distanceKm\":1.7,\"expiresAt\":\"2026-11-25T22:51:01.123Z\"}");
	line("driver/drv-7/offers", "{\"orderId\":\"ord-2\",\"orderNumber\":null,"
		"\"pickup\":{\"lat\":0,\"lng\":0},\"distanceKm\":0,\"expiresAt\":\"2026-11-25T22:51:01Z\"}");
	/* skipped by the validator */
	line("jetwire/bridge/status", "{\"state\":\"online\"}");
	line("$CONTROL/jetwire/v1", "{\"cmd\":\"grant\"}");
	line("order/ord-9/status", "");
}

int main(int argc, char **argv)
{
	if(argc != 2){
		fprintf(stderr, "usage: %s OUT\n", argv[0]);
		return 2;
	}
	out = fopen(argv[1], "w");
	if(out == NULL){
		perror(argv[1]);
		return 2;
	}
	order_statuses();
	driver_assignments();
	notifications();
	literal_messages();
	if(fclose(out) != 0){
		perror(argv[1]);
		return 2;
	}
	return failures == 0 ? 0 : 1;
}
