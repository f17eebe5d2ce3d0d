//! The three connects without an OAuth redirect (shared/api-scope.md §5): Bluesky app
//! passwords, Telegram bot codes, WhatsApp Cloud API credentials.

use crate::AppState;
use crate::dto::SocialAccount;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Auth, parse_id};
use crate::query::QueryMap;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use plugboard_core::{ProfileId, Secret};
use plugboard_service::connect::{
    BlueskyCredentials, TelegramStatus, WhatsAppCredentials, profile_from_state, valid_graph_id,
    valid_identifier, valid_pin,
};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

fn required<'a>(v: &'a Option<String>, name: &'static str) -> Result<&'a str, ApiError> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("validation_error", name, format!("{name} is required"))
        })
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlueskyBody {
    /// Handle, email or DID.
    identifier: Option<String>,
    /// An app password (Settings → Privacy and security → App passwords), not the account password.
    #[schema(value_type = Option<String>)]
    app_password: Option<String>,
    /// The profile: `profile_id=<id>` or `{userId}-{profileId}`.
    state: Option<String>,
    #[serde(alias = "redirectUrl", alias = "redirectUri", alias = "redirect_uri")]
    #[allow(
        dead_code,
        reason = "a JSON connect has no browser to send back; accepted for compatibility"
    )]
    redirect_url: Option<String>,
}

/// Connect a Bluesky account with its handle and an app password.
#[utoipa::path(tag = "Connect", request_body = BlueskyBody,
    responses((status = 200, description = "`{message, account}`", body = Object), (status = 400, body = ErrorBody, description = "invalid_credentials, app_password_required, bad state"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[post("/connect/bluesky/credentials")]
pub async fn bluesky(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    body: web::Json<BlueskyBody>,
) -> Result<HttpResponse, ApiError> {
    let identifier = required(&body.identifier, "identifier")?;
    if !valid_identifier(identifier) {
        return Err(ApiError::bad_request(
            "validation_error",
            "identifier",
            "identifier is a handle, an email or a DID",
        ));
    }
    let password = required(&body.app_password, "appPassword")?;
    let profile_id = profile_from_state(required(&body.state, "state")?).ok_or_else(|| {
        ApiError::bad_request(
            "validation_error",
            "state",
            "state names the profile: profile_id=<id> or {userId}-{profileId}",
        )
    })?;
    let account = state
        .services
        .connect_bluesky(
            &caller,
            BlueskyCredentials {
                identifier: identifier.to_owned(),
                app_password: Secret::new(password.to_owned()),
                profile_id,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "message": "Bluesky account connected",
        "account": SocialAccount::from(&account),
    })))
}

/// Get a one-time code to link a Telegram channel or group (valid 15 minutes).
#[utoipa::path(tag = "Connect", params(("profileId" = String, Query)),
    responses((status = 200, description = "`{code, expiresAt, expiresIn, botUsername, instructions}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[get("/connect/telegram")]
pub async fn telegram_code(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let profile: ProfileId = parse_id(
        q.str("profileId").ok_or_else(|| {
            ApiError::bad_request("validation_error", "profileId", "profileId is required")
        })?,
        "profileId",
    )?;
    let code = state.services.telegram_code(&caller, &profile).await?;
    let expires_in = (code.expires_at - state.services.clock.now())
        .num_seconds()
        .max(0);
    Ok(HttpResponse::Ok().json(json!({
        "code": code.code,
        "expiresAt": timestamp(code.expires_at),
        "expiresIn": expires_in,
        "botUsername": code.bot_username,
        "instructions": code.instructions,
    })))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TelegramChatBody {
    /// `-100…` or `@channel`.
    chat_id: Option<serde_json::Value>,
    profile_id: Option<String>,
}

/// Link a chat where the bot already is an administrator.
#[utoipa::path(tag = "Connect", request_body = TelegramChatBody,
    responses((status = 200, description = "`{message, account: {_id, platform, username, displayName, isActive, chatType}}`", body = Object), (status = 400, body = ErrorBody, description = "chat_not_found, bot_not_admin, bot_cannot_post"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[post("/connect/telegram")]
pub async fn telegram_chat(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    body: web::Json<TelegramChatBody>,
) -> Result<HttpResponse, ApiError> {
    // The SDKs send the id as a string; a number is taken too.
    let chat = match &body.chat_id {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "validation_error",
                "chatId",
                "chatId is required",
            ));
        }
    };
    let profile: ProfileId = parse_id(required(&body.profile_id, "profileId")?, "profileId")?;
    let (account, info) = state
        .services
        .telegram_connect_chat(&caller, &chat, &profile)
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "message": "Telegram chat connected",
        "account": {
            "_id": account.id, "accountId": account.id, "platform": "telegram", "profileId": account.profile_id,
            "username": account.username, "displayName": account.display_name,
            "isActive": account.is_active, "chatType": account.metadata.get("chatType"), "chatId": info.id.to_string(),
        },
    })))
}

