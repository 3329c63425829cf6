#define _POSIX_C_SOURCE 200809L
#include "bench_broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
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

#ifndef BENCH_MOSQUITTO
#define BENCH_MOSQUITTO "/usr/sbin/mosquitto"
#endif
#ifndef BENCH_PLUGIN
#define BENCH_PLUGIN ""
#endif
#ifndef BENCH_SOURCE_DIR
#define BENCH_SOURCE_DIR "."
#endif

/* ---- registry of running brokers, for cleanup on exit or signal ---- */

#define MAX_BROKERS 16
static volatile pid_t g_pids[MAX_BROKERS];
static bool g_handlers_installed;

static void register_pid(pid_t pid)
{
	for(int i = 0; i < MAX_BROKERS; i++){
		if(g_pids[i] == 0){
			g_pids[i] = pid;
			return;
		}
	}
}

static void unregister_pid(pid_t pid)
{
	for(int i = 0; i < MAX_BROKERS; i++){
		if(g_pids[i] == pid) g_pids[i] = 0;
	}
}

static void kill_registered(void)
{
	for(int i = 0; i < MAX_BROKERS; i++){
		pid_t p = g_pids[i];
		if(p > 0){
			kill(p, SIGTERM);
			waitpid(p, NULL, 0);
			g_pids[i] = 0;
		}
	}
}

static void on_signal(int sig)
{
	/* only async-signal-safe calls: kill, waitpid, _exit */
	kill_registered();
	_exit(128 + sig);
}

static void install_handlers(void)
{
	if(g_handlers_installed) return;
	g_handlers_installed = true;
	atexit(kill_registered);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* a broker closing a socket under a writer must not kill the bench */
	signal(SIGPIPE, SIG_IGN);
}

void bb_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	kill_registered();
	exit(2);
}

/* ---- small utilities ---- */

double bb_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bb_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while(nanosleep(&ts, &ts) != 0 && errno == EINTR){
	}
}

int bb_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if(fd < 0) bb_die("socket: %s", strerror(errno));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	if(bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0
			|| getsockname(fd, (struct sockaddr *)&a, &len) != 0){
		bb_die("cannot find a free port: %s", strerror(errno));
	}
	close(fd);
	return ntohs(a.sin_port);
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return (v && v[0]) ? v : fallback;
}

const char *bb_mosquitto_path(void) { return env_or("JW_MOSQUITTO", BENCH_MOSQUITTO); }
const char *bb_plugin_path(void) { return env_or("JW_PLUGIN", BENCH_PLUGIN); }
const char *bb_source_dir(void) { return env_or("JW_SOURCE_DIR", BENCH_SOURCE_DIR); }

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bb_percentile_sorted(const double *v, size_t n, double pct)
{
	if(n == 0) return 0;
	/* nearest rank */
	size_t rank = (size_t)((pct / 100.0) * (double)n + 0.999999);
	if(rank < 1) rank = 1;
	if(rank > n) rank = n;
	return v[rank - 1];
}

