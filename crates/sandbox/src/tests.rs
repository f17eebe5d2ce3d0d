//! The fakes driven over HTTP the way a browser and a connector drive them. State is
//! process-wide, so every test uses its own client ids and usernames.

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use crate::configure;
use crate::table::{ClientAuth, FAKES, Fake, PkceRule, Renewal, find};

mod destinations;
mod quota;

const REDIRECT: &str = "https://app.example/callback/x?keep=1";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

type Resp = ServiceResponse;

async fn app() -> impl Service<actix_http::Request, Response = Resp, Error = actix_web::Error> {
    test::init_service(App::new().service(web::scope("/sandbox").configure(configure))).await
}

fn versioned(path: &str, fake: &Fake) -> String {
    let v = if fake.slug == "threads" {
        "v1.0"
    } else {
        "v24.0"
    };
    path.replace("{version}", v)
}

fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()))
}

fn scopes(fake: &Fake) -> String {
    let list: Vec<&str> = match fake.slug {
        "youtube" => vec!["https://www.googleapis.com/auth/youtube.readonly"],
        "googlebusiness" => vec!["https://www.googleapis.com/auth/business.manage", "openid"],
        "twitter" => vec!["tweet.read", "users.read", "offline.access"],
        _ => fake.scopes.iter().take(2).copied().collect(),
    };
    list.join(&fake.scope_split[0].to_string())
}

/// The query a connector would build for this platform.
fn authorize_query(fake: &Fake, client_id: &str, state: &str) -> Vec<(String, String)> {
    let mut q = vec![
        (fake.client_id_param.to_owned(), client_id.to_owned()),
        ("redirect_uri".to_owned(), REDIRECT.to_owned()),
        ("response_type".to_owned(), "code".to_owned()),
        ("state".to_owned(), state.to_owned()),
        ("scope".to_owned(), scopes(fake)),
    ];
    if matches!(fake.pkce, PkceRule::Required | PkceRule::Optional) {
        q.push(("code_challenge".into(), challenge()));
        q.push(("code_challenge_method".into(), "S256".into()));
    }
    match fake.slug {
        "reddit" => q.push(("duration".into(), "permanent".into())),
        "youtube" | "googlebusiness" => q.push(("access_type".into(), "offline".into())),
        _ => {}
    }
    q
}

fn encode(pairs: &[(String, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn authorize_uri(fake: &Fake, query: &[(String, String)]) -> String {
    format!(
        "/sandbox/{}{}?{}",
        fake.slug,
        versioned(fake.authorize_path, fake),
        encode(query)
    )
}

async fn register<S>(app: &S, fake: &Fake, client_id: &str)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let req = test::TestRequest::post()
        .uri("/sandbox/_clients")
        .set_json(json!({"platform": fake.slug, "clientId": client_id, "clientSecret": secret(client_id), "redirectUris": [REDIRECT]}))
        .to_request();
    assert_eq!(
        test::call_service(app, req).await.status(),
        StatusCode::CREATED
    );
}

fn secret(client_id: &str) -> String {
    format!("{client_id}-secret")
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of `attr` on the first tag that contains `marker`.
fn attr_after(html: &str, marker: &str, attr: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    let tag_start = html[..at].rfind('<').unwrap();
    let tag_end = at + html[at..].find('>').unwrap();
    let tag = &html[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let v = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {attr} in {tag}"))
        + key.len();
    unescape(&tag[v..v + tag[v..].find('"').unwrap()])
}

/// Loads the consent page and submits its form as a browser without JavaScript would:
/// the form's action, its hidden fields, the username field and the chosen button.
async fn submit_consent<S>(app: &S, uri: &str, username: &str, decision: &str) -> Resp
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    submit_consent_with(app, uri, username, decision, &[]).await
}

/// [`submit_consent`] with more form fields (`destinations`).
async fn submit_consent_with<S>(
    app: &S,
    uri: &str,
    username: &str,
    decision: &str,
    extra: &[(&str, &str)],
) -> Resp
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let page = test::call_service(app, test::TestRequest::get().uri(uri).to_request()).await;
    assert_eq!(page.status(), StatusCode::OK, "consent page for {uri}");
    let html = String::from_utf8(test::read_body(page).await.to_vec()).unwrap();
    assert!(
        html.contains("Plugboard sandbox —") && html.contains("(fake)"),
        "{html}"
    );
    assert!(
        !html.contains("<script"),
        "the consent page needs no JavaScript"
    );
    let action = attr_after(&html, "method=\"post\"", "action");
    let hidden = attr_after(&html, "name=\"_request\"", "value");
    assert!(html.contains(&format!("value=\"{decision}\"")));
    let mut fields = vec![
        ("_request".to_owned(), hidden),
        ("username".to_owned(), username.to_owned()),
        ("decision".to_owned(), decision.to_owned()),
    ];
    fields.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let form = encode(&fields);
    let req = test::TestRequest::post()
        .uri(&action)
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(form)
        .to_request();
    test::call_service(app, req).await
}

fn location(resp: &Resp) -> Url {
    assert_eq!(resp.status(), StatusCode::FOUND, "expected a redirect");
    let loc = resp.headers().get("Location").unwrap().to_str().unwrap();
    Url::parse(loc).unwrap()
}

fn query_of(url: &Url) -> Vec<(String, String)> {
    url.query_pairs().into_owned().collect()
}

fn param(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

async fn approve<S>(app: &S, fake: &Fake, client_id: &str, username: &str) -> String
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let uri = authorize_uri(fake, &authorize_query(fake, client_id, "st-1"));
    let resp = submit_consent(app, &uri, username, "approve").await;
    let loc = location(&resp);
    assert!(
        loc.as_str()
            .starts_with("https://app.example/callback/x?keep=1&"),
        "{loc}"
    );
    assert_eq!(param(&loc, "state").as_deref(), Some("st-1"));
    param(&loc, "code").expect("a code")
}

/// A token request authenticated as the platform requires.
fn token_request(
    fake: &Fake,
    client_id: &str,
    client_secret: &str,
    mut form: Vec<(String, String)>,
) -> actix_http::Request {
    let mut req = test::TestRequest::post()
        .uri(&format!(
            "/sandbox/{}{}",
            fake.slug,
            versioned(fake.token_path, fake)
        ))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"));
    match fake.client_auth {
        ClientAuth::Basic => {
            let basic = STANDARD.encode(format!("{client_id}:{client_secret}"));
            req = req.insert_header(("Authorization", format!("Basic {basic}")));
        }
        ClientAuth::Body | ClientAuth::Either => {
            form.push((fake.client_id_param.into(), client_id.into()));
            form.push(("client_secret".into(), client_secret.into()));
        }
    }
    req.set_payload(encode(&form)).to_request()
}

fn code_form(fake: &Fake, code: &str, verifier: Option<&str>) -> Vec<(String, String)> {
    let mut form = vec![
        ("grant_type".to_owned(), "authorization_code".to_owned()),
        ("code".to_owned(), code.to_owned()),
        ("redirect_uri".to_owned(), REDIRECT.to_owned()),
    ];
    if let (Some(v), PkceRule::Required | PkceRule::Optional) = (verifier, fake.pkce) {
        form.push(("code_verifier".into(), v.into()));
    }
    form
}

async fn call_json<S>(app: &S, req: actix_http::Request) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let resp = test::call_service(app, req).await;
    let status = resp.status();
    let body = test::read_body(resp).await;
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| json!({"unparsed": String::from_utf8_lossy(&body)}));
    (status, value)
}

