use crate::AppState;
use crate::dto::{Message, SocialAccount};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Auth, parse_id};
use crate::query::QueryMap;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use plugboard_core::platform::Category;
use plugboard_core::{AccountId, Platform, ProfileId};
use plugboard_service::accounts::AccountListRequest;
use plugboard_store::{AccountPatch, AccountSort, AccountStatus, Order, PageRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every platform name Zernio's `SocialAccount.platform` may carry. Filtering by one that
/// Plugboard does not connect is valid and matches nothing.
const ZERNIO_PLATFORMS: &[&str] = &[
    "tiktok",
    "instagram",
    "facebook",
    "youtube",
    "linkedin",
    "twitter",
    "threads",
    "pinterest",
    "reddit",
    "bluesky",
    "googlebusiness",
    "telegram",
    "snapchat",
    "discord",
    "slack",
    "whatsapp",
    "shopify",
    "wordpress",
    "wix",
    "linkedinads",
    "metaads",
    "pinterestads",
    "tiktokads",
    "xads",
    "googleads",
    "openaiads",
    "redditads",
    "sms",
    "phone",
    "rcs",
    "whopads",
    "hubspot",
    "webflow",
    "googleanalytics",
];

const MAX_LIMIT: u64 = 500;

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Pagination {
    #[serde(rename_all = "camelCase")]
    Offset {
        page: u64,
        limit: u64,
        total: u64,
        pages: u64,
    },
    #[serde(rename_all = "camelCase")]
    Cursor {
        limit: u64,
        next_cursor: Option<String>,
    },
}

#[derive(Serialize, ToSchema)]
pub struct StatusCounts {
    all: u64,
    disconnected: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountsList {
    accounts: Vec<SocialAccount>,
    /// Follower analytics are not part of Plugboard; always false.
    has_analytics_access: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_counts: Option<StatusCounts>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountEnvelope {
    account: SocialAccount,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAccount {
    username: Option<String>,
    display_name: Option<String>,
    /// Deactivate (`false`) or reactivate (`true`) without disconnecting.
    is_active: Option<bool>,
    /// X-only posting capabilities; not supported by Plugboard.
    #[schema(value_type = Option<Object>)]
    x_capabilities: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountUpdated {
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    account: SocialAccount,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MoveAccount {
    profile_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountMoved {
    message: &'static str,
    profile_id: String,
}

fn encode_cursor(id: &AccountId) -> String {
    URL_SAFE_NO_PAD.encode(format!("a:{id}"))
}

fn decode_cursor(raw: &str) -> Result<AccountId, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "validation_error",
            "cursor",
            "cursor is not valid; pass back nextCursor unchanged",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix("a:")
        .and_then(|id| AccountId::parse(id).ok())
        .ok_or_else(bad)
}

/// Turns the query string into a validated request; every rule of Zernio's listing.
fn parse_list(q: &QueryMap) -> Result<(AccountListRequest, bool), ApiError> {
    let mut req = AccountListRequest::default();
    let mut profile_ids = Vec::new();
    if let Some(p) = q.str("profileId") {
        profile_ids.push(parse_id::<ProfileId>(p, "profileId")?);
    }
    if let Some(raw) = q.str("profileIds") {
        let ids: Vec<&str> = raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if ids.len() > 50 {
            return Err(ApiError::bad_request(
                "validation_error",
                "profileIds",
                "profileIds takes at most 50 ids",
            ));
        }
        for id in ids {
            profile_ids.push(parse_id::<ProfileId>(id, "profileIds")?);
        }
    }
    if q.has("profileId") || q.has("profileIds") {
        req.profile_ids = Some(profile_ids);
    }
    let mut matches_nothing = false;
    if let Some(p) = q.str("platform") {
        match p.parse::<Platform>() {
            Ok(p) => req.platform = Some(p),
            Err(_) if ZERNIO_PLATFORMS.contains(&p) => matches_nothing = true,
            Err(_) => {
                return Err(ApiError::bad_request(
                    "validation_error",
                    "platform",
                    format!("unknown platform '{p}'"),
                ));
            }
        }
    }
    req.status = match q
        .one_of("status", &["connected", "disconnected"])?
        .as_deref()
    {
        Some("connected") => Some(AccountStatus::Connected),
        Some(_) => Some(AccountStatus::Disconnected),
        None => None,
    };
    req.search = q
        .str("search")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    req.category = match q
        .one_of(
            "category",
            &[
                "social",
                "ads",
                "communication",
                "blogs",
                "crm",
                "analytics",
            ],
        )?
        .as_deref()
    {
        Some("social") => Some(Category::Social),
        Some("ads") => Some(Category::Ads),
        Some("communication") => Some(Category::Communication),
        Some("blogs") => Some(Category::Blogs),
        Some("crm") => Some(Category::Crm),
        Some("analytics") => Some(Category::Analytics),
        _ => None,
    };
    let sort = q.one_of(
        "sort",
        &["account", "platform", "profile", "status", "connected"],
    )?;
    req.sort = match sort.as_deref() {
        Some("account") => AccountSort::Username,
        Some("platform") => AccountSort::Platform,
        Some("profile") => AccountSort::Profile,
        Some("status") => AccountSort::Status,
        Some("connected") => AccountSort::Connected,
        _ => AccountSort::Id,
    };
    req.order = match q.one_of("order", &["asc", "desc"])?.as_deref() {
        Some("desc") => Order::Desc,
        _ => Order::Asc,
    };
    for flag in ["includeOverLimit", "includeSandbox"] {
        q.bool(flag)?;
    }
    req.exclude_hidden = q.bool("excludeHidden")?;
    req.include_status_counts = q.bool("includeStatusCounts")?;
    if q.has("perProfile") {
        return Err(ApiError::bad_request(
            "unsupported_parameter",
            "perProfile",
            "perProfile previews are not supported by Plugboard; page with limit and cursor instead",
        ));
    }
    let page = q.int("page", 1, u64::from(u32::MAX))?;
    let limit = q.int("limit", 1, MAX_LIMIT)?;
    let cursor = q.str("cursor");
    req.page = match (page, limit, cursor) {
        (Some(_), _, Some(_)) => {
            return Err(ApiError::bad_request(
                "validation_error",
                "cursor",
                "cursor cannot be combined with page",
            ));
        }
        (Some(_), None, None) => {
            return Err(ApiError::bad_request(
                "validation_error",
                "limit",
                "page requires limit",
            ));
        }
        (Some(page), Some(limit), None) => PageRequest::Offset {
            skip: (page - 1) * limit,
            limit,
        },
        (None, limit, cursor) if limit.is_some() || cursor.is_some() => {
            if sort.is_some() {
                return Err(ApiError::bad_request(
                    "validation_error",
                    "sort",
                    "sort cannot be combined with cursor paging",
                ));
            }
            PageRequest::Cursor {
                after: cursor.map(decode_cursor).transpose()?,
                limit: limit.unwrap_or(MAX_LIMIT),
            }
        }
        _ => PageRequest::All,
    };
    Ok((req, matches_nothing))
}

/// List connected accounts.
#[utoipa::path(
    tag = "Accounts",
    operation_id = "listAccounts",
    params(
        ("profileId" = Option<String>, Query),
        ("profileIds" = Option<String>, Query, description = "Comma-separated profile ids (at most 50)"),
        ("platform" = Option<String>, Query),
        ("status" = Option<String>, Query, description = "connected | disconnected (needs reconnection)"),
        ("search" = Option<String>, Query, description = "Case-insensitive match on username, display name or platform user id, or an exact account id"),
        ("category" = Option<String>, Query, description = "social | ads | communication | blogs | crm | analytics"),
        ("sort" = Option<String>, Query, description = "account | platform | profile | status | connected (offset paging only)"),
        ("order" = Option<String>, Query, description = "asc | desc"),
        ("includeOverLimit" = Option<bool>, Query),
        ("excludeHidden" = Option<bool>, Query),
        ("includeSandbox" = Option<bool>, Query),
        ("includeStatusCounts" = Option<bool>, Query),
        ("page" = Option<u64>, Query, description = "1-based page; requires limit"),
        ("limit" = Option<u64>, Query, description = "1-500; alone it selects cursor paging"),
        ("cursor" = Option<String>, Query, description = "nextCursor from the previous page"),
    ),
    responses((status = 200, body = AccountsList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearerAuth" = []))
)]
#[get("/accounts")]
pub async fn list(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (mut request, matches_nothing) = parse_list(&QueryMap::from_request(&req))?;
    if matches_nothing {
        request.profile_ids = Some(vec![]);
    }
    let page = request.page.clone();
    let list = state.services.list_accounts(&caller, request).await?;
    let pagination = match page {
        PageRequest::All => None,
        PageRequest::Offset { skip, limit } => Some(Pagination::Offset {
            page: skip / limit + 1,
            limit,
            total: list.page.total,
            pages: list.page.total.div_ceil(limit),
        }),
        PageRequest::Cursor { limit, .. } => Some(Pagination::Cursor {
            limit,
            next_cursor: list.page.next_cursor.as_ref().map(encode_cursor),
        }),
    };
    Ok(HttpResponse::Ok().json(AccountsList {
        accounts: list.page.accounts.iter().map(SocialAccount::from).collect(),
        has_analytics_access: false,
        pagination,
        status_counts: list
            .status_counts
            .map(|(all, disconnected)| StatusCounts { all, disconnected }),
    }))
}

/// Get one account.
#[utoipa::path(
    tag = "Accounts",
    operation_id = "getAccount",
    params(("accountId" = String, Path)),
    responses((status = 200, body = AccountEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []))
)]
#[get("/accounts/{accountId}")]
pub async fn get(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: AccountId = parse_id(&path, "accountId")?;
    let account = state.services.get_account(&caller, &id).await?;
    Ok(HttpResponse::Ok().json(AccountEnvelope {
        account: SocialAccount::from(&account),
    }))
}

/// Rename an account, or deactivate / reactivate it.
#[utoipa::path(
    tag = "Accounts",
    operation_id = "updateAccount",
    params(("accountId" = String, Path)),
    request_body = UpdateAccount,
    responses((status = 200, body = AccountUpdated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []))
)]
#[put("/accounts/{accountId}")]
pub async fn update(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
    body: web::Json<UpdateAccount>,
) -> Result<HttpResponse, ApiError> {
    let id: AccountId = parse_id(&path, "accountId")?;
    let body = body.into_inner();
    if body.x_capabilities.is_some() {
        return Err(ApiError::bad_request(
            "unsupported_parameter",
            "xCapabilities",
            "xCapabilities are a posting feature that Plugboard does not provide",
        ));
    }
    let clean = |field: &'static str, v: Option<String>| -> Result<Option<String>, ApiError> {
        match v {
            Some(s) if s.trim().is_empty() || s.chars().count() > 200 => {
                Err(ApiError::bad_request(
                    "validation_error",
                    field,
                    format!("{field} must be 1-200 characters"),
                ))
            }
            other => Ok(other.map(|s| s.trim().to_owned())),
        }
    };
    let patch = AccountPatch {
        username: clean("username", body.username)?,
        display_name: clean("displayName", body.display_name)?,
        is_active: body.is_active,
    };
    let echo = (patch.username.clone(), patch.display_name.clone());
    let account = state.services.update_account(&caller, &id, patch).await?;
    Ok(HttpResponse::Ok().json(AccountUpdated {
        message: "Account updated successfully",
        username: echo.0,
        display_name: echo.1,
        account: SocialAccount::from(&account),
    }))
}

/// Move an account to another profile of the same user.
#[utoipa::path(
    tag = "Accounts",
    operation_id = "moveAccountToProfile",
    params(("accountId" = String, Path)),
    request_body = MoveAccount,
    responses((status = 200, body = AccountMoved), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearerAuth" = []))
)]
#[patch("/accounts/{accountId}")]
pub async fn move_to_profile(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
    body: web::Json<MoveAccount>,
) -> Result<HttpResponse, ApiError> {
    let id: AccountId = parse_id(&path, "accountId")?;
    let to = body.into_inner().profile_id.ok_or_else(|| {
        ApiError::bad_request("validation_error", "profileId", "profileId is required")
    })?;
    let to: ProfileId = parse_id(&to, "profileId")?;
    let account = state.services.move_account(&caller, &id, &to).await?;
    Ok(HttpResponse::Ok().json(AccountMoved {
        message: "Account moved successfully",
        profile_id: account.profile_id.to_string(),
    }))
}

