//! Webhooks end to end: settings in Zernio's shapes, events delivered to a local receiver
//! with verifiable signatures, retries on a moved clock, test fires, logs and redelivery,
//! and delivery after the server is killed mid-queue.

use crate::helpers::*;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use plugboard_core::{ManualClock, Platform};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }
}

#[derive(Default)]
struct ReceiverState {
    got: Vec<Received>,
    /// Statuses to answer, in order; 200 once they run out.
    script: VecDeque<u16>,
}

/// A local webhook receiver on a free port.
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<ReceiverState>>,
    _server: actix_web::dev::ServerHandle,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let shared = state.clone();
        let server = HttpServer::new(move || {
            let shared = shared.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let shared = shared.clone();
                async move {
                    let headers = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                        .collect();
                    let mut s = shared.lock().unwrap();
                    s.got.push(Received {
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let status = s.script.pop_front().unwrap_or(200);
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                        .body(format!("answered {status}"))
                }
            }))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks/plugboard"),
            state,
            _server: handle,
        }
    }

    /// The next answers, before it goes back to 200.
    pub fn answer(&self, statuses: &[u16]) {
        self.state.lock().unwrap().script.extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().got.clone()
    }

    /// Waits (up to `secs` seconds of real time) until `n` requests arrived.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the receiver got {} of {n} deliveries: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
    ))
}

fn hmac_hex(secret: &str, body: &str) -> String {
    plugboard_service::webhooks::signing::signature(secret.as_bytes(), body.as_bytes())
}

/// Checks both signatures of a delivery with `secret`, as a receiver would.
pub fn assert_signed(r: &Received, secret: &str) {
    assert_eq!(r.header("X-Zernio-Signature"), hmac_hex(secret, &r.body));
    let stamped = r.header("X-Plugboard-Signature");
    let (t, v1) = stamped
        .strip_prefix("t=")
        .and_then(|s| s.split_once(",v1="))
        .unwrap_or_else(|| panic!("{stamped}"));
    assert_eq!(v1, hmac_hex(secret, &format!("{t}.{}", r.body)));
}

pub(crate) async fn spawn_allowing_private() -> TestApp {
    spawn_app_with(|c| c.webhooks_allow_private = true).await
}

async fn spawn_allowing_private_with(clock: Arc<ManualClock>) -> TestApp {
    spawn_app_full_with(|c| c.webhooks_allow_private = true, clock).await
}

pub(crate) async fn create_webhook(app: &TestApp, body: Value) -> Value {
    let r = app.post("/v1/webhooks/settings", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["success"], true);
    r.body["webhook"].clone()
}

#[tokio::test]
async fn webhook_settings_are_created_listed_updated_and_deleted_in_zernio_shapes() {
    let app = spawn_allowing_private().await;
    let profile = app.default_profile().await;
    let created = create_webhook(
        &app,
        json!({
            "name": " CRM ", "url": "  https://hooks.example.com/in ", "secret": "s3cret",
            "events": ["account.connected", "account.disconnected", "account.connected"],
            "isActive": true, "customHeaders": {"Authorization": "Bearer crm"},
            "profileIds": [profile.to_string()],
        }),
    )
    .await;
    let id = created["_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 24);
    assert_eq!(created["name"], "CRM");
    assert_eq!(created["url"], "https://hooks.example.com/in");
    assert_eq!(
        created["events"],
        json!(["account.connected", "account.disconnected"])
    );
    assert_eq!(created["isActive"], true);
    assert_eq!(created["failureCount"], 0);
    assert_eq!(
        created["customHeaders"],
        json!({"Authorization": "Bearer crm"})
    );
    assert_eq!(created["hasSecret"], true);
    assert!(created.get("secret").is_none(), "the secret is write-only");
    assert!(
        !app.get("/v1/webhooks/settings")
            .await
            .text
            .contains("s3cret")
    );

    let listed = app.get("/v1/webhooks/settings").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["webhooks"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["webhooks"][0]["_id"], id.as_str());

    // Only what is sent changes; the Python SDK's `_id` arrives as `Id`.
    let r = app
        .call(
            Method::PUT,
            "/v1/webhooks/settings",
            Some(json!({"Id": id, "isActive": false, "secret": ""})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["webhook"]["isActive"], false);
    assert_eq!(r.body["webhook"]["hasSecret"], false);
    assert_eq!(r.body["webhook"]["name"], "CRM");
    let r = app
        .call(
            Method::PUT,
            "/v1/webhooks/settings",
            Some(json!({"webhookId": id, "name": "Renamed", "profileIds": []})),
        )
        .await;
    assert_eq!(r.body["webhook"]["name"], "Renamed");
    assert_eq!(r.body["webhook"]["profileIds"], json!([]));

    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/webhooks/settings?webhookId={id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"success": true}));
    assert_error(
        &app.call(
            Method::DELETE,
            &format!("/v1/webhooks/settings?id={id}"),
            None,
        )
        .await,
        404,
        "webhook_not_found",
    );
    assert_eq!(
        app.get("/v1/webhooks/settings").await.body["webhooks"],
        json!([])
    );
}

