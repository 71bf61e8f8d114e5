# shellcheck shell=bash
# Shared by ci/clickhouse-check and ci/bench-clickhouse (sourced, not run):
# the run directory of ci/pdns/lib.sh, and Debian's clickhouse-server
# (18.16) started in it with its own configuration, on 127.0.0.1 only.
#
#   source ci/clickhouse/lib.sh NAME    # sets repo, kit, work, fail … (ci/pdns/lib.sh)
#   start_clickhouse                    # CH_HTTP_PORT, CH_TCP_PORT; data in $work/clickhouse
#   kill_clickhouse                     # kill -9, reaped
#   ch SQL                              # a query over HTTP; its answer on stdout
#   ch_ddl < FILE                       # statements, with clickhouse-client --multiquery
#   ch_tool ARGS…                       # tests/servers/clickhouse/ch_tool.py

# shellcheck source=ci/pdns/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../pdns/lib.sh" "$1"

ch_tool() { python3 "$repo/tests/servers/clickhouse/ch_tool.py" "$@"; }

ch() { curl -sS --fail-with-body --max-time 60 "http://127.0.0.1:$CH_HTTP_PORT/" --data-binary "$1"; }

ch_ddl() { clickhouse-client --host 127.0.0.1 --port "$CH_TCP_PORT" --multiquery; }

# The server's configuration: loopback, the run directory, UTC, quiet logs.
write_clickhouse_config() {
    mkdir -p "$work/clickhouse"
    cat >"$work/clickhouse/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$work/clickhouse/server.log</log><errorlog>$work/clickhouse/server.err.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$CH_HTTP_PORT</http_port>
  <tcp_port>$CH_TCP_PORT</tcp_port>
  <path>$work/clickhouse/data/</path>
  <tmp_path>$work/clickhouse/tmp/</tmp_path>
  <user_files_path>$work/clickhouse/user_files/</user_files_path>
  <format_schema_path>$work/clickhouse/format_schemas/</format_schema_path>
  <users_config>$work/clickhouse/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
XML
    cat >"$work/clickhouse/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
XML
}

start_clickhouse() {
    command -v clickhouse-server >/dev/null || fail "clickhouse-server is not installed (ci/setup installs Debian's)"
    [[ -e $work/clickhouse/config.xml ]] || write_clickhouse_config
    bench_start clickhouse clickhouse-server --config-file="$work/clickhouse/config.xml"
    local tenths=300
    until ch "SELECT 1" >/dev/null 2>&1; do
        ((tenths-- > 0)) || fail "clickhouse-server does not answer: $(tail -3 "$work/clickhouse.log" "$work/clickhouse/server.err.log" 2>&1)"
        kill -0 "$(bench_pid clickhouse)" 2>/dev/null || fail "clickhouse-server exited: $(tail -5 "$work/clickhouse/server.err.log" 2>&1)"
        sleep 0.1
    done
}

kill_clickhouse() {
    local pid
    pid=$(bench_pid clickhouse)
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true # reaped here, not reported by the shell
    unset "BENCH_PIDS[clickhouse]"
}
