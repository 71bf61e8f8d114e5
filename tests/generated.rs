//! The committed generated files are what their pinned generators make of
//! the sources: include/dnstap.h (cbindgen, from src/ffi/) and
//! src/proto/dnstap.rs (prost-build with protoc, from proto/dnstap.proto).
//!
//! Both generators are outside tools. Without one, its test is skipped
//! with a note on how to install it, except under ci/test, which installs
//! them (ci/setup) and requires them ([`dnstap_testkit::REQUIRE_TOOLS`]).
//! `make header` and `make schema` rewrite the files.

use std::path::{Path, PathBuf};
use std::process::Command;

use dnstap_testkit::tool_installed;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn header_is_what_the_pinned_cbindgen_generates() {
    let config = read(&root().join("cbindgen.toml"));
    let pinned = config
        .lines()
        .find_map(|line| line.strip_prefix("# cbindgen "))
        .expect("cbindgen.toml names the pinned version");
    let install = format!("cargo install --locked cbindgen --version {pinned} (or ci/setup)");
    if !tool_installed("cbindgen", &install) {
        return;
    }
    let version = Command::new("cbindgen").arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("cbindgen {pinned}"),
        "{install}"
    );
    let generated = Command::new("cbindgen")
        .args(["--quiet", "--config", "cbindgen.toml"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    assert!(
        String::from_utf8(generated.stdout).unwrap() == read(&root().join("include/dnstap.h")),
        "include/dnstap.h is stale: run `make header` and commit it"
    );
}

/// Set by `make schema`: write the regenerated schema code instead of
/// comparing it.
const UPDATE_SCHEMA: &str = "DNSTAP_KIT_UPDATE_SCHEMA";

#[test]
fn schema_code_is_what_prost_build_generates() {
    // prost-build runs $PROTOC, or protoc from PATH.
    let install = "apt-get install protobuf-compiler (or ci/setup), or set PROTOC";
    if std::env::var_os("PROTOC").is_none() && !tool_installed("protoc", install) {
        return;
    }
    let out = std::env::temp_dir().join(format!("dnstap-kit-schema-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    prost_build::Config::new()
        .out_dir(&out)
        .compile_protos(
            &[root().join("proto/dnstap.proto")],
            &[root().join("proto")],
        )
        .unwrap();
    let generated = read(&out.join("dnstap.rs"));
    let _ = std::fs::remove_dir_all(&out);
    let committed: PathBuf = root().join("src/proto/dnstap.rs");
    if std::env::var_os(UPDATE_SCHEMA).is_some() {
        std::fs::write(&committed, &generated).unwrap();
    }
    assert!(
        generated == read(&committed),
        "src/proto/dnstap.rs is stale: run `make schema` and commit it"
    );
}
