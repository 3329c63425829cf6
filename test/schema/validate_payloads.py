#!/usr/bin/env python3
"""Validate MQTT payloads against jetwire's JSON Schemas (schemas/json/).

    validate_payloads.py [--require-some] SCHEMA_DIR FILE...

Each FILE holds one message per line, "TOPIC<TAB>PAYLOAD" (as
test/schema/dump_sample_payloads writes them, or as captured from a broker).
The schema is picked by topic:

    order/+/status        orderStatus
    order/+/driver        driverAssignment
    driver/+/location     location
    driver/+/presence     presence
    driver/+/offers       orderOffer
    +/+/notifications     notification

Other topics (jetwire/bridge/..., $CONTROL/..., $SYS/...) and empty payloads
(a retained message being cleared) are counted as skipped.  Besides the
schema, a payload must be strict JSON in UTF-8 (no NaN, no duplicate keys)
and the orderId of an order/{orderId}/... message must be the one in its
topic.  "format": "date-time" is asserted: by jsonschema's FormatChecker
when it can (it needs rfc3339-validator, which Debian 12 does not install
with python3-jsonschema), otherwise by an RFC 3339 check here.

Exit status: 0 all valid; 1 some message invalid (each printed as
"FILE:LINE: TOPIC: error"); 2 usage error, python3-jsonschema missing, or
--require-some and a FILE with no validated message.
"""

import argparse
import datetime
import json
import os
import re
import sys

try:
    import jsonschema
except ImportError:
    sys.stderr.write(
        "validate_payloads: the Python module jsonschema is not installed "
        "(Debian: apt-get install python3-jsonschema)\n")
    sys.exit(2)

Validator = getattr(jsonschema, "Draft202012Validator", None)
if Validator is None:
    sys.stderr.write(
        "validate_payloads: jsonschema %s has no Draft202012Validator; "
        "need 4.0 or later (Debian 12: python3-jsonschema)\n"
        % getattr(jsonschema, "__version__", "?"))
    sys.exit(2)

# (topic pattern, schema name); "+" is one level, as in MQTT.
ROUTES = [
    (("order", "+", "status"), "orderStatus"),
    (("order", "+", "driver"), "driverAssignment"),
    (("driver", "+", "location"), "location"),
    (("driver", "+", "presence"), "presence"),
    (("driver", "+", "offers"), "orderOffer"),
    (("+", "+", "notifications"), "notification"),
]

# RFC 3339 section 5.6 date-time (the "T"/"Z" may be lower case there).
RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"([Zz]|[+-](\d{2}):(\d{2}))$")


def check_date_time(text):
    """None if text is an RFC 3339 date-time, else why not."""
    m = RFC3339.match(text)
    if not m:
        return "%r is not an RFC 3339 date-time" % text
    year, month, day, hour, minute, sec = (int(g) for g in m.groups()[:6])
    try:
        datetime.datetime(year, month, day, hour, minute, min(sec, 59))
    except ValueError as e:
        return "%r is not an RFC 3339 date-time (%s)" % (text, e)
    if sec > 60 or (sec == 60 and minute != 59):
        return "%r is not an RFC 3339 date-time (second %d)" % (text, sec)
    if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return "%r is not an RFC 3339 date-time (offset)" % text
    return None


def route(topic):
    if topic.startswith("$"):
        return None
    levels = topic.split("/")
    for pattern, name in ROUTES:
        if len(levels) == len(pattern) and all(
                p == "+" or p == lv for p, lv in zip(pattern, levels)):
            return name
    return None


def strict_pairs(pairs):
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError("duplicate key %r" % key)
        seen.add(key)
    return dict(pairs)


def no_constants(name):
    raise ValueError("%s is not JSON" % name)


def load_schemas(schema_dir):
    schemas = {}
    fmt = jsonschema.FormatChecker()
    for _, name in ROUTES:
        path = os.path.join(schema_dir, name + ".schema.json")
        try:
            with open(path, encoding="utf-8") as f:
                schema = json.load(f)
        except (OSError, ValueError) as e:
            sys.stderr.write("validate_payloads: %s: %s\n" % (path, e))
            sys.exit(2)
        try:
            Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            sys.stderr.write("validate_payloads: %s: invalid schema: %s\n" % (path, e.message))
            sys.exit(2)
        dt_fields = [k for k, v in schema.get("properties", {}).items()
                     if isinstance(v, dict) and v.get("format") == "date-time"]
        if "date-time" in fmt.checkers:
            dt_fields = []  # the format checker does it (needs rfc3339-validator)
        schemas[name] = (Validator(schema, format_checker=fmt), dt_fields)
    return schemas


def validate_message(schemas, name, topic, payload):
    """A list of error strings (empty: valid)."""
    try:
        text = payload.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        return ["payload is not valid UTF-8 (%s)" % e.reason]
    try:
        doc = json.loads(text, object_pairs_hook=strict_pairs, parse_constant=no_constants)
    except ValueError as e:
        return ["payload is not JSON: %s" % e]
    validator, dt_fields = schemas[name]
    errors = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path)
        errors.append("%s: %s%s" % (name, (where + ": ") if where else "", err.message))
    if isinstance(doc, dict):
        for key in dt_fields:
            value = doc.get(key)
            if isinstance(value, str):
                why = check_date_time(value)
                if why:
                    errors.append("%s: %s: %s" % (name, key, why))
        levels = topic.split("/")
        if levels[0] == "order" and isinstance(doc.get("orderId"), str) \
                and doc["orderId"] != levels[1]:
            errors.append("%s: orderId %r does not match the topic" % (name, doc["orderId"]))
    return errors


def main(argv):
    ap = argparse.ArgumentParser(
        description="Validate TOPIC<TAB>PAYLOAD lines against jetwire's JSON Schemas.")
    ap.add_argument("--require-some", action="store_true",
                    help="exit 2 if a file has no message that was validated")
    ap.add_argument("schema_dir", metavar="SCHEMA_DIR")
    ap.add_argument("files", metavar="FILE", nargs="+")
    args = ap.parse_args(argv)

    schemas = load_schemas(args.schema_dir)
    by_schema = {}
    valid = skipped = invalid = 0
    empty_files = []
    for path in args.files:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            sys.stderr.write("validate_payloads: %s\n" % e)
            return 2
        checked_here = 0
        for lineno, line in enumerate(data.split(b"\n"), 1):
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line.strip():
                continue
            topic_b, tab, payload = line.partition(b"\t")
            topic = topic_b.decode("utf-8", errors="replace")
            if not tab:
                print("%s:%d: %s: no TAB between topic and payload" % (path, lineno, topic))
                invalid += 1
                continue
            name = route(topic)
            if name is None or payload == b"":
                skipped += 1
                continue
            checked_here += 1
            errors = validate_message(schemas, name, topic, payload)
            if errors:
                invalid += 1
                for e in errors:
                    print("%s:%d: %s: %s" % (path, lineno, topic, e))
            else:
                valid += 1
                by_schema[name] = by_schema.get(name, 0) + 1
        if checked_here == 0:
            empty_files.append(path)

    summary = ", ".join("%s=%d" % (k, by_schema[k]) for k in sorted(by_schema)) or "none"
    if invalid:
        print("%d messages invalid, %d valid (by schema: %s), %d skipped"
              % (invalid, valid, summary, skipped))
        return 1
    print("%d messages valid (by schema: %s), %d skipped" % (valid, summary, skipped))
    if args.require_some and empty_files:
        for path in empty_files:
            sys.stderr.write("validate_payloads: %s: no message was validated\n" % path)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
