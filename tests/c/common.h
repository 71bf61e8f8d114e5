/*
 * Helpers shared by the C tests of libdnstap: a CHECK macro, DNS wire
 * messages, socket addresses, clocks, counters.
 *
 * Everything is `static inline` so that a test using only some helpers
 * still compiles cleanly with -Wall -Wextra -Werror.
 */
#ifndef DNSTAP_TEST_COMMON_H
#define DNSTAP_TEST_COMMON_H

/* clock_gettime, nanosleep, inet_pton (POSIX) and RUSAGE_THREAD (Linux):
 * hidden by -std=c11 alone. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dnstap.h>

/*
 * CHECK(cond, fmt, args...): on failure print file:line and the message,
 * and exit 1. The format is part of __VA_ARGS__ so that a bare message
 * needs no extra argument (ISO C11 wants one for a named `fmt, ...`).
 */
#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, \
                    #cond);                                                  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

/* CHECK_RC(call, expected): the call returned exactly this result code. */
#define CHECK_RC(call, expected)                                           \
    do {                                                                   \
        int check_rc_got_ = (call);                                        \
        int check_rc_want_ = (expected);                                   \
        CHECK(check_rc_got_ == check_rc_want_, "%s returned %d (%s), want %d (%s)", \
              #call, check_rc_got_, dnstap_strerror(check_rc_got_),        \
              check_rc_want_, dnstap_strerror(check_rc_want_));            \
    } while (0)

/* snprintf that fails the test rather than truncate silently. */
static inline void format(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void format(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    CHECK(n >= 0 && (size_t)n < cap, "buffer of %zu too small for \"%s\"", cap, fmt);
}

/* ---- time ---- */

static inline uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
        /* EINTR: sleep the rest */
    }
}

/* Whether `path` exists, polled every 10 ms for at most `timeout_ms`. */
static inline int wait_for_path(const char *path, unsigned timeout_ms)
{
    struct stat st;
    for (unsigned waited = 0; waited <= timeout_ms; waited += 10) {
        if (stat(path, &st) == 0) {
            return 1;
        }
        sleep_ms(10);
    }
    return 0;
}

/* ---- timing log calls ---- */

/*
 * Wall-clock latency alone cannot tell a call that blocks from a thread
 * that the kernel (or the hypervisor) preempted: on a small VM a loop of
 * bare clock_gettime calls sees gaps of 10-100 ms. So each timed call is
 * also bracketed by getrusage(RUSAGE_THREAD): a call with a voluntary
 * context switch went to sleep inside the library (futex, poll, I/O); one
 * with only involuntary switches was preempted.
 */
struct call_timing {
    uint64_t calls;
    uint64_t max_ns;       /* slowest call */
    uint64_t max_ran_ns;   /* slowest call that was not switched out */
    uint64_t slept;        /* calls with a voluntary context switch */
    uint64_t max_slept_ns; /* the slowest of them */
    uint64_t preempted;    /* calls with an involuntary switch only */
};

static inline uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static inline void thread_usage(struct rusage *ru)
{
    CHECK(getrusage(RUSAGE_THREAD, ru) == 0, "getrusage");
}

/* dnstap_log_message, timed into `t`; `*took_ns` gets its wall time. */
static inline int timed_log(struct dnstap *h, const struct dnstap_message *m,
                            struct call_timing *t, uint64_t *took_ns)
{
    struct rusage before, after;
    thread_usage(&before);
    const uint64_t t0 = mono_ns();
    const int rc = dnstap_log_message(h, m);
    const uint64_t took = mono_ns() - t0;
    thread_usage(&after);
    t->calls++;
    t->max_ns = max_u64(t->max_ns, took);
    if (after.ru_nvcsw != before.ru_nvcsw) {
        t->slept++;
        t->max_slept_ns = max_u64(t->max_slept_ns, took);
    } else if (after.ru_nivcsw != before.ru_nivcsw) {
        t->preempted++;
    } else {
        t->max_ran_ns = max_u64(t->max_ran_ns, took);
    }
    *took_ns = took;
    return rc;
}

static inline void merge_timing(struct call_timing *into, const struct call_timing *t)
{
    into->calls += t->calls;
    into->max_ns = max_u64(into->max_ns, t->max_ns);
    into->max_ran_ns = max_u64(into->max_ran_ns, t->max_ran_ns);
    into->slept += t->slept;
    into->max_slept_ns = max_u64(into->max_slept_ns, t->max_slept_ns);
    into->preempted += t->preempted;
}

/*
 * The latency a limit applies to. Strict: every call except those that were
 * only preempted (a call that slept inside the library always counts).
 * Relaxed (valgrind, whose scheduler puts a thread to sleep while another
 * one runs): every call.
 */
static inline uint64_t checked_latency(const struct call_timing *t, int strict)
{
    return strict ? max_u64(t->max_ran_ns, t->max_slept_ns) : t->max_ns;
}

/* The figures behind checked_latency, and the limit, on two lines. */
static inline void print_timing(const struct call_timing *t, int strict, uint64_t limit_ms)
{
    printf("calls %" PRIu64 ": max %.3f ms; ran through: max %.3f ms; slept in the library: %" PRIu64
           " (max %.3f ms); preempted only: %" PRIu64 "\n",
           t->calls, (double)t->max_ns / 1e6, (double)t->max_ran_ns / 1e6, t->slept,
           (double)t->max_slept_ns / 1e6, t->preempted);
    printf("checked max=%.3fms (%s), limit %" PRIu64 "ms\n",
           (double)checked_latency(t, strict) / 1e6, strict ? "all but preempted calls" : "all calls",
           limit_ms);
}

/* ---- DNS wire format ---- */

