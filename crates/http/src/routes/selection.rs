//! Headless selection (shared/api-scope.md §4): list what a pending login can become and
//! pick it. Authorized by the API key or by the flow's `X-Connect-Token`.

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::parse_id;
use crate::query::QueryMap;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, post, web};
use futures::future::LocalBoxFuture;
use plugboard_core::{Platform, ProfileId, RedirectUrl};
use plugboard_platforms::{Destination, Identity, SelectionKind};
use plugboard_service::Caller;
use plugboard_service::connect::{Choice, PendingView, SelectAuthority, SelectOutcome, Selected};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

/// The caller of a selection endpoint: `Authorization: Bearer <key>` or, from the
/// integrator's front end, `X-Connect-Token` (the Python SDK sends both; the key wins).
pub struct SelectionAuth(pub Caller);

impl FromRequest for SelectionAuth {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let has_bearer = req
            .headers()
            .contains_key(actix_web::http::header::AUTHORIZATION);
        let connect_token = req
            .headers()
            .get("x-connect-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bearer = crate::extract::Auth::from_request(req, payload);
        Box::pin(async move {
            let state = state.ok_or_else(ApiError::internal)?;
            match (has_bearer, connect_token) {
                (false, Some(token)) => Ok(SelectionAuth(
                    state
                        .services
                        .authenticate_connect_token(token.trim())
                        .await?,
                )),
                _ => bearer.await.map(|a| SelectionAuth(a.0)),
            }
        })
    }
}

fn require_token<'a>(
    candidates: &[Option<&'a str>],
    name: &'static str,
) -> Result<&'a str, ApiError> {
    candidates
        .iter()
        .flatten()
        .map(|s| s.trim())
        .find(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("validation_error", name, format!("{name} is required"))
        })
}

fn temp_token_header(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("x-temp-token")
        .and_then(|v| v.to_str().ok())
}

fn profile_param(raw: Option<&str>, required: bool) -> Result<Option<ProfileId>, ApiError> {
    match raw.filter(|s| !s.is_empty()) {
        Some(p) => Ok(Some(parse_id(p, "profileId")?)),
        None if required => Err(ApiError::bad_request(
            "validation_error",
            "profileId",
            "profileId is required",
        )),
        None => Ok(None),
    }
}

fn body_redirect(raw: Option<&str>) -> Result<Option<RedirectUrl>, ApiError> {
    raw.filter(|s| !s.is_empty())
        .map(|r| {
            RedirectUrl::parse(r).map_err(|e| {
                ApiError::bad_request("INVALID_REDIRECT_URL", "redirect_url", e.to_string())
            })
        })
        .transpose()
}

pub(crate) fn user_profile_json(identity: &Identity) -> Value {
    json!({
        "id": identity.platform_user_id,
        "username": identity.username,
        "displayName": identity.display_name,
        "name": identity.display_name,
        "profilePicture": identity.profile_picture,
    })
}

fn extra(d: &Destination, key: &str) -> Value {
    d.extra.get(key).cloned().unwrap_or(Value::Null)
}

/// A destination in the shape Zernio lists it (never with a token).
fn destination_json(kind: SelectionKind, d: &Destination) -> Value {
    match kind {
        SelectionKind::FacebookPage => json!({
            "id": d.id, "name": d.name, "username": d.username, "category": extra(d, "category"),
            "tasks": extra(d, "tasks"), "picture": d.picture,
        }),
        SelectionKind::InstagramAccount => json!({
            "id": d.id, "name": d.name, "instagram_business_account": extra(d, "instagram_business_account"),
        }),
        SelectionKind::LinkedinOrganization => json!({
            "id": d.id, "urn": extra(d, "urn"), "name": d.name, "vanityName": extra(d, "vanityName"),
            "logoUrl": d.picture.clone().map(Value::from).unwrap_or_else(|| extra(d, "logoUrl")),
        }),
        SelectionKind::PinterestBoard => json!({
            "id": d.id, "name": d.name, "description": extra(d, "description"), "privacy": extra(d, "privacy"),
        }),
        SelectionKind::GoogleBusinessLocation => json!({
            "id": d.id, "name": d.name, "accountId": extra(d, "accountId"), "accountName": extra(d, "accountName"),
            "address": extra(d, "address"), "category": extra(d, "category"), "storeCode": extra(d, "storeCode"),
            "websiteUrl": extra(d, "websiteUrl"),
        }),
        SelectionKind::SnapchatPublicProfile => json!({
            "id": d.id, "display_name": d.name, "username": d.username, "profile_image_url": d.picture,
            "subscriber_count": extra(d, "subscriber_count"),
        }),
        SelectionKind::WhatsAppPhoneNumber => json!({
            "id": d.id, "display_phone_number": extra(d, "displayPhoneNumber"), "verified_name": extra(d, "verifiedName"),
            "quality_rating": extra(d, "qualityRating"), "name_status": extra(d, "nameStatus"),
            "messaging_limit_tier": extra(d, "messagingLimitTier"), "wabaId": extra(d, "wabaId"), "wabaName": extra(d, "wabaName"),
        }),
    }
}

