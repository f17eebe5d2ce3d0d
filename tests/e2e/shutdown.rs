//! Graceful shutdown of the compiled binary: SIGTERM turns `/readyz` unready first, lets a
//! request in flight finish, closes the listener, gives back its leases and exits 0.

use crate::binary::start_command;
use std::time::{Duration, Instant};

/// The leases table's clock (milliseconds since the epoch), read as another process would.
fn now_millis() -> i64 {
    #[allow(
        clippy::disallowed_methods,
        reason = "comparing with another process's wall clock"
    )]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn sigterm(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -TERM {pid}");
}

#[tokio::test]
async fn sigterm_drains_readiness_finishes_in_flight_work_releases_leases_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let key = crate::helpers::random_key();
    // The platforms live in their own process, as real ones do: closing this server's
    // listener must not cut the platform calls of the request in flight.
    let sandbox = crate::cluster::SandboxProcess::start().await;
    let mut cmd = sandbox.replica(dir.path());
    cmd.env("PLUGBOARD_BOOTSTRAP_API_KEY", &key)
        .env("PLUGBOARD_SHUTDOWN_DRAIN_SECONDS", "2")
        .env("PLUGBOARD_SHUTDOWN_GRACE_SECONDS", "15")
        // The poller (polling the sandbox's Bot API) takes the Telegram lease; shutdown
        // must give it back.
        .env("PLUGBOARD_TELEGRAM_UPDATES", "polling");
    let (mut child, url, _) = start_command(cmd).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let get = |path: &str| client.get(format!("{url}{path}"));
    assert_eq!(get("/readyz").send().await.unwrap().status(), 200);
    // Wait until the poller holds its lease (it polls the sandbox's Bot API).
    let db = dir.path().join("plugboard.db");
    let held = || -> Option<String> {
        let conn = rusqlite::Connection::open(&db).ok()?;
        conn.query_row(
            "SELECT holder FROM leases WHERE name = 'telegram-poller' AND until > ?1",
            [now_millis()],
            |r| r.get(0),
        )
        .ok()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while held().is_none() {
        assert!(Instant::now() < deadline, "the poller never took its lease");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A connect whose token exchange takes 3 seconds is in flight when SIGTERM arrives.
    let r = client
        .post(format!("{}/_faults", sandbox.url))
        .json(&serde_json::json!({"platform": "twitter", "token": "slow", "slowMillis": 3000}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let callback = crate::binary::approve_at_sandbox(
        &client,
        &url,
        &key,
        &sandbox.origin(),
        "twitter",
        "drained",
    )
    .await;
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { client.get(callback).send().await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().unwrap();
    let signalled = Instant::now();
    sigterm(pid);

    // Draining: still serving, but not ready.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ready = get("/readyz").send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["code"], "shutting_down");
    assert_eq!(
        get("/healthz").send().await.unwrap().status(),
        200,
        "alive while draining"
    );

    let landed = in_flight
        .await
        .unwrap()
        .expect("the in-flight request got its answer");
    assert_eq!(landed.status(), 302, "the in-flight connect finished");
    let to = landed.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        to.starts_with("https://app.example/cb") && to.contains("connected=twitter"),
        "{to}"
    );

    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits within drain + grace")
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        signalled.elapsed() >= Duration::from_secs(2),
        "the drain period was honoured"
    );
    assert!(
        get("/healthz").send().await.is_err(),
        "the listener is closed"
    );
    assert!(held().is_none(), "the Telegram poller lease was given back");

    // Nothing was lost: the account is there after a restart.
    let mut again = sandbox.replica(dir.path());
    again.env("PLUGBOARD_BOOTSTRAP_API_KEY", &key);
    let (_child, url, _) = start_command(again).await;
    let accounts: serde_json::Value = client
        .get(format!("{url}/v1/accounts"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(accounts["accounts"][0]["username"], "drained");
}
