//! The Meta ads-only flow through the sandbox: a `metaads` account beside the Facebook
//! account, with and without an ad-account allowlist, the initial sync and its webhook.

use crate::flows::*;
use crate::helpers::*;
use crate::webhooks::{Received, Receiver};
use plugboard_core::{Platform, ProfileId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use url::Url;

async fn spawn() -> (TestApp, Receiver) {
    let app = spawn_app_with(|c| c.webhooks_allow_private = true).await;
    let receiver = Receiver::start().await;
    let r = app
        .post(
            "/v1/webhooks/settings",
            json!({"name": "ads", "url": receiver.url, "events": [
                "account.connected", "account.ads.initial_sync_completed"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    (app, receiver)
}

fn ads_path(profile: &ProfileId, extra: &str) -> String {
    format!(
        "/v1/connect/facebook/ads?profileId={profile}&loginMode=classic&permissionLevel=full&headless=false&force=false&redirectUrl={}{extra}",
        urlencode(APP_REDIRECT)
    )
}

/// Logs in through the sandbox for an ads flow that needs one; returns the final query.
async fn log_in(app: &TestApp, auth_url: &str, username: &str, accounts: u32) -> Reply {
    let scope = query(&Url::parse(auth_url).unwrap())["scope"].clone();
    for s in ["pages_show_list", "ads_read", "ads_management"] {
        assert!(scope.split(',').any(|x| x == s), "{s} in {scope}");
    }
    let callback = app
        .consent(auth_url, username, "approve", Some(accounts))
        .await;
    let done = app.finish_in_browser(&callback, None).await;
    assert_eq!(done.status, StatusCode::FOUND, "{}", done.text);
    done
}

async fn authorize(app: &TestApp, path: &str) -> String {
    let r = app.get(path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("alreadyConnected").is_none(), "{}", r.text);
    r.body["authUrl"].as_str().unwrap().to_owned()
}

fn events_named<'a>(got: &'a [Received], name: &str) -> Vec<&'a Received> {
    got.iter().filter(|r| r.json()["event"] == name).collect()
}

/// Waits until the receiver has `n` events named `name`.
async fn wait_for_event(receiver: &Receiver, name: &str, n: usize) -> Vec<Value> {
    for _ in 0..400 {
        let got = receiver.received();
        let named: Vec<Value> = events_named(&got, name).iter().map(|r| r.json()).collect();
        if named.len() >= n {
            return named;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} {name} events: {:?}", receiver.received());
}

#[tokio::test]
async fn an_ads_connect_makes_the_page_and_metaads_accounts_and_syncs_every_ad_account() {
    let (app, receiver) = spawn().await;
    let profile = app.default_profile().await;
    let auth = authorize(&app, &ads_path(&profile, "")).await;
    let done = log_in(&app, &auth, "advertiser", 2).await;
    let landed = query(&Url::parse(&location(&done)).unwrap());
    assert_eq!(landed["connected"], "metaads", "{landed:?}");
    assert_eq!(landed["profileId"], profile.to_string());

    let ads_id = landed["accountId"].clone();
    let ads = app.account_json(&ads_id).await;
    assert_eq!(ads["platform"], "metaads");
    let parent = ads["parentAccountId"]
        .as_str()
        .expect("a parent account")
        .to_owned();
    let page = app.account_json(&parent).await;
    assert_eq!(page["platform"], "facebook");
    let pages = app
        .get(&format!("/v1/accounts/{parent}/facebook-page"))
        .await;
    assert_eq!(
        pages.body["selectedPageId"], pages.body["pages"][0]["id"],
        "the first Page, picked without a picker"
    );
    let listed = app.get("/v1/accounts?platform=metaads").await;
    assert_eq!(listed.body["accounts"].as_array().unwrap().len(), 1);
    let by_category = app.get("/v1/accounts?category=ads").await;
    assert_eq!(by_category.body["accounts"][0]["_id"], ads_id.as_str());

    let connected = wait_for_event(&receiver, "account.connected", 2).await;
    let platforms: Vec<&str> = connected
        .iter()
        .map(|e| e["account"]["platform"].as_str().unwrap())
        .collect();
    assert!(
        platforms.contains(&"facebook") && platforms.contains(&"metaads"),
        "{platforms:?}"
    );

    let sync = &wait_for_event(&receiver, "account.ads.initial_sync_completed", 1).await[0];
    assert_eq!(sync["account"]["accountId"], ads_id.as_str());
    assert_eq!(sync["account"]["platform"], "metaads");
    assert_eq!(sync["account"]["profileId"], profile.to_string());
    let visible = sync["account"]["platformAdAccountIds"].as_array().unwrap();
    assert_eq!(visible.len(), 2, "{sync}");
    assert!(
        visible
            .iter()
            .all(|v| v.as_str().unwrap().starts_with("act_"))
    );
    assert!(
        sync["account"].get("platformAdAccountId").is_none(),
        "no single scope"
    );
    assert_eq!(sync["sync"]["status"], "success");
    // The sandbox's ad accounts hold 3 and 4 ads.
    assert_eq!(sync["sync"]["totalAds"], 7);
    assert_eq!(sync["sync"]["synced"], 7);
    assert_eq!(sync["sync"]["failed"], 0);

    // Asking again reuses the login: no OAuth, no second account, no second sync.
    let again = app.get(&ads_path(&profile, "")).await;

    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["alreadyConnected"], true);
    assert_eq!(again.body["accountId"], ads_id.as_str());
    assert_eq!(again.body["platform"], "metaads");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        events_named(&receiver.received(), "account.ads.initial_sync_completed").len(),
        1
    );

    // Changing the Page later updates the Facebook account in place; the ads account
    // keeps its parent.
    let other = pages.body["pages"][1]["id"].as_str().unwrap().to_owned();
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/accounts/{parent}/facebook-page"),
            Some(json!({"selectedPageId": other})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let now = app
        .get(&format!("/v1/accounts/{parent}/facebook-page"))
        .await;
    assert_eq!(now.body["selectedPageId"], other.as_str());
    assert_eq!(app.account_json(&parent).await["_id"], parent.as_str());
    assert_eq!(
        app.account_json(&ads_id).await["parentAccountId"],
        parent.as_str()
    );
}

#[tokio::test]
async fn an_allowlist_is_validated_persisted_replaced_by_the_latest_call_and_echoed_by_the_sync() {
    let (app, receiver) = spawn().await;
    let first = app.default_profile().await;
    // A first connect shows which ad accounts the sandbox user "buyer" has (ids derive
    // from the user name, so every login of "buyer" sees the same ones).
    let auth = authorize(&app, &ads_path(&first, "")).await;
    log_in(&app, &auth, "buyer", 3).await;
    let sync = &wait_for_event(&receiver, "account.ads.initial_sync_completed", 1).await[0];
    let visible: Vec<String> = sync["account"]["platformAdAccountIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(visible.len(), 3);
    // The third is disabled: the sync still reads every visible one in scope.
    assert_eq!(sync["sync"]["totalAds"], 3 + 4 + 5);

    // On the login that exists now: checked against /me/adaccounts, persisted, replaced.
    let (a, b, disabled) = (&visible[0], &visible[1], &visible[2]);
    let r = app
        .get(&ads_path(
            &first,
            &format!("&adAccountIds={a}&adAccountIds={b}"),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["alreadyConnected"], true);
    assert_eq!(r.body["scopedAdAccountIds"], json!([a, b]));
    let kept = app.get(&ads_path(&first, "")).await;
    assert_eq!(
        kept.body["scopedAdAccountIds"],
        json!([a, b]),
        "omitted keeps it"
    );
    let bare = b.trim_start_matches("act_");
    let replaced = app
        .get(&ads_path(&first, &format!("&adAccountId={bare}")))
        .await;
    assert_eq!(
        replaced.body["scopedAdAccountIds"],
        json!([b]),
        "the latest call wins"
    );
    let ads_id = replaced.body["accountId"].as_str().unwrap().to_owned();
    assert_eq!(
        app.account_json(&ads_id).await["metadata"]["scopedAdAccountIds"],
        json!([b])
    );

    let r = app.get(&ads_path(&first, "&adAccountId=act_999")).await;
    assert_error(&r, 400, "invalid_field_value");
    let r = app.get(&ads_path(&first, "&adAccountIds=not-an-id")).await;
    assert_error(&r, 400, "invalid_field_value");
    let r = app
        .get(&ads_path(&first, &format!("&adAccountId={disabled}")))
        .await;
    assert_error(&r, 400, "ad_account_unusable");
    assert_eq!(r.body["details"]["accountStatus"], 2, "{}", r.text);
    assert_eq!(
        app.get(&ads_path(&first, "")).await.body["scopedAdAccountIds"],
        json!([b]),
        "a refused call changes nothing"
    );

    // A new login with a single ad account in scope: the sync reads only it and echoes it.
    let second = app.create_profile("Second").await;
    let auth = authorize(&app, &ads_path(&second, &format!("&adAccountId={b}"))).await;
    log_in(&app, &auth, "buyer", 3).await;
    let syncs = wait_for_event(&receiver, "account.ads.initial_sync_completed", 2).await;
    let scoped = syncs
        .iter()
        .find(|e| e["profiles"][0]["id"] == second.to_string())
        .unwrap();
    assert_eq!(scoped["account"]["platformAdAccountId"], b.as_str());
    assert_eq!(
        scoped["account"]["platformAdAccountIds"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        scoped["sync"]["totalAds"], 4,
        "only the second ad account's ads"
    );

    // A scope naming an ad account the login cannot see fails the login back to the app.
    let third = app.create_profile("Third").await;
    let auth = authorize(&app, &ads_path(&third, "&adAccountId=act_999")).await;
    let done = log_in(&app, &auth, "buyer", 3).await;
    let landed = query(&Url::parse(&location(&done)).unwrap());
    assert_eq!(landed["error"], "invalid_field_value", "{landed:?}");
    let q = format!("/v1/accounts?profileId={third}");
    assert_eq!(
        app.get(&q).await.body["accounts"],
        json!([]),
        "nothing half-made"
    );
}

#[tokio::test]
async fn a_facebook_login_without_ads_permissions_logs_in_again_and_bad_requests_are_refused() {
    let (app, _receiver) = spawn().await;
    let profile = app.default_profile().await;
    app.connect_standard(Platform::Facebook, "", &profile, "pager")
        .await;
    // The Pages login did not grant the ads permissions: a new login is needed.
    let auth = authorize(&app, &ads_path(&profile, "")).await;
    let done = log_in(&app, &auth, "pager", 2).await;
    let landed = query(&Url::parse(&location(&done)).unwrap());
    assert_eq!(landed["connected"], "metaads");
    let facebook = app.get("/v1/accounts?platform=facebook").await;
    assert_eq!(
        facebook.body["accounts"].as_array().unwrap().len(),
        1,
        "the Page account was updated in place: {}",
        facebook.text
    );
    // force=true always asks for a login.
    let r = app
        .get(&ads_path(&profile, "").replace("force=false", "force=true"))
        .await;
    assert!(r.body["authUrl"].is_string(), "{}", r.text);

    let r = app
        .get(&ads_path(&profile, "").replace("loginMode=classic", "loginMode=business"))
        .await;
    assert_eq!(r.status, 503, "{}", r.text);
    let r = app
        .get(&format!("/v1/connect/instagram/ads?profileId={profile}"))
        .await;
    assert_error(&r, 400, "unsupported_platform");
    let r = app
        .get(&format!("/v1/connect/metaads?profileId={profile}"))
        .await;
    assert_error(&r, 400, "unsupported_platform");
    let r = app.get("/v1/connect/facebook/ads").await;
    assert_error(&r, 400, "validation_error");
    let r = app
        .get(&format!(
            "/v1/connect/facebook/ads?profileId={profile}&loginMode=sideways"
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}
