//! Hosted pages (ARCHITECTURE "HTTP surface"): the provider callback, the selection picker
//! and the result pages. Server-rendered, no JavaScript, one form, strict CSP.

use crate::AppState;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use plugboard_core::Platform;
use plugboard_platforms::{Destination, SelectionKind};
use plugboard_service::ServiceError;
use plugboard_service::connect::{
    CallbackInput, CallbackOutcome, Choice, PendingView, ResultPage, SelectAuthority,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::query::QueryMap;

/// Binds the picker to the browser that came back from the platform. One cookie per
/// pending selection, so two connects in two tabs do not overwrite each other's.
fn browser_cookie(token: &str) -> String {
    let digest = hex::encode(Sha256::digest(format!("cookie:{token}").as_bytes()));
    format!("plugboard_select_{}", &digest[..16])
}
const PENDING_SECONDS: i64 = 3600;

/// `default-src 'none'` and nothing that runs: the pages are forms and text. Images come
/// from the platforms' CDNs (avatars, Page pictures), so any https or same-origin image.
const CSP: &str = "default-src 'none'; img-src 'self' https: http: data:; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Template)]
#[template(path = "result.html")]
struct ResultTemplate<'a> {
    sandbox: bool,
    success: bool,
    title: &'a str,
    message: &'a str,
}

struct ChoiceRow {
    value: String,
    title: String,
    detail: Option<String>,
    picture: Option<String>,
}

#[derive(Template)]
#[template(path = "picker.html")]
struct PickerTemplate {
    sandbox: bool,
    heading: String,
    lead: String,
    platform_name: &'static str,
    user_name: String,
    user_picture: Option<String>,
    error: Option<String>,
    choices: Vec<ChoiceRow>,
    empty_title: String,
    empty_help: String,
    action: String,
    token: String,
    csrf: String,
    expires_at: String,
}

fn secure_headers(mut resp: HttpResponse) -> HttpResponse {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub(crate) fn html(status: StatusCode, body: Result<String, askama::Error>) -> HttpResponse {
    match body {
        Ok(body) => secure_headers(
            HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(body),
        ),
        Err(e) => {
            tracing::error!(error = %e, "page template failed");
            secure_headers(HttpResponse::InternalServerError().body("Internal error"))
        }
    }
}

/// A plain page with a title and a message (errors of pages outside the connect flow).
pub(crate) fn plain_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    html(
        status,
        ResultTemplate {
            sandbox: false,
            success: false,
            title,
            message,
        }
        .render(),
    )
}

fn result_page(state: &AppState, status: StatusCode, page: &ResultPage) -> HttpResponse {
    let sandbox = page.platform.is_some_and(|p| sandboxed(state, p));
    html(
        status,
        ResultTemplate {
            sandbox,
            success: page.success,
            title: &page.title,
            message: &page.message,
        }
        .render(),
    )
}

fn message_page(
    state: &AppState,
    status: StatusCode,
    platform: Option<Platform>,
    title: &str,
    message: &str,
) -> HttpResponse {
    result_page(
        state,
        status,
        &ResultPage {
            success: false,
            platform,
            title: title.into(),
            message: message.into(),
        },
    )
}

fn sandboxed(state: &AppState, p: Platform) -> bool {
    state
        .services
        .connect
        .as_ref()
        .is_some_and(|c| c.is_sandboxed(p))
}

fn is_https(state: &AppState) -> bool {
    state
        .services
        .connect
        .as_ref()
        .is_some_and(|c| c.is_https())
}

fn see_other(location: &str) -> HttpResponse {
    secure_headers(
        HttpResponse::Found()
            .insert_header((header::LOCATION, location))
            .finish(),
    )
}

fn platform_of(state: &AppState, raw: &str) -> Result<Platform, Box<HttpResponse>> {
    raw.parse::<Platform>().map_err(|_| {
        Box::new(message_page(
            state,
            StatusCode::NOT_FOUND,
            None,
            "Unknown platform",
            "This address does not belong to any platform Plugboard connects.",
        ))
    })
}

/// The one callback URL per platform that operators register with each network.
#[utoipa::path(tag = "Hosted pages",
    params(("platform" = String, Path), ("code" = Option<String>, Query), ("state" = Option<String>, Query), ("error" = Option<String>, Query)),
    responses((status = 302, description = "To the integrator's redirect_url with the result, or to the hosted picker"), (status = 400, description = "HTML page: unknown, used or expired state and no redirect known")))]
