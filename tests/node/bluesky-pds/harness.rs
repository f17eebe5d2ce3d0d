//! Bluesky's reference PDS for tests: installs `@atproto/dev-env` (pinned by this folder's
//! `package.json` and `package-lock.json`) once into `$HOME/.cache/plugboard/bluesky-pds/`,
//! then starts `start.mjs` (TestPds + TestPlc, SQLite in a temporary directory, free
//! loopback ports) and reads the one JSON line it prints.
//!
//! Reuse it from any test crate (it needs only `std` and `serde_json`):
//!
//! ```ignore
//! #[path = "../../../tests/node/bluesky-pds/harness.rs"] // relative to the including file
//! mod bluesky_pds_harness;
//!
//! let pds = bluesky_pds_harness::ReferencePds::start();
//! // pds.url = "http://localhost:PORT": the entryway and the accounts' PDS.
//! ```
//!
//! Everything fails loudly (panics) rather than skipping: no npm, a failed install or a PDS
//! that does not start are test failures. The first install takes a minute or two (npm
//! downloads ~470 packages, better-sqlite3 compiles from source); later starts take ~2 s.
//! The PDS stops when the value is dropped or, for one kept in a `static`, when the test
//! process exits and its stdin closes.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helper: each test crate uses part of it, and failures must panic"
)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

const PACKAGE_JSON: &str = include_str!("package.json");
const PACKAGE_LOCK: &str = include_str!("package-lock.json");
const START_MJS: &str = include_str!("start.mjs");

/// A first install downloads and compiles; give it room, but not forever.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(900);
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running reference PDS and its did:plc directory.
pub struct ReferencePds {
    /// `http://localhost:PORT`: use it as the entryway; session DID documents name it too.
    pub url: String,
    pub plc_url: String,
    /// For `com.atproto.admin.*` (HTTP Basic, user `admin`).
    pub admin_password: String,
    /// Handles are `<name><handle_domain>` (`.test`); `<name>` is 3 to 18 characters.
    pub handle_domain: String,
    child: Child,
    stdin: Option<ChildStdin>,
    /// The last lines the PDS wrote to stderr.
    log: Arc<Mutex<VecDeque<String>>>,
}

const LOG_LINES: usize = 200;

