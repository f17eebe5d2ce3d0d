//! `docs/performance.md` and its chart, `docs/performance.svg`.

use crate::callback::CallbackSection;
use crate::connect_url::ConnectSection;
use crate::machine::Machine;
use crate::memory::{MemorySection, StartSection};
use crate::profile::Profile;
use crate::sweep::SweepResult;
use std::fmt::Write as _;

pub const CHART_FILE: &str = "performance.svg";

pub struct Report {
    pub machine: Machine,
    pub load_at_end: [f64; 3],
    pub command: String,
    pub connect: ConnectSection,
    pub callback: CallbackSection,
    pub sweep: SweepResult,
    pub memory: MemorySection,
    pub start: StartSection,
    pub total_secs: f64,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

struct Targets {
    ratio_sqlite: Option<f64>,
    ratio_mongo: Option<f64>,
    p99_sqlite: Option<f64>,
    sweep: f64,
    doubles: u64,
    idle_mib: f64,
}

impl Report {
    fn ratio(&self, name_prefix: &str) -> Option<f64> {
        let bare = self.connect.bare()?.result.throughput();
        self.connect
            .rows
            .iter()
            .find(|r| r.name.starts_with(name_prefix))
            .map(|r| r.result.throughput() / bare.max(1e-9))
    }

    fn targets(&self) -> Targets {
        let sqlite = self
            .connect
            .rows
            .iter()
            .find(|r| r.name.starts_with("Plugboard, SQLite"));
        Targets {
            ratio_sqlite: self.ratio("Plugboard, SQLite"),
            ratio_mongo: self.ratio("Plugboard, MongoDB"),
            p99_sqlite: sqlite.map(|r| r.result.quantile_ms(0.99)),
            sweep: self.sweep.efficiency(),
            doubles: self.sweep.users_refreshed_twice + self.sweep.rotated_reused,
            idle_mib: mib(self.memory.idle_kib),
        }
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let m = &self.machine;
        let t = self.targets();
        let _ = writeln!(md, "# Performance\n");
        let _ = writeln!(
            md,
            "Written by `just bench` ([crates/bench](../crates/bench)) on {}, commit {}, in {:.0} s. \
             Do not edit by hand: run `just bench` again (sizes are options: \
             `cargo run --release -p plugboard-bench -- run --help`).\n",
            m.date, m.commit, self.total_secs
        );
        let _ = writeln!(md, "## Machine\n");
        let _ = writeln!(
            md,
            "| cores | CPU | memory | kernel | load average at start (1, 5, 15 min) | at end | toolchain |\n|---|---|---|---|---|---|---|"
        );
        let _ = writeln!(
            md,
            "| {} | {} | {:.0} GiB | {} | {:.2}, {:.2}, {:.2} | {:.2}, {:.2}, {:.2} | {} |\n",
            m.cores,
            m.cpu,
            m.memory_gib,
            m.kernel,
            m.load_at_start[0],
            m.load_at_start[1],
            m.load_at_start[2],
            self.load_at_end[0],
            self.load_at_end[1],
            self.load_at_end[2],
            m.rustc
        );
        let _ = writeln!(
            md,
            "Everything runs on this one machine: the load generator, the servers under test, the \
             sandbox and the MongoDB stand-in share its {} cores, so absolute numbers are lower \
             than on a dedicated server and the ratios are what carries over.{}\n",
            m.cores,
            if m.load_at_start[0] > m.cores as f64 * 0.5 {
                " **The load average at start was high: other work shared the machine.**"
            } else {
                ""
            }
        );
        let _ = writeln!(md, "## Targets\n");
        let _ = writeln!(md, "Reported, not asserted.\n");
        let _ = writeln!(md, "| target | measured | |\n|---|---|---|");
        if let Some(r) = t.ratio_sqlite {
            let _ = writeln!(
                md,
                "| connect URL ≥ 50% of the bare actix-web handler (SQLite) | {:.0}% | {} |",
                r * 100.0,
                verdict(r >= 0.5)
            );
        }
        if let Some(r) = t.ratio_mongo {
            let _ = writeln!(
                md,
                "| connect URL ≥ 50% of the bare handler (MongoDB stand-in) | {:.0}% | {} |",
                r * 100.0,
                verdict(r >= 0.5)
            );
        }
        if let Some(p) = t.p99_sqlite {
            let _ = writeln!(
                md,
                "| connect URL p99 ≤ 5 ms at {} connections on SQLite | {:.2} ms | {} |",
                self.connect.connections,
                p,
                verdict(p <= 5.0)
            );
        }
        let _ = writeln!(
            md,
            "| refresh sweep ≥ 90% of theoretical, zero double refreshes | {:.1}%, {} double | {} |",
            t.sweep * 100.0,
            t.doubles,
            verdict(t.sweep >= 0.9 && t.doubles == 0)
        );
        let _ = writeln!(
            md,
            "| RSS ≤ 50 MB idle | {:.1} MiB | {} |\n",
            t.idle_mib,
            verdict(t.idle_mib <= 50.0)
        );
        let _ = writeln!(
            md,
            "![Connect-URL throughput against the bare handler, and the refresh sweep against its theoretical time]({CHART_FILE})\n"
        );
        self.connect_md(&mut md);
        self.callback_md(&mut md);
        self.sweep_md(&mut md);
        self.memory_md(&mut md);
        self.where_time_goes(&mut md, &t);
        let _ = writeln!(md, "## Reproducing\n");
        let _ = writeln!(
            md,
            "`just bench` builds `plugboard` and `plugboard-bench` in release mode and runs `{}`. \
             It starts every process itself on loopback ports: the release `plugboard serve` \
             (one per store and section, each on a fresh data directory or database), `plugboard \
             sandbox --listen` for the sections that need a provider latency, the bare handler \
             (this binary re-run as `plugboard-bench bare`), and nx-27017 (installed into \
             `~/.cache/plugboard/venv` when missing, as the tests do) unless \
             `PLUGBOARD_TEST_MONGODB_URI` names a MongoDB. **nx-27017 is a MongoDB wire-protocol \
             stand-in backed by SQLite, not a real MongoDB**: its numbers say how Plugboard's \
             MongoDB backend behaves against that stand-in, not against a MongoDB replica set. \
             Servers run with `PLUGBOARD_LOG=info` (one log line per request, as deployed) and a \
             per-key rate limit high enough never to refuse the load generator (the limiter \
             still runs). `--only connect` (or callback, memory, sweep) runs a section alone and \
             prints its numbers without writing the report. The smoke test (`cargo test -p \
             plugboard-bench`) runs the same harness at toy sizes and asserts no number.\n",
            self.command
        );
        md
    }

