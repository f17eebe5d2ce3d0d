//! `/_mcp` and its OAuth 2.1 authorization server. The official MCP Python SDK does the
//! whole flow (discovery, registration, consent, PKCE, tools, refresh) in
//! `tests/python/mcp_client.py`, once per protocol generation; the negative cases below
//! drive the endpoints by hand, as a broken or hostile client would.

use crate::helpers::*;
use crate::python_sdk::ensure_mcp_sdk;
use crate::webhooks::Receiver;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use plugboard_core::{ManualClock, Platform};
use plugboard_store::{McpGrant, McpToken, McpTokenKind};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

const REDIRECT: &str = "http://localhost:53682/callback";
const TOOLS: [&str; 19] = [
    "list_profiles",
    "get_profile",
    "create_profile",
    "list_accounts",
    "get_account",
    "activate_account",
    "deactivate_account",
    "disconnect_account",
    "accounts_health",
    "account_health",
    "refresh_account_token",
    "start_connect",
    "connect_bluesky",
    "start_telegram_connect",
    "telegram_connect_status",
    "list_platforms",
    "get_webhook_settings",
    "list_webhook_deliveries",
    "usage_stats",
];

async fn bluesky_account(app: &TestApp) -> (String, String) {
    let handle = format!("mcp{}.test", hex::encode(rand::random::<[u8; 4]>()));
    let r = app
        .post("/sandbox/bluesky/_accounts", json!({"handle": handle, "password": "main-password-123", "email": format!("{handle}@mail.test"), "displayName": "Sky Agent"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            &format!("/sandbox/bluesky/_accounts/{handle}/app-passwords"),
            json!({"name": "plugboard"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    (handle, r.body["password"].as_str().unwrap().to_owned())
}

/// One webhook with a secret, one failed and one successful delivery in its logs.
async fn seed_webhook(app: &TestApp, receiver: &Receiver) {
    let r = app
        .post(
            "/v1/webhooks/settings",
            json!({"name": "agent hook", "url": receiver.url, "secret": "whsec-agent", "events": ["account.connected"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["webhook"]["_id"].as_str().unwrap().to_owned();
    receiver.answer(&[500]);
    for _ in 0..2 {
        app.post("/v1/webhooks/test", json!({"webhookId": id}))
            .await;
    }
}

async fn run_official_client(app: TestApp, mode: &str, expect_protocol: &str) {
    let python = tokio::task::spawn_blocking(ensure_mcp_sdk)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let profile = app.default_profile().await;
    let youtube = app
        .seed_account(&profile, Platform::Youtube, "UC-agent", "yt-access")
        .await;
    let receiver = Receiver::start().await;
    seed_webhook(&app, &receiver).await;
    let (handle, password) = bluesky_account(&app).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/mcp_client.py");
    let summary = crate::python_sdk::run_sdk_script(
        &app,
        &python,
        &script,
        &json!({
            "mode": mode,
            "expectProtocol": expect_protocol,
            "profileId": profile.to_string(),
            "youtubeAccountId": youtube.id.to_string(),
            "blueskyHandle": handle,
            "blueskyPassword": password,
            "tools": TOOLS,
        }),
        "MCP",
    )
    .await;
    assert!(summary["checks"].as_u64().unwrap() >= 80, "{summary}");
    let called: Vec<&str> = summary["called"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut expected = TOOLS.to_vec();
    expected.sort();
    assert_eq!(called, expected);
    // What the agent did is what the server holds: its twitter account is disconnected.
    let gone = summary["twitterAccountId"].as_str().unwrap();
    let r = app.get(&format!("/v1/accounts/{gone}")).await;
    assert_error(&r, 404, "account_not_found");
    // The refresh token the SDK rotated away is dead, and presenting it again is treated as
    // a replay: the whole family goes.
    let client_id = summary["clientId"].as_str().unwrap();
    let old = summary["firstRefreshToken"].as_str().unwrap();
    let r = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", old),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"], "invalid_grant");
}

#[tokio::test]
async fn the_official_mcp_python_client_authorizes_and_uses_every_tool_over_the_2025_protocol() {
    let app = spawn_app_with(|c| c.webhooks_allow_private = true).await;
    run_official_client(app, "legacy", "2025-11-25").await;
}

#[tokio::test]
async fn the_official_mcp_python_client_authorizes_and_uses_every_tool_over_2026_07_28() {
    let app = spawn_app_with(|c| c.webhooks_allow_private = true).await;
    run_official_client(app, "2026-07-28", "2026-07-28").await;
}

#[tokio::test]
async fn the_official_mcp_python_client_works_the_same_on_mongodb() {
    let app = crate::mongodb::spawn_on_mongodb_with(|c| c.webhooks_allow_private = true).await;
    run_official_client(app, "legacy", "2025-11-25").await;
}

#[tokio::test]
async fn replays_and_key_revocation_are_enforced_the_same_on_mongodb() {
    let app = crate::mongodb::spawn_on_mongodb_with(|_| {}).await;
    let client_id = register(&app).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &app.key, &client_id, &challenge, &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", client_id.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let first = token(&app, &form).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let access = first.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token(&app, &form).await.body["error"], "invalid_grant");
    assert_eq!(
        mcp_post(&app, Some(&access), INITIALIZE, None)
            .await
            .status(),
        401
    );

    let g = grant(&app).await;
    let r = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &g.client_id),
            ("refresh_token", &g.refresh),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let access2 = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        mcp_post(&app, Some(&access2), &tool_call("list_profiles"), None)
            .await
            .status(),
        200
    );
    let r = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &g.client_id),
            ("refresh_token", &g.refresh),
        ],
    )
    .await;
    assert_eq!(r.body["error"], "invalid_grant");
    assert_eq!(
        mcp_post(&app, Some(&access2), INITIALIZE, None)
            .await
            .status(),
        401
    );

    let key = app.create_key(json!({"name": "agent key"})).await;
    let g = grant_with(&app, &key, &[]).await;
    let owner = app.owner().await;
    let id = app
        .services
        .store
        .list_api_keys(&owner)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.name == "agent key")
        .unwrap()
        .id;
    app.call(reqwest::Method::DELETE, &format!("/v1/api-keys/{id}"), None)
        .await;
    assert_eq!(
        mcp_post(&app, Some(&g.access), INITIALIZE, None)
            .await
            .status(),
        401
    );
}

// ---- by hand -------------------------------------------------------------------------

/// A running server to drive by hand: the in-process one, or the compiled binary.
trait Server {
    fn http(&self) -> &reqwest::Client;
    fn origin(&self) -> &str;
    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }
}

impl Server for TestApp {
    fn http(&self) -> &reqwest::Client {
        &self.client
    }
    fn origin(&self) -> &str {
        &self.base
    }
}

/// The compiled binary at `base`, driven with a cookie-keeping client.
struct Remote {
    client: reqwest::Client,
    base: String,
}

impl Server for Remote {
    fn http(&self) -> &reqwest::Client {
        &self.client
    }
    fn origin(&self) -> &str {
        &self.base
    }
}

fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

async fn token(app: &impl Server, form: &[(&str, &str)]) -> Reply {
    reply(
        app.http()
            .post(app.at("/oauth/token"))
            .form(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn register(app: &impl Server) -> String {
    let r = reply(
        app.http()
            .post(app.at("/oauth/register"))
            .json(&json!({"client_name": "Hand-driven client", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"], "application_type": "native"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["client_id"].as_str().unwrap().to_owned()
}

fn authorize_url(app: &impl Server, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&app.at("/oauth/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

fn standard_params<'a>(
    client_id: &'a str,
    challenge: &'a str,
    resource: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("state", "st-123"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("resource", resource),
    ]
}

fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<input type=\"hidden\" name=\"") {
        rest = &rest[i + 27..];
        let name_end = rest.find('"').unwrap();
        let name = rest[..name_end].to_owned();
        let v = rest.find("value=\"").unwrap() + 7;
        let v_end = v + rest[v..].find('"').unwrap();
        out.push((name, crate::flows::unescape(&rest[v..v_end])));
        rest = &rest[v_end..];
    }
    out
}

/// Opens the consent page (in `app.client`, which keeps the CSRF cookie) and answers it.
async fn consent(app: &impl Server, url: &str, api_key: &str) -> Reply {
    let page = reply(app.http().get(url).send().await.unwrap()).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let mut form = hidden_fields(&page.text);
    form.push(("api_key".into(), api_key.into()));
    form.push(("decision".into(), "approve".into()));
    reply(
        app.http()
            .post(app.at("/oauth/authorize"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn redirect_query(r: &Reply) -> HashMap<String, String> {
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let location = crate::flows::location(r);
    assert!(location.starts_with(REDIRECT), "{location}");
    crate::flows::query(&url::Url::parse(&location).unwrap())
}

struct Grant {
    client_id: String,
    code: String,
    access: String,
    refresh: String,
}

async fn code_for(
    app: &impl Server,
    key: &str,
    client_id: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> String {
    let resource = app.at("/_mcp");
    let mut params = standard_params(client_id, challenge, &resource);
    params.extend_from_slice(extra);
    let q = redirect_query(&consent(app, &authorize_url(app, &params), key).await);
    q["code"].clone()
}

async fn grant_with(app: &impl Server, key: &str, extra: &[(&str, &str)]) -> Grant {
    let client_id = register(app).await;
    let (verifier, challenge) = pkce();
    let resource = app.at("/_mcp");
    let mut params = standard_params(&client_id, &challenge, &resource);
    params.extend_from_slice(extra);
    let q = redirect_query(&consent(app, &authorize_url(app, &params), key).await);
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], app.origin());
    let r = token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
            ("resource", &resource),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    Grant {
        client_id,
        code: q["code"].clone(),
        access: r.body["access_token"].as_str().unwrap().to_owned(),
        refresh: r.body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

async fn grant(app: &TestApp) -> Grant {
    grant_with(app, &app.key.clone(), &[]).await
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"by-hand","version":"1"}}}"#;

fn tool_call(name: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": name, "arguments": {}}}).to_string()
}

async fn mcp_post(
    app: &impl Server,
    bearer: Option<&str>,
    body: &str,
    origin: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http()
        .post(app.at("/_mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .body(body.to_owned());
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().await.unwrap()
}

fn www_authenticate(r: &reqwest::Response) -> String {
    r.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn discovery_documents_are_public_and_agree_with_each_other() {
    let app = spawn_app().await;
    let prm = app.get("/.well-known/oauth-protected-resource/_mcp").await;
    assert_eq!(prm.status, 200, "{}", prm.text);
    assert_eq!(prm.body["resource"], app.url("/_mcp"));
    assert_eq!(prm.body["authorization_servers"], json!([app.base]));
    assert_eq!(prm.body["bearer_methods_supported"], json!(["header"]));
    let root = app.get("/.well-known/oauth-protected-resource").await;
    assert_eq!(
        root.body, prm.body,
        "both locations serve the same document"
    );
    let scopes = prm.body["scopes_supported"].as_array().unwrap();
    assert_eq!(scopes.len(), 7);
    assert!(!scopes.contains(&json!("offline_access")));

    let asm = app.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(asm.status, 200, "{}", asm.text);
    assert_eq!(
        asm.body["issuer"], app.base,
        "issuer byte-identical to authorization_servers[0]"
    );
    assert_eq!(
        asm.body["authorization_endpoint"],
        app.url("/oauth/authorize")
    );
    assert_eq!(asm.body["token_endpoint"], app.url("/oauth/token"));
    assert_eq!(
        asm.body["registration_endpoint"],
        app.url("/oauth/register")
    );
    assert_eq!(
        asm.body["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        asm.body["token_endpoint_auth_methods_supported"],
        json!(["none"])
    );
    assert_eq!(
        asm.body["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        asm.body["authorization_response_iss_parameter_supported"],
        true
    );
    assert!(
        asm.body
            .get("client_id_metadata_document_supported")
            .is_none()
    );

    // No token: 401 pointing at the path-inserted metadata and asking for every scope.
    let r = mcp_post(&app, None, INITIALIZE, None).await;
    assert_eq!(r.status(), 401);
    let challenge = www_authenticate(&r);
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{}\"",
            app.url("/.well-known/oauth-protected-resource/_mcp")
        )),
        "{challenge}"
    );
    for s in scopes {
        assert!(challenge.contains(s.as_str().unwrap()), "{challenge}");
    }
    assert!(
        !challenge.contains("error="),
        "no error code when no token was sent: {challenge}"
    );
}

#[tokio::test]
async fn registration_accepts_public_clients_and_refuses_unsafe_redirects() {
    let app = spawn_app().await;
    let r = app
        .post("/oauth/register", json!({"client_name": "Claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"]}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body["client_id"].as_str().unwrap().starts_with("pbc_"));
    assert!(r.body["client_id_issued_at"].is_i64());
    assert_eq!(r.body["token_endpoint_auth_method"], "none");
    assert_eq!(
        r.body["redirect_uris"],
        json!(["https://claude.ai/api/mcp/auth_callback"])
    );
    assert!(r.body.get("client_secret").is_none());

    for (body, code) in [
        (
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://claude.ai/cb#x"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (json!({"client_name": "x"}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
    ] {
        let r = app.post("/oauth/register", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.body["error"], code, "{body}");
    }
    let r = reply(
        app.client
            .post(app.url("/oauth/register"))
            .body("not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "invalid_client_metadata");
}

#[tokio::test]
async fn an_unknown_client_or_unregistered_redirect_gets_an_error_page_never_a_redirect() {
    let app = spawn_app().await;
    let client_id = register(&app).await;
    let (_, challenge) = pkce();
    let resource = app.url("/_mcp");
    let mut unknown = standard_params("pbc_nope", &challenge, &resource);
    let r = reply(
        app.client
            .get(authorize_url(&app, &unknown))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("not registered"), "{}", r.text);
    unknown[1] = ("client_id", &client_id);
    unknown[2] = ("redirect_uri", "http://localhost:53682/other");
    let r = reply(
        app.client
            .get(authorize_url(&app, &unknown))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("redirect_uri"), "{}", r.text);
}

#[tokio::test]
async fn authorization_without_s256_pkce_or_for_another_resource_is_sent_back_with_an_error() {
    let app = spawn_app().await;
    let client_id = register(&app).await;
    let (verifier, challenge) = pkce();
    let resource = app.url("/_mcp");
    let base = standard_params(&client_id, &challenge, &resource);
    let without = |name: &str| {
        base.iter()
            .filter(|(k, _)| *k != name)
            .cloned()
            .collect::<Vec<_>>()
    };
    let with = |name: &'static str, value: &'static str| {
        let mut v = without(name);
        v.push((name, value));
        v
    };
    type Params<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Params, &str, &str)> = vec![
        (
            without("code_challenge"),
            "invalid_request",
            "code_challenge",
        ),
        (without("code_challenge_method"), "invalid_request", "S256"),
        (
            {
                let mut v = without("code_challenge_method");
                v.retain(|(k, _)| *k != "code_challenge");
                v.push(("code_challenge", &verifier));
                v.push(("code_challenge_method", "plain"));
                v
            },
            "invalid_request",
            "plain",
        ),
        (
            with("resource", "https://elsewhere.example/_mcp"),
            "invalid_target",
            "resource",
        ),
        (
            with("scope", "connections:read admin:all"),
            "invalid_scope",
            "admin:all",
        ),
        (
            with("response_type", "token"),
            "unsupported_response_type",
            "code",
        ),
    ];
    for (params, error, mentions) in cases {
        let r = reply(
            app.client
                .get(authorize_url(&app, &params))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let q = redirect_query(&r);
        assert_eq!(q["error"], error, "{params:?}");
        assert!(q["error_description"].contains(mentions), "{q:?}");
        assert_eq!(q["state"], "st-123", "state comes back with errors too");
        assert_eq!(q["iss"], app.base, "iss comes back with errors too");
    }
}

#[tokio::test]
async fn the_consent_form_needs_its_csrf_cookie_refuses_wrong_keys_and_then_rate_limits() {
    let app = spawn_app().await;
    let client_id = register(&app).await;
    let (_, challenge) = pkce();
    let resource = app.url("/_mcp");
    let url = authorize_url(&app, &standard_params(&client_id, &challenge, &resource));
    let page = reply(app.client.get(&url).send().await.unwrap()).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("Hand-driven client"),
        "the client's name is shown"
    );
    assert!(
        page.text.contains("not verified"),
        "and said to be self-asserted"
    );
    assert!(
        page.text.contains("localhost:53682"),
        "the redirect host is shown"
    );
    assert!(page.text.contains("name=\"api_key\""));
    let mut form = hidden_fields(&page.text);
    form.push(("api_key".into(), app.key.clone()));
    form.push(("decision".into(), "approve".into()));

    // The same form from a browser without the cookie (a cross-site post) is refused.
    let stranger = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = reply(
        stranger
            .post(app.url("/oauth/authorize"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);

    // Wrong keys: the page again with an error, until the address is blocked.
    let mut wrong = form.clone();
    wrong.retain(|(k, _)| k != "api_key");
    wrong.push(("api_key".into(), random_key()));
    for i in 0..10 {
        let r = reply(
            app.client
                .post(app.url("/oauth/authorize"))
                .form(&wrong)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 401, "attempt {i}: {}", r.text);
        assert!(r.text.contains("not valid"));
    }
    let r = reply(
        app.client
            .post(app.url("/oauth/authorize"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        r.status, 429,
        "even the right key waits once the address is blocked: {}",
        r.text
    );

    // Deny sends the user back with access_denied.
    let other = spawn_app().await;
    let client_id = register(&other).await;
    let resource = other.url("/_mcp");
    let url = authorize_url(&other, &standard_params(&client_id, &challenge, &resource));
    let page = reply(other.client.get(&url).send().await.unwrap()).await;
    let mut form = hidden_fields(&page.text);
    form.push(("decision".into(), "deny".into()));
    let r = reply(
        other
            .client
            .post(other.url("/oauth/authorize"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let q = redirect_query(&r);
    assert_eq!(q["error"], "access_denied");
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn a_code_works_once_and_its_replay_revokes_what_it_gave() {
    let app = spawn_app().await;
    let client_id = register(&app).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &app.key, &client_id, &challenge, &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", client_id.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let first = token(&app, &form).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["token_type"], "Bearer");
    assert_eq!(first.body["expires_in"], 3600);
    assert_eq!(first.body["scope"].as_str().unwrap().split(' ').count(), 7);
    let access = first.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        mcp_post(&app, Some(&access), INITIALIZE, None)
            .await
            .status(),
        200
    );

    let again = token(&app, &form).await;
    assert_eq!(again.status, 400, "{}", again.text);
    assert_eq!(again.body["error"], "invalid_grant");
    let r = mcp_post(&app, Some(&access), INITIALIZE, None).await;
    assert_eq!(
        r.status(),
        401,
        "the replay revoked the tokens the code gave"
    );
    assert!(www_authenticate(&r).contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn the_token_endpoint_refuses_a_wrong_verifier_redirect_client_or_resource() {
    let app = spawn_app().await;
    let client_id = register(&app).await;
    let other_client = register(&app).await;
    let (verifier, challenge) = pkce();
    let (wrong_verifier, _) = pkce();
    for (field, value, error) in [
        ("code_verifier", wrong_verifier.as_str(), "invalid_grant"),
        (
            "redirect_uri",
            "http://localhost:53682/other",
            "invalid_grant",
        ),
        ("client_id", other_client.as_str(), "invalid_grant"),
        (
            "resource",
            "https://elsewhere.example/_mcp",
            "invalid_target",
        ),
        ("code_verifier", "", "invalid_request"),
    ] {
        let code = code_for(&app, &app.key, &client_id, &challenge, &[]).await;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
        ];
        form.retain(|(k, _)| *k != field);
        form.push((field, value));
        let r = token(&app, &form).await;
        assert_eq!(r.status, 400, "{field}: {}", r.text);
        assert_eq!(r.body["error"], error, "{field}");
        assert_eq!(r.headers["cache-control"], "no-store");
    }
    let r = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "pbc_gone"),
            ("code", "x"),
        ],
    )
    .await;
    assert_eq!(
        r.status, 401,
        "an unknown client is invalid_client, so Claude re-registers"
    );
    assert_eq!(r.body["error"], "invalid_client");
    let r = token(
        &app,
        &[("grant_type", "password"), ("client_id", &client_id)],
    )
    .await;
    assert_eq!(r.body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn refresh_rotates_and_reusing_a_rotated_token_revokes_the_whole_family() {
    let app = spawn_app().await;
    let g = grant(&app).await;
    let r = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &g.client_id),
            ("refresh_token", &g.refresh),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let access2 = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh2 = r.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, g.refresh);
    assert_eq!(
        mcp_post(&app, Some(&access2), INITIALIZE, None)
            .await
            .status(),
        200
    );
    assert_eq!(
        mcp_post(&app, Some(&g.access), INITIALIZE, None)
            .await
            .status(),
        200,
        "the old access token lives out its hour"
    );

    // The rotated-away token comes back: a replay. Everything of the grant dies.
    let r = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &g.client_id),
            ("refresh_token", &g.refresh),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "invalid_grant");
    assert_eq!(
        mcp_post(&app, Some(&access2), INITIALIZE, None)
            .await
            .status(),
        401
    );
    let r = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &g.client_id),
            ("refresh_token", &refresh2),
        ],
    )
    .await;
    assert_eq!(
        r.body["error"], "invalid_grant",
        "the newest refresh token died with the family"
    );
}

#[tokio::test]
async fn expired_codes_and_access_tokens_are_refused_and_refresh_still_works() {
    let clock = Arc::new(ManualClock::new(
        chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
    ));
    let app = spawn_app_with_clock(clock.clone()).await;
    let client_id = register(&app).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &app.key, &client_id, &challenge, &[]).await;
    clock.advance(Duration::minutes(6));
    let r = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        r.body["error"], "invalid_grant",
        "codes expire within minutes: {}",
        r.text
    );

    let g = grant(&app).await;
    clock.advance(Duration::minutes(61));
    let r = mcp_post(&app, Some(&g.access), INITIALIZE, None).await;
    assert_eq!(r.status(), 401);
    assert!(www_authenticate(&r).contains("error=\"invalid_token\""));
    let r = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &g.client_id),
            ("refresh_token", &g.refresh),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "refresh tokens live 30 days: {}", r.text);
    clock.advance(Duration::days(31));
    let refresh = r.body["refresh_token"].as_str().unwrap();
    let r = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &g.client_id),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(r.body["error"], "invalid_grant", "but not longer");
}

#[tokio::test]
async fn a_token_whose_audience_is_another_server_is_refused() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let keys = app.services.store.list_api_keys(&owner).await.unwrap();
    let now = app.services.clock.now();
    // A grant for another deployment's /_mcp in a shared database.
    let raw = format!(
        "pbm_at_{}",
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    );
    let grant = McpGrant {
        id: "mcg_elsewhere".into(),
        owner_id: owner.clone(),
        api_key_id: keys[0].id.clone(),
        client_id: "pbc_elsewhere".into(),
        scopes: vec!["connections:read".into()],
        resource: "https://elsewhere.example/_mcp".into(),
        created_at: now,
        expires_at: now + Duration::days(30),
        revoked_at: None,
    };
    let token = McpToken {
        hash: hex::encode(Sha256::digest(raw.as_bytes())),
        kind: McpTokenKind::Access,
        grant_id: grant.id.clone(),
        owner_id: owner,
        created_at: now,
        expires_at: now + Duration::hours(1),
        used_at: None,
    };
    app.services
        .store
        .insert_mcp_grant(&grant, &[token])
        .await
        .unwrap();
    let r = mcp_post(&app, Some(&raw), INITIALIZE, None).await;
    assert_eq!(r.status(), 401);
    assert!(
        www_authenticate(&r).contains("another resource"),
        "{}",
        www_authenticate(&r)
    );
    // And a string that is not one of our tokens at all (an API key, say).
    let r = mcp_post(&app, Some(&app.key), INITIALIZE, None).await;
    assert_eq!(r.status(), 401, "API keys are not MCP tokens");
}

#[tokio::test]
async fn a_tool_needing_a_scope_the_token_lacks_is_a_403_naming_the_scope() {
    let app = spawn_app().await;
    let g = grant_with(&app, &app.key.clone(), &[("scope", "profiles:read")]).await;
    let r = mcp_post(&app, Some(&g.access), &tool_call("usage_stats"), None).await;
    assert_eq!(r.status(), 403);
    let challenge = www_authenticate(&r);
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"stats:read\""), "{challenge}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "insufficient_scope");
    let r = mcp_post(&app, Some(&g.access), &tool_call("list_profiles"), None).await;
    assert_eq!(r.status(), 200, "a granted scope passes");

    // A read-only API key cannot hand out write scopes, whatever the client asks for.
    let read_key = app
        .create_key(json!({"name": "reader", "permission": "read"}))
        .await;
    let g = grant_with(&app, &read_key, &[]).await;
    let r = mcp_post(&app, Some(&g.access), &tool_call("create_profile"), None).await;
    assert_eq!(r.status(), 403);
    assert!(www_authenticate(&r).contains("profiles:write"));
}

#[tokio::test]
async fn a_foreign_origin_is_403_and_claude_preflights_are_answered_before_auth() {
    let app = spawn_app().await;
    let g = grant(&app).await;
    let r = mcp_post(
        &app,
        Some(&g.access),
        INITIALIZE,
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = mcp_post(&app, None, INITIALIZE, Some("https://evil.example")).await;
    assert_eq!(r.status(), 403, "before authentication");
    let r = mcp_post(&app, Some(&g.access), INITIALIZE, Some("https://claude.ai")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://claude.ai"
    );

    for path in [
        "/_mcp",
        "/oauth/token",
        "/oauth/register",
        "/.well-known/oauth-protected-resource/_mcp",
    ] {
        let r = app
            .client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("origin", "https://claude.com")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, mcp-protocol-version",
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://claude.com",
            "{path}"
        );
    }
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/_mcp"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn revoking_the_api_key_revokes_its_mcp_grants() {
    let app = spawn_app().await;
    let key = app.create_key(json!({"name": "agent key"})).await;
    let g = grant_with(&app, &key, &[]).await;
    assert_eq!(
        mcp_post(&app, Some(&g.access), INITIALIZE, None)
            .await
            .status(),
        200
    );
    let owner = app.owner().await;
    let id = app
        .services
        .store
        .list_api_keys(&owner)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.name == "agent key")
        .unwrap()
        .id;
    let r = app
        .call(reqwest::Method::DELETE, &format!("/v1/api-keys/{id}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = mcp_post(&app, Some(&g.access), INITIALIZE, None).await;
    assert_eq!(r.status(), 401);
    let r = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &g.client_id),
            ("refresh_token", &g.refresh),
        ],
    )
    .await;
    assert_eq!(r.body["error"], "invalid_grant");
}

#[tokio::test]
async fn tools_only_see_what_the_authorizing_key_may_see() {
    let app = spawn_app().await;
    let mine = app.create_profile("Scoped brand").await;
    let other = app.default_profile().await;
    app.seed_account(&mine, Platform::Twitter, "scoped-1", "t1")
        .await;
    app.seed_account(&other, Platform::Twitter, "hidden-1", "t2")
        .await;
    let key = app
        .create_key(
            json!({"name": "one profile", "scope": "profiles", "profileIds": [mine.to_string()]}),
        )
        .await;
    let g = grant_with(&app, &key, &[]).await;
    let r = mcp_post(&app, Some(&g.access), &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_accounts", "arguments": {}}}).to_string(), None).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let accounts = &body["result"]["structuredContent"]["accounts"];
    assert_eq!(accounts.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(accounts[0]["platformUserId"], "scoped-1");

    // Stateless: no server-to-client stream, no session to end.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let r = app
            .client
            .request(method.clone(), app.url("/_mcp"))
            .bearer_auth(&g.access)
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method}");
    }
}

/// The compiled binary with JSON debug logs: a whole MCP authorization, a refresh, a code
/// replay and a tool call, then every log line and every byte of the database are read. No
/// API key, code, access or refresh token may appear in either.
#[tokio::test]
async fn mcp_secrets_never_reach_the_logs_or_the_database_in_plaintext() {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let key = random_key();
    let mut child = crate::binary::plugboard(dir.path())
        .env("PLUGBOARD_LOG_FORMAT", "json")
        .env(
            "PLUGBOARD_LOG",
            "debug,h2=info,hyper=info,rustls=info,actix_server=info",
        )
        .env("PLUGBOARD_BOOTSTRAP_API_KEY", &key)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            let line = out.next_line().await.unwrap().unwrap();
            if let Some(u) = line.trim().strip_prefix("Plugboard is running at ") {
                return u.trim_end_matches('/').to_owned();
            }
        }
    })
    .await
    .unwrap();
    tokio::spawn(async move { while let Ok(Some(_)) = out.next_line().await {} });
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let logs = tokio::spawn(async move {
        let mut all = String::new();
        while let Ok(Some(line)) = err.next_line().await {
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let remote = Remote {
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap(),
        base,
    };
    let g = grant_with(&remote, &key, &[]).await;
    let r = token(
        &remote,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &g.client_id),
            ("refresh_token", &g.refresh),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let access2 = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh2 = r.body["refresh_token"].as_str().unwrap().to_owned();
    let called = mcp_post(&remote, Some(&access2), &tool_call("list_profiles"), None).await;
    assert_eq!(called.status(), 200);
    let r = token(
        &remote,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &g.client_id),
            ("code", &g.code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"v".repeat(43)),
        ],
    )
    .await;
    assert_eq!(r.body["error"], "invalid_grant", "a replayed code");

    child.kill().await.unwrap();
    let logs = tokio::time::timeout(std::time::Duration::from_secs(30), logs)
        .await
        .unwrap()
        .unwrap();
    assert!(
        logs.contains("MCP tokens issued"),
        "the flow was logged at all"
    );
    assert!(
        logs.contains("authorization code replayed"),
        "the replay was logged"
    );
    let mut raw = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("plugboard.db")
        {
            raw.extend(std::fs::read(&path).unwrap());
        }
    }
    let raw = String::from_utf8_lossy(&raw);
    assert!(
        raw.contains(&g.client_id),
        "sanity: the client is in the database"
    );
    for secret in [&key, &g.code, &g.access, &g.refresh, &access2, &refresh2] {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the logs: {secret}"
        );
        assert!(
            !raw.contains(secret.as_str()),
            "a secret is stored in plaintext: {secret}"
        );
    }
}
