//! The Bluesky client against the sandbox's fake PDS, served over loopback by an actix
//! server (STYLE §5): the production code path with only the entryway moved. The same
//! scenarios run against Bluesky's reference PDS in `bluesky_pds.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::Duration;
use plugboard_core::{Clock, ManualClock, Secret, SystemClock};
use plugboard_platforms::ConnectorError;
use plugboard_platforms::bluesky::BlueskyClient;
use serde_json::{Value, json};
use url::Url;

fn entryway() -> Url {
    Url::parse(&common::sandbox_base("bluesky")).unwrap()
}

fn client_at(entryway: Url) -> BlueskyClient {
    BlueskyClient::new(
        entryway,
        plugboard_platforms::http_client().unwrap(),
        Arc::new(SystemClock),
    )
}

fn now() -> chrono::DateTime<chrono::Utc> {
    SystemClock.now()
}

fn client() -> BlueskyClient {
    client_at(entryway())
}

async fn admin(method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let url = format!("{}{path}", common::sandbox_base("bluesky"));
    let mut req = common::browser().request(method, &url);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

struct Account {
    handle: String,
    did: String,
    email: String,
    password: Secret<String>,
}

impl Account {
    async fn new(prefix: &str) -> Account {
        static N: AtomicU32 = AtomicU32::new(0);
        let handle = format!("{prefix}{}.test", N.fetch_add(1, Ordering::Relaxed));
        let email = format!("{}@example.com", handle.replace('.', "-"));
        let password = format!("main-password-{handle}");
        let created = admin(
            reqwest::Method::POST,
            "/_accounts",
            Some(json!({"handle": handle, "password": password, "email": email, "displayName": format!("Display {handle}"), "followersCount": 321})),
        )
        .await;
        Account {
            did: created["did"].as_str().unwrap().to_owned(),
            handle,
            email,
            password: Secret::new(password),
        }
    }

    async fn app_password(&self, name: &str) -> Secret<String> {
        let created = admin(
            reqwest::Method::POST,
            &format!("/_accounts/{}/app-passwords", self.handle),
            Some(json!({ "name": name })),
        )
        .await;
        Secret::new(created["password"].as_str().unwrap().to_owned())
    }

    async fn revoke(&self, name: &str) {
        admin(
            reqwest::Method::DELETE,
            &format!("/_accounts/{}/app-passwords/{name}", self.handle),
            None,
        )
        .await;
    }

    async fn knobs(&self, knobs: Value) {
        admin(
            reqwest::Method::POST,
            &format!("/_accounts/{}/knobs", self.handle),
            Some(knobs),
        )
        .await;
    }

    async fn status(&self, status: &str) {
        admin(
            reqwest::Method::POST,
            &format!("/_accounts/{}/status", self.handle),
            Some(json!({ "status": status })),
        )
        .await;
    }

    async fn live_sessions(&self) -> u64 {
        admin(
            reqwest::Method::GET,
            &format!("/_accounts/{}", self.handle),
            None,
        )
        .await["liveSessions"]
            .as_u64()
            .unwrap()
    }
}

/// An error's `Display` and `Debug` name none of the secrets.
fn assert_no_secret(err: &ConnectorError, secrets: &[&str]) {
    let text = format!("{err} {err:?}");
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(!text.contains(s), "{text} contains a secret");
    }
    assert!(!text.contains("eyJ"), "{text} contains a JWT");
}

