//! Rules a reviewer relies on: `unsafe` lives only in the library's FFI
//! layer and ring (the tool in cli/ has none), and every unsafe block or
//! impl says why it is sound.

use std::fs;
use std::path::{Path, PathBuf};

/// Where `unsafe` may appear: the C ABI, the queue's byte ring, and the
/// record header the ring stores as plain bytes (`unsafe impl Plain`).
const UNSAFE_ALLOWED: &[&str] = &["src/ffi/", "src/ring.rs", "src/record/mod.rs"];
/// How far above an unsafe block its SAFETY comment may start.
const SAFETY_REACH: usize = 8;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The sources of the workspace's crates: the library, the tool, the
/// test helpers.
const SOURCE_DIRS: &[&str] = &["src", "cli/src", "testkit/src"];

fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in SOURCE_DIRS {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.strip_prefix(root).unwrap().display().to_string();
            (name, fs::read_to_string(&path).unwrap())
        })
        .collect()
}

fn code(line: &str) -> &str {
    line.split("//").next().unwrap_or("")
}

#[test]
fn unsafe_code_stays_in_the_ffi_layer_and_the_ring() {
    let misplaced: Vec<String> = sources()
        .iter()
        .filter(|(name, _)| {
            !UNSAFE_ALLOWED
                .iter()
                .any(|allowed| name.starts_with(allowed))
        })
        .flat_map(|(name, text)| {
            text.lines()
                .enumerate()
                .filter(|(_, line)| code(line).contains("unsafe "))
                .map(move |(n, line)| format!("{name}:{}: {}", n + 1, line.trim()))
        })
        .collect();
    assert!(
        misplaced.is_empty(),
        "unsafe outside {UNSAFE_ALLOWED:?}:\n{}",
        misplaced.join("\n")
    );
}

#[test]
fn every_unsafe_block_and_impl_carries_a_safety_comment() {
    let mut missing = Vec::new();
    let mut checked = 0;
    for (name, text) in sources() {
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let code = code(line);
            if !(code.contains("unsafe {") || code.contains("unsafe impl")) {
                continue;
            }
            checked += 1;
            let from = n.saturating_sub(SAFETY_REACH);
            if !lines[from..=n].iter().any(|l| l.contains("SAFETY:")) {
                missing.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(checked > 0, "no unsafe block found: is the scan broken?");
    assert!(
        missing.is_empty(),
        "no SAFETY comment:\n{}",
        missing.join("\n")
    );
}
