#!/usr/bin/env bash
# jetwire-order-sim against a throwaway PostgreSQL (scripts/lib/stack.sh)
# with the demo schema and data, no broker: orders go through every status to
# DELIVERED or CANCELLED, drivers are assigned nearest first (fresh, online
# positions only) and released, notifications are written; it survives a
# PostgreSQL restart; SIGINT, SIGTERM and --duration end it with status 0;
# bad options exit 2.
set -uo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sim="$JW_BUILD_DIR/jetwire-order-sim"
[[ -x "$sim" ]] || fail "$sim not built"

# ---- bad options: status 2 and a precise message, before any connection ----
expect_usage_error() {
	local want="$1" out rc
	shift
	out="$("$@" 2>&1)"
	rc=$?
	[[ $rc == 2 ]] || fail "'$*' exited $rc, expected 2 (output: $out)"
	[[ "$out" == *"$want"* ]] || fail "'$*': expected '$want' in: $out"
}
expect_usage_error "no database: give --database URL or set DATABASE_URL" env -u DATABASE_URL "$sim"
expect_usage_error "--step: expected seconds 0.05..86400, got 'abc'" "$sim" --database postgresql:///x --step abc
expect_usage_error "--cancel-rate: expected a probability 0..1, got '2'" "$sim" --database postgresql:///x --cancel-rate 2
expect_usage_error "--max-active: expected an integer 0..100000, got '-1'" "$sim" --database postgresql:///x --max-active -1
expect_usage_error "unknown option --bogus" "$sim" --database postgresql:///x --bogus
expect_usage_error "--interval needs a value" "$sim" --database postgresql:///x --interval
expect_usage_error "--database: not a PostgreSQL URL or conninfo" "$sim" --database "nonsense=1"
"$sim" --help | grep -q -- '--cancel-rate' || fail "--help does not list the options"
pass "bad options exit 2 with a precise message; --help"

# ---- a throwaway database with the demo schema and data ----
new_dir
STACK_DIR="$NEW_DIR"
stack_start_postgres || fail "stack_start_postgres"
stack_load_schema --demo-data || fail "stack_load_schema --demo-data"
db="$STACK_DATABASE_URL"
q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

# Without the demo tables: a clear fatal error, status 1.
out="$("$sim" --database "postgresql://postgres@127.0.0.1:$STACK_PG_PORT/postgres" --duration 5 2>&1)"
rc=$?
[[ $rc == 1 && "$out" == *"the database has no table 'orders'"* ]] || fail "no demo tables: status $rc, output: $out"
pass "a database without the demo tables: status 1, 'has no table'"

# Driver positions around the two merchants (merchant 1 at 52.5200,13.4050;
# merchant 2 at 52.5380,13.4130).  Fresh and online: 2..6, with 3 the
# nearest to merchant 1 and 5 the nearest to merchant 2.  Nearer still but
# not eligible: 7 (position an hour old), 8 (offline).  9, 10, 1: none.
q "INSERT INTO jetwire.driver_position (driver_id, lat, lng, ts, presence, presence_at) VALUES
	('2', 52.5300, 13.3900, now(), 'online', now()),
	('3', 52.5215, 13.4060, now(), 'online', now()),
	('4', 52.5100, 13.4300, now(), 'online', now()),
	('5', 52.5370, 13.4125, now(), 'online', now()),
	('6', 52.5000, 13.3700, now(), 'online', now()),
	('7', 52.5201, 13.4051, now() - interval '1 hour', 'online', now()),
	('8', 52.5381, 13.4131, now(), 'offline', now())" >/dev/null || fail "inserting positions"

# ---- a run to its --duration: every status, both ends ----
log="$STACK_DIR/run1.log"
start=$SECONDS
"$sim" --database "$db" --step 0.15 --interval 0.25 --max-active 4 --cancel-rate 0.5 --seed 7 \
	--duration 10 2>"$log"
rc=$?
[[ $rc == 0 ]] || { cat "$log" >&2; fail "--duration run exited $rc"; }
((SECONDS - start <= 20)) || fail "--duration 10 took $((SECONDS - start)) s"
grep -q 'stopped | created=' "$log" || fail "no 'stopped' summary line"
pass "--duration 10: exit 0 after $((SECONDS - start)) s"

