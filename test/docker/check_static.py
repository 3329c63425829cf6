#!/usr/bin/env python3
"""Static checks of docker/: the Dockerfiles and compose.yaml.

No Docker engine runs on the project's machines, so the images are never
built here.  This checks what can be checked without one, against the real
repository, the real `cmake --install` of the test build and Debian 12's
package lists:

compose.yaml
  - parses; only known top-level keys; every service has an image or a build
    whose context and Dockerfile exist; services naming one image build it
    the same way;
  - depends_on names services; a dependency with a health check (compose's
    or its image's HEALTHCHECK) is waited for with service_healthy, a one-shot
    one with service_completed_successfully, nothing else;
  - secrets and named volumes are declared; a secret's uid/gid is the numeric
    id of the image's USER, mode 0400, and its path is the one the
    configuration reads;
  - published container ports are the image's EXPOSEd ports and mosquitto's
    listeners;
  - entrypoints exist in their image; the environment a service sets for one
    of our scripts is read by that script; the bridge's JETWIRE_BRIDGE_*
    environment is accepted by the real `jetwire-bridge --check-config`.
each Dockerfile
  - every FROM is debian:12 / debian:12-slim / bookworm (or an earlier stage);
    multi-stage; a non-root USER in the final stage, created there with a
    fixed uid; a HEALTHCHECK; `# syntax=docker/dockerfile:1` when COPY --chmod
    is used; ENTRYPOINT/CMD/HEALTHCHECK in exec form;
  - COPY sources exist in the repository and are not excluded by the
    Dockerfile's .dockerignore;
  - the build stage's `cmake --install --component ...` is replayed on the
    test build (DESTDIR, same prefix): every COPY --from path exists in it,
    and every program it installs is one of the stage's --target list;
  - every package of every `apt-get install` exists in Debian 12 (apt-cache
    policy: a bookworm candidate);
  - every shared library the copied programs need (readelf NEEDED) comes from
    a package the final stage installs (or Debian's required base);
  - ENTRYPOINT/CMD/HEALTHCHECK programs exist in the final image (installed by
    cmake --install, copied from docker/, or shipped by an installed package);
  - the scripts copied in pass shellcheck, and every command they run exists
    in the image;
  - the broker's mosquitto.conf names the plugin, ACL, secret and web root
    the image has.
hadolint and `docker buildx build --check` are run when present; otherwise
the output says they were not.

Usage: check_static.py --source REPO --build BUILD_DIR
Prints ok/SKIP/FAIL lines; exit status 1 if anything failed.
"""
import argparse
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

FAILURES = []


def ok(msg):
    print(f"ok - {msg}")


def skip(msg):
    print(f"SKIP - {msg}")


def fail(msg):
    FAILURES.append(msg)
    print(f"FAIL - {msg}")


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


# ---------------------------------------------------------------- Dockerfiles

class Instr:
    def __init__(self, cmd, rest, line):
        self.cmd = cmd
        self.rest = rest
        self.line = line
        self.flags = {}
        self.exec_form = None
        body = rest
        if cmd in ("FROM", "COPY", "ADD", "RUN", "HEALTHCHECK"):
            while True:
                m = re.match(r"--([a-z-]+)(?:=(\S+))?\s+", body)
                if not m:
                    break
                self.flags[m.group(1)] = m.group(2) if m.group(2) is not None else True
                body = body[m.end():]
        self.body = body.strip()
        if self.body.startswith("["):
            try:
                self.exec_form = json.loads(self.body)
            except ValueError:
                self.exec_form = None


class Stage:
    def __init__(self, base, name, index):
        self.base = base
        self.name = name
        self.index = index
        self.instrs = []


class Dockerfile:
    def __init__(self, path):
        self.path = path
        self.directives = {}
        self.stages = []
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for ln in lines:
            m = re.match(r"#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$", ln)
            if not m:
                break
            self.directives[m.group(1).lower()] = m.group(2)
        buf, start = None, 0
        for n, raw in enumerate(lines, 1):
            s = raw.strip()
            if buf is None:
                if not s or s.startswith("#"):
                    continue
                buf, start = "", n
            elif not s or s.startswith("#"):
                continue
            if raw.rstrip().endswith("\\"):
                buf += raw.rstrip()[:-1] + " "
                continue
            buf += raw.strip()
            self._add(buf.strip(), start)
            buf = None
        if buf is not None:
            raise ValueError(f"{path}: the last instruction ends with a line continuation")

    def _add(self, text, line):
        cmd, _, rest = text.partition(" ")
        ins = Instr(cmd.upper(), rest.strip(), line)
        if ins.cmd == "FROM":
            words = ins.body.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            self.stages.append(Stage(words[0], name, len(self.stages)))
        elif not self.stages:
            if ins.cmd != "ARG":
                raise ValueError(f"{self.path}:{line}: {ins.cmd} before the first FROM")
            return
        self.stages[-1].instrs.append(ins)

    @property
    def final(self):
        return self.stages[-1]


def apt_packages(stage):
    """Packages of every `apt-get install` of a stage."""
    pkgs = []
    for ins in stage.instrs:
        if ins.cmd != "RUN":
            continue
        for seg in re.split(r"&&|;|\|\|", ins.body):
            words = seg.split()
            if "apt-get" in words and "install" in words:
                after = words[words.index("install") + 1:]
                pkgs += [w for w in after if not w.startswith("-") and "=" not in w]
    return pkgs


