//! `/metrics` answers the operator's questions: connects by platform and outcome, their
//! latencies, refresh outcomes, the webhook backlog and store latency.

use crate::helpers::*;
use plugboard_core::Platform;
use reqwest::Method;

/// The value of one series in Prometheus' text format (`name{labels} value`).
pub(crate) fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_connects_failures_refreshes_and_time_the_store() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let q = app
        .connect_standard(Platform::Twitter, "", &profile, "measured")
        .await;
    let r = app
        .call(
            Method::POST,
            &format!("/v1/accounts/{}/refresh-token", q["accountId"]),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A callback whose state is unknown.
    let r = app.get("/connect/twitter/callback?state=nope&code=x").await;
    assert_eq!(r.status, 400, "{}", r.text);

    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = |series: &str| value(&text, series).unwrap_or_else(|| panic!("{series} in:\n{text}"));
    assert_eq!(
        at(r#"plugboard_connects_started_total{platform="twitter"}"#),
        1.0
    );
    assert_eq!(
        at(r#"plugboard_connects_completed_total{platform="twitter"}"#),
        1.0
    );
    assert_eq!(
        at(r#"plugboard_connects_failed_total{code="invalid_state",platform="twitter"}"#),
        1.0
    );
    assert_eq!(
        at(r#"plugboard_callback_duration_seconds_count{platform="twitter"}"#),
        2.0
    );
    assert_eq!(
        at(r#"plugboard_token_exchange_duration_seconds_count{platform="twitter"}"#),
        1.0
    );
    assert_eq!(
        at(r#"plugboard_refreshes_total{outcome="refreshed",platform="twitter"}"#),
        1.0
    );
    assert!(at(r#"plugboard_store_operation_duration_seconds_count{operation="write"}"#) >= 3.0);
    assert!(at(r#"plugboard_store_operation_duration_seconds_count{operation="read"}"#) >= 1.0);
    assert!(
        value(&text, "plugboard_webhook_backlog").is_some(),
        "{text}"
    );
    assert!(value(&text, r#"plugboard_http_requests_total{method="GET",route="/v1/connect/{platform}",status="200"}"#).is_some(), "{text}");
    assert!(
        at(r#"plugboard_platform_calls_total{outcome="ok",platform="twitter"}"#) >= 2.0,
        "token exchange and identity"
    );
    // No ids or tokens in label values.
    assert!(
        !text.contains(q["accountId"].as_str()),
        "no account ids as labels"
    );
}

#[tokio::test]
async fn a_failing_platform_opens_its_circuit_and_the_gauge_says_so() {
    let iso = crate::flows::spawn_isolated(Platform::Linkedin, |_| {}).await;
    let app = &iso.app;
    let profile = app.default_profile().await;
    iso.fault(Platform::Linkedin, serde_json::json!({"identity": "fail"}))
        .await;
    for _ in 0..plugboard_platforms::resilience::FAILURE_THRESHOLD + 1 {
        let auth = app.start_connect(Platform::Linkedin, &profile, "").await;
        let callback = app.consent(&auth, "outage", "approve", None).await;
        let r = reply(app.client.get(&callback).send().await.unwrap()).await;
        assert!(
            r.status.as_u16() >= 400,
            "an error page, not a connect: {}",
            r.status
        );
    }
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = |series: &str| value(&text, series).unwrap_or_else(|| panic!("{series} in:\n{text}"));
    assert_eq!(at(r#"plugboard_circuit_open{platform="linkedin"}"#), 1.0);
    assert!(
        at(r#"plugboard_platform_calls_total{outcome="circuit_open",platform="linkedin"}"#) >= 1.0
    );
    assert!(at(r#"plugboard_platform_calls_total{outcome="error",platform="linkedin"}"#) >= 5.0);
}
