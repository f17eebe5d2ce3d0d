//! Where the server's CPU time goes under load: `perf record` (when installed and allowed)
//! on the server process during an extra, unmeasured run, summarised as the hottest
//! symbols and as shares by area.

use crate::Res;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Profile {
    pub target: String,
    pub seconds: f64,
    pub samples: u64,
    /// (share %, shared object, symbol), hottest first.
    pub top: Vec<(f64, String, String)>,
    /// (area, share %), largest first.
    pub areas: Vec<(String, f64)>,
    /// (what, share % of samples with that frame on the stack): inclusive time of the
    /// frames that say where a request's time goes; empty without call graphs.
    pub inclusive: Vec<(String, f64)>,
}

/// Frames whose inclusive share is reported: (what it is, a substring of its symbol).
const FRAMES: &[(&str, &str)] = &[
    (
        "serving HTTP (actix-web's HTTP/1 dispatcher, all of a request on a worker)",
        "actix_http::h1::dispatcher::Dispatcher",
    ),
    (
        "the connect handler (`start_connect`, up to its awaits)",
        "start_connect_as",
    ),
    (
        "SQLite calls on tokio's blocking pool",
        "tokio::runtime::blocking::pool::Inner::run",
    ),
    ("  running statements (`sqlite3_step`)", "sqlite3_step"),
    (
        "  parsing SQL, again on every call (`sqlite3Prepare`)",
        "sqlite3Prepare",
    ),
    (
        "  WAL checkpoints (`sqlite3WalCheckpoint`, with fsync)",
        "sqlite3WalCheckpoint",
    ),
    (
        "handing calls to the blocking pool (`spawn_blocking`)",
        "blocking::pool::Spawner::spawn_task",
    ),
    (
        "logging (`tracing_subscriber::fmt`)",
        "tracing_subscriber::fmt",
    ),
    ("API key check (`authenticate`)", "authenticate"),
    ("Prometheus metrics", "prometheus::"),
    ("system calls (all)", "entry_SYSCALL_64"),
    (
        "context switches (`finish_task_switch`)",
        "finish_task_switch",
    ),
];

/// Parses `perf report --children` lines: `  47.49%  0.50%  [.] symbol`.
pub fn parse_children(text: &str) -> Vec<(f64, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let children: f64 = parts.next()?.strip_suffix('%')?.parse().ok()?;
            parts.next()?.strip_suffix('%')?;
            let rest: Vec<&str> = parts.collect();
            let sym = rest
                .iter()
                .skip_while(|p| p.starts_with('['))
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            Some((children, sym))
        })
        .collect()
}

pub fn inclusive_frames(rows: &[(f64, String)]) -> Vec<(String, f64)> {
    FRAMES
        .iter()
        .filter_map(|(what, needle)| {
            rows.iter()
                .filter(|(_, sym)| sym.contains(needle))
                .map(|(pct, _)| *pct)
                .reduce(f64::max)
                .map(|pct| ((*what).to_owned(), pct))
        })
        .collect()
}

pub fn perf_available() -> bool {
    std::process::Command::new("perf")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Areas a symbol is counted in, first match wins.
const AREAS: &[(&str, &[&str])] = &[
    ("SQLite", &["sqlite3", "rusqlite"]),
    ("MongoDB driver, BSON", &["mongodb", "bson"]),
    (
        "crypto (AES-GCM, SHA-256, HMAC)",
        &[
            "aes", "gcm", "ghash", "polyval", "sha2", "sha256", "hmac", "ring",
        ],
    ),
    (
        "logging and tracing",
        &[
            "tracing",
            "fmt::",
            "core::fmt",
            "Display",
            "Write",
            "io::stdio",
            "opentelemetry",
        ],
    ),
    ("JSON", &["serde_json", "serde::"]),
    (
        "memory allocation and copies",
        &[
            "malloc", "free", "realloc", "memcpy", "memmove", "memset", "alloc::", "_int_",
        ],
    ),
    ("metrics (prometheus)", &["prometheus"]),
    (
        "HTTP and routing (actix, hyper)",
        &[
            "actix", "hyper", "http::", "h1::", "httparse", "regex", "url::",
        ],
    ),
    ("async runtime (tokio)", &["tokio", "mio", "futures"]),
    ("Plugboard code", &["plugboard"]),
];

fn area_of(dso: &str, symbol: &str) -> &'static str {
    if dso.contains("kernel") {
        return "kernel (network, scheduling, syscalls)";
    }
    AREAS
        .iter()
        .find(|(_, keys)| keys.iter().any(|k| symbol.contains(k)))
        .map_or("other (libc, std, unresolved)", |(name, _)| name)
}

