//! The sandbox's own surface: the landing page and the small JSON admin API that sets
//! fault knobs, revokes a fake user's tokens and registers strict apps.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::errors::json_response;
use crate::html::{escape, page};
use crate::state::{
    Client, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DestinationsFault, Faults, IdentityFault,
    QuotaFault, RefreshGrant, TokenFault, with_state,
};
use crate::table::{FAKES, Fake, MAX_DESTINATIONS, Renewal, find};

fn bad_request(message: impl Into<String>) -> HttpResponse {
    json_response(StatusCode::BAD_REQUEST, &json!({"error": message.into()}))
}

fn platform(slug: &str) -> Result<&'static Fake, String> {
    find(slug).ok_or_else(|| format!("unknown sandbox platform {slug:?}"))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultsRequest {
    platform: String,
    /// Limits the knobs to one app, so parallel tests do not see each other's faults.
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    token: Option<TokenFault>,
    #[serde(default)]
    identity: Option<IdentityFault>,
    #[serde(default)]
    destinations: Option<DestinationsFault>,
    #[serde(default)]
    token_lifetime_seconds: Option<i64>,
    #[serde(default)]
    slow_millis: Option<u64>,
    #[serde(default)]
    quota: Option<QuotaFault>,
    #[serde(default)]
    usage_percent: Option<u32>,
}

fn faults_json(platform: &str, client_id: Option<&str>, faults: &Faults) -> Value {
    let mut v = serde_json::to_value(faults).unwrap_or_else(|_| json!({}));
    if let Some(obj) = v.as_object_mut() {
        obj.insert("platform".into(), json!(platform));
        if let Some(id) = client_id {
            obj.insert("clientId".into(), json!(id));
        }
    }
    v
}

/// `POST /sandbox/_faults`: replaces the knobs of a platform (or of one app on it); a body
/// with only `platform` (and `clientId`) clears them.
pub(crate) async fn set_faults(body: web::Bytes) -> HttpResponse {
    let req: FaultsRequest = match parse(&body) {
        Ok(r) => r,
        Err(message) => return bad_request(message),
    };
    let fake = match platform(&req.platform) {
        Ok(f) => f,
        Err(message) => return bad_request(message),
    };
    if req.token_lifetime_seconds.is_some_and(|s| s < 0) {
        return bad_request("tokenLifetimeSeconds must not be negative");
    }
    if req.usage_percent.is_some_and(|p| p > 100) {
        return bad_request("usagePercent is a percentage: 0 to 100");
    }
    let faults = Faults {
        token: req.token,
        identity: req.identity,
        destinations: req.destinations,
        token_lifetime_seconds: req.token_lifetime_seconds,
        slow_millis: req.slow_millis,
        quota: req.quota,
        usage_percent: req.usage_percent,
    };
    with_state(|s| s.set_faults(fake.slug, req.client_id.clone(), faults.clone()));
    json_response(
        StatusCode::OK,
        &faults_json(fake.slug, req.client_id.as_deref(), &faults),
    )
}

/// `GET /sandbox/_stats`: refreshes per `platform/username`, and how many rotated-away
/// refresh tokens came back (each is a double refresh).
pub(crate) async fn stats() -> HttpResponse {
    let body = with_state(|s| {
        serde_json::json!({
            "refreshes": s.stats.refreshes,
            "rotatedRefreshTokensReused": s.stats.rotated_reused,
        })
    });
    json_response(StatusCode::OK, &body)
}