created="$(q "SELECT count(*) FROM orders")"
delivered="$(q "SELECT count(*) FROM orders WHERE status = 'DELIVERED'")"
cancelled="$(q "SELECT count(*) FROM orders WHERE status = 'CANCELLED'")"
((created >= 6)) || fail "only $created orders created"
((delivered >= 1)) || { cat "$log" >&2; fail "no order DELIVERED"; }
((cancelled >= 1)) || { cat "$log" >&2; fail "no order CANCELLED"; }
active="$(q "SELECT count(*) FROM orders WHERE status NOT IN ('DELIVERED', 'CANCELLED')")"
((active <= 4)) || fail "$active active orders, --max-active 4"
[[ "$(q "SELECT count(*) FROM orders WHERE order_number <> 'DJ-' || lpad(id::text, 6, '0')")" == 0 ]] \
	|| fail "order numbers are not DJ-<id, 6 digits>"
pass "$created orders: $delivered delivered, $cancelled cancelled, $active active"

# The first order goes to customer 1 at merchant 1.
[[ "$(q "SELECT customer_id || '/' || merchant_id FROM orders ORDER BY id LIMIT 1")" == 1/1 ]] \
	|| fail "the first order is not customer 1's at merchant 1"

# Each order's transitions, from the log: one status at a time along the
# path, cancelled only before PICKED_UP, and the database agrees.
path="PENDING CONFIRMED ASSIGNED_TO_DRIVER PICKED_UP IN_PROCESS READY_FOR_DELIVERY OUT_FOR_DELIVERY DELIVERED"
check="$(awk -v path="$path" '
	BEGIN { n = split(path, p, " "); for (i = 1; i <= n; i++) { idx[p[i]] = i; nxt[p[i]] = p[i + 1] } }
	/ created: PENDING / { for (i = 1; i <= NF; i++) if ($i == "order") { id = $(i + 1); break }
		last[id] = "PENDING"; next }
	/ -> / { for (i = 1; i <= NF; i++) if ($i == "->") { from = $(i - 1); to = $(i + 1) }
		for (i = 1; i <= NF; i++) if ($i == "order") { id = $(i + 1); break }
		if (!(id in last)) { print "order " id ": transition before its creation"; bad = 1; next }
		if (from != last[id]) { print "order " id ": " from " -> " to " after " last[id]; bad = 1 }
		if (to == "CANCELLED") { if (idx[from] > 3) { print "order " id ": cancelled in " from; bad = 1 } }
		else if (nxt[from] != to) { print "order " id ": " from " -> " to " skips a status"; bad = 1 }
		last[id] = to }
	END { for (id in last) print "final " id " " last[id]; exit bad }' "$log")" \
	|| fail "transitions out of order: $check"
while read -r _ id status; do
	[[ "$(q "SELECT status FROM orders WHERE id = $id")" == "$status" ]] \
		|| fail "order $id: the log ends in $status, the database says otherwise"
done < <(grep '^final ' <<<"$check")
pass "every transition one status on along the path; cancellations before pickup; log = database"

# Drivers: delivered orders had a pickup and a different delivery driver;
# the only BUSY drivers are those of active orders, and those are BUSY.
[[ "$(q "SELECT count(*) FROM orders WHERE status = 'DELIVERED'
	AND (pickup_driver_id IS NULL OR delivery_driver_id IS NULL OR pickup_driver_id = delivery_driver_id)")" == 0 ]] \
	|| fail "a delivered order lacks a pickup or delivery driver"
[[ "$(q "SELECT count(*) FROM drivers d WHERE availability = 'BUSY' AND NOT EXISTS (SELECT 1 FROM orders o
	WHERE o.status NOT IN ('DELIVERED', 'CANCELLED') AND d.id IN (o.pickup_driver_id, o.delivery_driver_id))")" == 0 ]] \
	|| fail "a driver is BUSY without an active order: $(q "SELECT id, availability FROM drivers")"
[[ "$(q "SELECT count(*) FROM orders o JOIN drivers d ON d.id IN (o.pickup_driver_id, o.delivery_driver_id)
	WHERE o.status NOT IN ('DELIVERED', 'CANCELLED') AND d.availability <> 'BUSY'")" == 0 ]] \
	|| fail "a driver of an active order is not BUSY"
