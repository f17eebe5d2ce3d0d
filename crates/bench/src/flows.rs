//! A connect flow driven the way a browser drives it: start it through the API, approve
//! on the sandbox's consent form, and hand the code to Plugboard's callback.

use crate::Res;
use crate::servers::Server;

/// Where the integrator's user lands at the end (never contacted: redirects are not
/// followed).
pub const REDIRECT: &str = "http://127.0.0.1:9/connected";

pub fn connect_path(platform: &str, profile: &str) -> String {
    let redirect: String = url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect();
    format!("/v1/connect/{platform}?profileId={profile}&redirect_url={redirect}")
}

/// `GET /v1/connect/{platform}` → the authorization URL.
pub async fn start(
    client: &reqwest::Client,
    server: &Server,
    platform: &str,
    profile: &str,
) -> Res<String> {
    let r: serde_json::Value = client
        .get(server.url(&connect_path(platform, profile)))
        .bearer_auth(&server.key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    r["authUrl"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no authUrl in {r}").into())
}

fn attr_after(html: &str, marker: &str, attr: &str) -> Option<String> {
    let at = html.find(marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let v = tag.find(&key)? + key.len();
    let end = tag[v..].find('"')?;
    Some(
        tag[v..v + end]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// Approves on the sandbox's consent page as `username`; the callback URL it redirects to.
pub async fn consent(client: &reqwest::Client, auth_url: &str, username: &str) -> Res<String> {
    let html = client
        .get(auth_url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let action = attr_after(&html, "<form", "action").ok_or("no form on the consent page")?;
    let request =
        attr_after(&html, "name=\"_request\"", "value").ok_or("no _request on the consent page")?;
    let target = url::Url::parse(auth_url)?.join(&action)?;
    let r = client
        .post(target)
        .form(&[
            ("_request", request.as_str()),
            ("username", username),
            ("decision", "approve"),
        ])
        .send()
        .await?;
    let location = r
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match (r.status().as_u16(), location) {
        (302, Some(l)) => Ok(l),
        (status, _) => Err(format!("consent answered {status}: {}", r.text().await?).into()),
    }
}

/// Follows the provider's redirect into Plugboard: expects the 302 to the integrator.
pub async fn callback(client: &reqwest::Client, callback_url: &str) -> Res<()> {
    let r = client.get(callback_url).send().await?;
    let location = r
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if r.status().as_u16() == 302
        && location.starts_with(REDIRECT)
        && location.contains("connected=")
    {
        Ok(())
    } else {
        Err(format!(
            "callback answered {} → {location:?}: {}",
            r.status(),
            r.text().await.unwrap_or_default()
        )
        .into())
    }
}
