//! Ticket connect links (`POST /v1/oauth/tickets`), the every-destination grant they make,
//! and the connections view over the same accounts.

use crate::flows::{APP_REDIRECT, location, query, spawn_isolated_with_clock};
use crate::helpers::*;
use chrono::Duration;
use plugboard_core::{ManualClock, Platform};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use url::Url;

const OAUTH_PLATFORMS: [Platform; 12] = [
    Platform::Twitter,
    Platform::Instagram,
    Platform::Facebook,
    Platform::Linkedin,
    Platform::Tiktok,
    Platform::Youtube,
    Platform::Pinterest,
    Platform::Reddit,
    Platform::Threads,
    Platform::Googlebusiness,
    Platform::Snapchat,
    Platform::Whatsapp,
];

async fn ticket(app: &TestApp, body: Value) -> Reply {
    app.post("/v1/oauth/tickets", body).await
}

async fn ticket_url(app: &TestApp, platform: Platform) -> String {
    let r = ticket(
        app,
        json!({"platform": platform, "redirectUrl": APP_REDIRECT}),
    )
    .await;
    assert_eq!(r.status, 201, "{platform}: {}", r.text);
    r.body["authUrl"].as_str().unwrap().to_owned()
}

/// Opens a ticket link in the browser: Plugboard's 302 to the platform.
async fn open(app: &TestApp, url: &str) -> Reply {
    reply(app.client.get(url).send().await.unwrap()).await
}

/// A whole ticket connect: link → platform consent (with `destinations` Pages/channels)
/// → callback → the integrator's redirect. Returns that redirect.
async fn connect_by_ticket(
    app: &TestApp,
    platform: Platform,
    user: &str,
    destinations: Option<u32>,
) -> Url {
    let link = ticket_url(app, platform).await;
    let to_platform = open(app, &link).await;
    assert_eq!(
        to_platform.status,
        StatusCode::FOUND,
        "{}",
        to_platform.text
    );
    let consent = location(&to_platform);
    assert!(
        consent.starts_with(&format!("{}/sandbox/", app.base)),
        "{consent}"
    );
    let callback = app.consent(&consent, user, "approve", destinations).await;
    let landed = app.finish_in_browser(&callback, None).await;
    assert_eq!(landed.status, StatusCode::FOUND, "{}", landed.text);
    Url::parse(&location(&landed)).unwrap()
}

