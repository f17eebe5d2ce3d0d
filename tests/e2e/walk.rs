//! One test walks every platform (STYLE §2): each has a connector, a sandbox fake, a setup
//! guide and a place in the OpenAPI, so a platform cannot be half added.

use plugboard_core::{Platform, Secret, SystemClock};
use plugboard_platforms::{Flavor, PlatformApp, build_connector};
use std::path::Path;
use std::sync::Arc;

/// Connected through their own routes (app password, bot code, Cloud API credentials);
/// their connectors, fakes and guides come with their own issue. Shrinks to empty.
const NOT_YET_WHOLE: &[Platform] = &[Platform::Bluesky, Platform::Telegram, Platform::Whatsapp];

fn app() -> PlatformApp {
    PlatformApp {
        client_id: "walk".into(),
        client_secret: Secret::new("walk-secret".into()),
        base_url: None,
        scopes: None,
        user_agent: "walk".into(),
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
        let whole = [
            ("connector", connector.is_some()),
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
        if NOT_YET_WHOLE.contains(&p) {
            assert!(
                !missing.is_empty(),
                "{p} is whole now: take it off NOT_YET_WHOLE"
            );
        } else {
            assert!(missing.is_empty(), "{p} lacks: {missing:?}");
        }
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
