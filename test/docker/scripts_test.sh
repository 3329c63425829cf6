#!/usr/bin/env bash
# The scripts the Docker images run, run here without Docker (no engine on
# our machines), against a real PostgreSQL, mosquitto and bridge, with the
# files `cmake --install` puts in the images (DESTDIR, prefix /usr/local) and
# the image paths mapped into a temporary directory:
#
#   docker/demo/init.sh        (jetwire-demo-init): schema, demo rows, config.js; twice (idempotent)
#   docker/broker/entrypoint.sh: web root assembled, refuses a missing secret
#   docker/broker/mosquitto.conf: mosquitto runs with it (as the user mosquitto,
#                              the secret owned by it, mode 0400, as compose hands it),
#                              serves the pages and the generated config.js
#   docker/broker/healthcheck.sh: healthy; unhealthy with a wrong secret
#   docker/bridge/healthcheck.sh: healthy once the bridge (started with compose.yaml's
#                              environment) publishes stats; unhealthy with stale stats
#   docker/demo/run.sh         (jetwire-demo-run): drivers' locations and order
#                              statuses reach MQTT; SIGTERM stops it with status 0
#
# Run by ctest (test/docker/CMakeLists.txt) with JW_SOURCE_DIR, JW_BUILD_DIR and
# JW_MOSQUITTO in the environment.
set -euo pipefail

die() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
skip() { echo "SKIP - $*"; }

for v in JW_SOURCE_DIR JW_BUILD_DIR JW_MOSQUITTO; do
	[[ -n "${!v:-}" ]] || die "$v is not set (run this test through ctest)"
done
src="$JW_SOURCE_DIR"
build="$JW_BUILD_DIR"
docker="$src/docker"
for tool in mosquitto_sub mosquitto_pub python3 psql; do
	command -v "$tool" >/dev/null || die "$tool not found (scripts/deps.sh installs it)"
done

tmp="$(mktemp -d /tmp/jetwire-docker-scripts-XXXXXX)"
chmod 755 "$tmp"
pids=()
STACK_DIR="$tmp/stack"
STACK_BUILD_DIR="$build"
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=scripts/lib/stack.sh
source "$src/scripts/lib/stack.sh"
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	stack_stop >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# ---- the images' files: cmake --install with DESTDIR, prefix /usr/local ----
root="$tmp/root"
DESTDIR="$root" cmake --install "$build" --prefix /usr/local >"$tmp/install.log" 2>&1 \
	|| { cat "$tmp/install.log"; die "cmake --install failed"; }
usr="$root/usr/local"
web_built=0
if [[ -f "$build/web/index.html" ]]; then
	mkdir -p "$usr/share/jetwire"
	cp -R "$build/web" "$usr/share/jetwire/web"
	web_built=1
else
	mkdir -p "$usr/share/jetwire/web"
	echo "<p>web not built</p>" >"$usr/share/jetwire/web/index.html"
	skip "the web root is not built ($build/web): the pages are stood in for"
fi
export PATH="$usr/bin:$PATH"
[[ "$(command -v jetwire-token)" == "$usr/bin/jetwire-token" ]] || die "PATH does not find the installed tools"
ok "installed the images' files under $root/usr/local"

# The user the broker image runs as: mosquitto (uid 1883 there); here the
# Debian user mosquitto when we are root, else ourselves.
as_broker=()
broker_user="$(id -un)"
if [[ $(id -u) -eq 0 ]]; then
	getent passwd mosquitto >/dev/null || die "running as root without a user mosquitto (Debian package mosquitto)"
	# setpriv execs (runuser would stay the parent and turn SIGTERM into 143)
	as_broker=(setpriv --reuid=mosquitto --regid=mosquitto --init-groups --)
	broker_user=mosquitto
fi

# The secret as compose hands it to the broker: owned by its user, mode 0400.
mkdir -p "$tmp/secrets"
secret="$tmp/secrets/jwt.secret"
python3 -c 'import secrets; print(secrets.token_hex(32), end="")' >"$secret"
chmod 400 "$secret"
[[ $(id -u) -eq 0 ]] && chown mosquitto: "$secret"
# The bridge and the demo get their own copy (uid 10001 in compose).
bridge_secret="$tmp/secrets/bridge-jwt.secret"
cp "$secret" "$bridge_secret"
chown "$(id -u):$(id -g)" "$bridge_secret"
chmod 400 "$bridge_secret"

