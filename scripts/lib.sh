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
  xvfb webkit2gtk-driver x11-apps imagemagick chromium sqlite3
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