fn list_key(kind: SelectionKind) -> (&'static str, &'static str) {
    match kind {
        SelectionKind::FacebookPage | SelectionKind::InstagramAccount => ("pages", "pages"),
        SelectionKind::LinkedinOrganization => ("organizations", "organizations"),
        SelectionKind::PinterestBoard => ("boards", "boards"),
        SelectionKind::GoogleBusinessLocation => ("locations", "locations"),
        SelectionKind::SnapchatPublicProfile => ("profiles", "publicProfiles"),
        SelectionKind::WhatsAppPhoneNumber => ("phoneNumbers", "phoneNumbers"),
    }
}

fn list(view: &PendingView) -> Vec<Value> {
    view.destinations
        .iter()
        .map(|d| destination_json(view.kind, d))
        .collect()
}

/// `GET /v1/connect/pending-data`'s body (shared/api-scope.md §3.5). No platform token
/// is ever in it; `tempToken` is Plugboard's own opaque handle.
pub(crate) fn pending_body(
    view: &PendingView,
    token: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let (selection_type, key) = list_key(view.kind);
    let expires_in = (view.expires_at - now).num_seconds().max(0);
    let mut body = Map::new();
    body.insert("platform".into(), json!(view.platform));
    body.insert("profileId".into(), json!(view.profile_id));
    body.insert("tempToken".into(), json!(token));
    body.insert("pendingDataToken".into(), json!(token));
    body.insert("expiresIn".into(), json!(expires_in));
    body.insert(
        "expiresAt".into(),
        json!(
            view.expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ),
    );
    body.insert("userProfile".into(), user_profile_json(&view.identity));
    body.insert("selectionType".into(), json!(selection_type));
    body.insert(key.into(), Value::Array(list(view)));
    Value::Object(body)
}

fn selected_json(platform: Platform, kind: SelectionKind, s: &Selected) -> Value {
    let a = &s.account;
    let mut v = json!({
        "accountId": a.id, "_id": a.id, "platform": platform, "profileId": a.profile_id,
        "username": a.username, "displayName": a.display_name,
        "profilePicture": a.profile_picture, "isActive": a.is_active,
    });
    let name = s.destination.as_ref().map(|d| d.name.clone());
    let add = |v: &mut Value, k: &str, val: Value| {
        if let Some(o) = v.as_object_mut() {
            o.insert(k.into(), val);
        }
    };
    match kind {
        SelectionKind::FacebookPage => add(&mut v, "selectedPageName", json!(name)),
        SelectionKind::InstagramAccount => add(&mut v, "loginMethod", json!("facebook_login")),
        SelectionKind::LinkedinOrganization => add(
            &mut v,
            "accountType",
            json!(if s.destination.is_some() {
                "organization"
            } else {
                "personal"
            }),
        ),
        SelectionKind::PinterestBoard => add(&mut v, "defaultBoardName", json!(name)),
        SelectionKind::GoogleBusinessLocation => {
            add(&mut v, "selectedLocationName", json!(name));
            add(
                &mut v,
                "selectedLocationId",
                json!(s.destination.as_ref().map(|d| d.id.clone())),
            );
        }
        SelectionKind::SnapchatPublicProfile => add(&mut v, "publicProfileName", json!(name)),
        SelectionKind::WhatsAppPhoneNumber => add(&mut v, "selectedPhoneNumber", json!(a.username)),
    }
    v
}

