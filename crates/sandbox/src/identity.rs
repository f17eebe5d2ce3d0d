//! The fake user behind a token ([`authenticate`], shared with the listing endpoints) and
//! the platform's "who am I" endpoint. Ids derive from a hash of (platform, username), so
//! reconnecting the same username yields the same platform user id, as reconnecting the
//! same real account does.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::errors::{ApiErrorKind, api_error, json_response};
use crate::params::Params;
use crate::state::{AccessGrant, DestinationsFault, Faults, IdentityFault, now, with_state};
use crate::table::{Fake, IdStyle, IdentityShape};

/// The default on the authorize page.
pub(crate) const DEFAULT_USERNAME: &str = "sandbox_user";

/// Usernames are what a tester types; keep them to characters every platform allows in a
/// handle so derived URLs need no escaping.
pub(crate) fn valid_username(name: &str) -> bool {
    (1..=30).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

fn digest(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"plugboard-sandbox");
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

fn from_alphabet(bytes: &[u8], alphabet: &[u8], len: usize) -> String {
    bytes
        .iter()
        .cycle()
        .take(len)
        .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()]))
        .collect()
}

/// The platform's id for this fake user; `salt` tells apart several ids of one user
/// (Instagram's app-scoped `id` and professional `user_id`).
pub(crate) fn user_id(fake: &Fake, username: &str, salt: &str) -> String {
    derived_id(fake.slug, username, salt, fake.id_style)
}

/// An id in `style` derived from (platform, username, salt): the same inputs always give
/// the same id, so a reconnected user finds the same Pages, boards and locations.
pub(crate) fn derived_id(slug: &str, username: &str, salt: &str, style: IdStyle) -> String {
    let d = digest(&[slug, username, salt]);
    match style {
        IdStyle::Digits { prefix, len } => {
            let tail = from_alphabet(&d, b"0123456789", len.saturating_sub(prefix.len()));
            format!("{prefix}{tail}")
        }
        IdStyle::Base36 { len } => from_alphabet(&d, b"0123456789abcdefghijklmnopqrstuvwxyz", len),
        IdStyle::Alnum { len } => from_alphabet(
            &d,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            len,
        ),
        IdStyle::YoutubeChannel => format!(
            "UC{}",
            from_alphabet(
                &d,
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                22
            )
        ),
        IdStyle::Uuid => {
            let hex: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
            format!(
                "{}-{}-{}-{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..32]
            )
        }
    }
}

/// Where the sandbox serves the avatar of `name` (a user, Page, board…); `name` is made of
/// username characters and digits, so it needs no escaping.
pub(crate) fn avatar_url(req: &HttpRequest, slug: &str, name: &str) -> String {
    let info = req.connection_info();
    format!(
        "{}://{}/sandbox/_avatar/{slug}/{name}.svg",
        info.scheme(),
        info.host(),
    )
}

pub(crate) fn display_name(username: &str) -> String {
    format!("{username} (sandbox)")
}

/// The identity JSON for `username`, in the platform's shape (platforms.md,
/// "Identity"). `destinations` is how many the user has, for YouTube, whose "who am I" is
/// the channel list.
pub(crate) fn identity_json(
    req: &HttpRequest,
    fake: &Fake,
    username: &str,
    destinations: usize,
) -> Value {
    let id = user_id(fake, username, "");
    let name = display_name(username);
    let pic = avatar_url(req, fake.slug, username);
    let email = format!("{username}@sandbox.plugboard.invalid");
    match fake.identity {
        IdentityShape::X => json!({"data": {
            "id": id, "name": name, "username": username,
            "profile_image_url": pic, "verified": false, "description": "A fake X user in the Plugboard sandbox",
            "public_metrics": {"followers_count": 0, "following_count": 0, "tweet_count": 0, "listed_count": 0},
        }}),
        IdentityShape::Instagram => json!({
            "id": id, "user_id": user_id(fake, username, "user_id"), "username": username, "name": name,
            "account_type": "BUSINESS", "profile_picture_url": pic, "followers_count": 0, "media_count": 0,
        }),
        IdentityShape::Facebook => json!({
            "id": id, "name": name, "email": email,
            "picture": {"data": {"height": 50, "width": 50, "is_silhouette": false, "url": pic}},
        }),
        IdentityShape::LinkedinUserinfo => json!({
            "sub": id, "email_verified": true, "name": name, "locale": {"country": "US", "language": "en"},
            "given_name": username, "family_name": "Sandbox", "email": email, "picture": pic,
        }),
        IdentityShape::Tiktok => json!({
            "data": {"user": {
                "open_id": id, "union_id": user_id(fake, username, "union_id"), "avatar_url": pic,
                "display_name": name, "username": username,
                "profile_deep_link": format!("https://www.tiktok.com/@{username}"),
            }},
            "error": {"code": "ok", "message": "", "log_id": crate::state::random_token("log", "id")},
        }),
        IdentityShape::YoutubeChannels => {
            crate::destinations::youtube::channel_list(req, fake, username, destinations)
        }
        IdentityShape::GoogleUserinfo => json!({
            "sub": id, "name": name, "given_name": username, "family_name": "Sandbox",
            "picture": pic, "email": email, "email_verified": true,
        }),
        IdentityShape::Pinterest => json!({
            "account_type": "BUSINESS", "id": id, "username": username, "profile_image": pic,
            "website_url": "", "about": "", "business_name": name,
            "board_count": 0, "pin_count": 0, "follower_count": 0, "following_count": 0, "monthly_views": 0,
        }),
        IdentityShape::Reddit => json!({
            "id": id, "name": username,
            // Reddit HTML-escapes its avatar URLs (platforms.md §9).
            "icon_img": format!("{pic}?width=256&amp;height=256"), "snoovatar_img": "",
            "created_utc": 1_577_836_800.0, "link_karma": 1, "comment_karma": 0, "verified": true,
            "subreddit": {
                "display_name": format!("u_{username}"), "display_name_prefixed": format!("u/{username}"),
                "icon_img": pic, "url": format!("/user/{username}/"), "subscribers": 0,
            },
        }),
        IdentityShape::Threads => json!({
            "id": id, "username": username, "name": name,
            "threads_profile_picture_url": pic, "threads_biography": "A fake Threads user in the Plugboard sandbox",
        }),
        IdentityShape::Snapchat => json!({
            "request_status": "SUCCESS", "request_id": crate::state::random_token("req", "id"),
            "me": {
                "id": id, "updated_at": "2020-01-01T00:00:00.000Z", "created_at": "2020-01-01T00:00:00.000Z",
                "email": email, "organization_id": user_id(fake, username, "organization"),
                "display_name": name, "member_status": "MEMBER",
            },
        }),
    }
}

