//! The server against Bluesky's own reference PDS (`@atproto/dev-env`, started from
//! `tests/node/bluesky-pds`): an account and an app password made on the real PDS connect
//! through `POST /v1/connect/bluesky/credentials`, and its account password is refused —
//! which only the session token's scope tells apart. Fails, never skips, when npm or the
//! PDS cannot start.

#[path = "../node/bluesky-pds/harness.rs"]
mod bluesky_pds_harness;

use crate::helpers::*;
use bluesky_pds_harness::ReferencePds;
use plugboard::config::PlatformSettings;
use plugboard_core::Platform;
use serde_json::{Value, json};
use std::sync::OnceLock;
use url::Url;

fn pds() -> &'static ReferencePds {
    static PDS: OnceLock<ReferencePds> = OnceLock::new();
    PDS.get_or_init(ReferencePds::start)
}

async fn xrpc(nsid: &str, bearer: Option<&str>, body: Value) -> Value {
    let mut req = reqwest::Client::new()
        .post(format!("{}/xrpc/{nsid}", pds().url))
        .json(&body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(
        status.is_success(),
        "{nsid}: {status} {body}\n{}",
        pds().log_tail()
    );
    body
}

#[tokio::test]
async fn an_account_on_the_reference_pds_connects_with_an_app_password_and_not_its_password() {
    // PDS calls block in its harness start; keep them off the async workers.
    tokio::task::spawn_blocking(pds).await.unwrap();
    let name = format!("pbe{}", hex::encode(rand::random::<[u8; 3]>()));
    let handle = format!("{name}{}", pds().handle_domain);
    let password = format!("main-password-of-{name}");
    let created = xrpc(
        "com.atproto.server.createAccount",
        None,
        json!({"handle": handle, "email": format!("{name}@example.com"), "password": password}),
    )
    .await;
    let did = created["did"].as_str().unwrap().to_owned();
    let app_password = xrpc(
        "com.atproto.server.createAppPassword",
        created["accessJwt"].as_str(),
        json!({"name": "plugboard"}),
    )
    .await["password"]
        .as_str()
        .unwrap()
        .to_owned();

    let service = Url::parse(&pds().url).unwrap();
    let app = spawn_app_with(move |c| {
        c.platforms.insert(
            Platform::Bluesky,
            PlatformSettings {
                service_url: Some(service),
                ..Default::default()
            },
        );
    })
    .await;
    let state = format!("profile_id={}", app.default_profile().await);
    let body = |pw: &str| json!({"identifier": handle, "appPassword": pw, "state": state});
    let refused = app
        .post("/v1/connect/bluesky/credentials", body(&password))
        .await;
    assert_error(&refused, 400, "app_password_required");
    let wrong = app
        .post(
            "/v1/connect/bluesky/credentials",
            body("aaaa-bbbb-cccc-dddd"),
        )
        .await;
    assert_error(&wrong, 400, "invalid_credentials");
    assert_eq!(
        app.get("/v1/accounts").await.body["accounts"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let r = app
        .post("/v1/connect/bluesky/credentials", body(&app_password))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["account"]["platformUserId"], did);
    assert_eq!(r.body["account"]["username"], handle);
    let again = app
        .post(
            "/v1/connect/bluesky/credentials",
            json!({"identifier": did, "appPassword": app_password, "state": state}),
        )
        .await;
    assert_eq!(
        again.body["account"]["_id"], r.body["account"]["_id"],
        "the same DID updates in place"
    );
}
