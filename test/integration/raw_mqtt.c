#define _POSIX_C_SOURCE 200809L
#include "raw_mqtt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RAW_MAX_PACKET (1u << 20)

/* A growable output buffer; `failed` sticks once an allocation failed. */
struct buf {
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

static void put(struct buf *b, const void *src, size_t n)
{
	if(b->failed) return;
	if(b->len + n > b->cap){
		size_t ncap = b->cap ? b->cap : 256;
		while(ncap < b->len + n) ncap *= 2;
		uint8_t *nd = realloc(b->data, ncap);
		if(nd == NULL){
			b->failed = true;
			return;
		}
		b->data = nd;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, src, n);
	b->len += n;
}

static void put_u8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put_u16(struct buf *b, uint16_t v)
{
	uint8_t be[2] = {(uint8_t)(v >> 8), (uint8_t)(v & 0xff)};
	put(b, be, 2);
}

static void put_varint(struct buf *b, size_t v)
{
	do{
		uint8_t byte = (uint8_t)(v % 128);
		v /= 128;
		if(v) byte |= 0x80;
		put_u8(b, byte);
	}while(v);
}

/* UTF-8 string or binary data: two-byte length, then the bytes. */
static void put_lenstr(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	if(n > 65535){
		b->failed = true;
		return;
	}
	put_u16(b, (uint16_t)n);
	put(b, s, n);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_all(int fd, const uint8_t *data, size_t len)
{
	while(len > 0){
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if(n < 0){
			if(errno == EINTR) continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Fixed header (type, flags, remaining length) + body, one send. */
static int send_packet(int fd, uint8_t type, uint8_t flags, const struct buf *body)
{
	if(body->failed) return -1;
	struct buf pkt = {0};
	put_u8(&pkt, (uint8_t)(type << 4 | flags));
	put_varint(&pkt, body->len);
	put(&pkt, body->data, body->len);
	int rc = pkt.failed ? -1 : send_all(fd, pkt.data, pkt.len);
	free(pkt.data);
	return rc;
}

/* Read exactly len bytes before the deadline: 1 ok, 0 closed, -1 timeout/error. */
static int recv_exact(int fd, uint8_t *dst, size_t len, int64_t deadline)
{
	while(len > 0){
		int64_t left = deadline - now_ms();
		if(left <= 0) return -1;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, (int)left);
		if(pr < 0 && errno == EINTR) continue;
		if(pr <= 0) return -1;
		ssize_t n = recv(fd, dst, len, 0);
		if(n == 0) return 0;
		if(n < 0){
			if(errno == EINTR || errno == EAGAIN) continue;
			/* a reset after the broker's last packet counts as closed */
			return errno == ECONNRESET ? 0 : -1;
		}
		dst += n;
		len -= (size_t)n;
	}
	return 1;
}

int jw_raw_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if(fd < 0) return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if(connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0){
		close(fd);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

void jw_raw_close(int fd)
{
	if(fd >= 0) close(fd);
}

int jw_raw_read(int fd, struct jw_raw_packet *out, int timeout_ms)
{
	memset(out, 0, sizeof(*out));
	int64_t deadline = now_ms() + timeout_ms;
	uint8_t first;
	int rc = recv_exact(fd, &first, 1, deadline);
	if(rc <= 0) return rc;

	size_t remaining = 0, mult = 1;
	for(int i = 0;; i++){
		uint8_t byte;
		rc = recv_exact(fd, &byte, 1, deadline);
		if(rc <= 0) return rc == 0 ? 0 : -1;
		remaining += (size_t)(byte & 0x7f) * mult;
		mult *= 128;
		if((byte & 0x80) == 0) break;
		if(i == 3) return -1;   /* more than four length bytes: malformed */
	}
	if(remaining > RAW_MAX_PACKET) return -1;

	uint8_t *body = malloc(remaining ? remaining : 1);
	if(body == NULL) return -1;
	rc = recv_exact(fd, body, remaining, deadline);
	if(rc <= 0){
		free(body);
		return rc == 0 ? 0 : -1;
	}
	out->type = first >> 4;
	out->flags = first & 0x0f;
	out->body = body;
	out->len = remaining;
	return 1;
}

void jw_raw_packet_free(struct jw_raw_packet *p)
{
	free(p->body);
	p->body = NULL;
	p->len = 0;
}

int jw_raw_reason(const struct jw_raw_packet *p)
{
	switch(p->type){
		case JW_RAW_CONNACK:
			/* acknowledge flags, then the reason code */
			return p->len >= 2 ? p->body[1] : -1;
		case JW_RAW_AUTH:
		case JW_RAW_DISCONNECT:
			/* MQTT 5 3.14.2.1 / 3.15.2.1: no body means reason 0x00 */
			return p->len >= 1 ? p->body[0] : 0;
		default:
			return -1;
	}
}

int jw_raw_connect(int fd, const struct jw_raw_connect_opts *o, int timeout_ms)
{
	struct buf props = {0}, body = {0};
	if(o->auth_method){
		put_u8(&props, 0x15);   /* Authentication Method */
		put_lenstr(&props, o->auth_method);
	}
	if(o->auth_data){
		put_u8(&props, 0x16);   /* Authentication Data */
		put_lenstr(&props, o->auth_data);
	}

	uint8_t flags = 0x02;      /* clean start */
	if(o->username) flags |= 0x80;
	if(o->password) flags |= 0x40;
	put_lenstr(&body, "MQTT");
	put_u8(&body, 5);
	put_u8(&body, flags);
	put_u16(&body, o->keepalive);
	put_varint(&body, props.len);
	put(&body, props.data, props.len);
	put_lenstr(&body, o->client_id ? o->client_id : "");
	if(o->username) put_lenstr(&body, o->username);
	if(o->password) put_lenstr(&body, o->password);
	if(props.failed) body.failed = true;

	int rc = send_packet(fd, 1, 0, &body);
	free(props.data);
	free(body.data);
	if(rc != 0) return -1;

	struct jw_raw_packet p;
	if(jw_raw_read(fd, &p, timeout_ms) != 1) return -1;
	int reason = p.type == JW_RAW_CONNACK ? jw_raw_reason(&p) : -1;
	jw_raw_packet_free(&p);
	return reason;
}

int jw_raw_send_auth(int fd, uint8_t reason, const char *method, const char *data)
{
	struct buf props = {0}, body = {0};
	if(method){
		put_u8(&props, 0x15);
		put_lenstr(&props, method);
	}
	if(data){
		put_u8(&props, 0x16);
		put_lenstr(&props, data);
	}
	put_u8(&body, reason);
	put_varint(&body, props.len);
	put(&body, props.data, props.len);
	if(props.failed) body.failed = true;
	int rc = send_packet(fd, JW_RAW_AUTH, 0, &body);
	free(props.data);
	free(body.data);
	return rc;
}

bool jw_raw_ping(int fd, int timeout_ms)
{
	static const uint8_t pingreq[2] = {0xc0, 0x00};
	if(send_all(fd, pingreq, sizeof(pingreq)) != 0) return false;
	struct jw_raw_packet p;
	int64_t deadline = now_ms() + timeout_ms;
	for(;;){
		int64_t left = deadline - now_ms();
		if(left <= 0 || jw_raw_read(fd, &p, (int)left) != 1) return false;
		uint8_t type = p.type;
		jw_raw_packet_free(&p);
		if(type == JW_RAW_PINGRESP) return true;
		if(type == JW_RAW_DISCONNECT) return false;
	}
}

bool jw_raw_wait_closed(int fd, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	for(;;){
		int64_t left = deadline - now_ms();
		if(left <= 0) return false;
		struct jw_raw_packet p;
		int rc = jw_raw_read(fd, &p, (int)left);
		if(rc == 0) return true;
		if(rc < 0) return false;
		jw_raw_packet_free(&p);
	}
}
