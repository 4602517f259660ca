#!/usr/bin/env bash
# Desktop end-to-end test of Mostrador: the real Tauri app, in DEMO mode, under Xvfb, driven by
# tauri-driver (WebKitWebDriver) with tests/desktop/e2e.mjs.
#
#   bash scripts/desktop-e2e.sh          # from the repo root (or anywhere)
#
# Idempotent: installs only what is missing (Debian packages, tauri-driver) and rebuilds the UI and
# the app (quick when unchanged; DESKTOP_E2E_NO_BUILD=1 skips it). Environment:
#   CARGO_TARGET_DIR  where the app is built (default /var/tmp/mostrador-target)
#   TEST_OUTPUT_DIR   screenshots and logs (default <repo>/test-output/desktop)
# Output: screenshots (*.png), app.log (the app's stderr), tauri-driver.log, in TEST_OUTPUT_DIR.
# Exit code: the test's (0 = passed).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/mostrador-target}"
export TEST_OUTPUT_DIR="${TEST_OUTPUT_DIR:-$REPO/test-output/desktop}"
case "$TEST_OUTPUT_DIR" in /*) ;; *) TEST_OUTPUT_DIR="$REPO/$TEST_OUTPUT_DIR" ;; esac
APP_BIN="$CARGO_TARGET_DIR/debug/mostrador"
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"

say() { printf 'desktop-e2e.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ------------------------------------------------------------------------------------------------
# Inside Xvfb: start tauri-driver, run the test, clean up. (The script re-runs itself here.)
if [ "${1:-}" = "--inside-xvfb" ]; then
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/mostrador-e2e.XXXXXX")"
  DRIVER_PID=""
  cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # The app, by the pid its wrapper recorded before exec'ing it.
    if [ -s "$WORK/app.pid" ]; then
      local app_pid
      app_pid="$(cat "$WORK/app.pid")"
      kill "$app_pid" 2>/dev/null || true
    fi
    # tauri-driver runs in its own process group (setsid): that group holds WebKitWebDriver too.
    if [ -n "$DRIVER_PID" ]; then
      kill -- "-$DRIVER_PID" 2>/dev/null || kill "$DRIVER_PID" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$DRIVER_PID" 2>/dev/null || break; sleep 0.1; done
      kill -9 -- "-$DRIVER_PID" 2>/dev/null || true
    fi
    if [ -s "$WORK/app.pid" ]; then kill -9 "$(cat "$WORK/app.pid")" 2>/dev/null || true; fi
    rm -rf "$WORK"
    exit "$rc"
  }
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  }

  export MOSTRADOR_DATA_DIR="$WORK/data"
  export MOSTRADOR_DEMO=1
  export WEBKIT_DISABLE_COMPOSITING_MODE=1
  export NO_AT_BRIDGE=1 NO_COLOR=1
  export RUST_LOG="${RUST_LOG:-info,sqlx=warn}"
  mkdir -p "$MOSTRADOR_DATA_DIR"

  # The app is started by WebKitWebDriver; this wrapper records its pid and keeps its stderr.
  cat >"$WORK/mostrador-app" <<EOF
#!/bin/sh
echo \$\$ > '$WORK/app.pid'
exec '$APP_BIN' "\$@" >>'$TEST_OUTPUT_DIR/app.log' 2>&1
EOF
  chmod +x "$WORK/mostrador-app"
  : >"$TEST_OUTPUT_DIR/app.log"

  PORT="$(free_port)"
  NATIVE_PORT="$(free_port)"
  while [ "$NATIVE_PORT" = "$PORT" ]; do NATIVE_PORT="$(free_port)"; done
  say "tauri-driver on port $PORT (WebKitWebDriver on $NATIVE_PORT), DISPLAY=$DISPLAY"
  setsid tauri-driver --port "$PORT" --native-port "$NATIVE_PORT" --native-driver /usr/bin/WebKitWebDriver \
    >"$TEST_OUTPUT_DIR/tauri-driver.log" 2>&1 </dev/null &
  DRIVER_PID=$!

  ready=""
  for _ in $(seq 1 100); do
    if curl -fsS --max-time 2 "http://127.0.0.1:$PORT/status" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$DRIVER_PID" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$ready" ]; then
    cat "$TEST_OUTPUT_DIR/tauri-driver.log" >&2 || true
    die "tauri-driver did not answer /status on port $PORT within 20s"
  fi

  set +e
  TAURI_DRIVER_URL="http://127.0.0.1:$PORT" MOSTRADOR_APP="$WORK/mostrador-app" \
    timeout -k 10 200 node "$REPO/tests/desktop/e2e.mjs"
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    say "the test failed (exit $rc); last lines of the app's log ($TEST_OUTPUT_DIR/app.log):"
    tail -n 40 "$TEST_OUTPUT_DIR/app.log" >&2 || true
  fi
  exit "$rc"
fi

# ------------------------------------------------------------------------------------------------
# Outside: make sure everything is installed and built, then re-run this script under Xvfb.
START=$(date +%s)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else die "need root to run: $*"
  fi
}

missing_pkgs=()
command -v xvfb-run >/dev/null 2>&1 || missing_pkgs+=(xvfb xauth)
[ -x /usr/bin/WebKitWebDriver ] || missing_pkgs+=(webkit2gtk-driver)
command -v xwd >/dev/null 2>&1 || missing_pkgs+=(x11-apps)
[ -x /usr/bin/convert ] || dpkg -s imagemagick >/dev/null 2>&1 || missing_pkgs+=(imagemagick)
command -v curl >/dev/null 2>&1 || missing_pkgs+=(curl)
if [ "${#missing_pkgs[@]}" -gt 0 ]; then
  say "installing ${missing_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}"
fi

command -v node >/dev/null 2>&1 || die "node (>= 20) is required"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  die "node >= 20 is required (found $(node --version))"

if ! command -v tauri-driver >/dev/null 2>&1; then
  say "installing tauri-driver (cargo install tauri-driver --locked)"
  cargo install tauri-driver --locked
  command -v tauri-driver >/dev/null 2>&1 || die "tauri-driver is still not on PATH after cargo install"
fi

if [ "${DESKTOP_E2E_NO_BUILD:-0}" != "1" ]; then
  # Always (re)build: cargo and vite are quick when nothing changed, and a stale binary
  # would test yesterday's app.
  # shellcheck source=scripts/lib.sh
  . "$REPO/scripts/lib.sh"
  ensure_ui
  build_app
fi
[ -x "$APP_BIN" ] || die "the app binary $APP_BIN is missing after the build"

mkdir -p "$TEST_OUTPUT_DIR"
rm -f "$TEST_OUTPUT_DIR"/*.png "$TEST_OUTPUT_DIR"/app.log "$TEST_OUTPUT_DIR"/tauri-driver.log

set +e
xvfb-run -a -s "-screen 0 1366x900x24" bash "$REPO/scripts/desktop-e2e.sh" --inside-xvfb
rc=$?
set -e
say "finished in $(( $(date +%s) - START ))s with exit $rc; output in $TEST_OUTPUT_DIR"
exit "$rc"
