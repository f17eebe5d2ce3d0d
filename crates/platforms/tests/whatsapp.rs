//! The WhatsApp client against the sandbox's fake WABA over loopback: the production code
//! path with only the base URL moved (STYLE §1, §5). The world is made through the fake's
//! admin API; every test makes its own WABAs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod common;

use common::{browser, sandbox, sandbox_base};
use plugboard_core::Secret;
use plugboard_platforms::spec::BaseUrl;
use plugboard_platforms::whatsapp::{PhoneNumber, Waba, WhatsAppClient};
use plugboard_platforms::{ConnectorError, http_client};
use serde_json::{Value, json};

fn client() -> WhatsAppClient {
    let base = BaseUrl::parse(&sandbox_base("whatsapp")).unwrap();
    WhatsAppClient::new(Some(base), http_client().unwrap()).unwrap()
}

async fn admin(path: &str, body: Value) -> Value {
    let url = format!("http://{}/sandbox/whatsapp/{path}", sandbox());
    let resp = browser().post(&url).json(&body).send().await.unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{path}: {v}");
    v
}

async fn show(waba_id: &str) -> Value {
    let url = format!("http://{}/sandbox/whatsapp/_wabas/{waba_id}", sandbox());
    browser()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

struct World {
    waba_id: String,
    token: Secret<String>,
    numbers: Vec<Value>,
}

async fn waba(body: Value) -> World {
    let v = admin("_wabas", body).await;
    World {
        waba_id: v["wabaId"].as_str().unwrap().to_owned(),
        token: Secret::new(v["accessToken"].as_str().unwrap().to_owned()),
        numbers: v["phoneNumbers"].as_array().unwrap().clone(),
    }
}

fn expected_number(n: &Value) -> PhoneNumber {
    PhoneNumber {
        id: n["id"].as_str().unwrap().to_owned(),
        display_phone_number: n["displayPhoneNumber"].as_str().unwrap().to_owned(),
        verified_name: Some(n["verifiedName"].as_str().unwrap().to_owned()),
        quality_rating: Some("GREEN".into()),
        name_status: Some("APPROVED".into()),
        messaging_limit_tier: Some("TIER_1K".into()),
        code_verification_status: Some("VERIFIED".into()),
    }
}

#[tokio::test]
async fn the_waba_is_read_with_its_name() {
    let w = waba(json!({"name": "Acme Support"})).await;
    let got = client().waba(&w.token, &w.waba_id).await.unwrap();
    assert_eq!(
        got,
        Waba {
            id: w.waba_id.clone(),
            name: Some("Acme Support".into()),
        }
    );
}

#[tokio::test]
async fn every_phone_number_of_the_waba_is_listed_with_its_metadata() {
    let w = waba(json!({"phoneNumbers": 3})).await;
    let got = client().phone_numbers(&w.token, &w.waba_id).await.unwrap();
    let want: Vec<PhoneNumber> = w.numbers.iter().map(expected_number).collect();
    assert_eq!(got, want);

    let none = waba(json!({"phoneNumbers": 0})).await;
    assert_eq!(
        client()
            .phone_numbers(&none.token, &none.waba_id)
            .await
            .unwrap(),
        Vec::<PhoneNumber>::new()
    );
}

#[tokio::test]
async fn one_phone_number_is_read_by_its_id() {
    let w = waba(json!({})).await;
    let second = &w.numbers[1];
    let got = client()
        .phone_number(&w.token, second["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(got, expected_number(second));
}

#[tokio::test]
async fn an_unknown_phone_number_is_graphs_code_100() {
    let w = waba(json!({})).await;
    let err = client()
        .phone_number(&w.token, "100000000000000")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Platform { status: 400, code: Some(c), .. } if c == "100"),
        "{err:?}"
    );
}

#[tokio::test]
async fn subscribing_the_app_subscribes_it_at_the_waba() {
    let w = waba(json!({})).await;
    assert_eq!(show(&w.waba_id).await["subscribed"], false);
    client().subscribe_app(&w.token, &w.waba_id).await.unwrap();
    assert_eq!(show(&w.waba_id).await["subscribed"], true);
}

#[tokio::test]
async fn registering_with_the_right_pin_works_and_with_another_pin_is_refused() {
    let w = waba(json!({"pin": "135790", "phoneNumbers": 1})).await;
    let id = w.numbers[0]["id"].as_str().unwrap();
    let err = client().register(&w.token, id, "000000").await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Platform { status: 400, code: Some(c), .. } if c == "133005"),
        "{err:?}"
    );
    assert_eq!(
        show(&w.waba_id).await["phoneNumbers"][0]["registered"],
        false
    );

    client().register(&w.token, id, "135790").await.unwrap();
    assert_eq!(
        show(&w.waba_id).await["phoneNumbers"][0]["registered"],
        true
    );
}

