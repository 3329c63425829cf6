# shellcheck shell=bash
# shellcheck disable=SC2034 # the STACK_* outputs are read by the callers
# scripts/lib/stack.sh — start and stop a throwaway jetwire stack on loopback:
# PostgreSQL, the schema (and demo data), mosquitto with the plugin (TCP and
# WebSocket, the WebSocket listener serving the web demo), the bridge, and the
# driver and order simulators.  Used by scripts/up.sh and by the tests.
#
#   source scripts/lib/stack.sh
#   STACK_DIR=/tmp/s1 STACK_BUILD_DIR=build
#   stack_start_postgres && stack_load_schema --demo-data && stack_start_broker \
#     && stack_start_bridge && stack_start_driver_sim 9 2 && stack_start_order_sim
#   ...
#   stack_stop
#
# Sourcing it only defines functions and default variables.  Every process it
# starts runs in its own session (Ctrl-C in the terminal reaches only the
# script, which then stops them in order), listens on loopback, logs to
# "$STACK_DIR/<name>.log" and is recorded in "$STACK_DIR/pids" as
# "name pid starttime" (the start time tells a recorded process from a later
# one that got the same pid).  stack_stop stops them in reverse order: SIGTERM
# (SIGINT, "fast shutdown", for PostgreSQL), then SIGKILL to the process group
# after a timeout.
#
# Functions return 0, or non-zero after one line "stack: ..." on stderr (and,
# when a process failed to start, the end of its log).  They do not exit and
# do not depend on `set -e` (which bash ignores inside a function called from
# a condition).
#
# Inputs (set before calling):
#   STACK_DIR          runtime directory (required; created)
#   STACK_ROOT         repository root              [derived from this file's path]
#   STACK_BUILD_DIR    build directory              [$STACK_ROOT/build]
#   STACK_BIND         address of the broker's listeners [127.0.0.1]; PostgreSQL: always 127.0.0.1
#   STACK_PG_PORT, STACK_MQTT_PORT, STACK_WS_PORT    [a free port each]
#   STACK_ACL_FILE     ACL the plugin enforces      [$STACK_ROOT/acl/default.acl]
#   STACK_TOKEN_TTL    default lifetime of stack_token tokens [86400]
#   STACK_BROKER_PRELOAD  a library mosquitto runs with in LD_PRELOAD [none]: the ASan
#                      runtime when the plugin is built with JETWIRE_SANITIZE (mosquitto
#                      itself is not instrumented); leak detection is then off for it
#   JWT_SECRET         HS256 secret (>= 32 bytes)   [generated once into $STACK_DIR/jwt.secret]
# Outputs:
#   STACK_SECRET_FILE, STACK_DATABASE_URL, STACK_WEB_ROOT, STACK_WEB_URL,
#   STACK_BROKER_USER (who the broker runs as), and STACK_PG_PID,
#   STACK_BROKER_PID, STACK_BRIDGE_PID, STACK_DRIVER_SIM_PID,
#   STACK_ORDER_SIM_PID (and STACK_LAST_PID: the last process started).

STACK_ROOT="${STACK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
STACK_BUILD_DIR="${STACK_BUILD_DIR:-$STACK_ROOT/build}"
STACK_BIND="${STACK_BIND:-127.0.0.1}"
STACK_TOKEN_TTL="${STACK_TOKEN_TTL:-86400}"
STACK_PG_USER=postgres          # the database superuser (trust authentication, loopback only)
STACK_PG_DB=jetwire
STACK_START_TIMEOUT=60          # seconds a service may take to become ready
STACK_STOP_TIMEOUT=15           # seconds between SIGTERM and SIGKILL

# ---------------------------------------------------------------- helpers

_stack_fail() {
	echo "stack: $*" >&2
	return 1
}

# _stack_init: check STACK_DIR, create it, make it absolute.
_stack_init() {
	[[ -n "${STACK_DIR:-}" ]] || { _stack_fail "STACK_DIR is not set"; return 1; }
	mkdir -p "$STACK_DIR" || { _stack_fail "cannot create $STACK_DIR"; return 1; }
	STACK_DIR="$(cd "$STACK_DIR" && pwd)" || return 1
	STACK_BUILD_DIR="$(cd "$STACK_BUILD_DIR" 2>/dev/null && pwd)" \
		|| { _stack_fail "build directory ${STACK_BUILD_DIR} does not exist (build first: cmake -S $STACK_ROOT -B build && cmake --build build)"; return 1; }
	return 0
}