    fn connect_md(&self, md: &mut String) {
        let c = &self.connect;
        let _ = writeln!(md, "## 1. `GET /v1/connect/{}`\n", c.platform);
        let _ = writeln!(
            md,
            "{} keep-alive connections, closed loop (each sends its next request when the answer \
             is in), {} round(s) of {:.0} s measured after {:.0} s of warm-up per target, targets \
             interleaved within each round; load generator: tokio + hyper on {} thread(s), \
             latency in an HdrHistogram. Servers: {} actix-web workers each. Plugboard: an API \
             key, the sandbox on (the authorization URL points at it; no provider is called), \
             a stored connect session per request. The bare handler: the same actix-web \
             (workspace version) and worker count, one route answering a connect-URL-shaped JSON \
             body with a fresh random state, no middleware, authentication or store.\n",
            c.connections,
            c.rounds,
            c.measure.as_secs_f64(),
            c.warmup.as_secs_f64(),
            c.client_threads,
            c.workers
        );
        let bare = c.bare().map(|b| b.result.throughput()).unwrap_or(0.0);
        let _ = writeln!(
            md,
            "| target | requests/s | of bare | p50 | p99 | p99.9 | max | errors | server CPU | CPU per request | load generator CPU |\n|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for r in &c.rows {
            let helper = r
                .helper_cpu
                .as_ref()
                .map(|(what, cores)| format!(" (+ {what} {cores:.2})"))
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| {} | {:.0} | {:.0}% | {:.2} ms | {:.2} ms | {:.2} ms | {:.1} ms | {}{} | {:.2} cores{} | {:.0} µs | {:.2} cores |",
                r.name,
                r.result.throughput(),
                r.result.throughput() / bare.max(1e-9) * 100.0,
                r.result.quantile_ms(0.5),
                r.result.quantile_ms(0.99),
                r.result.quantile_ms(0.999),
                r.result.latency.max() as f64 / 1000.0,
                r.result.errors,
                r.result
                    .first_error
                    .as_ref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default(),
                r.server_cpu_cores,
                helper,
                cpu_per_request_us(r),
                r.client_cpu_cores
            );
        }
        let _ = writeln!(md);
        let with_breakdown: Vec<_> = c.rows.iter().filter(|r| r.breakdown.is_some()).collect();
        if !with_breakdown.is_empty() {
            let _ = writeln!(
                md,
                "Server-side means per request, from the server's own metrics \
                 (`plugboard_http_request_duration_seconds` — from the middleware's start to the \
                 handler's answer —, `plugboard_store_operation_duration_seconds`):\n"
            );
            let _ = writeln!(
                md,
                "| target | in the server | of which store | store operations | per operation (count per request × mean) |\n|---|---|---|---|---|"
            );
            for r in with_breakdown {
                if let Some(b) = &r.breakdown {
                    let ops: Vec<String> = b
                        .by_operation
                        .iter()
                        .filter(|(_, per, _)| *per >= 0.05)
                        .map(|(op, per, ms)| format!("{op} {per:.1} × {ms:.3} ms"))
                        .collect();
                    let _ = writeln!(
                        md,
                        "| {} | {:.3} ms | {:.3} ms | {:.1} | {} |",
                        r.name,
                        b.handler_ms,
                        b.store_ms,
                        b.store_ops,
                        ops.join(", ")
                    );
                }
            }
            let _ = writeln!(md);
        }
        if let Some(p) = &c.profile {
            profile_md(md, p);
        }
    }

