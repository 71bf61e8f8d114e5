/* dnstap support for Unbound, through libdnstap */

/*
 * Copyright (c) 2013-2014, Farsight Security, Inc.
 * All rights reserved.
 *
 * Redistribution and use in source and binary forms, with or without
 * modification, are permitted provided that the following conditions
 * are met:
 *
 * 1. Redistributions of source code must retain the above copyright
 * notice, this list of conditions and the following disclaimer.
 *
 * 2. Redistributions in binary form must reproduce the above copyright
 * notice, this list of conditions and the following disclaimer in the
 * documentation and/or other materials provided with the distribution.
 *
 * 3. Neither the name of the copyright holder nor the names of its
 * contributors may be used to endorse or promote products derived from
 * this software without specific prior written permission.
 *
 * THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS
 * "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED
 * TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR
 * PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR
 * CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL,
 * EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO,
 * PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS;
 * OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY,
 * WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR
 * OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF
 * ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
 */

/**
 * \file
 *
 * The functions of dnstap/dnstap.h on top of libdnstap (configure
 * --with-libdnstap), in place of dnstap.c, dtstream.c and dnstap_fstrm.c.
 *
 * One libdnstap handle serves every worker: the workers' copies of the
 * dt_env share it, and libdnstap takes log calls from any number of
 * threads without locks. It has its own writer thread, so there is no
 * per-worker queue and no dnstap io thread here.
 */

#include "config.h"
#include "dnstap/dnstap_config.h"

#if defined(USE_DNSTAP) && defined(USE_LIBDNSTAP)

#include <string.h>
#include <sys/time.h>
#ifdef DNSTAP_KIT_TLS
#include <sys/stat.h>
#endif
#include "sldns/sbuffer.h"
#include "util/config_file.h"
#include "util/net_help.h"
#include "util/netevent.h"
#include "util/log.h"
#include "dnstap/dnstap.h"

/* libdnstap's header; the quotes form would find dnstap/dnstap.h */
#include <dnstap.h>

/** prefix of dnstap-socket-path that selects the file sink */
#define DT_FILE_PREFIX "file:"

#ifdef DNSTAP_KIT_RELOAD
/**
 * The open libdnstap handle; main thread only. It outlives reloads:
 * dt_delete leaves it open, and the dt_create of the reload takes it back
 * if the dnstap settings are unchanged, asking it to reopen its sink (a
 * renamed file is replaced, sockets reconnect), so a reload neither
 * truncates a file sink nor loses queued messages. Changed settings end it
 * and start a new one. dt_shutdown, at exit, ends it: everything queued is
 * written before Unbound exits.
 */
static struct dnstap* dt_live_tap = NULL;
/** The settings dt_live_tap was made with (sink, identity, version, ...) */
static char* dt_live_key = NULL;

#endif
/** libdnstap log lines to the Unbound log */
static void
dt_log_callback(void* ATTR_UNUSED(user), int level, const char* msg)
{
	if(level <= DNSTAP_LOG_ERROR)
		log_err("dnstap: %s", msg);
	else if(level == DNSTAP_LOG_WARNING)
		log_warn("dnstap: %s", msg);
	else	verbose(VERB_OPS, "dnstap: %s", msg);
}

/** strip the chroot directory from a path, as the stock code does */
static const char*
dt_strip_chroot(struct config_file* cfg, const char* p)
{
	if(cfg->chrootdir && cfg->chrootdir[0] && strncmp(p,
		cfg->chrootdir, strlen(cfg->chrootdir)) == 0)
		p += strlen(cfg->chrootdir);
	return p;
}

/**
 * Make the libdnstap sink spec from the config.
 * @param cfg: config.
 * @param buf: spec output.
 * @param len: size of buf.
 * @return false on failure (logged).
 */
