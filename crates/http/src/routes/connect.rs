//! Starting and finishing OAuth connects: `GET/POST /v1/connect/{platform}` and
//! `GET /v1/connect/pending-data` (shared/api-scope.md §3).

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Auth, parse_id};
use crate::query::QueryMap;
use crate::routes::selection::{pending_body, user_profile_json};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use plugboard_core::{AccountId, Platform, ProfileId, RedirectUrl};
use plugboard_platforms::instagram::LoginMethod;
use plugboard_service::connect::{CodeCompletion, StartConnect};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The platforms `POST /v1/connect/{platform}` takes (Zernio's enum): the others pick a
/// destination after the login, or have their own routes.
const CODE_PLATFORMS: &[Platform] = &[
    Platform::Instagram,
    Platform::Twitter,
    Platform::Threads,
    Platform::Linkedin,
    Platform::Youtube,
    Platform::Tiktok,
    Platform::Reddit,
    Platform::Pinterest,
];

/// The permission areas Zernio's `scopes` parameter names.
const SCOPE_AREAS: &[&str] = &["posting", "analytics", "comments", "messaging", "ads"];

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectUrl {
    /// Send the user's browser here.
    auth_url: String,
    /// The OAuth state of this connect session (opaque; handled by Plugboard).
    state: String,
}

pub(crate) fn parse_platform(raw: &str) -> Result<Platform, ApiError> {
    raw.parse::<Platform>().map_err(|_| {
        ApiError::bad_request(
            "unsupported_platform",
            "platform",
            format!("{raw:?} is not a platform Plugboard connects"),
        )
    })
}

pub(crate) fn redirect_param(q: &QueryMap) -> Result<Option<RedirectUrl>, ApiError> {
    // The Python SDK sends `redirectUrl`, Node and the docs `redirect_url` (api-scope §13.2).
    match q.str("redirect_url").or_else(|| q.str("redirectUrl")) {
        None => Ok(None),
        Some(raw) => RedirectUrl::parse(raw).map(Some).map_err(|e| {
            ApiError::bad_request("INVALID_REDIRECT_URL", "redirect_url", e.to_string())
        }),
    }
}

fn required_profile(q: &QueryMap) -> Result<ProfileId, ApiError> {
    match q.str("profileId") {
        Some(p) => parse_id(p, "profileId"),
        None => Err(ApiError::bad_request(
            "validation_error",
            "profileId",
            "profileId is required",
        )),
    }
}

fn start_request(platform: Platform, q: &QueryMap) -> Result<StartConnect, ApiError> {
    let profile_id = required_profile(q)?;
    let login_method = match q.one_of("loginMethod", &["instagram_login", "facebook_login"])? {
        Some(m) if m == "facebook_login" => LoginMethod::FacebookLogin,
        _ => LoginMethod::InstagramLogin,
    };
    // Only `true` triggers handoff's rules; the SDK always sends `handoff=false`.
    if q.bool("handoff")? {
        return Err(ApiError::bad_request(
            "INVALID_FIELD_VALUE",
            "handoff",
            "finish-on-phone handoff links are not offered by Plugboard",
        ));
    }
    if let Some(scopes) = q.str("scopes") {
        let areas: Vec<&str> = scopes
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if areas.is_empty() || areas.iter().any(|a| !SCOPE_AREAS.contains(a)) {
            return Err(ApiError::bad_request(
                "INVALID_FIELD_VALUE",
                "scopes",
                format!("scopes is a comma list of {}", SCOPE_AREAS.join(", ")),
            ));
        }
    }
    let reconnect_account_id: Option<AccountId> = q
        .str("reconnectAccountId")
        .map(|r| parse_id(r, "reconnectAccountId"))
        .transpose()?;
    Ok(StartConnect {
        platform,
        profile_id,
        redirect_url: redirect_param(q)?,
        headless: q.bool("headless")?,
        login_method,
        force_reauth: q.bool("forceReauth")?,
        reconnect_account_id,
        expected_platform_user_id: q.str("expectedPlatformUserId").map(str::to_owned),
        expected_username: q.str("expectedUsername").map(str::to_owned),
    })
}

/// Start a connect: returns the platform's authorization URL.
#[utoipa::path(
    tag = "Connect",
    params(
        ("platform" = String, Path, description = "twitter, instagram, facebook, linkedin, tiktok, youtube, pinterest, reddit, threads, googlebusiness or snapchat"),
        ("profileId" = String, Query, description = "Profile the account will belong to"),
        ("redirect_url" = Option<String>, Query, description = "Where the browser returns (absolute http(s) or an app scheme); `redirectUrl` is accepted too"),
        ("headless" = Option<bool>, Query, description = "Hand the login to redirect_url for the integrator's own picker"),
        ("loginMethod" = Option<String>, Query, description = "Instagram only: instagram_login (default) or facebook_login"),
        ("reconnectAccountId" = Option<String>, Query, description = "Reconnect this account; a login of another account is refused"),
        ("expectedPlatformUserId" = Option<String>, Query, description = "Connect only if the login is this platform account"),
        ("expectedUsername" = Option<String>, Query, description = "Connect only if the login has this handle"),
        ("forceReauth" = Option<bool>, Query, description = "Instagram Login: show the login screen again"),
    ),
    responses(
        (status = 200, body = ConnectUrl),
        (status = 400, body = ErrorBody, description = "Bad parameter, INVALID_REDIRECT_URL, platform_not_configured"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "Profile not found"),
        (status = 429, body = ErrorBody, description = "QUOTA_EXCEEDED: the platform app's API quota is used up until the reset in `details.resetAt`"),
    ),
    security(("bearerAuth" = []))
)]
#[get("/connect/{platform}")]
pub async fn start(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let platform = parse_platform(&path)?;
    let start = start_request(platform, &QueryMap::from_request(&req))?;
    let started = state.services.start_connect(&caller, start).await?;
    Ok(HttpResponse::Ok().json(ConnectUrl {
        auth_url: started.auth_url,
        state: started.state.as_str().to_owned(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeBody {
    /// Required; optional in the type so a missing key is answered 401 before the body is
    /// judged.
    code: Option<String>,
    state: Option<String>,
    profile_id: Option<String>,
}

fn required<'a>(v: &'a Option<String>, name: &'static str) -> Result<&'a str, ApiError> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("validation_error", name, format!("{name} is required"))
        })
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeConnected {
    message: &'static str,
    #[schema(value_type = Object)]
    account: serde_json::Value,
}

/// Finish a connect with the code and state the integrator's page received.
#[utoipa::path(
    tag = "Connect",
    params(("platform" = String, Path, description = "instagram, twitter, threads, linkedin, youtube, tiktok, reddit or pinterest")),
    request_body = CodeBody,
    responses(
        (status = 200, body = CodeConnected, description = "Account connected, or (LinkedIn, Pinterest) the selection to make next"),
        (status = 400, body = ErrorBody, description = "invalid_state, unsupported platform"),
        (status = 401, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "The platform refused the code"),
    ),
    security(("bearerAuth" = []))
)]
#[post("/connect/{platform}")]
pub async fn complete(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
    body: web::Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    let platform = parse_platform(&path)?;
    if !CODE_PLATFORMS.contains(&platform) {
        return Err(ApiError::bad_request(
            "unsupported_platform",
            "platform",
            format!(
                "{platform} is finished by its selection endpoints, not by POST /v1/connect/{platform}"
            ),
        ));
    }
    let code = required(&body.code, "code")?;
    let flow_state = required(&body.state, "state")?;
    let profile_id: ProfileId = parse_id(required(&body.profile_id, "profileId")?, "profileId")?;
    let done = state
        .services
        .complete_code(&caller, platform, code, flow_state, &profile_id)
        .await?;
    Ok(match done {
        CodeCompletion::Connected(account) => HttpResponse::Ok().json(CodeConnected {
            message: "Account connected",
            account: serde_json::to_value(crate::dto::SocialAccount::from(&account))
                .unwrap_or_default(),
        }),
        CodeCompletion::SelectionRequired {
            kind,
            token,
            connect_token,
            identity,
        } => HttpResponse::Ok().json(serde_json::json!({
            "message": "Selection required",
            "step": plugboard_service::connect::step_name(kind),
            "platform": platform,
            "profileId": profile_id,
            "pendingDataToken": token.as_str(),
            "tempToken": token.as_str(),
            "connect_token": connect_token.as_str(),
            "userProfile": user_profile_json(&identity),
        })),
    })
}

/// Read a pending selection (LinkedIn organizations, Pinterest boards, Google Business
/// locations, Snapchat public profiles…). Reading does not consume it.
#[utoipa::path(
    tag = "Connect",
    params(("token" = String, Query, description = "The pendingDataToken from the redirect")),
    responses(
        (status = 200, description = "The pending selection", body = Object),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "Unknown or expired token"),
    )
)]
#[get("/connect/pending-data")]
pub async fn pending_data(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let Some(token) = q.str("token") else {
        return Err(ApiError::bad_request(
            "validation_error",
            "token",
            "token is required",
        ));
    };
    let view = state.services.pending_data(token).await?;
    Ok(HttpResponse::Ok().json(pending_body(&view, token, state.services.clock.now())))
}

