//! Fan-out and delivery: the two worker passes, and one HTTP attempt.

use super::{LOG_RETENTION_DAYS, events, signing, target};
use crate::{ServiceError, ServiceResult, Services};
use chrono::{DateTime, Duration, Utc};
use plugboard_core::{OwnerId, WebhookId};
use plugboard_store::outbox::DISPATCH_JOB;
use plugboard_store::{DeliveryStatus, Job, QueuedEvent, Webhook, WebhookLog};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Job kind of one event on its way to one subscription.
pub const DELIVER_JOB: &str = "webhook.deliver";

/// The jobs that make up the webhook backlog: events not yet fanned out, deliveries not
/// yet done.
pub const QUEUED_JOB_KINDS: [&str; 2] = [plugboard_store::outbox::DISPATCH_JOB, DELIVER_JOB];

/// How long a replica holds a queued event or a delivery: three times the delivery timeout,
/// so a replica killed mid-delivery delays it by half a minute, not more.
const LEASE: Duration = Duration::seconds(30);
/// Jobs one pass takes at most, and deliveries it runs at once.
const PASS_LIMIT: usize = 200;
const CONCURRENT_DELIVERIES: usize = 8;
/// How much of a receiver's answer the log keeps.
const MAX_LOGGED_RESPONSE: usize = 2048;
/// Auto-disable (Zernio's rule): no success for this long, and either this many terminal
/// failures in a row or failing for this long.
const DISABLE_QUIET: Duration = Duration::days(3);
const DISABLE_FAILURES: u32 = 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    webhook_id: WebhookId,
    owner_id: OwnerId,
    event_id: String,
    event: String,
    body: String,
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryPass {
    pub delivered: u32,
    pub retrying: u32,
    /// Out of attempts (or undeliverable): logged as failed for good.
    pub failed: u32,
    /// The subscription was deleted, paused or no longer takes the event.
    pub dropped: u32,
}

/// The receiver's answer, or why there was none.
struct Answer {
    status: Option<u16>,
    body: Option<String>,
    error: Option<String>,
    elapsed_ms: u64,
}

/// Whether a subscription takes an event: active, listing it, its group not disabled, and
/// within its profile and account allowlists.
fn wants(w: &Webhook, e: &QueuedEvent) -> bool {
    w.is_active
        && w.events.contains(&e.event)
        && !group_disabled(w, &e.event)
        && (w.profile_ids.is_empty()
            || e.profile_id
                .as_ref()
                .is_some_and(|p| w.profile_ids.contains(p)))
        && (w.account_ids.is_empty()
            || e.account_id
                .as_ref()
                .is_some_and(|a| w.account_ids.contains(a)))
}

fn group_disabled(w: &Webhook, event: &str) -> bool {
    let group = events::group_of(event);
    w.disabled_resource_groups.iter().any(|g| g == group)
}

impl Services {
    /// One fan-out pass: every queued event becomes one delivery job per subscription
    /// that takes it. Returns how many events were fanned out.
    pub async fn dispatch_webhook_events(&self, holder: &str) -> ServiceResult<u32> {
        let now = self.clock.now();
        let relayed = self.store.relay_outbox(now).await?;
        if relayed > 0 {
            tracing::info!(
                events = relayed,
                "relayed queued events left by an interrupted change"
            );
        }
        let mut done = 0;
        while done < PASS_LIMIT as u32 {
            let Some(job) = self
                .store
                .claim_job(DISPATCH_JOB, holder, now, LEASE)
                .await?
            else {
                break;
            };
            self.dispatch_one(&job, holder, now).await?;
            done += 1;
        }
        Ok(done)
    }

