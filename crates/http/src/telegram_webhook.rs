//! The Telegram bot's webhook (platforms.md §14): any replica takes an update; Telegram's
//! `X-Telegram-Bot-Api-Secret-Token` header proves it is Telegram.

use crate::AppState;
use actix_web::{HttpRequest, HttpResponse, post, web};
use plugboard_platforms::telegram::TelegramBot;

/// Receives one update from Telegram.
#[utoipa::path(tag = "Telegram bot", request_body(content = Object, description = "A Bot API Update"),
    responses((status = 200, description = "Taken (also when it was not a code)"), (status = 401, description = "Missing or wrong secret token"), (status = 404, description = "Telegram is not configured")))]
#[post("/telegram/webhook")]
pub async fn telegram_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Some(tg) = state
        .services
        .connect
        .as_ref()
        .and_then(|c| c.telegram.clone())
    else {
        return HttpResponse::NotFound().finish();
    };
    let presented = req
        .headers()
        .get("x-telegram-bot-api-secret-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !tg.secret_matches(presented) {
        tracing::info!(target: "security", "Telegram webhook call without the right secret token");
        return HttpResponse::Unauthorized().finish();
    }
    let update = match TelegramBot::parse_update(&body) {
        Ok(u) => u,
        Err(e) => {
            // A body we cannot read will not get better on a retry.
            tracing::warn!(error = %e, "unreadable Telegram update");
            return HttpResponse::Ok().finish();
        }
    };
    match state.services.telegram_handle_update(&update).await {
        Ok(()) => HttpResponse::Ok().finish(),
        // Telegram retries a non-2xx: a store failure may pass.
        Err(e) => {
            tracing::error!(error = %e, "handling a Telegram update failed");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}
