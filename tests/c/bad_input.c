/*
 * Scenario B: every misuse of the API returns its documented error and
 * queues nothing; handles can be created and ended repeatedly and several
 * can live at once.
 *
 *   bad_input DIR
 *
 * Writes DIR/bad.fs (must hold no record), DIR/limits.fs (2 records: the
 * largest accepted message and zone), DIR/repeat-NN.fs (20 files of 10
 * records) and DIR/multi-I.fs (3 files of 5, 10 and 15 records named
 * "hI-nJ.example."); the driver counts them.
 */
#include "common.h"

#include <limits.h>
#include <stddef.h>
#include <sys/un.h>

/* A valid message to spoil one field at a time; `buf` holds its query. */
struct base {
    struct dnstap_message m;
    struct dnstap_policy policy;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    uint8_t query[128];
};

static void base_init(struct base *b)
{
    CHECK_RC(dnstap_message_init(&b->m), DNSTAP_OK);
    sa4(&b->v4, "192.0.2.1", 5300);
    sa6(&b->v6, "2001:db8::1", 53);
    b->m.type = DNSTAP_MESSAGE_TYPE_CLIENT_QUERY;
    b->m.socket_protocol = DNSTAP_SOCKET_PROTOCOL_UDP;
    b->m.query_address = (const struct sockaddr *)&b->v4;
    b->m.query_message = b->query;
    b->m.query_message_len = dns_query(b->query, sizeof b->query, 1, "bad.example.");
    memset(&b->policy, 0, sizeof b->policy);
    b->policy.type = (const uint8_t *)"RPZ";
    b->policy.type_len = 3;
    b->policy.action = DNSTAP_POLICY_ACTION_NXDOMAIN;
    b->policy.match = DNSTAP_POLICY_MATCH_QNAME;
}

/* Logs `b` and checks the result and that nothing was queued. */
static void expect(struct dnstap *h, const struct base *b, int want, const char *what)
{
    int rc = dnstap_log_message(h, &b->m);
    CHECK(rc == want, "%s: returned %d (%s), want %d (%s)", what, rc, dnstap_strerror(rc), want,
          dnstap_strerror(want));
    const struct dnstap_stats st = current_stats(h);
    CHECK(st.accepted == 0 && st.dropped == 0 && st.sampled_out == 0,
          "%s: accepted %" PRIu64 " dropped %" PRIu64 " after a refused message", what,
          st.accepted, st.dropped);
}

