#!/usr/bin/env bash
# trunk's post_build hook (Trunk.toml): in release builds, minifies wasm-bindgen's JS glue with
# terser (trunk's own minifier gives up on its `export default`, and the glue is 8% of the
# bundle), then puts the minified file's hash in index.html, so subresource integrity still holds.
set -euo pipefail
[ "${TRUNK_PROFILE:-}" = release ] || exit 0
cd "$TRUNK_STAGING_DIR"
sha384() {
  node -e 'process.stdout.write(require("crypto").createHash("sha384")
    .update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$1"
}
# Only the glue (named after the crate): web-vitals comes minified by its authors.
for js in frontend-*.js; do
  before=$(sha384 "$js")
  terser "$js" --module --compress --mangle --output "$js.min"
  mv "$js.min" "$js"
  sed -i "s|sha384-$before|sha384-$(sha384 "$js")|" index.html
done
