//! The C ABI. The only module that dereferences pointers from C.
//!
//! Conventions, for every function here:
//! - the signature is literal (cbindgen reads it) and the body runs inside
//!   `guard!`, so a Rust panic becomes `DNSTAP_E_INTERNAL` (or NULL, or
//!   nothing) instead of unwinding into C;
//! - pointers are checked for NULL and lengths for range before any slice
//!   is built;
//! - on an error nothing is queued or changed.

#![allow(non_camel_case_types)]
// These functions are called from C, whose callers cannot see a Rust
// `unsafe`; their pointer contracts are in each doc comment instead.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

pub mod result;
pub mod types;

use std::ffi::{CStr, CString, OsStr, c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::error::Error;
use crate::log::{LogFn, LogLevel, log_line};
use crate::logger::{LogOutcome, Logger};
use crate::options::Options;
use crate::record::{MAX_FRAME_SIZE, Octets, QueuedMessage};
use crate::tls::Verify;
use result::{code, describe, dnstap_result};
use types::{
    dnstap_log_callback, dnstap_log_level, dnstap_message, dnstap_policy, dnstap_stats,
    dnstap_tls_verify,
};

/// Runs a body, turning a panic into `$default`.
macro_rules! guard {
    ($default:expr, $body:block) => {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body)) {
            Ok(value) => value,
            Err(_) => $default,
        }
    };
}

/// Settings for `dnstap_init`. Opaque; create with `dnstap_options_new`.
pub struct dnstap_options {
    options: Options,
    /// Why the last setter or `dnstap_init` failed, for `dnstap_options_last_error`.
    last_error: Mutex<CString>,
}

/// A dnstap logger: a queue, a writer thread and a sink. Opaque.
pub struct dnstap {
    logger: Logger,
}

const INTERNAL: c_int = dnstap_result::DNSTAP_E_INTERNAL as c_int;
const OK: c_int = dnstap_result::DNSTAP_OK as c_int;

impl dnstap_options {
    /// Records a failure's reason (and logs it) and returns its code.
    fn fail(&self, err: Error) -> c_int {
        log_line(&self.options.log, LogLevel::Error, &err.to_string());
        let text = CString::new(err.to_string().replace('\0', " ")).unwrap_or_default();
        if let Ok(mut last) = self.last_error.lock() {
            *last = text;
        }
        code(&err)
    }

    fn apply(&mut self, set: impl FnOnce(&mut Options) -> Result<(), Error>) -> c_int {
        match set(&mut self.options) {
            Ok(()) => OK,
            Err(err) => self.fail(err),
        }
    }
}

/// The bytes at `ptr`, after the NULL and length checks.
///
/// # Safety
/// If `len` is non-zero and `ptr` is not NULL, `ptr` must point to `len`
/// readable bytes that stay valid for `'a`.
#[inline(always)] // returned through memory, the slice costs a store-forwarding stall
unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &'static str) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::Null(what));
    }
    if len > MAX_FRAME_SIZE {
        return Err(too_big_for_a_frame(what, len));
    }
    // SAFETY: non-NULL, len bounded by MAX_FRAME_SIZE (< isize::MAX), and the
    // caller promises len readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The address and port of a `struct sockaddr_in` or `sockaddr_in6`.