#[tokio::test]
async fn bad_webhook_settings_get_clear_errors_and_change_nothing() {
    let app = spawn_app().await;
    let ok =
        json!({"name": "w", "url": "https://hooks.example.com/x", "events": ["account.connected"]});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let cases = [
        (with("name", json!("")), 400, "validation_error"),
        (with("name", json!("x".repeat(51))), 400, "validation_error"),
        (with("url", json!("not a url")), 400, "invalid_webhook_url"),
        (
            with("url", json!("ftp://hooks.example.com/")),
            400,
            "invalid_webhook_url",
        ),
        (
            with("url", json!("http://127.0.0.1:8080/x")),
            400,
            "invalid_webhook_url",
        ),
        (
            with("url", json!("http://localhost/x")),
            400,
            "invalid_webhook_url",
        ),
        (
            with("url", json!("http://169.254.169.254/latest")),
            400,
            "invalid_webhook_url",
        ),
        (with("events", json!([])), 400, "validation_error"),
        (
            with("events", json!(["account.exploded"])),
            400,
            "validation_error",
        ),
        (
            with("customHeaders", json!({"X-Zernio-Signature": "forged"})),
            400,
            "validation_error",
        ),
        (
            with("disabledResourceGroups", json!(["nope"])),
            400,
            "validation_error",
        ),
        (
            with("profileIds", json!(["6553f100aaaaaaaaaaaaaaaa"])),
            404,
            "profile_not_found",
        ),
        (
            with("accountIds", json!(["6553f100aaaaaaaaaaaaaaaa"])),
            404,
            "account_not_found",
        ),
    ];
    for (body, status, code) in cases {
        let r = app.post("/v1/webhooks/settings", body.clone()).await;
        assert_error(&r, status, code);
        assert!(
            r.body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }
    assert_eq!(
        app.get("/v1/webhooks/settings").await.body["webhooks"],
        json!([])
    );
    let r = app
        .call(
            Method::PUT,
            "/v1/webhooks/settings",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_error(&r, 400, "validation_error");
    assert_error(
        &app.call(Method::DELETE, "/v1/webhooks/settings", None)
            .await,
        400,
        "validation_error",
    );
    // The 51st subscription is refused.
    for i in 0..50 {
        create_webhook(&app, with("name", json!(format!("w{i}")))).await;
    }
    assert_error(
        &app.post("/v1/webhooks/settings", ok.clone()).await,
        400,
        "webhook_limit_reached",
    );
}

#[tokio::test]
async fn connecting_and_disconnecting_deliver_signed_account_events() {
    let app = spawn_allowing_private().await;
    let receiver = Receiver::start().await;
    let profile = app.default_profile().await;
    let hook = create_webhook(
        &app,
        json!({"name": "r", "url": receiver.url, "secret": "whsec-1",
               "events": ["account.connected", "account.disconnected"],
               "customHeaders": {"X-Team": "growth"}}),
    )
    .await;

    let done = app
        .connect_standard(Platform::Twitter, "", &profile, "alice")
        .await;
    let account_id = done["accountId"].clone();
    let got = receiver.wait_for(1, 20).await;
    let connected = &got[0];
    assert_signed(connected, "whsec-1");
    assert_eq!(connected.header("X-Zernio-Event"), "account.connected");
    assert_eq!(connected.header("content-type"), "application/json");
    assert_eq!(connected.header("X-Team"), "growth");
    let body = connected.json();
    assert_eq!(
        connected.header("X-Zernio-Event-Id"),
        body["id"].as_str().unwrap()
    );
    assert_eq!(body["event"], "account.connected");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["account"]["accountId"], account_id.as_str());
    assert_eq!(body["account"]["profileId"], profile.to_string());
    assert_eq!(body["account"]["platform"], "twitter");
    assert_eq!(body["account"]["username"], done["username"].as_str());
    assert_eq!(body["profiles"][0]["id"], profile.to_string());

    let r = app
        .call(Method::DELETE, &format!("/v1/accounts/{account_id}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = receiver.wait_for(2, 20).await;
    let gone = got[1].json();
    assert_signed(&got[1], "whsec-1");
    assert_eq!(gone["event"], "account.disconnected");
    assert_eq!(gone["account"]["accountId"], account_id.as_str());
    assert_eq!(gone["account"]["disconnectionType"], "intentional");
    assert!(
        gone["account"]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    assert_ne!(gone["id"], body["id"]);

    let logs = app
        .get(&format!(
            "/v1/webhooks/logs?webhookId={}&status=success",
            hook["_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(logs.status, 200, "{}", logs.text);
    assert_eq!(logs.body["pagination"]["total"], 2);
    assert_eq!(logs.body["pagination"]["hasMore"], false);
    let newest = &logs.body["logs"][0];
    assert_eq!(newest["event"], "account.disconnected");
    assert_eq!(newest["statusCode"], 200);
    assert_eq!(newest["attemptNumber"], 1);
    assert_eq!(newest["requestPayload"], gone);
    assert_eq!(newest["url"], receiver.url.as_str());
    let settings = app.get("/v1/webhooks/settings").await;
    assert!(settings.body["webhooks"][0]["lastFiredAt"].is_string());
    assert!(!logs.text.contains("whsec-1"), "secrets stay out of logs");
}

#[tokio::test]
async fn subscriptions_get_only_their_events_profiles_and_active_state() {
    let app = spawn_allowing_private().await;
    let (all, only_gone, other_profile, paused) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    let profile = app.default_profile().await;
    let elsewhere = app.create_profile("Elsewhere").await;
    let both = json!(["account.connected", "account.disconnected"]);
    create_webhook(&app, json!({"name": "all", "url": all.url, "events": both})).await;
    create_webhook(
        &app,
        json!({"name": "gone", "url": only_gone.url, "events": ["account.disconnected"]}),
    )
    .await;
    create_webhook(&app, json!({"name": "other", "url": other_profile.url, "events": both, "profileIds": [elsewhere.to_string()]})).await;
    create_webhook(
        &app,
        json!({"name": "paused", "url": paused.url, "events": both, "isActive": false}),
    )
    .await;
    let done = app
        .connect_standard(Platform::Reddit, "", &profile, "bob")
        .await;
    app.call(
        Method::DELETE,
        &format!("/v1/accounts/{}", done["accountId"]),
        None,
    )
    .await;
    let got = all.wait_for(2, 20).await;
    // Deliveries run concurrently, so their order is not guaranteed (docs/webhooks.md).
    let mut names: Vec<String> = got
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["account.connected", "account.disconnected"]);
    let gone = only_gone.wait_for(1, 20).await;
    assert_eq!(gone[0].json()["event"], "account.disconnected");
    // Both events have been fanned out by now; give stragglers a moment anyway.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(only_gone.received().len(), 1);
    assert!(
        other_profile.received().is_empty(),
        "another profile's subscription"
    );
    assert!(paused.received().is_empty(), "a paused subscription");
}

#[tokio::test]
async fn failed_deliveries_retry_with_backoff_on_a_moved_clock_keeping_id_and_body() {
    let clock = manual_clock();
    let app = spawn_allowing_private_with(clock.clone()).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[500, 503]);
    let profile = app.default_profile().await;
    let hook = create_webhook(
        &app,
        json!({"name": "r", "url": receiver.url, "secret": "k", "events": ["account.connected"]}),
    )
    .await;
    app.connect_standard(Platform::Linkedin, "", &profile, "carol")
        .await;
    let first = receiver.wait_for(1, 20).await;
    // Nothing more until the backoff (30 s ± 20%) has passed on the clock.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.received().len(), 1, "no retry before its time");
    clock.advance(chrono::Duration::seconds(40));
    receiver.wait_for(2, 20).await;
    // The second wait is about twice as long: 40 s more is not enough for it.
    clock.advance(chrono::Duration::seconds(40));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.received().len(), 2, "the wait doubled");
    clock.advance(chrono::Duration::seconds(40));
    let got = receiver.wait_for(3, 20).await;
    for r in &got {
        assert_eq!(r.body, first[0].body, "every attempt sends the same bytes");
        assert_eq!(
            r.header("X-Zernio-Event-Id"),
            first[0].header("X-Zernio-Event-Id")
        );
        assert_signed(r, "k");
    }
    let id = hook["_id"].as_str().unwrap();
    let logs = app.get(&format!("/v1/webhooks/logs?webhookId={id}")).await;
    assert_eq!(logs.body["pagination"]["total"], 3, "{}", logs.text);
    let rows = logs.body["logs"].as_array().unwrap();
    let attempts: Vec<(Value, Value, Value)> = rows
        .iter()
        .map(|l| {
            (
                l["attemptNumber"].clone(),
                l["status"].clone(),
                l["statusCode"].clone(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (json!(3), json!("success"), json!(200)),
            (json!(2), json!("failed"), json!(503)),
            (json!(1), json!("failed"), json!(500)),
        ]
    );
    assert_eq!(rows[2]["responseBody"], "answered 500");
    assert!(rows[2]["errorMessage"].as_str().unwrap().contains("500"));
    let w = &app.get("/v1/webhooks/settings").await.body["webhooks"][0];
    assert_eq!(
        w["failureCount"], 0,
        "a delivery that finally succeeded is no failure"
    );
    assert!(w["lastFiredAt"].is_string());
}

#[tokio::test]
async fn a_delivery_out_of_attempts_is_logged_failed_and_counted_on_the_subscription() {
    let clock = manual_clock();
    let app = spawn_allowing_private_with(clock.clone()).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[502; 20]);
    let profile = app.default_profile().await;
    let hook = create_webhook(
        &app,
        json!({"name": "r", "url": receiver.url, "events": ["account.connected"]}),
    )
    .await;
    app.connect_standard(Platform::Pinterest, "", &profile, "dave")
        .await;
    let attempts = plugboard_service::webhooks::WebhookSettings::default().max_attempts as usize;
    for n in 1..=attempts {
        receiver.wait_for(n, 20).await;
        // Longer than the longest wait (an hour, plus jitter).
        clock.advance(chrono::Duration::minutes(75));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        receiver.received().len(),
        attempts,
        "no attempt after the last"
    );
    let id = hook["_id"].as_str().unwrap();
    let failed = app
        .get(&format!(
            "/v1/webhooks/logs?webhookId={id}&status=failed&limit=100"
        ))
        .await;
    assert_eq!(failed.body["pagination"]["total"], attempts);
    let w = &app.get("/v1/webhooks/settings").await.body["webhooks"][0];
    assert_eq!(w["failureCount"], 1);
    assert_eq!(
        w["isActive"], true,
        "one failed event does not disable a subscription"
    );
}

#[tokio::test]
async fn test_fires_once_and_redelivery_replays_the_logged_bytes() {
    let app = spawn_allowing_private().await;
    let receiver = Receiver::start().await;
    let hook = create_webhook(
        &app,
        json!({"name": "r", "url": receiver.url, "secret": "t0p", "events": ["account.disconnected"]}),
    )
    .await;
    let id = hook["_id"].as_str().unwrap();

    let r = app
        .post("/v1/webhooks/test", json!({"webhookId": id}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["success"], true);
    let got = receiver.wait_for(1, 5).await;
    assert_eq!(got[0].json()["event"], "webhook.test");
    assert_eq!(got[0].header("X-Zernio-Event"), "webhook.test");
    assert_signed(&got[0], "t0p");

    let r = app
        .post(
            "/v1/webhooks/test",
            json!({"webhookId": id, "event": "account.disconnected"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sample = receiver.wait_for(2, 5).await[1].json();
    assert_eq!(sample["test"], true);
    assert_eq!(sample["account"]["disconnectionType"], "unintentional");

    receiver.answer(&[500]);
    let r = app
        .post("/v1/webhooks/test", json!({"webhookId": id}))
        .await;
    assert_eq!(r.status, 500, "{}", r.text);
    assert_eq!(r.body["success"], false);
    assert!(r.body["message"].as_str().unwrap().contains("500"));
    assert_eq!(
        receiver.wait_for(3, 5).await.len(),
        3,
        "a test is one attempt"
    );

    assert_error(
        &app.post(
            "/v1/webhooks/test",
            json!({"webhookId": "6553f100aaaaaaaaaaaaaaaa"}),
        )
        .await,
        404,
        "webhook_not_found",
    );
    assert_error(
        &app.post(
            "/v1/webhooks/test",
            json!({"webhookId": id, "event": "nope"}),
        )
        .await,
        400,
        "validation_error",
    );

    let logs = app
        .get(&format!(
            "/v1/webhooks/logs?webhookId={id}&event=account.disconnected"
        ))
        .await;
    assert_eq!(logs.body["pagination"]["total"], 1);
    let logged = &logs.body["logs"][0];
    assert_eq!(logged["test"], true);
    let event_id = logged["eventId"].as_str().unwrap();
    let r = app
        .post(
            "/v1/webhooks/logs/redeliver",
            json!({"webhookId": id, "eventId": event_id}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["success"], true);
    let got = receiver.wait_for(4, 5).await;
    assert_eq!(got[3].body, got[1].body, "byte for byte");
    assert_eq!(got[3].header("X-Zernio-Event-Id"), event_id);
    assert_error(
        &app.post(
            "/v1/webhooks/logs/redeliver",
            json!({"webhookId": id, "eventId": "unknown"}),
        )
        .await,
        404,
        "event_not_found",
    );
}

#[tokio::test]
async fn a_dead_grant_is_told_as_an_unintentional_disconnection_and_a_reconnect_as_connected() {
    let clock = manual_clock();
    let iso = crate::flows::spawn_isolated_full(
        Platform::Tiktok,
        |c| c.webhooks_allow_private = true,
        clock.clone(),
    )
    .await;
    let app = &iso.app;
    let receiver = Receiver::start().await;
    create_webhook(
        app,
        json!({"name": "r", "url": receiver.url, "events": ["account.connected", "account.disconnected"]}),
    )
    .await;
    let profile = app.default_profile().await;
    let q = app
        .connect_standard(Platform::Tiktok, "", &profile, "doomed")
        .await;
    receiver.wait_for(1, 20).await;
    iso.fault(Platform::Tiktok, json!({"token": "invalid_grant"}))
        .await;
    clock.advance(chrono::Duration::days(1));
    assert_eq!(app.services.refresh_due("w").await.unwrap().dead, 1);
    // Another pass finds nothing new to tell.
    app.services.refresh_due("w").await.unwrap();
    let got = receiver.wait_for(2, 20).await;
    let dead = got[1].json();
    assert_eq!(dead["event"], "account.disconnected");
    assert_eq!(dead["account"]["accountId"], q["accountId"].as_str());
    assert_eq!(dead["account"]["platform"], "tiktok");
    assert_eq!(dead["account"]["disconnectionType"], "unintentional");
    assert!(
        dead["account"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("Token revoked or expired")
    );

    iso.fault(Platform::Tiktok, json!({})).await;
    app.connect_standard(Platform::Tiktok, "", &profile, "doomed")
        .await;
    let got = receiver.wait_for(3, 20).await;
    assert_eq!(got[2].json()["event"], "account.connected");
    assert_eq!(
        got[2].json()["account"]["accountId"],
        q["accountId"].as_str()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.received().len(), 3, "one disconnection, told once");
}

/// Starts the compiled server on `data_dir` with the first key and retries after a second.
async fn start_binary(data_dir: &std::path::Path, key: &str) -> (tokio::process::Child, String) {
    let mut cmd = crate::binary::plugboard(data_dir);
    cmd.env("PLUGBOARD_BOOTSTRAP_API_KEY", key)
        .env("PLUGBOARD_WEBHOOKS_ALLOW_PRIVATE", "true")
        .env("PLUGBOARD_WEBHOOKS_RETRY_BASE_SECONDS", "1")
        .stderr(std::process::Stdio::null());
    let (child, url, _) = crate::binary::start_command(cmd).await;
    (child, url)
}

#[tokio::test]
async fn an_event_queued_when_the_server_is_killed_arrives_after_restart_exactly_as_queued() {
    let dir = tempfile::tempdir().unwrap();
    let key = random_key();
    let receiver = Receiver::start().await;
    receiver.answer(&[503]);
    let (mut server, base) = start_binary(dir.path(), &key).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let call = |method: Method, path: &str, body: Option<Value>| {
        let mut req = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
    };
    let r = call(
        Method::POST,
        "/v1/webhooks/settings",
        Some(json!({"name": "r", "url": receiver.url, "secret": "crash", "events": ["account.connected"]})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let profiles: Value = call(Method::GET, "/v1/profiles", None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let profile = profiles["profiles"][0]["_id"].as_str().unwrap().to_owned();

    // Connect an account through the sandbox, as a browser would.
    let start: Value = call(
        Method::GET,
        &format!("/v1/connect/twitter?profileId={profile}"),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let auth_url = start["authUrl"].as_str().unwrap();
    let html = client
        .get(auth_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let action = crate::flows::attr_after(&html, "<form", "action").unwrap();
    let request = crate::flows::attr_after(&html, "name=\"_request\"", "value").unwrap();
    let target = url::Url::parse(auth_url).unwrap().join(&action).unwrap();
    let consent = client
        .post(target)
        .form(&[
            ("_request", request.as_str()),
            ("username", "erin"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    let callback = consent.headers()["location"].to_str().unwrap().to_owned();
    let landed = client.get(&callback).send().await.unwrap();
    assert!(landed.status().is_redirection() || landed.status().is_success());

    // The first attempt fails; the server dies before the retry.
    let first = receiver.wait_for(1, 30).await;
    server.kill().await.unwrap();
    assert_eq!(receiver.received().len(), 1, "killed before its retry");
    let event_id = first[0].header("X-Zernio-Event-Id").to_owned();

    let (mut again, _) = start_binary(dir.path(), &key).await;
    let got = receiver.wait_for(2, 30).await;
    assert_eq!(got[1].body, first[0].body, "the same bytes as queued");
    assert_eq!(got[1].header("X-Zernio-Event-Id"), event_id);
    assert_eq!(got[1].json()["event"], "account.connected");
    assert_signed(&got[1], "crash");
    again.kill().await.unwrap();
}

#[tokio::test]
async fn keys_can_only_subscribe_as_widely_as_they_reach() {
    let app = spawn_app().await;
    let restricted = app
        .create_key(json!({"name": "no-ads", "disabledResourceGroups": ["ads"]}))
        .await;
    let body =
        json!({"name": "w", "url": "https://hooks.example.com/x", "events": ["account.connected"]});
    let r = app
        .call_as(
            &restricted,
            Method::POST,
            "/v1/webhooks/settings",
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["webhook"]["disabledResourceGroups"], json!(["ads"]));
    let id = r.body["webhook"]["_id"].as_str().unwrap().to_owned();
    for change in [
        json!({"disabledResourceGroups": []}),
        json!({"name": "renamed"}),
    ] {
        let mut change = change;
        change["webhookId"] = json!(id);
        let r = app
            .call_as(
                &restricted,
                Method::PUT,
                "/v1/webhooks/settings",
                Some(change),
            )
            .await;
        assert_eq!(
            r.body["webhook"]["disabledResourceGroups"],
            json!(["ads"]),
            "{}",
            r.text
        );
    }

    // A key without the webhooks group, or read-only, cannot manage subscriptions.
    let no_webhooks = app
        .create_key(json!({"name": "nw", "disabledResourceGroups": ["webhooks"]}))
        .await;
    let r = app
        .call_as(&no_webhooks, Method::GET, "/v1/webhooks/settings", None)
        .await;
    assert_error(&r, 403, "insufficient_permissions");
    let read_only = app
        .create_key(json!({"name": "ro", "permission": "read"}))
        .await;
    let r = app
        .call_as(
            &read_only,
            Method::POST,
            "/v1/webhooks/settings",
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);

    // A profile-scoped key sees and makes only subscriptions limited to its profiles.
    let brand = app.create_profile("Brand").await;
    let scoped = app
        .create_key(json!({"name": "p", "scope": "profiles", "profileIds": [brand.to_string()]}))
        .await;
    let r = app
        .call_as(&scoped, Method::POST, "/v1/webhooks/settings", Some(body))
        .await;
    assert_eq!(
        r.body["webhook"]["profileIds"],
        json!([brand.to_string()]),
        "{}",
        r.text
    );
    let mine = app
        .call_as(&scoped, Method::GET, "/v1/webhooks/settings", None)
        .await;
    assert_eq!(
        mine.body["webhooks"].as_array().unwrap().len(),
        1,
        "{}",
        mine.text
    );
    let all = app.get("/v1/webhooks/settings").await;
    assert_eq!(all.body["webhooks"].as_array().unwrap().len(), 2);
    let r = app
        .call_as(
            &scoped,
            Method::DELETE,
            &format!("/v1/webhooks/settings?webhookId={id}"),
            None,
        )
        .await;
    assert_error(&r, 404, "webhook_not_found");
}
