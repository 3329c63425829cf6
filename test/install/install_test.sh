#!/usr/bin/env bash
# `cmake --install` of the test build, checked end to end (docs/install.md):
#
#  1. install to a temporary prefix: every expected file is there, executable
#     or readable; the generated examples and the systemd unit name files of
#     that install; no @JW_...@ left over; the SQL, JSON Schemas, ACL and
#     docs are the repository's; the installed jetwire-migrate carries the
#     installed migrations;
#  2. a real mosquitto started with the installed conf.d snippet (only its
#     listeners moved to free loopback ports), as the user mosquitto when it
#     exists, like Debian's service: a token-authenticated client gets a
#     message, clients without a token or with a wrong one are refused;
#  3. the installed jetwire-bridge --check-config accepts the installed
#     example (database and secret set) and refuses a broken copy with
#     exit 2 and FILE:LINE;
#  4. systemd-analyze verify (and the offline security rating) of the
#     installed unit, when systemd-analyze exists;
#  5. ACL files are kept when changed locally, updated when not;
#  6. install with DESTDIR: files under DESTDIR, paths inside without it.
#
# Run by ctest (test/install/CMakeLists.txt) with JW_BUILD_DIR, JW_SOURCE_DIR,
# JW_MOSQUITTO and the install directories in the environment.
set -euo pipefail

die() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
skip() { echo "SKIP - $*"; }

for v in JW_BUILD_DIR JW_SOURCE_DIR JW_MOSQUITTO JW_INSTALL_BINDIR JW_INSTALL_LIBDIR \
		JW_INSTALL_SYSCONFDIR JW_INSTALL_DATADIR JW_INSTALL_DOCDIR ; do
	[[ -n "${!v:-}" ]] || die "$v is not set (run this test through ctest)"
done
build="$JW_BUILD_DIR"
src="$JW_SOURCE_DIR"
for tool in mosquitto_sub mosquitto_pub python3; do
	command -v "$tool" >/dev/null || die "$tool not found (scripts/deps.sh installs it)"
done

