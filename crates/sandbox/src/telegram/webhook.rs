//! `setWebhook`, `deleteWebhook`, `getWebhookInfo`, and the delivery of updates to a set
//! webhook.
//!
//! Telegram POSTs each update as JSON to the URL, with `X-Telegram-Bot-Api-Secret-Token`
//! when a secret was set, one at a time and in order; a non-2xx answer is retried and,
//! after a few attempts, the update is given up and the failure shown in
//! `getWebhookInfo.last_error_*`. Unlike Telegram the sandbox also accepts plain `http`
//! URLs on any port (loopback tests), and delivers only to those: it carries no TLS client.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::{Value, json};
use url::Url;

use super::api::{ApiError, Reply};
use super::params::Params;
use super::world::{Webhook, World, with_world};
use crate::state::now;

/// First try plus retries; short so tests see a give-up within seconds.
const MAX_ATTEMPTS: u32 = 4;
const RETRY_DELAYS_MS: [u64; 3] = [200, 500, 1000];
const IO_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn set(w: &mut World, token: &str, p: &Params) -> Result<Reply, ApiError> {
    let raw = p.string("url").unwrap_or_default();
    if raw.trim().is_empty() {
        // Telegram: "Use an empty string to remove webhook integration".
        return delete(w, token, p);
    }
    let url = Url::parse(raw.trim())
        .map_err(|_| ApiError::bad_request("Bad Request: can't parse URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ApiError::bad_request(
            "Bad Request: bad webhook: HTTPS url must be provided for webhook",
        ));
    }
    let secret_token = p.string("secret_token").filter(|s| !s.is_empty());
    if let Some(s) = &secret_token {
        // Bot API, setWebhook: 1-256 characters, only A-Z, a-z, 0-9, _ and -.
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if s.len() > 256 || !s.chars().all(allowed) {
            return Err(ApiError::bad_request(
                "Bad Request: secret token contains unallowed characters",
            ));
        }
    }
    let max_connections = p.int("max_connections")?.unwrap_or(40).clamp(1, 100);
    let allowed = p.string_list("allowed_updates")?;
    let drop_pending = p.bool("drop_pending_updates");
    let bot = w.bot_mut(token).ok_or_else(ApiError::unauthorized)?;
    if let Some(list) = allowed {
        bot.allowed_updates = (!list.is_empty()).then_some(list);
    }
    if drop_pending {
        bot.queue.clear();
    }
    let same = bot
        .webhook
        .as_ref()
        .is_some_and(|h| h.url == url && h.secret_token == secret_token);
    bot.webhook = Some(Webhook {
        url,
        secret_token,
        max_connections: u32::try_from(max_connections).unwrap_or(40),
        last_error: None,
    });
    // A waiting getUpdates now answers 409.
    bot.notify();
    Ok(Reply {
        result: Value::Bool(true),
        description: Some(if same {
            "Webhook is already set"
        } else {
            "Webhook was set"
        }),
    })
}

pub(crate) fn delete(w: &mut World, token: &str, p: &Params) -> Result<Reply, ApiError> {
    let drop_pending = p.bool("drop_pending_updates");
    let bot = w.bot_mut(token).ok_or_else(ApiError::unauthorized)?;
    if drop_pending {
        bot.queue.clear();
    }
    let had = bot.webhook.take().is_some();
    Ok(Reply {
        result: Value::Bool(true),
        description: Some(if had {
            "Webhook was deleted"
        } else {
            "Webhook is already deleted"
        }),
    })
}

pub(crate) fn info(w: &mut World, token: &str) -> Result<Value, ApiError> {
    let bot = w.bot_mut(token).ok_or_else(ApiError::unauthorized)?;
    bot.expire();
    let mut v = json!({
        "url": bot.webhook.as_ref().map(|h| h.url.to_string()).unwrap_or_default(),
        "has_custom_certificate": false,
        "pending_update_count": bot.queue.len(),
    });
    let Some(obj) = v.as_object_mut() else {
        return Ok(v);
    };
    if let Some(h) = &bot.webhook {
        obj.insert("max_connections".into(), h.max_connections.into());
        if let Some((date, message)) = &h.last_error {
            obj.insert("last_error_date".into(), (*date).into());
            obj.insert("last_error_message".into(), message.clone().into());
        }
    }
    if let Some(list) = &bot.allowed_updates {
        obj.insert("allowed_updates".into(), list.clone().into());
    }
    Ok(v)
}