# ---- PostgreSQL, and jetwire-demo-init ----
stack_start_postgres >"$tmp/postgres-start.log" 2>&1 || { cat "$tmp/postgres-start.log"; die "PostgreSQL did not start"; }
db="$STACK_DATABASE_URL"
ok "PostgreSQL at $db"

webconfig="$tmp/webconfig"
mkdir -p "$webconfig"
for run in 1 2; do
	out="$(DATABASE_URL="$db" JETWIRE_SHARE_DIR="$usr/share/jetwire" JETWIRE_WEB_CONFIG_DIR="$webconfig" \
		"$docker/demo/init.sh" 2>&1)" || die "demo/init.sh (run $run) failed: $out"
done
grep -q '"Clean Corner Laundry"' "$webconfig/config.js" || die "config.js lacks merchant 1: $(cat "$webconfig/config.js")"
grep -q '^window.JETWIRE = Object.assign({' "$webconfig/config.js" || die "config.js: unexpected shape"
[[ "$(psql "$db" -X -A -t -c "SELECT count(*) FROM jetwire.capture")" -ge 4 ]] || die "capture is not installed"
[[ "$(psql "$db" -X -A -t -c "SELECT count(*) FROM drivers")" -ge 10 ]] || die "the demo drivers are missing"
ok "demo/init.sh (twice): migrations, demo tables, capture, rows; config.js with the demo's places"

# ---- the broker: entrypoint + the image's mosquitto.conf ----
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
mqtt_port="$(free_port)"
ws_port="$(free_port)"
while [[ "$ws_port" == "$mqtt_port" ]]; do ws_port="$(free_port)"; done
mkdir -p "$tmp/mosquitto" "$tmp/run-jetwire"
[[ $(id -u) -eq 0 ]] && chown mosquitto: "$tmp/mosquitto" "$tmp/run-jetwire"
conf="$tmp/mosquitto.conf"
sed -e "s|^listener 1883\$|listener $mqtt_port 127.0.0.1|" \
	-e "s|^listener 8080\$|listener $ws_port 127.0.0.1|" \
	-e "s|/usr/local/|$usr/|g" \
	-e "s|^persistence_location .*|persistence_location $tmp/mosquitto/|" \
	-e "s|^http_dir /run/jetwire/www\$|http_dir $tmp/run-jetwire/www|" \
	-e "s|^plugin_opt_jwt_secret_file /run/secrets/jwt.secret\$|plugin_opt_jwt_secret_file $secret|" \
	"$docker/broker/mosquitto.conf" >"$conf"
for l in "listener $mqtt_port 127.0.0.1" "listener $ws_port 127.0.0.1" "http_dir $tmp/run-jetwire/www" \
		"plugin_opt_jwt_secret_file $secret" "plugin $usr/lib/jetwire/jetwire_plugin.so"; do
	grep -qx "$l" "$conf" || die "docker/broker/mosquitto.conf has no line to map to '$l'"
done
entry_env=(JETWIRE_JWT_SECRET_FILE="$secret" JETWIRE_WEB_SRC="$usr/share/jetwire/web"
	JETWIRE_WEB_ROOT="$tmp/run-jetwire/www" JETWIRE_WEB_CONFIG_DIR="$webconfig")
broker_cmd=("$JW_MOSQUITTO" -c "$conf")
if [[ -n "${JW_BROKER_PRELOAD:-}" ]]; then
	# ASan build: mosquitto itself is not instrumented
	broker_cmd=(env LD_PRELOAD="$JW_BROKER_PRELOAD" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "${broker_cmd[@]}")
fi

set +e
out="$(env "${entry_env[@]}" JETWIRE_JWT_SECRET_FILE="$tmp/secrets/none" "$docker/broker/entrypoint.sh" true 2>&1)"
rc=$?
set -e
if [[ $rc -eq 0 ]] || ! grep -q "export JWT_SECRET=" <<<"$out"; then
	die "entrypoint without a secret: status $rc, $out"
fi
ok "broker/entrypoint.sh refuses to start without a secret: $(head -n 1 <<<"$out")"

