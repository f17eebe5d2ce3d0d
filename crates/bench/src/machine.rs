//! What the numbers were measured on.

use plugboard_core::{Clock, SystemClock};

#[derive(Debug, Clone)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_gib: f64,
    pub kernel: String,
    pub load_at_start: [f64; 3],
    pub commit: String,
    pub rustc: String,
    pub date: String,
}

fn first_line_after(text: &str, prefix: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub fn load_average() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut it = text
        .split_whitespace()
        .map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
    [
        it.next().unwrap_or(f64::NAN),
        it.next().unwrap_or(f64::NAN),
        it.next().unwrap_or(f64::NAN),
    ]
}

impl Machine {
    pub fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = first_line_after(&meminfo, "MemTotal")
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(0.0);
        let commit = command_line("git", &["rev-parse", "--short=12", "HEAD"])
            .map(|c| {
                let dirty = command_line("git", &["status", "--porcelain", "--untracked-files=no"])
                    .is_some_and(|s| !s.is_empty());
                if dirty {
                    format!("{c} (+ local changes)")
                } else {
                    c
                }
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu: first_line_after(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into()),
            memory_gib: mem_kib / 1024.0 / 1024.0,
            kernel: command_line("uname", &["-sr"]).unwrap_or_else(|| "unknown".into()),
            load_at_start: load_average(),
            commit,
            rustc: command_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
            date: SystemClock.now().format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}
