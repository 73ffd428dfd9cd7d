#!/usr/bin/env bash
# Runs every fuzz target (fuzz/) for SECONDS each (default 600), niced, one after another, and
# prints libFuzzer's execution count per target. cargo-fuzz needs nightly flags: RUSTC_BOOTSTRAP=1
# lets the stable toolchain accept them. Install it once with `cargo install cargo-fuzz --locked`.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build
for target in "${targets[@]}"; do
  log="$(mktemp)"
  # Memory bounded: libFuzzer fails the run past 1 GiB resident or a 256 MiB allocation.
  nice -n 19 cargo fuzz run "$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=256 -print_final_stats=1 \
    >"$log" 2>&1 || { tail -n 40 "$log"; exit 1; }
  echo "$target: $(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}') executions in ${seconds}s"
done
