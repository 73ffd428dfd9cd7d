#!/usr/bin/env bash
# Sets up and runs every check and test: formatting, lints, the wasm32 builds (shared/ and the
# frontend's release bundle), the frontend's unit tests in headless Chromium, and the
# workspace's tests (unit, API over HTTP, telemetry against a real OTLP receiver and a UDP X-Ray
# daemon, the app in Chromium), and a rolling restart of two instances behind nginx under load.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p frontend --target wasm32-unknown-unknown --all-targets --locked -- -D warnings
# The users' bundle: the frontend without the local trace view (bench/bundle-size.sh).
cargo clippy -p frontend --target wasm32-unknown-unknown --all-targets --no-default-features --locked -- -D warnings
echo "== the deployment: compose files and Dockerfiles"
bash scripts/check-deployment.sh
echo "== shared/ builds for wasm32"
cargo build -p shared --target wasm32-unknown-unknown --locked
echo "== the frontend's release bundle builds"
(cd frontend && trunk build --release --offline)
echo "== the users' bundle (no local trace view) builds"
(cd frontend && trunk build --release --offline --no-default-features --dist dist-users)
# What users download (wasm + JS + CSS + HTML, gzipped) stays within 135 KiB.
bash bench/bundle-size.sh --check 138240 frontend/dist-users
echo "== the frontend's unit tests, in headless Chromium"
(cd frontend && CHROMEDRIVER="$(command -v chromedriver)" cargo test --target wasm32-unknown-unknown --locked)
echo "== cargo test"
cargo test --workspace --locked
echo "== a rolling restart of 2 instances behind nginx under load loses nothing (bench/scale.sh)"
SCALE_PROFILE=dev bash bench/scale.sh 2 30 20 40