///
/// # Safety
/// A non-NULL `ptr` must point to a `sockaddr_in` if its family is AF_INET,
/// or a `sockaddr_in6` if AF_INET6.
#[inline(always)]
unsafe fn socket_address(
    ptr: *const libc::sockaddr,
    what: &str,
) -> Result<Option<(Octets, u16)>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL; sa_family is the first field of every sockaddr, and
    // read_unaligned accepts the caller's alignment.
    let family = unsafe { std::ptr::read_unaligned(std::ptr::addr_of!((*ptr).sa_family)) };
    match c_int::from(family) {
        libc::AF_INET => {
            // SAFETY: AF_INET promises a sockaddr_in.
            let sin = unsafe { std::ptr::read_unaligned(ptr.cast::<libc::sockaddr_in>()) };
            // s_addr holds the address in network order: its bytes are the octets.
            Ok(Some((
                Octets::V4(sin.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: AF_INET6 promises a sockaddr_in6.
            let sin6 = unsafe { std::ptr::read_unaligned(ptr.cast::<libc::sockaddr_in6>()) };
            Ok(Some((
                Octets::V6(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
            )))
        }
        other => Err(unknown_family(what, other)),
    }
}

// Cold and out of line, so that the log call's path does not prepare
// their arguments.

#[cold]
#[inline(never)]
fn too_big_for_a_frame(what: &str, len: usize) -> Error {
    Error::TooBig(format!(
        "{what} is {len} bytes; a frame holds at most {MAX_FRAME_SIZE}"
    ))
}

#[cold]
#[inline(never)]
fn unknown_family(what: &str, family: c_int) -> Error {
    Error::invalid(format!("{what} family {family} is not AF_INET or AF_INET6"))
}

/// The first published layout of `struct dnstap_message`: older callers
/// cannot exist, so anything smaller is a wrong `size`.
const MESSAGE_SIZE_V1: usize = std::mem::size_of::<dnstap_message>();
/// The first published layout of `struct dnstap_stats`: up to `reconnects`.
const STATS_SIZE_V1: usize = std::mem::offset_of!(dnstap_stats, failed_connects);

fn check_size(given: u32, minimum: usize) -> Result<(), Error> {
    if (given as usize) < minimum {
        return Err(Error::Size {
            given,
            minimum: minimum as u32,
        });
    }
    Ok(())
}

/// Validates a caller's message into `out`, the queued form.
///
/// # Safety
/// `m` is non-NULL and points to a `dnstap_message` of at least the `size`
/// it states, whose pointers honour their lengths and outlive `'a`.
unsafe fn read_message<'a>(
    m: *const dnstap_message,
    envelope: usize,
    out: &mut QueuedMessage<'a>,
) -> Result<(), Error> {
    // SAFETY: every layout starts with the u32 size; read it alone, so a
    // struct smaller than ours is refused before it is read past its end.
    check_size(unsafe { std::ptr::read(m.cast::<u32>()) }, MESSAGE_SIZE_V1)?;
    // SAFETY: the caller's struct is at least as large as ours.
    let m: &'a dnstap_message = unsafe { &*m };
    let header = &mut out.header;
    header.set_kind(m.r#type, m.socket_protocol, m.http_protocol)?;
    // SAFETY (both): the caller promises valid sockaddrs.
    if let Some((octets, port)) = unsafe { socket_address(m.query_address, "query address")? } {
        header.set_query_address(octets, port)?;
    }
    if let Some((octets, port)) = unsafe { socket_address(m.response_address, "response address")? }
    {
        header.set_response_address(octets, port)?;
    }
    if m.query_time_sec != 0 || m.query_time_nsec != 0 {
        header.set_query_time(m.query_time_sec, m.query_time_nsec)?;
    }
    if m.response_time_sec != 0 || m.response_time_nsec != 0 {
        header.set_response_time(m.response_time_sec, m.response_time_nsec)?;
    }
    // SAFETY: the caller's pointers cover their lengths.
    unsafe {
        out.strings[0] = bytes(m.query_message, m.query_message_len, "query message")?;
        out.strings[1] = bytes(
            m.response_message,
            m.response_message_len,
            "response message",
        )?;
        out.strings[2] = bytes(m.query_zone, m.query_zone_len, "query zone")?;
        out.strings[3] = bytes(m.extra, m.extra_len, "extra")?;
    }
    if !m.policy.is_null() {
        // SAFETY: non-NULL, and the caller promises a valid dnstap_policy
        // whose pointers cover their lengths.
        let p: &'a dnstap_policy = unsafe { &*m.policy };
        out.header.set_policy(p.action, p.r#match)?;
        unsafe {
            out.strings[4] = bytes(p.r#type, p.type_len, "policy type")?;
            out.strings[5] = bytes(p.rule, p.rule_len, "policy rule")?;
            out.strings[6] = bytes(p.value, p.value_len, "policy value")?;
        }
    }
    out.complete(envelope)
}

/// Creates an options object with the defaults: no sink (one must be set),
/// no identity or version, a queue for 16384 messages, flush every 1000 ms,
/// reconnect backoff up to 1000 ms, every message logged, bidirectional
/// socket handshake, log lines to stderr.
///
/// Returns NULL only if memory is exhausted. The caller owns the object and
/// frees it with `dnstap_options_free`, which may happen right after
/// `dnstap_init` (the handle keeps a copy). Not thread-safe: use one
/// options object from one thread at a time.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_new() -> *mut dnstap_options {
    guard!(std::ptr::null_mut(), {
        Box::into_raw(Box::new(dnstap_options {
            options: Options::new(),
            last_error: Mutex::default(),
        }))
    })
}

/// Frees an options object. NULL is a no-op. The pointer is invalid afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_free(opts: *mut dnstap_options) {
    guard!((), {
        if !opts.is_null() {
            // SAFETY: created by dnstap_options_new and not yet freed.
            drop(unsafe { Box::from_raw(opts) });
        }
    })
}

/// Runs a setter on a non-NULL options object.
fn with_options(
    opts: *mut dnstap_options,
    set: impl FnOnce(&mut Options) -> Result<(), Error>,
) -> c_int {
    guard!(INTERNAL, {
        // SAFETY: the caller passes an object from dnstap_options_new, used
        // by one thread at a time.
        match unsafe { opts.as_mut() } {
            None => code(&Error::Null("options")),
            Some(opts) => opts.apply(set),
        }
    })
}

/// Sets the sink: `file:PATH` or a bare path (a Frame Streams file,
/// truncated when opened), `unix:PATH` (a collector's unix socket),
/// `tcp:ADDR@PORT` (a collector on TCP; ADDR an IPv4 or IPv6 literal),
/// `tls:ADDR@PORT` (the same inside TLS 1.2 or 1.3; see the
/// `dnstap_options_set_tls_*` setters; never falls back to plain TCP).
///
/// `spec` is NUL-terminated and only read during the call. Returns
/// `DNSTAP_E_INVAL` for an empty spec or path, an unknown `type:`, an
/// address that is not an IP literal or a port outside 1..65535
/// (`dnstap_options_last_error` says which), `DNSTAP_E_NULL` for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_sink(opts: *mut dnstap_options, spec: *const c_char) -> c_int {
    with_options(opts, |options| {
        if spec.is_null() {
            return Err(Error::Null("sink spec"));
        }
        // SAFETY: non-NULL and NUL-terminated by contract.
        let spec = unsafe { CStr::from_ptr(spec) };
        let spec = spec
            .to_str()
            .map_err(|_| Error::invalid("the sink spec is not UTF-8"))?;
        options.set_sink(spec)
    })
}

/// Sets `Dnstap.identity` (the server's name) for every record; a zero
/// length sends none. At most 4096 bytes. Copied during the call.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_identity(
    opts: *mut dnstap_options,
    identity: *const u8,
    len: usize,
) -> c_int {
    with_options(opts, |options| {
        // SAFETY: the caller promises len readable bytes.
        options.set_identity(unsafe { bytes(identity, len, "identity")? })
    })
}

/// Sets `Dnstap.version` (the server's name and version) for every record;
/// a zero length sends none. At most 4096 bytes. Copied during the call.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_version(
    opts: *mut dnstap_options,
    version: *const u8,
    len: usize,
) -> c_int {
    with_options(opts, |options| {
        // SAFETY: the caller promises len readable bytes.
        options.set_version(unsafe { bytes(version, len, "version")? })
    })
}

/// Sizes the queue for `messages` typical messages (1..16777216; default
/// 16384). The queue is a ring of `messages` × 256 bytes (at least 256 KiB,
/// room for two records of the largest size); a record takes 104 bytes plus
/// its DNS messages and other byte strings, so small records fit more and
/// large ones fewer. When it is full, `dnstap_log_message` drops and counts.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_queue_capacity(
    opts: *mut dnstap_options,
    messages: u32,
) -> c_int {
    with_options(opts, |options| options.set_queue_capacity(messages))
}

