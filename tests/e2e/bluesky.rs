//! Bluesky accounts connected with an app password, against the sandbox's fake PDS.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

fn unique_handle() -> String {
    format!("u{}.test", hex::encode(rand::random::<[u8; 4]>()))
}

/// An account on the fake PDS and one app password for it.
async fn account(app: &TestApp) -> (String, String, String) {
    let handle = unique_handle();
    let r = app
        .post("/sandbox/bluesky/_accounts", json!({"handle": handle, "password": "main-password-123", "email": format!("{handle}@mail.test"), "displayName": "Sky Person"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let did = r.body["did"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/sandbox/bluesky/_accounts/{handle}/app-passwords"),
            json!({"name": "plugboard"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    (handle, did, r.body["password"].as_str().unwrap().to_owned())
}

async fn connect(app: &TestApp, identifier: &str, password: &str, state: &str) -> Reply {
    app.post(
        "/v1/connect/bluesky/credentials",
        json!({"identifier": identifier, "appPassword": password, "state": state, "redirectUrl": "https://app.example/cb"}),
    )
    .await
}

#[tokio::test]
async fn an_app_password_connects_the_did_and_reconnecting_updates_in_place() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let owner = app.owner().await;
    let (handle, did, password) = account(&app).await;
    let r = connect(&app, &handle, &password, &format!("profile_id={profile}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.body["account"];
    assert_eq!(a["platform"], "bluesky");
    assert_eq!(a["platformUserId"], did);
    assert_eq!(a["username"], handle);
    assert_eq!(a["profileId"], profile.to_string());
    assert!(
        a["metadata"]["pdsUrl"]
            .as_str()
            .unwrap()
            .contains("/sandbox/bluesky"),
        "{a}"
    );
    assert!(
        !r.text.contains(&password) && !r.text.contains("eyJ"),
        "no password or JWT in the answer"
    );
    // The SDK's `{userId}-{profileId}` state and the DID as identifier name the same account.
    let again = connect(&app, &did, &password, &format!("{owner}-{profile}")).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["account"]["_id"], a["_id"]);
    assert_eq!(
        app.get("/v1/accounts").await.body["accounts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let db = std::fs::read(app.data_dir.join("plugboard.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains("eyJ"),
        "session JWTs are sealed at rest"
    );
}

#[tokio::test]
async fn wrong_credentials_and_the_account_password_are_refused_and_create_nothing() {
    let app = spawn_app().await;
    let state = format!("profile_id={}", app.default_profile().await);
    let (handle, _, _) = account(&app).await;
    let r = connect(&app, &handle, "wxyz-wxyz-wxyz-wxyz", &state).await;
    assert_error(&r, 400, "invalid_credentials");
    let r = connect(&app, &handle, "main-password-123", &state).await;
    assert_error(&r, 400, "app_password_required");
    assert!(
        r.body["error"].as_str().unwrap().contains("app password"),
        "{}",
        r.text
    );
    let detail = app
        .get(&format!("/sandbox/bluesky/_accounts/{handle}"))
        .await;
    assert_eq!(
        detail.body["liveSessions"], 0,
        "the refused main-password session was closed: {}",
        detail.text
    );
    let cases: [(Value, &str); 4] = [
        (json!({"appPassword": "x", "state": state}), "identifier"),
        (json!({"identifier": handle, "state": state}), "appPassword"),
        (json!({"identifier": handle, "appPassword": "x"}), "state"),
        (
            json!({"identifier": handle, "appPassword": "x", "state": "profile_id=nope"}),
            "state",
        ),
    ];
    for (body, param) in cases {
        let r = app.post("/v1/connect/bluesky/credentials", body).await;
        assert_error(&r, 400, "validation_error");
        assert_eq!(r.body["param"], param, "{}", r.text);
    }
    let r = connect(&app, &handle, "x", "profile_id=0123456789abcdef01234567").await;
    assert_error(&r, 404, "profile_not_found");
    let taken = app
        .post(
            &format!("/sandbox/bluesky/_accounts/{handle}/status"),
            json!({"status": "takendown"}),
        )
        .await;
    assert!(taken.status.is_success(), "{}", taken.text);
    assert_eq!(
        app.call(Method::GET, "/v1/accounts", None).await.body["accounts"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
