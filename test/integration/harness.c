#define _XOPEN_SOURCE 700
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jw_file.h"
#include "jw_mint.h"

int64_t jw_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int jw_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t len = sizeof(a);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static const char *env_or_fail(const char *name)
{
	const char *v = getenv(name);
	ck_assert_msg(v != NULL && v[0] != '\0', "environment variable %s is not set (run through ctest)", name);
	return v;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_msg(fd >= 0, "cannot write %s: %s", path, strerror(errno));
	size_t len = strlen(text);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

void jw_broker_write_acl(struct jw_broker *b, const char *text)
{
	char tmp[400];
	snprintf(tmp, sizeof(tmp), "%s.tmp", b->acl_path);
	write_text(tmp, text, 0644);
	ck_assert_int_eq(rename(tmp, b->acl_path), 0);
}

static bool port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

int jw_broker_start(struct jw_broker *b, const struct jw_broker_opts *o)
{
	static const struct jw_broker_opts none;
	if(o == NULL) o = &none;
	memset(b, 0, sizeof(*b));

	snprintf(b->dir, sizeof(b->dir), "/tmp/jetwire-it-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(b->dir));
	chmod(b->dir, 0755);
	snprintf(b->conf_path, sizeof(b->conf_path), "%s/mosquitto.conf", b->dir);
	snprintf(b->acl_path, sizeof(b->acl_path), "%s/jetwire.acl", b->dir);
	snprintf(b->log_path, sizeof(b->log_path), "%s/broker.log", b->dir);
	snprintf(b->secret_path, sizeof(b->secret_path), "%s/jwt.secret", b->dir);

	/* 48 random bytes, hex: a secret long enough for HS384 */
	unsigned char rnd[24];
	FILE *ur = fopen("/dev/urandom", "rb");
	ck_assert_ptr_nonnull(ur);
	ck_assert_int_eq(fread(rnd, 1, sizeof(rnd), ur), sizeof(rnd));
	fclose(ur);
	for(size_t i = 0; i < sizeof(rnd); i++) snprintf(b->secret + 2 * i, 3, "%02x", rnd[i]);
	write_text(b->secret_path, b->secret, 0600);

	if(o->acl_text){
		write_text(b->acl_path, o->acl_text, 0644);
	}else{
		char src[512], *text = NULL, err[512];
		size_t len;
		snprintf(src, sizeof(src), "%s/acl/default.acl", env_or_fail("JW_SOURCE_DIR"));
		ck_assert_msg(jw_read_file(src, 1 << 20, &text, &len, err, sizeof(err)) == 0, "%s", err);
		write_text(b->acl_path, text, 0644);
		free(text);
	}

	b->port = jw_free_port();
	b->ws_port = jw_free_port();
	char conf[8192];
	int n = snprintf(conf, sizeof(conf),
			"per_listener_settings %s\n"
			"user root\n"
			"persistence false\n"
			"allow_anonymous false\n"
			"log_dest file %s\n"
			"log_type all\n"
			"log_timestamp_format %%H:%%M:%%S\n"
			"listener %d 127.0.0.1\n"
			"listener %d 127.0.0.1\n"
			"protocol websockets\n"
			/* without it 2.0.11 binds the websockets listener to every interface */
			"socket_domain ipv4\n"
			"plugin %s\n"
			"plugin_opt_acl_file %s\n"
			"plugin_opt_stats_interval 1\n"
			"plugin_opt_acl_reload_interval 1\n"
			"%s%s%s"
			"%s\n",
			o->per_listener_settings ? "true" : "false",
			b->log_path, b->port, b->ws_port, env_or_fail("JW_PLUGIN"), b->acl_path,
			o->no_secret_file ? "" : "plugin_opt_jwt_secret_file ",
			o->no_secret_file ? "" : b->secret_path,
			o->no_secret_file ? "" : "\n",
			o->plugin_opts ? o->plugin_opts : "");
	ck_assert_int_lt(n, (int)sizeof(conf) - 1024);
	if(o->extra_conf) snprintf(conf + n, sizeof(conf) - (size_t)n, "%s\n", o->extra_conf);
	write_text(b->conf_path, conf, 0644);

	const char *vg = getenv("JW_VALGRIND");
	b->valgrind = o->valgrind || (vg && strcmp(vg, "1") == 0);
	const char *preload = getenv("JW_BROKER_PRELOAD");

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if(pid == 0){
		char errlog[400];
		snprintf(errlog, sizeof(errlog), "%s/stderr.log", b->dir);
		int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if(fd >= 0){
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		if(preload && preload[0] && !b->valgrind){
			setenv("LD_PRELOAD", preload, 1);
			/* leaks are the valgrind run's job: mosquitto itself is not built for LSan */
			setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);
		}
		const char *mosq = getenv("JW_MOSQUITTO");
		if(b->valgrind){
			execlp("valgrind", "valgrind", "--error-exitcode=99", "--leak-check=full",
					"--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
					"-q", mosq, "-c", b->conf_path, (char *)NULL);
		}else{
			execl(mosq, mosq, "-c", b->conf_path, (char *)NULL);
		}
		_exit(127);
	}
	b->pid = pid;

	int64_t deadline = jw_ms() + (b->valgrind ? 60000 : 10000);
	while(jw_ms() < deadline){
		int status;
		if(waitpid(pid, &status, WNOHANG) == pid){
			b->pid = 0;
			int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			if(o->expect_start_failure) return code;
			ck_abort_msg("broker exited at start (status %d); see %s", code, b->dir);
		}
		if(port_open(b->port) && port_open(b->ws_port)){
			ck_assert_msg(!o->expect_start_failure, "broker started although a failure was expected");
			return 0;
		}
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	b->pid = 0;
	ck_abort_msg("broker did not open its ports in time; see %s", b->dir);
	return -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static void remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int jw_broker_stop(struct jw_broker *b)
{
	if(b->pid <= 0) return 0;
	kill(b->pid, SIGTERM);
	int status = 0;
	int64_t deadline = jw_ms() + (b->valgrind ? 60000 : 10000);
	for(;;){
		pid_t r = waitpid(b->pid, &status, WNOHANG);
		if(r == b->pid) break;
		if(jw_ms() > deadline){
			kill(b->pid, SIGKILL);
			waitpid(b->pid, &status, 0);
			break;
		}
		sleep_ms(10);
	}
	b->pid = 0;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	/* a clean stop leaves nothing behind; anything else keeps the dir (conf,
	 * log, stderr) for the failure message to point at */
	const char *keep = getenv("JW_KEEP_TEST_DIRS");
	if(code == 0 && !(keep && keep[0] == '1')) remove_tree(b->dir);
	return code;
}

/* ---- fault injection ---- */

int jw_broker_halt(struct jw_broker *b, int sig)
{
	if(b->pid <= 0) return -1;
	kill(b->pid, sig);
	int status = 0;
	int64_t deadline = jw_ms() + (b->valgrind ? 60000 : 10000);
	for(;;){
		pid_t r = waitpid(b->pid, &status, WNOHANG);
		if(r == b->pid || (r < 0 && errno == ECHILD)) break;
		if(jw_ms() > deadline){
			kill(b->pid, SIGKILL);
			waitpid(b->pid, &status, 0);
			break;
		}
		sleep_ms(10);
	}
	b->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int jw_broker_resume(struct jw_broker *b)
{
	ck_assert_msg(b->pid <= 0, "jw_broker_resume: the broker is running (pid %d)", (int)b->pid);
	ck_assert_msg(b->dir[0] != '\0', "jw_broker_resume: the broker was never started");
	const char *preload = getenv("JW_BROKER_PRELOAD");
	const char *mosq = env_or_fail("JW_MOSQUITTO");
	/* After a crash the old listening sockets are gone at once (mosquitto
	 * binds with SO_REUSEADDR); retry a few times in case the bind races. */
	for(int attempt = 0; attempt < 5; attempt++){
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if(pid == 0){
			char errlog[400];
			snprintf(errlog, sizeof(errlog), "%s/stderr.log", b->dir);
			int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if(fd >= 0){
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
			if(preload && preload[0] && !b->valgrind){
				setenv("LD_PRELOAD", preload, 1);
				setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);
			}
			if(b->valgrind){
				execlp("valgrind", "valgrind", "--error-exitcode=99", "--leak-check=full",
						"--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
						"-q", mosq, "-c", b->conf_path, (char *)NULL);
			}else{
				execl(mosq, mosq, "-c", b->conf_path, (char *)NULL);
			}
			_exit(127);
		}
		b->pid = pid;
		int64_t deadline = jw_ms() + (b->valgrind ? 60000 : 10000);
		bool exited = false;
		int code = 0;
		while(jw_ms() < deadline){
			int status;
			if(waitpid(pid, &status, WNOHANG) == pid){
				b->pid = 0;
				exited = true;
				code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
				break;
			}
			if(port_open(b->port) && port_open(b->ws_port)) return 0;
			sleep_ms(20);
		}
		if(!exited){
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			b->pid = 0;
			ck_abort_msg("resumed broker did not open its ports in time; see %s", b->dir);
		}
		if(attempt == 4) ck_abort_msg("resumed broker exited at start (status %d); see %s", code, b->dir);
		sleep_ms(200);
	}
	return -1;
}

bool jw_broker_save(struct jw_broker *b, const char *db_path, int timeout_ms)
{
	if(b->pid <= 0) return false;
	struct stat before;
	bool had = stat(db_path, &before) == 0;
	kill(b->pid, SIGUSR1);
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s.new", db_path);
	int64_t deadline = jw_ms() + timeout_ms;
	do{
		struct stat now, tmpst;
		/* replaced (a rename gives a new inode) and no write in progress */
		if(stat(db_path, &now) == 0 && stat(tmp, &tmpst) != 0 &&
				(!had || now.st_ino != before.st_ino || now.st_mtim.tv_sec != before.st_mtim.tv_sec ||
				 now.st_mtim.tv_nsec != before.st_mtim.tv_nsec)){
			return true;
		}
		sleep_ms(10);
	}while(jw_ms() < deadline);
	return false;
}

static char *read_log(struct jw_broker *b)
{
	char *text = NULL, err[256];
	size_t len;
	if(jw_read_file(b->log_path, 256u << 20, &text, &len, err, sizeof(err)) != 0) return NULL;
	return text;
}

int jw_broker_log_count(struct jw_broker *b, const char *needle)
{
	char *text = read_log(b);
	int n = 0;
	for(const char *p = text; p && (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
	free(text);
	return n;
}

bool jw_broker_log_wait(struct jw_broker *b, const char *needle, int timeout_ms)
{
	int64_t deadline = jw_ms() + timeout_ms;
	do{
		if(jw_broker_log_count(b, needle) > 0) return true;
		sleep_ms(25);
	}while(jw_ms() < deadline);
	return false;
}

char *jw_token_claims(const struct jw_broker *b, const char *claims_json)
{
	char err[256];
	char *t = jw_mint(JWT_ALG_HS256, (const unsigned char *)b->secret, strlen(b->secret),
			claims_json, err, sizeof(err));
	ck_assert_msg(t != NULL, "mint: %s", err);
	return t;
}

char *jw_token(const struct jw_broker *b, const char *sub, const char *role, long ttl_s)
{
	char claims[512];
	long now = (long)time(NULL);
	snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"userType\":\"%s\",\"iat\":%ld,\"exp\":%ld}",
			sub, role, now, now + ttl_s);
	return jw_token_claims(b, claims);
}

/* ---- clients ---- */

struct msg {
	char *topic;
	char *payload;
	bool retain;
	struct msg *next;
};

struct jw_client {
	struct mosquitto *mosq;
	int protocol;
	bool clean;
	uint32_t session_expiry;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int connack;             /* -2 waiting */
	bool connected;
	bool disconnected;
	int disconnect_reason;
	int last_mid;
	int acked_mid;
	int ack_reason;
	int suback_mid;
	int suback_code;
	struct msg *inbox, *inbox_tail;
	bool loop_started;
};

static struct jw_client *client_of(void *obj) { return obj; }

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *props)
{
	(void)m; (void)flags; (void)props;
	struct jw_client *c = client_of(obj);
	pthread_mutex_lock(&c->lock);
	c->connack = rc;
	c->connected = rc == 0;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *props)
{
	(void)m; (void)props;
	struct jw_client *c = client_of(obj);
	pthread_mutex_lock(&c->lock);
	c->connected = false;
	c->disconnected = true;
	c->disconnect_reason = rc;
	if(c->connack == -2) c->connack = -1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int reason, const mosquitto_property *props)
{
	(void)m; (void)props;
	struct jw_client *c = client_of(obj);
	pthread_mutex_lock(&c->lock);
	c->acked_mid = mid;
	c->ack_reason = reason;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int count, const int *granted,
		const mosquitto_property *props)
{
	(void)m; (void)props;
	struct jw_client *c = client_of(obj);
	pthread_mutex_lock(&c->lock);
	c->suback_mid = mid;
	c->suback_code = count > 0 ? granted[0] : -1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
		const mosquitto_property *props)
{
	(void)m; (void)props;
	struct jw_client *c = client_of(obj);
	struct msg *e = calloc(1, sizeof(*e));
	e->topic = strdup(msg->topic);
	e->payload = malloc((size_t)msg->payloadlen + 1);
	if(msg->payloadlen > 0) memcpy(e->payload, msg->payload, (size_t)msg->payloadlen);
	e->payload[msg->payloadlen] = '\0';
	e->retain = msg->retain;
	pthread_mutex_lock(&c->lock);
	if(c->inbox_tail) c->inbox_tail->next = e; else c->inbox = e;
	c->inbox_tail = e;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

struct jw_client *jw_client_new(const char *client_id, int protocol, bool clean)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, (void (*)(void))mosquitto_lib_init);
	struct jw_client *c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	c->protocol = protocol;
	c->clean = clean;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->mosq = mosquitto_new(client_id, clean, c);
	ck_assert_ptr_nonnull(c->mosq);
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
			protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
	mosquitto_connect_v5_callback_set(c->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(c->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(c->mosq, on_publish);
	mosquitto_subscribe_v5_callback_set(c->mosq, on_subscribe);
	mosquitto_message_v5_callback_set(c->mosq, on_message);
	return c;
}

void jw_client_clear_inbox(struct jw_client *c)
{
	pthread_mutex_lock(&c->lock);
	while(c->inbox){
		struct msg *e = c->inbox;
		c->inbox = e->next;
		free(e->topic);
		free(e->payload);
		free(e);
	}
	c->inbox_tail = NULL;
	pthread_mutex_unlock(&c->lock);
}

void jw_client_destroy(struct jw_client *c)
{
	if(c == NULL) return;
	if(c->loop_started){
		mosquitto_disconnect(c->mosq);
		mosquitto_loop_stop(c->mosq, true);
	}
	mosquitto_destroy(c->mosq);
	jw_client_clear_inbox(c);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

void jw_client_set_will(struct jw_client *c, const char *topic, const char *payload, int qos, bool retain)
{
	ck_assert_int_eq(mosquitto_will_set_v5(c->mosq, topic, (int)strlen(payload), payload, qos, retain, NULL),
			MOSQ_ERR_SUCCESS);
}

void jw_client_set_session_expiry(struct jw_client *c, uint32_t seconds)
{
	c->session_expiry = seconds;
}

/* Wait on the condition until pred holds or the timeout passes. */
#define WAIT_UNTIL(c, pred, timeout_ms) do { \
	struct timespec dl_; \
	clock_gettime(CLOCK_REALTIME, &dl_); \
	dl_.tv_sec += (timeout_ms) / 1000; \
	dl_.tv_nsec += (long)((timeout_ms) % 1000) * 1000000L; \
	if(dl_.tv_nsec >= 1000000000L){ dl_.tv_sec++; dl_.tv_nsec -= 1000000000L; } \
	while(!(pred)){ if(pthread_cond_timedwait(&(c)->cond, &(c)->lock, &dl_) != 0) break; } \
} while(0)

static int do_connect(struct jw_client *c, int port, mosquitto_property *props)
{
	c->connack = -2;
	c->disconnected = false;
	if(c->protocol == 5 && c->session_expiry){
		mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, c->session_expiry);
	}
	int rc = mosquitto_connect_bind_v5(c->mosq, "127.0.0.1", port, 30, NULL, props);
	mosquitto_property_free_all(&props);
	if(rc != MOSQ_ERR_SUCCESS) return -1;
	if(!c->loop_started){
		ck_assert_int_eq(mosquitto_loop_start(c->mosq), MOSQ_ERR_SUCCESS);
		c->loop_started = true;
	}
	pthread_mutex_lock(&c->lock);
	WAIT_UNTIL(c, c->connack != -2, 10000);
	int result = c->connack == -2 ? -1 : c->connack;
	pthread_mutex_unlock(&c->lock);
	if(result != 0){
		/* refused: stop the loop so it does not reconnect */
		mosquitto_disconnect(c->mosq);
		mosquitto_loop_stop(c->mosq, true);
		c->loop_started = false;
	}
	return result;
}

int jw_client_connect(struct jw_client *c, int port, const char *password)
{
	mosquitto_username_pw_set(c->mosq, "jwt", password);
	return do_connect(c, port, NULL);
}

int jw_client_connect_auth(struct jw_client *c, int port, const char *method, const char *data)
{
	mosquitto_property *props = NULL;
	mosquitto_username_pw_set(c->mosq, NULL, NULL);
	mosquitto_property_add_string(&props, MQTT_PROP_AUTHENTICATION_METHOD, method);
	if(data) mosquitto_property_add_binary(&props, MQTT_PROP_AUTHENTICATION_DATA, data, (uint16_t)strlen(data));
	return do_connect(c, port, props);
}

void jw_client_disconnect(struct jw_client *c)
{
	if(!c->loop_started) return;
	mosquitto_disconnect(c->mosq);
	mosquitto_loop_stop(c->mosq, false);
	c->loop_started = false;
	pthread_mutex_lock(&c->lock);
	c->connected = false;
	pthread_mutex_unlock(&c->lock);
}

int jw_client_subscribe(struct jw_client *c, const char *filter, int qos)
{
	int mid = 0;
	pthread_mutex_lock(&c->lock);
	c->suback_mid = 0;
	pthread_mutex_unlock(&c->lock);
	if(mosquitto_subscribe_v5(c->mosq, &mid, filter, qos, 0, NULL) != MOSQ_ERR_SUCCESS) return -1;
	pthread_mutex_lock(&c->lock);
	WAIT_UNTIL(c, c->suback_mid == mid || c->disconnected, 10000);
	int code = c->suback_mid == mid ? c->suback_code : -1;
	pthread_mutex_unlock(&c->lock);
	return code;
}

int jw_client_publish_ex(struct jw_client *c, const char *topic, const void *payload, size_t len,
		int qos, bool retain, uint32_t expiry_s)
{
	mosquitto_property *props = NULL;
	if(expiry_s && c->protocol == 5){
		mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, expiry_s);
	}
	int mid = 0;
	pthread_mutex_lock(&c->lock);
	c->acked_mid = 0;
	pthread_mutex_unlock(&c->lock);
	int rc = mosquitto_publish_v5(c->mosq, &mid, topic, (int)len, payload, qos, retain, props);
	mosquitto_property_free_all(&props);
	if(rc != MOSQ_ERR_SUCCESS) return -1;
	pthread_mutex_lock(&c->lock);
	WAIT_UNTIL(c, c->acked_mid == mid || c->disconnected, 10000);
	int reason = c->acked_mid == mid ? c->ack_reason : -1;
	pthread_mutex_unlock(&c->lock);
	/* 0x10 "no matching subscribers" is an accepted publish, too */
	return reason == MQTT_RC_NO_MATCHING_SUBSCRIBERS ? 0 : reason;
}

int jw_client_publish(struct jw_client *c, const char *topic, const char *payload, int qos, bool retain)
{
	return jw_client_publish_ex(c, topic, payload, strlen(payload), qos, retain, 0);
}

static struct msg *find_msg(struct jw_client *c, const char *topic, struct msg **prev_out)
{
	struct msg *prev = NULL;
	for(struct msg *e = c->inbox; e; prev = e, e = e->next){
		if(topic == NULL || strcmp(e->topic, topic) == 0){
			if(prev_out) *prev_out = prev;
			return e;
		}
	}
	return NULL;
}

char *jw_client_wait_message(struct jw_client *c, const char *topic, int timeout_ms)
{
	pthread_mutex_lock(&c->lock);
	WAIT_UNTIL(c, find_msg(c, topic, NULL) != NULL, timeout_ms);
	struct msg *prev = NULL;
	struct msg *e = find_msg(c, topic, &prev);
	char *payload = NULL;
	if(e){
		if(prev) prev->next = e->next; else c->inbox = e->next;
		if(c->inbox_tail == e) c->inbox_tail = prev;
		payload = e->payload;
		free(e->topic);
		free(e);
	}
	pthread_mutex_unlock(&c->lock);
	return payload;
}

int jw_client_count_messages(struct jw_client *c, const char *topic, int wait_ms)
{
	sleep_ms(wait_ms);
	int n = 0;
	pthread_mutex_lock(&c->lock);
	for(struct msg *e = c->inbox; e; e = e->next){
		if(topic == NULL || strcmp(e->topic, topic) == 0) n++;
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

int jw_client_message_retained(struct jw_client *c, const char *topic)
{
	pthread_mutex_lock(&c->lock);
	struct msg *e = find_msg(c, topic, NULL);
	int r = e ? (e->retain ? 1 : 0) : -1;
	pthread_mutex_unlock(&c->lock);
	return r;
}

bool jw_client_wait_disconnected(struct jw_client *c, int timeout_ms, int *reason)
{
	pthread_mutex_lock(&c->lock);
	WAIT_UNTIL(c, c->disconnected, timeout_ms);
	bool d = c->disconnected;
	if(reason) *reason = c->disconnect_reason;
	pthread_mutex_unlock(&c->lock);
	if(d && c->loop_started){
		/* stop libmosquitto from reconnecting on its own */
		mosquitto_disconnect(c->mosq);
		mosquitto_loop_stop(c->mosq, true);
		c->loop_started = false;
	}
	return d;
}

bool jw_client_is_connected(struct jw_client *c)
{
	pthread_mutex_lock(&c->lock);
	bool r = c->connected;
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* ---- helpers for the policy, control and reload tests ---- */

char *jw_control(struct jw_client *c, const char *json, int timeout_ms)
{
	if(jw_client_publish(c, "$CONTROL/jetwire/v1", json, 1, false) != 0) return NULL;
	return jw_client_wait_message(c, "$CONTROL/jetwire/v1/response", timeout_ms);
}

long jw_control_count(struct jw_client *c)
{
	char *resp = jw_control(c, "{\"commands\":[{\"command\":\"countRelations\"}]}", 5000);
	if(resp == NULL) return -1;
	const char *p = strstr(resp, "\"count\":");
	long n = p ? strtol(p + 8, NULL, 10) : -1;
	free(resp);
	return n;
}

bool jw_client_wait_payload(struct jw_client *c, const char *topic, const char *payload, int timeout_ms)
{
	int64_t deadline = jw_ms() + timeout_ms;
	for(;;){
		int64_t left = deadline - jw_ms();
		if(left <= 0) return false;
		char *got = jw_client_wait_message(c, topic, (int)left);
		if(got == NULL) return false;
		bool same = strcmp(got, payload) == 0;
		free(got);
		if(same) return true;
	}
}

int jw_client_count_prefix(struct jw_client *c, const char *prefix, int wait_ms)
{
	sleep_ms(wait_ms);
	int n = 0;
	size_t plen = strlen(prefix);
	pthread_mutex_lock(&c->lock);
	for(struct msg *e = c->inbox; e; e = e->next){
		if(strncmp(e->topic, prefix, plen) == 0) n++;
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

char *jw_client_inbox_topics(struct jw_client *c)
{
	size_t len = 1;
	pthread_mutex_lock(&c->lock);
	for(struct msg *e = c->inbox; e; e = e->next) len += strlen(e->topic) + 1;
	char *out = malloc(len);
	ck_assert_ptr_nonnull(out);
	out[0] = '\0';
	for(struct msg *e = c->inbox; e; e = e->next){
		strcat(out, e->topic);
		strcat(out, "\n");
	}
	pthread_mutex_unlock(&c->lock);
	return out;
}

void jw_client_drop(struct jw_client *c)
{
	if(!c->loop_started) return;
	/* stop the network thread first so that it neither sends DISCONNECT
	 * nor reconnects, then cut the connection under it */
	mosquitto_loop_stop(c->mosq, true);
	c->loop_started = false;
	int fd = mosquitto_socket(c->mosq);
	if(fd >= 0) shutdown(fd, SHUT_RDWR);
	pthread_mutex_lock(&c->lock);
	c->connected = false;
	pthread_mutex_unlock(&c->lock);
}

static struct jw_client *connected[64];
static int n_connected;

struct jw_client *jw_connect_as(struct jw_broker *b, const char *role, const char *sub,
		const char *suffix, int protocol)
{
	char id[128];
	if(suffix) snprintf(id, sizeof(id), "%s-%s-%s", role, sub, suffix);
	else snprintf(id, sizeof(id), "%s-%s", role, sub);
	char *tok = jw_token(b, sub, role, 600);
	struct jw_client *c = jw_client_new(id, protocol, true);
	int rc = jw_client_connect(c, b->port, tok);
	free(tok);
	ck_assert_msg(rc == 0, "connect %s: CONNACK %d", id, rc);
	ck_assert_int_lt(n_connected, (int)(sizeof(connected) / sizeof(connected[0])));
	connected[n_connected++] = c;
	return c;
}

void jw_client_destroy_all(void)
{
	while(n_connected > 0) jw_client_destroy(connected[--n_connected]);
}
