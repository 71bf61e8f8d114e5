//! A C server that links libdnstap compiles the library's dependency tree,
//! and nothing else: every crate in it is listed here on purpose. The
//! tool's dependencies (clap, serde_json, base64, signal-hook, database
//! clients) belong to cli/, never to this list. TLS (`tls:` sinks) is the
//! library's: rustls with ring, listed below crate by crate.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The crates of `cargo tree -p libdnstap -e normal`, the library itself
/// included. prost-derive and what follows it are proc macros: compiled
/// on the build machine, not linked.
const ALLOWED: &[&str] = &[
    "libdnstap",
    // the queue's cache-line padding
    "crossbeam-utils",
    // system calls: sockets, poll, signal masks
    "libc",
    "nix",
    "bitflags",
    "cfg-if",
    "memoffset",
    // the schema's generated types
    "prost",
    "bytes",
    "prost-derive",
    "anyhow",
    "itertools",
    "either",
    "proc-macro2",
    "quote",
    "syn",
    "unicode-ident",
    // tls: sinks (rustls, TLS 1.2 and 1.3, without its default aws-lc-rs)
    "rustls",
    // certificates, keys and server names as rustls takes them; PEM parsing
    "rustls-pki-types",
    // the collector's certificate chain and name checked (X.509, webpki)
    "rustls-webpki",
    // the crypto provider: ciphers, key exchange, signatures (C and
    // assembly built by cc: no cmake, unlike aws-lc-rs)
    "ring",
    // ring's random numbers from the kernel (getrandom(2))
    "getrandom",
    // ring's and webpki's bounds-checked DER parsing
    "untrusted",
    // constant-time comparisons in rustls
    "subtle",
    // rustls wipes secrets from memory
    "zeroize",
    // rustls's lazily built defaults
    "once_cell",
];

fn library_dependencies() -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let output = Command::new(cargo)
        .args([
            "tree",
            "--locked",
            "--offline",
            "-p",
            "libdnstap",
            "-e",
            "normal",
        ])
        .args(["--prefix", "none", "--format", "{p}", "--manifest-path"])
        .arg(manifest)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    // Lines are `NAME vVERSION [(PATH)] [(proc-macro)] [(*)]`.
    text.lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(String::from)
        .collect()
}

#[test]
fn the_library_depends_only_on_the_allowed_crates() {
    let found = library_dependencies();
    let allowed: BTreeSet<String> = ALLOWED.iter().map(|name| name.to_string()).collect();
    let unexpected: Vec<&String> = found.difference(&allowed).collect();
    assert!(
        unexpected.is_empty(),
        "libdnstap's dependency tree gained {unexpected:?}: a server linking the library would \
         compile them. Put what only the tool needs in cli/Cargo.toml; if the library truly \
         needs them, add them to ALLOWED in tests/dependencies.rs with the reason."
    );
    let stale: Vec<&String> = allowed.difference(&found).collect();
    assert!(
        stale.is_empty(),
        "{stale:?} left the library's dependency tree: remove them from ALLOWED"
    );
}
