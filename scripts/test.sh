#!/usr/bin/env bash
# Runs every test of Mostrador: the Rust workspace (SQLite and MariaDB/MySQL, the sandbox
# over loopback HTTP, Tauri's mock runtime), the UI (type check, Vitest, Playwright with
# Chromium), and the desktop end-to-end test (the real app under Xvfb via tauri-driver).
# Installs what is missing and starts a local MariaDB when none answers on 127.0.0.1:3306.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_system
ensure_mysql
ensure_ui

failed=()
step() {
  local name="$1"
  shift
  log "── $name"
  if "$@"; then
    log "── $name: ok"
  else
    log "── $name: FAILED"
    failed+=("$name")
  fi
}

step "rust workspace tests" bash -c "cd '$REPO' && cargo test --workspace --no-fail-fast"
step "fuzz webhook parsers" bash "$REPO/scripts/fuzz.sh"
step "ui type check" bash -c "cd '$REPO/ui' && npm run check --silent"
step "ui unit tests" bash -c "cd '$REPO/ui' && npm test --silent"
step "ui browser tests" bash -c "cd '$REPO/ui' && CHROMIUM_PATH=/usr/bin/chromium npm run test:e2e --silent"
step "desktop end-to-end" bash "$REPO/scripts/desktop-e2e.sh"

if [ ${#failed[@]} -gt 0 ]; then
  log "failed: ${failed[*]}"
  exit 1
fi
log "all test suites passed"
