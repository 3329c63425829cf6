#!/bin/sh
# Entrypoint of the jetwire-broker image: assemble the web root served by
# the WebSocket listener, check that the secret is there, then run the
# command (mosquitto by default).
#
# Environment (defaults: the image's paths, which mosquitto.conf names):
#   JETWIRE_WEB_ROOT         the web root served (http_dir)    [/run/jetwire/www]
#                            = the image's pages:
#   JETWIRE_WEB_SRC                                            [/usr/local/share/jetwire/web]
#                            + config.js from here when present (the demo's
#                            places, written by jetwire-demo-init):
#   JETWIRE_WEB_CONFIG_DIR                                     [/run/jetwire-web]
#   JETWIRE_JWT_SECRET_FILE  the secret                        [/run/secrets/jwt.secret]
set -eu

secret="${JETWIRE_JWT_SECRET_FILE:-/run/secrets/jwt.secret}"
if [ ! -s "$secret" ]; then
	echo "jetwire-broker: no JWT secret in $secret." >&2
	echo "jetwire-broker: with compose: export JWT_SECRET=\"\$(openssl rand -hex 32)\" before 'docker compose up';" >&2
	echo "jetwire-broker: otherwise mount a file there (at least 32 bytes, readable by uid 1883, not writable by others)." >&2
	exit 1
fi

src="${JETWIRE_WEB_SRC:-/usr/local/share/jetwire/web}"
www="${JETWIRE_WEB_ROOT:-/run/jetwire/www}"
config="${JETWIRE_WEB_CONFIG_DIR:-/run/jetwire-web}/config.js"
case "$www" in
	/?*) ;;
	*) echo "jetwire-broker: JETWIRE_WEB_ROOT must be an absolute directory other than /, not '$www'" >&2; exit 1 ;;
esac
rm -rf "$www"
mkdir -p "$www"
cp -R "$src/." "$www/"
if [ -f "$config" ]; then
	cp "$config" "$www/config.js"
fi

exec "$@"