    fn callback_md(&self, md: &mut String) {
        let c = &self.callback;
        let _ = writeln!(md, "## 2. Callback overhead\n");
        let _ = writeln!(
            md,
            "`GET /connect/{p}/callback?code=…&state=…` as a browser sends it, timed at the \
             client from request to the `302` to the integrator; {n} flows after warm-up, {k} at \
             a time, each a new {p} user (so each callback stores a new account). The sandbox \
             runs as its own process (`plugboard sandbox --listen`) with its token endpoint \
             slowed by `{{\"token\":\"slow\",\"slowMillis\":{ms}}}`. Overhead = callback time − \
             {ms} ms; it includes the identity call to the sandbox, which is not slowed.\n",
            p = c.platform,
            n = c.flows,
            k = c.concurrency,
            ms = c.injected_ms
        );
        let _ = writeln!(
            md,
            "| injected | callback p50 | overhead p50 | overhead p99 | overhead mean |\n|---|---|---|---|---|"
        );
        let _ = writeln!(
            md,
            "| {} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |\n",
            c.injected_ms,
            c.total.value_at_quantile(0.5) as f64 / 1000.0,
            c.overhead_ms(0.5),
            c.overhead_ms(0.99),
            c.mean_overhead_ms()
        );
        let client_mean = c.total.mean() / 1000.0;
        let _ = writeln!(
            md,
            "Where the mean goes (server metrics `plugboard_callback_duration_seconds` and \
             `plugboard_token_exchange_duration_seconds`): token exchange {:.1} ms \
             ({:.1} ms beyond the injected latency: HTTP to the sandbox, its checks, parsing); \
             the rest of the callback in the server {:.1} ms (taking the session, the identity \
             call, sealing and storing the account, the redirect); outside the callback's timer \
             (HTTP in and out of the server, routing, middleware, the client) {:.1} ms.\n",
            c.server_exchange_ms,
            c.server_exchange_ms - c.injected_ms as f64,
            c.server_callback_ms - c.server_exchange_ms,
            client_mean - c.server_callback_ms
        );
    }

