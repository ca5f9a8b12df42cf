#!/usr/bin/env bash
# Throwaway PostgreSQL server for the test suite (CI and local use).
#
#   eval "$(bash .ci/postgres.sh)"         # start: installs PostgreSQL if missing, prints 2 export lines
#   ...run the tests (they read $ARCHSCOUT_TEST_POSTGRES)...
#   bash .ci/postgres.sh stop              # stops the server in $ARCHSCOUT_TEST_POSTGRES_DATA, removes its temp dir
#   bash .ci/postgres.sh status            # exit 0 if that server is running
#
# Start prints exactly these lines on stdout (everything else goes to stderr):
#   export ARCHSCOUT_TEST_POSTGRES=postgresql+psycopg://archscout@127.0.0.1:PORT/archscout_test
#   export ARCHSCOUT_TEST_POSTGRES_DATA=/tmp/archscout-pg.XXXXXX/data
# If $ARCHSCOUT_TEST_POSTGRES_DATA already names a running server, start re-prints its exports.
#
# The server listens on 127.0.0.1 only (port 54329, or the next free one), keeps its unix
# socket, data and log (server.log) in a fresh temp dir, trusts local/loopback connections
# and runs with fsync off: for tests only, never for data you want to keep.
#
# Knobs (environment): ARCHSCOUT_PG_PORT (first port to try, default 54329),
# ARCHSCOUT_PG_TMP (parent of the temp dir, default /tmp; keep it short: unix socket
# paths are limited to ~107 bytes), ARCHSCOUT_PG_KEEP=1 (stop leaves the temp dir).
#
# Run it with bash; do not source it (it sets -euo pipefail and exits).
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    echo "postgres.sh: run it (eval \"\$(bash .ci/postgres.sh)\"), don't source it" >&2
    return 1
fi
set -euo pipefail

# The real stdout moves to fd 3 (only the export lines go there); fd 1 becomes stderr so
# no stray output can end up in the caller's eval. Children must not inherit fd 3, or the
# caller's "$(...)" would wait for the postmaster to exit: as_pg closes it.
exec 3>&1 1>&2

DB_NAME=archscout_test
DB_USER=archscout
PG_OS_USER=postgres
MODE="${1:-start}"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Run a command as the OS user that owns the cluster (postgres refuses to run as root).
as_pg() {
    if is_root; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$PG_OS_USER" -- "$@" 3>&-
        else
            su -s /bin/sh "$PG_OS_USER" -c "$(printf '%q ' "$@")" 3>&-
        fi
    else
        "$@" 3>&-
    fi
}

find_bindir() {
    local d best=""
    # Newest installed major version wins (sort -V handles 9.6 < 10 < 15 < 16).
    while IFS= read -r d; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" && -x "$d/psql" ]] && best="$d"
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V)
    if [[ -z "$best" ]] && command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        best="$(dirname "$(command -v pg_ctl)")"   # non-Debian layout: binaries on PATH
    fi
    printf '%s' "$best"
}

install_postgres() {
    is_root || die "PostgreSQL server binaries not found and not root: install postgresql first"
    log "PostgreSQL server not found: installing it with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >&2
}

ensure_os_user() {
    is_root || { PG_OS_USER="$(id -un)"; return 0; }
    if ! id "$PG_OS_USER" >/dev/null 2>&1; then
        log "creating system user $PG_OS_USER"
        useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash "$PG_OS_USER"
    fi
}

