# shellcheck shell=bash
# Shared by ci/pdns-check and ci/bench-pdns (sourced, not run), on
# ci/lib/proc.sh: dnstap-kit (`kit`), pdns_tool.py (`tool`), the run
# directory (`work`, readable by PostgreSQL's user), and Debian's PostgreSQL
# started in it on a unix socket only.
#
#   start_postgres                   # on $PG_PORT, socket in $work/pg
#   psql_in DB ARGS...; pg_url DB; pg_rows DB

# shellcheck source=ci/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/proc.sh"
# shellcheck source=ci/lib/build.sh
source "$repo/ci/lib/build.sh"
# shellcheck disable=SC2034 # used by the scripts that source this file
kit=$(kit_bin) tool=$repo/tests/servers/pdns_tool.py
init_work
chmod 755 "$work" # PostgreSQL runs as its own user below it

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
pg_ready() { psql_in postgres -c 'SELECT 1' >/dev/null 2>&1; }
start_postgres() {
    [[ -x "$pg_bin/initdb" ]] || die "PostgreSQL is not installed (ci/setup installs Debian's postgresql)"
    mkdir -p "$work/pg"
    ((EUID != 0)) || chown postgres: "$work/pg"
    "${pg_user[@]}" "$pg_bin/initdb" -D "$work/pg/data" -U postgres --auth=trust -E UTF8 --locale=C \
        >"$work/initdb.log" 2>&1 || die "initdb: $(tail -3 "$work/initdb.log")"
    spawn postgres "${pg_user[@]}" "$pg_bin/postgres" -D "$work/pg/data" -k "$work/pg" -p "$PG_PORT" \
        -c listen_addresses=''
    wait_until 20 "postgres's socket" while_running postgres test -S "$work/pg/.s.PGSQL.$PG_PORT"
    wait_until 10 "postgres accepting connections" pg_ready
}

# pg_rows DB: the rows of a PostgreSQL store, as pdns_tool.py prints them.
pg_rows() {
    psql_in "$1" -F $'\t' -c "SELECT rrname, rrtype, bailiwick, array_to_json(rdata), time_first,
        time_last, count, sensor_id FROM pdns ORDER BY rrname, rrtype, bailiwick, array_to_json(rdata)::text"
}