    fn sweep_md(&self, md: &mut String) {
        let s = &self.sweep;
        let _ = writeln!(md, "## 3. Refresh sweep\n");
        let mix: Vec<String> = s
            .shares
            .iter()
            .map(|p| format!("{} {} (×{})", p.platform, p.accounts, p.concurrency))
            .collect();
        let _ = writeln!(
            md,
            "{} accounts seeded through the store API (`plugboard_store`, sealed with the \
             server's key, tokens due in 2–4 minutes) in {:.1} s, their refresh tokens \
             registered at the sandbox with `POST /sandbox/_grants`, every token endpoint slowed \
             to {} ms; then a release `plugboard serve` on SQLite, platforms pointed at the \
             sandbox process, `PLUGBOARD_REFRESH_INTERVAL_SECONDS=1`. Accounts per platform \
             (× its `refresh_concurrency`): {}. Theoretical = max over platforms of accounts × \
             latency ÷ concurrency. Measured from the first refresh's start (its account's \
             `updated_at`) to the moment `/metrics` counted the last one (polled every 25 ms).\n",
            s.accounts,
            s.seeding.as_secs_f64(),
            s.latency_ms,
            mix.join(", ")
        );
        let not: Vec<String> = s
            .not_refreshed
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        let _ = writeln!(
            md,
            "| accounts | latency | theoretical | measured | of theoretical | refreshed | other outcomes | users refreshed (sandbox) | refreshed twice | rotated tokens reused |\n|---|---|---|---|---|---|---|---|---|---|"
        );
        let _ = writeln!(
            md,
            "| {} | {} ms | {:.1} s | {:.1} s | {:.1}% | {} | {} | {} | {} | {} |\n",
            s.accounts,
            s.latency_ms,
            s.theoretical.as_secs_f64(),
            s.measured.as_secs_f64(),
            s.efficiency() * 100.0,
            s.refreshed,
            if not.is_empty() {
                "none".to_owned()
            } else {
                not.join(", ")
            },
            s.users_refreshed,
            s.users_refreshed_twice,
            s.rotated_reused
        );
        let _ = writeln!(
            md,
            "During the sweep the server used {:.2} cores and the sandbox {:.2}; the store took \
             {:.2} ms per refresh over {:.1} operations (leases, re-read, swap). The pass \
             structure alone (batches of {} in expiry order; a pass lasts as long as its slowest \
             platform's rounds) allows {:.1}% of theoretical with this mix.\n",
            s.server_cpu_cores,
            s.sandbox_cpu_cores,
            s.store_ms_per_refresh,
            s.store_ops_per_refresh,
            crate::sweep::SERVICE_BATCH,
            s.barrier_efficiency * 100.0
        );
    }

    fn memory_md(&self, md: &mut String) {
        let m = &self.memory;
        let s = &self.start;
        let _ = writeln!(md, "## 4. Memory and start\n");
        let _ = writeln!(
            md,
            "The release binary on SQLite, platforms at the sandbox process. RSS is `VmRSS` from \
             `/proc/<pid>/status`; peak is `VmHWM`. Flows in flight: {n} connects started \
             (sessions stored, users at the consent page), then their {n} callbacks sent at once \
             while the token endpoint takes {lat} ms, sampled every 50 ms.\n",
            n = m.flows,
            lat = m.in_flight_latency_ms
        );
        let _ = writeln!(
            md,
            "| RSS idle ({:.0} s after ready) | {} flows started | {} callbacks in flight | peak |\n|---|---|---|---|",
            m.idle_after.as_secs_f64(),
            m.flows,
            m.flows
        );
        let _ = writeln!(
            md,
            "| {:.1} MiB | {:.1} MiB | {:.1} MiB ({} in flight at that sample) | {:.1} MiB |\n",
            mib(m.idle_kib),
            mib(m.started_kib),
            mib(m.in_flight_kib),
            m.in_flight_seen,
            mib(m.peak_kib)
        );
        let ms = |d: &std::time::Duration| format!("{:.0}", d.as_secs_f64() * 1000.0);
        let _ = writeln!(
            md,
            "Start to ready (spawn until `/readyz` answers 200, polled every millisecond), {} \
             run(s) each, SQLite with the built-in sandbox:\n",
            s.fresh.len()
        );
        let _ = writeln!(md, "| data directory | median | runs |\n|---|---|---|");
        let _ = writeln!(
            md,
            "| fresh (creates the database, key, owner, profile, API key) | {} ms | {} |",
            ms(&s.fresh_median()),
            s.fresh.iter().map(ms).collect::<Vec<_>>().join(", ")
        );
        let _ = writeln!(
            md,
            "| existing | {} ms | {} |\n",
            ms(&s.existing_median()),
            s.existing.iter().map(ms).collect::<Vec<_>>().join(", ")
        );
    }

