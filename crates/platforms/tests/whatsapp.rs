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
