# shellcheck shell=bash
# The servers of ci/bench-servers (sourced, not run): configuration, readiness and
# counters of Unbound and Knot DNS, patched (libdnstap) or stock.
#
#   unbound_conf FILE THREADS SINK    SINK: "" (no dnstap), file:PATH or a socket path
#   knot_conf DIR THREADS SINK        SINK: "" (no dnstap), PATH (file) or unix:PATH
#   unbound_stats CONTROL CONF        "accepted dropped" from unbound-control
#   knot_stats KNOTC SOCK             "accepted dropped failed" from knotc stats
#   closed_counts LOGNAME             "accepted written lost dropped" from
#                                     libdnstap's closing line in that log
#
# Both answer the one name in BENCH_QNAME (A 192.0.2.1): Unbound from
# local-data, Knot from an authoritative zone. dnstap logs client queries
# and responses (Unbound CQ/CR, Knot AQ/AR). Needs BENCH_WORK, BENCH_PORT,
# BENCH_CONTROL_PORT and BENCH_KNOT_PORT.

BENCH_QNAME=a.bench.test

unbound_conf() {
    local file=$1 threads=$2 sink=$3
    {
        cat <<EOF
server:
    interface: 127.0.0.1
    port: $BENCH_PORT
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$BENCH_WORK"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: $threads
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    local-zone: "bench.test." static
    local-data: "$BENCH_QNAME. 300 IN A 192.0.2.1"
remote-control:
    control-enable: yes
    control-interface: 127.0.0.1
    control-port: $BENCH_CONTROL_PORT
    control-use-cert: no
EOF
        if [[ -n $sink ]]; then
            cat <<EOF
dnstap:
    dnstap-enable: yes
    dnstap-socket-path: "$sink"
    dnstap-send-identity: yes
    dnstap-send-version: yes
    dnstap-log-client-query-messages: yes
    dnstap-log-client-response-messages: yes
    dnstap-log-resolver-query-messages: no
    dnstap-log-resolver-response-messages: no
    dnstap-log-forwarder-query-messages: no
    dnstap-log-forwarder-response-messages: no
EOF
        fi
    } >"$file"
}

# unbound_ready LOGNAME: Unbound serves on BENCH_PORT.
unbound_ready() { log_has "$1" "start of service" && udp_bound "$BENCH_PORT"; }

unbound_stats() {
    local stats
    stats=$(timeout 10 "$1" -c "$2" stats_noreset 2>&1) || stats=''
    echo "$(sed -n 's/^dnstap\.accepted=//p' <<<"$stats") $(sed -n 's/^dnstap\.dropped=//p' <<<"$stats")"
}

# knot_conf DIR THREADS SINK: DIR/knot.conf and DIR/bench.test.zone;
# udp-workers THREADS, one TCP and one background worker.
knot_conf() {
    local dir=$1 threads=$2 sink=$3
    mkdir -p "$dir/db"
    cat >"$dir/bench.test.zone" <<EOF
\$ORIGIN bench.test.
\$TTL 300
@   SOA ns.bench.test. hostmaster.bench.test. 1 3600 900 604800 300
@   NS  ns
ns  A   127.0.0.1
${BENCH_QNAME%.bench.test}   A   192.0.2.1
EOF
    {
        cat <<EOF
server:
    listen: 127.0.0.1@$BENCH_KNOT_PORT
    rundir: $dir
    udp-workers: $threads
    tcp-workers: 1
    background-workers: 1
database:
    storage: $dir/db
log:
  - target: stderr
    any: info
control:
    listen: $dir/knot.sock
EOF
        if [[ -n $sink ]]; then
            cat <<EOF
mod-dnstap:
  - id: tap
    sink: $sink
    identity: bench
    log-queries: on
    log-responses: on
EOF
        fi
        cat <<EOF
template:
  - id: default
    storage: $dir
EOF
        [[ -z $sink ]] || echo "    global-module: mod-dnstap/tap"
        cat <<EOF
zone:
  - domain: bench.test
    file: bench.test.zone
EOF
    } >"$dir/knot.conf"
}

# knot_ready LOGNAME: knotd has loaded the zone and serves on BENCH_KNOT_PORT.
knot_ready() {
    log_has "$1" "\[bench\.test\.\] loaded" && log_has "$1" "server started" && udp_bound "$BENCH_KNOT_PORT"
}

# knot_stats KNOTC SOCK: mod-dnstap's counters (knotc leaves zeros out).
knot_stats() {
    local stats
    stats=$(timeout 10 "$1" -s "$2" stats 2>&1) || stats=''
    awk '$1 == "mod-dnstap.accepted" { a = $3 } $1 == "mod-dnstap.dropped" { d = $3 }
        $1 == "mod-dnstap.failed" { f = $3 } END { print a + 0, d + 0, f + 0 }' <<<"$stats"
}

# closed_counts LOGNAME: from libdnstap's "closed: N messages accepted, N
# written, N lost, N dropped (queue full), N sampled out"; empty if absent.
closed_counts() {
    grep -Eo "closed: [0-9]+ messages accepted, [0-9]+ written, [0-9]+ lost, [0-9]+ dropped" \
        "$BENCH_WORK/$1.log" 2>/dev/null | tail -1 |
        awk '{ print $2, $5, $7, $9 }'
}
