#!/usr/bin/env bash
# Run a command (e.g. the test suite) with REDIS_URL pointing at a Redis that answers.
#
#   scripts/ensure-redis.sh .venv/bin/pytest -q
#
# If REDIS_URL (default redis://127.0.0.1:6379/0) answers PING, it is used as it is. Otherwise a
# private, throw-away redis-server (no persistence) is started on a free local port, REDIS_URL is
# pointed at it for the command, and it is stopped afterwards, whatever the command's outcome.
# redis-server is installed with apt-get when it is missing (Debian/Ubuntu; sudo if not root).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"

# Exit 0 if the Redis at $1 answers PING within 2 s (redis-py if present, else a raw socket).
ping_url() {
  "$PY" - "$1" >/dev/null 2>&1 <<'PYEOF'
import socket, sys
from urllib.parse import urlparse
url = sys.argv[1]
try:
    import redis
except ImportError:
    u = urlparse(url)
    with socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=2) as s:
        s.settimeout(2)
        s.sendall(b"PING\r\n")
        sys.exit(0 if s.recv(64).startswith(b"+PONG") else 1)
client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
sys.exit(0 if client.ping() else 1)
PYEOF
}

if ping_url "$URL"; then
  export REDIS_URL="$URL"
  exec "$@"
fi

if ! command -v redis-server >/dev/null 2>&1; then
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); fi
  fi
  mkdir -p "$ROOT/.redis-test"
  if ! { "${SUDO[@]}" apt-get update -qq \
         && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; } \
       >"$ROOT/.redis-test/apt.log" 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
    echo "ensure-redis: no Redis at $URL and installing redis-server failed (see .redis-test/apt.log); install Redis or set REDIS_URL to a running server" >&2
    exit 1
  fi
fi

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
DIR="$ROOT/.redis-test/$PORT"
mkdir -p "$DIR"
PIDFILE="$DIR/redis.pid"

stop_private_redis() {
  if [ -s "$PIDFILE" ]; then
    pid="$(cat "$PIDFILE")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$DIR"
}
trap stop_private_redis EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --dir "$DIR" --pidfile "$PIDFILE" --logfile "$DIR/redis.log" >/dev/null

export REDIS_URL="redis://127.0.0.1:$PORT/0"
for _ in $(seq 100); do
  ping_url "$REDIS_URL" && break
  sleep 0.1
done
if ! ping_url "$REDIS_URL"; then
  echo "ensure-redis: started redis-server on port $PORT but it does not answer (see $DIR/redis.log)" >&2
  cat "$DIR/redis.log" >&2 || true
  exit 1
fi
echo "ensure-redis: no Redis at $URL; using a private redis-server on port $PORT" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
