# shellcheck shell=bash
# The harness of the C programs in tests/c (sourced by ci/library-check and
# ci/library-fault): a private temporary directory, background processes
# that are always ended, libdnstap installed into a temporary prefix, the
# programs compiled plain and with ASan+UBSan, and run plain, under ASan or
# under valgrind memcheck with bounded waits. Defines `repo`, `tmp`,
# `prefix`, `modes` (from $MODES, default "plain asan valgrind").

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this file
read -ra modes <<<"${MODES:-plain asan valgrind}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dnstap-test-c.XXXXXX")
pids=()          # background processes still to be ended
cleanup_steps=() # commands the exit trap runs before removing $tmp

cleanup() {
    local pid
    if ((${#pids[@]})); then
        # CONT: a stopped capture acts on signals only once resumed. TERM
        # first: `timeout` passes it on to the test it runs, which KILL
        # would leave behind.
        for pid in "${pids[@]}"; do
            kill -CONT "$pid" 2>/dev/null || true
            kill -TERM "$pid" 2>/dev/null || true
        done
        sleep 0.5
        for pid in "${pids[@]}"; do
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        done
    fi
    local step
    for step in "${cleanup_steps[@]}"; do
        eval "$step" || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

note() { printf '%s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

# forget PID: it has been waited for; cleanup must not signal a reused pid.
forget() {
    local keep=() pid
    for pid in "${pids[@]}"; do
        [[ "$pid" == "$1" ]] || keep+=("$pid")
    done
    pids=("${keep[@]}")
}

# stop_pid PID SIGNAL SECONDS: signal PID and wait at most SECONDS for it to
# exit; a process that ignores the signal is killed and the test fails.
stop_pid() {
    local pid=$1 signal=$2 limit=$3 tenths=0
    kill "-$signal" "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if ((tenths++ >= limit * 10)); then
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            forget "$pid"
            fail "process $pid did not exit within ${limit}s of SIG$signal"
        fi
        sleep 0.1
    done
    wait "$pid" 2>/dev/null || true
    forget "$pid"
}

for tool in cc nm pkg-config make cargo timeout fstrm_capture fstrm_dump dnstap-ldns dnstap valgrind; do
    command -v "$tool" >/dev/null || fail "$tool is missing: run ci/setup"
done

# build_c_tests NAME...: installs libdnstap into "$tmp/prefix" and compiles
# tests/c/NAME.c against it through pkg-config, plain and with sanitizers.
# The check of the .pc's prefix guards against a .pc left over from an
# earlier PREFIX (the Makefile once cached it in target/), which would
# silently build the tests against another installation.
build_c_tests() {
    local name src build symbols libraries file
    prefix="$tmp/prefix"
    note "== installing libdnstap into $prefix"
    if ! make -C "$repo" install PREFIX="$prefix" >"$tmp/make.log" 2>&1; then
        tail -n 40 "$tmp/make.log" >&2
        fail "make install failed"
    fi
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    for file in lib/libdnstap.a lib/libdnstap.so.1 lib/libdnstap.so include/dnstap.h lib/pkgconfig/libdnstap.pc; do
        [[ -e "$prefix/$file" ]] || fail "make install did not install $file"
    done
    [[ "$(pkg-config --variable=prefix libdnstap)" == "$prefix" ]] \
        || fail "installed libdnstap.pc names prefix $(pkg-config --variable=prefix libdnstap), not $prefix"
    read -ra pc_cflags <<<"$(pkg-config --cflags libdnstap)"
    read -ra pc_libs <<<"$(pkg-config --libs libdnstap)"
    note "pkg-config: ${pc_cflags[*]} ${pc_libs[*]}"

    # tests/c/common.h defines _GNU_SOURCE.
    local cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g)
    local asan_flags=("-fsanitize=address,undefined" -fno-omit-frame-pointer -O1)
    mkdir -p "$tmp/bin/plain" "$tmp/bin/asan"
    note "== compiling $*"
    for name in "$@"; do
        src="$repo/tests/c/$name.c"
        cc "${cflags[@]}" -O2 "${pc_cflags[@]}" -o "$tmp/bin/plain/$name" "$src" \
            "${pc_libs[@]}" -lpthread -Wl,-rpath,"$prefix/lib"
        cc "${cflags[@]}" "${asan_flags[@]}" "${pc_cflags[@]}" -o "$tmp/bin/asan/$name" "$src" \
            "${pc_libs[@]}" -lpthread -Wl,-rpath,"$prefix/lib"
        # The sanitizer build must really be instrumented. (Captured first:
        # `nm | grep -q` could fail on SIGPIPE under pipefail.)
        symbols=$(nm "$tmp/bin/asan/$name")
        grep -q ' __asan_init$' <<<"$symbols" || fail "$name: no __asan_init in the ASan build"
        symbols=$(nm "$tmp/bin/plain/$name")
        ! grep -q '__asan_init' <<<"$symbols" || fail "$name: the plain build has ASan"
        # Both builds load the library just installed, not some other copy.
        for build in plain asan; do
            libraries=$(ldd "$tmp/bin/$build/$name")
            grep -qF "$prefix/lib/libdnstap.so.1" <<<"$libraries" \
                || fail "$build/$name does not load $prefix/lib/libdnstap.so.1"
        done
    done
}

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:exitcode=98"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=97"
# --fair-sched=yes: valgrind runs one thread at a time, and its default
# lock is unfair; a logging thread was seen waiting 0.7-2.9 s for it.
valgrind_cmd=(valgrind -q --fair-sched=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite)

# count FILE REGEX: the number of lines of FILE matching REGEX (ERE).
count() {
    grep -cE "$2" "$1" || true
}

# expect_eq WHAT GOT WANT
expect_eq() {
    [[ "$2" == "$3" ]] || fail "$1: got $2, want $3"
}

# cmd_for MODE NAME: sets `cmd` to the command line of test NAME in MODE.
cmd_for() {
    case $1 in
    plain) cmd=("$tmp/bin/plain/$2") ;;
    asan) cmd=("$tmp/bin/asan/$2") ;;
    valgrind) cmd=("${valgrind_cmd[@]}" "$tmp/bin/plain/$2") ;;
    *) fail "unknown mode $1" ;;
    esac
}