def users_created(stage):
    """{name: uid} of `useradd --uid N ... NAME` in a stage."""
    users = {}
    for ins in stage.instrs:
        if ins.cmd != "RUN":
            continue
        for seg in re.split(r"&&|;", ins.body):
            words = shlex.split(seg)
            if words[:1] != ["useradd"]:
                continue
            uid = None
            for i, w in enumerate(words):
                if w in ("--uid", "-u") and i + 1 < len(words):
                    uid = words[i + 1]
                elif w.startswith("--uid="):
                    uid = w.split("=", 1)[1]
            users[words[-1]] = uid
    return users


def dockerignore_patterns(dockerfile_path, context):
    for cand in (dockerfile_path + ".dockerignore", os.path.join(context, ".dockerignore")):
        if os.path.exists(cand):
            pats = []
            with open(cand, encoding="utf-8") as f:
                for ln in f:
                    ln = ln.strip()
                    if ln and not ln.startswith("#"):
                        pats.append(ln)
            return cand, pats
    return None, []


def ignored(rel, patterns):
    """Docker's rule, simplified: the last matching pattern wins; a pattern
    excludes a path when it matches it or one of its parent directories."""
    rel = rel.strip("/")
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    result = False
    for p in patterns:
        neg = p.startswith("!")
        pat = p[1:] if neg else p
        pat = pat.strip("/")
        for pre in prefixes:
            if fnmatch.fnmatchcase(pre, pat) or (pat.startswith("**/") and (
                    fnmatch.fnmatchcase(pre, pat[3:]) or fnmatch.fnmatchcase(pre.split("/")[-1], pat[3:]))):
                result = not neg
                break
    return result


# ---------------------------------------------------------------- Debian

def host_has_package_lists():
    d = "/var/lib/apt/lists"
    return os.path.isdir(d) and any("Packages" in f for f in os.listdir(d))


_policy_cache = {}


def bookworm_packages(pkgs):
    """{pkg: True/False}: has a candidate from a bookworm archive."""
    key = tuple(sorted(set(pkgs)))
    if key in _policy_cache:
        return dict(_policy_cache[key])
    res = run(["apt-cache", "policy"] + list(key))
    found = {p: False for p in pkgs}
    cur = None
    for ln in res.stdout.split("\n"):
        m = re.match(r"^(\S+):$", ln)
        if m:
            cur = m.group(1)
            continue
        if cur in found and re.search(r"\sbookworm(-updates|-security)?/main\s", ln):
            found[cur] = True
    _policy_cache[key] = dict(found)
    return found


_closure_cache = {}


def closure(pkgs):
    """Packages pulled in by Depends/Pre-Depends of pkgs (apt-cache depends --recurse)."""
    key = tuple(sorted(set(pkgs)))
    if key in _closure_cache:
        return _closure_cache[key]
    res = run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
               "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"] + list(key))
    out = set(key)
    for ln in res.stdout.split("\n"):
        m = re.match(r"^\s*(?:\|?(?:Pre)?Depends:\s*)?<?([a-z0-9][a-z0-9+.-]+)>?(?::\S+)?\s*$", ln)
        if m:
            out.add(m.group(1))
    _closure_cache[key] = out
    return out


_base_cache = []


def required_base():
    """What every Debian image has: packages of priority required (and apt)."""
    if not _base_cache:
        res = run(["dpkg-query", "-W", "-f", "${Package} ${Priority}\n"])
        base = {ln.split()[0] for ln in res.stdout.split("\n") if ln.endswith(" required")}
        base.add("apt")
        _base_cache.append(closure(sorted(base)))
    return _base_cache[0]


_dpkg = {}


def dpkg_index():
    """{path: package} and {package: set of paths} of the packages installed
    on this machine (dpkg's file lists)."""
    if not _dpkg:
        by_path, by_pkg = {}, {}
        info = "/var/lib/dpkg/info"
        for f in os.listdir(info) if os.path.isdir(info) else []:
            if not f.endswith(".list"):
                continue
            pkg = f[:-5].split(":")[0]
            with open(os.path.join(info, f), encoding="utf-8", errors="replace") as fh:
                paths = set(ln.rstrip("\n") for ln in fh if ln.strip())
            by_pkg.setdefault(pkg, set()).update(paths)
            for p in paths:
                by_path.setdefault(p, pkg)
        _dpkg["path"], _dpkg["pkg"] = by_path, by_pkg
    return _dpkg["path"], _dpkg["pkg"]


def package_of_path(path):
    by_path, _ = dpkg_index()
    for p in (path, re.sub(r"^/usr/", "/", path), "/usr" + path):
        if p in by_path:
            return by_path[p]
    return None


def package_of_soname(soname):
    by_path, _ = dpkg_index()
    for p, pkg in by_path.items():
        if p.endswith("/" + soname) and "-linux-gnu/" in p:
            return pkg
    return None


def package_files(pkg):
    _, by_pkg = dpkg_index()
    return by_pkg.get(pkg)


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def elf_needed(path):
    """[(soname, resolved path or None)] of the libraries a program needs
    directly (readelf NEEDED), resolved as the loader does here (ldd)."""
    res = run(["readelf", "-d", path])
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", res.stdout)
    resolved = {}
    res = run(["ldd", path])
    for m in re.finditer(r"^\s*(\S+) => (/\S+)", res.stdout, re.M):
        resolved[m.group(1)] = m.group(2)
    return [(so, resolved.get(so)) for so in needed]