static int
dt_sink_spec(struct config_file* cfg, char* buf, size_t len)
{
	if(cfg->dnstap_ip && cfg->dnstap_ip[0]) {
		struct sockaddr_storage addr;
		socklen_t addrlen;
		char ip[128];
		int port;
#ifndef DNSTAP_KIT_TLS
		if(cfg->dnstap_tls) {
			log_err("dnstap: dnstap-tls: yes (the default with "
				"dnstap-ip) is not supported by libdnstap: set "
				"dnstap-tls: no for a plain TCP collector, or "
				"use dnstap-socket-path");
			return 0;
		}
#endif
		if(!extstrtoaddr(cfg->dnstap_ip, &addr, &addrlen,
			UNBOUND_DNS_PORT)) {
			log_err("dnstap: could not parse dnstap-ip '%s'",
				cfg->dnstap_ip);
			return 0;
		}
		addr_to_str(&addr, addrlen, ip, sizeof(ip));
		port = (int)ntohs(((struct sockaddr_in*)&addr)->sin_port);
#ifdef DNSTAP_KIT_TLS
		/* dnstap-tls: yes, the default, is TLS to the collector */
		snprintf(buf, len, "%s:%s@%d", cfg->dnstap_tls?"tls":"tcp",
			ip, port);
#else
		snprintf(buf, len, "tcp:%s@%d", ip, port);
#endif
	} else if(cfg->dnstap_socket_path && cfg->dnstap_socket_path[0]) {
		const char* p = cfg->dnstap_socket_path;
		if(strncmp(p, DT_FILE_PREFIX, strlen(DT_FILE_PREFIX)) == 0) {
			p = dt_strip_chroot(cfg, p + strlen(DT_FILE_PREFIX));
			snprintf(buf, len, "file:%s", p);
		} else {
			p = dt_strip_chroot(cfg, p);
			snprintf(buf, len, "unix:%s", p);
		}
	} else {
		log_err("dnstap: no dnstap-socket-path and no dnstap-ip");
		return 0;
	}
	return 1;
}

/** set identity and version in the options, as the stock code chooses */
static int
dt_options_identity(struct dt_env* env, struct dnstap_options* opts)
{
	if(env->identity && dnstap_options_set_identity(opts,
		(uint8_t*)env->identity, env->len_identity) != DNSTAP_OK)
		return 0;
	if(env->version && dnstap_options_set_version(opts,
		(uint8_t*)env->version, env->len_version) != DNSTAP_OK)
		return 0;
	return 1;
}

#ifdef DNSTAP_KIT_TLS
/** the option's value, or NULL if it is unset or empty */
static const char*
dt_opt(const char* s)
{
	return (s && s[0])?s:NULL;
}

/**
 * The CA bundle that authenticates the collector, as stock Unbound picks
 * it: dnstap-tls-cert-bundle if it is set, else the server-wide
 * tls-cert-bundle, with the system's roots if tls-system-cert is set.
 * @param cfg: config.
 * @param system: set if the system's roots are trusted.
 * @return the bundle file, or NULL.
 */
static const char*
dt_tls_bundle(struct config_file* cfg, int* system)
{
	if(cfg->dnstap_tls_cert_bundle) {
		*system = 0;
		return dt_opt(cfg->dnstap_tls_cert_bundle);
	}
	*system = cfg->tls_win_cert;
	return dt_opt(cfg->tls_cert_bundle);
}

/**
 * Check the dnstap-tls options before a tls: sink is made.
 * @param cfg: config.
 * @param spec: the sink, for the log.
 * @return 1 to go on, 0 on an error (logged), -1 if the collector cannot
 *	be authenticated as configured (logged): nothing is to be sent.
 */
static int
dt_tls_check(struct config_file* cfg, const char* spec)
{
	int system;
	const char* bundle = dt_tls_bundle(cfg, &system);
	if(dt_opt(cfg->dnstap_tls_client_key_file) &&
		!dt_opt(cfg->dnstap_tls_client_cert_file)) {
		log_err("dnstap setup: client key authentication enabled "
			"with dnstap-tls-client-key-file, but no "
			"dnstap-tls-client-cert-file is given");
		return 0;
	}
	if(dt_opt(cfg->dnstap_tls_server_name) && !bundle && !system) {
		/* stock Unbound checks the name against an empty trust store,
		 * and every handshake fails */
		log_err("dnstap: dnstap-tls-server-name \"%s\" is set but no "
			"CA bundle is (dnstap-tls-cert-bundle, tls-cert-bundle "
			"or tls-system-cert): the collector %s cannot be "
			"authenticated, so no dnstap is sent", 
			cfg->dnstap_tls_server_name, spec);
		return -1;
	}
	return 1;
}