#[get("/connect/{platform}/callback")]
pub async fn callback(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let platform = match platform_of(&state, &path) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let q = QueryMap::from_request(&req);
    let input = CallbackInput {
        state: q.str("state").map(str::to_owned),
        code: q.str("code").map(str::to_owned),
        error: q.str("error").map(str::to_owned),
        error_description: q.str("error_description").map(str::to_owned),
        error_reason: q.str("error_reason").map(str::to_owned),
    };
    match state.services.complete_callback(platform, input).await {
        CallbackOutcome::Redirect(url) => see_other(url.as_str()),
        CallbackOutcome::Picker { url, token, nonce } => {
            let cookie = Cookie::build(browser_cookie(token.as_str()), nonce)
                .path("/connect")
                .http_only(true)
                .secure(is_https(&state))
                .same_site(SameSite::Lax)
                .max_age(actix_web::cookie::time::Duration::seconds(PENDING_SECONDS))
                .finish();
            let mut resp = see_other(&url);
            if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
        CallbackOutcome::Page(page) => {
            let status = if page.success {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            result_page(&state, status, &page)
        }
    }
}

fn csrf_for(nonce: &str) -> String {
    hex::encode(Sha256::digest(format!("csrf:{nonce}").as_bytes()))
}

fn platform_name(p: Platform) -> &'static str {
    match p {
        Platform::Twitter => "X",
        Platform::Instagram => "Instagram",
        Platform::Facebook => "Facebook",
        Platform::Linkedin => "LinkedIn",
        Platform::Tiktok => "TikTok",
        Platform::Youtube => "YouTube",
        Platform::Pinterest => "Pinterest",
        Platform::Reddit => "Reddit",
        Platform::Threads => "Threads",
        Platform::Googlebusiness => "Google Business Profile",
        Platform::Snapchat => "Snapchat",
        Platform::Bluesky => "Bluesky",
        Platform::Telegram => "Telegram",
        Platform::Whatsapp => "WhatsApp",
        Platform::Metaads => "Meta Ads",
    }
}

/// The words of the picker, per kind of choice.
struct Words {
    heading: &'static str,
    lead: &'static str,
    empty_title: &'static str,
    empty_help: &'static str,
}

fn words(kind: SelectionKind) -> Words {
    match kind {
        SelectionKind::FacebookPage => Words {
            heading: "Choose a Facebook Page",
            lead: "Pick the Page to connect. Posts will be published as this Page.",
            empty_title: "No Facebook Pages found",
            empty_help: "You did not grant access to any Page you manage. Go back to the app, connect again, and tick at least one Page in Facebook's dialog.",
        },
        SelectionKind::InstagramAccount => Words {
            heading: "Choose an Instagram account",
            lead: "Pick the Instagram professional account to connect; it is reached through the Facebook Page it is linked to.",
            empty_title: "No Instagram professional accounts found",
            empty_help: "None of the Pages you granted has a linked Instagram professional account. Link one in the Page's settings, or connect with Instagram Login instead.",
        },
        SelectionKind::LinkedinOrganization => Words {
            heading: "Choose a LinkedIn profile or page",
            lead: "Connect your personal profile, or an organization page you administer.",
            empty_title: "Nothing to connect",
            empty_help: "Go back to the app and connect again.",
        },
        SelectionKind::PinterestBoard => Words {
            heading: "Choose a default Pinterest board",
            lead: "Pins go to this board unless another one is chosen.",
            empty_title: "No boards found",
            empty_help: "Create a board on Pinterest, then connect again.",
        },
        SelectionKind::GoogleBusinessLocation => Words {
            heading: "Choose a business location",
            lead: "Pick the Google Business Profile location to connect.",
            empty_title: "No locations found",
            empty_help: "This Google account manages no Business Profile locations. Sign in with the account that manages your business, or ask its owner to add you as a manager.",
        },
        SelectionKind::SnapchatPublicProfile => Words {
            heading: "Choose a Snapchat Public Profile",
            lead: "Pick the Public Profile to post as.",
            empty_title: "No Public Profiles found",
            empty_help: "Create a Public Profile in the Snapchat app, then connect again.",
        },
        SelectionKind::WhatsAppPhoneNumber => Words {
            heading: "Choose a WhatsApp number",
            lead: "Pick the WhatsApp Business phone number to connect.",
            empty_title: "No phone numbers found",
            empty_help: "Add a phone number to your WhatsApp Business Account in WhatsApp Manager, then connect again.",
        },
    }
}

fn row(kind: SelectionKind, d: &Destination) -> ChoiceRow {
    let s = |k: &str| d.extra.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let (detail, picture) = match kind {
        SelectionKind::FacebookPage => (s("category"), d.picture.clone()),
        SelectionKind::InstagramAccount => {
            let ig = d.extra.get("instagram_business_account");
            let handle = ig.and_then(|i| i.get("username")).and_then(|v| v.as_str());
            let pic = ig
                .and_then(|i| i.get("profile_picture_url"))
                .and_then(|v| v.as_str());
            (
                handle.map(|h| format!("@{h} · Page {}", d.name)),
                pic.map(str::to_owned),
            )
        }
        SelectionKind::LinkedinOrganization => {
            (Some("Organization page".into()), d.picture.clone())
        }
        SelectionKind::PinterestBoard => (s("description").filter(|x| !x.is_empty()), None),
        SelectionKind::GoogleBusinessLocation => (s("address"), None),
        SelectionKind::SnapchatPublicProfile => (
            d.username.as_ref().map(|u| format!("@{u}")),
            d.picture.clone(),
        ),
        SelectionKind::WhatsAppPhoneNumber => (
            s("verifiedName").map(|n| match s("wabaName") {
                Some(w) => format!("{n} · {w}"),
                None => n,
            }),
            None,
        ),
    };
    let title = match kind {
        SelectionKind::InstagramAccount => d
            .extra
            .get("instagram_business_account")
            .and_then(|i| i.get("name").or_else(|| i.get("username")))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| d.name.clone()),
        _ => d.name.clone(),
    };
    ChoiceRow {
        value: format!("d:{}", d.id),
        title,
        detail,
        picture,
    }
}

