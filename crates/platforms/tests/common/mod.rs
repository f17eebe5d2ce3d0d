//! Test servers on loopback port 0 (STYLE §5): the real sandbox, and a scripted platform
//! that answers fixture JSON at the real paths and records what it was asked.

#![allow(dead_code, reason = "each test binary uses part of the kit")]

use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use plugboard_core::{Clock, Platform, Secret, SystemClock};
use plugboard_platforms::spec::BaseUrl;
use plugboard_platforms::{Connector, Flavor, PlatformApp, build_connector};
use serde_json::Value;
use url::Url;

pub const SANDBOX_CLIENT_ID: &str = "plugboard-sandbox";
pub const SANDBOX_CLIENT_SECRET: &str = "plugboard-sandbox-secret";
pub const USER_AGENT: &str = "test:plugboard-platforms:0.1 (by /u/plugboard)";

/// Runs `server` on its own thread and actix system for the rest of the test process, so
/// it outlives any one test's runtime.
fn serve(build: impl FnOnce(TcpListener) -> actix_web::dev::Server + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = build(listener);
            tx.send(()).unwrap();
            server.await.unwrap();
        })
    });
    rx.recv().unwrap();
    addr
}

/// The sandbox mounted under `/sandbox`, started once per test binary.
pub fn sandbox() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        serve(|listener| {
            HttpServer::new(|| {
                App::new().service(web::scope("/sandbox").configure(plugboard_sandbox::configure))
            })
            .workers(2)
            .listen(listener)
            .unwrap()
            .run()
        })
    })
}

pub fn sandbox_base(slug: &str) -> String {
    format!("http://{}/sandbox/{slug}", sandbox())
}

pub fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

pub fn app(base: &str, client_id: &str, secret: &str) -> PlatformApp {
    PlatformApp {
        client_id: client_id.to_owned(),
        client_secret: Secret::new(secret.to_owned()),
        base_url: Some(BaseUrl::parse(base).unwrap()),
        scopes: None,
        user_agent: USER_AGENT.to_owned(),
        usage: plugboard_platforms::no_usage(),
    }
}

/// A connector of the production code path, pointed at `base`.
pub fn connector(platform: Platform, flavor: Flavor, app: PlatformApp) -> Arc<dyn Connector> {
    build_connector(
        platform,
        flavor,
        app,
        plugboard_platforms::http_client().unwrap(),
        clock(),
    )
    .unwrap()
    .unwrap_or_else(|| panic!("{platform} has no {flavor:?} connector"))
}

/// The sandbox fake a flavor talks to: Instagram through Facebook Login uses Facebook's.
pub fn fake_slug(platform: Platform, flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::InstagramFacebookLogin => "facebook",
        Flavor::Standard => platform.as_str(),
    }
}

/// Every OAuth connector: the eleven platforms plus Instagram's second login.
pub fn all_flavors() -> Vec<(Platform, Flavor)> {
    let mut out: Vec<_> = Platform::ALL
        .into_iter()
        .filter(|p| plugboard_platforms::oauth_spec(*p).is_some())
        .map(|p| (p, Flavor::Standard))
        .collect();
    out.push((Platform::Instagram, Flavor::InstagramFacebookLogin));
    out
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of attribute `attr` of the first tag that contains `marker`.
fn attribute(html: &str, marker: &str, attr: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the consent page: {html}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    let tag = &html[start..end];
    let key = format!("{attr}=\"");
    let v = tag.find(&key).unwrap() + key.len();
    unescape(&tag[v..v + tag[v..].find('"').unwrap()])
}

/// Plays the user on the sandbox consent page: opens the authorization URL, approves as
/// `username` (with `extra` form fields), and returns the redirect's query parameters.
pub async fn approve(
    authorization_url: &str,
    username: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let browser = browser();
    let page = browser.get(authorization_url).send().await.unwrap();
    let status = page.status();
    let html = page.text().await.unwrap();
    assert_eq!(status, 200, "consent page for {authorization_url}: {html}");
    let request = attribute(&html, "name=\"_request\"", "value");
    let action = attribute(&html, "<form", "action");
    let mut target = Url::parse(authorization_url).unwrap();
    target.set_query(None);
    target.set_path(&action);
    let mut form = vec![
        ("_request", request.as_str()),
        ("username", username),
        ("decision", "approve"),
    ];
    form.extend_from_slice(extra);
    let answer = browser.post(target).form(&form).send().await.unwrap();
    assert_eq!(
        answer.status(),
        302,
        "consent answer: {:?}",
        answer.text().await
    );
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    Url::parse(&location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A username no other test (or earlier run against the same process) uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Posts to one of the sandbox's admin endpoints (`_faults`, `_clients`).
pub async fn sandbox_admin(path: &str, body: Value) {
    let url = format!("http://{}/sandbox/{path}", sandbox());
    let resp = browser().post(&url).json(&body).send().await.unwrap();
    assert!(
        resp.status().is_success(),
        "{path}: {}",
        resp.text().await.unwrap()
    );
}

/// One request the scripted platform received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.query, name)
    }
}

/// What the scripted platform answers: status, JSON body, extra headers.
pub type Answer = (u16, Value, Vec<(&'static str, String)>);

type Script = Arc<dyn Fn(&Recorded) -> Answer + Send + Sync>;

/// A platform that answers what `script` says and remembers every request.
pub struct Scripted {
    pub base: String,
    log: Arc<Mutex<Vec<Recorded>>>,
}

impl Scripted {
    pub fn start(script: impl Fn(&Recorded) -> (u16, Value) + Send + Sync + 'static) -> Self {
        Self::start_with_headers(move |r| {
            let (status, body) = script(r);
            (status, body, Vec::new())
        })
    }

    /// Like [`Scripted::start`], with response headers of the script's choosing.
    pub fn start_with_headers(
        script: impl Fn(&Recorded) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let script: Script = Arc::new(script);
        let log: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let state = (script, log.clone());
        let addr = serve(move |listener| {
            HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(state.clone()))
                    .default_service(web::to(answer))
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run()
        });
        Self {
            base: format!("http://{addr}"),
            log,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }
}

async fn answer(
    req: HttpRequest,
    state: web::Data<(Script, Arc<Mutex<Vec<Recorded>>>)>,
) -> HttpResponse {
    let recorded = Recorded {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
    };
    let (status, body, headers) = (state.0)(&recorded);
    state.1.lock().unwrap().push(recorded);
    let mut resp = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    for (k, v) in headers {
        resp.insert_header((k, v));
    }
    resp.json(body)
}

/// A token set as the connector would hold it after a login, for listing tests.
pub fn tokens(access: &str, scopes: &[&str]) -> plugboard_platforms::TokenSet {
    plugboard_platforms::TokenSet {
        access_token: access.to_owned(),
        refresh_token: None,
        expires_at: None,
        refresh_expires_at: None,
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        user_id: None,
    }
}
