/*
 * The load of the fault scenarios (ci/library-fault): several threads log
 * at a steady rate, the way a busy server does, while the driver breaks
 * the collector, the disk or the file around them.
 *
 *   fault_load SINK CONTROL_DIR [KEY=VALUE...]
 *
 *   threads=4        logging threads
 *   rate=10000       messages per second per thread (in batches every ms)
 *   queue=0          dnstap_options_set_queue_capacity (0: the default)
 *   sample=0         dnstap_options_set_sample_rate (0: not set)
 *   limit_ms=50      no log call may take longer (see timed_log, common.h)
 *   strict=1         0: the limit applies to preempted calls too (valgrind)
 *   fini_limit_ms=3000   dnstap_fini_stats must return within this
 *   writer_cpu_pct=0     if > 0: the writer thread's CPU time must stay
 *                        below this share of the run (no busy loop)
 *   max_run_s=90     a bound, should CONTROL_DIR/stop never appear
 *   stderr_full=0    1: the library logs to its default, stderr, which is
 *                    /dev/full (every write fails): it must go on working
 *
 * It logs until CONTROL_DIR/stop appears. SIGHUP calls dnstap_reopen from
 * the signal handler, as a server's does. Every 100 ms it prints
 *   tick ms=REALTIME_MS accepted=… dropped=… sampled_out=… written=… lost=… reconnects=…
 * and every line the library logs as
 *   log ms=REALTIME_MS level=N MESSAGE
 * so that the driver can time what it did against what the library saw.
 * At the end it prints its figures and checks, exactly:
 *   offered == accepted + dropped + sampled_out (and each counter equals
 *   the result codes returned), accepted == written + lost,
 * the call latency, the fini time and the writer thread's CPU.
 */
#include "common.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

struct settings {
    unsigned threads, rate, queue, sample, strict, writer_cpu_pct, max_run_s, stderr_full;
    unsigned limit_ms, fini_limit_ms;
};

struct logger {
    struct dnstap *h;
    unsigned index, rate;
    uint64_t offered, ok, dropped, sampled_out, errors;
    struct call_timing timing;
};

static atomic_int stopping;
static struct dnstap *volatile reopen_handle;

static void on_sighup(int sig)
{
    (void)sig;
    struct dnstap *h = reopen_handle;
    if (h != NULL) {
        dnstap_reopen(h); /* async-signal-safe: sets a flag */
    }
}

static uint64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void log_line(void *user, int level, const char *message)
{
    (void)user;
    printf("log ms=%" PRIu64 " level=%d %s\n", realtime_ms(), level, message);
    fflush(stdout);
}

/* Client queries and responses, each with a name no other message has. */
static void *run(void *arg)
{
    struct logger *l = arg;
    uint8_t query[128], response[160];
    char qname[64];
    struct sockaddr_in client4, server4;
    struct sockaddr_in6 client6, server6;
    sa4(&client4, "192.0.2.9", (uint16_t)(40000 + l->index));
    sa4(&server4, "127.0.0.1", 53);
    sa6(&client6, "2001:db8::9", (uint16_t)(40000 + l->index));
    sa6(&server6, "::1", 53);
    static const uint8_t addr[4] = {192, 0, 2, 1};

    struct dnstap_message m;
    CHECK_RC(dnstap_message_init(&m), DNSTAP_OK);
    m.socket_protocol = DNSTAP_SOCKET_PROTOCOL_UDP;
    const unsigned batch = l->rate / 1000 > 0 ? l->rate / 1000 : 1;
    const uint64_t period_ns = 1000000ull * batch * 1000u / l->rate;
    uint64_t next = mono_ns();
    while (!atomic_load(&stopping)) {
        for (unsigned i = 0; i < batch; i++) {
            const uint64_t n = l->offered++;
            const int v6 = n % 4 >= 2;
            format(qname, sizeof qname, "t%u-n%" PRIu64 ".example.", l->index, n);
            m.query_address = v6 ? (const struct sockaddr *)&client6 : (const struct sockaddr *)&client4;
            m.response_address = v6 ? (const struct sockaddr *)&server6 : (const struct sockaddr *)&server4;
            m.query_message = query;
            m.query_message_len = dns_query(query, sizeof query, (uint16_t)n, qname);
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            m.query_time_sec = (uint64_t)now.tv_sec;
            m.query_time_nsec = (uint32_t)now.tv_nsec;
            if (n % 2 == 0) {
                m.type = DNSTAP_MESSAGE_TYPE_CLIENT_QUERY;
                m.response_message = NULL;
                m.response_message_len = 0;
                m.response_time_sec = 0;
                m.response_time_nsec = 0;
            } else {
                m.type = DNSTAP_MESSAGE_TYPE_CLIENT_RESPONSE;
                m.response_message = response;
                m.response_message_len =
                    dns_response(response, sizeof response, query, m.query_message_len, addr);
                m.response_time_sec = m.query_time_sec;
                m.response_time_nsec = m.query_time_nsec;
            }
            uint64_t took;
            switch (timed_log(l->h, &m, &l->timing, &took)) {
            case DNSTAP_OK:
                l->ok++;
                break;
            case DNSTAP_DROPPED:
                l->dropped++;
                break;
            case DNSTAP_SAMPLED_OUT:
                l->sampled_out++;
                break;
            default:
                l->errors++;
            }
        }
        next += period_ns;
        const uint64_t now = mono_ns();
        if (next > now) {
            const uint64_t wait = next - now;
            struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000u),
                                  .tv_nsec = (long)(wait % 1000000000u)};
            nanosleep(&ts, NULL);
        } else if (now - next > 100000000u) {
            next = now; /* starved (valgrind): do not try to catch up */
        }
    }
    return NULL;
}

