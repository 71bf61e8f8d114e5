# shellcheck shell=bash
# Shared by ci/pdns-check and ci/bench-pdns (sourced, not run): a run
# directory whose processes are always ended, and Debian's PostgreSQL
# started in it on a unix socket only.
#
#   source ci/pdns/lib.sh NAME       # NAME prefixes messages; sets repo, kit, tool, work
#   bench_start NAME CMD...; bench_stop NAME; bench_pid NAME   # ci/lib/bench-util.sh
#   fail WHY                         # "NAME: FAILED: WHY", exit 1
#   start_postgres                   # on $PG_PORT, socket in $work/pg
#   psql_in DB ARGS...; pg_url DB; pg_rows DB
#
# The run directory is kept when the script fails, or with PDNS_KEEP=1.

# shellcheck source=ci/lib/build.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/build.sh"
# shellcheck source=ci/lib/bench-util.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bench-util.sh"
pdns_script=$1
repo=$DNSTAP_KIT_ROOT
# shellcheck disable=SC2034 # used by the scripts that source this file
kit=$repo/target/release/dnstap-kit
# shellcheck disable=SC2034
tool=$repo/tests/servers/pdns/pdns_tool.py
work=$(mktemp -d "${TMPDIR:-/tmp}/$pdns_script.XXXXXX")
chmod 755 "$work" # PostgreSQL runs as its own user below it
BENCH_WORK=$work

pdns_cleanup() {
    local rc=$?
    bench_stop_all
    if [[ -n "${PDNS_KEEP:-}" ]] || ((rc != 0)); then
        echo "$pdns_script: run directory kept: $work"
    else
        rm -rf "$work"
    fi
}
trap pdns_cleanup EXIT
trap 'exit 130' INT TERM HUP

fail() {
    echo "$pdns_script: FAILED: $*" >&2
    exit 1
}

# PostgreSQL from Debian, in the run directory, on a unix socket only; as
# its own user when this runs as root (it refuses to run as root).
pg_bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
pg_user=()
((EUID != 0)) || pg_user=(setpriv --reuid=postgres --regid=postgres --clear-groups --)
psql_in() {
    local db=$1
    shift
    psql -h "$work/pg" -p "$PG_PORT" -U postgres -d "$db" -v ON_ERROR_STOP=1 -qAt "$@"
}
pg_url() { echo "postgresql://postgres@/$1?host=$work/pg&port=$PG_PORT"; }
start_postgres() {
    [[ -x "$pg_bin/initdb" ]] || fail "PostgreSQL is not installed (ci/setup installs Debian's postgresql)"
    mkdir -p "$work/pg"
    ((EUID != 0)) || chown postgres: "$work/pg"
    "${pg_user[@]}" "$pg_bin/initdb" -D "$work/pg/data" -U postgres --auth=trust -E UTF8 --locale=C \
        >"$work/initdb.log" 2>&1 || fail "initdb: $(tail -3 "$work/initdb.log")"
    bench_start postgres "${pg_user[@]}" "$pg_bin/postgres" -D "$work/pg/data" -k "$work/pg" -p "$PG_PORT" \
        -c listen_addresses=''
    wait_for_path "$work/pg/.s.PGSQL.$PG_PORT" 20 || fail "postgres: $(tail -3 "$work/postgres.log")"
    local tenths=100
    until psql_in postgres -c 'SELECT 1' >/dev/null 2>&1; do
        ((tenths-- > 0)) || fail "postgres does not accept connections"
        sleep 0.1
    done
}

# pg_rows DB: the rows of a PostgreSQL store, as pdns_tool.py prints them.
pg_rows() {
    psql_in "$1" -F $'\t' -c "SELECT rrname, rrtype, bailiwick, array_to_json(rdata), time_first,
        time_last, count, sensor_id FROM pdns ORDER BY rrname, rrtype, bailiwick, array_to_json(rdata)::text"
}