/// Keeps only the requested fields (plus the ones always returned), as X `user.fields`,
/// Meta `fields` and TikTok `fields` do. `picture.type(large)` or `picture{url}` name `picture`.
pub(crate) fn filter_fields(fake: &Fake, query: &Params, body: &mut Value) {
    let Some(filter) = fake.field_filter else {
        return;
    };
    let requested: Vec<&str> = query
        .get(filter.param)
        .map(|v| {
            v.split(',')
                .map(|f| f.trim().split(['.', '{', '(']).next().unwrap_or(""))
                .collect()
        })
        .unwrap_or_default();
    if let Some(obj) = body.pointer_mut(filter.at).and_then(Value::as_object_mut) {
        obj.retain(|k, _| filter.always.contains(&k.as_str()) || requested.contains(&k.as_str()));
    }
}

/// The bearer token: from `Authorization: Bearer` (RFC 6750 §2.1), or for Meta also from
/// the `access_token` query parameter (RFC 6750 §2.3).
fn bearer(req: &HttpRequest, fake: &Fake, query: &Params) -> Option<String> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    header.or_else(|| {
        fake.token_in_query
            .then(|| query.get("access_token").map(str::to_owned))
            .flatten()
    })
}

/// A request to a platform API that carried a live token of this sandbox.
pub(crate) struct Caller {
    pub grant: AccessGrant,
    pub token: String,
    pub faults: Faults,
    pub query: Params,
}

impl Caller {
    /// How many destinations the listings show: the consent form's number, unless the
    /// `destinations: "empty"` knob is set.
    pub fn destinations(&self) -> usize {
        if self.faults.destinations == Some(DestinationsFault::Empty) {
            0
        } else {
            usize::from(self.grant.destinations)
        }
    }
}

/// Finds the live grant behind the request's token and applies the `identity` knobs, which
/// stand for the platform refusing or failing every API call of the app. The error is
/// rendered with [`api_error`].
pub(crate) fn authenticate(req: &HttpRequest, fake: &'static Fake) -> Result<Caller, ApiErrorKind> {
    let query = Params::parse(req.query_string().as_bytes());
    let token = bearer(req, fake, &query);
    let now = now();
    let found = with_state(|s| {
        let token = token?;
        let grant = s
            .access
            .get(&token)
            .filter(|a| a.platform == fake.slug && a.expires_at > now)
            .cloned()?;
        let faults = s.faults(fake.slug, Some(&grant.client_id));
        Some((token, grant, faults))
    });
    let Some((token, grant, faults)) = found else {
        return Err(ApiErrorKind::Unauthorized);
    };
    match faults.identity {
        Some(IdentityFault::Fail) => Err(ApiErrorKind::ServerError),
        Some(IdentityFault::Unauthorized) => Err(ApiErrorKind::Unauthorized),
        None => Ok(Caller {
            grant,
            token,
            faults,
            query,
        }),
    }
}

pub(crate) fn identity(req: &HttpRequest, fake: &'static Fake) -> HttpResponse {
    let caller = match authenticate(req, fake) {
        Ok(c) => c,
        Err(kind) => return api_error(fake, kind),
    };
    if let Some(page) = caller.grant.page {
        // Graph's `/me` is the token's own node: with a Page token, the Page.
        return crate::destinations::facebook::page_as_me(req, &caller, page);
    }
    let lists = fake.destinations.as_ref().is_some_and(|d| d.in_identity);
    if lists && caller.faults.destinations == Some(DestinationsFault::Fail) {
        return api_error(fake, ApiErrorKind::ServerError);
    }
    let mut body = identity_json(req, fake, &caller.grant.username, caller.destinations());
    filter_fields(fake, &caller.query, &mut body);
    json_response(StatusCode::OK, &body)
}

/// A tiny SVG so avatar URLs resolve without any network.
pub(crate) fn avatar_svg(username: &str) -> HttpResponse {
    let initial = username
        .chars()
        .next()
        .filter(char::is_ascii_alphanumeric)
        .unwrap_or('?')
        .to_ascii_uppercase();
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"96\" height=\"96\"><rect width=\"96\" height=\"96\" fill=\"#e0c36c\"/>\
<text x=\"48\" y=\"62\" font-size=\"44\" text-anchor=\"middle\" font-family=\"sans-serif\">{initial}</text></svg>"
    );
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(svg)
}
