#!/usr/bin/env bash
# Sets up and runs Cruddur for development: the API on :4567 (PORT), traced.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build -p backend
echo
echo "Cruddur API:  http://localhost:${PORT:-4567}/api/activities/home"
echo "Health:       http://localhost:${PORT:-4567}/api/health"
echo "Spans go where OTEL_EXPORTER_OTLP_ENDPOINT points (see README); Ctrl-C stops."
echo
exec cargo run -q -p backend