${as_broker[@]+"${as_broker[@]}"} env "${entry_env[@]}" "$docker/broker/entrypoint.sh" \
	"${broker_cmd[@]}" >"$tmp/broker.log" 2>&1 &
pids+=($!)
broker_pid=$!
for _ in $(seq 200); do
	kill -0 "$broker_pid" 2>/dev/null || { cat "$tmp/broker.log"; die "the broker exited at start"; }
	port_open "$mqtt_port" && port_open "$ws_port" && break
	sleep 0.05
done
if ! port_open "$mqtt_port" || ! port_open "$ws_port"; then
	cat "$tmp/broker.log"
	die "the broker did not open $mqtt_port and $ws_port in 10 s"
fi
cmp -s "$webconfig/config.js" "$tmp/run-jetwire/www/config.js" || die "the entrypoint did not install config.js"
got="$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode(), end="")' \
	"http://127.0.0.1:$ws_port/config.js")" || die "GET /config.js from the WebSocket listener failed"
[[ "$got" == "$(cat "$webconfig/config.js")" ]] || die "the WebSocket listener serves another config.js"
if [[ $web_built == 1 ]]; then
	python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10).read()' \
		"http://127.0.0.1:$ws_port/customer.html" || die "GET /customer.html failed"
fi
ok "mosquitto (as $broker_user) runs with docker/broker/mosquitto.conf via the entrypoint; serves the pages and config.js"

# ---- broker health check ----
health_ok=0
for _ in 1 2 3 4 5; do
	if out="$(${as_broker[@]+"${as_broker[@]}"} env JETWIRE_JWT_SECRET_FILE="$secret" JETWIRE_HEALTH_PORT="$mqtt_port" \
			PATH="$PATH" "$docker/broker/healthcheck.sh" 2>&1)"; then
		health_ok=1
		break
	fi
done
[[ $health_ok == 1 ]] || { cat "$tmp/broker.log"; die "broker/healthcheck.sh: unhealthy 5 times: $out"; }
ok "broker/healthcheck.sh: $out"
wrong="$tmp/secrets/wrong.secret"
python3 -c 'import secrets; print(secrets.token_hex(32), end="")' >"$wrong"
chmod 444 "$wrong"
set +e
out="$(env JETWIRE_JWT_SECRET_FILE="$wrong" JETWIRE_HEALTH_PORT="$mqtt_port" "$docker/broker/healthcheck.sh" 2>&1)"
rc=$?
set -e
[[ $rc -ne 0 ]] || die "broker/healthcheck.sh is healthy with a wrong secret"
ok "broker/healthcheck.sh with a wrong secret: unhealthy ($out)"

# ---- the bridge with compose.yaml's environment, and its health check ----
bridge_env=(JETWIRE_BRIDGE_DATABASE="$db" JETWIRE_BRIDGE_MIGRATE=true JETWIRE_BRIDGE_MQTT_HOST=127.0.0.1
	JETWIRE_BRIDGE_MQTT_PORT="$mqtt_port" JETWIRE_BRIDGE_JWT_SECRET_FILE="$bridge_secret"
	JETWIRE_BRIDGE_STATS_INTERVAL=5)
env -u JWT_SECRET "${bridge_env[@]}" "$usr/bin/jetwire-bridge" >"$tmp/bridge.log" 2>&1 &
pids+=($!)
bridge_pid=$!
for _ in $(seq 600); do
	kill -0 "$bridge_pid" 2>/dev/null || { cat "$tmp/bridge.log"; die "the bridge exited"; }
	grep -q "resync complete" "$tmp/bridge.log" && break
	sleep 0.1
done
grep -q "resync complete" "$tmp/bridge.log" || { cat "$tmp/bridge.log"; die "the bridge did not complete its resync in 60 s"; }
health_ok=0
for _ in 1 2 3 4 5; do
	if out="$(env "${bridge_env[@]}" "$docker/bridge/healthcheck.sh" 2>&1)"; then
		health_ok=1
		break
	fi
done
[[ $health_ok == 1 ]] || { cat "$tmp/bridge.log"; die "bridge/healthcheck.sh: unhealthy 5 times: $out"; }
ok "the bridge runs with compose.yaml's environment; bridge/healthcheck.sh: $out"

