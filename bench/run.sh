#!/usr/bin/env bash
# Build (if needed) and run the six jetwire benchmarks, then print a
# summary table.  Benchmarks are not tests: nothing here fails on a figure;
# the exit status is non-zero only if a benchmark itself failed (a broker
# did not start, a delivery went missing, a decision was wrong, ...).
#
#   bench/run.sh                 default runs (each well under 2 minutes)
#   bench/run.sh --long          longer runs, steadier figures
#   bench/run.sh --only NAME     one of: acl_decide relations_memory throughput connect bridge live
#
# Environment:
#   BUILD_DIR            build directory (default /tmp/build-bench)
#   JW_BENCH_BROKER_CONF extra mosquitto.conf lines for every broker started
#   JW_BENCH_KEEP=1      keep the brokers' temp directories
#   JW_BENCH_DATA_DIR    where bench_bridge and bench_live write latency
#                        distributions (bench/report.sh sets it)
#   (bench_bridge and bench_live also start a throwaway PostgreSQL: see bench/README.md)
# Full outputs are written to $BUILD_DIR/bench-results/<name>.txt.
set -u

SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-/tmp/build-bench}
LONG=0
ONLY=""
while [ $# -gt 0 ]; do
	case "$1" in
		--long) LONG=1 ;;
		--only) shift; ONLY=${1:-} ;;
		-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
		*) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
	cmake -S "$SRC_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
fi
cmake --build "$BUILD_DIR" -j2 --target bench_acl_decide bench_relations_memory bench_throughput \
	bench_connect bench_bridge bench_live jetwire_plugin jetwire-bridge jetwire-driver-sim >/dev/null || {
	echo "build failed; run: cmake --build $BUILD_DIR --target bench_acl_decide" >&2
	exit 2
}

BIN="$BUILD_DIR/bench"
OUT="$BUILD_DIR/bench-results"
mkdir -p "$OUT"

# ARGS_<name> are read indirectly (${!args_var}) below
# shellcheck disable=SC2034
if [ "$LONG" = 1 ]; then
	ARGS_acl_decide="--batches 50000 --kind-batches 3000"
	ARGS_relations_memory="--tuples 100000,400000,1000000 --broker-tuples 400000"
	ARGS_throughput="--messages 400000 --reps 5"
	ARGS_connect="--seconds 10 --reps 5 --pool 20000"
	ARGS_bridge="--seconds 30"
	ARGS_live="--seconds 60 --reps 3"
else
	ARGS_acl_decide=""
	ARGS_relations_memory=""
	ARGS_throughput=""
	ARGS_connect=""
	ARGS_bridge=""
	ARGS_live=""
fi

status=0
for name in acl_decide relations_memory throughput connect bridge live; do
	if [ -n "$ONLY" ] && [ "$ONLY" != "$name" ]; then continue; fi
	args_var="ARGS_$name"
	echo "== bench_$name ${!args_var}"
	start=$(date +%s)
	# shellcheck disable=SC2086
	"$BIN/bench_$name" ${!args_var} >"$OUT/$name.txt" 2>&1
	rc=$?
	grep -v '^RESULT ' "$OUT/$name.txt"
	echo "   ($(( $(date +%s) - start )) s, exit $rc)"
	[ $rc -eq 0 ] || status=1
	echo
done