fn render_picker(
    state: &AppState,
    view: &PendingView,
    token: &str,
    nonce: &str,
    error: Option<String>,
) -> HttpResponse {
    let w = words(view.kind);
    let mut choices = Vec::new();
    if view.kind == SelectionKind::LinkedinOrganization {
        choices.push(ChoiceRow {
            value: "personal".into(),
            title: view
                .identity
                .display_name
                .clone()
                .unwrap_or_else(|| "Personal profile".into()),
            detail: Some("Personal profile".into()),
            picture: view.identity.profile_picture.clone(),
        });
    }
    let usable: Vec<&Destination> = view
        .destinations
        .iter()
        .filter(|d| {
            view.kind != SelectionKind::InstagramAccount
                || d.extra
                    .get("instagram_business_account")
                    .is_some_and(|v| v.is_object())
        })
        .collect();
    choices.extend(usable.into_iter().map(|d| row(view.kind, d)));
    let user_name = view
        .identity
        .username
        .clone()
        .or_else(|| view.identity.display_name.clone())
        .unwrap_or_else(|| view.identity.platform_user_id.clone());
    html(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        PickerTemplate {
            sandbox: sandboxed(state, view.platform),
            heading: w.heading.into(),
            lead: w.lead.into(),
            platform_name: platform_name(view.platform),
            user_name,
            user_picture: view.identity.profile_picture.clone(),
            error,
            choices,
            empty_title: w.empty_title.into(),
            empty_help: w.empty_help.into(),
            action: format!("/connect/{}/select", view.platform),
            token: token.into(),
            csrf: csrf_for(nonce),
            expires_at: view.expires_at.format("%H:%M UTC").to_string(),
        }
        .render(),
    )
}

fn pending_error(state: &AppState, platform: Platform, e: ServiceError) -> HttpResponse {
    match e {
        ServiceError::NotFound { .. } => message_page(
            state,
            StatusCode::NOT_FOUND,
            Some(platform),
            "This selection has expired",
            "It was already completed or is more than an hour old. Go back to the app and start connecting again.",
        ),
        ServiceError::Forbidden { .. } => message_page(
            state,
            StatusCode::FORBIDDEN,
            Some(platform),
            "Open this page in the browser you connected with",
            "This selection belongs to the browser that came back from the platform. Go back to the app and start connecting again.",
        ),
        other => {
            tracing::error!(error = %other, "hosted picker failed");
            message_page(
                state,
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(platform),
                "Something went wrong",
                "The server could not show this page. Try again in a moment.",
            )
        }
    }
}