#[tokio::test]
async fn an_app_password_logs_in_by_handle_email_or_did_and_the_pds_comes_from_the_did_doc() {
    let a = Account::new("login").await;
    let app_password = a.app_password("plugboard").await;
    for identifier in [
        a.handle.clone(),
        format!("@{}", a.handle),
        a.email.clone(),
        a.did.clone(),
    ] {
        let session = client().login(&identifier, &app_password).await.unwrap();
        assert_eq!(session.did, a.did, "{identifier}");
        assert_eq!(session.handle, a.handle);
        assert_eq!(session.email.as_deref(), Some(a.email.as_str()));
        assert_eq!(session.pds, entryway(), "{identifier}");
        let now = now();
        let access = session.access_expires_at.unwrap() - now;
        assert!(
            access > Duration::minutes(119) && access <= Duration::minutes(120),
            "{access}"
        );
        let refresh = session.refresh_expires_at.unwrap() - now;
        assert!(
            refresh > Duration::days(89) && refresh <= Duration::days(90),
            "{refresh}"
        );
        let debug = format!("{session:?}");
        assert!(!debug.contains(&session.access_jwt) && !debug.contains(&session.refresh_jwt));
    }
}

#[tokio::test]
async fn the_account_password_is_refused_and_its_session_deleted() {
    let a = Account::new("mainpw").await;
    let err = client().login(&a.handle, &a.password).await.unwrap_err();
    match &err {
        ConnectorError::NotEligible { code, message } => {
            assert_eq!(*code, "app_password_required");
            assert!(message.contains("App passwords"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_no_secret(&err, &[a.password.expose()]);
    assert_eq!(
        a.live_sessions().await,
        0,
        "the main-password session was left alive"
    );
}

#[tokio::test]
async fn a_pds_asking_for_a_sign_in_code_is_told_to_use_an_app_password() {
    let a = Account::new("twofactor").await;
    a.knobs(json!({"authFactorToken": "ABCDE-12345"})).await;
    let err = client().login(&a.handle, &a.password).await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::NotEligible {
                code: "app_password_required",
                ..
            }
        ),
        "{err:?}"
    );
    let app_password = a.app_password("p").await;
    client().login(&a.handle, &app_password).await.unwrap();
}

#[tokio::test]
async fn wrong_credentials_are_an_invalid_grant_that_names_no_secret() {
    let a = Account::new("wrong").await;
    a.app_password("p").await;
    for (identifier, password) in [
        (a.handle.as_str(), "abcd-efgh-ijkl-mnop"),
        ("nobody-here.test", "abcd-efgh-ijkl-mnop"),
        (a.handle.as_str(), ""),
        ("", "abcd-efgh-ijkl-mnop"),
    ] {
        let err = client()
            .login(identifier, &Secret::new(password.to_owned()))
            .await
            .unwrap_err();
        match &err {
            ConnectorError::InvalidGrant { description } => {
                assert!(!description.is_empty());
            }
            other => panic!("{identifier:?}: {other:?}"),
        }
        assert_no_secret(&err, &[password, a.password.expose()]);
        assert!(!err.is_transient());
    }
}

#[tokio::test]
async fn taken_down_and_deactivated_accounts_are_unavailable() {
    let a = Account::new("takedown").await;
    let app_password = a.app_password("p").await;
    let session = client().login(&a.handle, &app_password).await.unwrap();
    a.status("takendown").await;
    // The reference PDS answers AccountTakedown only to the account password; an app
    // password of a taken-down account is simply wrong.
    let err = client().login(&a.handle, &a.password).await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::NotEligible {
                code: "account_unavailable",
                ..
            }
        ),
        "{err:?}"
    );
    let err = client().login(&a.handle, &app_password).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidGrant { .. }),
        "{err:?}"
    );
    let err = client().refresh(&session).await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::NotEligible {
                code: "account_unavailable",
                ..
            }
        ),
        "{err:?}"
    );

    let d = Account::new("deactivated").await;
    let app_password = d.app_password("p").await;
    d.status("deactivated").await;
    let err = client().login(&d.handle, &app_password).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::NotEligible { code: "account_unavailable", ref message } if message.contains("deactivated")),
        "{err:?}"
    );
    assert_eq!(d.live_sessions().await, 0);
}

