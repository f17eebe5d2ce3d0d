//! `GET /v1/connect/{platform}` at a fixed number of connections: the bare actix-web
//! handler, Plugboard on SQLite and on MongoDB, in interleaved rounds so drift in the
//! machine's load touches each alike.

use crate::Res;
use crate::load::{LoadResult, LoadSpec};
use crate::metrics::{Scrape, histogram_delta, store_delta};
use crate::procs::{control_client, cpu_seconds, own_cpu_seconds};
use crate::profile::Profile;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub pid: u32,
    pub addr: SocketAddr,
    pub path: String,
    pub authorization: Option<String>,
    /// `/metrics` of a Plugboard target, for the time breakdown.
    pub metrics_url: Option<String>,
    /// Another process the target depends on (the MongoDB stand-in), whose CPU is shown.
    pub helper: Option<(String, u32)>,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub result: LoadResult,
    pub server_cpu_cores: f64,
    pub client_cpu_cores: f64,
    /// (what, cores) of the target's helper process.
    pub helper_cpu: Option<(String, f64)>,
    pub breakdown: Option<Breakdown>,
}

/// Server-side means per request, from the server's own metrics.
#[derive(Debug, Clone)]
pub struct Breakdown {
    pub handler_ms: f64,
    pub store_ms: f64,
    pub store_ops: f64,
    /// Per store operation kind (SQLite: read, write; MongoDB: the command): operations per
    /// request and mean milliseconds each.
    pub by_operation: Vec<(String, f64, f64)>,
}

#[derive(Debug, Clone)]
pub struct ConnectSection {
    pub platform: String,
    pub connections: usize,
    pub warmup: Duration,
    pub measure: Duration,
    pub rounds: usize,
    pub client_threads: usize,
    pub workers: usize,
    pub rows: Vec<Row>,
    pub profile: Option<Profile>,
}

impl ConnectSection {
    pub fn bare(&self) -> Option<&Row> {
        self.rows.first()
    }
}

/// One request through, so a misconfiguration fails before the timed part.
async fn check(target: &Target) -> Res<()> {
    let url = format!("http://{}{}", target.addr, target.path);
    let mut req = control_client()?.get(&url);
    if let Some(a) = &target.authorization {
        req = req.header("Authorization", a);
    }
    let r = req.send().await?;
    let status = r.status();
    let body = r.text().await?;
    if !status.is_success() || !body.contains("authUrl") {
        return Err(format!("{}: {url} answered {status}: {body}", target.name).into());
    }
    Ok(())
}

pub struct Settings {
    pub connections: usize,
    pub warmup: Duration,
    pub measure: Duration,
    pub rounds: usize,
}

pub async fn measure(targets: &[Target], s: &Settings, progress: &dyn Fn(&str)) -> Res<Vec<Row>> {
    for t in targets {
        check(t).await?;
    }
    let client = control_client()?;
    let mut rows: Vec<Option<Row>> = vec![None; targets.len()];
    for round in 0..s.rounds {
        for (i, t) in targets.iter().enumerate() {
            progress(&format!(
                "round {}/{}: {} ({} connections, {:.0} s + {:.0} s warm-up)",
                round + 1,
                s.rounds,
                t.name,
                s.connections,
                s.measure.as_secs_f64(),
                s.warmup.as_secs_f64()
            ));
            let spec = LoadSpec {
                addr: t.addr,
                path: t.path.clone(),
                authorization: t.authorization.clone(),
                connections: s.connections,
                warmup: s.warmup,
                measure: s.measure,
            };
            // CPU and metrics are read around the whole run; the warm-up's share is
            // taken out by scaling with the measured window.
            let before = match &t.metrics_url {
                Some(u) => Some(Scrape::fetch(&client, u).await?),
                None => None,
            };
            let (srv0, own0) = (cpu_seconds(t.pid)?, own_cpu_seconds()?);
            let helper0 = match &t.helper {
                Some((_, pid)) => cpu_seconds(*pid).ok(),
                None => None,
            };
            let result = crate::load::run(&spec).await?;
            let (srv1, own1) = (cpu_seconds(t.pid)?, own_cpu_seconds()?);
            let helper_cpu = match (&t.helper, helper0) {
                (Some((what, pid)), Some(before)) => cpu_seconds(*pid)
                    .ok()
                    .map(|after| (what.clone(), after - before)),
                _ => None,
            };
            let total = (s.warmup + s.measure).as_secs_f64();
            let breakdown = match (&t.metrics_url, before) {
                (Some(u), Some(before)) => {
                    let after = Scrape::fetch(&client, u).await?;
                    let handler = histogram_delta(
                        &before,
                        &after,
                        "plugboard_http_request_duration_seconds",
                        &[("route", "/v1/connect/{platform}")],
                    );
                    let store = store_delta(&before, &after);
                    let n = handler.count.max(1.0);
                    let name = "plugboard_store_operation_duration_seconds";
                    let mut by_operation: Vec<(String, f64, f64)> = after
                        .label_values(&format!("{name}_count"), "operation")
                        .into_iter()
                        .filter_map(|op| {
                            let d = histogram_delta(
                                &before,
                                &after,
                                name,
                                &[("operation", op.as_str())],
                            );
                            (d.count > 0.0).then(|| (op, d.count / n, d.seconds * 1000.0 / d.count))
                        })
                        .collect();
                    by_operation.sort_by(|a, b| (b.1 * b.2).total_cmp(&(a.1 * a.2)));
                    Some(Breakdown {
                        handler_ms: handler.seconds * 1000.0 / n,
                        store_ms: store.seconds * 1000.0 / n,
                        store_ops: store.count / n,
                        by_operation,
                    })
                }
                _ => None,
            };
            let row = Row {
                name: t.name.clone(),
                server_cpu_cores: (srv1 - srv0) / total,
                client_cpu_cores: (own1 - own0) / total,
                helper_cpu: helper_cpu.map(|(what, secs)| (what, secs / total)),
                breakdown,
                result,
            };
            match &mut rows[i] {
                Some(existing) => {
                    existing.result.merge(&row.result)?;
                    // Means over rounds, weighted alike (rounds are equally long).
                    let k = (round + 1) as f64;
                    existing.server_cpu_cores +=
                        (row.server_cpu_cores - existing.server_cpu_cores) / k;
                    existing.client_cpu_cores +=
                        (row.client_cpu_cores - existing.client_cpu_cores) / k;
                    if let (Some(e), Some(h)) = (&mut existing.helper_cpu, &row.helper_cpu) {
                        e.1 += (h.1 - e.1) / k;
                    }
                    if let (Some(e), Some(b)) = (&mut existing.breakdown, &row.breakdown) {
                        e.handler_ms += (b.handler_ms - e.handler_ms) / k;
                        e.store_ms += (b.store_ms - e.store_ms) / k;
                        e.store_ops += (b.store_ops - e.store_ops) / k;
                        for (op, per, ms) in &mut e.by_operation {
                            if let Some((_, bper, bms)) =
                                b.by_operation.iter().find(|(o, _, _)| o == op)
                            {
                                *per += (bper - *per) / k;
                                *ms += (bms - *ms) / k;
                            }
                        }
                    }
                }
                slot @ None => *slot = Some(row),
            }
        }
    }
    Ok(rows.into_iter().flatten().collect())
}
