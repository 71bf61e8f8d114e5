# shellcheck shell=bash
# Shared by ci/clickhouse-check and ci/bench-clickhouse (sourced, not run),
# on ci/lib/proc.sh: dnstap-kit (`kit`), pdns_tool.py (`tool`), the run
# directory, and Debian's clickhouse-server (18.16) started in it with its
# own configuration, on 127.0.0.1 only.
#
#   start_clickhouse        on CH_HTTP_PORT (HTTP) and CH_TCP_PORT (native);
#                           data in $work/clickhouse, kept across restarts
#   kill_clickhouse         kill -9, reaped
#   ch SQL                  a query over HTTP; its answer on stdout
#   ch_ddl < FILE           statements, through clickhouse-client --multiquery
#   ch_tool ARGS...         tests/servers/clickhouse/ch_tool.py

# shellcheck source=ci/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/proc.sh"
# shellcheck source=ci/lib/build.sh
source "$repo/ci/lib/build.sh"
# shellcheck disable=SC2034 # used by the scripts that source this file
kit=$(kit_bin) tool=$repo/tests/servers/pdns_tool.py
init_work

ch_tool() { python3 "$repo/tests/servers/clickhouse/ch_tool.py" "$@"; }

ch() { curl -sS --fail-with-body --max-time 60 "http://127.0.0.1:$CH_HTTP_PORT/" --data-binary "$1"; }

ch_ddl() { clickhouse-client --host 127.0.0.1 --port "$CH_TCP_PORT" --multiquery; }

ch_ready() { ch "SELECT 1" >/dev/null 2>&1; }

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
    need clickhouse-server clickhouse-client
    [[ -e $work/clickhouse/config.xml ]] || write_clickhouse_config
    spawn clickhouse clickhouse-server --config-file="$work/clickhouse/config.xml"
    wait_until 30 "clickhouse-server answering" while_running clickhouse ch_ready
}

kill_clickhouse() { kill_now clickhouse; }