#[tokio::test]
async fn a_pin_that_is_not_six_digits_is_graphs_code_100() {
    let w = waba(json!({})).await;
    let id = w.numbers[0]["id"].as_str().unwrap();
    let err = client().register(&w.token, id, "12345").await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Platform { status: 400, code: Some(c), .. } if c == "100"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_revoked_token_is_invalid_grant_on_every_call() {
    let w = waba(json!({})).await;
    let token = w.token.expose().clone();
    admin("_revoke", json!({"accessToken": token})).await;
    let c = client();
    let id = w.numbers[0]["id"].as_str().unwrap();
    let results = [
        ("waba", c.waba(&w.token, &w.waba_id).await.map(drop)),
        (
            "phone_numbers",
            c.phone_numbers(&w.token, &w.waba_id).await.map(drop),
        ),
        ("phone_number", c.phone_number(&w.token, id).await.map(drop)),
        ("subscribe_app", c.subscribe_app(&w.token, &w.waba_id).await),
        ("register", c.register(&w.token, id, "123456").await),
    ];
    for (call, result) in results {
        let err = result.unwrap_err();
        assert!(
            matches!(err, ConnectorError::InvalidGrant { .. }),
            "{call}: {err:?}"
        );
        assert!(
            !err.to_string().contains(&token),
            "{call}: the token leaked"
        );
    }
}

#[tokio::test]
async fn a_token_of_another_waba_is_permission_denied() {
    let mine = waba(json!({})).await;
    let theirs = waba(json!({})).await;
    let c = client();
    let id = theirs.numbers[0]["id"].as_str().unwrap();
    let results = [
        ("waba", c.waba(&mine.token, &theirs.waba_id).await.map(drop)),
        (
            "phone_numbers",
            c.phone_numbers(&mine.token, &theirs.waba_id)
                .await
                .map(drop),
        ),
        (
            "phone_number",
            c.phone_number(&mine.token, id).await.map(drop),
        ),
        (
            "subscribe_app",
            c.subscribe_app(&mine.token, &theirs.waba_id).await,
        ),
        ("register", c.register(&mine.token, id, "123456").await),
    ];
    for (call, result) in results {
        let err = result.unwrap_err();
        assert!(
            matches!(err, ConnectorError::PermissionDenied { .. }),
            "{call}: {err:?}"
        );
    }
}

#[tokio::test]
async fn throttled_and_failing_listings_are_transient() {
    let w = waba(json!({})).await;
    admin(
        "_faults",
        json!({"wabaId": w.waba_id, "listings": "throttled"}),
    )
    .await;
    let err = client()
        .phone_numbers(&w.token, &w.waba_id)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Platform { status: 429, code: Some(c), .. } if c == "80007"),
        "{err:?}"
    );
    assert!(err.is_transient());

    admin("_faults", json!({"wabaId": w.waba_id, "listings": "fail"})).await;
    let err = client().waba(&w.token, &w.waba_id).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Platform { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());

    admin(
        "_faults",
        json!({"wabaId": w.waba_id, "register": "throttled"}),
    )
    .await;
    let id = w.numbers[0]["id"].as_str().unwrap();
    let err = client().register(&w.token, id, "123456").await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Platform { status: 429, code: Some(c), .. } if c == "133016"),
        "{err:?}"
    );
    admin("_faults", json!({"wabaId": w.waba_id})).await;
}

/// The Meta OAuth variant: Facebook Login with the WhatsApp permissions against the fake's
/// login, then the numbers of the WABAs the login granted.
mod login {
    use std::sync::Arc;

    use plugboard_core::Platform;
    use plugboard_platforms::{
        AuthorizeParams, Connector, ConnectorError, Destination, Flavor, SelectionKind, TokenSet,
    };
    use serde_json::{Value, json};
    use url::Url;

    use super::common::*;

    const REDIRECT: &str = "http://127.0.0.1:9/connect/whatsapp/callback";
    const ZERNIO_KEYS: [&str; 7] = [
        "wabaId",
        "wabaName",
        "displayPhoneNumber",
        "verifiedName",
        "qualityRating",
        "nameStatus",
        "messagingLimitTier",
    ];

