//! The Meta login on the WhatsApp fake: Facebook's dialog and token endpoint at the
//! rebased Facebook paths, the WABA an approval makes, and what the login's user token
//! reaches. Every test uses its own user names (and apps where knobs are set).

use actix_web::dev::Service;
use actix_web::http::StatusCode;
use actix_web::test;
use serde_json::{Value, json};
use url::Url;

use super::{Resp, V, app, call, get, graph_error, traced, waba};
use crate::state::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};

const REDIRECT: &str = "https://app.example/connect/whatsapp/callback";
const SCOPES: &str = "whatsapp_business_management,whatsapp_business_messaging,business_management";
const APP_TOKEN: &str = "plugboard-sandbox|plugboard-sandbox-secret";

fn encode(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn authorize_query(client_id: &str, scope: &str) -> String {
    encode(&[
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("state", "st-wa"),
        ("scope", scope),
    ])
}

/// The value of `attr` on the first tag that contains `marker`, unescaped.
fn attr(html: &str, marker: &str, attr: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    let tag = &html[html[..at].rfind('<').unwrap()..at + html[at..].find('>').unwrap()];
    let key = format!("{attr}=\"");
    let v = tag.find(&key).unwrap() + key.len();
    tag[v..v + tag[v..].find('"').unwrap()]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Opens the dialog and answers its form like a script: `(page HTML, the answer)`.
async fn consent<S>(
    app: &S,
    client_id: &str,
    scope: &str,
    username: &str,
    decision: &str,
    destinations: Option<&str>,
) -> (String, Resp)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let uri = format!("{V}/dialog/oauth?{}", authorize_query(client_id, scope));
    let page = test::call_service(app, test::TestRequest::get().uri(&uri).to_request()).await;
    assert_eq!(page.status(), StatusCode::OK, "{uri}");
    let html = String::from_utf8(test::read_body(page).await.to_vec()).unwrap();
    let action = attr(&html, "method=\"post\"", "action");
    let request = attr(&html, "name=\"_request\"", "value");
    let mut form = vec![
        ("_request", request.as_str()),
        ("username", username),
        ("decision", decision),
    ];
    if let Some(n) = destinations {
        form.push(("destinations", n));
    }
    let req = test::TestRequest::post()
        .uri(&action)
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(encode(&form))
        .to_request();
    (html, test::call_service(app, req).await)
}

fn location(resp: &Resp) -> Url {
    assert_eq!(resp.status(), StatusCode::FOUND, "expected a redirect");
    Url::parse(resp.headers().get("Location").unwrap().to_str().unwrap()).unwrap()
}

fn param(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Code exchange then the long-lived swap, both as Graph GETs: the long-lived user token.
async fn exchange<S>(app: &S, client_id: &str, secret: &str, code: &str) -> String
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let q = encode(&[
        ("client_id", client_id),
        ("client_secret", secret),
        ("redirect_uri", REDIRECT),
        ("code", code),
    ]);
    let (status, short) = get(app, &format!("/oauth/access_token?{q}"), None).await;
    assert_eq!(status, StatusCode::OK, "{short}");
    let q = encode(&[
        ("grant_type", "fb_exchange_token"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("fb_exchange_token", short["access_token"].as_str().unwrap()),
    ]);
    let (status, long) = get(app, &format!("/oauth/access_token?{q}"), None).await;
    assert_eq!(status, StatusCode::OK, "{long}");
    long["access_token"].as_str().unwrap().to_owned()
}

/// A whole login of `username` with the default app: the long-lived user token.
async fn login<S>(app: &S, username: &str, destinations: &str) -> String
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    login_with(
        app,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        SCOPES,
        username,
        destinations,
    )
    .await
}

async fn login_with<S>(
    app: &S,
    client_id: &str,
    secret: &str,
    scope: &str,
    username: &str,
    destinations: &str,
) -> String
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let (_, resp) = consent(
        app,
        client_id,
        scope,
        username,
        "approve",
        Some(destinations),
    )
    .await;
    let code = param(&location(&resp), "code").expect("a code");
    exchange(app, client_id, secret, &code).await
}

async fn debug_token<S>(app: &S, app_token: &str, input: &str) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let q = encode(&[("input_token", input), ("access_token", app_token)]);
    get(app, &format!("/debug_token?{q}"), None).await
}

