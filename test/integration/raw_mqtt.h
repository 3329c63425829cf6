/*
 * raw_mqtt — a minimal MQTT 5 client over a plain TCP socket, for what
 * libmosquitto and paho cannot do from a test: send an AUTH packet
 * (re-authentication, reason 0x19) and look at the packets the broker
 * answers with byte for byte.
 *
 * Blocking I/O with poll() deadlines; one connection is one file
 * descriptor owned by the caller (jw_raw_close()).  No dependency on Check:
 * every function reports failure by its return value.
 */
#ifndef JW_RAW_MQTT_H
#define JW_RAW_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* MQTT control packet types (the high nibble of the first byte). */
#define JW_RAW_CONNACK 2
#define JW_RAW_PINGRESP 13
#define JW_RAW_DISCONNECT 14
#define JW_RAW_AUTH 15

/* What jw_raw_connect() sends.  NULL strings are left out. */
struct jw_raw_connect_opts {
	const char *client_id;
	uint16_t keepalive;        /* seconds; 0 disables */
	const char *username;
	const char *password;
	const char *auth_method;   /* MQTT 5 Authentication Method property */
	const char *auth_data;     /* Authentication Data (sent without its NUL) */
};

/* One packet read from the broker.  `body` is the variable header and
 * payload (remaining length bytes), owned by the struct: jw_raw_packet_free(). */
struct jw_raw_packet {
	uint8_t type;              /* JW_RAW_* */
	uint8_t flags;             /* low nibble of the first byte */
	uint8_t *body;
	size_t len;
};

/* TCP connection to 127.0.0.1:port.  Returns the fd or -1. */
int jw_raw_open(int port);
void jw_raw_close(int fd);

/* Send CONNECT (MQTT 5, clean start) and wait for CONNACK.  Returns the
 * CONNACK reason code (0 accepted), or -1 if no CONNACK came within
 * timeout_ms (or another packet came first). */
int jw_raw_connect(int fd, const struct jw_raw_connect_opts *o, int timeout_ms);

/* Send AUTH with `reason` (0x19 re-authenticate, 0x18 continue) and the
 * method/data properties.  Returns 0 or -1. */
int jw_raw_send_auth(int fd, uint8_t reason, const char *method, const char *data);

/* Read the next packet.  Returns 1 with *out filled, 0 if the broker
 * closed the connection, -1 on timeout or a malformed/oversized packet. */
int jw_raw_read(int fd, struct jw_raw_packet *out, int timeout_ms);
void jw_raw_packet_free(struct jw_raw_packet *p);

/* The reason code of an AUTH, CONNACK or DISCONNECT packet (0 if the
 * packet has none), or -1 for other types. */
int jw_raw_reason(const struct jw_raw_packet *p);

/* Send PINGREQ and wait for PINGRESP.  Returns true if it came. */
bool jw_raw_ping(int fd, int timeout_ms);

/* Wait until the broker closes the connection, discarding packets.
 * Returns true if it did within timeout_ms. */
bool jw_raw_wait_closed(int fd, int timeout_ms);

#endif