/// Sets the longest time a message waits before it is written
/// (1..600000 ms; default 1000). The writer writes sooner under load.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_flush_interval_ms(
    opts: *mut dnstap_options,
    ms: u32,
) -> c_int {
    with_options(opts, |options| options.set_flush_interval_ms(ms))
}

/// Sets the cap of the reconnect backoff, which starts at 10 ms and doubles
/// (10..600000 ms; default 1000).
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_reconnect_max_ms(opts: *mut dnstap_options, ms: u32) -> c_int {
    with_options(opts, |options| options.set_reconnect_max_ms(ms))
}

/// Logs 1 message in `n` (per calling thread, without locks); 0 and 1 log
/// every message. Skipped messages return `DNSTAP_SAMPLED_OUT` and are
/// counted in `sampled_out`.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_sample_rate(opts: *mut dnstap_options, n: u32) -> c_int {
    with_options(opts, |options| options.set_sample_rate(n))
}

/// Socket sinks only: non-zero (the default) does the READY/ACCEPT/START
/// handshake and waits for FINISH after STOP; zero sends START and data
/// only (Unbound's `dnstap-bidirectional: no`).
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_bidirectional(
    opts: *mut dnstap_options,
    bidirectional: c_int,
) -> c_int {
    with_options(opts, |options| {
        options.set_bidirectional(bidirectional != 0);
        Ok(())
    })
}