/**
 * Set the TLS options of a tls: sink, with stock Unbound's meanings: a
 * server name (a DNS name, or an IP address) is checked with the
 * certificate's chain; a bundle without a name checks the chain only;
 * with neither, any certificate is accepted, which is warned about.
 * @param cfg: config.
 * @param opts: the libdnstap options.
 * @param spec: the sink, for the log.
 * @return false on failure (dnstap_options_last_error says why).
 */
static int
dt_options_tls(struct config_file* cfg, struct dnstap_options* opts,
	const char* spec)
{
	int system;
	const char* bundle = dt_tls_bundle(cfg, &system);
	const char* name = dt_opt(cfg->dnstap_tls_server_name);
	int verify = DNSTAP_TLS_VERIFY_FULL;
	if(!name && !bundle && !system) {
		log_warn("dnstap: the collector %s is not authenticated: "
			"without dnstap-tls-server-name and a CA bundle "
			"(dnstap-tls-cert-bundle, tls-cert-bundle or "
			"tls-system-cert) any certificate is accepted", spec);
		verify = DNSTAP_TLS_VERIFY_NONE;
	} else if(!name)
		verify = DNSTAP_TLS_VERIFY_CHAIN;
	if(dnstap_options_set_tls_verify(opts, verify) != DNSTAP_OK ||
		dnstap_options_set_tls_sni(opts, cfg->tls_use_sni)
		!= DNSTAP_OK)
		return 0;
	if(name && dnstap_options_set_tls_server_name(opts, name)
		!= DNSTAP_OK)
		return 0;
	if(bundle && dnstap_options_set_tls_ca_file(opts, bundle)
		!= DNSTAP_OK)
		return 0;
	if(dnstap_options_set_tls_system_roots(opts, system) != DNSTAP_OK)
		return 0;
	if(dt_opt(cfg->dnstap_tls_client_key_file) &&
		dnstap_options_set_tls_client_cert(opts,
		cfg->dnstap_tls_client_cert_file,
		cfg->dnstap_tls_client_key_file) != DNSTAP_OK)
		return 0;
	return 1;
}

#endif
#ifdef DNSTAP_KIT_RELOAD
#ifdef DNSTAP_KIT_TLS
/** append a file's name, size and time to buf, so that a reload after the
 * file changed (a renewed certificate) reads it again */
static void
dt_key_file(char* buf, size_t len, const char* file)
{
	struct stat st;
	size_t used = strlen(buf);
	if(!file || used >= len)
		return;
	if(stat(file, &st) == 0)
		snprintf(buf+used, len-used, "\n%s %lld %lld", file,
			(long long)st.st_size, (long long)st.st_mtime);
	else	snprintf(buf+used, len-used, "\n%s", file);
}

#endif
/** the settings the handle is made with, to compare at reload */
static char*
dt_tap_key(struct dt_env* env, struct config_file* cfg, const char* spec)
{
	char buf[1024];
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 21
	snprintf(buf, sizeof(buf), "%s\n%s\n%s\n%d\n%d", spec,
		env->identity?env->identity:"", env->version?env->version:"",
		cfg->dnstap_bidirectional, cfg->dnstap_sample_rate);
#else
	snprintf(buf, sizeof(buf), "%s\n%s\n%s\n%d", spec,
		env->identity?env->identity:"", env->version?env->version:"",
		cfg->dnstap_bidirectional);
#endif
#ifdef DNSTAP_KIT_TLS
	if(strncmp(spec, "tls:", 4) == 0) {
		size_t used = strlen(buf);
		int system;
		snprintf(buf+used, sizeof(buf)-used, "\n%s\n%d\n%d",
			cfg->dnstap_tls_server_name?cfg->dnstap_tls_server_name:"",
			cfg->tls_use_sni, cfg->tls_win_cert);
		dt_key_file(buf, sizeof(buf), dt_tls_bundle(cfg, &system));
		dt_key_file(buf, sizeof(buf),
			dt_opt(cfg->dnstap_tls_client_cert_file));
		dt_key_file(buf, sizeof(buf),
			dt_opt(cfg->dnstap_tls_client_key_file));
	}
#endif
	return strdup(buf);
}

