# shellcheck shell=bash
# What ci/nats-check and ci/kafka-check share (sourced, not run), on
# ci/lib/proc.sh and `kit` (dnstap-kit): exports' counters, and the
# consumer scenarios run against either engine. Counts are made of the
# records read back, never of a server's counters or offsets.
#
#   counter LOG NAME        NAME=… of the last counters line of an export's LOG
#   reached LOG NAME N      the last NAME=… in LOG is at least N
#   lines_reached FILE N    FILE has at least N lines
#   finish NAME SECS        waits for NAME to end by itself; its code in $rc
#   once_each FILE          no line of FILE twice
#   same_records A B        A and B hold the same lines, as many times each
#   ingest_killed_and_restarted URL FS
#                           pdns ingest from URL (holding the records of FS)
#                           into SQLite killed (-9) mid-stream and run again
#                           to the end: its rows equal those of FS ingested
#                           directly (exactly-once)
#   read_killed_and_restarted URL JSON MAX_TWICE
#                           read --format json from URL killed (-9) after
#                           half of JSON's lines and run again: every line of
#                           JSON read, at most MAX_TWICE (one poll) twice

# shellcheck source=ci/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/proc.sh"

counter() { grep "records=" "$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }

reached() {
    local n
    n=$(grep -o "$2=[0-9]*" "$1" | tail -n 1 | cut -d= -f2)
    ((${n:-0} >= $3))
}

lines_reached() { [[ -s $1 ]] && (($(wc -l <"$1") >= $2)); }

finish() {
    local pid
    pid=$(pid_of "$1")
    wait_until "$2" "the end of $1" gone "$pid"
    rc=0
    wait "$pid" || rc=$?
    forget "$1"
}

once_each() {
    local twice
    twice=$(sort "$1" | uniq -d | wc -l)
    ((twice == 0)) || die "$1: $twice records read twice"
}

same_records() {
    cmp -s <(sort "$1") <(sort "$2") || die "$1 and $2 hold different records ($(wc -l <"$1") and $(wc -l <"$2") lines)"
}

# shellcheck disable=SC2154 # kit: set by the script that sources this file
ingest_killed_and_restarted() {
    local url=$1 fs=$2 pdns_tool=$repo/tests/servers/pdns_tool.py
    "$kit" pdns ingest "$fs" --db "$work/direct.sqlite" --stats-interval 0 2>/dev/null
    python3 "$pdns_tool" sqlite "$work/direct.sqlite" >"$work/direct.rows"
    spawn ingest-1 "$kit" pdns ingest "$url" --db "$work/log.sqlite" --batch 5000 --stats-interval 1
    wait_until 60 "a few batches stored" reached "$work/ingest-1.log" messages 30000
    running ingest-1 || die "pdns ingest ended before the kill"
    kill_now ingest-1
    spawn ingest-2 "$kit" pdns ingest "$url" --db "$work/log.sqlite" --batch 5000 --stats-interval 1
    finish ingest-2 120
    ((rc == 0)) || die "pdns ingest exited $rc: $(tail -5 "$work/ingest-2.log")"
    python3 "$pdns_tool" sqlite "$work/log.sqlite" >"$work/log.rows"
    cmp -s "$work/direct.rows" "$work/log.rows" || die "pdns after a kill -9 and a restart differs from ingesting the file directly"
    echo "  killed at $(grep -o "messages=[0-9]*" "$work/ingest-1.log" | tail -n 1); after the restart, $(wc -l <"$work/log.rows") rows equal to the file's;" \
        "$(grep -o "[0-9]* records from logs were stored already" "$work/ingest-2.log" || echo "0 records") skipped"
}

# shellcheck disable=SC2154 # kit: set by the script that sources this file
read_killed_and_restarted() {
    local url=$1 json=$2 max_twice=$3 total twice
    total=$(wc -l <"$json")
    # shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
    spawn read-1 bash -c 'exec "$0" read --format json --consumer killed "$1" >"$2"' "$kit" "$url" "$work/read-1.json"
    wait_until 60 "$((total / 2)) records printed" lines_reached "$work/read-1.json" $((total / 2))
    kill_now read-1
    "$kit" read --format json --consumer killed "$url" >"$work/read-2.json"
    # A line cut by the kill (the last, without its newline) is not a
    # record, even where the cut falls just after a nested object's "}".
    {
        if [[ -n "$(tail -c 1 "$work/read-1.json")" ]]; then sed '$d' "$work/read-1.json"; else cat "$work/read-1.json"; fi
        cat "$work/read-2.json"
    } | sort -u >"$work/read.json"
    same_records "$json" "$work/read.json"
    twice=$(($(wc -l <"$work/read-2.json") + $(wc -l <"$work/read-1.json") - total))
    ((twice <= max_twice)) || die "$twice records read twice after the restart: more than one poll"
    echo "  every record read; $twice read again (printed, not yet committed at the kill)"
}