/// A NUL-terminated string argument; NULL is None.
///
/// # Safety
/// A non-NULL `ptr` points to a NUL-terminated string valid for `'a`.
unsafe fn c_string<'a>(ptr: *const c_char) -> Option<&'a CStr> {
    // SAFETY: non-NULL and NUL-terminated by contract.
    (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) })
}

/// A file name argument: any bytes but NUL, not empty.
fn file_path<'a>(name: &'a CStr, what: &str) -> Result<&'a Path, Error> {
    if name.is_empty() {
        return Err(Error::invalid(format!("the {what} name is empty")));
    }
    Ok(Path::new(OsStr::from_bytes(name.to_bytes())))
}

/// `tls:` sinks: sets the name the collector's certificate must be valid
/// for, a DNS name or an IP address literal; a DNS name is also sent as SNI
/// (see `dnstap_options_set_tls_sni`). NULL (the default) checks the
/// certificate against the sink's ADDR, as an IP address.
///
/// `name` is NUL-terminated and copied during the call. Returns
/// `DNSTAP_E_INVAL` for a name that is neither a DNS name nor an IP address.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_tls_server_name(
    opts: *mut dnstap_options,
    name: *const c_char,
) -> c_int {
    with_options(opts, |options| {
        // SAFETY: NULL or NUL-terminated by contract.
        let name = match unsafe { c_string(name) } {
            None => None,
            Some(name) => Some(
                name.to_str()
                    .map_err(|_| Error::invalid("the TLS server name is not UTF-8"))?,
            ),
        };
        options.set_tls_server_name(name)
    })
}

/// `tls:` sinks: trusts the CA certificates of the PEM file `path` instead
/// of the system's roots (NULL, the default: the system's CA bundle,
/// `SSL_CERT_FILE` or the distribution's). The file is read by
/// `dnstap_init`, which fails with `DNSTAP_E_TLS` if it cannot be read or
/// holds no valid certificate; later changes to it need a new handle.
///
/// `path` is NUL-terminated and copied during the call. Returns
/// `DNSTAP_E_INVAL` for an empty path.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_tls_ca_file(
    opts: *mut dnstap_options,
    path: *const c_char,
) -> c_int {
    with_options(opts, |options| {
        // SAFETY: NULL or NUL-terminated by contract.
        let path = match unsafe { c_string(path) } {
            None => None,
            Some(path) => Some(file_path(path, "CA file")?),
        };
        options.set_tls_ca_file(path);
        Ok(())
    })
}

/// `tls:` sinks: non-zero trusts the system's roots as well as the CA file
/// (Unbound's `tls-cert-bundle` with `tls-system-cert: yes`); zero trusts
/// only the CA file. Unset, the system's roots are trusted when no CA file
/// is set.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_tls_system_roots(
    opts: *mut dnstap_options,
    trusted: c_int,
) -> c_int {
    with_options(opts, |options| {
        options.set_tls_system_roots(trusted != 0);
        Ok(())
    })
}

/// `tls:` sinks: presents the certificate chain of the PEM file `cert_file`
/// (the client's certificate first) with the private key of the PEM file
/// `key_file` (PKCS#8, PKCS#1 or SEC1, not encrypted), for collectors that
/// require client certificates. Both NULL (the default): none. Both files
/// are read by `dnstap_init`, which fails with `DNSTAP_E_TLS` if either
/// cannot be read, is invalid, or the key does not belong to the certificate.
///
/// The strings are NUL-terminated and copied during the call. Returns
/// `DNSTAP_E_NULL` if only one is NULL, `DNSTAP_E_INVAL` for an empty name.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_tls_client_cert(
    opts: *mut dnstap_options,
    cert_file: *const c_char,
    key_file: *const c_char,
) -> c_int {
    with_options(opts, |options| {
        // SAFETY: both are NULL or NUL-terminated by contract.
        let files = match unsafe { (c_string(cert_file), c_string(key_file)) } {
            (None, None) => None,
            (Some(cert), Some(key)) => Some((
                file_path(cert, "client certificate file")?,
                file_path(key, "client key file")?,
            )),
            (None, Some(_)) => return Err(Error::Null("client certificate file")),
            (Some(_), None) => return Err(Error::Null("client key file")),
        };
        options.set_tls_client_cert(files);
        Ok(())
    })
}

