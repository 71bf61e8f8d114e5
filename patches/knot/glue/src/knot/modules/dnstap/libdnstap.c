#if KNOT_VERSION_HEX >= 0x030500
/*  Copyright (C) CZ.NIC, z.s.p.o. and contributors
 *  SPDX-License-Identifier: GPL-2.0-or-later
 *  For more information, see <https://www.knot-dns.cz/>
 */
#else
#if KNOT_VERSION_HEX >= 0x030400
/*  Copyright (C) 2024 CZ.NIC, z.s.p.o. <knot-dns@labs.nic.cz>
#else
/*  Copyright (C) 2022 CZ.NIC, z.s.p.o. <knot-dns@labs.nic.cz>
#endif

    This program is free software: you can redistribute it and/or modify
    it under the terms of the GNU General Public License as published by
    the Free Software Foundation, either version 3 of the License, or
    (at your option) any later version.

    This program is distributed in the hope that it will be useful,
    but WITHOUT ANY WARRANTY; without even the implied warranty of
    MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
    GNU General Public License for more details.

    You should have received a copy of the GNU General Public License
    along with this program.  If not, see <https://www.gnu.org/licenses/>.
 */
#endif

/*
 * mod-dnstap on libdnstap (dnstap-kit): the options, hooks and records of
 * dnstap.c, with the encoding, queueing and Frame Streams output done by
#ifdef DNSTAP_KIT_RELOAD
 * the library (no fstrm, no protobuf-c). One libdnstap handle per sink,
 * shared by the instances with the same configuration (see dnstap_sink_t);
 * dnstap_log_message() is thread-safe and never blocks, so the worker
 * threads share the handle.
#else
 * the library (no fstrm, no protobuf-c). One libdnstap handle per module
 * instance; dnstap_log_message() is thread-safe and never blocks, so the
 * worker threads share the handle.
#endif
 */

#ifdef DNSTAP_KIT_COUNTERS
#include <inttypes.h>
#endif
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <urcu.h>

#include <dnstap.h>

#include "knot/include/module.h"

#define MOD_SINK		"\x04""sink"
#define MOD_IDENTITY		"\x08""identity"
#define MOD_VERSION		"\x07""version"
#define MOD_QUERIES		"\x0B""log-queries"
#define MOD_RESPONSES		"\x0D""log-responses"
#define MOD_WITH_QUERIES	"\x16""responses-with-queries"

const yp_item_t dnstap_conf[] = {
	{ MOD_SINK,         YP_TSTR,  YP_VNONE },
	{ MOD_IDENTITY,     YP_TSTR,  YP_VNONE },
	{ MOD_VERSION,      YP_TSTR,  YP_VNONE },
	{ MOD_QUERIES,      YP_TBOOL, YP_VBOOL = { true } },
	{ MOD_RESPONSES,    YP_TBOOL, YP_VBOOL = { true } },
	{ MOD_WITH_QUERIES, YP_TBOOL, YP_VBOOL = { false } },
	{ NULL }
};

int dnstap_conf_check(knotd_conf_check_args_t *args)
{
	knotd_conf_t sink = knotd_conf_check_item(args, MOD_SINK);
	if (sink.count == 0 || sink.single.string[0] == '\0') {
		args->err_str = "no sink specified";
		return KNOT_EINVAL;
	}

	return KNOT_EOK;
}

#ifdef DNSTAP_KIT_COUNTERS
/*
 * Module counters (knotc stats), in registration order: accepted (queued),
 * dropped (queue full) and failed (refused as invalid) count the results of
 * dnstap_log_message(); lost (accepted but never written: write errors) is
 * the writer's, refreshed at most once a second while messages are logged.
 * The exact final figures are logged at unload.
 */
enum {
	CTR_ACCEPTED,
	CTR_DROPPED,
	CTR_FAILED,
	CTR_LOST,
};

static const char *ctr_names[] = {
	[CTR_ACCEPTED] = "accepted",
	[CTR_DROPPED]  = "dropped",
	[CTR_FAILED]   = "failed",
	[CTR_LOST]     = "lost",
};