fn select_response(kind: SelectionKind, out: SelectOutcome, multi: bool) -> HttpResponse {
    let accounts: Vec<Value> = out
        .selected
        .iter()
        .map(|s| selected_json(out.platform, kind, s))
        .collect();
    let mut body = Map::new();
    body.insert(
        "message".into(),
        json!(if accounts.len() > 1 {
            "Accounts connected"
        } else {
            "Account connected"
        }),
    );
    if multi {
        body.insert("accounts".into(), Value::Array(accounts));
        body.insert("failed".into(), json!([]));
    } else if let Some(first) = accounts.into_iter().next() {
        body.insert("account".into(), first);
    }
    if let Some(r) = out.redirect {
        body.insert("redirect_url".into(), json!(r.as_str()));
    }
    HttpResponse::Ok().json(Value::Object(body))
}

async fn list_for(
    state: &AppState,
    caller: &Caller,
    platform: Platform,
    token: &str,
    profile: Option<&ProfileId>,
) -> Result<PendingView, ApiError> {
    Ok(state
        .services
        .pending_for(SelectAuthority::Caller(caller), platform, token, profile)
        .await?)
}

#[allow(
    clippy::too_many_arguments,
    reason = "the endpoints differ only in these"
)]
async fn select_for(
    state: &AppState,
    caller: &Caller,
    platform: Platform,
    token: &str,
    profile: Option<&ProfileId>,
    choices: Vec<Choice>,
    redirect: Option<RedirectUrl>,
    multi: bool,
) -> Result<HttpResponse, ApiError> {
    let view = list_for(state, caller, platform, token, profile).await?;
    let out = state
        .services
        .select_destinations(
            SelectAuthority::Caller(caller),
            platform,
            token,
            profile,
            choices,
            redirect,
        )
        .await?;
    Ok(select_response(view.kind, out, multi))
}

/// List the Facebook Pages of a pending Facebook login.
#[utoipa::path(tag = "Connect selection",
    params(("profileId" = String, Query), ("tempToken" = Option<String>, Query, description = "Or header X-Temp-Token")),
    responses((status = 200, description = "`{pages: [{id, name, username, category, tasks}]}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []), ("connectToken" = [])))]
#[get("/connect/facebook/select-page")]
pub async fn facebook_pages(
    state: web::Data<AppState>,
    SelectionAuth(caller): SelectionAuth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let token = require_token(&[q.str("tempToken"), temp_token_header(&req)], "tempToken")?;
    let profile = profile_param(q.str("profileId"), true)?;
    let view = list_for(&state, &caller, Platform::Facebook, token, profile.as_ref()).await?;
    Ok(HttpResponse::Ok().json(json!({ "pages": list(&view) })))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectPageBody {
    profile_id: Option<String>,
    page_id: Option<String>,
    #[serde(default)]
    page_ids: Vec<String>,
    temp_token: Option<String>,
    #[schema(value_type = Option<Object>)]
    #[allow(
        dead_code,
        reason = "sent by the SDKs; the pending selection already holds the user"
    )]
    user_profile: Option<Value>,
    #[serde(alias = "redirectUrl")]
    redirect_url: Option<String>,
    selection_token: Option<String>,
}

fn page_choices(body: &SelectPageBody) -> Result<(Vec<Choice>, bool), ApiError> {
    match (
        body.page_id.as_deref().filter(|s| !s.is_empty()),
        body.page_ids.is_empty(),
    ) {
        (Some(_), false) => Err(ApiError::bad_request(
            "validation_error",
            "pageIds",
            "send pageId or pageIds, not both",
        )),
        (Some(id), true) => Ok((vec![Choice::Destination(id.to_owned())], false)),
        (None, false) => Ok((
            body.page_ids
                .iter()
                .map(|i| Choice::Destination(i.clone()))
                .collect(),
            body.page_ids.len() > 1,
        )),
        (None, true) => Err(ApiError::bad_request(
            "validation_error",
            "pageId",
            "pageId is required",
        )),
    }
}

/// Connect the chosen Facebook Page.
#[utoipa::path(tag = "Connect selection", request_body = SelectPageBody,
    responses((status = 200, description = "`{message, account, redirect_url?}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearerAuth" = []), ("connectToken" = [])))]