void
dt_shutdown(void)
{
	/* writes what is queued, ends the stream, stops the writer */
	dnstap_fini(dt_live_tap);
	dt_live_tap = NULL;
	free(dt_live_key);
	dt_live_key = NULL;
}

#endif
/**
 * Start the libdnstap handle for the config.
 * @param env: gets the handle.
 * @param cfg: config.
 * @return false on failure (logged).
 */
static int
dt_tap_start(struct dt_env* env, struct config_file* cfg)
{
	char spec[1024];
#ifdef DNSTAP_KIT_RELOAD
	char* key;
#endif
	struct dnstap_options* opts;
	int r;
	if(!dt_sink_spec(cfg, spec, sizeof(spec)))
		return 0;
#ifdef DNSTAP_KIT_TLS
	if(strncmp(spec, "tls:", 4) == 0 && (r = dt_tls_check(cfg, spec)) <= 0) {
		/* -1: Unbound runs, without a handle, as stock runs with a
		 * collector it can never reach */
		if(r < 0) {
#ifdef DNSTAP_KIT_RELOAD
			dt_shutdown();
#endif
			env->tap = NULL;
		}
		return r < 0;
	}
#endif
#ifdef DNSTAP_KIT_RELOAD
	if(!(key = dt_tap_key(env, cfg, spec))) {
		log_err("dnstap: out of memory");
		return 0;
	}
	/* a reload that keeps the settings keeps the handle */
	if(dt_live_tap && strcmp(key, dt_live_key) == 0) {
		free(key);
		env->tap = dt_live_tap;
		(void)dnstap_reopen(env->tap);
		verbose(VERB_OPS, "dnstap: still logging to %s", spec);
		return 1;
	}
	dt_shutdown();
#endif
	opts = dnstap_options_new();
	if(!opts) {
		log_err("dnstap: out of memory");
#ifdef DNSTAP_KIT_RELOAD
		free(key);
#endif
		return 0;
	}
	if(dnstap_options_set_log_callback(opts, &dt_log_callback, NULL)
		!= DNSTAP_OK ||
		dnstap_options_set_sink(opts, spec) != DNSTAP_OK ||
		!dt_options_identity(env, opts) ||
#ifdef DNSTAP_KIT_TLS
		(strncmp(spec, "tls:", 4) == 0 &&
		!dt_options_tls(cfg, opts, spec)) ||
#endif
		dnstap_options_set_bidirectional(opts,
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 21
			cfg->dnstap_bidirectional) != DNSTAP_OK ||
		dnstap_options_set_sample_rate(opts,
			(uint32_t)(cfg->dnstap_sample_rate > 0 ?
			cfg->dnstap_sample_rate : 0)) != DNSTAP_OK) {
#else
			cfg->dnstap_bidirectional) != DNSTAP_OK) {
#endif
		log_err("dnstap: %s", dnstap_options_last_error(opts));
		dnstap_options_free(opts);
#ifdef DNSTAP_KIT_RELOAD
		free(key);
#endif
		return 0;
	}
	r = dnstap_init(opts, &env->tap);
	if(r != DNSTAP_OK) {
		log_err("dnstap: cannot log to %s: %s", spec,
			dnstap_options_last_error(opts));
		dnstap_options_free(opts);
#ifdef DNSTAP_KIT_RELOAD
		free(key);
#endif
		return 0;
	}
	dnstap_options_free(opts);
#ifdef DNSTAP_KIT_RELOAD
	dt_live_tap = env->tap;
	dt_live_key = key;
