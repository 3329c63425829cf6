#!/usr/bin/env bash
# Run every jetwire benchmark and write the report: docs/benchmarks.md with
# the machine, the commands, the summary table, each program's full output,
# and plots (gnuplot, SVG in docs/img/) of the latency distributions and of
# every ratio against its target.
#
#   bench/report.sh               run all six benchmarks (about 15 minutes), write the report
#   bench/report.sh --long        longer runs (bench/run.sh --long)
#   bench/report.sh --from DIR    no run: write the report from an earlier run's results
#                                 (DIR = $BUILD_DIR/bench-results)
#
# Environment: BUILD_DIR (default /tmp/build-bench) as bench/run.sh;
# JW_REPORT_OUT (default docs/benchmarks.md of this tree).
# Exit status: bench/run.sh's (non-zero if a benchmark itself failed; the
# report is written anyway, saying so).
set -uo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-/tmp/build-bench}"
out_md="${JW_REPORT_OUT:-$src/docs/benchmarks.md}"
img_dir="$(dirname "$out_md")/img"
long=0
from=""
while [[ $# -gt 0 ]]; do
	case "$1" in
		--long) long=1 ;;
		--from) shift; from="${1:-}" ;;
		-h|--help) sed -n '2,15p' "$0"; exit 0 ;;
		*) echo "report: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
command -v gnuplot >/dev/null || { echo "report: gnuplot is not installed (apt-get install gnuplot-nox; scripts/deps.sh does)" >&2; exit 2; }

results="${from:-$BUILD_DIR/bench-results}"
data="$results/data"
started="$(date -u +%FT%TZ)"
t0=$(date +%s)
run_rc=0
summary_file="$results/summary.txt"
if [[ -z "$from" ]]; then
	rm -rf "$results"
	mkdir -p "$data"
	run_args=()
	[[ $long == 1 ]] && run_args+=(--long)
	JW_BENCH_DATA_DIR="$data" BUILD_DIR="$BUILD_DIR" "$src/bench/run.sh" ${run_args[@]+"${run_args[@]}"} \
		| tee "$results/run.txt"
	run_rc=${PIPESTATUS[0]}
	sed -n '/^SUMMARY$/,$p' "$results/run.txt" >"$summary_file"
else
	[[ -d "$results" ]] || { echo "report: $results: no such directory" >&2; exit 2; }
	[[ -f "$summary_file" ]] || sed -n '/^SUMMARY$/,$p' "$results/run.txt" >"$summary_file" 2>/dev/null || true
fi
elapsed=$(( $(date +%s) - t0 ))
mkdir -p "$img_dir"

# ---- RESULT key=value pairs of every program ----
declare -A R
while IFS='=' read -r k v; do
	R["$k"]="$v"
