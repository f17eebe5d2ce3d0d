//! Google Business Profile's listings (platforms.md §7): the account management API's
//! accounts and the business information API's locations; both hosts collapse onto
//! `/sandbox/googlebusiness`. Like every Google JSON API, an empty list is an absent key.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::{Map, Value, json};

use super::{cursor, label, object, parse_cursor, window};
use crate::errors::{google_error, json_response};
use crate::identity::{Caller, derived_id, display_name};
use crate::table::IdStyle;

const SLUG: &str = "googlebusiness";
const ACCOUNT_ID: IdStyle = IdStyle::Digits {
    prefix: "1",
    len: 21,
};
const LOCATION_ID: IdStyle = IdStyle::Digits {
    prefix: "1",
    len: 19,
};
const MAPS_CID: IdStyle = IdStyle::Digits {
    prefix: "1",
    len: 19,
};
const PLACE_ID_TAIL: IdStyle = IdStyle::Alnum { len: 23 };

/// `accounts.list`: "The default and maximum is 20". `locations.list`: default 10, max 100.
const MAX_ACCOUNTS_PAGE: usize = 20;
const DEFAULT_LOCATIONS_PAGE: usize = 10;
const MAX_LOCATIONS_PAGE: usize = 100;

/// The top-level fields of the v1 `Location` resource, the ones a `readMask` may name.
const LOCATION_FIELDS: &[&str] = &[
    "name",
    "languageCode",
    "storeCode",
    "title",
    "phoneNumbers",
    "categories",
    "storefrontAddress",
    "websiteUri",
    "regularHours",
    "specialHours",
    "serviceArea",
    "labels",
    "adWordsLocationExtensions",
    "latlng",
    "openInfo",
    "metadata",
    "profile",
    "relationshipData",
    "moreHours",
    "serviceItems",
];

fn account_id(username: &str) -> String {
    derived_id(SLUG, username, "account", ACCOUNT_ID)
}

fn invalid_argument(field: &str, description: &str) -> HttpResponse {
    google_error(
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        "Request contains an invalid argument.",
        Some((field, description)),
    )
}

/// The paging of a list call: (page size, first index). Google clamps a page size above
/// the maximum rather than refusing it. The error is the offending field, for
/// [`invalid_argument`].
fn paging(
    caller: &Caller,
    default: usize,
    max: usize,
) -> Result<(usize, usize), (&'static str, &'static str)> {
    let size = match caller.query.get("pageSize").map(str::parse::<usize>) {
        None | Some(Ok(0)) => default,
        Some(Ok(n)) => n.min(max),
        Some(Err(_)) => return Err(("page_size", "Invalid page size")),
    };
    let start = match caller.query.get("pageToken") {
        None => 0,
        Some(token) => parse_cursor(token).ok_or(("page_token", "Invalid page token"))?,
    };
    Ok((size, start))
}

/// `GET /v1/accounts`: the user's one personal account (none under the `empty` knob).
pub(crate) fn accounts(caller: &Caller) -> HttpResponse {
    let (size, start) = match paging(caller, MAX_ACCOUNTS_PAGE, MAX_ACCOUNTS_PAGE) {
        Ok(p) => p,
        Err((field, why)) => return invalid_argument(field, why),
    };
    let username = &caller.grant.username;
    let total = usize::from(!caller.emptied());
    let accounts: Vec<Value> = window(total, start, size)
        .map(|_| {
            json!({
                "name": format!("accounts/{}", account_id(username)),
                "accountName": display_name(username),
                "type": "PERSONAL",
                "role": "PRIMARY_OWNER",
                "verificationState": "VERIFIED",
                "vettedState": "NOT_VETTED",
                "permissionLevel": "OWNER_LEVEL",
            })
        })
        .collect();
    let mut body = Map::new();
    if !accounts.is_empty() {
        body.insert("accounts".into(), Value::Array(accounts));
    }
    json_response(StatusCode::OK, &Value::Object(body))
}