# ---------------------------------------------------------------- image model

class Image:
    """What the final stage of a Dockerfile contains, as far as we can know:
    files copied from the build stage (from the replayed install), files
    copied from the repository, and the files of its apt packages."""

    def __init__(self, name, df, source, stage_root):
        self.name = name
        self.df = df
        self.files = {}       # path in the image -> host path
        self.executable = set()
        self.packages = apt_packages(df.final)
        self.base = None
        for ins in df.final.instrs:
            if ins.cmd not in ("COPY", "ADD"):
                continue
            args = ins.exec_form if ins.exec_form is not None else shlex.split(ins.body)
            srcs, dest = args[:-1], args[-1]
            for src in srcs:
                if "from" in ins.flags:
                    if stage_root is None:
                        continue
                    host = os.path.join(stage_root, src.lstrip("/"))
                else:
                    host = os.path.join(source, src)
                self._add(host, src, dest, ins.flags.get("chmod"))

    def _add(self, host, src, dest, chmod):
        if os.path.isdir(host):
            for dirpath, _, files in os.walk(host):
                for f in files:
                    h = os.path.join(dirpath, f)
                    rel = os.path.relpath(h, host)
                    self._file(h, os.path.join(dest, rel), chmod)
        elif os.path.exists(host):
            target = os.path.join(dest, os.path.basename(src)) if dest.endswith("/") else dest
            self._file(host, target, chmod)

    def _file(self, host, target, chmod):
        target = os.path.normpath(target)
        self.files[target] = host
        if (chmod and int(chmod, 8) & 0o111) or (not chmod and os.access(host, os.X_OK)):
            self.executable.add(target)

    def has_program(self, path):
        """(True/False/None, how): None = cannot tell here."""
        if path in self.files:
            return (path in self.executable), "copied into the image"
        for pkg in self.packages:
            files = package_files(pkg)
            if files is None:
                continue
            if path in files or re.sub(r"^/usr/", "/", path) in files:
                return True, f"from the package {pkg}"
        if self.base is None:
            self.base = required_base()
        for pkg in ("coreutils", "bash", "dash", "sed", "grep", "findutils"):
            files = package_files(pkg) or set()
            if pkg in self.base and (path in files or re.sub(r"^/usr/", "/", path) in files):
                return True, f"from Debian's base ({pkg})"
        return False, "not found"

    def command(self, word):
        """Is the command `word` on the image's PATH?"""
        for d in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
            p = f"{d}/{word}"
            if p in self.files:
                return p in self.executable, p
        host = shutil.which(word, path="/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        if host is None or host.startswith("/usr/local/"):
            return False, None
        pkg = package_of_path(os.path.realpath(host)) or package_of_path(host)
        if pkg is None:
            return None, host
        allowed = closure(self.packages) | (self.base or required_base())
        self.base = self.base or required_base()
        return pkg in allowed, f"{host} ({pkg})"


# ---------------------------------------------------------------- compose helpers

def interpolate(value, env=None):
    """${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}: with VAR unset
    (the checks use the defaults)."""
    env = env or {}
    if not isinstance(value, str):
        return value

    def sub(m):
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        if name in env:
            return env[name]
        if op in (":-", "-"):
            return arg
        return ""
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|-|:\?|\?)([^}]*))?\}", sub, value)