port_in_use() {   # 0 if something accepts TCP connections on 127.0.0.1:$1
    (exec 4<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

server_port() {   # the port of the running server whose data dir is $1 (line 4 of postmaster.pid)
    sed -n 4p "$1/postmaster.pid" 2>/dev/null
}

emit() {   # $1 = data dir, $2 = port
    printf 'export ARCHSCOUT_TEST_POSTGRES=postgresql+psycopg://%s@127.0.0.1:%s/%s\n' "$DB_USER" "$2" "$DB_NAME" >&3
    printf 'export ARCHSCOUT_TEST_POSTGRES_DATA=%s\n' "$1" >&3
}

is_running() {   # $1 = data dir
    [[ -n "${1:-}" && -f "$1/PG_VERSION" ]] || return 1
    local bindir; bindir="$(find_bindir)"
    [[ -n "$bindir" ]] || return 1
    as_pg "$bindir/pg_ctl" -D "$1" status >/dev/null 2>&1
}

cmd_status() {
    local data="${ARCHSCOUT_TEST_POSTGRES_DATA:-}"
    if is_running "$data"; then
        log "running: $data (port $(server_port "$data"))"
    else
        log "not running${data:+: $data}"
        exit 3
    fi
}

cmd_stop() {
    local data="${ARCHSCOUT_TEST_POSTGRES_DATA:-}"
    [[ -n "$data" ]] || die "ARCHSCOUT_TEST_POSTGRES_DATA is not set: nothing to stop"
    if is_running "$data"; then
        log "stopping the server in $data"
        local bindir; bindir="$(find_bindir)"
        as_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >&2
    else
        log "no server running in $data"
    fi
    # Remove the temp dir only if it is one of ours (…/archscout-pg.XXXXXX/data).
    local top; top="$(dirname "$data")"
    if [[ "${ARCHSCOUT_PG_KEEP:-0}" != 1 && "$(basename "$data")" == data \
          && "$(basename "$top")" == archscout-pg.* && -d "$top" ]]; then
        rm -rf -- "$top"
        log "removed $top"
    fi
}

cmd_start() {
    # Already started (the exports are in the environment and the server is up): reuse it.
    local data="${ARCHSCOUT_TEST_POSTGRES_DATA:-}"
    if is_running "$data"; then
        log "already running in $data: reusing it"
        emit "$data" "$(server_port "$data")"
        return 0
    fi

    local t0=$SECONDS bindir
    bindir="$(find_bindir)"
    if [[ -z "$bindir" ]]; then
        install_postgres
        bindir="$(find_bindir)"
        [[ -n "$bindir" ]] || die "installed postgresql but found no server binaries under /usr/lib/postgresql/*/bin"
        log "installed in $((SECONDS - t0))s"
    fi
    log "using $("$bindir/postgres" --version) from $bindir"
    ensure_os_user

    local top
    top="$(mktemp -d "${ARCHSCOUT_PG_TMP:-/tmp}/archscout-pg.XXXXXX")"
    data="$top/data"
    # On any failure from here on: stop what we started, show the log, remove the temp dir.
    # shellcheck disable=SC2064
    trap "start_failed '$bindir' '$top'" EXIT
    is_root && chown "$PG_OS_USER:" "$top"
    chmod 700 "$top"

    as_pg "$bindir/initdb" -D "$data" --username=postgres --auth=trust \
        --encoding=UTF8 --locale=C --no-sync >"$top/initdb.log" 2>&1 \
        || { cat "$top/initdb.log" >&2; die "initdb failed"; }
    # Throwaway settings: loopback TCP only, private socket dir, no durability (faster tests).
    cat >>"$data/postgresql.conf" <<EOF

# --- .ci/postgres.sh (throwaway test server) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$top'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
max_connections = 100
logging_collector = off
EOF

    # First free port from ARCHSCOUT_PG_PORT (default 54329); if another process grabs it
    # between the check and the bind, pg_ctl fails and the next port is tried.
    local port="${ARCHSCOUT_PG_PORT:-54329}" tries=0 started=0
    [[ "$port" =~ ^[0-9]+$ ]] && (( port >= 1024 && port <= 65515 )) \
        || die "ARCHSCOUT_PG_PORT must be a port number in 1024..65515, got '$port'"
    while (( tries < 20 )); do
        if port_in_use "$port"; then
            log "port $port is in use, trying $((port + 1))"
        elif as_pg "$bindir/pg_ctl" -D "$data" -l "$top/server.log" -w -t 60 -o "-p $port" start >&2; then
            started=1
            break
        else
            log "server did not start on port $port"
        fi
        port=$((port + 1)); tries=$((tries + 1))
    done
    (( started )) || die "could not start PostgreSQL (see $top/server.log)"

    local psql=("$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$top" -p "$port" -U postgres)
    as_pg "${psql[@]}" -d postgres -c "CREATE ROLE $DB_USER LOGIN CREATEDB" >&2
    as_pg "${psql[@]}" -d postgres -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" >&2
    # Smoke test over TCP as the test role (what the test suite will do).
    as_pg "$bindir/psql" -X -h 127.0.0.1 -p "$port" -U "$DB_USER" -d "$DB_NAME" -tAc "select 1" >/dev/null \
        || die "cannot connect to 127.0.0.1:$port as $DB_USER"

    trap - EXIT
    log "PostgreSQL up on 127.0.0.1:$port (data $data, log $top/server.log) in $((SECONDS - t0))s"
    emit "$data" "$port"
}

start_failed() {   # EXIT trap while starting: $1 = bindir, $2 = temp dir
    local rc=$?
    (( rc == 0 )) && return 0
    if [[ -f "$2/data/postmaster.pid" ]]; then
        as_pg "$1/pg_ctl" -D "$2/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [[ -f "$2/server.log" ]]; then
        log "last lines of $2/server.log:"
        tail -n 30 "$2/server.log" >&2 || true
    fi
    if [[ "${ARCHSCOUT_PG_KEEP:-0}" != 1 ]]; then rm -rf -- "$2"; fi
    exit "$rc"
}

case "$MODE" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    -h|--help|help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown mode '$MODE' (start | stop | status)" ;;
esac
