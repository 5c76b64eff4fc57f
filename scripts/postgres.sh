#!/usr/bin/env bash
# Start or stop a throw-away PostgreSQL 15 cluster on 127.0.0.1 for tests and CI.
#
#   scripts/postgres.sh start DIR PORT   # initdb (first time) + pg_ctl start; prints the URL
#   scripts/postgres.sh stop DIR         # pg_ctl stop (fast)
#
# DIR holds the data folder (DIR/data) and the socket folder (DIR/sock), owned by the
# postgres user: initdb refuses to run as root, so as root it runs via `runuser -u postgres`.
# Trust authentication on localhost, fsync off: for tests only, never for real data.
# The last line printed by `start` is the SQLAlchemy URL:
#   postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
set -euo pipefail

PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"

usage() {
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
}

as_pg() {
    if [ "$(id -u)" = "0" ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

[ $# -ge 2 ] || usage
cmd="$1"
dir="$2"

if [ ! -x "$PGBIN/pg_ctl" ]; then
    echo "postgres.sh: no PostgreSQL binaries in $PGBIN (set PGBIN)" >&2
    exit 1
fi

case "$cmd" in
start)
    [ $# -eq 3 ] || usage
    port="$3"
    mkdir -p "$dir/data" "$dir/sock"
    if [ "$(id -u)" = "0" ]; then
        chown -R postgres:postgres "$dir"
        # the postgres user must be able to reach DIR through its parents
        chmod 755 "$dir"
    fi
    chmod 700 "$dir/data"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
            echo "postgres.sh: initdb failed, see $dir/initdb.log:" >&2
            tail -5 "$dir/initdb.log" >&2
            exit 1
        }
    fi
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
        start >/dev/null || {
        echo "postgres.sh: pg_ctl start failed, see $dir/data/server.log:" >&2
        tail -5 "$dir/data/server.log" >&2
        exit 1
    }
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    ;;
*)
    usage
    ;;
esac
