#!/usr/bin/env python3
"""Render the payload reference of docs/topics.md from schemas/json/*.schema.json.

    scripts/docs_topics.py            rewrite the generated section of docs/topics.md
    scripts/docs_topics.py --check    exit 1 (and show a diff) if it is out of date

The section lies between the two marker lines BEGIN_MARKER and END_MARKER;
everything outside them is hand-written and left alone.  Only the keywords
the jetwire schemas use are understood: a schema that uses any other keyword
makes the script fail, so a constraint is never silently left out of the
documentation.  Standard library only.
"""

import argparse
import difflib
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN_MARKER = "<!-- BEGIN generated payloads: scripts/docs_topics.py renders this from schemas/json; do not edit by hand -->"
END_MARKER = "<!-- END generated payloads -->"

# SPEC order; any other schema follows, alphabetically.
ORDER = ["orderStatus", "driverAssignment", "location", "presence", "orderOffer", "notification"]

SCHEMA_KEYWORDS = {"$schema", "$id", "title", "description", "type", "required", "properties",
                   "additionalProperties"}
PROPERTY_KEYWORDS = {"type", "description", "enum", "minLength", "maxLength", "minimum", "maximum",
                     "exclusiveMinimum", "exclusiveMaximum", "format", "properties", "required",
                     "additionalProperties"}
FORMATS = {"date-time": "RFC 3339 date-time, UTC, e.g. `2026-11-25T23:00:48.568Z`"}

# What each field means, for fields whose schema has no "description".  Every
# field must have one or the other; an entry for a field the schema does not
# have is an error too, so this table cannot drift from the schemas.
MEANINGS = {
    ("orderStatus", "orderId"): "the order's id (the mapped id column, as text)",
    ("orderStatus", "orderNumber"): "the order's human-readable number; null when the column is NULL",
    ("orderStatus", "status"): "the status after this transition, exactly as stored in the database "
                               "(one of the bridge's `statuses`)",
    ("orderStatus", "previousStatus"): "the status before this transition (`status` of the previous "
                                       "message); null in the first message of an order",
    ("orderStatus", "version"): "the order's version, strictly increasing per order in commit order; "
                                "drop a message whose version is at or below the one you hold",
    ("orderStatus", "timestamp"): "when the change was captured (the trigger's clock), milliseconds",
    ("driverAssignment", "orderId"): "the order's id",
    ("driverAssignment", "driverId"): "the assigned driver's id; null when the driver of this `role` "
                                      "was unassigned",
    ("driverAssignment", "role"): "which assignment changed: `pickup` or `delivery`",
    ("driverAssignment", "name"): "the driver's name from the driver table; null when not mapped, "
                                  "not found or unassigned",
    ("driverAssignment", "rating"): "the driver's rating; null when not mapped, not found, out of "
                                    "range or unassigned",
    ("driverAssignment", "vehicleType"): "the driver's vehicle type; null when not mapped, not found "
                                         "or unassigned",
    ("driverAssignment", "version"): "the order's version (shared with the status message of the "
                                     "same change); keep it per `role`",
    ("driverAssignment", "timestamp"): "when the change was captured",
    ("location", "lat"): "latitude, degrees (WGS 84)",
    ("location", "lng"): "longitude, degrees",
    ("location", "heading"): "direction of travel, degrees clockwise from north",
    ("location", "speed"): "metres per second",
    ("location", "accuracy"): "horizontal accuracy, metres",
    ("location", "orderId"): "the order the driver is working on, if any (informational; stored by "
                             "the bridge, not used for access)",
    ("location", "ts"): "the device's clock when the position was taken; the plugin refuses a value "
                        "more than `location_max_skew` (default 300 s) from the broker's clock",
    ("presence", "status"): "`online` (published after connecting) or `offline` (going off duty, or "
                            "the last will); a presence payload is at most 256 bytes",
    ("presence", "ts"): "the time of the connection attempt, the same in the will and the `online` "
                        "message; at most `location_max_skew` in the future",
    ("orderOffer", "orderId"): "the order offered",
    ("orderOffer", "orderNumber"): "its human-readable number, or null",
    ("orderOffer", "pickup"): "the merchant's pickup point",
    ("orderOffer", "pickup.lat"): "latitude, degrees",
    ("orderOffer", "pickup.lng"): "longitude, degrees",
    ("orderOffer", "distanceKm"): "great-circle distance from the driver's last position to the "
                                  "pickup point, kilometres, three decimals",
    ("orderOffer", "expiresAt"): "when the offer lapses (`offer_lifetime` after it was sent); the MQTT "
                                 "message expires at the same time",
    ("notification", "id"): "the notification row's id",
    ("notification", "title"): "title text",
    ("notification", "body"): "body text",
    ("notification", "data"): "the row's `data` column (a JSON object), or null when absent or not "
                              "mapped",
    ("notification", "timestamp"): "when the row was captured",
}


