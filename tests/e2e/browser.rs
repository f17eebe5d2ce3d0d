//! The hosted pages in a real headless Chromium, driven through chromedriver (WebDriver):
//! the sandbox consent form, the callback, the hosted picker and the final redirect, with
//! a screenshot check that the picker really renders.
//!
//! Needs the Debian packages `chromium` and `chromium-driver`; `.ci/run` installs them, and
//! when they are missing and the tests run as root this test installs them itself. Without
//! them it fails (it is never skipped).

use crate::flows::*;
use crate::helpers::*;
use fantoccini::{Client, ClientBuilder, Locator};
use plugboard_core::Platform;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use url::Url;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn ensure_browser() {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return;
    }
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    assert!(
        root,
        "install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    );
    let status = std::process::Command::new("sh")
        .args(["-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)"])
        .status()
        .expect("apt-get runs");
    assert!(
        status.success(),
        "installing chromium and chromium-driver failed"
    );
}

/// chromedriver on a free loopback port; killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

async fn start_driver() -> Driver {
    ensure_browser();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // chromedriver announces readiness on stdout.
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains("started successfully") {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Driver { child, port }
}

async fn browser(driver: &Driver, profile_dir: &Path) -> Client {
    // Several tests may race to install it; the first wins and the rest find it set.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The flags this machine needs: no sandbox as root, and no background networking,
    // whose connections the closed network refuses.
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=900,900", format!("--user-data-dir={}", profile_dir.display()),
            ],
        }
    });
    let caps = caps.as_object().unwrap().clone().into_iter().collect();
    ClientBuilder::rustls()
        .expect("rustls")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session")
}

fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
}

/// Decodes the PNG and checks it shows something: the right size, and many colours (a
/// blank or error page is one or two).
fn assert_rendered(png_bytes: &[u8], name: &str) {
    std::fs::create_dir_all(screenshot_dir()).unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png_bytes).unwrap();
    let decoder = png::Decoder::new(png_bytes);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert!(
        info.width >= 600 && info.height >= 400,
        "{}x{}",
        info.width,
        info.height
    );
    let px = info.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    for chunk in buf[..info.buffer_size()].chunks(px).step_by(7) {
        colours.insert(chunk.to_vec());
    }
    assert!(
        colours.len() > 20,
        "{name}: the screenshot looks blank ({} colours)",
        colours.len()
    );
}

/// Waits until the browser's navigation lands on `path` (a click returns before the next
/// page has loaded). WebDriver has no navigation event to wait on, so this polls, as
/// fantoccini's own waits do.
async fn wait_for_path(c: &Client, path: &str) -> Url {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let url = c.current_url().await.unwrap();
        if url.path() == path && c.find(Locator::Css("body")).await.is_ok() {
            return url;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still at {url}, waiting for {path}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_person_connects_a_facebook_page_through_the_hosted_picker_in_chromium() {
    let driver = start_driver().await;
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    // The app's own page is served on loopback too, so the browser can land there.
    let redirect = app.url("/healthz?app=mine");
    let auth = app
        .start_connect(
            Platform::Facebook,
            &profile,
            &format!("&redirect_url={}", urlencode(&redirect)),
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let c = browser(&driver, dir.path()).await;

    c.goto(&auth).await.unwrap();
    assert!(
        text_of(&c, "body").await.contains("sandbox"),
        "the consent page says it is the sandbox"
    );
    let name = c.find(Locator::Css("input[name=username]")).await.unwrap();
    name.clear().await.unwrap();
    name.send_keys("chromium_user").await.unwrap();
    c.find(Locator::Css("button[value=approve]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // Callback → hosted picker, with its browser cookie.
    let picker = wait_for_path(&c, "/connect/facebook/select").await;
    assert_eq!(text_of(&c, "h1").await, "Choose a Facebook Page");
    assert!(text_of(&c, ".sandbox").await.contains("sandbox"));
    let options = c
        .find_all(Locator::Css("input[name=choice]"))
        .await
        .unwrap();
    assert_eq!(
        options.len(),
        2,
        "the sandbox user has two Pages by default"
    );
    assert_rendered(&c.screenshot().await.unwrap(), "facebook-picker");
    let second_page = text_of(&c, "label.choice:nth-of-type(2) strong").await;
    c.find(Locator::Css("label.choice:nth-of-type(2)"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    let landed = wait_for_path(&c, "/healthz").await;
    let q = query(&landed);
    assert_eq!(q["connected"], "facebook");
    assert_eq!(q["app"], "mine");
    assert_eq!(q["stage"], "select_page");
    let account = app.account_json(&q["accountId"]).await;
    assert_eq!(account["displayName"], second_page, "{account}");

    // Back to the picker: the selection is done, and the page says so.
    c.goto(picker.as_str()).await.unwrap();
    wait_for_path(&c, "/connect/facebook/select").await;
    assert_eq!(text_of(&c, "h1").await, "This selection has expired");
    c.close().await.unwrap();
    drop(driver.child);
}

#[tokio::test]
async fn the_empty_state_and_the_expired_link_pages_render_in_chromium() {
    let driver = start_driver().await;
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let dir = tempfile::tempdir().unwrap();
    let c = browser(&driver, dir.path()).await;

    // No redirect_url: the flow ends on Plugboard's own pages.
    let auth = app.start_connect(Platform::Facebook, &profile, "").await;
    c.goto(&auth).await.unwrap();
    c.find(Locator::Css("input[name=destinations]"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    c.find(Locator::Css("input[name=destinations]"))
        .await
        .unwrap()
        .send_keys("0")
        .await
        .unwrap();
    c.find(Locator::Css("button[value=approve]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(&c, "/connect/facebook/callback").await;
    let body = text_of(&c, "main").await;
    assert!(body.contains("tick at least one Page"), "{body}");
    assert_rendered(&c.screenshot().await.unwrap(), "no-pages");

    c.goto(
        &app.url(
            "/connect/twitter/callback?code=x&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ),
    )
    .await
    .unwrap();
    assert_eq!(text_of(&c, "h1").await, "This connection link has expired");
    assert_rendered(&c.screenshot().await.unwrap(), "expired-link");
    c.close().await.unwrap();
    drop(driver.child);
}
