//! Connectors to the social networks. Each OAuth network is a row of data ([`OAuthSpec`],
//! one module per platform) read by pure builders for the authorization URL and the token
//! requests; code is kept for the quirks (STYLE §1, ARCHITECTURE "Platforms: data first").
//! Every module's `impl Connector` sends through the one HTTP engine (`engine`), and
//! [`build_connector`] is the one place a platform is mapped to its connector.

pub mod authorize;
pub mod connector;
mod engine;
pub mod pkce;
mod registry;
pub mod resilience;
pub mod spec;
pub mod token;
pub mod usage;

pub mod bluesky;
pub mod facebook;
mod google;
pub mod googlebusiness;
pub mod instagram;
pub mod linkedin;
pub mod pinterest;
pub mod reddit;
pub mod snapchat;
pub mod telegram;
pub mod threads;
pub mod tiktok;
pub mod twitter;
pub mod whatsapp;
pub mod youtube;

pub use authorize::{AuthorizeRequest, BuildError, authorization_url};
pub use connector::{
    AdAccount, AuthorizeParams, Connector, ConnectorError, Connectors, Destination, Flavor,
    Identity, PlatformApp, SelectionKind, TokenSet,
};
pub use engine::http_client;
pub use pkce::{InvalidVerifier, PkceChallenge, PkceVerifier};
pub use registry::build_connector;
pub use spec::{
    BaseUrl, ClientAuth, LongLivedExchange, OAuthSpec, Pkce, Refresh, ResolvedSpec, SpecError,
    rebase,
};
pub use token::{
    ClientCredentials, Grant, Method, TokenRequest, TokenTypeHint, extend_access_token_request,
    long_lived_exchange_request, revoke_request, token_request,
};
pub use usage::{PlatformCall, QuotaMeasure, UsageSink, UsageSnapshot, no_usage};

use plugboard_core::Platform;

