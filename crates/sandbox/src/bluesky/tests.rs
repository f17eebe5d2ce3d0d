//! The fake PDS driven over HTTP as an XRPC client and a test script drive it. State is
//! process-wide, so every test makes its own accounts (unique handles).

use std::sync::atomic::{AtomicU32, Ordering};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::configure;

const BASE: &str = "/sandbox/bluesky";
/// What the test server's requests carry as their Host.
const ORIGIN: &str = "http://localhost:8080";

trait TestApp:
    Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>
{
}
impl<S> TestApp for S where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>
{
}

async fn app() -> impl TestApp {
    test::init_service(App::new().service(web::scope("/sandbox").configure(configure))).await
}

async fn send(app: &impl TestApp, req: test::TestRequest) -> (StatusCode, Value) {
    let resp = test::call_service(app, req.to_request()).await;
    let status = resp.status();
    let bytes = test::read_body(resp).await;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, body)
}

async fn admin(app: &impl TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    send(
        app,
        test::TestRequest::post()
            .uri(&format!("{BASE}{path}"))
            .set_json(body),
    )
    .await
}

async fn query(
    app: &impl TestApp,
    nsid_and_query: &str,
    bearer: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = test::TestRequest::get().uri(&format!("{BASE}/xrpc/{nsid_and_query}"));
    if let Some(token) = bearer {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    send(app, req).await
}

async fn procedure(
    app: &impl TestApp,
    nsid: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = test::TestRequest::post().uri(&format!("{BASE}/xrpc/{nsid}"));
    if let Some(token) = bearer {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    if let Some(body) = body {
        req = req.set_json(body);
    }
    send(app, req).await
}

struct Account {
    handle: String,
    did: String,
    email: String,
    password: String,
}

fn unique_handle(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}{}.test", N.fetch_add(1, Ordering::Relaxed))
}

async fn account(app: &impl TestApp, prefix: &str) -> Account {
    let handle = unique_handle(prefix);
    let email = format!("{}@example.com", handle.replace('.', "-"));
    let password = format!("main-password-of-{handle}");
    let (status, body) = admin(
        app,
        "/_accounts",
        json!({"handle": handle, "password": password, "email": email}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    Account {
        did: body["did"].as_str().unwrap().to_owned(),
        handle,
        email,
        password,
    }
}

async fn app_password(app: &impl TestApp, handle: &str, name: &str) -> String {
    let (status, body) = admin(
        app,
        &format!("/_accounts/{handle}/app-passwords"),
        json!({"name": name}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["password"].as_str().unwrap().to_owned()
}

async fn knobs(app: &impl TestApp, handle: &str, knobs: Value) {
    let (status, body) = admin(app, &format!("/_accounts/{handle}/knobs"), knobs).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn create_session(
    app: &impl TestApp,
    identifier: &str,
    password: &str,
) -> (StatusCode, Value) {
    procedure(
        app,
        "com.atproto.server.createSession",
        None,
        Some(json!({"identifier": identifier, "password": password})),
    )
    .await
}

async fn login(app: &impl TestApp, identifier: &str, password: &str) -> Value {
    let (status, body) = create_session(app, identifier, password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn refresh(app: &impl TestApp, refresh_jwt: &str) -> (StatusCode, Value) {
    procedure(
        app,
        "com.atproto.server.refreshSession",
        Some(refresh_jwt),
        None,
    )
    .await
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn claims(token: &Value) -> Value {
    jwt_part(token.as_str().unwrap(), 1)
}

fn xrpc_error(error: &str, message: &str) -> Value {
    json!({"error": error, "message": message})
}

#[actix_web::test]
async fn describe_server_names_the_service_did_and_open_sign_up() {
    let app = app().await;
    let (status, body) = query(&app, "com.atproto.server.describeServer", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "did": "did:web:bluesky.sandbox.plugboard.test",
            "availableUserDomains": [".test"],
            "inviteCodeRequired": false,
            "phoneVerificationRequired": false,
            "links": {},
            "contact": {},
        })
    );
}

#[actix_web::test]
async fn creating_an_account_answers_its_did_and_refuses_bad_or_taken_handles() {
    let app = app().await;
    let handle = unique_handle("Create");
    let (status, body) = admin(
        &app,
        "/_accounts",
        json!({"handle": handle, "password": "pw", "email": format!("{handle}@example.com")}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let did = body["did"].as_str().unwrap();
    assert!(did.starts_with("did:plc:") && did.len() == 32, "{did}");
    assert_eq!(
        body,
        json!({"did": did, "handle": handle.to_ascii_lowercase()})
    );

    let cases = [
        (
            json!({"handle": handle, "password": "pw"}),
            StatusCode::CONFLICT,
            "same handle",
        ),
        (
            json!({"handle": unique_handle("other"), "password": "pw", "email": format!("{}@EXAMPLE.com", handle)}),
            StatusCode::CONFLICT,
            "same email, other case",
        ),
        (
            json!({"handle": "nodots", "password": "pw"}),
            StatusCode::BAD_REQUEST,
            "one label",
        ),
        (
            json!({"handle": "bad_char.test", "password": "pw"}),
            StatusCode::BAD_REQUEST,
            "underscore",
        ),
        (
            json!({"handle": unique_handle("nopw"), "password": ""}),
            StatusCode::BAD_REQUEST,
            "empty password",
        ),
        (
            json!({"handle": unique_handle("mail"), "password": "pw", "email": "nope"}),
            StatusCode::BAD_REQUEST,
            "bad email",
        ),
        (
            json!({"handle": unique_handle("extra"), "password": "pw", "admin": true}),
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
        (
            json!({"password": "pw"}),
            StatusCode::BAD_REQUEST,
            "no handle",
        ),
    ];
    for (body, expected, why) in cases {
        let (status, answer) = admin(&app, "/_accounts", body).await;
        assert_eq!(status, expected, "{why}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{why}: {answer}"
        );
    }
}

#[actix_web::test]
async fn the_account_password_logs_in_by_handle_email_or_did_with_the_access_scope() {
    let app = app().await;
    let a = account(&app, "main").await;
    for identifier in [
        a.handle.clone(),
        a.handle.to_ascii_uppercase(),
        a.email.clone(),
        a.did.clone(),
    ] {
        let body = login(&app, &identifier, &a.password).await;
        assert_eq!(body["did"], json!(a.did), "{identifier}");
        assert_eq!(body["handle"], json!(a.handle), "{identifier}");
        assert_eq!(body["email"], json!(a.email), "{identifier}");
        assert_eq!(body["emailConfirmed"], json!(true));
        assert_eq!(body["active"], json!(true));
        assert!(body.get("status").is_none());
        let access = claims(&body["accessJwt"]);
        assert_eq!(access["scope"], json!("com.atproto.access"), "{identifier}");
        assert_eq!(access["sub"], json!(a.did));
        assert_eq!(
            access["aud"],
            json!("did:web:bluesky.sandbox.plugboard.test")
        );
        assert_eq!(
            jwt_part(body["accessJwt"].as_str().unwrap(), 0),
            json!({"typ": "at+jwt", "alg": "HS256"})
        );
        let refresh = claims(&body["refreshJwt"]);
        assert_eq!(refresh["scope"], json!("com.atproto.refresh"));
        assert!(refresh["jti"].as_str().is_some_and(|j| !j.is_empty()));
        assert_eq!(
            jwt_part(body["refreshJwt"].as_str().unwrap(), 0),
            json!({"typ": "refresh+jwt", "alg": "HS256"})
        );
    }
}

#[actix_web::test]
async fn an_app_password_session_carries_the_app_pass_scope_and_privileged_ones_their_own() {
    let app = app().await;
    let a = account(&app, "apppass").await;
    let plain = app_password(&app, &a.handle, "plugboard").await;
    let groups: Vec<&str> = plain.split('-').collect();
    assert!(
        groups.len() == 4 && groups.iter().all(|g| g.len() == 4),
        "{plain}"
    );
    let body = login(&app, &a.handle, &plain).await;
    assert_eq!(
        claims(&body["accessJwt"])["scope"],
        json!("com.atproto.appPass")
    );

    let (status, p) = admin(
        &app,
        &format!("/_accounts/{}/app-passwords", a.handle),
        json!({"name": "dms", "privileged": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(p["name"], json!("dms"));
    assert_eq!(p["privileged"], json!(true));
    assert!(p["createdAt"].as_str().is_some());
    let body = login(&app, &a.did, p["password"].as_str().unwrap()).await;
    assert_eq!(
        claims(&body["accessJwt"])["scope"],
        json!("com.atproto.appPassPrivileged")
    );

    let (status, dup) = admin(
        &app,
        &format!("/_accounts/{}/app-passwords", a.handle),
        json!({"name": "plugboard"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{dup}");
}

#[actix_web::test]
async fn the_session_did_doc_points_at_the_fake_itself() {
    let app = app().await;
    let a = account(&app, "diddoc").await;
    let body = login(&app, &a.handle, &a.password).await;
    assert_eq!(body["didDoc"]["id"], json!(a.did));
    assert_eq!(
        body["didDoc"]["alsoKnownAs"],
        json!([format!("at://{}", a.handle)])
    );
    assert_eq!(
        body["didDoc"]["service"],
        json!([{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": format!("{ORIGIN}/sandbox/bluesky"),
        }])
    );
}

#[actix_web::test]
async fn did_doc_knobs_leave_it_out_or_point_it_elsewhere() {
    let app = app().await;
    let a = account(&app, "docknob").await;
    knobs(&app, &a.handle, json!({"omitDidDoc": true})).await;
    let body = login(&app, &a.handle, &a.password).await;
    assert!(body.get("didDoc").is_none(), "{body}");
    knobs(
        &app,
        &a.handle,
        json!({"pdsEndpoint": "http://pds.example:2583"}),
    )
    .await;
    let body = login(&app, &a.handle, &a.password).await;
    assert_eq!(
        body["didDoc"]["service"][0]["serviceEndpoint"],
        json!("http://pds.example:2583")
    );
}

#[actix_web::test]
async fn bad_credentials_are_refused_with_authentication_required() {
    let app = app().await;
    let a = account(&app, "badcreds").await;
    let b = account(&app, "otheracct").await;
    let others = app_password(&app, &b.handle, "b").await;
    let cases = [
        (a.handle.as_str(), "wrong-password", "wrong password"),
        (a.handle.as_str(), "", "empty password"),
        ("nobody-here.test", a.password.as_str(), "unknown handle"),
        ("nobody@example.com", a.password.as_str(), "unknown email"),
        (
            "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
            a.password.as_str(),
            "unknown did",
        ),
        (
            a.handle.as_str(),
            others.as_str(),
            "another account's app password",
        ),
        (
            a.handle.as_str(),
            b.password.as_str(),
            "another account's password",
        ),
    ];
    for (identifier, password, why) in cases {
        let (status, body) = create_session(&app, identifier, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}");
        assert_eq!(
            body,
            xrpc_error("AuthenticationRequired", "Invalid identifier or password"),
            "{why}"
        );
    }
    let (status, body) = create_session(&app, &a.handle, &"x".repeat(513)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        xrpc_error(
            "AuthenticationRequired",
            "Password too long. Consider resetting your password."
        )
    );
}

#[actix_web::test]
async fn create_session_refuses_input_that_is_not_the_lexicons_json() {
    let app = app().await;
    let url = format!("{BASE}/xrpc/com.atproto.server.createSession");
    let cases = [
        (
            test::TestRequest::post().uri(&url),
            "Request encoding (Content-Type) required but not provided",
        ),
        (
            test::TestRequest::post()
                .uri(&url)
                .insert_header(("Content-Type", "text/plain"))
                .set_payload("identifier=a"),
            "Wrong request encoding (Content-Type): text/plain",
        ),
    ];
    for (req, message) in cases {
        let (status, body) = send(&app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, xrpc_error("InvalidRequest", message));
    }
    let (status, body) = procedure(
        &app,
        "com.atproto.server.createSession",
        None,
        Some(json!({"identifier": "a.test"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("InvalidRequest"));
}

#[actix_web::test]
async fn the_auth_factor_knob_makes_the_account_password_need_a_sign_in_code() {
    let app = app().await;
    let a = account(&app, "twofactor").await;
    let plain = app_password(&app, &a.handle, "p").await;
    knobs(&app, &a.handle, json!({"authFactorToken": "ABCDE-12345"})).await;

    let (status, body) = create_session(&app, &a.handle, &a.password).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        xrpc_error(
            "AuthFactorTokenRequired",
            "A sign in code has been sent to your email address"
        )
    );
    let with_token = |token: &str| json!({"identifier": a.handle, "password": a.password, "authFactorToken": token});
    let (status, body) = procedure(
        &app,
        "com.atproto.server.createSession",
        None,
        Some(with_token("WRONG-00000")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, xrpc_error("InvalidToken", "Token is invalid"));
    let (status, body) = procedure(
        &app,
        "com.atproto.server.createSession",
        None,
        Some(with_token("ABCDE-12345")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["emailAuthFactor"], json!(true));
    // App passwords are how an account with email 2FA signs in to third-party apps.
    let body = login(&app, &a.handle, &plain).await;
    assert_eq!(
        claims(&body["accessJwt"])["scope"],
        json!("com.atproto.appPass")
    );
}

#[actix_web::test]
async fn create_session_is_limited_to_thirty_attempts_per_account_in_five_minutes() {
    let app = app().await;
    let a = account(&app, "ratelimit").await;
    let b = account(&app, "ratelimitother").await;
    // Every identifier of the account and every failure counts against the same limit.
    for i in 0..30 {
        let identifier = match i % 3 {
            0 => a.handle.clone(),
            1 => a.email.clone(),
            _ => a.did.clone(),
        };
        let password = if i % 2 == 0 {
            a.password.as_str()
        } else {
            "wrong"
        };
        let (status, _) = create_session(&app, &identifier, password).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "attempt {i}");
    }
    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri(&format!("{BASE}/xrpc/com.atproto.server.createSession"))
            .set_json(json!({"identifier": a.handle, "password": a.password}))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("ratelimit-limit").as_deref(), Some("30"));
    assert_eq!(header("ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(header("ratelimit-policy").as_deref(), Some("30;w=300"));
    assert!(header("ratelimit-reset").is_some_and(|r| r.parse::<i64>().is_ok()));
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body, xrpc_error("RateLimitExceeded", "Rate Limit Exceeded"));
    // Another account is not affected.
    login(&app, &b.handle, &b.password).await;
}

#[actix_web::test]
async fn refreshing_rotates_and_the_old_token_replays_the_same_rotation_within_the_grace() {
    let app = app().await;
    let a = account(&app, "rotate").await;
    let plain = app_password(&app, &a.handle, "p").await;
    let first = login(&app, &a.handle, &plain).await;
    let old = first["refreshJwt"].as_str().unwrap();

    let (status, second) = refresh(&app, old).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refreshJwt"], first["refreshJwt"]);
    assert_ne!(
        claims(&second["refreshJwt"])["jti"],
        claims(&first["refreshJwt"])["jti"]
    );
    assert_eq!(
        claims(&second["accessJwt"])["scope"],
        json!("com.atproto.appPass")
    );
    assert_eq!(second["did"], json!(a.did));
    assert_eq!(second["handle"], json!(a.handle));
    assert!(second["didDoc"].is_object());

    // Within the 2-hour grace, the old token is accepted again and yields the same next id.
    let (status, replay) = refresh(&app, old).await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert_eq!(
        claims(&replay["refreshJwt"])["jti"],
        claims(&second["refreshJwt"])["jti"]
    );
    // The new token rotates on.
    let (status, third) = refresh(&app, second["refreshJwt"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{third}");
}

#[actix_web::test]
async fn with_no_grace_a_rotated_refresh_token_is_revoked() {
    let app = app().await;
    let a = account(&app, "nograce").await;
    knobs(&app, &a.handle, json!({"refreshGraceSeconds": 0})).await;
    let first = login(&app, &a.handle, &a.password).await;
    let old = first["refreshJwt"].as_str().unwrap();
    let (status, second) = refresh(&app, old).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let (status, body) = refresh(&app, old).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, xrpc_error("ExpiredToken", "Token has been revoked"));
    let (status, _) = refresh(&app, second["refreshJwt"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn refresh_session_refuses_missing_forged_and_wrong_type_tokens_as_the_reference_pds() {
    let app = app().await;
    let a = account(&app, "refreshbad").await;
    let session = login(&app, &a.handle, &a.password).await;
    let refresh_jwt = session["refreshJwt"].as_str().unwrap();
    let mut forged: Vec<&str> = refresh_jwt.split('.').collect();
    let edited =
        URL_SAFE_NO_PAD.encode(b"{\"scope\":\"com.atproto.refresh\",\"sub\":\"did:plc:x\"}");
    forged[1] = &edited;
    let forged = forged.join(".");
    let cases: Vec<(Option<String>, StatusCode, Value, &str)> = vec![
        (
            None,
            StatusCode::UNAUTHORIZED,
            xrpc_error("AuthMissing", "Authentication Required"),
            "no header",
        ),
        (
            Some("Basic abc".into()),
            StatusCode::BAD_REQUEST,
            xrpc_error("InvalidToken", "Unsupported authorization type: Basic"),
            "basic",
        ),
        (
            Some("Bearer not-a-jwt".into()),
            StatusCode::BAD_REQUEST,
            xrpc_error("InvalidToken", "Token could not be verified"),
            "garbage",
        ),
        (
            Some(format!("Bearer {forged}")),
            StatusCode::BAD_REQUEST,
            xrpc_error("InvalidToken", "Token could not be verified"),
            "forged payload",
        ),
        (
            Some(format!("Bearer {}", session["accessJwt"].as_str().unwrap())),
            StatusCode::BAD_REQUEST,
            xrpc_error("InvalidToken", "Invalid token type"),
            "access token",
        ),
    ];
    for (header, status, body, why) in cases {
        let mut req = test::TestRequest::post()
            .uri(&format!("{BASE}/xrpc/com.atproto.server.refreshSession"));
        if let Some(h) = header {
            req = req.insert_header(("Authorization", h));
        }
        let (got_status, got) = send(&app, req).await;
        assert_eq!(got_status, status, "{why}: {got}");
        assert_eq!(got, body, "{why}");
    }
}

#[actix_web::test]
async fn revoking_an_app_password_kills_its_sessions_and_only_those() {
    let app = app().await;
    let a = account(&app, "revoke").await;
    let doomed = app_password(&app, &a.handle, "doomed").await;
    let kept = app_password(&app, &a.handle, "kept").await;
    let doomed_session = login(&app, &a.handle, &doomed).await;
    let kept_session = login(&app, &a.handle, &kept).await;
    let main_session = login(&app, &a.handle, &a.password).await;

    let resp = test::call_service(
        &app,
        test::TestRequest::delete()
            .uri(&format!(
                "{BASE}/_accounts/{}/app-passwords/doomed",
                a.handle
            ))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body, json!({"revoked": "doomed", "sessions": 1}));

    let (status, body) = refresh(&app, doomed_session["refreshJwt"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, xrpc_error("ExpiredToken", "Token has been revoked"));
    let (status, body) = create_session(&app, &a.handle, &doomed).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    for other in [&kept_session, &main_session] {
        let (status, body) = refresh(&app, other["refreshJwt"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // As on the reference PDS, an access token is a plain JWT and lives out its two hours.
    let (status, _) = query(
        &app,
        "com.atproto.server.getSession",
        doomed_session["accessJwt"].as_str(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let resp = test::call_service(
        &app,
        test::TestRequest::delete()
            .uri(&format!(
                "{BASE}/_accounts/{}/app-passwords/doomed",
                a.handle
            ))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn a_taken_down_account_cannot_log_in_refresh_or_be_viewed() {
    let app = app().await;
    let a = account(&app, "takedown").await;
    let plain = app_password(&app, &a.handle, "p").await;
    let session = login(&app, &a.handle, &plain).await;
    let (status, body) = admin(
        &app,
        &format!("/_accounts/{}/status", a.handle),
        json!({"status": "takendown"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], json!("takendown"));
    assert_eq!(body["liveSessions"], json!(0));

    let (status, body) = create_session(&app, &a.handle, &a.password).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        xrpc_error("AccountTakedown", "Account has been taken down")
    );
    // The reference PDS checks app passwords only for accounts in good standing.
    let (status, body) = create_session(&app, &a.handle, &plain).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        xrpc_error("AuthenticationRequired", "Invalid identifier or password")
    );
    let (status, body) = refresh(&app, session["refreshJwt"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        xrpc_error("AccountTakedown", "Account has been taken down")
    );
    let (status, body) = query(
        &app,
        &format!("app.bsky.actor.getProfile?actor={}", a.did),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        xrpc_error("AccountTakedown", "Account has been suspended")
    );

    // allowTakendown gives a narrow session that is never stored.
    let (status, body) = procedure(
        &app,
        "com.atproto.server.createSession",
        None,
        Some(json!({"identifier": a.handle, "password": a.password, "allowTakendown": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        claims(&body["accessJwt"])["scope"],
        json!("com.atproto.takendown")
    );
    assert_eq!(body["active"], json!(false));
    assert_eq!(body["status"], json!("takendown"));

    let (status, _) = admin(
        &app,
        &format!("/_accounts/{}/status", a.handle),
        json!({"status": "active"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    login(&app, &a.handle, &plain).await;
}

#[actix_web::test]
async fn a_deactivated_account_logs_in_as_inactive() {
    let app = app().await;
    let a = account(&app, "deactivated").await;
    let plain = app_password(&app, &a.handle, "p").await;
    let (status, _) = admin(
        &app,
        &format!("/_accounts/{}/status", a.handle),
        json!({"status": "deactivated"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let body = login(&app, &a.handle, &plain).await;
    assert_eq!(body["active"], json!(false));
    assert_eq!(body["status"], json!("deactivated"));
    let (status, body) = query(
        &app,
        &format!("app.bsky.actor.getProfile?actor={}", a.handle),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        xrpc_error("AccountDeactivated", "Account is deactivated")
    );
}

#[actix_web::test]
async fn get_session_answers_the_account_behind_a_live_access_token() {
    let app = app().await;
    let a = account(&app, "getsession").await;
    let session = login(&app, &a.handle, &a.password).await;
    let (status, body) = query(
        &app,
        "com.atproto.server.getSession",
        session["accessJwt"].as_str(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut expected = session.clone();
    let obj = expected.as_object_mut().unwrap();
    obj.remove("accessJwt");
    obj.remove("refreshJwt");
    assert_eq!(body, expected);

    let (status, body) = query(
        &app,
        "com.atproto.server.getSession",
        session["refreshJwt"].as_str(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, xrpc_error("InvalidToken", "Invalid token type"));
    let (status, body) = query(&app, "com.atproto.server.getSession", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, xrpc_error("AuthMissing", "Authentication Required"));
}

#[actix_web::test]
async fn tokens_live_two_hours_and_ninety_days_unless_the_knobs_shorten_them() {
    let app = app().await;
    let a = account(&app, "lifetimes").await;
    let session = login(&app, &a.handle, &a.password).await;
    let access = claims(&session["accessJwt"]);
    let refresh_claims = claims(&session["refreshJwt"]);
    assert_eq!(
        access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
        7200
    );
    assert_eq!(
        refresh_claims["exp"].as_i64().unwrap() - refresh_claims["iat"].as_i64().unwrap(),
        90 * 24 * 3600
    );

    knobs(
        &app,
        &a.handle,
        json!({"accessLifetimeSeconds": 0, "refreshLifetimeSeconds": 0}),
    )
    .await;
    let session = login(&app, &a.handle, &a.password).await;
    let (status, body) = query(
        &app,
        "com.atproto.server.getSession",
        session["accessJwt"].as_str(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, xrpc_error("ExpiredToken", "Token has expired"));
    let (status, body) = refresh(&app, session["refreshJwt"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, xrpc_error("ExpiredToken", "Token has expired"));

    knobs(&app, &a.handle, json!({"accessLifetimeSeconds": 60})).await;
    let session = login(&app, &a.handle, &a.password).await;
    let access = claims(&session["accessJwt"]);
    assert_eq!(
        access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
        60
    );
}

#[actix_web::test]
async fn delete_session_revokes_the_refresh_token_even_an_expired_one() {
    let app = app().await;
    let a = account(&app, "logout").await;
    let session = login(&app, &a.handle, &a.password).await;
    let token = session["refreshJwt"].as_str().unwrap();
    let (status, body) =
        procedure(&app, "com.atproto.server.deleteSession", Some(token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, Value::Null);
    let (status, body) = refresh(&app, token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, xrpc_error("ExpiredToken", "Token has been revoked"));

    knobs(&app, &a.handle, json!({"refreshLifetimeSeconds": 0})).await;
    let expired = login(&app, &a.handle, &a.password).await;
    let (status, _) = procedure(
        &app,
        "com.atproto.server.deleteSession",
        expired["refreshJwt"].as_str(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = procedure(
        &app,
        "com.atproto.server.deleteSession",
        session["accessJwt"].as_str(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, xrpc_error("InvalidToken", "Invalid token type"));
}

#[actix_web::test]
async fn resolve_handle_answers_the_did_of_a_known_handle() {
    let app = app().await;
    let a = account(&app, "resolve").await;
    let (status, body) = query(
        &app,
        &format!(
            "com.atproto.identity.resolveHandle?handle={}",
            a.handle.to_ascii_uppercase()
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"did": a.did}));
    for (q, message) in [
        ("handle=unknown-handle.test", "Unable to resolve handle"),
        (
            &format!("handle={}", a.email) as &str,
            "Unable to resolve handle",
        ),
        ("", "Params must have the property \"handle\""),
    ] {
        let (status, body) = query(
            &app,
            &format!("com.atproto.identity.resolveHandle?{q}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(body, xrpc_error("InvalidRequest", message), "{q}");
    }
}

#[actix_web::test]
async fn get_profile_answers_a_profile_view_by_did_or_handle() {
    let app = app().await;
    let handle = unique_handle("profile");
    let (status, created) = admin(
        &app,
        "/_accounts",
        json!({"handle": handle, "password": "pw", "displayName": "Alice Example", "description": "hi", "followersCount": 42, "followsCount": 7, "postsCount": 3}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let did = created["did"].as_str().unwrap();
    let session = login(&app, &handle, "pw").await;
    for (actor, bearer) in [
        (did, session["accessJwt"].as_str()),
        (handle.as_str(), None),
    ] {
        let (status, body) = query(
            &app,
            &format!("app.bsky.actor.getProfile?actor={actor}"),
            bearer,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let indexed = body["indexedAt"].clone();
        assert!(indexed.as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
        assert_eq!(
            body,
            json!({
                "did": did,
                "handle": handle,
                "displayName": "Alice Example",
                "description": "hi",
                "avatar": format!("{ORIGIN}/sandbox/_avatar/bluesky/{handle}.svg"),
                "associated": {"lists": 0, "feedgens": 0, "starterPacks": 0, "labeler": false},
                "followersCount": 42,
                "followsCount": 7,
                "postsCount": 3,
                "indexedAt": indexed,
                "createdAt": indexed,
                "labels": [],
            })
        );
    }
    let (status, body) = query(
        &app,
        "app.bsky.actor.getProfile?actor=nobody-at-all.test",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, xrpc_error("InvalidRequest", "Profile not found"));
    let (status, body) = query(
        &app,
        &format!("app.bsky.actor.getProfile?actor={did}"),
        Some("nope"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        xrpc_error("InvalidToken", "Token could not be verified")
    );
}

#[actix_web::test]
async fn default_profiles_have_a_sandbox_display_name_and_counts() {
    let app = app().await;
    let a = account(&app, "defaults").await;
    let (status, body) = query(
        &app,
        &format!("app.bsky.actor.getProfile?actor={}", a.did),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let first = a.handle.split('.').next().unwrap();
    assert_eq!(body["displayName"], json!(format!("{first} (sandbox)")));
    assert!(body["followersCount"].as_i64().is_some());
}

#[actix_web::test]
async fn the_app_view_knob_makes_get_profile_fail_upstream_while_the_repo_still_answers() {
    let app = app().await;
    let handle = unique_handle("noappview");
    let (_, created) = admin(
        &app,
        "/_accounts",
        json!({"handle": handle, "password": "pw", "displayName": "Repo Name"}),
    )
    .await;
    let did = created["did"].as_str().unwrap();
    knobs(&app, &handle, json!({"appViewUnreachable": true})).await;
    let session = login(&app, &handle, "pw").await;
    let (status, body) = query(
        &app,
        &format!("app.bsky.actor.getProfile?actor={did}"),
        session["accessJwt"].as_str(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        body,
        xrpc_error("UpstreamFailure", "Upstream service unreachable")
    );

    let (status, body) = query(
        &app,
        &format!("com.atproto.repo.describeRepo?repo={did}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["handle"], json!(handle));
    assert_eq!(body["did"], json!(did));
    assert_eq!(body["collections"], json!(["app.bsky.actor.profile"]));
    assert_eq!(body["handleIsCorrect"], json!(true));
    assert!(body["didDoc"].is_object());

    let (status, body) = query(
        &app,
        &format!(
            "com.atproto.repo.getRecord?repo={did}&collection=app.bsky.actor.profile&rkey=self"
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["uri"],
        json!(format!("at://{did}/app.bsky.actor.profile/self"))
    );
    assert!(
        body["cid"]
            .as_str()
            .is_some_and(|c| c.starts_with("bafyrei"))
    );
    assert_eq!(body["value"]["$type"], json!("app.bsky.actor.profile"));
    assert_eq!(body["value"]["displayName"], json!("Repo Name"));

    let (status, body) = query(
        &app,
        &format!("com.atproto.repo.getRecord?repo={did}&collection=app.bsky.feed.post&rkey=abc"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        xrpc_error(
            "RecordNotFound",
            &format!("Could not locate record: at://{did}/app.bsky.feed.post/abc")
        )
    );
    let (status, body) = query(
        &app,
        "com.atproto.repo.describeRepo?repo=did:plc:nothere",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        xrpc_error("InvalidRequest", "Could not find repo: did:plc:nothere")
    );
}

#[actix_web::test]
async fn unknown_methods_wrong_verbs_and_unknown_paths_are_refused() {
    let app = app().await;
    let (status, body) = query(&app, "com.atproto.server.createAccount", None).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        body,
        xrpc_error("MethodNotImplemented", "Method Not Implemented")
    );
    let (status, body) = query(&app, "com.atproto.server.createSession", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        xrpc_error(
            "InvalidRequest",
            "Incorrect HTTP method (GET) expected POST"
        )
    );
    let (status, body) = procedure(&app, "com.atproto.server.getSession", None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        xrpc_error(
            "InvalidRequest",
            "Incorrect HTTP method (POST) expected GET"
        )
    );
    let (status, body) = send(
        &app,
        test::TestRequest::get().uri(&format!("{BASE}/nothing/here")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("/sandbox/bluesky/nothing/here"))
    );
}

#[actix_web::test]
async fn the_admin_api_shows_accounts_without_their_passwords() {
    let app = app().await;
    let a = account(&app, "adminview").await;
    let plain = app_password(&app, &a.handle, "plugboard").await;
    login(&app, &a.handle, &plain).await;
    let (status, body) = send(
        &app,
        test::TestRequest::get().uri(&format!("{BASE}/_accounts/{}", a.did)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["handle"], json!(a.handle));
    assert_eq!(body["status"], json!("active"));
    assert_eq!(body["appPasswords"][0]["name"], json!("plugboard"));
    assert_eq!(body["liveSessions"], json!(1));
    assert_eq!(body["pds"], json!(format!("{ORIGIN}/sandbox/bluesky")));
    let text = body.to_string();
    assert!(
        !text.contains(&plain) && !text.contains(&a.password),
        "{text}"
    );

    let (status, list) = send(
        &app,
        test::TestRequest::get().uri(&format!("{BASE}/_accounts")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        list["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["did"] == json!(a.did))
    );
    assert!(!list.to_string().contains(&a.password));

    let (status, _) = send(
        &app,
        test::TestRequest::get().uri(&format!("{BASE}/_accounts/nobody.test")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn admin_requests_with_bad_values_are_refused_with_a_reason() {
    let app = app().await;
    let a = account(&app, "adminbad").await;
    let cases = [
        (
            format!("/_accounts/{}/knobs", a.handle),
            json!({"accessLifetimeSeconds": -1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/_accounts/{}/knobs", a.handle),
            json!({"pdsEndpoint": "ftp://x"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/_accounts/{}/knobs", a.handle),
            json!({"authFactorToken": ""}),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/_accounts/{}/knobs", a.handle),
            json!({"unknownKnob": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/_accounts/nobody.test/knobs".to_owned(),
            json!({}),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/_accounts/{}/status", a.handle),
            json!({"status": "banned"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/_accounts/nobody.test/status".to_owned(),
            json!({"status": "active"}),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/_accounts/{}/app-passwords", a.handle),
            json!({"name": ""}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/_accounts/nobody.test/app-passwords".to_owned(),
            json!({"name": "x"}),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (path, body, expected) in cases {
        let (status, answer) = admin(&app, &path, body.clone()).await;
        assert_eq!(status, expected, "{path} {body}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {answer}"
        );
    }
    // An empty object clears the knobs.
    knobs(&app, &a.handle, json!({"omitDidDoc": true})).await;
    let (status, body) = admin(&app, &format!("/_accounts/{}/knobs", a.handle), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["knobs"], json!({}));
}
