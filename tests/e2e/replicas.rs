//! Many replicas, one truth: three `plugboard serve` processes on one MongoDB (nx-27017, or
//! `PLUGBOARD_TEST_MONGODB_URI`) and one sandbox process, behind an imaginary load
//! balancer at `http://lb.plugboard.test` (the public URL every replica is given; the test
//! plays the balancer by sending each browser step to the replica it chooses).

use crate::binary::start_command;
use crate::cluster::SandboxProcess;
use crate::flows::{attr_after, choices, location, query, urlencode};
use crate::helpers::{random_key, reply};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use mongodb::bson::{Document, doc};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::process::Child;

const LB: &str = "http://lb.plugboard.test";
const APP: &str = "https://app.example/done";

struct Replica {
    url: String,
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

struct Cluster {
    sandbox: SandboxProcess,
    key: String,
    encryption_key: String,
    uri: String,
    database: String,
    http: reqwest::Client,
}

impl Cluster {
    async fn replica(&self, refresh_seconds: u32) -> Replica {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = self.sandbox.replica(dir.path());
        cmd.env("PLUGBOARD_STORE", "mongodb")
            .env("PLUGBOARD_MONGODB_URI", &self.uri)
            .env("PLUGBOARD_MONGODB_DATABASE", &self.database)
            .env("PLUGBOARD_ENCRYPTION_KEY", &self.encryption_key)
            .env("PLUGBOARD_BOOTSTRAP_API_KEY", &self.key)
            .env("PLUGBOARD_PUBLIC_URL", LB)
            .env("PLUGBOARD_WEBHOOKS_ALLOW_PRIVATE", "true")
            .env(
                "PLUGBOARD_REFRESH_INTERVAL_SECONDS",
                refresh_seconds.to_string(),
            )
            .env("PLUGBOARD_SHUTDOWN_DRAIN_SECONDS", "0");
        let (child, url, _) = start_command(cmd).await;
        let port = url.rsplit(':').next().unwrap().parse().unwrap();
        Replica {
            url,
            port,
            child,
            _dir: dir,
        }
    }

    /// A browser step the balancer sends to `to`.
    fn via(&self, lb_url: &str, to: &Replica) -> String {
        assert!(lb_url.starts_with(LB), "{lb_url}");
        lb_url.replacen(LB, &to.url, 1)
    }

    async fn api(
        &self,
        to: &Replica,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}{path}", to.url))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = reply(req.send().await.unwrap()).await;
        assert!(r.status.is_success(), "{path}: {} {}", r.status, r.text);
        r.body
    }