static void bad_messages(const char *dir)
{
    char sink[4200];
    format(sink, sizeof sink, "file:%s/bad.fs", dir);
    struct dnstap_options *opts = test_options(sink, 0);
    struct dnstap *h = test_init(opts);
    dnstap_options_free(opts);

    struct base b;
    base_init(&b);
    int checks = 0;
#define EXPECT(want, what, ...)   \
    do {                          \
        base_init(&b);            \
        __VA_ARGS__;              \
        expect(h, &b, want, what); \
        checks++;                 \
    } while (0)

    CHECK_RC(dnstap_log_message(NULL, &b.m), DNSTAP_E_NULL);
    CHECK_RC(dnstap_log_message(h, NULL), DNSTAP_E_NULL);
    CHECK_RC(dnstap_message_init(NULL), DNSTAP_E_NULL);

    /* NULL with a non-zero length, in every byte-string field. */
    EXPECT(DNSTAP_E_NULL, "NULL query_message", b.m.query_message = NULL);
    EXPECT(DNSTAP_E_NULL, "NULL response_message", b.m.response_message_len = 12);
    EXPECT(DNSTAP_E_NULL, "NULL query_zone", b.m.query_zone_len = 9);
    EXPECT(DNSTAP_E_NULL, "NULL extra", b.m.extra_len = 1);
    EXPECT(DNSTAP_E_NULL, "NULL policy type", b.m.policy = &b.policy, b.policy.type = NULL);
    EXPECT(DNSTAP_E_NULL, "NULL policy rule", b.m.policy = &b.policy, b.policy.rule_len = 5);
    EXPECT(DNSTAP_E_NULL, "NULL policy value", b.m.policy = &b.policy, b.policy.value_len = 4);

    /* Enum values out of range and combinations the schema forbids. */
    EXPECT(DNSTAP_E_INVAL, "type 0", b.m.type = 0);
    EXPECT(DNSTAP_E_INVAL, "type 15", b.m.type = 15);
    EXPECT(DNSTAP_E_INVAL, "type UINT32_MAX", b.m.type = UINT32_MAX);
    EXPECT(DNSTAP_E_INVAL, "socket_protocol 8", b.m.socket_protocol = 8);
    EXPECT(DNSTAP_E_INVAL, "http_protocol 4 with DOH",
           b.m.socket_protocol = DNSTAP_SOCKET_PROTOCOL_DOH, b.m.http_protocol = 4);
    EXPECT(DNSTAP_E_INVAL, "http_protocol with UDP", b.m.http_protocol = DNSTAP_HTTP_PROTOCOL_HTTP2);
    EXPECT(DNSTAP_E_INVAL, "http_protocol without a socket protocol", b.m.socket_protocol = 0,
           b.m.http_protocol = DNSTAP_HTTP_PROTOCOL_HTTP3);
    EXPECT(DNSTAP_E_INVAL, "policy action 7", b.m.policy = &b.policy, b.policy.action = 7);
    EXPECT(DNSTAP_E_INVAL, "policy match 6", b.m.policy = &b.policy, b.policy.match = 6);
    EXPECT(DNSTAP_E_INVAL, "policy type not UTF-8", b.m.policy = &b.policy,
           b.policy.type = (const uint8_t *)"\xff\xfe", b.policy.type_len = 2);

    /* The struct's size field. */
    EXPECT(DNSTAP_E_SIZE, "size 0", b.m.size = 0);
    EXPECT(DNSTAP_E_SIZE, "size one short", b.m.size = (uint32_t)sizeof b.m - 1);

    /* Times. */
    EXPECT(DNSTAP_E_INVAL, "query nsec 1e9", b.m.query_time_sec = 1, b.m.query_time_nsec = 1000000000u);
    EXPECT(DNSTAP_E_INVAL, "response nsec 1e9", b.m.response_time_sec = 1,
           b.m.response_time_nsec = 1000000000u);
    EXPECT(DNSTAP_E_INVAL, "query nsec UINT32_MAX with sec 0", b.m.query_time_nsec = UINT32_MAX);

    /* Addresses: only AF_INET and AF_INET6, and one family per message. */
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, "/tmp/not-an-ip");
    EXPECT(DNSTAP_E_INVAL, "AF_UNIX query address", b.m.query_address = (const struct sockaddr *)&sun);
    EXPECT(DNSTAP_E_INVAL, "AF_UNIX response address",
           b.m.response_address = (const struct sockaddr *)&sun);
    EXPECT(DNSTAP_E_INVAL, "IPv4 query, IPv6 response",
           b.m.response_address = (const struct sockaddr *)&b.v6);
    EXPECT(DNSTAP_E_INVAL, "IPv6 query, IPv4 response",
           b.m.query_address = (const struct sockaddr *)&b.v6,
           b.m.response_address = (const struct sockaddr *)&b.v4);

    /* Sizes: a DNS message over 65535 bytes, a zone over 255, a record
     * over DNSTAP_MAX_FRAME_SIZE. */
    static uint8_t big[DNSTAP_MAX_FRAME_SIZE + 1];
    memcpy(big, b.query, b.m.query_message_len);
    EXPECT(DNSTAP_E_TOO_BIG, "65536-byte query", b.m.query_message = big, b.m.query_message_len = 65536);
    EXPECT(DNSTAP_E_TOO_BIG, "65536-byte response", b.m.response_message = big,
           b.m.response_message_len = 65536);
    EXPECT(DNSTAP_E_INVAL, "256-byte zone", b.m.query_zone = big, b.m.query_zone_len = 256);
    EXPECT(DNSTAP_E_TOO_BIG, "extra over the frame size", b.m.extra = big,
           b.m.extra_len = DNSTAP_MAX_FRAME_SIZE + 1);
    EXPECT(DNSTAP_E_TOO_BIG, "fields that add up over the frame size", b.m.query_message = big,
           b.m.query_message_len = 65535, b.m.extra = big, b.m.extra_len = 40000);
#undef EXPECT

    const struct dnstap_stats st = fini_stats(h);
    print_stats("bad_input", &st);
    CHECK(st.accepted == 0 && st.written == 0 && st.lost == 0, "something was queued");
    printf("bad_input: %d refused messages, none queued\n", checks + 2);
}

