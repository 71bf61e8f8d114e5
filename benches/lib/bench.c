/*
 * Benchmark harness: T producer threads each make N log calls of the same
 * CLIENT_RESPONSE, timing every call with clock_gettime(CLOCK_MONOTONIC),
 * either as fast as they can (saturated) or at --rate calls per second in
 * bursts of 32 (paced); then the implementation is shut down (it writes
 * what is queued) and the output file is read back to count the frames
 * that actually reached it, which must match what the library reports.
 *
 * With --burst-timing each burst of 32 calls is timed as a whole and every
 * figure is the cost per call within a burst: the clock (20 ns an empty
 * interval on the CI VM, counting in 10 ns steps) cannot resolve a single
 * call of a few tens of ns, but 32 of them it can, to about 1 ns. Tails
 * are diluted by the averaging: per-call timing is the one for p99.
 *
 * Prints one line of key=value pairs for ci/bench-lib to aggregate:
 *   impl threads messages rate
 *   p50_ns p99_ns p999_ns max_ns mean_ns      every call
 *   acc_p50_ns acc_p99_ns acc_p999_ns         accepted (not dropped) calls
 *   timer_ns                                  an empty timed interval
 *   offered_per_s written_per_s produce_s elapsed_s
 *   accepted written dropped lost file_frames file_bytes
 * where written_per_s = frames in the file / (first call .. close returned)
 * and offered_per_s = calls / (first call .. last producer done).
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* www.example.com IN A, RD: 33 bytes. */
static const uint8_t QUERY[] = {
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
    0x00, 0x01, 0x00, 0x01,
};

/* Its answer (one A record) with two NS records in the authority section:
 * 97 bytes, with name compression as servers send it. */
static const uint8_t RESPONSE[] = {
    0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00,
    3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
    0x00, 0x01, 0x00, 0x01,
    /* www.example.com 3600 IN A 93.184.215.14 */
    0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04,
    93, 184, 215, 14,
    /* example.com 86400 IN NS a.iana-servers.net. */
    0xc0, 0x10, 0x00, 0x02, 0x00, 0x01, 0x00, 0x01, 0x51, 0x80, 0x00, 0x14,
    1, 'a', 12, 'i', 'a', 'n', 'a', '-', 's', 'e', 'r', 'v', 'e', 'r', 's',
    3, 'n', 'e', 't', 0,
    /* example.com 86400 IN NS b.iana-servers.net. */
    0xc0, 0x10, 0x00, 0x02, 0x00, 0x01, 0x00, 0x01, 0x51, 0x80, 0x00, 0x04,
    1, 'b', 0xc0, 0x3f,
};

static const char IDENTITY[] = "ns1.bench.example";
static const char VERSION[] = "bench-server 9.18.0";