fn location_json(username: &str, index: usize) -> Map<String, Value> {
    let id = derived_id(SLUG, username, &format!("location/{index}"), LOCATION_ID);
    let place_id = format!(
        "ChIJ{}",
        derived_id(SLUG, username, &format!("place/{index}"), PLACE_ID_TAIL)
    );
    let cid = derived_id(SLUG, username, &format!("cid/{index}"), MAPS_CID);
    let n = index + 1;
    object(json!({
        "name": format!("locations/{id}"),
        "languageCode": "en",
        "storeCode": format!("SBX-{n}"),
        "title": label("Location", index, username),
        "phoneNumbers": {"primaryPhone": format!("+1 555-010-{:04}", n)},
        "categories": {"primaryCategory": {
            "name": "categories/gcid:software_company", "displayName": "Software company",
        }},
        "storefrontAddress": {
            "regionCode": "US", "languageCode": "en", "postalCode": format!("9410{n}"),
            "administrativeArea": "CA", "locality": "San Francisco",
            "addressLines": [format!("{n} Sandbox Street")],
        },
        "websiteUri": format!("https://sandbox.plugboard.invalid/{username}/location-{n}"),
        "openInfo": {"status": "OPEN", "canReopen": true},
        "metadata": {
            "placeId": place_id,
            "mapsUri": format!("https://maps.google.com/maps?cid={cid}"),
            "newReviewUri": format!("https://search.google.com/local/writereview?placeid={place_id}"),
            "canOperateLocalPost": true,
            "hasVoiceOfMerchant": true,
            "canModifyServiceList": true,
        },
    }))
}

/// Copies the `readMask` paths (`title`, `storefrontAddress`, `metadata.placeId`) from
/// `full`; `name` always comes back.
fn project(full: &Map<String, Value>, mask: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(name) = full.get("name") {
        out.insert("name".into(), name.clone());
    }
    for path in mask {
        let parts: Vec<&str> = path.split('.').collect();
        copy_path(full, &mut out, &parts);
    }
    out
}

fn copy_path(from: &Map<String, Value>, to: &mut Map<String, Value>, path: &[&str]) {
    let Some((head, rest)) = path.split_first() else {
        return;
    };
    let Some(value) = from.get(*head) else {
        return;
    };
    match (rest.is_empty(), value) {
        (true, _) => {
            to.insert((*head).to_owned(), value.clone());
        }
        (false, Value::Object(inner)) => {
            let slot = to
                .entry((*head).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(slot) = slot {
                copy_path(inner, slot, rest);
            }
        }
        (false, _) => {}
    }
}

/// `GET /v1/accounts/{id}/locations?readMask=…`: the user's locations, all in their one
/// account. `readMask` is required and names what comes back.
pub(crate) fn locations(caller: &Caller, account: &str) -> HttpResponse {
    let Some(mask) = caller.query.get("readMask") else {
        return invalid_argument("read_mask", "Field is required");
    };
    let mask: Vec<&str> = mask
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    let unknown = mask
        .iter()
        .any(|m| !LOCATION_FIELDS.contains(&m.split('.').next().unwrap_or_default()));
    if mask.is_empty() || unknown {
        return invalid_argument("read_mask", "Invalid field mask provided");
    }
    let (size, start) = match paging(caller, DEFAULT_LOCATIONS_PAGE, MAX_LOCATIONS_PAGE) {
        Ok(p) => p,
        Err((field, why)) => return invalid_argument(field, why),
    };
    let username = &caller.grant.username;
    if account != account_id(username) {
        return google_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Requested entity was not found.",
            None,
        );
    }
    let total = caller.destinations();
    let range = window(total, start, size);
    let mut body = Map::new();
    if range.end < total {
        body.insert("nextPageToken".into(), json!(cursor(range.end)));
    }
    let locations: Vec<Value> = range
        .map(|i| Value::Object(project(&location_json(username, i), &mask)))
        .collect();
    if !locations.is_empty() {
        body.insert("locations".into(), Value::Array(locations));
    }
    json_response(StatusCode::OK, &Value::Object(body))
}
