//! Per-account destination updates without a new OAuth (shared/api-scope.md §7): the
//! Facebook Page, LinkedIn organization, Pinterest default board and Google Business
//! location of a connected account, listed live from the platform.

use crate::AppState;
use crate::dto::SocialAccount;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Auth, parse_id};
use crate::query::QueryMap;
use actix_web::{HttpRequest, HttpResponse, get, put, web};
use plugboard_core::{AccountId, Platform};
use plugboard_platforms::Destination;
use plugboard_service::connect::Choice;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

fn extra(d: &Destination, k: &str) -> Value {
    d.extra.get(k).cloned().unwrap_or(Value::Null)
}

fn meta(a: &plugboard_store::Account, k: &str) -> Value {
    a.metadata.get(k).cloned().unwrap_or(Value::Null)
}

fn account_id(raw: &str) -> Result<AccountId, ApiError> {
    parse_id(raw, "accountId")
}

fn required<'a>(v: &'a Option<String>, name: &'static str) -> Result<&'a str, ApiError> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("validation_error", name, format!("{name} is required"))
        })
}

/// The Pages the account's Facebook login manages.
#[utoipa::path(tag = "Accounts", params(("accountId" = String, Path), ("refresh" = Option<bool>, Query, description = "Accepted; listings are always live")),
    responses((status = 200, description = "`{pages: [{id, name, username, category}], selectedPageId, cached}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "reconnect_required")),
    security(("bearerAuth" = [])))]
#[get("/accounts/{accountId}/facebook-page")]
pub async fn facebook_pages(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    QueryMap::from_request(&req).bool("refresh")?;
    let found = state
        .services
        .account_destinations(&caller, &account_id(&path)?, Platform::Facebook)
        .await?;
    let pages: Vec<Value> = found
        .destinations
        .iter()
        .map(|d| json!({"id": d.id, "name": d.name, "username": d.username, "category": extra(d, "category")}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "pages": pages,
        "selectedPageId": found.account.destination_id,
        "cached": false,
    })))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectedPage {
    selected_page_id: Option<String>,
}

/// Switch the account to another Page of the same login.
#[utoipa::path(tag = "Accounts", params(("accountId" = String, Path)), request_body = SelectedPage,
    responses((status = 200, description = "`{message, selectedPage: {id, name}}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[put("/accounts/{accountId}/facebook-page")]
pub async fn facebook_select(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
    body: web::Json<SelectedPage>,
) -> Result<HttpResponse, ApiError> {
    let id = account_id(&path)?;
    let page = required(&body.selected_page_id, "selectedPageId")?;
    let (_, dest) = state
        .services
        .switch_destination(
            &caller,
            &id,
            Platform::Facebook,
            Choice::Destination(page.to_owned()),
        )
        .await?;
    let dest = dest.ok_or_else(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(json!({
        "message": "Facebook Page updated",
        "selectedPage": {"id": dest.id, "name": dest.name},
    })))
}

/// The organizations the account's LinkedIn member administers.
#[utoipa::path(tag = "Accounts", params(("accountId" = String, Path)),
    responses((status = 200, description = "`{organizations: [{id, name, vanityName, localizedName}]}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[get("/accounts/{accountId}/linkedin-organizations")]
pub async fn linkedin_organizations(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let found = state
        .services
        .account_destinations(&caller, &account_id(&path)?, Platform::Linkedin)
        .await?;
    let orgs: Vec<Value> = found
        .destinations
        .iter()
        .map(|d| json!({"id": d.id, "name": d.name, "localizedName": d.name, "vanityName": extra(d, "vanityName"), "urn": extra(d, "urn")}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "organizations": orgs })))
}

#[derive(Deserialize, ToSchema)]
pub struct OrganizationRef {
    id: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkedinTarget {
    account_type: Option<String>,
    selected_organization: Option<OrganizationRef>,
}

/// Switch the account between the member's profile and an organization they administer.
#[utoipa::path(tag = "Accounts", params(("accountId" = String, Path)), request_body = LinkedinTarget,
    responses((status = 200, description = "`{message, accountType, accountName}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[put("/accounts/{accountId}/linkedin-organization")]
pub async fn linkedin_select(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
    body: web::Json<LinkedinTarget>,
) -> Result<HttpResponse, ApiError> {
    let id = account_id(&path)?;
    let choice = match (
        required(&body.account_type, "accountType")?,
        &body.selected_organization,
    ) {
        ("personal", _) => Choice::Personal,
        ("organization", Some(o)) => {
            Choice::Destination(o.id.trim_start_matches("urn:li:organization:").to_owned())
        }
        ("organization", None) => {
            return Err(ApiError::bad_request(
                "validation_error",
                "selectedOrganization",
                "selectedOrganization is required for accountType organization",
            ));
        }
        _ => {
            return Err(ApiError::bad_request(
                "validation_error",
                "accountType",
                "accountType must be personal or organization",
            ));
        }
    };
    let personal = choice == Choice::Personal;
    let (account, _) = state
        .services
        .switch_destination(&caller, &id, Platform::Linkedin, choice)
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "message": "LinkedIn account type updated",
        "accountType": if personal { "personal" } else { "organization" },
        "accountName": account.display_name,
    })))
}

/// The boards of the account's Pinterest user.
#[utoipa::path(tag = "Accounts", params(("accountId" = String, Path)),
    responses((status = 200, description = "`{boards: [{id, name, description, privacy}]}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[get("/accounts/{accountId}/pinterest-boards")]
pub async fn pinterest_boards(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let found = state
        .services
        .account_destinations(&caller, &account_id(&path)?, Platform::Pinterest)
        .await?;
    let boards: Vec<Value> = found
        .destinations
        .iter()
        .map(|d| json!({"id": d.id, "name": d.name, "description": extra(d, "description"), "privacy": extra(d, "privacy")}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "boards": boards })))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefaultBoard {
    default_board_id: Option<String>,
    #[allow(dead_code, reason = "the board's name is read from Pinterest")]
    default_board_name: Option<String>,
}

/// Set the account's default board.
#[utoipa::path(tag = "Accounts", params(("accountId" = String, Path)), request_body = DefaultBoard,
    responses((status = 200, description = "`{message, account}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[put("/accounts/{accountId}/pinterest-boards")]
pub async fn pinterest_select(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
    body: web::Json<DefaultBoard>,
) -> Result<HttpResponse, ApiError> {
    let id = account_id(&path)?;
    let board = required(&body.default_board_id, "defaultBoardId")?;
    let (account, _) = state
        .services
        .switch_destination(
            &caller,
            &id,
            Platform::Pinterest,
            Choice::Destination(board.to_owned()),
        )
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "message": "Default board updated",
        "account": SocialAccount::from(&account),
    })))
}

