#!/usr/bin/env bash
# scripts/up.sh --no-demo: PostgreSQL with jetwire's schema only, broker,
# bridge; nothing simulated.  It prints DATABASE_URL and the admin and
# service tokens; an operator's own table, attached to capture as the banner
# shows, is published by the bridge; SIGTERM stops all of it.
set -uo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

new_dir
d="$NEW_DIR"
out="$d.out"
TEST_DIRS+=("$out")
mqtt="$(stack_free_port)"
ws="$(STACK_MQTT_PORT=$mqtt stack_free_port)"
up_start "$out" JETWIRE_DATA_DIR="$d" JETWIRE_MQTT_PORT="$mqtt" JETWIRE_WS_PORT="$ws" -- --no-demo
pid="$UP_PID"
up_wait_ready "$out" "$pid" 90
for n in 1 2 3 4; do
	grep -q "^up: \[$n/4\] .* \.\.\. ok (" "$out" || fail "no progress line [$n/4] ... ok"
done
grep -q 'simulator' "$out" && fail "--no-demo started a simulator: $(cat "$out")"
url="$(sed -n 's/^  DATABASE_URL *//p' "$out")"
[[ "$url" == postgresql://*@127.0.0.1:*/jetwire ]] || fail "no DATABASE_URL in the banner: $(cat "$out")"
grep -q '^  ADMIN_TOKEN=ey' "$out" || fail "no admin token in the banner"
grep -q '^  SERVICE_TOKEN=ey' "$out" || fail "no service token in the banner"
pass "ready; banner: DATABASE_URL $url, admin and service tokens"

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$url" -c "$1"; }
[[ "$(q "SELECT count(*) > 0 FROM jetwire.schema_migrations")" == t ]] || fail "no jetwire migrations applied"
[[ "$(q "SELECT to_regclass('public.orders') IS NULL AND to_regclass('public.drivers') IS NULL")" == t ]] \
	|| fail "--no-demo created demo tables"
procs="$(recorded "$d")"
[[ "$(awk '{print $1}' <<<"$procs" | tr '\n' ' ')" == "postgres mosquitto jetwire-bridge " ]] \
	|| fail "expected postgres, mosquitto, jetwire-bridge; recorded: $procs"
pass "jetwire's schema only; 3 processes"

# The operator's own table, attached as the banner shows; the admin sees it published.
admin="$(sed -n 's/^export ADMIN_TOKEN=.\(.*\).$/\1/p' "$d/tokens.env")"
q "CREATE TABLE orders (id bigint PRIMARY KEY, order_number text NOT NULL, status text NOT NULL,
	customer_id bigint NOT NULL, merchant_id bigint NOT NULL)" >/dev/null || fail "creating a table"
q "SELECT jetwire.install_capture('public.orders', 'order', '{\"id\": \"id\", \"orderNumber\": \"order_number\",
	\"status\": \"status\", \"customerId\": \"customer_id\", \"merchantId\": \"merchant_id\"}')" >/dev/null \
	|| fail "install_capture as the banner shows"
timeout 30 mosquitto_sub -h 127.0.0.1 -p "$mqtt" -V mqttv5 -u jwt -i admin-1 -P "$admin" \
	-t 'order/+/status' -v -C 1 -W 25 >"$d/sub.out" 2>&1 &
sub=$!
sleep 1
q "INSERT INTO orders VALUES (501, 'A-501', 'PENDING', 42, 7)" >/dev/null || fail "insert"
wait "$sub" || fail "the admin received no order/+/status: $(cat "$d/sub.out")"
grep -q '^order/501/status {.*"orderNumber":"A-501".*"status":"PENDING"' "$d/sub.out" \
	|| fail "unexpected message: $(cat "$d/sub.out")"
pass "an attached table's insert is published: $(cut -c1-100 "$d/sub.out")..."

up_stop "$pid" TERM 143
assert_gone "$procs"
for p in "$mqtt" "$ws"; do assert_port_free "$p"; done
assert_port_free "$(sed -E 's|.*:([0-9]+)/jetwire$|\1|' <<<"$url")"
pass "SIGTERM -> exit 143, all gone, ports free"
echo "PASS ($TEST_NAME)"
