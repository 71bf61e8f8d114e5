# shellcheck shell=bash
# The harness of the C programs in tests/c (sourced by ci/library-check and
# ci/library-fault, after ci/lib/proc.sh): libdnstap installed into a fresh
# prefix, the programs compiled plain and with ASan+UBSan, and run plain,
# under ASan or under valgrind memcheck with bounded waits. Defines `prefix`
# and `modes` (from $MODES, default "plain asan valgrind").

# shellcheck source=ci/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/proc.sh"

# shellcheck disable=SC2034 # used by the scripts that source this file
read -ra modes <<<"${MODES:-plain asan valgrind}"
need cc nm pkg-config make cargo timeout fstrm_capture fstrm_dump dnstap-ldns dnstap valgrind
init_work

note() { printf '%s\n' "$*"; }

# build_c_tests NAME...: installs libdnstap into "$work/prefix" and compiles
# tests/c/NAME.c against it through pkg-config, plain and with sanitizers.
# The check of the .pc's prefix guards against a .pc left over from an
# earlier PREFIX (the Makefile once cached it in target/), which would
# silently build the tests against another installation.
build_c_tests() {
    local name src build symbols libraries file
    prefix="$work/prefix"
    note "== installing libdnstap into $prefix"
    if ! make -C "$repo" install PREFIX="$prefix" >"$work/make.log" 2>&1; then
        tail -n 40 "$work/make.log" >&2
        die "make install failed"
    fi
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    for file in lib/libdnstap.a lib/libdnstap.so.1 lib/libdnstap.so include/dnstap.h lib/pkgconfig/libdnstap.pc; do
        [[ -e "$prefix/$file" ]] || die "make install did not install $file"
    done
    [[ "$(pkg-config --variable=prefix libdnstap)" == "$prefix" ]] \
        || die "installed libdnstap.pc names prefix $(pkg-config --variable=prefix libdnstap), not $prefix"
    read -ra pc_cflags <<<"$(pkg-config --cflags libdnstap)"
    read -ra pc_libs <<<"$(pkg-config --libs libdnstap)"
    note "pkg-config: ${pc_cflags[*]} ${pc_libs[*]}"

    # tests/c/common.h defines _GNU_SOURCE.
    local cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g)
    local asan_flags=("-fsanitize=address,undefined" -fno-omit-frame-pointer -O1)
    mkdir -p "$work/bin/plain" "$work/bin/asan"
    note "== compiling $*"
    for name in "$@"; do
        src="$repo/tests/c/$name.c"
        cc "${cflags[@]}" -O2 "${pc_cflags[@]}" -o "$work/bin/plain/$name" "$src" \
            "${pc_libs[@]}" -lpthread -Wl,-rpath,"$prefix/lib"
        cc "${cflags[@]}" "${asan_flags[@]}" "${pc_cflags[@]}" -o "$work/bin/asan/$name" "$src" \
            "${pc_libs[@]}" -lpthread -Wl,-rpath,"$prefix/lib"
        # The sanitizer build must really be instrumented. (Captured first:
        # `nm | grep -q` could fail on SIGPIPE under pipefail.)
        symbols=$(nm "$work/bin/asan/$name")
        grep -q ' __asan_init$' <<<"$symbols" || die "$name: no __asan_init in the ASan build"
        symbols=$(nm "$work/bin/plain/$name")
        ! grep -q '__asan_init' <<<"$symbols" || die "$name: the plain build has ASan"
        # Both builds load the library just installed, not some other copy.
        for build in plain asan; do
            libraries=$(ldd "$work/bin/$build/$name")
            grep -qF "$prefix/lib/libdnstap.so.1" <<<"$libraries" \
                || die "$build/$name does not load $prefix/lib/libdnstap.so.1"
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
    [[ "$2" == "$3" ]] || die "$1: got $2, want $3"
}

# cmd_for MODE NAME: sets `cmd` to the command line of test NAME in MODE.
cmd_for() {
    case $1 in
    plain) cmd=("$work/bin/plain/$2") ;;
    asan) cmd=("$work/bin/asan/$2") ;;
    valgrind) cmd=("${valgrind_cmd[@]}" "$work/bin/plain/$2") ;;
    *) die "unknown mode $1" ;;
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
    timeout -k 5 120 "${cmd[@]}" "$@" >"$work/out" 2>"$work/err" || status=$?
    show "$work/out"
    if ((status != 0)); then
        sed 's/^/    ! /' "$work/err" >&2
        die "$label [$mode] exited with status $status"
    fi
}

# start_test MODE NAME OUT ARGS...: runs a test in the background (bounded
# by timeout), tracked as "test"; its pid in `prog`.
start_test() {
    local mode=$1 name=$2 out=$3
    shift 3
    cmd_for "$mode" "$name"
    timeout -k 5 120 "${cmd[@]}" "$@" >"$out" 2>"$out.err" &
    prog=$!
    track test "$prog"
}

# finish_test OUT LABEL: waits for the background test (its timeout bounds
# the wait) and fails if it failed.
finish_test() {
    local out=$1 label=$2 status=0
    wait "$prog" || status=$?
    forget test
    show "$out"
    if ((status != 0)); then
        sed 's/^/    ! /' "$out.err" >&2
        die "$label exited with status $status"
    fi
}

# test_running OUT: the background test runs; else its output is shown and
# the test fails.
test_running() {
    running test && return 0
    show "$1"
    sed 's/^/    ! /' "$1.err" >&2
    die "the test exited early"
}

# wait_line FILE TEXT SECONDS: waits until FILE, the output of the
# background test, has a line TEXT.
wait_line() {
    wait_until "$3" "a line $2" line_of_test "$1" "$2"
}
line_of_test() {
    test_running "$1"
    grep -qx "$2" "$1" 2>/dev/null
}

# start_capture OUT ARGS...: fstrm_capture writing OUT, as "capture".
start_capture() {
    local out=$1
    shift
    spawn capture fstrm_capture -t protobuf:dnstap.Dnstap "$@" -w "$out"
}

# wait_unix SOCKET: waits until the capture listens on SOCKET.
wait_unix() {
    wait_until 10 "fstrm_capture on $1" while_running capture test -S "$1"
}

# start_tcp_capture ADDR OUT: starts fstrm_capture on ADDR and a free port
# (in `port`); returns 1 if it cannot listen there.
start_tcp_capture() {
    local addr=$1 out=$2 attempt
    for attempt in 1 2 3; do
        port=$((20000 + RANDOM % 40000))
        listening tcp "$port" && continue
        start_capture "$out" -a "$addr" -p "$port"
        poll 5 listening_or_ended "$port" || true
        listening tcp "$port" && return 0
        halt capture KILL 5 || true
        note "   (attempt $attempt: fstrm_capture could not listen on [$addr]:$port)"
    done
    return 1
}
listening_or_ended() { listening tcp "$1" || ! running capture; }