async fn exchange<S>(app: &S, fake: &Fake, client_id: &str, code: &str) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let req = token_request(
        fake,
        client_id,
        &secret(client_id),
        code_form(fake, code, Some(VERIFIER)),
    );
    call_json(app, req).await
}

fn identity_uri(fake: &Fake) -> String {
    let query = match fake.slug {
        "twitter" => "?user.fields=profile_image_url",
        "instagram" | "threads" => "?fields=id,username,name",
        "facebook" => "?fields=id,name,picture.type(large)",
        "tiktok" => "?fields=open_id,username,display_name,avatar_url",
        "youtube" => "?part=snippet,statistics&mine=true",
        _ => "",
    };
    format!(
        "/sandbox/{}{}{query}",
        fake.slug,
        versioned(fake.identity_paths[0], fake)
    )
}

async fn whoami<S>(app: &S, fake: &Fake, access: &str) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let req = test::TestRequest::get()
        .uri(&identity_uri(fake))
        .insert_header(("Authorization", format!("Bearer {access}")))
        .to_request();
    call_json(app, req).await
}

/// (pointer to the platform user id, pointer to something carrying the username).
fn identity_pointers(slug: &str) -> (&'static str, &'static str) {
    match slug {
        "twitter" => ("/data/id", "/data/username"),
        "linkedin" => ("/sub", "/given_name"),
        "tiktok" => ("/data/user/open_id", "/data/user/username"),
        "youtube" => ("/items/0/id", "/items/0/snippet/customUrl"),
        "googlebusiness" => ("/sub", "/given_name"),
        "reddit" => ("/id", "/name"),
        "snapchat" => ("/me/id", "/me/display_name"),
        "facebook" => ("/id", "/name"),
        _ => ("/id", "/username"),
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
}

/// Renews the access token the platform's way; returns the new access token.
async fn renew<S>(app: &S, fake: &Fake, client_id: &str, tokens: &Value) -> String
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let sec = secret(client_id);
    match fake.renewal {
        Renewal::Grant { rotates, .. } => {
            let rt = str_at(tokens, "/refresh_token").to_owned();
            let form = vec![
                ("grant_type".to_owned(), "refresh_token".to_owned()),
                ("refresh_token".to_owned(), rt.clone()),
            ];
            let (status, body) =
                call_json(app, token_request(fake, client_id, &sec, form.clone())).await;
            assert_eq!(status, StatusCode::OK, "{}: refresh {body}", fake.slug);
            let again = call_json(app, token_request(fake, client_id, &sec, form)).await;
            if rotates {
                assert!(
                    again.0.is_client_error(),
                    "{}: a rotated refresh token is dead: {:?}",
                    fake.slug,
                    again
                );
                assert_ne!(str_at(&body, "/refresh_token"), rt);
            } else {
                assert_eq!(
                    again.0,
                    StatusCode::OK,
                    "{}: a non-rotating refresh token lives on",
                    fake.slug
                );
            }
            str_at(&body, "/access_token").to_owned()
        }
        Renewal::LongLived {
            exchange_path,
            exchange_grant,
            token_param,
            needs_client_id,
            extend,
            long_lifetime,
        } => {
            let short = str_at(tokens, "/access_token");
            let mut q = vec![
                ("grant_type".to_owned(), exchange_grant.to_owned()),
                ("client_secret".to_owned(), sec.clone()),
                (token_param.to_owned(), short.to_owned()),
            ];
            if needs_client_id {
                q.push(("client_id".into(), client_id.into()));
            }
            let uri = format!(
                "/sandbox/{}{}?{}",
                fake.slug,
                versioned(exchange_path, fake),
                encode(&q)
            );
            let (status, body) =
                call_json(app, test::TestRequest::get().uri(&uri).to_request()).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{}: long-lived exchange {body}",
                fake.slug
            );
            assert_eq!(body["expires_in"], json!(long_lifetime));
            assert_eq!(body["token_type"], json!("bearer"));
            let long = str_at(&body, "/access_token").to_owned();
            let Some((path, grant)) = extend else {
                return long;
            };
            let q = encode(&[
                ("grant_type".into(), grant.into()),
                ("access_token".into(), long),
            ]);
            let uri = format!("/sandbox/{}{path}?{q}", fake.slug);
            let (status, body) =
                call_json(app, test::TestRequest::get().uri(&uri).to_request()).await;
            assert_eq!(status, StatusCode::OK, "{}: extension {body}", fake.slug);
            str_at(&body, "/access_token").to_owned()
        }
    }
}