    fn whatsapp(client_id: &str, secret: &str) -> Arc<dyn Connector> {
        connector(
            Platform::Whatsapp,
            Flavor::Standard,
            app(&sandbox_base("whatsapp"), client_id, secret),
        )
    }

    /// The consent page answered as `username` with `numbers` phone numbers, then the code
    /// exchanged: the connector and its tokens.
    async fn connect(username: &str, numbers: usize) -> (Arc<dyn Connector>, TokenSet) {
        let c = whatsapp(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET);
        let url = c
            .authorization_url(&AuthorizeParams {
                redirect_uri: REDIRECT,
                state: "st-wa",
                pkce: None,
                force_reauth: false,
                extra_scopes: &[],
            })
            .unwrap();
        let n = numbers.to_string();
        let redirect = approve(&url, username, &[("destinations", &n)]).await;
        assert_eq!(param(&redirect, "state"), Some("st-wa"));
        let tokens = c
            .exchange_code(param(&redirect, "code").unwrap(), REDIRECT, None)
            .await
            .unwrap();
        (c, tokens)
    }

    async fn destinations(c: &dyn Connector, tokens: &TokenSet) -> Vec<Destination> {
        let identity = c.identity(tokens).await.unwrap();
        c.destinations(tokens, &identity).await.unwrap()
    }