#endif
	verbose(VERB_OPS, "dnstap: logging to %s with libdnstap %s", spec,
		dnstap_version());
	return 1;
}

struct dt_env *
dt_create(struct config_file* cfg)
{
	struct dt_env *env;

	env = (struct dt_env *) calloc(1, sizeof(struct dt_env));
	if (!env)
		return NULL;
	dt_apply_cfg(env, cfg);
	if(!dt_tap_start(env, cfg)) {
		free(env->identity);
		free(env->version);
		free(env);
		return NULL;
	}
	return env;
}

static void
dt_apply_identity(struct dt_env *env, struct config_file *cfg)
{
	char buf[MAXHOSTNAMELEN+1];
	if (!cfg->dnstap_send_identity)
		return;
	free(env->identity);
	if (cfg->dnstap_identity == NULL || cfg->dnstap_identity[0] == 0) {
		if (gethostname(buf, MAXHOSTNAMELEN) == 0) {
			buf[MAXHOSTNAMELEN] = 0;
			env->identity = strdup(buf);
		} else {
			fatal_exit("dt_apply_identity: gethostname() failed");
		}
	} else {
		env->identity = strdup(cfg->dnstap_identity);
	}
	if (env->identity == NULL)
		fatal_exit("dt_apply_identity: strdup() failed");
	env->len_identity = (unsigned int)strlen(env->identity);
	verbose(VERB_OPS, "dnstap identity field set to \"%s\"",
		env->identity);
}

static void
dt_apply_version(struct dt_env *env, struct config_file *cfg)
{
	if (!cfg->dnstap_send_version)
		return;
	free(env->version);
	if (cfg->dnstap_version == NULL || cfg->dnstap_version[0] == 0)
		env->version = strdup(PACKAGE_STRING);
	else
		env->version = strdup(cfg->dnstap_version);
	if (env->version == NULL)
		fatal_exit("dt_apply_version: strdup() failed");
	env->len_version = (unsigned int)strlen(env->version);
	verbose(VERB_OPS, "dnstap version field set to \"%s\"",
		env->version);
}

/**
 * The dnstap-log-*-messages and dnstap-sample-rate options, apart from the
 * rest: since 1.23 Unbound's fast_reload applies them alone, through a
 * dt_apply_logcfg in dnstap.h.
 */
static void
dt_apply_logcfg(struct dt_env *env, struct config_file *cfg)
{
	if ((env->log_resolver_query_messages = (unsigned int)
	     cfg->dnstap_log_resolver_query_messages))
	{
		verbose(VERB_OPS, "dnstap Message/RESOLVER_QUERY enabled");
	}
	if ((env->log_resolver_response_messages = (unsigned int)
	     cfg->dnstap_log_resolver_response_messages))
	{
		verbose(VERB_OPS, "dnstap Message/RESOLVER_RESPONSE enabled");
	}
	if ((env->log_client_query_messages = (unsigned int)
	     cfg->dnstap_log_client_query_messages))
	{
		verbose(VERB_OPS, "dnstap Message/CLIENT_QUERY enabled");
	}
	if ((env->log_client_response_messages = (unsigned int)
	     cfg->dnstap_log_client_response_messages))
	{
		verbose(VERB_OPS, "dnstap Message/CLIENT_RESPONSE enabled");
	}
	if ((env->log_forwarder_query_messages = (unsigned int)
	     cfg->dnstap_log_forwarder_query_messages))
	{
		verbose(VERB_OPS, "dnstap Message/FORWARDER_QUERY enabled");
	}
	if ((env->log_forwarder_response_messages = (unsigned int)
	     cfg->dnstap_log_forwarder_response_messages))
	{
		verbose(VERB_OPS, "dnstap Message/FORWARDER_RESPONSE enabled");
	}
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 21
	/* libdnstap samples, per worker thread, without a lock */
	if((env->sample_rate = (unsigned int)cfg->dnstap_sample_rate))
	{
		verbose(VERB_OPS, "dnstap SAMPLE_RATE enabled and set to \"%d\"", (int)env->sample_rate);
	}
#endif
}