/*
 * Writes the text name `name` ("t3-m5.example." or "t3-m5.example") in wire
 * format to `out`; returns its length.
 */
static inline size_t wire_name(uint8_t *out, size_t cap, const char *name)
{
    size_t len = 0;
    const char *label = name;
    while (*label != '\0') {
        const char *dot = strchr(label, '.');
        size_t n = dot ? (size_t)(dot - label) : strlen(label);
        CHECK(n > 0 && n < 64, "bad label in \"%s\"", name);
        CHECK(len + 1 + n + 1 <= cap, "name \"%s\" too long", name);
        out[len++] = (uint8_t)n;
        memcpy(out + len, label, n);
        len += n;
        label += n;
        if (*label == '.') {
            label++;
        }
    }
    CHECK(len + 1 <= cap, "name \"%s\" too long", name);
    out[len++] = 0;
    return len;
}

static inline size_t put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

/* A recursive query for `qname` IN A with message id `id`. */
static inline size_t dns_query(uint8_t *out, size_t cap, uint16_t id, const char *qname)
{
    CHECK(cap >= 12 + 4, "query buffer too small");
    size_t len = 0;
    len += put16(out + len, id);
    len += put16(out + len, 0x0100); /* RD */
    len += put16(out + len, 1);      /* QDCOUNT */
    len += put16(out + len, 0);
    len += put16(out + len, 0);
    len += put16(out + len, 0);
    len += wire_name(out + len, cap - len - 4, qname);
    len += put16(out + len, 1); /* A */
    len += put16(out + len, 1); /* IN */
    return len;
}

/*
 * The response to `query` (from dns_query): QR RD RA NOERROR and one A
 * record whose owner is a compression pointer to the question name.
 */
static inline size_t dns_response(uint8_t *out, size_t cap, const uint8_t *query,
                                  size_t query_len, const uint8_t addr[4])
{
    CHECK(query_len + 16 <= cap, "response buffer too small");
    memcpy(out, query, query_len);
    put16(out + 2, 0x8180); /* QR RD RA, NOERROR */
    put16(out + 6, 1);      /* ANCOUNT */
    size_t len = query_len;
    len += put16(out + len, 0xC00C); /* the name at offset 12 */
    len += put16(out + len, 1);      /* A */
    len += put16(out + len, 1);      /* IN */
    len += put16(out + len, 0);      /* TTL 300, high half */
    len += put16(out + len, 300);
    len += put16(out + len, 4);
    memcpy(out + len, addr, 4);
    return len + 4;
}

/* ---- socket addresses ---- */

static inline void sa4(struct sockaddr_in *sin, const char *ip, uint16_t port)
{
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    CHECK(inet_pton(AF_INET, ip, &sin->sin_addr) == 1, "bad IPv4 %s", ip);
}

static inline void sa6(struct sockaddr_in6 *sin6, const char *ip, uint16_t port)
{
    memset(sin6, 0, sizeof *sin6);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    CHECK(inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1, "bad IPv6 %s", ip);
}

/* ---- the library ---- */

/* Options with a sink, the tests' identity and version, and a queue size. */
static inline struct dnstap_options *test_options(const char *sink, uint32_t queue)
{
    static const char identity[] = "c-test";
    static const char version[] = "c-test 1";
    struct dnstap_options *opts = dnstap_options_new();
    CHECK(opts != NULL, "dnstap_options_new");
    int rc = dnstap_options_set_sink(opts, sink);
    CHECK(rc == DNSTAP_OK, "set_sink(%s): %s: %s", sink, dnstap_strerror(rc),
          dnstap_options_last_error(opts));
    CHECK_RC(dnstap_options_set_identity(opts, (const uint8_t *)identity, strlen(identity)),
             DNSTAP_OK);
    CHECK_RC(dnstap_options_set_version(opts, (const uint8_t *)version, strlen(version)),
             DNSTAP_OK);
    if (queue != 0) {
        CHECK_RC(dnstap_options_set_queue_capacity(opts, queue), DNSTAP_OK);
    }
    return opts;
}

static inline struct dnstap *test_init(const struct dnstap_options *opts)
{
    struct dnstap *h = NULL;
    int rc = dnstap_init(opts, &h);
    CHECK(rc == DNSTAP_OK && h != NULL, "dnstap_init: %s: %s", dnstap_strerror(rc),
          dnstap_options_last_error(opts));
    return h;
}

static inline struct dnstap_stats current_stats(const struct dnstap *h)
{
    struct dnstap_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    CHECK_RC(dnstap_stats(h, &st), DNSTAP_OK);
    return st;
}

static inline struct dnstap_stats fini_stats(struct dnstap *h)
{
    struct dnstap_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    CHECK_RC(dnstap_fini_stats(h, &st), DNSTAP_OK);
    return st;
}

/* One line the driver can read: "stats LABEL accepted=… reconnects=…". */
static inline void print_stats(const char *label, const struct dnstap_stats *st)
{
    printf("stats %s accepted=%" PRIu64 " dropped=%" PRIu64 " sampled_out=%" PRIu64
           " written=%" PRIu64 " lost=%" PRIu64 " bytes=%" PRIu64 " reconnects=%" PRIu64 "\n",
           label, st->accepted, st->dropped, st->sampled_out, st->written, st->lost, st->bytes,
           st->reconnects);
    fflush(stdout);
}

/* The invariant every final picture must satisfy. */
static inline void check_accounting(const struct dnstap_stats *st)
{
    CHECK(st->accepted == st->written + st->lost,
          "accepted %" PRIu64 " != written %" PRIu64 " + lost %" PRIu64, st->accepted,
          st->written, st->lost);
}

#endif /* DNSTAP_TEST_COMMON_H */
