//! One test walks every platform (STYLE §2): each has a connector, a sandbox fake, a setup
//! guide and a place in the OpenAPI, so a platform cannot be half added.

use plugboard_core::{Platform, Secret, SystemClock};
use plugboard_platforms::{Flavor, PlatformApp, build_connector};
use std::path::Path;
use std::sync::Arc;

/// The platforms that do not connect by an OAuth redirect, and the route that connects each
/// (their clients live in `plugboard_platforms::{bluesky, telegram, whatsapp}`).
const DIRECT: &[(Platform, &str)] = &[
    (Platform::Bluesky, "/v1/connect/bluesky/credentials"),
    (Platform::Telegram, "/v1/connect/telegram"),
    (Platform::Whatsapp, "/v1/connect/whatsapp/credentials"),
];

fn app() -> PlatformApp {
    PlatformApp {
        client_id: "walk".into(),
        client_secret: Secret::new("walk-secret".into()),
        base_url: None,
        scopes: None,
        user_agent: "walk".into(),
        usage: plugboard_platforms::no_usage(),
    }
}

#[test]
fn every_platform_has_a_connector_a_sandbox_fake_a_guide_and_a_place_in_the_openapi() {
    let http = reqwest::Client::new();
    let fakes: Vec<&str> = plugboard_sandbox::platforms().collect();
    let openapi = serde_json::to_string(&plugboard_http::openapi()).unwrap();
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/platforms");
    for p in Platform::ALL {
        let connector = build_connector(
            p,
            Flavor::Standard,
            app(),
            http.clone(),
            Arc::new(SystemClock),
        )
        .unwrap();
        let direct = DIRECT
            .iter()
            .find(|(d, _)| *d == p)
            .map(|(_, route)| *route);
        let whole = [
            (
                "connector or connect route",
                match direct {
                    None => connector.is_some(),
                    // WhatsApp has both: its Meta login is a connector, its credentials
                    // connect a route.
                    Some(route) => {
                        (connector.is_none() || p == Platform::Whatsapp)
                            && openapi.contains(&format!("\"{route}\""))
                    }
                },
            ),
            ("sandbox fake", fakes.contains(&p.as_str())),
            ("guide", docs.join(format!("{p}.md")).is_file()),
            (
                "OpenAPI",
                openapi.contains(&format!("/v1/connect/{p}"))
                    || openapi.contains(&format!(" {p},"))
                    || openapi.contains(&format!(" {p} ")),
            ),
        ];
        let missing: Vec<&str> = whole
            .iter()
            .filter(|(_, ok)| !ok)
            .map(|(what, _)| *what)
            .collect();
        assert!(missing.is_empty(), "{p} lacks: {missing:?}");
        if let Some(c) = connector {
            assert_eq!(c.platform(), p);
            let via_instagram = p == Platform::Instagram;
            let fb = build_connector(
                p,
                Flavor::InstagramFacebookLogin,
                app(),
                http.clone(),
                Arc::new(SystemClock),
            )
            .unwrap();
            assert_eq!(
                fb.is_some(),
                via_instagram,
                "{p}: only Instagram has a second login"
            );
        }
    }
    assert!(docs.join("README.md").is_file(), "the guides' index");
}