class SchemaError(Exception):
    pass


def fmt_number(v):
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def render_type(name, prop):
    if "enum" in prop:
        return " or ".join("`%s`" % json.dumps(v) for v in prop["enum"])
    t = prop.get("type")
    if t is None:
        raise SchemaError("property %s has neither type nor enum" % name)
    types = t if isinstance(t, list) else [t]
    for x in types:
        if x not in ("string", "number", "integer", "boolean", "object", "array", "null"):
            raise SchemaError("property %s: unknown type %r" % (name, x))
    return " or ".join(types)


def render_constraints(name, prop):
    parts = []
    lo, hi = prop.get("minLength"), prop.get("maxLength")
    if lo is not None or hi is not None:
        if lo is not None and hi is not None:
            parts.append("length %s..%s characters" % (lo, hi))
        elif hi is not None:
            parts.append("at most %s characters" % hi)
        else:
            parts.append("at least %s characters" % lo)
    lo = prop.get("minimum")
    hi = prop.get("maximum")
    xlo = prop.get("exclusiveMinimum")
    xhi = prop.get("exclusiveMaximum")
    if lo is not None and xlo is not None or hi is not None and xhi is not None:
        raise SchemaError("property %s has both an inclusive and an exclusive bound" % name)
    if lo is not None and hi is None and xhi is None:
        parts.append("≥ %s" % fmt_number(lo))
    elif hi is not None and lo is None and xlo is None:
        parts.append("≤ %s" % fmt_number(hi))
    elif lo is not None and hi is not None:
        parts.append("%s..%s" % (fmt_number(lo), fmt_number(hi)))
    elif any(b is not None for b in (lo, hi, xlo, xhi)):
        left = ""
        if lo is not None:
            left = "%s ≤ " % fmt_number(lo)
        elif xlo is not None:
            left = "%s < " % fmt_number(xlo)
        right = ""
        if hi is not None:
            right = " ≤ %s" % fmt_number(hi)
        elif xhi is not None:
            right = " < %s" % fmt_number(xhi)
        parts.append("%svalue%s" % (left, right))
    f = prop.get("format")
    if f is not None:
        if f not in FORMATS:
            raise SchemaError("property %s: format %r is not known to docs_topics.py" % (name, f))
        parts.append(FORMATS[f])
    return "; ".join(parts)


def escape_cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def property_rows(title, prefix, obj, required, rows, used):
    for name, prop in obj.items():
        unknown = set(prop) - PROPERTY_KEYWORDS
        if unknown:
            raise SchemaError("property %s%s uses %s, which docs_topics.py cannot render"
                              % (prefix, name, ", ".join(sorted(unknown))))
        full = prefix + name
        meaning = MEANINGS.get((title, full))
        if meaning is not None:
            used.add((title, full))
        parts = [p for p in (prop.get("description"), meaning) if p]
        if not parts:
            raise SchemaError("field %s has no description: add one to the schema or to MEANINGS "
                              "in scripts/docs_topics.py" % full)
        cells = [
            "`%s`" % full,
            render_type(full, prop),
            "yes" if name in required else "no",
            render_constraints(full, prop),
            "; ".join(parts),
        ]
        rows.append("| " + " | ".join(escape_cell(c) for c in cells) + " |")
        if "properties" in prop:
            if prop.get("additionalProperties", True) is not False:
                raise SchemaError("object %s must set additionalProperties false" % full)
            property_rows(title, full + ".", prop["properties"], set(prop.get("required", [])), rows,
                          used)
        elif "required" in prop or "additionalProperties" in prop:
            raise SchemaError("property %s has required/additionalProperties without properties" % full)


