# shellcheck shell=bash
# Helpers shared by the test/up/*.sh tests (sourced).  They run through
# ctest, which sets JW_SOURCE_DIR (the repository) and JW_BUILD_DIR (the
# build directory holding the programs).  At exit, every up.sh a test
# started gets SIGTERM, every stack in its temp directories is stopped by
# PID (stack_stop), and the directories are removed unless JW_KEEP_TEST_DIRS=1.

: "${JW_SOURCE_DIR:?run through ctest (JW_SOURCE_DIR is not set)}"
: "${JW_BUILD_DIR:?run through ctest (JW_BUILD_DIR is not set)}"

# shellcheck source=SCRIPTDIR/../../scripts/lib/stack.sh
source "$JW_SOURCE_DIR/scripts/lib/stack.sh"
STACK_BUILD_DIR="$JW_BUILD_DIR"

TEST_NAME="$(basename "$0" .sh)"
TEST_DIRS=()
TEST_UP_PIDS=()    # up.sh processes started by up_start

fail() {
	echo "FAIL ($TEST_NAME): $*" >&2
	exit 1
}
pass() {
	echo "ok: $*"
}

# new_dir: NEW_DIR = a new temp dir, readable by the users mosquitto and
# postgres, removed at exit.  (Not "$(new_dir)": a subshell could not record it.)
new_dir() {
	NEW_DIR="$(mktemp -d "/tmp/jetwire-$TEST_NAME.XXXXXX")" || fail "mktemp"
	chmod 755 "$NEW_DIR"
	TEST_DIRS+=("$NEW_DIR")
}

test_cleanup() {
	local pid d i
	for pid in ${TEST_UP_PIDS[@]+"${TEST_UP_PIDS[@]}"}; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		fi
	done
	for d in ${TEST_DIRS[@]+"${TEST_DIRS[@]}"}; do
		STACK_DIR="$d" stack_stop >/dev/null 2>&1
	done
	if [[ "${JW_KEEP_TEST_DIRS:-0}" != 1 ]]; then
		for d in ${TEST_DIRS[@]+"${TEST_DIRS[@]}"}; do rm -rf -- "$d"; done
	else
		echo "kept: ${TEST_DIRS[*]}"
	fi
}
trap test_cleanup EXIT

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.1 s until it
# succeeds; fail after SECONDS.
wait_for() {
	local secs="$1" what="$2" i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	fail "no $what within ${secs}s"
}

# up_start OUT [ENV=VALUE...] [-- ARGS...]: scripts/up.sh in the background
# (SIGINT at its default, as in a terminal: bash starts background jobs of a
# script with SIGINT ignored, and up.sh could not trap it), output to OUT;
# sets UP_PID.
up_start() {
	local out="$1"
	shift
	local envs=() args=()
	while (($#)) && [[ "$1" != -- ]]; do envs+=("$1"); shift; done
	(($#)) && shift
	args=("$@")
	env --default-signal=INT JETWIRE_NO_BUILD=1 JETWIRE_BUILD_DIR="$JW_BUILD_DIR" ${envs[@]+"${envs[@]}"} \
		"$JW_SOURCE_DIR/scripts/up.sh" ${args[@]+"${args[@]}"} >"$out" 2>&1 </dev/null &
	UP_PID=$!
	TEST_UP_PIDS+=("$UP_PID")
}

# up_wait_ready OUT PID SECONDS: wait for "up: ready"; fail with the output
# if up.sh exits first.
up_wait_ready() {
	local out="$1" pid="$2" secs="$3" i
	for ((i = 0; i < secs * 10; i++)); do
		grep -q '^up: ready$' "$out" && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$out" >&2
			fail "up.sh exited before 'up: ready'"
		fi
		sleep 0.1
	done
	cat "$out" >&2
	fail "no 'up: ready' within ${secs}s"
}

# up_stop PID SIGNAL EXPECTED-STATUS: signal up.sh, wait for it (60 s), check its status.
up_stop() {
	local pid="$1" sig="$2" want="$3" i rc
	kill -s "$sig" "$pid" || fail "kill -$sig $pid"
	for ((i = 0; i < 600; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && fail "up.sh (pid $pid) still runs 60 s after SIG$sig"
	rc=0
	wait "$pid" || rc=$?
	[[ "$rc" == "$want" ]] || fail "up.sh exited with status $rc after SIG$sig, expected $want"
}

# recorded DIR: the "name pid starttime" lines of the stack in DIR.
recorded() {
	cat "$1/pids" 2>/dev/null
}

# assert_gone LINES: every "name pid starttime" process has exited.
assert_gone() {
	local name pid start
	while read -r name pid start; do
		[[ -n "$pid" ]] || continue
		if _stack_alive "$pid" "$start"; then
			fail "$name (pid $pid) still runs"
		fi
	done <<<"$1"
}

# assert_port_free PORT
assert_port_free() {
	_stack_port_listening "$1" && fail "port $1 is still in use"
	return 0
}
