#!/usr/bin/env bash
# Runs each webhook-parser fuzz target for a short, bounded time (FUZZ_SECONDS, default 20).
# cargo-fuzz needs nightly-only compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# (the only one this machine has) accept them. A crash fails the run and leaves its input
# under <crate>/fuzz/artifacts/.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

seconds="${FUZZ_SECONDS:-20}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
# Fuzz builds are instrumented release builds: keep them apart from the test builds.
export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz"

targets=(
  "crates/ghl:webhook_parse"
  "crates/mercadopago:notification_parse"
)
for entry in "${targets[@]}"; do
  dir="${entry%%:*}"
  target="${entry##*:}"
  [ -d "$REPO/$dir/fuzz" ] || fail "$dir/fuzz is missing"
  log "fuzzing $dir $target for ${seconds}s"
  corpus="$CARGO_TARGET_DIR/corpus/$target"
  mkdir -p "$corpus"
  (cd "$REPO/$dir" && cargo fuzz run --sanitizer none "$target" "$corpus" -- \
    -max_total_time="$seconds" -max_len=65536 -print_final_stats=1)
done
log "fuzzing: ${#targets[@]} passed, 0 failed"
