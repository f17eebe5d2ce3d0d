//! Webhook settings, test, logs and redelivery in Zernio's shapes (shared/api-scope.md §10).

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Auth, parse_id};
use crate::query::QueryMap;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use plugboard_core::WebhookId;
use plugboard_service::webhooks::{Fired, NewWebhook};
use plugboard_store::{DeliveryStatus, Webhook, WebhookLog, WebhookLogFilter};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Zernio's `Webhook`. The secret is write-only: it is never sent back (`hasSecret` says
/// whether one is set).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookBody {
    #[serde(rename = "_id")]
    id: String,
    name: String,
    url: String,
    has_secret: bool,
    events: Vec<String>,
    is_active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_fired_at: Option<String>,
    failure_count: u32,
    custom_headers: BTreeMap<String, String>,
    disabled_resource_groups: Vec<String>,
    profile_ids: Vec<String>,
    account_ids: Vec<String>,
    created_at: String,
    updated_at: String,
}

impl From<&Webhook> for WebhookBody {
    fn from(w: &Webhook) -> Self {
        WebhookBody {
            id: w.id.to_string(),
            name: w.name.clone(),
            url: w.url.clone(),
            has_secret: w.secret.is_some(),
            events: w.events.clone(),
            is_active: w.is_active,
            last_fired_at: w.last_fired_at.map(ts),
            failure_count: w.failure_count,
            custom_headers: w.custom_headers.clone(),
            disabled_resource_groups: w.disabled_resource_groups.clone(),
            profile_ids: w.profile_ids.iter().map(|p| p.to_string()).collect(),
            account_ids: w.account_ids.iter().map(|a| a.to_string()).collect(),
            created_at: ts(w.created_at),
            updated_at: ts(w.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    webhooks: Vec<WebhookBody>,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookChanged {
    success: bool,
    webhook: WebhookBody,
}

#[derive(Serialize, ToSchema)]
pub struct Success {
    success: bool,
}

/// The fields of a subscription, as created or updated.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookInput {
    /// Required on update (or the deprecated `_id`).
    webhook_id: Option<String>,
    #[serde(rename = "_id")]
    legacy_id: Option<String>,
    /// What `update_webhook_settings(_id=…)` of the Python SDK sends.
    #[serde(rename = "Id")]
    #[schema(ignore)]
    sdk_id: Option<String>,
    /// 1-50 characters.
    name: Option<String>,
    /// An absolute http(s) URL; private and loopback targets need the operator's leave.
    url: Option<String>,
    /// HMAC-SHA256 key for `X-Zernio-Signature`; an empty string removes it.
    secret: Option<String>,
    events: Option<Vec<String>>,
    is_active: Option<bool>,
    custom_headers: Option<BTreeMap<String, String>>,
    disabled_resource_groups: Option<Vec<String>>,
    /// Only events of these profiles; empty means all.
    profile_ids: Option<Vec<String>>,
    /// Only events of these accounts; empty means all.
    account_ids: Option<Vec<String>>,
}

impl WebhookInput {
    fn split(self) -> (Option<String>, NewWebhook) {
        let id = self.webhook_id.or(self.legacy_id).or(self.sdk_id);
        (
            id,
            NewWebhook {
                name: self.name,
                url: self.url,
                secret: self.secret,
                events: self.events,
                is_active: self.is_active,
                custom_headers: self.custom_headers,
                disabled_resource_groups: self.disabled_resource_groups,
                profile_ids: self.profile_ids,
                account_ids: self.account_ids,
            },
        )
    }
}

fn fired(f: Fired) -> HttpResponse {
    #[derive(Serialize)]
    struct Body {
        success: bool,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<&'static str>,
    }
    if f.success {
        HttpResponse::Ok().json(Body {
            success: true,
            message: f.message,
            error: None,
            code: None,
        })
    } else {
        // Zernio answers a failed fire 500 with `{success: false, message}`; the error
        // fields are ours, in the documented error shape.
        HttpResponse::build(StatusCode::INTERNAL_SERVER_ERROR).json(Body {
            success: false,
            error: Some(f.message.clone()),
            message: f.message,
            code: Some("webhook_delivery_failed"),
        })
    }
}

/// List the webhook subscriptions.
#[utoipa::path(tag = "Webhooks", operation_id = "getWebhookSettings",
    responses((status = 200, body = WebhookList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[get("/webhooks/settings")]
pub async fn list(
    state: web::Data<AppState>,
    Auth(caller): Auth,
) -> Result<HttpResponse, ApiError> {
    let list = state.services.list_webhooks(&caller).await?;
    Ok(HttpResponse::Ok().json(WebhookList {
        webhooks: list.iter().map(WebhookBody::from).collect(),
    }))
}

/// Create a webhook subscription (at most 50).
#[utoipa::path(tag = "Webhooks", operation_id = "createWebhookSettings", request_body = WebhookInput,
    responses((status = 200, body = WebhookChanged), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[post("/webhooks/settings")]
pub async fn create(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    body: web::Json<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let (_, new) = body.into_inner().split();
    let w = state.services.create_webhook(&caller, new).await?;
    Ok(HttpResponse::Ok().json(WebhookChanged {
        success: true,
        webhook: WebhookBody::from(&w),
    }))
}

/// Update a subscription: only the fields sent change.
#[utoipa::path(tag = "Webhooks", operation_id = "updateWebhookSettings", request_body = WebhookInput,
    responses((status = 200, body = WebhookChanged), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[put("/webhooks/settings")]
pub async fn update(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    body: web::Json<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let (id, changes) = body.into_inner().split();
    let w = state
        .services
        .update_webhook(&caller, id.as_deref(), changes)
        .await?;
    Ok(HttpResponse::Ok().json(WebhookChanged {
        success: true,
        webhook: WebhookBody::from(&w),
    }))
}

/// Delete a subscription.
#[utoipa::path(tag = "Webhooks", operation_id = "deleteWebhookSettings",
    params(("webhookId" = Option<String>, Query), ("id" = Option<String>, Query, description = "Deprecated alias of webhookId")),
    responses((status = 200, body = Success), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[delete("/webhooks/settings")]
pub async fn delete(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let id = q.str("webhookId").or_else(|| q.str("id"));
    state.services.delete_webhook(&caller, id).await?;
    Ok(HttpResponse::Ok().json(Success { success: true }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestInput {
    webhook_id: Option<String>,
    /// Send a sample of this event (marked `test: true`) instead of `webhook.test`.
    event: Option<String>,
}

/// Send one test delivery now (no retries); 500 with `success: false` when it fails.
#[utoipa::path(tag = "Webhooks", operation_id = "testWebhook", request_body = TestInput,
    responses((status = 200, description = "`{success: true, message}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 500, description = "`{success: false, message, error, code}`", body = Object)),
    security(("bearerAuth" = [])))]
#[post("/webhooks/test")]
pub async fn test(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    body: web::Json<TestInput>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let f = state
        .services
        .test_webhook(&caller, b.webhook_id.as_deref(), b.event.as_deref())
        .await?;
    Ok(fired(f))
}

/// Zernio's `WebhookLog`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookLogBody {
    #[serde(rename = "_id")]
    id: String,
    user_id: String,
    webhook_id: String,
    webhook_name: String,
    event_id: String,
    event: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    test: bool,
    url: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_code: Option<u16>,
    #[schema(value_type = Object)]
    request_payload: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
    attempt_number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_time: Option<u64>,
    created_at: String,
}

impl From<&WebhookLog> for WebhookLogBody {
    fn from(l: &WebhookLog) -> Self {
        WebhookLogBody {
            id: l.id.clone(),
            user_id: l.owner_id.to_string(),
            webhook_id: l.webhook_id.to_string(),
            webhook_name: l.webhook_name.clone(),
            event_id: l.event_id.clone(),
            event: l.event.clone(),
            test: l.test,
            url: l.url.clone(),
            status: l.status.as_str(),
            status_code: l.status_code,
            request_payload: serde_json::from_str(&l.request_body)
                .unwrap_or(serde_json::Value::Null),
            response_body: l.response_body.clone(),
            error_message: l.error_message.clone(),
            attempt_number: l.attempt_number,
            response_time: l.response_time_ms,
            created_at: ts(l.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    total: u64,
    limit: u64,
    skip: u64,
    pages: u64,
    has_more: bool,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookLogList {
    logs: Vec<WebhookLogBody>,
    pagination: Pagination,
}

/// Delivery attempts, newest first (kept 30 days).
#[utoipa::path(tag = "Webhooks", operation_id = "getWebhookLogs",
    params(("limit" = Option<u64>, Query, description = "1-100, default 50"), ("skip" = Option<u64>, Query), ("status" = Option<String>, Query, description = "success or failed"),
        ("event" = Option<String>, Query), ("webhookId" = Option<String>, Query), ("eventId" = Option<String>, Query)),
    responses((status = 200, body = WebhookLogList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[get("/webhooks/logs")]
pub async fn logs(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let limit = q.int("limit", 1, 100)?.unwrap_or(50);
    let skip = q.int("skip", 0, u64::from(u32::MAX))?.unwrap_or(0);
    let status = q
        .one_of("status", &["success", "failed"])?
        .and_then(|s| s.parse::<DeliveryStatus>().ok());
    let filter = WebhookLogFilter {
        webhook_id: q
            .str("webhookId")
            .map(|w| parse_id::<WebhookId>(w, "webhookId"))
            .transpose()?,
        event_id: q.str("eventId").map(str::to_owned),
        event: q.str("event").map(str::to_owned),
        status,
    };
    let (rows, total) = state
        .services
        .webhook_logs(&caller, filter, skip, limit)
        .await?;
    Ok(HttpResponse::Ok().json(WebhookLogList {
        logs: rows.iter().map(WebhookLogBody::from).collect(),
        pagination: Pagination {
            total,
            limit,
            skip,
            pages: total.div_ceil(limit),
            has_more: skip + (rows.len() as u64) < total,
        },
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedeliverInput {
    webhook_id: Option<String>,
    event_id: Option<String>,
}

/// Send a logged event again, byte for byte, to the subscription's current URL.
#[utoipa::path(tag = "Webhooks", operation_id = "redeliverWebhookEvent", request_body = RedeliverInput,
    responses((status = 200, description = "`{success: true, message}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 500, description = "`{success: false, message, error, code}`", body = Object)),
    security(("bearerAuth" = [])))]
#[post("/webhooks/logs/redeliver")]
pub async fn redeliver(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    body: web::Json<RedeliverInput>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let f = state
        .services
        .redeliver_webhook_event(&caller, b.webhook_id.as_deref(), b.event_id.as_deref())
        .await?;
    Ok(fired(f))
}