#[post("/connect/facebook/select-page")]
pub async fn facebook_select(
    state: web::Data<AppState>,
    SelectionAuth(caller): SelectionAuth,
    req: HttpRequest,
    body: web::Json<SelectPageBody>,
) -> Result<HttpResponse, ApiError> {
    if body.selection_token.is_some() {
        return Err(ApiError::bad_request(
            "validation_error",
            "selectionToken",
            "Meta business-login selection tokens are not offered by Plugboard",
        ));
    }
    let token = require_token(
        &[body.temp_token.as_deref(), temp_token_header(&req)],
        "tempToken",
    )?;
    let profile = profile_param(body.profile_id.as_deref(), true)?;
    let (choices, multi) = page_choices(&body)?;
    select_for(
        &state,
        &caller,
        Platform::Facebook,
        token,
        profile.as_ref(),
        choices,
        body_redirect(body.redirect_url.as_deref())?,
        multi,
    )
    .await
}

/// List the Pages with a linked Instagram professional account (Instagram through
/// Facebook Login).
#[utoipa::path(tag = "Connect selection",
    params(("profileId" = String, Query), ("tempToken" = Option<String>, Query, description = "Or header X-Temp-Token")),
    responses((status = 200, description = "`{pages: [{id, name, instagram_business_account}]}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []), ("connectToken" = [])))]
#[get("/connect/instagram/select-account")]
pub async fn instagram_pages(
    state: web::Data<AppState>,
    SelectionAuth(caller): SelectionAuth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let token = require_token(&[q.str("tempToken"), temp_token_header(&req)], "tempToken")?;
    let profile = profile_param(q.str("profileId"), true)?;
    let view = list_for(
        &state,
        &caller,
        Platform::Instagram,
        token,
        profile.as_ref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "pages": list(&view) })))
}

/// Connect the Instagram account linked to the chosen Page(s).
#[utoipa::path(tag = "Connect selection", request_body = SelectPageBody,
    responses((status = 200, description = "`{message, account}` or `{accounts, failed}` for several pageIds", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearerAuth" = []), ("connectToken" = [])))]
#[post("/connect/instagram/select-account")]
pub async fn instagram_select(
    state: web::Data<AppState>,
    SelectionAuth(caller): SelectionAuth,
    req: HttpRequest,
    body: web::Json<SelectPageBody>,
) -> Result<HttpResponse, ApiError> {
    let token = require_token(
        &[body.temp_token.as_deref(), temp_token_header(&req)],
        "tempToken",
    )?;
    let profile = profile_param(body.profile_id.as_deref(), true)?;
    let (choices, multi) = page_choices(&body)?;
    select_for(
        &state,
        &caller,
        Platform::Instagram,
        token,
        profile.as_ref(),
        choices,
        body_redirect(body.redirect_url.as_deref())?,
        multi,
    )
    .await
}

/// Details of organizations of a pending LinkedIn login (no API key: the token is the
/// capability, as in Zernio).
#[utoipa::path(tag = "Connect selection",
    params(("tempToken" = String, Query), ("orgIds" = String, Query, description = "Comma-separated organization ids, at most 100")),
    responses((status = 200, description = "`{organizations: [{id, urn, name, vanityName, logoUrl}]}`", body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/connect/linkedin/organizations")]
pub async fn linkedin_organizations(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let token = require_token(&[q.str("tempToken")], "tempToken")?;
    let ids: Vec<&str> = require_token(&[q.str("orgIds")], "orgIds")?
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::bad_request(
            "validation_error",
            "orgIds",
            "orgIds takes 1 to 100 comma-separated ids",
        ));
    }
    let view = state.services.pending_data(token).await?;
    if view.platform != Platform::Linkedin {
        return Err(plugboard_service::ServiceError::NotFound {
            what: "Pending selection",
        }
        .into());
    }
    let orgs: Vec<Value> = view
        .destinations
        .iter()
        .filter(|d| ids.contains(&d.id.as_str()))
        .map(|d| destination_json(view.kind, d))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "organizations": orgs })))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgChoice {
    id: String,
    #[allow(
        dead_code,
        reason = "the pending selection already knows the organization"
    )]
    urn: Option<String>,
    #[allow(
        dead_code,
        reason = "the pending selection already knows the organization"
    )]
    name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgSelection {
    account_type: String,
    selected_organization: Option<OrgChoice>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectOrganizationBody {
    profile_id: Option<String>,
    temp_token: Option<String>,
    #[schema(value_type = Option<Object>)]
    #[allow(
        dead_code,
        reason = "sent by the SDKs; the pending selection already holds the user"
    )]
    user_profile: Option<Value>,
    account_type: Option<String>,
    selected_organization: Option<OrgChoice>,
    selections: Option<Vec<OrgSelection>>,
    #[serde(alias = "redirectUrl")]
    redirect_url: Option<String>,
}