    /// Starts a connect on `start`, approves at the sandbox as `user`, and returns the
    /// callback URL (the load balancer's).
    async fn consent(
        &self,
        start: &Replica,
        platform: &str,
        user: &str,
        destinations: Option<u32>,
    ) -> String {
        let profiles = self
            .api(start, reqwest::Method::GET, "/v1/profiles", None)
            .await;
        let profile = profiles["profiles"][0]["_id"].as_str().unwrap().to_owned();
        let started = self
            .api(
                start,
                reqwest::Method::GET,
                &format!(
                    "/v1/connect/{platform}?profileId={profile}&redirect_url={}",
                    urlencode(APP)
                ),
                None,
            )
            .await;
        let auth = started["authUrl"].as_str().unwrap();
        assert!(auth.starts_with(&self.sandbox.url), "{auth}");
        let html = self
            .http
            .get(auth)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let action = attr_after(&html, "<form", "action").unwrap();
        let request = attr_after(&html, "name=\"_request\"", "value").unwrap();
        let mut form = vec![
            ("_request".to_owned(), request),
            ("username".to_owned(), user.to_owned()),
            ("decision".to_owned(), "approve".to_owned()),
        ];
        if let Some(n) = destinations {
            form.push(("destinations".to_owned(), n.to_string()));
        }
        let r = reply(
            self.http
                .post(format!("{}{action}", self.sandbox.origin()))
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        location(&r)
    }

    async fn mongo(&self) -> mongodb::Database {
        mongodb::Client::with_uri_str(&self.uri)
            .await
            .unwrap()
            .database(&self.database)
    }
}

fn sigkill(child: &Child) {
    let pid = child.id().expect("running").to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
}

fn sigterm(child: &Child) {
    let pid = child.id().expect("running").to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
}

/// The replica (by port) a worker or poller name belongs to: names are `<addr>-<id>`.
fn port_of(holder: &str) -> u16 {
    holder
        .split('-')
        .next()
        .and_then(|addr| addr.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("holder {holder:?}"))
}

/// A webhook receiver that records every delivery and can hold the first answer back.
#[derive(Clone, Default)]
struct SlowReceiver {
    got: Arc<Mutex<Vec<(String, Value)>>>,
    /// The first delivery of the first event of this name waits this long before the
    /// answer.
    hold: Arc<Mutex<Option<(String, Duration)>>>,
}

impl SlowReceiver {
    async fn start(&self) -> String {
        let me = self.clone();
        let server = HttpServer::new(move || {
            let me = me.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let me = me.clone();
                async move {
                    let id = req
                        .headers()
                        .get("x-zernio-event-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    me.got.lock().unwrap().push((id.clone(), json.clone()));
                    let wait = {
                        let mut hold = me.hold.lock().unwrap();
                        match hold.as_ref() {
                            Some((held, d)) if json["event"] == held.as_str() => {
                                let d = *d;
                                *hold = None;
                                Some(d)
                            }
                            _ => None,
                        }
                    };
                    if let Some(d) = wait {
                        tokio::time::sleep(d).await;
                    }
                    HttpResponse::Ok().body("ok")
                }
            }))
        })
        .workers(2)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        tokio::spawn(server);
        format!("http://127.0.0.1:{port}/hooks")
    }

    fn ids(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn events(&self, name: &str) -> Vec<(String, Value)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, v)| v["event"] == name)
            .cloned()
            .collect()
    }
}

