#!/usr/bin/env bash
# Install the Debian 12 packages jetwire needs to build, test and run.
#
#   scripts/deps.sh           install whatever is missing (as root)
#   scripts/deps.sh --list    print the package list and exit
#
# Runs `apt-get update` once and installs only the missing packages,
# non-interactively.  Not root and something missing: fails with the list,
# so you can install it yourself.  Nothing installed and up to date: does
# nothing (no network).
set -euo pipefail

# The one list of packages.  Each line says who needs it.
PACKAGES=(
	build-essential      # gcc, make, libc headers; gcc's ASan/UBSan runtimes
	cmake                # the build (CMakeLists.txt needs 3.25)
	pkg-config           # finds json-c, libjwt, check
	mosquitto            # the broker the plugin runs in (2.0.11)
	mosquitto-dev        # mosquitto_plugin.h, mosquitto_broker.h (plugin API)
	libmosquitto-dev     # mosquitto.h, libmosquitto: integration-test clients
	mosquitto-clients    # mosquitto_sub / mosquitto_pub: the examples scripts/up.sh prints
	libjwt-dev           # JWT verification (plugin) and minting (tools)
	libjson-c-dev        # JSON: claims, control commands
	uthash-dev           # per-connection table in the plugin
	check                # unit and integration test framework
	python3-jsonschema   # test/schema/validate_payloads.py: published payloads against schemas/json/
	python3-yaml         # test/docker/check_static.py: parses docker/compose.yaml
	libpaho-mqtt-dev     # integration tests: MQTT over WebSocket client (and the bridge's MQTT client)
	libssl-dev           # the plugin verifies JWS signatures with OpenSSL (plugin/core/jws.c); unit tests make keys
	openssl              # scripts/up.sh generates the demo secret
	valgrind             # scripts/test.sh runs the broker under valgrind once
	clang                # fuzz targets (libFuzzer) in scripts/test.sh
	libclang-rt-14-dev   # libFuzzer and sanitizer runtimes for clang 14
)
# The bridge (PostgreSQL <-> MQTT daemon, bridge/) adds these once it exists.
BRIDGE_PACKAGES=(
	libpq-dev            # PostgreSQL client library (bridge, jetwire-order-sim)
	postgresql           # the throwaway database of scripts/up.sh and the tests (initdb, postgres, psql, pg_isready)
)
# The whole stack (scripts/up.sh), the web demo, their tests and the benchmark plots.
STACK_PACKAGES=(
	curl                 # test/up: fetches the pages the broker's WebSocket listener serves
	chromium             # test/web: the web demo's pages in a real, headless browser
	gnuplot-nox          # bench/: plots of the benchmark results
)
# Node.js builds the web demo (web/: npm installs mqtt.js from its
# package-lock.json at build time).  A newer node installed outside dpkg
# (NodeSource, nvm) is fine: Debian's packages are only added when the
# commands are missing.
NODE_PACKAGES=()
command -v node >/dev/null 2>&1 || NODE_PACKAGES+=(nodejs)   # node: runs npm and the web build
command -v npm >/dev/null 2>&1 || NODE_PACKAGES+=(npm)       # npm: installs mqtt.js for web/

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
if [[ -d "$root/bridge" ]]; then
	PACKAGES+=("${BRIDGE_PACKAGES[@]}")
fi
PACKAGES+=("${STACK_PACKAGES[@]}")
PACKAGES+=(${NODE_PACKAGES[@]+"${NODE_PACKAGES[@]}"})

if [[ "${1:-}" == "--list" ]]; then
	printf '%s\n' "${PACKAGES[@]}"
	exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: this script installs Debian packages (Debian 12); dpkg-query not found." >&2
	echo "deps: install these by other means: ${PACKAGES[*]}" >&2
	exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
	status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
	[[ "$status" == "installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
	echo "deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "deps: missing Debian packages: ${missing[*]}" >&2
	echo "deps: run as root (sudo $0), or install them yourself:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o DPkg::Lock::Timeout=300
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
apt-get "${apt_opts[@]}" update </dev/null
apt-get "${apt_opts[@]}" install --no-install-recommends "${missing[@]}" </dev/null
echo "deps: done"
