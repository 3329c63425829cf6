#!/usr/bin/env bash
# Two demo stacks side by side, each started by scripts/up.sh with its own
# ports and data directory: each serves the web pages over HTTP from its
# WebSocket port; its printed customer token receives order statuses the
# order simulator makes (and the other stack's token is refused); its
# database holds the simulated drivers' positions and orders that reached
# their end.  SIGINT (Ctrl-C) to each up.sh stops every process it started
# and frees its ports.
set -uo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

drivers=3
names=(a b)
declare -A dir out pid mqtt ws pg
used=" "
# pick: a free port not given to either stack yet
pick() {
	local p
	while :; do
		p="$(stack_free_port)" || fail "no free port"
		[[ "$used" == *" $p "* ]] || break
	done
	used+="$p "
	PICKED="$p"
}
for s in "${names[@]}"; do
	new_dir
	dir[$s]="$NEW_DIR"
	out[$s]="$NEW_DIR.out"
	TEST_DIRS+=("${out[$s]}")
	pick; pg[$s]="$PICKED"
	pick; mqtt[$s]="$PICKED"
	pick; ws[$s]="$PICKED"
done

for s in "${names[@]}"; do
	up_start "${out[$s]}" JETWIRE_DATA_DIR="${dir[$s]}" JETWIRE_MQTT_PORT="${mqtt[$s]}" \
		JETWIRE_WS_PORT="${ws[$s]}" JETWIRE_PG_PORT="${pg[$s]}" JETWIRE_DRIVERS="$drivers" \
		JETWIRE_ORDER_STEP=0.3 JETWIRE_ORDER_INTERVAL=0.5 JETWIRE_ORDER_MAX_ACTIVE=3 JETWIRE_TOKEN_TTL=600
	pid[$s]="$UP_PID"
done
for s in "${names[@]}"; do
	up_wait_ready "${out[$s]}" "${pid[$s]}" 120
	for n in 1 2 3 4 5 6 7; do
		grep -q "^up: \[$n/7\] .* \.\.\. ok (" "${out[$s]}" || fail "stack $s: no progress line [$n/7] ... ok"
	done
	grep -q "customer.html#token=ey" "${out[$s]}" || fail "stack $s: no customer page URL with its token"
	pass "stack $s ready: MQTT ${mqtt[$s]}, WebSocket ${ws[$s]}, PostgreSQL ${pg[$s]}"
done

for s in "${names[@]}"; do
	web="http://127.0.0.1:${ws[$s]}"
	# ---- pages over HTTP from the WebSocket port ----
	code="$(curl -s -o "${dir[$s]}/index.got" -w '%{http_code}' "$web/index.html")"
	[[ "$code" == 200 ]] || fail "stack $s: GET /index.html: HTTP $code"
	cmp -s "${dir[$s]}/index.got" "${dir[$s]}/www/index.html" || fail "stack $s: /index.html is not the web root's"
	[[ "$(curl -s -o /dev/null -w '%{http_code}' "$web/")" == 200 ]] || fail "stack $s: GET / is not 200"
	config="$(curl -sf "$web/config.js")" || fail "stack $s: GET /config.js failed"
	[[ "$config" == *"ws://127.0.0.1:${ws[$s]}/"* && "$config" == *'"Clean Corner Laundry"'* ]] \
		|| fail "stack $s: config.js lacks its WebSocket URL or the demo merchant: $config"
	[[ "$config" != *eyJ* ]] || fail "stack $s: config.js holds a token"
	for page in customer merchant driver ops; do
		if [[ -f "$JW_SOURCE_DIR/web/$page.html" ]]; then
			[[ "$(curl -s -o /dev/null -w '%{http_code}' "$web/$page.html")" == 200 ]] \
				|| fail "stack $s: GET /$page.html is not 200"
		fi
	done
	[[ "$(curl -s -o /dev/null -w '%{http_code}' "$web/../mosquitto.conf")" != 200 ]] \
		|| fail "stack $s: a file outside the web root is served"
	pass "stack $s: pages served over HTTP on port ${ws[$s]}"

	# ---- the printed customer token receives order statuses ----
	tokens="$(sed -n 's/^export CUSTOMER_TOKEN=.\(.*\).$/\1/p' "${dir[$s]}/tokens.env")"
	[[ -n "$tokens" ]] || fail "stack $s: no CUSTOMER_TOKEN in tokens.env"
	got="$(timeout 40 mosquitto_sub -h 127.0.0.1 -p "${mqtt[$s]}" -V mqttv5 -u jwt -i "customer-1-test" \
		-P "$tokens" -t 'order/+/status' -v -C 3 -W 30 2>&1)" \
		|| fail "stack $s: customer 1 received no 3 order statuses within 30 s: $got"
	grep -Eq '^order/[0-9]+/status \{.*"status":"[A-Z_]+"' <<<"$got" || fail "stack $s: unexpected messages: $got"
	pass "stack $s: customer 1 receives its order statuses: $(head -n 1 <<<"$got" | cut -c1-110)..."
done

# ---- each stack's token is refused by the other stack (own secret each) ----
a_token="$(sed -n 's/^export CUSTOMER_TOKEN=.\(.*\).$/\1/p' "${dir[a]}/tokens.env")"
if timeout 15 mosquitto_sub -h 127.0.0.1 -p "${mqtt[b]}" -V mqttv5 -u jwt -i customer-1-test -P "$a_token" \
		-t 'order/+/status' -C 1 -W 3 >/dev/null 2>&1; then
	fail "stack b accepted stack a's token"
fi
pass "stack a's token is refused by stack b"

# ---- the databases: driver positions, orders at their end ----
for s in "${names[@]}"; do
	url="postgresql://postgres@127.0.0.1:${pg[$s]}/jetwire"
	q() { psql -X -q -A -t -d "$url" -c "$1"; }
	positions() { [[ "$(q "SELECT count(*) FROM jetwire.driver_position WHERE lat IS NOT NULL AND driver_id::int BETWEEN 2 AND $((drivers + 1))")" == "$drivers" ]]; }
	wait_for 30 "positions of $drivers drivers in stack $s's database" positions
	ended() { [[ "$(q "SELECT count(*) FROM orders WHERE status IN ('DELIVERED', 'CANCELLED')")" -ge 1 ]]; }
	wait_for 40 "order DELIVERED or CANCELLED in stack $s" ended
	pass "stack $s: $drivers driver positions, $(q "SELECT count(*) FROM orders") orders ($(q "SELECT count(*) FROM orders WHERE status = 'DELIVERED'") delivered)"
done

# ---- Ctrl-C: everything stops, ports free ----
for s in "${names[@]}"; do
	procs="$(recorded "${dir[$s]}")"
	[[ "$(wc -l <<<"$procs")" == 5 ]] || fail "stack $s: expected 5 recorded processes, got: $procs"
	up_stop "${pid[$s]}" INT 130
	assert_gone "$procs"
	for p in "${mqtt[$s]}" "${ws[$s]}" "${pg[$s]}"; do assert_port_free "$p"; done
	grep -q '^up: stopped; nothing left running$' "${out[$s]}" || fail "stack $s: no 'stopped' line"
	[[ ! -e "${dir[$s]}/pids" ]] || fail "stack $s: the pids file is left"
	pass "stack $s: SIGINT -> exit 130, its 5 processes gone, ports ${mqtt[$s]} ${ws[$s]} ${pg[$s]} free"
done
echo "PASS ($TEST_NAME)"