fn org_choice(account_type: &str, org: Option<&OrgChoice>) -> Result<Choice, ApiError> {
    match (account_type, org) {
        ("personal", _) => Ok(Choice::Personal),
        ("organization", Some(o)) => Ok(Choice::Destination(
            o.id.trim_start_matches("urn:li:organization:").to_owned(),
        )),
        ("organization", None) => Err(ApiError::bad_request(
            "validation_error",
            "selectedOrganization",
            "selectedOrganization is required for accountType organization",
        )),
        _ => Err(ApiError::bad_request(
            "validation_error",
            "accountType",
            "accountType must be personal or organization",
        )),
    }
}

/// Connect the member's profile or one or more organizations they administer.
#[utoipa::path(tag = "Connect selection", request_body = SelectOrganizationBody,
    responses((status = 200, description = "`{message, account}` or `{accounts, failed}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearerAuth" = []), ("connectToken" = [])))]
#[post("/connect/linkedin/select-organization")]
pub async fn linkedin_select(
    state: web::Data<AppState>,
    SelectionAuth(caller): SelectionAuth,
    body: web::Json<SelectOrganizationBody>,
) -> Result<HttpResponse, ApiError> {
    let token = require_token(&[body.temp_token.as_deref()], "tempToken")?;
    let profile = profile_param(body.profile_id.as_deref(), true)?;
    let (choices, multi) = match (&body.account_type, &body.selections) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "validation_error",
                "selections",
                "send accountType or selections, not both",
            ));
        }
        (Some(t), None) => (
            vec![org_choice(t, body.selected_organization.as_ref())?],
            false,
        ),
        (None, Some(list)) if !list.is_empty() => (
            list.iter()
                .map(|s| org_choice(&s.account_type, s.selected_organization.as_ref()))
                .collect::<Result<Vec<_>, _>>()?,
            list.len() > 1,
        ),
        _ => {
            return Err(ApiError::bad_request(
                "validation_error",
                "accountType",
                "accountType is required",
            ));
        }
    };
    select_for(
        &state,
        &caller,
        Platform::Linkedin,
        token,
        profile.as_ref(),
        choices,
        body_redirect(body.redirect_url.as_deref())?,
        multi,
    )
    .await
}

/// List the boards of a pending Pinterest login.
#[utoipa::path(tag = "Connect selection",
    params(("profileId" = String, Query), ("tempToken" = String, Query)),
    responses((status = 200, description = "`{boards: [{id, name, description, privacy}]}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []), ("connectToken" = [])))]
#[get("/connect/pinterest/select-board")]
pub async fn pinterest_boards(
    state: web::Data<AppState>,
    SelectionAuth(caller): SelectionAuth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let token = require_token(
        &[q.str("tempToken"), q.str("pendingDataToken")],
        "tempToken",
    )?;
    let profile = profile_param(q.str("profileId"), true)?;
    let view = list_for(
        &state,
        &caller,
        Platform::Pinterest,
        token,
        profile.as_ref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "boards": list(&view) })))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectBoardBody {
    profile_id: Option<String>,
    board_id: Option<String>,
    #[allow(
        dead_code,
        reason = "the pending selection already knows the board's name"
    )]
    board_name: Option<String>,
    temp_token: Option<String>,
    #[serde(alias = "redirectUrl")]
    redirect_url: Option<String>,
}

