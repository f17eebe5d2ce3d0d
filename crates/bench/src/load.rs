//! The load generator: a fixed number of keep-alive HTTP/1.1 connections (hyper), each
//! sending the next request as soon as the previous answer is read (a closed loop, as `wrk`
//! does), with a warm-up whose requests are not counted. Latency goes into an HdrHistogram
//! per connection, merged at the end.

use crate::Res;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What to load and for how long.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub addr: SocketAddr,
    /// Path and query of every request (`GET`).
    pub path: String,
    /// `Authorization` header value, if any.
    pub authorization: Option<String>,
    pub connections: usize,
    pub warmup: Duration,
    pub measure: Duration,
}

/// What one run measured (only requests that completed inside the measured window).
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub ok: u64,
    /// Non-2xx answers and broken connections (reconnected).
    pub errors: u64,
    /// First non-2xx status seen, for the report.
    pub first_error: Option<String>,
    pub window: Duration,
    /// Microseconds.
    pub latency: Histogram<u64>,
}

impl LoadResult {
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64().max(1e-9)
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    /// Adds another run of the same target (the rounds of one measurement).
    pub fn merge(&mut self, other: &LoadResult) -> Res<()> {
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        self.window += other.window;
        self.latency.add(&other.latency)?;
        Ok(())
    }
}

pub fn histogram() -> Res<Histogram<u64>> {
    // 1 µs to 60 s at three significant digits.
    Ok(Histogram::new_with_bounds(1, 60_000_000, 3)?)
}

struct Counted {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn connect(addr: SocketAddr) -> Res<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes; either is fine here.
        let _ = conn.await;
    });
    Ok(sender)
}

fn request(spec: &LoadSpec) -> Res<hyper::Request<Empty<Bytes>>> {
    let mut req = hyper::Request::get(spec.path.as_str())
        .header(hyper::header::HOST, spec.addr.to_string())
        .header(hyper::header::ACCEPT, "application/json");
    if let Some(auth) = &spec.authorization {
        req = req.header(hyper::header::AUTHORIZATION, auth.as_str());
    }
    Ok(req.body(Empty::new())?)
}

async fn one_connection(spec: LoadSpec, counting_from: Instant, until: Instant) -> Res<Counted> {
    let mut c = Counted {
        ok: 0,
        errors: 0,
        first_error: None,
        latency: histogram()?,
    };
    let mut sender = connect(spec.addr).await?;
    while Instant::now() < until {
        let req = request(&spec)?;
        let started = Instant::now();
        let outcome = async {
            sender.ready().await?;
            let res = sender.send_request(req).await?;
            let status = res.status();
            res.into_body().collect().await?;
            Ok::<_, crate::BoxError>(status)
        }
        .await;
        let done = Instant::now();
        let counted = started >= counting_from && done <= until;
        match outcome {
            Ok(status) if status.is_success() => {
                if counted {
                    c.ok += 1;
                    let micros = u64::try_from((done - started).as_micros()).unwrap_or(u64::MAX);
                    c.latency.saturating_record(micros.max(1));
                }
            }
            Ok(status) => {
                if counted {
                    c.errors += 1;
                }
                c.first_error
                    .get_or_insert_with(|| format!("HTTP {status}"));
            }
            Err(e) => {
                if counted {
                    c.errors += 1;
                }
                c.first_error.get_or_insert_with(|| e.to_string());
                sender = connect(spec.addr).await?;
            }
        }
    }
    Ok(c)
}

/// Runs the load and returns what the measured window saw.
pub async fn run(spec: &LoadSpec) -> Res<LoadResult> {
    let start = Instant::now();
    let counting_from = start + spec.warmup;
    let until = counting_from + spec.measure;
    let tasks: Vec<_> = (0..spec.connections)
        .map(|_| tokio::spawn(one_connection(spec.clone(), counting_from, until)))
        .collect();
    let mut result = LoadResult {
        ok: 0,
        errors: 0,
        first_error: None,
        window: spec.measure,
        latency: histogram()?,
    };
    for t in tasks {
        let c = t.await??;
        result.ok += c.ok;
        result.errors += c.errors;
        if result.first_error.is_none() {
            result.first_error = c.first_error;
        }
        result.latency.add(&c.latency)?;
    }
    Ok(result)
}
