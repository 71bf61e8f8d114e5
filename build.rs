/// The shared library's ABI version: bump it only for an incompatible change.
const SONAME: &str = "libdnstap.so.1";

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{SONAME}");
}
