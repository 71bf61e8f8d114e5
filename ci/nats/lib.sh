# shellcheck shell=bash
# NATS JetStream on loopback for ci/nats-check and ci/bench-log (sourced):
# Debian's nats-server as one node or a cluster, store directories in the
# run directory, every node a tracked process.
#
#   start_nats N BASE       N nodes (1 or 3): node i listens on BASE+i for
#                           clients and BASE+10+i for routes; waits for a
#                           JetStream meta leader
#   start_node I            (re)starts node I of that cluster
#   nats_servers            ADDR:PORT,… of every node, for URLs
#   js_tool ARGS…           ci/nats/js_tool.py
#   stream_leader STREAM    the server_name of the stream's leader, once one
#                           is elected (a node restarted: within 30 s)

# shellcheck source=ci/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/proc.sh"

js_tool() { python3 "$repo/ci/nats/js_tool.py" "$@"; }

# named_leader STREAM: sets LEADER to the stream's leader if it has one;
# the name that is printed is the one asked for (a leader named by one call
# may be gone at the next, while a restarted node rejoins).
named_leader() { LEADER=$(js_tool leader "127.0.0.1:$((NATS_BASE + 1))" "$1"); }

stream_leader() {
    wait_until 30 "a leader of stream $1" named_leader "$1"
    echo "$LEADER"
}

nats_servers() {
    local i list=()
    for ((i = 1; i <= NATS_NODES; i++)); do list+=("127.0.0.1:$((NATS_BASE + i))"); done
    local IFS=,
    echo "${list[*]}"
}

start_node() {
    local i=$1 conf=$work/nats-$1.conf routes="" j
    if ((NATS_NODES > 1)); then
        for ((j = 1; j <= NATS_NODES; j++)); do routes+="nats-route://127.0.0.1:$((NATS_BASE + 10 + j)), "; done
        routes="cluster { name: dnstap-kit; listen: 127.0.0.1:$((NATS_BASE + 10 + i)); routes: [ $routes ] }"
    fi
    cat >"$conf" <<CONF
server_name: n$i
listen: 127.0.0.1:$((NATS_BASE + i))
jetstream { store_dir: "$work/nats-$i" }
$routes
CONF
    spawn "nats-$i" nats-server -c "$conf"
}

start_nats() {
    NATS_NODES=$1 NATS_BASE=$2
    local i
    for ((i = 1; i <= NATS_NODES; i++)); do start_node "$i"; done
    wait_until 30 "a JetStream meta leader" js_tool ready "127.0.0.1:$((NATS_BASE + 1))"
}
