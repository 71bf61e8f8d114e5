//! The Frame Streams decoder on arbitrary bytes: the frame parser and the
//! stream reader must never panic, loop or buffer beyond their limit.
#![no_main]

use dnstap::framestream::{FrameReader, parse_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((_, used))) = parse_frame(rest, 4096) {
        rest = &rest[used..];
    }
    let mut reader = FrameReader::new(data, 4096);
    for _ in 0..data.len() + 1 {
        match reader.next_data() {
            Ok(Some(frame)) => assert!(frame.len() <= 4096),
            _ => break,
        }
    }
});
