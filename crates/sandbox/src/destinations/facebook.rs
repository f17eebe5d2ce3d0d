//! Facebook Login's listings (platforms.md §2b, §3): the user's Pages with their Page tokens
//! and linked Instagram professional accounts, single Page and Instagram nodes, ad
//! accounts, granted permissions and business portfolios. Instagram through Facebook Login
//! uses these same endpoints.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

use super::fields::{self, Field};
use super::{cursor, label, object, parse_cursor, self_url, window};
use crate::errors::{graph_error_of_type, json_response};
use crate::identity::{Caller, avatar_url, derived_id, filter_fields, identity_json};
use crate::state::with_state;
use crate::table::{Fake, IdStyle};

const SLUG: &str = "facebook";
const PAGE_ID: IdStyle = IdStyle::Digits {
    prefix: "1",
    len: 15,
};
/// Instagram professional account ids start 1784… and run past 2^53 (platforms.md §2a).
const INSTAGRAM_ID: IdStyle = IdStyle::Digits {
    prefix: "1784",
    len: 17,
};
const AD_ACCOUNT_ID: IdStyle = IdStyle::Digits {
    prefix: "1",
    len: 16,
};
const AD_ID: IdStyle = IdStyle::Digits {
    prefix: "238",
    len: 17,
};
const BUSINESS_ID: IdStyle = IdStyle::Digits {
    prefix: "1",
    len: 15,
};

/// Graph's page size of an edge when `limit` is not given, and the most it hands out.
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

/// Every role a Page admin holds (platforms.md §3).
const PAGE_TASKS: &[&str] = &[
    "ADVERTISE",
    "ANALYZE",
    "CREATE_CONTENT",
    "MESSAGING",
    "MODERATE",
    "MANAGE",
];

/// What Graph returns without `fields`: on `/me/accounts`, on a Page node, on an
/// Instagram user node and on `/me/adaccounts`.
const ACCOUNTS_DEFAULT: &[&str] = &[
    "access_token",
    "category",
    "category_list",
    "name",
    "id",
    "tasks",
];
const PAGE_DEFAULT: &[&str] = &["name", "id"];
const INSTAGRAM_DEFAULT: &[&str] = &["id"];
const AD_ACCOUNT_DEFAULT: &[&str] = &["account_id", "id"];
/// Default fields of nodes nested in a Page or an ad account.
const NESTED_DEFAULTS: &[(&str, &[&str])] = &[
    ("instagram_business_account", &["id"]),
    ("business", &["id", "name"]),
];

fn page_id(username: &str, index: usize) -> String {
    derived_id(SLUG, username, &format!("page/{index}"), PAGE_ID)
}

fn instagram_id(username: &str, index: usize) -> String {
    derived_id(SLUG, username, &format!("instagram/{index}"), INSTAGRAM_ID)
}

/// Every Page has a linked Instagram professional account, except the last one of a user
/// with three or more, so the "Page without Instagram" case can be played.
fn has_instagram(index: usize, count: usize) -> bool {
    !(count >= 3 && index + 1 == count)
}

fn graph_bad_request(message: &str) -> HttpResponse {
    json_response(
        StatusCode::BAD_REQUEST,
        &graph_error_of_type(message, "OAuthException", 100, None),
    )
}

/// A Page token calling an edge of user nodes: Graph says the field does not exist on a Page.
fn user_edge_with_page_token(edge: &str) -> HttpResponse {
    graph_bad_request(&format!(
        "(#100) Tried accessing nonexisting field ({edge}) on node type (Page)"
    ))
}

fn requested(caller: &Caller) -> Option<Vec<Field>> {
    caller.query.get("fields").map(fields::parse)
}

fn instagram_json(req: &HttpRequest, username: &str, index: usize) -> Value {
    // Instagram handles allow letters, digits, '.' and '_'.
    let handle = format!("{}.ig{}", username.replace('-', "_"), index + 1);
    json!({
        "id": instagram_id(username, index),
        "username": handle,
        "name": label("Instagram account", index, username),
        "profile_picture_url": avatar_url(req, SLUG, &handle),
        "followers_count": 0,
        "media_count": 0,
        "biography": "A fake Instagram professional account in the Plugboard sandbox",
    })
}

