/*
 * bridge_harness — the real jetwire-bridge as a child process (see
 * bridge_harness.h).
 *
 * Layout of the private dir (/tmp/jetwire-bridge-XXXXXX):
 *   bridge.conf   the configuration written by jw_bridge_start
 *   bridge.env    the extra environment ("NAME=VALUE" per line) and the
 *                 resync wait, so jw_bridge_restart starts the same way
 *   bridge.log    stdout + stderr of every start, appended
 *
 * Everything between fork() and exec() is async-signal-safe (the tests
 * run libmosquitto and paho threads): argv and envp are built before the
 * fork.
 */
#define _GNU_SOURCE
#include "bridge_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_WAIT_MS 30000
#define STOP_TIMEOUT_MS 30000
#define VALGRIND_FACTOR 4
#define LOG_POLL_MS 20
#define ENV_MAX 64

static int fail(char *errbuf, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
	if (errbuf && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
	}
}

static bool env_valgrind(void)
{
	const char *v = getenv("JW_VALGRIND");
	return v && strcmp(v, "1") == 0;
}

static int exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* An executable called `name` in $PATH (or `name` itself if it has a '/'). */
static int find_in_path(const char *name, char *out, size_t len)
{
	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		return access(out, X_OK) == 0 ? 0 : -1;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	char *copy = strdup(path);
	if (!copy)
		return -1;
	int rc = -1;
	for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", *dir ? dir : ".", name);
		if (access(out, X_OK) == 0) {
			rc = 0;
			break;
		}
	}
	free(copy);
	return rc;
}

/* The environment for a child: ours, with each "NAME=VALUE" of `extra`
 * replacing a variable of the same name.  Returns a malloc'ed array of
 * pointers into environ/extra (free only the array). */
static char **child_env(const char *const *extra)
{
	size_t n_env = 0, n_extra = 0;
	while (environ && environ[n_env])
		n_env++;
	while (extra && extra[n_extra])
		n_extra++;
	char **out = calloc(n_env + n_extra + 1, sizeof(*out));
	if (!out)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < n_env; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t name_len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		bool replaced = false;
		for (size_t j = 0; j < n_extra && !replaced; j++)
			replaced = strncmp(extra[j], environ[i], name_len) == 0 && extra[j][name_len] == '=';
		if (!replaced)
			out[n++] = environ[i];
	}
	for (size_t j = 0; j < n_extra; j++)
		out[n++] = (char *)extra[j];
	out[n] = NULL;
	return out;
}

/* argv for the bridge, under valgrind when asked: pointers into `bridge`,
 * `vg` and `args` (NULL-terminated, may be NULL).  Free only the array. */