    fn where_time_goes(&self, md: &mut String, t: &Targets) {
        let mut notes = Vec::new();
        let sqlite = self
            .connect
            .rows
            .iter()
            .find(|r| r.name.starts_with("Plugboard, SQLite"));
        let connect_missed = t.ratio_sqlite.is_some_and(|r| r < 0.5)
            || t.ratio_mongo.is_some_and(|r| r < 0.5)
            || t.p99_sqlite.is_some_and(|p| p > 5.0);
        if connect_missed && let Some(r) = sqlite {
            let bare = self.connect.bare();
            let mut s = format!(
                "**Connect URL on SQLite.** At {} connections a closed loop's latency is \
                 connections ÷ throughput: {:.0} requests/s means {:.2} ms per request on \
                 average, so p99 ≤ 5 ms needs roughly {:.0} requests/s here. Each request costs \
                 the server {:.0} µs of CPU, the bare handler {:.1} µs{}: the ratio target \
                 would need the whole of a connect start — the API key lookup, the profile \
                 check, sealing the PKCE verifier, one stored session, a log line — in about \
                 twice the bare handler's CPU.",
                self.connect.connections,
                r.result.throughput(),
                self.connect.connections as f64 / r.result.throughput().max(1e-9) * 1000.0,
                self.connect.connections as f64 / 0.004,
                cpu_per_request_us(r),
                bare.map(cpu_per_request_us).unwrap_or(0.0),
                if self.machine.cores <= 2 {
                    " (with the load generator, both on the same two cores)"
                } else {
                    ""
                }
            );
            if let Some(b) = &r.breakdown {
                let ops: Vec<String> = b
                    .by_operation
                    .iter()
                    .filter(|(_, per, _)| *per >= 0.05)
                    .map(|(op, per, ms)| format!("{per:.1} {op}(s) of {ms:.3} ms"))
                    .collect();
                let _ = write!(
                    s,
                    " Inside the server a request takes {:.3} ms on average, {:.3} ms of it in \
                     the store: {}. Each store call waits for one of the pool's four SQLite \
                     connections and for a thread of tokio's blocking pool to run it, and SQLite \
                     runs one write transaction at a time: with 64 requests in flight, that queue \
                     is the latency. The server used {:.2} cores.",
                    b.handler_ms,
                    b.store_ms,
                    ops.join(", "),
                    r.server_cpu_cores
                );
            }
            match &self.connect.profile {
                Some(p) if !p.inclusive.is_empty() => {
                    let frames: Vec<String> = p
                        .inclusive
                        .iter()
                        .skip(2)
                        .map(|(what, pct)| format!("{} {pct:.0}%", what.trim()))
                        .collect();
                    let _ = write!(
                        s,
                        " The CPU profile of the SQLite server (above), as shares of its samples: {}.",
                        frames.join("; ")
                    );
                }
                Some(p) => {
                    let areas: Vec<String> = p
                        .areas
                        .iter()
                        .take(5)
                        .map(|(a, pct)| format!("{a} {pct:.0}%"))
                        .collect();
                    let _ = write!(
                        s,
                        " The CPU profile of the SQLite server (above) splits its time into {}.",
                        areas.join(", ")
                    );
                }
                None => s.push_str(
                    " No CPU profile was taken (`perf` was not available or `--profile-secs 0`).",
                ),
            }
            notes.push(s);
        }
        let mongo = self
            .connect
            .rows
            .iter()
            .find(|r| r.name.starts_with("Plugboard, MongoDB"));
        if t.ratio_mongo.is_some_and(|r| r < 0.5)
            && let Some(r) = mongo
            && let Some(b) = &r.breakdown
        {
            let helper = r
                .helper_cpu
                .as_ref()
                .map(|(what, cores)| format!(", while {what} used {cores:.2} cores"))
                .unwrap_or_default();
            notes.push(format!(
                "**Connect URL on the MongoDB stand-in.** {:.0} requests/s; a request spends \
                 {:.1} ms in the server but only {:.1} ms in store commands (the driver's \
                 command monitoring: from sending a command to its reply). The rest is, presumably, waiting \
                 for one of the driver's pooled connections (10 by default) to the stand-in. \
                 Plugboard itself used {:.2} cores{}: nx-27017 is one Python process \
                 answering {:.1} commands per request, and it — not Plugboard, and not a real \
                 MongoDB — sets this number.",
                r.result.throughput(),
                b.handler_ms,
                b.store_ms,
                r.server_cpu_cores,
                helper,
                b.store_ops
            ));
        }
        if t.sweep < 0.9 || t.doubles > 0 {
            let s = &self.sweep;
            notes.push(format!(
                "**Refresh sweep.** {:.1} s measured against {:.1} s theoretical. The pass \
                 structure alone allows {:.1}% (each batch of {} ends when its slowest \
                 platform's last round does); the rest is per-refresh work outside the injected \
                 latency: {:.2} ms of store time over {:.1} operations per refresh, the HTTP call \
                 to the sandbox, and sealing — with the server at {:.2} cores and the sandbox at \
                 {:.2} of the machine's {}.",
                s.measured.as_secs_f64(),
                s.theoretical.as_secs_f64(),
                s.barrier_efficiency * 100.0,
                crate::sweep::SERVICE_BATCH,
                s.store_ms_per_refresh,
                s.store_ops_per_refresh,
                s.server_cpu_cores,
                s.sandbox_cpu_cores,
                self.machine.cores
            ));
        }
        if t.idle_mib > 50.0 {
            notes.push(format!("**Idle RSS.** {:.1} MiB.", t.idle_mib));
        }
        if notes.is_empty() {
            return;
        }
        let _ = writeln!(md, "## Where the time goes (targets missed)\n");
        for n in notes {
            let _ = writeln!(md, "{n}\n");
        }
    }