/// `GET /sandbox/_faults`: every knob currently set.
pub(crate) async fn list_faults() -> HttpResponse {
    let all: Vec<Value> = with_state(|s| s.all_faults())
        .iter()
        .map(|(p, c, f)| faults_json(p, c.as_deref(), f))
        .collect();
    json_response(StatusCode::OK, &json!({ "faults": all }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RevokeRequest {
    platform: String,
    username: String,
    #[serde(default)]
    client_id: Option<String>,
}

/// `POST /sandbox/_revoke`: the fake user withdraws the app's access, as a user does in
/// the platform's settings; every access and refresh token of theirs stops working.
pub(crate) async fn revoke(body: web::Bytes) -> HttpResponse {
    let req: RevokeRequest = match parse(&body) {
        Ok(r) => r,
        Err(message) => return bad_request(message),
    };
    let fake = match platform(&req.platform) {
        Ok(f) => f,
        Err(message) => return bad_request(message),
    };
    let revoked = with_state(|s| s.revoke_user(fake.slug, &req.username, req.client_id.as_deref()));
    json_response(StatusCode::OK, &json!({ "revoked": revoked }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClientRequest {
    platform: String,
    client_id: String,
    client_secret: String,
    redirect_uris: Vec<String>,
}

/// `POST /sandbox/_clients`: registers an app whose redirect URIs must match exactly, as
/// on a real developer console.
pub(crate) async fn register_client(body: web::Bytes) -> HttpResponse {
    let req: ClientRequest = match parse(&body) {
        Ok(r) => r,
        Err(message) => return bad_request(message),
    };
    let fake = match platform(&req.platform) {
        Ok(f) => f,
        Err(message) => return bad_request(message),
    };
    if req.client_id.is_empty() || req.client_secret.is_empty() || req.redirect_uris.is_empty() {
        return bad_request("clientId, clientSecret and at least one redirect URI are required");
    }
    if req.client_id == DEFAULT_CLIENT_ID {
        return bad_request("the default client cannot be replaced");
    }
    with_state(|s| {
        s.register_client(
            fake.slug,
            req.client_id.clone(),
            Client {
                secret: req.client_secret,
                redirect_uris: req.redirect_uris.clone(),
            },
        )
    });
    json_response(
        StatusCode::CREATED,
        &json!({"platform": fake.slug, "clientId": req.client_id, "redirectUris": req.redirect_uris}),
    )
}

/// At most this many grants per `POST /sandbox/_grants`, in a body of at most
/// [`MAX_GRANTS_BODY`]; larger sets go in several requests.
pub(crate) const MAX_GRANTS_PER_REQUEST: usize = 5_000;
pub(crate) const MAX_GRANTS_BODY: usize = 1 << 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GrantsRequest {
    platform: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    destinations: u8,
    grants: Vec<GrantEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GrantEntry {
    username: String,
    refresh_token: String,
}

/// `POST /sandbox/_grants`: registers refresh tokens for fake users in bulk, as if each user
/// had approved the app and the token had come from a code exchange — so accounts seeded
/// straight into a store (a benchmark's 100,000) can be refreshed through the ordinary
/// refresh grant, with every check of the token endpoint still applied. Only platforms
/// that renew with the refresh grant take them; a token already known, or one a rotation
/// took away, is refused (re-registering a rotated token would hide a double refresh).
pub(crate) async fn register_grants(body: web::Bytes) -> HttpResponse {
    let req: GrantsRequest = match parse(&body) {
        Ok(r) => r,
        Err(message) => return bad_request(message),
    };
    let fake = match platform(&req.platform) {
        Ok(f) => f,
        Err(message) => return bad_request(message),
    };
    if !matches!(fake.renewal, Renewal::Grant { .. }) {
        return bad_request(format!(
            "{} does not renew with refresh tokens; it has no grants to register",
            fake.slug
        ));
    }
    if req.grants.is_empty() || req.grants.len() > MAX_GRANTS_PER_REQUEST {
        return bad_request(format!(
            "grants takes 1 to {MAX_GRANTS_PER_REQUEST} entries per request"
        ));
    }
    if req.destinations > MAX_DESTINATIONS {
        return bad_request(format!("destinations is 0 to {MAX_DESTINATIONS}"));
    }
    if let Some(g) = req
        .grants
        .iter()
        .find(|g| g.username.trim().is_empty() || g.refresh_token.trim().is_empty())
    {
        return bad_request(format!(
            "every grant needs a username and a refresh token (got username {:?})",
            g.username
        ));
    }
    let client_id = req
        .client_id
        .unwrap_or_else(|| DEFAULT_CLIENT_ID.to_owned());
    let result = with_state(|s| {
        if s.client(fake.slug, &client_id).is_none() {
            return Err(format!(
                "no app {client_id:?} on {}; register it with POST /sandbox/_clients",
                fake.slug
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(g) = req.grants.iter().find(|g| {
            s.refresh.contains_key(&g.refresh_token)
                || s.stats.rotated_away.contains(&g.refresh_token)
                || !seen.insert(g.refresh_token.as_str())
        }) {
            return Err(format!(
                "the refresh token of {:?} is already known to the sandbox (or was rotated away)",
                g.username
            ));
        }
        let now = crate::state::now();
        let expires_at = fake
            .refresh_lifetime
            .map(|l| now + chrono::Duration::seconds(l));
        for g in &req.grants {
            s.register_refresh(
                g.refresh_token.clone(),
                RefreshGrant {
                    platform: fake.slug,
                    client_id: client_id.clone(),
                    username: g.username.clone(),
                    scopes: req.scopes.clone(),
                    destinations: req.destinations,
                    expires_at,
                    from_code: None,
                },
            );
        }
        Ok(req.grants.len())
    });
    match result {
        Ok(n) => json_response(
            StatusCode::CREATED,
            &json!({"platform": fake.slug, "clientId": client_id, "registered": n}),
        ),
        Err(message) => bad_request(message),
    }
}

fn endpoint_rows(fake: &Fake) -> String {
    let mut rows = vec![
        (
            "authorize (GET page, POST form)",
            fake.authorize_path.to_owned(),
        ),
        ("token (POST)", fake.token_path.to_owned()),
    ];
    if let Renewal::LongLived {
        exchange_path,
        exchange_grant,
        extend,
        ..
    } = fake.renewal
    {
        rows.push((
            "long-lived exchange (GET)",
            format!("{exchange_path}?grant_type={exchange_grant}"),
        ));
        if let Some((path, grant)) = extend {
            rows.push(("extension (GET)", format!("{path}?grant_type={grant}")));
        }
    }
    for p in fake.identity_paths {
        rows.push(("identity (GET, Bearer)", (*p).to_owned()));
    }
    if let Some(p) = fake.revoke_path {
        rows.push(("revoke (POST)", p.to_owned()));
    }
    for (p, _) in fake.destinations.iter().flat_map(|d| d.endpoints) {
        rows.push(("destinations (GET, Bearer)", (*p).to_owned()));
    }
    rows.iter()
        .map(|(what, path)| {
            format!(
                "<li>{what}: <code>/sandbox/{slug}{path}</code></li>",
                slug = fake.slug,
                path = escape(path)
            )
        })
        .collect()
}

pub(crate) async fn index() -> HttpResponse {
    let platforms: String = FAKES
        .iter()
        .map(|f| {
            format!(
                "<h3>{name} <small>(<code>{slug}</code>)</small></h3><ul>{rows}</ul>",
                name = escape(f.name),
                slug = f.slug,
                rows = endpoint_rows(f)
            )
        })
        .collect();
    let body = format!(
        "<h1>Plugboard sandbox</h1>\
<p>Fake OAuth providers for trying Plugboard locally and for tests. A connector reaches a fake by \
rebasing the platform's real URL onto <code>&lt;server&gt;/sandbox/&lt;platform&gt;</code>, keeping \
the real path and query.</p>\
<p>Every fake accepts the app <code>{id}</code> with secret <code>{secret}</code> and any http(s) \
redirect URI. Apps with strict redirect URIs are registered with <code>POST /sandbox/_clients</code>.</p>\
<h2>Fault knobs</h2><ul>\
<li><code>POST /sandbox/_faults</code> <code>{{\"platform\":\"twitter\",\"clientId\":\"optional\",\
\"token\":\"fail|slow|malformed|invalid_grant\",\"identity\":\"fail|unauthorized\",\
\"destinations\":\"fail|empty\",\"quota\":\"exceeded\",\"usagePercent\":85,\
\"tokenLifetimeSeconds\":5,\"slowMillis\":3000}}</code> — replaces the knobs; only \
<code>platform</code> clears them. <code>GET /sandbox/_faults</code> lists them.</li>\
<li><code>POST /sandbox/_revoke</code> <code>{{\"platform\":\"twitter\",\"username\":\"sandbox_user\"}}</code> \
— kills every token of that fake user.</li>\
<li><code>POST /sandbox/_grants</code> <code>{{\"platform\":\"tiktok\",\"grants\":[{{\"username\":\"u1\",\"refreshToken\":\"rt-1\"}}]}}</code> \
— registers refresh tokens of fake users in bulk (accounts seeded straight into a store); \
<code>GET /sandbox/_stats</code> counts refreshes.</li></ul>\
<h2>Platforms</h2>{platforms}<h2>Not OAuth</h2><ul><li><b>Telegram</b> Bot API at <code>/sandbox/telegram/bot&lt;token&gt;/&lt;method&gt;</code>; default bot <code>@{bot}</code>; script chats with <code>POST /sandbox/telegram/_chats</code>, members with <code>…/_chats/&lt;id&gt;/members</code>, posts with <code>…/_chats/&lt;id&gt;/messages</code>, direct messages with <code>POST /sandbox/telegram/_bots/&lt;token&gt;/dm</code>.</li><li><b>Bluesky</b> PDS at <code>/sandbox/bluesky/xrpc/&lt;nsid&gt;</code>; accounts with <code>POST /sandbox/bluesky/_accounts</code>, app passwords with <code>…/_accounts/&lt;handle&gt;/app-passwords</code>.</li><li><b>WhatsApp</b> Cloud API (Graph) at <code>/sandbox/whatsapp/&lt;version&gt;/…</code>; a business account with numbers and a system-user token from <code>POST /sandbox/whatsapp/_wabas</code>.</li></ul><p>Details: <code>docs/sandbox/telegram.md</code>, <code>docs/sandbox/bluesky.md</code>, <code>docs/sandbox/whatsapp.md</code>.</p>",
        bot = crate::telegram::DEFAULT_BOT_USERNAME,
        id = DEFAULT_CLIENT_ID,
        secret = DEFAULT_CLIENT_SECRET,
    );
    page(StatusCode::OK, "Plugboard sandbox", &body)
}