/// `12K` → 12000.
fn count(s: &str) -> u64 {
    let (digits, scale) = match s.strip_suffix('K') {
        Some(d) => (d, 1e3),
        None => match s.strip_suffix('M') {
            Some(d) => (d, 1e6),
            None => (s, 1.0),
        },
    };
    (digits.parse::<f64>().unwrap_or(0.0) * scale) as u64
}

/// Parses `perf report --stdio --no-children --sort dso,sym` lines:
/// `  12.34%  plugboard  [.] some::symbol`.
pub fn parse_report(text: &str) -> Vec<(f64, String, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let l = l.trim();
            let (pct, rest) = l.split_once('%')?;
            let pct: f64 = pct.trim().parse().ok()?;
            let rest = rest.trim();
            let (dso, sym) = rest.split_once(char::is_whitespace)?;
            let sym = sym
                .trim()
                .trim_start_matches("[.]")
                .trim_start_matches("[k]")
                .trim();
            Some((pct, dso.trim().to_owned(), sym.to_owned()))
        })
        .collect()
}

pub fn summarise(
    target: &str,
    seconds: f64,
    samples: u64,
    rows: &[(f64, String, String)],
) -> Profile {
    let mut areas: Vec<(String, f64)> = Vec::new();
    for (pct, dso, sym) in rows {
        let a = area_of(dso, sym);
        match areas.iter_mut().find(|(n, _)| n == a) {
            Some((_, total)) => *total += pct,
            None => areas.push((a.to_owned(), *pct)),
        }
    }
    areas.sort_by(|a, b| b.1.total_cmp(&a.1));
    Profile {
        target: target.to_owned(),
        seconds,
        samples,
        top: rows.iter().take(15).cloned().collect(),
        areas,
        inclusive: Vec::new(),
    }
}

/// Records `pid` for `secs` while `load` runs, then summarises.
pub async fn record<F>(
    target: &str,
    pid: u32,
    secs: Duration,
    work: &Path,
    load: F,
) -> Res<Option<Profile>>
where
    F: std::future::Future<Output = Res<()>>,
{
    if !perf_available() {
        return Ok(None);
    }
    let data = work.join(format!("perf-{pid}.data"));
    let mut perf = tokio::process::Command::new("perf")
        .args([
            "record",
            "-F",
            "199",
            "--call-graph",
            "dwarf,16384",
            "-p",
            &pid.to_string(),
            "-o",
        ])
        .arg(&data)
        .args([
            "--",
            "sleep",
            &format!("{:.0}", secs.as_secs_f64().max(1.0)),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    load.await?;
    let status = perf.wait().await?;
    if !status.success() || !data.exists() {
        return Ok(None);
    }
    let out = tokio::process::Command::new("perf")
        .args([
            "report",
            "--stdio",
            "--no-children",
            "--sort",
            "dso,sym",
            "-i",
        ])
        .arg(&data)
        .output()
        .await?;
    let text = String::from_utf8_lossy(&out.stdout);
    let samples = text
        .lines()
        .find_map(|l| l.strip_prefix("# Samples: "))
        .and_then(|r| r.split_whitespace().next())
        .map_or(0, count);
    let rows = parse_report(&text);
    if rows.is_empty() {
        return Ok(None);
    }
    let mut profile = summarise(target, secs.as_secs_f64(), samples, &rows);
    let children = tokio::process::Command::new("perf")
        .args([
            "report",
            "--stdio",
            "--children",
            "--sort",
            "sym",
            "-g",
            "none",
            "-i",
        ])
        .arg(&data)
        .output()
        .await?;
    profile.inclusive =
        inclusive_frames(&parse_children(&String::from_utf8_lossy(&children.stdout)));
    Ok(Some(profile))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_become_rows_and_areas() {
        let rows = parse_report(
            "# Samples: 12K of event 'cpu-clock'\n#\n    20.00%  [kernel.kallsyms]  [k] tcp_sendmsg\n\
             10.50%  plugboard          [.] sqlite3VdbeExec\n 5.00%  plugboard  [.] tracing_core::dispatcher::get_default\n",
        );
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[1],
            (10.5, "plugboard".into(), "sqlite3VdbeExec".into())
        );
        let p = summarise("x", 1.0, 12_000, &rows);
        assert_eq!(p.areas[0].0, "kernel (network, scheduling, syscalls)");
        assert_eq!(p.areas[1].0, "SQLite");
        assert_eq!(count("12K"), 12_000);
        let inclusive = inclusive_frames(&parse_children(
            "    47.49%     0.50%  [.] tokio::runtime::blocking::pool::Inner::run\n\
             16.08%     0.00%  [.] sqlite3_step\n    22.86%    22.86%  [k] finish_task_switch.isra.0\n",
        ));
        assert_eq!(
            inclusive[0],
            ("SQLite calls on tokio's blocking pool".to_owned(), 47.49)
        );
        assert_eq!(inclusive.len(), 3);
    }
}