#[actix_web::test]
async fn every_platform_completes_authorize_approve_token_identity_and_refresh() {
    let app = app().await;
    assert_eq!(FAKES.len(), 11);
    for fake in FAKES {
        let client = format!("walk-{}", fake.slug);
        register(&app, fake, &client).await;
        let code = approve(&app, fake, &client, "walker").await;
        let (status, tokens) = exchange(&app, fake, &client, &code).await;
        assert_eq!(status, StatusCode::OK, "{}: token {tokens}", fake.slug);
        assert!(str_at(&tokens, "/access_token").starts_with("sbx-"));

        let (status, me) = whoami(&app, fake, str_at(&tokens, "/access_token")).await;
        assert_eq!(status, StatusCode::OK, "{}: identity {me}", fake.slug);
        let (id_ptr, name_ptr) = identity_pointers(fake.slug);
        let id = str_at(&me, id_ptr).to_owned();
        assert!(
            str_at(&me, name_ptr).contains("walker"),
            "{}: {me}",
            fake.slug
        );

        let renewed = renew(&app, fake, &client, &tokens).await;
        let (status, me_again) = whoami(&app, fake, &renewed).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{}: identity after renewal",
            fake.slug
        );
        assert_eq!(
            str_at(&me_again, id_ptr),
            id,
            "{}: same user after renewal",
            fake.slug
        );

        // Reconnecting the same username is the same platform user; another name is not.
        let code = approve(&app, fake, &client, "walker").await;
        let (_, tokens) = exchange(&app, fake, &client, &code).await;
        let (_, me_again) = whoami(&app, fake, str_at(&tokens, "/access_token")).await;
        assert_eq!(str_at(&me_again, id_ptr), id, "{}: stable id", fake.slug);
        let code = approve(&app, fake, &client, "someone_else").await;
        let (_, tokens) = exchange(&app, fake, &client, &code).await;
        let (_, other) = whoami(&app, fake, str_at(&tokens, "/access_token")).await;
        assert_ne!(str_at(&other, id_ptr), id, "{}: distinct users", fake.slug);
    }
}

#[actix_web::test]
async fn token_responses_have_each_platforms_shape() {
    let app = app().await;
    let expect: &[(&str, &[&str])] = &[
        (
            "twitter",
            &[
                "token_type",
                "expires_in",
                "access_token",
                "scope",
                "refresh_token",
            ],
        ),
        ("instagram", &["access_token", "user_id", "permissions"]),
        ("facebook", &["access_token", "token_type", "expires_in"]),
        (
            "linkedin",
            &[
                "access_token",
                "expires_in",
                "scope",
                "refresh_token",
                "refresh_token_expires_in",
            ],
        ),
        (
            "tiktok",
            &[
                "open_id",
                "scope",
                "access_token",
                "expires_in",
                "refresh_token",
                "refresh_expires_in",
                "token_type",
            ],
        ),
        (
            "youtube",
            &[
                "token_type",
                "expires_in",
                "access_token",
                "scope",
                "refresh_token",
            ],
        ),
        (
            "googlebusiness",
            &[
                "token_type",
                "expires_in",
                "access_token",
                "scope",
                "refresh_token",
            ],
        ),
        (
            "pinterest",
            &[
                "access_token",
                "token_type",
                "expires_in",
                "scope",
                "response_type",
                "refresh_token",
                "refresh_token_expires_in",
                "refresh_token_expires_at",
            ],
        ),
        (
            "reddit",
            &[
                "token_type",
                "expires_in",
                "access_token",
                "scope",
                "refresh_token",
            ],
        ),
        ("threads", &["access_token", "user_id"]),
        (
            "snapchat",
            &[
                "token_type",
                "expires_in",
                "access_token",
                "scope",
                "refresh_token",
            ],
        ),
    ];
    for (slug, keys) in expect {
        let fake = find(slug).unwrap();
        let client = format!("shape-{slug}");
        register(&app, fake, &client).await;
        let code = approve(&app, fake, &client, "shaper").await;
        let (status, body) = exchange(&app, fake, &client, &code).await;
        assert_eq!(status, StatusCode::OK, "{slug}");
        let mut got: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = keys.to_vec();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{slug}: {body}");
    }
    // Instagram's user_id is a JSON number beyond 2^53 (platforms.md §2a).
    let fake = find("instagram").unwrap();
    let code = approve(&app, fake, "shape-instagram", "shaper").await;
    let (_, body) = exchange(&app, fake, "shape-instagram", &code).await;
    assert!(body["user_id"].as_u64().unwrap() > 1 << 53);
}