/// The OAuth dialect of a platform: the one place that maps a platform to its protocol data.
/// `None` for Bluesky (app password) and Telegram (bot + link code). WhatsApp answers with
/// its Meta login (Facebook Login with the WhatsApp permissions); its credentials path needs
/// no spec. Meta ads accounts are made by the ads flow on Facebook's login. Instagram answers with its default login; [`instagram::LoginMethod::spec`] picks
/// by Zernio's `loginMethod`.
pub fn oauth_spec(platform: Platform) -> Option<&'static OAuthSpec> {
    match platform {
        Platform::Twitter => Some(&twitter::SPEC),
        Platform::Instagram => Some(instagram::LoginMethod::InstagramLogin.spec()),
        Platform::Facebook => Some(&facebook::SPEC),
        Platform::Linkedin => Some(&linkedin::SPEC),
        Platform::Tiktok => Some(&tiktok::SPEC),
        Platform::Youtube => Some(&youtube::SPEC),
        Platform::Pinterest => Some(&pinterest::SPEC),
        Platform::Reddit => Some(&reddit::SPEC),
        Platform::Threads => Some(&threads::SPEC),
        Platform::Googlebusiness => Some(&googlebusiness::SPEC),
        Platform::Snapchat => Some(&snapchat::SPEC),
        Platform::Whatsapp => Some(&whatsapp::OAUTH_SPEC),
        // Ads accounts come from the ads flow on their parent's login.
        Platform::Bluesky | Platform::Telegram | Platform::Metaads => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    /// Every spec reachable from a platform, including Instagram's second login.
    fn all_specs() -> Vec<(String, &'static OAuthSpec)> {
        let mut specs: Vec<_> = Platform::ALL
            .into_iter()
            .filter_map(|p| oauth_spec(p).map(|s| (p.to_string(), s)))
            .collect();
        specs.push((
            "instagram (facebook_login)".to_owned(),
            instagram::LoginMethod::FacebookLogin.spec(),
        ));
        specs
    }

    #[test]
    fn every_oauth_platform_has_a_spec_and_the_others_have_none() {
        for p in Platform::ALL {
            let non_oauth = matches!(p, Platform::Bluesky | Platform::Telegram);
            assert_eq!(oauth_spec(p).is_none(), non_oauth, "{p}");
        }
    }

    #[test]
    fn every_spec_url_is_an_absolute_https_url_without_fragment() {
        for (name, spec) in all_specs() {
            for raw in spec.urls() {
                let url = Url::parse(raw).unwrap_or_else(|e| panic!("{name}: {raw}: {e}"));
                assert_eq!(url.scheme(), "https", "{name}: {raw}");
                assert!(url.host_str().is_some(), "{name}: {raw}");
                assert!(url.fragment().is_none(), "{name}: {raw}");
                assert_eq!(url.as_str(), raw, "{name}: {raw} is not in normal form");
            }
            assert!(spec.resolve(None).is_ok(), "{name}");
        }
    }

    #[test]
    fn every_spec_is_complete() {
        for (name, spec) in all_specs() {
            assert!(!spec.scopes.is_empty(), "{name}: no default scopes");
            assert!(
                spec.scopes.iter().all(|s| !s.is_empty()
                    && !s.contains(spec.scope_separator)
                    && !s.contains(' ')
                    && !s.contains(',')),
                "{name}: a scope contains a separator"
            );
            assert!(
                [" ", ","].contains(&spec.scope_separator),
                "{name}: separator"
            );
            assert!(
                ["client_id", "client_key"].contains(&spec.client_id_param),
                "{name}: client id param"
            );
            assert!(
                spec.extra_authorize_params
                    .iter()
                    .all(|(k, _)| !authorize::RESERVED.contains(k)),
                "{name}: an extra parameter overrides a standard one"
            );
        }
    }

    #[test]
    fn rebased_endpoints_of_one_platform_stay_distinguishable_by_path() {
        // The sandbox serves every endpoint of a platform under one base; only the
        // refresh grant may share the token endpoint (and Facebook's long-lived exchange,
        // which differs by grant_type).
        for (name, spec) in all_specs() {
            let mut paths: Vec<String> = [spec.authorize_url, spec.token_url]
                .into_iter()
                .chain(spec.revoke_url)
                .chain(match spec.refresh {
                    Refresh::ExtendAccessToken { url, .. } => Some(url),
                    _ => None,
                })
                .map(|u| Url::parse(u).unwrap().path().to_owned())
                .collect();
            let n = paths.len();
            paths.sort();
            paths.dedup();
            assert_eq!(paths.len(), n, "{name}: two endpoints share a path");
        }
    }

    #[test]
    fn every_api_url_is_an_https_url_on_the_platforms_real_host() {
        let cases = [
            (twitter::IDENTITY_URL, "api.x.com"),
            (instagram::IDENTITY_URL, "graph.instagram.com"),
            (instagram::FACEBOOK_PAGES_URL, "graph.facebook.com"),
            (facebook::IDENTITY_URL, "graph.facebook.com"),
            (facebook::PAGES_URL, "graph.facebook.com"),
            (linkedin::USERINFO_URL, "api.linkedin.com"),
            (linkedin::ME_URL, "api.linkedin.com"),
            (linkedin::ORGANIZATION_ACLS_URL, "api.linkedin.com"),
            (linkedin::ORGANIZATION_URL, "api.linkedin.com"),
            (tiktok::USER_INFO_URL, "open.tiktokapis.com"),
            (youtube::CHANNELS_URL, "www.googleapis.com"),
            (googlebusiness::USERINFO_URL, "www.googleapis.com"),
            (
                googlebusiness::ACCOUNTS_URL,
                "mybusinessaccountmanagement.googleapis.com",
            ),
            (
                googlebusiness::LOCATIONS_URL,
                "mybusinessbusinessinformation.googleapis.com",
            ),
            (pinterest::USER_ACCOUNT_URL, "api.pinterest.com"),
            (pinterest::BOARDS_URL, "api.pinterest.com"),
            (reddit::ME_URL, "oauth.reddit.com"),
            (threads::IDENTITY_URL, "graph.threads.net"),
            (snapchat::ME_URL, "adsapi.snapchat.com"),
            (snapchat::ORGANIZATIONS_URL, "adsapi.snapchat.com"),
            (snapchat::PUBLIC_PROFILES_URL, "businessapi.snapchat.com"),
            (whatsapp::DEBUG_TOKEN_URL, "graph.facebook.com"),
        ];
        for (raw, host) in cases {
            let url = Url::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(url.scheme(), "https", "{raw}");
            assert_eq!(url.host_str(), Some(host), "{raw}");
            assert!(url.fragment().is_none(), "{raw}");
        }
    }

    #[test]
    fn every_oauth_platform_builds_a_connector_on_its_own_spec() {
        let app = PlatformApp {
            client_id: "cid".into(),
            client_secret: plugboard_core::Secret::new("secret".into()),
            base_url: None,
            scopes: None,
            user_agent: "test:plugboard:0.1".into(),
            usage: crate::no_usage(),
        };
        let clock: std::sync::Arc<dyn plugboard_core::Clock> =
            std::sync::Arc::new(plugboard_core::SystemClock);
        let build = |p, flavor| {
            build_connector(
                p,
                flavor,
                app.clone(),
                reqwest::Client::new(),
                clock.clone(),
            )
            .unwrap()
        };
        for p in Platform::ALL {
            match (build(p, Flavor::Standard), oauth_spec(p)) {
                (Some(c), Some(spec)) => {
                    assert_eq!(c.platform(), p, "{p}");
                    assert_eq!(c.spec().spec, spec, "{p}: connector on another spec");
                }
                (None, None) => {}
                (c, spec) => panic!("{p}: connector {} but spec {spec:?}", c.is_some()),
            }
            let fb_login = build(p, Flavor::InstagramFacebookLogin);
            assert_eq!(fb_login.is_some(), p == Platform::Instagram, "{p}");
        }
        let ig = build(Platform::Instagram, Flavor::InstagramFacebookLogin).unwrap();
        assert_eq!(ig.spec().spec, &instagram::FACEBOOK_LOGIN);
    }
}
