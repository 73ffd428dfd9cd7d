# shellcheck shell=bash
# Sourced by bench/throughput.sh and bench/flask.sh when BENCH_PAGE=full: fills a backend's
# database through its API so that the home page is a full one, as a user sees it: 50 cruds
# (of 60 posted after the seeds) with 51 replies (the latest 3 of 17 cruds, 80 replies in all),
# about 29 KB of JSON.
# fill_full_page BASE_URL: BASE_URL is the backend's `http://host:port`.
fill_full_page() {
  local base=$1 i uuid
  local uuids=()
  for ((i = 1; i <= 60; i++)); do
    uuid=$(curl -sf -H 'content-type: application/json' \
      -d "{\"message\":\"Crud number $i: the cloud is fun\",\"ttl\":\"30-days\"}" \
      "$base/api/activities" | grep -o '"uuid":"[^"]*"' | head -1 | cut -d'"' -f4)
    uuids+=("$uuid")
  done
  for ((i = 0; i < 80; i++)); do
    curl -sf -o /dev/null -H 'content-type: application/json' \
      -d "{\"message\":\"Reply $i: this crud has no honor\"}" \
      "$base/api/activities/${uuids[43 + i % 17]}/reply"
  done
}
