//! Traces exported over OTLP/HTTP when `PLUGBOARD_OTLP_ENDPOINT` is set: a fake collector
//! receives the connect's spans from the compiled binary.

use crate::binary::{plugboard, start_command};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the collector got: path, content type, body.
type Exports = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

#[tokio::test]
async fn a_connects_spans_are_exported_to_the_otlp_collector() {
    let received: Exports = Arc::default();
    let store = received.clone();
    let server = HttpServer::new(move || {
        let store = store.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let store = store.clone();
            async move {
                let ct = req
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                store
                    .lock()
                    .unwrap()
                    .push((req.path().to_owned(), ct, body.to_vec()));
                HttpResponse::Ok().finish()
            }
        }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let collector = format!("http://127.0.0.1:{}", server.addrs()[0].port());
    tokio::spawn(server.run());

    let dir = tempfile::tempdir().unwrap();
    let key = crate::helpers::random_key();
    let mut cmd = plugboard(dir.path());
    cmd.env("PLUGBOARD_BOOTSTRAP_API_KEY", &key)
        .env("PLUGBOARD_OTLP_ENDPOINT", &collector)
        .env("PLUGBOARD_SHUTDOWN_DRAIN_SECONDS", "0");
    let (mut child, url, _) = start_command(cmd).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let callback =
        crate::binary::approve_at_sandbox(&client, &url, &key, &url, "twitter", "traced").await;
    let landed = client.get(callback).send().await.unwrap();
    assert_eq!(landed.status(), 302);

    // Stop gracefully: what is still queued is flushed on the way out.
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());

    let got = received.lock().unwrap().clone();
    assert!(!got.is_empty(), "the collector received nothing");
    assert!(
        got.iter()
            .all(|(path, ct, _)| path == "/v1/traces" && ct == "application/x-protobuf"),
        "{:?}",
        got.iter().map(|(p, c, _)| (p, c)).collect::<Vec<_>>()
    );
    let all: Vec<u8> = got.iter().flat_map(|(_, _, b)| b.clone()).collect();
    let has = |needle: &str| all.windows(needle.len()).any(|w| w == needle.as_bytes());
    for span in [
        "connect.start",
        "connect.callback",
        "connect.exchange",
        "connect.identity",
        "plugboard",
    ] {
        assert!(has(span), "{span} was exported");
    }
    assert!(!has(&key), "no API key in the exported spans");
}