void
dt_apply_cfg(struct dt_env *env, struct config_file *cfg)
{
	if (!cfg->dnstap)
		return;

	dt_apply_identity(env, cfg);
	dt_apply_version(env, cfg);
	dt_apply_logcfg(env, cfg);
}

int
dt_init(struct dt_env* ATTR_UNUSED(env), struct comm_base* ATTR_UNUSED(base))
{
	/* nothing per worker: the handle is shared and thread-safe */
	return 1;
}

void
dt_deinit(struct dt_env* ATTR_UNUSED(env))
{
}

void
dt_delete(struct dt_env *env)
{
	if (!env)
		return;
#ifdef DNSTAP_KIT_RELOAD
	/* the handle stays open for the next dt_create, or dt_shutdown */
#else
	/* writes what is queued, ends the stream, stops the writer */
	dnstap_fini(env->tap);
#endif
	free(env->identity);
	free(env->version);
	free(env);
}

#ifdef DNSTAP_KIT_STATS
int
dt_get_stats(struct dt_env* env, struct dt_stats* st)
{
	struct dnstap_stats s;
	memset(&s, 0, sizeof(s));
	s.size = (uint32_t)sizeof(s);
	if(!env || !env->tap || dnstap_stats(env->tap, &s) != DNSTAP_OK)
		return 0;
	st->accepted = (unsigned long long)s.accepted;
	st->dropped = (unsigned long long)s.dropped;
	st->sampled = (unsigned long long)s.sampled_out;
	st->written = (unsigned long long)s.written;
	st->lost = (unsigned long long)s.lost;
	st->reconnects = (unsigned long long)s.reconnects;
	return 1;
}

#endif
/** fill the time fields from a timeval */
static void
dt_fill_timeval(const struct timeval *tv, uint64_t* sec, uint32_t* nsec)
{
#ifndef S_SPLINT_S
	*sec = (uint64_t)tv->tv_sec;
	*nsec = (uint32_t)tv->tv_usec * 1000;
#endif
}

/** is the address one that dnstap can carry */
static int
dt_addr_ok(struct sockaddr_storage* a)
{
	return a && (a->ss_family == AF_INET || a->ss_family == AF_INET6);
}

#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 20
/**
 * Fill socket family, protocol and addresses, as the stock dt_msg_fill_net
 * does, and the DoQ and DoH labels that it lacks.
 * @param m: message.
 * @param qs: the address that goes in the first pair (*q_addr).
 * @param rs: the other one, if of the same family, or NULL.
 * @param q_addr: the field for qs.
 * @param r_addr: the field for rs.
 * @param cptype: comm point type.
 * @param cpssl: set for TLS.
 */
#else
/**
 * Fill socket family, protocol and addresses, as the stock dt_msg_fill_net
 * does, and the DoQ and DoH labels that it lacks.
 * @param m: message.
 * @param qs: the address that goes in the first pair (*q_addr).
 * @param rs: the other one, if of the same family, or NULL.
 * @param q_addr: the field for qs.
 * @param r_addr: the field for rs.
 * @param cptype: comm point type.
 */
#endif
static void
dt_fill_net(struct dnstap_message* m,
	struct sockaddr_storage* qs, struct sockaddr_storage* rs,
	const struct sockaddr** q_addr, const struct sockaddr** r_addr,
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 20
	enum comm_point_type cptype, void* cpssl)
#else
	enum comm_point_type cptype)
