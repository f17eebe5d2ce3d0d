//! The processes a run starts: Plugboard servers, the sandbox as its own process, the bare
//! actix-web handler; their readiness, memory and CPU time, read from `/proc`.

use crate::Res;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How to run `plugboard`: the release binary, or (in the smoke test) this binary acting
/// as it.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub program: PathBuf,
    pub prefix: Vec<String>,
}

impl Launcher {
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.prefix)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }
}

/// A child process that is killed when dropped.
pub struct Proc {
    pub name: String,
    pub pid: u32,
    child: Child,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Res<Proc> {
        let out = std::fs::File::create(log)?;
        let err = out.try_clone()?;
        cmd.stdout(Stdio::from(out)).stderr(Stdio::from(err));
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let pid = child.id().ok_or_else(|| format!("{name} exited at once"))?;
        Ok(Proc {
            name: name.to_owned(),
            pid,
            child,
        })
    }

    /// Fails when the process has exited.
    pub fn check_alive(&mut self) -> Res<()> {
        match self.child.try_wait()? {
            Some(status) => Err(format!("{} exited ({status})", self.name).into()),
            None => Ok(()),
        }
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

pub fn free_port() -> Res<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A plain client for the control calls (setup, knobs, metrics), not for load.
pub fn control_client() -> Res<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(16)
        .build()?)
}

/// Polls `url` every millisecond until it answers 200; the time from `since`.
pub async fn wait_ready(
    proc: &mut Proc,
    client: &reqwest::Client,
    url: &str,
    since: Instant,
    limit: Duration,
) -> Res<Duration> {
    loop {
        if let Ok(r) = client
            .get(url)
            .timeout(Duration::from_millis(500))
            .send()
            .await
            && r.status().is_success()
        {
            return Ok(since.elapsed());
        }
        proc.check_alive()?;
        if since.elapsed() > limit {
            return Err(format!("{} did not answer {url} within {limit:?}", proc.name).into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn status_field_kib(pid: u32, field: &str) -> Res<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status").into())
}

/// Resident set size now, KiB.
pub fn rss_kib(pid: u32) -> Res<u64> {
    status_field_kib(pid, "VmRSS:")
}

/// Peak resident set size, KiB.
pub fn peak_rss_kib(pid: u32) -> Res<u64> {
    status_field_kib(pid, "VmHWM:")
}

/// User + system CPU time of a process, in seconds (clock ticks of 1/100 s).
pub fn cpu_seconds(pid: u32) -> Res<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("malformed /proc stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    Ok(ticks as f64 / 100.0)
}

/// CPU seconds of this process (the load generator).
pub fn own_cpu_seconds() -> Res<f64> {
    cpu_seconds(std::process::id())
}

/// The first process whose command line holds every one of `words` (the MongoDB stand-in,
/// which the test server starts without saying its pid).
pub fn find_process(words: &[&str]) -> Option<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|raw| {
                let args: Vec<String> = raw
                    .split(|b| *b == 0)
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                // Not the shell that watches it.
                let shell = args
                    .first()
                    .is_some_and(|a| a == "sh" || a.ends_with("/sh"));
                !shell
                    && words
                        .iter()
                        .all(|w| args.iter().any(|a| a == w || a.ends_with(w)))
            })
        })
}
