/*
 * Scenario D, file part: dnstap_reopen after a logrotate-style rename.
 *
 *   reopen_file DIR
 *
 * Logs 100 "before" messages to DIR/reopen.fs and waits until they are
 * written; renames the file to DIR/reopen.fs.1 and calls dnstap_reopen;
 * after 300 ms logs 50 "after" messages, which must go to a new
 * DIR/reopen.fs. Then calls dnstap_reopen again without renaming: the
 * file must be kept (not truncated), so 25 "kept" messages end up in the
 * same new file. The driver counts the records of both files.
 */
#include "common.h"

static void log_batch(struct dnstap *h, const char *prefix, int count)
{
    uint8_t query[128];
    char qname[64];
    struct dnstap_message m;
    CHECK_RC(dnstap_message_init(&m), DNSTAP_OK);
    m.type = DNSTAP_MESSAGE_TYPE_AUTH_QUERY;
    m.socket_protocol = DNSTAP_SOCKET_PROTOCOL_UDP;
    m.query_message = query;
    for (int i = 0; i < count; i++) {
        format(qname, sizeof qname, "%s-%d.example.", prefix, i);
        m.query_message_len = dns_query(query, sizeof query, (uint16_t)i, qname);
        CHECK_RC(dnstap_log_message(h, &m), DNSTAP_OK);
    }
}

/* Waits (bounded) until `written` reaches `want`. */
static void wait_written(const struct dnstap *h, uint64_t want)
{
    const uint64_t start = mono_ns();
    uint64_t written;
    while ((written = current_stats(h).written) < want) {
        CHECK(mono_ns() - start < 10ull * 1000000000u, "written %" PRIu64 " of %" PRIu64 " after 10 s",
              written, want);
        sleep_ms(10);
    }
}

int main(int argc, char **argv)
{
    CHECK(argc == 2, "usage: %s DIR", argv[0]);
    char path[4096], rotated[4096], sink[4200];
    format(path, sizeof path, "%s/reopen.fs", argv[1]);
    format(rotated, sizeof rotated, "%s/reopen.fs.1", argv[1]);
    format(sink, sizeof sink, "file:%s", path);

    struct dnstap_options *opts = test_options(sink, 0);
    struct dnstap *h = test_init(opts);
    dnstap_options_free(opts);

    log_batch(h, "before", 100);
    wait_written(h, 100);
    CHECK(rename(path, rotated) == 0, "rename %s", path);
    CHECK_RC(dnstap_reopen(h), DNSTAP_OK);
    sleep_ms(300); /* the writer acts on the flag within 100 ms */
    CHECK(wait_for_path(path, 1000), "%s was not recreated by dnstap_reopen", path);
    CHECK(current_stats(h).reconnects == 1, "reconnects %" PRIu64 " after one rotation",
          current_stats(h).reconnects);

    log_batch(h, "after", 50);
    wait_written(h, 150);
    /* Not rotated this time: the library must keep appending to the file. */
    CHECK_RC(dnstap_reopen(h), DNSTAP_OK);
    sleep_ms(300);
    log_batch(h, "kept", 25);

    const struct dnstap_stats st = fini_stats(h);
    print_stats("reopen_file", &st);
    check_accounting(&st);
    CHECK(st.accepted == 175 && st.written == 175 && st.lost == 0,
          "accepted %" PRIu64 " written %" PRIu64 " lost %" PRIu64 ", want 175/175/0", st.accepted,
          st.written, st.lost);
    CHECK(st.reconnects == 1, "reconnects %" PRIu64 ": a reopen without rotation reopened",
          st.reconnects);
    puts("reopen_file: OK (driver: reopen.fs.1 holds 100 records, reopen.fs 75)");
    return 0;
}
