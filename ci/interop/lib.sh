# shellcheck shell=bash
# The helpers of the interop matrix (sourced by each ci/interop/<peer>
# script, not run), on those of every ci/ script (ci/lib/proc.sh: the work
# directory, processes, waits; ci/lib/servers.sh: the stock Knot the
# resolvers ask, certificates): `dnstap-kit capture` on a unix socket or TCP,
# queries over UDP, TCP, DoT and DoH, one writer cell run from start to end,
# and `verify`, which checks one captured file from every side and records
# one row of the matrix.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   interop_init "BIND 9.18.49" writer    # the peer and its role in the matrix
#   capture_unix NAME; capture_tcp NAME PORT; stop_capture  # $work/NAME.fs
#   ask PORT OVER QNAME QTYPE [OPTION...] # OVER: udp tcp dot doh
#   exchanges KIND "PROTOCOL QNAME QTYPE"...   # EXPECTED lines: a query and
#                                         # its response, of KIND (A: AQ, AR)
#   writer_cell SINK FILE NAME CMD...     # the peer's server, its queries, verify
#   verify SINK OVER FILE EXPECTED DEVIATIONS [NOTE]
#   abort SINK OVER WHY                   # a cell that cannot run: FAIL, exit
#   interop_done                          # exit status: any cell failed
#
# EXPECTED is one line per message, "TYPE PROTOCOL QNAME QTYPE" with the
# mnemonics of dnstap-ldns (CQ, AR, UQ ...); DEVIATIONS the exact set of
# `dnstap-kit check` violations the writer is known for ("CLIENT_RESPONSE:
# missing query_time (recommended for CLIENT_RESPONSE)"), documented in
# docs/interop.md. Loopback only: each peer script owns ports 56x0-56x9.

# shellcheck source=ci/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/proc.sh"
# shellcheck source=ci/lib/build.sh
source "$repo/ci/lib/build.sh"
# shellcheck source=ci/lib/servers.sh
source "$repo/ci/lib/servers.sh"

export LC_ALL=C # the sort order of expected lines and deviations
# The independent decoder of the byte comparison: it parses Frame Streams
# and protobuf itself (standard library only) and prints the DNS messages
# as hex.
tap_decoder=$repo/tests/servers/fstrm.py

interop_failed=0    # cells that failed
interop_peer=""     # "BIND 9.18.49": the first column of the matrix
interop_role=""     # writer (peer → kit) or reader (kit → peer)

# interop_init PEER ROLE: dnstap-kit, the work directory, the rows file.
interop_init() {
    interop_peer=$1 interop_role=$2
    kit=$(kit_bin)
    init_work
    INTEROP_RESULTS=${INTEROP_RESULTS:-$work/results.tsv}
    echo "--- $interop_peer ($interop_role)"
}

say() { echo "  $interop_peer: $*"; }

abort() {
    row "$1" "$2" "-" FAIL "$3"
    echo "  $interop_peer: FAIL ($1): $3" >&2
    show_logs
    exit 1
}

# row SINK OVER MESSAGES RESULT NOTES: one row of the matrix.
row() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$interop_peer" "$interop_role" "$@" >>"$INTEROP_RESULTS"
}

# capture_unix NAME / capture_tcp NAME PORT: `dnstap-kit capture` writing
# $work/NAME.fs, listening on $work/NAME.sock or 127.0.0.1@PORT.
# stop_capture ends the latest of them, if it still runs (a cell with a
# file sink has none).
capture_name=""
capture_unix() {
    capture_name=$1
    spawn "$1" "$kit" capture --unix "$work/$1.sock" -w "$work/$1.fs" --stats-interval 0
    poll 10 test -S "$work/$1.sock"
}
capture_tcp() {
    capture_name=$1
    spawn "$1" "$kit" capture --tcp "127.0.0.1@$2" -w "$work/$1.fs" --stats-interval 0
    poll 10 listening tcp "$2"
}
stop_capture() {
    [[ -n "$capture_name" ]] || return 0
    halt "$capture_name"
    capture_name=""
}