/// `tls:` sinks: how the collector's certificate is checked, a
/// `dnstap_tls_verify` value. `DNSTAP_TLS_VERIFY_FULL` (the default)
/// checks the chain, the dates and the name; `DNSTAP_TLS_VERIFY_CHAIN` not
/// the name; `DNSTAP_TLS_VERIFY_NONE` accepts any certificate: the log is
/// encrypted but the collector is not authenticated (stock Unbound's
/// `dnstap-tls: yes` without a server name or CA bundle). Returns
/// `DNSTAP_E_INVAL` for another value.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_tls_verify(opts: *mut dnstap_options, mode: c_int) -> c_int {
    with_options(opts, |options| {
        use dnstap_tls_verify::*;
        let verify = match mode {
            m if m == DNSTAP_TLS_VERIFY_FULL as c_int => Verify::Full,
            m if m == DNSTAP_TLS_VERIFY_CHAIN as c_int => Verify::Chain,
            m if m == DNSTAP_TLS_VERIFY_NONE as c_int => Verify::None,
            other => {
                return Err(Error::invalid(format!(
                    "TLS verify mode {other} is not a dnstap_tls_verify value"
                )));
            }
        };
        options.set_tls_verify(verify);
        Ok(())
    })
}

/// `tls:` sinks: non-zero (the default) sends the server name in the
/// handshake (SNI) when it is a DNS name; zero never does (Unbound's
/// `tls-use-sni: no`).
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_tls_sni(opts: *mut dnstap_options, sni: c_int) -> c_int {
    with_options(opts, |options| {
        options.set_tls_sni(sni != 0);
        Ok(())
    })
}

/// `user` goes back to the callback; the caller keeps it valid as long as
/// any handle made from these options lives.
struct UserData(*mut c_void);
// SAFETY: the pointer is only handed back to the caller's callback, which
// the caller made safe to call from the writer thread.
unsafe impl Send for UserData {}
// SAFETY: as above; the library never dereferences it.
unsafe impl Sync for UserData {}

impl UserData {
    // A method, so that closures capture the Send wrapper, not its field.
    fn get(&self) -> *mut c_void {
        self.0
    }
}

/// Sends the library's log lines to `callback` instead of stderr (NULL
/// restores stderr). See `dnstap_log_callback` for when it is called.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_set_log_callback(
    opts: *mut dnstap_options,
    callback: dnstap_log_callback,
    user: *mut c_void,
) -> c_int {
    with_options(opts, |options| {
        options.log = callback.map(|callback| {
            let user = UserData(user);
            Arc::new(move |level: LogLevel, line: &str| {
                let line = CString::new(line.replace('\0', " ")).unwrap_or_default();
                let level = dnstap_log_level::from(level) as c_int;
                // SAFETY: the caller gave a callback that takes these arguments.
                unsafe { callback(user.get(), level, line.as_ptr()) }
            }) as LogFn
        });
        Ok(())
    })
}

/// Why the last failed setter or `dnstap_init` with these options failed,
/// NUL-terminated; "" if none has. Valid until the next call with `opts`.
/// Returns "" for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_options_last_error(opts: *const dnstap_options) -> *const c_char {
    guard!(c"".as_ptr(), {
        // SAFETY: NULL or an object from dnstap_options_new.
        match unsafe { opts.as_ref() } {
            None => c"".as_ptr(),
            Some(opts) => opts
                .last_error
                .lock()
                .map_or(c"".as_ptr(), |last| last.as_ptr()),
        }
    })
}

