//! Per-key rate limits: `X-RateLimit-*` on every authenticated answer, 429 in the API's
//! error shape once a key has used its minute.

use crate::helpers::*;
use chrono::Duration;
use plugboard_core::ManualClock;
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;

fn header(r: &Reply, name: &str) -> String {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name}: {:?}", r.headers))
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_key_over_its_minute_gets_429_with_the_headers_and_other_keys_do_not() {
    let clock = Arc::new(ManualClock::new(
        chrono::DateTime::from_timestamp(1_900_000_040, 0).unwrap(),
    ));
    let app = spawn_app_full_with(|c| c.rate_limit_per_minute = 5, clock.clone()).await;
    let other = app.create_key(json!({"name": "other"})).await; // request 1
    for remaining in (0..4).rev() {
        let r = app.get("/v1/profiles").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(header(&r, "x-ratelimit-limit"), "5");
        assert_eq!(header(&r, "x-ratelimit-remaining"), remaining.to_string());
        assert_eq!(header(&r, "x-ratelimit-reset"), "1900000080");
    }
    let r = app.get("/v1/profiles").await;
    assert_error(&r, 429, "rate_limit_exceeded");
    assert_eq!(r.body["type"], "rate_limit_error");
    assert_eq!(header(&r, "x-ratelimit-remaining"), "0");
    assert_eq!(header(&r, "retry-after"), "40");
    // Another key has its own minute.
    let r = app.call_as(&other, Method::GET, "/v1/profiles", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(header(&r, "x-ratelimit-remaining"), "4");
    // Unauthenticated requests are not counted against anyone (and carry no headers).
    let r = reply(
        app.client
            .get(app.url("/v1/profiles"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.headers.get("x-ratelimit-limit").is_none());
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("plugboard_rate_limited_total 1"),
        "{metrics}"
    );
    // A minute and a half later the sliding window has room again.
    clock.advance(Duration::seconds(90));
    let r = app.get("/v1/profiles").await;
    assert_eq!(r.status, 200, "{}", r.text);
}
