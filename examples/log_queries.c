/*
 * log_queries: what a DNS server does with libdnstap, in miniature.
 *
 * Two "worker" threads answer made-up queries and log each as a
 * CLIENT_QUERY and a CLIENT_RESPONSE. Usage: log_queries SINK [COUNT [QUEUE]]
 * (SINK as in dnstap_options_set_sink: a path, file:, unix:, tcp:ADDR@PORT;
 * COUNT queries per thread, default 5; QUEUE the queue capacity).
 */
#define _POSIX_C_SOURCE 200809L
#include <dnstap.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct worker {
	struct dnstap *tap;
	int id;
	long count;
	long failures;
};

/* A query for "<n>.example." IN A in DNS wire format; returns its length. */
static size_t build_query(uint8_t *out, unsigned id, long n)
{
	static const uint8_t header_tail[] = {0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
	char label[24];
	int label_len = snprintf(label, sizeof label, "q%ld", n);
	size_t len = 0;

	out[len++] = (uint8_t)(id >> 8);
	out[len++] = (uint8_t)id;
	memcpy(out + len, header_tail, sizeof header_tail);
	len += sizeof header_tail;
	out[len++] = (uint8_t)label_len;
	memcpy(out + len, label, (size_t)label_len);
	len += (size_t)label_len;
	memcpy(out + len, "\x07" "example\x00\x00\x01\x00\x01", 13);
	return len + 13;
}

static void *serve(void *arg)
{
	struct worker *w = arg;
	struct sockaddr_in client = {.sin_family = AF_INET};
	uint8_t query[64], response[64];

	inet_pton(AF_INET, "192.0.2.1", &client.sin_addr);
	for (long n = 0; n < w->count; n++) {
		struct dnstap_message m;
		struct timespec now;
		size_t len = build_query(query, (unsigned)n, n);

		clock_gettime(CLOCK_REALTIME, &now);
		client.sin_port = htons((uint16_t)(40000 + w->id));

		dnstap_message_init(&m);
		m.type = DNSTAP_MESSAGE_TYPE_CLIENT_QUERY;
		m.socket_protocol = DNSTAP_SOCKET_PROTOCOL_UDP;
		m.query_address = (const struct sockaddr *)&client;
		m.query_time_sec = (uint64_t)now.tv_sec;
		m.query_time_nsec = (uint32_t)now.tv_nsec;
		m.query_message = query;
		m.query_message_len = len;
		/* Negative results are errors; DROPPED and SAMPLED_OUT are not. */
		if (dnstap_log_message(w->tap, &m) < 0)
			w->failures++;

		/* The response reuses the buffers at once: the library copied them. */
		memcpy(response, query, len);
		response[2] |= 0x80;
		m.type = DNSTAP_MESSAGE_TYPE_CLIENT_RESPONSE;
		m.query_message = NULL;
		m.query_message_len = 0;
		m.response_message = response;
		m.response_message_len = len;
		m.response_time_sec = m.query_time_sec;
		m.response_time_nsec = m.query_time_nsec;
		if (dnstap_log_message(w->tap, &m) < 0)
			w->failures++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct dnstap_options *opts;
	struct dnstap *tap = NULL;
	struct dnstap_stats stats = {.size = sizeof stats};
	struct worker workers[2];
	pthread_t threads[2];
	long failures = 0;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SINK [COUNT [QUEUE]]\n", argv[0]);
		return 2;
	}
	opts = dnstap_options_new();
	if (opts == NULL)
		return 1;
	rc = dnstap_options_set_sink(opts, argv[1]);
	if (rc == DNSTAP_OK)
		rc = dnstap_options_set_identity(opts, (const uint8_t *)"demo.example", 12);
	if (rc == DNSTAP_OK)
		rc = dnstap_options_set_version(opts, (const uint8_t *)"log_queries 1", 13);
	if (rc == DNSTAP_OK && argc > 3)
		rc = dnstap_options_set_queue_capacity(opts, (uint32_t)atol(argv[3]));
	if (rc == DNSTAP_OK)
		rc = dnstap_init(opts, &tap);
	if (rc != DNSTAP_OK) {
		fprintf(stderr, "dnstap: %s: %s\n", dnstap_strerror(rc), dnstap_options_last_error(opts));
		dnstap_options_free(opts);
		return 1;
	}
	dnstap_options_free(opts); /* the handle keeps what it needs */

	for (int i = 0; i < 2; i++) {
		workers[i] = (struct worker){.tap = tap, .id = i, .count = argc > 2 ? atol(argv[2]) : 5};
		pthread_create(&threads[i], NULL, serve, &workers[i]);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(threads[i], NULL);
		failures += workers[i].failures;
	}

	dnstap_fini_stats(tap, &stats);
	printf("accepted %llu, dropped %llu, written %llu, lost %llu, errors %ld\n",
	       (unsigned long long)stats.accepted, (unsigned long long)stats.dropped,
	       (unsigned long long)stats.written, (unsigned long long)stats.lost, failures);
	return failures == 0 && stats.accepted == stats.written + stats.lost ? 0 : 1;
}
