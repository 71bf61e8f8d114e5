//! The C-visible types: structs the caller fills, and the enums of values.

#![allow(non_camel_case_types, clippy::upper_case_acronyms)]

use std::os::raw::{c_char, c_int, c_void};

use crate::log::LogLevel;

/// `Message.Type`: what the logged message is. Every query type is odd and
/// its response type is the next number.
#[repr(u32)]
pub enum dnstap_message_type {
    DNSTAP_MESSAGE_TYPE_AUTH_QUERY = 1,
    DNSTAP_MESSAGE_TYPE_AUTH_RESPONSE = 2,
    DNSTAP_MESSAGE_TYPE_RESOLVER_QUERY = 3,
    DNSTAP_MESSAGE_TYPE_RESOLVER_RESPONSE = 4,
    DNSTAP_MESSAGE_TYPE_CLIENT_QUERY = 5,
    DNSTAP_MESSAGE_TYPE_CLIENT_RESPONSE = 6,
    DNSTAP_MESSAGE_TYPE_FORWARDER_QUERY = 7,
    DNSTAP_MESSAGE_TYPE_FORWARDER_RESPONSE = 8,
    DNSTAP_MESSAGE_TYPE_STUB_QUERY = 9,
    DNSTAP_MESSAGE_TYPE_STUB_RESPONSE = 10,
    DNSTAP_MESSAGE_TYPE_TOOL_QUERY = 11,
    DNSTAP_MESSAGE_TYPE_TOOL_RESPONSE = 12,
    DNSTAP_MESSAGE_TYPE_UPDATE_QUERY = 13,
    DNSTAP_MESSAGE_TYPE_UPDATE_RESPONSE = 14,
}

/// `SocketProtocol`: the transport of the logged message; 0 = unset.
#[repr(u32)]
pub enum dnstap_socket_protocol {
    DNSTAP_SOCKET_PROTOCOL_UDP = 1,
    DNSTAP_SOCKET_PROTOCOL_TCP = 2,
    DNSTAP_SOCKET_PROTOCOL_DOT = 3,
    DNSTAP_SOCKET_PROTOCOL_DOH = 4,
    DNSTAP_SOCKET_PROTOCOL_DNSCRYPT_UDP = 5,
    DNSTAP_SOCKET_PROTOCOL_DNSCRYPT_TCP = 6,
    DNSTAP_SOCKET_PROTOCOL_DOQ = 7,
}

/// `HttpProtocol`: set only with `DNSTAP_SOCKET_PROTOCOL_DOH`; 0 = unset.
#[repr(u32)]
pub enum dnstap_http_protocol {
    DNSTAP_HTTP_PROTOCOL_HTTP1 = 1,
    DNSTAP_HTTP_PROTOCOL_HTTP2 = 2,
    DNSTAP_HTTP_PROTOCOL_HTTP3 = 3,
}

/// `Policy.Action`; 0 = unset.
#[repr(u32)]
pub enum dnstap_policy_action {
    DNSTAP_POLICY_ACTION_NXDOMAIN = 1,
    DNSTAP_POLICY_ACTION_NODATA = 2,
    DNSTAP_POLICY_ACTION_PASS = 3,
    DNSTAP_POLICY_ACTION_DROP = 4,
    DNSTAP_POLICY_ACTION_TRUNCATE = 5,
    DNSTAP_POLICY_ACTION_LOCAL_DATA = 6,
}

/// `Policy.Match`; 0 = unset.
#[repr(u32)]
pub enum dnstap_policy_match {
    DNSTAP_POLICY_MATCH_QNAME = 1,
    DNSTAP_POLICY_MATCH_CLIENT_IP = 2,
    DNSTAP_POLICY_MATCH_RESPONSE_IP = 3,
    DNSTAP_POLICY_MATCH_NS_NAME = 4,
    DNSTAP_POLICY_MATCH_NS_IP = 5,
}

/// Severity of a log line, with syslog's numbers (what servers map to).
#[repr(C)]
pub enum dnstap_log_level {
    DNSTAP_LOG_ERROR = 3,
    DNSTAP_LOG_WARNING = 4,
    DNSTAP_LOG_INFO = 6,
}

impl From<LogLevel> for dnstap_log_level {
    fn from(level: LogLevel) -> dnstap_log_level {
        match level {
            LogLevel::Error => dnstap_log_level::DNSTAP_LOG_ERROR,
            LogLevel::Warning => dnstap_log_level::DNSTAP_LOG_WARNING,
            LogLevel::Info => dnstap_log_level::DNSTAP_LOG_INFO,
        }
    }
}

/// How a `tls:` sink checks the collector's certificate
/// (`dnstap_options_set_tls_verify`).
#[repr(C)]
pub enum dnstap_tls_verify {
    /// The default: the chain to a trusted CA, the validity dates, and the
    /// server name (or the sink's IP address when no name is set).
    DNSTAP_TLS_VERIFY_FULL = 0,
    /// The chain and the dates, not the name.
    DNSTAP_TLS_VERIFY_CHAIN = 1,
    /// Nothing: any certificate is accepted. The stream is encrypted, but
    /// the collector is NOT authenticated: anyone who can intercept the
    /// connection can read the log.
    DNSTAP_TLS_VERIFY_NONE = 2,
}

