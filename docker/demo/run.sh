#!/usr/bin/env bash
# jetwire-demo-run: the demo's traffic, as the compose service demo runs it
# (docs/docker.md): simulated drivers (jetwire-driver-sim, docs/driver-sim.md)
# publishing their locations around merchant 1, and simulated orders
# (jetwire-order-sim) moving through their statuses in PostgreSQL.  Prints
# links to the web pages with tokens for customer 1, merchant 1, driver 1
# (yours to drive: the simulated drivers are 2..10) and an admin.
#
# Environment:
#   DATABASE_URL                 the demo database (required)
#   JETWIRE_MQTT_HOST            broker host                       [broker]
#   JETWIRE_MQTT_PORT            broker port                       [1883]
#   JETWIRE_JWT_SECRET_FILE      HS256 secret                      [/run/secrets/jwt.secret]
#   JETWIRE_DEMO_URL             where a browser reaches the broker's WebSocket
#                                port (the pages)                  [http://localhost:8080]
#   JETWIRE_DEMO_DRIVERS         simulated drivers                 [9]
#   JETWIRE_DEMO_FIRST_DRIVER    id of the first one               [2]
#   JETWIRE_DEMO_CENTER          LAT,LNG the drivers move around   [52.52,13.405]
#   JETWIRE_TOKEN_TTL            lifetime of the printed tokens, s [86400]
#   JETWIRE_ORDER_SIM_ARGS       more jetwire-order-sim options (docs/order-sim.md), e.g. "--step 4"
#
# Stops both on SIGTERM; exits when either exits (with its status).
set -euo pipefail

: "${DATABASE_URL:?jetwire-demo-run: DATABASE_URL is not set}"
host="${JETWIRE_MQTT_HOST:-broker}"
port="${JETWIRE_MQTT_PORT:-1883}"
secret="${JETWIRE_JWT_SECRET_FILE:-/run/secrets/jwt.secret}"
url="${JETWIRE_DEMO_URL:-http://localhost:8080}"
drivers="${JETWIRE_DEMO_DRIVERS:-9}"
first="${JETWIRE_DEMO_FIRST_DRIVER:-2}"
center="${JETWIRE_DEMO_CENTER:-52.52,13.405}"
ttl="${JETWIRE_TOKEN_TTL:-86400}"
read -r -a order_args <<<"${JETWIRE_ORDER_SIM_ARGS:-}"

token() { jetwire-token --secret-file "$secret" --ttl "$ttl" --sub "$1" --role "$2"; }
echo "================================================================================"
echo "jetwire demo: open these in a browser (tokens valid ${ttl}s)"
echo "  customer 1   $url/customer.html#token=$(token 1 customer)"
echo "  merchant 1   $url/merchant.html#token=$(token 1 merchant)"
echo "  driver 1     $url/driver.html#token=$(token 1 driver)"
echo "  operations   $url/ops.html#token=$(token 1 admin)"
echo "================================================================================"

pids=()
stopping=0
stop() {
	stopping=1
	if [[ ${#pids[@]} -gt 0 ]]; then
		kill -TERM "${pids[@]}" 2>/dev/null || true
	fi
}
trap stop TERM INT

jetwire-driver-sim --host "$host" --port "$port" --secret-file "$secret" \
	--drivers "$drivers" --first-id "$first" --mode seed --center "$center" --radius-km 3 --report 60 &
pids+=($!)
jetwire-order-sim --database "$DATABASE_URL" ${order_args[@]+"${order_args[@]}"} &
pids+=($!)

set +e
wait -n "${pids[@]}"
rc=$?
stop
wait "${pids[@]}"
set -e
if [[ $stopping -eq 1 && $rc -ge 128 ]]; then
	rc=0
fi
echo "jetwire-demo-run: stopped (status $rc)"
exit "$rc"
