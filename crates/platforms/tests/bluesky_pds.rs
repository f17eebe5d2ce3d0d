//! The Bluesky client against Bluesky's own reference PDS (`@atproto/pds` through
//! `@atproto/dev-env`'s TestPds, with its did:plc directory), started by
//! `tests/node/bluesky-pds/`. Accounts and app passwords are made through the PDS's own
//! XRPC (`com.atproto.server.createAccount`, `createAppPassword`, …), so nothing here is
//! the sandbox's idea of Bluesky.
//!
//! The dev-env PDS has no AppView behind it: `app.bsky.actor.getProfile` answers
//! `502 UpstreamFailure`, and `profile` reads the repository instead (describeRepo and the
//! `app.bsky.actor.profile/self` record). Its rate limits are off, so the 429 case is only
//! tested against the sandbox (`bluesky.rs`).
//!
//! This test fails, never skips, when npm or the PDS cannot start.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

#[path = "../../../tests/node/bluesky-pds/harness.rs"]
mod bluesky_pds_harness;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use bluesky_pds_harness::ReferencePds;
use plugboard_core::{Secret, SystemClock};
use plugboard_platforms::ConnectorError;
use plugboard_platforms::bluesky::BlueskyClient;
use serde_json::{Value, json};
use url::Url;

/// One PDS per test binary; it stops when the process exits (its stdin closes).
fn pds() -> &'static ReferencePds {
    static PDS: OnceLock<ReferencePds> = OnceLock::new();
    PDS.get_or_init(ReferencePds::start)
}

fn client() -> BlueskyClient {
    BlueskyClient::new(
        Url::parse(&pds().url).unwrap(),
        plugboard_platforms::http_client().unwrap(),
        Arc::new(SystemClock),
    )
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// Calls the reference PDS's XRPC and returns (status, JSON body or null).
async fn xrpc(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, body)
}

fn xrpc_url(nsid: &str) -> String {
    format!("{}/xrpc/{nsid}", pds().url)
}

fn scope(jwt: &str) -> String {
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims["scope"].as_str().unwrap().to_owned()
}