#endif
{
	log_assert(qs->ss_family == AF_INET6 || qs->ss_family == AF_INET);
	if(dt_addr_ok(qs)) {
		*q_addr = (const struct sockaddr*)qs;
		if(dt_addr_ok(rs) && rs->ss_family == qs->ss_family)
			*r_addr = (const struct sockaddr*)rs;
	}
	if(cptype == comm_udp)
		m->socket_protocol = DNSTAP_SOCKET_PROTOCOL_UDP;
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 20
	else if(cptype == comm_tcp)
		m->socket_protocol = cpssl ? DNSTAP_SOCKET_PROTOCOL_DOT
			: DNSTAP_SOCKET_PROTOCOL_TCP;
#endif
	else if(cptype == comm_http) {
		m->socket_protocol = DNSTAP_SOCKET_PROTOCOL_DOH;
		/* Unbound serves DoH on HTTP/2 only: a client that does not
		 * negotiate h2 is refused */
		m->http_protocol = DNSTAP_HTTP_PROTOCOL_HTTP2;
	}
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 22
	/* stock Unbound says TCP here, which readers cannot tell from DNS
	 * over TCP */
	else if(cptype == comm_doq)
		m->socket_protocol = DNSTAP_SOCKET_PROTOCOL_DOQ;
#endif
	else	m->socket_protocol = DNSTAP_SOCKET_PROTOCOL_TCP;
}

/** hand the message to libdnstap */
static void
dt_send(const struct dt_env* env, struct dnstap_message* m)
{
	int r = dnstap_log_message(env->tap, m);
	/* drops are counted by libdnstap and reported in its log */
	if(r < 0)
		verbose(VERB_ALGO, "dnstap: message not logged: %s",
			dnstap_strerror(r));
}

void
dt_msg_send_client_query(struct dt_env *env,
			 struct sockaddr_storage *qsock,
			 struct sockaddr_storage *rsock,
			 enum comm_point_type cptype,
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 20
			 void *cpssl,
#endif
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 18
			 sldns_buffer *qmsg,
			 struct timeval* tstamp)
#else
			 sldns_buffer *qmsg)
#endif
{
	struct dnstap_message m;
	struct timeval qtime;

#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 18
	if(tstamp)
		memcpy(&qtime, tstamp, sizeof(qtime));
	else 	gettimeofday(&qtime, NULL);
#else
	gettimeofday(&qtime, NULL);
#endif

	dnstap_message_init(&m);
	m.type = DNSTAP_MESSAGE_TYPE_CLIENT_QUERY;
	dt_fill_timeval(&qtime, &m.query_time_sec, &m.query_time_nsec);
	m.query_message = sldns_buffer_begin(qmsg);
	m.query_message_len = sldns_buffer_limit(qmsg);
	dt_fill_net(&m, qsock, rsock, &m.query_address, &m.response_address,
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 20
		cptype, cpssl);
#else
		cptype);
#endif
	dt_send(env, &m);
}

void
dt_msg_send_client_response(struct dt_env *env,
			    struct sockaddr_storage *qsock,
			    struct sockaddr_storage *rsock,
			    enum comm_point_type cptype,
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 20
			    void *cpssl,
#endif
			    sldns_buffer *rmsg)
{
#ifdef DNSTAP_KIT_POLICY
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 20
	dt_msg_send_client_response_policy(env, qsock, rsock, cptype, cpssl,
		rmsg, NULL);
#else
	dt_msg_send_client_response_policy(env, qsock, rsock, cptype, rmsg,
		NULL);
#endif
}

void
dt_msg_send_client_response_policy(struct dt_env *env,
			    struct sockaddr_storage *qsock,
			    struct sockaddr_storage *rsock,
			    enum comm_point_type cptype,
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 20
			    void *cpssl,
#endif
			    sldns_buffer *rmsg,
			    const struct dt_policy_info *policy)
{
#endif
	struct dnstap_message m;
#ifdef DNSTAP_KIT_POLICY
	struct dnstap_policy p;
#endif
	struct timeval rtime;

	gettimeofday(&rtime, NULL);

	dnstap_message_init(&m);
	m.type = DNSTAP_MESSAGE_TYPE_CLIENT_RESPONSE;
	dt_fill_timeval(&rtime, &m.response_time_sec, &m.response_time_nsec);
#ifdef DNSTAP_KIT_POLICY
	if(rmsg) {
		m.response_message = sldns_buffer_begin(rmsg);
		m.response_message_len = sldns_buffer_limit(rmsg);
	} else if(policy && policy->query) {
		/* a drop has no response: the query tells what was dropped */
		m.query_message = policy->query;
		m.query_message_len = policy->query_len;
	}
#else
	m.response_message = sldns_buffer_begin(rmsg);
	m.response_message_len = sldns_buffer_limit(rmsg);
#endif
	dt_fill_net(&m, qsock, rsock, &m.query_address, &m.response_address,
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 20
		cptype, cpssl);
#else
		cptype);
