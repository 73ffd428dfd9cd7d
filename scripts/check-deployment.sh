#!/usr/bin/env bash
# Checks what can be checked of the deployment with no Docker engine: the compose files through
# a real compose parser (Debian's docker-compose 1.29, `config`), the properties they promise,
# and the Dockerfiles through hadolint. The images themselves are not built here.
set -euo pipefail
cd "$(dirname "$0")/.."

production=(-f docker-compose.yml -f docker-compose.production.yml)
required=(CRUDDUR_API_URL=https://api.example.com FRONTEND_URL=https://example.com
  CRUDDUR_TRUSTED_PROXIES=172.16.0.0/12 POSTGRES_PASSWORD=example
  DATABASE_URL=postgres://cruddur:example@db:5432/cruddur)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== compose files (docker-compose config)"
# A clean environment: what the files say, not what this shell happens to export.
env -i PATH="$PATH" docker-compose -f docker-compose.yml config > "$tmp/development.yml"
env -i PATH="$PATH" "${required[@]}" docker-compose "${production[@]}" config > "$tmp/production.yml"
if env -i PATH="$PATH" docker-compose "${production[@]}" config -q 2>/dev/null; then
  echo "the production profile must refuse to start without its public addresses" >&2
  exit 1
fi

# Debian's python3 carries PyYAML (docker-compose needs it).
/usr/bin/python3 - "$tmp/development.yml" "$tmp/production.yml" <<'PY'
import sys, yaml

def load(path):
    return yaml.safe_load(open(path))["services"]

def seconds(text):
    return float(text.rstrip("s"))

def check(condition, message):
    if not condition:
        sys.exit(f"docker-compose: {message}")

development, production = load(sys.argv[1]), load(sys.argv[2])
check({"frontend", "api", "backend", "xray-daemon", "db"} <= set(development),
      "the services are frontend, api, backend, xray-daemon and db")
for name, service in development.items():
    check(service.get("restart") == "unless-stopped", f"{name} restarts unless stopped")
    check(list(service.get("networks", {})) == ["cruddur"], f"{name} is on the one network")
backend = development["backend"]
check(backend["healthcheck"]["test"] == ["CMD", "/usr/local/bin/backend", "health-check"],
      "the backend's health check is the binary's own")
# CRUDDUR_SHUTDOWN_TIMEOUT (5 s) + the relay's drain (1.5 s) + the exporters' flush (3 s).
check(seconds(backend["stop_grace_period"]) > 5 + 1.5 + 3,
      "stop_grace_period outlasts the backend's shutdown deadline and flush")
check(backend["environment"]["CRUDDUR_LOCAL_TRACES"] == "on",
      "the development stack has the local trace view on")
# `--scale backend=N`: no replica may claim a host port or a fixed name.
check("ports" not in backend and "container_name" not in backend,
      "the backend has no host port nor container name, so it scales")
api = development["api"]
check(all(str(port).startswith("127.0.0.1:") for port in api["ports"]),
      "the API's proxy is published on loopback only")
check(any(":4567:4567" in str(port) for port in api["ports"]), "the API is on :4567")
check(api["depends_on"].get("backend", {}).get("condition") == "service_healthy",
      "the API's proxy waits for a healthy backend")
check(any(str(volume).endswith("deploy/api-proxy.conf:/etc/nginx/conf.d/default.conf:ro")
          for volume in api["volumes"]),
      "the API's proxy runs deploy/api-proxy.conf")
check(all(str(port).startswith("127.0.0.1:") for port in development["xray-daemon"]["ports"]),
      "the X-Ray daemon's ports (its TCP proxy signs with your keys) are on loopback only")
check({"2000:2000/udp", "2000:2000/tcp"} <= {str(p).split(":", 1)[1] for p in development["xray-daemon"]["ports"]},
      "the daemon's UDP port and TCP proxy are both there")
check(backend["depends_on"].get("db", {}).get("condition") == "service_healthy",
      "the backend waits for the database")
for variable in ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "HONEYCOMB_API_KEY",
                 "OTEL_SERVICE_NAME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
                 "AWS_XRAY_URL", "FRONTEND_URL", "DATABASE_URL", "CRUDDUR_XRAY_EXPORTER",
                 "CRUDDUR_XRAY_OTLP_ENDPOINT", "CRUDDUR_XRAY_API_KEY"]:
    check(variable in backend["environment"], f"the backend gets {variable} from the shell")
check(backend["environment"]["OTEL_EXPORTER_OTLP_HEADERS"] is None,
      "an unset OTLP header stays unset, never empty")

frontend, backend = production["frontend"], production["backend"]
check(frontend["build"]["target"] == "production", "production serves the users' bundle")
check(frontend["environment"]["CRUDDUR_API_URL"].startswith("https://"),
      "production gives the browser the API's https:// address")
for variable, value in {"CRUDDUR_LOCAL_TRACES": "off", "CRUDDUR_SEED_DATA": "off"}.items():
    check(backend["environment"][variable] == value, f"production sets {variable}={value}")
check(backend["environment"]["CRUDDUR_TRUSTED_PROXIES"], "production names its trusted proxies")
check("CRUDDUR_XRAY_EXPORTER" in backend["environment"], "production can choose X-Ray's exporter")
PY
echo "compose files: valid, and they keep their promises"

echo "== the API's proxy (nginx -t)"
# Debian's nginx parses deploy/api-proxy.conf as the image includes it, inside http {}.
mkdir "$tmp/nginx"
printf 'pid %s/nginx.pid;\nerror_log stderr;\nevents {}\nhttp { include %s/deploy/api-proxy.conf; }\n' \
  "$tmp/nginx" "$PWD" >"$tmp/nginx/nginx.conf"
/usr/sbin/nginx -t -q -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf"
echo "the API's proxy: valid"

echo "== Dockerfiles (hadolint)"
hadolint --failure-threshold warning backend/Dockerfile frontend/Dockerfile
echo "Dockerfiles: clean"
