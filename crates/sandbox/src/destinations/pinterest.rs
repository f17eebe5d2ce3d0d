//! Pinterest's boards (platforms.md §8): `GET /v5/boards`, paged with an opaque bookmark.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use super::{cursor, label, page_size, parse_cursor, window};
use crate::errors::{json_response, pinterest_error};
use crate::identity::{Caller, avatar_url, derived_id};
use crate::table::IdStyle;

const SLUG: &str = "pinterest";
const BOARD_ID: IdStyle = IdStyle::Digits {
    prefix: "1",
    len: 18,
};
const DEFAULT_PAGE_SIZE: usize = 25;
const MAX_PAGE_SIZE: usize = 250;

/// `GET /v5/boards?page_size=&bookmark=`: `bookmark` is null on the last page.
pub(crate) fn boards(req: &HttpRequest, caller: &Caller) -> HttpResponse {
    let q = &caller.query;
    let size = match page_size(q, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE) {
        Ok(n) => n,
        Err(message) => return pinterest_error(StatusCode::BAD_REQUEST, 1, &message),
    };
    let start = match q.get("bookmark").map(parse_cursor) {
        None => 0,
        Some(Some(i)) => i,
        Some(None) => {
            return pinterest_error(StatusCode::BAD_REQUEST, 1, "Invalid bookmark");
        }
    };
    let username = &caller.grant.username;
    let total = caller.destinations();
    let range = window(total, start, size);
    let bookmark = (range.end < total).then(|| cursor(range.end));
    let items: Vec<Value> = range
        .map(|i| {
            let id = derived_id(SLUG, username, &format!("board/{i}"), BOARD_ID);
            json!({
                "id": id,
                "created_at": "2020-01-01T00:00:00",
                "board_pins_modified_at": "2020-01-01T00:00:00.000000",
                "name": label("Board", i, username),
                "description": "A fake board in the Plugboard sandbox",
                "privacy": "PUBLIC",
                "owner": {"username": username},
                "pin_count": 0,
                "follower_count": 0,
                "collaborator_count": 0,
                "media": {
                    "image_cover_url": avatar_url(req, SLUG, &format!("board-{}-{username}", i + 1)),
                    "pin_thumbnail_urls": [],
                },
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"items": items, "bookmark": bookmark}),
    )
}
