//! Snapchat's listings (platforms.md §11): the member's organization (Ads API host) and its
//! public profiles (Business API host); both hosts collapse onto `/sandbox/snapchat`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use super::{cursor, label, page_size, parse_cursor, self_url, window};
use crate::errors::{json_response, log_id, snapchat_error};
use crate::identity::{Caller, avatar_url, derived_id, display_name, user_id};
use crate::table::{Fake, IdStyle};

const SLUG: &str = "snapchat";
/// The Marketing API pages 50 to 1000 entities at a time.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;
const TIMESTAMP: &str = "2020-01-01T00:00:00.000Z";

/// The id `/v1/me` reports as `organization_id`.
fn organization_id(fake: &Fake, username: &str) -> String {
    user_id(fake, username, "organization")
}

fn profile_json(req: &HttpRequest, fake: &Fake, username: &str, index: usize) -> Value {
    // Snapchat usernames allow letters, digits, '-', '_' and '.'.
    let handle = format!("{username}.p{}", index + 1);
    json!({
        "id": derived_id(SLUG, username, &format!("profile/{index}"), IdStyle::Uuid),
        "organization_id": organization_id(fake, username),
        "display_name": label("Profile", index, username),
        "snap_user_name": handle,
        "logo_urls": {"original_logo_url": avatar_url(req, SLUG, &handle)},
        "subscriber_count": 0,
        "profile_type": "PUBLIC",
        "profile_tier": "UNVERIFIED",
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    })
}

fn not_found(message: &str) -> HttpResponse {
    snapchat_error(StatusCode::NOT_FOUND, "E3002", message)
}

/// `GET /v1/me/organizations`: the member's one organization (none under the `empty` knob).
pub(crate) fn organizations(fake: &Fake, caller: &Caller) -> HttpResponse {
    let username = &caller.grant.username;
    let organizations: Vec<Value> = if caller.emptied() {
        Vec::new()
    } else {
        vec![json!({
            "sub_request_status": "SUCCESS",
            "organization": {
                "id": organization_id(fake, username),
                "updated_at": TIMESTAMP,
                "created_at": TIMESTAMP,
                "name": format!("Sandbox Organization of {username}"),
                "country": "US",
                "postal_code": "90291",
                "locality": "Santa Monica",
                "contact_name": display_name(username),
                "contact_email": format!("{username}@sandbox.plugboard.invalid"),
                "type": "ENTERPRISE",
                "state": "ACTIVE",
                "my_display_name": display_name(username),
                "my_member_id": user_id(fake, username, ""),
                "roles": ["admin"],
            },
        })]
    };
    json_response(
        StatusCode::OK,
        &json!({"request_status": "SUCCESS", "request_id": log_id(), "organizations": organizations}),
    )
}

/// `GET /v1/organizations/{org_id}/public_profiles?limit=&cursor=`.
pub(crate) fn profiles(
    req: &HttpRequest,
    fake: &Fake,
    caller: &Caller,
    organization: &str,
) -> HttpResponse {
    let username = &caller.grant.username;
    if organization != organization_id(fake, username) {
        return not_found(&format!("Organization {organization} not found"));
    }
    let q = &caller.query;
    let limit = match page_size(q, "limit", DEFAULT_LIMIT, MAX_LIMIT) {
        Ok(n) => n,
        Err(message) => return snapchat_error(StatusCode::BAD_REQUEST, "E1008", &message),
    };
    let start = match q.get("cursor").map(parse_cursor) {
        None => 0,
        Some(Some(i)) => i,
        Some(None) => return snapchat_error(StatusCode::BAD_REQUEST, "E1008", "Invalid cursor"),
    };
    let total = caller.destinations();
    let range = window(total, start, limit);
    let paging = if range.end < total {
        let next = cursor(range.end);
        json!({"next_page_id": next, "next_link": self_url(req, q, &[("cursor", &next)], &[])})
    } else {
        json!({})
    };
    let public_profiles: Vec<Value> = range
        .map(|i| {
            json!({"sub_request_status": "SUCCESS", "public_profile": profile_json(req, fake, username, i)})
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "request_status": "SUCCESS", "request_id": log_id(),
            "public_profiles": public_profiles, "paging": paging,
        }),
    )
}

/// `GET /v1/public_profiles/my_profile`: the member's first public profile.
pub(crate) fn my_profile(req: &HttpRequest, fake: &Fake, caller: &Caller) -> HttpResponse {
    if caller.destinations() == 0 {
        return not_found("The member has no public profile");
    }
    json_response(
        StatusCode::OK,
        &json!({
            "request_status": "SUCCESS", "request_id": log_id(),
            "public_profile": profile_json(req, fake, &caller.grant.username, 0),
        }),
    )
}
