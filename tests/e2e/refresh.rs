//! Token refresh through the sandbox: ahead of expiry on a moved clock, coalesced between
//! racing workers, backed off after transient failures, and a dead grant marking the
//! account for reconnection until a reconnect clears it.

use crate::flows::*;
use crate::helpers::*;
use chrono::Duration;
use plugboard_core::{AccountId, ManualClock, Platform};
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
    ))
}

async fn sealed_tokens(app: &TestApp, id: &str) -> String {
    let owner = app.owner().await;
    let a = app
        .services
        .store
        .get_account(&owner, &AccountId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    a.tokens.unwrap().as_stored().to_owned()
}

#[tokio::test]
async fn every_refreshable_platform_is_refreshed_ahead_of_expiry() {
    let clock = clock();
    let app = spawn_app_full_with(|_| {}, clock.clone()).await;
    let profile = app.default_profile().await;
    // Access tokens of hours, and the long-lived ones that are extended (Instagram Login,
    // Threads: 60 days).
    let short = [
        (Platform::Twitter, ""),
        (Platform::Linkedin, ""),
        (Platform::Tiktok, ""),
        (Platform::Youtube, ""),
        (Platform::Reddit, ""),
        (Platform::Snapchat, ""),
    ];
    let long = [
        (Platform::Instagram, "instagram_login"),
        (Platform::Threads, ""),
    ];
    let mut ids = Vec::new();
    for (platform, login) in short.iter().chain(long.iter()) {
        let q = app
            .connect_standard(*platform, login, &profile, &format!("fresh_{platform}"))
            .await;
        ids.push((
            *platform,
            q["accountId"].clone(),
            sealed_tokens(&app, &q["accountId"]).await,
        ));
    }
    assert_eq!(
        app.services.refresh_due("w").await.unwrap().refreshed,
        0,
        "nothing is due yet"
    );
    // X, TikTok, Google, Reddit and Snapchat issue tokens of hours: a day later they are
    // due.
    clock.advance(Duration::days(1));
    let pass = app.services.refresh_due("w").await.unwrap();
    assert_eq!(pass.dead, 0, "{pass:?}");
    // Ten minutes before LinkedIn's 60-day token (and Instagram's and Threads' long-lived
    // ones) would expire.
    clock.advance(Duration::days(59) - Duration::minutes(10));
    let pass2 = app.services.refresh_due("w").await.unwrap();
    assert_eq!(pass2.dead, 0, "{pass2:?}");
    for (platform, id, before) in &ids {
        let after = sealed_tokens(&app, id).await;
        assert_ne!(&after, before, "{platform} was refreshed");
        let a = app.account_json(id).await;
        assert_eq!(a["needsReconnection"], false, "{platform}: {a}");
        let expires =
            chrono::DateTime::parse_from_rfc3339(a["tokenExpiresAt"].as_str().unwrap()).unwrap();
        assert!(
            expires > app.services.clock.now(),
            "{platform}: a fresh expiry"
        );
    }
}

#[tokio::test]
async fn two_workers_racing_refresh_a_rotating_token_once() {
    let clock = clock();
    let app = spawn_app_full_with(|_| {}, clock.clone()).await;
    let profile = app.default_profile().await;
    let q = app
        .connect_standard(Platform::Twitter, "", &profile, "raced")
        .await;
    clock.advance(Duration::hours(2));
    let (a, b) = tokio::join!(
        app.services.refresh_due("worker-a"),
        app.services.refresh_due("worker-b")
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.refreshed + b.refreshed, 1, "{a:?} {b:?}");
    assert_eq!(a.dead + b.dead, 0);
    // X rotates refresh tokens: had both used the old one, the second would have been
    // refused. The stored one is alive.
    let r = app
        .call(
            Method::POST,
            &format!("/v1/accounts/{}/refresh-token", q["accountId"]),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["tokenExpiresAt"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn a_dead_grant_marks_the_account_and_a_reconnect_clears_it() {
    let clock = clock();
    let iso = spawn_isolated_with_clock(Platform::Tiktok, clock.clone()).await;
    let app = &iso.app;
    let profile = app.default_profile().await;
    let q = app
        .connect_standard(Platform::Tiktok, "", &profile, "doomed")
        .await;
    let id = q["accountId"].clone();
    iso.fault(Platform::Tiktok, json!({"token": "invalid_grant"}))
        .await;
    clock.advance(Duration::days(1));
    let pass = app.services.refresh_due("w").await.unwrap();
    assert_eq!(pass.dead, 1, "{pass:?}");
    let listed = app.get("/v1/accounts?status=disconnected").await;
    assert_eq!(listed.body["accounts"][0]["_id"], id, "{}", listed.text);
    assert_eq!(listed.body["accounts"][0]["needsReconnection"], true);
    let r = app
        .call(
            Method::POST,
            &format!("/v1/accounts/{id}/refresh-token"),
            None,
        )
        .await;
    assert_error(&r, 409, "reconnect_required");
    assert_eq!(
        app.services.refresh_due("w").await.unwrap(),
        Default::default(),
        "not retried"
    );
    iso.fault(Platform::Tiktok, json!({})).await;
    let again = app
        .connect_standard(Platform::Tiktok, "", &profile, "doomed")
        .await;
    assert_eq!(again["accountId"], id);
    assert_eq!(app.account_json(&id).await["needsReconnection"], false);
}

#[tokio::test]
async fn a_transient_failure_backs_off_and_is_retried() {
    let clock = clock();
    let iso = spawn_isolated_with_clock(Platform::Reddit, clock.clone()).await;
    let app = &iso.app;
    let profile = app.default_profile().await;
    let q = app
        .connect_standard(Platform::Reddit, "", &profile, "flaky")
        .await;
    iso.fault(Platform::Reddit, json!({"token": "fail"})).await;
    clock.advance(Duration::hours(1));
    assert_eq!(app.services.refresh_due("w").await.unwrap().deferred, 1);
    assert_eq!(
        app.services.refresh_due("w").await.unwrap(),
        Default::default(),
        "backing off"
    );
    let r = app
        .call(
            Method::POST,
            &format!("/v1/accounts/{}/refresh-token", q["accountId"]),
            None,
        )
        .await;
    assert_error(&r, 502, "refresh_failed");
    iso.fault(Platform::Reddit, json!({})).await;
    clock.advance(Duration::minutes(10));
    assert_eq!(app.services.refresh_due("w").await.unwrap().refreshed, 1);
    assert_eq!(
        app.account_json(&q["accountId"]).await["needsReconnection"],
        false
    );
}

#[tokio::test]
async fn a_bluesky_session_rotates_and_a_revoked_app_password_needs_reconnection() {
    let app = spawn_app().await;
    let handle = format!("r{}.test", hex::encode(rand::random::<[u8; 4]>()));
    let r = app
        .post(
            "/sandbox/bluesky/_accounts",
            json!({"handle": handle, "password": "main-pass-1"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let pw = app
        .post(
            &format!("/sandbox/bluesky/_accounts/{handle}/app-passwords"),
            json!({"name": "plugboard"}),
        )
        .await;
    let state = format!("profile_id={}", app.default_profile().await);
    let c = app
        .post(
            "/v1/connect/bluesky/credentials",
            json!({"identifier": handle, "appPassword": pw.body["password"], "state": state}),
        )
        .await;
    let id = c.body["account"]["_id"].as_str().unwrap().to_owned();
    let before = sealed_tokens(&app, &id).await;
    let r = app
        .call(
            Method::POST,
            &format!("/v1/accounts/{id}/refresh-token"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_ne!(
        sealed_tokens(&app, &id).await,
        before,
        "refreshSession rotated the session"
    );
    let revoked = app
        .call(
            Method::DELETE,
            &format!("/sandbox/bluesky/_accounts/{handle}/app-passwords/plugboard"),
            None,
        )
        .await;
    assert!(revoked.status.is_success(), "{}", revoked.text);
    let r = app
        .call(
            Method::POST,
            &format!("/v1/accounts/{id}/refresh-token"),
            None,
        )
        .await;
    assert_error(&r, 409, "reconnect_required");
    assert_eq!(app.account_json(&id).await["needsReconnection"], true);
}

#[tokio::test]
async fn platforms_that_cannot_refresh_say_so() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let fb = app
        .connect_standard(Platform::Facebook, "", &profile, "pages_forever")
        .await;
    let r = app
        .call(
            Method::POST,
            &format!("/v1/accounts/{}/refresh-token", fb["accountId"]),
            None,
        )
        .await;
    assert_error(&r, 400, "refresh_not_supported");
    let r = app
        .call(
            Method::POST,
            "/v1/accounts/0123456789abcdef01234567/refresh-token",
            None,
        )
        .await;
    assert_error(&r, 404, "account_not_found");
}

#[tokio::test]
async fn disconnecting_revokes_the_grant_at_the_platform() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let q = app
        .connect_standard(Platform::Linkedin, "", &profile, "leaving")
        .await;
    let id = q["accountId"].clone();
    let owner = app.owner().await;
    let account = app
        .services
        .store
        .get_account(&owner, &AccountId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let tokens: plugboard_service::connect::AccountTokens = app
        .services
        .keyring
        .open_json(
            &account.own_tokens_context(),
            account.tokens.as_ref().unwrap(),
        )
        .unwrap();
    let whoami = |token: String| {
        let client = app.client.clone();
        let url = app.url("/sandbox/linkedin/v2/userinfo");
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(whoami(tokens.tokens.access_token.clone()).await, 200);
    let r = app
        .call(Method::DELETE, &format!("/v1/accounts/{id}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        whoami(tokens.tokens.access_token).await,
        401,
        "the sandbox no longer accepts the token"
    );
}

#[tokio::test]
async fn a_platform_never_has_more_refreshes_in_flight_than_its_limit_across_replicas() {
    let clock = clock();
    let app = spawn_app_full_with(|_| {}, clock.clone()).await;
    let profile = app.default_profile().await;
    for user in ["x1", "x2", "x3"] {
        app.connect_standard(Platform::Twitter, "", &profile, user)
            .await;
    }
    app.connect_standard(Platform::Reddit, "", &profile, "r1")
        .await;
    clock.advance(Duration::hours(2));
    let limit = plugboard_service::refresh::refresh_concurrency(Platform::Twitter);
    assert_eq!(limit, 2);
    // Another replica is busy with both of X's slots: this one refreshes only Reddit now.
    let now = app.services.clock.now();
    for slot in 0..limit {
        let lease = plugboard_service::refresh::refresh_slot(Platform::Twitter, slot);
        assert!(
            app.services
                .store
                .acquire_lease(&lease, "other-replica", now, Duration::seconds(60))
                .await
                .unwrap()
        );
    }
    let pass = app.services.refresh_due("this-replica").await.unwrap();
    assert_eq!((pass.refreshed, pass.skipped), (1, 3), "{pass:?}");
    // One slot frees up: X goes on through it, one account at a time; the account that
    // met the busy slot waits.
    let slot0 = plugboard_service::refresh::refresh_slot(Platform::Twitter, 0);
    app.services
        .store
        .release_lease(&slot0, "other-replica")
        .await
        .unwrap();
    let pass = app.services.refresh_due("this-replica").await.unwrap();
    assert_eq!((pass.refreshed, pass.skipped), (2, 1), "{pass:?}");
    // The other replica's lease runs out: the last one is refreshed.
    clock.advance(Duration::seconds(61));
    let pass = app.services.refresh_due("this-replica").await.unwrap();
    assert_eq!((pass.refreshed, pass.skipped), (1, 0), "{pass:?}");
    assert_eq!(pass.dead + pass.deferred, 0, "{pass:?}");
}

/// Seeds `n` TikTok accounts through the store whose refresh tokens the sandbox knows
/// (`POST /sandbox/_grants`), due once the clock moves two hours.
async fn seed_refreshable(app: &TestApp, n: usize) -> String {
    let profile = app.default_profile().await;
    let nonce = hex::encode(rand::random::<[u8; 4]>());
    let owner = app.owner().await;
    let now = app.services.clock.now();
    let mut grants = Vec::new();
    for i in 0..n {
        let uid = format!("bl{nonce}{i}");
        let refresh = format!("backlog-{nonce}-{i}-refresh");
        let context = plugboard_store::Account::tokens_context(&owner, Platform::Tiktok, &uid, "");
        let tokens = app.services.keyring.seal_json(
            &context,
            &json!({"tokens": {"access_token": format!("backlog-{nonce}-{i}"), "refresh_token": refresh}}),
        );
        app.services
            .store
            .upsert_account(
                &plugboard_store::AccountUpsert {
                    owner_id: owner.clone(),
                    profile_id: profile.clone(),
                    platform: Platform::Tiktok,
                    platform_user_id: uid.clone(),
                    destination_id: String::new(),
                    username: Some(uid),
                    display_name: None,
                    profile_picture: None,
                    profile_url: None,
                    followers_count: None,
                    parent_account_id: None,
                    enabled: true,
                    metadata: Default::default(),
                    tokens: Some(tokens),
                    token_expires_at: Some(now + Duration::hours(2)),
                    scopes: vec![],
                },
                None,
                now,
            )
            .await
            .unwrap();
        grants.push(json!({"username": format!("backlog_{nonce}_{i}"), "refreshToken": refresh}));
    }
    // Bodies are limited to 256 KiB: a thousand grants at a time.
    for chunk in grants.chunks(1000) {
        let r = app
            .post(
                "/sandbox/_grants",
                json!({"platform": "tiktok", "grants": chunk}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    nonce
}

async fn refreshes_of(app: &TestApp, nonce: &str) -> Vec<u64> {
    let stats = app.get("/sandbox/_stats").await;
    stats.body["refreshes"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(user, _)| user.starts_with(&format!("tiktok/backlog_{nonce}_")))
        .map(|(_, n)| n.as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_backlog_larger_than_a_batch_is_refreshed_in_one_round_each_token_once() {
    let batch = plugboard_service::refresh::BATCH as u32;
    let clock = clock();
    let app = spawn_app_full_with(|_| {}, clock.clone()).await;
    let nonce = seed_refreshable(&app, 2 * batch as usize + 50).await;
    clock.advance(Duration::hours(2));
    // One pass takes one batch, all due: more may be waiting.
    let first = app.services.refresh_due("w").await.unwrap();
    assert_eq!(
        (first.refreshed, first.batch_full),
        (batch, true),
        "{first:?}"
    );
    assert!(first.more_due());
    // A round goes on until a pass comes back short.
    let rest = app.services.refresh_backlog("w", || false).await.unwrap();
    assert_eq!(
        (rest.refreshed, rest.dead, rest.deferred, rest.batch_full),
        (batch + 50, 0, 0, false),
        "{rest:?}"
    );
    assert!(!rest.more_due());
    let counts = refreshes_of(&app, &nonce).await;
    assert_eq!(counts.len(), 2 * batch as usize + 50);
    assert!(counts.iter().all(|n| *n == 1), "each exactly once");
    assert_eq!(
        app.services.refresh_backlog("w", || false).await.unwrap(),
        Default::default(),
        "nothing left"
    );
    // A full batch that got nowhere (every slot held elsewhere) does not ask for more.
    let skipped_only = plugboard_service::refresh::RefreshPass {
        skipped: batch,
        batch_full: true,
        ..Default::default()
    };
    assert!(!skipped_only.more_due());
}

#[tokio::test]
async fn a_stop_lets_the_refreshes_in_flight_finish_and_starts_no_more() {
    let clock = clock();
    let app = spawn_app_full_with(|_| {}, clock.clone()).await;
    let nonce = seed_refreshable(&app, 40).await;
    clock.advance(Duration::hours(2));
    // The stop is asked before each account: the first three go ahead, then it says stop.
    let asked = std::sync::atomic::AtomicUsize::new(0);
    let pass = app
        .services
        .refresh_backlog("w", || {
            asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 3
        })
        .await
        .unwrap();
    assert_eq!((pass.refreshed, pass.skipped), (3, 37), "{pass:?}");
    assert_eq!(refreshes_of(&app, &nonce).await.len(), 3);
    // The next round takes the rest.
    let rest = app.services.refresh_backlog("w", || false).await.unwrap();
    assert_eq!(rest.refreshed, 37, "{rest:?}");
}
