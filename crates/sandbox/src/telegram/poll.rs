//! `getUpdates`: long polling with one consumer per bot.
//!
//! As on Telegram, a call confirms every update below its `offset`, answers at once when
//! updates are pending, and otherwise holds until one arrives or `timeout` seconds pass
//! (then `[]`). A newer call supersedes a waiting one, which answers 409 "terminated by
//! other getUpdates request": that is how two replicas polling one bot find out. While a
//! webhook is set, getUpdates is refused with 409.

use std::time::Duration;

use serde_json::Value;
use tokio::time::{Instant, timeout_at};

use super::api::ApiError;
use super::params::Params;
use super::world::with_world;

/// teloxide's HTTP client gives up after 17 s, so a hold must end before that; Telegram
/// itself allows 50 s, which no teloxide client could wait for.
pub(crate) const MAX_POLL_SECONDS: i64 = 15;
const MAX_LIMIT: i64 = 100;

pub(crate) const TERMINATED: &str = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
pub(crate) const WEBHOOK_ACTIVE: &str = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";

enum Step {
    Answer(Value),
    Wait(tokio::sync::watch::Receiver<u64>),
}

pub(crate) async fn get_updates(token: &str, p: &Params) -> Result<Value, ApiError> {
    let offset = p.int("offset")?;
    let limit = p.int("limit")?.unwrap_or(MAX_LIMIT).clamp(1, MAX_LIMIT);
    let timeout = p.int("timeout")?.unwrap_or(0).clamp(0, MAX_POLL_SECONDS);
    let allowed = p.string_list("allowed_updates")?;
    let deadline = Instant::now() + Duration::from_secs(timeout.unsigned_abs());

    let generation = with_world(|w| {
        let bot = w.bot_mut(token).ok_or_else(ApiError::unauthorized)?;
        if bot.webhook.is_some() {
            return Err(ApiError::conflict(WEBHOOK_ACTIVE));
        }
        if let Some(list) = allowed {
            // An empty list restores the default set.
            bot.allowed_updates = (!list.is_empty()).then_some(list);
        }
        match offset {
            Some(o) if o < 0 => {
                let keep = usize::try_from(o.unsigned_abs()).unwrap_or(usize::MAX);
                let drop = bot.queue.len().saturating_sub(keep);
                bot.queue.drain(..drop);
            }
            Some(o) => bot.queue.retain(|q| q.update_id >= o),
            None => {}
        }
        bot.poll_generation += 1;
        // Wakes the call this one supersedes.
        bot.notify();
        Ok(bot.poll_generation)
    })?;

    loop {
        let step = with_world(|w| {
            let bot = w.bot_mut(token).ok_or_else(ApiError::unauthorized)?;
            if bot.poll_generation != generation {
                return Err(ApiError::conflict(TERMINATED));
            }
            if bot.webhook.is_some() {
                return Err(ApiError::conflict(WEBHOOK_ACTIVE));
            }
            bot.expire();
            // Subscribing under the lock: a change made after this check wakes us.
            let rx = bot.wake.subscribe();
            if !bot.queue.is_empty() || Instant::now() >= deadline {
                let batch: Vec<Value> = bot
                    .queue
                    .iter()
                    .take(usize::try_from(limit).unwrap_or(100))
                    .map(|q| q.body.clone())
                    .collect();
                return Ok(Step::Answer(batch.into()));
            }
            Ok(Step::Wait(rx))
        })?;
        match step {
            Step::Answer(v) => return Ok(v),
            Step::Wait(mut rx) => {
                // Either a change or the deadline: the next round decides which.
                let _ = timeout_at(deadline, rx.changed()).await;
            }
        }
    }
}
