#!/bin/sh
# Health check of the jetwire-bridge image: read the bridge's retained
# jetwire/bridge/stats from the broker (as an admin, with a token minted from
# the shared secret) and require it to be recent.  The bridge publishes it
# every stats_interval seconds while it is connected to the broker, so a
# fresh copy means: running, connected, its loop turning.
#
# Environment (the bridge's own settings, as compose.yaml passes them):
#   JETWIRE_BRIDGE_MQTT_HOST         broker            [127.0.0.1]
#   JETWIRE_BRIDGE_MQTT_PORT                           [1883]
#   JETWIRE_BRIDGE_JWT_SECRET_FILE   HS256 secret      [/run/secrets/jwt.secret]
#   JETWIRE_HEALTH_MAX_AGE           seconds the stats may be old [60]
set -eu

host="${JETWIRE_BRIDGE_MQTT_HOST:-127.0.0.1}"
port="${JETWIRE_BRIDGE_MQTT_PORT:-1883}"
secret="${JETWIRE_BRIDGE_JWT_SECRET_FILE:-/run/secrets/jwt.secret}"
max_age="${JETWIRE_HEALTH_MAX_AGE:-60}"

token="$(jetwire-token --secret-file "$secret" --sub healthcheck --role admin --ttl 60)"
stats="$(mosquitto_sub -h "$host" -p "$port" -V mqttv5 -i "admin-healthcheck-$$" -u jwt -P "$token" \
	-t jetwire/bridge/stats -C 1 -W 5)"
# {"timestamp": "2026-11-25T23:03:16.846Z", ...}
ts="$(printf '%s\n' "$stats" | sed -n 's/.*"timestamp" *: *"\([^"]*\)".*/\1/p')"
if [ -z "$ts" ]; then
	echo "no timestamp in jetwire/bridge/stats: $stats"
	exit 1
fi
age=$(( $(date +%s) - $(date -d "$ts" +%s) ))
if [ "$age" -gt "$max_age" ]; then
	echo "the bridge's stats are ${age}s old (more than ${max_age}s): not connected, or stopped"
	exit 1
fi
echo "bridge stats ${age}s old"