static char **bridge_argv(const char *bridge, const char *vg, const char *const *args)
{
	static const char *const vg_args[] = {"--error-exitcode=99", "--leak-check=full",
		"--errors-for-leak-kinds=definite", "-q"};
	size_t n_args = 0;
	while (args && args[n_args])
		n_args++;
	char **argv = calloc(n_args + 8, sizeof(*argv));
	if (!argv)
		return NULL;
	size_t n = 0;
	if (vg) {
		argv[n++] = (char *)vg;
		for (size_t i = 0; i < sizeof(vg_args) / sizeof(vg_args[0]); i++)
			argv[n++] = (char *)vg_args[i];
	}
	argv[n++] = (char *)bridge;
	for (size_t i = 0; i < n_args; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	return argv;
}

/* The last non-empty line of a file (for error messages). */
static void last_line(const char *path, char *out, size_t outlen)
{
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[2048];
	while (fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (n && outlen) {
			size_t k = n < outlen - 1 ? n : outlen - 1;
			memcpy(out, line, k);
			out[k] = '\0';
		}
	}
	fclose(f);
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

/* Does `conf` set `key` (a line "key value", leading blanks allowed)? */
static bool conf_sets(const char *conf, const char *key)
{
	size_t klen = strlen(key);
	for (const char *line = conf; line && *line;) {
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, key, klen) == 0 && (p[klen] == ' ' || p[klen] == '\t'))
			return true;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

static char *env_path(const struct jw_bridge *br, char *buf, size_t len)
{
	snprintf(buf, len, "%s/bridge.env", br->dir);
	return buf;
}

/* The start parameters kept in bridge.env: "#wait_ms=N" then NAME=VALUE lines. */
struct saved_env {
	char *text;
	const char *vars[ENV_MAX + 1];
	int wait_ms;
};

static void saved_env_free(struct saved_env *s)
{
	free(s->text);
	s->text = NULL;
}

static int load_env(const struct jw_bridge *br, struct saved_env *s, char *errbuf, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	char path[400];
	env_path(br, path, sizeof(path));
	FILE *f = fopen(path, "r");
	if (!f)
		return fail(errbuf, errlen, "%s: %s", path, strerror(errno));
	size_t cap = 0;
	FILE *mem = open_memstream(&s->text, &cap);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	fclose(f);
	fclose(mem);
	size_t nv = 0;
	for (char *save = NULL, *line = strtok_r(s->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "#wait_ms=", 9) == 0)
			s->wait_ms = atoi(line + 9);
		else if (*line && nv < ENV_MAX)
			s->vars[nv++] = line;
	}
	s->vars[nv] = NULL;
	return 0;
}

/* fork + exec the bridge with the saved environment; stdout and stderr
 * appended to the log. */
static int spawn(struct jw_bridge *br, const char *const *extra_env, char *errbuf, size_t errlen)
{
	const char *bridge = getenv("JW_BRIDGE");
	if (!bridge || !*bridge)
		return fail(errbuf, errlen, "JW_BRIDGE is not set (run through ctest)");
	char vg[512];
	if (br->valgrind && find_in_path("valgrind", vg, sizeof(vg)) != 0)
		return fail(errbuf, errlen, "valgrind requested but not found in PATH");
	const char *const args[] = {"-c", br->conf_path, NULL};
	char **argv = bridge_argv(bridge, br->valgrind ? vg : NULL, args);
	char **envp = child_env(extra_env);
	int logfd = open(br->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (!argv || !envp || logfd < 0 || nullfd < 0) {
		int e = errno;
		free(argv);
		free(envp);
		if (logfd >= 0)
			close(logfd);
		if (nullfd >= 0)
			close(nullfd);
		return fail(errbuf, errlen, "preparing the bridge: %s", strerror(e));
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* the bridge dies with the test */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(125);
		/* signals blocked or ignored by the test must not leak into it */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		/* no test sockets (MQTT clients, libpq) held open by the bridge */
		close_range(3, ~0U, 0);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	int e = errno;
	free(argv);
	free(envp);
	close(logfd);
	close(nullfd);
	if (pid < 0)
		return fail(errbuf, errlen, "fork: %s", strerror(e));
	br->pid = pid;
	br->starts++;
	return 0;
}

/* Wait until the log holds more than `before` "resync complete" lines. */
static int wait_resync(struct jw_bridge *br, int before, int wait_ms, char *errbuf, size_t errlen)
{
	int64_t deadline = mono_ms() + wait_ms;
	for (;;) {
		if (jw_bridge_log_count(br, "resync complete") > before)
			return 0;
		int status;
		if (waitpid(br->pid, &status, WNOHANG) == br->pid) {
			br->pid = 0;
			char line[600];
			last_line(br->log_path, line, sizeof(line));
			return fail(errbuf, errlen, "the bridge exited with status %d before \"resync complete\" "
					"(log %s): %s", exit_code_of(status), br->log_path, line);
		}
		if (mono_ms() > deadline) {
			char line[600];
			last_line(br->log_path, line, sizeof(line));
			return fail(errbuf, errlen, "no \"resync complete\" within %d ms (log %s); last line: %s",
					wait_ms, br->log_path, line);
		}
		sleep_ms(LOG_POLL_MS);
	}
}

int jw_bridge_start(struct jw_bridge *br, const struct jw_bridge_opts *o, char *errbuf, size_t errlen)
{
	memset(br, 0, sizeof(*br));
	if (!o || !o->database || o->mqtt_port <= 0)
		return fail(errbuf, errlen, "jw_bridge_start: database and mqtt_port are required");
	snprintf(br->dir, sizeof(br->dir), "/tmp/jetwire-bridge-XXXXXX");
	if (!mkdtemp(br->dir)) {
		int e = errno;
		br->dir[0] = '\0';
		return fail(errbuf, errlen, "mkdtemp: %s", strerror(e));
	}
	snprintf(br->conf_path, sizeof(br->conf_path), "%s/bridge.conf", br->dir);
	snprintf(br->log_path, sizeof(br->log_path), "%s/bridge.log", br->dir);
	br->valgrind = o->valgrind || env_valgrind();

	/* the configuration */
	char *conf = NULL;
	size_t conf_len = 0;
	FILE *c = open_memstream(&conf, &conf_len);
	if (!c)
		return fail(errbuf, errlen, "open_memstream: %s", strerror(errno));
	fprintf(c, "# written by test/integration/bridge_harness.c\n");
	fprintf(c, "database %s\n", o->database);
	fprintf(c, "mqtt_host 127.0.0.1\n");
	fprintf(c, "mqtt_port %d\n", o->mqtt_port);
	if (o->secret_path)
		fprintf(c, "jwt_secret_file %s\n", o->secret_path);
	if (!o->extra_conf || !conf_sets(o->extra_conf, "stats_interval"))
		fprintf(c, "stats_interval 1\n");
	if (o->extra_conf) {
		size_t n = strlen(o->extra_conf);
		fprintf(c, "%s%s", o->extra_conf, n && o->extra_conf[n - 1] != '\n' ? "\n" : "");
	}
	fclose(c);
	int rc = write_file(br->conf_path, conf, 0600);
	free(conf);
	if (rc != 0)
		return fail(errbuf, errlen, "writing %s: %s", br->conf_path, strerror(errno));

	/* what a restart needs again */
	int wait_ms = o->wait_ms > 0 ? o->wait_ms : DEFAULT_WAIT_MS;
	if (br->valgrind)
		wait_ms *= VALGRIND_FACTOR;
	char *envtext = NULL;
	size_t env_len = 0;
	FILE *e = open_memstream(&envtext, &env_len);
	if (!e)
		return fail(errbuf, errlen, "open_memstream: %s", strerror(errno));
	fprintf(e, "#wait_ms=%d\n", wait_ms);
	size_t n_env = 0;
	for (size_t i = 0; o->env && o->env[i]; i++, n_env++) {
		if (strchr(o->env[i], '\n') || !strchr(o->env[i], '=') || n_env >= ENV_MAX) {
			fclose(e);
			free(envtext);
			return fail(errbuf, errlen, "bad or too many env entries (\"NAME=VALUE\", no newline, at most %d)",
					ENV_MAX);
		}
		fprintf(e, "%s\n", o->env[i]);
	}
	fclose(e);
	char path[400];
	rc = write_file(env_path(br, path, sizeof(path)), envtext, 0600);
	free(envtext);
	if (rc != 0)
		return fail(errbuf, errlen, "writing %s: %s", path, strerror(errno));

	if (spawn(br, o->env, errbuf, errlen) != 0)
		return -1;
	if (o->no_wait)
		return 0;
	return wait_resync(br, 0, wait_ms, errbuf, errlen);
}

int jw_bridge_restart(struct jw_bridge *br, bool wait_resync_complete, char *errbuf, size_t errlen)
{
	if (br->pid > 0)
		return fail(errbuf, errlen, "jw_bridge_restart: the bridge is running (pid %d)", (int)br->pid);
	if (!br->dir[0])
		return fail(errbuf, errlen, "jw_bridge_restart: the bridge was never started");
	struct saved_env s;
	if (load_env(br, &s, errbuf, errlen) != 0)
		return -1;
	int before = jw_bridge_log_count(br, "resync complete");
	int rc = spawn(br, s.vars, errbuf, errlen);
	int wait_ms = s.wait_ms > 0 ? s.wait_ms : DEFAULT_WAIT_MS * (br->valgrind ? VALGRIND_FACTOR : 1);
	saved_env_free(&s);
	if (rc != 0 || !wait_resync_complete)
		return rc;
	return wait_resync(br, before, wait_ms, errbuf, errlen);
}

/* Wait for the child up to timeout_ms; true if it was reaped. */
static bool reap(pid_t pid, int timeout_ms, int *status)
{
	int64_t deadline = mono_ms() + timeout_ms;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return true;
		if (r < 0 && errno == ECHILD) {
			*status = 0;
			return true;
		}
		if (mono_ms() > deadline)
			return false;
		sleep_ms(10);
	}
}

int jw_bridge_stop(struct jw_bridge *br, int *exit_code, char *errbuf, size_t errlen)
{
	if (exit_code)
		*exit_code = -1;
	if (br->pid <= 0)
		return fail(errbuf, errlen, "jw_bridge_stop: the bridge is not running");
	kill(br->pid, SIGTERM);
	int status = 0;
	int timeout = STOP_TIMEOUT_MS * (br->valgrind ? VALGRIND_FACTOR : 1);
	bool exited = reap(br->pid, timeout, &status);
	if (!exited) {
		kill(br->pid, SIGKILL);
		waitpid(br->pid, &status, 0);
	}
	br->pid = 0;
	if (exit_code)
		*exit_code = exit_code_of(status);
	if (!exited)
		return fail(errbuf, errlen, "the bridge did not exit within %d ms of SIGTERM; killed (log %s)",
				timeout, br->log_path);
	return 0;
}

int jw_bridge_kill(struct jw_bridge *br)
{
	if (br->pid <= 0)
		return -1;
	kill(br->pid, SIGKILL);
	int status;
	waitpid(br->pid, &status, 0);
	br->pid = 0;
	return 0;
}

bool jw_bridge_alive(struct jw_bridge *br, int *exit_code)
{
	if (exit_code)
		*exit_code = -1;
	if (br->pid <= 0)
		return false;
	int status;
	pid_t r = waitpid(br->pid, &status, WNOHANG);
	if (r == 0)
		return true;
	if (r == br->pid && exit_code)
		*exit_code = exit_code_of(status);
	br->pid = 0;
	return false;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void jw_bridge_cleanup(struct jw_bridge *br)
{
	if (br->pid > 0) {
		int code;
		if (jw_bridge_stop(br, &code, NULL, 0) != 0)
			br->pid = 0;
	}
	const char *keep = getenv("JW_KEEP_TEST_DIRS");
	if (br->dir[0] && !(keep && keep[0] == '1'))
		nftw(br->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	br->dir[0] = '\0';
}

int jw_bridge_log_count(const struct jw_bridge *br, const char *needle)
{
	int fd = open(br->log_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return 0;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *grown = realloc(buf, cap * 2);
			if (!grown)
				break;
			buf = grown;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	/* the log is text, but be safe with stray NULs */
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	int count = 0;
	size_t nlen = strlen(needle);
	for (const char *p = buf; nlen && (p = strstr(p, needle)) != NULL; p += nlen)
		count++;
	free(buf);
	return count;
}

bool jw_bridge_log_wait(const struct jw_bridge *br, const char *needle, int n, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;
	for (;;) {
		if (jw_bridge_log_count(br, needle) >= n)
			return true;
		if (mono_ms() > deadline)
			return false;
		sleep_ms(LOG_POLL_MS);
	}
}

int jw_run_program(const char *prog, const char *const *args, const char *const *env, int timeout_ms,
		char *out, size_t outlen, int *exit_code, char *errbuf, size_t errlen)
{
	if (exit_code)
		*exit_code = -1;
	if (out && outlen)
		out[0] = '\0';
	size_t n_args = 0;
	while (args && args[n_args])
		n_args++;
	char **argv = calloc(n_args + 2, sizeof(*argv));
	char **envp = child_env(env);
	int pipefd[2] = {-1, -1};
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (!argv || !envp || nullfd < 0 || pipe2(pipefd, O_CLOEXEC) != 0) {
		int e = errno;
		free(argv);
		free(envp);
		if (nullfd >= 0)
			close(nullfd);
		return fail(errbuf, errlen, "preparing %s: %s", prog, strerror(e));
	}
	argv[0] = (char *)prog;
	for (size_t i = 0; i < n_args; i++)
		argv[i + 1] = (char *)args[i];
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(125);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(nullfd, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close_range(3, ~0U, 0);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	int e = errno;
	free(argv);
	free(envp);
	close(nullfd);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return fail(errbuf, errlen, "fork: %s", strerror(e));
	}
	size_t len = 0;
	int64_t deadline = mono_ms() + timeout_ms;
	bool timed_out = false, eof = false;
	while (!eof) {
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
		int r = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		char buf[4096];
		ssize_t n = read(pipefd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			eof = true;
			break;
		}
		if (out && outlen > 1) {
			size_t room = outlen - 1 - len;
			size_t take = (size_t)n < room ? (size_t)n : room;
			memcpy(out + len, buf, take);
			len += take;
			out[len] = '\0';
		}
	}
	close(pipefd[0]);
	int status = 0;
	if (timed_out || !reap(pid, timed_out ? 0 : (int)(deadline - mono_ms() > 0 ? deadline - mono_ms() : 0),
			&status)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return fail(errbuf, errlen, "%s did not finish within %d ms; killed", prog, timeout_ms);
	}
	if (exit_code)
		*exit_code = exit_code_of(status);
	return 0;
}

int jw_bridge_run_cli(const char *const *args, const char *const *env, int timeout_ms,
		char *out, size_t outlen, int *exit_code, char *errbuf, size_t errlen)
{
	const char *bridge = getenv("JW_BRIDGE");
	if (!bridge || !*bridge)
		return fail(errbuf, errlen, "JW_BRIDGE is not set (run through ctest)");
	if (!env_valgrind())
		return jw_run_program(bridge, args, env, timeout_ms, out, outlen, exit_code, errbuf, errlen);
	char vg[512];
	if (find_in_path("valgrind", vg, sizeof(vg)) != 0)
		return fail(errbuf, errlen, "JW_VALGRIND=1 but valgrind is not in PATH");
	char **argv = bridge_argv(bridge, vg, args);
	if (!argv)
		return fail(errbuf, errlen, "out of memory");
	/* bridge_argv puts valgrind first: run it with the rest as arguments */
	int rc = jw_run_program(vg, (const char *const *)argv + 1, env, timeout_ms * VALGRIND_FACTOR, out,
			outlen, exit_code, errbuf, errlen);
	free(argv);
	return rc;
}