#[tokio::test]
async fn a_ticket_link_connects_once_and_ends_exactly_at_its_redirect() {
    let app = spawn_app().await;
    let r = ticket(
        &app,
        json!({"platform": "twitter", "redirectUrl": APP_REDIRECT}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let link = r.body["authUrl"].as_str().unwrap().to_owned();
    assert!(
        link.starts_with(&format!("{}/v1/oauth/twitter/authorize?ticket=", app.base)),
        "the link is Plugboard's, not the platform's: {link}"
    );
    assert_eq!(
        query(&Url::parse(&link).unwrap())["ticket"],
        r.body["ticketId"].as_str().unwrap()
    );
    let expires =
        chrono::DateTime::parse_from_rfc3339(r.body["expiresAt"].as_str().unwrap()).unwrap();
    let left = expires.with_timezone(&chrono::Utc) - app.services.clock.now();
    assert!(
        left <= Duration::minutes(5) && left > Duration::minutes(4),
        "{left}"
    );

    let to_platform = open(&app, &link).await;
    assert_eq!(to_platform.status, StatusCode::FOUND);
    let callback = app
        .consent(&location(&to_platform), "ticketed", "approve", None)
        .await;
    let landed = app.finish_in_browser(&callback, None).await;
    let end = Url::parse(&location(&landed)).unwrap();
    assert!(end.as_str().starts_with(APP_REDIRECT), "{end}");
    let q = query(&end);
    assert_eq!(q["connected"], "twitter");
    assert_eq!(q["from"], "test", "the integrator's own query is kept");
    let account = app.account_json(&q["accountId"]).await;
    assert_eq!(account["username"], "ticketed");

    // Used: the same link now only says to start again.
    let again = open(&app, &link).await;
    assert_eq!(again.status, 410, "{}", again.text);
    assert!(
        again.text.contains("start connecting again"),
        "{}",
        again.text
    );
    assert!(again.headers.get("location").is_none());
}

#[tokio::test]
async fn a_ticket_expires_after_five_minutes() {
    let clock = Arc::new(ManualClock::new(
        chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
    ));
    let app = spawn_app_with_clock(clock.clone()).await;
    let link = ticket_url(&app, Platform::Linkedin).await;
    clock.advance(Duration::minutes(5) + Duration::seconds(1));
    let r = open(&app, &link).await;
    assert_eq!(r.status, 410, "{}", r.text);
    assert!(r.text.contains("expired"));
}

#[tokio::test]
async fn a_link_opened_with_another_redirect_or_platform_is_refused_and_stays_usable() {
    let app = spawn_app().await;
    let link = ticket_url(&app, Platform::Twitter).await;
    let tampered = format!(
        "{link}&redirect_url={}",
        crate::flows::urlencode("https://evil.example/cb")
    );
    let r = open(&app, &tampered).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("does not match"), "{}", r.text);
    let other = link.replace("/v1/oauth/twitter/", "/v1/oauth/linkedin/");
    let r = open(&app, &other).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("another platform"));
    let r = open(
        &app,
        &format!(
            "{link}&redirect_url={}",
            crate::flows::urlencode(APP_REDIRECT)
        ),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FOUND,
        "the exact redirect is accepted: {}",
        r.text
    );
    let r = open(&app, &link).await;
    assert_eq!(r.status, 410, "and then it is used");
    let r = open(
        &app,
        &format!("{}/v1/oauth/twitter/authorize?ticket=nope", app.base),
    )
    .await;
    assert_eq!(r.status, 410);
    let r = open(&app, &format!("{}/v1/oauth/twitter/authorize", app.base)).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn every_oauth_platform_takes_tickets_and_the_rest_are_refused() {
    let app = spawn_app().await;
    for platform in OAUTH_PLATFORMS {
        let link = ticket_url(&app, platform).await;
        let r = open(&app, &link).await;
        assert_eq!(r.status, StatusCode::FOUND, "{platform}: {}", r.text);
        let to = location(&r);
        assert!(
            to.starts_with(&format!("{}/sandbox/", app.base)),
            "{platform}: {to}"
        );
    }
    for platform in ["bluesky", "telegram", "metaads"] {
        let r = ticket(
            &app,
            json!({"platform": platform, "redirectUrl": APP_REDIRECT}),
        )
        .await;
        assert_error(&r, 400, "unsupported_platform");
    }
    for (body, param) in [
        (json!({"redirectUrl": APP_REDIRECT}), "platform"),
        (
            json!({"platform": "myspace", "redirectUrl": APP_REDIRECT}),
            "platform",
        ),
        (json!({"platform": "twitter"}), "redirectUrl"),
        (
            json!({"platform": "twitter", "redirectUrl": APP_REDIRECT, "profileId": "nope"}),
            "profileId",
        ),
    ] {
        let r = ticket(&app, body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.body["param"], param, "{body}: {}", r.text);
    }
    let r = ticket(
        &app,
        json!({"platform": "twitter", "redirectUrl": "javascript:alert(1)"}),
    )
    .await;
    assert_error(&r, 400, "INVALID_REDIRECT_URL");
    let r = ticket(&app, json!({"platform": "twitter", "redirectUrl": APP_REDIRECT, "profileId": "6553f100aaaaaaaaaaaaaaaa"})).await;
    assert_error(&r, 404, "profile_not_found");
    let reader = app
        .create_key(json!({"name": "reader", "permission": "read"}))
        .await;
    let r = app
        .call_as(
            &reader,
            Method::POST,
            "/v1/oauth/tickets",
            Some(json!({"platform": "twitter", "redirectUrl": APP_REDIRECT})),
        )
        .await;
    assert_eq!(
        r.status, 403,
        "a read-only key cannot mint connect links: {}",
        r.text
    );
}

#[tokio::test]
async fn a_ticket_on_facebook_makes_every_granted_page_its_own_connection_without_a_picker() {
    let app = spawn_app().await;
    let end = connect_by_ticket(&app, Platform::Facebook, "pages_owner", Some(3)).await;
    let q = query(&end);
    assert_eq!(q["connected"], "facebook");
    assert_eq!(q["count"], "3");
    let ids: Vec<&str> = q["accountIds"].split(',').collect();
    assert_eq!(ids.len(), 3);
    let listed = app.get("/v1/connections?platform=facebook").await;
    assert_eq!(listed.body["total"], 3, "{}", listed.text);
    let mut pages = Vec::new();
    for id in &ids {
        let a = app.account_json(id).await;
        assert_eq!(a["platform"], "facebook");
        pages.push(a["metadata"]["selectedPageId"].as_str().unwrap().to_owned());
    }
    pages.sort();
    pages.dedup();
    assert_eq!(pages.len(), 3, "one account per Page: {pages:?}");
    // The same grant again updates the same three accounts.
    let again = connect_by_ticket(&app, Platform::Facebook, "pages_owner", Some(3)).await;
    let mut again_ids: Vec<String> = query(&again)["accountIds"]
        .split(',')
        .map(str::to_owned)
        .collect();
    let mut first: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    again_ids.sort();
    first.sort();
    assert_eq!(again_ids, first);
    // An ordinary connect still shows the picker.
    let profile = app.default_profile().await;
    let auth = app.start_connect(Platform::Facebook, &profile, "").await;
    let callback = app.consent(&auth, "pages_owner", "approve", Some(3)).await;
    let r = reply(app.client.get(&callback).send().await.unwrap()).await;
    assert!(location(&r).contains("/select?"), "{}", location(&r));
}

#[tokio::test]
async fn a_ticket_on_youtube_connects_each_channel_of_a_multi_channel_account() {
    let app = spawn_app().await;
    let end = connect_by_ticket(&app, Platform::Youtube, "brand_channels", Some(2)).await;
    let q = query(&end);
    assert_eq!(q["count"], "2", "{end}");
    let ids: Vec<&str> = q["accountIds"].split(',').collect();
    let a = app.account_json(ids[0]).await;
    let b = app.account_json(ids[1]).await;
    assert_ne!(a["platformUserId"], b["platformUserId"]);
    assert_eq!(a["platform"], "youtube");
    let single = connect_by_ticket(&app, Platform::Youtube, "one_channel", Some(1)).await;
    let q = query(&single);
    assert!(
        !q.contains_key("count"),
        "one channel is the ordinary connect: {single}"
    );
    assert_eq!(
        app.account_json(&q["accountId"]).await["platform"],
        "youtube"
    );
}

#[tokio::test]
async fn a_ticket_on_facebook_without_pages_fails_clearly() {
    let app = spawn_app().await;
    let end = connect_by_ticket(&app, Platform::Facebook, "no_pages", Some(0)).await;
    let q = query(&end);
    assert!(q.contains_key("error"), "{end}");
    assert!(!q.contains_key("accountId"));
}

#[tokio::test]
async fn connections_are_a_compact_view_of_the_same_accounts() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let seeded = app
        .seed_account(&profile, Platform::Youtube, "UC-view", "yt")
        .await;
    let r = app.get("/v1/connections").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["total"], 1);
    let c = &r.body["connections"][0];
    assert_eq!(c["id"], seeded.id.to_string());
    assert_eq!(c["platform"], "youtube");
    assert_eq!(c["name"], "Display UC-view");
    assert_eq!(c["isActive"], true);
    assert_eq!(c["needsReconnection"], false);
    assert!(c["tokenExpiresAt"].is_string());
    let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
    assert!(keys.len() <= 8, "compact: {keys:?}");
    let accounts = app.get("/v1/accounts").await;
    assert_eq!(
        accounts.body["accounts"][0]["_id"], c["id"],
        "the same account"
    );
    let r = app.get("/v1/connections?platform=nope").await;
    assert_error(&r, 400, "validation_error");
}

