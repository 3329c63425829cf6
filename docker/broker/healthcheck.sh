#!/bin/sh
# Health check of the jetwire-broker image: mint a short admin token with the
# broker's own secret and read the retained $SYS/broker/uptime over MQTT 5.
# Healthy = the broker accepts connections and the plugin accepts the token.
set -eu

secret="${JETWIRE_JWT_SECRET_FILE:-/run/secrets/jwt.secret}"
port="${JETWIRE_HEALTH_PORT:-1883}"
token="$(jetwire-token --secret-file "$secret" --sub healthcheck --role admin --ttl 60)"
# shellcheck disable=SC2016 # $SYS is a topic, not a variable
uptime="$(mosquitto_sub -h 127.0.0.1 -p "$port" -V mqttv5 -i "admin-healthcheck-$$" -u jwt -P "$token" \
	-t '$SYS/broker/uptime' -C 1 -W 5)"
echo "broker up: $uptime"
