#!/usr/bin/env bash
# Run a command (e.g. the test suite) with KEFU_TEST_POSTGRES_URL pointing at a PostgreSQL that answers.
#
#   scripts/ensure-postgres.sh .venv/bin/pytest -q
#   scripts/ensure-redis.sh scripts/ensure-postgres.sh .venv/bin/pytest -q     (what `make test` runs)
#
# If KEFU_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres) answers, it is
# used as it is. Otherwise a private, throw-away cluster is made (initdb in a temporary directory,
# trust authentication, listening on 127.0.0.1 on a free port, no fsync), the URL is pointed at it
# for the command, and it is stopped and deleted afterwards, whatever the command's outcome.
# Debian's postgresql package is installed with apt-get when initdb is missing (sudo if not root).
# initdb refuses to run as root: as root the cluster runs as the postgres user the package creates.
# The tests create one database per run (unique name) in this server and drop it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

URL="${KEFU_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"

# Exit 0 if the PostgreSQL at $1 accepts a connection and answers SELECT 1 within 3 s (asyncpg if
# present, else just the TCP port).
ping_url() {
  "$PY" - "$1" >/dev/null 2>&1 <<'PYEOF'
import asyncio, socket, sys
from urllib.parse import urlparse
url = sys.argv[1].replace("postgresql+asyncpg://", "postgresql://", 1)
try:
    import asyncpg
except ImportError:
    u = urlparse(url)
    socket.create_connection((u.hostname or "127.0.0.1", u.port or 5432), timeout=3).close()
    sys.exit(0)
async def main() -> None:
    conn = await asyncpg.connect(url, timeout=3)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()
asyncio.run(main())
PYEOF
}

if ping_url "$URL"; then
  export KEFU_TEST_POSTGRES_URL="$URL"
  exec "$@"
fi

find_bin() {  # the newest installed server's bin directory
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}
BIN="$(find_bin)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  SUDO=()
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); fi
  LOG="$(mktemp -t kefu-pg-apt.XXXXXX)"
  if ! { "${SUDO[@]}" apt-get update -qq \
         && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >"$LOG" 2>&1; then
    echo "ensure-postgres: no PostgreSQL at $URL and installing Debian's postgresql failed (see $LOG); install it or set KEFU_TEST_POSTGRES_URL to a running server" >&2
    exit 1
  fi
  BIN="$(find_bin)"
  if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
    echo "ensure-postgres: postgresql installed but no initdb under /usr/lib/postgresql/*/bin (see $LOG)" >&2
    exit 1
  fi
fi

RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
  fi
  RUN_AS=(runuser -u postgres --)
fi

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
DIR="$(mktemp -d -t kefu-pg.XXXXXX)"
[ "${#RUN_AS[@]}" -eq 0 ] || chown postgres "$DIR"
DATA="$DIR/data"

stop_private_postgres() {
  if [ -f "$DATA/postmaster.pid" ]; then
    "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
}
trap stop_private_postgres EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! "${RUN_AS[@]}" "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$DIR/initdb.log" 2>&1; then
  echo "ensure-postgres: initdb failed:" >&2
  cat "$DIR/initdb.log" >&2
  exit 1
fi
if ! "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 30 start \
     -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
     >/dev/null 2>&1; then
  echo "ensure-postgres: the private PostgreSQL on port $PORT did not start:" >&2
  cat "$DIR/server.log" >&2 || true
  exit 1
fi

export KEFU_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PORT/postgres"
if ! ping_url "$KEFU_TEST_POSTGRES_URL"; then
  echo "ensure-postgres: started PostgreSQL on port $PORT but it does not answer (see $DIR/server.log)" >&2
  cat "$DIR/server.log" >&2 || true
  exit 1
fi
echo "ensure-postgres: no PostgreSQL at $URL; using a private cluster on port $PORT" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