# How the capture log says a writer's connection ended: "finished," after
# STOP and FINISH; a peer that ends otherwise sets it to that log's words.
stream_end="finished,"

# writer_cell SINK FILE NAME CMD...: one cell of a writer: its server NAME
# (CMD, configured by the peer for SINK) on $PORT, the peer's `queries`
# answered, then FILE verified for the queries sent $over. Into a capture,
# every $expected message must have arrived before the stop: writers send
# from a thread of their own, on a timer, and one that does not flush at
# exit would lose its queue.
writer_cell() {
    local sink=$1 file=$2 name=$3 count
    shift 3
    spawn "$name" "$@"
    # shellcheck disable=SC2153 # the peer's
    poll 10 listening tcp "$PORT" || abort "$sink" "$over" "$name did not start"
    queries || abort "$sink" "$over" "$name did not answer"
    count=$(grep -c . <<<"$expected")
    if [[ -n $capture_name ]]; then
        poll 10 captured "$count" || abort "$sink" "$over" "fewer than $count messages in the capture after 10 s"
    fi
    halt "$name" || abort "$sink" "$over" "$name did not stop"
    stop_capture || abort "$sink" "$over" "the capture did not stop"
    verify "$sink" "$over" "$file" "$expected" "$deviations" "$note" || true
}
captured() { (("$("$kit" read "$work/$capture_name.fs" 2>/dev/null | wc -l)" >= $1)); }

# ask PORT OVER QNAME QTYPE [KDIG_OPTION...]: one query to 127.0.0.1@PORT
# over udp, tcp, dot or doh; fails unless it is answered NOERROR with an
# answer.
ask() {
    local port=$1 over=$2 qname=$3 qtype=$4 answer
    local q=(kdig @127.0.0.1 -p "$port" +timeout=2 +retry=1 "${@:5}")
    case $over in
    udp) ;;
    tcp) q+=(+tcp) ;;
    dot) q+=(+tls) ;;
    doh) q+=(+https) ;;
    *) echo "ask: unknown transport $over" >&2; return 1 ;;
    esac
    answer=$("${q[@]}" "$qname" "$qtype" 2>&1) || true
    grep -q 'status: NOERROR' <<<"$answer" && grep -q 'ANSWER: [1-9]' <<<"$answer" && return 0
    echo "  $interop_peer: no answer to $qname $qtype over $over on port $port" >&2
    printf '    | %s\n' "${answer//$'\n'/$'\n'    | }" >&2
    return 1
}

exchanges() {
    local kind=$1 query
    for query in "${@:2}"; do
        printf '%sQ %s\n%sR %s\n' "$kind" "$query" "$kind" "$query"
    done
}

# The reader-side names: dnstap-ldns mnemonics of the message types.
jq_mnemonics='{"AUTH_QUERY":"AQ","AUTH_RESPONSE":"AR","RESOLVER_QUERY":"RQ","RESOLVER_RESPONSE":"RR",
  "CLIENT_QUERY":"CQ","CLIENT_RESPONSE":"CR","FORWARDER_QUERY":"FQ","FORWARDER_RESPONSE":"FR",
  "STUB_QUERY":"SQ","STUB_RESPONSE":"SR","TOOL_QUERY":"TQ","TOOL_RESPONSE":"TR",
  "UPDATE_QUERY":"UQ","UPDATE_RESPONSE":"UR"}'

