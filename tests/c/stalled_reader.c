/*
 * Scenario C: a collector that accepted the connection and then stopped
 * reading (SIGSTOP) must never block the logging threads.
 *
 *   stalled_reader SINK GO_FILE MAX_LATENCY_MS strict|relaxed
 *
 * 1. Logs a warm-up batch and waits until it is written (connected).
 * 2. Prints READY-TO-STALL and waits (bounded) for GO_FILE: the driver
 *    stops the collector, then creates the file.
 * 3. Two threads log in a tight loop for 3 s (or a bounded count), timing
 *    every dnstap_log_message call. The socket buffer and then the queue
 *    of 1024 fill, so calls must start returning DNSTAP_DROPPED, quickly.
 * 4. dnstap_fini_stats must return within 4 s although the collector is
 *    still stopped, with exact counters.
 *
 * Each call is timed with timed_log() (common.h). In "strict" mode the
 * limit applies to every call except those that were only preempted; a
 * call that went to sleep inside the library is always checked, and the
 * number of such calls is printed. "relaxed" mode (valgrind) checks the
 * limit against every call. The raw maximum is printed in both.
 */
#include "common.h"

#include <pthread.h>

#define QUEUE 1024
#define WARMUP 200
#define LOGGERS 2
#define RUN_NS (3ull * 1000000000ull)
#define MAX_CALLS (50ull * 1000 * 1000) /* per thread: a bound, not a goal */

/* Latency histogram: 16 sub-buckets per power of two (about 6%). */
#define SUB 16
#define BUCKETS (64 * SUB)

static unsigned bucket_of(uint64_t ns)
{
    if (ns < SUB) {
        return (unsigned)ns;
    }
    unsigned log = 63u - (unsigned)__builtin_clzll(ns); /* >= 4 */
    return (log - 3) * SUB + (unsigned)((ns >> (log - 4)) & (SUB - 1));
}

/* The smallest value of bucket `b`. */
static uint64_t bucket_floor(unsigned b)
{
    if (b < SUB) {
        return b;
    }
    unsigned log = b / SUB + 3;
    return (uint64_t)(SUB + b % SUB) << (log - 4);
}

struct logger {
    struct dnstap *h;
    int index;
    uint64_t ok, dropped, other;
    struct call_timing timing;
    uint64_t histogram[BUCKETS];
};

static void *run(void *arg)
{
    struct logger *l = arg;
    uint8_t query[128];
    char qname[64];
    struct sockaddr_in client, server;
    struct dnstap_message m;

    format(qname, sizeof qname, "stall-t%d.example.", l->index);
    sa4(&client, "192.0.2.7", (uint16_t)(40000 + l->index));
    sa4(&server, "198.51.100.53", 53);
    CHECK_RC(dnstap_message_init(&m), DNSTAP_OK);
    m.type = DNSTAP_MESSAGE_TYPE_CLIENT_QUERY;
    m.socket_protocol = DNSTAP_SOCKET_PROTOCOL_UDP;
    m.query_address = (const struct sockaddr *)&client;
    m.response_address = (const struct sockaddr *)&server;
    m.query_message = query;
    m.query_message_len = dns_query(query, sizeof query, 7, qname);
    /* About 1 KiB per record: the collector's socket buffer fills after a
     * few hundred records, so the writer really is stuck on the stalled
     * collector even when it gets little CPU (valgrind). */
    static const uint8_t padding[1000];
    m.extra = padding;
    m.extra_len = sizeof padding;

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    m.query_time_sec = (uint64_t)now.tv_sec;
    m.query_time_nsec = (uint32_t)now.tv_nsec;

    const uint64_t start = mono_ns();
    while (l->timing.calls < MAX_CALLS && mono_ns() - start < RUN_NS) {
        uint64_t took;
        const int rc = timed_log(l->h, &m, &l->timing, &took);
        l->histogram[bucket_of(took)]++;
        if (rc == DNSTAP_OK) {
            l->ok++;
        } else if (rc == DNSTAP_DROPPED) {
            l->dropped++;
        } else {
            l->other++;
        }
    }
    return NULL;
}

/* The upper bound of the bucket holding the q-quantile of `histogram`. */
static uint64_t quantile(const uint64_t *histogram, uint64_t total, double q)
{
    const uint64_t rank = (uint64_t)(q * (double)total);
    uint64_t seen = 0;
    for (unsigned b = 0; b < BUCKETS; b++) {
        seen += histogram[b];
        if (seen > rank) {
            return bucket_floor(b + 1);
        }
    }
    return bucket_floor(BUCKETS - 1);
}

