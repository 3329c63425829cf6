#!/usr/bin/env python3
"""check_static.py must catch real mistakes: each case below breaks one
thing in a copy of docker/ (the rest of the repository linked in) and
expects check_static.py to fail with the given message.  A checker that
passes everything would pass the real files too, so this is what gives the
docker test its meaning.

Usage: mutations.py --source REPO --build BUILD_DIR
"""
import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_static  # noqa: E402

# (file under docker/, text, replacement, expected FAIL text)
CASES = [
    ("Dockerfile.bridge", "FROM debian:12-slim", "FROM ubuntu:22.04",
     "FROM ubuntu:22.04: only debian:12"),
    ("Dockerfile.bridge", "USER jetwire:jetwire\n", "",
     "bridge: no USER in the final stage"),
    ("Dockerfile.broker", "USER mosquitto:mosquitto", "USER root",
     "broker: the final stage runs as root"),
    ("Dockerfile.broker", "mosquitto mosquitto-clients libjwt0 libjson-c5", "mosquitto mosquitto-clients libjson-c5",
     "libjwt.so.0 (libjwt0) is needed by"),
    ("Dockerfile.bridge", "postgresql-client mosquitto-clients", "postgresql-klient mosquitto-clients",
     "not in Debian 12 (no bookworm candidate in apt-cache policy): postgresql-klient"),
    ("Dockerfile.bridge", "jetwire-driver-sim jetwire-order-sim \\", "jetwire-driver-sim \\",
     "does not build the target jetwire-order-sim"),
    ("Dockerfile.broker", "COPY web/ web/", "COPY www/ www/",
     "COPY www/: no such file in the repository"),
    ("Dockerfile.broker", "COPY --from=build /stage/usr/local/etc/jetwire/ /usr/local/etc/jetwire/",
     "COPY --from=build /stage/etc/jetwire/ /usr/local/etc/jetwire/",
     "COPY --from=build /stage/etc/jetwire/: not produced by the build stage's install"),
    ("Dockerfile.bridge", 'ENTRYPOINT ["/usr/local/bin/jetwire-bridge"]', 'ENTRYPOINT ["/usr/local/bin/jetwire-brigde"]',
     "ENTRYPOINT /usr/local/bin/jetwire-brigde: not an executable of the image"),
    ("Dockerfile.broker", "HEALTHCHECK --interval=10s --timeout=10s --start-period=10s --retries=3 \\\n"
     "  CMD [\"/usr/local/bin/jetwire-broker-healthcheck\"]", "HEALTHCHECK NONE",
     "broker: no HEALTHCHECK in the final stage"),
    ("Dockerfile.bridge", "COPY --chmod=0755 docker/demo/run.sh", "COPY --chmod=0644 docker/demo/run.sh",
     "/usr/local/bin/jetwire-demo-run is a script but not executable in the image"),
    ("Dockerfile.bridge.dockerignore", "bench\n", "bench\ndocker/demo\n",
     "COPY docker/demo/init.sh: excluded by"),
    ("demo/run.sh", "jetwire-order-sim --database", "jetwire-order-simulator --database",
     "runs commands the image lacks: jetwire-order-simulator"),
    ("broker/healthcheck.sh", 'uptime="$(mosquitto_sub', 'uptime="$(psql -c x; mosquitto_sub',
     "runs commands the image lacks: psql"),
    ("broker/mosquitto.conf", "plugin /usr/local/lib/jetwire/jetwire_plugin.so", "plugin /usr/lib/jetwire/jetwire_plugin.so",
     "mosquitto.conf: plugin /usr/lib/jetwire/jetwire_plugin.so is not in the image"),
    ("broker/mosquitto.conf", "http_dir /run/jetwire/www", "http_dir /var/www",
     "http_dir /var/www is not the web root the entrypoint assembles"),
    ("compose.yaml", "      broker:\n        condition: service_healthy", "      broker:\n        condition: service_started",
     "bridge: depends_on broker with service_started, but broker has a health check"),
    ("compose.yaml", "    depends_on:\n      postgres:\n        condition: service_healthy\n    healthcheck:\n      disable: true",
     "    depends_on:\n      postgres:\n        condition: service_started\n    healthcheck:\n      disable: true",
     "demo-init: depends_on postgres with service_started"),
    ("compose.yaml", "      demo-init:\n        condition: service_completed_successfully\n    restart: unless-stopped",
     "      demo-init:\n        condition: service_started\n    restart: unless-stopped",
     "broker: depends_on the one-shot demo-init with service_started"),
    ("compose.yaml", 'uid: "1883"', 'uid: "1000"',
     "broker: secret jwt_secret has uid 1000 gid 1883; the image runs as uid/gid 1883"),
    ("compose.yaml", "JETWIRE_BRIDGE_MQTT_HOST: broker", "JETWIRE_BRIDGE_MQTT_HOTS: broker",
     "bridge: jetwire-bridge --check-config refuses its environment: jetwire-bridge: "
     "JETWIRE_BRIDGE_MQTT_HOTS: unknown option"),
    ("compose.yaml", "JETWIRE_DEMO_URL: http", "JETWIRE_DEMO_ULR: http",
     "demo: sets JETWIRE_DEMO_ULR, which /usr/local/bin/jetwire-demo-run never reads"),
    ("compose.yaml", '"${JETWIRE_BIND:-127.0.0.1}:${JETWIRE_WS_PORT:-8080}:8080"',
     '"${JETWIRE_BIND:-127.0.0.1}:${JETWIRE_WS_PORT:-8080}:8081"',
     "broker: publishes container ports [1883, 8081], mosquitto listens on [1883, 8080]"),
    ("compose.yaml", "dockerfile: docker/Dockerfile.broker", "dockerfile: docker/Dockerfile.mosquitto",
     "broker: Dockerfile docker/Dockerfile.mosquitto does not exist"),
    ("compose.yaml", "      - mosquitto-data:/var/lib/mosquitto", "      - mosquito-data:/var/lib/mosquitto",
     "broker: volume mosquito-data is not declared"),
]