/// The hosted selection page (standard mode).
#[utoipa::path(tag = "Hosted pages",
    params(("platform" = String, Path), ("token" = String, Query)),
    responses((status = 200, description = "HTML form listing the Pages, organizations, boards, locations or profiles"), (status = 403, description = "Opened without the browser cookie of the flow"), (status = 404, description = "Expired or completed")))]
#[get("/connect/{platform}/select")]
pub async fn picker(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let platform = match platform_of(&state, &path) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let q = QueryMap::from_request(&req);
    let token = q.str("token").unwrap_or_default().to_owned();
    let nonce = req
        .cookie(&browser_cookie(&token))
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    match state
        .services
        .pending_for(
            SelectAuthority::Browser { nonce: &nonce },
            platform,
            &token,
            None,
        )
        .await
    {
        Ok(view) => render_picker(&state, &view, &token, &nonce, None),
        Err(e) => pending_error(&state, platform, e),
    }
}

/// The picker's form post.
#[utoipa::path(tag = "Hosted pages",
    params(("platform" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "token, csrf, choice"),
    responses((status = 302, description = "To the integrator's redirect_url with the result"), (status = 200, description = "HTML: connected (no redirect known)"), (status = 400, description = "HTML: the form again with the error"), (status = 403, description = "CSRF check failed")))]
#[post("/connect/{platform}/select")]
pub async fn pick(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let platform = match platform_of(&state, &path) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let token = get("token");
    let nonce = req
        .cookie(&browser_cookie(token))
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let csrf_ok =
        !nonce.is_empty() && bool::from(csrf_for(&nonce).as_bytes().ct_eq(get("csrf").as_bytes()));
    if !csrf_ok {
        tracing::info!(target: "security", platform = %platform, reason = "csrf token or browser cookie missing or wrong", "hosted selection refused");
        return message_page(
            &state,
            StatusCode::FORBIDDEN,
            Some(platform),
            "This form has expired",
            "The page was opened in another browser or is out of date. Go back to the app and start connecting again.",
        );
    }
    let view = match state
        .services
        .pending_for(
            SelectAuthority::Browser { nonce: &nonce },
            platform,
            token,
            None,
        )
        .await
    {
        Ok(v) => v,
        Err(e) => return pending_error(&state, platform, e),
    };
    let choice = match get("choice") {
        "personal" => Choice::Personal,
        c => match c.strip_prefix("d:") {
            Some(id) if !id.is_empty() => Choice::Destination(id.to_owned()),
            _ => {
                return render_picker(
                    &state,
                    &view,
                    token,
                    &nonce,
                    Some("Choose one of the options below.".into()),
                );
            }
        },
    };
    match state
        .services
        .select_destinations(
            SelectAuthority::Browser { nonce: &nonce },
            platform,
            token,
            None,
            vec![choice],
            None,
        )
        .await
    {
        Ok(out) => match out.redirect {
            Some(url) => see_other(url.as_str()),
            None => {
                let a = &out.selected[0].account;
                let who = a
                    .display_name
                    .clone()
                    .or_else(|| a.username.clone())
                    .unwrap_or_default();
                result_page(
                    &state,
                    StatusCode::OK,
                    &ResultPage {
                        success: true,
                        platform: Some(platform),
                        title: "Connected".into(),
                        message: format!(
                            "{who} on {} is connected. You can close this window.",
                            platform_name(platform)
                        ),
                    },
                )
            }
        },
        Err(ServiceError::Invalid { message, .. })
        | Err(ServiceError::Conflict { message, .. }) => {
            render_picker(&state, &view, token, &nonce, Some(message))
        }
        Err(ServiceError::NotFound { what }) if what != "Pending selection" => render_picker(
            &state,
            &view,
            token,
            &nonce,
            Some("That choice is not available; choose one of the options below.".into()),
        ),
        Err(e) => pending_error(&state, platform, e),
    }
}