/// Where a Telegram code stands: pending, connected (with the chat and account) or expired.
#[utoipa::path(tag = "Connect", params(("code" = String, Query)),
    responses((status = 200, description = "`{status: pending|connected|expired, …}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[patch("/connect/telegram")]
pub async fn telegram_status(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let code = q
        .str("code")
        .ok_or_else(|| ApiError::bad_request("validation_error", "code", "code is required"))?;
    let status = state.services.telegram_status(&caller, code).await?;
    Ok(HttpResponse::Ok().json(telegram_status_body(status, state.services.clock.now())))
}

/// A Telegram code's status in the REST shape (also what the MCP tool answers).
pub(crate) fn telegram_status_body(
    status: TelegramStatus,
    now: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    match status {
        TelegramStatus::Pending { expires_at } => json!({
            "status": "pending",
            "expiresAt": timestamp(expires_at),
            "expiresIn": (expires_at - now).num_seconds().max(0),
        }),
        TelegramStatus::Connected {
            chat_id,
            chat_title,
            chat_type,
            account,
        } => json!({
            "status": "connected",
            "chatId": chat_id.to_string(),
            "chatTitle": chat_title,
            "chatType": chat_type,
            "account": {"_id": account.id, "platform": "telegram", "username": account.username, "displayName": account.display_name},
        }),
        TelegramStatus::Expired => json!({
            "status": "expired",
            "message": "The code has expired; get a new one with GET /v1/connect/telegram",
        }),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhatsAppBody {
    profile_id: Option<String>,
    /// A permanent system-user access token.
    #[schema(value_type = Option<String>)]
    access_token: Option<String>,
    waba_id: Option<String>,
    phone_number_id: Option<String>,
    /// Six digits (two-step verification) to register the number for the Cloud API.
    pin: Option<String>,
}

/// Connect a WhatsApp Business Cloud API number with its credentials.
#[utoipa::path(tag = "Connect", request_body = WhatsAppBody,
    responses((status = 200, description = "`{message, registrationWarning?, account}`", body = Object), (status = 400, body = ErrorBody, description = "validation_error, phone_number_not_in_waba (with details.availablePhoneNumbers)"), (status = 401, body = ErrorBody, description = "whatsapp_token_invalid: Meta refused the token"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[post("/connect/whatsapp/credentials")]
pub async fn whatsapp(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    body: web::Json<WhatsAppBody>,
) -> Result<HttpResponse, ApiError> {
    let profile: ProfileId = parse_id(required(&body.profile_id, "profileId")?, "profileId")?;
    let token = required(&body.access_token, "accessToken")?;
    let waba = required(&body.waba_id, "wabaId")?;
    let phone = required(&body.phone_number_id, "phoneNumberId")?;
    for (v, name) in [(waba, "wabaId"), (phone, "phoneNumberId")] {
        if !valid_graph_id(v) {
            return Err(ApiError::bad_request(
                "validation_error",
                name,
                format!("{name} is a numeric Meta id"),
            ));
        }
    }
    let pin = body.pin.as_deref().map(str::trim).filter(|p| !p.is_empty());
    if pin.is_some_and(|p| !valid_pin(p)) {
        return Err(ApiError::bad_request(
            "validation_error",
            "pin",
            "pin is six digits",
        ));
    }
    let done = state
        .services
        .connect_whatsapp(
            &caller,
            WhatsAppCredentials {
                profile_id: profile,
                access_token: Secret::new(token.to_owned()),
                waba_id: waba.to_owned(),
                phone_number_id: phone.to_owned(),
                pin: pin.map(str::to_owned),
            },
        )
        .await?;
    let a = &done.account;
    let mut out = json!({
        "message": "WhatsApp number connected",
        "account": {
            "accountId": a.id, "_id": a.id, "platform": "whatsapp", "profileId": a.profile_id,
            "username": a.username, "displayName": a.display_name, "isActive": a.is_active,
            "phoneNumber": done.phone.display_phone_number, "verifiedName": done.phone.verified_name,
            "qualityRating": done.phone.quality_rating,
        },
    });
    if let (Some(w), Some(o)) = (done.registration_warning, out.as_object_mut()) {
        o.insert("registrationWarning".into(), w.into());
    }
    Ok(HttpResponse::Ok().json(out))
}
