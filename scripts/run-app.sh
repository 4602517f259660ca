#!/usr/bin/env bash
# Launches the Mostrador desktop app in demo mode, installing whatever is missing first.
#   bash scripts/run-app.sh            # demo mode (built-in sandbox, no real money)
#   bash scripts/run-app.sh --clinic   # use the clinic's settings (environment / keychain)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_system
ensure_ui
build_app

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  log "no display found. On a machine without a screen, run it under a virtual one:"
  log "    xvfb-run -a bash scripts/run-app.sh"
  exit 2
fi

if [ "${1:-}" != "--clinic" ]; then
  export MOSTRADOR_DEMO=1
fi
# WebKitGTK draws blank windows on some virtual and remote displays without this.
export WEBKIT_DISABLE_COMPOSITING_MODE="${WEBKIT_DISABLE_COMPOSITING_MODE:-1}"
log "starting Mostrador${MOSTRADOR_DEMO:+ (MODO DEMO)}"
exec "$CARGO_TARGET_DIR/debug/mostrador"