/// The whole Page as the fakes model it; callers select fields from it.
fn page_json(
    req: &HttpRequest,
    username: &str,
    index: usize,
    count: usize,
    requested: Option<&[Field]>,
) -> Map<String, Value> {
    let id = page_id(username, index);
    let size = match fields::modifier(requested, "picture", "type") {
        Some("large") => 200,
        Some("normal") => 100,
        _ => 50,
    };
    let handle = format!("{username}.page{}", index + 1);
    let mut page = object(json!({
        "id": id,
        "name": label("Page", index, username),
        "username": handle,
        "category": "Software",
        "category_list": [{"id": "2211", "name": "Software"}],
        "tasks": PAGE_TASKS,
        "link": format!("https://www.facebook.com/{id}"),
        "fan_count": 0,
        "followers_count": 0,
        "picture": {"data": {
            "height": size, "width": size, "is_silhouette": false,
            "url": avatar_url(req, SLUG, &handle),
        }},
    }));
    if has_instagram(index, count) {
        page.insert(
            "instagram_business_account".into(),
            instagram_json(req, username, index),
        );
    }
    page
}

/// A Page with its token when the answer carries one. The token is the caller's own when it
/// is that Page's token, else the (reused) Page token of this app and user.
fn page_answer(
    req: &HttpRequest,
    caller: &Caller,
    index: usize,
    count: usize,
    requested: Option<&[Field]>,
    defaults: &[&str],
) -> Value {
    let username = &caller.grant.username;
    let mut full = page_json(req, username, index, count, requested);
    if fields::wants(requested, defaults, "access_token") {
        let token = if caller.grant.page == Some(index) {
            caller.token.clone()
        } else {
            with_state(|s| s.page_token(&caller.grant, index))
        };
        full.insert("access_token".into(), json!(token));
    }
    Value::Object(fields::select(&full, requested, defaults, NESTED_DEFAULTS))
}

/// One page of a Graph edge: `limit`, `after` / `before` cursors, and a `paging` object
/// whose `next` appears only when there is more (none at all when the list is empty).
fn graph_list(
    req: &HttpRequest,
    caller: &Caller,
    total: usize,
    item: impl Fn(usize) -> Value,
) -> HttpResponse {
    let q = &caller.query;
    let limit = match q.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) => n.clamp(1, MAX_LIMIT),
            Err(_) => return graph_bad_request("(#100) Param limit must be an integer"),
        },
    };
    let range = match (q.get("after"), q.get("before")) {
        (Some(after), _) => match parse_cursor(after) {
            Some(i) => window(total, i + 1, limit),
            None => return graph_bad_request("(#100) The after cursor is not valid"),
        },
        (None, Some(before)) => match parse_cursor(before) {
            Some(i) => window(total, i.min(total).saturating_sub(limit), limit.min(i)),
            None => return graph_bad_request("(#100) The before cursor is not valid"),
        },
        (None, None) => window(total, 0, limit),
    };
    let data: Vec<Value> = range.clone().map(item).collect();
    let mut body = json!({ "data": data });
    if let (Some(first), Some(last), Some(obj)) = (
        range.clone().next(),
        range.clone().last(),
        body.as_object_mut(),
    ) {
        let mut paging = Map::new();
        paging.insert(
            "cursors".into(),
            json!({"before": cursor(first), "after": cursor(last)}),
        );
        if range.end < total {
            let next = self_url(req, q, &[("after", &cursor(last))], &["before"]);
            paging.insert("next".into(), json!(next));
        }
        obj.insert("paging".into(), Value::Object(paging));
    }
    json_response(StatusCode::OK, &body)
}

/// `GET /{version}/me/accounts`: the user's Pages.
pub(crate) fn pages(req: &HttpRequest, caller: &Caller) -> HttpResponse {
    if caller.grant.page.is_some() {
        return user_edge_with_page_token("accounts");
    }
    let requested = requested(caller);
    let count = caller.destinations();
    graph_list(req, caller, count, |i| {
        page_answer(
            req,
            caller,
            i,
            count,
            requested.as_deref(),
            ACCOUNTS_DEFAULT,
        )
    })
}

/// `GET /{version}/me` with a Page token: the Page itself.
pub(crate) fn page_as_me(req: &HttpRequest, caller: &Caller, index: usize) -> HttpResponse {
    let requested = requested(caller);
    let count = usize::from(caller.grant.destinations);
    let body = page_answer(
        req,
        caller,
        index,
        count,
        requested.as_deref(),
        PAGE_DEFAULT,
    );
    json_response(StatusCode::OK, &body)
}