#[tokio::test]
async fn the_create_session_rate_limit_is_a_transient_429() {
    let a = Account::new("ratelimit").await;
    let app_password = a.app_password("p").await;
    let wrong = Secret::new("wrong-wrong-wrong-wrong".to_owned());
    for _ in 0..30 {
        let err = client().login(&a.handle, &wrong).await.unwrap_err();
        assert!(
            matches!(err, ConnectorError::InvalidGrant { .. }),
            "{err:?}"
        );
    }
    let err = client().login(&a.handle, &app_password).await.unwrap_err();
    match &err {
        ConnectorError::Platform { status, code, .. } => {
            assert_eq!(*status, 429);
            assert_eq!(code.as_deref(), Some("RateLimitExceeded"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_transient());
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_dies_after_the_grace() {
    let a = Account::new("rotate").await;
    a.knobs(json!({"refreshGraceSeconds": 0})).await;
    let app_password = a.app_password("p").await;
    let first = client().login(&a.handle, &app_password).await.unwrap();
    let second = client().refresh(&first).await.unwrap();
    assert_ne!(second.refresh_jwt, first.refresh_jwt);
    // Access JWTs carry no id: two issued in the same second for the same account are
    // equal, on the reference PDS too.
    assert_eq!(second.did, first.did);
    assert_eq!(second.handle, first.handle);
    assert_eq!(second.pds, first.pds);
    assert_eq!(second.email, first.email);
    assert!(second.refresh_expires_at.unwrap() >= first.refresh_expires_at.unwrap());

    let err = client().refresh(&first).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidGrant { .. }),
        "{err:?}"
    );
    assert_no_secret(&err, &[&first.refresh_jwt, &first.access_jwt]);
    let third = client().refresh(&second).await.unwrap();
    client().profile(&third).await.unwrap();
}

#[tokio::test]
async fn within_the_default_grace_the_old_refresh_token_still_works() {
    let a = Account::new("grace").await;
    let app_password = a.app_password("p").await;
    let first = client().login(&a.handle, &app_password).await.unwrap();
    client().refresh(&first).await.unwrap();
    client().refresh(&first).await.unwrap();
}

#[tokio::test]
async fn a_revoked_app_password_makes_the_next_refresh_an_invalid_grant() {
    let a = Account::new("revoke").await;
    let app_password = a.app_password("plugboard").await;
    let other = a.app_password("other").await;
    let session = client().login(&a.handle, &app_password).await.unwrap();
    let kept = client().login(&a.handle, &other).await.unwrap();
    a.revoke("plugboard").await;
    let err = client().refresh(&session).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidGrant { .. }),
        "{err:?}"
    );
    assert!(!err.is_transient());
    client().refresh(&kept).await.unwrap();
    let err = client().login(&a.handle, &app_password).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidGrant { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn profile_answers_the_identity_from_get_profile() {
    let a = Account::new("profile").await;
    let app_password = a.app_password("p").await;
    let session = client().login(&a.handle, &app_password).await.unwrap();
    let identity = client().profile(&session).await.unwrap();
    assert_eq!(identity.platform_user_id, a.did);
    assert_eq!(identity.username.as_deref(), Some(a.handle.as_str()));
    assert_eq!(identity.display_name, Some(format!("Display {}", a.handle)));
    assert_eq!(identity.followers_count, Some(321));
    assert_eq!(
        identity.profile_url,
        Some(format!("https://bsky.app/profile/{}", a.handle))
    );
    let avatar = identity.profile_picture.unwrap();
    assert!(
        avatar.ends_with(&format!("/sandbox/_avatar/bluesky/{}.svg", a.handle)),
        "{avatar}"
    );
    let image = common::browser().get(&avatar).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(identity.metadata["pds"], json!(session.pds.as_str()));
    assert_eq!(identity.metadata["profileSource"], json!("appview"));
}

#[tokio::test]
async fn without_an_app_view_profile_falls_back_to_the_repository() {
    let a = Account::new("noappview").await;
    a.knobs(json!({"appViewUnreachable": true})).await;
    let app_password = a.app_password("p").await;
    let session = client().login(&a.handle, &app_password).await.unwrap();
    let identity = client().profile(&session).await.unwrap();
    assert_eq!(identity.platform_user_id, a.did);
    assert_eq!(identity.username.as_deref(), Some(a.handle.as_str()));
    assert_eq!(identity.display_name, Some(format!("Display {}", a.handle)));
    assert_eq!(identity.followers_count, None);
    assert_eq!(identity.profile_picture, None);
    assert_eq!(identity.metadata["profileSource"], json!("repo"));
}

#[tokio::test]
async fn a_dead_access_token_makes_profile_an_invalid_grant() {
    let a = Account::new("deadaccess").await;
    a.knobs(json!({"accessLifetimeSeconds": 0})).await;
    let app_password = a.app_password("p").await;
    let session = client().login(&a.handle, &app_password).await.unwrap();
    assert!(session.access_expires_at.unwrap() <= now());
    let err = client().profile(&session).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidGrant { .. }),
        "{err:?}"
    );
    // Refreshing brings it back.
    a.knobs(json!({})).await;
    let renewed = client().refresh(&session).await.unwrap();
    client().profile(&renewed).await.unwrap();
}