/// Disconnect and remove an account. Repeating it answers 404.
#[utoipa::path(
    tag = "Accounts",
    operation_id = "deleteAccount",
    params(("accountId" = String, Path)),
    responses((status = 200, body = Message), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []))
)]
#[delete("/accounts/{accountId}")]
pub async fn delete(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: AccountId = parse_id(&path, "accountId")?;
    state.services.delete_account(&caller, &id).await?;
    Ok(HttpResponse::Ok().json(Message {
        message: "Account disconnected successfully",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn parse(qs: &str) -> Result<(AccountListRequest, bool), ApiError> {
        let req = TestRequest::get()
            .uri(&format!("/v1/accounts?{qs}"))
            .to_http_request();
        parse_list(&QueryMap::from_request(&req))
    }

    #[test]
    fn python_sdk_defaults_are_accepted() {
        let (req, _) = parse("order=asc&includeOverLimit=false&excludeHidden=false&includeSandbox=false&includeStatusCounts=false").unwrap();
        assert_eq!(req.page, PageRequest::All);
        let (req, _) = parse("profileId=6553f100aaaaaaaaaaaaaaaa&order=asc&includeOverLimit=false&excludeHidden=false&includeSandbox=false&includeStatusCounts=false&page=2&limit=10").unwrap();
        assert_eq!(
            req.page,
            PageRequest::Offset {
                skip: 10,
                limit: 10
            }
        );
    }

    #[test]
    fn bad_listing_queries_name_the_parameter() {
        for (qs, param, why) in [
            ("page=1", "limit", "page without limit"),
            ("page=0&limit=10", "page", "page is 1-based"),
            ("limit=0", "limit", "limit below range"),
            ("limit=501", "limit", "limit above range, never clamped"),
            ("limit=abc", "limit", "not a number"),
            ("page=1&limit=5&cursor=x", "cursor", "cursor with page"),
            ("cursor=%%%", "cursor", "unparseable cursor"),
            ("limit=5&sort=platform", "sort", "sort with cursor paging"),
            (
                "excludeHidden=yes",
                "excludeHidden",
                "boolean must be true/false",
            ),
            ("status=gone", "status", "unknown status"),
            ("platform=myspace", "platform", "unknown platform"),
            ("profileId=123", "profileId", "not an ObjectId"),
            ("perProfile=3", "perProfile", "unsupported preview mode"),
        ] {
            let err = parse(qs)
                .err()
                .unwrap_or_else(|| panic!("{why}: {qs} should fail"));
            assert_eq!(
                (err.status.as_u16(), err.param),
                (400, Some(param)),
                "{why}: {qs}"
            );
        }
    }

    #[test]
    fn booleans_accept_any_case_and_zernio_platforms_match_nothing() {
        let (req, nothing) = parse("excludeHidden=TRUE&platform=linkedinads").unwrap();
        assert!(req.exclude_hidden);
        assert!(nothing);
    }

    #[test]
    fn cursors_round_trip() {
        let id = AccountId::generate(1_700_000_000);
        assert_eq!(decode_cursor(&encode_cursor(&id)).unwrap(), id);
        let (req, _) = parse(&format!("cursor={}", encode_cursor(&id))).unwrap();
        assert_eq!(
            req.page,
            PageRequest::Cursor {
                after: Some(id),
                limit: MAX_LIMIT
            }
        );
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenRefreshed {
    message: &'static str,
    /// When the new access token expires (`null`: it does not).
    token_expires_at: Option<String>,
    account: SocialAccount,
}

/// Refresh the account's token now (the background worker does it ahead of expiry anyway).
#[utoipa::path(
    tag = "Accounts",
    params(("accountId" = String, Path)),
    responses(
        (status = 200, body = TokenRefreshed),
        (status = 400, body = ErrorBody, description = "refresh_not_supported: the platform cannot refresh this token"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "reconnect_required: the grant is dead"),
        (status = 429, body = ErrorBody, description = "QUOTA_EXCEEDED: the platform app's API quota is used up until the reset in `details.resetAt`"),
        (status = 502, body = ErrorBody, description = "refresh_failed: a transient platform failure; retried in the background"),
    ),
    security(("bearerAuth" = []))
)]
#[post("/accounts/{accountId}/refresh-token")]
pub async fn refresh_token(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: AccountId = parse_id(&path, "accountId")?;
    let account = state.services.refresh_account_now(&caller, &id).await?;
    Ok(HttpResponse::Ok().json(TokenRefreshed {
        message: "Token refreshed",
        token_expires_at: account
            .token_expires_at
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        account: SocialAccount::from(&account),
    }))
}