/// `GET /{version}/{id}`: one of the user's Pages, an Instagram account linked to one, or
/// the user; anything else is Graph's "does not exist" error.
pub(crate) fn node(req: &HttpRequest, fake: &Fake, caller: &Caller, id: &str) -> HttpResponse {
    let username = &caller.grant.username;
    let requested = requested(caller);
    let requested = requested.as_deref();
    let count = caller.destinations();
    if let Some(index) = (0..count).find(|i| page_id(username, *i) == id) {
        let body = page_answer(req, caller, index, count, requested, PAGE_DEFAULT);
        return json_response(StatusCode::OK, &body);
    }
    let instagram =
        (0..count).find(|i| has_instagram(*i, count) && instagram_id(username, *i) == id);
    if let Some(index) = instagram {
        let full = object(instagram_json(req, username, index));
        let body = fields::select(&full, requested, INSTAGRAM_DEFAULT, &[]);
        return json_response(StatusCode::OK, &Value::Object(body));
    }
    if caller.grant.page.is_none() && crate::identity::user_id(fake, username, "") == id {
        let mut body = identity_json(req, fake, username, count);
        filter_fields(fake, &caller.query, &mut body);
        return json_response(StatusCode::OK, &body);
    }
    unknown_object(id)
}

/// `GET /{version}/me/adaccounts` (Meta's ads-only flow).
pub(crate) fn ad_accounts(req: &HttpRequest, caller: &Caller) -> HttpResponse {
    if caller.grant.page.is_some() {
        return user_edge_with_page_token("adaccounts");
    }
    let requested = requested(caller);
    let username = caller.grant.username.clone();
    let business = json!({
        "id": derived_id(SLUG, &username, "business", BUSINESS_ID),
        "name": format!("Sandbox Business of {username}"),
    });
    graph_list(req, caller, caller.destinations(), |i| {
        let account_id = ad_account_id(&username, i);
        // The third is disabled (an integrity-policy hold), so flows can meet an account
        // that is visible but unusable.
        let (status, reason) = if i == 2 { (2, 1) } else { (1, 0) };
        let full = object(json!({
            "id": format!("act_{account_id}"),
            "account_id": account_id,
            "name": label("Ad Account", i, &username),
            "account_status": status,
            "disable_reason": reason,
            "currency": "USD",
            "timezone_name": "America/Los_Angeles",
            "business": business,
        }));
        Value::Object(fields::select(
            &full,
            requested.as_deref(),
            AD_ACCOUNT_DEFAULT,
            NESTED_DEFAULTS,
        ))
    })
}

/// Graph's answer for an id that is none of the caller's objects.
fn unknown_object(id: &str) -> HttpResponse {
    json_response(
        StatusCode::BAD_REQUEST,
        &graph_error_of_type(
            &format!(
                "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ),
            "GraphMethodException",
            100,
            Some(33),
        ),
    )
}

fn ad_account_id(username: &str, index: usize) -> String {
    derived_id(SLUG, username, &format!("adaccount/{index}"), AD_ACCOUNT_ID)
}

/// How many ads the sandbox user's ad account `index` holds: 3, 4, 5… so totals say which
/// accounts a sync read.
pub(crate) fn ads_in_account(index: usize) -> usize {
    3 + index
}

/// `GET /{version}/{ad-account-id}/ads`: the ads of one of the user's ad accounts.
pub(crate) fn ads(req: &HttpRequest, caller: &Caller, id: &str) -> HttpResponse {
    if caller.grant.page.is_some() {
        return user_edge_with_page_token("ads");
    }
    let username = caller.grant.username.clone();
    let Some(index) =
        (0..caller.destinations()).find(|i| format!("act_{}", ad_account_id(&username, *i)) == id)
    else {
        return unknown_object(id);
    };
    let requested = requested(caller);
    graph_list(req, caller, ads_in_account(index), |n| {
        let ad_id = derived_id(SLUG, &username, &format!("adaccount/{index}/ad/{n}"), AD_ID);
        let full = object(json!({
            "id": ad_id,
            "name": format!("Sandbox Ad {} of {username}", n + 1),
            "effective_status": "ACTIVE",
        }));
        Value::Object(fields::select(&full, requested.as_deref(), &["id"], &[]))
    })
}

/// `GET /{version}/me/permissions`: the granted scopes; `public_profile` is always granted.
pub(crate) fn permissions(caller: &Caller) -> HttpResponse {
    if caller.grant.page.is_some() {
        return user_edge_with_page_token("permissions");
    }
    let mut granted: Vec<&str> = vec!["public_profile"];
    for scope in &caller.grant.scopes {
        if !granted.contains(&scope.as_str()) {
            granted.push(scope);
        }
    }
    let data: Vec<Value> = granted
        .iter()
        .map(|p| json!({"permission": p, "status": "granted"}))
        .collect();
    json_response(StatusCode::OK, &json!({ "data": data }))
}

/// `GET /{version}/me/businesses`: fake users belong to no business portfolio, so Pages
/// owned through one (`/{business}/owned_pages`) are not modelled.
pub(crate) fn businesses(caller: &Caller) -> HttpResponse {
    if caller.grant.page.is_some() {
        return user_edge_with_page_token("businesses");
    }
    json_response(StatusCode::OK, &json!({ "data": [] }))
}