/* CPU time (ms) of this process's thread named `name`, or -1. */
static long thread_cpu_ms(const char *name)
{
    DIR *dir = opendir("/proc/self/task");
    CHECK(dir != NULL, "opendir /proc/self/task");
    long ms = -1;
    const struct dirent *entry;
    while (ms < 0 && (entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.') {
            continue;
        }
        char path[64], comm[64] = "", stat[1024] = "";
        format(path, sizeof path, "/proc/self/task/%s/comm", entry->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        const int named = fgets(comm, sizeof comm, f) != NULL;
        fclose(f);
        comm[strcspn(comm, "\n")] = '\0';
        if (!named || strcmp(comm, name) != 0) {
            continue;
        }
        format(path, sizeof path, "/proc/self/task/%s/stat", entry->d_name);
        f = fopen(path, "r");
        CHECK(f != NULL, "cannot open %s", path);
        CHECK(fgets(stat, sizeof stat, f) != NULL, "cannot read %s", path);
        fclose(f);
        /* Fields after the ")" that ends comm: state is field 3, utime 14. */
        unsigned long utime = 0, stime = 0;
        const char *rest = strrchr(stat, ')');
        CHECK(rest != NULL &&
                  sscanf(rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                         &stime) == 2,
              "cannot parse %s", path);
        ms = (long)((utime + stime) * 1000u / (unsigned long)sysconf(_SC_CLK_TCK));
    }
    closedir(dir);
    return ms;
}

static void print_tick(const struct dnstap *h)
{
    const struct dnstap_stats st = current_stats(h);
    printf("tick ms=%" PRIu64 " accepted=%" PRIu64 " dropped=%" PRIu64 " sampled_out=%" PRIu64
           " written=%" PRIu64 " lost=%" PRIu64 " reconnects=%" PRIu64 "\n",
           realtime_ms(), st.accepted, st.dropped, st.sampled_out, st.written, st.lost,
           st.reconnects);
    fflush(stdout);
}

static struct settings parse_settings(int argc, char **argv)
{
    struct settings s = {.threads = 4, .rate = 10000, .strict = 1, .max_run_s = 90,
                         .limit_ms = 50, .fini_limit_ms = 3000};
    const struct {
        const char *key;
        unsigned *value;
    } keys[] = {
        {"threads", &s.threads},     {"rate", &s.rate},
        {"queue", &s.queue},         {"sample", &s.sample},
        {"strict", &s.strict},       {"writer_cpu_pct", &s.writer_cpu_pct},
        {"max_run_s", &s.max_run_s}, {"limit_ms", &s.limit_ms},
        {"fini_limit_ms", &s.fini_limit_ms}, {"stderr_full", &s.stderr_full},
    };
    for (int i = 3; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        size_t k = 0;
        while (k < sizeof keys / sizeof keys[0] &&
               !(eq != NULL && strlen(keys[k].key) == (size_t)(eq - argv[i]) &&
                 strncmp(argv[i], keys[k].key, (size_t)(eq - argv[i])) == 0)) {
            k++;
        }
        CHECK(k < sizeof keys / sizeof keys[0], "unknown setting %s", argv[i]);
        char *end;
        const unsigned long v = strtoul(eq + 1, &end, 10);
        CHECK(*end == '\0' && eq[1] != '\0' && v <= 100000000ul, "bad %s", argv[i]);
        *keys[k].value = (unsigned)v;
    }
    CHECK(s.threads >= 1 && s.threads <= 16 && s.rate >= 1, "threads 1..16 and rate >= 1");
    return s;
}

int main(int argc, char **argv)
{
    CHECK(argc >= 3, "usage: %s SINK CONTROL_DIR [KEY=VALUE...]", argv[0]);
    const struct settings s = parse_settings(argc, argv);
    char stop_file[4096];
    format(stop_file, sizeof stop_file, "%s/stop", argv[2]);

    struct dnstap_options *opts = test_options(argv[1], s.queue);
    if (s.stderr_full) {
        const int full = open("/dev/full", O_WRONLY);
        CHECK(full >= 0 && dup2(full, STDERR_FILENO) == STDERR_FILENO, "/dev/full as stderr");
        close(full);
    } else {
        CHECK_RC(dnstap_options_set_log_callback(opts, log_line, NULL), DNSTAP_OK);
    }
    if (s.sample != 0) {
        CHECK_RC(dnstap_options_set_sample_rate(opts, s.sample), DNSTAP_OK);
    }
    struct dnstap *h = test_init(opts);
    dnstap_options_free(opts);

    reopen_handle = h;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sighup;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGHUP, &sa, NULL) == 0, "sigaction");

    struct logger loggers[16];
    pthread_t ids[16];
    memset(loggers, 0, sizeof loggers);
    const uint64_t start = mono_ns();
    for (unsigned i = 0; i < s.threads; i++) {
        loggers[i].h = h;
        loggers[i].index = i;
        loggers[i].rate = s.rate;
        CHECK(pthread_create(&ids[i], NULL, run, &loggers[i]) == 0, "pthread_create");
    }
    printf("LOGGING threads=%u rate=%u/s each\n", s.threads, s.rate);
    struct stat st_stop;
    int timed_out = 0;
    while (stat(stop_file, &st_stop) != 0) {
        if (mono_ns() - start > (uint64_t)s.max_run_s * 1000000000u) {
            timed_out = 1;
            break;
        }
        print_tick(h);
        sleep_ms(100);
    }
    atomic_store(&stopping, 1);
    struct call_timing timing = {0};
    uint64_t offered = 0, ok = 0, dropped = 0, sampled_out = 0, errors = 0;
    for (unsigned i = 0; i < s.threads; i++) {
        CHECK(pthread_join(ids[i], NULL) == 0, "pthread_join");
        const struct logger *l = &loggers[i];
        offered += l->offered;
        ok += l->ok;
        dropped += l->dropped;
        sampled_out += l->sampled_out;
        errors += l->errors;
        merge_timing(&timing, &l->timing);
    }
    const uint64_t run_ms = (mono_ns() - start) / 1000000u;
    const long writer_ms = thread_cpu_ms("dnstap-writer");
    print_tick(h);

    /* Signals from here on must not reach a handle being freed. */
    signal(SIGHUP, SIG_IGN);
    reopen_handle = NULL;
    const uint64_t fini_start = mono_ns();
    const struct dnstap_stats st = fini_stats(h);
    const uint64_t fini_ms = (mono_ns() - fini_start) / 1000000u;

    printf("offered=%" PRIu64 " in %" PRIu64 " ms: ok=%" PRIu64 " dropped=%" PRIu64
           " sampled_out=%" PRIu64 " errors=%" PRIu64 "\n",
           offered, run_ms, ok, dropped, sampled_out, errors);
    print_timing(&timing, (int)s.strict, s.limit_ms);
    printf("writer_cpu_ms=%ld of %" PRIu64 " ms (%.1f %%)\n", writer_ms, run_ms,
           100.0 * (double)writer_ms / (double)run_ms);
    printf("fini_ms=%" PRIu64 "\n", fini_ms);
    print_stats("fault_load", &st);

    CHECK(!timed_out, "%s did not appear within %u s", stop_file, s.max_run_s);
    CHECK(errors == 0, "%" PRIu64 " calls returned an error", errors);
    CHECK(offered == st.accepted + st.dropped + st.sampled_out,
          "offered %" PRIu64 " != accepted + dropped + sampled_out", offered);
    CHECK(st.accepted == ok && st.dropped == dropped && st.sampled_out == sampled_out,
          "the counters disagree with the result codes");
    check_accounting(&st);
    CHECK(checked_latency(&timing, (int)s.strict) < (uint64_t)s.limit_ms * 1000000u,
          "a dnstap_log_message call took %.3f ms",
          (double)checked_latency(&timing, (int)s.strict) / 1e6);
    CHECK(fini_ms < s.fini_limit_ms, "dnstap_fini_stats took %" PRIu64 " ms", fini_ms);
    CHECK(writer_ms >= 0, "no thread named dnstap-writer");
    CHECK(s.writer_cpu_pct == 0 || (uint64_t)writer_ms * 100u < s.writer_cpu_pct * run_ms,
          "the writer thread used %ld ms of CPU in %" PRIu64 " ms", writer_ms, run_ms);
    puts("fault_load: OK");
    return 0;
}
