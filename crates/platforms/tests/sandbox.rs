//! Every connector against the real sandbox over loopback: the production code path, with
//! only the base URL moved (STYLE §1, §5). The consent page is driven like a script.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod common;

use std::sync::Arc;

use common::*;
use plugboard_core::Platform;
use plugboard_platforms::{
    AuthorizeParams, Connector, ConnectorError, Flavor, PkceVerifier, TokenSet,
};
use serde_json::json;

const REDIRECT: &str = "http://127.0.0.1:9/v1/connect/callback";

/// How the platform keeps a grant alive (platforms.md §18).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Renewal {
    /// A new refresh token each time; the old one dies.
    Rotates,
    /// The same refresh token stays (echoed or omitted).
    Keeps,
    /// No refresh token: the long-lived access token itself is extended.
    Extends,
    /// Nothing to refresh: the user logs in again.
    LogsInAgain,
}

fn renewal(platform: Platform, flavor: Flavor) -> Renewal {
    match (platform, flavor) {
        (_, Flavor::InstagramFacebookLogin) | (Platform::Facebook | Platform::Whatsapp, _) => {
            Renewal::LogsInAgain
        }
        (Platform::Instagram | Platform::Threads, _) => Renewal::Extends,
        (Platform::Twitter | Platform::Tiktok | Platform::Pinterest, _) => Renewal::Rotates,
        _ => Renewal::Keeps,
    }
}

/// Platforms whose handle is the name typed on the consent page (YouTube's with `@`).
fn expected_username(platform: Platform, flavor: Flavor, username: &str) -> Option<String> {
    match (platform, flavor) {
        (Platform::Youtube, _) => Some(format!("@{username}")),
        (Platform::Twitter | Platform::Tiktok | Platform::Pinterest | Platform::Reddit, _)
        | (Platform::Threads, _)
        | (Platform::Instagram, Flavor::Standard) => Some(username.to_owned()),
        _ => None,
    }
}

struct Login {
    connector: Arc<dyn Connector>,
    code: String,
    verifier: Option<PkceVerifier>,
}

/// Authorization URL → consent as `username` → the code from the redirect.
async fn login(
    platform: Platform,
    flavor: Flavor,
    client_id: &str,
    secret: &str,
    username: &str,
) -> Login {
    let base = sandbox_base(fake_slug(platform, flavor));
    let connector = connector(platform, flavor, app(&base, client_id, secret));
    let verifier = connector.uses_pkce().then(PkceVerifier::generate);
    let challenge = verifier.as_ref().map(PkceVerifier::challenge);
    let state = unique("state");
    let url = connector
        .authorization_url(&AuthorizeParams {
            redirect_uri: REDIRECT,
            state: &state,
            pkce: challenge.as_ref(),
            force_reauth: false,
            extra_scopes: &[],
        })
        .unwrap();
    let redirect = approve(&url, username, &[]).await;
    assert_eq!(
        param(&redirect, "state"),
        Some(state.as_str()),
        "{platform}"
    );
    let code = param(&redirect, "code")
        .unwrap_or_else(|| panic!("{platform} {flavor:?}: no code in {redirect:?}"))
        .to_owned();
    Login {
        connector,
        code,
        verifier,
    }
}

async fn connect(
    platform: Platform,
    flavor: Flavor,
    client_id: &str,
    secret: &str,
    username: &str,
) -> (Arc<dyn Connector>, TokenSet) {
    let l = login(platform, flavor, client_id, secret, username).await;
    let tokens = l
        .connector
        .exchange_code(&l.code, REDIRECT, l.verifier.as_ref())
        .await
        .unwrap_or_else(|e| panic!("{platform} {flavor:?}: exchange failed: {e:?}"));
    (l.connector, tokens)
}

