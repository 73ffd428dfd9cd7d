#!/usr/bin/env bash
# trunk's pre_build hook (Trunk.toml): puts Google's web-vitals (its attribution build, as a
# classic script that defines the global `webVitals`) where index.html asks trunk for it. The
# library is installed by scripts/setup.sh with the other npm tools, at the version pinned
# there, and is never committed; trunk then copies it into the bundle with its integrity hash.
# index.html loads it as a classic script, so it has run when the app (a module) starts and
# asks it for the vitals.
set -euo pipefail
tools=${CRUDDUR_TOOLS_DIR:-$HOME/.cache/cruddur-tools}
library="$tools/node_modules/web-vitals/dist/web-vitals.attribution.iife.js"
if [ ! -f "$library" ]; then
  echo "vendor-web-vitals: $library is missing; run scripts/setup.sh" >&2
  exit 1
fi
mkdir -p vendor
cp "$library" vendor/web-vitals.attribution.js