async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    secs: u64,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn three_replicas_on_one_mongodb_share_every_flow_and_lose_nothing_to_a_sigkill() {
    let tag = hex::encode(rand::random::<[u8; 3]>());
    let cluster = Cluster {
        sandbox: SandboxProcess::start().await,
        key: random_key(),
        encryption_key: hex::encode(rand::random::<[u8; 32]>()),
        uri: plugboard_store::test_server::mongodb_uri().await,
        database: plugboard_store::test_server::fresh_database_name(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap(),
    };
    let faults = format!("{}/_faults", cluster.sandbox.url);

    // 1. Due tokens, made by a setup replica that refreshes rarely and then stops: five X
    //    accounts whose tokens live ten minutes (inside the 15-minute refresh margin).
    cluster
        .http
        .post(&faults)
        .json(&json!({"platform": "twitter", "tokenLifetimeSeconds": 600}))
        .send()
        .await
        .unwrap();
    let setup = cluster.replica(3600).await;
    let users: Vec<String> = (0..5).map(|i| format!("due{i}-{tag}")).collect();
    for user in &users {
        let callback = cluster.consent(&setup, "twitter", user, None).await;
        let landed = cluster
            .http
            .get(cluster.via(&callback, &setup))
            .send()
            .await
            .unwrap();
        assert!(
            location_of(&landed).contains("connected=twitter"),
            "{}",
            location_of(&landed)
        );
    }
    sigterm(&setup.child);
    let mut setup = setup;
    assert!(setup.child.wait().await.unwrap().success());
    cluster
        .http
        .post(&faults)
        .json(&json!({"platform": "twitter"}))
        .send()
        .await
        .unwrap();

    // 2. Three replicas, refreshing every second.
    let a = cluster.replica(1).await;
    let b = cluster.replica(1).await;
    let c = cluster.replica(1).await;
    let replicas = [&a, &b, &c];
    let stats_url = format!("{}/_stats", cluster.sandbox.url);
    let refreshes = || async {
        let s: Value = cluster
            .http
            .get(&stats_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        s
    };
    eventually("every due token refreshed", 30, || async {
        let s = refreshes().await;
        users
            .iter()
            .all(|u| s["refreshes"][format!("twitter/{u}")].as_u64().unwrap_or(0) >= 1)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = refreshes().await;
    for u in &users {
        assert_eq!(
            s["refreshes"][format!("twitter/{u}")],
            1,
            "{u} refreshed exactly once: {s}"
        );
    }
    assert_eq!(
        s["rotatedRefreshTokensReused"], 0,
        "no refresh token was used twice: {s}"
    );
    let accounts = cluster
        .api(
            &b,
            reqwest::Method::GET,
            "/v1/accounts?platform=twitter",
            None,
        )
        .await;
    assert_eq!(accounts["accounts"].as_array().unwrap().len(), 5);
    assert!(
        accounts["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["needsReconnection"] == false)
    );

    // 3. One Telegram poller among the three, and it stays put.
    let db = cluster.mongo().await;
    let leases = db.collection::<Document>("leases");
    let poller = || async {
        leases
            .find_one(doc! {"_id": "telegram-poller"})
            .await
            .unwrap()
            .and_then(|d| d.get_str("holder").ok().map(str::to_owned))
    };
    eventually("a replica polls Telegram", 20, || async {
        poller().await.is_some()
    })
    .await;
    let holder = poller().await.unwrap();
    assert!(
        replicas.iter().any(|r| r.port == port_of(&holder)),
        "{holder}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        poller().await.unwrap(),
        holder,
        "the poller does not flap between replicas"
    );

    // A webhook subscription, created on one replica; every replica's workers deliver.
    let receiver = SlowReceiver::default();
    let hook_url = receiver.start().await;
    cluster
        .api(&a, reqwest::Method::POST, "/v1/webhooks/settings", Some(json!({"name": "cluster", "url": hook_url, "events": ["account.connected", "account.disconnected"]})))
        .await;

    // 4. A connect started on A completes when the callback lands on B; C serves the
    //    hosted picker.
    let callback = cluster
        .consent(&a, "facebook", &format!("pages-{tag}"), Some(2))
        .await;
    let on_b = cluster
        .http
        .get(cluster.via(&callback, &b))
        .send()
        .await
        .unwrap();
    let picker = location_of(&on_b);
    assert!(
        picker.starts_with(&format!("{LB}/connect/facebook/select?")),
        "{picker}"
    );
    let page = reply(
        cluster
            .http
            .get(cluster.via(&picker, &c))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.text);
    let options = choices(&page.text);
    assert_eq!(options.len(), 2, "{}", page.text);
    let form = [
        (
            "token",
            attr_after(&page.text, "name=\"token\"", "value").unwrap(),
        ),
        (
            "csrf",
            attr_after(&page.text, "name=\"csrf\"", "value").unwrap(),
        ),
        ("choice", options[1].clone()),
    ];
    let action = attr_after(&page.text, "<form", "action").unwrap();
    let picked = cluster
        .http
        .post(format!("{}{action}", c.url))
        .form(&form)
        .send()
        .await
        .unwrap();
    let done = location_of(&picked);
    assert!(
        done.starts_with(APP) && done.contains("connected=facebook"),
        "{done}"
    );
    let fb = query(&url::Url::parse(&done).unwrap())["accountId"].clone();
    let on_a = cluster
        .api(
            &a,
            reqwest::Method::GET,
            &format!("/v1/accounts/{fb}"),
            None,
        )
        .await;
    assert!(
        on_a["account"]["metadata"]["selectedPageId"].is_string(),
        "{on_a}"
    );

    // 5. Fifty callbacks with one state, spread over the replicas: exactly one account.
    let racer = format!("racer-{tag}");
    let callback = cluster.consent(&c, "twitter", &racer, None).await;
    let tries = (0..50).map(|i| {
        let url = cluster.via(&callback, replicas[i % 3]);
        let http = cluster.http.clone();
        async move { location_of(&http.get(url).send().await.unwrap()) }
    });
    let outcomes = futures::future::join_all(tries).await;
    let won = outcomes
        .iter()
        .filter(|l| l.contains("connected=twitter"))
        .count();
    assert_eq!(won, 1, "exactly one callback connects: {outcomes:?}");
    let listed = cluster
        .api(
            &b,
            reqwest::Method::GET,
            &format!("/v1/accounts?platform=twitter&search={racer}"),
            None,
        )
        .await;
    assert_eq!(listed["accounts"].as_array().unwrap().len(), 1, "{listed}");

    // Each event once per endpoint, not once per replica.
    eventually("the two connects were delivered", 30, || async {
        receiver.events("account.connected").len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut ids = receiver.ids();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        n,
        "an event was delivered twice: {:?}",
        receiver.ids()
    );

    // 6. SIGKILL mid-work: the replica holding a delivery in flight dies; another takes the
    //    delivery over when its lease runs out. If it held the Telegram poller, another
    //    replica takes that over too.
    let racer_id = listed["accounts"][0]["_id"].as_str().unwrap().to_owned();
    *receiver.hold.lock().unwrap() =
        Some(("account.disconnected".into(), Duration::from_secs(120)));
    cluster
        .api(
            &a,
            reqwest::Method::DELETE,
            &format!("/v1/accounts/{racer_id}"),
            None,
        )
        .await;
    let jobs = db.collection::<Document>("jobs");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (event_id, holder_port) = loop {
        assert!(
            Instant::now() < deadline,
            "no delivery of the disconnection got under way"
        );
        let delivering = receiver.events("account.disconnected");
        if let Some((event_id, _)) = delivering.first() {
            let mut cursor = jobs.find(doc! {"kind": "webhook.deliver"}).await.unwrap();
            let mut held_by = None;
            while cursor.advance().await.unwrap() {
                let j = cursor.deserialize_current().unwrap();
                let id = j.get_str("_id").unwrap_or_default();
                if id.starts_with(&format!("deliver:{event_id}:")) {
                    held_by = j
                        .get_str("lease_holder")
                        .ok()
                        .filter(|h| !h.is_empty())
                        .map(port_of);
                }
            }
            if let Some(port) = held_by {
                break (event_id.clone(), port);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut alive: Vec<&Replica> = Vec::new();
    for r in replicas {
        if r.port == holder_port {
            sigkill(&r.child);
        } else {
            alive.push(r);
        }
    }
    assert_eq!(alive.len(), 2, "the holder was one of the replicas");
    let poller_was = port_of(&poller().await.unwrap());
    eventually(
        "another replica redelivers after the lease runs out",
        60,
        || async { receiver.ids().iter().filter(|i| **i == event_id).count() >= 2 },
    )
    .await;
    let logs = cluster
        .api(
            alive[0],
            reqwest::Method::GET,
            &format!("/v1/webhooks/logs?eventId={event_id}&status=success"),
            None,
        )
        .await;
    assert!(
        logs["pagination"]["total"].as_u64().unwrap() >= 1,
        "the redelivery succeeded: {logs}"
    );
    if poller_was == holder_port {
        eventually(
            "a surviving replica takes over the Telegram poller",
            60,
            || async {
                poller()
                    .await
                    .is_some_and(|h| alive.iter().any(|r| r.port == port_of(&h)))
            },
        )
        .await;
    }
    // The take-over shows on a survivor's /metrics.
    let mut steals = 0.0;
    for r in &alive {
        let text = cluster
            .http
            .get(format!("{}/metrics", r.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        steals += crate::metrics::value(
            &text,
            r#"plugboard_lease_steals_total{lease="job:webhook.deliver"}"#,
        )
        .unwrap_or(0.0);
    }
    assert!(steals >= 1.0, "the redelivery counted as a take-over");
    // Nothing lost: every account is still there, seen from a survivor.
    let all = cluster
        .api(alive[1], reqwest::Method::GET, "/v1/accounts", None)
        .await;
    assert_eq!(
        all["accounts"].as_array().unwrap().len(),
        6,
        "five due accounts and the Page: {all}"
    );
}

fn location_of(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_else(|| format!("(no location; status {})", r.status()))
}