# show OUT: what a program printed, but fault_load's periodic tick lines.
show() {
    grep -v '^tick ' "$1" | sed 's/^/    | /' || true
}

# run_test MODE NAME LABEL ARGS...: runs a test in the foreground (bounded).
run_test() {
    local mode=$1 name=$2 label=$3 status=0
    shift 3
    cmd_for "$mode" "$name"
    note "-- $label [$mode]"
    timeout -k 5 120 "${cmd[@]}" "$@" >"$tmp/out" 2>"$tmp/err" || status=$?
    show "$tmp/out"
    if ((status != 0)); then
        sed 's/^/    ! /' "$tmp/err" >&2
        fail "$label [$mode] exited with status $status"
    fi
}

# start_test MODE NAME OUT ARGS...: runs a test in the background (bounded
# by timeout); its pid goes to `prog`.
start_test() {
    local mode=$1 name=$2 out=$3
    shift 3
    cmd_for "$mode" "$name"
    timeout -k 5 120 "${cmd[@]}" "$@" >"$out" 2>"$out.err" &
    prog=$!
    pids+=("$prog")
}

# finish_test OUT LABEL: waits for the background test (its timeout bounds
# the wait) and fails if it failed.
finish_test() {
    local out=$1 label=$2 status=0
    wait "$prog" || status=$?
    forget "$prog"
    show "$out"
    if ((status != 0)); then
        sed 's/^/    ! /' "$out.err" >&2
        fail "$label exited with status $status"
    fi
}

# wait_line FILE TEXT SECONDS: waits until FILE has a line TEXT, while the
# background test is alive.
wait_line() {
    local file=$1 text=$2 limit=$3 tenths=0
    until grep -qx "$text" "$file" 2>/dev/null; do
        kill -0 "$prog" 2>/dev/null || { show "$file"; sed 's/^/    ! /' "$file.err" >&2; fail "test exited before printing $text"; }
        ((tenths++ < limit * 10)) || fail "no \"$text\" within ${limit}s"
        sleep 0.1
    done
}

# start_capture OUT ARGS...: starts fstrm_capture writing OUT; pid in `cap`.
start_capture() {
    local out=$1
    shift
    fstrm_capture -t protobuf:dnstap.Dnstap "$@" -w "$out" >"$out.log" 2>&1 &
    cap=$!
    pids+=("$cap")
}

# wait_unix SOCKET: waits until the capture listens on SOCKET.
wait_unix() {
    local tenths=0
    until [[ -S "$1" ]]; do
        kill -0 "$cap" 2>/dev/null || { cat "$1.log" >&2 || true; fail "fstrm_capture exited"; }
        ((tenths++ < 100)) || fail "fstrm_capture did not create $1 within 10s"
        sleep 0.1
    done
}

# listening PORT: whether a TCP socket listens on PORT (IPv4 or IPv6).
listening() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v port=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == port { found = 1 }
        END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# start_tcp_capture ADDR OUT: starts fstrm_capture on ADDR and a free port
# (in `port`); returns 1 if it cannot listen there.
start_tcp_capture() {
    local addr=$1 out=$2 attempt tenths
    for attempt in 1 2 3; do
        port=$((20000 + RANDOM % 40000))
        listening "$port" && continue
        start_capture "$out" -a "$addr" -p "$port"
        tenths=0
        while kill -0 "$cap" 2>/dev/null && ! listening "$port" && ((tenths++ < 50)); do
            sleep 0.1
        done
        listening "$port" && return 0
        stop_pid "$cap" KILL 5
        note "   (attempt $attempt: fstrm_capture could not listen on [$addr]:$port)"
    done
    return 1
}
