/*
 * The interface between the benchmark harness (bench.c) and one
 * implementation under test: libdnstap (impl_dnstap.c) or libfstrm +
 * protobuf-c (impl_fstrm.c). Each implementation is linked into its own
 * program, so each run is a fresh process with a fresh heap.
 */

#ifndef BENCH_H
#define BENCH_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* The message every log call logs: a CLIENT_RESPONSE over UDP/IPv4. */
struct bench_msg {
    struct sockaddr_in query_address;    /* the client */
    struct sockaddr_in response_address; /* the server */
    uint64_t query_time_sec;
    uint32_t query_time_nsec;
    uint64_t response_time_sec;
    uint32_t response_time_nsec;
    const uint8_t *query;
    size_t query_len;
    const uint8_t *response;
    size_t response_len;
    const uint8_t *identity;
    size_t identity_len;
    const uint8_t *version;
    size_t version_len;
};

/* Results of log calls. */
enum { LOG_OK = 0, LOG_DROPPED = 1, LOG_ERROR = -1 };

/* What the implementation reports once it is shut down. */
struct impl_counts {
    int self_counted; /* 0: the harness's own counts are the truth */
    uint64_t written; /* frames the implementation says reached the sink */
    uint64_t dropped; /* refused at the call (queue full) */
    uint64_t lost;    /* accepted but never written (libdnstap only) */
};

struct impl;

/* A short name for the output: "libdnstap" or "libfstrm". */
const char *impl_name(void);

/*
 * Opens a Frame Streams file sink at `path` for `threads` producers.
 * `queue` is the queue size to ask for (0 = the harness default for this
 * implementation); `tuned` asks libfstrm for its largest output batches.
 * Returns NULL after printing why.
 */
struct impl *impl_open(const char *path, unsigned threads, unsigned queue, int tuned,
                       const struct bench_msg *m);

/* Per-producer state, fetched on the producer thread before timing starts. */
void *impl_producer(struct impl *impl, unsigned index);

/* One log call, as a server makes it: LOG_OK, LOG_DROPPED or LOG_ERROR. */
int impl_log(struct impl *impl, void *producer, const struct bench_msg *m);

/* Writes what is queued, ends the stream, frees everything. 0 or -1. */
int impl_close(struct impl *impl, struct impl_counts *out);

#endif
