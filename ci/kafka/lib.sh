# shellcheck shell=bash
# A Kafka-protocol broker on loopback for ci/kafka-check and ci/bench-log
# (sourced, not run), on ci/lib/proc.sh and ci/lib/build.sh: Tansu (pure
# Rust, from the Rust crate registry) with its SQLite storage (libSQL) in a
# file of the run directory, so that what it holds survives a kill -9 and a
# restart. Tansu's PostgreSQL storage needs a schema that its crate does
# not ship; its SQLite storage makes its own.
#
#   tansu_bin               Tansu, built once (cargo install, ~20 min cold)
#                           and cached under $DNSTAP_KIT_CACHE by version
#   start_kafka PORT        Tansu built if need be ($tansu), $broker set to
#                           127.0.0.1:PORT, then start_broker
#   start_broker            (re)starts it, data in $work/kafka, kept across
#                           restarts
#   kill_broker             kill -9, reaped
#   create_topic NAME N     a topic of N partitions

# shellcheck source=ci/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/proc.sh"
# shellcheck source=ci/lib/build.sh
source "$repo/ci/lib/build.sh"

TANSU_VERSION=0.6.0
# Only the SQLite storage: the others (S3, PostgreSQL, lakes) are not used.
TANSU_FEATURES=libsql

# tansu_bin: prints the path of Tansu's binary, building it on a miss.
tansu_bin() {
    local dir=$DNSTAP_KIT_CACHE/tansu-$TANSU_VERSION-$TANSU_FEATURES
    mkdir -p "$DNSTAP_KIT_CACHE"
    with_lock "$dir.lock" install_tansu "$dir" || return 1
    echo "$dir/bin/tansu"
}

# install_tansu DIR: cargo install into DIR (its build tree removed after),
# the seconds it took in DIR/build-seconds.
install_tansu() {
    local dir=$1 started=$SECONDS
    [[ -x $dir/bin/tansu ]] && return 0
    echo "$script: building Tansu $TANSU_VERSION (once; cached in $dir)" >&2
    if ! nice cargo install --quiet --locked tansu --version "$TANSU_VERSION" --no-default-features \
        --features "$TANSU_FEATURES" --root "$dir" --target-dir "$dir.target" >"$dir.build.log" 2>&1; then
        tail -n 30 "$dir.build.log" >&2
        return 1
    fi
    rm -rf "$dir.target"
    echo $((SECONDS - started)) >"$dir/build-seconds"
}

start_kafka() {
    KAFKA_PORT=$1 broker=127.0.0.1:$1
    tansu=$(tansu_bin) || die "Tansu $TANSU_VERSION could not be built"
    start_broker
}

start_broker() {
    mkdir -p "$work/kafka"
    # Tansu reads a .env of its working directory: the run directory has none.
    # shellcheck disable=SC2016 # expanded by the inner bash
    spawn broker bash -c 'cd "$1" && exec "$2" broker --cluster-id dnstap-kit --listener-url "tcp://$3" \
        --advertised-listener-url "tcp://$3" --storage-engine sqlite://tansu.db' _ "$work/kafka" "$tansu" "$broker"
    wait_until 30 "Tansu listening" while_running broker listening tcp "$KAFKA_PORT"
}

kill_broker() { kill_now broker; }

create_topic() {
    "$tansu" topic create --broker "tcp://$broker" --partitions "$2" "$1" >>"$work/topics.log" 2>&1 ||
        die "creating topic $1: $(tail -n 3 "$work/topics.log")"
}
