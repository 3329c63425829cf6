#!/usr/bin/env python3
"""Check the relative links of the documentation.

    check_links.py ROOT

Every Markdown link in ROOT/README.md and ROOT/docs/*.md whose target is not
a URL must name an existing file or directory, and a `#fragment` on a
Markdown file must name one of its headings (GitHub's anchor rules).  Links
inside code blocks and code spans are ignored.  Exit 1 listing every broken
link, 0 otherwise.  Standard library only.
"""

import pathlib
import re
import sys

LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXPLICIT_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")


def strip_code(text, spans=True):
    """The text with fenced code blocks blanked and (spans) code spans removed."""
    out = []
    fence = None
    for line in text.split("\n"):
        m = re.match(r"^\s*(```+|~~~+)", line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            out.append("")
            continue
        if m:
            fence = m.group(1)
            out.append("")
            continue
        out.append(re.sub(r"(`+)(.+?)\1", "", line) if spans else line)
    return "\n".join(out)


def slug(heading):
    parts = re.split(r"(`[^`]*`)", heading)
    h = ""
    for i, part in enumerate(parts):
        if i % 2:
            h += part[1:-1]                                 # code spans keep their text, <x> too
        else:
            part = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", part)  # links keep their text
            h += re.sub(r"<[^>]+>", "", part)               # HTML tags go
    h = h.strip().lower()
    h = "".join(c for c in h if c.isalnum() or c in " -_")
    return h.replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        seen = {}
        found = set()
        for line in strip_code(path.read_text(encoding="utf-8"), spans=False).split("\n"):
            m = HEADING.match(line)
            if m:
                s = slug(m.group(2))
                n = seen.get(s, 0)
                seen[s] = n + 1
                found.add(s if n == 0 else "%s-%d" % (s, n))
            for a in EXPLICIT_ANCHOR.findall(line):
                found.add(a)
        cache[path] = found
    return cache[path]


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    root = pathlib.Path(argv[0]).resolve()
    files = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    broken = []
    checked = 0
    for f in files:
        if not f.exists():
            continue
        text = strip_code(f.read_text(encoding="utf-8"))
        for lineno, line in enumerate(text.split("\n"), 1):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue                              # http:, https:, mailto:
                checked += 1
                path_part, _, frag = target.partition("#")
                dest = (f.parent / path_part).resolve() if path_part else f
                where = "%s:%d: %s" % (f.relative_to(root), lineno, target)
                if not dest.exists():
                    broken.append("%s: no such file" % where)
                    continue
                if frag and dest.suffix == ".md" and frag not in anchors(dest):
                    broken.append("%s: no heading #%s in %s" % (where, frag, dest.relative_to(root)))
    for b in broken:
        print(b)
    print("%d links checked, %d broken" % (checked, len(broken)))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
