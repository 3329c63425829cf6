#!/usr/bin/env bash
# The web demo in a real browser (ctest: web/browser).
#
# Starts a throwaway stack with scripts/lib/stack.sh (PostgreSQL + schema +
# demo data, mosquitto + plugin serving the built web root on its WebSocket
# listener, the bridge; no simulators), mints the tokens, and runs
# test/web/browser_test.js (playwright-core driving Debian's chromium).
# The stack is stopped by PID on every exit path.
#
# Environment (ctest sets the first three):
#   JW_BUILD_DIR          build directory (jetwire_plugin.so, tools, web/)        [<repo>/build]
#   JW_WEB_NODE_MODULES   node_modules with playwright-core (npm ci at build time) [<build>/test/web/npm/node_modules]
#   JW_WEB_ARTIFACTS      where screenshots go                                     [<build>/test/web/artifacts]
#   CHROMIUM              the browser                                              [/usr/bin/chromium]
#
# Exit status: 0 passed; 77 skipped (no node or no chromium: the message
# says which); anything else failed (the stack's logs are kept and named).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${JW_BUILD_DIR:-$root/build}"
node_modules="${JW_WEB_NODE_MODULES:-$build/test/web/npm/node_modules}"
artifacts="${JW_WEB_ARTIFACTS:-$build/test/web/artifacts}"
chromium="${CHROMIUM:-/usr/bin/chromium}"

skip() { echo "web: SKIPPED: $*"; exit 77; }
die() { echo "web: FAILED: $*" >&2; exit 1; }

# ---- what the test needs: skip only for a missing browser or node ----
command -v node >/dev/null 2>&1 || skip "node is not installed (Debian: apt-get install nodejs; scripts/deps.sh installs it)"
[[ -x "$chromium" ]] || skip "$chromium is not installed (Debian: apt-get install chromium; scripts/deps.sh installs it)"
[[ -f "$build/web/mqtt.min.js" && -f "$build/web/customer.html" ]] \
	|| die "the web root $build/web is not built (the 'web' target needs npm at configure time: install npm, re-run cmake, build)"
[[ -f "$node_modules/playwright-core/package.json" ]] \
	|| die "playwright-core is not installed in $node_modules (the 'web_test_deps' target runs npm ci; install npm, re-run cmake, build)"
for tool in psql mosquitto_sub; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/deps.sh installs it)"
done
stack_lib="$root/scripts/lib/stack.sh"
[[ -f "$stack_lib" ]] || die "$stack_lib not found"

# ---- the stack ----
STACK_ROOT="$root"
STACK_BUILD_DIR="$build"
STACK_DIR="$(mktemp -d /tmp/jetwire-web-test.XXXXXX)"
# sanitizer builds: the ASan runtime preloaded into the (not instrumented) mosquitto
STACK_BROKER_PRELOAD="${STACK_BROKER_PRELOAD:-${JW_BROKER_PRELOAD:-}}"
export STACK_ROOT STACK_BUILD_DIR STACK_DIR STACK_BROKER_PRELOAD
# shellcheck source=SCRIPTDIR/../../scripts/lib/stack.sh
source "$stack_lib"

ok=0
finish() {
	local rc=$?
	trap - EXIT INT TERM
	stack_stop || true
	if [[ $ok == 1 ]]; then
		rm -rf "$STACK_DIR"
	else
		echo "web: the stack's logs are kept in $STACK_DIR" >&2
		for log in "$STACK_DIR"/*.log; do
			[[ -f "$log" ]] || continue
			echo "---- last lines of $log ----" >&2
			tail -n 15 "$log" >&2
		done
	fi
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$(date +%s)
stack_start_postgres
stack_load_schema --demo-data
stack_start_broker
stack_start_bridge
echo "web: stack up in $(( $(date +%s) - started )) s: $STACK_WEB_URL (MQTT $STACK_MQTT_PORT, runtime dir $STACK_DIR)"

token() { stack_token "$@" 900; }
# An expired token: jetwire-token with a negative lifetime (exp an hour ago,
# beyond the plugin's leeway), signed with the stack's secret.
expired="$("$STACK_BUILD_DIR/jetwire-token" --secret-file "$STACK_SECRET_FILE" --sub 1 --role customer --ttl -3600)"

mkdir -p "$artifacts"
rm -f "$artifacts"/*.png
WEB_URL="$STACK_WEB_URL" DATABASE_URL="$STACK_DATABASE_URL" MQTT_PORT="$STACK_MQTT_PORT" \
	TOKEN_CUSTOMER1="$(token 1 customer)" TOKEN_CUSTOMER2="$(token 2 customer)" \
	TOKEN_MERCHANT1="$(token 1 merchant)" TOKEN_DRIVER1="$(token 1 driver)" \
	TOKEN_ADMIN="$(token 1 admin)" TOKEN_EXPIRED="$expired" \
	ARTIFACTS="$artifacts" JW_WEB_NODE_MODULES="$node_modules" CHROMIUM="$chromium" \
	node "$here/browser_test.js"
ok=1