done < <(cat "$results"/*.txt 2>/dev/null | sed -n 's/^RESULT \([^=]*\)=\(.*\)$/\1=\2/p')
r() { echo "${R[$1]:-}"; }

# ---- plot 1: latency distributions ----
lat_plot="$img_dir/bench-latency.svg"
plots=()
add_plot() {   # FILE TITLE
	[[ -s "$data/$1" ]] && plots+=("'$data/$1' using 1:(100*\$2) with steps lw 2 title '$2'")
}
add_plot bridge_latency_100.dat "bridge: commit -> delivery, 100 updates/s"
add_plot bridge_latency_1000.dat "bridge: commit -> delivery, 1,000 updates/s"
add_plot live_latency_baseline.dat "driver location -> customer, no validation"
add_plot live_latency_validate.dat "driver location -> customer, validation on"

if [[ ${#plots[@]} -gt 0 ]]; then
	joined="$(IFS=,; echo "${plots[*]}")"
	gnuplot <<EOF || echo "report: gnuplot failed on the latency plot" >&2
set terminal svg size 860,540 dynamic font 'sans,12' background '#ffffff'
set output '$lat_plot'
set title 'Latency distributions (cumulative): share of messages delivered within x ms'
set xlabel 'latency, ms (log scale)'
set ylabel 'messages, %'
set logscale x
set xrange [0.1:100]
set yrange [0:100]
set grid
set key outside below vertical maxrows 3
set arrow from 10, graph 0 to 10, graph 1 nohead dt 2 lc rgb '#aa0000'
set label 'live target p99 < 10 ms' at 10.5, 8 textcolor rgb '#aa0000'
set arrow from 20, graph 0 to 20, graph 1 nohead dt 3 lc rgb '#555555'
set label 'bridge target p99 < 20 ms' at 21, 16 textcolor rgb '#555555'
plot $joined
EOF
fi

# ---- plot 2: every ratio against its target ----
ratio_plot="$img_dir/bench-ratios.svg"
ratios="$data/ratios.dat"
{
	echo "# label ratio target"
	row() { [[ -n "$2" ]] && printf '"%s" %s %s\n' "$1" "$2" "$3"; }
	row "deliveries QoS 0" "$(r throughput.qos0.allowed.ratio)" 0.9
	row "deliveries QoS 1" "$(r throughput.qos1.allowed.ratio)" 0.9
	row "connects HS256 reused" "$(r connect.hs256_reused.ratio)" 0.8
	row "connects HS256 new" "$(r connect.hs256_distinct.ratio)" 0.8
	row "connects RS256 reused" "$(r connect.rs256_reused.ratio)" 0.8
	row "connects RS256 new" "$(r connect.rs256_distinct.ratio)" 0.8
	row "bridge sustained updates" "$(r bridge.sustained_ratio)" 0.5
	row "live: validation capacity" "$(r live.capacity_ratio)" 0.85
	row "live: deliveries" "$(r live.delivered_ratio)" 0.85
} >"$ratios"
if [[ $(grep -vc '^#' "$ratios") -gt 0 ]]; then
	gnuplot <<EOF || echo "report: gnuplot failed on the ratio plot" >&2
set terminal svg size 860,420 dynamic font 'sans,12' background '#ffffff'
set output '$ratio_plot'
set title 'jetwire / baseline in the same run (bars) and the target (marks)'
set style fill solid 0.8 border -1
set boxwidth 0.6
set yrange [0:1.3]
set xrange [-0.6:*]
set offsets 0, 0.6, 0, 0
set grid ytics
set xtics rotate by 30 right nomirror
set bmargin 8
set key top right
plot '$ratios' using 0:2:xtic(1) with boxes title 'ratio' lc rgb '#3b7dd8', \
     '' using 0:3 with points pt 9 ps 1.6 lc rgb '#aa0000' title 'target (at least)'
EOF
fi

# ---- the machine ----
cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
mem="$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
os="$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
mosq="$(mosquitto -h 2>/dev/null | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p' | head -n 1)"
pg="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -n | tail -n 1)"
commit="$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$src" status --porcelain 2>/dev/null | grep -v '^??' | grep -vc 'docs/benchmarks.md\|docs/img/' || true)"
[[ "$dirty" != 0 ]] && commit="$commit (with uncommitted changes)"
read -r load1 load5 load15 _ </proc/loadavg

# ---- docs/benchmarks.md ----
{
	cat <<EOF
# Benchmarks

<!-- Generated by bench/report.sh on $started: do not edit by hand; run it again. -->

Every figure is printed by a program in \`bench/\` next to a baseline measured
**in the same run** (the broker without the plugin, the plugin with its
publish checks off, the database without capture), so the ratios hold on
other machines better than the absolute numbers. What each program does and
what each figure means: [bench/README.md](../bench/README.md). Findings,
history and what moved the figures: [benchmark-notes.md](benchmark-notes.md).

## How this report was made

    bench/report.sh$( [[ $long == 1 ]] && echo " --long")        # runs bench/run.sh, then writes this page and docs/img/bench-*.svg

| | |
| --- | --- |
| date | $started ($elapsed s) |
| commit | $commit |
| machine | $(nproc) CPUs ($cpu), $mem |
| system | $os, kernel $(uname -r) |
| mosquitto | ${mosq:-?} |
| PostgreSQL | ${pg:-?} (throwaway cluster, fsync off) |
| load average at the end | $load1 $load5 $load15 |
| bench/run.sh exit status | $run_rc$( [[ $run_rc != 0 ]] && echo " — a benchmark failed: see its output below") |

## Summary

Targets come from the project's issues; "met"/"MISSED" is computed from the
figure of this run.

\`\`\`
$(cat "$summary_file" 2>/dev/null)
\`\`\`

## Plots

![Latency distributions](img/bench-latency.svg)

Cumulative distributions: the bridge's commit → delivery latency
(\`bench_bridge\`: an UPDATE committed in PostgreSQL until a subscriber holds
the retained status) and a driver's location → a customer's delivery
(\`bench_live\`: simulated drivers publishing to the customers tracking them; the location's \`ts\` has
millisecond resolution, so those curves are up to 1 ms pessimistic).

![Ratios against their targets](img/bench-ratios.svg)

## Full outputs

EOF
	for name in acl_decide relations_memory throughput connect bridge live; do
		f="$results/$name.txt"
		[[ -f "$f" ]] || continue
		echo "<details><summary><code>bench_$name</code></summary>"
		echo
		echo '```'
		grep -v '^RESULT ' "$f"
		echo '```'
		echo
		echo "</details>"
		echo
	done
} >"$out_md"
echo "report: wrote $out_md and $img_dir/bench-*.svg"
exit "$run_rc"
