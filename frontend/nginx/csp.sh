#!/usr/bin/env bash
# Prints the nginx settings (frontend/nginx/default.conf.template includes them as csp.conf)
# that the Content-Security-Policy needs from one build: the hash of each inline <script> of its
# index.html, which trunk writes and which changes with every build, and, for the developers'
# build (--inline-styles), 'unsafe-inline' styles, which the trace view's bars are drawn with.
#   bash frontend/nginx/csp.sh DIST [--inline-styles] > csp.conf
set -euo pipefail
dist=${1:?usage: csp.sh DIST [--inline-styles]}
hashes=$(node -e '
  const html = require("fs").readFileSync(process.argv[1], "utf8");
  const hash = (text) => require("crypto").createHash("sha256").update(text).digest("base64");
  const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  process.stdout.write(scripts.filter((text) => text.length > 0)
    .map((text) => `'"'"'sha256-${hash(text)}'"'"'`).join(" "));
' "$dist/index.html")
styles=""
[ "${2:-}" = --inline-styles ] && styles="'unsafe-inline'"
printf 'set $cruddur_script_hashes "%s";\nset $cruddur_inline_styles "%s";\n' "$hashes" "$styles"