def env_dict(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        d = {}
        for item in env:
            k, _, v = item.partition("=")
            d[k] = v
        env = d
    return {k: interpolate(str(v)) for k, v in env.items()}


def exec_list(v):
    if v is None:
        return None
    if isinstance(v, str):
        return shlex.split(v)
    return list(v)


SHELL_WORDS = set("""
if then else elif fi for in do done case esac while until function return exit
local export readonly set unset shift trap wait kill echo printf read test true false
cd exec eval source . : [ [[ ]] { } ! break continue command builtin type declare
""".split())


def strip_shell_text(text):
    """The shell text with comments and quoted strings removed, except the
    command substitutions inside double quotes, which are put on lines of
    their own (they run commands too)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            out.append(" ")
            i += 2
        elif c == "'":
            j = text.find("'", i + 1)
            out.append("''")
            i = j + 1 if j >= 0 else n
        elif c == '"':
            j, subs = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    j += 2
                elif text.startswith("$(", j):
                    depth, k = 1, j + 2
                    while k < n and depth:
                        depth += {"(": 1, ")": -1}.get(text[k], 0)
                        k += 1
                    subs.append(text[j + 2:k - 1])
                    j = k
                else:
                    j += 1
            out.append('""')
            out += ["\n" + strip_shell_text(sub) + "\n" for sub in subs]
            i = j + 1
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n;"):
            j = text.find("\n", i)
            i = j if j >= 0 else n
        else:
            out.append(c)
            i += 1
    return "".join(out)


def script_commands(path):
    """Words in command position in a shell script (a heuristic: skips
    comments, quoted text, assignments, keywords and the script's own
    functions)."""
    with open(path, encoding="utf-8") as f:
        text = strip_shell_text(f.read())
    functions = set(re.findall(r"^\s*([A-Za-z_][\w-]*)\s*\(\)", text, re.M))
    cmds = set()
    for ln in text.split("\n"):
        s = ln.strip()
        for m in re.finditer(r"(?:^|[;&|]\s*|\$\(\s*|\bthen\s+|\bdo\s+|\belse\s+)([A-Za-z_][\w.-]*)", s):
            word = m.group(1)
            rest = s[m.end():]
            if re.match(r"\+?=|\(\)", rest) or word in SHELL_WORDS or word in functions:
                continue
            cmds.add(word)
    return cmds


# ---------------------------------------------------------------- checks

def replay_install(build, df, prefix_root, name):
    """Replays the build stage's cmake --install on the test build; returns
    (stage root, installed programs, --target list) or None."""
    build_stage = None
    for st in df.stages[:-1]:
        for ins in st.instrs:
            if ins.cmd == "RUN" and "cmake --install" in ins.body:
                build_stage = (st, ins)
    if build_stage is None:
        fail(f"{name}: no build stage running `cmake --install`")
        return None
    st, ins = build_stage
    body = ins.body
    m = re.search(r"-DCMAKE_INSTALL_PREFIX=(\S+)", body)
    prefix = m.group(1) if m else "/usr/local"
    m = re.search(r"DESTDIR=(\S+)", body)
    destdir = m.group(1) if m else None
    if destdir is None:
        fail(f"{name}: the build stage installs without DESTDIR (expected DESTDIR=/stage)")
        return None
    comps = []
    m = re.search(r"for\s+\w+\s+in\s+([\w\s-]+?);\s*do", body)
    if m:
        comps = m.group(1).split()
    comps += re.findall(r"--component\s+([\w-]+)", body)
    if not comps:
        fail(f"{name}: the build stage's cmake --install names no --component")
        return None
    m = re.search(r"--target\s+((?:[\w.-]+\s*)+?)(?:&&|$)", body)
    targets = m.group(1).split() if m else []

    cache = os.path.join(build, "CMakeCache.txt")
    with open(cache, encoding="utf-8") as f:
        cachetext = f.read()
    for var, want in (("CMAKE_INSTALL_LIBDIR", "lib"), ("CMAKE_INSTALL_BINDIR", "bin"),
                      ("CMAKE_INSTALL_SYSCONFDIR", "etc"), ("CMAKE_INSTALL_DATADIR", "share")):
        mm = re.search(rf"^{var}:PATH=(.*)$", cachetext, re.M)
        if mm and mm.group(1) not in (want, ""):
            skip(f"{name}: the test build has {var}={mm.group(1)}, the image's build uses {want}: "
                 "install paths in the image are not replayed")
            return None

    root = os.path.join(prefix_root, name)
    for c in comps:
        env = dict(os.environ, DESTDIR=root)
        res = run(["cmake", "--install", build, "--prefix", prefix, "--component", c], env=env)
        if res.returncode != 0:
            fail(f"{name}: cmake --install --component {c} of the test build failed: {res.stderr.strip()}")
            return None
        if "CMake Warning" in res.stderr or "CMake Warning" in res.stdout:
            fail(f"{name}: cmake --install --component {c} warned: {res.stdout}{res.stderr}")
    # The web root the broker's build stage copies (cp -R /build/web DEST).
    m = re.search(r"cp -R /build/web (\S+)", body)
    web_copied = False
    if m:
        web = os.path.join(build, "web")
        if os.path.isfile(os.path.join(web, "index.html")) and os.path.isfile(os.path.join(web, "mqtt.min.js")):
            shutil.copytree(web, os.path.join(root, m.group(1).lstrip("/")[len(destdir.lstrip("/")):].lstrip("/")),
                            dirs_exist_ok=True)
            web_copied = True
        else:
            skip(f"{name}: the test build has no web root ({web}/index.html, mqtt.min.js: npm missing?); "
                 "the image's web pages are not checked")
    stage_root = os.path.join(prefix_root, name + "-stage")
    os.makedirs(stage_root, exist_ok=True)
    # The Dockerfile copies from DESTDIR: /stage/usr/local/... -> root/usr/local/...
    os.symlink(root, os.path.join(stage_root, destdir.lstrip("/")))
    programs = []
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            if is_elf(p):
                programs.append(os.path.relpath(p, root))
    ok(f"{name}: replayed the build stage's install (components {' '.join(comps)}) on the test build: "
       f"{len(programs)} programs")
    return stage_root, programs, targets, "web" if m else None, web_copied


def check_dockerfile(name, path, source, build, tmp):
    print(f"# {os.path.relpath(path, source)}")
    try:
        df = Dockerfile(path)
    except (OSError, ValueError) as e:
        fail(f"{name}: {e}")
        return None, None

    # FROM
    names = set()
    for st in df.stages:
        if st.base in names:
            pass
        elif not re.fullmatch(r"debian:(12|bookworm)(-slim)?", st.base):
            fail(f"{name}: FROM {st.base}: only debian:12, debian:12-slim or bookworm images")
        if st.name:
            names.add(st.name)
    if len(df.stages) < 2:
        fail(f"{name}: not multi-stage ({len(df.stages)} stage)")
    else:
        ok(f"{name}: {len(df.stages)} stages, FROM " + ", ".join(s.base for s in df.stages))

    uses_chmod = any("chmod" in i.flags for s in df.stages for i in s.instrs)
    if uses_chmod and not df.directives.get("syntax", "").startswith("docker/dockerfile:1"):
        fail(f"{name}: COPY --chmod needs '# syntax=docker/dockerfile:1' on the first line")

    # USER
    final = df.final
    users = [i for i in final.instrs if i.cmd == "USER"]
    created = users_created(final)
    if not users:
        fail(f"{name}: no USER in the final stage (it would run as root)")
        uid = None
    else:
        user = users[-1].body.split(":")[0]
        uid = created.get(user)
        if user in ("root", "0"):
            fail(f"{name}: the final stage runs as root")
        elif user not in created:
            fail(f"{name}: USER {user} is not created (useradd) in the final stage")
        elif not (uid and uid.isdigit() and int(uid) > 0):
            fail(f"{name}: USER {user} has no fixed non-zero uid (useradd --uid)")
        else:
            ok(f"{name}: runs as {users[-1].body} (uid {uid})")

    # exec forms
    for i in final.instrs:
        if i.cmd in ("ENTRYPOINT", "CMD") and i.exec_form is None:
            fail(f"{name}:{i.line}: {i.cmd} in shell form (use the exec form [\"...\"])")
    hc = [i for i in final.instrs if i.cmd == "HEALTHCHECK"]
    hc_cmd = None
    if not hc or hc[-1].body.upper() == "NONE":
        fail(f"{name}: no HEALTHCHECK in the final stage")
    else:
        m = re.match(r"CMD\s+(.*)$", hc[-1].body, re.S)
        try:
            hc_cmd = json.loads(m.group(1)) if m else None
        except ValueError:
            hc_cmd = None
        if not hc_cmd:
            fail(f"{name}: HEALTHCHECK CMD not in exec form")
        else:
            ok(f"{name}: HEALTHCHECK {hc_cmd[0]}")

    # COPY sources from the repository, .dockerignore
    ign_file, patterns = dockerignore_patterns(path, source)
    n = 0
    for st in df.stages:
        for i in st.instrs:
            if i.cmd not in ("COPY", "ADD") or "from" in i.flags:
                continue
            args = i.exec_form if i.exec_form is not None else shlex.split(i.body)
            for src in args[:-1]:
                n += 1
                if not os.path.exists(os.path.join(source, src)):
                    fail(f"{name}:{i.line}: COPY {src}: no such file in the repository")
                elif ignored(src, patterns):
                    fail(f"{name}:{i.line}: COPY {src}: excluded by {ign_file}")
    ok(f"{name}: {n} COPY sources exist in the repository"
       + (f", none excluded by {os.path.relpath(ign_file, source)}" if ign_file else " (no .dockerignore)"))

    # apt packages exist in Debian 12
    all_pkgs = sorted({p for st in df.stages for p in apt_packages(st)})
    if not host_has_package_lists():
        skip(f"{name}: no apt package lists on this machine (apt-get update): "
             f"packages not checked: {' '.join(all_pkgs)}")
    else:
        found = bookworm_packages(all_pkgs)
        missing = [p for p, f in found.items() if not f]
        if missing:
            fail(f"{name}: not in Debian 12 (no bookworm candidate in apt-cache policy): {' '.join(missing)}")
        else:
            ok(f"{name}: {len(all_pkgs)} apt packages exist in Debian 12: {' '.join(all_pkgs)}")

    # replay the install; COPY --from paths
    replay = replay_install(build, df, tmp, name)
    stage_root = replay[0] if replay else None
    if replay:
        _, programs, targets, web, _ = replay
        for p in programs:
            base = os.path.basename(p)
            target = base[:-3] if base.endswith(".so") else base
            if target not in targets:
                fail(f"{name}: the build stage installs {p} but does not build the target {target} "
                     f"(--target {' '.join(targets)})")
        if web and "web" not in targets:
            fail(f"{name}: the build stage copies /build/web but does not build the target web")
        for i in final.instrs:
            if i.cmd == "COPY" and "from" in i.flags:
                args = i.exec_form if i.exec_form is not None else shlex.split(i.body)
                for src in args[:-1]:
                    if not os.path.exists(os.path.join(stage_root, src.lstrip("/"))):
                        fail(f"{name}:{i.line}: COPY --from={i.flags['from']} {src}: "
                             "not produced by the build stage's install")
        ok(f"{name}: every COPY --from path is produced by the build stage")

    image = Image(name, df, source, stage_root)

    # ENTRYPOINT / CMD / HEALTHCHECK programs
    progs = []
    for i in final.instrs:
        if i.cmd in ("ENTRYPOINT", "CMD") and i.exec_form:
            progs.append((i.cmd, i.exec_form[0]))
    if hc_cmd:
        progs.append(("HEALTHCHECK", hc_cmd[0]))
    for what, prog in progs:
        if not prog.startswith("/"):
            fail(f"{name}: {what} {prog}: use an absolute path")
            continue
        if stage_root is None and prog.startswith("/usr/local/"):
            skip(f"{name}: {what} {prog}: install not replayed")
            continue
        has, how = image.has_program(prog)
        if has:
            ok(f"{name}: {what} {prog} ({how})")
        else:
            fail(f"{name}: {what} {prog}: not an executable of the image ({how})")

    # shared libraries of the copied programs
    if stage_root is not None and not host_has_package_lists():
        skip(f"{name}: no apt package lists on this machine (apt-get update): "
             "the copied programs' libraries are not checked against the final stage's packages")
    elif stage_root is not None:
        base = required_base()
        allowed = closure(image.packages) | base
        sanitizer = False
        missing = {}
        for path, host in image.files.items():
            if not is_elf(host):
                continue
            for so, lib in elf_needed(host):
                if re.match(r"lib(asan|ubsan|lsan|tsan)\.so", so):
                    sanitizer = True
                    continue
                pkg = (package_of_path(os.path.realpath(lib)) or package_of_path(lib)) if lib else None
                pkg = pkg or package_of_soname(so)
                if pkg is None:
                    missing.setdefault(f"{so} (no package on this machine has it)", []).append(path)
                elif pkg not in allowed:
                    missing.setdefault(f"{so} ({pkg})", []).append(path)
        for k, v in missing.items():
            fail(f"{name}: {k} is needed by {', '.join(sorted(v))} but not installed in the final stage")
        if not missing:
            ok(f"{name}: the libraries every copied program needs come from the final stage's packages"
               + (" (sanitizer runtimes ignored: this is a sanitizer build)" if sanitizer else ""))

    # scripts copied from docker/
    for path, host in sorted(image.files.items()):
        if not host.startswith(os.path.join(source, "docker") + os.sep):
            continue
        with open(host, "rb") as f:
            head = f.read(64)
        if not head.startswith(b"#!"):
            continue
        if path not in image.executable:
            fail(f"{name}: {path} is a script but not executable in the image")
        if shutil.which("shellcheck"):
            res = run(["shellcheck", host])
            if res.returncode != 0:
                fail(f"{name}: shellcheck {os.path.relpath(host, source)}:\n{res.stdout}")
        unknown = []
        for word in sorted(script_commands(host)):
            has, _ = image.command(word)
            if has is False:
                unknown.append(word)
        if unknown:
            fail(f"{name}: {os.path.relpath(host, source)} runs commands the image lacks: {' '.join(unknown)}")
        else:
            ok(f"{name}: {os.path.relpath(host, source)} -> {path}: "
               + ("shellcheck clean, " if shutil.which("shellcheck") else "")
               + "every command it runs is in the image")
    if not shutil.which("shellcheck"):
        skip(f"{name}: shellcheck not installed: the image's scripts are not linted")

    image.replayed = stage_root is not None
    image.web_replayed = bool(replay and replay[4])
    image.uid = uid
    image.healthcheck = bool(hc_cmd)
    image.expose = sorted({int(p.split("/")[0]) for i in final.instrs if i.cmd == "EXPOSE" for p in i.body.split()})
    return df, image


def mosquitto_conf_checks(source, image, compose_secret_path):
    if not image.replayed:
        skip("broker: mosquitto.conf not checked against the image (its install was not replayed)")
        return []
    conf_dest = None
    for dest, host in image.files.items():
        if host.endswith("mosquitto.conf") and host.startswith(os.path.join(source, "docker")):
            conf_dest, conf_host = dest, host
    if conf_dest is None:
        fail("broker: no mosquitto.conf copied from docker/")
        return []
    cmd = [i.exec_form for i in image.df.final.instrs if i.cmd == "CMD" and i.exec_form]
    if not cmd or conf_dest not in cmd[-1]:
        fail(f"broker: CMD does not run mosquitto with {conf_dest}")
    opts, listeners = {}, []
    with open(conf_host, encoding="utf-8") as f:
        for ln in f:
            ln = ln.strip()
            if not ln or ln.startswith("#"):
                continue
            k, _, v = ln.partition(" ")
            if k == "listener":
                listeners.append(int(v.split()[0]))
            opts.setdefault(k, v.strip())
    for k in ("plugin", "plugin_opt_acl_file"):
        if k not in opts:
            fail(f"broker: mosquitto.conf has no {k}")
        elif image.files and opts[k] not in image.files:
            fail(f"broker: mosquitto.conf: {k} {opts[k]} is not in the image")
    if opts.get("per_listener_settings") != "false":
        fail("broker: mosquitto.conf must set per_listener_settings false (the plugin refuses true)")
    if compose_secret_path and opts.get("plugin_opt_jwt_secret_file") != compose_secret_path:
        fail(f"broker: mosquitto.conf reads the secret from {opts.get('plugin_opt_jwt_secret_file')}, "
             f"compose puts it at {compose_secret_path}")
    ep = [i.exec_form for i in image.df.final.instrs if i.cmd == "ENTRYPOINT" and i.exec_form]
    if ep and ep[-1][0] in image.files:
        with open(image.files[ep[-1][0]], encoding="utf-8") as f:
            text = f.read()
        m = re.search(r'www="\$\{JETWIRE_WEB_ROOT:-([^}]*)\}"', text)
        if not m or m.group(1) != opts.get("http_dir"):
            fail(f"broker: http_dir {opts.get('http_dir')} is not the web root the entrypoint assembles "
                 f"({m.group(1) if m else '?'})")
        m = re.search(r'src="\$\{JETWIRE_WEB_SRC:-([^}]*)\}"', text)
        if m and image.web_replayed and not any(p.startswith(m.group(1) + "/") for p in image.files):
            fail(f"broker: the entrypoint copies the pages from {m.group(1)}, which the image does not have")
    if sorted(listeners) != image.expose:
        fail(f"broker: listeners {listeners} differ from EXPOSE {image.expose}")
    ok(f"broker: mosquitto.conf names the image's plugin and ACL, the secret {opts.get('plugin_opt_jwt_secret_file')}, "
       f"http_dir {opts.get('http_dir')}; listeners {listeners} = EXPOSE")
    return listeners


def check_compose(source, build, compose_path, images):
    print(f"# {os.path.relpath(compose_path, source)}")
    try:
        import yaml
    except ImportError:
        fail("python3-yaml is not installed (Debian: apt-get install python3-yaml): compose.yaml not checked")
        return
    try:
        with open(compose_path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        fail(f"compose.yaml does not parse: {e}")
        return
    ok("compose.yaml parses")
    here = os.path.dirname(compose_path)
    for k in doc:
        if k not in ("name", "services", "secrets", "volumes", "networks", "configs") and not k.startswith("x-"):
            fail(f"compose.yaml: unknown top-level key {k}")
    services = doc.get("services") or {}
    secrets = doc.get("secrets") or {}
    volumes = doc.get("volumes") or {}

    svc_image = {}       # service -> Image (ours) or None
    builds_of = {}
    for sname, svc in services.items():
        b = svc.get("build")
        img = svc.get("image")
        if not b and not img:
            fail(f"{sname}: neither image nor build")
            continue
        svc_image[sname] = None
        if b:
            ctx = b if isinstance(b, str) else b.get("context", ".")
            dfile = "Dockerfile" if isinstance(b, str) else b.get("dockerfile", "Dockerfile")
            ctx_path = os.path.normpath(os.path.join(here, ctx))
            df_path = os.path.normpath(os.path.join(ctx_path, dfile))
            if not os.path.isdir(ctx_path):
                fail(f"{sname}: build context {ctx} does not exist")
            if not os.path.isfile(df_path):
                fail(f"{sname}: Dockerfile {dfile} does not exist in {ctx}")
            svc_image[sname] = images.get(os.path.realpath(df_path))
            if svc_image[sname] is None:
                fail(f"{sname}: builds {os.path.relpath(df_path, source)}, which this check does not know")
            if img:
                prev = builds_of.setdefault(img, (ctx_path, df_path))
                if prev != (ctx_path, df_path):
                    fail(f"{sname}: image {img} is built from another Dockerfile by another service")
        elif img in builds_of:
            svc_image[sname] = images.get(os.path.realpath(builds_of[img][1]))
    for sname, svc in services.items():
        if svc_image.get(sname) is None and svc.get("image") in builds_of:
            svc_image[sname] = images.get(os.path.realpath(builds_of[svc["image"]][1]))
    ok(f"services: {', '.join(services)}; every build context and Dockerfile exists")

    def healthcheck_of(sname):
        svc = services[sname]
        hc = svc.get("healthcheck")
        if hc is not None:
            if hc.get("disable"):
                return False
            if hc.get("test"):
                return True
        img = svc_image.get(sname)
        return bool(img is not None and img.healthcheck)

    for sname, svc in services.items():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            fail(f"{sname}: depends_on as a list (no conditions): use the long form with condition")
            deps = {d: {} for d in deps}
        for dep, spec in deps.items():
            if dep not in services:
                fail(f"{sname}: depends_on {dep}: no such service")
                continue
            cond = (spec or {}).get("condition", "service_started")
            one_shot = services[dep].get("restart") in ("no", '"no"', False)
            if healthcheck_of(dep):
                if cond != "service_healthy":
                    fail(f"{sname}: depends_on {dep} with {cond}, but {dep} has a health check: use service_healthy")
            elif one_shot:
                if cond != "service_completed_successfully":
                    fail(f"{sname}: depends_on the one-shot {dep} with {cond}: use service_completed_successfully")
            else:
                fail(f"{sname}: depends_on {dep}, which has no health check (condition {cond})")
    ok("depends_on: service_healthy for every dependency with a health check, "
       "service_completed_successfully for the one-shot ones")

    # secrets, volumes
    secret_paths = {}
    for sname, svc in services.items():
        for s in svc.get("secrets") or []:
            spec = {"source": s} if isinstance(s, str) else s
            src = spec.get("source")
            if src not in secrets:
                fail(f"{sname}: secret {src} is not declared")
                continue
            decl = secrets[src] or {}
            if "file" in decl:
                if not os.path.exists(os.path.join(here, decl["file"])):
                    fail(f"secret {src}: file {decl['file']} does not exist")
            elif "environment" not in decl and not decl.get("external"):
                fail(f"secret {src}: neither file, environment nor external")
            target = spec.get("target", src)
            path = target if target.startswith("/") else "/run/secrets/" + target
            secret_paths.setdefault(sname, {})[src] = path
            img = svc_image.get(sname)
            if img is not None and img.uid is not None:
                if str(spec.get("uid")) != img.uid or str(spec.get("gid")) != img.uid:
                    fail(f"{sname}: secret {src} has uid {spec.get('uid')} gid {spec.get('gid')}; "
                         f"the image runs as uid/gid {img.uid}")
            if spec.get("mode") != 0o400:
                fail(f"{sname}: secret {src} mode {spec.get('mode')!r}: expected 0400")
        for v in svc.get("volumes") or []:
            src = v.split(":")[0] if isinstance(v, str) else v.get("source")
            if src and not src.startswith((".", "/")):
                if src not in volumes:
                    fail(f"{sname}: volume {src} is not declared")
            elif src and not os.path.exists(os.path.join(here, src)):
                fail(f"{sname}: bind mount {src} does not exist")
    ok("secrets and volumes are declared; secret owners match the images' users, mode 0400")

    # entrypoints, environment read by our scripts, ports, the bridge's options
    for sname, svc in services.items():
        img = svc_image.get(sname)
        env = env_dict(svc)
        ep = exec_list(svc.get("entrypoint"))
        if ep and img is not None:
            has, how = img.has_program(ep[0])
            if not has:
                fail(f"{sname}: entrypoint {ep[0]} is not an executable of its image ({how})")
            else:
                ok(f"{sname}: entrypoint {ep[0]} ({how})")
                host = img.files.get(ep[0])
                if host and not is_elf(host):
                    with open(host, encoding="utf-8") as f:
                        text = f.read()
                    unread = [k for k in env if not re.search(r"\$\{?" + re.escape(k) + r"\b", text)]
                    if unread:
                        fail(f"{sname}: sets {' '.join(unread)}, which {ep[0]} never reads")
        if svc.get("command") and img is not None and not ep:
            fail(f"{sname}: command without entrypoint: the image's entrypoint gets it as arguments")
        if sname == "broker" and img is not None:
            sp = (secret_paths.get(sname) or {}).values()
            listeners = mosquitto_conf_checks(source, img, next(iter(sp), None))
            published = []
            for p in svc.get("ports") or []:
                published.append(int(str(interpolate(p)).rsplit(":", 1)[-1].split("/")[0]))
            if sorted(published) != sorted(listeners):
                fail(f"broker: publishes container ports {published}, mosquitto listens on {listeners}")
            else:
                ok(f"broker: publishes {published} = the listeners")
        if any(k.startswith("JETWIRE_BRIDGE_") for k in env):
            check_bridge_env(sname, build, env, secret_paths.get(sname) or {})


def check_bridge_env(sname, build, env, secret_paths):
    bridge = os.path.join(build, "bridge", "jetwire-bridge")
    if not os.access(bridge, os.X_OK):
        fail(f"{sname}: {bridge} not built: the bridge's environment is not checked")
        return
    sf = env.get("JETWIRE_BRIDGE_JWT_SECRET_FILE")
    if sf and sf not in secret_paths.values():
        fail(f"{sname}: JETWIRE_BRIDGE_JWT_SECRET_FILE {sf} is none of its secrets ({', '.join(secret_paths.values())})")
    with tempfile.TemporaryDirectory() as d:
        secret = os.path.join(d, "jwt.secret")
        with open(secret, "w") as f:
            f.write("0123456789abcdef" * 4)
        os.chmod(secret, 0o600)
        run_env = {k: v for k, v in os.environ.items()
                   if not k.startswith("JETWIRE_BRIDGE_") and k != "JWT_SECRET"}
        run_env.update(env)
        if sf:
            run_env["JETWIRE_BRIDGE_JWT_SECRET_FILE"] = secret
        res = run([bridge, "--check-config"], env=run_env)
        if res.returncode != 0 or res.stdout.strip() != "configuration OK":
            fail(f"{sname}: jetwire-bridge --check-config refuses its environment: {res.stderr.strip()}")
        else:
            ok(f"{sname}: jetwire-bridge --check-config accepts its environment "
               f"({', '.join(sorted(k for k in env if k.startswith('JETWIRE_BRIDGE_')))})")


def linters(source, dockerfiles):
    print("# linters")
    if shutil.which("hadolint"):
        for df in dockerfiles:
            res = run(["hadolint", df])
            if res.returncode != 0:
                fail(f"hadolint {os.path.relpath(df, source)}:\n{res.stdout}{res.stderr}")
            else:
                ok(f"hadolint {os.path.relpath(df, source)}")
    else:
        skip("hadolint is not installed (not packaged in Debian 12): Dockerfiles not linted by it")
    res = run(["docker", "buildx", "version"]) if shutil.which("docker") else None
    if res is not None and res.returncode == 0:
        for df in dockerfiles:
            r = run(["docker", "buildx", "build", "--check", "-f", df, source])
            if r.returncode != 0:
                if "Cannot connect to the Docker daemon" in r.stderr or "daemon" in r.stderr:
                    skip(f"docker buildx build --check: no Docker engine: {r.stderr.strip().splitlines()[-1]}")
                    break
                fail(f"docker buildx build --check {os.path.relpath(df, source)}:\n{r.stdout}{r.stderr}")
            else:
                ok(f"docker buildx build --check {os.path.relpath(df, source)}")
    else:
        why = "no docker CLI" if res is None else "the docker CLI has no buildx plugin"
        skip(f"docker buildx is not available ({why}): `docker buildx build --check` not run")
    if shutil.which("docker"):
        r = run(["docker", "compose", "version"])
        if r.returncode != 0:
            skip("docker compose is not available: `docker compose config` not run")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--build", required=True)
    args = ap.parse_args(argv)
    FAILURES.clear()
    source = os.path.realpath(args.source)
    build = os.path.realpath(args.build)
    docker = os.path.join(source, "docker")
    dockerfiles = {
        "broker": os.path.join(docker, "Dockerfile.broker"),
        "bridge": os.path.join(docker, "Dockerfile.bridge"),
    }
    images = {}
    with tempfile.TemporaryDirectory(prefix="jetwire-docker-check-") as tmp:
        for name, path in dockerfiles.items():
            if not os.path.isfile(path):
                fail(f"{path} does not exist")
                continue
            _, image = check_dockerfile(name, path, source, build, tmp)
            if image is not None:
                images[os.path.realpath(path)] = image
        check_compose(source, build, os.path.join(docker, "compose.yaml"), images)
        linters(source, list(dockerfiles.values()))
    print("# NOTE: the images are not built and compose.yaml is not run here (no Docker engine);"
          " these are static checks only (docs/docker.md)")
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("all docker checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
