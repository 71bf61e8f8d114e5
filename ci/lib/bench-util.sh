# shellcheck shell=bash
# Helpers of ci/bench-servers (sourced, not run): background processes by name,
# bounded waits, CPU time from /proc, Frame Streams frame counts, medians.
#
#   bench_start NAME CMD...    CMD in the background, output in $BENCH_WORK/NAME.log
#   bench_stop NAME [SECS]     SIGCONT, SIGTERM, wait (bounded), forget
#   bench_stop_all             the same for every process still known (the trap)
#   bench_wait SECS WHAT CMD   until CMD succeeds, at most SECS, else bench_fail
#
# Needs BENCH_WORK (a directory) and stop_process (ci/lib/build.sh).

# The processes started by bench_start and not yet stopped, by name.
declare -gA BENCH_PIDS=()

bench_fail() {
    echo "ci/bench-servers: FAILED: $*" >&2
    exit 1
}

bench_start() {
    local name=$1
    shift
    "$@" >"$BENCH_WORK/$name.log" 2>&1 &
    BENCH_PIDS[$name]=$!
}

bench_pid() { echo "${BENCH_PIDS[$1]}"; }

bench_stop() {
    local name=$1 secs=${2:-20} pid
    pid=${BENCH_PIDS[$name]:-}
    [[ -n $pid ]] || return 0
    unset "BENCH_PIDS[$name]"
    kill -CONT "$pid" 2>/dev/null || true
    stop_process "$pid" TERM "$secs" || echo "ci/bench-servers: $name (pid $pid) had to be killed" >&2
}

bench_stop_all() {
    local name
    for name in "${!BENCH_PIDS[@]}"; do
        kill -CONT "${BENCH_PIDS[$name]}" 2>/dev/null || true
    done
    for name in "${!BENCH_PIDS[@]}"; do
        bench_stop "$name" 10
    done
}

bench_wait() {
    local tenths=$(($1 * 10)) what=$2 secs=$1
    shift 2
    until "$@"; do
        ((tenths-- > 0)) || bench_fail "$what did not happen within $secs s"
        sleep 0.1
    done
}

# log_has NAME PATTERN: NAME's log has a line matching PATTERN (grep -E).
log_has() { grep -Eq -- "$2" "$BENCH_WORK/$1.log" 2>/dev/null; }

# udp_bound PORT: something is bound to 127.0.0.1:PORT/udp.
udp_bound() {
    awk -v a="$(printf '0100007F:%04X' "$1")" '$2 == a && $4 == "07" { f = 1 } END { exit !f }' /proc/net/udp
}

# port_free PORT: nothing listens on 127.0.0.1:PORT (UDP or TCP).
port_free() {
    local a
    a=$(printf ':%04X' "$1")
    ! awk -v a="$a" '$2 ~ a "$" && ($4 == "07" || $4 == "0A") { f = 1 } END { exit !f }' /proc/net/udp /proc/net/tcp
}

# socket_established SOCK: a connection to the unix socket SOCK is open.
socket_established() { ss -xH state established 2>/dev/null | grep -qF " $1 "; }

# cpu_ticks PID: utime + stime of PID (all its threads), in clock ticks.
cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) } # after the command name, field 3 (state) comes first
    awk '{ print $12 + $13 }' <<<"$stat"
}

# machine_ticks: "BUSY TOTAL" clock ticks of all CPUs since boot (/proc/stat;
# busy is everything but idle and iowait, softirq included).
machine_ticks() {
    awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}

# frame_count FILE: "DATA CONTROL STATE" of a Frame Streams file: its data
# and control frames, STATE complete (ends with STOP), no-stop or cut
# (ends inside a frame). An absent or empty file is "0 0 empty".
frame_count() {
    [[ -s $1 ]] || { echo "0 0 empty"; return 0; }
    timeout 120 python3 - "$1" <<'EOF'
import mmap, struct, sys
with open(sys.argv[1], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    u = struct.Struct(">I").unpack_from
    n, pos, data, control, last = len(m), 0, 0, 0, None
    while pos + 4 <= n:
        (length,) = u(m, pos)
        if length:
            pos += 4 + length
            data += 1
            continue
        if pos + 8 > n:
            break
        (clen,) = u(m, pos + 4)
        last = u(m, pos + 8)[0] if clen >= 4 and pos + 12 <= n else None
        pos += 8 + clen
        control += 1
    if pos != n:
        data -= pos > n  # the last data frame is cut
        state = "cut"
    else:
        state = "complete" if last == 3 else "no-stop"
    print(data, control, state)
EOF
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

BENCH_HZ=$(getconf CLK_TCK)