#endif
#ifdef DNSTAP_KIT_RELOAD
/*
 * A libdnstap handle, shared by the instances with the same sink, identity
 * and version. On reload the new instances are loaded before the old ones
 * are unloaded, so a new instance takes over its predecessor's handle:
 * nothing queued is lost, and a file is not truncated under a writer that
 * still has frames to write. The handle is reopened on takeover (a renamed
 * file is ended and created again, a socket stream is ended and reconnected)
 * and closed when its last instance is unloaded.
 */
typedef struct dnstap_sink {
	struct dnstap_sink *next;
	char *sink;
	char *identity;        /* "" if none */
	char *version;         /* "" if none */
	struct dnstap *tap;
	uint64_t failed;       /* Messages refused by the library (atomic). */
	pthread_mutex_t lock;  /* Guards mods and mods_count. */
	knotd_mod_t **mods;    /* Its instances; the library logs through the last. */
	size_t mods_count;
} dnstap_sink_t;

static pthread_mutex_t sinks_lock = PTHREAD_MUTEX_INITIALIZER;
static dnstap_sink_t *sinks;

#endif
typedef struct {
#ifdef DNSTAP_KIT_RELOAD
	dnstap_sink_t *sink;
#else
	struct dnstap *tap;
#ifdef DNSTAP_KIT_COUNTERS
	char *sink;
#endif
#endif
	bool with_queries;
#if defined(DNSTAP_KIT_COUNTERS) && !defined(DNSTAP_KIT_RELOAD)
	uint64_t failed;     /* Messages refused by the library (atomic). */
#endif
#ifdef DNSTAP_KIT_COUNTERS
	int64_t stats_time;  /* Second of the last refresh of lost (atomic). */
#endif
} dnstap_ctx_t;

#if KNOT_VERSION_HEX >= 0x030300
/*! \brief Maps Knot's transport to the dnstap SocketProtocol (as contrib/dnstap). */
#else
/*! \brief Maps Knot's transport to the dnstap SocketProtocol as dnstap.c does
 *         (TCP, else UDP: QUIC is logged as UDP). */
#endif
static uint32_t socket_protocol(knotd_query_proto_t proto)
{
#if KNOT_VERSION_HEX >= 0x030300
	switch ((int)proto) {
	case KNOT_PROBE_PROTO_UDP:   return DNSTAP_SOCKET_PROTOCOL_UDP;
	case KNOT_PROBE_PROTO_TCP:   return DNSTAP_SOCKET_PROTOCOL_TCP;
	case KNOT_PROBE_PROTO_TLS:   return DNSTAP_SOCKET_PROTOCOL_DOT;
	case KNOT_PROBE_PROTO_HTTPS: return DNSTAP_SOCKET_PROTOCOL_DOH;
	case KNOT_PROBE_PROTO_QUIC:  return DNSTAP_SOCKET_PROTOCOL_DOQ;
	default:                     return 0;
	}
#else
	return (proto == KNOTD_QUERY_PROTO_TCP) ? DNSTAP_SOCKET_PROTOCOL_TCP :
	                                          DNSTAP_SOCKET_PROTOCOL_UDP;
#endif
}

/*! \brief An IPv4 or IPv6 address, or NULL (other families are not logged). */
static const struct sockaddr *ip_addr(const struct sockaddr_storage *ss)
{
	if (ss == NULL || (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)) {
		return NULL;
	}
	return (const struct sockaddr *)ss;
}

