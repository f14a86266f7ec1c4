#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL cluster:
#
#   scripts/with-postgres.sh CMD [ARGS...]
#
# The cluster lives in a new temporary directory, runs as the `postgres` user (PostgreSQL refuses
# to run as root), listens on 127.0.0.1 only on a free port, and is tuned as WORKLOAD.md asks
# (shared_buffers=4GB, max_wal_size=8GB, checkpoint_timeout=15min, wal_buffers=64MB,
# synchronous_commit=on, fsync=on, jit=off). CMD runs with FOLIO_PG set to its connection string
# ("host=127.0.0.1 port=P user=postgres"). Whatever happens, the script stops the server it
# started (and only that one) and removes the directory. Exit status: CMD's.
#
# Environment: PG_BIN (default: the newest /usr/lib/postgresql/*/bin), PG_SHARED_BUFFERS (default
# 4GB; lower it on small machines), PG_PORT (default: a free port).
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    echo "with-postgres: PostgreSQL server binaries not found (install the postgresql package, or set PG_BIN)" >&2
    exit 2
fi

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        # runuser keeps the environment small and needs no password.
        runuser -u postgres -- "$@"
    elif [ "$(id -un)" = postgres ]; then
        "$@"
    else
        echo "with-postgres: run as root or as the postgres user" >&2
        return 2
    fi
}

if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "with-postgres: no postgres user (install the postgresql package)" >&2
    exit 2
fi

PGDIR="$(mktemp -d /tmp/folio-pg.XXXXXX)"
chmod 755 "$PGDIR"
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$PGDIR"
fi
DATA="$PGDIR/data"
LOG="$PGDIR/server.log"
STARTED=0

cleanup() {
    local status=$?
    if [ "$STARTED" -eq 1 ]; then
        # Stops the server of this data directory only (its postmaster.pid), then waits.
        as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$PGDIR"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 - <<'PY' 2>/dev/null || echo 55432
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}
PORT="${PG_PORT:-$(free_port)}"

as_postgres "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$PGDIR/initdb.log" 2>&1 || {
    echo "with-postgres: initdb failed:" >&2
    cat "$PGDIR/initdb.log" >&2
    exit 2
}
cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$PGDIR'
shared_buffers = ${PG_SHARED_BUFFERS:-4GB}
max_wal_size = 8GB
checkpoint_timeout = 15min
wal_buffers = 64MB
synchronous_commit = on
fsync = on
jit = off
max_connections = 200
EOF

STARTED=1
if ! as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null; then
    echo "with-postgres: the server did not start:" >&2
    cat "$LOG" >&2 || true
    exit 2
fi
echo "with-postgres: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT ($DATA)" >&2

export FOLIO_PG="host=127.0.0.1 port=$PORT user=postgres"
set +e
"$@"
status=$?
set -e
exit "$status"