/// Response policy (for example RPZ) applied to a message.
///
/// Byte strings are a pointer and a length; a zero length means unset, and
/// the pointer may then be NULL. `type` must be UTF-8 (it is a protobuf
/// string). Read only during `dnstap_log_message`.
#[repr(C)]
pub struct dnstap_policy {
    /// Kind of policy, for example "RPZ".
    pub r#type: *const u8,
    pub type_len: usize,
    /// The rule that matched; for RPZ the rule's owner name in wire format.
    pub rule: *const u8,
    pub rule_len: usize,
    /// A `DNSTAP_POLICY_ACTION_*` value, 0 = unset.
    pub action: u32,
    /// A `DNSTAP_POLICY_MATCH_*` value, 0 = unset.
    pub r#match: u32,
    /// What matched (for a QNAME trigger the query name, for CLIENT_IP the
    /// address), in the format of the matched feature.
    pub value: *const u8,
    pub value_len: usize,
}

/// One DNS message to log, with its context.
///
/// Allocated and filled by the caller: start with `dnstap_message_init()`,
/// which zeroes it and sets `size`. The library reads it only during
/// `dnstap_log_message` and copies everything it needs before returning, so
/// every buffer may be reused at once. Zero lengths, NULL pointers and 0/0
/// times mean unset.
#[repr(C)]
pub struct dnstap_message {
    /// `sizeof(struct dnstap_message)` as the caller compiled it, so the
    /// struct can grow: set by `dnstap_message_init()`.
    pub size: u32,
    /// A `DNSTAP_MESSAGE_TYPE_*` value (required).
    pub r#type: u32,
    /// A `DNSTAP_SOCKET_PROTOCOL_*` value, 0 = unset.
    pub socket_protocol: u32,
    /// A `DNSTAP_HTTP_PROTOCOL_*` value, 0 = unset; only with DOH.
    pub http_protocol: u32,
    /// `struct sockaddr_in` or `struct sockaddr_in6` (family, address and
    /// port are used), NULL = unset. Both addresses must be of one family.
    pub query_address: *const libc::sockaddr,
    pub response_address: *const libc::sockaddr,
    pub query_time_sec: u64,
    pub query_time_nsec: u32,
    pub response_time_sec: u64,
    pub response_time_nsec: u32,
    /// The query in DNS wire format.
    pub query_message: *const u8,
    pub query_message_len: usize,
    /// The response in DNS wire format.
    pub response_message: *const u8,
    pub response_message_len: usize,
    /// The zone of a resolver or forwarder query, as a wire-format name.
    pub query_zone: *const u8,
    pub query_zone_len: usize,
    /// `Dnstap.extra`: any annotation.
    pub extra: *const u8,
    pub extra_len: usize,
    /// The policy applied, or NULL.
    pub policy: *const dnstap_policy,
}

/// Counters of a handle, filled by `dnstap_stats()`.
///
/// Every offered message is `accepted`, `dropped` (queue full) or
/// `sampled_out`; every accepted one ends up `written` or `lost`. After
/// `dnstap_fini_stats()`, `accepted == written + lost` exactly.
#[repr(C)]
#[derive(Default)]
pub struct dnstap_stats {
    /// `sizeof(struct dnstap_stats)` as the caller compiled it; set it
    /// before the call.
    pub size: u32,
    /// Messages queued.
    pub accepted: u64,
    /// Messages refused because the queue was full.
    pub dropped: u64,
    /// Messages skipped by sampling.
    pub sampled_out: u64,
    /// Data frames handed to the sink.
    pub written: u64,
    /// Accepted messages that will never be written: write errors, sink
    /// down at shutdown, shutdown timeout.
    pub lost: u64,
    /// Bytes of data frames written, length words included.
    pub bytes: u64,
    /// Connections (or files) opened again after the first.
    pub reconnects: u64,
    /// Failed attempts to connect to a collector: connect, TLS handshake
    /// (certificate, name, plaintext peer) or READY/ACCEPT. Appended after
    /// the first layout: filled only when `size` covers it.
    pub failed_connects: u64,
}

/// Receives the library's log lines: `level` is a `DNSTAP_LOG_*` value
/// (syslog numbering), `message` a NUL-terminated line without a newline,
/// valid only during the call. Called from the writer thread (which the
/// library creates: a host whose logger needs per-thread registration must
/// handle an unknown thread), and on the caller's thread from
/// `dnstap_init`, `dnstap_fini` and failing `dnstap_options_set_*` calls;
/// must not call back into the library with the same handle.
pub type dnstap_log_callback =
    Option<unsafe extern "C" fn(user: *mut c_void, level: c_int, message: *const c_char)>;