# The fields the schema's closing comment recommends for each type
# (UPDATE_* as AUTH_*), written out again here and not taken from
# `dnstap-kit check`: the golang reader's view must reach the same verdict.
jq_recommended='{
  "AUTH_QUERY": ["socket_family","socket_protocol","query_address","query_port","query_message","query_time"],
  "AUTH_RESPONSE": ["socket_family","socket_protocol","query_address","query_port","query_time","response_message","response_time"],
  "RESOLVER_QUERY": ["socket_family","socket_protocol","query_message","query_time","response_address","response_port","query_zone"],
  "RESOLVER_RESPONSE": ["socket_family","socket_protocol","query_time","query_zone","response_address","response_port","response_message","response_time"],
  "CLIENT_QUERY": ["socket_family","socket_protocol","query_message","query_time"],
  "CLIENT_RESPONSE": ["socket_family","socket_protocol","query_time","response_message","response_time"]}
  | . + {"FORWARDER_QUERY": .RESOLVER_QUERY, "FORWARDER_RESPONSE": .RESOLVER_RESPONSE,
         "STUB_QUERY": .CLIENT_QUERY, "STUB_RESPONSE": .CLIENT_RESPONSE,
         "TOOL_QUERY": .CLIENT_QUERY, "TOOL_RESPONSE": .CLIENT_RESPONSE,
         "UPDATE_QUERY": .AUTH_QUERY, "UPDATE_RESPONSE": .AUTH_RESPONSE}'

