/*
 * Scenario A: every message type from several threads at once.
 *
 *   log_all_types SINK THREADS full|classic
 *
 * Thread t logs each type once, for the name "t<t>-m<type>.example.":
 * IPv4 or IPv6 addresses by turns (family: (t + type) % 2, 0 = IPv4),
 * socket protocols by turns (protocols[(t + type) % 5]; DOH with HTTP
 * version 1 + (t + type) % 3), the query (odd types) or the response (even
 * types) in wire format, query_zone "example." on resolver and forwarder
 * messages, `extra` "extra t<t> m<type>" when type % 4 == 1, and an RPZ
 * policy on CLIENT_RESPONSE. The driver decodes the sink's output with the
 * reference readers and recomputes these rules; this program checks the
 * return codes and the final counters.
 *
 * "full" logs types 1..14 with all five protocols. "classic" keeps to what
 * dnstap-ldns 0.2.1 can print in YAML: types 1..12 and UDP/TCP
 * (protocols[(t + type) % 2]); it stops at a DOT record or an UPDATE type.
 */
#include "common.h"

#include <pthread.h>

#define MAX_THREADS 64

struct worker {
    struct dnstap *h;
    int index;
    uint32_t types;     /* logs types 1..types */
    unsigned protocols; /* rotates through the first `protocols` */
    int failures;       /* calls that did not return DNSTAP_OK */
};

static const uint32_t protocols[] = {
    DNSTAP_SOCKET_PROTOCOL_UDP, DNSTAP_SOCKET_PROTOCOL_TCP, DNSTAP_SOCKET_PROTOCOL_DOT,
    DNSTAP_SOCKET_PROTOCOL_DOH, DNSTAP_SOCKET_PROTOCOL_DOQ,
};

/* Resolvers and forwarders are the ones that send to a zone's servers. */
static int has_zone(uint32_t type)
{
    return type == DNSTAP_MESSAGE_TYPE_RESOLVER_QUERY ||
           type == DNSTAP_MESSAGE_TYPE_RESOLVER_RESPONSE ||
           type == DNSTAP_MESSAGE_TYPE_FORWARDER_QUERY ||
           type == DNSTAP_MESSAGE_TYPE_FORWARDER_RESPONSE;
}

static void log_one(struct worker *w, uint32_t type)
{
    const int t = w->index;
    char qname[64], rule_name[96], extra[64], client_ip[64];
    uint8_t query[512], response[512], zone[64], rule[128], value[64];
    struct sockaddr_in q4, r4;
    struct sockaddr_in6 q6, r6;
    struct dnstap_message m;
    struct dnstap_policy policy;

    CHECK_RC(dnstap_message_init(&m), DNSTAP_OK);
    m.type = type;

    /* Families and protocols rotate with thread and type, so that every
     * type is seen with both families across threads. */
    const unsigned turn = (unsigned)t + type;
    m.socket_protocol = protocols[turn % w->protocols];
    if (m.socket_protocol == DNSTAP_SOCKET_PROTOCOL_DOH) {
        m.http_protocol = DNSTAP_HTTP_PROTOCOL_HTTP1 + turn % 3;
    }
    const uint16_t client_port = (uint16_t)(10000 + t * 100 + (int)type);
    const uint16_t server_port = m.socket_protocol == DNSTAP_SOCKET_PROTOCOL_DOT   ? 853
                                 : m.socket_protocol == DNSTAP_SOCKET_PROTOCOL_DOH ? 443
                                                                                   : 53;
    if (turn % 2 == 0) {
        format(client_ip, sizeof client_ip, "192.0.2.%d", t + 1);
        sa4(&q4, client_ip, client_port);
        sa4(&r4, "198.51.100.53", server_port);
        m.query_address = (const struct sockaddr *)&q4;
        m.response_address = (const struct sockaddr *)&r4;
    } else {
        format(client_ip, sizeof client_ip, "2001:db8::%x", t + 1);
        sa6(&q6, client_ip, client_port);
        sa6(&r6, "2001:db8:53::53", server_port);
        m.query_address = (const struct sockaddr *)&q6;
        m.response_address = (const struct sockaddr *)&r6;
    }

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    m.query_time_sec = (uint64_t)now.tv_sec;
    m.query_time_nsec = (uint32_t)now.tv_nsec;

    format(qname, sizeof qname, "t%d-m%u.example.", t, type);
    const size_t query_len = dns_query(query, sizeof query, (uint16_t)(t * 100 + (int)type), qname);
    if (type % 2 == 1) {
        m.query_message = query;
        m.query_message_len = query_len;
    } else {
        const uint8_t addr[4] = {192, 0, 2, (uint8_t)type};
        m.response_message = response;
        m.response_message_len = dns_response(response, sizeof response, query, query_len, addr);
        m.response_time_sec = m.query_time_sec;
        m.response_time_nsec = (m.query_time_nsec + 1000000u) % 1000000000u;
    }

    if (has_zone(type)) {
        m.query_zone = zone;
        m.query_zone_len = wire_name(zone, sizeof zone, "example.");
    }
    if (type % 4 == 1) {
        format(extra, sizeof extra, "extra t%d m%u", t, type);
        m.extra = (const uint8_t *)extra;
        m.extra_len = strlen(extra);
    }
    if (type == DNSTAP_MESSAGE_TYPE_CLIENT_RESPONSE) {
        format(rule_name, sizeof rule_name, "t%d-m%u.example.rpz.test.", t, type);
        memset(&policy, 0, sizeof policy);
        policy.type = (const uint8_t *)"RPZ";
        policy.type_len = 3;
        policy.rule = rule;
        policy.rule_len = wire_name(rule, sizeof rule, rule_name);
        policy.action = DNSTAP_POLICY_ACTION_NXDOMAIN;
        policy.match = DNSTAP_POLICY_MATCH_QNAME;
        policy.value = value;
        policy.value_len = wire_name(value, sizeof value, qname);
        m.policy = &policy;
    }

    int rc = dnstap_log_message(w->h, &m);
    if (rc != DNSTAP_OK) {
        fprintf(stderr, "thread %d type %u: dnstap_log_message returned %d (%s)\n", t, type, rc,
                dnstap_strerror(rc));
        w->failures++;
    }
}

