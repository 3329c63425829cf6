/*
 * Integration test harness: a real mosquitto with the real plugin on free
 * loopback ports, and real MQTT clients (libmosquitto).
 *
 * Everything a test starts it stops by PID.  Paths come from the
 * environment CTest sets (JW_MOSQUITTO, JW_PLUGIN, JW_SOURCE_DIR, ...).
 */
#ifndef JW_HARNESS_H
#define JW_HARNESS_H

#include <mosquitto.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct jw_broker {
	pid_t pid;
	int port;            /* MQTT over TCP, 127.0.0.1 */
	int ws_port;         /* MQTT over WebSocket, 127.0.0.1 */
	char dir[256];       /* private temp dir: conf, acl, secret, log */
	char conf_path[320];
	char acl_path[320];
	char log_path[320];
	char secret_path[320];
	char secret[128];
	bool valgrind;
};

struct jw_broker_opts {
	const char *acl_text;      /* NULL: a copy of acl/default.acl */
	const char *extra_conf;    /* appended to mosquitto.conf (plugin_opt_* lines too) */
	const char *plugin_opts;   /* extra plugin_opt_* lines, placed after the plugin line */
	bool no_secret_file;       /* do not configure jwt_secret_file (e.g. RS256 tests) */
	bool valgrind;             /* run the broker under valgrind (also if JW_VALGRIND=1) */
	bool expect_start_failure; /* broker is expected to exit at start */
	bool per_listener_settings; /* first line "per_listener_settings true" (mosquitto only
	                             * accepts it before any security setting) */
};

/* Start a broker; ck_assert-fails the test if it does not come up (unless
 * expect_start_failure, then returns its exit status, broker not running). */
int jw_broker_start(struct jw_broker *b, const struct jw_broker_opts *o);
/* SIGTERM, wait; returns the exit status (valgrind errors: 99). */
int jw_broker_stop(struct jw_broker *b);
/* Wait until the broker log contains `needle` (timeout in ms). */
bool jw_broker_log_wait(struct jw_broker *b, const char *needle, int timeout_ms);
/* Count occurrences of `needle` in the broker log now. */
int jw_broker_log_count(struct jw_broker *b, const char *needle);
/* Replace the broker's ACL file atomically (write temp + rename). */
void jw_broker_write_acl(struct jw_broker *b, const char *text);

/* ---- fault injection ---- */

/* Send `sig` to the broker (SIGTERM: a clean shutdown, which also writes the
 * persistence database if the conf enables it; SIGKILL: a crash) and wait
 * for it to exit (SIGKILL after 10 s, 60 s under valgrind).  Unlike
 * jw_broker_stop, the dir, conf, secret, logs and ports are kept for
 * jw_broker_resume.  Returns the exit status (128+signal if killed by one),
 * -1 if the broker was not running. */
int jw_broker_halt(struct jw_broker *b, int sig);
/* Start mosquitto again with the same conf on the same ports (after
 * jw_broker_halt), under valgrind if it was; waits for its ports like
 * jw_broker_start (ck_assert-fails if it does not come up).  Its logs are
 * appended to.  Tokens minted before stay valid (same secret).  Returns 0. */
int jw_broker_resume(struct jw_broker *b);
/* Ask the broker to write its persistence database now (SIGUSR1) and wait
 * until `db_path` (persistence_location + persistence_file, by default
 * "mosquitto.db") has been replaced: mosquitto writes "<db_path>.new" and
 * renames it.  True if that happened within timeout_ms. */
bool jw_broker_save(struct jw_broker *b, const char *db_path, int timeout_ms);

/* HS256 token signed with the broker's secret.  Caller frees. */
char *jw_token(const struct jw_broker *b, const char *sub, const char *role, long ttl_s);
/* Token with arbitrary claims JSON, signed HS256 with the broker's secret. */
char *jw_token_claims(const struct jw_broker *b, const char *claims_json);

/* ---- clients ---- */
struct jw_client;

/* protocol: 4 (MQTT 3.1.1) or 5.  clean: clean session / clean start. */
struct jw_client *jw_client_new(const char *client_id, int protocol, bool clean);
void jw_client_destroy(struct jw_client *c);
/* Will to set before connecting. */
void jw_client_set_will(struct jw_client *c, const char *topic, const char *payload, int qos, bool retain);
/* MQTT 5 session expiry interval to send on CONNECT (persistent sessions). */
void jw_client_set_session_expiry(struct jw_client *c, uint32_t seconds);