    async fn waba_in_fake(waba_id: &str) -> Value {
        let url = format!("http://{}/sandbox/whatsapp/_wabas/{waba_id}", sandbox());
        browser()
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_authorization_url_is_facebook_login_asking_for_the_whatsapp_permissions() {
        let c = whatsapp(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET);
        assert_eq!(c.selection(), Some(SelectionKind::WhatsAppPhoneNumber));
        assert!(!c.uses_pkce());
        let url = c
            .authorization_url(&AuthorizeParams {
                redirect_uri: REDIRECT,
                state: "st",
                pkce: None,
                force_reauth: false,
                extra_scopes: &[],
            })
            .unwrap();
        let url = Url::parse(&url).unwrap();
        assert_eq!(url.path(), "/sandbox/whatsapp/v24.0/dialog/oauth");
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(param(&q, "client_id"), Some(SANDBOX_CLIENT_ID));
        assert_eq!(param(&q, "redirect_uri"), Some(REDIRECT));
        assert_eq!(param(&q, "response_type"), Some("code"));
        assert_eq!(
            param(&q, "scope"),
            Some("whatsapp_business_management,whatsapp_business_messaging,business_management")
        );
        assert_eq!(param(&q, "config_id"), None);
    }

    #[tokio::test]
    async fn the_login_lists_every_number_of_the_granted_waba_with_zernios_keys() {
        for n in [0, 1, 3] {
            let username = unique("wa_login_");
            let (c, tokens) = connect(&username, n).await;
            assert!(tokens.access_token.starts_with("sbx-whatsapp-at-"));
            let lifetime = tokens.expires_at.unwrap() - clock().now();
            assert!(
                lifetime > chrono::TimeDelta::days(59),
                "{n}: the long-lived swap ran: {lifetime}"
            );
            assert_eq!(
                tokens.scopes,
                [
                    "whatsapp_business_management",
                    "whatsapp_business_messaging",
                    "business_management"
                ]
            );

            let identity = c.identity(&tokens).await.unwrap();
            assert_eq!(
                identity.display_name.as_deref(),
                Some(format!("{username} (sandbox)").as_str())
            );
            assert_eq!(
                identity.profile_url,
                Some(format!(
                    "https://www.facebook.com/{}",
                    identity.platform_user_id
                ))
            );
            assert!(identity.profile_picture.is_some(), "{identity:?}");

            let list = c.destinations(&tokens, &identity).await.unwrap();
            assert_eq!(list.len(), n, "{n}: {list:?}");
            let Some(first) = list.first() else {
                continue;
            };
            let waba_id = first.extra["wabaId"].as_str().unwrap().to_owned();
            let fake = waba_in_fake(&waba_id).await;
            let fake_numbers = fake["phoneNumbers"].as_array().unwrap();
            assert_eq!(fake_numbers.len(), n, "{fake}");
            for (d, f) in list.iter().zip(fake_numbers) {
                let mut keys: Vec<&str> = d.extra.keys().map(String::as_str).collect();
                keys.sort_unstable();
                let mut want = ZERNIO_KEYS.to_vec();
                want.sort_unstable();
                assert_eq!(keys, want, "{d:?}");
                assert_eq!(d.id, f["id"].as_str().unwrap());
                assert_eq!(d.name, f["displayPhoneNumber"].as_str().unwrap());
                assert_eq!(
                    Value::Object(d.extra.clone()),
                    json!({
                        "wabaId": waba_id,
                        "wabaName": fake["name"],
                        "displayPhoneNumber": f["displayPhoneNumber"],
                        "verifiedName": f["verifiedName"],
                        "qualityRating": "GREEN",
                        "nameStatus": "APPROVED",
                        "messagingLimitTier": "TIER_1K",
                    })
                );
                assert_eq!(d.access_token, None, "the login's token is the account's");
                assert_eq!((&d.username, &d.picture, &d.url), (&None, &None, &None));
            }
            assert_eq!(fake["name"], json!(format!("WABA of {username} (sandbox)")));
        }
    }

    #[tokio::test]
    async fn reconnecting_the_same_user_lists_the_same_numbers() {
        let username = unique("wa_again_");
        let (c, first) = connect(&username, 3).await;
        let (_, second) = connect(&username, 3).await;
        assert_ne!(first.access_token, second.access_token);
        let ids = |list: Vec<Destination>| -> Vec<(String, Value)> {
            list.into_iter()
                .map(|d| (d.id, d.extra["wabaId"].clone()))
                .collect()
        };
        let before = ids(destinations(&*c, &first).await);
        let after = ids(destinations(&*c, &second).await);
        assert_eq!(before.len(), 3);
        assert_eq!(before, after);
        assert_eq!(
            c.identity(&first).await.unwrap().platform_user_id,
            c.identity(&second).await.unwrap().platform_user_id
        );
    }

    #[tokio::test]
    async fn refresh_and_revoke_are_unsupported() {
        let (c, tokens) = connect(&unique("wa_norefresh_"), 1).await;
        assert!(matches!(
            c.refresh(&tokens).await,
            Err(ConnectorError::Unsupported(_))
        ));
        assert!(matches!(
            c.revoke(&tokens).await,
            Err(ConnectorError::Unsupported(_))
        ));
    }

    #[tokio::test]
    async fn a_revoked_login_or_a_failing_listing_is_reported_as_such() {
        let username = unique("wa_dead_");
        let (c, tokens) = connect(&username, 2).await;
        let identity = c.identity(&tokens).await.unwrap();
        sandbox_admin(
            "_revoke",
            json!({"platform": "whatsapp", "username": username}),
        )
        .await;
        let got = c.destinations(&tokens, &identity).await;
        assert!(
            matches!(got, Err(ConnectorError::InvalidGrant { .. })),
            "{got:?}"
        );

        let client = "wa-connector-faults";
        sandbox_admin(
            "_clients",
            json!({"platform": "whatsapp", "clientId": client, "clientSecret": "wa-faults-secret",
                   "redirectUris": [REDIRECT]}),
        )
        .await;
        let c = whatsapp(client, "wa-faults-secret");
        let url = c
            .authorization_url(&AuthorizeParams {
                redirect_uri: REDIRECT,
                state: "st",
                pkce: None,
                force_reauth: false,
                extra_scopes: &[],
            })
            .unwrap();
        let redirect = approve(&url, &unique("wa_faulty_"), &[]).await;
        let tokens = c
            .exchange_code(param(&redirect, "code").unwrap(), REDIRECT, None)
            .await
            .unwrap();
        let identity = c.identity(&tokens).await.unwrap();
        assert_eq!(destinations(&*c, &tokens).await.len(), 2, "the default");
        for (knob, transient) in [("fail", true), ("empty", false)] {
            sandbox_admin(
                "_faults",
                json!({"platform": "whatsapp", "clientId": client, "destinations": knob}),
            )
            .await;
            let got = c.destinations(&tokens, &identity).await;
            if transient {
                assert!(
                    got.as_ref().is_err_and(ConnectorError::is_transient),
                    "{got:?}"
                );
            } else {
                assert_eq!(got.unwrap(), vec![]);
            }
        }
        sandbox_admin(
            "_faults",
            json!({"platform": "whatsapp", "clientId": client}),
        )
        .await;
    }

    /// The app token `{client_id}|{client_secret}` rides in `debug_token`'s query, as Graph
    /// requires; no error may repeat it, whatever the platform echoes.
    #[tokio::test]
    async fn the_app_token_never_appears_in_an_error() {
        const SECRET: &str = "app-secret-never-shown";
        let app_token = format!("{SANDBOX_CLIENT_ID}|{SECRET}");
        let (_, tokens) = connect(&unique("wa_secret_"), 1).await;
        let user_token = tokens.access_token.clone();
        let assert_clean = |e: &ConnectorError, why: &str| {
            for shown in [e.to_string(), format!("{e:?}")] {
                for secret in [SECRET, app_token.as_str(), user_token.as_str()] {
                    assert!(!shown.contains(secret), "{why}: {secret} in {shown}");
                }
                assert!(!shown.contains("access_token="), "{why}: {shown}");
            }
        };

        // The sandbox refuses the wrong secret as Graph does.
        let wrong = whatsapp(SANDBOX_CLIENT_ID, SECRET);
        let identity = wrong.identity(&tokens).await.unwrap();
        let err = wrong.destinations(&tokens, &identity).await.unwrap_err();
        assert!(
            matches!(err, ConnectorError::InvalidClient { .. }),
            "{err:?}"
        );
        assert_clean(&err, "wrong secret");

        // A platform that echoes everything it was sent, in an error and in a dead token's
        // debug data.
        for status in [400, 200] {
            let echo = Scripted::start(move |r| {
                let echoed = format!(
                    "bad input {} for the app {}",
                    r.param("input_token").unwrap_or(""),
                    r.param("access_token").unwrap_or("")
                );
                let body = if status == 200 {
                    json!({"data": {"is_valid": false, "error": {"code": 190, "message": echoed}}})
                } else {
                    json!({"error": {"message": echoed, "type": "OAuthException", "code": 100}})
                };
                (status, body)
            });
            let c = connector(
                Platform::Whatsapp,
                Flavor::Standard,
                app(&echo.base, SANDBOX_CLIENT_ID, SECRET),
            );
            let err = c.destinations(&tokens, &identity).await.unwrap_err();
            assert_clean(&err, &format!("echo {status}"));
            assert!(err.to_string().contains("[redacted]"), "{err}");
            if status == 200 {
                assert!(
                    matches!(err, ConnectorError::InvalidGrant { .. }),
                    "{err:?}"
                );
            }
            let sent = echo.requests();
            assert_eq!(sent.len(), 1, "{sent:?}");
            assert_eq!(sent[0].path, "/v24.0/debug_token");
            assert_eq!(sent[0].param("access_token"), Some(app_token.as_str()));
            assert_eq!(sent[0].param("input_token"), Some(user_token.as_str()));
            assert_eq!(sent[0].header("authorization"), None, "{:?}", sent[0]);
        }

        // Nobody listening: the transport error names the endpoint, not its query.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let gone = connector(
            Platform::Whatsapp,
            Flavor::Standard,
            app(
                &format!("http://127.0.0.1:{port}"),
                SANDBOX_CLIENT_ID,
                SECRET,
            ),
        );
        let err = gone.destinations(&tokens, &identity).await.unwrap_err();
        assert!(matches!(err, ConnectorError::Transport(_)), "{err:?}");
        assert!(err.to_string().contains("/v24.0/debug_token"), "{err}");
        assert_clean(&err, "unreachable");
    }