/// Creates a handle: opens a file sink at once (a socket sink is connected
/// by the writer thread, which retries until it succeeds) and starts the
/// writer thread. On success stores the handle in `*out` and returns
/// `DNSTAP_OK`; on failure leaves `*out` untouched and returns
/// `DNSTAP_E_INVAL` (no sink set, or TLS options without a `tls:` sink),
/// `DNSTAP_E_IO` (file cannot be opened), `DNSTAP_E_TLS` (a `tls:` sink's CA
/// file, client certificate or key cannot be read or is invalid),
/// `DNSTAP_E_THREAD` or `DNSTAP_E_NULL`; `dnstap_options_last_error` says why.
/// A `tls:` sink reads its files here, and the writer thread does the TLS
/// handshake, with a deadline, at every connection.
///
/// `opts` is only read; it may be freed or reused right after. Several
/// handles may live at once, and init/fini may repeat in one process. The
/// caller owns the handle and ends it with `dnstap_fini`.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_init(opts: *const dnstap_options, out: *mut *mut dnstap) -> c_int {
    guard!(INTERNAL, {
        // SAFETY: NULL or an object from dnstap_options_new.
        let Some(opts) = (unsafe { opts.as_ref() }) else {
            return code(&Error::Null("options"));
        };
        if out.is_null() {
            return opts.fail(Error::Null("out"));
        }
        match Logger::new(&opts.options) {
            Ok(logger) => {
                // SAFETY: out is non-NULL and points to writable storage.
                unsafe { *out = Box::into_raw(Box::new(dnstap { logger })) };
                OK
            }
            Err(err) => opts.fail(err),
        }
    })
}

/// Logs one message: validates it, copies it, queues it, returns. Never
/// blocks and makes no system call on the common path.
///
/// Returns `DNSTAP_OK` (queued), `DNSTAP_DROPPED` (queue full: dropped and
/// counted), `DNSTAP_SAMPLED_OUT` (skipped by sampling), or an error, in
/// which case nothing is queued: `DNSTAP_E_NULL` (NULL handle or message,
/// or NULL pointer with a non-zero length), `DNSTAP_E_SIZE` (`size` smaller
/// than this layout), `DNSTAP_E_INVAL` (a value outside its enum, an
/// address family other than AF_INET/AF_INET6, mixed families, nsec ≥ 10^9,
/// a zone over 255 bytes, http_protocol without DOH, policy type not
/// UTF-8), `DNSTAP_E_TOO_BIG` (a DNS message over 65535 bytes, or a record
/// that could exceed `DNSTAP_MAX_FRAME_SIZE`), `DNSTAP_E_NOMEM`.
///
/// `m` and everything it points to are read only during the call. Safe to
/// call from any number of threads at once with one handle.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_log_message(h: *mut dnstap, m: *const dnstap_message) -> c_int {
    guard!(INTERNAL, {
        // SAFETY: NULL or a live handle from dnstap_init; only shared access.
        let Some(handle) = (unsafe { h.as_ref() }) else {
            return code(&Error::Null("handle"));
        };
        if m.is_null() {
            return code(&Error::Null("message"));
        }
        let mut message = QueuedMessage::default();
        // SAFETY: a caller-filled dnstap_message whose pointers cover their
        // lengths; read_message reads `size` before the rest.
        let outcome = unsafe { read_message(m, handle.logger.envelope(), &mut message) }
            .map(|()| handle.logger.log_message(&message));
        match outcome {
            Ok(LogOutcome::Queued) => OK,
            Ok(LogOutcome::Dropped) => dnstap_result::DNSTAP_DROPPED as c_int,
            Ok(LogOutcome::SampledOut) => dnstap_result::DNSTAP_SAMPLED_OUT as c_int,
            Err(err) => code(&err),
        }
    })
}

/// Zeroes `*m` and sets `m->size`. Returns `DNSTAP_E_NULL` for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_message_init(m: *mut dnstap_message) -> c_int {
    guard!(INTERNAL, {
        if m.is_null() {
            return code(&Error::Null("message"));
        }
        // SAFETY: non-NULL and points to a caller-allocated dnstap_message;
        // all-zero is a valid value of every field.
        unsafe {
            std::ptr::write_bytes(m, 0, 1);
            (*m).size = MESSAGE_SIZE_V1 as u32;
        }
        OK
    })
}