/// The Business Profile locations the account's Google login manages.
#[utoipa::path(tag = "Accounts", params(("accountId" = String, Path), ("search" = Option<String>, Query), ("filter" = Option<String>, Query, description = "Accepted; applied as a name search"), ("limit" = Option<u64>, Query, description = "1 to 500, default 100")),
    responses((status = 200, description = "`{locations: [...], hasMore, selectedLocationId, cached}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[get("/accounts/{accountId}/gmb-locations")]
pub async fn google_locations(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = QueryMap::from_request(&req);
    let limit = q.int("limit", 1, 500)?.unwrap_or(100) as usize;
    let search = q
        .str("search")
        .or_else(|| q.str("filter"))
        .map(str::to_lowercase);
    let found = state
        .services
        .account_destinations(&caller, &account_id(&path)?, Platform::Googlebusiness)
        .await?;
    let matching: Vec<&Destination> = found
        .destinations
        .iter()
        .filter(|d| {
            search
                .as_deref()
                .is_none_or(|s| d.name.to_lowercase().contains(s))
        })
        .collect();
    let locations: Vec<Value> = matching
        .iter()
        .take(limit)
        .map(|d| json!({
            "id": d.id, "name": d.name, "accountId": extra(d, "accountId"), "accountName": extra(d, "accountName"),
            "address": extra(d, "address"), "category": extra(d, "category"), "websiteUrl": extra(d, "websiteUrl"),
            "storeCode": extra(d, "storeCode"),
        }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "locations": locations,
        "hasMore": matching.len() > limit,
        "selectedLocationId": meta(&found.account, "selectedLocationId"),
        "cached": false,
    })))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectedLocation {
    selected_location_id: Option<String>,
    /// `accounts/123`; checked against the location's account when given.
    google_account_id: Option<String>,
    /// Legacy alias of `googleAccountId`.
    account_id: Option<String>,
}

/// Switch the account to another location of the same Google login.
#[utoipa::path(tag = "Accounts", params(("accountId" = String, Path)), request_body = SelectedLocation,
    responses((status = 200, description = "`{message, selectedLocation: {id, name}}`", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearerAuth" = [])))]
#[put("/accounts/{accountId}/gmb-locations")]
pub async fn google_select(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
    body: web::Json<SelectedLocation>,
) -> Result<HttpResponse, ApiError> {
    let id = account_id(&path)?;
    let raw = required(&body.selected_location_id, "selectedLocationId")?;
    let location = raw.rsplit('/').next().unwrap_or(raw).to_owned();
    if let Some(g) = body
        .google_account_id
        .as_deref()
        .or(body.account_id.as_deref())
        .filter(|s| !s.is_empty())
    {
        let found = state
            .services
            .account_destinations(&caller, &id, Platform::Googlebusiness)
            .await?;
        let managed = found
            .destinations
            .iter()
            .any(|d| d.id == location && extra(d, "accountId").as_str() == Some(g));
        if !managed {
            return Err(ApiError::bad_request(
                "validation_error",
                "googleAccountId",
                "that Google account does not manage this location",
            ));
        }
    }
    let (_, dest) = state
        .services
        .switch_destination(
            &caller,
            &id,
            Platform::Googlebusiness,
            Choice::Destination(location),
        )
        .await?;
    let dest = dest.ok_or_else(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(json!({
        "message": "Location updated",
        "selectedLocation": {"id": dest.id, "name": dest.name},
    })))
}