# _stack_bin NAME: print the path of a built program (or the plugin).
_stack_bin() {
	local d
	for d in "$STACK_BUILD_DIR" "$STACK_BUILD_DIR/bridge" "$STACK_BUILD_DIR/tools"; do
		if [[ -f "$d/$1" && ( -x "$d/$1" || "$1" == *.so ) ]]; then
			echo "$d/$1"
			return 0
		fi
	done
	_stack_fail "$1 not found in $STACK_BUILD_DIR (build it: cmake --build $STACK_BUILD_DIR --target ${1%.so})"
}

# _stack_pg_bindir: the directory of initdb and postgres.
_stack_pg_bindir() {
	local d best="" v bestv=-1
	d="$(pg_config --bindir 2>/dev/null || true)"
	if [[ -n "$d" && -x "$d/initdb" && -x "$d/postgres" ]]; then
		echo "$d"
		return 0
	fi
	for d in /usr/lib/postgresql/*/bin; do
		v="${d#/usr/lib/postgresql/}"
		v="${v%/bin}"
		if [[ "$v" =~ ^[0-9]+$ && -x "$d/initdb" && -x "$d/postgres" ]] && ((v > bestv)); then
			best="$d"
			bestv="$v"
		fi
	done
	[[ -n "$best" ]] || { _stack_fail "no PostgreSQL server (initdb, postgres): install the Debian package postgresql (scripts/deps.sh)"; return 1; }
	echo "$best"
}

# _stack_port_listening PORT: is something listening on TCP PORT (any address)?
_stack_port_listening() {
	local hex
	hex="$(printf '%04X' "$1")"
	awk -v p="$hex" 'FNR > 1 { n = split($2, a, ":"); if (a[n] == p && $4 == "0A") found = 1 }
		END { exit found ? 0 : 1 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# _stack_port_used PORT: is TCP PORT in any socket at all (listening, connected, closing)?
_stack_port_used() {
	local hex
	hex="$(printf '%04X' "$1")"
	awk -v p="$hex" 'FNR > 1 { n = split($2, a, ":"); if (a[n] == p) found = 1 }
		END { exit found ? 0 : 1 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# stack_free_port: print a free loopback TCP port.  Chosen at random in
# 20000..32767, below Linux's ephemeral range (32768..60999) so outgoing
# connections do not take it meanwhile; not one this stack already uses.
stack_free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + SRANDOM % 12768))
		[[ "$p" == "${STACK_PG_PORT:-}" || "$p" == "${STACK_MQTT_PORT:-}" || "$p" == "${STACK_WS_PORT:-}" ]] && continue
		_stack_port_used "$p" && continue
		echo "$p"
		return 0
	done
	_stack_fail "no free TCP port found in 20000..32767"
}

# _stack_starttime PID: the process's start time (field 22 of /proc/PID/stat);
# fails if there is no such process or it is a zombie.
_stack_starttime() {
	local stat rest
	stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
	rest="${stat##*) }"          # after "pid (comm) ": field 3 onwards
	# shellcheck disable=SC2086 # split on purpose
	set -- $rest
	[[ "$1" != Z && "$1" != X ]] || return 1
	echo "${20}"
}

# _stack_alive PID STARTTIME: is that process (not a later one with its pid) running?
_stack_alive() {
	local t
	t="$(_stack_starttime "$1")" || return 1
	[[ "$t" == "$2" ]]
}

# _stack_spawn NAME CMD...: start CMD in its own session, stdin from
# /dev/null, stdout+stderr appended to $STACK_DIR/NAME.log; record it.
# STACK_LAST_PID is its pid.
_stack_spawn() {
	local name="$1" pid start
	shift
	local log="$STACK_DIR/$name.log"
	: >>"$log" || { _stack_fail "cannot write $log"; return 1; }
	# Without job control a background child shares our process group and
	# is no group leader, so setsid makes the new session in place (no
	# fork: $! is the program).  With job control (set -m) the child already
	# leads its own process group, out of the terminal's reach, and setsid
	# would fork: run it as is.
	if [[ $- == *m* ]]; then
		"$@" >>"$log" 2>&1 </dev/null &
	else
		setsid "$@" >>"$log" 2>&1 </dev/null &
	fi
	pid=$!
	start=""
	local i
	for ((i = 0; i < 50; i++)); do
		start="$(_stack_starttime "$pid")" && break
		sleep 0.01
	done
	if [[ -z "$start" ]]; then
		wait "$pid" 2>/dev/null
		_stack_fail "$name exited at once (log $log):"
		tail -n 20 "$log" >&2
		return 1
	fi
	echo "$name $pid $start" >>"$STACK_DIR/pids"
	STACK_LAST_PID="$pid"
	return 0
}

# _stack_died NAME PID: report a process that exited during its start.
_stack_died() {
	local code=0
	wait "$2" 2>/dev/null || code=$?
	_stack_fail "$1 exited during its start (status $code); end of $STACK_DIR/$1.log:"
	tail -n 20 "$STACK_DIR/$1.log" >&2
	return 1
}

# _stack_psql [PSQL-ARGS...]: psql on the stack's database, quiet, unaligned,
# tuples only, stop at the first error.
_stack_psql() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$STACK_DATABASE_URL" "$@"
}

# _stack_as USER CMD...: run CMD as USER when we are root, else as ourselves.
_stack_as() {
	local user="$1"
	shift
	if [[ $(id -u) -eq 0 ]]; then
		setpriv --reuid="$user" --regid="$user" --init-groups --reset-env -- "$@"
	else
		"$@"
	fi
}

# ---------------------------------------------------------------- PostgreSQL

# _stack_pg_launch: start the postmaster on $STACK_PG_DATA and port
# $STACK_PG_PORT; wait until it accepts connections.  Returns 3 if the
# port was taken.
_stack_pg_launch() {
	local bindir="$1" pid i
	local runner=()
	[[ $(id -u) -eq 0 ]] && runner=(setpriv --reuid="$STACK_PG_USER" --regid="$STACK_PG_USER" --init-groups --reset-env --)
	local before=0
	[[ -f "$STACK_DIR/postgres.log" ]] && before="$(wc -l <"$STACK_DIR/postgres.log")"
	_stack_spawn postgres "${runner[@]}" "$bindir/postgres" -D "$STACK_PG_DATA" -p "$STACK_PG_PORT" \
		-c listen_addresses=127.0.0.1 -c unix_socket_directories= \
		-c fsync=off -c full_page_writes=off -c synchronous_commit=off \
		-c logging_collector=off -c log_min_messages=warning || return 1
	pid="$STACK_LAST_PID"
	for ((i = 0; i < STACK_START_TIMEOUT * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null || ! _stack_starttime "$pid" >/dev/null; then
			wait "$pid" 2>/dev/null
			if tail -n "+$((before + 1))" "$STACK_DIR/postgres.log" | grep -q -e 'could not bind' -e 'already in use'; then
				return 3
			fi
			_stack_died postgres "$pid"
			return 1
		fi
		if pg_isready -q -h 127.0.0.1 -p "$STACK_PG_PORT" -t 1 2>/dev/null; then
			STACK_PG_PID="$pid"
			return 0
		fi
		sleep 0.1
	done
	_stack_fail "PostgreSQL did not accept connections on port $STACK_PG_PORT within ${STACK_START_TIMEOUT}s (log $STACK_DIR/postgres.log)"
}

# _stack_check_stale: refuse to start a second stack in a directory whose
# recorded processes still run.
_stack_check_stale() {
	local name pid start live=()
	[[ -f "$STACK_DIR/pids" ]] || return 0
	while read -r name pid start; do
		[[ -n "${pid:-}" ]] && _stack_alive "$pid" "$start" && live+=("$name:$pid")
	done <"$STACK_DIR/pids"
	if ((${#live[@]} > 0)); then
		_stack_fail "a stack already runs in $STACK_DIR (${live[*]}): stop it first (Ctrl-C where it runs, or stack_stop / scripts/up.sh --stop with the same data dir)"
		return 1
	fi
	rm -f "$STACK_DIR/pids"
}

# stack_start_postgres: a fresh cluster (the previous one in $STACK_DIR is
# wiped) in $STACK_DIR/pg (as the OS user postgres when we are root), on
# 127.0.0.1:$STACK_PG_PORT, trust authentication, database "jetwire".
stack_start_postgres() {
	_stack_init || return 1
	_stack_check_stale || return 1
	local bindir
	bindir="$(_stack_pg_bindir)" || return 1
	if ! command -v psql >/dev/null || ! command -v pg_isready >/dev/null; then
		_stack_fail "psql / pg_isready not found: install the Debian package postgresql-client (scripts/deps.sh)"
		return 1
	fi

	# Where the cluster lives: $STACK_DIR/pg, unless (as root) the postgres
	# user cannot reach it (a parent directory closed to others, such as a
	# mktemp -d): then a private directory in /tmp, removed by stack_stop.
	local pgdir="$STACK_DIR/pg"
	if [[ -f "$STACK_DIR/pg.dir" ]]; then
		rm -rf -- "$(cat "$STACK_DIR/pg.dir")"
		rm -f "$STACK_DIR/pg.dir"
	fi
	rm -rf -- "$pgdir"
	if [[ $(id -u) -eq 0 ]]; then
		getent passwd "$STACK_PG_USER" >/dev/null \
			|| { _stack_fail "running as root and there is no OS user '$STACK_PG_USER' to run PostgreSQL as (initdb refuses root): install the Debian package postgresql"; return 1; }
		if ! { mkdir -p "$pgdir" && chown "$STACK_PG_USER:" "$pgdir" && chmod 700 "$pgdir"; }; then
			_stack_fail "cannot create $pgdir"
			return 1
		fi
		if ! _stack_as "$STACK_PG_USER" test -w "$pgdir"; then
			rm -rf -- "$pgdir"
			pgdir="$(mktemp -d /tmp/jetwire-stack-pg.XXXXXX)" || { _stack_fail "mktemp in /tmp failed"; return 1; }
			chown "$STACK_PG_USER:" "$pgdir" || return 1
			echo "$pgdir" >"$STACK_DIR/pg.dir"
		fi
	else
		if ! { mkdir -p "$pgdir" && chmod 700 "$pgdir"; }; then
			_stack_fail "cannot create $pgdir"
			return 1
		fi
	fi
	STACK_PG_DATA="$pgdir/data"

	if ! _stack_as "$STACK_PG_USER" "$bindir/initdb" -D "$STACK_PG_DATA" --username="$STACK_PG_USER" \
			--auth=trust --encoding=UTF8 --locale=C --no-sync --no-instructions \
			>"$STACK_DIR/initdb.log" 2>&1; then
		_stack_fail "initdb failed; end of $STACK_DIR/initdb.log:"
		tail -n 20 "$STACK_DIR/initdb.log" >&2
		return 1
	fi

	# A port we chose may be taken by someone else in the meantime: choose again.
	local chosen=0 attempt rc
	[[ -z "${STACK_PG_PORT:-}" ]] && chosen=1
	for ((attempt = 0; attempt < 5; attempt++)); do
		if ((chosen)); then
			STACK_PG_PORT="$(stack_free_port)" || return 1
		elif _stack_port_listening "$STACK_PG_PORT"; then
			_stack_fail "port $STACK_PG_PORT (PostgreSQL) is already in use"
			return 1
		fi
		rc=0
		_stack_pg_launch "$bindir" || rc=$?
		((rc == 0)) && break
		if ((rc == 3 && chosen)); then
			continue
		fi
		((rc == 3)) && _stack_fail "port $STACK_PG_PORT (PostgreSQL) is already in use"
		return 1
	done
	((rc == 0)) || { _stack_fail "PostgreSQL could not bind a free port in 5 attempts"; return 1; }

	STACK_DATABASE_URL="postgresql://$STACK_PG_USER@127.0.0.1:$STACK_PG_PORT/$STACK_PG_DB"
	if ! psql -X -q -v ON_ERROR_STOP=1 -d "postgresql://$STACK_PG_USER@127.0.0.1:$STACK_PG_PORT/postgres" \
			-c "CREATE DATABASE $STACK_PG_DB" >>"$STACK_DIR/postgres.log" 2>&1; then
		_stack_fail "CREATE DATABASE $STACK_PG_DB failed (log $STACK_DIR/postgres.log)"
		return 1
	fi
	return 0
}

# stack_load_schema [--demo-data | --migrations-only]: jetwire's migrations
# (jetwire-migrate); then, unless --migrations-only, the demo tables and
# their capture (schemas/demo/tables.sql, capture.sql); with --demo-data also
# the demo rows (schemas/demo/data.sql).
stack_load_schema() {
	local demo_data=0 demo_tables=1
	while (($#)); do
		case "$1" in
			--demo-data) demo_data=1 ;;
			--migrations-only) demo_tables=0 ;;
			*) _stack_fail "stack_load_schema: unknown option $1"; return 1 ;;
		esac
		shift
	done
	[[ -n "${STACK_DATABASE_URL:-}" ]] || { _stack_fail "stack_load_schema: no database (stack_start_postgres first)"; return 1; }
	local migrate f
	migrate="$(_stack_bin jetwire-migrate)" || return 1
	if ! "$migrate" "$STACK_DATABASE_URL" >"$STACK_DIR/schema.log" 2>&1; then
		_stack_fail "jetwire-migrate failed; end of $STACK_DIR/schema.log:"
		tail -n 20 "$STACK_DIR/schema.log" >&2
		return 1
	fi
	((demo_tables)) || return 0
	local files=(schemas/demo/tables.sql schemas/demo/capture.sql)
	((demo_data)) && files+=(schemas/demo/data.sql)
	for f in "${files[@]}"; do
		if ! _stack_psql -f "$STACK_ROOT/$f" >>"$STACK_DIR/schema.log" 2>&1; then
			_stack_fail "loading $f failed; end of $STACK_DIR/schema.log:"
			tail -n 20 "$STACK_DIR/schema.log" >&2
			return 1
		fi
	done
	return 0
}

# ---------------------------------------------------------------- secret, tokens

# _stack_secret: STACK_SECRET_FILE from $JWT_SECRET, or the one generated
# earlier in $STACK_DIR, or a new one.
_stack_secret() {
	STACK_SECRET_FILE="$STACK_DIR/jwt.secret"
	local old_umask
	old_umask="$(umask)"
	umask 077
	if [[ -n "${JWT_SECRET:-}" ]]; then
		if ((${#JWT_SECRET} < 32)); then
			umask "$old_umask"
			_stack_fail "JWT_SECRET is ${#JWT_SECRET} bytes; HS256 needs at least 32"
			return 1
		fi
		printf '%s' "$JWT_SECRET" >"$STACK_SECRET_FILE"
	elif [[ ! -s "$STACK_SECRET_FILE" ]]; then
		if ! openssl rand -hex 48 | tr -d '\n' >"$STACK_SECRET_FILE"; then
			umask "$old_umask"
			_stack_fail "openssl rand failed (install openssl)"
			return 1
		fi
	fi
	umask "$old_umask"
	chmod 600 "$STACK_SECRET_FILE"
}

# stack_token SUB ROLE [TTL]: print a token signed with the stack's secret.
stack_token() {
	(($# >= 2)) || { _stack_fail "usage: stack_token SUB ROLE [TTL]"; return 1; }
	[[ -n "${STACK_SECRET_FILE:-}" ]] || { _stack_init && _stack_secret; } || return 1
	local tool
	tool="$(_stack_bin jetwire-token)" || return 1
	"$tool" --secret-file "$STACK_SECRET_FILE" --ttl "${3:-$STACK_TOKEN_TTL}" --sub "$1" --role "$2"
}

# ---------------------------------------------------------------- broker and web root

# _stack_web_root: $STACK_DIR/www = the built web root ($STACK_BUILD_DIR/web,
# assembled by the build's `web` target), else the source pages ($STACK_ROOT/web),
# copied (mosquitto serves only files whose real path is inside http_dir, so
# no symlinks), plus a generated config.js.
_stack_web_root() {
	STACK_WEB_ROOT="$STACK_DIR/www"
	rm -rf -- "$STACK_WEB_ROOT"
	mkdir -p "$STACK_WEB_ROOT" || { _stack_fail "cannot create $STACK_WEB_ROOT"; return 1; }
	local src=""
	if [[ -f "$STACK_BUILD_DIR/web/index.html" ]]; then
		src="$STACK_BUILD_DIR/web"
	elif [[ -d "$STACK_ROOT/web" ]]; then
		src="$STACK_ROOT/web"
	fi
	if [[ -n "$src" ]]; then
		if ! tar -C "$src" --exclude=node_modules --exclude='*.cmake' --exclude=CMakeLists.txt \
				--exclude='package*.json' --exclude=test --exclude=tests -chf - . \
				| tar -C "$STACK_WEB_ROOT" -xf -; then
			_stack_fail "copying the web pages from $src failed"
			return 1
		fi
	fi
	if [[ ! -f "$STACK_WEB_ROOT/index.html" ]]; then
		cat >"$STACK_WEB_ROOT/index.html" <<-'EOF'
		<!doctype html>
		<meta charset="utf-8">
		<title>jetwire</title>
		<p>jetwire's broker is up, but the web demo is not built: there is no <code>web/</code>
		directory in this checkout (or build the <code>web</code> target).</p>
		EOF
	fi

	# config.js: where the pages connect, and the demo's places.  No tokens.
	local places='{"merchants": {}, "customers": {}, "drivers": {}}'
	if [[ -n "${STACK_DATABASE_URL:-}" ]] \
			&& [[ "$(_stack_psql -c "SELECT to_regclass('merchants') IS NOT NULL AND to_regclass('customers') IS NOT NULL AND to_regclass('drivers') IS NOT NULL" 2>/dev/null)" == t ]]; then
		places="$(_stack_psql -f "$STACK_ROOT/schemas/demo/web_places.sql")" \
			|| { _stack_fail "reading the demo's merchants and customers failed"; return 1; }
	fi
	cat >"$STACK_WEB_ROOT/config.js" <<-EOF
	// Generated by scripts/lib/stack.sh at every start: edit the script, not this file.
	// The broker that served this page, over WebSocket; the demo's places.  No tokens:
	// pages take theirs from the URL fragment (#token=...) or a login box.
	window.JETWIRE = Object.assign({
	  wsUrl: (location.protocol === "http:" || location.protocol === "https:")
	    ? (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/"
	    : "ws://$(_stack_host):$STACK_WS_PORT/"
	}, $places);
	EOF
	chmod -R a+rX "$STACK_WEB_ROOT"
}

# _stack_host: the address clients use for the broker.
_stack_host() {
	case "$STACK_BIND" in
		0.0.0.0 | "::" | "") echo 127.0.0.1 ;;
		*:*) echo "[$STACK_BIND]" ;;
		*) echo "$STACK_BIND" ;;
	esac
}

# stack_start_broker: mosquitto with the plugin: MQTT on $STACK_MQTT_PORT,
# MQTT over WebSocket on $STACK_WS_PORT, which also serves STACK_WEB_ROOT
# (http_dir); ACL $STACK_ACL_FILE; no persistence (the database is new at
# every start, and old retained messages would contradict it).  As root it
# runs as the user mosquitto when that user can read what it needs.
stack_start_broker() {
	_stack_init || return 1
	local plugin mosquitto_bin p
	plugin="$(_stack_bin jetwire_plugin.so)" || return 1
	mosquitto_bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
	[[ -x "$mosquitto_bin" ]] || { _stack_fail "mosquitto not found: install the Debian package mosquitto (scripts/deps.sh)"; return 1; }
	local acl="${STACK_ACL_FILE:-$STACK_ROOT/acl/default.acl}"
	[[ -f "$acl" ]] || { _stack_fail "ACL file $acl not found"; return 1; }
	acl="$(realpath "$acl")"
	[[ -n "${STACK_MQTT_PORT:-}" ]] || { STACK_MQTT_PORT="$(stack_free_port)" || return 1; }
	[[ -n "${STACK_WS_PORT:-}" ]] || { STACK_WS_PORT="$(stack_free_port)" || return 1; }
	for p in "$STACK_MQTT_PORT" "$STACK_WS_PORT"; do
		if _stack_port_listening "$p"; then
			_stack_fail "port $p is already in use (another broker? the Debian mosquitto service: systemctl stop mosquitto)"
			return 1
		fi
	done
	_stack_secret || return 1
	_stack_web_root || return 1

	# mosquitto 2.0.11 started as root switches to the user in its config
	# (default "mosquitto") right after reading it, before it loads the
	# plugin and serves files: that user must read the plugin, the ACL, the
	# secret and the web root.  It writes nothing (no persistence; its log
	# goes to a file we opened).
	local user_line=""
	STACK_BROKER_USER="$(id -un)"
	if [[ $(id -u) -eq 0 ]]; then
		STACK_BROKER_USER=root
		user_line="user root"
		if getent passwd mosquitto >/dev/null; then
			chown mosquitto: "$STACK_SECRET_FILE"
			if runuser -u mosquitto -- test -r "$acl" \
					&& runuser -u mosquitto -- test -r "$plugin" \
					&& runuser -u mosquitto -- test -r "$STACK_SECRET_FILE" \
					&& runuser -u mosquitto -- test -r "$STACK_WEB_ROOT/config.js"; then
				STACK_BROKER_USER=mosquitto
				user_line="user mosquitto"
			else
				chown root: "$STACK_SECRET_FILE"
			fi
		fi
	fi

	# mosquitto 2.0.11 hands the bind address of a WebSocket listener to
	# libwebsockets, which ignores it (listens on every address) unless the
	# listener is limited to one address family.
	local ws_domain="socket_domain ipv4"
	[[ "$STACK_BIND" == *:* ]] && ws_domain="socket_domain ipv6"
	local conf="$STACK_DIR/mosquitto.conf"
	cat >"$conf" <<-EOF
	# Generated by scripts/lib/stack.sh at every start: edit the script, not this file.
	# docs/configuration.md explains each line.
	per_listener_settings false
	allow_anonymous false
	set_tcp_nodelay true
	$user_line
	persistence false
	log_dest stderr
	log_type error
	log_type warning
	log_type notice
	log_type information
	log_timestamp_format %Y-%m-%dT%H:%M:%S

	listener $STACK_MQTT_PORT $STACK_BIND

	listener $STACK_WS_PORT $STACK_BIND
	protocol websockets
	$ws_domain
	http_dir $STACK_WEB_ROOT

	plugin $plugin
	plugin_opt_acl_file $acl
	plugin_opt_jwt_secret_file $STACK_SECRET_FILE
	EOF

	local preload=()
	if [[ -n "${STACK_BROKER_PRELOAD:-}" ]]; then
		preload=(env "LD_PRELOAD=$STACK_BROKER_PRELOAD" "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1")
	fi
	_stack_spawn mosquitto ${preload[@]+"${preload[@]}"} "$mosquitto_bin" -c "$conf" || return 1
	local pid="$STACK_LAST_PID" i
	for ((i = 0; i < STACK_START_TIMEOUT * 10; i++)); do
		_stack_starttime "$pid" >/dev/null || { _stack_died mosquitto "$pid"; return 1; }
		_stack_port_listening "$STACK_MQTT_PORT" && _stack_port_listening "$STACK_WS_PORT" && break
		sleep 0.1
	done
	if ! { _stack_port_listening "$STACK_MQTT_PORT" && _stack_port_listening "$STACK_WS_PORT"; }; then
		_stack_fail "the broker did not open ports $STACK_MQTT_PORT and $STACK_WS_PORT within ${STACK_START_TIMEOUT}s (log $STACK_DIR/mosquitto.log)"
		return 1
	fi
	STACK_BROKER_PID="$pid"
	STACK_WEB_URL="http://$(_stack_host):$STACK_WS_PORT/"
	return 0
}

# ---------------------------------------------------------------- bridge, simulators

# stack_start_bridge: jetwire-bridge with a generated configuration
# ($STACK_DIR/bridge.conf; it mints its service token with the stack's
# secret); ready when it logs "resync complete".  JETWIRE_BRIDGE_* variables
# in the environment override the file (docs/bridge-config.md).
stack_start_bridge() {
	_stack_init || return 1
	[[ -n "${STACK_DATABASE_URL:-}" && -n "${STACK_MQTT_PORT:-}" ]] \
		|| { _stack_fail "stack_start_bridge: start PostgreSQL and the broker first"; return 1; }
	[[ -n "${STACK_SECRET_FILE:-}" ]] || _stack_secret || return 1
	local bridge
	bridge="$(_stack_bin jetwire-bridge)" || return 1
	local conf="$STACK_DIR/bridge.conf"
	(
		umask 077
		cat >"$conf" <<-EOF
		# Generated by scripts/lib/stack.sh at every start (docs/bridge-config.md).
		database $STACK_DATABASE_URL
		mqtt_host 127.0.0.1
		mqtt_port $STACK_MQTT_PORT
		jwt_secret_file $STACK_SECRET_FILE
		EOF
	) || { _stack_fail "cannot write $conf"; return 1; }
	local log="$STACK_DIR/jetwire-bridge.log"
	local before=0
	[[ -f "$log" ]] && before="$(grep -c 'resync complete' "$log" || true)"
	_stack_spawn jetwire-bridge "$bridge" -c "$conf" || return 1
	local pid="$STACK_LAST_PID" i n
	for ((i = 0; i < STACK_START_TIMEOUT * 10; i++)); do
		_stack_starttime "$pid" >/dev/null || { _stack_died jetwire-bridge "$pid"; return 1; }
		n="$(grep -c 'resync complete' "$log" || true)"
		if ((n > before)); then
			STACK_BRIDGE_PID="$pid"
			return 0
		fi
		sleep 0.1
	done
	_stack_fail "the bridge did not complete its first resync within ${STACK_START_TIMEOUT}s (log $log)"
}

# stack_start_driver_sim [N [FIRST]]: jetwire-driver-sim, drivers
# FIRST..FIRST+N-1 (default 1..10) in seed mode (like the app: every 15 s or
# 100 m) within 3 km of the demo's merchant 1.  Drivers missing from the
# demo's drivers table are added (AVAILABLE), so the order simulator can
# assign them.
stack_start_driver_sim() {
	_stack_init || return 1
	local n="${1:-10}" first="${2:-1}"
	if ! [[ "$n" =~ ^[0-9]+$ && "$first" =~ ^[0-9]+$ ]] || ((n < 1)); then
		_stack_fail "stack_start_driver_sim: N and FIRST must be integers (N >= 1)"
		return 1
	fi
	[[ -n "${STACK_MQTT_PORT:-}" ]] || { _stack_fail "stack_start_driver_sim: start the broker first"; return 1; }
	[[ -n "${STACK_SECRET_FILE:-}" ]] || _stack_secret || return 1
	local sim center="52.52,13.405"
	sim="$(_stack_bin jetwire-driver-sim)" || return 1
	if [[ -n "${STACK_DATABASE_URL:-}" ]] \
			&& [[ "$(_stack_psql -c "SELECT to_regclass('drivers') IS NOT NULL AND to_regclass('merchants') IS NOT NULL")" == t ]]; then
		if ! _stack_psql -c "
				INSERT INTO drivers (id, name, availability)
				SELECT g, 'Driver ' || g, 'AVAILABLE' FROM generate_series($first, $((first + n - 1))) g
				ON CONFLICT (id) DO NOTHING;
				SELECT setval(pg_get_serial_sequence('drivers', 'id'), (SELECT GREATEST(max(id), 1) FROM drivers));" \
				>/dev/null; then
			_stack_fail "adding the simulated drivers to the drivers table failed"
			return 1
		fi
		local c
		c="$(_stack_psql -c "SELECT pickup_lat || ',' || pickup_lng FROM merchants ORDER BY id LIMIT 1")" || return 1
		[[ -n "$c" ]] && center="$c"
	fi
	_stack_spawn jetwire-driver-sim "$sim" --host 127.0.0.1 --port "$STACK_MQTT_PORT" \
		--secret-file "$STACK_SECRET_FILE" --drivers "$n" --first-id "$first" --mode seed \
		--center "$center" --radius-km 3 --report 60 || return 1
	sleep 0.2
	_stack_starttime "$STACK_LAST_PID" >/dev/null || { _stack_died jetwire-driver-sim "$STACK_LAST_PID"; return 1; }
	STACK_DRIVER_SIM_PID="$STACK_LAST_PID"
}

# stack_start_order_sim [ARGS...]: jetwire-order-sim on the stack's database
# (docs/order-sim.md); ARGS are passed on (e.g. --step 2 --interval 5).
stack_start_order_sim() {
	_stack_init || return 1
	[[ -n "${STACK_DATABASE_URL:-}" ]] || { _stack_fail "stack_start_order_sim: start PostgreSQL first"; return 1; }
	local sim
	sim="$(_stack_bin jetwire-order-sim)" || return 1
	_stack_spawn jetwire-order-sim "$sim" --database "$STACK_DATABASE_URL" "$@" || return 1
	sleep 0.2
	_stack_starttime "$STACK_LAST_PID" >/dev/null || { _stack_died jetwire-order-sim "$STACK_LAST_PID"; return 1; }
	STACK_ORDER_SIM_PID="$STACK_LAST_PID"
}

# ---------------------------------------------------------------- stop

# stack_pids: print "name pid" of every recorded process still running.
stack_pids() {
	local name pid start
	[[ -n "${STACK_DIR:-}" && -f "$STACK_DIR/pids" ]] || return 0
	while read -r name pid start; do
		[[ -n "${pid:-}" ]] && _stack_alive "$pid" "$start" && echo "$name $pid"
	done <"$STACK_DIR/pids"
	return 0
}

# stack_stop: stop every recorded process, last started first: SIGTERM
# (PostgreSQL: SIGINT, its fast shutdown), then after $STACK_STOP_TIMEOUT
# seconds SIGKILL to its process group.  Idempotent; works from another shell
# than the one that started the stack (then it cannot reap, only wait).
# With STACK_VERBOSE=1, says what it stops on stderr.
stack_stop() {
	[[ -n "${STACK_DIR:-}" ]] || { _stack_fail "STACK_DIR is not set"; return 1; }
	local lines=() i name pid start sig t left rc=0
	if [[ -f "$STACK_DIR/pids" ]]; then
		mapfile -t lines <"$STACK_DIR/pids"
	fi
	for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
		read -r name pid start <<<"${lines[i]}"
		[[ -n "${pid:-}" ]] || continue
		if ! _stack_alive "$pid" "$start"; then
			wait "$pid" 2>/dev/null || true
			continue
		fi
		sig=TERM
		[[ "$name" == postgres ]] && sig=INT
		[[ "${STACK_VERBOSE:-0}" == 1 ]] && echo "stack: stopping $name (pid $pid)" >&2
		kill -s "$sig" "$pid" 2>/dev/null || true
		left=1
		for ((t = 0; t < STACK_STOP_TIMEOUT * 10; t++)); do
			_stack_alive "$pid" "$start" || { left=0; break; }
			sleep 0.1
		done
		if ((left)); then
			echo "stack: $name (pid $pid) did not stop within ${STACK_STOP_TIMEOUT}s of SIG$sig; killing it" >&2
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
			for ((t = 0; t < 50; t++)); do
				_stack_alive "$pid" "$start" || break
				sleep 0.1
			done
			_stack_alive "$pid" "$start" && { _stack_fail "$name (pid $pid) survived SIGKILL"; rc=1; }
		fi
		wait "$pid" 2>/dev/null || true
	done
	if ((rc == 0)); then
		rm -f "$STACK_DIR/pids"
		if [[ -f "$STACK_DIR/pg.dir" ]]; then
			rm -rf -- "$(cat "$STACK_DIR/pg.dir")"
			rm -f "$STACK_DIR/pg.dir"
		fi
	fi
	return "$rc"
}