#[tokio::test]
async fn every_connector_logs_in_identifies_and_refreshes_against_the_sandbox() {
    for (platform, flavor) in all_flavors() {
        let who = format!("{platform} {flavor:?}");
        let username = unique("flow_");
        let (c, tokens) = connect(
            platform,
            flavor,
            SANDBOX_CLIENT_ID,
            SANDBOX_CLIENT_SECRET,
            &username,
        )
        .await;
        assert!(!tokens.access_token.is_empty(), "{who}");
        assert!(tokens.expires_at.is_some(), "{who}: no expiry");
        assert!(!tokens.scopes.is_empty(), "{who}: no scopes");

        let identity = c
            .identity(&tokens)
            .await
            .unwrap_or_else(|e| panic!("{who}: identity: {e:?}"));
        assert!(!identity.platform_user_id.is_empty(), "{who}");
        assert!(
            identity
                .display_name
                .as_deref()
                .is_some_and(|n| n.contains(&username)),
            "{who}: {identity:?}"
        );
        if let Some(want) = expected_username(platform, flavor, &username) {
            assert_eq!(identity.username.as_deref(), Some(want.as_str()), "{who}");
        }
        match (platform, flavor) {
            (Platform::Instagram, Flavor::Standard) => {
                let scoped = identity.metadata["instagramScopedId"].as_str().unwrap();
                assert_ne!(
                    scoped, identity.platform_user_id,
                    "{who}: user_id names the account"
                );
            }
            (Platform::Tiktok, _) => {
                assert_eq!(
                    tokens.user_id.as_deref(),
                    Some(identity.platform_user_id.as_str())
                );
            }
            _ => {}
        }

        let refreshed = c.refresh(&tokens).await;
        match renewal(platform, flavor) {
            Renewal::LogsInAgain => {
                assert!(
                    matches!(refreshed, Err(ConnectorError::Unsupported(_))),
                    "{who}: {refreshed:?}"
                );
                continue;
            }
            Renewal::Rotates => {
                let fresh = refreshed.unwrap_or_else(|e| panic!("{who}: refresh: {e:?}"));
                assert_ne!(
                    fresh.refresh_token, tokens.refresh_token,
                    "{who}: not rotated"
                );
                assert!(fresh.refresh_token.is_some(), "{who}");
                let again = c.refresh(&tokens).await;
                assert!(
                    matches!(again, Err(ConnectorError::InvalidGrant { .. })),
                    "{who}: the rotated-out refresh token still worked: {again:?}"
                );
                assert_same_user(&*c, &fresh, &identity.platform_user_id, &who).await;
            }
            Renewal::Keeps => {
                let fresh = refreshed.unwrap_or_else(|e| panic!("{who}: refresh: {e:?}"));
                assert!(
                    tokens.refresh_token.is_some(),
                    "{who}: no refresh token issued"
                );
                assert_eq!(fresh.refresh_token, tokens.refresh_token, "{who}");
                assert_ne!(fresh.access_token, tokens.access_token, "{who}");
                assert_same_user(&*c, &fresh, &identity.platform_user_id, &who).await;
            }
            Renewal::Extends => {
                let fresh = refreshed.unwrap_or_else(|e| panic!("{who}: extend: {e:?}"));
                assert_eq!(fresh.refresh_token, None, "{who}");
                assert_ne!(fresh.access_token, tokens.access_token, "{who}");
                assert_eq!(fresh.user_id, tokens.user_id, "{who}");
                assert_same_user(&*c, &fresh, &identity.platform_user_id, &who).await;
            }
        }
    }
}

async fn assert_same_user(c: &dyn Connector, tokens: &TokenSet, id: &str, who: &str) {
    let again = c
        .identity(tokens)
        .await
        .unwrap_or_else(|e| panic!("{who}: identity after refresh: {e:?}"));
    assert_eq!(again.platform_user_id, id, "{who}");
}