tmp="$(mktemp -d /tmp/jetwire-install-XXXXXX)"
chmod 755 "$tmp"
broker_pid=""
cleanup() {
	if [[ -n "$broker_pid" ]] && kill -0 "$broker_pid" 2>/dev/null; then
		kill -TERM "$broker_pid" 2>/dev/null || true
		wait "$broker_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# An absolute directory (e.g. -DCMAKE_INSTALL_SYSCONFDIR=/etc) would escape
# the temporary prefix: then only the DESTDIR run below is safe.
absolute_dirs=""
for d in "$JW_INSTALL_BINDIR" "$JW_INSTALL_LIBDIR" "$JW_INSTALL_SYSCONFDIR" "$JW_INSTALL_DATADIR" \
		"$JW_INSTALL_DOCDIR"; do
	[[ "$d" == /* ]] && absolute_dirs+=" $d"
done

# full DIR: a configured directory under the prefix $prefix (absolute ones as they are)
full() { if [[ "$1" == /* ]]; then echo "$1"; else echo "$prefix/$1"; fi; }

if [[ -n "$absolute_dirs" ]]; then
	# Install with a DESTDIR, and check the files there.
	prefix=/usr/local
	root="$tmp/root"
	DESTDIR="$root" cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 \
		|| { cat "$tmp/install.log"; die "cmake --install failed"; }
	skip "install to a bare prefix: absolute install directories configured:$absolute_dirs (checked under DESTDIR=$root instead)"
else
	prefix="$tmp/prefix"
	root=""
	cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 \
		|| { cat "$tmp/install.log"; die "cmake --install --prefix $prefix failed"; }
	ok "cmake --install $build --prefix $prefix"
fi
grep -q "CMake Warning" "$tmp/install.log" && { cat "$tmp/install.log"; die "cmake --install printed a warning"; }

bindir="$(full "$JW_INSTALL_BINDIR")"
libdir="$(full "$JW_INSTALL_LIBDIR")"
sysconfdir="$(full "$JW_INSTALL_SYSCONFDIR")"
[[ "$prefix" == /usr && "$JW_INSTALL_SYSCONFDIR" != /* ]] && sysconfdir="/$JW_INSTALL_SYSCONFDIR"
datadir="$(full "$JW_INSTALL_DATADIR")"
docdir="$(full "$JW_INSTALL_DOCDIR")"
# JETWIRE_SYSTEMD_UNIT_DIR is cmake/install.cmake's: read where it went.
unit="$(sed -n 's/^-- \(Installing\|Up-to-date\): \(.*\/jetwire-bridge\.service\)$/\2/p' "$tmp/install.log")"
[[ -n "$unit" ]] || { cat "$tmp/install.log"; die "cmake --install did not install jetwire-bridge.service"; }
unit="${unit#"$root"}"
confdir="$sysconfdir/jetwire"
share="$datadir/jetwire"

# ---- 1. the files ----
need_exec() { [[ -f "$root$1" && -x "$root$1" ]] || die "missing or not executable: $root$1"; }
need_read() { [[ -f "$root$1" && -r "$root$1" ]] || die "missing or not readable: $root$1"; }
same() { cmp -s "$1" "$root$2" || die "$root$2 differs from $1 (or is missing)"; }

bins=(jetwire-bridge jetwire-migrate jetwire-acl jetwire-token jetwire-driver-sim)
[[ -e "$build/jetwire-order-sim" ]] && bins+=(jetwire-order-sim)
for b in "${bins[@]}"; do need_exec "$bindir/$b"; done
ok "executables in $bindir: ${bins[*]}"
need_read "$libdir/jetwire/jetwire_plugin.so"
ok "plugin: $libdir/jetwire/jetwire_plugin.so"

n=0
while IFS= read -r -d '' f; do
	rel="${f#"$src/acl/"}"
	same "$f" "$confdir/acl/$rel"
	same "$f" "$share/acl/$rel"
	n=$((n + 1))
done < <(find "$src/acl" -type f -print0)
[[ $n -gt 0 ]] || die "no ACL file in $src/acl"
ok "ACL files ($n) in $confdir/acl and $share/acl"

n=0
while IFS= read -r -d '' f; do
	same "$f" "$share/schemas/${f#"$src/schemas/"}"
	n=$((n + 1))
done < <(find "$src/schemas" -type f -print0)
need_read "$share/schemas/migrations/0001_capture.sql"
need_read "$share/schemas/demo/tables.sql"
need_read "$share/schemas/json/orderStatus.schema.json"
ok "SQL and JSON Schemas ($n files) in $share/schemas"

while IFS= read -r -d '' f; do
	same "$f" "$docdir/${f#"$src/docs/"}"
done < <(find "$src/docs" -type f -print0)
ok "documentation in $docdir"

snippet="$share/examples/mosquitto-jetwire.conf"
bridge_example="$share/examples/jetwire-bridge.conf"
for f in "$snippet" "$bridge_example" "$unit"; do
	need_read "$f"
	if grep -n '@JW_[A-Z_]*@' "$root$f"; then die "$root$f: template placeholders left"; fi
done
ok "generated: $snippet, $bridge_example, $unit"

# The installed migrate carries exactly the installed migrations.
diff <("$root$bindir/jetwire-migrate" --list | cut -f1) \
	<(find "$root$share/schemas/migrations" -maxdepth 1 -name '*.sql' -printf '%f\n' | sed 's|\.sql$||' | sort) \
	|| die "jetwire-migrate --list differs from $share/schemas/migrations"
ok "jetwire-migrate --list matches $share/schemas/migrations"

"$root$bindir/jetwire-acl" check "$root$confdir/acl/default.acl" >/dev/null \
	|| die "installed jetwire-acl check refuses the installed default.acl"
ok "installed jetwire-acl check accepts the installed default.acl"

# The paths the generated files name (values of "key value" lines / Key=value).
conf_value() { sed -n "s/^$2[[:space:]]\{1,\}//p" "$root$1" | head -n 1; }
plugin_path="$(conf_value "$snippet" plugin)"
acl_path="$(conf_value "$snippet" plugin_opt_acl_file)"
secret_path="$(conf_value "$snippet" plugin_opt_jwt_secret_file)"
[[ "$plugin_path" == "$libdir/jetwire/jetwire_plugin.so" ]] || die "snippet: plugin $plugin_path"
[[ "$acl_path" == "$confdir/acl/default.acl" ]] || die "snippet: plugin_opt_acl_file $acl_path"
[[ "$secret_path" == "$confdir/jwt.secret" ]] || die "snippet: plugin_opt_jwt_secret_file $secret_path"
[[ "$(conf_value "$bridge_example" jwt_secret_file)" == "$secret_path" ]] \
	|| die "$bridge_example: jwt_secret_file is not the broker's secret $secret_path"
grep -qx "ExecStart=$bindir/jetwire-bridge -c $confdir/bridge.conf" "$root$unit" || die "$unit: ExecStart"
grep -qx "ExecStartPre=$bindir/jetwire-bridge -c $confdir/bridge.conf --check-config" "$root$unit" \
	|| die "$unit: ExecStartPre"
grep -qx "LoadCredential=jwt.secret:$secret_path" "$root$unit" || die "$unit: LoadCredential"
ok "the snippet, the bridge example and the unit name the installed plugin, ACL, binary and $confdir"

# ---- 2. mosquitto with the installed snippet ----
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
mqtt_port="$(free_port)"
ws_port="$(free_port)"
while [[ "$ws_port" == "$mqtt_port" ]]; do ws_port="$(free_port)"; done

install -d -m 755 "$root$confdir"
(umask 077; python3 -c 'import secrets; print(secrets.token_hex(32), end="")' >"$root$secret_path")
user_line=""
run_as="$(id -un)"
if [[ $(id -u) -eq 0 ]]; then
	if getent passwd mosquitto >/dev/null; then
		# As docs/install.md says: the secret readable by group mosquitto.
		chown root:mosquitto "$root$secret_path"
		chmod 640 "$root$secret_path"
		run_as=mosquitto
	else
		user_line="user root"
		run_as=root
	fi
fi

# A Debian-like main file including conf.d/, and the snippet with only its
# listeners moved to loopback test ports.
mkdir -p "$tmp/conf.d"
sed -e "s/^listener 1883\$/listener $mqtt_port 127.0.0.1/" \
	-e "s/^listener 8080\$/listener $ws_port 127.0.0.1/" \
	-e "s/^#socket_domain ipv4\$/socket_domain ipv4/" \
	"$root$snippet" >"$tmp/conf.d/jetwire.conf"
if [[ -n "$root" ]]; then
	# installed under DESTDIR: the files are there, not at the paths named
	sed -i -E "s#^(plugin|plugin_opt_acl_file|plugin_opt_jwt_secret_file) /#\1 $root/#" "$tmp/conf.d/jetwire.conf"
fi
for l in "listener $mqtt_port 127.0.0.1" "listener $ws_port 127.0.0.1" "socket_domain ipv4"; do
	grep -qx "$l" "$tmp/conf.d/jetwire.conf" || die "the snippet has no '${l%% [0-9]*} ...' line to adapt"
done
cat >"$tmp/mosquitto.conf" <<EOF
$user_line
persistence false
log_dest stderr
log_type all
include_dir $tmp/conf.d
EOF
broker_env=()
if [[ -n "${JW_BROKER_PRELOAD:-}" ]]; then
	# ASan build: mosquitto itself is not instrumented
	broker_env=(LD_PRELOAD="$JW_BROKER_PRELOAD" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1)
fi
env ${broker_env[@]+"${broker_env[@]}"} "$JW_MOSQUITTO" -c "$tmp/mosquitto.conf" >"$tmp/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 200); do
	kill -0 "$broker_pid" 2>/dev/null || { cat "$tmp/broker.log"; die "mosquitto exited at start"; }
	port_open "$mqtt_port" && port_open "$ws_port" && break
	sleep 0.05
done
if ! port_open "$mqtt_port" || ! port_open "$ws_port"; then
	cat "$tmp/broker.log"
	die "mosquitto did not open ports $mqtt_port and $ws_port in 10 s"
fi
grep -q "jetwire" "$tmp/broker.log" || { cat "$tmp/broker.log"; die "the broker log does not mention the plugin"; }
ok "mosquitto (as $run_as) runs with the installed snippet: MQTT on $mqtt_port, WebSocket on $ws_port"

token() { "$root$bindir/jetwire-token" --secret-file "$root$secret_path" --ttl 300 --sub "$1" --role "$2"; }
m=(-h 127.0.0.1 -p "$mqtt_port" -V mqttv5 -u jwt)
# A retained notification, then customer 42 reads it with its token.
mosquitto_pub "${m[@]}" -i service-bridge -P "$(token bridge service)" -q 1 -r \
	-t customer/42/notifications -m '{"id":"install-test"}' \
	|| { cat "$tmp/broker.log"; die "the service token was refused"; }
got="$(mosquitto_sub "${m[@]}" -i customer-42 -P "$(token 42 customer)" -t customer/42/notifications -C 1 -W 10)" \
	|| { cat "$tmp/broker.log"; die "customer 42 with a token: no message (exit $?)"; }
[[ "$got" == '{"id":"install-test"}' ]] || die "customer 42 received '$got'"
ok "a client with a token connects and receives its notification"

set +e
out="$(mosquitto_sub "${m[@]}" -i customer-42 -t customer/42/notifications -C 1 -W 10 2>&1)"
rc=$?
set -e
[[ $rc -ne 0 ]] || die "a client without a token was let in (output: $out)"
grep -qi "not authori" <<<"$out" || die "a client without a token: unexpected refusal: $out"
ok "a client without a token is refused: $out"

wrong="$(JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')" \
	"$root$bindir/jetwire-token" --ttl 300 --sub 42 --role customer)"
set +e
out="$(mosquitto_sub "${m[@]}" -i customer-42 -P "$wrong" -t customer/42/notifications -C 1 -W 10 2>&1)"
rc=$?
set -e
[[ $rc -ne 0 ]] || die "a token signed with another secret was accepted"
grep -qi "not authori" <<<"$out" || die "a wrong token: unexpected refusal: $out"
ok "a token signed with another secret is refused: $out"

kill -TERM "$broker_pid"
wait "$broker_pid" || die "mosquitto exited with status $? on SIGTERM"
broker_pid=""
ok "mosquitto stopped cleanly"

# ---- 3. the bridge's --check-config on the installed example ----
conf="$tmp/bridge.conf"
sed "s|^database .*|database postgresql://jetwire_bridge@127.0.0.1:5432/jetwire_install_test|" \
	"$root$bridge_example" >"$conf"
grep -q "^database postgresql://jetwire_bridge@127.0.0.1:5432/jetwire_install_test\$" "$conf" \
	|| die "$bridge_example has no database line"
if [[ -n "$root" ]]; then
	sed -i "s|^jwt_secret_file .*|jwt_secret_file $root$secret_path|" "$conf"
fi
out="$(env -u JWT_SECRET "$root$bindir/jetwire-bridge" -c "$conf" --check-config 2>&1)" \
	|| die "jetwire-bridge --check-config refused the installed example: $out"
[[ "$out" == "configuration OK" ]] || die "--check-config printed: $out"
ok "installed jetwire-bridge --check-config accepts the installed example: $out"

broken="$tmp/bridge-broken.conf"
cp "$conf" "$broken"
echo "mqtt_prot 1884" >>"$broken"
line="$(wc -l <"$broken")"
set +e
out="$(env -u JWT_SECRET "$root$bindir/jetwire-bridge" -c "$broken" --check-config 2>&1)"
rc=$?
set -e
[[ $rc -eq 2 ]] || die "--check-config on a broken file: exit $rc (expected 2): $out"
[[ "$out" == "jetwire-bridge: $broken:$line: unknown option 'mqtt_prot'"* ]] \
	|| die "--check-config on a broken file printed: $out"
ok "a broken copy is refused with exit 2: $out"

# ---- 4. the systemd unit ----
if command -v systemd-analyze >/dev/null 2>&1; then
	if [[ -n "$root" ]]; then
		skip "systemd-analyze verify: the unit names paths outside DESTDIR"
	else
		out="$(systemd-analyze verify "$unit" 2>&1)" || die "systemd-analyze verify $unit: $out"
		[[ -z "$out" ]] || die "systemd-analyze verify $unit: $out"
		ok "systemd-analyze verify $unit: no complaint"
		rating="$(systemd-analyze security --offline=yes "$unit" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: //p')"
		[[ "$rating" =~ (SAFE|OK) ]] || die "systemd-analyze security rates the unit '$rating' (expected OK or SAFE)"
		ok "systemd-analyze security --offline: $rating"
	fi
else
	skip "systemd-analyze not found: the unit $unit is not verified"
fi

# ---- 5. ACL files: kept when changed, updated when not ----
acl="$root$confdir/acl/default.acl"
echo "# changed by the administrator" >>"$acl"
rerun() {
	if [[ -n "$root" ]]; then
		DESTDIR="$root" cmake --install "$build" --prefix "$prefix" --component config 2>&1
	else
		cmake --install "$build" --prefix "$prefix" --component config 2>&1
	fi
}
out="$(rerun)" || die "reinstall failed: $out"
tail -n 1 "$acl" | grep -qx "# changed by the administrator" || die "a changed ACL was overwritten"
same "$src/acl/default.acl" "$confdir/acl/default.acl.new"
grep -q "Kept: $acl" <<<"$out" || die "reinstall did not say it kept $acl: $out"
ok "a locally changed ACL is kept, the new one left as default.acl.new"

# As if the previous release had shipped (and installed) other rules.
echo "# rules of an older release" >"$acl"
cp "$acl" "$root$share/acl/default.acl"
rm -f "$acl.new"
out="$(rerun)" || die "reinstall failed: $out"
same "$src/acl/default.acl" "$confdir/acl/default.acl"
[[ ! -e "$acl.new" ]] || die "an unchanged ACL got a .new file"
ok "an unchanged ACL is updated"

# ---- 6. DESTDIR ----
if [[ -z "$root" ]]; then
	dest_prefix=/opt/jetwire-install-test
	[[ ! -e "$dest_prefix" ]] || die "$dest_prefix exists: cannot tell whether DESTDIR was honoured"
	destdir="$tmp/destdir"
	DESTDIR="$destdir" cmake --install "$build" --prefix "$dest_prefix" >"$tmp/install-destdir.log" 2>&1 \
		|| { cat "$tmp/install-destdir.log"; die "DESTDIR install failed"; }
	[[ ! -e "$dest_prefix" ]] || die "the DESTDIR install wrote to $dest_prefix"
	for b in "${bins[@]}"; do
		[[ -x "$destdir$dest_prefix/$JW_INSTALL_BINDIR/$b" ]] || die "DESTDIR: $b missing"
	done
	s="$destdir$dest_prefix/$JW_INSTALL_DATADIR/jetwire/examples/mosquitto-jetwire.conf"
	u="$(sed -n 's/^-- \(Installing\|Up-to-date\): \(.*\/jetwire-bridge\.service\)$/\2/p' "$tmp/install-destdir.log")"
	[[ "$u" == "$destdir$dest_prefix/"* ]] || die "DESTDIR: the unit went to '$u'"
	grep -qx "plugin $dest_prefix/$JW_INSTALL_LIBDIR/jetwire/jetwire_plugin.so" "$s" || die "DESTDIR: snippet plugin path"
	grep -qx "ExecStart=$dest_prefix/$JW_INSTALL_BINDIR/jetwire-bridge -c $dest_prefix/$JW_INSTALL_SYSCONFDIR/jetwire/bridge.conf" "$u" \
		|| die "DESTDIR: unit ExecStart"
	if grep -rl "$destdir" "$destdir$dest_prefix/$JW_INSTALL_DATADIR/jetwire/examples" "$u"; then
		die "DESTDIR leaked into the generated files"
	fi
	ok "DESTDIR=$destdir --prefix $dest_prefix: files under DESTDIR, paths inside name $dest_prefix"
fi

echo "all install checks passed"
