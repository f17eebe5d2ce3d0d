//! `plugboard-bench`: Plugboard's performance suite on one machine (`just bench`). It starts
//! every process it measures, runs the four measurements of issue 8 (connect URL against a
//! bare actix-web handler on SQLite and MongoDB, callback overhead, a refresh sweep, memory
//! and start time) and writes `docs/performance.md` with `docs/performance.svg`.
//!
//! Modes: `run` (the suite), `bare` (the bare handler, run by the suite as its own
//! process), `as-plugboard` (this binary acting as `plugboard`, for the smoke test, which
//! cannot rely on the release server having been built).

mod bare;
mod callback;
mod connect_url;
mod flows;
mod load;
mod machine;
mod memory;
mod metrics;
mod procs;
mod profile;
mod report;
mod servers;
mod sweep;

use clap::{Args, Parser, Subcommand};
use plugboard_core::Platform;
use procs::Launcher;
use servers::{Platforms, ServerSpec, Store};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Res<T> = Result<T, BoxError>;

#[derive(Parser, Debug)]
#[command(
    name = "plugboard-bench",
    about = "Plugboard's performance suite (just bench)"
)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Run the suite and write the report.
    Run(Box<RunArgs>),
    /// Serve the bare actix-web handler (started by `run`).
    #[command(hide = true)]
    Bare {
        #[arg(long)]
        listen: String,
        #[arg(long)]
        workers: usize,
    },
    /// Act as the `plugboard` binary (the smoke test's server).
    #[command(hide = true)]
    AsPlugboard {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// Where performance.md and performance.svg are written.
    #[arg(long, default_value = "docs")]
    out: PathBuf,
    /// The `plugboard` binary under test (default: the one beside this binary, i.e. the
    /// release build `just bench` makes).
    #[arg(long)]
    plugboard: Option<PathBuf>,
    /// Run this binary as the server (`as-plugboard`) instead: for the smoke test.
    #[arg(long, hide = true)]
    plugboard_self: bool,
    /// Tiny sizes everywhere (the smoke test): seconds, not minutes; numbers mean nothing.
    #[arg(long)]
    toy: bool,
    /// Keep the working directory (logs, data) instead of deleting it.
    #[arg(long)]
    keep: bool,
    /// actix-web workers of every server (Plugboard's and the bare handler).
    #[arg(long)]
    workers: Option<usize>,
    /// Threads of the load generator's runtime.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Platform of the connect and callback measurements.
    #[arg(long, default_value = "twitter")]
    platform: String,
    /// Concurrent keep-alive connections of the connect-URL load.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    #[arg(long, default_value_t = 3.0)]
    warmup_secs: f64,
    /// Measured seconds per target and round.
    #[arg(long, default_value_t = 10.0)]
    measure_secs: f64,
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Stores to measure the connect URL on: sqlite, mongodb.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,mongodb")]
    stores: Vec<String>,
    /// Seconds of `perf record` on the SQLite server under load (0: no profile).
    #[arg(long, default_value_t = 8.0)]
    profile_secs: f64,
    #[arg(long, default_value_t = 200)]
    callback_flows: usize,
    #[arg(long, default_value_t = 4)]
    callback_concurrency: usize,
    /// Latency injected at the sandbox's token endpoint for the callback measurement.
    #[arg(long, default_value_t = 100)]
    callback_latency_ms: u64,
    /// Accounts of the refresh sweep.
    #[arg(long, default_value_t = 100_000)]
    accounts: usize,
    /// Fixed token-endpoint latency of the sweep.
    #[arg(long, default_value_t = 50)]
    sweep_latency_ms: u64,
    /// Platforms of the sweep (default: every fake that renews with the refresh grant).
    #[arg(long, value_delimiter = ',')]
    sweep_platforms: Vec<String>,
    /// Connect flows in flight for the memory measurement.
    #[arg(long, default_value_t = 1000)]
    flows_in_flight: usize,
    /// Token-endpoint latency while those flows' callbacks are in flight.
    #[arg(long, default_value_t = 4000)]
    in_flight_latency_ms: u64,
    #[arg(long, default_value_t = 5.0)]
    idle_secs: f64,
    #[arg(long, default_value_t = 5)]
    start_runs: usize,
    /// Only these sections (connect, callback, memory, sweep), for a quick look: the report
    /// is written only when all run.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

impl RunArgs {
    fn toy(mut self) -> Self {
        self.connections = 4;
        self.warmup_secs = 0.2;
        self.measure_secs = 0.3;
        self.rounds = 1;
        self.profile_secs = 0.0;
        self.callback_flows = 4;
        self.callback_concurrency = 2;
        self.callback_latency_ms = 20;
        self.accounts = 250;
        self.sweep_latency_ms = 5;
        self.sweep_platforms = vec!["tiktok".into(), "twitter".into()];
        self.flows_in_flight = 10;
        self.in_flight_latency_ms = 500;
        self.idle_secs = 0.2;
        self.start_runs = 1;
        self
    }
}

fn progress(section: &'static str) -> impl Fn(&str) {
    move |m: &str| eprintln!("[bench] {section}: {m}")
}

fn launcher(args: &RunArgs) -> Res<Launcher> {
    let me = std::env::current_exe()?;
    if args.plugboard_self {
        return Ok(Launcher {
            program: me,
            prefix: vec!["as-plugboard".into()],
        });
    }
    let program = match &args.plugboard {
        Some(p) => p.clone(),
        None => me
            .parent()
            .map(|d| d.join("plugboard"))
            .ok_or("cannot tell where this binary is")?,
    };
    if !program.is_file() {
        return Err(format!(
            "{} does not exist: build it first (`cargo build --release -p plugboard`) or pass --plugboard",
            program.display()
        )
        .into());
    }
    Ok(Launcher {
        program,
        prefix: vec![],
    })
}

async fn run(args: RunArgs) -> Res<()> {
    let args = if args.toy { args.clone().toy() } else { args };
    let started = Instant::now();
    let machine = machine::Machine::describe();
    eprintln!(
        "[bench] {} cores ({}), load average {:.2} {:.2} {:.2}",
        machine.cores,
        machine.cpu,
        machine.load_at_start[0],
        machine.load_at_start[1],
        machine.load_at_start[2]
    );
    if machine.load_at_start[0] > machine.cores as f64 * 0.5 {
        eprintln!(
            "[bench] warning: the load average is high; other work shares the machine and the numbers will show it"
        );
    }
    let launcher = launcher(&args)?;
    let workers = args.workers.unwrap_or(machine.cores);
    let work_dir = tempfile::Builder::new()
        .prefix("plugboard-bench-")
        .tempdir()?;
    let work = work_dir.path().to_path_buf();
    eprintln!("[bench] working directory {}", work.display());

    let wanted = |section: &str| args.only.is_empty() || args.only.iter().any(|o| o == section);
    let connect = match wanted("connect") {
        true => Some(connect_section(&args, &launcher, workers, &work).await?),
        false => None,
    };
    let (callback, memory, start) = match wanted("callback") || wanted("memory") {
        true => {
            let (c, m, s) = provider_sections(&args, &launcher, workers, &work, &wanted).await?;
            (c, m, s)
        }
        false => (None, None, None),
    };
    let sweep = match wanted("sweep") {
        true => Some(sweep_section(&args, &launcher, workers, &work).await?),
        false => None,
    };
    let (Some(connect), Some(callback), Some(sweep), Some(memory), Some(start)) =
        (connect, callback, sweep, memory, start)
    else {
        eprintln!("[bench] --only: not every section ran, so no report is written");
        return Ok(());
    };
    let report = report::Report {
        machine,
        load_at_end: machine::load_average(),
        command: command_line(),
        connect,
        callback,
        sweep,
        memory,
        start,
        total_secs: started.elapsed().as_secs_f64(),
    };
    std::fs::create_dir_all(&args.out)?;
    let md = args.out.join("performance.md");
    std::fs::write(&md, report.markdown())?;
    std::fs::write(args.out.join(report::CHART_FILE), report.svg())?;
    eprintln!(
        "[bench] wrote {} and {} in {:.0} s",
        md.display(),
        args.out.join(report::CHART_FILE).display(),
        started.elapsed().as_secs_f64()
    );
    if args.keep {
        eprintln!("[bench] kept {}", work_dir.keep().display());
    }
    Ok(())
}

type ProviderSections = (
    Option<callback::CallbackSection>,
    Option<memory::MemorySection>,
    Option<memory::StartSection>,
);

/// The sections that need the sandbox as its own process: callback overhead, memory, start.
async fn provider_sections(
    args: &RunArgs,
    launcher: &Launcher,
    workers: usize,
    work: &std::path::Path,
    wanted: &dyn Fn(&str) -> bool,
) -> Res<ProviderSections> {
    let sandbox = servers::start_sandbox(launcher, &work.join("sandbox.log")).await?;
    let mut callback = None;
    if wanted("callback") {
        let p = progress("callback");
        let cb_server = servers::start_plugboard(
            launcher,
            &ServerSpec {
                data_dir: work.join("callback-data"),
                store: Store::Sqlite,
                platforms: Platforms::External(sandbox.url.clone()),
                workers,
                key: servers::random_key(),
                encryption_key: None,
                extra_env: vec![],
            },
            &work.join("callback-server.log"),
            "callback server",
        )
        .await?;
        let settings = callback::Settings {
            platform: args.platform.clone(),
            flows: args.callback_flows,
            warmup_flows: (args.callback_flows / 10).max(1),
            concurrency: args.callback_concurrency,
            injected_ms: args.callback_latency_ms,
        };
        let c = callback::measure(&cb_server, &sandbox.url, &settings, &p).await?;
        eprintln!(
            "[bench] callback: overhead p50 {:.1} ms, p99 {:.1} ms",
            c.overhead_ms(0.5),
            c.overhead_ms(0.99)
        );
        callback = Some(c);
        cb_server.proc.stop().await;
    }
    let (mut memory, mut start) = (None, None);
    if wanted("memory") {
        let p = progress("memory");
        let settings = memory::Settings {
            workers,
            idle: Duration::from_secs_f64(args.idle_secs),
            flows: args.flows_in_flight,
            in_flight_latency_ms: args.in_flight_latency_ms,
            platform: args.platform.clone(),
            start_runs: args.start_runs,
        };
        let m = memory::memory(launcher, &sandbox.url, &settings, work, &p).await?;
        eprintln!(
            "[bench] memory: idle {} KiB, {} in flight {} KiB",
            m.idle_kib, m.flows, m.in_flight_kib
        );
        memory = Some(m);
        p("start to ready");
        start = Some(memory::start_to_ready(launcher, &settings, work).await?);
    }
    sandbox.proc.stop().await;
    Ok((callback, memory, start))
}

async fn sweep_section(
    args: &RunArgs,
    launcher: &Launcher,
    workers: usize,
    work: &std::path::Path,
) -> Res<sweep::SweepResult> {
    let p = progress("refresh sweep");
    let platforms: Vec<Platform> = if args.sweep_platforms.is_empty() {
        sweep::REFRESH_GRANT_PLATFORMS.to_vec()
    } else {
        args.sweep_platforms
            .iter()
            .map(|s| {
                s.parse::<Platform>()
                    .map_err(|_| BoxError::from(format!("unknown platform {s:?}")))
            })
            .collect::<Res<_>>()?
    };
    let s = sweep::run(
        launcher,
        &sweep::SweepConfig {
            accounts: args.accounts,
            latency_ms: args.sweep_latency_ms,
            platforms,
            workers,
        },
        work,
        &p,
    )
    .await?;
    eprintln!(
        "[bench] refresh sweep: {:.1} s against {:.1} s theoretical ({:.1}%), store {:.2} ms per refresh, barrier allows {:.1}%",
        s.measured.as_secs_f64(),
        s.theoretical.as_secs_f64(),
        s.efficiency() * 100.0,
        s.store_ms_per_refresh,
        s.barrier_efficiency * 100.0
    );
    Ok(s)
}

/// The loopback port of a MongoDB URI (`mongodb://127.0.0.1:<port>/…`).
fn spec_store_port(store: &Store) -> Option<String> {
    let Store::Mongodb { uri, .. } = store else {
        return None;
    };
    let rest = uri.strip_prefix("mongodb://")?;
    let host_port = rest.split(['/', '?']).next()?;
    let (host, port) = host_port.rsplit_once(':')?;
    (host == "127.0.0.1" || host == "localhost").then(|| port.to_owned())
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("plugboard-bench {}", args.join(" "))
}

async fn connect_section(
    args: &RunArgs,
    launcher: &Launcher,
    workers: usize,
    work: &std::path::Path,
) -> Res<connect_url::ConnectSection> {
    let p = progress("connect URL");
    let bare = servers::start_bare(workers, &work.join("bare.log")).await?;
    let mut servers_up = Vec::new();
    for store in &args.stores {
        let (store, encryption_key) = match store.as_str() {
            "sqlite" => (Store::Sqlite, None),
            "mongodb" => {
                p("starting the test MongoDB (nx-27017 unless PLUGBOARD_TEST_MONGODB_URI is set)");
                let uri = plugboard_store::test_server::mongodb_uri().await;
                let database = plugboard_store::test_server::fresh_database_name();
                (
                    Store::Mongodb { uri, database },
                    Some(servers::random_hex(32)),
                )
            }
            other => return Err(format!("unknown store {other:?} (sqlite, mongodb)").into()),
        };
        let label = store.label();
        let server_store = store.clone();
        let server = servers::start_plugboard(
            launcher,
            &ServerSpec {
                data_dir: work.join(format!(
                    "connect-{}",
                    label.to_lowercase().replace(' ', "-")
                )),
                store,
                platforms: Platforms::InProcess,
                workers,
                key: servers::random_key(),
                encryption_key,
                extra_env: vec![],
            },
            &work.join(format!("connect-{}.log", servers_up.len())),
            &format!("server on {label}"),
        )
        .await?;
        let profile = servers::default_profile(&server).await?;
        // The stand-in's own process, when it runs here, for its CPU.
        let helper = match &spec_store_port(&server_store) {
            Some(port) => {
                procs::find_process(&["nx-27017", port]).map(|pid| ("nx-27017".to_owned(), pid))
            }
            None => None,
        };
        servers_up.push((label, server, profile, helper));
    }
    let mut targets = vec![connect_url::Target {
        name: "bare actix-web handler".into(),
        pid: bare.proc.pid,
        addr: bare.addr,
        path: flows::connect_path(&args.platform, "0"),
        authorization: None,
        metrics_url: None,
        helper: None,
    }];
    for (label, server, profile, helper) in &servers_up {
        targets.push(connect_url::Target {
            name: format!("Plugboard, {label}"),
            pid: server.proc.pid,
            addr: server.addr,
            path: flows::connect_path(&args.platform, profile),
            authorization: Some(format!("Bearer {}", server.key)),
            metrics_url: Some(server.url("/metrics")),
            helper: helper.clone(),
        });
    }
    let settings = connect_url::Settings {
        connections: args.connections,
        warmup: Duration::from_secs_f64(args.warmup_secs),
        measure: Duration::from_secs_f64(args.measure_secs),
        rounds: args.rounds,
    };
    let rows = connect_url::measure(&targets, &settings, &p).await?;
    let mut profiled = None;
    if args.profile_secs > 0.0
        && let Some(t) = targets
            .iter()
            .find(|t| t.name.starts_with("Plugboard, SQLite"))
    {
        p("profiling the SQLite server under the same load (not measured)");
        let secs = Duration::from_secs_f64(args.profile_secs);
        let spec = load::LoadSpec {
            addr: t.addr,
            path: t.path.clone(),
            authorization: t.authorization.clone(),
            connections: args.connections,
            warmup: Duration::ZERO,
            measure: secs + Duration::from_millis(500),
        };
        profiled = profile::record("Plugboard on SQLite", t.pid, secs, work, async {
            load::run(&spec).await.map(|_| ())
        })
        .await?;
    }
    for r in &rows {
        eprintln!(
            "[bench] connect URL: {}: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms{}",
            r.name,
            r.result.throughput(),
            r.result.quantile_ms(0.5),
            r.result.quantile_ms(0.99),
            r.breakdown
                .as_ref()
                .map(|b| format!(
                    ", {:.3} ms in the server, {:.3} ms in the store",
                    b.handler_ms, b.store_ms
                ))
                .unwrap_or_default()
        );
    }
    bare.proc.stop().await;
    for (_, server, _, _) in servers_up {
        server.proc.stop().await;
    }
    Ok(connect_url::ConnectSection {
        platform: args.platform.clone(),
        connections: args.connections,
        warmup: settings.warmup,
        measure: settings.measure,
        rounds: settings.rounds,
        client_threads: args.client_threads,
        workers,
        rows,
        profile: profiled,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.mode {
        Mode::Bare { listen, workers } => match bare::serve(&listen, workers) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("plugboard-bench bare: {e}");
                ExitCode::FAILURE
            }
        },
        Mode::AsPlugboard { args } => {
            let cli = plugboard::cli::Cli::parse_from(
                std::iter::once("plugboard".to_owned()).chain(args),
            );
            actix_web::rt::System::new().block_on(plugboard::cli::main_with(cli))
        }
        Mode::Run(args) => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(args.client_threads.max(1))
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("plugboard-bench: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(run(*args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("plugboard-bench: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
