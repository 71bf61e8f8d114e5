# shellcheck shell=bash
# Consumer groups for ci/kafka-check (sourced, not run), on ci/log/lib.sh,
# ci/kafka/lib.sh and `kit`: two processes with the same --consumer name
# on a topic of 3 partitions. Counts are of the records printed or
# stored, never of offsets. The takeovers are mid-stream: half of the
# records are in the topic when the two start, the rest is published
# after one of them is gone.
#
#   shared_by_two URL JSON  two `read`s of one group at once: each a
#                           non-empty share, none in both, together every
#                           record of JSON, each once
#   takeover_after_kill TOPIC FS JSON MAX_TWICE
#                           two `read --follow`s of FS's records published
#                           into TOPIC; the group's leader killed (-9): the
#                           other is given every partition once the
#                           leader's session timed out, and reads on from
#                           the committed offsets; every record of JSON
#                           read, at most MAX_TWICE (the killed one's last
#                           poll) twice
#   takeover_after_leave TOPIC FS JSON
#                           the same, the other member stopped (SIGTERM): it
#                           leaves the group and the leader has every
#                           partition within LEAVE_BOUND s, well before a
#                           session timeout; nothing read twice
#   ingest_shared_and_killed TOPIC FS
#                           two `pdns ingest --follow`s of one group into
#                           one SQLite file, one killed (-9) mid-stream,
#                           the other given its partitions, stopped, and
#                           one more run to the end: the rows equal those
#                           of FS ingested directly
#                           ($work/direct.rows, which
#                           ingest_killed_and_restarted made)

# shellcheck source=ci/log/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../log/lib.sh"

# The consumer's session timeout (cli/src/log/kafka/member.rs), and the
# bound on a rebalance after a member left: a heartbeat (a third of the
# session timeout) learns of it, the rejoin is immediate.
SESSION_TIMEOUT=10 LEAVE_BOUND=6

# read_in_group NAME GROUP URL [OPTION...]: `read --format json` as NAME,
# its records in $work/NAME.json, its log lines in $work/NAME.log.
# shellcheck disable=SC2154 # kit: set by the script that sources this file
read_in_group() {
    local name=$1 group=$2 url=$3
    shift 3
    # shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
    spawn "$name" bash -c 'exec "$0" read --format json --consumer "$1" "${@:4}" "$2" >"$3"' \
        "$kit" "$group" "$url" "$work/$name.json" "$@"
}

# last_share NAME: the partitions of NAME's last assignment ("[0, 1]").
last_share() { grep -o 'assigns partitions \[[0-9, ]*\] .*' "$work/$1.log" | tail -n 1; }

# everything_to NAME: how many times NAME was assigned every partition.
everything_to() { grep -c 'assigns partitions \[0, 1, 2\]' "$work/$1.log" || true; }

# given_everything NAME BEFORE: NAME was assigned every partition more
# than BEFORE times.
given_everything() { (($(everything_to "$1") > $2)); }

# sharing_out A B: A and B each hold a part of the topic.
sharing_out() {
    local name
    for name in "$@"; do
        [[ $(last_share "$name") == *'['[0-9]* && $(last_share "$name") != *'[0, 1, 2]'* ]] || return 1
    done
}

# sharing A B: the same, and each printed some of it.
sharing() { [[ -s $work/$1.json && -s $work/$2.json ]] && sharing_out "$@"; }

# union_reached N A B: A's and B's complete records, each once, in
# $work/union.json, are at least N.
union_reached() {
    cat "$work/$2.json" "$work/$3.json" | grep '}$' | sort -u >"$work/union.json"
    (($(wc -l <"$work/union.json") >= $1))
}

shared_by_two() {
    local url=$1 json=$2 name
    for name in share-1 share-2; do read_in_group "$name" shared "$url"; done
    for name in share-1 share-2; do
        finish "$name" 120
        ((rc == 0)) || die "$name exited $rc: $(tail -n 3 "$work/$name.log")"
        [[ -s $work/$name.json ]] || die "$name read nothing: $(tail -n 3 "$work/$name.log")"
    done
    [[ -z $(comm -12 <(sort "$work/share-1.json") <(sort "$work/share-2.json")) ]] ||
        die "records read by both members of the group"
    cat "$work/share-1.json" "$work/share-2.json" >"$work/shared.json"
    same_records "$json" "$work/shared.json"
    echo "  $(wc -l <"$work/share-1.json") + $(wc -l <"$work/share-2.json") records: every one, each once"
}

# feed_in_halves TOPIC FS: `export kafka` of the first half of FS into
# TOPIC now, of the rest once `release TOPIC` is called (within 120 s).
# shellcheck disable=SC2154 # broker: set by ci/kafka/lib.sh's start_kafka
feed_in_halves() {
    local topic=$1 fs=$2
    # shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
    spawn "feed-$topic" bash -c 'exec "$4" export kafka - --brokers "$5" --topic "$6" --batch-records 1000 --stats-interval 0 \
        < <(head -c "$1" "$2"; for ((i = 0; i < 1200; i++)); do [[ -e $3 ]] && break; sleep 0.1; done; tail -c "+$(($1 + 1))" "$2")' \
        _ $(($(stat -c %s "$fs") / 2)) "$fs" "$work/release-$topic" "$kit" "$broker" "$topic"
}