#[actix_web::test]
async fn a_pkce_verifier_that_does_not_match_the_challenge_is_invalid_grant() {
    let app = app().await;
    let fake = find("youtube").unwrap();
    register(&app, fake, "pkce-mismatch").await;
    let code = approve(&app, fake, "pkce-mismatch", "pkce_user").await;
    let wrong = "x".repeat(43);
    let req = token_request(
        fake,
        "pkce-mismatch",
        &secret("pkce-mismatch"),
        code_form(fake, &code, Some(&wrong)),
    );
    let (status, body) = call_json(&app, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("invalid_grant"), "{body}");

    // X requires the verifier and reports a dead code as invalid_request (platforms.md §1).
    let x = find("twitter").unwrap();
    register(&app, x, "pkce-missing-x").await;
    let code = approve(&app, x, "pkce-missing-x", "pkce_user").await;
    let req = token_request(
        x,
        "pkce-missing-x",
        &secret("pkce-missing-x"),
        code_form(x, &code, None),
    );
    let (status, body) = call_json(&app, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("invalid_request"), "{body}");
}

#[actix_web::test]
async fn a_code_is_single_use_and_its_replay_revokes_the_tokens_it_gave() {
    let app = app().await;
    let fake = find("linkedin").unwrap();
    register(&app, fake, "reuse").await;
    let code = approve(&app, fake, "reuse", "reuser").await;
    let (status, tokens) = exchange(&app, fake, "reuse", &code).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = exchange(&app, fake, "reuse", &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("invalid_grant"), "{body}");
    let (status, body) = whoami(&app, fake, str_at(&tokens, "/access_token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401})
    );
}

#[actix_web::test]
async fn a_wrong_client_secret_is_refused_in_each_platforms_shape() {
    let app = app().await;
    // (platform, status, a JSON pointer and the value it must hold)
    let table: &[(&str, u16, &str, Value)] = &[
        ("twitter", 401, "/error", json!("invalid_client")),
        ("instagram", 400, "/error_type", json!("OAuthException")),
        ("facebook", 400, "/error/code", json!(1)),
        ("linkedin", 401, "/error", json!("invalid_client")),
        ("tiktok", 401, "/error", json!("invalid_client")),
        ("youtube", 401, "/error", json!("invalid_client")),
        ("googlebusiness", 401, "/error", json!("invalid_client")),
        ("pinterest", 401, "/code", json!(2)),
        ("reddit", 401, "/message", json!("Unauthorized")),
        ("threads", 400, "/error/type", json!("OAuthException")),
        ("snapchat", 401, "/error", json!("invalid_client")),
    ];
    assert_eq!(table.len(), FAKES.len());
    for (slug, status, pointer, value) in table {
        let fake = find(slug).unwrap();
        let client = format!("badsecret-{slug}");
        register(&app, fake, &client).await;
        let code = approve(&app, fake, &client, "secretive").await;
        let req = token_request(
            fake,
            &client,
            "not-the-secret",
            code_form(fake, &code, Some(VERIFIER)),
        );
        let (got, body) = call_json(&app, req).await;
        assert_eq!(got.as_u16(), *status, "{slug}: {body}");
        assert_eq!(body.pointer(pointer), Some(value), "{slug}: {body}");
    }
}

#[actix_web::test]
async fn x_refuses_a_client_secret_sent_in_the_body_instead_of_basic() {
    let app = app().await;
    let fake = find("twitter").unwrap();
    register(&app, fake, "x-body-secret").await;
    let code = approve(&app, fake, "x-body-secret", "x_user").await;
    let mut form = code_form(fake, &code, Some(VERIFIER));
    form.push(("client_id".into(), "x-body-secret".into()));
    form.push(("client_secret".into(), secret("x-body-secret")));
    let req = test::TestRequest::post()
        .uri("/sandbox/twitter/2/oauth2/token")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(encode(&form))
        .to_request();
    let (status, body) = call_json(&app, req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": "unauthorized_client", "error_description": "Missing valid authorization header"})
    );
}

#[actix_web::test]
async fn a_redirect_uri_that_is_not_registered_shows_an_error_page_and_never_redirects() {
    let app = app().await;
    for fake in FAKES {
        let client = format!("redirect-{}", fake.slug);
        register(&app, fake, &client).await;
        let mut q = authorize_query(fake, &client, "st");
        q[1].1 = "https://evil.example/steal".into();
        let resp = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&authorize_uri(fake, &q))
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{}", fake.slug);
        assert!(resp.headers().get("Location").is_none());
        let html = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
        assert!(
            html.contains("Plugboard sandbox") && html.contains("redirect_uri"),
            "{html}"
        );
    }
}

