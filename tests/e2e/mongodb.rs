//! The same server on the production store: MongoDB (a real one when
//! `PLUGBOARD_TEST_MONGODB_URI` is set, nx-27017 otherwise).

use crate::helpers::*;
use plugboard::config::StoreKind;
use plugboard_core::{Platform, Secret};
use reqwest::Method;
use serde_json::json;

async fn spawn_on_mongodb() -> TestApp {
    spawn_on_mongodb_with(|_| {}).await
}

pub(crate) async fn spawn_on_mongodb_with(tweak: impl FnOnce(&mut plugboard::Config)) -> TestApp {
    let uri = plugboard_store::test_server::mongodb_uri().await;
    let database = plugboard_store::test_server::fresh_database_name();
    spawn_app_with(move |c| {
        c.store = StoreKind::Mongodb;
        c.mongodb_uri = Some(Secret::new(uri));
        c.mongodb_database = database;
        c.encryption_key = Some(Secret::new(hex::encode(rand::random::<[u8; 32]>())));
        tweak(c);
    })
    .await
}

#[tokio::test]
async fn the_api_works_the_same_on_mongodb() {
    let app = spawn_on_mongodb().await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(
        reply(ready).await.body,
        json!({"status": "ok", "store": "mongodb"})
    );
    assert!(
        !app.data_dir.join("encryption.key").exists(),
        "the configured key is used, no key file"
    );

    let brand = app.create_profile("Brand").await;
    assert_error(
        &app.post("/v1/profiles", json!({"name": "Brand"})).await,
        409,
        "profile_name_conflict",
    );
    let acc = app
        .seed_account(&brand, Platform::Facebook, "fb-1", "EAAB-token")
        .await;
    let again = app
        .seed_account(&brand, Platform::Facebook, "fb-1", "EAAB-token-2")
        .await;
    assert_eq!(acc.id, again.id, "reconnect updates in place");
    let list = app
        .get(&format!(
            "/v1/accounts?profileId={brand}&page=1&limit=10&includeStatusCounts=true"
        ))
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["pagination"]["total"], 1);
    assert_eq!(
        list.body["statusCounts"],
        json!({"all": 1, "disconnected": 0})
    );
    assert!(!list.text.contains("EAAB"), "no tokens in responses");

    let key = app
        .create_key(json!({"name": "second", "permission": "read"}))
        .await;
    assert_eq!(
        app.call_as(&key, Method::GET, "/v1/accounts", None)
            .await
            .status,
        200
    );
    assert_error(
        &app.call_as(
            &key,
            Method::DELETE,
            &format!("/v1/accounts/{}", acc.id),
            None,
        )
        .await,
        403,
        "insufficient_permissions",
    );
    let del = app
        .call(Method::DELETE, &format!("/v1/accounts/{}", acc.id), None)
        .await;
    assert_eq!(del.status, 200);
    assert_error(
        &app.call(Method::DELETE, &format!("/v1/accounts/{}", acc.id), None)
            .await,
        404,
        "account_not_found",
    );
    let gone = app
        .call(Method::DELETE, &format!("/v1/profiles/{brand}"), None)
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text);
}

#[tokio::test]
async fn webhooks_and_the_ads_flow_work_the_same_on_mongodb() {
    use crate::webhooks::Receiver;
    let uri = plugboard_store::test_server::mongodb_uri().await;
    let database = plugboard_store::test_server::fresh_database_name();
    let app = spawn_app_with(move |c| {
        c.store = StoreKind::Mongodb;
        c.mongodb_uri = Some(Secret::new(uri));
        c.mongodb_database = database;
        c.encryption_key = Some(Secret::new(hex::encode(rand::random::<[u8; 32]>())));
        c.webhooks_allow_private = true;
    })
    .await;
    let receiver = Receiver::start().await;
    let r = app
        .post(
            "/v1/webhooks/settings",
            json!({"name": "m", "url": receiver.url, "secret": "mongo-secret", "events": [
                "account.connected", "account.disconnected", "account.ads.initial_sync_completed"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let profile = app.default_profile().await;
    let done = app
        .connect_standard(Platform::Threads, "", &profile, "mona")
        .await;
    let got = receiver.wait_for(1, 20).await;
    crate::webhooks::assert_signed(&got[0], "mongo-secret");
    assert_eq!(
        got[0].json()["account"]["accountId"],
        done["accountId"].as_str()
    );
    app.call(
        Method::DELETE,
        &format!("/v1/accounts/{}", done["accountId"]),
        None,
    )
    .await;
    let got = receiver.wait_for(2, 20).await;
    assert_eq!(got[1].json()["event"], "account.disconnected");

    let auth = app
        .get(&format!(
            "/v1/connect/facebook/ads?profileId={profile}&redirect_url={}",
            crate::flows::urlencode(crate::flows::APP_REDIRECT)
        ))
        .await;
    let auth_url = auth.body["authUrl"].as_str().unwrap().to_owned();
    let callback = app.consent(&auth_url, "mads", "approve", Some(2)).await;
    let landed = app.finish_in_browser(&callback, None).await;
    assert_eq!(landed.status, 302, "{}", landed.text);
    // Facebook and metaads connected, then the initial sync.
    let got = receiver.wait_for(5, 30).await;
    let sync = got
        .iter()
        .map(|r| r.json())
        .find(|e| e["event"] == "account.ads.initial_sync_completed")
        .unwrap_or_else(|| panic!("no sync event: {got:?}"));
    assert_eq!(sync["sync"]["totalAds"], 7);
    let logs = app.get("/v1/webhooks/logs?status=success").await;
    assert_eq!(logs.body["pagination"]["total"], 5, "{}", logs.text);
}
