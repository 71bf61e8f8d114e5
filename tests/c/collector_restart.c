/*
 * Scenario D: the collector goes away and comes back while the server logs.
 *
 *   collector_restart SINK STOP_FILE
 *
 * Logs 100 messages every 10 ms until STOP_FILE appears (at most 30 s).
 * Prints "LOGGING" once the first messages are written and
 * "RECONNECTED <n>" whenever the reconnect counter grows, so that the
 * driver restarts the collector at known points. At the end the counters
 * must be exact (accepted == written + lost), nothing may be dropped (the
 * queue buffers the outage), and the library must have reconnected twice.
 * The driver compares `written` and `bytes` with the collector's files.
 */
#include "common.h"

#define BATCH 100
#define PERIOD_MS 10
#define MAX_RUN_MS 30000

int main(int argc, char **argv)
{
    CHECK(argc == 3, "usage: %s SINK STOP_FILE", argv[0]);
    const char *stop_file = argv[2];

    struct dnstap_options *opts = test_options(argv[1], 0); /* default queue: 32768 */
    /* Come back quickly: the outage is what this test is about. */
    CHECK_RC(dnstap_options_set_reconnect_max_ms(opts, 100), DNSTAP_OK);
    CHECK_RC(dnstap_options_set_flush_interval_ms(opts, 50), DNSTAP_OK);
    struct dnstap *h = test_init(opts);
    dnstap_options_free(opts);

    uint8_t query[128];
    char qname[64];
    struct sockaddr_in6 client, server;
    struct dnstap_message m;
    sa6(&client, "2001:db8::7", 5353);
    sa6(&server, "::1", 53);
    CHECK_RC(dnstap_message_init(&m), DNSTAP_OK);
    m.type = DNSTAP_MESSAGE_TYPE_CLIENT_QUERY;
    m.socket_protocol = DNSTAP_SOCKET_PROTOCOL_TCP;
    m.query_address = (const struct sockaddr *)&client;
    m.response_address = (const struct sockaddr *)&server;
    m.query_message = query;

    const uint64_t start = mono_ns();
    uint64_t offered = 0, failures = 0, reported_reconnects = 0;
    int logging = 0;
    struct stat st_stop;
    while (stat(stop_file, &st_stop) != 0) {
        CHECK(mono_ns() - start < MAX_RUN_MS * 1000000ull, "%s did not appear within %d ms",
              stop_file, MAX_RUN_MS);
        for (int i = 0; i < BATCH; i++, offered++) {
            format(qname, sizeof qname, "r%" PRIu64 ".example.", offered);
            m.query_message_len = dns_query(query, sizeof query, (uint16_t)offered, qname);
            int rc = dnstap_log_message(h, &m);
            if (rc != DNSTAP_OK) {
                failures++;
            }
        }
        const struct dnstap_stats now = current_stats(h);
        if (!logging && now.written > 0) {
            logging = 1;
            puts("LOGGING");
        }
        if (now.reconnects > reported_reconnects) {
            reported_reconnects = now.reconnects;
            printf("RECONNECTED %" PRIu64 "\n", now.reconnects);
        }
        fflush(stdout);
        sleep_ms(PERIOD_MS);
    }

    const struct dnstap_stats st = fini_stats(h);
    printf("offered %" PRIu64 " messages in %.1f s, %" PRIu64 " not queued\n", offered,
           (double)(mono_ns() - start) / 1e9, failures);
    print_stats("collector_restart", &st);
    CHECK(failures == 0, "%" PRIu64 " calls did not return DNSTAP_OK", failures);
    check_accounting(&st);
    CHECK(st.accepted == offered, "accepted %" PRIu64 " of %" PRIu64, st.accepted, offered);
    CHECK(st.dropped == 0, "dropped %" PRIu64 ": the queue should buffer the outage", st.dropped);
    CHECK(st.reconnects >= 2, "reconnects %" PRIu64 ", want >= 2", st.reconnects);
    puts("collector_restart: OK");
    return 0;
}
