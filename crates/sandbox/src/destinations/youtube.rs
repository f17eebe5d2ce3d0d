//! YouTube's channels (platforms.md §6): `channels?mine=true` is both the identity and the
//! listing. The first channel keeps the id the identity endpoint always had.

use actix_web::HttpRequest;
use serde_json::{Value, json};

use super::label;
use crate::identity::{avatar_url, derived_id, display_name, user_id};
use crate::table::{Fake, IdStyle};

/// YouTube's `maxResults` default.
const RESULTS_PER_PAGE: usize = 5;

fn channel(req: &HttpRequest, fake: &Fake, username: &str, index: usize) -> Value {
    let (id, title, handle) = if index == 0 {
        (
            user_id(fake, username, ""),
            display_name(username),
            username.to_owned(),
        )
    } else {
        (
            derived_id(
                fake.slug,
                username,
                &format!("channel/{index}"),
                IdStyle::YoutubeChannel,
            ),
            label("Channel", index, username),
            format!("{username}-{}", index + 1),
        )
    };
    let pic = avatar_url(req, fake.slug, &handle);
    let thumb = |size: u32| json!({"url": pic, "width": size, "height": size});
    json!({
        "kind": "youtube#channel", "etag": "sandbox", "id": id,
        "snippet": {
            "title": title, "description": "A fake YouTube channel in the Plugboard sandbox",
            "customUrl": format!("@{handle}"), "publishedAt": "2020-01-01T00:00:00Z",
            "thumbnails": {"default": thumb(88), "medium": thumb(240), "high": thumb(800)},
        },
        "statistics": {"viewCount": "0", "subscriberCount": "0", "hiddenSubscriberCount": false, "videoCount": "0"},
    })
}

/// The `channelListResponse` of a user with `count` channels; with none, YouTube leaves
/// `items` out altogether.
pub(crate) fn channel_list(req: &HttpRequest, fake: &Fake, username: &str, count: usize) -> Value {
    let mut body = json!({
        "kind": "youtube#channelListResponse", "etag": "sandbox",
        "pageInfo": {"totalResults": count, "resultsPerPage": RESULTS_PER_PAGE},
    });
    if count > 0
        && let Some(obj) = body.as_object_mut()
    {
        let items: Vec<Value> = (0..count.min(RESULTS_PER_PAGE))
            .map(|i| channel(req, fake, username, i))
            .collect();
        obj.insert("items".into(), Value::Array(items));
    }
    body
}
