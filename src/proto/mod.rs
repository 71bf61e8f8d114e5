//! The dnstap schema: the types prost generates from `proto/dnstap.proto`.
//!
//! The generated code is committed (`dnstap.rs` here), so that building
//! the library needs no `protoc`; tests/generated.rs regenerates it and
//! fails on any difference (`make schema` rewrites it).

#![allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]

include!("dnstap.rs");