#[tokio::test]
async fn the_session_follows_the_pds_its_did_doc_names_and_else_stays_on_the_entryway() {
    let a = Account::new("didpds").await;
    let app_password = a.app_password("p").await;
    // Another name for the same fake: only the DID document can have sent us there.
    let elsewhere = format!(
        "http://localhost:{}/sandbox/bluesky",
        common::sandbox().port()
    );
    a.knobs(json!({ "pdsEndpoint": elsewhere })).await;
    let session = client().login(&a.handle, &app_password).await.unwrap();
    assert_eq!(session.pds.as_str(), elsewhere);
    let renewed = client().refresh(&session).await.unwrap();
    assert_eq!(renewed.pds, session.pds);
    client().profile(&renewed).await.unwrap();

    a.knobs(json!({"omitDidDoc": true})).await;
    let session = client().login(&a.handle, &app_password).await.unwrap();
    assert_eq!(session.pds, entryway());
}

#[tokio::test]
async fn logout_ends_the_session_at_the_pds() {
    let a = Account::new("logout").await;
    let app_password = a.app_password("p").await;
    let session = client().login(&a.handle, &app_password).await.unwrap();
    assert_eq!(a.live_sessions().await, 1);
    client().logout(&session).await.unwrap();
    assert_eq!(a.live_sessions().await, 0);
    let err = client().refresh(&session).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidGrant { .. }),
        "{err:?}"
    );
    // A second logout of a dead session is not an error.
    client().logout(&session).await.unwrap();
}

#[tokio::test]
async fn an_expired_session_is_refused_without_asking_the_pds() {
    let a = Account::new("expired").await;
    let app_password = a.app_password("p").await;
    let mut session = client().login(&a.handle, &app_password).await.unwrap();
    // Nothing listens there: a request would be a transport error.
    session.pds = Url::parse("http://127.0.0.1:9").unwrap();
    let later = ManualClock::new(session.refresh_expires_at.unwrap() + Duration::seconds(1));
    let client = BlueskyClient::new(
        entryway(),
        plugboard_platforms::http_client().unwrap(),
        Arc::new(later),
    );
    let err = client.refresh(&session).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidGrant { .. }),
        "{err:?}"
    );
    let err = self::client().refresh(&session).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transport(_)), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_entryway_is_a_transient_transport_error() {
    let err = client_at(Url::parse("http://127.0.0.1:9").unwrap())
        .login("alice.test", &Secret::new("abcd-efgh-ijkl-mnop".to_owned()))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transport(_)), "{err:?}");
    assert!(err.is_transient());
    assert_no_secret(&err, &["abcd-efgh-ijkl-mnop"]);
}
