//! LinkedIn's organization listings (platforms.md §4): the organizations the member
//! administers (`/rest/organizationAcls`), one organization (`/rest/organizations/{id}`),
//! and the legacy profile `/v2/me` that carries `vanityName`. The `/rest` endpoints are
//! versioned and demand their headers; all of them check the granted scopes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use super::{label, object, page_size, window};
use crate::errors::{json_response, linkedin_error};
use crate::identity::{Caller, avatar_url, derived_id, user_id};
use crate::table::{Fake, IdStyle};

const SLUG: &str = "linkedin";
const ORGANIZATION_ID: IdStyle = IdStyle::Digits {
    prefix: "1",
    len: 8,
};
/// Either grants reading the member's organization roles.
const ORGANIZATION_SCOPES: &[&str] = &["rw_organization_admin", "r_organization_admin"];
/// Rest.li finders answer 10 elements unless asked for more.
const DEFAULT_COUNT: usize = 10;
const MAX_COUNT: usize = 100;

fn organization_id(username: &str, index: usize) -> String {
    derived_id(
        SLUG,
        username,
        &format!("organization/{index}"),
        ORGANIZATION_ID,
    )
}

/// LinkedIn's own vanity names are lower case with hyphens.
fn vanity(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

fn header<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Why a versioned call was refused before it was looked at.
enum HeaderProblem {
    VersionMissing,
    VersionInvalid,
    Protocol,
}

impl HeaderProblem {
    fn render(&self) -> HttpResponse {
        let (code, message) = match self {
            HeaderProblem::VersionMissing => (
                "VERSION_MISSING",
                "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
            ),
            HeaderProblem::VersionInvalid => (
                "INVALID_VERSION",
                "The LinkedIn-Version header must be YYYYMM (or YYYYMM.RR)",
            ),
            HeaderProblem::Protocol => (
                "INVALID_PROTOCOL_VERSION",
                "Send X-Restli-Protocol-Version: 2.0.0 with the versioned APIs (Rest.li 2.0 syntax)",
            ),
        };
        linkedin_error(StatusCode::BAD_REQUEST, code, None, message)
    }
}

/// `LinkedIn-Version: YYYYMM` (optionally `.RR`) and `X-Restli-Protocol-Version: 2.0.0`,
/// which every versioned `/rest` call must send (platforms.md §4). Returns the version as
/// LinkedIn spells it in messages (`20260101`).
fn versioned(req: &HttpRequest) -> Result<String, HeaderProblem> {
    let version = header(req, "LinkedIn-Version").ok_or(HeaderProblem::VersionMissing)?;
    let (month, revision) = version.split_once('.').unwrap_or((version, "00"));
    let well_formed = month.len() == 6
        && month.chars().all(|c| c.is_ascii_digit())
        && (1..=12).contains(&month[4..].parse::<u8>().unwrap_or(0))
        && revision.len() == 2
        && revision.chars().all(|c| c.is_ascii_digit());
    if !well_formed {
        return Err(HeaderProblem::VersionInvalid);
    }
    if header(req, "X-Restli-Protocol-Version") != Some("2.0.0") {
        return Err(HeaderProblem::Protocol);
    }
    Ok(format!("{month}01"))
}

/// The 403 LinkedIn answers a call whose scopes do not cover the resource.
fn access_denied(resource: &str) -> HttpResponse {
    linkedin_error(
        StatusCode::FORBIDDEN,
        "ACCESS_DENIED",
        Some(100),
        &format!("Not enough permissions to access: {resource}"),
    )
}

fn bad_request(message: &str) -> HttpResponse {
    linkedin_error(
        StatusCode::BAD_REQUEST,
        "ILLEGAL_ARGUMENT",
        Some(100),
        message,
    )
}

/// `GET /rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED`: one
/// approved ADMINISTRATOR role per organization of the member.
pub(crate) fn organization_acls(req: &HttpRequest, fake: &Fake, caller: &Caller) -> HttpResponse {
    let version = match versioned(req) {
        Ok(v) => v,
        Err(problem) => return problem.render(),
    };
    if !caller.has_scope(ORGANIZATION_SCOPES) {
        return access_denied(&format!("organizationAcls.FINDER-roleAssignee.{version}"));
    }
    let q = &caller.query;
    if q.get("q") != Some("roleAssignee") {
        return bad_request("This fake serves only the roleAssignee finder: q=roleAssignee");
    }
    let start = match q.get("start").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return bad_request("start must be a whole number"),
    };
    let count = match page_size(q, "count", DEFAULT_COUNT, MAX_COUNT) {
        Ok(n) => n,
        Err(message) => return bad_request(&message),
    };
    // Every fake role is an approved ADMINISTRATOR one; other filters match nothing.
    let matches = q.get("role").is_none_or(|r| r == "ADMINISTRATOR")
        && q.get("state").is_none_or(|s| s == "APPROVED");
    let total = if matches { caller.destinations() } else { 0 };
    let username = &caller.grant.username;
    let person = format!("urn:li:person:{}", user_id(fake, username, ""));
    let elements: Vec<Value> = window(total, start, count)
        .map(|i| {
            json!({
                "roleAssignee": person,
                "role": "ADMINISTRATOR",
                "state": "APPROVED",
                "organization": format!("urn:li:organization:{}", organization_id(username, i)),
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "elements": elements,
            "paging": {"start": start, "count": count, "total": total, "links": []},
        }),
    )
}

/// `GET /rest/organizations/{id}`: one of the member's organizations. Every second one has
/// no logo and no website, as many real ones do not. A `projection` naming
/// `logoV2(original~…)` gets the decorated logo with its download URL.
pub(crate) fn organization(req: &HttpRequest, caller: &Caller, id: &str) -> HttpResponse {
    let version = match versioned(req) {
        Ok(v) => v,
        Err(problem) => return problem.render(),
    };
    if !caller.has_scope(ORGANIZATION_SCOPES) {
        return access_denied(&format!("organizations.GET.{version}"));
    }
    let username = &caller.grant.username;
    let Some(index) = (0..caller.destinations()).find(|i| organization_id(username, *i) == id)
    else {
        return linkedin_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            None,
            &format!("Organization {id} is not one the member administers"),
        );
    };
    let name = label("Organization", index, username);
    let vanity_name = vanity(&format!("sandbox-org-{}-{username}", index + 1));
    let mut body = object(json!({
        // A JSON number here, unlike the URNs (platforms.md §4).
        "id": id.parse::<u64>().map_or_else(|_| json!(id), Value::from),
        "localizedName": name,
        "vanityName": vanity_name,
        "name": {"localized": {"en_US": name}, "preferredLocale": {"country": "US", "language": "en"}},
        "primaryOrganizationType": "NONE",
    }));
    if index % 2 == 0 {
        let asset = format!(
            "urn:li:digitalmediaAsset:{}",
            organization_id(username, index)
        );
        let mut logo = object(json!({
            "original": asset, "cropped": asset,
            "cropInfo": {"x": 0, "y": 0, "width": 0, "height": 0},
        }));
        if caller
            .query
            .get("projection")
            .is_some_and(|p| p.contains("original~"))
        {
            logo.insert(
                "original~".into(),
                json!({"elements": [{"identifiers": [{
                    "identifier": avatar_url(req, SLUG, &vanity_name),
                    "identifierType": "EXTERNAL_URL",
                }]}]}),
            );
        }
        body.insert("logoV2".into(), Value::Object(logo));
        body.insert(
            "localizedWebsite".into(),
            json!(format!("https://sandbox.plugboard.invalid/{vanity_name}")),
        );
    }
    json_response(StatusCode::OK, &Value::Object(body))
}

/// `GET /v2/me` (unversioned; needs `r_basicprofile`): the member's `vanityName`, which the
/// OpenID userinfo lacks.
pub(crate) fn me(fake: &Fake, caller: &Caller) -> HttpResponse {
    if !caller.has_scope(&["r_basicprofile"]) {
        return access_denied("me.GET.NO_VERSION");
    }
    let username = &caller.grant.username;
    json_response(
        StatusCode::OK,
        &json!({
            "id": user_id(fake, username, ""),
            "localizedFirstName": username,
            "localizedLastName": "Sandbox",
            "vanityName": vanity(username),
        }),
    )
}