#[actix_web::test]
async fn a_token_request_with_another_redirect_uri_than_the_authorization_is_invalid_grant() {
    let app = app().await;
    let fake = find("snapchat").unwrap();
    register(&app, fake, "redirect-mismatch").await;
    let code = approve(&app, fake, "redirect-mismatch", "mover").await;
    let mut form = code_form(fake, &code, None);
    form[2].1 = "https://app.example/callback/other".into();
    let req = token_request(
        fake,
        "redirect-mismatch",
        &secret("redirect-mismatch"),
        form,
    );
    let (status, body) = call_json(&app, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("invalid_grant"), "{body}");
}

#[actix_web::test]
async fn an_unknown_client_id_shows_an_error_page_that_says_it_is_the_sandbox() {
    let app = app().await;
    let fake = find("pinterest").unwrap();
    let uri = authorize_uri(fake, &authorize_query(fake, "nobody-registered-this", "st"));
    let resp = test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let html = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    assert!(
        html.contains("Plugboard sandbox — Pinterest (fake)"),
        "{html}"
    );
    assert!(html.contains("Unknown client_id"), "{html}");
}

#[actix_web::test]
async fn invalid_requests_with_a_trusted_redirect_go_back_with_error_and_state() {
    let app = app().await;
    // (platform, how to spoil the request, expected error, why)
    type Spoil = fn(&mut Vec<(String, String)>);
    let rows: &[(&str, Spoil, &str, &str)] = &[
        (
            "twitter",
            |q| q.retain(|(k, _)| k != "code_challenge"),
            "invalid_request",
            "X requires PKCE",
        ),
        (
            "linkedin",
            |q| q.push(("code_challenge".into(), challenge())),
            "invalid_request",
            "LinkedIn rejects PKCE",
        ),
        (
            "tiktok",
            |q| q[2].1 = "token".into(),
            "unsupported_response_type",
            "only code is supported",
        ),
        (
            "reddit",
            |q| q.retain(|(k, _)| k != "duration"),
            "invalid_request",
            "Reddit requires duration",
        ),
        (
            "threads",
            |q| q[4].1 = "threads_basic,not_a_scope".into(),
            "invalid_scope",
            "unknown scopes are refused",
        ),
        (
            "snapchat",
            |q| q.push(("scope".into(), "snapchat-profile-api".into())),
            "invalid_request",
            "a repeated parameter",
        ),
    ];
    for (slug, spoil, error, why) in rows {
        let fake = find(slug).unwrap();
        let client = format!("invalid-{slug}");
        register(&app, fake, &client).await;
        let mut q = authorize_query(fake, &client, "keep-me");
        spoil(&mut q);
        let resp = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&authorize_uri(fake, &q))
                .to_request(),
        )
        .await;
        let loc = location(&resp);
        assert_eq!(
            param(&loc, "error").as_deref(),
            Some(*error),
            "{slug}: {why}: {loc}"
        );
        assert_eq!(
            param(&loc, "state").as_deref(),
            Some("keep-me"),
            "{slug}: {why}"
        );
    }
}

#[actix_web::test]
async fn deny_redirects_with_each_platforms_denial() {
    let app = app().await;
    for fake in FAKES {
        let client = format!("deny-{}", fake.slug);
        register(&app, fake, &client).await;
        let uri = authorize_uri(fake, &authorize_query(fake, &client, "st-deny"));
        let resp = submit_consent(&app, &uri, "denier", "deny").await;
        let loc = location(&resp);
        let mut want: Vec<(String, String)> = fake
            .denial
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        want.insert(0, ("keep".into(), "1".into()));
        want.push(("state".into(), "st-deny".into()));
        assert_eq!(query_of(&loc), want, "{}", fake.slug);
        assert!(param(&loc, "code").is_none());
        let expected_error = if fake.slug == "linkedin" {
            "user_cancelled_authorize"
        } else {
            "access_denied"
        };
        assert_eq!(
            param(&loc, "error").as_deref(),
            Some(expected_error),
            "{}",
            fake.slug
        );
    }
    // Meta's redirects carry its fragment.
    let fb = find("facebook").unwrap();
    let uri = authorize_uri(fb, &authorize_query(fb, "deny-facebook", "st"));
    let loc = location(&submit_consent(&app, &uri, "denier", "deny").await);
    assert_eq!(loc.fragment(), Some("_=_"));
}

