//! The engine reports every answered call to the app's usage sink: the platform's cost
//! units, the usage headers it sent, and its quota errors, which connectors then return as
//! `ConnectorError::QuotaExceeded`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod common;

use async_trait::async_trait;
use common::*;
use plugboard_core::Platform;
use plugboard_platforms::usage::{MetaUsage, RateLimit};
use plugboard_platforms::{ConnectorError, Flavor, PlatformCall, UsageSink};
use serde_json::json;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Recorder(Mutex<Vec<PlatformCall>>);

#[async_trait]
impl UsageSink for Recorder {
    async fn record(&self, call: &PlatformCall) {
        self.0.lock().unwrap().push(call.clone());
    }
}

impl Recorder {
    fn calls(&self) -> Vec<PlatformCall> {
        self.0.lock().unwrap().clone()
    }
}

/// A connector on `server` whose calls `recorder` sees; the base URL carries a path prefix
/// as the sandbox's does, which the reported endpoint must not show.
fn counted(
    platform: Platform,
    server: &Scripted,
    recorder: &Arc<Recorder>,
) -> Arc<dyn plugboard_platforms::Connector> {
    let mut a = app(
        &format!("{}/prefix/{platform}", server.base),
        "cid",
        "secret",
    );
    a.usage = recorder.clone();
    connector(platform, Flavor::Standard, a)
}

#[tokio::test]
async fn youtube_data_api_calls_cost_units_and_token_calls_cost_none() {
    let server = Scripted::start(|req| match req.path.as_str() {
        "/prefix/youtube/token" => (
            200,
            json!({"access_token": "ya29.a", "expires_in": 3599, "refresh_token": "1//r", "token_type": "Bearer"}),
        ),
        _ => (
            200,
            json!({"items": [{"id": "UC1", "snippet": {"title": "Chan", "customUrl": "@chan"}}]}),
        ),
    });
    let recorder = Arc::new(Recorder::default());
    let c = counted(Platform::Youtube, &server, &recorder);
    // PKCE is on for YouTube; the scripted platform does not check the verifier.
    let verifier = plugboard_platforms::PkceVerifier::generate();
    let tokens = c
        .exchange_code("code-123", "https://pb.example/cb", Some(&verifier))
        .await
        .unwrap();
    c.identity(&tokens).await.unwrap();
    let calls = recorder.calls();
    let seen: Vec<_> = calls
        .iter()
        .map(|c| (c.endpoint.as_str(), c.oauth, c.units, c.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("POST /token", true, 0, 200),
            ("channels.list", false, 1, 200)
        ]
    );
    assert!(calls.iter().all(|c| c.platform == Platform::Youtube));
}

#[tokio::test]
async fn youtube_quota_exceeded_is_its_own_error_and_is_reported() {
    let server = Scripted::start(|_| {
        (
            403,
            json!({"error": {"code": 403, "message": "The request cannot be completed because you have exceeded your quota.",
                "errors": [{"domain": "youtube.quota", "reason": "quotaExceeded", "message": "quota"}]}}),
        )
    });
    let recorder = Arc::new(Recorder::default());
    let c = counted(Platform::Youtube, &server, &recorder);
    let err = c.identity(&tokens("ya29.a", &[])).await.unwrap_err();
    let ConnectorError::QuotaExceeded {
        reset_at,
        description,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert!(
        reset_at.is_some(),
        "Google names its reset: midnight Pacific"
    );
    assert!(description.contains("exceeded your quota"), "{description}");
    assert!(err.is_transient());
    let calls = recorder.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].units, 1, "a refused request still costs a unit");
    assert_eq!(calls[0].status, 403);
    assert_eq!(calls[0].quota_exceeded.map(|q| q.reset_at), Some(*reset_at));
}

#[tokio::test]
async fn meta_usage_headers_are_reported_and_code_4_is_a_quota_error() {
    let server = Scripted::start_with_headers(|req| {
        let usage = vec![(
            "x-app-usage",
            r#"{"call_count":97,"total_cputime":12,"total_time":40}"#.to_owned(),
        )];
        if req.param("fields").is_some() {
            (
                400,
                json!({"error": {"message": "(#4) Application request limit reached", "type": "OAuthException", "is_transient": true, "code": 4, "fbtrace_id": "A1"}}),
                usage,
            )
        } else {
            (200, json!({"data": []}), usage)
        }
    });
    let recorder = Arc::new(Recorder::default());
    let c = counted(Platform::Facebook, &server, &recorder);
    let err = c.identity(&tokens("EAA", &[])).await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::QuotaExceeded {
                reset_at: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    let calls = recorder.calls();
    let last = calls.last().unwrap();
    assert_eq!(
        last.usage.app,
        Some(MetaUsage {
            call_count: 97,
            total_cputime: 12,
            total_time: 40
        })
    );
    assert!(last.quota_exceeded.is_some());
    assert!(
        last.endpoint.starts_with("GET /v24.0/"),
        "{}",
        last.endpoint
    );
}

#[tokio::test]
async fn x_rate_limit_headers_are_reported_and_its_429_names_the_reset() {
    let reset = plugboard_core::Clock::now(&plugboard_core::SystemClock).timestamp() + 900;
    let server = Scripted::start_with_headers(move |_| {
        (
            429,
            json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}),
            vec![
                ("x-rate-limit-limit", "75".to_owned()),
                ("x-rate-limit-remaining", "0".to_owned()),
                ("x-rate-limit-reset", reset.to_string()),
            ],
        )
    });
    let recorder = Arc::new(Recorder::default());
    let c = counted(Platform::Twitter, &server, &recorder);
    let err = c.identity(&tokens("xat", &[])).await.unwrap_err();
    let want = chrono::DateTime::from_timestamp(reset, 0);
    assert!(
        matches!(err, ConnectorError::QuotaExceeded { reset_at, .. } if reset_at == want),
        "{err:?}"
    );
    let calls = recorder.calls();
    assert_eq!(
        calls[0].usage.rate_limit,
        Some(RateLimit {
            limit: Some(75),
            remaining: Some(0),
            reset_at: want
        })
    );
    assert_eq!(calls[0].endpoint, "GET /2/users/me");
    assert_eq!(
        server.requests().len(),
        1,
        "a quota refusal is not retried, though a GET's 429 otherwise is"
    );
}

#[tokio::test]
async fn a_call_without_an_answer_is_not_reported() {
    let recorder = Arc::new(Recorder::default());
    // Nothing listens on port 9 of loopback.
    let mut a = app("http://127.0.0.1:9", "cid", "secret");
    a.usage = recorder.clone();
    let c = connector(Platform::Reddit, Flavor::Standard, a);
    let err = c.identity(&tokens("rat", &[])).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transport(_)), "{err:?}");
    assert!(recorder.calls().is_empty());
}