release() {
    touch "$work/release-$1"
    finish "feed-$1" 60
    ((rc == 0)) || die "export into $1 exited $rc: $(tail -n 3 "$work/feed-$1.log")"
}

# pair TOPIC: TOPIC-1 and TOPIC-2 reading TOPIC (--follow) in group TOPIC,
# each with its share; sets leader and member to their names.
pair() {
    local topic=$1 name
    for name in "$topic-1" "$topic-2"; do read_in_group "$name" "$topic" "kafka://$broker/$topic" --follow; done
    wait_until 60 "$topic-1 and $topic-2 each reading a share" sharing "$topic-1" "$topic-2"
    if [[ $(last_share "$topic-1") == *leader* ]]; then
        leader=$topic-1 member=$topic-2
    else
        leader=$topic-2 member=$topic-1
    fi
    [[ $(last_share "$member") == *member* && $(last_share "$leader") == *leader* ]] ||
        die "$topic: not one leader and one member: $(last_share "$topic-1"); $(last_share "$topic-2")"
}

takeover_after_kill() {
    local topic=$1 fs=$2 json=$3 max_twice=$4 total before started took printed twice
    total=$(wc -l <"$json")
    feed_in_halves "$topic" "$fs"
    pair "$topic"
    before=$(everything_to "$member")
    printed=$(wc -l <"$work/$leader.json")
    started=$(now_ms)
    kill_now "$leader"
    release "$topic"
    wait_until $((SESSION_TIMEOUT * 3)) "$member given every partition" given_everything "$member" "$before"
    took=$(($(now_ms) - started))
    ((took >= SESSION_TIMEOUT * 1000 - 1000)) || die "$member took over after $took ms, before a session timeout"
    wait_until 60 "every record read" union_reached "$total" "$leader" "$member"
    halt "$member"
    same_records "$json" "$work/union.json"
    twice=$(($(cat "$work/$leader.json" "$work/$member.json" | grep -c '}$') - total))
    ((twice <= max_twice)) || die "$twice records read twice: more than the killed member's last poll"
    echo "  the leader killed after printing $printed records, then the second half published: the member had" \
        "every partition $took ms later (session timeout ${SESSION_TIMEOUT} s); every record read, $twice twice"
}

takeover_after_leave() {
    local topic=$1 fs=$2 json=$3 total before started took
    total=$(wc -l <"$json")
    feed_in_halves "$topic" "$fs"
    pair "$topic"
    before=$(everything_to "$leader")
    started=$(now_ms)
    halt "$member"
    wait_until "$LEAVE_BOUND" "$leader given every partition after $member left" \
        given_everything "$leader" "$before"
    took=$(($(now_ms) - started))
    release "$topic"
    wait_until 60 "every record read" union_reached "$total" "$leader" "$member"
    halt "$leader"
    cat "$work/$leader.json" "$work/$member.json" >"$work/left.json"
    same_records "$json" "$work/left.json"
    echo "  the member stopped (SIGTERM) and left: the leader had every partition $took ms later; every record read once"
}

ingest_shared_and_killed() {
    local topic=$1 fs=$2 pdns_tool=$repo/tests/servers/pdns_tool.py name before
    feed_in_halves "$topic" "$fs"
    # Both at once, into a database neither has made yet.
    for name in "$topic-1" "$topic-2"; do
        spawn "$name" "$kit" pdns ingest --follow "kafka://$broker/$topic" --db "$work/group.sqlite" \
            --consumer "$topic" --batch 5000 --stats-interval 1
    done
    for name in "$topic-1" "$topic-2"; do
        wait_until 60 "$name storing" reached "$work/$name.log" messages 1
    done
    wait_until 60 "$topic-1 and $topic-2 each given a share" sharing_out "$topic-1" "$topic-2"
    release "$topic"
    wait_until 60 "$topic-2 storing its share" reached "$work/$topic-2.log" messages 5000
    before=$(everything_to "$topic-2")
    kill_now "$topic-1"
    wait_until $((SESSION_TIMEOUT * 3)) "$topic-2 given every partition" given_everything "$topic-2" "$before"
    halt "$topic-2"
    "$kit" pdns ingest "kafka://$broker/$topic" --db "$work/group.sqlite" --consumer "$topic" --stats-interval 0 \
        2>"$work/$topic-3.log" || die "pdns ingest: $(tail -n 5 "$work/$topic-3.log")"
    python3 "$pdns_tool" sqlite "$work/group.sqlite" >"$work/group.rows"
    cmp -s "$work/direct.rows" "$work/group.rows" ||
        die "two pdns ingests of a group, one killed, differ from ingesting the file directly"
    echo "  one killed at $(grep -o "messages=[0-9]*" "$work/$topic-1.log" | tail -n 1), the other given its" \
        "partitions and stopped at $(grep -o "messages=[0-9]*" "$work/$topic-2.log" | tail -n 1), a last run" \
        "$(grep -o "messages=[0-9]*" "$work/$topic-3.log" | tail -n 1): $(wc -l <"$work/group.rows") rows, equal" \
        "to the file's; $(grep -o "[0-9]* records from logs were stored already" "$work/$topic-3.log" ||
            echo "0 records") skipped by the last run"
}
