#!/bin/sh
# expect_rejects.sh PYTHON VALIDATOR SCHEMA_DIR WORKDIR
#
# The validator must refuse what breaks the schemas: feed it one file of bad
# messages (and one good one among them) and check that it exits 1 and
# reports exactly the bad lines; then check that --require-some exits 2 on
# a file with nothing to validate.
set -u
py="$1"; validator="$2"; schemas="$3"; work="$4"
mkdir -p "$work" || exit 1
bad="$work/bad_payloads.tsv"
none="$work/no_payloads.tsv"
fail() { echo "expect_rejects: $*" >&2; exit 1; }

T='	'
# Line numbers matter: the checks below name them.
cat > "$bad" <<EOF
order/o1/status${T}{"orderId":"o1","orderNumber":null,"status":"pending","previousStatus":null,"version":1,"timestamp":"2026-11-25T22:50:01.123Z"}
order/o1/status${T}{"orderId":"o1","orderNumber":null,"status":"pending","previousStatus":null,"timestamp":"2026-11-25T22:50:01.123Z"}
order/o1/status${T}{"orderId":"o1","orderNumber":null,"status":"pending","previousStatus":null,"version":0,"timestamp":"2026-11-25T22:50:01.123Z"}
order/o1/status${T}{"orderId":"o1","orderNumber":null,"status":"pending","previousStatus":null,"version":1,"timestamp":"2026-11-25 22:50:01+00"}
order/o1/status${T}{"orderId":"o1","orderNumber":null,"status":"","previousStatus":null,"version":1,"timestamp":"2026-11-25T22:50:01.123Z","extra":1}
order/o1/driver${T}{"orderId":"o1","driverId":"d1","role":"both","name":null,"rating":6,"vehicleType":null,"version":1,"timestamp":"2026-11-25T22:50:01.123Z"}
customer/c1/notifications${T}{"id":"n1","title":"t","body":"b","data":[1],"timestamp":"2026-11-25T22:50:01.123Z"}
driver/d1/location${T}{"lat":91,"lng":0,"ts":1}
driver/d1/presence${T}{"status":"away","ts":1}
driver/d1/offers${T}{"orderId":"o1","orderNumber":null,"pickup":{"lat":0},"distanceKm":-1,"expiresAt":"2026-02-30T00:00:00Z"}
order/o1/status${T}{"orderId":"o1",
order/o1/status${T}{"orderId":"o1","orderId":"o1","orderNumber":null,"status":"s","previousStatus":null,"version":1,"timestamp":"2026-11-25T22:50:01.123Z"}
order/o2/status${T}{"orderId":"o1","orderNumber":null,"status":"s","previousStatus":null,"version":1,"timestamp":"2026-11-25T22:50:01.123Z"}
driver/d1/location${T}{"lat":NaN,"lng":0,"ts":1}
order/o1/status
jetwire/bridge/status${T}{"anything":"goes"}
EOF
# invalid UTF-8 inside a string (line 17)
printf 'customer/c1/notifications\t{"id":"n1","title":"caf\303","body":"b","data":null,"timestamp":"2026-11-25T22:50:01.123Z"}\n' >> "$bad"

out="$("$py" "$validator" "$schemas" "$bad" 2>&1)"
rc=$?
echo "$out"
[ "$rc" -eq 1 ] || fail "validator exited $rc on bad payloads, want 1"
for n in 2 3 4 5 6 7 8 9 10 11 12 13 14 15 17; do
	echo "$out" | grep -q "^$bad:$n: " || fail "line $n of $bad was not reported"
done
echo "$out" | grep -q "^$bad:1: " && fail "valid line 1 was reported"
echo "$out" | grep -q "^$bad:16: " && fail "skipped line 16 was reported"
echo "$out" | grep -q "^15 messages invalid, 1 valid (by schema: orderStatus=1), 1 skipped$" \
	|| fail "summary line missing or wrong"
# specific reasons
echo "$out" | grep -q "^$bad:2: .*'version' is a required property" || fail "line 2: no 'required' error"
echo "$out" | grep -q "^$bad:4: .*timestamp.*date-time" || fail "line 4: timestamp not refused as date-time"
echo "$out" | grep -q "^$bad:5: .*Additional properties" || fail "line 5: extra property not refused"
echo "$out" | grep -q "^$bad:13: .*does not match the topic" || fail "line 13: topic mismatch not refused"

printf 'jetwire/bridge/status\t{"state":"online"}\n$CONTROL/jetwire/v1\t{}\norder/o1/status\t\n' > "$none"
out="$("$py" "$validator" --require-some "$schemas" "$none" 2>&1)"
rc=$?
echo "$out"
[ "$rc" -eq 2 ] || fail "--require-some on a file with nothing to validate exited $rc, want 2"
echo "$out" | grep -q "no message was validated" || fail "--require-some gave no reason"
echo "$out" | grep -q "^0 messages valid (by schema: none), 3 skipped$" || fail "summary for skipped-only file wrong"

echo "expect_rejects: ok"
exit 0