    pub fn svg(&self) -> String {
        chart(self)
    }
}

/// Server CPU per answered request, microseconds.
fn cpu_per_request_us(r: &crate::connect_url::Row) -> f64 {
    r.server_cpu_cores / r.result.throughput().max(1e-9) * 1e6
}

fn profile_md(md: &mut String, p: &Profile) {
    let _ = writeln!(
        md,
        "CPU profile of {} under the same load (an extra, unmeasured {:.0} s run; `perf record \
         -F 199 --call-graph dwarf -p <pid>`, about {} samples of the server's threads \
         while on a CPU).\n",
        p.target, p.seconds, p.samples
    );
    if !p.inclusive.is_empty() {
        let _ = writeln!(
            md,
            "Share of samples with each frame on the stack (inclusive; nested rows are part \
             of the row above):\n\n| where | share |\n|---|---|"
        );
        for (what, pct) in &p.inclusive {
            let _ = writeln!(md, "| {what} | {pct:.1}% |");
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(
        md,
        "Self time (flat), grouped by area by symbol name:\n\n| area | share |\n|---|---|"
    );
    for (a, pct) in &p.areas {
        let _ = writeln!(md, "| {a} | {pct:.1}% |");
    }
    let _ = writeln!(
        md,
        "\n<details><summary>Hottest symbols</summary>\n\n| self | object | symbol |\n|---|---|---|"
    );
    for (pct, dso, sym) in &p.top {
        let sym: String = sym.chars().take(110).collect();
        let _ = writeln!(
            md,
            "| {pct:.2}% | {} | `{}` |",
            dso.replace('|', "\\|"),
            sym.replace('|', "\\|").replace('`', "'")
        );
    }
    let _ = writeln!(md, "\n</details>\n");
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Two panels: connect-URL throughput per target (bars, with p99), and the sweep's progress
/// against the theoretical line.
fn chart(r: &Report) -> String {
    let (w, h) = (960.0_f64, 380.0_f64);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>");
    // Left panel: bars.
    let (x0, y0, pw, ph) = (20.0, 40.0, 440.0, 300.0);
    let _ = writeln!(
        s,
        "<text x=\"{x0}\" y=\"22\" font-size=\"14\" font-weight=\"bold\">GET /v1/connect/{} at {} connections</text>",
        esc(&r.connect.platform),
        r.connect.connections
    );
    let rows = &r.connect.rows;
    let max = rows
        .iter()
        .map(|x| x.result.throughput())
        .fold(1.0, f64::max);
    let bare = r
        .connect
        .bare()
        .map(|b| b.result.throughput())
        .unwrap_or(1.0);
    let bar_h = (ph / rows.len().max(1) as f64).min(70.0);
    let colors = ["#9e9e9e", "#1f77b4", "#2ca02c", "#ff7f0e"];
    for (i, row) in rows.iter().enumerate() {
        let y = y0 + i as f64 * bar_h;
        let tp = row.result.throughput();
        let len = (pw - 10.0) * tp / max;
        let color = colors.get(i).copied().unwrap_or("#1f77b4");
        let _ = writeln!(
            s,
            "<text x=\"{x0}\" y=\"{:.1}\">{}</text>",
            y + 14.0,
            esc(&row.name)
        );
        let _ = writeln!(
            s,
            "<rect x=\"{x0}\" y=\"{:.1}\" width=\"{len:.1}\" height=\"{:.1}\" fill=\"{color}\"/>",
            y + 20.0,
            bar_h - 34.0
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"black\">{:.0} req/s · {:.0}% of bare · p50 {:.2} ms · p99 {:.2} ms</text>",
            x0 + 4.0,
            y + bar_h - 2.0,
            tp,
            tp / bare.max(1e-9) * 100.0,
            row.result.quantile_ms(0.5),
            row.result.quantile_ms(0.99)
        );
    }
    // Right panel: sweep progress.
    let (x1, y1, qw, qh) = (530.0, 40.0, 400.0, 290.0);
    let sw = &r.sweep;
    let _ = writeln!(
        s,
        "<text x=\"{x1}\" y=\"22\" font-size=\"14\" font-weight=\"bold\">Refresh sweep: {} accounts, {} ms per refresh</text>",
        sw.accounts, sw.latency_ms
    );
    let t_max = sw
        .measured
        .as_secs_f64()
        .max(sw.theoretical.as_secs_f64())
        .max(1e-3)
        * 1.05;
    let n_max = sw.accounts.max(1) as f64;
    let px = |t: f64| x1 + 40.0 + (qw - 40.0) * t / t_max;
    let py = |n: f64| y1 + qh - 20.0 - (qh - 20.0) * n / n_max;
    let _ = writeln!(
        s,
        "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\"/>",
        px(0.0),
        py(0.0),
        px(t_max),
        py(0.0)
    );
    let _ = writeln!(
        s,
        "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\"/>",
        px(0.0),
        py(0.0),
        px(0.0),
        py(n_max)
    );
    for k in 0..=4 {
        let t = t_max * k as f64 / 4.0;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.0} s</text>",
            px(t),
            py(0.0) + 15.0,
            t
        );
        let n = n_max * k as f64 / 4.0;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            px(0.0) - 4.0,
            py(n) + 4.0,
            compact(n)
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#9e9e9e\" stroke-dasharray=\"5,4\" stroke-width=\"2\"/>",
        px(0.0),
        py(0.0),
        px(sw.theoretical.as_secs_f64()),
        py(n_max)
    );
    let mut points = format!("{:.1},{:.1}", px(0.0), py(0.0));
    for (t, n) in &sw.timeline {
        let _ = write!(points, " {:.1},{:.1}", px(*t), py(*n as f64));
    }
    let _ = writeln!(
        s,
        "<polyline points=\"{points}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\"/>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#616161\">theoretical {:.1} s (dashed)</text>",
        px(t_max),
        py(0.0) - 40.0,
        sw.theoretical.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#1f77b4\">measured {:.1} s ({:.1}% of theoretical), {} double refreshes</text>",
        px(t_max),
        py(0.0) - 24.0,
        sw.measured.as_secs_f64(),
        sw.efficiency() * 100.0,
        sw.users_refreshed_twice + sw.rotated_reused
    );
    let _ = writeln!(
        s,
        "<text x=\"{w:.0}\" y=\"{:.0}\" text-anchor=\"end\" fill=\"#616161\" font-size=\"10\">{} cores · {} · load {:.2} at start · {}</text>",
        h - 6.0,
        r.machine.cores,
        esc(&r.machine.cpu),
        r.machine.load_at_start[0],
        esc(&r.machine.date)
    );
    s.push_str("</svg>\n");
    s
}

fn compact(n: f64) -> String {
    if n >= 1000.0 {
        format!("{:.0}k", n / 1000.0)
    } else {
        format!("{n:.0}")
    }
}
