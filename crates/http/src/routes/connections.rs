//! A compact view of the same accounts `/v1/accounts` lists, for integrators that think in
//! connections.

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Auth, parse_id};
use crate::query::QueryMap;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use plugboard_core::{AccountId, ProfileId};
use plugboard_service::ServiceError;
use plugboard_service::accounts::AccountListRequest;
use plugboard_store::{Account, AccountPatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    id: String,
    platform: String,
    /// The display name, else the username.
    name: Option<String>,
    username: Option<String>,
    profile_id: String,
    is_active: bool,
    needs_reconnection: bool,
    token_expires_at: Option<String>,
}

impl From<&Account> for Connection {
    fn from(a: &Account) -> Self {
        Connection {
            id: a.id.to_string(),
            platform: a.platform.to_string(),
            name: a.display_name.clone().or_else(|| a.username.clone()),
            username: a.username.clone(),
            profile_id: a.profile_id.to_string(),
            is_active: a.is_active,
            needs_reconnection: a.needs_reconnection,
            token_expires_at: a
                .token_expires_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConnectionList {
    connections: Vec<Connection>,
    total: u64,
}

#[derive(Serialize, ToSchema)]
pub struct ConnectionBody {
    connection: Connection,
}

/// Every connection the key can see, compactly.
#[utoipa::path(tag = "Connections",
    params(("profileId" = Option<String>, Query), ("platform" = Option<String>, Query)),
    responses((status = 200, body = ConnectionList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[get("/connections")]
pub async fn list(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let profile: Option<ProfileId> = q
        .str("profileId")
        .map(|p| parse_id(p, "profileId"))
        .transpose()?;
    let platform = q.platform("platform")?;
    let list = state
        .services
        .list_accounts(
            &caller,
            AccountListRequest {
                profile_ids: profile.map(|p| vec![p]),
                platform,
                ..AccountListRequest::default()
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(ConnectionList {
        connections: list.page.accounts.iter().map(Connection::from).collect(),
        total: list.page.total,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(
    dead_code,
    reason = "the schema of the body, which is read as JSON to judge it after the key"
)]
pub struct ConnectionPatch {
    /// `false` deactivates: the connection stays, but new work (refreshes on demand,
    /// destination changes) is refused with `connection_inactive` until it is `true` again.
    is_active: Option<bool>,
}

/// Activate or deactivate a connection.
#[utoipa::path(tag = "Connections", params(("connectionId" = String, Path)), request_body = ConnectionPatch,
    responses((status = 200, body = ConnectionBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[patch("/connections/{connectionId}")]
pub async fn update(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
    // Any JSON: a typed body would be judged before the key is (a bad key must be 401).
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let id: AccountId = parse_id(&path, "connectionId")?;
    let fields = body.as_object().ok_or_else(|| {
        ApiError::bad_request(
            "validation_error",
            "isActive",
            "the body is {\"isActive\": true|false}",
        )
    })?;
    if let Some(other) = fields.keys().find(|k| k.as_str() != "isActive") {
        return Err(ApiError::bad_request(
            "validation_error",
            "isActive",
            format!("{other} cannot be changed here; only isActive"),
        ));
    }
    let Some(is_active) = fields.get("isActive").and_then(serde_json::Value::as_bool) else {
        return Err(ApiError::bad_request(
            "validation_error",
            "isActive",
            "isActive (true or false) is required",
        ));
    };
    let account = state
        .services
        .update_account(
            &caller,
            &id,
            AccountPatch {
                is_active: Some(is_active),
                ..AccountPatch::default()
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(ConnectionBody {
        connection: Connection::from(&account),
    }))
}

/// Refresh a connection's token now. A dead refresh token answers 409 `reconnect_required`:
/// the user must connect again through a new ticket.
#[utoipa::path(tag = "Connections", params(("connectionId" = String, Path)),
    responses((status = 200, body = ConnectionBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "reconnect_required (a new ticket is needed), connection_inactive"), (status = 429, body = ErrorBody, description = "QUOTA_EXCEEDED: the platform app's API quota is used up until the reset in `details.resetAt`"), (status = 502, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[post("/connections/{connectionId}/refresh-token")]
pub async fn refresh_token(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: AccountId = parse_id(&path, "connectionId")?;
    match state.services.refresh_account_now(&caller, &id).await {
        Ok(account) => Ok(HttpResponse::Ok().json(ConnectionBody {
            connection: Connection::from(&account),
        })),
        Err(ServiceError::Conflict {
            code: "reconnect_required",
            ..
        }) => Err(ServiceError::Conflict {
            code: "reconnect_required",
            message: "The platform no longer accepts this connection's refresh token; the user must connect again: create a new ticket (POST /v1/oauth/tickets)".into(),
            details: Some(serde_json::json!({"accountId": id.to_string(), "next": "POST /v1/oauth/tickets"})),
        }
        .into()),
        Err(e) => Err(e.into()),
    }
}