/// Connect the Pinterest account with the chosen default board.
#[utoipa::path(tag = "Connect selection", request_body = SelectBoardBody,
    responses((status = 200, description = "`{message, account}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []), ("connectToken" = [])))]
#[post("/connect/pinterest/select-board")]
pub async fn pinterest_select(
    state: web::Data<AppState>,
    SelectionAuth(caller): SelectionAuth,
    body: web::Json<SelectBoardBody>,
) -> Result<HttpResponse, ApiError> {
    let token = require_token(&[body.temp_token.as_deref()], "tempToken")?;
    let profile = profile_param(body.profile_id.as_deref(), true)?;
    let board = require_token(&[body.board_id.as_deref()], "boardId")?;
    select_for(
        &state,
        &caller,
        Platform::Pinterest,
        token,
        profile.as_ref(),
        vec![Choice::Destination(board.to_owned())],
        body_redirect(body.redirect_url.as_deref())?,
        false,
    )
    .await
}

/// List the Public Profiles of a pending Snapchat login.
#[utoipa::path(tag = "Connect selection",
    params(("profileId" = String, Query), ("tempToken" = String, Query)),
    responses((status = 200, description = "`{publicProfiles: [{id, display_name, username, profile_image_url, subscriber_count}]}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []), ("connectToken" = [])))]
#[get("/connect/snapchat/select-profile")]
pub async fn snapchat_profiles(
    state: web::Data<AppState>,
    SelectionAuth(caller): SelectionAuth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let token = require_token(
        &[q.str("tempToken"), q.str("pendingDataToken")],
        "tempToken",
    )?;
    let profile = profile_param(q.str("profileId"), true)?;
    let view = list_for(&state, &caller, Platform::Snapchat, token, profile.as_ref()).await?;
    Ok(HttpResponse::Ok().json(json!({ "publicProfiles": list(&view) })))
}

#[derive(Deserialize, ToSchema)]
pub struct PublicProfileChoice {
    id: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectProfileBody {
    profile_id: Option<String>,
    selected_public_profile: Option<PublicProfileChoice>,
    temp_token: Option<String>,
    #[serde(alias = "redirectUrl")]
    redirect_url: Option<String>,
}

/// Connect the chosen Snapchat Public Profile.
#[utoipa::path(tag = "Connect selection", request_body = SelectProfileBody,
    responses((status = 200, description = "`{message, account}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []), ("connectToken" = [])))]
#[post("/connect/snapchat/select-profile")]
pub async fn snapchat_select(
    state: web::Data<AppState>,
    SelectionAuth(caller): SelectionAuth,
    body: web::Json<SelectProfileBody>,
) -> Result<HttpResponse, ApiError> {
    let token = require_token(&[body.temp_token.as_deref()], "tempToken")?;
    let profile = profile_param(body.profile_id.as_deref(), true)?;
    let Some(choice) = &body.selected_public_profile else {
        return Err(ApiError::bad_request(
            "validation_error",
            "selectedPublicProfile",
            "selectedPublicProfile is required",
        ));
    };
    select_for(
        &state,
        &caller,
        Platform::Snapchat,
        token,
        profile.as_ref(),
        vec![Choice::Destination(choice.id.clone())],
        body_redirect(body.redirect_url.as_deref())?,
        false,
    )
    .await
}

/// List the locations of a pending Google Business login (`search` filters by name).
#[utoipa::path(tag = "Connect selection",
    params(("profileId" = Option<String>, Query), ("pendingDataToken" = Option<String>, Query), ("tempToken" = Option<String>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, description = "`{locations: [{id, name, accountId, accountName, address, category, storeCode}], hasMore}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []), ("connectToken" = [])))]
#[get("/connect/googlebusiness/locations")]
pub async fn google_locations(
    state: web::Data<AppState>,
    SelectionAuth(caller): SelectionAuth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let token = require_token(
        &[q.str("pendingDataToken"), q.str("tempToken")],
        "pendingDataToken",
    )?;
    let profile = profile_param(q.str("profileId"), false)?;
    let view = list_for(
        &state,
        &caller,
        Platform::Googlebusiness,
        token,
        profile.as_ref(),
    )
    .await?;
    let search = q.str("search").map(str::to_lowercase);
    let locations: Vec<Value> = view
        .destinations
        .iter()
        .filter(|d| {
            search
                .as_deref()
                .is_none_or(|s| d.name.to_lowercase().contains(s))
        })
        .map(|d| destination_json(view.kind, d))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "locations": locations, "hasMore": false })))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocationChoice {
    location_id: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectLocationBody {
    profile_id: Option<String>,
    pending_data_token: Option<String>,
    location_id: Option<String>,
    locations: Option<Vec<LocationChoice>>,
    #[allow(
        dead_code,
        reason = "locations are unique across the user's Google accounts"
    )]
    account_id: Option<String>,
    #[serde(alias = "redirectUrl")]
    redirect_url: Option<String>,
}

fn bare_location(id: &str) -> String {
    id.rsplit('/').next().unwrap_or(id).to_owned()
}

/// Connect the chosen Google Business location(s).
#[utoipa::path(tag = "Connect selection", request_body = SelectLocationBody,
    responses((status = 200, description = "`{message, account}` or `{accounts, failed}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []), ("connectToken" = [])))]
#[post("/connect/googlebusiness/select-location")]
pub async fn google_select(
    state: web::Data<AppState>,
    SelectionAuth(caller): SelectionAuth,
    body: web::Json<SelectLocationBody>,
) -> Result<HttpResponse, ApiError> {
    let token = require_token(&[body.pending_data_token.as_deref()], "pendingDataToken")?;
    let profile = profile_param(body.profile_id.as_deref(), true)?;
    let (choices, multi) = match (
        body.location_id.as_deref().filter(|s| !s.is_empty()),
        &body.locations,
    ) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "validation_error",
                "locations",
                "send locationId or locations, not both",
            ));
        }
        (Some(id), None) => (vec![Choice::Destination(bare_location(id))], false),
        (None, Some(list)) if !list.is_empty() => (
            list.iter()
                .map(|l| Choice::Destination(bare_location(&l.location_id)))
                .collect(),
            list.len() > 1,
        ),
        _ => {
            return Err(ApiError::bad_request(
                "validation_error",
                "locationId",
                "locationId is required",
            ));
        }
    };
    select_for(
        &state,
        &caller,
        Platform::Googlebusiness,
        token,
        profile.as_ref(),
        choices,
        body_redirect(body.redirect_url.as_deref())?,
        multi,
    )
    .await
}

/// List the phone numbers of a pending WhatsApp login (WABAs with two or more numbers).
#[utoipa::path(tag = "Connect selection",
    params(("profileId" = String, Query), ("tempToken" = String, Query)),
    responses((status = 200, description = "`{phoneNumbers: [{id, display_phone_number, verified_name, quality_rating, name_status, messaging_limit_tier, wabaId, wabaName}]}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []), ("connectToken" = [])))]
#[get("/connect/whatsapp/select-phone-number")]
pub async fn whatsapp_numbers(
    state: web::Data<AppState>,
    SelectionAuth(caller): SelectionAuth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let token = require_token(&[q.str("tempToken")], "tempToken")?;
    let profile = profile_param(q.str("profileId"), true)?;
    let view = list_for(&state, &caller, Platform::Whatsapp, token, profile.as_ref()).await?;
    Ok(HttpResponse::Ok().json(json!({ "phoneNumbers": list(&view) })))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectPhoneNumberBody {
    profile_id: Option<String>,
    phone_number_id: Option<String>,
    /// Checked against the number's WABA when given.
    waba_id: Option<String>,
    temp_token: Option<String>,
    #[serde(alias = "redirectUrl")]
    redirect_url: Option<String>,
}

/// Connect the chosen WhatsApp phone number.
#[utoipa::path(tag = "Connect selection", request_body = SelectPhoneNumberBody,
    responses((status = 200, description = "`{message, redirect_url?, account: {accountId, platform, username, displayName, isActive, selectedPhoneNumber}}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearerAuth" = []), ("connectToken" = [])))]
#[post("/connect/whatsapp/select-phone-number")]
pub async fn whatsapp_select(
    state: web::Data<AppState>,
    SelectionAuth(caller): SelectionAuth,
    body: web::Json<SelectPhoneNumberBody>,
) -> Result<HttpResponse, ApiError> {
    let token = require_token(&[body.temp_token.as_deref()], "tempToken")?;
    let profile = profile_param(body.profile_id.as_deref(), true)?;
    let phone = require_token(&[body.phone_number_id.as_deref()], "phoneNumberId")?;
    if let Some(waba) = body.waba_id.as_deref().filter(|w| !w.is_empty()) {
        let view = list_for(&state, &caller, Platform::Whatsapp, token, profile.as_ref()).await?;
        let matches = view
            .destinations
            .iter()
            .any(|d| d.id == phone && d.extra.get("wabaId").and_then(|v| v.as_str()) == Some(waba));
        if !matches {
            return Err(ApiError::bad_request(
                "validation_error",
                "wabaId",
                "that phone number is not in that WhatsApp Business Account",
            ));
        }
    }
    select_for(
        &state,
        &caller,
        Platform::Whatsapp,
        token,
        profile.as_ref(),
        vec![Choice::Destination(phone.to_owned())],
        body_redirect(body.redirect_url.as_deref())?,
        false,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_ids_are_accepted_bare_or_as_resource_names() {
        assert_eq!(bare_location("locations/456"), "456");
        assert_eq!(bare_location("accounts/1/locations/456"), "456");
        assert_eq!(bare_location("456"), "456");
    }
}
