//! `spawn_app()` and `TestApp`: a running server with a known API key, a client with
//! redirects off, and typed helpers to seed data through the store.

use chrono::Duration;
use plugboard::{Application, Config};
use plugboard_core::{Platform, ProfileId, Secret};
use plugboard_service::Services;
use plugboard_store::{Account, AccountUpsert};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;

pub struct TestApp {
    pub base: String,
    pub key: String,
    pub services: Services,
    pub client: reqwest::Client,
    pub data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn random_key() -> String {
    format!("sk_{}", hex::encode(rand::random::<[u8; 32]>()))
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with_clock(clock: std::sync::Arc<dyn plugboard_core::Clock>) -> TestApp {
    spawn_app_full(|_| {}, clock).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_full(tweak, std::sync::Arc::new(plugboard_core::SystemClock)).await
}

pub async fn spawn_app_full_with(
    tweak: impl FnOnce(&mut Config),
    clock: std::sync::Arc<dyn plugboard_core::Clock>,
) -> TestApp {
    spawn_app_full(tweak, clock).await
}

async fn spawn_app_full(
    tweak: impl FnOnce(&mut Config),
    clock: std::sync::Arc<dyn plugboard_core::Clock>,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path());
    let key = random_key();
    config.bootstrap_api_key = Some(Secret::new(key.clone()));
    tweak(&mut config);
    let app = Application::build_with_clock(config, clock)
        .await
        .expect("application builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let services = app.services().clone();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    TestApp {
        base,
        key,
        services,
        client,
        data_dir: dir.path().to_path_buf(),
        _dir: dir,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request authorised with the app's key.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(&self.key, method, path, body).await
    }

    pub async fn call_as(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        reply(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn owner(&self) -> plugboard_core::OwnerId {
        self.services.store.first_owner().await.unwrap().unwrap().id
    }

    pub async fn default_profile(&self) -> ProfileId {
        let r = self.get("/v1/profiles").await;
        r.body["profiles"][0]["_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    pub async fn create_profile(&self, name: &str) -> ProfileId {
        let r = self.post("/v1/profiles", json!({ "name": name })).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["profile"]["_id"].as_str().unwrap().parse().unwrap()
    }

    /// A new API key made through the API with the given body.
    pub async fn create_key(&self, body: Value) -> String {
        let r = self.post("/v1/api-keys", body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["apiKey"]["key"].as_str().unwrap().to_owned()
    }

    /// Seeds a connected account through the store (connect flows come later), with
    /// sealed tokens `access_token` / `refresh_token`.
    pub async fn seed_account(
        &self,
        profile: &ProfileId,
        platform: Platform,
        uid: &str,
        access_token: &str,
    ) -> Account {
        let owner = self.owner().await;
        let context = Account::tokens_context(&owner, platform, uid, "");
        let tokens = self.services.keyring.seal_json(
            &context,
            &json!({ "accessToken": access_token, "refreshToken": format!("{access_token}-refresh") }),
        );
        let now = self.services.clock.now();
        self.services
            .store
            .upsert_account(
                &AccountUpsert {
                    owner_id: owner,
                    profile_id: profile.clone(),
                    platform,
                    platform_user_id: uid.into(),
                    destination_id: String::new(),
                    username: Some(format!("{platform}_{uid}")),
                    display_name: Some(format!("Display {uid}")),
                    profile_picture: Some(format!("https://cdn.example/{uid}.png")),
                    profile_url: None,
                    followers_count: Some(42),
                    parent_account_id: None,
                    enabled: true,
                    metadata: Default::default(),
                    tokens: Some(tokens),
                    token_expires_at: Some(now + Duration::hours(2)),
                    scopes: vec!["tweet.read".into()],
                },
                None,
                now,
            )
            .await
            .unwrap()
    }
}

pub async fn reply(res: reqwest::Response) -> Reply {
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// Asserts the documented error shape and returns the code.
pub fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(r.body["code"], code, "{}", r.text);
    assert!(
        r.body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{}",
        r.text
    );
    assert!(r.body["type"].is_string(), "{}", r.text);
    assert_eq!(
        r.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "errors are JSON"
    );
}