#[actix_web::test]
async fn the_consent_form_refuses_an_invalid_username_and_shows_the_form_again() {
    let app = app().await;
    let fake = find("reddit").unwrap();
    register(&app, fake, "bad-username").await;
    let uri = authorize_uri(fake, &authorize_query(fake, "bad-username", "st"));
    let resp = submit_consent(&app, &uri, "<script>", "approve").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let html = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    assert!(
        html.contains("A fake user name is") && html.contains("&lt;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"));
}

#[actix_web::test]
async fn the_default_client_works_with_any_https_redirect() {
    let app = app().await;
    let fake = find("googlebusiness").unwrap();
    let mut q = authorize_query(fake, crate::DEFAULT_CLIENT_ID, "st");
    q[1].1 = "https://anything.example/cb".into();
    let loc =
        location(&submit_consent(&app, &authorize_uri(fake, &q), "default_user", "approve").await);
    let code = param(&loc, "code").unwrap();
    let mut form = code_form(fake, &code, Some(VERIFIER));
    form[2].1 = "https://anything.example/cb".into();
    let req = token_request(
        fake,
        crate::DEFAULT_CLIENT_ID,
        crate::DEFAULT_CLIENT_SECRET,
        form,
    );
    let (status, body) = call_json(&app, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[actix_web::test]
async fn identity_without_a_sandbox_token_is_refused_in_the_platforms_shape() {
    let app = app().await;
    let table: &[(&str, u16, Value)] = &[
        (
            "twitter",
            401,
            json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
        ),
        (
            "pinterest",
            401,
            json!({"code": 2, "message": "Authentication failed."}),
        ),
        (
            "reddit",
            401,
            json!({"message": "Unauthorized", "error": 401}),
        ),
        (
            "youtube",
            401,
            json!({"error": {"code": 401, "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", "status": "UNAUTHENTICATED"}}),
        ),
    ];
    for (slug, status, want) in table {
        let fake = find(slug).unwrap();
        let (got, body) = whoami(&app, fake, "sbx-not-a-token").await;
        assert_eq!(got.as_u16(), *status, "{slug}");
        assert_eq!(&body, want, "{slug}");
    }
    // Graph: HTTP 400, OAuthException 190 (platforms.md §3).
    let (got, body) = whoami(&app, find("facebook").unwrap(), "nope").await;
    assert_eq!(got, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], json!(190));
    // TikTok: the error object beside an empty data.
    let (got, body) = whoami(&app, find("tiktok").unwrap(), "nope").await;
    assert_eq!(got, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], json!("access_token_invalid"));
}

#[actix_web::test]
async fn identity_returns_only_the_requested_fields_where_the_platform_filters() {
    let app = app().await;
    let fake = find("twitter").unwrap();
    register(&app, fake, "fields-x").await;
    let code = approve(&app, fake, "fields-x", "fielder").await;
    let (_, tokens) = exchange(&app, fake, "fields-x", &code).await;
    let req = test::TestRequest::get()
        .uri("/sandbox/twitter/2/users/me")
        .insert_header((
            "Authorization",
            format!("Bearer {}", str_at(&tokens, "/access_token")),
        ))
        .to_request();
    let (_, body) = call_json(&app, req).await;
    let mut keys: Vec<&String> = body["data"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["id", "name", "username"]);
    let (_, body) = whoami(&app, fake, str_at(&tokens, "/access_token")).await;
    assert!(
        body["data"]["profile_image_url"]
            .as_str()
            .unwrap()
            .ends_with("/sandbox/_avatar/twitter/fielder.svg")
    );
}

async fn set_faults<S>(app: &S, body: Value)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let req = test::TestRequest::post()
        .uri("/sandbox/_faults")
        .set_json(body)
        .to_request();
    let (status, got) = call_json(app, req).await;
    assert_eq!(status, StatusCode::OK, "{got}");
}

#[actix_web::test]
async fn the_invalid_grant_knob_refuses_codes_and_refresh_tokens_until_cleared() {
    let app = app().await;
    let fake = find("pinterest").unwrap();
    register(&app, fake, "fault-grant").await;
    let code = approve(&app, fake, "fault-grant", "faulty").await;
    set_faults(
        &app,
        json!({"platform": "pinterest", "clientId": "fault-grant", "token": "invalid_grant"}),
    )
    .await;
    let (status, body) = exchange(&app, fake, "fault-grant", &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], json!(1), "{body}");
    set_faults(
        &app,
        json!({"platform": "pinterest", "clientId": "fault-grant"}),
    )
    .await;
    let code = approve(&app, fake, "fault-grant", "faulty").await;
    let (status, _) = exchange(&app, fake, "fault-grant", &code).await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn the_malformed_knob_answers_200_with_a_body_that_is_not_json() {
    let app = app().await;
    let fake = find("tiktok").unwrap();
    register(&app, fake, "fault-malformed").await;
    let code = approve(&app, fake, "fault-malformed", "faulty").await;
    set_faults(
        &app,
        json!({"platform": "tiktok", "clientId": "fault-malformed", "token": "malformed"}),
    )
    .await;
    let req = token_request(
        fake,
        "fault-malformed",
        &secret("fault-malformed"),
        code_form(fake, &code, Some(VERIFIER)),
    );
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = test::read_body(resp).await;
    assert!(serde_json::from_slice::<Value>(&body).is_err());
}