    #[tokio::test]
    async fn a_token_of_another_app_or_without_whatsapp_targets_lists_nothing_of_it() {
        let (_, tokens) = connect(&unique("wa_other_"), 1).await;
        let other_app = Scripted::start(|_| {
            (
                200,
                json!({"data": {"app_id": "999", "is_valid": true, "granular_scopes": [
                    {"scope": "whatsapp_business_management", "target_ids": ["1"]}]}}),
            )
        });
        let c = connector(
            Platform::Whatsapp,
            Flavor::Standard,
            app(&other_app.base, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET),
        );
        let identity = plugboard_platforms::Identity::default();
        let got = c.destinations(&tokens, &identity).await;
        assert!(
            matches!(got, Err(ConnectorError::InvalidGrant { .. })),
            "{got:?}"
        );

        let no_waba = Scripted::start(|_| {
            (
                200,
                json!({"data": {"app_id": SANDBOX_CLIENT_ID, "is_valid": true, "granular_scopes": [
                    {"scope": "business_management", "target_ids": ["2"]},
                    {"scope": "whatsapp_business_messaging", "target_ids": ["3"]}]}}),
            )
        });
        let c = connector(
            Platform::Whatsapp,
            Flavor::Standard,
            app(&no_waba.base, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET),
        );
        assert_eq!(c.destinations(&tokens, &identity).await.unwrap(), vec![]);
        assert_eq!(no_waba.requests().len(), 1, "no WABA read");
    }
}
