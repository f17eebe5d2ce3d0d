//! [`QuotaStore`] on MongoDB: one document per platform and day (`_id`
//! `<platform>:<YYYY-MM-DD>`), changed by one `findOneAndUpdate` with `$inc`, `$max` and
//! `$set` per call. The document is created by an insert the `_id` decides (nx-27017
//! invents an ObjectId for an upsert's `_id`, see `upsert_account`), so creating it twice
//! is harmless. The warning's event waits in the document's `outbox` slot, as account
//! events do (see [`crate::outbox`]).

use super::{
    MongoStore, collect, duplicate_key, get_str, marker, marker_time, ms, opt_int, opt_str,
    opt_time, to_json,
};
use crate::outbox::{DISPATCH_JOB, dispatch_job_id};
use crate::quota::{
    MetaPercentages, PlatformUsage, QuotaStore, RateLimitSeen, UsageIncrement, day_key, parse_day,
};
use crate::{QueuedEvent, StoreError, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use mongodb::bson::{Document, doc};
use mongodb::options::ReturnDocument;
use plugboard_core::Platform;

pub(super) const PLATFORM_USAGE: &str = "platform_usage";
const OUTBOX: &str = "outbox";

fn id(platform: Platform, day: NaiveDate) -> String {
    format!("{platform}:{}", day_key(day))
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn count(v: Option<i64>) -> u64 {
    v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0)
}

fn percentages(d: &Document, prefix: &str) -> StoreResult<Option<MetaPercentages>> {
    let pct = |k: &str| -> StoreResult<Option<u32>> {
        Ok(opt_int(d, &format!("{prefix}_{k}"))?.map(|v| u32::try_from(v).unwrap_or(u32::MAX)))
    };
    let (c, cpu, t) = (
        pct("call_count")?,
        pct("total_cputime")?,
        pct("total_time")?,
    );
    if c.is_none() && cpu.is_none() && t.is_none() {
        return Ok(None);
    }
    Ok(Some(MetaPercentages {
        call_count: c.unwrap_or(0),
        total_cputime: cpu.unwrap_or(0),
        total_time: t.unwrap_or(0),
    }))
}

fn usage_from(d: &Document) -> StoreResult<PlatformUsage> {
    let platform: Platform = get_str(d, "platform")?
        .parse()
        .map_err(|_| StoreError::Corrupt("field platform".into()))?;
    let raw_day = get_str(d, "day")?;
    let day = parse_day(raw_day).ok_or_else(|| StoreError::Corrupt(format!("day {raw_day:?}")))?;
    let rate_limit = match opt_time(d, "rate_seen_at")? {
        None => None,
        Some(seen_at) => Some(RateLimitSeen {
            limit: opt_int(d, "rate_limit")?.map(|v| count(Some(v))),
            remaining: opt_int(d, "rate_remaining")?.map(|v| count(Some(v))),
            reset_at: opt_time(d, "rate_reset_at")?,
            seen_at,
        }),
    };
    Ok(PlatformUsage {
        platform,
        day,
        calls: count(opt_int(d, "calls")?),
        units: count(opt_int(d, "units")?),
        quota_errors: count(opt_int(d, "quota_errors")?),
        app_usage: percentages(d, "app")?,
        business_usage: percentages(d, "buc")?,
        rate_limit,
        blocked_until: opt_time(d, "blocked_until")?,
        warned_at: marker_time(d, "warned_at")?,
        last_call_at: opt_time(d, "last_call_at")?,
    })
}

impl MongoStore {
    /// Creates the day's document unless it exists.
    async fn ensure_usage_doc(&self, platform: Platform, day: NaiveDate) -> StoreResult<()> {
        let fresh = doc! {
            "_id": id(platform, day),
            "platform": platform.as_str(),
            "day": day_key(day),
            "calls": 0_i64,
            "units": 0_i64,
            "quota_errors": 0_i64,
            "warned_at": 0_i64,
            OUTBOX: "",
        };
        match self.coll(PLATFORM_USAGE).insert_one(fresh).await {
            Ok(_) => Ok(()),
            Err(e) if duplicate_key(&e).is_some() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Moves the warning event of a usage document's outbox slot into its dispatch job,
    /// then empties the slot.
    async fn relay_usage_slot(&self, d: &Document) -> StoreResult<()> {
        let slot = opt_str(d, OUTBOX)?.unwrap_or_default();
        if slot.is_empty() {
            return Ok(());
        }
        let event: QueuedEvent = serde_json::from_str(&slot)
            .map_err(|e| StoreError::Corrupt(format!("field {OUTBOX}: {e}")))?;
        let at = marker_time(d, "warned_at")?.unwrap_or_default();
        self.insert_job_once(
            &dispatch_job_id(&event.event_id),
            DISPATCH_JOB,
            &event.job_payload(),
            at,
        )
        .await?;
        self.coll(PLATFORM_USAGE)
            .update_one(
                doc! { "_id": get_str(d, "_id")?, OUTBOX: slot.as_str() },
                doc! { "$set": { OUTBOX: "" } },
            )
            .await?;
        Ok(())
    }

    /// Moves warning events a crash left in usage documents; returns how many moved.
    pub(super) async fn relay_usage_outbox(&self, limit: i64) -> StoreResult<u64> {
        let cursor = self
            .coll(PLATFORM_USAGE)
            .find(doc! { OUTBOX: { "$gt": "" } })
            .limit(limit)
            .await?;
        let stranded = collect(cursor, |d| Ok(d.clone())).await?;
        for d in &stranded {
            self.relay_usage_slot(d).await?;
        }
        Ok(u64::try_from(stranded.len()).unwrap_or(0))
    }
}

#[async_trait]
impl QuotaStore for MongoStore {
    async fn add_platform_usage(&self, u: &UsageIncrement) -> StoreResult<PlatformUsage> {
        let mut max = doc! { "last_call_at": ms(u.at) };
        for (prefix, p) in [("app", u.app_usage), ("buc", u.business_usage)] {
            if let Some(p) = p {
                max.insert(format!("{prefix}_call_count"), i64::from(p.call_count));
                max.insert(
                    format!("{prefix}_total_cputime"),
                    i64::from(p.total_cputime),
                );
                max.insert(format!("{prefix}_total_time"), i64::from(p.total_time));
            }
        }
        if let Some(t) = u.blocked_until {
            max.insert("blocked_until", ms(t));
        }
        let mut update = doc! {
            "$inc": {
                "calls": signed(u.calls),
                "units": signed(u.units),
                "quota_errors": signed(u.quota_errors),
            },
            "$max": max,
        };
        // The latest snapshot written wins; replicas write theirs within moments.
        if let Some(r) = u.rate_limit {
            let mut set = doc! { "rate_seen_at": ms(r.seen_at) };
            let mut unset = Document::new();
            for (key, v) in [
                ("rate_limit", r.limit.map(signed)),
                ("rate_remaining", r.remaining.map(signed)),
                ("rate_reset_at", r.reset_at.map(ms)),
            ] {
                match v {
                    Some(v) => {
                        set.insert(key, v);
                    }
                    None => {
                        unset.insert(key, "");
                    }
                }
            }
            update.insert("$set", set);
            if !unset.is_empty() {
                update.insert("$unset", unset);
            }
        }
        let filter = doc! { "_id": id(u.platform, u.day) };
        for _ in 0..2 {
            if let Some(d) = self
                .coll(PLATFORM_USAGE)
                .find_one_and_update(filter.clone(), update.clone())
                .return_document(ReturnDocument::After)
                .await?
            {
                return usage_from(&d);
            }
            self.ensure_usage_doc(u.platform, u.day).await?;
        }
        Err(StoreError::Backend(
            "the usage document vanished while it was written".into(),
        ))
    }

    async fn platform_usage(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<PlatformUsage>> {
        let cursor = self
            .coll(PLATFORM_USAGE)
            .find(doc! { "day": { "$gte": day_key(from), "$lte": day_key(to) } })
            .sort(doc! { "day": 1, "platform": 1 })
            .await?;
        collect(cursor, usage_from).await
    }

    async fn claim_quota_warning(
        &self,
        platform: Platform,
        day: NaiveDate,
        event: Option<&QueuedEvent>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.ensure_usage_doc(platform, day).await?;
        let slot = event.map(to_json).unwrap_or_default();
        let Some(claimed) = self
            .coll(PLATFORM_USAGE)
            .find_one_and_update(
                doc! { "_id": id(platform, day), "warned_at": 0_i64 },
                doc! { "$set": { "warned_at": marker(now), OUTBOX: slot.as_str() } },
            )
            .return_document(ReturnDocument::After)
            .await?
        else {
            return Ok(false);
        };
        // The claim and its event are durable; moving the event on is the relay's if this
        // step fails.
        if let Err(e) = self.relay_usage_slot(&claimed).await {
            tracing::warn!(error = %e, "quota warning left in the usage outbox for the relay");
        }
        Ok(true)
    }
}
