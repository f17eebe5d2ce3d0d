//! The operator's routes (`/v1/admin/*`): an unrestricted read-write key of the
//! installation's first owner only.

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Auth;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, SecondsFormat, Utc};
use plugboard_service::quota::{Exhaustion, PlatformQuota, QuotaOverview, WARNING_PERCENT};
use plugboard_store::MetaPercentages;
use serde_json::{Value, json};

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn meta(p: Option<MetaPercentages>) -> Value {
    match p {
        None => Value::Null,
        Some(p) => json!({
            "callCount": p.call_count,
            "totalCputime": p.total_cputime,
            "totalTime": p.total_time,
        }),
    }
}

fn platform_row(q: &PlatformQuota) -> Value {
    let u = &q.usage;
    let meta_usage = match (u.app_usage, u.business_usage) {
        (None, None) => Value::Null,
        (app, business) => json!({"app": meta(app), "businessUseCase": meta(business)}),
    };
    let rate_limit = u.rate_limit.map_or(Value::Null, |r| {
        json!({
            "limit": r.limit, "remaining": r.remaining,
            "resetAt": r.reset_at.map(ts), "seenAt": ts(r.seen_at),
        })
    });
    json!({
        "platform": u.platform,
        "measure": q.measure,
        "calls": u.calls,
        "units": u.units,
        "used": q.used,
        "limit": q.limit,
        "percentUsed": q.percent_used,
        "metaUsage": meta_usage,
        "rateLimit": rate_limit,
        "quotaErrors": u.quota_errors,
        "warned": u.warned_at.is_some(),
        "warnedAt": u.warned_at.map(ts),
        "exhausted": q.block.is_some(),
        "exhaustedReason": q.block.as_ref().map(|b| match b.reason {
            Exhaustion::LimitReached { .. } => "limit_reached",
            Exhaustion::PlatformRefused => "platform_refused",
        }),
        "resetsAt": q.block.as_ref().map(|b| ts(b.reset_at)),
        "lastCallAt": u.last_call_at.map(ts),
    })
}

pub(crate) fn overview_body(o: &QuotaOverview) -> Value {
    json!({
        "day": o.day.format("%Y-%m-%d").to_string(),
        "dayEndsAt": ts(o.resets_at),
        "warningPercent": WARNING_PERCENT,
        "platforms": o.platforms.iter().map(platform_row).collect::<Vec<_>>(),
        "notCounted": o.not_counted,
    })
}

/// Today's (UTC) API usage of every platform app against its daily limit.
#[utoipa::path(tag = "Admin",
    responses(
        (status = 200, description = "`{day, dayEndsAt, warningPercent, platforms: [{platform, measure, calls, units, used, limit, percentUsed, metaUsage, rateLimit, quotaErrors, warned, warnedAt, exhausted, exhaustedReason, resetsAt, lastCallAt}], notCounted}`", body = Object),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an operator key (an unrestricted read-write key of the first owner)", body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[get("/admin/quota")]
pub async fn quota(
    state: web::Data<AppState>,
    Auth(caller): Auth,
) -> Result<HttpResponse, ApiError> {
    let overview = state.services.quota_overview(&caller).await?;
    Ok(HttpResponse::Ok().json(overview_body(&overview)))
}