grep -q 'drivers released' "$log" || fail "no 'drivers released' in the log"
pass "drivers assigned (pickup and delivery) and released"

# Nearest first: at the first assignment every driver was free, so it went
# to the nearest fresh, online driver of the order's merchant: 3 for
# merchant 1, 5 for merchant 2 (7 is nearer but stale, 8 nearer but offline).
first_pickup="$(grep -m1 'pickup driver' "$log")"
first_order="$(sed -E 's/.* order ([0-9]+) .*/\1/' <<<"$first_pickup")"
case "$(q "SELECT merchant_id FROM orders WHERE id = ${first_order:-0}")" in
	1) want="pickup driver 3 (Farah, 0.18 km from the merchant)" ;;
	2) want="pickup driver 5 (Hana, 0.12 km from the merchant)" ;;
	*) fail "cannot read the first pickup: $first_pickup" ;;
esac
[[ "$first_pickup" == *"$want"* ]] || fail "first pickup: expected '$want', got: $first_pickup"
pass "nearest driver with a fresh, online position first: $first_pickup"

# Notifications: the merchant of every order, the customer on confirmation.
[[ "$(q "SELECT count(*) FROM notifications WHERE user_type = 'merchant' AND title = 'New order'")" == "$created" ]] \
	|| fail "not one 'New order' notification per order"
[[ "$(q "SELECT count(*) FROM notifications n JOIN orders o ON o.id::text = n.data ->> 'orderId'
	WHERE n.user_type = 'customer' AND n.title = 'Order confirmed' AND n.user_id = o.customer_id::text")" -ge 1 ]] \
	|| fail "no 'Order confirmed' notification to the order's customer"
[[ "$(q "SELECT count(*) FROM notifications WHERE user_type = 'customer' AND title = 'Delivered'")" == "$delivered" ]] \
	|| fail "not one 'Delivered' notification per delivered order"
pass "notifications to merchants, customers and drivers"

# ---- PostgreSQL goes away and comes back: the simulator reconnects ----
log2="$STACK_DIR/run2.log"
"$sim" --database "$db" --step 0.2 --interval 0.3 --max-active 3 --cancel-rate 0 --seed 8 2>"$log2" &
sim_pid=$!
count() { grep -c -- "$1" "$log2"; }
has() { [[ "$(count "$1")" -ge "$2" ]]; }
wait_for 20 "transition before the restart" has ' -> ' 1
pg_pid="$STACK_PG_PID"
pg_start="$(_stack_starttime "$pg_pid")"
kill -INT "$pg_pid"
wait_for 30 "PostgreSQL exit" eval "! _stack_alive $pg_pid $pg_start"
wait_for 20 "'lost the connection' or 'cannot connect' line" eval \
	"has 'lost the connection' 1 || has 'cannot connect' 1"
sleep 1
kill -0 "$sim_pid" 2>/dev/null || fail "the simulator exited while PostgreSQL was down"
_stack_pg_launch "$(_stack_pg_bindir)" || fail "restarting PostgreSQL"
before="$(count ' -> ')"
wait_for 30 "'connected to PostgreSQL again'" has 'connected to PostgreSQL again' 1
wait_for 20 "transition after the restart" has ' -> ' $((before + 1))
kill -TERM "$sim_pid"
wait_for 10 "exit after SIGTERM" eval "! kill -0 $sim_pid 2>/dev/null"
rc=0
wait "$sim_pid" || rc=$?
[[ $rc == 0 ]] || fail "exit status $rc after SIGTERM"
pass "PostgreSQL restarted: reconnected, went on, SIGTERM -> exit 0"

# ---- SIGINT ----
"$sim" --database "$db" --quiet 2>"$STACK_DIR/run3.log" &
sim_pid=$!
sleep 0.5
kill -INT "$sim_pid"
wait_for 10 "exit after SIGINT" eval "! kill -0 $sim_pid 2>/dev/null"
rc=0
wait "$sim_pid" || rc=$?
[[ $rc == 0 ]] || fail "exit status $rc after SIGINT"
[[ ! -s "$STACK_DIR/run3.log" ]] || fail "--quiet still logged: $(cat "$STACK_DIR/run3.log")"
pass "SIGINT -> exit 0; --quiet logs nothing"

stack_stop || fail "stack_stop"
echo "PASS ($TEST_NAME)"