/* The limits themselves are accepted: 65535-byte message, 255-byte zone. */
static void limits(const char *dir)
{
    char sink[4200];
    format(sink, sizeof sink, "file:%s/limits.fs", dir);
    struct dnstap_options *opts = test_options(sink, 0);
    struct dnstap *h = test_init(opts);
    dnstap_options_free(opts);

    static uint8_t big[65535];
    struct base b;
    base_init(&b);
    memcpy(big, b.query, b.m.query_message_len);
    b.m.query_message = big;
    b.m.query_message_len = sizeof big;
    CHECK_RC(dnstap_log_message(h, &b.m), DNSTAP_OK);

    base_init(&b);
    uint8_t zone[255];
    for (size_t i = 0; i < 254; i += 64) { /* 3 labels of 63, one of 61, root */
        size_t n = i + 64 <= 254 ? 63 : 254 - i - 1;
        zone[i] = (uint8_t)n;
        memset(zone + i + 1, 'z', n);
    }
    zone[254] = 0;
    b.m.query_zone = zone;
    b.m.query_zone_len = sizeof zone;
    CHECK_RC(dnstap_log_message(h, &b.m), DNSTAP_OK);

    const struct dnstap_stats st = fini_stats(h);
    print_stats("limits", &st);
    check_accounting(&st);
    CHECK(st.accepted == 2 && st.written == 2, "the largest valid message and zone were not written");
}

/* What the log callback last received. */
struct log_line {
    int calls;
    int level;
    char text[512];
};

static void remember(void *user, int level, const char *message)
{
    struct log_line *line = user;
    line->calls++;
    line->level = level;
    format(line->text, sizeof line->text, "%s", message);
}

static void bad_sink(const char *spec)
{
    struct log_line line = {0, 0, ""};
    struct dnstap_options *opts = dnstap_options_new();
    CHECK(opts != NULL, "dnstap_options_new");
    CHECK(strcmp(dnstap_options_last_error(opts), "") == 0, "fresh options have an error");
    CHECK_RC(dnstap_options_set_log_callback(opts, remember, &line), DNSTAP_OK);
    int rc = dnstap_options_set_sink(opts, spec);
    const char *why = dnstap_options_last_error(opts);
    CHECK(rc == DNSTAP_E_INVAL, "sink \"%s\": returned %d (%s), want DNSTAP_E_INVAL", spec, rc,
          dnstap_strerror(rc));
    CHECK(why != NULL && why[0] != '\0', "sink \"%s\": no last error", spec);
    /* The reason also goes to the log callback, as an error. */
    CHECK(line.calls == 1 && line.level == DNSTAP_LOG_ERROR && strcmp(line.text, why) == 0,
          "sink \"%s\": callback got %d lines, last level %d \"%s\"", spec, line.calls,
          line.level, line.text);
    printf("  sink \"%s\" -> %s\n", spec, why);
    dnstap_options_free(opts);
}

