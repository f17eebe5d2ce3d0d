//! Platform quota through the sandbox (docs/quota.md): connects count the platform's units,
//! the operator sees them, an exhausted platform stops connects and refreshes with
//! QUOTA_EXCEEDED 429 (never a 502), the platforms' real quota errors do the same, 80% of
//! a limit is told once, and replicas on one store share the counts.

use crate::flows::*;
use crate::helpers::*;
use crate::webhooks::{Receiver, create_webhook};
use chrono::Duration;
use plugboard_core::{ManualClock, Platform};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use url::Url;

fn clock() -> Arc<ManualClock> {
    // 2030-03-17T17:46:40Z: hours before the UTC day ends, so an hour's moves stay in it.
    Arc::new(ManualClock::new(
        chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
    ))
}

/// The operator's view of one platform today.
async fn quota_of(app: &TestApp, key: &str, platform: Platform) -> Value {
    let r = app.call_as(key, Method::GET, "/v1/admin/quota", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["platform"] == platform.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{platform} not shown: {}", r.text))
}

/// The browser lands on the integrator's redirect with these parameters.
async fn connect_ends_with(app: &TestApp, platform: Platform, username: &str) -> Value {
    let profile = app.default_profile().await;
    let extra = format!("&redirect_url={}", urlencode(APP_REDIRECT));
    let auth = app.start_connect(platform, &profile, &extra).await;
    let callback = app.consent(&auth, username, "approve", None).await;
    let done = app.finish_in_browser(&callback, None).await;
    let landed = Url::parse(&location(&done)).unwrap();
    json!(query(&landed))
}

fn assert_quota_exceeded(r: &Reply, platform: Platform) {
    assert_error(r, 429, "QUOTA_EXCEEDED");
    let message = r.body["error"].as_str().unwrap();
    assert!(message.contains(platform.as_str()), "{message}");
    assert!(message.contains("resume at"), "{message}");
    assert_eq!(
        r.body["details"]["platform"],
        platform.as_str(),
        "{}",
        r.text
    );
    let reset = r.body["details"]["resetAt"].as_str().unwrap();
    assert!(message.contains(reset), "{message} names {reset}");
    assert!(r.headers.contains_key("retry-after"), "{:?}", r.headers);
}

#[tokio::test]
async fn a_youtube_connect_counts_its_data_api_units_and_the_operator_sees_them() {
    let app = spawn_app().await;
    let before = quota_of(&app, &app.key, Platform::Youtube).await;
    assert_eq!(
        (before["calls"].clone(), before["units"].clone()),
        (json!(0), json!(0))
    );
    let profile = app.default_profile().await;
    app.connect_standard(Platform::Youtube, "", &profile, "counted_channel")
        .await;
    let yt = quota_of(&app, &app.key, Platform::Youtube).await;
    let (calls, units) = (yt["calls"].as_u64().unwrap(), yt["units"].as_u64().unwrap());
    // The code exchange at Google's token endpoint costs no Data API unit; each
    // channels.list costs one.
    assert!(units >= 1, "{yt}");
    assert!(
        calls > units,
        "the token call is counted without units: {yt}"
    );
    assert_eq!(yt["measure"], "units");
    assert_eq!(yt["used"], units);
    assert_eq!(yt["limit"], 10_000);
    assert_eq!(yt["percentUsed"], json!(units as f64 / 100.0));
    assert_eq!(yt["exhausted"], false);
    assert_eq!(yt["warned"], false);
    assert_eq!(yt["quotaErrors"], 0);
    assert!(yt["lastCallAt"].as_str().is_some_and(|t| t.ends_with('Z')));

    // X's rate-limit headers and Meta's usage percentages are kept as they came.
    app.connect_standard(Platform::Twitter, "", &profile, "counted_x")
        .await;
    let x = quota_of(&app, &app.key, Platform::Twitter).await;
    assert_eq!(x["measure"], "calls");
    assert_eq!(x["limit"], Value::Null, "no limit unless configured");
    assert_eq!(x["rateLimit"]["limit"], 900, "{x}");
    assert!(x["rateLimit"]["remaining"].as_u64().is_some(), "{x}");
    app.connect_standard(Platform::Threads, "", &profile, "counted_threads")
        .await;
    let threads = quota_of(&app, &app.key, Platform::Threads).await;
    assert_eq!(threads["measure"], "percent");
    assert_eq!(threads["metaUsage"]["app"]["callCount"], 2, "{threads}");
    assert_eq!(threads["used"], 2);
    assert_eq!(threads["limit"], 100);

    let whole = app.get("/v1/admin/quota").await;
    assert_eq!(whole.body["warningPercent"], 80);
    assert_eq!(whole.body["notCounted"], json!(["bluesky", "telegram"]));
    let day = whole.body["day"].as_str().unwrap();
    assert!(
        whole.body["dayEndsAt"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00.000Z"),
        "{}",
        whole.text
    );
    assert_eq!(day.len(), 10);
}

#[tokio::test]
async fn a_low_limit_makes_the_next_connect_and_refresh_fail_with_quota_exceeded() {
    let clock = clock();
    let app = spawn_app_full_with(
        |c| {
            c.quota_daily_limits.insert(Platform::Youtube, 1);
        },
        clock.clone(),
    )
    .await;
    let profile = app.default_profile().await;
    let minted = app
        .post(
            "/v1/oauth/tickets",
            json!({"platform": "youtube", "redirectUrl": APP_REDIRECT}),
        )
        .await;
    assert_eq!(minted.status, 201, "{}", minted.text);
    let q = app
        .connect_standard(Platform::Youtube, "", &profile, "limited_channel")
        .await;
    let account = q["accountId"].clone();
    let yt = quota_of(&app, &app.key, Platform::Youtube).await;
    assert_eq!(yt["exhausted"], true, "{yt}");
    assert_eq!(yt["exhaustedReason"], "limit_reached");
    assert_eq!(yt["resetsAt"], "2030-03-18T00:00:00.000Z");

    let r = app
        .get(&format!(
            "/v1/connect/youtube?profileId={profile}&redirect_url={}",
            urlencode(APP_REDIRECT)
        ))
        .await;
    assert_quota_exceeded(&r, Platform::Youtube);
    assert_eq!(r.headers["retry-after"], "Mon, 18 Mar 2030 00:00:00 GMT");
    // Ticket links: none is minted, and one minted before says why it cannot be used.
    let r = app
        .post(
            "/v1/oauth/tickets",
            json!({"platform": "youtube", "redirectUrl": APP_REDIRECT}),
        )
        .await;
    assert_quota_exceeded(&r, Platform::Youtube);
    let link = minted.body["authUrl"].as_str().unwrap();
    let page = reply(app.client.get(link).send().await.unwrap()).await;
    assert_eq!(page.status, 400, "{}", page.text);
    assert!(page.text.contains("quota"), "{}", page.text);

    // The worker defers the account to the reset and leaves its grant alone.
    clock.advance(Duration::minutes(50));
    let pass = app.services.refresh_due("w").await.unwrap();
    assert_eq!(
        (pass.deferred, pass.dead, pass.refreshed),
        (1, 0, 0),
        "{pass:?}"
    );
    let a = app.account_json(&account).await;
    assert_eq!(a["needsReconnection"], false, "{a}");
    assert_eq!(
        app.services.refresh_due("w").await.unwrap(),
        Default::default(),
        "deferred to the reset, not retried every pass"
    );
    // On demand, the same answer.
    let r = app
        .call(
            Method::POST,
            &format!("/v1/accounts/{account}/refresh-token"),
            None,
        )
        .await;
    assert_quota_exceeded(&r, Platform::Youtube);

    // Other platforms are untouched; the next UTC day starts again.
    app.start_connect(Platform::Twitter, &profile, "").await;
    clock.advance(Duration::hours(7));
    assert_eq!(
        quota_of(&app, &app.key, Platform::Youtube).await["exhausted"],
        false
    );
    let pass = app.services.refresh_due("w").await.unwrap();
    assert_eq!((pass.refreshed, pass.dead), (1, 0), "{pass:?}");
    assert_eq!(app.account_json(&account).await["needsReconnection"], false);
}

#[tokio::test]
async fn the_platforms_real_quota_errors_fail_the_connect_with_quota_exceeded() {
    for (platform, reason) in [
        (Platform::Facebook, "code 4"),
        (Platform::Youtube, "quotaExceeded"),
        (Platform::Twitter, "429"),
        (Platform::Reddit, "429"),
    ] {
        let iso = spawn_isolated(platform, |_| {}).await;
        iso.fault(platform, json!({"quota": "exceeded"})).await;
        let landed = connect_ends_with(&iso.app, platform, "throttled_user").await;
        assert_eq!(
            landed["error"], "QUOTA_EXCEEDED",
            "{platform} ({reason}): {landed}"
        );
        assert_eq!(landed["platform"], platform.as_str());
        let message = landed["error_message"].as_str().unwrap();
        assert!(message.contains("refusing"), "{platform}: {message}");
        assert_eq!(iso.app.account_count().await, 0);

        let seen = quota_of(&iso.app, &iso.app.key, platform).await;
        assert_eq!(seen["exhausted"], true, "{platform}: {seen}");
        assert_eq!(seen["exhaustedReason"], "platform_refused");
        assert_eq!(seen["quotaErrors"], 1, "{platform}: {seen}");
        // Until the reset the platform gave, connects stop before the platform is asked.
        let profile = iso.app.default_profile().await;
        let r = iso
            .app
            .get(&format!("/v1/connect/{platform}?profileId={profile}"))
            .await;
        assert_quota_exceeded(&r, platform);
        match platform {
            Platform::Facebook => {
                assert_eq!(seen["metaUsage"]["app"]["callCount"], 100, "{seen}");
            }
            Platform::Twitter | Platform::Reddit => {
                assert_eq!(seen["rateLimit"]["remaining"], 0, "{seen}");
            }
            _ => assert_eq!(
                seen["units"], 1,
                "the refused channels.list still costs a unit"
            ),
        }
    }
}

#[tokio::test]
async fn the_eighty_percent_warning_is_delivered_once() {
    let app = spawn_app_with(|c| {
        c.webhooks_allow_private = true;
        c.quota_daily_limits.insert(Platform::Youtube, 5);
    })
    .await;
    let receiver = Receiver::start().await;
    create_webhook(
        &app,
        json!({"name": "ops", "url": receiver.url, "events": ["platform.quota.warning"]}),
    )
    .await;
    let profile = app.default_profile().await;
    let mut connected = 0;
    while quota_of(&app, &app.key, Platform::Youtube).await["used"]
        .as_u64()
        .unwrap()
        < 5
    {
        app.connect_standard(
            Platform::Youtube,
            "",
            &profile,
            &format!("channel_{connected}"),
        )
        .await;
        connected += 1;
    }
    let got = receiver.wait_for(1, 30).await;
    let body = got[0].json();
    assert_eq!(body["event"], "platform.quota.warning");
    assert_eq!(body["quota"]["platform"], "youtube");
    assert_eq!(body["quota"]["measure"], "units");
    assert_eq!(body["quota"]["limit"], 5);
    assert_eq!(body["quota"]["used"], 4, "sent when it crossed 80%: {body}");
    assert_eq!(body["quota"]["percentUsed"], 80.0);
    assert!(body.get("profiles").is_none(), "{body}");
    assert_eq!(got[0].header("X-Zernio-Event"), "platform.quota.warning");

    // At 100% the day's warning is not repeated; connects stop instead.
    let yt = quota_of(&app, &app.key, Platform::Youtube).await;
    assert_eq!(
        (yt["warned"].clone(), yt["exhausted"].clone()),
        (json!(true), json!(true))
    );
    app.services.dispatch_webhook_events("t").await.unwrap();
    app.services.deliver_webhooks("t").await.unwrap();
    assert_eq!(receiver.received().len(), 1, "{:?}", receiver.received());
}

#[tokio::test]
async fn only_an_operator_key_sees_the_quota() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let keys = [
        (
            "read-only",
            app.create_key(json!({"name": "ro", "permission": "read"}))
                .await,
        ),
        (
            "profile-scoped",
            app.create_key(
                json!({"name": "p", "scope": "profiles", "profileIds": [profile.to_string()]}),
            )
            .await,
        ),
        (
            "restricted",
            app.create_key(json!({"name": "r", "disabledResourceGroups": ["analytics"]}))
                .await,
        ),
    ];
    for (what, key) in &keys {
        let r = app.call_as(key, Method::GET, "/v1/admin/quota", None).await;
        assert_error(&r, 403, "insufficient_permissions");
        assert!(
            r.body["error"].as_str().unwrap().contains("operator"),
            "{what}: {}",
            r.text
        );
    }
    // Another owner's unrestricted key is not the operator's either.
    let later = app.services.clock.now() + Duration::minutes(1);
    let other = plugboard_store::Owner {
        id: plugboard_core::OwnerId::generate(later.timestamp()),
        name: "Tenant".into(),
        email: None,
        created_at: later,
    };
    app.services.store.insert_owner(&other).await.unwrap();
    let theirs = app
        .services
        .create_api_key_for(
            &other.id,
            plugboard_service::api_keys::NewApiKey::full("tenant"),
        )
        .await
        .unwrap();
    let r = app
        .call_as(theirs.key.expose(), Method::GET, "/v1/admin/quota", None)
        .await;
    assert_error(&r, 403, "insufficient_permissions");
    // An unrestricted key made by the operator is an operator key.
    let second = app.create_key(json!({"name": "ops"})).await;
    let r = app
        .call_as(&second, Method::GET, "/v1/admin/quota", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn two_instances_on_one_store_share_the_counts() {
    let first = spawn_app().await;
    let dir = first.data_dir.clone();
    let mut second = spawn_app_with(move |c| c.data_dir = dir).await;
    // The second instance serves the same store, and so the first instance's key.
    second.key = first.key.clone();
    let profile = first.default_profile().await;
    first
        .connect_standard(Platform::Youtube, "", &profile, "replica_one")
        .await;
    let after_one = quota_of(&first, &first.key, Platform::Youtube).await["units"]
        .as_u64()
        .unwrap();
    second
        .connect_standard(Platform::Youtube, "", &profile, "replica_two")
        .await;
    let seen_by_first = quota_of(&first, &first.key, Platform::Youtube).await;
    let seen_by_second = quota_of(&second, &second.key, Platform::Youtube).await;
    assert_eq!(
        seen_by_first["units"],
        json!(after_one * 2),
        "{seen_by_first}"
    );
    assert_eq!(seen_by_first, seen_by_second);
}