#[actix_web::test]
async fn the_fail_knob_answers_503_in_the_platforms_shape() {
    let app = app().await;
    let fake = find("reddit").unwrap();
    register(&app, fake, "fault-fail").await;
    let code = approve(&app, fake, "fault-fail", "faulty").await;
    set_faults(
        &app,
        json!({"platform": "reddit", "clientId": "fault-fail", "token": "fail"}),
    )
    .await;
    let (status, body) = exchange(&app, fake, "fault-fail", &code).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, json!({"error": "temporarily_unavailable"}));
}

#[actix_web::test]
async fn the_slow_knob_delays_the_answer_but_still_answers() {
    let app = app().await;
    let fake = find("snapchat").unwrap();
    register(&app, fake, "fault-slow").await;
    let code = approve(&app, fake, "fault-slow", "faulty").await;
    set_faults(&app, json!({"platform": "snapchat", "clientId": "fault-slow", "token": "slow", "slowMillis": 300})).await;
    let started = std::time::Instant::now();
    let (status, _) = exchange(&app, fake, "fault-slow", &code).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
}

#[actix_web::test]
async fn a_short_token_lifetime_is_reflected_in_expires_in_and_the_token_then_dies() {
    let app = app().await;
    let fake = find("twitter").unwrap();
    register(&app, fake, "fault-lifetime").await;
    set_faults(
        &app,
        json!({"platform": "twitter", "clientId": "fault-lifetime", "tokenLifetimeSeconds": 0}),
    )
    .await;
    let code = approve(&app, fake, "fault-lifetime", "faulty").await;
    let (status, tokens) = exchange(&app, fake, "fault-lifetime", &code).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tokens["expires_in"], json!(0));
    let (status, _) = whoami(&app, fake, str_at(&tokens, "/access_token")).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an expired token is refused"
    );

    set_faults(
        &app,
        json!({"platform": "twitter", "clientId": "fault-lifetime", "tokenLifetimeSeconds": 5}),
    )
    .await;
    let code = approve(&app, fake, "fault-lifetime", "faulty").await;
    let (_, tokens) = exchange(&app, fake, "fault-lifetime", &code).await;
    assert_eq!(tokens["expires_in"], json!(5));
}

#[actix_web::test]
async fn the_identity_knob_fails_or_refuses_the_identity_endpoint() {
    let app = app().await;
    let fake = find("googlebusiness").unwrap();
    register(&app, fake, "fault-identity").await;
    let code = approve(&app, fake, "fault-identity", "faulty").await;
    let (_, tokens) = exchange(&app, fake, "fault-identity", &code).await;
    let access = str_at(&tokens, "/access_token").to_owned();
    set_faults(
        &app,
        json!({"platform": "googlebusiness", "clientId": "fault-identity", "identity": "fail"}),
    )
    .await;
    assert_eq!(
        whoami(&app, fake, &access).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    set_faults(&app, json!({"platform": "googlebusiness", "clientId": "fault-identity", "identity": "unauthorized"})).await;
    assert_eq!(
        whoami(&app, fake, &access).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn revoking_a_user_kills_their_access_and_refresh_tokens() {
    let app = app().await;
    let fake = find("youtube").unwrap();
    register(&app, fake, "revoke-user").await;
    let code = approve(&app, fake, "revoke-user", "revokee").await;
    let (_, tokens) = exchange(&app, fake, "revoke-user", &code).await;
    let req = test::TestRequest::post()
        .uri("/sandbox/_revoke")
        .set_json(json!({"platform": "youtube", "username": "revokee", "clientId": "revoke-user"}))
        .to_request();
    let (status, body) = call_json(&app, req).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"revoked": 2})));
    assert_eq!(
        whoami(&app, fake, str_at(&tokens, "/access_token")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let form = vec![
        ("grant_type".to_owned(), "refresh_token".to_owned()),
        (
            "refresh_token".to_owned(),
            str_at(&tokens, "/refresh_token").to_owned(),
        ),
    ];
    let (status, body) = call_json(
        &app,
        token_request(fake, "revoke-user", &secret("revoke-user"), form),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("invalid_grant"));
}

#[actix_web::test]
async fn the_faults_endpoint_rejects_unknown_platforms_and_knobs() {
    let app = app().await;
    for body in [
        json!({"platform": "myspace", "token": "fail"}),
        json!({"platform": "twitter", "token": "explode"}),
        json!({"platform": "twitter", "tokn": "fail"}),
        json!({"platform": "twitter", "tokenLifetimeSeconds": -1}),
    ] {
        let req = test::TestRequest::post()
            .uri("/sandbox/_faults")
            .set_json(&body)
            .to_request();
        let (status, got) = call_json(&app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {got}");
    }
}

#[actix_web::test]
async fn the_landing_page_says_it_is_the_sandbox_and_lists_every_platform_and_knob() {
    let app = app().await;
    for uri in ["/sandbox", "/sandbox/"] {
        let resp = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let html = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
        assert!(html.contains("Plugboard sandbox"));
        for fake in FAKES {
            assert!(
                html.contains(&format!("/sandbox/{}{}", fake.slug, fake.authorize_path)),
                "{}",
                fake.slug
            );
        }
        for knob in [
            "/sandbox/_faults",
            "/sandbox/_revoke",
            "invalid_grant",
            "malformed",
            "tokenLifetimeSeconds",
            "exceeded",
            "usagePercent",
        ] {
            assert!(html.contains(knob), "{knob}");
        }
    }
}

async fn refresh_with<S>(app: &S, fake: &Fake, client_id: &str, token: &str) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let form = vec![
        ("grant_type".to_owned(), "refresh_token".to_owned()),
        ("refresh_token".to_owned(), token.to_owned()),
    ];
    call_json(
        app,
        token_request(fake, client_id, &secret(client_id), form),
    )
    .await
}

async fn post_grants<S>(app: &S, body: &Value) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let req = test::TestRequest::post()
        .uri("/sandbox/_grants")
        .set_json(body)
        .to_request();
    call_json(app, req).await
}

