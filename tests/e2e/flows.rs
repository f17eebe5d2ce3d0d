//! Driving a connect flow like a browser and a person would: start it through the API, go
//! through the sandbox's consent form (plain HTML, scripted here), follow the callback, and
//! through the hosted picker when one is shown.

use crate::helpers::*;
use plugboard::Config;
use plugboard::config::PlatformSettings;
use plugboard_core::{Platform, ProfileId, Secret};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use url::Url;

pub const APP_REDIRECT: &str = "https://app.example/connected?from=test";

/// The 11 OAuth platforms, Instagram once per login method.
pub const OAUTH: &[(Platform, &str)] = &[
    (Platform::Twitter, ""),
    (Platform::Instagram, "instagram_login"),
    (Platform::Instagram, "facebook_login"),
    (Platform::Facebook, ""),
    (Platform::Linkedin, ""),
    (Platform::Tiktok, ""),
    (Platform::Youtube, ""),
    (Platform::Pinterest, ""),
    (Platform::Reddit, ""),
    (Platform::Threads, ""),
    (Platform::Googlebusiness, ""),
    (Platform::Snapchat, ""),
];

pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the attribute `attr` of the first tag containing `marker`.
pub fn attr_after(html: &str, marker: &str, attr: &str) -> Option<String> {
    let at = html.find(marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let v = tag.find(&key)? + key.len();
    let end = tag[v..].find('"')?;
    Some(unescape(&tag[v..v + end]))
}

/// Every value of `name="choice"` radio buttons on the hosted picker.
pub fn choices(html: &str) -> Vec<String> {
    html.match_indices("name=\"choice\" value=\"")
        .map(|(i, m)| {
            let v = i + m.len();
            let end = html[v..].find('"').unwrap();
            unescape(&html[v..v + end])
        })
        .collect()
}

pub fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

pub fn location(r: &Reply) -> String {
    r.headers
        .get("location")
        .unwrap_or_else(|| panic!("no Location: {} {}", r.status, r.text))
        .to_str()
        .unwrap()
        .to_owned()
}

impl TestApp {
    /// `GET /v1/connect/{platform}` with extra query parameters; returns the authUrl.
    pub async fn start_connect(
        &self,
        platform: Platform,
        profile: &ProfileId,
        extra: &str,
    ) -> String {
        let r = self
            .get(&format!(
                "/v1/connect/{platform}?profileId={profile}{extra}"
            ))
            .await;
        assert_eq!(r.status, 200, "{platform}: {}", r.text);
        assert!(
            r.body["state"].as_str().is_some_and(|s| s.len() >= 43),
            "{}",
            r.text
        );
        r.body["authUrl"].as_str().unwrap().to_owned()
    }

    /// Goes through the sandbox consent page: the form is fetched, then posted back with
    /// the user name and the decision, as a person clicking Approve or Deny would.
    pub async fn consent(
        &self,
        auth_url: &str,
        username: &str,
        decision: &str,
        destinations: Option<u32>,
    ) -> String {
        let page = self.client.get(auth_url).send().await.unwrap();
        assert_eq!(page.status(), 200, "{auth_url}");
        let html = page.text().await.unwrap();
        assert!(
            html.contains("sandbox"),
            "the consent page says it is the sandbox"
        );
        let action = attr_after(&html, "<form", "action").expect("form action");
        let request = attr_after(&html, "name=\"_request\"", "value").expect("_request field");
        let mut form = vec![
            ("_request".to_owned(), request),
            ("username".to_owned(), username.to_owned()),
            ("decision".to_owned(), decision.to_owned()),
        ];
        if let Some(n) = destinations {
            form.push(("destinations".to_owned(), n.to_string()));
        }
        let origin = Url::parse(auth_url).unwrap();
        let target = origin.join(&action).unwrap();
        let r = reply(self.client.post(target).form(&form).send().await.unwrap()).await;
        assert_eq!(r.status, StatusCode::FOUND, "consent: {}", r.text);
        location(&r)
    }

    /// Follows the platform's redirect into Plugboard's callback, then the hosted picker
    /// (choosing `pick`, or the first choice) when one is shown. Returns where the browser
    /// finally lands.
    pub async fn finish_in_browser(&self, callback: &str, pick: Option<&str>) -> Reply {
        let r = reply(self.client.get(callback).send().await.unwrap()).await;
        if r.status != StatusCode::FOUND {
            return r;
        }
        let next = location(&r);
        if !(next.starts_with(&self.base) && next.contains("/select?")) {
            return r;
        }
        let page = reply(self.client.get(&next).send().await.unwrap()).await;
        assert_eq!(page.status, 200, "picker: {}", page.text);
        let options = choices(&page.text);
        assert!(!options.is_empty(), "picker offers choices: {}", page.text);
        let choice = pick
            .map(str::to_owned)
            .unwrap_or_else(|| options[0].clone());
        let form = [
            (
                "token",
                attr_after(&page.text, "name=\"token\"", "value").unwrap(),
            ),
            (
                "csrf",
                attr_after(&page.text, "name=\"csrf\"", "value").unwrap(),
            ),
            ("choice", choice),
        ];
        let action = attr_after(&page.text, "<form", "action").unwrap();
        reply(
            self.client
                .post(self.url(&action))
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// A whole standard-mode connect; returns the query of the final redirect.
    pub async fn connect_standard(
        &self,
        platform: Platform,
        login: &str,
        profile: &ProfileId,
        username: &str,
    ) -> HashMap<String, String> {
        let extra = format!(
            "&redirect_url={}{}",
            urlencode(APP_REDIRECT),
            if login.is_empty() {
                String::new()
            } else {
                format!("&loginMethod={login}")
            }
        );
        let auth = self.start_connect(platform, profile, &extra).await;
        let callback = self.consent(&auth, username, "approve", None).await;
        let done = self.finish_in_browser(&callback, None).await;
        assert_eq!(done.status, StatusCode::FOUND, "{platform}: {}", done.text);
        let landed = Url::parse(&location(&done)).unwrap();
        assert!(
            landed.as_str().starts_with("https://app.example/connected"),
            "{landed}"
        );
        query(&landed)
    }

    /// The account with this id as `GET /v1/accounts` shows it.
    pub async fn account_json(&self, id: &str) -> Value {
        let r = self.get(&format!("/v1/accounts?search={id}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("account {id} not listed: {}", r.text))
    }

    pub async fn account_count(&self) -> usize {
        self.get("/v1/accounts").await.body["accounts"]
            .as_array()
            .unwrap()
            .len()
    }

    pub async fn call_with(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        bearer: bool,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if bearer {
            req = req.bearer_auth(&self.key);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        reply(req.send().await.unwrap()).await
    }
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A server whose `platform` app has its own client id, registered with a sandbox served
/// by a separate server, so fault knobs set for that client touch no other test.
pub struct Isolated {
    pub app: TestApp,
    pub sandbox: TestApp,
    pub client_id: String,
}

pub async fn spawn_isolated(platform: Platform, tweak: impl FnOnce(&mut Config)) -> Isolated {
    spawn_isolated_full(
        platform,
        tweak,
        std::sync::Arc::new(plugboard_core::SystemClock),
    )
    .await
}

pub async fn spawn_isolated_with_clock(
    platform: Platform,
    clock: std::sync::Arc<dyn plugboard_core::Clock>,
) -> Isolated {
    spawn_isolated_full(platform, |_| {}, clock).await
}

pub async fn spawn_isolated_full(
    platform: Platform,
    tweak: impl FnOnce(&mut Config),
    clock: std::sync::Arc<dyn plugboard_core::Clock>,
) -> Isolated {
    let sandbox = spawn_app().await;
    let client_id = format!("test-{}", hex::encode(rand::random::<[u8; 6]>()));
    let secret = format!("{client_id}-secret");
    let base = format!("{}/sandbox/{platform}", sandbox.base);
    let (id, s) = (client_id.clone(), secret.clone());
    let app = spawn_app_full_with(
        move |c| {
            c.platforms.insert(
                platform,
                PlatformSettings {
                    credentials: Some((id, Secret::new(s))),
                    base_url: Some(Url::parse(&base).unwrap()),
                    ..Default::default()
                },
            );
            tweak(c);
        },
        clock,
    )
    .await;
    let r = sandbox
        .post(
            "/sandbox/_clients",
            json!({
                "platform": platform, "clientId": client_id, "clientSecret": secret,
                "redirectUris": [format!("{}/connect/{platform}/callback", app.base)],
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    Isolated {
        app,
        sandbox,
        client_id,
    }
}

impl Isolated {
    pub async fn fault(&self, platform: Platform, knobs: Value) {
        let mut body = json!({"platform": platform, "clientId": self.client_id});
        body.as_object_mut()
            .unwrap()
            .extend(knobs.as_object().unwrap().clone());
        let r = self.sandbox.post("/sandbox/_faults", body).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}
