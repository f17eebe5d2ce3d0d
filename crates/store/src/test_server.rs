//! A MongoDB for tests: the server named by `PLUGBOARD_TEST_MONGODB_URI` (a real MongoDB),
//! or one nx-27017 (a MongoDB wire-protocol server backed by SQLite) per test process,
//! started on a free loopback port: the executable named by `PLUGBOARD_NX27017_BIN`, or the
//! one in `$HOME/.cache/plugboard/venv`, installed there with pip when missing. When no
//! server can be had, callers fail; they never skip.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: failing loudly is the point"
)]

use mongodb::bson::doc;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// The URI of the test MongoDB, starting nx-27017 on first use. Panics with the reason when
/// no server can be had.
pub async fn mongodb_uri() -> String {
    server_uri().await
}

/// A database name no other test uses.
pub fn fresh_database_name() -> String {
    // new_object_id(0): eight zero hex digits, then a per-process random part and a counter.
    format!("plugboard_test_{}", &plugboard_core::new_object_id(0)[8..])
}

/// The server all tests of this binary share.
struct Server {
    uri: String,
    /// The watchdog shell that runs nx-27017, and our end of its stdin. Statics are never
    /// dropped, but the pipe closes when this process exits however it exits; the
    /// watchdog's `read` then returns and it kills the server.
    _watchdog: Option<(Child, ChildStdin)>,
}

static SERVER: OnceCell<Result<Server, String>> = OnceCell::const_new();

/// Runs the server in the background, waits for its stdin to close, then stops it and
/// removes its directory.
const WATCHDOG: &str = r#""$0" "$@" &
child=$!
read -r _ignored
kill "$child" 2>/dev/null
wait "$child"
[ -n "$PLUGBOARD_NX_DIR" ] && rm -rf "$PLUGBOARD_NX_DIR""#;

const START_ATTEMPTS: usize = 3;
const START_DEADLINE: Duration = Duration::from_secs(60);

async fn server_uri() -> String {
    match SERVER.get_or_init(start_server).await {
        Ok(server) => server.uri.clone(),
        Err(e) => panic!("no MongoDB server for the tests: {e}"),
    }
}

async fn start_server() -> Result<Server, String> {
    if let Ok(uri) = std::env::var("PLUGBOARD_TEST_MONGODB_URI")
        && !uri.trim().is_empty()
    {
        return Ok(Server {
            uri,
            _watchdog: None,
        });
    }
    let exe = tokio::task::spawn_blocking(nx_executable)
        .await
        .map_err(|e| e.to_string())??;
    let mut last_error = String::new();
    // A port found free can be taken before the server binds it; then try another.
    for _ in 0..START_ATTEMPTS {
        match start_nx(&exe).await {
            Ok(server) => return Ok(server),
            Err((e, port_taken)) => {
                last_error = e;
                if !port_taken {
                    break;
                }
            }
        }
    }
    Err(last_error)
}

/// The nx-27017 executable, installed into the cache venv when it is missing.
fn nx_executable() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("PLUGBOARD_NX27017_BIN") {
        let bin = PathBuf::from(bin);
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!(
                "PLUGBOARD_NX27017_BIN points at {}, which does not exist",
                bin.display()
            ))
        };
    }
    let home = std::env::var_os("HOME").ok_or(
        "HOME is not set, so nx-27017 cannot be found or installed; set PLUGBOARD_NX27017_BIN \
         or PLUGBOARD_TEST_MONGODB_URI",
    )?;
    let venv = PathBuf::from(home).join(".cache/plugboard/venv");
    let exe = venv.join("bin/nx-27017");
    if exe.is_file() {
        return Ok(exe);
    }
    eprintln!("installing nx-27017 into {}", venv.display());
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", "nx-27017"]))?;
    if exe.is_file() {
        Ok(exe)
    } else {
        Err(format!(
            "pip installed nx-27017 but {} does not exist",
            exe.display()
        ))
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}) while installing nx-27017: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("cannot find a free port: {e}"))?
        .port();
    Ok(port)
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Starts nx-27017 on a free port and waits until the driver can ping it. On failure,
/// says whether the port was taken (worth another try).
async fn start_nx(exe: &Path) -> Result<Server, (String, bool)> {
    let fail = |e: String| (e, false);
    let port = free_port().map_err(fail)?;
    // On disk, not in memory: nx-27017 closes the least recently used databases when many
    // are open, and an in-memory one would lose its rows.
    let dir = tempfile::Builder::new()
        .prefix("plugboard-nx27017-")
        .tempdir()
        .map_err(|e| fail(format!("cannot create a temp dir: {e}")))?
        .keep();
    let output = dir.join("output.log");
    let out = File::create(&output).map_err(|e| fail(e.to_string()))?;
    let err = out.try_clone().map_err(|e| fail(e.to_string()))?;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg(exe)
        .args(["--host", "127.0.0.1", "-p", &port.to_string()])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--log-file")
        .arg(dir.join("nx.log"))
        .arg("--pid-file")
        .arg(dir.join("nx.pid"))
        .env("PLUGBOARD_NX_DIR", &dir)
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| fail(format!("cannot start {}: {e}", exe.display())))?;
    let Some(stdin) = child.stdin.take() else {
        return Err(fail("the watchdog has no stdin".into()));
    };
    let uri = format!("mongodb://127.0.0.1:{port}/?directConnection=true");
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
            && ping(&uri).await
        {
            return Ok(Server {
                uri,
                _watchdog: Some((child, stdin)),
            });
        }
        let printed = read_lossy(&output);
        // The server exited (it prints a traceback), or time is up: stop the watchdog by
        // closing its stdin and report what the server said.
        let crashed = printed.contains("Traceback");
        if crashed || Instant::now() > deadline {
            drop(stdin);
            let _ = child.wait();
            let why = if crashed {
                "exited"
            } else {
                "did not answer in time"
            };
            return Err((
                format!(
                    "nx-27017 ({}) on port {port} {why}; its output:\n{printed}",
                    exe.display()
                ),
                printed.contains("address already in use"),
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn ping(uri: &str) -> bool {
    let Ok(client) =
        mongodb::Client::with_uri_str(format!("{uri}&serverSelectionTimeoutMS=2000")).await
    else {
        return false;
    };
    client
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await
        .is_ok()
}