static void bad_options(const char *dir)
{
    static const char *const specs[] = {
        "", "file:", "unix:", "tcp:localhost@53", "tcp:127.0.0.1@0", "tcp:127.0.0.1@65536",
        "udp:1.2.3.4@53", "tcp:127.0.0.1", "tcp:127.0.0.1@", "tcp:127.0.0.1@+53",
    };
    puts("bad sinks:");
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        bad_sink(specs[i]);
    }
    char long_unix[200] = "unix:/";
    memset(long_unix + 6, 'x', 150);
    long_unix[156] = '\0';
    bad_sink(long_unix);

    struct dnstap_options *opts = dnstap_options_new();
    CHECK(opts != NULL, "dnstap_options_new");
    struct dnstap *h = NULL;

    /* NULL everywhere a pointer is required. */
    CHECK_RC(dnstap_options_set_sink(NULL, "file:/dev/null"), DNSTAP_E_NULL);
    CHECK_RC(dnstap_options_set_sink(opts, NULL), DNSTAP_E_NULL);
    CHECK_RC(dnstap_options_set_identity(opts, NULL, 3), DNSTAP_E_NULL);
    CHECK_RC(dnstap_options_set_version(opts, NULL, 3), DNSTAP_E_NULL);
    CHECK_RC(dnstap_options_set_queue_capacity(NULL, 10), DNSTAP_E_NULL);
    CHECK_RC(dnstap_init(NULL, &h), DNSTAP_E_NULL);
    CHECK(h == NULL, "dnstap_init(NULL, &h) set h");
    CHECK(strcmp(dnstap_options_last_error(NULL), "") == 0, "last_error(NULL) is not \"\"");
    dnstap_options_free(NULL);

    /* Values out of their documented ranges. */
    static uint8_t long_identity[4097];
    memset(long_identity, 'i', sizeof long_identity);
    CHECK_RC(dnstap_options_set_identity(opts, long_identity, 4097), DNSTAP_E_INVAL);
    CHECK_RC(dnstap_options_set_version(opts, long_identity, 4097), DNSTAP_E_INVAL);
    CHECK_RC(dnstap_options_set_identity(opts, long_identity, 4096), DNSTAP_OK);
    CHECK_RC(dnstap_options_set_queue_capacity(opts, 0), DNSTAP_E_INVAL);
    CHECK_RC(dnstap_options_set_queue_capacity(opts, 16777217), DNSTAP_E_INVAL);
    CHECK_RC(dnstap_options_set_flush_interval_ms(opts, 0), DNSTAP_E_INVAL);
    CHECK_RC(dnstap_options_set_flush_interval_ms(opts, 600001), DNSTAP_E_INVAL);
    CHECK_RC(dnstap_options_set_reconnect_max_ms(opts, 9), DNSTAP_E_INVAL);
    CHECK_RC(dnstap_options_set_reconnect_max_ms(opts, 600001), DNSTAP_E_INVAL);

    /* No sink yet: init refuses, and leaves *out alone. */
    struct dnstap *const sentinel = (struct dnstap *)&h;
    h = sentinel;
    CHECK_RC(dnstap_init(opts, &h), DNSTAP_E_INVAL);
    CHECK(h == sentinel, "a failed dnstap_init wrote *out");
    CHECK(dnstap_options_last_error(opts)[0] != '\0', "no reason for the missing sink");

    /* A failed setter changes nothing: the previous sink stays. */
    char kept[4200], kept_path[4096];
    format(kept_path, sizeof kept_path, "%s/kept-sink.fs", dir);
    format(kept, sizeof kept, "file:%s", kept_path);
    CHECK_RC(dnstap_options_set_sink(opts, kept), DNSTAP_OK);
    CHECK_RC(dnstap_options_set_sink(opts, "udp:1.2.3.4@53"), DNSTAP_E_INVAL);
    CHECK_RC(dnstap_init(opts, NULL), DNSTAP_E_NULL);
    h = NULL;
    CHECK_RC(dnstap_init(opts, &h), DNSTAP_OK);
    CHECK(h != NULL, "dnstap_init returned OK without a handle");
    dnstap_fini(h);
    CHECK(wait_for_path(kept_path, 0), "the valid sink was lost by a failed set_sink");

    /* A file in a directory that does not exist. */
    char missing[4200];
    format(missing, sizeof missing, "file:%s/no-such-dir/x.fs", dir);
    CHECK_RC(dnstap_options_set_sink(opts, missing), DNSTAP_OK);
    h = sentinel;
    CHECK_RC(dnstap_init(opts, &h), DNSTAP_E_IO);
    CHECK(h == sentinel, "a failed dnstap_init wrote *out");
    printf("init with %s -> %s\n", missing, dnstap_options_last_error(opts));
    CHECK(dnstap_options_last_error(opts)[0] != '\0', "no reason for E_IO");
    dnstap_options_free(opts);

    /* Handle-less calls. */
    struct dnstap_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    dnstap_fini(NULL);
    CHECK_RC(dnstap_fini_stats(NULL, &st), DNSTAP_E_NULL);
    CHECK_RC(dnstap_stats(NULL, &st), DNSTAP_E_NULL);
    CHECK_RC(dnstap_reopen(NULL), DNSTAP_E_NULL);
}