/// Starts the bot's delivery worker unless one runs, there is no webhook, or nothing is
/// pending. Needs a Tokio runtime (every actix-web handler has one).
pub(crate) fn kick(token: &str) {
    let worker = with_world(|w| {
        let worker = w.next_worker();
        let bot = w.bot_mut(token)?;
        if bot.webhook.is_none() || bot.queue.is_empty() || bot.delivering.is_some() {
            return None;
        }
        bot.delivering = Some(worker);
        Some(worker)
    });
    if let Some(worker) = worker {
        let guard = Worker {
            token: token.to_owned(),
            id: worker,
        };
        tokio::spawn(guard.run());
    }
}

/// Frees the bot's worker slot when the task ends, even when its runtime drops it (a
/// test's runtime shutting down) so a later update starts a new worker.
struct Worker {
    token: String,
    id: u64,
}

impl Drop for Worker {
    fn drop(&mut self) {
        with_world(|w| {
            if let Some(bot) = w.bot_mut(&self.token)
                && bot.delivering == Some(self.id)
            {
                bot.delivering = None;
            }
        });
    }
}

struct Job {
    url: Url,
    secret: Option<String>,
    update_id: i64,
    body: Vec<u8>,
}

impl Worker {
    async fn run(self) {
        loop {
            // Deciding there is nothing left and freeing the slot happen under one lock,
            // so an update queued meanwhile always finds a worker or starts one.
            let job = with_world(|w| {
                let bot = w.bot_mut(&self.token)?;
                let next = bot
                    .webhook
                    .as_ref()
                    .zip(bot.queue.front())
                    .map(|(h, q)| Job {
                        url: h.url.clone(),
                        secret: h.secret_token.clone(),
                        update_id: q.update_id,
                        body: serde_json::to_vec(&q.body).unwrap_or_default(),
                    });
                if next.is_none() && bot.delivering == Some(self.id) {
                    bot.delivering = None;
                }
                next
            });
            let Some(job) = job else {
                return;
            };
            let url = job.url.clone();
            let secret = job.secret.clone();
            let body = job.body;
            let outcome = tokio::task::spawn_blocking(move || post(&url, secret.as_deref(), &body))
                .await
                .unwrap_or_else(|_| Err("delivery task failed".to_owned()));
            let retry_in = with_world(|w| {
                let bot = w.bot_mut(&self.token)?;
                let pos = bot
                    .queue
                    .iter()
                    .position(|q| q.update_id == job.update_id)?;
                match outcome {
                    Ok(status) if (200..300).contains(&status) => {
                        bot.queue.remove(pos);
                        None
                    }
                    other => {
                        let message = match other {
                            Ok(status) => format!("Wrong response from the webhook: {status}"),
                            Err(e) => e,
                        };
                        if let Some(h) = bot.webhook.as_mut().filter(|h| h.url == job.url) {
                            h.last_error = Some((now().timestamp(), message));
                        }
                        let q = bot.queue.get_mut(pos)?;
                        q.attempts += 1;
                        if q.attempts >= MAX_ATTEMPTS {
                            bot.queue.remove(pos);
                            return None;
                        }
                        let i = usize::try_from(q.attempts - 1).unwrap_or(0);
                        RETRY_DELAYS_MS.get(i).copied()
                    }
                }
            });
            if let Some(ms) = retry_in {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
        }
    }
}

/// One HTTP/1.1 POST; the status code, or why there is none (Telegram's wording where it
/// has one).
fn post(url: &Url, secret: Option<&str>, body: &[u8]) -> Result<u16, String> {
    if url.scheme() != "http" {
        return Err("SSL error: the sandbox delivers webhooks over plain http only".to_owned());
    }
    let host = url.host_str().ok_or("Failed to resolve host")?;
    let port = url.port_or_known_default().unwrap_or(80);
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|_| "Failed to resolve host: Name or service not known".to_owned())?
        .next()
        .ok_or("Failed to resolve host: Name or service not known")?;
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .map_err(|_| "Connection refused".to_owned())?;
    let timeouts = stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)));
    timeouts.map_err(|e| e.to_string())?;
    let mut path = url.path().to_owned();
    if let Some(q) = url.query() {
        path.push('?');
        path.push_str(q);
    }
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host_header}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(s) = secret {
        head.push_str(&format!("X-Telegram-Bot-Api-Secret-Token: {s}\r\n"));
    }
    head.push_str("\r\n");
    let sent = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .and_then(|()| stream.flush());
    sent.map_err(|_| "Connection reset by peer".to_owned())?;
    // The answer is read to its end (the server closes it) so the server is not cut off
    // mid-write; only the status line matters.
    let mut answer = Vec::new();
    let _ = stream.take(64 * 1024).read_to_end(&mut answer);
    let line = answer.split(|b| *b == b'\n').next().unwrap_or_default();
    std::str::from_utf8(line)
        .ok()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| "Wrong response from the webhook: no HTTP status".to_owned())
}