#[tokio::test]
async fn the_same_fake_user_is_the_same_platform_account_on_every_login() {
    for (platform, flavor) in all_flavors() {
        let username = unique("again_");
        let mut ids = Vec::new();
        for _ in 0..2 {
            let (c, tokens) = connect(
                platform,
                flavor,
                SANDBOX_CLIENT_ID,
                SANDBOX_CLIENT_SECRET,
                &username,
            )
            .await;
            ids.push(c.identity(&tokens).await.unwrap().platform_user_id);
        }
        assert_eq!(ids[0], ids[1], "{platform} {flavor:?}");
    }
}

#[tokio::test]
async fn a_replayed_code_is_an_invalid_grant_on_every_platform() {
    for (platform, flavor) in all_flavors() {
        let who = format!("{platform} {flavor:?}");
        let l = login(
            platform,
            flavor,
            SANDBOX_CLIENT_ID,
            SANDBOX_CLIENT_SECRET,
            &unique("replay_"),
        )
        .await;
        let first = l
            .connector
            .exchange_code(&l.code, REDIRECT, l.verifier.as_ref())
            .await
            .unwrap();
        let replay = l
            .connector
            .exchange_code(&l.code, REDIRECT, l.verifier.as_ref())
            .await;
        match &replay {
            Err(ConnectorError::InvalidGrant { description }) => {
                assert!(!description.contains(&l.code), "{who}: the code is echoed");
            }
            other => panic!("{who}: {other:?}"),
        }
        // RFC 6749 §4.1.2: what the first exchange issued is revoked by the replay.
        let identity = l.connector.identity(&first).await;
        assert!(
            matches!(identity, Err(ConnectorError::InvalidGrant { .. })),
            "{who}: {identity:?}"
        );
    }
}

#[tokio::test]
async fn a_wrong_client_secret_is_an_invalid_client_on_every_platform() {
    for (platform, flavor) in all_flavors() {
        let l = login(
            platform,
            flavor,
            SANDBOX_CLIENT_ID,
            "not-the-secret",
            &unique("badsecret_"),
        )
        .await;
        let got = l
            .connector
            .exchange_code(&l.code, REDIRECT, l.verifier.as_ref())
            .await;
        match &got {
            Err(e @ ConnectorError::InvalidClient { .. }) => {
                assert!(!e.to_string().contains("not-the-secret"), "{platform}: {e}");
            }
            other => panic!("{platform} {flavor:?}: {other:?}"),
        }
    }
}

/// Registers an app of its own on the fake so its fault knobs touch no other test.
async fn own_client(platform: Platform, flavor: Flavor) -> String {
    let slug = fake_slug(platform, flavor);
    // Unique per call: tests running at once must not share an app, or one's knobs reach
    // the other.
    let client_id = unique(&format!("faults-{}-{flavor:?}-", platform.as_str()));
    sandbox_admin(
        "_clients",
        json!({"platform": slug, "clientId": client_id, "clientSecret": "faults-secret",
               "redirectUris": [REDIRECT]}),
    )
    .await;
    client_id
}

async fn set_faults(
    platform: Platform,
    flavor: Flavor,
    client_id: &str,
    faults: serde_json::Value,
) {
    let mut body = json!({"platform": fake_slug(platform, flavor), "clientId": client_id});
    body.as_object_mut()
        .unwrap()
        .extend(faults.as_object().unwrap().clone());
    sandbox_admin("_faults", body).await;
}

