use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn malformed_requests_get_the_documented_error_shape() {
    let app = spawn_app().await;
    let raw = |body: &'static str| {
        app.client
            .post(app.url("/v1/profiles"))
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_error(
        &reply(raw("{not json").await.unwrap()).await,
        400,
        "invalid_json",
    );
    assert_error(
        &reply(raw("{\"name\": 5}").await.unwrap()).await,
        400,
        "validation_error",
    );
    assert_error(&reply(raw("").await.unwrap()).await, 400, "invalid_json");
    let big = format!("{{\"name\": \"{}\"}}", "a".repeat(100_000));
    let r = reply(
        app.client
            .post(app.url("/v1/profiles"))
            .bearer_auth(&app.key)
            .body(big)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&r, 413, "payload_too_large");
    assert_error(&app.get("/v1/no-such-thing").await, 404, "route_not_found");
    assert_error(&app.get("/nothing-here").await, 404, "route_not_found");
    assert_error(&app.get("/v1/accounts/zzz").await, 400, "invalid_id");
    assert_error(
        &app.get("/v1/accounts/6553f100aaaaaaaaaaaaaaaa").await,
        404,
        "account_not_found",
    );
    assert_eq!(
        app.get("/v1/profiles").await.body["profiles"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing was created"
    );
}

#[tokio::test]
async fn request_ids_are_echoed_when_valid_and_generated_otherwise() {
    let app = spawn_app().await;
    let send = |id: Option<&'static str>| {
        let mut req = app.client.get(app.url("/healthz"));
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        req.send()
    };
    let r = send(Some("abc-123")).await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = send(Some("bad id with spaces")).await.unwrap();
    let generated = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(generated, "bad id with spaces");
    assert_eq!(generated.len(), 36);
    let r = send(None).await.unwrap();
    assert_eq!(r.headers()["x-request-id"].len(), 36);
    let err = app.get("/v1/nope").await;
    assert!(
        err.headers.contains_key("x-request-id"),
        "errors carry it too"
    );
}

#[tokio::test]
async fn routes_are_served_under_v1_and_api_v1() {
    let app = spawn_app().await;
    let a = app.get("/v1/profiles").await;
    let b = app.get("/api/v1/profiles").await;
    assert_eq!(
        (a.status, b.status),
        (reqwest::StatusCode::OK, reqwest::StatusCode::OK)
    );
    assert_eq!(a.body, b.body);
    let created = app
        .call(
            Method::POST,
            "/api/v1/profiles",
            Some(json!({"name": "Via api"})),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_error(&app.get("/api/nope").await, 404, "route_not_found");
}

#[tokio::test]
async fn health_readiness_metrics_and_openapi_are_served() {
    let app = spawn_app().await;
    let get = |p: &'static str| app.client.get(app.url(p)).send();
    let h = reply(get("/healthz").await.unwrap()).await;
    assert_eq!(h.body, json!({"status": "ok"}));
    let r = reply(get("/readyz").await.unwrap()).await;
    assert_eq!(r.body, json!({"status": "ok", "store": "sqlite"}));
    app.get("/v1/profiles").await;
    let m = reply(get("/metrics").await.unwrap()).await;
    assert!(
        m.text.contains(
            "plugboard_http_requests_total{method=\"GET\",route=\"/v1/profiles\",status=\"200\"}"
        ),
        "{}",
        m.text
    );
    let o = reply(get("/openapi.json").await.unwrap()).await;
    assert_eq!(o.body["openapi"], "3.1.0");
    let paths = o.body["paths"].as_object().unwrap();
    for p in [
        "/v1/profiles/{profileId}",
        "/v1/accounts",
        "/v1/api-keys/{keyId}",
        "/v1/auth/verify",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(p), "{p} documented");
    }
    assert_eq!(
        o.body["paths"]["/v1/accounts/{accountId}"]["patch"]["operationId"],
        "moveAccountToProfile"
    );
    let s = reply(get("/sandbox").await.unwrap()).await;
    assert!(s.text.contains("sandbox"), "the sandbox says what it is");
}

#[tokio::test]
async fn the_sandbox_is_not_mounted_when_disabled() {
    let app = spawn_app_with(|c| c.sandbox = false).await;
    assert_error(&app.get("/sandbox").await, 404, "route_not_found");
}