int main(int argc, char **argv)
{
    CHECK(argc == 5, "usage: %s SINK GO_FILE MAX_LATENCY_MS strict|relaxed", argv[0]);
    const char *go_file = argv[2];
    const uint64_t max_latency_ns = strtoull(argv[3], NULL, 10) * 1000000u;
    CHECK(max_latency_ns > 0, "bad MAX_LATENCY_MS %s", argv[3]);
    const int strict = strcmp(argv[4], "strict") == 0;
    CHECK(strict || strcmp(argv[4], "relaxed") == 0, "mode must be strict or relaxed");

    struct dnstap_options *opts = test_options(argv[1], QUEUE);
    /* Reconnect attempts would only add noise while the collector is stopped. */
    CHECK_RC(dnstap_options_set_reconnect_max_ms(opts, 1000), DNSTAP_OK);
    struct dnstap *h = test_init(opts);
    dnstap_options_free(opts);

    /* Warm-up: proves the collector accepted the connection and reads. */
    uint8_t query[128];
    struct dnstap_message m;
    CHECK_RC(dnstap_message_init(&m), DNSTAP_OK);
    m.type = DNSTAP_MESSAGE_TYPE_CLIENT_QUERY;
    m.query_message = query;
    m.query_message_len = dns_query(query, sizeof query, 1, "warmup.example.");
    for (int i = 0; i < WARMUP; i++) {
        CHECK_RC(dnstap_log_message(h, &m), DNSTAP_OK);
    }
    const uint64_t warm_start = mono_ns();
    while (current_stats(h).written < WARMUP) {
        CHECK(mono_ns() - warm_start < 20ull * 1000000000u, "warm-up not written within 20 s");
        sleep_ms(10);
    }
    printf("warm-up of %d messages written in %.0f ms\n", WARMUP,
           (double)(mono_ns() - warm_start) / 1e6);
    puts("READY-TO-STALL");
    fflush(stdout);
    CHECK(wait_for_path(go_file, 30000), "%s did not appear within 30 s", go_file);

    static struct logger loggers[LOGGERS]; /* static: the histograms are big */
    pthread_t ids[LOGGERS];
    for (int i = 0; i < LOGGERS; i++) {
        loggers[i].h = h;
        loggers[i].index = i;
        CHECK(pthread_create(&ids[i], NULL, run, &loggers[i]) == 0, "pthread_create");
    }
    static uint64_t histogram[BUCKETS];
    struct call_timing timing = {0};
    uint64_t ok = 0, dropped = 0, other = 0;
    for (int i = 0; i < LOGGERS; i++) {
        CHECK(pthread_join(ids[i], NULL) == 0, "pthread_join");
        struct logger *l = &loggers[i];
        ok += l->ok;
        dropped += l->dropped;
        other += l->other;
        merge_timing(&timing, &l->timing);
        for (unsigned b = 0; b < BUCKETS; b++) {
            histogram[b] += l->histogram[b];
        }
    }
    const uint64_t calls = timing.calls;
    const struct dnstap_stats during = current_stats(h);
    printf("stalled: %" PRIu64 " calls from %d threads: %" PRIu64 " queued, %" PRIu64
           " dropped, %" PRIu64 " errors\n",
           calls, LOGGERS, ok, dropped, other);
    printf("latency p50=%" PRIu64 "ns p99=%" PRIu64 "ns p99.9=%" PRIu64 "ns max=%.3fms\n",
           quantile(histogram, calls, 0.50), quantile(histogram, calls, 0.99),
           quantile(histogram, calls, 0.999), (double)timing.max_ns / 1e6);
    print_timing(&timing, strict, max_latency_ns / 1000000u);
    const uint64_t checked_ns = checked_latency(&timing, strict);
    print_stats("stalled_reader_during", &during);

    const uint64_t fini_start = mono_ns();
    struct dnstap_stats st = fini_stats(h);
    const uint64_t fini_ns = mono_ns() - fini_start;
    printf("dnstap_fini_stats took %.0f ms with the collector stopped\n", (double)fini_ns / 1e6);
    print_stats("stalled_reader", &st);

    const uint64_t offered = calls + WARMUP;
    CHECK(other == 0, "%" PRIu64 " calls returned an error", other);
    CHECK(dropped > 0, "no call returned DNSTAP_DROPPED: the queue never filled");
    CHECK(checked_ns < max_latency_ns, "a dnstap_log_message call took %.3f ms",
          (double)checked_ns / 1e6);
    CHECK(fini_ns < 4ull * 1000000000u, "dnstap_fini_stats took %.0f ms", (double)fini_ns / 1e6);
    check_accounting(&st);
    CHECK(st.accepted + st.dropped == offered,
          "accepted %" PRIu64 " + dropped %" PRIu64 " != offered %" PRIu64, st.accepted,
          st.dropped, offered);
    CHECK(st.accepted == ok + WARMUP && st.dropped == dropped,
          "counters disagree with the return codes: accepted %" PRIu64 " vs %" PRIu64
          ", dropped %" PRIu64 " vs %" PRIu64,
          st.accepted, ok + WARMUP, st.dropped, dropped);
    CHECK(st.lost > 0, "nothing lost although the collector never read again");
    puts("stalled_reader: OK");
    return 0;
}