/// The WABA a login token was granted, as `debug_token` names it.
async fn granted_waba<S>(app: &S, token: &str) -> String
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let (status, v) = debug_token(app, APP_TOKEN, token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["data"]["granular_scopes"][0]["target_ids"][0]
        .as_str()
        .unwrap_or_else(|| panic!("no WABA granted: {v}"))
        .to_owned()
}

/// `(id, display number)` of every number the token lists in its WABA.
async fn numbers<S>(app: &S, token: &str, waba_id: &str) -> Vec<(String, String)>
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let (status, v) = get(
        app,
        &format!("/{waba_id}/phone_numbers?fields=id,display_phone_number"),
        Some(token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_owned(),
                n["display_phone_number"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn register_app<S>(app: &S, client_id: &str)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let req = test::TestRequest::post()
        .uri("/sandbox/_clients")
        .set_json(json!({"platform": "whatsapp", "clientId": client_id,
            "clientSecret": format!("{client_id}-secret"), "redirectUris": [REDIRECT]}))
        .to_request();
    let (status, v) = call(app, req).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
}

async fn sandbox_admin<S>(app: &S, path: &str, body: Value) -> Value
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let req = test::TestRequest::post()
        .uri(&format!("/sandbox/{path}"))
        .set_json(body)
        .to_request();
    let (status, v) = call(app, req).await;
    assert_eq!(status, StatusCode::OK, "{path}: {v}");
    v
}

#[actix_web::test]
async fn the_dialog_at_the_facebook_path_asks_how_many_numbers_and_redirects_with_a_code() {
    let app = app().await;
    let (html, resp) = consent(
        &app,
        DEFAULT_CLIENT_ID,
        SCOPES,
        "wa_dialog",
        "approve",
        None,
    )
    .await;
    assert!(html.contains("WhatsApp (Facebook Login) (fake)"), "{html}");
    assert!(html.contains("How many WhatsApp phone numbers"), "{html}");
    assert_eq!(attr(&html, "name=\"destinations\"", "value"), "2");
    assert_eq!(
        attr(&html, "method=\"post\"", "action"),
        "/sandbox/whatsapp/v24.0/dialog/oauth"
    );
    for scope in SCOPES.split(',') {
        assert!(html.contains(&format!("<code>{scope}</code>")), "{scope}");
    }
    let loc = location(&resp);
    assert!(
        loc.as_str().starts_with(&format!("{REDIRECT}?code=")),
        "{loc}"
    );
    assert_eq!(param(&loc, "state").as_deref(), Some("st-wa"));
    assert_eq!(loc.fragment(), Some("_=_"), "Meta's redirect fragment");

    let (_, denied) = consent(&app, DEFAULT_CLIENT_ID, SCOPES, "wa_dialog", "deny", None).await;
    let loc = location(&denied);
    assert_eq!(param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&loc, "error_reason").as_deref(), Some("user_denied"));
    assert_eq!(param(&loc, "code"), None);

    let bad = format!(
        "{V}/dialog/oauth?{}",
        authorize_query(
            DEFAULT_CLIENT_ID,
            "whatsapp_business_management,pages_manage_posts"
        )
    );
    let resp = test::call_service(&app, test::TestRequest::get().uri(&bad).to_request()).await;
    let loc = location(&resp);
    assert_eq!(
        param(&loc, "error").as_deref(),
        Some("invalid_scope"),
        "{loc}"
    );
}

