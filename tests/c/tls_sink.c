/*
 * Scenario T: the tls: sink's setters and a TLS session.
 *
 *   tls_sink setters DIR
 *       every misuse of the dnstap_options_set_tls_* setters returns its
 *       documented code and changes nothing; dnstap_init fails with
 *       DNSTAP_E_TLS (nothing started, *out untouched) for a missing or
 *       invalid CA file or a key that is not the certificate's; TLS
 *       options on a tcp: sink are DNSTAP_E_INVAL; a caller built against
 *       the first struct dnstap_stats layout gets its fields only.
 *   tls_sink log SINK CA_FILE NAME|- CERT|- KEY|- COUNT
 *       logs COUNT queries through SINK with these TLS settings, ends the
 *       handle and prints its stats; exits 0 if all COUNT were written.
 */
#include "common.h"

#include <stddef.h>

static void check_setters(const char *dir)
{
    struct dnstap_options *opts = test_options("tls:127.0.0.1@9", 0);
    char path[512], garbage[512];

    CHECK_RC(dnstap_options_set_tls_server_name(NULL, "collector.test"), DNSTAP_E_NULL);
    CHECK_RC(dnstap_options_set_tls_ca_file(NULL, "/x"), DNSTAP_E_NULL);
    CHECK_RC(dnstap_options_set_tls_client_cert(NULL, "/c", "/k"), DNSTAP_E_NULL);
    CHECK_RC(dnstap_options_set_tls_verify(NULL, DNSTAP_TLS_VERIFY_FULL), DNSTAP_E_NULL);
    CHECK_RC(dnstap_options_set_tls_sni(NULL, 1), DNSTAP_E_NULL);
    CHECK_RC(dnstap_options_set_tls_system_roots(NULL, 1), DNSTAP_E_NULL);

    CHECK_RC(dnstap_options_set_tls_server_name(opts, "not a name!"), DNSTAP_E_INVAL);
    CHECK(strstr(dnstap_options_last_error(opts), "neither a DNS name nor an IP") != NULL,
          "last error: %s", dnstap_options_last_error(opts));
    CHECK_RC(dnstap_options_set_tls_server_name(opts, "collector.test"), DNSTAP_OK);
    CHECK_RC(dnstap_options_set_tls_server_name(opts, "192.0.2.1"), DNSTAP_OK);
    CHECK_RC(dnstap_options_set_tls_server_name(opts, NULL), DNSTAP_OK);
    CHECK_RC(dnstap_options_set_tls_ca_file(opts, ""), DNSTAP_E_INVAL);
    CHECK_RC(dnstap_options_set_tls_client_cert(opts, "/c", NULL), DNSTAP_E_NULL);
    CHECK_RC(dnstap_options_set_tls_client_cert(opts, NULL, "/k"), DNSTAP_E_NULL);
    CHECK_RC(dnstap_options_set_tls_client_cert(opts, "", "/k"), DNSTAP_E_INVAL);
    CHECK_RC(dnstap_options_set_tls_client_cert(opts, NULL, NULL), DNSTAP_OK);
    CHECK_RC(dnstap_options_set_tls_verify(opts, 3), DNSTAP_E_INVAL);
    CHECK_RC(dnstap_options_set_tls_verify(opts, -1), DNSTAP_E_INVAL);
    CHECK_RC(dnstap_options_set_tls_verify(opts, DNSTAP_TLS_VERIFY_NONE), DNSTAP_OK);
    CHECK_RC(dnstap_options_set_tls_verify(opts, DNSTAP_TLS_VERIFY_FULL), DNSTAP_OK);
    CHECK_RC(dnstap_options_set_tls_sni(opts, 0), DNSTAP_OK);

    /* Files are read by dnstap_init: a bad one starts nothing. */
    struct dnstap *h = (struct dnstap *)&opts; /* a sentinel: must stay */
    struct dnstap *untouched = h;
    format(path, sizeof path, "%s/absent.pem", dir);
    CHECK_RC(dnstap_options_set_tls_ca_file(opts, path), DNSTAP_OK);
    CHECK_RC(dnstap_init(opts, &h), DNSTAP_E_TLS);
    CHECK(h == untouched, "dnstap_init wrote *out on failure");
    CHECK(strstr(dnstap_options_last_error(opts), "cannot read CA file") != NULL,
          "last error: %s", dnstap_options_last_error(opts));
    format(garbage, sizeof garbage, "%s/garbage.pem", dir);
    FILE *f = fopen(garbage, "w");
    CHECK(f != NULL, "cannot write %s", garbage);
    fputs("not a certificate\n", f);
    fclose(f);
    CHECK_RC(dnstap_options_set_tls_ca_file(opts, garbage), DNSTAP_OK);
    CHECK_RC(dnstap_init(opts, &h), DNSTAP_E_TLS);
    CHECK(strstr(dnstap_options_last_error(opts), "holds no PEM CERTIFICATE") != NULL,
          "last error: %s", dnstap_options_last_error(opts));
    CHECK(strcmp(dnstap_strerror(DNSTAP_E_TLS), "unknown result code") != 0, "E_TLS described");
    dnstap_options_free(opts);

    /* TLS settings on a plain sink are refused, not ignored. */
    opts = test_options("tcp:127.0.0.1@9", 0);
    CHECK_RC(dnstap_options_set_tls_verify(opts, DNSTAP_TLS_VERIFY_CHAIN), DNSTAP_OK);
    CHECK_RC(dnstap_init(opts, &h), DNSTAP_E_INVAL);
    CHECK(h == untouched, "dnstap_init wrote *out on failure");
    dnstap_options_free(opts);

    /* A caller of the first stats layout (up to reconnects) gets just that. */
    format(path, sizeof path, "file:%s/stats.fs", dir);
    opts = test_options(path, 0);
    h = test_init(opts);
    dnstap_options_free(opts);
    struct dnstap_stats old;
    memset(&old, 0xab, sizeof old);
    old.size = (uint32_t)offsetof(struct dnstap_stats, failed_connects);
    CHECK_RC(dnstap_stats(h, &old), DNSTAP_OK);
    CHECK(old.failed_connects == 0xababababababababULL, "a field past size was written");
    CHECK(old.accepted == 0 && old.reconnects == 0, "first-layout fields filled");
    old.size = (uint32_t)sizeof old - 1; /* never a part of a field */
    old.failed_connects = 0xababababababababULL;
    CHECK_RC(dnstap_stats(h, &old), DNSTAP_OK);
    CHECK(old.failed_connects == 0xababababababababULL, "a field past size was written");
    old.size = (uint32_t)offsetof(struct dnstap_stats, reconnects);
    CHECK_RC(dnstap_stats(h, &old), DNSTAP_E_SIZE);
    struct dnstap_stats st = fini_stats(h);
    CHECK(st.failed_connects == 0, "a file sink has no failed connects");
    printf("setters: every misuse refused, bad files fail dnstap_init with DNSTAP_E_TLS\n");
}

