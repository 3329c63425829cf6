#!/usr/bin/env bash
# scripts/up.sh refuses bad input with one clear line and a non-zero status
# before it starts anything: bad variables and arguments (status 2), a port
# in use, a stack already running with the same data dir, missing programs
# with JETWIRE_NO_BUILD=1 (status 1).  --stop with nothing running is fine.
set -uo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

new_dir
d="$NEW_DIR"
up="$JW_SOURCE_DIR/scripts/up.sh"

# expect STATUS MESSAGE ENV... [-- ARGS...]
expect() {
	local want_rc="$1" want="$2" got rc
	shift 2
	local envs=() args=()
	while (($#)) && [[ "$1" != -- ]]; do envs+=("$1"); shift; done
	(($#)) && shift
	args=("$@")
	got="$(env JETWIRE_NO_BUILD=1 JETWIRE_BUILD_DIR="$JW_BUILD_DIR" JETWIRE_DATA_DIR="$d/data" \
		${envs[@]+"${envs[@]}"} "$up" ${args[@]+"${args[@]}"} 2>&1 </dev/null)"
	rc=$?
	[[ "$rc" == "$want_rc" ]] || fail "${envs[*]} ${args[*]}: status $rc, expected $want_rc; output: $got"
	[[ "$got" == *"$want"* ]] || fail "${envs[*]} ${args[*]}: expected '$want' in: $got"
	pass "${envs[*]:-} ${args[*]:-} -> $rc: $(head -n 1 <<<"$got")"
}

expect 2 "up: JETWIRE_MQTT_PORT: 'abc' is not a TCP port (1..65535)" JETWIRE_MQTT_PORT=abc
expect 2 "up: JETWIRE_WS_PORT: '70000' is not a TCP port (1..65535)" JETWIRE_WS_PORT=70000
expect 2 "up: JETWIRE_PG_PORT: '-5' is not a TCP port" JETWIRE_PG_PORT=-5
expect 2 "JETWIRE_MQTT_PORT and JETWIRE_WS_PORT are both 20001" JETWIRE_MQTT_PORT=20001 JETWIRE_WS_PORT=20001
expect 2 "up: JETWIRE_DRIVERS: 'many' is not an integer 0..10000" JETWIRE_DRIVERS=many
expect 2 "up: JETWIRE_ORDER_STEP: '1s' is not a number of seconds" JETWIRE_ORDER_STEP=1s
expect 2 "up: JWT_SECRET is 6 bytes; HS256 needs at least 32" JWT_SECRET=secret
expect 2 "up: JETWIRE_ACL_FILE: /nonexistent.acl not found" JETWIRE_ACL_FILE=/nonexistent.acl
expect 2 "up: unknown argument '--demo'" -- --demo
[[ ! -e "$d/data" ]] || fail "a bad variable still created the data directory"

# A port in use: a listener of our own on the WebSocket port.
port="$(stack_free_port)"
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("listening", flush=True); time.sleep(60)' "$port" \
	>"$d/listener.out" &
listener=$!
wait_for 10 "test listener" grep -q listening "$d/listener.out"
mqtt="$(STACK_WS_PORT=$port stack_free_port)"
expect 1 "up: port $port is already in use" JETWIRE_MQTT_PORT="$mqtt" JETWIRE_WS_PORT="$port"
kill "$listener"
wait "$listener" 2>/dev/null

# JETWIRE_NO_BUILD=1 and a build directory without the programs.
mkdir -p "$d/empty-build"
expect 1 "jetwire_plugin.so is not in $d/empty-build (JETWIRE_NO_BUILD=1" \
	JETWIRE_MQTT_PORT="$mqtt" JETWIRE_WS_PORT="$port" JETWIRE_BUILD_DIR="$d/empty-build"

# A stack already running in the data directory (a process recorded there
# that still runs): refused, and --stop stops it.
mkdir -p "$d/data"
sleep 60 &
fake=$!
echo "jetwire-order-sim $fake $(_stack_starttime "$fake")" >"$d/data/pids"
expect 1 "a stack already runs with data dir $d/data: jetwire-order-sim (pid $fake)" \
	JETWIRE_MQTT_PORT="$mqtt" JETWIRE_WS_PORT="$port"
expect 0 "up: stopped" -- --stop
kill -0 "$fake" 2>/dev/null && fail "--stop left the recorded process running"
wait "$fake" 2>/dev/null
expect 0 "up: nothing runs with data dir $d/data" -- --stop
echo "PASS ($TEST_NAME)"