static knotd_state_t log_message(knotd_state_t state, const knot_pkt_t *pkt,
                                 knotd_qdata_t *qdata, knotd_mod_t *mod)
{
	assert(pkt && qdata && mod);

	/* Skip empty packet. */
	if (state == KNOTD_STATE_NOOP) {
		return state;
	}

	dnstap_ctx_t *ctx = knotd_mod_ctx(mod);

	/* Unless we want to measure the time it takes to process each query,
	 * we can treat Q/R times the same. */
	struct timespec tv = { 0 };
	clock_gettime(CLOCK_REALTIME, &tv);

	struct dnstap_message msg;
	dnstap_message_init(&msg);

	/* Determine query / response. */
#ifdef DNSTAP_KIT_UPDATE
	msg.type = DNSTAP_MESSAGE_TYPE_AUTH_QUERY;
	if (knot_wire_get_opcode(pkt->wire) == KNOT_OPCODE_UPDATE) {
		msg.type = DNSTAP_MESSAGE_TYPE_UPDATE_QUERY;
	}
#endif
	bool response = knot_wire_get_qr(pkt->wire);
#ifdef DNSTAP_KIT_UPDATE
	if (response) {
		msg.type++; // every dnstap response type is its query type + 1
	}
#else
	msg.type = response ? DNSTAP_MESSAGE_TYPE_AUTH_RESPONSE :
	                      DNSTAP_MESSAGE_TYPE_AUTH_QUERY;
#endif

	msg.socket_protocol = socket_protocol(qdata->params->proto);

	/* The query came from the remote address to the local one. */
	const struct sockaddr *remote = ip_addr(knotd_qdata_remote_addr(qdata));
#if KNOT_VERSION_HEX >= 0x030300
	const struct sockaddr *local = ip_addr(knotd_qdata_local_addr(qdata));
#else
	struct sockaddr_storage buff;
	const struct sockaddr *local = ip_addr(knotd_qdata_local_addr(qdata, &buff));
#endif
	if (remote != NULL && local != NULL && remote->sa_family != local->sa_family) {
		local = NULL;
	}
	msg.query_address = remote;
	msg.response_address = local;

	if (response) {
		msg.response_message = pkt->wire;
		msg.response_message_len = pkt->size;
		msg.response_time_sec = tv.tv_sec;
		msg.response_time_nsec = tv.tv_nsec;

		/* Also add the query if 'responses-with-queries' is enabled. */
		if (ctx->with_queries && qdata->query != NULL) {
			msg.query_message = qdata->query->wire;
			msg.query_message_len = qdata->query->size;
		}
	} else {
		msg.query_message = pkt->wire;
		msg.query_message_len = pkt->size;
		msg.query_time_sec = tv.tv_sec;
		msg.query_time_nsec = tv.tv_nsec;
	}

#ifdef DNSTAP_KIT_COUNTERS
	unsigned tid = qdata->params->thread_id;
#ifdef DNSTAP_KIT_RELOAD
	int ret = dnstap_log_message(ctx->sink->tap, &msg);
#else
	int ret = dnstap_log_message(ctx->tap, &msg);
#endif
	switch (ret) {
	case DNSTAP_OK:
		knotd_mod_stats_incr(mod, tid, CTR_ACCEPTED, 0, 1);
		break;
	case DNSTAP_DROPPED:
		knotd_mod_stats_incr(mod, tid, CTR_DROPPED, 0, 1);
		break;
	case DNSTAP_SAMPLED_OUT:
		break;
	default:
		knotd_mod_stats_incr(mod, tid, CTR_FAILED, 0, 1);
#ifdef DNSTAP_KIT_RELOAD
		__atomic_fetch_add(&ctx->sink->failed, 1, __ATOMIC_RELAXED);
#else
		__atomic_fetch_add(&ctx->failed, 1, __ATOMIC_RELAXED);
#endif
		break;
	}

	/* The writer's loss counter, once a second, by the first thread to see it. */
	int64_t last = __atomic_load_n(&ctx->stats_time, __ATOMIC_RELAXED);
	if (last != tv.tv_sec &&
	    __atomic_compare_exchange_n(&ctx->stats_time, &last, tv.tv_sec, false,
	                                __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		struct dnstap_stats stats = { .size = sizeof(stats) };
#ifdef DNSTAP_KIT_RELOAD
		if (dnstap_stats(ctx->sink->tap, &stats) == DNSTAP_OK) {
#else
		if (dnstap_stats(ctx->tap, &stats) == DNSTAP_OK) {
#endif
			knotd_mod_stats_store(mod, 0, CTR_LOST, 0, stats.lost);
		}
	}
#else
	(void)dnstap_log_message(ctx->tap, &msg);
#endif

	return state;
}

/*! \brief Submit message - query. */
static knotd_state_t dnstap_message_log_query(knotd_state_t state, knot_pkt_t *pkt,
                                              knotd_qdata_t *qdata, knotd_mod_t *mod)
{
	assert(qdata);

	return log_message(state, qdata->query, qdata, mod);
}

/*! \brief Submit message - response. */
static knotd_state_t dnstap_message_log_response(knotd_state_t state, knot_pkt_t *pkt,
                                                 knotd_qdata_t *qdata, knotd_mod_t *mod)
{
	return log_message(state, pkt, qdata, mod);
}

/*
 * The library logs from its writer thread, and during dnstap_load() and
 * dnstap_unload() on the calling Knot thread, which is registered with
 * liburcu already. Knot's logger reads its configuration under RCU, so a
 * writer thread is registered before its first line and unregistered when
 * it exits (a thread-specific key's destructor).
 */
static __thread bool in_knot_thread;
static __thread bool rcu_registered;
static pthread_key_t rcu_key;
static pthread_once_t rcu_key_once = PTHREAD_ONCE_INIT;
static bool rcu_key_ok;

static void rcu_key_destroy(void *unused)
{
	(void)unused;
	rcu_unregister_thread();
}

static void rcu_key_create(void)
{
	rcu_key_ok = (pthread_key_create(&rcu_key, rcu_key_destroy) == 0);
}

static bool rcu_register_writer(void)
{
	if (in_knot_thread || rcu_registered) {
		return true;
	}
	(void)pthread_once(&rcu_key_once, rcu_key_create);
	if (!rcu_key_ok) {
		return false;
	}
	rcu_register_thread();
	if (pthread_setspecific(rcu_key, &rcu_registered) != 0) {
		rcu_unregister_thread();
		return false;
	}
	rcu_registered = true;
	return true;
}

/*! \brief Routes the library's log lines into the server log. */
static void dnstap_log(void *user, int level, const char *message)
{
#ifdef DNSTAP_KIT_RELOAD
	dnstap_sink_t *s = user;
	int priority = (level <= DNSTAP_LOG_ERROR)   ? LOG_ERR :
	               (level == DNSTAP_LOG_WARNING) ? LOG_WARNING : LOG_INFO;

	pthread_mutex_lock(&s->lock);
	if (s->mods_count > 0 && rcu_register_writer()) {
		knotd_mod_log(s->mods[s->mods_count - 1], priority, "%s", message);
	} else {
		fprintf(stderr, "mod-dnstap: %s\n", message);
	}
	pthread_mutex_unlock(&s->lock);
#else
	knotd_mod_t *mod = user;
	if (!rcu_register_writer()) {
		fprintf(stderr, "mod-dnstap: %s\n", message);
		return;
	}
	int priority = (level <= DNSTAP_LOG_ERROR)   ? LOG_ERR :
	               (level == DNSTAP_LOG_WARNING) ? LOG_WARNING : LOG_INFO;
	knotd_mod_log(mod, priority, "%s", message);
#endif
}

/*!
#ifdef DNSTAP_KIT_TCP_SINK
#if KNOT_VERSION_HEX >= 0x030400
 * \brief Sets the sink as dnstap.c reads it: 'unix:PATH', 'tcp:ADDR@PORT',
 *        anything else is a file path (so 'file:' is passed explicitly).
#else
 * \brief Sets the sink as dnstap.c reads it: 'unix:PATH', 'tcp:ADDR@PORT' (as
 *        in Knot DNS 3.4), anything else is a file path (so 'file:' is passed
 *        explicitly).
#endif
#else
 * \brief Sets the sink as dnstap.c reads it: 'unix:PATH', anything else is a
 *        file path (so 'file:' is passed explicitly).
#endif
 */
static int set_sink(knotd_mod_t *mod, struct dnstap_options *opts, const char *sink)
{
	const char *unix_prefix = "unix:";
#ifdef DNSTAP_KIT_TCP_SINK
	const char *tcp_prefix = "tcp:";
#endif
	const size_t sink_len = strlen(sink);

	if (sink_len > strlen(unix_prefix) &&
	    strncmp(sink, unix_prefix, strlen(unix_prefix)) == 0) {
		knotd_mod_log(mod, LOG_DEBUG, "using sink UNIX socket '%s'", sink);
		return dnstap_options_set_sink(opts, sink);
#ifdef DNSTAP_KIT_TCP_SINK
	} else if (sink_len > strlen(tcp_prefix) &&
	           strncmp(sink, tcp_prefix, strlen(tcp_prefix)) == 0) {
		knotd_mod_log(mod, LOG_DEBUG, "using sink TCP address '%s'", sink);
		return dnstap_options_set_sink(opts, sink);
#endif
	}

	knotd_mod_log(mod, LOG_DEBUG, "using sink file '%s'", sink);
	char *spec = malloc(sizeof("file:") + sink_len);
	if (spec == NULL) {
		return DNSTAP_E_NOMEM;
	}
	memcpy(spec, "file:", strlen("file:"));
	memcpy(spec + strlen("file:"), sink, sink_len + 1);
	int ret = dnstap_options_set_sink(opts, spec);
	free(spec);
	return ret;
}

#ifdef DNSTAP_KIT_RELOAD
/*! \brief Identity or version: the configured value, else the default ("" = none). */
static char *conf_string(knotd_mod_t *mod, const yp_name_t *item, knotd_conf_env_t env)
#else
/*! \brief Sets identity or version: the configured value, else the default. */
static int set_string(knotd_mod_t *mod, struct dnstap_options *opts,
                      const yp_name_t *item, knotd_conf_env_t env,
                      int (*setter)(struct dnstap_options *, const uint8_t *, size_t))
#endif
{
	const char *value = NULL;
	knotd_conf_t conf = knotd_conf_mod(mod, item);
	if (conf.count == 1) {
		value = conf.single.string;
	} else {
		value = knotd_conf_env(mod, env).single.string;
	}
#ifdef DNSTAP_KIT_RELOAD

	return strdup(value != NULL ? value : "");
#else
	if (value == NULL) {
		return DNSTAP_OK;
	}

	return setter(opts, (const uint8_t *)value, strlen(value));
#endif
}
#ifdef DNSTAP_KIT_COUNTERS

/*! \brief Flushes, ends the stream, and reports what reached the sink. */
static void fini_report(knotd_mod_t *mod, struct dnstap *tap, const char *sink,
                        const uint64_t *failed_count)
{
	struct dnstap_stats stats = { .size = sizeof(stats) };
	int ret = dnstap_fini_stats(tap, &stats);
	uint64_t failed = __atomic_load_n(failed_count, __ATOMIC_RELAXED);
	if (ret == DNSTAP_OK) {
		bool loss = stats.lost > 0 || stats.dropped > 0 || failed > 0;
		knotd_mod_log(mod, loss ? LOG_WARNING : LOG_INFO,
		              "sink '%s' closed, %s: accepted %" PRIu64 ", written %" PRIu64
		              ", lost %" PRIu64 ", dropped %" PRIu64 ", failed %" PRIu64,
		              sink, loss ? "messages lost" : "no loss",
		              stats.accepted, stats.written, stats.lost, stats.dropped, failed);
	}
}
#endif
#ifdef DNSTAP_KIT_RELOAD

static void sink_free(dnstap_sink_t *s)
{
	pthread_mutex_destroy(&s->lock);
	free(s->mods);
	free(s->sink);
	free(s->identity);
	free(s->version);
	free(s);
}

/*! \brief Adds an instance to a sink's users; it becomes the one that logs. */
static int sink_attach(dnstap_sink_t *s, knotd_mod_t *mod)
{
	pthread_mutex_lock(&s->lock);
	knotd_mod_t **mods = realloc(s->mods, (s->mods_count + 1) * sizeof(*mods));
	if (mods != NULL) {
		s->mods = mods;
		s->mods[s->mods_count++] = mod;
	}
	pthread_mutex_unlock(&s->lock);

	return (mods != NULL) ? KNOT_EOK : KNOT_ENOMEM;
}

static void sink_detach(dnstap_sink_t *s, knotd_mod_t *mod)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->mods_count; i++) {
		if (s->mods[i] == mod) {
			memmove(&s->mods[i], &s->mods[i + 1],
			        (s->mods_count - i - 1) * sizeof(*s->mods));
			s->mods_count--;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/*! \brief Creates a sink and its libdnstap handle; call with sinks_lock held. */
static int sink_open(knotd_mod_t *mod, dnstap_sink_t *s)
{
	struct dnstap_options *opts = dnstap_options_new();
	if (opts == NULL) {
		return KNOT_ENOMEM;
	}

	int ret = dnstap_options_set_identity(opts, (const uint8_t *)s->identity,
	                                      strlen(s->identity));
	if (ret == DNSTAP_OK) {
		ret = dnstap_options_set_version(opts, (const uint8_t *)s->version,
		                                 strlen(s->version));
	}
	if (ret == DNSTAP_OK) {
		ret = dnstap_options_set_log_callback(opts, dnstap_log, s);
	}
	if (ret == DNSTAP_OK) {
		ret = set_sink(mod, opts, s->sink);
	}
	if (ret == DNSTAP_OK) {
		ret = dnstap_init(opts, &s->tap);
	}
	if (ret != DNSTAP_OK) {
		const char *reason = dnstap_options_last_error(opts);
		knotd_mod_log(mod, LOG_ERR, "failed to initialize sink '%s' (%s)", s->sink,
		              reason[0] != '\0' ? reason : dnstap_strerror(ret));
		dnstap_options_free(opts);
		return KNOT_EINVAL;
	}
	dnstap_options_free(opts);

	return KNOT_EOK;
}

/*! \brief Finds the sink of the configuration, or opens it; with sinks_lock held. */
static int sink_get(knotd_mod_t *mod, const char *sink, char *identity, char *version,
                    dnstap_sink_t **out)
{
	for (dnstap_sink_t *s = sinks; s != NULL; s = s->next) {
		if (strcmp(s->sink, sink) == 0 && strcmp(s->identity, identity) == 0 &&
		    strcmp(s->version, version) == 0) {
			int ret = sink_attach(s, mod);
			if (ret != KNOT_EOK) {
				return ret;
			}
			free(identity);
			free(version);
			knotd_mod_log(mod, LOG_DEBUG, "taking over sink '%s'", sink);
			(void)dnstap_reopen(s->tap);
			*out = s;
			return KNOT_EOK;
		}
	}

	dnstap_sink_t *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return KNOT_ENOMEM;
	}
	s->sink = strdup(sink);
	if (s->sink == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s->sink);
		free(s);
		return KNOT_ENOMEM;
	}
	s->identity = identity;
	s->version = version;

	int ret = sink_attach(s, mod);
	if (ret == KNOT_EOK) {
		ret = sink_open(mod, s);
	}
	if (ret != KNOT_EOK) {
		s->identity = NULL;  /* Still the caller's. */
		s->version = NULL;
		sink_free(s);
		return ret;
	}

	s->next = sinks;
	sinks = s;
	*out = s;
	return KNOT_EOK;
}

/*! \brief Drops an instance; the last one closes the sink. With sinks_lock held. */
static void sink_put(knotd_mod_t *mod, dnstap_sink_t *s)
{
	pthread_mutex_lock(&s->lock);
	bool last = (s->mods_count == 1);
	pthread_mutex_unlock(&s->lock);
	if (!last) {
		sink_detach(s, mod);
		return;
	}

	for (dnstap_sink_t **p = &sinks; *p != NULL; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}

	fini_report(mod, s->tap, s->sink, &s->failed);
	sink_free(s);
}
#endif

static void unload(knotd_mod_t *mod)
{
	dnstap_ctx_t *ctx = knotd_mod_ctx(mod);

#ifdef DNSTAP_KIT_RELOAD
	/* Held while a last instance closes its sink (up to 2.5 s), so that a
	 * new instance cannot open the same file before the stream has ended. */
	pthread_mutex_lock(&sinks_lock);
	sink_put(mod, ctx->sink);
	pthread_mutex_unlock(&sinks_lock);

#elif defined(DNSTAP_KIT_COUNTERS)
	fini_report(mod, ctx->tap, ctx->sink, &ctx->failed);
	free(ctx->sink);
#else
	dnstap_fini(ctx->tap);
#endif
	free(ctx);
}

static int load(knotd_mod_t *mod)
{
	/* Create dnstap context. */
	dnstap_ctx_t *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		return KNOT_ENOMEM;
	}

	/* Set responses-with-queries. */
	knotd_conf_t conf = knotd_conf_mod(mod, MOD_WITH_QUERIES);
	ctx->with_queries = conf.single.boolean;

	/* Set sink. */
	conf = knotd_conf_mod(mod, MOD_SINK);
	const char *sink = conf.single.string;

	/* Set log_queries. */
	conf = knotd_conf_mod(mod, MOD_QUERIES);
	const bool log_queries = conf.single.boolean;

	/* Set log_responses. */
	conf = knotd_conf_mod(mod, MOD_RESPONSES);
	const bool log_responses = conf.single.boolean;
#ifdef DNSTAP_KIT_COUNTERS

	/* Register the counters. */
	for (size_t i = 0; i < sizeof(ctr_names) / sizeof(ctr_names[0]); i++) {
		int ret = knotd_mod_stats_add(mod, ctr_names[i], 1, NULL);
		if (ret != KNOT_EOK) {
			free(ctx);
			return ret;
		}
	}
#endif
#if defined(DNSTAP_KIT_COUNTERS) && !defined(DNSTAP_KIT_RELOAD)

	ctx->sink = strdup(sink);
	if (ctx->sink == NULL) {
		free(ctx);
		return KNOT_ENOMEM;
	}
#endif

#ifdef DNSTAP_KIT_RELOAD
	/* Identity and version; empty disables, unset means the defaults. */
	char *identity = conf_string(mod, MOD_IDENTITY, KNOTD_CONF_ENV_HOSTNAME);
	char *version = conf_string(mod, MOD_VERSION, KNOTD_CONF_ENV_VERSION);
	if (identity == NULL || version == NULL) {
		free(identity);
		free(version);
		free(ctx);
		return KNOT_ENOMEM;
	}

	/* Take over or open the sink (identity and version are consumed on success). */
	pthread_mutex_lock(&sinks_lock);
	int ret = sink_get(mod, sink, identity, version, &ctx->sink);
	pthread_mutex_unlock(&sinks_lock);
	if (ret != KNOT_EOK) {
		free(identity);
		free(version);
		free(ctx);
		return ret;
	}
#else
	struct dnstap_options *opts = dnstap_options_new();
	if (opts == NULL) {
#ifdef DNSTAP_KIT_COUNTERS
		free(ctx->sink);
#endif
		free(ctx);
		return KNOT_ENOMEM;
	}

	/* Identity and version; empty disables, unset means the defaults. */
	int ret = set_string(mod, opts, MOD_IDENTITY, KNOTD_CONF_ENV_HOSTNAME,
	                     dnstap_options_set_identity);
	if (ret == DNSTAP_OK) {
		ret = set_string(mod, opts, MOD_VERSION, KNOTD_CONF_ENV_VERSION,
		                 dnstap_options_set_version);
	}
	if (ret == DNSTAP_OK) {
		ret = dnstap_options_set_log_callback(opts, dnstap_log, mod);
	}
	if (ret == DNSTAP_OK) {
		ret = set_sink(mod, opts, sink);
	}
	if (ret == DNSTAP_OK) {
		ret = dnstap_init(opts, &ctx->tap);
	}
	if (ret != DNSTAP_OK) {
		const char *reason = dnstap_options_last_error(opts);
		knotd_mod_log(mod, LOG_ERR, "failed to initialize sink '%s' (%s)", sink,
		              reason[0] != '\0' ? reason : dnstap_strerror(ret));
		dnstap_options_free(opts);
#ifdef DNSTAP_KIT_COUNTERS
		free(ctx->sink);
#endif
		free(ctx);
		return KNOT_EINVAL;
	}
	dnstap_options_free(opts);
#endif

	knotd_mod_ctx_set(mod, ctx);

	/* Hook to the query plan. */
	ret = KNOT_EOK;
	if (log_queries) {
		ret = knotd_mod_hook(mod, KNOTD_STAGE_BEGIN, dnstap_message_log_query);
	}
	if (ret == KNOT_EOK && log_responses) {
		ret = knotd_mod_hook(mod, KNOTD_STAGE_END, dnstap_message_log_response);
	}
	if (ret != KNOT_EOK) {
		/* Knot closes a module whose load failed without unloading it. */
		unload(mod);
	}

	return ret;
}

/* During load and unload the library logs (failed setters, dnstap_init(),
 * dnstap_fini()) on this thread, a Knot thread registered with liburcu. */
int dnstap_load(knotd_mod_t *mod)
{
	in_knot_thread = true;
	int ret = load(mod);
	in_knot_thread = false;
	return ret;
}

void dnstap_unload(knotd_mod_t *mod)
{
	in_knot_thread = true;
	unload(mod);
	in_knot_thread = false;
}

KNOTD_MOD_API(dnstap, KNOTD_MOD_FLAG_SCOPE_ANY,
              dnstap_load, dnstap_unload, dnstap_conf, dnstap_conf_check);