fn fill_stats(stats: crate::stats::Stats, out: *mut dnstap_stats) -> c_int {
    if out.is_null() {
        return code(&Error::Null("stats"));
    }
    // SAFETY: a caller-allocated dnstap_stats; its leading `size` is read
    // alone, so a struct smaller than ours is refused before it is written.
    let size = unsafe { std::ptr::read(out.cast::<u32>()) };
    if let Err(err) = check_size(size, STATS_SIZE_V1) {
        return code(&err);
    }
    let value = dnstap_stats {
        size,
        accepted: stats.accepted,
        dropped: stats.dropped,
        sampled_out: stats.sampled_out,
        written: stats.written,
        lost: stats.lost,
        bytes: stats.bytes,
        reconnects: stats.reconnects,
        failed_connects: stats.failed_connects,
    };
    // A caller built against an older layout gets the fields it has, whole.
    let length = if size as usize >= std::mem::size_of::<dnstap_stats>() {
        std::mem::size_of::<dnstap_stats>()
    } else {
        STATS_SIZE_V1
    };
    // SAFETY: non-NULL, and the caller's struct holds `size` bytes, at
    // least the first layout; `value` is a whole dnstap_stats.
    unsafe {
        std::ptr::copy_nonoverlapping(
            std::ptr::addr_of!(value).cast::<u8>(),
            out.cast::<u8>(),
            length,
        );
    }
    OK
}

/// Copies the handle's counters into `*out`; set `out->size` to
/// `sizeof(struct dnstap_stats)` first. Thread-safe; the counters are read
/// one by one while logging goes on, so only `dnstap_fini_stats` gives an
/// exact final picture.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_stats(h: *const dnstap, out: *mut dnstap_stats) -> c_int {
    guard!(INTERNAL, {
        // SAFETY: NULL or a live handle.
        match unsafe { h.as_ref() } {
            None => code(&Error::Null("handle")),
            Some(handle) => fill_stats(handle.logger.stats(), out),
        }
    })
}

/// Asks the writer to reopen the sink: a file sink that was renamed or
/// removed (logrotate) is replaced by a new file at its path; a socket sink
/// ends its stream and reconnects. Only sets a flag, so it is
/// async-signal-safe; the writer acts within 100 ms.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_reopen(h: *mut dnstap) -> c_int {
    guard!(INTERNAL, {
        // SAFETY: NULL or a live handle.
        match unsafe { h.as_ref() } {
            None => code(&Error::Null("handle")),
            Some(handle) => {
                handle.logger.reopen();
                OK
            }
        }
    })
}

/// Ends a handle: writes what is queued (the collector gets 1.5 s), ends
/// the stream (STOP; on sockets waits for FINISH), stops the writer thread,
/// frees everything, and logs a summary of the counters. Returns within
/// about 2.5 s even if the collector is stopped. NULL is a no-op.
///
/// No other call may use `h` during or after `dnstap_fini`.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_fini(h: *mut dnstap) {
    dnstap_fini_stats(h, std::ptr::null_mut());
}

/// `dnstap_fini`, and stores the final counters in `*out` if `out` is not
/// NULL (set `out->size` first): then `accepted == written + lost`.
/// Returns `DNSTAP_OK`, or the error of filling `*out` (the handle is freed
/// either way); NULL `h` returns `DNSTAP_E_NULL`.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_fini_stats(h: *mut dnstap, out: *mut dnstap_stats) -> c_int {
    guard!(INTERNAL, {
        if h.is_null() {
            return code(&Error::Null("handle"));
        }
        // SAFETY: a live handle from dnstap_init, not used by anyone else now.
        let handle = unsafe { Box::from_raw(h) };
        let stats = handle.logger.shutdown();
        if out.is_null() {
            OK
        } else {
            fill_stats(stats, out)
        }
    })
}

/// A NUL-terminated description of a result code; static, never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_strerror(code: c_int) -> *const c_char {
    guard!(c"internal error".as_ptr(), {
        describe(code).as_ptr().cast()
    })
}

/// The library's version, for example "0.1.0"; static, never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn dnstap_version() -> *const c_char {
    guard!(c"".as_ptr(), {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_codes_are_described() {
        for code in -9..=2 {
            // SAFETY: dnstap_strerror returns a static NUL-terminated string.
            let text = unsafe { CStr::from_ptr(dnstap_strerror(code)) }
                .to_str()
                .unwrap();
            assert!(!text.is_empty() && text != "unknown result code", "{code}");
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(dnstap_strerror(42)) };
        assert_eq!(unknown.to_str().unwrap(), "unknown result code");
    }

    #[test]
    fn version_matches_the_package() {
        // SAFETY: static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(dnstap_version()) };
        assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