static void codes(void)
{
    const int known[] = {DNSTAP_OK,       DNSTAP_DROPPED,  DNSTAP_SAMPLED_OUT, DNSTAP_E_INVAL,
                         DNSTAP_E_NULL,   DNSTAP_E_SIZE,   DNSTAP_E_TOO_BIG,   DNSTAP_E_NOMEM,
                         DNSTAP_E_IO,     DNSTAP_E_THREAD, DNSTAP_E_INTERNAL};
    const size_t n = sizeof known / sizeof known[0];
    for (size_t i = 0; i < n; i++) {
        const char *text = dnstap_strerror(known[i]);
        CHECK(text != NULL && text[0] != '\0', "strerror(%d) is empty", known[i]);
        for (size_t j = 0; j < i; j++) {
            CHECK(strcmp(text, dnstap_strerror(known[j])) != 0, "strerror(%d) == strerror(%d)",
                  known[i], known[j]);
        }
    }
    const int unknown[] = {3, 42, -9, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK(dnstap_strerror(unknown[i]) != NULL, "strerror(%d) is NULL", unknown[i]);
    }
    CHECK(strcmp(dnstap_version(), DNSTAP_VERSION_STRING) == 0, "library %s, header %s",
          dnstap_version(), DNSTAP_VERSION_STRING);

    /* Stats with a too small size. */
    char sink[] = "file:/dev/null";
    struct dnstap_options *opts = test_options(sink, 0);
    struct dnstap *h = test_init(opts);
    dnstap_options_free(opts);
    struct dnstap_stats st;
    memset(&st, 0, sizeof st);
    st.size = (uint32_t)offsetof(struct dnstap_stats, failed_connects) - 1; /* below the first layout */
    CHECK_RC(dnstap_stats(h, &st), DNSTAP_E_SIZE);
    CHECK_RC(dnstap_stats(h, NULL), DNSTAP_E_NULL);
    CHECK_RC(dnstap_fini_stats(h, &st), DNSTAP_E_SIZE); /* frees the handle anyway */
}

static void log_name(struct dnstap *h, const char *qname)
{
    uint8_t query[128];
    struct dnstap_message m;
    CHECK_RC(dnstap_message_init(&m), DNSTAP_OK);
    m.type = DNSTAP_MESSAGE_TYPE_RESOLVER_QUERY;
    m.query_message = query;
    m.query_message_len = dns_query(query, sizeof query, 1, qname);
    CHECK_RC(dnstap_log_message(h, &m), DNSTAP_OK);
}

static void lifecycles(const char *dir)
{
    char sink[4200];
    /* init/fini again and again in one process. */
    for (int i = 0; i < 20; i++) {
        format(sink, sizeof sink, "file:%s/repeat-%02d.fs", dir, i);
        struct dnstap_options *opts = test_options(sink, 64);
        struct dnstap *h = test_init(opts);
        dnstap_options_free(opts);
        for (int j = 0; j < 10; j++) {
            char qname[64];
            format(qname, sizeof qname, "r%d-n%d.example.", i, j);
            log_name(h, qname);
        }
        const struct dnstap_stats st = fini_stats(h);
        check_accounting(&st);
        CHECK(st.written == 10, "repeat %d: written %" PRIu64, i, st.written);
    }
    puts("20 init/fini cycles: OK");

    /* Several handles at once, each with its own file (like Knot's
     * per-module instances). One options object serves all three. */
    struct dnstap *handles[3];
    struct dnstap_options *opts = test_options("file:/dev/null", 0);
    for (int i = 0; i < 3; i++) {
        format(sink, sizeof sink, "file:%s/multi-%d.fs", dir, i);
        CHECK_RC(dnstap_options_set_sink(opts, sink), DNSTAP_OK);
        handles[i] = test_init(opts);
    }
    dnstap_options_free(opts);
    /* Interleaved: handle i logs i+1 names per round, 5 rounds. */
    int next[3] = {0, 0, 0};
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 3; i++) {
            for (int k = 0; k <= i; k++) {
                char qname[64];
                format(qname, sizeof qname, "h%d-n%d.example.", i, next[i]++);
                log_name(handles[i], qname);
            }
        }
    }
    for (int i = 2; i >= 0; i--) {
        const struct dnstap_stats st = fini_stats(handles[i]);
        check_accounting(&st);
        CHECK(st.written == (uint64_t)(5 * (i + 1)), "handle %d: written %" PRIu64, i, st.written);
    }
    puts("3 handles at once: OK");
}

int main(int argc, char **argv)
{
    CHECK(argc == 2, "usage: %s DIR", argv[0]);
    codes();
    bad_options(argv[1]);
    bad_messages(argv[1]);
    limits(argv[1]);
    lifecycles(argv[1]);
    puts("bad_input: OK");
    return 0;
}
