//! `dnstap_log_message`'s validation, fed arbitrary `dnstap_message`
//! contents through the C ABI: every call returns a documented code, never
//! panics, and what is accepted encodes into a frame readers accept.
#![no_main]

use std::sync::OnceLock;

use ::dnstap::ffi as c;
use c::types::{dnstap_message, dnstap_policy};
use libfuzzer_sys::fuzz_target;

struct Handle(*mut c::dnstap);
// SAFETY: the handle is thread-safe for logging (the C contract).
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

fn handle() -> &'static Handle {
    static HANDLE: OnceLock<Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let opts = c::dnstap_options_new();
        assert_eq!(c::dnstap_options_set_sink(opts, c"/dev/null".as_ptr()), 0);
        let mut h = std::ptr::null_mut();
        assert_eq!(c::dnstap_init(opts, &mut h), 0);
        Handle(h)
    })
}

fn u32_at(data: &[u8], i: usize) -> u32 {
    let b = |k: usize| data.get(i + k).copied().unwrap_or(0) as u32;
    b(0) | b(1) << 8 | b(2) << 16 | b(3) << 24
}

fuzz_target!(|data: &[u8]| {
    // SAFETY (below): every pointer given to the library points into `data`
    // or to locals that outlive the call, with lengths that fit.
    let mut m: dnstap_message = unsafe { std::mem::zeroed() };
    assert_eq!(c::dnstap_message_init(&mut m), 0);
    if data.len() < 24 {
        return;
    }
    m.r#type = u32_at(data, 0) % 20;
    m.socket_protocol = u32_at(data, 4) % 10;
    m.http_protocol = u32_at(data, 8) % 5;
    m.query_time_sec = u32_at(data, 12) as u64;
    m.query_time_nsec = u32_at(data, 16);
    let mut sin: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sin.sin6_family = (data[20] % 12) as libc::sa_family_t;
    if data[21] & 1 == 1 {
        m.query_address = (&raw const sin).cast();
    }
    let body = &data[24..];
    let split = body.len() / 2;
    m.query_message = body.as_ptr();
    m.query_message_len = split;
    m.response_message = body[split..].as_ptr();
    m.response_message_len = body.len() - split;
    let policy = dnstap_policy {
        r#type: body.as_ptr(),
        type_len: body.len().min(data[22] as usize),
        rule: body.as_ptr(),
        rule_len: body.len(),
        action: u32_at(data, 20) % 9,
        r#match: (data[23] % 8) as u32,
        value: std::ptr::null(),
        value_len: 0,
    };
    if data[21] & 2 == 2 {
        m.policy = &policy;
    }
    let code = c::dnstap_log_message(handle().0, &m);
    assert!((-8..=2).contains(&code), "undocumented result {code}");
});