#[tokio::test]
async fn outages_are_transient_and_truncated_or_refused_answers_are_classified() {
    for (platform, flavor) in all_flavors() {
        let who = format!("{platform} {flavor:?}");
        let client_id = own_client(platform, flavor).await;
        let (c, tokens) = connect(
            platform,
            flavor,
            &client_id,
            "faults-secret",
            &unique("faults_"),
        )
        .await;

        set_faults(
            platform,
            flavor,
            &client_id,
            json!({"identity": "unauthorized"}),
        )
        .await;
        let got = c.identity(&tokens).await;
        assert!(
            matches!(got, Err(ConnectorError::InvalidGrant { .. })),
            "{who}: refused token: {got:?}"
        );

        set_faults(platform, flavor, &client_id, json!({"identity": "fail"})).await;
        let got = c.identity(&tokens).await;
        assert!(
            got.as_ref().is_err_and(ConnectorError::is_transient),
            "{who}: identity outage: {got:?}"
        );

        set_faults(platform, flavor, &client_id, json!({"token": "fail"})).await;
        let l = login(
            platform,
            flavor,
            &client_id,
            "faults-secret",
            &unique("faults_"),
        )
        .await;
        let got = l
            .connector
            .exchange_code(&l.code, REDIRECT, l.verifier.as_ref())
            .await;
        assert!(
            got.as_ref().is_err_and(ConnectorError::is_transient),
            "{who}: token outage: {got:?}"
        );

        set_faults(platform, flavor, &client_id, json!({"token": "malformed"})).await;
        let l = login(
            platform,
            flavor,
            &client_id,
            "faults-secret",
            &unique("faults_"),
        )
        .await;
        let got = l
            .connector
            .exchange_code(&l.code, REDIRECT, l.verifier.as_ref())
            .await;
        assert!(
            matches!(got, Err(ConnectorError::Malformed(_))),
            "{who}: truncated body: {got:?}"
        );

        set_faults(
            platform,
            flavor,
            &client_id,
            json!({"token": "invalid_grant"}),
        )
        .await;
        if renewal(platform, flavor) != Renewal::LogsInAgain {
            let got = c.refresh(&tokens).await;
            assert!(
                matches!(got, Err(ConnectorError::InvalidGrant { .. })),
                "{who}: refused refresh: {got:?}"
            );
        }
        set_faults(platform, flavor, &client_id, json!({})).await;
    }
}

#[tokio::test]
async fn revocation_kills_the_token_where_the_platform_offers_it() {
    for (platform, flavor) in all_flavors() {
        let who = format!("{platform} {flavor:?}");
        let (c, tokens) = connect(
            platform,
            flavor,
            SANDBOX_CLIENT_ID,
            SANDBOX_CLIENT_SECRET,
            &unique("revoke_"),
        )
        .await;
        let revocable = c.spec().revoke_url.is_some();
        let got = c.revoke(&tokens).await;
        if !revocable {
            assert!(
                matches!(got, Err(ConnectorError::Unsupported(_))),
                "{who}: {got:?}"
            );
            continue;
        }
        got.unwrap_or_else(|e| panic!("{who}: {e:?}"));
        // LinkedIn and TikTok revoke the access token; the others the refresh token, which
        // ends the whole grant.
        let dead = match (platform, &tokens.refresh_token) {
            (Platform::Linkedin | Platform::Tiktok, _) | (_, None) => {
                c.identity(&tokens).await.map(drop)
            }
            (_, Some(_)) => c.refresh(&tokens).await.map(drop),
        };
        assert!(
            matches!(dead, Err(ConnectorError::InvalidGrant { .. })),
            "{who}: the revoked token still works: {dead:?}"
        );
    }
}

#[tokio::test]
async fn instagram_asks_for_a_fresh_login_only_when_told() {
    let base = sandbox_base("instagram");
    let c = connector(
        Platform::Instagram,
        Flavor::Standard,
        app(&base, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET),
    );
    for force_reauth in [false, true] {
        let url = c
            .authorization_url(&AuthorizeParams {
                redirect_uri: REDIRECT,
                state: "st",
                pkce: None,
                force_reauth,
                extra_scopes: &[],
            })
            .unwrap();
        let sent = url.contains("force_reauth=true");
        assert_eq!(sent, force_reauth, "{url}");
        // The fake accepts it either way.
        let redirect = approve(&url, &unique("reauth_"), &[]).await;
        assert!(param(&redirect, "code").is_some());
    }
}