static const char *arg(const char *s)
{
    return strcmp(s, "-") == 0 ? NULL : s;
}

static int log_through(char **argv)
{
    struct dnstap_options *opts = test_options(argv[0], 0);
    long count = atol(argv[5]);
    CHECK_RC(dnstap_options_set_tls_ca_file(opts, arg(argv[1])), DNSTAP_OK);
    CHECK_RC(dnstap_options_set_tls_server_name(opts, arg(argv[2])), DNSTAP_OK);
    CHECK_RC(dnstap_options_set_tls_client_cert(opts, arg(argv[3]), arg(argv[4])), DNSTAP_OK);
    CHECK_RC(dnstap_options_set_reconnect_max_ms(opts, 100), DNSTAP_OK);
    struct dnstap *h = test_init(opts);
    dnstap_options_free(opts);

    struct sockaddr_in client;
    sa4(&client, "192.0.2.7", 5353);
    uint8_t query[128];
    char name[64];
    for (long i = 0; i < count; i++) {
        struct dnstap_message m;
        CHECK_RC(dnstap_message_init(&m), DNSTAP_OK);
        format(name, sizeof name, "tls-%ld.example.", i);
        m.type = DNSTAP_MESSAGE_TYPE_CLIENT_QUERY;
        m.socket_protocol = DNSTAP_SOCKET_PROTOCOL_UDP;
        m.query_address = (const struct sockaddr *)&client;
        m.query_time_sec = 1700000000;
        m.query_message = query;
        m.query_message_len = dns_query(query, sizeof query, (uint16_t)i, name);
        CHECK_RC(dnstap_log_message(h, &m), DNSTAP_OK);
    }
    /* Time to connect (fini would drain for 1.5 s at most). */
    for (int i = 0; i < 100 && current_stats(h).written < (uint64_t)count; i++)
        sleep_ms(50);
    struct dnstap_stats st = fini_stats(h);
    print_stats("tls_sink", &st);
    printf("failed_connects=%" PRIu64 "\n", st.failed_connects);
    check_accounting(&st);
    return st.written == (uint64_t)count ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "setters") == 0) {
        check_setters(argv[2]);
        return 0;
    }
    if (argc == 8 && strcmp(argv[1], "log") == 0)
        return log_through(argv + 2);
    fprintf(stderr, "usage: %s setters DIR | log SINK CA NAME CERT KEY COUNT\n", argv[0]);
    return 2;
}