#[tokio::test]
async fn a_deactivated_connection_refuses_new_work_until_activated() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let q = app
        .connect_standard(Platform::Twitter, "", &profile, "paused")
        .await;
    let id = q["accountId"].clone();
    let path = format!("/v1/connections/{id}");
    let r = app
        .call(Method::PATCH, &path, Some(json!({"isActive": false})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["connection"]["isActive"], false);
    assert_eq!(
        app.account_json(&id).await["isActive"],
        false,
        "the account itself changed"
    );
    for route in [
        format!("/v1/connections/{id}/refresh-token"),
        format!("/v1/accounts/{id}/refresh-token"),
    ] {
        let r = app.call(Method::POST, &route, None).await;
        assert_error(&r, 409, "connection_inactive");
    }
    for bad in [
        json!({}),
        json!({"isActive": "no"}),
        json!({"isActive": true, "name": "x"}),
    ] {
        let r = app.call(Method::PATCH, &path, Some(bad.clone())).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let r = app
        .call(
            Method::PATCH,
            "/v1/connections/6553f100aaaaaaaaaaaaaaaa",
            Some(json!({"isActive": true})),
        )
        .await;
    assert_error(&r, 404, "account_not_found");
    let r = app
        .call(Method::PATCH, &path, Some(json!({"isActive": true})))
        .await;
    assert_eq!(r.body["connection"]["isActive"], true);
    let r = app
        .call(
            Method::POST,
            &format!("/v1/connections/{id}/refresh-token"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["connection"]["id"], id.as_str());
}

#[tokio::test]
async fn a_dead_refresh_token_says_a_new_ticket_is_needed() {
    let clock = Arc::new(ManualClock::new(
        chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
    ));
    let iso = spawn_isolated_with_clock(Platform::Tiktok, clock).await;
    let app = &iso.app;
    let profile = app.default_profile().await;
    let q = app
        .connect_standard(Platform::Tiktok, "", &profile, "doomed")
        .await;
    iso.fault(Platform::Tiktok, json!({"token": "invalid_grant"}))
        .await;
    let r = app
        .call(
            Method::POST,
            &format!("/v1/connections/{}/refresh-token", q["accountId"]),
            None,
        )
        .await;
    assert_error(&r, 409, "reconnect_required");
    assert!(
        r.body["error"].as_str().unwrap().contains("ticket"),
        "{}",
        r.text
    );
    assert_eq!(r.body["details"]["next"], "POST /v1/oauth/tickets");
    let listed = app.get("/v1/connections").await;
    assert_eq!(listed.body["connections"][0]["needsReconnection"], true);
}