/* Connect with the token as password (username "jwt").  Returns the CONNACK
 * code: 0 accepted, else the MQTT 5 reason code or 3.1.1 return code; -1 if
 * no CONNACK came (network error or timeout). */
int jw_client_connect(struct jw_client *c, int port, const char *password);
/* MQTT 5 enhanced authentication: method and data on CONNECT, no password. */
int jw_client_connect_auth(struct jw_client *c, int port, const char *method, const char *data);
/* Disconnect cleanly (no will). */
void jw_client_disconnect(struct jw_client *c);

/* Returns the granted QoS (0..2) or the SUBACK failure code (>= 0x80);
 * -1 on timeout. */
int jw_client_subscribe(struct jw_client *c, const char *filter, int qos);
/* Returns 0 on success (PUBACK 0 or 0x10 for QoS 1, sent for QoS 0), the PUBACK
 * reason code (e.g. 0x87) for MQTT 5, -1 on timeout or send error. */
int jw_client_publish(struct jw_client *c, const char *topic, const char *payload, int qos, bool retain);
/* Same with an MQTT 5 message expiry interval (0: none). */
int jw_client_publish_ex(struct jw_client *c, const char *topic, const void *payload, size_t len,
		int qos, bool retain, uint32_t expiry_s);

/* Wait up to timeout_ms for a message on `topic` (exact name, NULL: any).
 * Returns a copy of its payload (caller frees) and removes it from the
 * inbox, or NULL on timeout. */
char *jw_client_wait_message(struct jw_client *c, const char *topic, int timeout_ms);
/* Wait `wait_ms`, then return how many messages arrived on `topic` (NULL:
 * any) and are still in the inbox. */
int jw_client_count_messages(struct jw_client *c, const char *topic, int wait_ms);
/* Was the message on `topic` received with the retain flag? Checks the
 * oldest message on that topic in the inbox; -1 if none. */
int jw_client_message_retained(struct jw_client *c, const char *topic);
void jw_client_clear_inbox(struct jw_client *c);
/* Wait until the broker closed the connection; returns true if it did
 * within timeout_ms.  *reason gets the DISCONNECT reason code (MQTT 5) or
 * the libmosquitto rc. */
bool jw_client_wait_disconnected(struct jw_client *c, int timeout_ms, int *reason);
bool jw_client_is_connected(struct jw_client *c);

/* A free TCP port on 127.0.0.1. */
int jw_free_port(void);
/* Milliseconds since an arbitrary epoch (CLOCK_MONOTONIC). */
int64_t jw_ms(void);

/* ---- helpers for the policy, control and reload tests ---- */

/* Publish `json` to $CONTROL/jetwire/v1 (QoS 1) and wait for the response on
 * $CONTROL/jetwire/v1/response.  Returns the response (caller frees), or
 * NULL if the publish was refused or no response came in time. */
char *jw_control(struct jw_client *c, const char *json, int timeout_ms);
/* countRelations through `c`; -1 on failure. */
long jw_control_count(struct jw_client *c);
/* Wait until a message on `topic` carries exactly `payload`; messages on
 * that topic with other payloads are consumed on the way. */
bool jw_client_wait_payload(struct jw_client *c, const char *topic, const char *payload, int timeout_ms);
/* Wait `wait_ms`, then count inbox messages whose topic starts with `prefix`. */
int jw_client_count_prefix(struct jw_client *c, const char *prefix, int wait_ms);
/* The topics in the inbox, one per line (caller frees): for failure messages. */
char *jw_client_inbox_topics(struct jw_client *c);
/* Close the TCP connection without DISCONNECT, as a crash would (the broker
 * then publishes the will). */
void jw_client_drop(struct jw_client *c);

/* Connect as "{role}-{sub}" (or "{role}-{sub}-{suffix}") with a fresh
 * 600 s token for that identity; fails the test unless the broker accepts.
 * The client is remembered and destroyed by jw_client_destroy_all(). */
struct jw_client *jw_connect_as(struct jw_broker *b, const char *role, const char *sub,
		const char *suffix, int protocol);
/* Destroy every client jw_connect_as() made, newest first. */
void jw_client_destroy_all(void);

#endif
