//! The enums and macros of include/dnstap.h agree with the schema and the
//! crate (tests/generated.rs checks that cbindgen makes the header).

use std::path::Path;

use dnstap::proto;

fn header() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/dnstap.h")).unwrap()
}

/// `(NAME, value)` for every enumerator of the header starting with `prefix`.
fn enumerators(prefix: &str) -> Vec<(String, i32)> {
    header()
        .lines()
        .filter_map(|line| {
            let (name, value) = line.trim().trim_end_matches(',').split_once(" = ")?;
            let suffix = name.strip_prefix(prefix)?;
            Some((suffix.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[test]
fn header_macros_match_the_crate() {
    let header = header();
    let version = format!(
        "#define DNSTAP_VERSION_STRING \"{}\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        header.contains(&version),
        "DNSTAP_VERSION_STRING is not {}",
        env!("CARGO_PKG_VERSION")
    );
    let max = format!("#define DNSTAP_MAX_FRAME_SIZE {}", dnstap::MAX_FRAME_SIZE);
    assert!(
        header.contains(&max),
        "DNSTAP_MAX_FRAME_SIZE differs from dnstap::MAX_FRAME_SIZE"
    );
}

fn screaming(name: &str) -> String {
    name.to_ascii_uppercase()
}

/// The schema's value for an enumerator name, if the schema has it.
type SchemaValue = fn(&str) -> Option<i32>;

#[test]
fn header_enums_are_the_schema_enums() {
    let checks: [(&str, usize, SchemaValue); 5] = [
        ("DNSTAP_MESSAGE_TYPE_", 14, |n| {
            proto::message::Type::from_str_name(n).map(|v| v as i32)
        }),
        ("DNSTAP_SOCKET_PROTOCOL_", 7, |n| {
            let schema = match n {
                "DNSCRYPT_UDP" => "DNSCryptUDP",
                "DNSCRYPT_TCP" => "DNSCryptTCP",
                other => other,
            };
            proto::SocketProtocol::from_str_name(schema).map(|v| v as i32)
        }),
        ("DNSTAP_HTTP_PROTOCOL_", 3, |n| {
            proto::HttpProtocol::from_str_name(n).map(|v| v as i32)
        }),
        ("DNSTAP_POLICY_ACTION_", 6, |n| {
            proto::policy::Action::from_str_name(n).map(|v| v as i32)
        }),
        ("DNSTAP_POLICY_MATCH_", 5, |n| {
            proto::policy::Match::from_str_name(n).map(|v| v as i32)
        }),
    ];
    for (prefix, count, schema_value) in checks {
        let found = enumerators(prefix);
        assert_eq!(found.len(), count, "{prefix}* in the header");
        for (name, value) in found {
            assert_eq!(
                schema_value(&screaming(&name)),
                Some(value),
                "{prefix}{name}"
            );
        }
    }
}

#[test]
fn result_codes_keep_their_numbers() {
    let codes = enumerators("DNSTAP_");
    let expected = [
        ("OK", 0),
        ("DROPPED", 1),
        ("SAMPLED_OUT", 2),
        ("E_INVAL", -1),
        ("E_NULL", -2),
        ("E_SIZE", -3),
        ("E_TOO_BIG", -4),
        ("E_NOMEM", -5),
        ("E_IO", -6),
        ("E_THREAD", -7),
        ("E_INTERNAL", -8),
        ("E_TLS", -9),
        ("TLS_VERIFY_FULL", 0),
        ("TLS_VERIFY_CHAIN", 1),
        ("TLS_VERIFY_NONE", 2),
    ];
    for (name, value) in expected {
        assert!(
            codes.contains(&(name.to_string(), value)),
            "DNSTAP_{name} must stay {value}"
        );
    }
}
