# shellcheck shell=bash
# The servers of ci/bench-servers and its arithmetic (sourced after
# ci/lib/servers.sh, not run): configuration, readiness and counters of
# Unbound and Knot DNS, patched (libdnstap) or stock; CPU time, medians.
#
#   unbound_conf FILE THREADS SINK    SINK: "" (no dnstap), file:PATH or a socket path
#   knot_conf DIR THREADS SINK        SINK: "" (no dnstap), PATH (file) or unix:PATH
#   unbound_ready / knot_ready        the server (spawned as "server") serves
#   unbound_stats CONTROL CONF        "accepted dropped" from unbound-control
#   knot_stats KNOTC SOCK             "accepted dropped failed" from knotc stats
#   machine_ticks; ms_per_k TICKS QUERIES; median; total
#
# Both answer a.bench.test A 192.0.2.1: Unbound from local-data, Knot from
# an authoritative zone. dnstap logs client queries and responses (Unbound
# CQ/CR, Knot AQ/AR). Needs BENCH_PORT, BENCH_CONTROL_PORT and
# BENCH_KNOT_PORT.

# shellcheck source=ci/lib/servers.sh
source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

BENCH_HZ=$(getconf CLK_TCK)

unbound_conf() {
    local snippets=(answer)
    [[ -z $3 ]] || snippets+=(dnstap)
    write_conf "$1" unbound "${snippets[@]}" RUN="$work" PORT="$BENCH_PORT" THREADS="$2" \
        CONTROL_PORT="$BENCH_CONTROL_PORT" ZONE=bench.test SINK="    dnstap-socket-path: \"$3\"" IDENTITY= VERSION=
}

unbound_ready() { grep -q "start of service" "$work/server.log" && listening udp "$BENCH_PORT"; }

unbound_stats() {
    local stats
    stats=$(timeout 10 "$1" -c "$2" stats_noreset 2>&1) || stats=''
    echo "$(sed -n 's/^dnstap\.accepted=//p' <<<"$stats") $(sed -n 's/^dnstap\.dropped=//p' <<<"$stats")"
}

# knot_conf DIR THREADS SINK: DIR/knot.conf and DIR/bench.test.zone;
# udp-workers THREADS, one TCP and one background worker.
knot_conf() {
    local snippets=(bench)
    [[ -z $3 ]] || snippets+=(dnstap)
    mkdir -p "$1"
    cp "$repo/tests/servers/knot/bench.test.zone" "$1/"
    write_conf "$1/knot.conf" knot "${snippets[@]}" RUN="$1" PORT="$BENCH_KNOT_PORT" THREADS="$2" \
        SINK="$3" IDENTITY=bench
}

knot_ready() {
    knot_loaded "$work/server.log" bench.test && grep -q "server started" "$work/server.log" &&
        listening udp "$BENCH_KNOT_PORT"
}

# knot_stats KNOTC SOCK: mod-dnstap's counters (knotc leaves zeros out).
knot_stats() {
    local stats
    stats=$(timeout 10 "$1" -s "$2" stats 2>&1) || stats=''
    awk '$1 == "mod-dnstap.accepted" { a = $3 } $1 == "mod-dnstap.dropped" { d = $3 }
        $1 == "mod-dnstap.failed" { f = $3 } END { print a + 0, d + 0, f + 0 }' <<<"$stats"
}

# machine_ticks: "BUSY TOTAL" clock ticks of all CPUs since boot (/proc/stat;
# busy is everything but idle and iowait, softirq included).
machine_ticks() {
    awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}

# ms_per_k TICKS QUERIES: CPU milliseconds per 1000 queries.
ms_per_k() {
    awk -v d="$1" -v n="$2" -v hz="$BENCH_HZ" 'BEGIN { printf "%.3f", n ? d * 1000 / hz * 1000 / n : 0 }'
}

# median / total: of the whitespace-separated numbers on stdin ("" / "-" if none).
median() {
    tr ' ' '\n' | awk 'NF' | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
total() { tr ' ' '\n' | awk 'NF { s += $1; n++ } END { if (n) printf "%d\n", s; else print "-" }'; }