double bb_median(double *v, size_t n)
{
	if(n == 0) return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

long long bb_rss_bytes(pid_t pid)
{
	char path[64];
	if(pid == 0) snprintf(path, sizeof(path), "/proc/self/statm");
	else snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	FILE *f = fopen(path, "r");
	if(f == NULL) return -1;
	long long size = 0, resident = 0;
	int n = fscanf(f, "%lld %lld", &size, &resident);
	fclose(f);
	if(n != 2) return -1;
	return resident * sysconf(_SC_PAGESIZE);
}

long long bb_peak_rss_bytes(pid_t pid)
{
	char path[64], line[256];
	if(pid == 0) snprintf(path, sizeof(path), "/proc/self/status");
	else snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if(f == NULL) return -1;
	long long kb = -1;
	while(fgets(line, sizeof(line), f)){
		if(strncmp(line, "VmHWM:", 6) == 0){
			kb = strtoll(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

int bb_cpu_split(pid_t pid, double *user, double *sys)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if(f == NULL) return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after "(comm)": state is field 3; utime 14, stime 15 */
	const char *p = strrchr(buf, ')');
	if(p == NULL) return -1;
	unsigned long long utime = 0, stime = 0;
	if(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2){
		return -1;
	}
	double hz = (double)sysconf(_SC_CLK_TCK);
	*user = (double)utime / hz;
	*sys = (double)stime / hz;
	return 0;
}

double bb_cpu_seconds(pid_t pid)
{
	double u, s;
	return bb_cpu_split(pid, &u, &s) == 0 ? u + s : -1;
}

/* ---- files ---- */

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if(fd < 0){
		fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	const char *p = data;
	while(len > 0){
		ssize_t w = write(fd, p, len);
		if(w <= 0){
			close(fd);
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	close(fd);
	return 0;
}

static int run_quiet(char *const argv[])
{
	pid_t pid = fork();
	if(pid < 0) return -1;
	if(pid == 0){
		int fd = open("/dev/null", O_WRONLY);
		if(fd >= 0){
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	int status;
	if(waitpid(pid, &status, 0) != pid) return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int make_rsa_keys(struct bb_broker *b)
{
	char *gen[] = {"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
		"-out", b->priv_path, NULL};
	char *pub[] = {"openssl", "pkey", "-in", b->priv_path, "-pubout", "-out", b->pub_path, NULL};
	if(run_quiet(gen) != 0 || run_quiet(pub) != 0){
		fprintf(stderr, "bench: openssl could not generate an RSA key pair in %s\n", b->dir);
		return -1;
	}
	char *text = NULL, err[256];
	size_t len;
	if(jw_read_file(b->priv_path, 1 << 16, &text, &len, err, sizeof(err)) != 0){
		fprintf(stderr, "bench: %s\n", err);
		return -1;
	}
	b->privkey = (unsigned char *)text;
	b->privkey_len = len;
	return 0;
}

static bool port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if(fd < 0) return false;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static void remove_dir(struct bb_broker *b)
{
	const char *keep = getenv("JW_BENCH_KEEP");
	if(keep && strcmp(keep, "1") == 0){
		fprintf(stderr, "bench: keeping %s\n", b->dir);
		return;
	}
	const char *files[] = {b->conf_path, b->log_path, b->stderr_path, b->acl_path, b->secret_path,
		b->priv_path, b->pub_path};
	for(size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++){
		if(files[i][0]) unlink(files[i]);
	}
	if(b->dir[0]) rmdir(b->dir);
}

int bb_start(struct bb_broker *b, const struct bb_opts *o)
{
	install_handlers();
	memset(b, 0, sizeof(*b));
	b->kind = o->kind;
	b->alg = o->alg;

	snprintf(b->dir, sizeof(b->dir), "/tmp/jetwire-bench-XXXXXX");
	if(mkdtemp(b->dir) == NULL){
		fprintf(stderr, "bench: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	chmod(b->dir, 0755);
	snprintf(b->conf_path, sizeof(b->conf_path), "%s/mosquitto.conf", b->dir);
	snprintf(b->log_path, sizeof(b->log_path), "%s/broker.log", b->dir);
	snprintf(b->stderr_path, sizeof(b->stderr_path), "%s/stderr.log", b->dir);

	char plugin_lines[2048] = "";
	if(o->kind == BB_PLUGIN){
		snprintf(b->acl_path, sizeof(b->acl_path), "%s/jetwire.acl", b->dir);
		char src[512], *text = NULL, err[512];
		size_t len;
		if(o->acl_file) snprintf(src, sizeof(src), "%s", o->acl_file);
		else snprintf(src, sizeof(src), "%s/acl/default.acl", bb_source_dir());
		if(jw_read_file(src, 1 << 20, &text, &len, err, sizeof(err)) != 0){
			fprintf(stderr, "bench: %s\n", err);
			remove_dir(b);
			return -1;
		}
		int rc = write_file(b->acl_path, text, len, 0644);
		free(text);
		if(rc != 0){
			remove_dir(b);
			return -1;
		}
		char key_line[400];
		if(o->alg == BB_HS256){
			snprintf(b->secret_path, sizeof(b->secret_path), "%s/jwt.secret", b->dir);
			unsigned char rnd[32];
			FILE *ur = fopen("/dev/urandom", "rb");
			if(ur == NULL || fread(rnd, 1, sizeof(rnd), ur) != sizeof(rnd)){
				if(ur) fclose(ur);
				remove_dir(b);
				return -1;
			}
			fclose(ur);
			for(size_t i = 0; i < sizeof(rnd); i++) snprintf(b->secret + 2 * i, 3, "%02x", rnd[i]);
			if(write_file(b->secret_path, b->secret, strlen(b->secret), 0600) != 0){
				remove_dir(b);
				return -1;
			}
			snprintf(key_line, sizeof(key_line), "plugin_opt_jwt_secret_file %s\n", b->secret_path);
		}else{
			snprintf(b->priv_path, sizeof(b->priv_path), "%s/jwt-private.pem", b->dir);
			snprintf(b->pub_path, sizeof(b->pub_path), "%s/jwt-public.pem", b->dir);
			if(make_rsa_keys(b) != 0){
				remove_dir(b);
				return -1;
			}
			snprintf(key_line, sizeof(key_line),
					"plugin_opt_jwt_alg RS256\nplugin_opt_jwt_public_key_file %s\n", b->pub_path);
		}
		snprintf(plugin_lines, sizeof(plugin_lines),
				"allow_anonymous false\n"
				"plugin %s\n"
				"plugin_opt_acl_file %s\n"
				"%s",
				bb_plugin_path(), b->acl_path, key_line);
	}else{
		snprintf(plugin_lines, sizeof(plugin_lines), "allow_anonymous true\n");
	}

	b->port = bb_free_port();
	char conf[8192];
	/* Identical logging on both kinds of broker, and no per-connection log
	 * lines: the benchmarks measure the broker, not its log file. */
	int n = snprintf(conf, sizeof(conf),
			"per_listener_settings false\n"
			"user root\n"
			"persistence false\n"
			"log_dest file %s\n"
			"log_type error\n"
			"log_type warning\n"
			"log_type notice\n"
			"connection_messages false\n"
			"listener %d 127.0.0.1\n"
			"%s"
			"%s\n"
			"%s\n",
			b->log_path, b->port, plugin_lines, o->extra_conf ? o->extra_conf : "",
			env_or("JW_BENCH_BROKER_CONF", ""));
	if(n < 0 || n >= (int)sizeof(conf) || write_file(b->conf_path, conf, (size_t)n, 0644) != 0){
		remove_dir(b);
		return -1;
	}

	const char *mosq = bb_mosquitto_path();
	pid_t pid = fork();
	if(pid < 0){
		remove_dir(b);
		return -1;
	}
	if(pid == 0){
		int fd = open(b->stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if(fd >= 0){
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(mosq, mosq, "-c", b->conf_path, (char *)NULL);
		_exit(127);
	}
	b->pid = pid;
	register_pid(pid);

	double deadline = bb_now() + 10;
	while(bb_now() < deadline){
		int status;
		if(waitpid(pid, &status, WNOHANG) == pid){
			unregister_pid(pid);
			b->pid = 0;
			fprintf(stderr, "bench: broker exited at start (status %d); see %s and %s\n",
					WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
					b->log_path, b->stderr_path);
			return -1;
		}
		if(port_open(b->port)) return 0;
		bb_sleep_ms(20);
	}
	fprintf(stderr, "bench: broker did not open port %d in time; see %s\n", b->port, b->dir);
	bb_stop(b);
	return -1;
}

int bb_stop(struct bb_broker *b)
{
	int status = 0;
	if(b->pid > 0){
		kill(b->pid, SIGTERM);
		double deadline = bb_now() + 10;
		for(;;){
			pid_t r = waitpid(b->pid, &status, WNOHANG);
			if(r == b->pid) break;
			if(bb_now() > deadline){
				kill(b->pid, SIGKILL);
				waitpid(b->pid, &status, 0);
				break;
			}
			bb_sleep_ms(10);
		}
		unregister_pid(b->pid);
		b->pid = 0;
	}
	remove_dir(b);
	free(b->privkey);
	b->privkey = NULL;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char *bb_token(const struct bb_broker *b, const char *sub, const char *role, long ttl_s)
{
	char claims[512], err[256];
	long now = (long)time(NULL);
	snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"userType\":\"%s\",\"iat\":%ld,\"exp\":%ld}",
			sub, role, now, now + ttl_s);
	char *t;
	if(b->alg == BB_RS256){
		t = jw_mint(JWT_ALG_RS256, b->privkey, b->privkey_len, claims, err, sizeof(err));
	}else{
		t = jw_mint(JWT_ALG_HS256, (const unsigned char *)b->secret, strlen(b->secret), claims,
				err, sizeof(err));
	}
	if(t == NULL) bb_die("mint: %s", err);
	return t;
}

/* ---- growable string ---- */

void bb_buf_printf(struct bb_buf *b, const char *fmt, ...)
{
	for(;;){
		va_list ap;
		va_start(ap, fmt);
		size_t room = b->cap - b->len;
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
		va_end(ap);
		if(n < 0) bb_die("vsnprintf failed");
		if(b->p && (size_t)n < room){
			b->len += (size_t)n;
			return;
		}
		size_t ncap = b->cap ? b->cap * 2 : 4096;
		while(ncap < b->len + (size_t)n + 1) ncap *= 2;
		char *np = realloc(b->p, ncap);
		if(np == NULL) bb_die("out of memory");
		b->p = np;
		b->cap = ncap;
	}
}

void bb_buf_reset(struct bb_buf *b)
{
	b->len = 0;
	if(b->p) b->p[0] = '\0';
}

void bb_buf_free(struct bb_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- synchronous setup client ---- */

struct inbox_msg {
	char *topic;
	char *payload;
	struct inbox_msg *next;
};

struct bb_client {
	struct mosquitto *mosq;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int connack;          /* -2 waiting, -1 no CONNACK */
	bool disconnected;
	int acked_mid, ack_reason;
	struct inbox_msg *inbox, *tail;
};

static void c_on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *props)
{
	(void)m; (void)flags; (void)props;
	struct bb_client *c = obj;
	pthread_mutex_lock(&c->lock);
	c->connack = rc;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void c_on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *props)
{
	(void)m; (void)rc; (void)props;
	struct bb_client *c = obj;
	pthread_mutex_lock(&c->lock);
	c->disconnected = true;
	if(c->connack == -2) c->connack = -1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void c_on_publish(struct mosquitto *m, void *obj, int mid, int reason, const mosquitto_property *props)
{
	(void)m; (void)props;
	struct bb_client *c = obj;
	pthread_mutex_lock(&c->lock);
	c->acked_mid = mid;
	c->ack_reason = reason;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void c_on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
		const mosquitto_property *props)
{
	(void)m; (void)props;
	struct bb_client *c = obj;
	struct inbox_msg *e = calloc(1, sizeof(*e));
	if(e == NULL) return;
	e->topic = strdup(msg->topic);
	e->payload = malloc((size_t)msg->payloadlen + 1);
	if(e->topic == NULL || e->payload == NULL){
		free(e->topic);
		free(e->payload);
		free(e);
		return;
	}
	memcpy(e->payload, msg->payload, (size_t)msg->payloadlen);
	e->payload[msg->payloadlen] = '\0';
	pthread_mutex_lock(&c->lock);
	if(c->tail) c->tail->next = e; else c->inbox = e;
	c->tail = e;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if(ts->tv_nsec >= 1000000000L){
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

struct bb_client *bb_client_connect(int port, const char *client_id, const char *password)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, (void (*)(void))mosquitto_lib_init);
	install_handlers();
	struct bb_client *c = calloc(1, sizeof(*c));
	if(c == NULL) return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->connack = -2;
	c->mosq = mosquitto_new(client_id, true, c);
	if(c->mosq == NULL){
		free(c);
		return NULL;
	}
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_connect_v5_callback_set(c->mosq, c_on_connect);
	mosquitto_disconnect_v5_callback_set(c->mosq, c_on_disconnect);
	mosquitto_publish_v5_callback_set(c->mosq, c_on_publish);
	mosquitto_message_v5_callback_set(c->mosq, c_on_message);
	if(password) mosquitto_username_pw_set(c->mosq, "jwt", password);
	if(mosquitto_connect_bind_v5(c->mosq, "127.0.0.1", port, 60, NULL, NULL) != MOSQ_ERR_SUCCESS
			|| mosquitto_loop_start(c->mosq) != MOSQ_ERR_SUCCESS){
		fprintf(stderr, "bench: %s cannot connect to port %d\n", client_id, port);
		mosquitto_destroy(c->mosq);
		free(c);
		return NULL;
	}
	struct timespec dl;
	deadline_in(&dl, 10000);
	pthread_mutex_lock(&c->lock);
	while(c->connack == -2){
		if(pthread_cond_timedwait(&c->cond, &c->lock, &dl) != 0) break;
	}
	int rc = c->connack;
	pthread_mutex_unlock(&c->lock);
	if(rc != 0){
		fprintf(stderr, "bench: %s refused (CONNACK %d)\n", client_id, rc);
		bb_client_close(c);
		return NULL;
	}
	return c;
}

void bb_client_close(struct bb_client *c)
{
	if(c == NULL) return;
	mosquitto_disconnect(c->mosq);
	mosquitto_loop_stop(c->mosq, true);
	mosquitto_destroy(c->mosq);
	while(c->inbox){
		struct inbox_msg *e = c->inbox;
		c->inbox = e->next;
		free(e->topic);
		free(e->payload);
		free(e);
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

int bb_client_publish(struct bb_client *c, const char *topic, const void *payload, size_t len)
{
	int mid = 0;
	pthread_mutex_lock(&c->lock);
	c->acked_mid = 0;
	pthread_mutex_unlock(&c->lock);
	if(mosquitto_publish_v5(c->mosq, &mid, topic, (int)len, payload, 1, false, NULL) != MOSQ_ERR_SUCCESS){
		return -1;
	}
	struct timespec dl;
	deadline_in(&dl, 30000);
	pthread_mutex_lock(&c->lock);
	while(c->acked_mid != mid && !c->disconnected){
		if(pthread_cond_timedwait(&c->cond, &c->lock, &dl) != 0) break;
	}
	int reason = c->acked_mid == mid ? c->ack_reason : -1;
	pthread_mutex_unlock(&c->lock);
	return reason;
}

char *bb_client_wait(struct bb_client *c, const char *topic, int timeout_ms)
{
	struct timespec dl;
	deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&c->lock);
	for(;;){
		struct inbox_msg *prev = NULL;
		for(struct inbox_msg *e = c->inbox; e; prev = e, e = e->next){
			if(strcmp(e->topic, topic) != 0) continue;
			if(prev) prev->next = e->next; else c->inbox = e->next;
			if(c->tail == e) c->tail = prev;
			pthread_mutex_unlock(&c->lock);
			char *p = e->payload;
			free(e->topic);
			free(e);
			return p;
		}
		if(pthread_cond_timedwait(&c->cond, &c->lock, &dl) != 0) break;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

char *bb_control(struct bb_client *c, const char *json, int timeout_ms)
{
	int rc = bb_client_publish(c, "$CONTROL/jetwire/v1", json, strlen(json));
	if(rc != 0 && rc != MQTT_RC_NO_MATCHING_SUBSCRIBERS) return NULL;
	return bb_client_wait(c, "$CONTROL/jetwire/v1/response", timeout_ms);
}

long bb_control_count(struct bb_client *c)
{
	char *resp = bb_control(c, "{\"commands\":[{\"command\":\"countRelations\"}]}", 10000);
	if(resp == NULL) return -1;
	const char *p = strstr(resp, "\"count\":");
	long n = p ? strtol(p + 8, NULL, 10) : -1;
	free(resp);
	return n;
}

void bb_loadavg(char *buf, size_t len)
{
	snprintf(buf, len, "?");
	FILE *f = fopen("/proc/loadavg", "r");
	if(f == NULL) return;
	if(fgets(buf, (int)len, f) == NULL) snprintf(buf, len, "?");
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}
