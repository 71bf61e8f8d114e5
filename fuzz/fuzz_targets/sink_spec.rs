//! The sink-spec parser on arbitrary text: an error or a spec that prints
//! back to something that parses to the same spec.
#![no_main]

use dnstap::sink::SinkSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = text.parse::<SinkSpec>() {
        assert_eq!(spec.to_string().parse::<SinkSpec>().ok(), Some(spec));
    }
});
