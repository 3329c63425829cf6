#!/usr/bin/env bash
# Bring up the whole jetwire stack locally, in the foreground: a throwaway
# PostgreSQL with the schema and demo data, mosquitto with the jetwire plugin
# (MQTT on TCP and WebSocket; the WebSocket port also serves the web demo),
# the bridge, simulated drivers and simulated orders.  Prints the pages, the
# tokens and examples; Ctrl-C stops everything.
#
#   sudo scripts/up.sh              the demo
#   sudo scripts/up.sh --no-demo    PostgreSQL (jetwire's schema only), broker, bridge:
#                                   for integration with a real API
#   sudo scripts/up.sh --stop       stop a stack whose up.sh was killed (same environment)
#   sudo JETWIRE_MQTT_PORT=1884 JETWIRE_WS_PORT=8081 scripts/up.sh   # a second stack
#
# Environment (defaults in brackets):
#   JETWIRE_MQTT_PORT       MQTT over TCP port                            [1883]
#   JETWIRE_WS_PORT         MQTT over WebSocket + the web pages           [8080]
#   JETWIRE_PG_PORT         PostgreSQL port (127.0.0.1)                   [a free port]
#   JETWIRE_BIND            address the broker's listeners bind to        [127.0.0.1]
#   JETWIRE_DATA_DIR        runtime directory                             [.jetwire/<MQTT port>]
#   JETWIRE_ACL_FILE        ACL file the plugin enforces                  [acl/default.acl]
#   JETWIRE_TOKEN_TTL       lifetime of the printed tokens, seconds       [86400]
#   JWT_SECRET              HS256 secret (>= 32 bytes)                    [generated once, kept in the data dir]
#   JETWIRE_DRIVERS         simulated drivers (ids 2..N+1; 0 = none)      [9]
#   JETWIRE_ORDER_INTERVAL  seconds between new orders                    [20]
#   JETWIRE_ORDER_STEP      seconds between two statuses of an order      [8]
#   JETWIRE_ORDER_MAX_ACTIVE  active orders at most                       [5]
#   JETWIRE_BUILD_DIR       build directory                               [build]
#   JETWIRE_NO_BUILD=1      skip scripts/deps.sh and the build (use what JETWIRE_BUILD_DIR holds)
#
# The last line of a successful start is "up: ready".  Exit status: 130
# after Ctrl-C (SIGINT), 143 after SIGTERM, 129 after SIGHUP (terminal
# closed), 1 if the start failed or a service died, 2 for a bad argument or
# variable.  The pieces are started by scripts/lib/stack.sh; docs/quickstart.md
# explains all of it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=SCRIPTDIR/lib/stack.sh
source "$root/scripts/lib/stack.sh"

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}
die() {
	echo "up: $*" >&2
	exit 1
}
bad() {
	echo "up: $*" >&2
	exit 2
}

mode=demo
for arg in "$@"; do
	case "$arg" in
		--no-demo) mode=core ;;
		--stop) mode=stop ;;
		-h | --help) usage; exit 0 ;;
		*) bad "unknown argument '$arg' (scripts/up.sh --help)" ;;
	esac
done