# ---- the demo: simulated drivers and orders through the bridge ----
m=(-h 127.0.0.1 -p "$mqtt_port" -V mqttv5 -u jwt)
admin() { jetwire-token --secret-file "$bridge_secret" --ttl 300 --sub "$1" --role admin; }
mosquitto_sub "${m[@]}" -i admin-locations -P "$(admin 1)" -t 'driver/+/location' -C 1 -W 60 -v \
	>"$tmp/location.out" 2>&1 &
loc_pid=$!
pids+=("$loc_pid")
mosquitto_sub "${m[@]}" -i admin-orders -P "$(admin 1)" -t 'order/+/status' -C 1 -W 120 -v \
	>"$tmp/status.out" 2>&1 &
status_pid=$!
pids+=("$status_pid")
# Both are retained (locations with an expiry): a subscription that reaches
# the broker after the first publish still gets the latest one.
env DATABASE_URL="$db" JETWIRE_MQTT_HOST=127.0.0.1 JETWIRE_MQTT_PORT="$mqtt_port" \
	JETWIRE_JWT_SECRET_FILE="$bridge_secret" JETWIRE_DEMO_URL="http://localhost:$ws_port" \
	JETWIRE_DEMO_DRIVERS=3 JETWIRE_ORDER_SIM_ARGS="--interval 1 --step 1" \
	"$docker/demo/run.sh" >"$tmp/demo.log" 2>&1 &
pids+=($!)
demo_pid=$!
wait "$loc_pid" || { cat "$tmp/demo.log"; die "no driver location from the demo: $(cat "$tmp/location.out")"; }
ok "demo/run.sh: a simulated driver's location: $(head -c 120 "$tmp/location.out")"
wait "$status_pid" || { cat "$tmp/demo.log" "$tmp/bridge.log"; die "no order status from the demo: $(cat "$tmp/status.out")"; }
ok "demo/run.sh: a simulated order's status, published by the bridge: $(head -c 160 "$tmp/status.out")"
grep -q "customer 1   http://localhost:$ws_port/customer.html#token=ey" "$tmp/demo.log" \
	|| die "demo/run.sh printed no link for customer 1: $(head -n 8 "$tmp/demo.log")"
kill -TERM "$demo_pid"
set +e
wait "$demo_pid"
rc=$?
set -e
[[ $rc -eq 0 ]] || { cat "$tmp/demo.log"; die "demo/run.sh exited with $rc on SIGTERM"; }
grep -q "jetwire-demo-run: stopped (status 0)" "$tmp/demo.log" || die "demo/run.sh: no 'stopped' line"
ok "demo/run.sh printed the page links and stopped with status 0 on SIGTERM"

# ---- the bridge's health check on stale or malformed stats ----
kill -TERM "$bridge_pid"
wait "$bridge_pid" || die "the bridge exited with $? on SIGTERM"
service="$(jetwire-token --secret-file "$bridge_secret" --ttl 300 --sub bridge --role service)"
mosquitto_pub "${m[@]}" -i service-stale -P "$service" -q 1 -r -t jetwire/bridge/stats \
	-m '{"timestamp": "2020-01-01T00:00:00.000Z", "uptimeSeconds": 1}'
set +e
out="$(env "${bridge_env[@]}" "$docker/bridge/healthcheck.sh" 2>&1)"
rc=$?
set -e
if [[ $rc -eq 0 ]] || ! grep -q "s old" <<<"$out"; then
	die "bridge/healthcheck.sh on stale stats: status $rc: $out"
fi
ok "bridge/healthcheck.sh on stale stats: unhealthy ($out)"
mosquitto_pub "${m[@]}" -i service-stale -P "$service" -q 1 -r -t jetwire/bridge/stats -m '{"uptimeSeconds": 1}'
set +e
out="$(env "${bridge_env[@]}" "$docker/bridge/healthcheck.sh" 2>&1)"
rc=$?
set -e
if [[ $rc -eq 0 ]] || ! grep -q "no timestamp" <<<"$out"; then
	die "bridge/healthcheck.sh on stats without a timestamp: status $rc: $out"
fi
ok "bridge/healthcheck.sh on stats without a timestamp: unhealthy ($out)"

kill -TERM "$broker_pid"
wait "$broker_pid" || die "mosquitto exited with $? on SIGTERM"
echo "all docker script checks passed"