struct producer {
    pthread_t thread;
    unsigned index;
    struct impl *impl;
    const struct bench_msg *msg;
    pthread_barrier_t *barrier;
    uint64_t messages;
    double rate;       /* calls per second, 0 = as fast as possible */
    int burst_timing;  /* time bursts of PACE_BURST calls, not single calls */
    uint32_t *latency; /* tenths of ns per call, | DROPPED_BIT if it dropped */
    uint64_t timings;  /* entries of latency[] used */
    uint64_t ok, dropped, errors;
    uint64_t start_ns, end_ns;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define PACE_BURST 32
#define DROPPED_BIT 0x80000000u
#define NS_MASK 0x7fffffffu

static uint32_t clamp31(uint64_t v)
{
    return v > NS_MASK ? NS_MASK : (uint32_t)v;
}

static void *produce(void *arg)
{
    struct producer *p = arg;
    char name[16];
    snprintf(name, sizeof name, "producer-%u", p->index);
    pthread_setname_np(pthread_self(), name); /* for perf and top */
    void *state = impl_producer(p->impl, p->index);
    uint32_t *latency = p->latency;
    uint64_t ok = 0, dropped = 0, errors = 0;

    pthread_barrier_wait(p->barrier);
    p->start_ns = now_ns();
    const uint64_t per_timing = p->burst_timing ? PACE_BURST : 1;
    uint64_t timings = 0;
    for (uint64_t i = 0; i < p->messages; i += per_timing) {
        if (p->rate > 0 && i % PACE_BURST == 0 && i > 0) {
            /* Paced: bursts of PACE_BURST calls (a server handling what one
             * recvmmsg returned), then sleep until the schedule allows more. */
            uint64_t due = p->start_ns + (uint64_t)((double)i * 1e9 / p->rate);
            struct timespec ts = {.tv_sec = (time_t)(due / 1000000000u),
                                  .tv_nsec = (long)(due % 1000000000u)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
        }
        const uint64_t calls = p->messages - i < per_timing ? p->messages - i : per_timing;
        uint32_t dropped_bit = 0;
        uint64_t t0 = now_ns();
        for (uint64_t c = 0; c < calls; c++) {
            int r = impl_log(p->impl, state, p->msg);
            if (r == LOG_OK) {
                ok++;
            } else if (r == LOG_DROPPED) {
                dropped++;
                dropped_bit = DROPPED_BIT;
            } else {
                errors++;
            }
        }
        uint64_t t1 = now_ns();
        latency[timings++] = clamp31((t1 - t0) * 10 / calls) | dropped_bit;
    }
    p->end_ns = now_ns();
    p->timings = timings;
    p->ok = ok;
    p->dropped = dropped;
    p->errors = errors;
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static uint32_t percentile(const uint32_t *sorted, size_t n, double p)
{
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

/* The median cost of an empty timed interval (tenths of ns): the floor
 * under every per-call figure. */
static uint32_t timer_floor(void)
{
    enum { N = 200000 };
    static uint32_t d[N];
    for (size_t i = 0; i < N; i++) {
        uint64_t t0 = now_ns();
        uint64_t t1 = now_ns();
        d[i] = clamp31((t1 - t0) * 10);
    }
    qsort(d, N, sizeof d[0], cmp_u32);
    return d[N / 2];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Counts the data frames of a Frame Streams file, which must start with
 * START and end with STOP; -1 if it is malformed. */
static int count_frames(const char *path, uint64_t *frames, uint64_t *bytes)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t size = (size_t)st.st_size;
    const uint8_t *f = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (f == MAP_FAILED) {
        fprintf(stderr, "bench: mmap %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t at = 0;
    uint32_t last_control = 0, controls = 0;
    *frames = *bytes = 0;
    while (at + 4 <= size) {
        uint32_t len = be32(f + at);
        at += 4;
        if (len == 0) { /* control frame: its length, its type, fields */
            if (at + 8 > size)
                break;
            len = be32(f + at);
            last_control = be32(f + at + 4);
            controls++;
            at += 4;
        } else {
            (*frames)++;
            *bytes += 4 + (uint64_t)len;
        }
        at += len;
    }
    if (f != NULL)
        munmap((void *)f, size);
    if (at != size || controls < 2 || last_control != 3 /* STOP */) {
        fprintf(stderr, "bench: %s is not a complete Frame Streams file\n", path);
        return -1;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench-IMPL --out FILE | --sink tcp:ADDR@PORT|tls:ADDR@PORT\n"
            "                  [--threads T] [--messages N per producer]\n"
            "                  [--rate CALLS_PER_S per producer] [--queue SIZE]\n"
            "                  [--fstrm-tuned] [--burst-timing] [--keep]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    unsigned threads = 1, queue = 0;
    uint64_t messages = 1000000;
    int tuned = 0, keep = 0, burst_timing = 0, socket_sink = 0;
    double rate = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(a, "--sink") && i + 1 < argc) {
            /* libdnstap only: a collector's socket; what it received is
             * what the library counts as written (FINISH acknowledges it) */
            out = argv[++i];
            socket_sink = 1;
        }
        else if (!strcmp(a, "--threads") && i + 1 < argc)
            threads = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--messages") && i + 1 < argc)
            messages = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--rate") && i + 1 < argc)
            rate = strtod(argv[++i], NULL);
        else if (!strcmp(a, "--queue") && i + 1 < argc)
            queue = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--fstrm-tuned"))
            tuned = 1;
        else if (!strcmp(a, "--keep"))
            keep = 1;
        else if (!strcmp(a, "--burst-timing"))
            burst_timing = 1;
        else
            usage();
    }
    if (out == NULL || threads < 1 || threads > 64 || messages < 1)
        usage();

    struct bench_msg msg = {
        .query_time_sec = 1700000000,
        .query_time_nsec = 123456789,
        .response_time_sec = 1700000000,
        .response_time_nsec = 123706789, /* 250 µs later */
        .query = QUERY,
        .query_len = sizeof QUERY,
        .response = RESPONSE,
        .response_len = sizeof RESPONSE,
        .identity = (const uint8_t *)IDENTITY,
        .identity_len = sizeof IDENTITY - 1,
        .version = (const uint8_t *)VERSION,
        .version_len = sizeof VERSION - 1,
    };
    msg.query_address.sin_family = AF_INET;
    msg.query_address.sin_port = htons(53123);
    inet_pton(AF_INET, "192.0.2.77", &msg.query_address.sin_addr);
    msg.response_address.sin_family = AF_INET;
    msg.response_address.sin_port = htons(53);
    inet_pton(AF_INET, "198.51.100.1", &msg.response_address.sin_addr);

    uint32_t timer = timer_floor();

    struct producer *p = calloc(threads, sizeof *p);
    pthread_barrier_t barrier;
    if (p == NULL || pthread_barrier_init(&barrier, NULL, threads) != 0) {
        fprintf(stderr, "bench: out of memory\n");
        return 1;
    }
    for (unsigned t = 0; t < threads; t++) {
        p[t].latency = malloc(messages * sizeof(uint32_t));
        if (p[t].latency == NULL) {
            fprintf(stderr, "bench: out of memory\n");
            return 1;
        }
        memset(p[t].latency, 0, messages * sizeof(uint32_t)); /* fault the pages in now */
    }

    struct impl *impl = impl_open(out, threads, queue, tuned, &msg);
    if (impl == NULL)
        return 1;
    for (unsigned t = 0; t < threads; t++) {
        p[t].index = t;
        p[t].impl = impl;
        p[t].msg = &msg;
        p[t].barrier = &barrier;
        p[t].messages = messages;
        p[t].rate = rate;
        p[t].burst_timing = burst_timing;
        if (pthread_create(&p[t].thread, NULL, produce, &p[t]) != 0) {
            fprintf(stderr, "bench: cannot start a producer\n");
            return 1;
        }
    }
    uint64_t start = UINT64_MAX, produced = 0, ok = 0, dropped = 0, errors = 0;
    for (unsigned t = 0; t < threads; t++) {
        pthread_join(p[t].thread, NULL);
        if (p[t].start_ns < start)
            start = p[t].start_ns;
        if (p[t].end_ns > produced)
            produced = p[t].end_ns;
        ok += p[t].ok;
        dropped += p[t].dropped;
        errors += p[t].errors;
    }
    struct impl_counts counts = {0};
    int closed = impl_close(impl, &counts);
    uint64_t end = now_ns();
    if (closed != 0 || errors != 0) {
        fprintf(stderr, "bench: %s: %" PRIu64 " log calls failed, close %s\n", impl_name(),
                errors, closed ? "failed" : "ok");
        return 1;
    }

    if (!counts.self_counted) {
        counts.written = ok;
        counts.dropped = dropped;
    }
    uint64_t frames = 0, bytes = 0;
    if (socket_sink)
        frames = counts.written;
    else if (count_frames(out, &frames, &bytes) != 0)
        return 1;
    if (!keep && !socket_sink)
        remove(out);
    if (frames != counts.written || counts.dropped != dropped) {
        fprintf(stderr,
                "bench: %s: counters disagree: file has %" PRIu64 " frames, the library says"
                " %" PRIu64 " written; %" PRIu64 " drops returned, %" PRIu64 " counted\n",
                impl_name(), frames, counts.written, dropped, counts.dropped);
        return 1;
    }

    /* Every timing, and those of accepted calls alone (the drop path of
     * both implementations is cheaper: nothing is queued). */
    size_t total = (size_t)messages * threads;
    uint32_t *all = malloc(total * sizeof(uint32_t));
    uint32_t *acc = malloc(total * sizeof(uint32_t));
    if (all == NULL || acc == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        return 1;
    }
    double sum = 0;
    size_t n = 0, nacc = 0;
    for (unsigned t = 0; t < threads; t++) {
        for (uint64_t i = 0; i < p[t].timings; i++) {
            uint32_t v = p[t].latency[i];
            all[n++] = v & NS_MASK;
            if (!(v & DROPPED_BIT))
                acc[nacc++] = v;
            sum += v & NS_MASK;
        }
        free(p[t].latency);
    }
    qsort(all, n, sizeof all[0], cmp_u32);
    qsort(acc, nacc, sizeof acc[0], cmp_u32);
    if (nacc == 0)
        acc[0] = 0;

    double produce_s = (double)(produced - start) / 1e9;
    double elapsed_s = (double)(end - start) / 1e9;
    /* Timings are in tenths of ns. */
#define NS(tenths) ((double)(tenths) / 10.0)
    printf("impl=%s threads=%u messages=%" PRIu64 " rate=%.0f timing=%s p50_ns=%.1f p99_ns=%.1f"
           " p999_ns=%.1f max_ns=%.1f mean_ns=%.1f acc_p50_ns=%.1f acc_p99_ns=%.1f"
           " acc_p999_ns=%.1f timer_ns=%.1f"
           " offered_per_s=%.0f written_per_s=%.0f produce_s=%.3f elapsed_s=%.3f"
           " accepted=%" PRIu64 " written=%" PRIu64 " dropped=%" PRIu64 " lost=%" PRIu64
           " file_frames=%" PRIu64 " file_bytes=%" PRIu64 "\n",
           impl_name(), threads, messages, rate, burst_timing ? "burst" : "call",
           NS(percentile(all, n, 50)), NS(percentile(all, n, 99)), NS(percentile(all, n, 99.9)),
           NS(all[n - 1]), NS(sum / (double)n), NS(percentile(acc, nacc ? nacc : 1, 50)),
           NS(percentile(acc, nacc ? nacc : 1, 99)), NS(percentile(acc, nacc ? nacc : 1, 99.9)),
           NS(timer), (double)total / produce_s, (double)frames / elapsed_s, produce_s, elapsed_s,
           ok, counts.written, dropped, counts.lost, frames, bytes);
    return 0;
}