    async fn dispatch_one(&self, job: &Job, holder: &str, now: DateTime<Utc>) -> ServiceResult<()> {
        let event: QueuedEvent = match serde_json::from_value(job.payload.clone()) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(job = %job.id, error = %e, "dropping an unreadable queued event");
                self.store.complete_job(&job.id, holder).await?;
                return Ok(());
            }
        };
        let subscriptions = self.store.list_webhooks(&event.owner_id).await?;
        let mut fanned = 0;
        for w in subscriptions.iter().filter(|w| wants(w, &event)) {
            let delivery = Delivery {
                webhook_id: w.id.clone(),
                owner_id: event.owner_id.clone(),
                event_id: event.event_id.clone(),
                event: event.event.clone(),
                body: event.body.clone(),
            };
            // One job per (event, subscription): a fan-out repeated after a crash adds none.
            let id = format!("deliver:{}:{}", event.event_id, w.id);
            let payload = serde_json::to_value(&delivery)
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            if self
                .store
                .enqueue_job_once(&id, DELIVER_JOB, &payload, now)
                .await?
            {
                fanned += 1;
            }
        }
        self.store.complete_job(&job.id, holder).await?;
        tracing::debug!(event = %event.event, event_id = %event.event_id, deliveries = fanned, "event fanned out");
        Ok(())
    }

    /// One delivery pass: due deliveries are attempted, a few at a time.
    pub async fn deliver_webhooks(&self, holder: &str) -> ServiceResult<DeliveryPass> {
        let mut pass = DeliveryPass::default();
        let mut taken = 0;
        loop {
            let mut batch = Vec::new();
            while batch.len() < CONCURRENT_DELIVERIES && taken < PASS_LIMIT {
                let now = self.clock.now();
                match self
                    .store
                    .claim_job(DELIVER_JOB, holder, now, LEASE)
                    .await?
                {
                    Some(job) => {
                        batch.push(job);
                        taken += 1;
                    }
                    None => break,
                }
            }
            if batch.is_empty() {
                break;
            }
            let results =
                futures::future::join_all(batch.iter().map(|j| self.deliver_one(j, holder))).await;
            for r in results {
                let (counted, outcome) = match r? {
                    Outcome::Delivered => (&mut pass.delivered, "success"),
                    Outcome::Retrying => (&mut pass.retrying, "retry"),
                    Outcome::Failed => (&mut pass.failed, "failed"),
                    Outcome::Dropped => (&mut pass.dropped, "dropped"),
                };
                *counted += 1;
                self.metrics
                    .webhook_deliveries
                    .with_label_values(&[outcome])
                    .inc();
            }
        }
        Ok(pass)
    }

    async fn deliver_one(&self, job: &Job, holder: &str) -> ServiceResult<Outcome> {
        let d: Delivery = match serde_json::from_value(job.payload.clone()) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(job = %job.id, error = %e, "dropping an unreadable delivery");
                self.store.complete_job(&job.id, holder).await?;
                return Ok(Outcome::Dropped);
            }
        };
        let webhook = match self.store.get_webhook(&d.owner_id, &d.webhook_id).await? {
            Some(w) if w.is_active && !group_disabled(&w, &d.event) => w,
            _ => {
                self.store.complete_job(&job.id, holder).await?;
                return Ok(Outcome::Dropped);
            }
        };
        // The backoff counts from when the attempt began, not from whenever the receiver
        // got around to answering.
        let began = self.clock.now();
        let log = self
            .attempt_delivery(
                &webhook,
                &d.event_id,
                &d.event,
                &d.body,
                job.attempts,
                false,
            )
            .await?;
        let now = self.clock.now();
        if log.status == DeliveryStatus::Success {
            self.store.complete_job(&job.id, holder).await?;
            self.store
                .record_webhook_outcome(&d.owner_id, &d.webhook_id, true, now)
                .await?;
            return Ok(Outcome::Delivered);
        }
        if job.attempts < self.webhooks.settings.max_attempts {
            let at = began + self.retry_delay(job.attempts);
            self.store.retry_job(&job.id, holder, at).await?;
            return Ok(Outcome::Retrying);
        }
        self.store.complete_job(&job.id, holder).await?;
        tracing::warn!(webhook = %d.webhook_id, event_id = %d.event_id, attempts = job.attempts, "webhook delivery failed for good");
        if let Some(after) = self
            .store
            .record_webhook_outcome(&d.owner_id, &d.webhook_id, false, now)
            .await?
            && should_disable(&after, now)
        {
            let off = plugboard_store::WebhookPatch {
                is_active: Some(false),
                ..Default::default()
            };
            self.store
                .update_webhook(&d.owner_id, &d.webhook_id, &off, now)
                .await?;
            tracing::warn!(webhook = %d.webhook_id, failures = after.failure_count, "webhook disabled after failing for days; set isActive to true to resume");
        }
        Ok(Outcome::Failed)
    }

    /// The wait before attempt `failed + 1`: the base doubled per failure, capped, with
    /// ±20% jitter so a receiver coming back is not hit by every retry at once.
    fn retry_delay(&self, failed: u32) -> Duration {
        let s = &self.webhooks.settings;
        let doubling = failed.saturating_sub(1).min(20);
        let base_ms = s.retry_base.num_milliseconds().max(1);
        let ms = base_ms
            .saturating_mul(1_i64 << doubling)
            .min(s.retry_cap.num_milliseconds().max(base_ms));
        let jitter = rand::thread_rng().gen_range(0.8..1.2);
        Duration::milliseconds((ms as f64 * jitter) as i64)
    }

    /// One POST of `body` to the subscription, signed, logged.
    pub(crate) async fn attempt_delivery(
        &self,
        webhook: &Webhook,
        event_id: &str,
        event: &str,
        body: &str,
        attempt_number: u32,
        test: bool,
    ) -> ServiceResult<WebhookLog> {
        let answer = self.post(webhook, event_id, event, body).await;
        let success = answer.status.is_some_and(|s| (200..300).contains(&s));
        let error = match (&answer.error, answer.status) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(s)) if !success => Some(format!("The receiver answered HTTP {s}")),
            _ => None,
        };
        let now = self.clock.now();
        let log = WebhookLog {
            id: plugboard_core::new_object_id(now.timestamp()),
            owner_id: webhook.owner_id.clone(),
            webhook_id: webhook.id.clone(),
            webhook_name: webhook.name.clone(),
            event_id: event_id.to_owned(),
            event: event.to_owned(),
            test,
            url: webhook.url.clone(),
            status: if success {
                DeliveryStatus::Success
            } else {
                DeliveryStatus::Failed
            },
            status_code: answer.status,
            request_body: body.to_owned(),
            response_body: answer.body,
            error_message: error,
            attempt_number,
            response_time_ms: Some(answer.elapsed_ms),
            created_at: now,
        };
        self.store.insert_webhook_log(&log).await?;
        tracing::info!(webhook = %webhook.id, event = %event, event_id = %event_id, attempt = attempt_number, status = ?answer.status, success, "webhook delivery attempt");
        Ok(log)
    }

    async fn post(&self, webhook: &Webhook, event_id: &str, event: &str, body: &str) -> Answer {
        let started = std::time::Instant::now();
        let failed = |error: String| Answer {
            status: None,
            body: None,
            error: Some(error),
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        let allow_private = self.webhooks.settings.allow_private;
        let url = match url::Url::parse(&webhook.url) {
            Ok(u) => u,
            Err(_) => return failed("The webhook URL is not valid".into()),
        };
        if let Err(e) = target::check_literal(&url, allow_private) {
            return failed(e);
        }
        let mut req = self.webhooks.client.post(url);
        for (k, v) in &webhook.custom_headers {
            req = req.header(k, v);
        }
        req = req
            .header("Content-Type", "application/json")
            .header("X-Zernio-Event", event)
            .header("X-Zernio-Event-Id", event_id);
        if let Some(sealed) = &webhook.secret {
            let context = Webhook::secret_context(&webhook.owner_id, &webhook.id);
            match self.keyring.open(&context, sealed) {
                Ok(secret) => {
                    let key = secret.expose();
                    req = req
                        .header(
                            signing::ZERNIO_SIGNATURE,
                            signing::signature(key, body.as_bytes()),
                        )
                        .header(
                            signing::TIMESTAMPED_SIGNATURE,
                            signing::timestamped_signature(
                                key,
                                self.clock.now().timestamp(),
                                body.as_bytes(),
                            ),
                        );
                }
                Err(e) => {
                    tracing::error!(webhook = %webhook.id, error = %e, "cannot open the webhook secret");
                    return failed("The webhook secret cannot be read on this server".into());
                }
            }
        }
        match req.body(body.to_owned()).send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let text = res.text().await.unwrap_or_default();
                Answer {
                    status: Some(status),
                    body: Some(crate::text::truncated(text, MAX_LOGGED_RESPONSE)),
                    error: None,
                    elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                }
            }
            Err(e) => failed(describe_send_error(&e)),
        }
    }

    /// Drops delivery logs past their retention.
    pub async fn purge_webhook_logs(&self, now: DateTime<Utc>) -> ServiceResult<u64> {
        Ok(self
            .store
            .purge_webhook_logs(now - Duration::days(LOG_RETENTION_DAYS))
            .await?)
    }
}