#[tokio::test]
async fn configured_scopes_replace_the_defaults_and_come_back_granted() {
    let base = sandbox_base("twitter");
    let mut twitter = app(&base, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET);
    twitter.scopes = Some(vec!["tweet.read".into(), "users.read".into()]);
    let c = connector(Platform::Twitter, Flavor::Standard, twitter);
    let verifier = PkceVerifier::generate();
    let url = c
        .authorization_url(&AuthorizeParams {
            redirect_uri: REDIRECT,
            state: "st",
            pkce: Some(&verifier.challenge()),
            force_reauth: false,
            extra_scopes: &[],
        })
        .unwrap();
    let redirect = approve(&url, &unique("scopes_"), &[]).await;
    let tokens = c
        .exchange_code(param(&redirect, "code").unwrap(), REDIRECT, Some(&verifier))
        .await
        .unwrap();
    assert_eq!(tokens.scopes, vec!["tweet.read", "users.read"]);
    // Without offline.access X issues no refresh token, so there is nothing to refresh.
    assert_eq!(tokens.refresh_token, None);
    assert!(matches!(
        c.refresh(&tokens).await,
        Err(ConnectorError::Unsupported(_))
    ));
}

#[tokio::test]
async fn an_unreachable_platform_is_a_transport_error_that_names_no_secret() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/instagram");
    let c = connector(
        Platform::Instagram,
        Flavor::Standard,
        app(&base, SANDBOX_CLIENT_ID, "app-secret-value"),
    );
    let tokens = tokens("IGQVJ-long-lived-secret-token", &[]);
    // The extension is a GET with the token in its query.
    match c.refresh(&tokens).await {
        Err(e @ ConnectorError::Transport(_)) => {
            assert!(e.is_transient());
            let shown = e.to_string();
            assert!(!shown.contains("IGQVJ-long-lived-secret-token"), "{shown}");
            assert!(!shown.contains("access_token="), "{shown}");
            assert!(!shown.contains("app-secret-value"), "{shown}");
            assert!(shown.contains("/refresh_access_token"), "{shown}");
        }
        other => panic!("{other:?}"),
    }
    match c.exchange_code("the-secret-code", REDIRECT, None).await {
        Err(e @ ConnectorError::Transport(_)) => {
            let shown = e.to_string();
            assert!(
                !shown.contains("the-secret-code") && !shown.contains("app-secret-value"),
                "{shown}"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// What a selecting connector should list for a user who ticked `n` destinations on the
/// consent page.
fn expected_destinations(platform: Platform, flavor: Flavor, n: usize) -> usize {
    match (platform, flavor) {
        // The sandbox leaves the last of three or more Pages without an Instagram account.
        (Platform::Instagram, Flavor::InstagramFacebookLogin) if n >= 3 => n - 1,
        _ => n,
    }
}

fn selecting() -> Vec<(Platform, Flavor)> {
    vec![
        (Platform::Facebook, Flavor::Standard),
        (Platform::Instagram, Flavor::InstagramFacebookLogin),
        (Platform::Linkedin, Flavor::Standard),
        (Platform::Pinterest, Flavor::Standard),
        (Platform::Googlebusiness, Flavor::Standard),
        (Platform::Snapchat, Flavor::Standard),
        (Platform::Youtube, Flavor::Standard),
    ]
}

/// LinkedIn lists organizations only for apps approved for them (their scopes added).
fn app_for(
    platform: Platform,
    flavor: Flavor,
    client_id: &str,
    secret: &str,
) -> plugboard_platforms::PlatformApp {
    let mut a = app(
        &sandbox_base(fake_slug(platform, flavor)),
        client_id,
        secret,
    );
    if platform == Platform::Linkedin {
        let scopes = plugboard_platforms::linkedin::SPEC
            .scopes
            .iter()
            .chain(plugboard_platforms::linkedin::ORGANIZATION_SCOPES)
            .map(|s| (*s).to_owned())
            .collect();
        a.scopes = Some(scopes);
    }
    a
}

async fn connect_with(
    platform: Platform,
    flavor: Flavor,
    app: plugboard_platforms::PlatformApp,
    username: &str,
    destinations: usize,
) -> (Arc<dyn Connector>, TokenSet) {
    let c = connector(platform, flavor, app);
    let verifier = c.uses_pkce().then(PkceVerifier::generate);
    let challenge = verifier.as_ref().map(PkceVerifier::challenge);
    let url = c
        .authorization_url(&AuthorizeParams {
            redirect_uri: REDIRECT,
            state: "st",
            pkce: challenge.as_ref(),
            force_reauth: false,
            extra_scopes: &[],
        })
        .unwrap();
    let n = destinations.to_string();
    let redirect = approve(&url, username, &[("destinations", &n)]).await;
    let tokens = c
        .exchange_code(
            param(&redirect, "code").unwrap(),
            REDIRECT,
            verifier.as_ref(),
        )
        .await
        .unwrap_or_else(|e| panic!("{platform} {flavor:?}: {e:?}"));
    (c, tokens)
}

#[tokio::test]
async fn every_selecting_connector_lists_what_the_user_granted_in_the_sandbox() {
    for (platform, flavor) in selecting() {
        for n in [1, 3] {
            let who = format!("{platform} {flavor:?} with {n}");
            let a = app_for(platform, flavor, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET);
            let (c, tokens) = connect_with(platform, flavor, a, &unique("pick_"), n).await;
            let identity = c
                .identity(&tokens)
                .await
                .unwrap_or_else(|e| panic!("{who}: {e:?}"));
            let list = c
                .destinations(&tokens, &identity)
                .await
                .unwrap_or_else(|e| panic!("{who}: {e:?}"));
            assert_eq!(
                list.len(),
                expected_destinations(platform, flavor, n),
                "{who}: {list:?}"
            );
            let mut ids: Vec<_> = list.iter().map(|d| d.id.clone()).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), list.len(), "{who}: duplicate ids");
            for d in &list {
                assert!(!d.name.is_empty(), "{who}");
                match (platform, flavor) {
                    (Platform::Facebook, _) => {
                        assert!(d.access_token.is_some(), "{who}: no Page token");
                        assert!(d.extra.contains_key("category"), "{who}: {d:?}");
                        assert_eq!(
                            d.url.as_deref(),
                            Some(format!("https://www.facebook.com/{}", d.id).as_str())
                        );
                    }
                    (Platform::Instagram, _) => {
                        assert!(d.access_token.is_some(), "{who}: no Page token");
                        assert!(
                            d.extra["instagram_business_account"]["id"].is_string(),
                            "{who}: {d:?}"
                        );
                        assert!(d.username.is_some(), "{who}: {d:?}");
                    }
                    (Platform::Linkedin, _) => {
                        assert!(d.id.bytes().all(|b| b.is_ascii_digit()), "{who}: {}", d.id);
                        assert_eq!(
                            d.extra["urn"],
                            json!(format!("urn:li:organization:{}", d.id))
                        );
                        assert!(d.url.as_deref().is_some_and(|u| u.starts_with("https://www.linkedin.com/company/")));
                    }
                    (Platform::Googlebusiness, _) => {
                        assert!(!d.id.contains('/'), "{who}: {}", d.id);
                        assert!(
                            d.extra["accountId"]
                                .as_str()
                                .unwrap()
                                .starts_with("accounts/"),
                            "{who}"
                        );
                        assert!(d.url.is_some(), "{who}: no maps URL");
                    }
                    (Platform::Pinterest, _) => {
                        assert!(d.extra.contains_key("privacy"), "{who}: {d:?}");
                    }
                    (Platform::Snapchat, _) => {
                        for key in [
                            "display_name",
                            "username",
                            "profile_image_url",
                            "subscriber_count",
                        ] {
                            assert!(d.extra.contains_key(key), "{who}: {key} missing: {d:?}");
                        }
                    }
                    _ => {}
                }
            }
            if platform == Platform::Linkedin {
                // Every second organization has a logo; asked with the projection, its URL.
                assert!(
                    list.iter().any(|d| d.extra.contains_key("logoUrl")),
                    "{who}: {list:?}"
                );
            }
            if platform == Platform::Youtube {
                assert_eq!(c.selection(), None);
                assert_eq!(list[0].id, identity.platform_user_id, "{who}");
            } else {
                assert!(c.selection().is_some(), "{who}");
            }
        }
    }
}

#[tokio::test]
async fn a_user_with_nothing_to_pick_gets_an_empty_list_not_an_error() {
    for (platform, flavor) in selecting() {
        let who = format!("{platform} {flavor:?}");
        let a = app_for(platform, flavor, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET);
        let (c, tokens) = connect_with(platform, flavor, a, &unique("none_"), 0).await;
        if platform == Platform::Youtube {
            let got = c.identity(&tokens).await;
            assert!(
                matches!(
                    got,
                    Err(ConnectorError::NotEligible {
                        code: "no_youtube_channel",
                        ..
                    })
                ),
                "{who}: {got:?}"
            );
            continue;
        }
        let identity = c.identity(&tokens).await.unwrap();
        let list = c.destinations(&tokens, &identity).await;
        assert!(list.as_ref().is_ok_and(Vec::is_empty), "{who}: {list:?}");
    }
}

#[tokio::test]
async fn listing_outages_are_transient() {
    for (platform, flavor) in selecting() {
        let who = format!("{platform} {flavor:?}");
        let client_id = own_client(platform, flavor).await;
        let a = app_for(platform, flavor, &client_id, "faults-secret");
        let (c, tokens) = connect_with(platform, flavor, a, &unique("listfail_"), 2).await;
        let identity = c.identity(&tokens).await.unwrap();
        set_faults(
            platform,
            flavor,
            &client_id,
            json!({"destinations": "fail"}),
        )
        .await;
        let got = c.destinations(&tokens, &identity).await;
        set_faults(platform, flavor, &client_id, json!({})).await;
        if platform == Platform::Youtube {
            // YouTube's listing is its identity endpoint, which the knob leaves alone.
            continue;
        }
        assert!(
            got.as_ref().is_err_and(ConnectorError::is_transient),
            "{who}: {got:?}"
        );
    }
}

#[tokio::test]
async fn linkedin_reads_the_vanity_name_and_organizations_only_with_their_scopes() {
    let (plain, tokens) = connect_with(
        Platform::Linkedin,
        Flavor::Standard,
        app(
            &sandbox_base("linkedin"),
            SANDBOX_CLIENT_ID,
            SANDBOX_CLIENT_SECRET,
        ),
        &unique("li_"),
        2,
    )
    .await;
    let identity = plain.identity(&tokens).await.unwrap();
    assert_eq!(
        identity.username.as_deref(),
        Some(identity.platform_user_id.as_str())
    );
    assert_eq!(identity.profile_url, None);
    assert!(
        plain
            .destinations(&tokens, &identity)
            .await
            .unwrap()
            .is_empty()
    );

    let (full, tokens) = connect_with(
        Platform::Linkedin,
        Flavor::Standard,
        app_for(
            Platform::Linkedin,
            Flavor::Standard,
            SANDBOX_CLIENT_ID,
            SANDBOX_CLIENT_SECRET,
        ),
        &unique("li_"),
        2,
    )
    .await;
    let identity = full.identity(&tokens).await.unwrap();
    let vanity = identity.metadata["vanityName"].as_str().unwrap().to_owned();
    assert_eq!(identity.username.as_deref(), Some(vanity.as_str()));
    assert_eq!(
        identity.profile_url,
        Some(format!("https://www.linkedin.com/in/{vanity}"))
    );
    assert_eq!(
        full.destinations(&tokens, &identity).await.unwrap().len(),
        2
    );
}
