# shellcheck shell=bash
# The DNS servers the scripts run (sourced after proc.sh, not run): their
# configurations, each the server's base (tests/servers/SERVER/base.conf.in)
# extended by the snippets of a scenario, and what several scripts do with
# them.
#
#   write_conf OUT SERVER SNIPPET... NAME=VALUE...
#                           base.conf.in and SNIPPET.conf.in of
#                           tests/servers/SERVER, each @NAME@ replaced by
#                           VALUE (@SERVERS@: tests/servers); Knot's database
#                           directory made
#   upstream_knot NAME DIR PORT   stock knotd (spawned as NAME, run in DIR)
#                           serving knot.test and fwd.test (tests/servers/upstream)
#                           on PORT: what the resolvers under test ask
#   knot_loaded LOG ZONE... knotd's LOG says each ZONE is loaded
#   unbound_started NAME N  $work/NAME.log shows Unbound's Nth "start of
#                           service" (its start, or the end of a reload);
#                           dies if NAME has exited
#   closed_counts LOG       "accepted written lost dropped sampled" from
#                           libdnstap's last "closed:" line in LOG, if any
#   make_cert DIR           DIR/cert.pem and DIR/key.pem, self-signed for
#                           localhost (for DoT and DoH listeners)
#   make_ca DIR NAME        DIR/NAME.pem and DIR/NAME.key: a CA
#   issue_cert DIR CA NAME SAN   DIR/NAME.pem and DIR/NAME.key, for SAN
#                           ("DNS:x.test,IP:127.0.0.1"), signed by CA

# shellcheck source=ci/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/proc.sh"

write_conf() {
    local out=$1 server=$2 arg name text leftover snippets=(base)
    local -A values=([SERVERS]=$repo/tests/servers)
    shift 2
    for arg; do
        if [[ $arg == *=* ]]; then values[${arg%%=*}]=${arg#*=}; else snippets+=("$arg"); fi
    done
    text=$(for name in "${snippets[@]}"; do cat "$repo/tests/servers/$server/$name.conf.in" || exit 1; done) ||
        die "write_conf: no such $server snippet among ${snippets[*]}"
    for name in "${!values[@]}"; do
        text=${text//"@$name@"/"${values[$name]}"}
    done
    leftover=$(grep -o '@[A-Z_]*@' <<<"$text" | sort -u | tr '\n' ' ' || true)
    [[ -z $leftover ]] || die "write_conf $out: no value for $leftover"
    printf '%s\n' "$text" >"$out"
    # knotd warns, and cannot keep its timers, without it.
    if [[ $server == knot ]]; then mkdir -p "${values[RUN]}/db"; fi
}

upstream_knot() {
    local name=$1 dir=$2 port=$3
    mkdir -p "$dir"
    cp "$repo"/tests/servers/upstream/*.zone "$dir/"
    write_conf "$dir/knot.conf" knot upstream RUN="$dir" PORT="$port" THREADS=1
    spawn "$name" knotd -c "$dir/knot.conf"
    poll 10 knot_loaded "$work/$name.log" knot.test fwd.test
}

knot_loaded() {
    local log=$1 zone
    shift
    for zone in "$@"; do
        grep -qs "\[$zone\.\] loaded" "$log" || return 1
    done
}

unbound_started() {
    running "$1" || die "$1 exited: $(tail -n 5 "$work/$1.log")"
    (($(grep -c "start of service" "$work/$1.log") >= $2))
}

closed_counts() {
    sed -nE 's/.*closed: ([0-9]+) messages accepted, ([0-9]+) written, ([0-9]+) lost, ([0-9]+) dropped \(queue full\), ([0-9]+) sampled.*/\1 \2 \3 \4 \5/p' \
        "$1" | tail -n 1
}

make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=localhost -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

make_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$1/$2.key" -out "$1/$2.pem" 2>/dev/null
}

issue_cert() {
    local dir=$1 ca=$2 name=$3
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
        -addext "subjectAltName=$4" -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null &&
        openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.pem" -CAkey "$dir/$ca.key" -CAcreateserial \
            -days 2 -copy_extensions copy -out "$dir/$name.pem" 2>/dev/null
}
