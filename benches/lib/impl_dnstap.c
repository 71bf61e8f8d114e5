/*
 * libdnstap under test: fill a struct dnstap_message and call
 * dnstap_log_message, which validates, copies and queues; the library's
 * writer thread encodes and writes.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnstap.h>

#include "bench.h"

/* As many messages as libfstrm's largest input queue (16384 entries), which
 * is also libdnstap's default: a 4 MiB ring. */
#define DEFAULT_QUEUE 16384u

struct impl {
    struct dnstap *handle;
    unsigned long warnings;
};

const char *impl_name(void)
{
    return "libdnstap";
}

/* Library log lines go to stderr (ci/bench-lib keeps them in its log). */
static void log_line(void *user, int level, const char *line)
{
    struct impl *impl = user;
    if (level <= DNSTAP_LOG_WARNING)
        impl->warnings++;
    fprintf(stderr, "libdnstap[%d]: %s\n", level, line);
}

struct impl *impl_open(const char *path, unsigned threads, unsigned queue, int tuned,
                       const struct bench_msg *m)
{
    (void)threads;
    (void)tuned;
    struct impl *impl = calloc(1, sizeof *impl);
    struct dnstap_options *opts = dnstap_options_new();
    if (impl == NULL || opts == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        return NULL;
    }
    char spec[4096];
    int socket = strncmp(path, "tcp:", 4) == 0 || strncmp(path, "tls:", 4) == 0;
    snprintf(spec, sizeof spec, socket ? "%s" : "file:%s", path);
    /* tls: trusts the CA of $BENCH_TLS_CA and checks the certificate
     * against the sink's address */
    const char *ca = getenv("BENCH_TLS_CA");
    int rc;
    if ((rc = dnstap_options_set_sink(opts, spec)) != DNSTAP_OK ||
        (strncmp(path, "tls:", 4) == 0 &&
         (rc = dnstap_options_set_tls_ca_file(opts, ca)) != DNSTAP_OK) ||
        (rc = dnstap_options_set_identity(opts, m->identity, m->identity_len)) != DNSTAP_OK ||
        (rc = dnstap_options_set_version(opts, m->version, m->version_len)) != DNSTAP_OK ||
        (rc = dnstap_options_set_queue_capacity(opts, queue ? queue : DEFAULT_QUEUE)) != DNSTAP_OK ||
        (rc = dnstap_options_set_log_callback(opts, log_line, impl)) != DNSTAP_OK ||
        (rc = dnstap_init(opts, &impl->handle)) != DNSTAP_OK) {
        fprintf(stderr, "bench: libdnstap: %s: %s\n", dnstap_strerror(rc),
                dnstap_options_last_error(opts));
        dnstap_options_free(opts);
        return NULL;
    }
    dnstap_options_free(opts);
    return impl;
}

void *impl_producer(struct impl *impl, unsigned index)
{
    (void)impl;
    (void)index;
    return NULL;
}

int impl_log(struct impl *impl, void *producer, const struct bench_msg *m)
{
    (void)producer;
    struct dnstap_message msg;
    dnstap_message_init(&msg);
    msg.type = DNSTAP_MESSAGE_TYPE_CLIENT_RESPONSE;
    msg.socket_protocol = DNSTAP_SOCKET_PROTOCOL_UDP;
    msg.query_address = (const struct sockaddr *)&m->query_address;
    msg.response_address = (const struct sockaddr *)&m->response_address;
    msg.query_time_sec = m->query_time_sec;
    msg.query_time_nsec = m->query_time_nsec;
    msg.response_time_sec = m->response_time_sec;
    msg.response_time_nsec = m->response_time_nsec;
    msg.query_message = m->query;
    msg.query_message_len = m->query_len;
    msg.response_message = m->response;
    msg.response_message_len = m->response_len;
    int rc = dnstap_log_message(impl->handle, &msg);
    if (rc == DNSTAP_OK)
        return LOG_OK;
    if (rc == DNSTAP_DROPPED)
        return LOG_DROPPED;
    return LOG_ERROR;
}

int impl_close(struct impl *impl, struct impl_counts *out)
{
    struct dnstap_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.size = sizeof stats;
    int rc = dnstap_fini_stats(impl->handle, &stats);
    free(impl);
    if (rc != DNSTAP_OK) {
        fprintf(stderr, "bench: dnstap_fini_stats: %s\n", dnstap_strerror(rc));
        return -1;
    }
    out->self_counted = 1;
    out->written = stats.written;
    out->dropped = stats.dropped;
    out->lost = stats.lost;
    if (stats.accepted != stats.written + stats.lost) {
        fprintf(stderr, "bench: libdnstap: accepted %llu != written %llu + lost %llu\n",
                (unsigned long long)stats.accepted, (unsigned long long)stats.written,
                (unsigned long long)stats.lost);
        return -1;
    }
    return 0;
}
