# Shared set-up for ./scripts/demo and ./scripts/test: sourced, never run.
# Idempotent: every step checks before it acts, so running it twice is safe.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
export PATH="$VENV/bin:$PATH"

log() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi
}

APT_UPDATED=0
# apt_need PACKAGE COMMAND-OR-FILE...: install PACKAGE when none of the probes exists.
apt_need() {
  local pkg=$1; shift
  local probe
  for probe in "$@"; do
    if command -v "$probe" >/dev/null 2>&1 || [ -e "$probe" ]; then return 0; fi
  done
  if ! command -v apt-get >/dev/null 2>&1; then
    log "missing $pkg and no apt-get here: install it by hand"; return 1
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"; as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq; APT_UPDATED=1
  fi
  log "apt-get install $pkg"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
}

ensure_python() {
  apt_need python3 python3
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_need python3-venv /usr/share/doc/python3-venv
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"; python3 -m venv "$VENV"
  fi
  # Reinstall only when the packaging metadata changed since the last install.
  local extras=$1 stamp want
  stamp="$VENV/.stamp-install"
  want="$extras $(cat "$ROOT/setup.cfg" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing the project into $VENV (.[$extras]); pip's output goes to $VENV/pip.log"
    # pip's output only matters when it fails; then its tail says why.
    if ! { "$VENV/bin/python" -m pip install -q --upgrade pip \
           && "$VENV/bin/python" -m pip install -q -e "$ROOT[$extras]"; } >"$VENV/pip.log" 2>&1; then
      tail -n 30 "$VENV/pip.log" >&2; log "pip install failed"; return 1
    fi
    echo "$want" > "$stamp"
  fi
}

# espeak-ng and sox render the IVR's text prompts (cc-admin prompts build; the demo runs it).
ensure_prompt_tools() {
  apt_need espeak-ng espeak-ng
  apt_need sox sox
}

redis_up() { "$VENV/bin/python" - "$1" <<'PY' 2>/dev/null
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=1)
s.sendall(b"PING\r\n"); sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
PY
}

ensure_redis() {
  local port=${CC_REDIS_PORT:-6379}
  if redis_up "127.0.0.1:$port"; then return 0; fi
  apt_need redis-server redis-server
  log "starting redis-server on 127.0.0.1:$port"
  mkdir -p "$ROOT/var/redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$ROOT/var/redis" --logfile "$ROOT/var/redis/redis.log"
  for _ in $(seq 50); do redis_up "127.0.0.1:$port" && return 0; sleep 0.1; done
  log "redis did not come up on port $port"; return 1
}

pg_up() { pg_isready -q -h 127.0.0.1 -p "${CC_PG_PORT:-5432}" >/dev/null 2>&1; }

ensure_postgres() {
  apt_need postgresql pg_ctlcluster /usr/lib/postgresql
  apt_need postgresql-client pg_isready
  if pg_up; then return 0; fi
  local ver
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
  if [ -z "$ver" ]; then log "postgresql is installed but has no cluster"; return 1; fi
  log "starting PostgreSQL $ver"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 100); do pg_up && break; sleep 0.1; done
  pg_up || { log "PostgreSQL did not come up"; return 1; }
  # Tests connect over TCP as postgres; allow it without a password on loopback only.
  if ! psql -h 127.0.0.1 -U postgres -d postgres -c 'select 1' >/dev/null 2>&1; then
    local hba
    hba=$(as_root su postgres -c "psql -tAc 'show hba_file'" | tr -d ' ')
    log "allowing trust auth on 127.0.0.1 in $hba"
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
    as_root su postgres -c "psql -tAc 'select pg_reload_conf()'" >/dev/null
  fi
}
