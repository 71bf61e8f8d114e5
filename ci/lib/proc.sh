# shellcheck shell=bash
# Processes and bounded waits for the ci/ scripts (sourced, not run). Sets
# `repo` (the repository) and `script` (the running script, "ci/NAME").
#
#   init_work               $work: a fresh directory; at exit every process
#                           still tracked is stopped, the at_exit commands
#                           run, and $work is removed (kept, and named, when
#                           the script fails or KEEP=1)
#   at_exit CMD...          one more command for the exit
#   memory_dir              prints a directory in memory (/dev/shm) if there
#                           is one, else in $work; removed at exit
#   mount_tmpfs DIR SIZE    a tmpfs of SIZE on DIR, unmounted at exit (root)
#   spawn NAME CMD...       CMD in the background, its output in $work/NAME.log
#   track NAME PID          a process started otherwise, stopped the same way
#   pid_of NAME; running NAME; forget NAME (after the caller waited for it)
#   kill_now NAME           kill -9 (a crash), reaped without the shell's
#                           report, forgotten
#   halt NAME [SIGNAL [SECS]]   SIGCONT, SIGNAL (TERM), then at most SECS (10)
#                           for it to end; fails if it had to be killed or had
#                           already ended
#   poll SECS CMD...        until CMD succeeds, every $POLL s (0.1); fails
#                           after SECS
#   wait_until SECS WHAT CMD...   the same, or dies naming WHAT
#   while_running NAME CMD...     CMD, after dying if NAME has ended: for a
#                           wait on what NAME should bring about
#   die MESSAGE...          "ci/NAME: FAILED: MESSAGE" on stderr, exit 1
#   show_logs               the tail of every log in $work, on stderr
#   need TOOL...            dies unless every TOOL is installed
#   listening tcp|udp PORT  a socket listens on (is bound to) PORT
#   unix_connected SOCK     a connection to the listening unix socket SOCK is open
#   now_ms; cpu_ticks /proc/PID[/task/TID]; rss_kb PID   clocks and usage

# The libraries that need it source it too: once is enough.
[[ -z "${procs+set}" ]] || return 0

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
script=$(realpath "$0")
script=${script#"$repo"/}

declare -gA procs=() # NAME -> pid of a process to stop at the latest at exit
exit_steps=()

die() {
    echo "$script: FAILED: $*" >&2
    exit 1
}

show_logs() {
    local log
    for log in "$work"/*.log; do
        [[ -s "$log" ]] || continue
        echo "    --- ${log##*/}" >&2
        tail -n 15 "$log" | sed 's/^/    | /' >&2
    done
}

