#!/usr/bin/env bash
# Installs what building and testing Cruddur needs beyond the Rust toolchain. Idempotent: each
# step is skipped when its tool is already there, so a warm machine passes through in seconds.
set -euo pipefail

step() { printf '\n== setup: %s\n' "$*"; }

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  step "rustfmt and clippy"
  rustup component add rustfmt clippy
fi

# shared/ must keep building for the browser.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "wasm32 target"
  rustup target add wasm32-unknown-unknown
fi