#[actix_web::test]
async fn registered_grants_refresh_like_issued_ones_and_are_counted() {
    let app = app().await;
    let fake = find("tiktok").unwrap();
    register(&app, fake, "bulk-grants").await;
    let (status, body) = post_grants(
        &app,
        &json!({"platform": "tiktok", "clientId": "bulk-grants", "scopes": ["user.info.basic"],
                "grants": [{"username": "bulk_a", "refreshToken": "bulk-rt-a"},
                           {"username": "bulk_b", "refreshToken": "bulk-rt-b"}]}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::CREATED,
            json!({"platform": "tiktok", "clientId": "bulk-grants", "registered": 2})
        )
    );
    let (status, tokens) = refresh_with(&app, fake, "bulk-grants", "bulk-rt-a").await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], json!("user.info.basic"));
    let rotated = str_at(&tokens, "/refresh_token").to_owned();
    assert_ne!(rotated, "bulk-rt-a", "TikTok rotates");
    // The access token it gave works like one from a code exchange.
    assert_eq!(
        whoami(&app, fake, str_at(&tokens, "/access_token")).await.0,
        StatusCode::OK
    );
    // Another app cannot use them, and the rotated-away one is a counted double refresh.
    let (status, _) = refresh_with(&app, fake, "bulk-grants-other", "bulk-rt-b").await;
    assert_ne!(status, StatusCode::OK);
    let (status, _) = refresh_with(&app, fake, "bulk-grants", "bulk-rt-a").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, stats) = call_json(
        &app,
        test::TestRequest::get().uri("/sandbox/_stats").to_request(),
    )
    .await;
    assert_eq!(stats["refreshes"]["tiktok/bulk_a"], json!(1));
    assert!(stats["rotatedRefreshTokensReused"].as_u64().unwrap() >= 1);
}

#[actix_web::test]
async fn the_grants_endpoint_refuses_what_would_weaken_the_token_checks() {
    let app = app().await;
    let fake = find("pinterest").unwrap();
    register(&app, fake, "grants-refusals").await;
    let one = |token: &str| json!([{"username": "g_user", "refreshToken": token}]);
    let (status, _) = post_grants(
        &app,
        &json!({"platform": "pinterest", "clientId": "grants-refusals", "grants": one("grants-rt-live")}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, tokens) = refresh_with(&app, fake, "grants-refusals", "grants-rt-live").await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let too_many: Vec<Value> = (0..=crate::admin::MAX_GRANTS_PER_REQUEST)
        .map(|i| json!({"username": "u", "refreshToken": format!("grants-many-{i}")}))
        .collect();
    for (body, why) in [
        (
            json!({"platform": "facebook", "grants": one("grants-rt-fb")}),
            "Facebook renews by exchange, not refresh tokens",
        ),
        (
            json!({"platform": "myspace", "grants": one("grants-rt-x")}),
            "unknown platform",
        ),
        (
            json!({"platform": "pinterest", "clientId": "nobody", "grants": one("grants-rt-n")}),
            "unknown app",
        ),
        (json!({"platform": "pinterest", "grants": []}), "no grants"),
        (
            json!({"platform": "pinterest", "grants": too_many}),
            "too many in one request",
        ),
        (
            json!({"platform": "pinterest", "grants": [{"username": "", "refreshToken": "grants-rt-e"}]}),
            "no username",
        ),
        (
            json!({"platform": "pinterest", "grants": [{"username": "a", "refreshToken": "grants-rt-d"},
                                                       {"username": "b", "refreshToken": "grants-rt-d"}]}),
            "one token twice",
        ),
        (
            json!({"platform": "pinterest", "clientId": "grants-refusals", "grants": one(str_at(&tokens, "/refresh_token"))}),
            "a token the sandbox issued",
        ),
        (
            json!({"platform": "pinterest", "clientId": "grants-refusals", "grants": one("grants-rt-live")}),
            "a token rotated away: registering it again would hide a double refresh",
        ),
        (
            json!({"platform": "pinterest", "destinations": 9, "grants": one("grants-rt-9")}),
            "destinations out of range",
        ),
        (
            json!({"platform": "pinterest", "grants": one("grants-rt-u"), "expiresAt": 1}),
            "unknown field",
        ),
    ] {
        let (status, got) = post_grants(&app, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {got}");
        assert!(got["error"].is_string(), "{why}: {got}");
    }
}