# ---- environment ----
# port NAME DEFAULT: a TCP port from variable NAME (empty DEFAULT: may stay empty)
port() {
	local v="${!1:-$2}"
	[[ -z "$v" ]] && { echo ""; return 0; }
	if ! [[ "$v" =~ ^[0-9]{1,5}$ ]] || ((10#$v < 1 || 10#$v > 65535)); then
		bad "$1: '$v' is not a TCP port (1..65535)"
	fi
	echo "$((10#$v))"
}
# int NAME DEFAULT MIN MAX
int() {
	local v="${!1:-$2}"
	if ! [[ "$v" =~ ^[0-9]{1,10}$ ]] || ((10#$v < $3 || 10#$v > $4)); then
		bad "$1: '$v' is not an integer $3..$4"
	fi
	echo "$((10#$v))"
}
# seconds NAME DEFAULT: a positive decimal number of seconds (0.05 .. 86400)
seconds() {
	local v="${!1:-$2}"
	if ! [[ "$v" =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! awk -v s="$v" 'BEGIN { exit !(s >= 0.05 && s <= 86400) }'; then
		bad "$1: '$v' is not a number of seconds (0.05..86400, e.g. 8 or 0.5)"
	fi
	echo "$v"
}

mqtt_port="$(port JETWIRE_MQTT_PORT 1883)"
ws_port="$(port JETWIRE_WS_PORT 8080)"
pg_port="$(port JETWIRE_PG_PORT "")"
bind="${JETWIRE_BIND:-127.0.0.1}"
[[ "$bind" =~ ^[0-9A-Fa-f.:]+$ ]] || bad "JETWIRE_BIND: '$bind' is not an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1)"
data_dir="${JETWIRE_DATA_DIR:-$root/.jetwire/$mqtt_port}"
acl_file="${JETWIRE_ACL_FILE:-$root/acl/default.acl}"
token_ttl="$(int JETWIRE_TOKEN_TTL 86400 60 315360000)"
drivers="$(int JETWIRE_DRIVERS 9 0 10000)"
order_interval="$(seconds JETWIRE_ORDER_INTERVAL 20)"
order_step="$(seconds JETWIRE_ORDER_STEP 8)"
order_max_active="$(int JETWIRE_ORDER_MAX_ACTIVE 5 0 10000)"
build_dir="${JETWIRE_BUILD_DIR:-build}"
[[ "$build_dir" == /* ]] || build_dir="$root/$build_dir"
no_build="${JETWIRE_NO_BUILD:-0}"
[[ "$no_build" == 0 || "$no_build" == 1 ]] || bad "JETWIRE_NO_BUILD: '$no_build' is not 0 or 1"
[[ "$mqtt_port" != "$ws_port" ]] || bad "JETWIRE_MQTT_PORT and JETWIRE_WS_PORT are both $mqtt_port"
[[ -z "$pg_port" || ( "$pg_port" != "$mqtt_port" && "$pg_port" != "$ws_port" ) ]] \
	|| bad "JETWIRE_PG_PORT $pg_port is also the MQTT or WebSocket port"
[[ -f "$acl_file" ]] || bad "JETWIRE_ACL_FILE: $acl_file not found"
acl_file="$(realpath "$acl_file")"
if [[ -n "${JWT_SECRET:-}" ]] && ((${#JWT_SECRET} < 32)); then
	bad "JWT_SECRET is ${#JWT_SECRET} bytes; HS256 needs at least 32 (or unset it to use a generated secret)"
fi

mkdir -p "$data_dir" || die "cannot create the data directory $data_dir"
data_dir="$(cd "$data_dir" && pwd)"
STACK_DIR="$data_dir"
STACK_BUILD_DIR="$build_dir"
STACK_BIND="$bind"
STACK_ACL_FILE="$acl_file"
STACK_TOKEN_TTL="$token_ttl"
STACK_MQTT_PORT="$mqtt_port"
STACK_WS_PORT="$ws_port"
STACK_PG_PORT="$pg_port"

# ---- --stop ----
running="$(stack_pids | awk '{ printf "%s%s (pid %s)", sep, $1, $2; sep = ", " }')"
if [[ "$mode" == stop ]]; then
	if [[ -z "$running" ]]; then
		echo "up: nothing runs with data dir $data_dir"
		exit 0
	fi
	echo "up: stopping $running"
	STACK_VERBOSE=1 stack_stop || die "some processes could not be stopped (see above)"
	echo "up: stopped"
	exit 0
fi
[[ -z "$running" ]] || die "a stack already runs with data dir $data_dir: $running.
    Stop it with Ctrl-C where it runs, or: JETWIRE_DATA_DIR=$data_dir $0 --stop"

ports=("$mqtt_port" "$ws_port")
[[ -n "$pg_port" ]] && ports+=("$pg_port")
for p in "${ports[@]}"; do
	if _stack_port_listening "$p"; then
		die "port $p is already in use (another broker or stack? the Debian mosquitto service: systemctl stop mosquitto).
    Pick other ports, e.g.: JETWIRE_MQTT_PORT=1884 JETWIRE_WS_PORT=8081 $0"
	fi
done

# ---- stop everything on exit, Ctrl-C, SIGTERM, SIGHUP ----
# A closed stdout (up.sh | head) must not kill the script before it has
# stopped what it started: SIGPIPE is caught (children still get the default).
trap ':' PIPE
cleaned=0
cleanup() {
	((cleaned)) && return 0
	cleaned=1
	set +e
	local left
	left="$(stack_pids | tac | awk '{ printf "%s%s", sep, $1; sep = ", " }')"
	if [[ -n "$left" ]]; then
		echo "up: stopping $left"
		if STACK_VERBOSE=0 stack_stop && [[ -z "$(stack_pids)" ]]; then
			echo "up: stopped; nothing left running"
		else
			echo "up: could not stop everything: $(stack_pids | tr '\n' ' ')" >&2
		fi
	fi
}
on_signal() {
	trap - INT TERM HUP
	echo
	cleanup
	exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP
trap cleanup EXIT

# ---- dependencies and build ----
if [[ "$no_build" == 1 ]]; then
	echo "up: JETWIRE_NO_BUILD=1: using the programs in $build_dir as they are"
else
	"$root/scripts/deps.sh" || die "installing the dependencies failed (scripts/deps.sh)"
	targets=(jetwire_plugin jetwire-token jetwire-acl jetwire-bridge jetwire-migrate jetwire-driver-sim
		jetwire-order-sim)
	printf 'up: building %s (log: %s) ... ' "$build_dir" "$data_dir/build.log"
	t0=$SECONDS
	# The web demo (web/web.cmake defines a target `web` that assembles the
	# pages and mqtt.js in $build_dir/web/): built when the target exists;
	# without it the broker serves web/ as it is.
	if ! { cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
			&& build_targets="$(cmake --build "$build_dir" --target help)" \
			&& { ! grep -Eq '^(\.\.\. )?web(:| |$)' <<<"$build_targets" || targets+=(web); } \
			&& cmake --build "$build_dir" --parallel "$(nproc)" --target "${targets[@]}"; } \
			>"$data_dir/build.log" 2>&1; then
		echo "FAILED"
		tail -n 40 "$data_dir/build.log" >&2
		die "the build failed; full log: $data_dir/build.log"
	fi
	echo "ok ($((SECONDS - t0)) s)"
fi
needed=(jetwire_plugin.so jetwire-token jetwire-bridge jetwire-migrate)
[[ "$mode" == demo ]] && needed+=(jetwire-driver-sim jetwire-order-sim)
for b in "${needed[@]}"; do
	_stack_bin "$b" >/dev/null 2>&1 \
		|| die "$b is not in $build_dir$([[ "$no_build" == 1 ]] && echo " (JETWIRE_NO_BUILD=1: build it first, or unset JETWIRE_NO_BUILD)")"
done

# ---- the services, one step at a time ----
step_no=0
steps=7
[[ "$mode" == core ]] && steps=4
# step LABEL COMMAND...: "up: [n/N] LABEL ... " then the command; on failure
# "FAILED" and its messages, and exit (the EXIT trap stops what runs).
step() {
	local label="$1"
	shift
	step_no=$((step_no + 1))
	printf 'up: [%d/%d] %s ... ' "$step_no" "$steps" "$label"
	step_t0=$SECONDS
	if "$@" 2>"$data_dir/step.err"; then
		return 0
	fi
	echo "FAILED"
	sed 's/^/    /' "$data_dir/step.err" >&2
	exit 1
}
# ok DETAIL: end the step's line.
ok() {
	echo "ok ($*, $((SECONDS - step_t0)) s)"
	[[ -s "$data_dir/step.err" ]] && sed 's/^/    /' "$data_dir/step.err"
	return 0
}

step "PostgreSQL" stack_start_postgres
ok "pid $STACK_PG_PID, 127.0.0.1:$STACK_PG_PORT"
if [[ "$mode" == demo ]]; then
	step "schema and demo data" stack_load_schema --demo-data
	ok "jetwire's migrations, demo tables with capture, 3 customers, 2 merchants, 10 drivers"
else
	step "schema" stack_load_schema --migrations-only
	ok "jetwire's migrations; attach capture to your tables: docs/capture.md"
fi
step "broker" stack_start_broker
ok "pid $STACK_BROKER_PID, as $STACK_BROKER_USER, MQTT :$STACK_MQTT_PORT, WebSocket and pages :$STACK_WS_PORT"
step "bridge" stack_start_bridge
ok "pid $STACK_BRIDGE_PID, first resync done"

if [[ "$mode" == demo ]]; then
	if ((drivers > 0)); then
		step "driver simulator" stack_start_driver_sim "$drivers" 2
		ok "pid $STACK_DRIVER_SIM_PID, drivers 2..$((drivers + 1)); driver 1 is yours (driver page)"
	else
		step "driver simulator" true
		ok "none: JETWIRE_DRIVERS=0"
	fi
	step "order simulator" stack_start_order_sim --interval "$order_interval" --step "$order_step" \
		--max-active "$order_max_active"
	ok "pid $STACK_ORDER_SIM_PID, a new order every ${order_interval} s, a step every ${order_step} s"

	# Live data: the drivers' first positions and the first order went
	# through the broker and the bridge into PostgreSQL.
	live() {
		local i n=0 first=""
		for ((i = 0; i < 300; i++)); do
			n="$(_stack_psql -c "SELECT count(*) FROM jetwire.driver_position WHERE lat IS NOT NULL")"
			first="$(_stack_psql -c "SELECT order_number FROM orders ORDER BY id LIMIT 1")"
			((n >= drivers)) && [[ -n "$first" || "$order_max_active" == 0 ]] && break
			sleep 0.1
		done
		live_detail="$n driver positions stored"
		[[ -n "$first" ]] && live_detail+=", first order $first"
		((n >= drivers)) || echo "warning: only $n of $drivers drivers have a position yet (see $data_dir/jetwire-driver-sim.log)" >&2
		return 0
	}
	step "live data" live
	ok "$live_detail"
fi

# ---- tokens and the banner ----
host="$(_stack_host)"
tokens="$data_dir/tokens.env"
(
	umask 077
	{
		echo "# Tokens for the jetwire stack in $data_dir (valid ${token_ttl}s from $(date -u +%FT%TZ))."
		echo "# Client id must be {role}-{sub} (e.g. customer-1); the token is the MQTT password."
		if [[ "$mode" == demo ]]; then
			echo "export CUSTOMER_TOKEN='$(stack_token 1 customer)'"
			echo "export MERCHANT_TOKEN='$(stack_token 1 merchant)'"
			echo "export DRIVER_TOKEN='$(stack_token 1 driver)'"
		fi
		echo "export ADMIN_TOKEN='$(stack_token 1 admin)'"
		echo "export SERVICE_TOKEN='$(stack_token ops service)'"
		echo "export DATABASE_URL='$STACK_DATABASE_URL'"
	} >"$tokens"
) || die "minting the tokens failed"
# shellcheck disable=SC1090
source "$tokens"
cat >"$data_dir/stack.env" <<EOF
# The running stack (scripts/up.sh), for scripts: source it.
export STACK_DIR='$data_dir'
export STACK_MQTT_HOST='$host'
export STACK_MQTT_PORT='$STACK_MQTT_PORT'
export STACK_WS_PORT='$STACK_WS_PORT'
export STACK_PG_PORT='$STACK_PG_PORT'
export STACK_DATABASE_URL='$STACK_DATABASE_URL'
export STACK_WEB_URL='$STACK_WEB_URL'
export STACK_SECRET_FILE='$STACK_SECRET_FILE'
EOF

m="-h $host -p $STACK_MQTT_PORT -V mqttv5 -u jwt"
line="================================================================================"
if [[ "$mode" == demo ]]; then
	cat <<EOF

$line
jetwire is up: the demo (data dir $data_dir)

Open the pages (served by the broker's WebSocket listener; each carries its token):
  overview   ${STACK_WEB_URL}index.html
  customer   ${STACK_WEB_URL}customer.html#token=$CUSTOMER_TOKEN
  merchant   ${STACK_WEB_URL}merchant.html#token=$MERCHANT_TOKEN
  driver     ${STACK_WEB_URL}driver.html#token=$DRIVER_TOKEN
  ops        ${STACK_WEB_URL}ops.html#token=$ADMIN_TOKEN
  (customer 1 Ada, merchant 1 Clean Corner Laundry, driver 1 Dana -- the simulators drive 2..$((drivers + 1)) -- and an admin)

Services (logs in $data_dir/*.log):
  MQTT/TCP        $host:$STACK_MQTT_PORT
  MQTT/WebSocket  ws://$host:$STACK_WS_PORT/
  PostgreSQL      psql '$STACK_DATABASE_URL'
  broker pid $STACK_BROKER_PID (as $STACK_BROKER_USER), bridge pid $STACK_BRIDGE_PID, order simulator pid $STACK_ORDER_SIM_PID
  ACL             $acl_file  (edits apply within 2 s)

Tokens (valid ${token_ttl}s; client id {role}-{sub}; password = token): source $tokens
  CUSTOMER_TOKEN (customer 1), MERCHANT_TOKEN (merchant 1), DRIVER_TOKEN (driver 1),
  ADMIN_TOKEN (admin 1), SERVICE_TOKEN (service "ops"; the bridge is service "bridge")

Try it, each in its own terminal, after: source $tokens
  # customer 1 follows its orders, its driver and its notifications
  mosquitto_sub $m -i customer-1 -P "\$CUSTOMER_TOKEN" -t 'order/+/#' -t 'driver/+/location' -t 'customer/1/notifications' -v
  # an admin watches every driver move
  mosquitto_sub $m -i admin-1 -P "\$ADMIN_TOKEN" -t 'driver/+/location' -v
  # driver 1 is you: publish a position near the laundry, then watch for offers
  mosquitto_pub $m -i driver-1 -P "\$DRIVER_TOKEN" -q 1 -r -t driver/1/location -m "{\"lat\":52.521,\"lng\":13.406,\"ts\":\$(date +%s%3N)}"
  mosquitto_sub $m -i driver-1 -P "\$DRIVER_TOKEN" -t 'driver/1/offers' -v
  # the database is the platform's: change an order, and its parties see it at once
  psql "\$DATABASE_URL" -c "SELECT id, order_number, status, customer_id, pickup_driver_id FROM orders ORDER BY id DESC LIMIT 5"
  psql "\$DATABASE_URL" -c "UPDATE orders SET status = 'CANCELLED' WHERE id = (SELECT max(id) FROM orders)"

Ctrl-C stops everything.
$line
up: ready
EOF
else
	cat <<EOF

$line
jetwire is up: PostgreSQL, broker and bridge, no demo (data dir $data_dir)

  DATABASE_URL    $STACK_DATABASE_URL
  MQTT/TCP        $host:$STACK_MQTT_PORT
  MQTT/WebSocket  ws://$host:$STACK_WS_PORT/
  broker pid $STACK_BROKER_PID (as $STACK_BROKER_USER), bridge pid $STACK_BRIDGE_PID; logs in $data_dir/*.log
  JWT secret      $STACK_SECRET_FILE  (sign your API's tokens with it, or start with JWT_SECRET=<your API's secret>)

The database holds jetwire's schema only.  Create your tables in it (or point
your API at it), then attach capture to them with a column mapping
(docs/capture.md), e.g.:
  psql "\$DATABASE_URL" -c "SELECT jetwire.install_capture('public.orders', 'order', '{\"id\": \"id\", \"orderNumber\": \"order_number\", \"status\": \"status\", \"customerId\": \"customer_id\", \"merchantId\": \"merchant_id\"}')"
The bridge publishes every committed change from then on.

Tokens (valid ${token_ttl}s; client id {role}-{sub}; password = token): source $tokens
  ADMIN_TOKEN=$ADMIN_TOKEN
  SERVICE_TOKEN=$SERVICE_TOKEN
  # watch everything the bridge publishes
  mosquitto_sub $m -i admin-1 -P "\$ADMIN_TOKEN" -t 'order/#' -t 'jetwire/bridge/#' -v

Ctrl-C stops everything.
$line
up: ready
EOF
fi

# ---- run until Ctrl-C, or until a service dies ----
pids=()
while read -r _ pid; do pids+=("$pid"); done < <(stack_pids)
while :; do
	exited=""
	set +e
	wait -n -p exited "${pids[@]}"
	rc=$?
	set -e
	[[ -n "$exited" ]] || continue
	name="$(awk -v p="$exited" '$2 == p { print $1 }' "$data_dir/pids")"
	echo "up: ${name:-a service} (pid $exited) exited with status $rc; stopping the stack (its log: $data_dir/${name:-}.log)" >&2
	tail -n 5 "$data_dir/${name:-none}.log" 2>/dev/null | sed 's/^/    /' >&2
	exit 1
done