need() {
    local tool missing=()
    for tool; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    ((${#missing[@]} == 0)) || die "${missing[*]} missing: run ci/setup"
}

init_work() {
    local name=${script#ci/}
    work=$(mktemp -d "${TMPDIR:-/tmp}/${name//\//-}.XXXXXX")
    trap end_work EXIT
    # A signal (ci/interop-check's timeout, ^C) must still run the cleanup.
    trap 'exit 130' INT TERM HUP
}

end_work() {
    local status=$? step
    halt_all
    for step in "${exit_steps[@]}"; do
        eval "$step" >/dev/null 2>&1 || true
    done
    rm -rf "/dev/shm/${work##*/}"
    if ((status != 0)) || [[ -n "${KEEP:-}" ]]; then
        echo "$script: run directory kept: $work" >&2
    else
        rm -rf "$work"
    fi
}

at_exit() {
    exit_steps+=("$(printf '%q ' "$@")")
}

# memory_dir is named after $work, so that the exit removes it even when it
# was made in a subshell ($(memory_dir)).
memory_dir() {
    local dir=/dev/shm/${work##*/}
    [[ -d /dev/shm && -w /dev/shm ]] || dir=$work/memory
    mkdir -p "$dir" && echo "$dir"
}

mount_tmpfs() {
    mkdir -p "$1"
    mount -t tmpfs -o "size=$2" "dnstap-kit-${script##*/}" "$1" || die "cannot mount a tmpfs on $1 (root needed)"
    at_exit umount -l "$1"
}

# The log exists when spawn returns (the child opens it only once it runs).
spawn() {
    local name=$1
    shift
    : >"$work/$name.log"
    "$@" >"$work/$name.log" 2>&1 &
    procs[$name]=$!
}

track() { procs[$1]=$2; }

pid_of() { echo "${procs[$1]:?"$script: no process $1"}"; }

running() { [[ -n ${procs[$1]:-} ]] && kill -0 "${procs[$1]}" 2>/dev/null; }

forget() { unset "procs[$1]"; }

gone() { ! kill -0 "$1" 2>/dev/null; }

kill_now() {
    local pid
    pid=$(pid_of "$1")
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    forget "$1"
}

halt() {
    local name=$1 signal=${2:-TERM} secs=${3:-10} pid
    [[ $signal == [A-Z]* ]] || die "halt $*: a signal's name comes before the seconds"
    pid=$(pid_of "$name")
    forget "$name"
    if gone "$pid"; then
        wait "$pid" 2>/dev/null || true
        echo "$script: $name (pid $pid) ended before it was stopped" >&2
        return 1
    fi
    # CONT first: a stopped process acts on the signal only once resumed.
    kill -CONT "$pid" 2>/dev/null || true
    kill "-$signal" "$pid" 2>/dev/null || true
    if ! POLL=0.05 poll "$secs" gone "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        echo "$script: $name (pid $pid) ignored SIG$signal for $secs s: killed" >&2
        return 1
    fi
    wait "$pid" 2>/dev/null || true
}

# halt_all: every tracked process, at once: TERM (`timeout` passes it on to
# the program it runs, which KILL would leave behind), then KILL after 5 s.
halt_all() {
    local name pid
    for pid in "${procs[@]}"; do
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
    done
    POLL=0.05 poll 5 all_gone || true
    for name in "${!procs[@]}"; do
        kill -KILL "${procs[$name]}" 2>/dev/null || true
        wait "${procs[$name]}" 2>/dev/null || true
        forget "$name"
    done
}

all_gone() {
    local pid
    for pid in "${procs[@]}"; do
        gone "$pid" || return 1
    done
}

# The deadline is on the clock, not a count of sleeps: a slow CMD does not
# stretch the wait.
poll() {
    local deadline=$(($(now_ms) + $1 * 1000))
    shift
    until "$@"; do
        (($(now_ms) < deadline)) || return 1
        sleep "${POLL:-0.1}"
    done
}

wait_until() {
    local secs=$1 what=$2
    shift 2
    poll "$secs" "$@" || die "$what: not within $secs s"
}

while_running() {
    local name=$1 log
    shift
    if ! running "$name"; then
        log=$(tail -n 5 "$work/$name.log" 2>/dev/null || true)
        die "$name ended${log:+: $log}"
    fi
    "$@"
}

# listening looks in /proc: connecting to probe would make a bogus client of
# a Frame Streams collector.
listening() {
    local state=0A table tables=() hex
    [[ $1 == udp ]] && state=07
    for table in "/proc/net/$1" "/proc/net/${1}6"; do
        if [[ -e $table ]]; then tables+=("$table"); fi
    done
    hex=$(printf ':%04X' "$2")
    awk -v port="$hex" -v state="$state" '$4 == state && substr($2, length($2) - 4) == port { found = 1 }
        END { exit !found }' "${tables[@]}"
}

unix_connected() { awk -v path="$1" '$6 == "03" && $8 == path { found = 1 } END { exit !found }' /proc/net/unix; }

now_ms() {
    local t=${EPOCHREALTIME//[!0-9]/}
    echo $((10#$t / 1000))
}

# cpu_ticks /proc/PID or /proc/PID/task/TID: its utime + stime in clock ticks.
cpu_ticks() {
    local stat
    stat=$(<"$1/stat")
    stat=${stat##*) } # after the command name, field 3 (state) comes first
    awk '{ print $12 + $13 }' <<<"$stat"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