def render_schema(path, used):
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SchemaError("%s: %s" % (path, e))
    unknown = set(schema) - SCHEMA_KEYWORDS
    if unknown:
        raise SchemaError("%s: top-level keyword(s) %s not understood by docs_topics.py"
                          % (path.name, ", ".join(sorted(unknown))))
    title = schema.get("title")
    if not title:
        raise SchemaError("%s: no title" % path.name)
    if schema.get("type") != "object" or "properties" not in schema:
        raise SchemaError("%s: expected an object schema with properties" % path.name)
    if schema.get("additionalProperties", True) is not False:
        raise SchemaError("%s: expected additionalProperties false" % path.name)
    required = schema.get("required", [])
    missing = [r for r in required if r not in schema["properties"]]
    if missing:
        raise SchemaError("%s: required field(s) %s not in properties" % (path.name, ", ".join(missing)))
    rows = []
    try:
        property_rows(title, "", schema["properties"], set(required), rows, used)
    except SchemaError as e:
        raise SchemaError("%s: %s" % (path.name, e))
    out = [
        "### %s" % title,
        "",
        schema.get("description", "").strip(),
        "",
        "Schema: [`schemas/json/%s`](../schemas/json/%s). Fields are listed in schema order (a message "
        "may order them differently); **no other field** is allowed." % (path.name, path.name),
        "",
        "| field | type | required | constraints | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    out.extend(rows)
    out.append("")
    return title, "\n".join(out)


def render(schema_dir):
    paths = sorted(schema_dir.glob("*.schema.json"))
    if not paths:
        raise SchemaError("no *.schema.json in %s" % schema_dir)
    rendered = {}
    used = set()
    for p in paths:
        title, text = render_schema(p, used)
        if title in rendered:
            raise SchemaError("two schemas have the title %s" % title)
        rendered[title] = text
    stale = sorted(set(MEANINGS) - used)
    if stale:
        raise SchemaError("MEANINGS in scripts/docs_topics.py names field(s) no schema has: %s"
                          % ", ".join("%s.%s" % k for k in stale))
    names = [n for n in ORDER if n in rendered] + sorted(n for n in rendered if n not in ORDER)
    body = ["", "Generated from %d schemas." % len(names), ""]
    for n in names:
        body.append(rendered[n])
    return "\n".join(body)


def splice(doc_text, generated, doc_name):
    b = doc_text.find(BEGIN_MARKER)
    e = doc_text.find(END_MARKER)
    if b < 0 or e < 0 or e < b:
        raise SchemaError("%s: the marker lines are missing or out of order:\n  %s\n  %s"
                          % (doc_name, BEGIN_MARKER, END_MARKER))
    if doc_text.find(BEGIN_MARKER, b + 1) >= 0 or doc_text.find(END_MARKER, e + 1) >= 0:
        raise SchemaError("%s: a marker line appears twice" % doc_name)
    return doc_text[:b + len(BEGIN_MARKER)] + "\n" + generated + "\n" + doc_text[e:]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 and print a diff if the document is out of date")
    ap.add_argument("--schemas", type=pathlib.Path, default=ROOT / "schemas" / "json",
                    help="directory of *.schema.json (default: schemas/json)")
    ap.add_argument("--doc", type=pathlib.Path, default=ROOT / "docs" / "topics.md",
                    help="document to update (default: docs/topics.md)")
    args = ap.parse_args(argv)
    try:
        current = args.doc.read_text(encoding="utf-8")
    except OSError as e:
        print("docs_topics.py: %s" % e, file=sys.stderr)
        return 2
    try:
        wanted = splice(current, render(args.schemas), args.doc)
    except SchemaError as e:
        print("docs_topics.py: %s" % e, file=sys.stderr)
        return 2
    if args.check:
        if wanted == current:
            print("%s: payload section up to date" % args.doc)
            return 0
        sys.stdout.writelines(difflib.unified_diff(
            current.splitlines(True), wanted.splitlines(True),
            fromfile=str(args.doc), tofile=str(args.doc) + " (from the schemas)"))
        print("docs_topics.py: %s is out of date with %s: run scripts/docs_topics.py"
              % (args.doc, args.schemas), file=sys.stderr)
        return 1
    if wanted != current:
        args.doc.write_text(wanted, encoding="utf-8")
        print("%s: payload section rewritten" % args.doc)
    else:
        print("%s: payload section already up to date" % args.doc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