#endif
#ifdef DNSTAP_KIT_POLICY
	if(policy && policy->action) {
		memset(&p, 0, sizeof(p));
		p.type = (const uint8_t*)"RPZ";
		p.type_len = 3;
		p.rule = policy->rule;
		p.rule_len = policy->rule_len;
		p.action = policy->action;
		p.match = policy->match;
		p.value = policy->value;
		p.value_len = policy->value_len;
		m.policy = &p;
	}
#endif
	dt_send(env, &m);
}

void
dt_msg_send_outside_query(struct dt_env *env,
			  struct sockaddr_storage *rsock,
			  struct sockaddr_storage *qsock,
			  enum comm_point_type cptype,
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 20
			  void *cpssl,
#endif
			  uint8_t *zone, size_t zone_len,
			  sldns_buffer *qmsg)
{
	struct dnstap_message m;
	struct timeval qtime;
	uint16_t qflags;

	gettimeofday(&qtime, NULL);
	qflags = sldns_buffer_read_u16_at(qmsg, 2);

	dnstap_message_init(&m);
	if (qflags & BIT_RD) {
		if (!env->log_forwarder_query_messages)
			return;
		m.type = DNSTAP_MESSAGE_TYPE_FORWARDER_QUERY;
	} else {
		if (!env->log_resolver_query_messages)
			return;
		m.type = DNSTAP_MESSAGE_TYPE_RESOLVER_QUERY;
	}
	m.query_zone = zone;
	m.query_zone_len = zone_len;
	dt_fill_timeval(&qtime, &m.query_time_sec, &m.query_time_nsec);
	m.query_message = sldns_buffer_begin(qmsg);
	m.query_message_len = sldns_buffer_limit(qmsg);
	dt_fill_net(&m, rsock, qsock, &m.response_address, &m.query_address,
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 20
		cptype, cpssl);
#else
		cptype);
#endif
	dt_send(env, &m);
}

void
dt_msg_send_outside_response(struct dt_env *env,
	struct sockaddr_storage *rsock,
	struct sockaddr_storage *qsock,
	enum comm_point_type cptype,
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 20
	void *cpssl,
#endif
	uint8_t *zone, size_t zone_len,
	uint8_t *qbuf, size_t qbuf_len,
	const struct timeval *qtime,
	const struct timeval *rtime,
	sldns_buffer *rmsg)
{
	struct dnstap_message m;
	uint16_t qflags;

	(void)qbuf_len; log_assert(qbuf_len >= sizeof(qflags));
	memcpy(&qflags, qbuf, sizeof(qflags));
	qflags = ntohs(qflags);

	dnstap_message_init(&m);
	if (qflags & BIT_RD) {
		if (!env->log_forwarder_response_messages)
			return;
		m.type = DNSTAP_MESSAGE_TYPE_FORWARDER_RESPONSE;
	} else {
		if (!env->log_resolver_response_messages)
			return;
		m.type = DNSTAP_MESSAGE_TYPE_RESOLVER_RESPONSE;
	}
	m.query_zone = zone;
	m.query_zone_len = zone_len;
	dt_fill_timeval(qtime, &m.query_time_sec, &m.query_time_nsec);
	dt_fill_timeval(rtime, &m.response_time_sec, &m.response_time_nsec);
	m.response_message = sldns_buffer_begin(rmsg);
	m.response_message_len = sldns_buffer_limit(rmsg);
	dt_fill_net(&m, rsock, qsock, &m.response_address, &m.query_address,
#if UNBOUND_VERSION_MAJOR > 1 || UNBOUND_VERSION_MINOR >= 20
		cptype, cpssl);
#else
		cptype);
#endif
	dt_send(env, &m);
}

#endif /* USE_DNSTAP && USE_LIBDNSTAP */