# ---- summary ----
cat "$OUT"/*.txt 2>/dev/null | awk '
	/^RESULT / { split($2, kv, "="); r[kv[1]] = kv[2] }
	function v(k) { return (k in r) ? r[k] : "-" }
	function row(what, fig, base, ratio, target, verdict) {
		printf "%-44s %14s %14s %8s  %-12s %s\n", what, fig, base, ratio, target, verdict
	}
	function lt(a, b) { return (a != "-" && a + 0 < b) ? "met" : (a == "-" ? "" : "MISSED") }
	function le(a, b) { return (a != "-" && a + 0 <= b) ? "met" : (a == "-" ? "" : "MISSED") }
	function ge(a, b) { return (a != "-" && a + 0 >= b) ? "met" : (a == "-" ? "" : "MISSED") }
	END {
		print "SUMMARY"
		row("measure", "figure", "baseline", "ratio", "target", "")
		for (i = 1; i <= 2; i++) {
			s = (i == 1) ? "numeric" : "uuid"
			k = "acl_decide." s
			if ((k ".median_ns") in r) {
				row("acl decide ns/check, median (" s " ids)", v(k ".median_ns"), v(k ".baseline_median_ns"),
					v(k ".ratio"), "< 150 ns", lt(v(k ".median_ns"), 150))
				row("acl decide ns/check, p99 of batches", v(k ".p99_ns"), "", "", "", "")
				row("acl decide ns/check, 1000 hot orders", v(k ".hot_median_ns"), "", "", "", "")
				row("acl decide allocations", v(k ".allocations"), "", "", "0", (v(k ".allocations") == "0") ? "met" : "MISSED")
			}
		}
		if ("memory.random_load_ns" in r) row("machine: one random DRAM load, ns", v("memory.random_load_ns"), "", "", "", "")
		nc = 0
		for (k in r) if (k ~ /^relations_memory\.inproc\.[0-9]+\.rss_mib_per_100k$/) {
			split(k, p, ".")
			cp[++nc] = p[3] + 0
		}
		for (i = 2; i <= nc; i++) for (j = i; j > 1 && cp[j] < cp[j - 1]; j--) { t = cp[j]; cp[j] = cp[j - 1]; cp[j - 1] = t }
		for (i = 1; i <= nc; i++) {
			k = "relations_memory.inproc." cp[i] ".rss_mib_per_100k"
			row("relstore MiB/100k tuples, RSS @" cp[i], r[k], "", "", "<= 32 MiB", le(r[k], 32))
			hk = "relations_memory.inproc." cp[i] ".heap_mib_per_100k"
			row("relstore MiB/100k tuples, heap @" cp[i], v(hk), "", "", "<= 32 MiB", le(v(hk), 32))
		}
		if ("relations_memory.broker.mib_per_100k" in r) {
			row("broker RSS growth MiB/100k relations", v("relations_memory.broker.mib_per_100k"),
				v("relations_memory.broker.rss_before_mib") " before", "", "<= 32 MiB",
				le(v("relations_memory.broker.mib_per_100k"), 32))
			row("$CONTROL push tuples/s (nodelay false)", v("relations_memory.broker.push_tuples_per_s"), "", "", "", "")
			row("$CONTROL push tuples/s (nodelay true)", v("relations_memory.broker_nodelay.push_tuples_per_s"), "", "", "", "")
		}
		for (q = 0; q <= 1; q++) for (j = 1; j <= 2; j++) {
			var = (j == 1) ? "allowed" : "mixed"
			k = "throughput.qos" q "." var
			if ((k ".ratio") in r) {
				row("deliveries/s QoS " q ", " var, v(k ".plugin_deliveries_per_s"), v(k ".plain_deliveries_per_s"),
					v(k ".ratio"), ">= 0.9", ge(v(k ".ratio"), 0.9) (var == "mixed" ? " (not like for like)" : ""))
				row("  broker CPU us/msg QoS " q ", " var, v(k ".plugin_broker_cpu_us_per_msg"),
					v(k ".plain_broker_cpu_us_per_msg"), v(k ".cpu_ratio"), "", "")
			}
		}
		split("hs256_reused hs256_distinct rs256_reused rs256_distinct", cv, " ")
		for (i = 1; i <= 4; i++) {
			k = "connect." cv[i]
			if ((k ".per_s") in r) {
				row("connects/s " cv[i], v(k ".per_s"), v("connect.anonymous.per_s"), v(k ".ratio"), ">= 0.8", ge(v(k ".ratio"), 0.8))
				row("  broker CPU us/connect", v(k ".broker_cpu_us"), v("connect.anonymous.broker_cpu_us"), "", "", "")
			}
		}
		if ("bridge.sustained_per_s" in r) {
			row("bridge: sustained updates/s kept up with", v("bridge.sustained_per_s"), v("bridge.baseline_per_s") " no capt.",
				v("bridge.sustained_ratio"), ">= 0.5", ge(v("bridge.sustained_ratio"), 0.5))
			row("  same, absolute updates/s", v("bridge.sustained_per_s"), "", "", ">= 5000", ge(v("bridge.sustained_per_s"), 5000))
			row("  writers, capture installed, no bridge", v("bridge.capture_only_per_s"), v("bridge.baseline_per_s"),
				v("bridge.capture_only_ratio"), "", "")
			row("  same, wake-up disarmed (no NOTIFY)", v("bridge.capture_disarmed_per_s"), v("bridge.baseline_per_s"),
				v("bridge.capture_disarmed_ratio"), "", "")
			row("  writers flat out with capture + bridge", v("bridge.captured_per_s"), v("bridge.baseline_per_s"),
				v("bridge.captured_ratio"), "", "")
			row("  bridge drain rows/s (flat out)", v("bridge.drain_per_s"), "", "", "", "")
			row("  bridge drain rows/s (backlog, no writers)", v("bridge.backlog_drain_per_s"), "", "", "", "")
			row("bridge: commit->delivery ms @1000/s, p99", v("bridge.lat1000.p99_ms"), "", "", "< 20 ms", lt(v("bridge.lat1000.p99_ms"), 20))
			row("  p50 / max @1000/s", v("bridge.lat1000.p50_ms") " / " v("bridge.lat1000.max_ms"), "", "", "", "")
			row("  p50 / p99 / max @100/s", v("bridge.lat100.p50_ms") " / " v("bridge.lat100.p99_ms") " / " v("bridge.lat100.max_ms"), "", "", "", "")
			row("  updates not delivered within 5 s", v("bridge.missing"), "", "", "0", (v("bridge.missing") == "0") ? "met" : "MISSED")
			row("bridge resident memory MiB (VmHWM)", v("bridge.hwm_mib"), "", "", "<= 32 MiB", le(v("bridge.hwm_mib"), 32))
			row("  bridge CPU us per change (flat out)", v("bridge.cpu_us_per_change"), "", "", "", "")
		}
		if ("live.capacity_ratio" in r) {
			row("live: drivers x 1/s, deliveries/s", v("live.validate.delivered_per_s"), v("live.baseline.delivered_per_s"),
				v("live.delivered_ratio"), "", "")
			row("live: broker msgs per CPU-second, validation", v("live.capacity_ratio"), "1 = no check", v("live.capacity_ratio"),
				">= 0.85", ge(v("live.capacity_ratio"), 0.85))
			row("  broker CPU us/delivery (validation/none)", v("live.validate.broker_us_per_msg"), v("live.baseline.broker_us_per_msg"), "", "", "")
			row("  broker VmRSS MiB (validation/none)", v("live.validate.broker_rss_mib"), v("live.baseline.broker_rss_mib"), v("live.memory_ratio"), "", "")
			row("live: publish->delivery ms p99", v("live.validate.p99_ms"), v("live.baseline.p99_ms"), "", "< 10 ms", lt(v("live.validate.p99_ms"), 10))
			row("  p50 / p99.9", v("live.validate.p50_ms") " / " v("live.validate.p999_ms"), "", "", "", "")
			row("live: positions/s persisted by the bridge", v("live.persist.received_per_s"), v("live.persist.offered_per_s") " offered",
				"", ">= 20000", ge(v("live.persist.received_per_s"), 20000))
			row("  rows written/s (latest per driver per flush)", v("live.persist.stored_rows_per_s"), "", "", "", "")
		}
	}'
read -r load </proc/loadavg
echo "(loadavg now: $load; CPUs: $(nproc); full outputs in $OUT)"
exit $status