static void *run(void *arg)
{
    struct worker *w = arg;
    for (uint32_t type = 1; type <= w->types; type++) {
        log_one(w, type);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    CHECK(argc == 4, "usage: %s SINK THREADS full|classic", argv[0]);
    const int threads = atoi(argv[2]);
    CHECK(threads >= 1 && threads <= MAX_THREADS, "THREADS must be 1..%d", MAX_THREADS);
    const int classic = strcmp(argv[3], "classic") == 0;
    CHECK(classic || strcmp(argv[3], "full") == 0, "mode must be full or classic");
    const uint32_t types = classic ? 12 : 14;

    /* The queue holds every message: nothing may be dropped here. */
    struct dnstap_options *opts = test_options(argv[1], 4096);
    struct dnstap *h = test_init(opts);
    dnstap_options_free(opts); /* the handle keeps its own copy */

    struct worker workers[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    for (int i = 0; i < threads; i++) {
        workers[i] = (struct worker){
            .h = h, .index = i, .types = types, .protocols = classic ? 2 : 5, .failures = 0};
        CHECK(pthread_create(&ids[i], NULL, run, &workers[i]) == 0, "pthread_create");
    }
    int failures = 0;
    for (int i = 0; i < threads; i++) {
        CHECK(pthread_join(ids[i], NULL) == 0, "pthread_join");
        failures += workers[i].failures;
    }

    const uint64_t expected = (uint64_t)threads * types;
    struct dnstap_stats st = fini_stats(h);
    print_stats("log_all_types", &st);
    printf("logged %" PRIu64 " messages from %d threads, %d calls failed\n", expected, threads,
           failures);

    CHECK(failures == 0, "%d dnstap_log_message calls did not return DNSTAP_OK", failures);
    check_accounting(&st);
    CHECK(st.accepted == expected, "accepted %" PRIu64 ", want %" PRIu64, st.accepted, expected);
    CHECK(st.dropped == 0 && st.sampled_out == 0, "dropped %" PRIu64 " sampled_out %" PRIu64,
          st.dropped, st.sampled_out);
    CHECK(st.lost == 0, "lost %" PRIu64 " of a healthy sink", st.lost);
    CHECK(st.written == expected, "written %" PRIu64 ", want %" PRIu64, st.written, expected);
    CHECK(st.bytes > expected * 50, "bytes %" PRIu64 " too few for %" PRIu64 " records", st.bytes,
          expected);
    CHECK(st.reconnects == 0, "reconnects %" PRIu64 " on a healthy sink", st.reconnects);
    puts("log_all_types: OK");
    return 0;
}
