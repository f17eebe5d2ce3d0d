//! [`QuotaStore`] on SQLite: one row per platform and day, changed by one
//! `INSERT … ON CONFLICT DO UPDATE … RETURNING` per call.

use super::{SqliteStore, ms, opt_time, parse_col, queue_event};
use crate::quota::{
    MetaPercentages, PlatformUsage, QuotaStore, RateLimitSeen, UsageIncrement, day_key, parse_day,
};
use crate::{QueuedEvent, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use plugboard_core::Platform;
use rusqlite::{Row, params};

pub(super) const MIGRATION: &str = r#"
CREATE TABLE platform_usage (
    platform TEXT NOT NULL,
    day TEXT NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    units INTEGER NOT NULL DEFAULT 0,
    quota_errors INTEGER NOT NULL DEFAULT 0,
    app_call_count INTEGER,
    app_total_cputime INTEGER,
    app_total_time INTEGER,
    buc_call_count INTEGER,
    buc_total_cputime INTEGER,
    buc_total_time INTEGER,
    rate_limit INTEGER,
    rate_remaining INTEGER,
    rate_reset_at INTEGER,
    rate_seen_at INTEGER,
    blocked_until INTEGER,
    warned_at INTEGER,
    last_call_at INTEGER,
    PRIMARY KEY (platform, day)
);
"#;

const COLS: &str = "platform, day, calls, units, quota_errors, app_call_count, \
    app_total_cputime, app_total_time, buc_call_count, buc_total_cputime, buc_total_time, \
    rate_limit, rate_remaining, rate_reset_at, rate_seen_at, blocked_until, warned_at, \
    last_call_at";

/// `MAX` of SQLite is NULL when either side is; this keeps the side that is not.
fn keep_max(col: &str) -> String {
    format!("{col} = COALESCE(MAX({col}, excluded.{col}), {col}, excluded.{col})")
}

/// The snapshot columns take the new values when the new snapshot is at least as recent.
fn take_newer(col: &str) -> String {
    format!(
        "{col} = CASE WHEN excluded.rate_seen_at IS NOT NULL \
         AND (rate_seen_at IS NULL OR excluded.rate_seen_at >= rate_seen_at) \
         THEN excluded.{col} ELSE {col} END"
    )
}

fn upsert_sql() -> String {
    let mut set = vec![
        "calls = calls + excluded.calls".to_owned(),
        "units = units + excluded.units".to_owned(),
        "quota_errors = quota_errors + excluded.quota_errors".to_owned(),
    ];
    for col in [
        "app_call_count",
        "app_total_cputime",
        "app_total_time",
        "buc_call_count",
        "buc_total_cputime",
        "buc_total_time",
        "blocked_until",
        "last_call_at",
    ] {
        set.push(keep_max(col));
    }
    for col in [
        "rate_limit",
        "rate_remaining",
        "rate_reset_at",
        "rate_seen_at",
    ] {
        set.push(take_newer(col));
    }
    format!(
        "INSERT INTO platform_usage (platform, day, calls, units, quota_errors, \
         app_call_count, app_total_cputime, app_total_time, buc_call_count, \
         buc_total_cputime, buc_total_time, rate_limit, rate_remaining, rate_reset_at, \
         rate_seen_at, blocked_until, last_call_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) \
         ON CONFLICT (platform, day) DO UPDATE SET {} RETURNING {COLS}",
        set.join(", ")
    )
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn percentages(r: &Row<'_>, at: usize) -> rusqlite::Result<Option<MetaPercentages>> {
    let pct = |i: usize| -> rusqlite::Result<Option<u32>> {
        Ok(r.get::<_, Option<i64>>(i)?
            .map(|v| u32::try_from(v).unwrap_or(u32::MAX)))
    };
    let (c, cpu, t) = (pct(at)?, pct(at + 1)?, pct(at + 2)?);
    if c.is_none() && cpu.is_none() && t.is_none() {
        return Ok(None);
    }
    Ok(Some(MetaPercentages {
        call_count: c.unwrap_or(0),
        total_cputime: cpu.unwrap_or(0),
        total_time: t.unwrap_or(0),
    }))
}

fn usage_row(r: &Row<'_>) -> rusqlite::Result<PlatformUsage> {
    let platform: Platform = parse_col(r.get(0)?)?;
    let raw_day: String = r.get(1)?;
    let day = parse_day(&raw_day).ok_or_else(|| super::corrupt(format!("day {raw_day:?}")))?;
    let rate_seen_at = opt_time(r.get(14)?)?;
    let rate_limit = match rate_seen_at {
        None => None,
        Some(seen_at) => Some(RateLimitSeen {
            limit: r.get::<_, Option<i64>>(11)?.map(count),
            remaining: r.get::<_, Option<i64>>(12)?.map(count),
            reset_at: opt_time(r.get(13)?)?,
            seen_at,
        }),
    };
    Ok(PlatformUsage {
        platform,
        day,
        calls: count(r.get(2)?),
        units: count(r.get(3)?),
        quota_errors: count(r.get(4)?),
        app_usage: percentages(r, 5)?,
        business_usage: percentages(r, 8)?,
        rate_limit,
        blocked_until: opt_time(r.get(15)?)?,
        warned_at: opt_time(r.get(16)?)?,
        last_call_at: opt_time(r.get(17)?)?,
    })
}

#[async_trait]
impl QuotaStore for SqliteStore {
    async fn add_platform_usage(&self, u: &UsageIncrement) -> StoreResult<PlatformUsage> {
        let u = u.clone();
        self.write(move |tx| {
            let pct = |p: Option<MetaPercentages>, f: fn(&MetaPercentages) -> u32| {
                p.as_ref().map(|p| i64::from(f(p)))
            };
            let rate = u.rate_limit;
            Ok(tx.query_row(
                &upsert_sql(),
                params![
                    u.platform.as_str(),
                    day_key(u.day),
                    signed(u.calls),
                    signed(u.units),
                    signed(u.quota_errors),
                    pct(u.app_usage, |p| p.call_count),
                    pct(u.app_usage, |p| p.total_cputime),
                    pct(u.app_usage, |p| p.total_time),
                    pct(u.business_usage, |p| p.call_count),
                    pct(u.business_usage, |p| p.total_cputime),
                    pct(u.business_usage, |p| p.total_time),
                    rate.and_then(|r| r.limit).map(signed),
                    rate.and_then(|r| r.remaining).map(signed),
                    rate.and_then(|r| r.reset_at).map(ms),
                    rate.map(|r| ms(r.seen_at)),
                    u.blocked_until.map(ms),
                    ms(u.at),
                ],
                usage_row,
            )?)
        })
        .await
    }

    async fn platform_usage(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<PlatformUsage>> {
        let (from, to) = (day_key(from), day_key(to));
        self.run(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLS} FROM platform_usage WHERE day >= ?1 AND day <= ?2 \
                 ORDER BY day, platform"
            ))?;
            let rows = stmt
                .query_map([from, to], usage_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn claim_quota_warning(
        &self,
        platform: Platform,
        day: NaiveDate,
        event: Option<&QueuedEvent>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let event = event.cloned();
        self.write(move |tx| {
            let claimed = tx.execute(
                "INSERT INTO platform_usage (platform, day, warned_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (platform, day) DO UPDATE SET warned_at = excluded.warned_at
                 WHERE platform_usage.warned_at IS NULL",
                params![platform.as_str(), day_key(day), ms(now)],
            )? == 1;
            if claimed && let Some(e) = &event {
                queue_event(tx, e, now)?;
            }
            Ok(claimed)
        })
        .await
    }
}
