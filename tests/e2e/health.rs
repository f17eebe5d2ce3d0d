//! Account health: stored state plus the platform's verdict on the token, cached briefly.

use crate::flows::*;
use crate::helpers::*;
use plugboard_core::Platform;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_fresh_account_is_healthy_and_a_revoked_one_is_an_error() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let good = app
        .connect_standard(Platform::Twitter, "", &profile, "well")
        .await;
    let bad = app
        .connect_standard(Platform::Twitter, "", &profile, "unwell")
        .await;
    let r = app
        .post(
            "/sandbox/_revoke",
            json!({"platform": "twitter", "username": "unwell"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let h = app
        .get(&format!("/v1/accounts/{}/health", good["accountId"]))
        .await;
    assert_eq!(h.status, 200, "{}", h.text);
    assert_eq!(h.body["status"], "healthy", "{}", h.text);
    assert_eq!(h.body["tokenStatus"]["valid"], true);
    assert_eq!(
        h.body["tokenStatus"]["needsRefresh"], true,
        "X tokens live two hours"
    );
    assert!(
        h.body["tokenStatus"]["expiresIn"]
            .as_str()
            .unwrap()
            .ends_with("hours")
            || h.body["tokenStatus"]["expiresIn"]
                .as_str()
                .unwrap()
                .ends_with("hour")
    );
    assert_eq!(h.body["platformConnection"]["status"], "connected");
    assert_eq!(h.body["permissions"]["canPost"], true);
    assert_eq!(h.body["permissions"]["missingRequired"], json!([]));
    assert!(
        !h.body["permissions"]["posting"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let h = app
        .get(&format!("/v1/accounts/{}/health", bad["accountId"]))
        .await;
    assert_eq!(h.body["status"], "error", "{}", h.text);
    assert_eq!(h.body["tokenStatus"]["valid"], false);
    assert_eq!(h.body["platformConnection"]["status"], "disconnected");
    assert!(!h.body["recommendations"].as_array().unwrap().is_empty());

    let all = app.get("/v1/accounts/health").await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(
        all.body["summary"],
        json!({"total": 2, "healthy": 1, "warning": 0, "error": 1, "needsReconnect": 1}),
        "{}",
        all.text
    );
    let errors = app.get("/v1/accounts/health?status=error").await;
    assert_eq!(errors.body["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(errors.body["accounts"][0]["accountId"], bad["accountId"]);
    assert_eq!(errors.body["accounts"][0]["needsReconnect"], true);
    assert_error(
        &app.get("/v1/accounts/health?status=sick").await,
        400,
        "validation_error",
    );
    assert_error(
        &app.get("/v1/accounts/health?platform=myspace").await,
        400,
        "validation_error",
    );
    let none = app
        .get(&format!(
            "/v1/accounts/health?platform=reddit&profileId={profile}"
        ))
        .await;
    assert_eq!(none.body["summary"]["total"], 0);
}

#[tokio::test]
async fn a_deactivated_account_is_a_warning_and_the_verdict_is_cached() {
    let iso = spawn_isolated(Platform::Reddit, |_| {}).await;
    let app = &iso.app;
    let profile = app.default_profile().await;
    let q = app
        .connect_standard(Platform::Reddit, "", &profile, "cached")
        .await;
    let id = q["accountId"].clone();
    let first = app.get(&format!("/v1/accounts/{id}/health")).await;
    assert_eq!(
        first.body["platformConnection"]["status"], "connected",
        "{}",
        first.text
    );
    // The platform now refuses every token; within the cache window the verdict stands.
    iso.fault(Platform::Reddit, json!({"identity": "unauthorized"}))
        .await;
    let second = app.get(&format!("/v1/accounts/{id}/health")).await;
    assert_eq!(
        second.body["platformConnection"]["status"], "connected",
        "cached: {}",
        second.text
    );
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/accounts/{id}"),
            Some(json!({"isActive": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The change is a new state of the account, so the platform is asked again.
    let third = app.get(&format!("/v1/accounts/{id}/health")).await;
    assert_eq!(third.body["status"], "error", "{}", third.text);
    assert!(
        third.body["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i.as_str().unwrap().contains("deactivated"))
    );
    iso.fault(Platform::Reddit, json!({})).await;
    let other = app
        .connect_standard(Platform::Reddit, "", &profile, "resting")
        .await;
    app.call(
        Method::PUT,
        &format!("/v1/accounts/{}", other["accountId"]),
        Some(json!({"isActive": false})),
    )
    .await;
    let h = app
        .get(&format!("/v1/accounts/{}/health", other["accountId"]))
        .await;
    assert_eq!(h.body["status"], "warning", "{}", h.text);
    assert_eq!(h.body["permissions"]["canPost"], false);
}