# kit_messages JSON: "TYPE PROTO QNAME QTYPE ID" per record, in file order,
# from `dnstap-kit read --format json`.
kit_messages() {
    jq -r --argjson m "$jq_mnemonics" '.message as $x | ($x.query_message // $x.response_message // {}) as $d
        | [($m[$x.type] // $x.type), ($x.socket_protocol // "-"), ($d.qname // "-"), ($d.qtype // "-"),
           ($d.id // "-")] | map(tostring) | join(" ")' "$1"
}

# go_messages JSON: the same from `dnstap -j`, whose DNS messages are dig
# text: the question and the ID are read out of it. (It prints an absent
# enum as "<nil>".)
go_messages() {
    jq -r --argjson m "$jq_mnemonics" '.message as $x | ($x.query_message // $x.response_message // "") as $t
        | ($x.socket_protocol | if . == "<nil>" then null else . end) as $p
        | ($t | capture(";; QUESTION SECTION:\n;(?<n>[^\t]+)\t[A-Z]+\t ?(?<t>[A-Z0-9]+)") // {n: "-", t: "-"}) as $q
        | ($t | capture("id: (?<id>[0-9]+)") // {id: "-"}) as $i
        | [($m[$x.type] // $x.type), ($p // "-"), $q.n, $q.t, $i.id] | join(" ")' "$1"
}

# go_missing JSON: "TYPE: missing FIELD (recommended for TYPE)" for each
# recommended field the golang reader does not show, distinct and sorted.
go_missing() {
    jq -r "($jq_recommended) as \$r"' | .message as $x | ($r[$x.type] // [])[]
        | select($x[.] == null or $x[.] == "<nil>") | "\($x.type): missing \(.) (recommended for \($x.type))"' "$1" | sort -u
}

# wire_bytes DECODED: the DNS messages of each record as hex, in file
# order ("query response", "-" where absent), from fstrm.py json.
wire_bytes() {
    jq -r '.message | [.query_message // "-", .response_message // "-"] | join(" ")' "$1"
}

# kit_wire_bytes JSON: the same from the `wire` (base64) of dnstap-kit's JSON.
kit_wire_bytes() {
    local query response
    jq -r '.message | [.query_message.wire // "-", .response_message.wire // "-"] | join(" ")' "$1" |
        while read -r query response; do
            printf '%s %s\n' "$(hex_of "$query")" "$(hex_of "$response")"
        done
}
hex_of() {
    if [[ "$1" == - ]]; then echo -; else base64 -d <<<"$1" | od -An -v -tx1 | tr -d ' \n'; fi
}

# lines TEXT: TEXT as lines, nothing at all when it is empty.
lines() { [[ -z "$1" ]] || printf '%s\n' "$1"; }

# by_type MESSAGES: "CQ 5, CR 5, RQ 1" (sorted counts of the first column).
by_type() {
    awk '{ n[$1]++ } END { for (t in n) printf "%s %d\n", t, n[t] }' <<<"$1" | sort |
        paste -sd, - | sed 's/,/, /g'
}

# compact DEVIATIONS: "no query_time in CLIENT_RESPONSE, UPDATE_RESPONSE;
# ..." for the matrix.
compact() {
    [[ -n "$1" ]] || { echo "none"; return; }
    awk -F': ' '
        /: missing [a-z_]+ \(recommended for / { split($2, w, " "); f = w[2]
            if (!(f in seen)) order[++n] = f; seen[f] = seen[f] (seen[f] == "" ? "" : ", ") $1; next }
        { other = other (other == "" ? "" : "; ") $0 }
        END { for (i = 1; i <= n; i++) printf "%sno %s in %s", (i > 1 ? "; " : ""), order[i], seen[order[i]]
              if (other != "") printf "%s%s", (n ? "; " : ""), other; print "" }' <<<"$1"
}

# verify SINK OVER FILE EXPECTED DEVIATIONS [NOTE]: checks the file a writer
# produced through SINK for the queries sent over OVER, and records the
# cell. Every reader must see the same messages:
#   1. dnstap-kit read --format json: exactly EXPECTED (a multiset);
#   2. golang-dnstap `dnstap -j`: the same type, protocol, question and DNS
#      ID for every record, in the same order;
#   3. fstrm.py, an independent protobuf decoder: the same DNS
#      message bytes as the `wire` of dnstap-kit's JSON, record by record;
#   4. dnstap-kit check: exactly DEVIATIONS, and the recommended fields that
#      golang's output lacks are exactly the "missing" ones among them;
#   5. fstrm_dump: a whole Frame Streams file with STOP, one data frame a
#      record; dnstap-ldns -q: the same lines as `dnstap-kit read`, but for
#      what it cannot show ("[unhandled ...]", "?"), counted in the row;
#   6. the capture's log: every connection ended as the writer is known to.
# The cell is "ok" without DEVIATIONS and NOTE (what else the writer does
# differently), else "deviates"; "FAIL" when any of these checks fails.
verify() {
    local sink=$1 over=$2 file=$3 expected=$4 deviations=$5 note=${6:-}
    local base=${file%.fs} problems=() count got status=0 dump
    expected=$(sort <<<"$expected")
    deviations=$(sort -u <<<"$deviations" | sed '/^$/d')
    count=$(grep -c . <<<"$expected")
    [[ -s "$file" ]] || { row "$sink" "$over" 0 FAIL "no file"; interop_failed=$((interop_failed + 1)); return 1; }

    # 1. the kit's reading.
    "$kit" read --format json "$file" >"$base.kit.json" 2>"$base.kit.err" || problems+=("dnstap-kit read exited $?")
    kit_messages "$base.kit.json" >"$base.kit.msgs"
    got=$(cut -d' ' -f1-4 "$base.kit.msgs" | sort)
    [[ "$got" == "$expected" ]] ||
        problems+=("messages differ from the queries sent:"$'\n'"$(diff <(lines "$expected") <(lines "$got") | grep '^[<>]')")

    # 2. golang-dnstap agrees record by record.
    dnstap -r "$file" -j >"$base.go.json" 2>"$base.go.err" || problems+=("golang dnstap -j exited $?")
    go_messages "$base.go.json" >"$base.go.msgs"
    cmp -s "$base.kit.msgs" "$base.go.msgs" ||
        problems+=("golang dnstap reads other messages:"$'\n'"$(diff "$base.kit.msgs" "$base.go.msgs" | grep '^[<>]' | head -5)")

    # 3. the DNS messages, byte for byte, against an independent decoder.
    python3 "$tap_decoder" json "$file" >"$base.py.json" || problems+=("fstrm.py could not decode the file")
    cmp -s <(wire_bytes "$base.py.json") <(kit_wire_bytes "$base.kit.json") ||
        problems+=("DNS message bytes differ between dnstap-kit's JSON and fstrm.py")

    # 4. check reports exactly the known deviations, as golang's view does.
    "$kit" check "$file" >"$base.check" || status=$?
    got=$(sed -n 's/^[^:]*: frame [0-9]*: //p' "$base.check" | sort -u)
    [[ "$got" == "$deviations" ]] ||
        problems+=("check's violations are not the known deviations:"$'\n'"$(diff <(lines "$deviations") <(lines "$got") | grep '^[<>]')")
    [[ $status == "$([[ -n "$deviations" ]] && echo 4 || echo 0)" ]] || problems+=("check exited $status")
    [[ "$(go_missing "$base.go.json")" == "$(grep ': missing ' <<<"$got" || true)" ]] ||
        problems+=("golang dnstap shows other missing fields:"$'\n'"$(go_missing "$base.go.json")")

    # 5. the Frame Streams framing and dnstap-ldns.
    dump=$(fstrm_dump "$file" 2>&1 >/dev/null) || problems+=("fstrm_dump failed")
    [[ "$(grep -c '^Data frame' <<<"$dump")" == "$count" ]] || problems+=("fstrm_dump does not count $count data frames")
    grep -q FSTRM_CONTROL_STOP <<<"$dump" || problems+=("no STOP frame")
    dnstap-ldns -q -r "$file" >"$base.ldns" 2>/dev/null || problems+=("dnstap-ldns -q failed")
    "$kit" read "$file" >"$base.kit.text" || problems+=("dnstap-kit read (text) failed")
    # dnstap-ldns 0.2.1 prints "[unhandled ...]" for the UPDATE types and
    # "?" for the DOT, DOH and DOQ protocols; the rest must be identical.
    local skipped
    skipped=$(paste -d '\t' "$base.ldns" "$base.kit.text" | awk -F'\t' '
        $1 ~ /^\[unhandled/ { unhandled++; next }
        { split($2, k, " "); split($1, l, " ")
          if (l[5] == "?" && k[5] ~ /^(DOT|DOH|DOQ)$/) { sub(" " k[5] " ", " ? ", $2); unknown++ } }
        $1 != $2 { bad = 1 }
        END { if (unhandled) printf "%d shown as [unhandled]", unhandled
              if (unknown) printf "%s%d with protocol ?", (unhandled ? ", " : ""), unknown
              exit bad }') || problems+=("dnstap-kit read differs from dnstap-ldns -q")
    [[ "$(wc -l <"$base.ldns")" == "$count" ]] || problems+=("dnstap-ldns -q does not print $count lines")

    # 6. a socket writer ended its stream as it is known to (STOP, then
    # FINISH from the capture, unless the peer sets stream_end) on every
    # connection that carried frames, and nothing was rejected.
    if [[ -e "$base.log" ]]; then
        [[ "$(awk -v end=": $stream_end " 'index($0, end) && / [0-9]+ frames$/ { n += $(NF - 1) }
                END { print n + 0 }' "$base.log")" == "$count" ]] ||
            problems+=("the capture did not see the connections end ($stream_end) with $count frames in all")
        grep -q ' 0 rejected$' "$base.log" || problems+=("the capture rejected a connection")
    fi

    local notes result=ok
    [[ -z "$deviations$note" ]] || result=deviates
    notes=$(compact "$deviations")
    [[ -z "$note" ]] || { [[ -n "$deviations" ]] && notes+="; $note" || notes=$note; }
    [[ -z "$skipped" ]] || notes+="; dnstap-ldns -q: $skipped"
    if ((${#problems[@]})); then
        interop_failed=$((interop_failed + 1))
        row "$sink" "$over" "$(by_type "$(cut -d' ' -f1 "$base.kit.msgs")")" FAIL "${problems[0]%%$'\n'*}"
        say "FAIL ($sink):"
        printf '    %s\n' "${problems[@]}" >&2
        return 1
    fi
    row "$sink" "$over" "$(by_type "$(cut -d' ' -f1 <<<"$expected")")" "$result" "$notes"
    say "$sink: $count messages read alike by dnstap-kit, golang dnstap, fstrm.py, fstrm_dump and dnstap-ldns; deviations: $(compact "$deviations")"
}

# interop_done: the exit status of the peer script.
interop_done() {
    ((interop_failed == 0)) || { say "$interop_failed cells failed"; show_logs; return 1; }
}
