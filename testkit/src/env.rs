//! The test's surroundings: temporary directories, bounded waits, and
//! outside tools that may not be installed.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// A private temporary directory, removed when the test passes (kept for
/// a look when it fails).
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A new empty directory named after `name` and the test process.
pub fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("dnstap-kit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// Polls `done` until it holds or `limit` passes; its last answer.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    done()
}

/// A loopback TCP port that nothing listens on (bound, then closed).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Set by ci/test, which installs every outside tool (ci/setup): there a
/// test whose tool is missing fails instead of skipping.
pub const REQUIRE_TOOLS: &str = "DNSTAP_KIT_REQUIRE_TOOLS";

/// The full path of `tool` on PATH (or in the sbin directories).
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// Whether `tool` is installed. When it is not, a test skips with a note
/// saying how to `install` it, or, under ci/test, fails.
pub fn tool_installed(tool: &str, install: &str) -> bool {
    if which(tool).is_some() {
        return true;
    }
    assert!(
        std::env::var_os(REQUIRE_TOOLS).is_none(),
        "{tool} is not installed, and ci/test requires it: {install}"
    );
    eprintln!("skipped: {tool} is not installed; to run this test: {install}");
    false
}
