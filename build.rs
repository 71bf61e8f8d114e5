/// The shared library's ABI version: bump it only for an incompatible change.
const SONAME: &str = "libdnstap.so.1";

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{SONAME}");
    println!("cargo:rerun-if-changed=proto/dnstap.proto");
    // The writer encodes by hand (see src/record.rs); the generated types are
    // the reference decoder used by tests, the CLI and the encoder's own check.
    prost_build::Config::new()
        .compile_protos(&["proto/dnstap.proto"], &["proto"])
        .expect("protoc (Debian: protobuf-compiler) must be installed to build dnstap-kit");
}