/// FNV-1a: a cache key that stays the same across Rust versions (unlike `DefaultHasher`).
fn fnv(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn cache_root() -> PathBuf {
    let home = std::env::var_os("HOME")
        .expect("HOME must be set: the reference PDS is installed in $HOME/.cache/plugboard");
    PathBuf::from(home).join(".cache/plugboard/bluesky-pds")
}

/// A lock held by creating a directory (atomic everywhere), so that concurrent test
/// processes install once. A lock older than twenty minutes is from a killed run.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(path: PathBuf) -> DirLock {
        let deadline = Instant::now() + INSTALL_TIMEOUT + Duration::from_secs(60);
        loop {
            match std::fs::create_dir(&path) {
                Ok(()) => return DirLock(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok());
                    if age.is_some_and(|a| a > Duration::from_secs(1200)) {
                        let _ = std::fs::remove_dir(&path);
                        continue;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "timed out waiting for the PDS install lock {}",
                        path.display()
                    );
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => panic!("cannot create the lock {}: {e}", path.display()),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Writes `contents` to `path` through a temporary file and a rename, so a concurrent
/// reader never sees half a file.
fn write_atomically(path: &Path, contents: &str) {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, contents)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", tmp.display()));
    std::fs::rename(&tmp, path)
        .unwrap_or_else(|e| panic!("cannot move {} into place: {e}", path.display()));
}

fn installed(dir: &Path) -> bool {
    dir.join(".installed").exists()
        && dir
            .join("node_modules/@atproto/dev-env/package.json")
            .exists()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `npm ci` in `dir`, killed after [`INSTALL_TIMEOUT`].
fn npm_ci(dir: &Path) {
    let log = dir.join("npm-ci.log");
    let out = std::fs::File::create(&log).unwrap();
    let err = out.try_clone().unwrap();
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund", "--loglevel=warn"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // better-sqlite3 compiles against Node's headers; where the distribution ships them,
    // say so, or node-gyp would try to download them.
    if std::env::var_os("npm_config_nodedir").is_none()
        && Path::new("/usr/include/node/node.h").exists()
    {
        npm.env("npm_config_nodedir", "/usr");
    }
    let mut child = npm.spawn().unwrap_or_else(|e| {
        panic!("cannot run npm (needed for Bluesky's reference PDS; install Node.js and npm): {e}")
    });
    let deadline = Instant::now() + INSTALL_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "npm ci in {} took longer than {INSTALL_TIMEOUT:?}:\n{}",
                dir.display(),
                tail(&std::fs::read_to_string(&log).unwrap_or_default(), 40)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        status.success(),
        "npm ci for Bluesky's reference PDS failed ({status}) in {}:\n{}",
        dir.display(),
        tail(&std::fs::read_to_string(&log).unwrap_or_default(), 60)
    );
}

/// The install directory for the pinned packages, installing them when needed.
pub fn ensure_installed() -> PathBuf {
    let root = cache_root();
    let dir = root.join(fnv(&[PACKAGE_JSON, PACKAGE_LOCK]));
    if installed(&dir) {
        return dir;
    }
    std::fs::create_dir_all(&root)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", root.display()));
    let _lock = DirLock::acquire(dir.with_extension("lock"));
    if installed(&dir) {
        return dir;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot clear a partial install {}: {e}", dir.display()));
    }
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("package.json"), PACKAGE_JSON).unwrap();
    std::fs::write(dir.join("package-lock.json"), PACKAGE_LOCK).unwrap();
    npm_ci(&dir);
    std::fs::write(dir.join(".installed"), "").unwrap();
    dir
}

impl ReferencePds {
    /// Installs (once) and starts a fresh PDS; panics with the PDS's log when it cannot.
    pub fn start() -> ReferencePds {
        let dir = ensure_installed();
        // ESM resolves packages from the script's own folder, so the script lives beside
        // node_modules; its name carries its content's hash so edits take effect.
        let script = dir.join(format!("start-{}.mjs", fnv(&[START_MJS])));
        if !script.exists() {
            write_atomically(&script, START_MJS);
        }
        let mut child = Command::new("node")
            .arg(&script)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node for Bluesky's reference PDS: {e}"));
        let log: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                if log.len() == LOG_LINES {
                    log.pop_front();
                }
                log.push_back(line);
            }
        });
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = tx.send(reader.read_line(&mut line).map(|_| line));
            // Keep draining so the PDS never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let mut pds = ReferencePds {
            url: String::new(),
            plc_url: String::new(),
            admin_password: String::new(),
            handle_domain: String::new(),
            child,
            stdin,
            log,
        };
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) if line.contains("\"ready\":true") => line,
            Ok(Ok(line)) if !line.trim().is_empty() => {
                pds.settle();
                line
            }
            Ok(Ok(_)) => {
                pds.settle();
                panic!(
                    "Bluesky's reference PDS exited before it was ready:\n{}",
                    pds.log_tail()
                )
            }
            Ok(Err(e)) => panic!("cannot read the PDS's stdout: {e}\n{}", pds.log_tail()),
            Err(_) => panic!(
                "Bluesky's reference PDS was not ready after {START_TIMEOUT:?}:\n{}",
                pds.log_tail()
            ),
        };
        let ready: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!(
                "the PDS harness printed {line:?}, not JSON ({e}):\n{}",
                pds.log_tail()
            )
        });
        if ready["ready"] != serde_json::Value::Bool(true) {
            panic!(
                "Bluesky's reference PDS did not start: {}\n{}",
                ready["error"],
                pds.log_tail()
            );
        }
        let field = |name: &str| {
            ready[name]
                .as_str()
                .unwrap_or_else(|| panic!("the PDS harness printed no {name}: {line}"))
                .to_owned()
        };
        pds.url = field("url");
        pds.plc_url = field("plcUrl");
        pds.admin_password = field("adminPassword");
        pds.handle_domain = field("handleDomain");
        pds
    }

    /// Gives a failing PDS a moment to exit and its last stderr lines to arrive.
    fn settle(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    /// `Authorization` header value for the PDS's admin endpoints.
    pub fn admin_authorization(&self) -> String {
        let raw = format!("admin:{}", self.admin_password);
        format!("Basic {}", base64_standard(raw.as_bytes()))
    }

    /// The last lines the PDS wrote to stderr, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let lines: Vec<&str> = log.iter().map(String::as_str).collect();
        format!(
            "--- PDS stderr (last {} lines) ---\n{}",
            lines.len(),
            lines.join("\n")
        )
    }
}

impl Drop for ReferencePds {
    fn drop(&mut self) {
        // Closing stdin asks start.mjs to stop both servers and remove its data.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// RFC 4648 base64 with padding, for a Basic header (no crate needed).
fn base64_standard(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