fn jti(jwt: &str) -> String {
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

/// An account made on the reference PDS, with its account-password session for the
/// account-management calls.
struct PdsAccount {
    handle: String,
    did: String,
    email: String,
    password: Secret<String>,
    access_jwt: String,
}

impl PdsAccount {
    async fn create(tag: &str) -> PdsAccount {
        static N: AtomicU32 = AtomicU32::new(0);
        // The PDS wants 3 to 18 characters before its handle domain.
        let name = format!("pb{}{tag}", N.fetch_add(1, Ordering::Relaxed));
        assert!(name.len() <= 18, "{name}");
        let handle = format!("{name}{}", pds().handle_domain);
        let email = format!("{name}@example.com");
        let password = format!("main-password-of-{name}");
        let (status, body) = xrpc(
            http()
                .post(xrpc_url("com.atproto.server.createAccount"))
                .json(&json!({"handle": handle, "email": email, "password": password})),
        )
        .await;
        assert_eq!(
            status,
            200,
            "createAccount {handle}: {body}\n{}",
            pds().log_tail()
        );
        PdsAccount {
            did: body["did"].as_str().unwrap().to_owned(),
            access_jwt: body["accessJwt"].as_str().unwrap().to_owned(),
            handle,
            email,
            password: Secret::new(password),
        }
    }

    async fn app_password(&self, name: &str) -> Secret<String> {
        let (status, body) = xrpc(
            http()
                .post(xrpc_url("com.atproto.server.createAppPassword"))
                .bearer_auth(&self.access_jwt)
                .json(&json!({ "name": name })),
        )
        .await;
        assert_eq!(status, 200, "createAppPassword: {body}");
        let password = body["password"].as_str().unwrap().to_owned();
        let groups: Vec<&str> = password.split('-').collect();
        assert!(
            groups.len() == 4 && groups.iter().all(|g| g.len() == 4),
            "{password}"
        );
        Secret::new(password)
    }

    async fn revoke_app_password(&self, name: &str) {
        let (status, body) = xrpc(
            http()
                .post(xrpc_url("com.atproto.server.revokeAppPassword"))
                .bearer_auth(&self.access_jwt)
                .json(&json!({ "name": name })),
        )
        .await;
        assert_eq!(status, 200, "revokeAppPassword: {body}");
    }

    async fn take_down(&self) {
        let (status, body) = xrpc(
            http()
                .post(xrpc_url("com.atproto.admin.updateSubjectStatus"))
                .header("Authorization", pds().admin_authorization())
                .json(&json!({
                    "subject": {"$type": "com.atproto.admin.defs#repoRef", "did": self.did},
                    "takedown": {"applied": true, "ref": "plugboard-test"},
                })),
        )
        .await;
        assert_eq!(status, 200, "updateSubjectStatus: {body}");
    }

    async fn deactivate(&self) {
        let (status, body) = xrpc(
            http()
                .post(xrpc_url("com.atproto.server.deactivateAccount"))
                .bearer_auth(&self.access_jwt)
                .json(&json!({})),
        )
        .await;
        assert_eq!(status, 200, "deactivateAccount: {body}");
    }

    /// Writes the `app.bsky.actor.profile/self` record, with `avatar` uploaded as a blob.
    async fn put_profile(&self, display_name: &str, avatar: &[u8]) {
        let (status, uploaded) = xrpc(
            http()
                .post(xrpc_url("com.atproto.repo.uploadBlob"))
                .bearer_auth(&self.access_jwt)
                .header("Content-Type", "image/png")
                .body(avatar.to_vec()),
        )
        .await;
        assert_eq!(status, 200, "uploadBlob: {uploaded}");
        let (status, body) = xrpc(
            http()
                .post(xrpc_url("com.atproto.repo.putRecord"))
                .bearer_auth(&self.access_jwt)
                .json(&json!({
                    "repo": self.did,
                    "collection": "app.bsky.actor.profile",
                    "rkey": "self",
                    "record": {
                        "$type": "app.bsky.actor.profile",
                        "displayName": display_name,
                        "avatar": uploaded["blob"],
                    },
                })),
        )
        .await;
        assert_eq!(status, 200, "putRecord: {body}");
    }
}

/// A 1×1 PNG.
const PIXEL_PNG: [u8; 70] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xdf, 0xc0, 0xf0,
    0x1f, 0x00, 0x06, 0x80, 0x02, 0x7f, 0x10, 0x4c, 0x1b, 0xe1, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

#[tokio::test]
async fn only_the_access_jwt_scope_tells_an_app_password_session_from_an_account_password_one() {
    let a = PdsAccount::create("scope").await;
    let app_password = a.app_password("plugboard").await;
    let session = |password: String| {
        xrpc(
            http()
                .post(xrpc_url("com.atproto.server.createSession"))
                .json(&json!({"identifier": a.handle, "password": password})),
        )
    };
    let (s1, mut with_app) = session(app_password.expose().clone()).await;
    let (s2, mut with_main) = session(a.password.expose().clone()).await;
    assert_eq!((s1, s2), (200, 200), "{with_app} {with_main}");
    assert_eq!(
        scope(with_app["accessJwt"].as_str().unwrap()),
        "com.atproto.appPass"
    );
    assert_eq!(
        scope(with_main["accessJwt"].as_str().unwrap()),
        "com.atproto.access"
    );
    for body in [&mut with_app, &mut with_main] {
        let obj = body.as_object_mut().unwrap();
        obj.remove("accessJwt");
        obj.remove("refreshJwt");
    }
    assert_eq!(with_app, with_main, "the rest of the two answers differs");

    // So the client must read the scope, and refuses the account password.
    let err = client().login(&a.handle, &a.password).await.unwrap_err();
    match &err {
        ConnectorError::NotEligible { code, message } => {
            assert_eq!(*code, "app_password_required");
            assert!(message.contains("App passwords"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains(a.password.expose()) && !text.contains("eyJ"),
        "{text}"
    );
    client().login(&a.handle, &app_password).await.unwrap();
}

#[tokio::test]
async fn an_app_password_logs_in_by_handle_email_or_did_and_profile_reads_the_repository() {
    let a = PdsAccount::create("login").await;
    let app_password = a.app_password("plugboard").await;
    for identifier in [a.handle.clone(), a.email.clone(), a.did.clone()] {
        let session = client().login(&identifier, &app_password).await.unwrap();
        assert_eq!(session.did, a.did, "{identifier}");
        assert_eq!(session.handle, a.handle);
        assert_eq!(session.email.as_deref(), Some(a.email.as_str()));
        // The reference PDS sends no didDoc with sessions unless configured to
        // (PDS_ENABLE_DID_DOC_WITH_SESSION), so the session stays on the entryway.
        assert_eq!(session.pds, Url::parse(&pds().url).unwrap());
        // Both JWTs share their iat: the refresh token outlives the access token by 90
        // days less 2 hours.
        let gap = session.refresh_expires_at.unwrap() - session.access_expires_at.unwrap();
        assert_eq!(
            gap,
            chrono::Duration::days(90) - chrono::Duration::minutes(120)
        );
    }

    let session = client().login(&a.handle, &app_password).await.unwrap();
    let identity = client().profile(&session).await.unwrap();
    assert_eq!(identity.platform_user_id, a.did);
    assert_eq!(identity.username.as_deref(), Some(a.handle.as_str()));
    assert_eq!(
        identity.display_name, None,
        "a new account has no profile record"
    );
    assert_eq!(
        identity.profile_url,
        Some(format!("https://bsky.app/profile/{}", a.handle))
    );
    assert_eq!(identity.metadata["profileSource"], json!("repo"));

    a.put_profile("Plugboard Tester", &PIXEL_PNG).await;
    let identity = client().profile(&session).await.unwrap();
    assert_eq!(identity.display_name.as_deref(), Some("Plugboard Tester"));
    assert_eq!(identity.followers_count, None);
    let avatar = identity.profile_picture.expect("the avatar blob's URL");
    let image = http().get(&avatar).send().await.unwrap();
    assert_eq!(image.status(), 200, "{avatar}");
    assert_eq!(image.bytes().await.unwrap().as_ref(), PIXEL_PNG.as_slice());
}

#[tokio::test]
async fn wrong_credentials_are_an_invalid_grant() {
    let a = PdsAccount::create("wrong").await;
    a.app_password("p").await;
    for (identifier, password) in [
        (a.handle.as_str(), "abcd-efgh-ijkl-mnop"),
        ("nobody-here.test", "abcd-efgh-ijkl-mnop"),
        (a.email.as_str(), "not the password"),
    ] {
        let err = client()
            .login(identifier, &Secret::new(password.to_owned()))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConnectorError::InvalidGrant { .. }),
            "{identifier}: {err:?}"
        );
        assert!(!format!("{err:?}").contains(password));
    }
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_replays_the_same_rotation_within_the_grace() {
    let a = PdsAccount::create("rotate").await;
    let app_password = a.app_password("p").await;
    let first = client().login(&a.handle, &app_password).await.unwrap();
    let second = client().refresh(&first).await.unwrap();
    assert_ne!(second.refresh_jwt, first.refresh_jwt);
    assert_ne!(jti(&second.refresh_jwt), jti(&first.refresh_jwt));
    assert_eq!(scope(&second.access_jwt), "com.atproto.appPass");
    assert_eq!(
        (second.did.as_str(), second.handle.as_str()),
        (a.did.as_str(), a.handle.as_str())
    );
    // The reference PDS keeps a rotated token for 2 hours and answers it with the same
    // next token id; the sandbox's `refreshGraceSeconds` knob is how tests see it die.
    let replay = client().refresh(&first).await.unwrap();
    assert_eq!(jti(&replay.refresh_jwt), jti(&second.refresh_jwt));
    let third = client().refresh(&second).await.unwrap();
    assert_ne!(jti(&third.refresh_jwt), jti(&second.refresh_jwt));
    client().profile(&third).await.unwrap();
}

#[tokio::test]
async fn revoking_the_app_password_makes_the_next_refresh_an_invalid_grant() {
    let a = PdsAccount::create("revoke").await;
    let app_password = a.app_password("plugboard").await;
    let other = a.app_password("other").await;
    let session = client().login(&a.handle, &app_password).await.unwrap();
    let kept = client().login(&a.handle, &other).await.unwrap();
    a.revoke_app_password("plugboard").await;
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
async fn logout_ends_the_session_on_the_reference_pds() {
    let a = PdsAccount::create("logout").await;
    let app_password = a.app_password("p").await;
    let session = client().login(&a.handle, &app_password).await.unwrap();
    client().logout(&session).await.unwrap();
    let err = client().refresh(&session).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidGrant { .. }),
        "{err:?}"
    );
    client().logout(&session).await.unwrap();
}

#[tokio::test]
async fn taken_down_and_deactivated_accounts_are_unavailable() {
    let a = PdsAccount::create("takedown").await;
    let app_password = a.app_password("p").await;
    let session = client().login(&a.handle, &app_password).await.unwrap();
    a.take_down().await;
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
    // The reference PDS checks app passwords only for accounts in good standing.
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

    let d = PdsAccount::create("deactivate").await;
    let app_password = d.app_password("p").await;
    d.deactivate().await;
    let err = client().login(&d.handle, &app_password).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::NotEligible { code: "account_unavailable", ref message } if message.contains("deactivated")),
        "{err:?}"
    );
}
