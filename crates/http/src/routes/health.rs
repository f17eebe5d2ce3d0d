//! Account health in Zernio's shapes (shared/api-scope.md §6.5–§6.6).

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Auth, parse_id};
use crate::query::QueryMap;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use plugboard_core::{AccountId, ProfileId};
use plugboard_service::health::{AccountHealth, HealthFilter, HealthStatus, Probe};
use serde_json::{Value, json};

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// "3 days", "5 hours", "12 minutes": Zernio's human `expiresIn`.
fn human(secs: i64) -> String {
    let (n, unit) = match secs {
        s if s >= 86_400 => (s / 86_400, "day"),
        s if s >= 3_600 => (s / 3_600, "hour"),
        s => ((s / 60).max(0), "minute"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

pub(crate) fn summary_row(h: &AccountHealth) -> Value {
    let a = &h.account;
    json!({
        "accountId": a.id, "platform": a.platform, "username": a.username, "displayName": a.display_name,
        "profileId": a.profile_id, "status": h.status, "canPost": h.can_post(), "canFetchAnalytics": false,
        "tokenValid": h.token_valid, "tokenExpiresAt": h.expires_at.map(ts),
        "needsReconnect": !h.token_valid, "issues": h.issues, "messagingRestriction": Value::Null,
    })
}

/// Health of every account the key can see.
#[utoipa::path(tag = "Accounts",
    params(("profileId" = Option<String>, Query), ("platform" = Option<String>, Query), ("status" = Option<String>, Query, description = "healthy, warning or error")),
    responses((status = 200, description = "`{summary: {total, healthy, warning, error, needsReconnect}, accounts: […]}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[get("/accounts/health")]
pub async fn all(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let profile_id: Option<ProfileId> = q
        .str("profileId")
        .map(|p| parse_id(p, "profileId"))
        .transpose()?;
    let platform = q.platform("platform")?;
    let status = q
        .one_of("status", &["healthy", "warning", "error"])?
        .and_then(|s| HealthStatus::parse(&s));
    let list = state
        .services
        .accounts_health(
            &caller,
            &HealthFilter {
                profile_id,
                platform,
                status,
            },
        )
        .await?;
    let count = |s: HealthStatus| list.iter().filter(|h| h.status == s).count();
    Ok(HttpResponse::Ok().json(json!({
        "summary": {
            "total": list.len(),
            "healthy": count(HealthStatus::Healthy),
            "warning": count(HealthStatus::Warning),
            "error": count(HealthStatus::Error),
            "needsReconnect": list.iter().filter(|h| !h.token_valid).count(),
        },
        "accounts": list.iter().map(summary_row).collect::<Vec<_>>(),
    })))
}

/// Health of one account, with the platform's verdict on its token (cached briefly).
#[utoipa::path(tag = "Accounts", params(("accountId" = String, Path)),
    responses((status = 200, description = "`{accountId, platform, username, displayName, status, tokenStatus, permissions, issues, recommendations, …}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[get("/accounts/{accountId}/health")]
pub async fn one(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: AccountId = parse_id(&path, "accountId")?;
    let h = state.services.account_health(&caller, &id).await?;
    Ok(HttpResponse::Ok().json(health_body(&h, state.services.clock.now())))
}

/// One account's health in the REST shape (also what the MCP tool answers).
pub(crate) fn health_body(h: &AccountHealth, now: DateTime<Utc>) -> Value {
    let a = &h.account;
    let checks: Vec<Value> = h
        .permissions
        .iter()
        .map(|p| json!({"scope": p.scope, "granted": p.granted, "required": p.required}))
        .collect();
    json!({
        "accountId": a.id, "platform": a.platform, "username": a.username, "displayName": a.display_name,
        "status": h.status,
        "tokenStatus": {
            "valid": h.token_valid,
            "expiresAt": h.expires_at.map(ts),
            "expiresIn": h.expires_at.map(|e| human((e - now).num_seconds())),
            "needsRefresh": h.needs_refresh,
        },
        "permissions": {
            "posting": checks, "analytics": [], "optional": [],
            "canPost": h.can_post(), "canFetchAnalytics": false, "missingRequired": h.missing_required(),
        },
        "issues": h.issues,
        "recommendations": h.recommendations,
        "messagingRestriction": Value::Null,
        "platformConnection": {
            "status": match h.probe { Some(Probe::Accepted) => "connected", Some(Probe::Refused) => "disconnected", _ => "unknown" },
            "checkedAt": ts(h.checked_at),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_reads_as_a_person_would_say_it() {
        for (secs, text) in [
            (59, "0 minutes"),
            (60, "1 minute"),
            (7_200, "2 hours"),
            (86_400, "1 day"),
            (5 * 86_400 + 3, "5 days"),
        ] {
            assert_eq!(human(secs), text);
        }
    }
}
