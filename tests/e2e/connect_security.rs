//! The connect flow's security properties (issue: state single use and expiry, redirect
//! validation, reconnects in place, failures that create nothing, CSRF on the picker).

use crate::flows::*;
use crate::helpers::*;
use chrono::Duration;
use plugboard_core::{ManualClock, Platform};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;
use url::Url;

fn landed(r: &Reply) -> std::collections::HashMap<String, String> {
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    query(&Url::parse(&location(r)).unwrap())
}

#[tokio::test]
async fn callback_consumes_state_once_under_concurrent_requests() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let extra = format!("&redirect_url={}", urlencode(APP_REDIRECT));
    let auth = app.start_connect(Platform::Twitter, &profile, &extra).await;
    let callback = app.consent(&auth, "racer", "approve", None).await;
    let racers = (0..20).map(|_| {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let url = callback.clone();
        tokio::spawn(async move { client.get(url).send().await.unwrap().status() })
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let winners = statuses.iter().filter(|s| **s == StatusCode::FOUND).count();
    assert_eq!(winners, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::FOUND || *s == StatusCode::BAD_REQUEST),
        "{statuses:?}"
    );
    assert_eq!(app.account_count().await, 1);
}

#[tokio::test]
async fn an_unknown_or_used_state_shows_a_friendly_page_and_never_redirects() {
    let app = spawn_app().await;
    for url in [
        "/connect/twitter/callback?code=x&state=not-a-state",
        "/connect/twitter/callback?code=x",
        "/connect/twitter/callback?code=x&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let r = reply(app.client.get(app.url(url)).send().await.unwrap()).await;
        assert_eq!(r.status, 400, "{url}");
        assert!(r.headers.get("location").is_none());
        assert!(r.text.contains("start connecting again"), "{}", r.text);
        assert!(
            r.headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
    }
    let r = reply(
        app.client
            .get(app.url("/connect/myspace/callback?code=x&state=y"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_state_expires_after_fifteen_minutes() {
    let clock = Arc::new(ManualClock::new(
        chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
    ));
    let app = spawn_app_with_clock(clock.clone()).await;
    let profile = app.default_profile().await;
    let extra = format!("&redirect_url={}", urlencode(APP_REDIRECT));
    let auth = app.start_connect(Platform::Reddit, &profile, &extra).await;
    let callback = app.consent(&auth, "late", "approve", None).await;
    clock.advance(Duration::minutes(16));
    let r = reply(app.client.get(&callback).send().await.unwrap()).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("expired"), "{}", r.text);
    assert_eq!(app.account_count().await, 0);
}

#[tokio::test]
async fn a_denial_redirects_with_oauth_denied_and_creates_nothing() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    for platform in [Platform::Twitter, Platform::Linkedin, Platform::Facebook] {
        let extra = format!("&redirect_url={}", urlencode(APP_REDIRECT));
        let auth = app.start_connect(platform, &profile, &extra).await;
        let callback = app.consent(&auth, "nope", "deny", None).await;
        let q = landed(&reply(app.client.get(&callback).send().await.unwrap()).await);
        assert_eq!(q["error"], "oauth_denied", "{q:?}");
        assert_eq!(q["platform"], platform.as_str());
        assert_eq!(q["is_user_fixable"], "true");
        assert_eq!(q["stage"], "authorize");
        assert!(q.contains_key("platform_error"));
        assert!(!q.contains_key("accountId"));
    }
    assert_eq!(app.account_count().await, 0);
}

#[tokio::test]
async fn a_failed_token_exchange_redirects_with_the_error_and_creates_nothing() {
    let iso = spawn_isolated(Platform::Twitter, |_| {}).await;
    let app = &iso.app;
    let profile = app.default_profile().await;
    for fault in ["fail", "invalid_grant", "malformed"] {
        iso.fault(Platform::Twitter, json!({"token": fault})).await;
        let extra = format!("&redirect_url={}", urlencode(APP_REDIRECT));
        let auth = app.start_connect(Platform::Twitter, &profile, &extra).await;
        let callback = app.consent(&auth, "unlucky", "approve", None).await;
        let q = landed(&reply(app.client.get(&callback).send().await.unwrap()).await);
        assert_eq!(q["error"], "token_exchange_failed", "{fault}: {q:?}");
        assert_eq!(q["stage"], "callback");
    }
    iso.fault(Platform::Twitter, json!({"identity": "fail"}))
        .await;
    let auth = app
        .start_connect(
            Platform::Twitter,
            &profile,
            &format!("&redirect_url={}", urlencode(APP_REDIRECT)),
        )
        .await;
    let callback = app.consent(&auth, "unlucky", "approve", None).await;
    let q = landed(&reply(app.client.get(&callback).send().await.unwrap()).await);
    assert_eq!(q["error"], "connection_failed", "{q:?}");
    assert_eq!(app.account_count().await, 0);
}

#[tokio::test]
async fn the_sandbox_checks_the_exact_registered_callback_of_an_isolated_app() {
    // The isolated app's client has exactly one registered redirect URI: Plugboard's fixed
    // callback. The flow working at all proves Plugboard sends exactly that URI.
    let iso = spawn_isolated(Platform::Linkedin, |_| {}).await;
    let profile = iso.app.default_profile().await;
    let q = iso
        .app
        .connect_standard(Platform::Linkedin, "", &profile, "exact")
        .await;
    assert_eq!(q["connected"], "linkedin");
}

#[tokio::test]
async fn redirect_url_must_be_absolute_http_or_an_app_scheme() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    for bad in [
        "/relative",
        "javascript:alert(1)",
        "data:text/html,x",
        "https://user:pw@app.example/",
        "http://",
    ] {
        let r = app
            .get(&format!(
                "/v1/connect/twitter?profileId={profile}&redirect_url={}",
                urlencode(bad)
            ))
            .await;
        assert_error(&r, 400, "INVALID_REDIRECT_URL");
    }
    for good in [
        "myapp://connected",
        "com.example.app:/oauth",
        "http://localhost:3000/cb",
    ] {
        let r = app
            .get(&format!(
                "/v1/connect/twitter?profileId={profile}&redirectUrl={}",
                urlencode(good)
            ))
            .await;
        assert_eq!(r.status, 200, "{good}: {}", r.text);
    }
    let long = format!("https://app.example/{}", "a".repeat(260));
    let r = app
        .get(&format!(
            "/v1/connect/twitter?profileId={profile}&redirect_url={}",
            urlencode(&long)
        ))
        .await;
    assert_error(&r, 400, "INVALID_REDIRECT_URL");
    let r = app
        .get(&format!(
            "/v1/connect/reddit?profileId={profile}&redirect_url={}",
            urlencode(&long)
        ))
        .await;
    assert_eq!(r.status, 200, "the 258-character limit is X's only");
    let r = app
        .get(&format!(
            "/v1/connect/twitter?profileId={profile}&headless=true"
        ))
        .await;
    assert_error(&r, 400, "INVALID_REDIRECT_URL");
}

#[tokio::test]
async fn connect_start_rejects_bad_parameters_in_the_documented_shape() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let cases = [
        (
            "/v1/connect/myspace?profileId=PROFILE",
            400,
            "unsupported_platform",
        ),
        (
            "/v1/connect/bluesky?profileId=PROFILE",
            400,
            "unsupported_platform",
        ),
        ("/v1/connect/twitter", 400, "validation_error"),
        ("/v1/connect/twitter?profileId=nope", 400, "invalid_id"),
        (
            "/v1/connect/twitter?profileId=0123456789abcdef01234567",
            404,
            "profile_not_found",
        ),
        (
            "/v1/connect/twitter?profileId=PROFILE&headless=maybe",
            400,
            "validation_error",
        ),
        (
            "/v1/connect/instagram?profileId=PROFILE&loginMethod=carrier_pigeon",
            400,
            "validation_error",
        ),
        (
            "/v1/connect/twitter?profileId=PROFILE&scopes=telepathy",
            400,
            "INVALID_FIELD_VALUE",
        ),
        (
            "/v1/connect/twitter?profileId=PROFILE&handoff=true",
            400,
            "INVALID_FIELD_VALUE",
        ),
        (
            "/v1/connect/twitter?profileId=PROFILE&reconnectAccountId=0123456789abcdef01234567",
            400,
            "validation_error",
        ),
    ];
    for (path, status, code) in cases {
        let r = app
            .get(&path.replace("PROFILE", &profile.to_string()))
            .await;
        assert_error(&r, status, code);
    }
    // The Python SDK's defaults are always sent and must pass.
    let r = app
        .get(&format!("/v1/connect/twitter?profileId={profile}&forceReauth=false&headless=false&loginMethod=instagram_login&handoff=false"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .call_as(
            "sk_0000000000000000000000000000000000000000000000000000000000000000",
            Method::GET,
            &format!("/v1/connect/twitter?profileId={profile}"),
            None,
        )
        .await;
    assert_error(&r, 401, "unauthorized");
}

#[tokio::test]
async fn a_platform_without_credentials_answers_platform_not_configured_when_the_sandbox_is_off() {
    let app = spawn_app_with(|c| c.sandbox = false).await;
    let profile = app.default_profile().await;
    let r = app
        .get(&format!("/v1/connect/tiktok?profileId={profile}"))
        .await;
    assert_error(&r, 400, "platform_not_configured");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("PLUGBOARD_TIKTOK_CLIENT_ID"),
        "{}",
        r.text
    );
    let r = app
        .get(&format!(
            "/v1/connect/instagram?profileId={profile}&loginMethod=facebook_login"
        ))
        .await;
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("PLUGBOARD_FACEBOOK_CLIENT_ID"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn reconnecting_the_same_identity_updates_the_account_in_place() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    for (platform, login) in [
        (Platform::Twitter, ""),
        (Platform::Facebook, ""),
        (Platform::Googlebusiness, ""),
    ] {
        let first = app
            .connect_standard(platform, login, &profile, "same_person")
            .await;
        let second = app
            .connect_standard(platform, login, &profile, "same_person")
            .await;
        assert_eq!(first["accountId"], second["accountId"], "{platform}");
    }
    assert_eq!(app.account_count().await, 3);
    let other = app
        .connect_standard(Platform::Twitter, "", &profile, "someone_else")
        .await;
    assert_eq!(app.account_count().await, 4, "{other:?}");
}

#[tokio::test]
async fn reconnect_account_id_refuses_a_login_of_another_account() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let first = app
        .connect_standard(Platform::Tiktok, "", &profile, "owner_one")
        .await;
    let id = &first["accountId"];
    let extra = format!(
        "&reconnectAccountId={id}&redirect_url={}",
        urlencode(APP_REDIRECT)
    );
    let auth = app.start_connect(Platform::Tiktok, &profile, &extra).await;
    let callback = app.consent(&auth, "intruder", "approve", None).await;
    let q = landed(&reply(app.client.get(&callback).send().await.unwrap()).await);
    assert_eq!(q["error"], "reconnect_account_mismatch", "{q:?}");
    assert_eq!(app.account_count().await, 1);
    let auth = app.start_connect(Platform::Tiktok, &profile, &extra).await;
    let callback = app.consent(&auth, "owner_one", "approve", None).await;
    let q = landed(&reply(app.client.get(&callback).send().await.unwrap()).await);
    assert_eq!(&q["accountId"], id);
    let r = app
        .get(&format!(
            "/v1/connect/twitter?profileId={profile}&reconnectAccountId={id}"
        ))
        .await;
    assert_error(&r, 400, "validation_error");
}

#[tokio::test]
async fn expected_username_and_platform_user_id_are_honoured() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let base = format!("&redirect_url={}", urlencode(APP_REDIRECT));
    let auth = app
        .start_connect(
            Platform::Threads,
            &profile,
            &format!("{base}&expectedUsername=@Somebody"),
        )
        .await;
    let callback = app.consent(&auth, "nobody", "approve", None).await;
    let q = landed(&reply(app.client.get(&callback).send().await.unwrap()).await);
    assert_eq!(q["error"], "account_mismatch", "{q:?}");
    assert!(
        q["error_message"].contains("nobody"),
        "names the authorized handle: {q:?}"
    );
    let auth = app
        .start_connect(
            Platform::Threads,
            &profile,
            &format!("{base}&expectedUsername=@SOMEBODY"),
        )
        .await;
    let callback = app.consent(&auth, "somebody", "approve", None).await;
    let q = landed(&reply(app.client.get(&callback).send().await.unwrap()).await);
    let uid = app.account_json(&q["accountId"]).await["platformUserId"]
        .as_str()
        .unwrap()
        .to_owned();
    let auth = app
        .start_connect(
            Platform::Threads,
            &profile,
            &format!("{base}&expectedPlatformUserId={uid}"),
        )
        .await;
    let callback = app.consent(&auth, "somebody_else", "approve", None).await;
    let q = landed(&reply(app.client.get(&callback).send().await.unwrap()).await);
    assert_eq!(q["error"], "account_mismatch");
    assert_eq!(app.account_count().await, 1);
}

#[tokio::test]
async fn the_hosted_picker_refuses_another_browser_and_a_form_without_its_csrf_token() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let auth = app
        .start_connect(
            Platform::Facebook,
            &profile,
            &format!("&redirect_url={}", urlencode(APP_REDIRECT)),
        )
        .await;
    let callback = app.consent(&auth, "csrf_target", "approve", None).await;
    let r = reply(app.client.get(&callback).send().await.unwrap()).await;
    let picker = location(&r);
    let stranger = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = reply(stranger.get(&picker).send().await.unwrap()).await;
    assert_eq!(
        r.status, 403,
        "another browser (no cookie) cannot open the picker"
    );
    let page = reply(app.client.get(&picker).send().await.unwrap()).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Choose a Facebook Page"));
    let token = attr_after(&page.text, "name=\"token\"", "value").unwrap();
    let choice = choices(&page.text)[0].clone();
    let action = app.url(&attr_after(&page.text, "<form", "action").unwrap());
    for csrf in ["", "0000"] {
        let r = reply(
            app.client
                .post(&action)
                .form(&[
                    ("token", token.as_str()),
                    ("csrf", csrf),
                    ("choice", choice.as_str()),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 403, "csrf {csrf:?}");
    }
    let real = attr_after(&page.text, "name=\"csrf\"", "value").unwrap();
    let r = reply(
        stranger
            .post(&action)
            .form(&[
                ("token", token.as_str()),
                ("csrf", real.as_str()),
                ("choice", choice.as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        r.status, 403,
        "the csrf token alone, without the browser cookie, is refused"
    );
    assert_eq!(app.account_count().await, 0);
    let r = reply(
        app.client
            .post(&action)
            .form(&[
                ("token", token.as_str()),
                ("csrf", real.as_str()),
                ("choice", "d:not-a-page"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400, "an unknown choice shows the form again");
    assert!(r.text.contains("not available"), "{}", r.text);
    let r = reply(
        app.client
            .post(&action)
            .form(&[
                ("token", token.as_str()),
                ("csrf", real.as_str()),
                ("choice", choice.as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(app.account_count().await, 1);
    let again = reply(app.client.get(&picker).send().await.unwrap()).await;
    assert_eq!(again.status, 404, "a completed selection is gone");
}

#[tokio::test]
async fn no_pages_granted_redirects_with_a_user_fixable_error() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    for (platform, code) in [
        (Platform::Facebook, "no_facebook_pages"),
        (Platform::Googlebusiness, "no_google_locations"),
        (Platform::Snapchat, "no_snapchat_public_profiles"),
    ] {
        let auth = app
            .start_connect(
                platform,
                &profile,
                &format!("&redirect_url={}", urlencode(APP_REDIRECT)),
            )
            .await;
        let callback = app.consent(&auth, "empty_handed", "approve", Some(0)).await;
        let q = landed(&reply(app.client.get(&callback).send().await.unwrap()).await);
        assert_eq!(q["error"], code, "{q:?}");
        assert_eq!(q["is_user_fixable"], "true");
    }
    assert_eq!(app.account_count().await, 0);
}

#[tokio::test]
async fn a_bad_pick_changes_nothing_and_concurrent_picks_connect_once() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let p = profile.to_string();
    let auth = app
        .start_connect(
            Platform::Pinterest,
            &profile,
            &format!("&headless=true&redirect_url={}", urlencode(APP_REDIRECT)),
        )
        .await;
    let callback = app.consent(&auth, "picker", "approve", Some(2)).await;
    let q = landed(&reply(app.client.get(&callback).send().await.unwrap()).await);
    let token = q["pendingDataToken"].clone();
    let r = app
        .post(
            "/v1/connect/pinterest/select-board",
            json!({"profileId": p, "boardId": "no-such-board", "tempToken": token}),
        )
        .await;
    assert_error(&r, 404, "board_not_found");
    let other = app.create_profile("Other").await;
    let r = app
        .post(
            "/v1/connect/pinterest/select-board",
            json!({"profileId": other.to_string(), "boardId": "x", "tempToken": token}),
        )
        .await;
    assert_error(&r, 403, "insufficient_permissions");
    let boards = app
        .get(&format!(
            "/v1/connect/pinterest/select-board?profileId={p}&tempToken={token}"
        ))
        .await;
    let board = boards.body["boards"][0]["id"].clone();
    let racers = (0..10).map(|_| {
        let client = app.client.clone();
        let url = app.url("/v1/connect/pinterest/select-board");
        let key = app.key.clone();
        let body = json!({"profileId": p, "boardId": board, "tempToken": token});
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        })
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(app.account_count().await, 1);
    let account = &app.get("/v1/accounts").await.body["accounts"][0];
    assert_eq!(account["metadata"]["defaultBoardId"], board);
}

#[tokio::test]
async fn selection_endpoints_need_a_key_or_the_flows_connect_token() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let p = profile.to_string();
    let auth = app
        .start_connect(
            Platform::Snapchat,
            &profile,
            &format!("&headless=true&redirect_url={}", urlencode(APP_REDIRECT)),
        )
        .await;
    let callback = app.consent(&auth, "tokened", "approve", None).await;
    let q = landed(&reply(app.client.get(&callback).send().await.unwrap()).await);
    let path = format!(
        "/v1/connect/snapchat/select-profile?profileId={p}&tempToken={}",
        q["pendingDataToken"]
    );
    let none = app.call_with(Method::GET, &path, &[], false, None).await;
    assert_error(&none, 401, "unauthorized");
    let forged = app
        .call_with(
            Method::GET,
            &path,
            &[(
                "X-Connect-Token",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            )],
            false,
            None,
        )
        .await;
    assert_error(&forged, 401, "unauthorized");
    let ok = app
        .call_with(
            Method::GET,
            &path,
            &[("X-Connect-Token", &q["connect_token"])],
            false,
            None,
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // Another owner's key sees nothing of it (tenant scoping).
    let stranger = spawn_app().await;
    let r = reqwest::Client::new()
        .get(app.url(&path))
        .bearer_auth(&stranger.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "a key of another installation is unknown here"
    );
}

#[tokio::test]
async fn tokens_stay_encrypted_in_the_store_file() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    for (platform, login) in [
        (Platform::Twitter, ""),
        (Platform::Facebook, ""),
        (Platform::Instagram, "facebook_login"),
    ] {
        app.connect_standard(platform, login, &profile, "sealed_user")
            .await;
    }
    let db = std::fs::read(app.data_dir.join("plugboard.db")).unwrap();
    let wal = std::fs::read(app.data_dir.join("plugboard.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("sbx-"),
            "a sandbox token is stored in plaintext"
        );
    }
}

#[tokio::test]
async fn instagram_selection_refuses_an_account_other_than_the_expected_one() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let p = profile.to_string();
    let extra = format!(
        "&loginMethod=facebook_login&headless=true&expectedUsername=someone_else&redirect_url={}",
        urlencode(APP_REDIRECT)
    );
    let auth = app
        .start_connect(Platform::Instagram, &profile, &extra)
        .await;
    let callback = app.consent(&auth, "ig_owner", "approve", None).await;
    let q = landed(&reply(app.client.get(&callback).send().await.unwrap()).await);
    assert_eq!(q["step"], "select_account", "{q:?}");
    let pages = app
        .get(&format!(
            "/v1/connect/instagram/select-account?profileId={p}&tempToken={}",
            q["tempToken"]
        ))
        .await;
    let page = pages.body["pages"][0].clone();
    let r = app
        .post(
            "/v1/connect/instagram/select-account",
            json!({"profileId": p, "pageId": page["id"], "tempToken": q["tempToken"]}),
        )
        .await;
    assert_error(&r, 409, "account_mismatch");
    assert_eq!(app.account_count().await, 0);
}

#[tokio::test]
async fn the_sweeper_drops_abandoned_flows_once_they_expire() {
    let clock = Arc::new(ManualClock::new(
        chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
    ));
    let app = spawn_app_with_clock(clock.clone()).await;
    let profile = app.default_profile().await;
    app.start_connect(Platform::Twitter, &profile, "").await;
    let auth = app
        .start_connect(
            Platform::Pinterest,
            &profile,
            &format!("&headless=true&redirect_url={}", urlencode(APP_REDIRECT)),
        )
        .await;
    let callback = app.consent(&auth, "abandoned", "approve", None).await;
    let q = landed(&reply(app.client.get(&callback).send().await.unwrap()).await);
    let now = app.services.clock.now();
    assert_eq!(
        app.services.sweep_flows(now).await.unwrap(),
        1,
        "only the used Pinterest session"
    );
    let data = format!("/v1/connect/pending-data?token={}", q["pendingDataToken"]);
    assert_eq!(app.get(&data).await.status, 200);
    clock.advance(Duration::minutes(61));
    let now = app.services.clock.now();
    assert_eq!(
        app.services.sweep_flows(now).await.unwrap(),
        3,
        "the Twitter session, the pending selection and the connect token"
    );
    assert_error(&app.get(&data).await, 404, "pending_selection_not_found");
}