def farm(source, tmp):
    """A copy of the repository: docker/ copied, everything else linked."""
    for entry in os.listdir(source):
        if entry == "docker":
            shutil.copytree(os.path.join(source, entry), os.path.join(tmp, entry), symlinks=True)
        elif not entry.startswith("build") and entry != ".git":
            os.symlink(os.path.join(source, entry), os.path.join(tmp, entry))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--build", required=True)
    args = ap.parse_args()
    source = os.path.realpath(args.source)
    failed = 0
    for i, (rel, old, new, expect) in enumerate(CASES, 1):
        with tempfile.TemporaryDirectory(prefix="jetwire-docker-mut-") as tmp:
            farm(source, tmp)
            path = os.path.join(tmp, "docker", rel)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if text.count(old) != 1:
                print(f"FAIL - case {i}: '{old}' occurs {text.count(old)} times in docker/{rel} "
                      "(the case needs updating)")
                failed += 1
                continue
            mode = os.stat(path).st_mode
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace(old, new))
            os.chmod(path, mode)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = check_static.main(["--source", tmp, "--build", args.build])
            fails = [ln for ln in out.getvalue().split("\n") if ln.startswith("FAIL - ")]
            if rc == 0 or not any(expect in ln for ln in fails):
                print(f"FAIL - case {i} (docker/{rel}: '{old[:50]}' -> '{new[:50]}'): "
                      f"expected a failure containing '{expect}', got:\n  " + "\n  ".join(fails or ["(none)"]))
                failed += 1
            else:
                print(f"ok - case {i}: docker/{rel}: caught: {expect}")
    if failed:
        print(f"{failed} of {len(CASES)} broken copies were not caught as expected")
        return 1
    print(f"all {len(CASES)} broken copies were caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