enum Outcome {
    Delivered,
    Retrying,
    Failed,
    Dropped,
}

fn should_disable(w: &Webhook, now: DateTime<Utc>) -> bool {
    let quiet = w.last_fired_at.is_none_or(|t| t <= now - DISABLE_QUIET);
    let failing_long = w.failing_since.is_some_and(|t| t <= now - DISABLE_QUIET);
    w.is_active && quiet && (w.failure_count >= DISABLE_FAILURES || failing_long)
}

/// A transport error in words for the log, without the URL (which may carry a token in
/// its query).
fn describe_send_error(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut cause = String::new();
    let mut source = e.source();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    let what = if e.is_timeout() {
        "The receiver did not answer in time"
    } else if e.is_connect() {
        "Cannot connect to the receiver"
    } else {
        "The request failed"
    };
    if cause.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugboard_core::{AccountId, ProfileId};

    fn hook(at: DateTime<Utc>) -> Webhook {
        Webhook {
            id: WebhookId::generate(at.timestamp()),
            owner_id: OwnerId::generate(at.timestamp()),
            name: "w".into(),
            url: "https://hooks.example/x".into(),
            secret: None,
            events: vec!["account.connected".into()],
            is_active: true,
            custom_headers: Default::default(),
            disabled_resource_groups: vec![],
            profile_ids: vec![],
            account_ids: vec![],
            last_fired_at: None,
            failure_count: 0,
            failing_since: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_subscription_takes_only_its_events_groups_profiles_and_accounts() {
        let at = Utc::now();
        let p = ProfileId::generate(at.timestamp());
        let a = AccountId::generate(at.timestamp());
        let mut w = hook(at);
        let e = QueuedEvent::new(
            "e1",
            "account.connected",
            at,
            &w.owner_id.clone(),
            Some(&p),
            Some(&a),
            None,
            [],
        );
        assert!(wants(&w, &e));
        w.profile_ids = vec![ProfileId::generate(at.timestamp())];
        assert!(!wants(&w, &e), "another profile");
        w.profile_ids = vec![p.clone()];
        w.account_ids = vec![a.clone()];
        assert!(wants(&w, &e));
        w.disabled_resource_groups = vec!["accounts".into()];
        assert!(!wants(&w, &e), "group disabled");
        w.disabled_resource_groups.clear();
        w.events = vec!["account.disconnected".into()];
        assert!(!wants(&w, &e), "not subscribed");
        w.events = vec!["account.connected".into()];
        w.is_active = false;
        assert!(!wants(&w, &e), "paused");
    }

    #[test]
    fn auto_disable_needs_days_without_success_and_a_long_streak() {
        let now = Utc::now();
        let mut w = hook(now);
        w.failure_count = 25;
        w.last_fired_at = Some(now - Duration::hours(1));
        assert!(!should_disable(&w, now), "a recent success keeps it on");
        w.last_fired_at = Some(now - Duration::days(4));
        assert!(should_disable(&w, now));
        w.failure_count = 3;
        w.failing_since = Some(now - Duration::days(1));
        assert!(!should_disable(&w, now));
        w.failing_since = Some(now - Duration::days(3));
        assert!(should_disable(&w, now), "failing for three days");
    }
}