/// `adAccountId` and `adAccountIds` (repeated or comma-separated), as one allowlist;
/// `None` when neither was sent.
fn ad_account_ids(q: &QueryMap) -> Result<Option<Vec<String>>, ApiError> {
    let mut raw: Vec<&str> = q.all("adAccountIds");
    if let Some(one) = q.str("adAccountId") {
        raw.push(one);
    }
    if !q.has("adAccountIds") && !q.has("adAccountId") {
        return Ok(None);
    }
    let mut ids: Vec<String> = Vec::new();
    for part in raw.iter().flat_map(|r| r.split(',')).map(str::trim) {
        if part.is_empty() {
            continue;
        }
        let id = plugboard_service::connect::normalize_ad_account_id(part).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_field_value",
                "adAccountIds",
                format!("{part:?} is not a Meta ad account id (act_<digits>)"),
            )
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(Some(ids))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdsAlreadyConnected {
    already_connected: bool,
    /// The `metaads` account.
    account_id: String,
    platform: String,
    username: Option<String>,
    display_name: Option<String>,
    /// The persisted allowlist; absent: every ad account the login sees.
    #[serde(skip_serializing_if = "Option::is_none")]
    scoped_ad_account_ids: Option<Vec<String>>,
}

/// Connect Meta ads: a `metaads` account beside the profile's Facebook account.
#[utoipa::path(
    tag = "Connect",
    operation_id = "connectAds",
    params(
        ("platform" = String, Path, description = "facebook (Meta ads)"),
        ("profileId" = String, Query),
        ("loginMode" = Option<String>, Query, description = "classic (default); business is not configured on Plugboard (503)"),
        ("permissionLevel" = Option<String>, Query, description = "full or advertise (business login only)"),
        ("pageId" = Option<String>, Query, description = "The Page to connect beside the ads account; the first Page when absent"),
        ("accountId" = Option<String>, Query, description = "The Facebook account to reuse when the profile has several"),
        ("redirect_url" = Option<String>, Query, description = "`redirectUrl` is accepted too"),
        ("headless" = Option<bool>, Query),
        ("force" = Option<bool>, Query, description = "Always log in again, refreshing the tokens in place"),
        ("adAccountId" = Option<String>, Query, description = "Scope the ads account to this ad account (act_<digits>)"),
        ("adAccountIds" = Option<Vec<String>>, Query, description = "Scope to these ad accounts (repeated or comma-separated); persisted, the latest call wins, omitted keeps the previous scope"),
    ),
    responses(
        (status = 200, description = "`{alreadyConnected: true, accountId, platform, username, displayName, scopedAdAccountIds?}` or `{authUrl, state}`", body = Object),
        (status = 400, body = ErrorBody, description = "unsupported_platform, invalid_field_value, ad_account_unusable, RECONNECT_REQUIRED, INVALID_REDIRECT_URL"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "loginMode=business"),
    ),
    security(("bearerAuth" = []))
)]
#[get("/connect/{platform}/ads")]
pub async fn ads(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    use plugboard_service::connect::{AdsConnectStarted, StartAdsConnect};
    let platform = parse_platform(&path)?;
    let q = QueryMap::from_request(&req);
    let profile_id = required_profile(&q)?;
    let business = q.one_of("loginMode", &["classic", "business"])?.as_deref() == Some("business");
    q.one_of("permissionLevel", &["full", "advertise"])?;
    let account_id: Option<AccountId> = q
        .str("accountId")
        .map(|a| parse_id(a, "accountId"))
        .transpose()?;
    let started = state
        .services
        .start_ads_connect(
            &caller,
            StartAdsConnect {
                platform,
                profile_id,
                redirect_url: redirect_param(&q)?,
                headless: q.bool("headless")?,
                force: q.bool("force")?,
                account_id,
                page_id: q.str("pageId").map(str::to_owned),
                ad_account_ids: ad_account_ids(&q)?,
                business_login: business,
            },
        )
        .await?;
    Ok(match started {
        AdsConnectStarted::AlreadyConnected {
            account,
            scoped_ad_account_ids,
        } => HttpResponse::Ok().json(AdsAlreadyConnected {
            already_connected: true,
            account_id: account.id.to_string(),
            platform: account.platform.to_string(),
            username: account.username.clone(),
            display_name: account.display_name.clone(),
            scoped_ad_account_ids,
        }),
        AdsConnectStarted::Authorize(s) => HttpResponse::Ok().json(ConnectUrl {
            auth_url: s.auth_url,
            state: s.state.as_str().to_owned(),
        }),
    })
}