#[actix_web::test]
async fn the_token_endpoint_exchanges_the_code_and_swaps_it_for_a_long_lived_token() {
    let app = app().await;
    let (_, resp) = consent(
        &app,
        DEFAULT_CLIENT_ID,
        SCOPES,
        "wa_tokens",
        "approve",
        None,
    )
    .await;
    let code = param(&location(&resp), "code").unwrap();
    let q = encode(&[
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_CLIENT_SECRET),
        ("redirect_uri", REDIRECT),
        ("code", &code),
    ]);
    let (status, short) = get(&app, &format!("/oauth/access_token?{q}"), None).await;
    assert_eq!(status, StatusCode::OK, "{short}");
    let short_token = short["access_token"].as_str().unwrap().to_owned();
    assert!(short_token.starts_with("sbx-whatsapp-at-"), "{short}");
    assert_eq!(
        short,
        json!({"access_token": short_token, "token_type": "bearer", "expires_in": 5400})
    );
    let (status, replay) = get(&app, &format!("/oauth/access_token?{q}"), None).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a code works once: {replay}"
    );
    assert_eq!(replay["error"]["type"], "OAuthException");

    let q = encode(&[
        ("grant_type", "fb_exchange_token"),
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_CLIENT_SECRET),
        ("fb_exchange_token", "sbx-whatsapp-at-nosuchtoken"),
    ]);
    let (status, _) = get(&app, &format!("/oauth/access_token?{q}"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an unknown short token");

    let token = login(&app, "wa_tokens_long", "1").await;
    let (status, me) = get(&app, "/me?fields=id,name,picture", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["name"], "wa_tokens_long (sandbox)");
    assert!(me["picture"]["data"]["url"].is_string(), "{me}");
    assert!(me.get("email").is_none(), "fields filter the answer: {me}");
    let id = me["id"].as_str().unwrap();
    assert!(id.len() == 15 && id.starts_with("100"), "{id}");
}

#[actix_web::test]
async fn approving_gives_the_user_a_waba_that_the_login_token_reads() {
    let app = app().await;
    let token = login(&app, "wa_reader", "3").await;
    let waba_id = granted_waba(&app, &token).await;

    let (status, v) = get(&app, &format!("/{waba_id}?fields=id,name"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!({"id": waba_id, "name": "WABA of wa_reader (sandbox)"})
    );
    let listed = numbers(&app, &token, &waba_id).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    let (status, one) = get(&app, &format!("/{}", listed[2].0), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["display_phone_number"], listed[2].1);
    assert_eq!(
        one["verified_name"],
        "Sandbox Number 3 of WABA of wa_reader (sandbox)"
    );

    // The admin API sees it like any WABA.
    let (status, shown) = call(
        &app,
        test::TestRequest::get()
            .uri(&format!("/sandbox/whatsapp/_wabas/{waba_id}"))
            .to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["phoneNumbers"].as_array().unwrap().len(), 3);

    // The token reaches this WABA only; a system user's token does not reach it.
    let (other, other_token, other_numbers) = waba(&app, json!({})).await;
    for path in [
        format!("/{other}"),
        format!("/{other}/phone_numbers"),
        format!("/{}", other_numbers[0]),
    ] {
        let (status, v) = get(&app, &path, Some(&token)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(
            traced(v),
            graph_error("(#200) Permissions error", "OAuthException", 200)
        );
    }
    let (status, _) = get(
        &app,
        &format!("/{waba_id}/phone_numbers"),
        Some(&other_token),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn debug_token_with_the_app_token_names_the_logins_waba_for_both_whatsapp_scopes() {
    let app = app().await;
    let token = login(&app, "wa_debug", "2").await;
    let waba_id = granted_waba(&app, &token).await;
    let (_, me) = get(&app, "/me", Some(&token)).await;
    let (status, v) = debug_token(&app, APP_TOKEN, &token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let data = &v["data"];
    assert!(data["expires_at"].as_i64().is_some_and(|t| t > 0), "{v}");
    assert!(
        data["data_access_expires_at"]
            .as_i64()
            .is_some_and(|t| t > 0),
        "{v}"
    );
    assert_eq!(
        v,
        json!({"data": {
            "app_id": DEFAULT_CLIENT_ID, "type": "USER", "application": "Plugboard sandbox",
            "data_access_expires_at": data["data_access_expires_at"],
            "expires_at": data["expires_at"], "is_valid": true,
            "scopes": SCOPES.split(',').collect::<Vec<_>>(),
            "granular_scopes": [
                {"scope": "whatsapp_business_management", "target_ids": [waba_id]},
                {"scope": "whatsapp_business_messaging", "target_ids": [waba_id]},
            ],
            "user_id": me["id"],
        }})
    );

    // The app token also inspects the credentials world's system-user tokens.
    let (system_waba, system_token, _) = waba(&app, json!({})).await;
    let (status, v) = debug_token(&app, APP_TOKEN, &system_token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["type"], "SYSTEM_USER");
    assert_eq!(
        v["data"]["granular_scopes"][0]["target_ids"],
        json!([system_waba])
    );

    let (_, v) = debug_token(&app, APP_TOKEN, "sbx-whatsapp-at-nosuchtoken").await;
    assert_eq!(
        v,
        json!({"data": {"error": {"code": 190, "message": "Invalid OAuth access token."},
            "is_valid": false, "scopes": []}})
    );
}

#[actix_web::test]
async fn debug_token_takes_a_registered_apps_token_and_refuses_a_wrong_secret() {
    let app = app().await;
    register_app(&app, "wa-debug-app").await;
    let token = login_with(
        &app,
        "wa-debug-app",
        "wa-debug-app-secret",
        SCOPES,
        "wa_own_app",
        "1",
    )
    .await;
    let (status, v) = debug_token(&app, "wa-debug-app|wa-debug-app-secret", &token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["app_id"], "wa-debug-app");
    assert_eq!(v["data"]["is_valid"], true);

    for app_token in [
        "wa-debug-app|not-the-secret",
        "wa-debug-app|",
        "no-such-app|wa-debug-app-secret",
    ] {
        let (status, v) = debug_token(&app, app_token, &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{app_token}");
        assert_eq!(
            traced(v),
            graph_error("Error validating client secret.", "OAuthException", 1),
            "{app_token}"
        );
    }
}

#[actix_web::test]
async fn the_same_user_finds_the_same_waba_and_numbers_on_every_login() {
    let app = app().await;
    let first = login(&app, "wa_again", "3").await;
    let waba_id = granted_waba(&app, &first).await;
    let three = numbers(&app, &first, &waba_id).await;

    let second = login(&app, "wa_again", "3").await;
    assert_ne!(first, second);
    assert_eq!(granted_waba(&app, &second).await, waba_id);
    assert_eq!(numbers(&app, &second, &waba_id).await, three);

    let fewer = login(&app, "wa_again", "1").await;
    assert_eq!(numbers(&app, &fewer, &waba_id).await, three[..1].to_vec());
    let (status, _) = get(&app, &format!("/{}", three[2].0), Some(&fewer)).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a number taken away is gone"
    );

    let more = login(&app, "wa_again", "4").await;
    let four = numbers(&app, &more, &waba_id).await;
    assert_eq!(
        four[..3].to_vec(),
        three,
        "the numbers taken away come back the same"
    );
    assert_eq!(four.len(), 4);

    register_app(&app, "wa-again-app").await;
    let elsewhere = login_with(
        &app,
        "wa-again-app",
        "wa-again-app-secret",
        SCOPES,
        "wa_again",
        "3",
    )
    .await;
    let (status, v) = debug_token(&app, "wa-again-app|wa-again-app-secret", &elsewhere).await;
    assert_eq!(status, StatusCode::OK);
    let other_waba = v["data"]["granular_scopes"][0]["target_ids"][0]
        .as_str()
        .unwrap();
    assert_ne!(other_waba, waba_id, "another app's login is another WABA");

    let none = login(&app, "wa_no_numbers", "0").await;
    let empty_waba = granted_waba(&app, &none).await;
    let (status, v) = get(&app, &format!("/{empty_waba}/phone_numbers"), Some(&none)).await;
    assert_eq!((status, v), (StatusCode::OK, json!({"data": []})));
}

#[actix_web::test]
async fn a_login_without_the_management_permission_is_granted_no_waba() {
    let app = app().await;
    let token = login_with(
        &app,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        "business_management,whatsapp_business_messaging",
        "wa_no_manage",
        "2",
    )
    .await;
    let (status, v) = debug_token(&app, APP_TOKEN, &token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["granular_scopes"], json!([]), "{v}");
    let waba_id = with_login_waba(DEFAULT_CLIENT_ID, "wa_no_manage");
    let (status, v) = get(&app, &format!("/{waba_id}/phone_numbers"), Some(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        traced(v),
        graph_error("(#200) Permissions error", "OAuthException", 200)
    );
}

fn with_login_waba(client_id: &str, username: &str) -> String {
    crate::whatsapp::world::with_world(|w| w.login_waba(client_id, username)).unwrap()
}

#[actix_web::test]
async fn the_generic_fault_knobs_apply_to_the_login() {
    let app = app().await;
    let client = "wa-faults-app";
    let secret = "wa-faults-app-secret";
    register_app(&app, client).await;
    let token = login_with(&app, client, secret, SCOPES, "wa_faulty", "2").await;
    let waba_id = granted_waba_of(&app, client, &token).await;
    let knobs = |extra: Value| {
        let mut body = json!({"platform": "whatsapp", "clientId": client});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let app_token = format!("{client}|{secret}");

    sandbox_admin(&app, "_faults", knobs(json!({"token": "fail"}))).await;
    let (_, resp) = consent(&app, client, SCOPES, "wa_faulty", "approve", None).await;
    let code = param(&location(&resp), "code").unwrap();
    let q = encode(&[
        ("client_id", client),
        ("client_secret", secret),
        ("redirect_uri", REDIRECT),
        ("code", &code),
    ]);
    let (status, v) = get(&app, &format!("/oauth/access_token?{q}"), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(v["error"]["code"].is_number(), "Graph's shape: {v}");

    sandbox_admin(&app, "_faults", knobs(json!({"destinations": "empty"}))).await;
    assert_eq!(numbers(&app, &token, &waba_id).await, vec![]);

    sandbox_admin(&app, "_faults", knobs(json!({"destinations": "fail"}))).await;
    let (status, _) = get(&app, &format!("/{waba_id}/phone_numbers"), Some(&token)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, _) = debug_token(&app, &app_token, &token).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);

    sandbox_admin(&app, "_faults", knobs(json!({"identity": "unauthorized"}))).await;
    for path in [
        "/me".to_owned(),
        format!("/{waba_id}"),
        format!("/{waba_id}/phone_numbers"),
    ] {
        let (status, v) = get(&app, &path, Some(&token)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(v["error"]["code"], 190, "{path}: {v}");
    }
    let (_, v) = debug_token(&app, &app_token, &token).await;
    assert_eq!(v["data"]["is_valid"], false, "{v}");

    sandbox_admin(&app, "_faults", knobs(json!({}))).await;
    assert_eq!(numbers(&app, &token, &waba_id).await.len(), 2);
}

async fn granted_waba_of<S>(app: &S, client: &str, token: &str) -> String
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let (status, v) = debug_token(app, &format!("{client}|{client}-secret"), token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["data"]["granular_scopes"][0]["target_ids"][0]
        .as_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn revoking_the_fake_user_kills_the_login_tokens_but_not_the_waba() {
    let app = app().await;
    let token = login(&app, "wa_revoked", "1").await;
    let waba_id = granted_waba(&app, &token).await;
    let v = sandbox_admin(
        &app,
        "_revoke",
        json!({"platform": "whatsapp", "username": "wa_revoked"}),
    )
    .await;
    assert!(v["revoked"].as_u64().is_some_and(|n| n >= 1), "{v}");
    let (_, v) = debug_token(&app, APP_TOKEN, &token).await;
    assert_eq!(v["data"]["is_valid"], false, "{v}");
    let (status, v) = get(&app, &format!("/{waba_id}/phone_numbers"), Some(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], 190, "{v}");

    let again = login(&app, "wa_revoked", "1").await;
    assert_eq!(granted_waba(&app, &again).await, waba_id);
}

#[actix_web::test]
async fn the_credentials_world_is_untouched_by_the_login_paths() {
    let app = app().await;
    let (waba_id, token, _) = waba(&app, json!({"name": "Untouched"})).await;
    let (status, v) = get(&app, "/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "Sandbox system user");
    let (status, v) = get(&app, &format!("/{waba_id}?fields=name"), Some(&token)).await;
    assert_eq!(
        (status, v),
        (StatusCode::OK, json!({"id": waba_id, "name": "Untouched"}))
    );
    // A Graph path that is neither the login's nor the WABA's is still Graph's unknown path.
    let (status, v) = get(&app, "/dialog/other", Some(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], 2500, "{v}");
    let (status, v) = call(
        &app,
        test::TestRequest::get()
            .uri("/sandbox/whatsapp/me")
            .to_request(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unversioned /me without a login token: {v}"
    );
    assert_eq!(v["error"]["code"], 2500, "{v}");
}

// `test` is actix-web's module here, so the attribute is spelled out.
#[core::prelude::v1::test]
fn the_login_row_is_facebooks_and_is_found_by_its_slug() {
    let row = crate::table::find("whatsapp").unwrap();
    let facebook = crate::table::find("facebook").unwrap();
    assert!(std::ptr::eq(row, &crate::table::WHATSAPP_LOGIN));
    assert_eq!(row.authorize_path, facebook.authorize_path);
    assert_eq!(row.token_path, facebook.token_path);
    assert_eq!(row.renewal, facebook.renewal);
    assert_eq!(row.token_shape, facebook.token_shape);
    assert_eq!(row.denial, facebook.denial);
    assert!(
        !crate::table::FAKES.iter().any(|f| f.slug == "whatsapp"),
        "the generic route never serves it: the WhatsApp fake does"
    );
    assert_eq!(crate::platforms().filter(|p| *p == "whatsapp").count(), 1);
}
