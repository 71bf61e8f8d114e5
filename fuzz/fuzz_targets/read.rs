//! The read side on arbitrary bytes taken as one `Dnstap` payload (a data
//! frame): decoding and every rendering must never panic; text is one
//! line, YAML one document ended by `---`, with no control characters but
//! newlines and tabs, and JSON one line that parses as an object.
#![no_main]

use dnstap_kit::decode::{Format, Record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = Record::decode(data) else {
        return;
    };
    let mut out = String::new();
    Format::Text.write(&mut out, &record);
    assert!(
        out.ends_with('\n') && out.matches('\n').count() == 1,
        "text is not one line: {out:?}"
    );

    out.clear();
    Format::Yaml.write(&mut out, &record);
    assert!(out.ends_with("---\n"), "YAML document not ended: {out:?}");
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
        "control character in YAML: {out:?}"
    );

    out.clear();
    Format::Json.write(&mut out, &record);
    assert!(
        out.ends_with('\n') && out.matches('\n').count() == 1,
        "JSON is not one line: {out:?}"
    );
    match serde_json::from_str::<serde_json::Value>(&out) {
        Ok(value) => assert!(value.is_object(), "JSON is not an object: {out}"),
        Err(err) => panic!("JSON does not parse ({err}): {out}"),
    }
});
