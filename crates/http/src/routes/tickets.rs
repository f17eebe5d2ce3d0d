//! Ticket-based connect links: minted by the integrator's backend, opened by a browser.

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Auth, parse_id};
use crate::pages::plain_page;
use crate::query::QueryMap;
use crate::routes::connect::parse_platform;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use plugboard_core::{ProfileId, RedirectUrl};
use plugboard_service::connect::{NewTicket, TicketRefusal};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketBody {
    /// An OAuth platform: twitter, instagram, facebook, linkedin, tiktok, youtube,
    /// pinterest, reddit, threads, googlebusiness, snapchat or whatsapp.
    platform: Option<String>,
    /// Where the browser returns at the end (absolute http(s) or an app scheme); the flow
    /// ends there exactly.
    redirect_url: Option<String>,
    /// The profile the account(s) go to; the default profile when omitted.
    profile_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketCreated {
    ticket_id: String,
    /// Plugboard's own link (`/v1/oauth/{platform}/authorize?ticket=…`); hand it to the
    /// browser. It works once, for five minutes.
    auth_url: String,
    expires_at: String,
}

/// Mint a single-use connect link (5 minutes). On Facebook, and YouTube when the Google
/// account has several channels, every Page or channel granted becomes its own account.
#[utoipa::path(tag = "Tickets", request_body = TicketBody,
    responses((status = 201, body = TicketCreated), (status = 400, body = ErrorBody, description = "validation_error, unsupported_platform, INVALID_REDIRECT_URL, platform_not_configured"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody, description = "QUOTA_EXCEEDED: the platform app's API quota is used up until the reset in `details.resetAt`")),
    security(("bearerAuth" = [])))]
#[post("/oauth/tickets")]
pub async fn create(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    body: web::Json<TicketBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let platform = match body.platform.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => parse_platform(p)?,
        _ => {
            return Err(ApiError::bad_request(
                "validation_error",
                "platform",
                "platform is required",
            ));
        }
    };
    let redirect_url = match body.redirect_url.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => RedirectUrl::parse(r).map_err(|e| {
            ApiError::bad_request(
                "INVALID_REDIRECT_URL",
                "redirectUrl",
                format!("redirectUrl: {e}"),
            )
        })?,
        _ => {
            return Err(ApiError::bad_request(
                "validation_error",
                "redirectUrl",
                "redirectUrl is required: the flow ends there",
            ));
        }
    };
    let profile_id: Option<ProfileId> = body
        .profile_id
        .as_deref()
        .map(|p| parse_id(p, "profileId"))
        .transpose()?;
    let ticket = state
        .services
        .create_ticket(
            &caller,
            NewTicket {
                platform,
                redirect_url,
                profile_id,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(TicketCreated {
        ticket_id: ticket.ticket_id,
        auth_url: ticket.auth_url,
        expires_at: ticket
            .expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }))
}

/// Open a ticket link: redirects to the platform's consent screen, or shows a page saying
/// why the link cannot be used (expired, used, opened with another redirect).
#[utoipa::path(tag = "Tickets",
    params(("platform" = String, Path), ("ticket" = String, Query, description = "From POST /v1/oauth/tickets"), ("redirect_url" = Option<String>, Query, description = "When given, must equal the ticket's redirectUrl exactly")),
    responses((status = 302, description = "To the platform"), (status = 400, description = "HTML: wrong platform or redirect_url"), (status = 410, description = "HTML: the link expired or was used")))]
#[get("/oauth/{platform}/authorize")]
pub async fn authorize(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let again = "Go back to the app and start connecting again: it will give you a new link.";
    let Ok(platform) = parse_platform(&path) else {
        return plain_page(StatusCode::NOT_FOUND, "Unknown platform", again);
    };
    let q = QueryMap::from_request(&req);
    let Some(ticket) = q.str("ticket") else {
        return plain_page(
            StatusCode::BAD_REQUEST,
            "This link is incomplete",
            "The connect link has no ticket. Go back to the app and start connecting again.",
        );
    };
    let redirect = q.str("redirect_url").or_else(|| q.str("redirectUrl"));
    match state
        .services
        .redeem_ticket(platform, ticket, redirect)
        .await
    {
        Ok(location) => match HeaderValue::from_str(&location) {
            Ok(v) => {
                let mut resp = HttpResponse::Found()
                    .insert_header((header::LOCATION, v))
                    .finish();
                resp.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                resp
            }
            Err(_) => plain_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                again,
            ),
        },
        Err(TicketRefusal::Expired) => plain_page(
            StatusCode::GONE,
            "This connect link has expired",
            "Connect links work once and for five minutes; this one was already used or is too old. Go back to the app and start connecting again.",
        ),
        Err(TicketRefusal::WrongPlatform) => plain_page(
            StatusCode::BAD_REQUEST,
            "This link is for another platform",
            again,
        ),
        Err(TicketRefusal::RedirectMismatch) => plain_page(
            StatusCode::BAD_REQUEST,
            "This link was changed",
            "The return address on the link does not match the one the app registered for it. Go back to the app and start connecting again.",
        ),
        Err(TicketRefusal::Unusable(message)) => plain_page(
            StatusCode::BAD_REQUEST,
            "This link cannot be used",
            &message,
        ),
    }
}
