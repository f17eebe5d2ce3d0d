//! WhatsApp Cloud API numbers connected from credentials, verified against the sandbox's
//! fake Graph API.

use crate::helpers::*;
use serde_json::{Value, json};

async fn waba(app: &TestApp, body: Value) -> Value {
    let r = app.post("/sandbox/whatsapp/_wabas", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

#[tokio::test]
async fn a_number_connects_from_its_credentials_with_zernios_metadata() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let w = waba(&app, json!({"name": "Acme", "phoneNumbers": 2})).await;
    let phone = &w["phoneNumbers"][1];
    let r = app
        .post(
            "/v1/connect/whatsapp/credentials",
            json!({"profileId": profile.to_string(), "accessToken": w["accessToken"], "wabaId": w["wabaId"], "phoneNumberId": phone["id"], "pin": "123456"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.body["account"];
    assert_eq!(a["platform"], "whatsapp");
    assert_eq!(a["phoneNumber"], phone["displayPhoneNumber"]);
    assert_eq!(a["verifiedName"], phone["verifiedName"]);
    assert_eq!(a["qualityRating"], "GREEN");
    assert!(r.body.get("registrationWarning").is_none(), "{}", r.text);
    assert!(
        !r.text.contains(w["accessToken"].as_str().unwrap()),
        "the token is never echoed"
    );
    let id = a["accountId"].as_str().unwrap();
    let listed = app.get(&format!("/v1/accounts?search={id}")).await;
    let stored = &listed.body["accounts"][0];
    assert_eq!(stored["platformUserId"], phone["id"]);
    for key in [
        "wabaId",
        "phoneNumberId",
        "displayPhoneNumber",
        "verifiedName",
        "qualityRating",
        "nameStatus",
        "messagingLimitTier",
    ] {
        assert!(
            stored["metadata"][key].is_string(),
            "metadata.{key}: {stored}"
        );
    }
    let state = app
        .get(&format!(
            "/sandbox/whatsapp/_wabas/{}",
            w["wabaId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        state.body["phoneNumbers"][1]["registered"], true,
        "{}",
        state.text
    );
    // Connecting the same number again on the same profile updates it in place.
    let again = app
        .post(
            "/v1/connect/whatsapp/credentials",
            json!({"profileId": profile.to_string(), "accessToken": w["accessToken"], "wabaId": w["wabaId"], "phoneNumberId": phone["id"]}),
        )
        .await;
    assert_eq!(again.body["account"]["accountId"], id);
    let db = std::fs::read(app.data_dir.join("plugboard.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains(w["accessToken"].as_str().unwrap()),
        "the token is sealed at rest"
    );
}

#[tokio::test]
async fn a_wrong_number_token_or_waba_is_refused_and_creates_nothing() {
    let app = spawn_app().await;
    let p = app.default_profile().await.to_string();
    let w = waba(&app, json!({"phoneNumbers": 2})).await;
    let other = waba(&app, json!({"phoneNumbers": 1})).await;
    let r = app
        .post("/v1/connect/whatsapp/credentials", json!({"profileId": p, "accessToken": w["accessToken"], "wabaId": w["wabaId"], "phoneNumberId": "999999999999999"}))
        .await;
    assert_error(&r, 400, "phone_number_not_in_waba");
    assert_eq!(
        r.body["details"]["availablePhoneNumbers"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{}",
        r.text
    );
    let r = app
        .post("/v1/connect/whatsapp/credentials", json!({"profileId": p, "accessToken": other["accessToken"], "wabaId": w["wabaId"], "phoneNumberId": w["phoneNumbers"][0]["id"]}))
        .await;
    assert_error(&r, 400, "whatsapp_permission_denied");
    let revoked = app
        .post(
            "/sandbox/whatsapp/_revoke",
            json!({"accessToken": w["accessToken"]}),
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let r = app
        .post("/v1/connect/whatsapp/credentials", json!({"profileId": p, "accessToken": w["accessToken"], "wabaId": w["wabaId"], "phoneNumberId": w["phoneNumbers"][0]["id"]}))
        .await;
    assert_error(&r, 401, "whatsapp_token_invalid");
    let cases = [
        (
            json!({"accessToken": "t", "wabaId": "1", "phoneNumberId": "2"}),
            "profileId",
        ),
        (
            json!({"profileId": p, "wabaId": "1", "phoneNumberId": "2"}),
            "accessToken",
        ),
        (
            json!({"profileId": p, "accessToken": "t", "wabaId": "abc", "phoneNumberId": "2"}),
            "wabaId",
        ),
        (
            json!({"profileId": p, "accessToken": "t", "wabaId": "1", "phoneNumberId": "2", "pin": "12"}),
            "pin",
        ),
    ];
    for (body, param) in cases {
        let r = app.post("/v1/connect/whatsapp/credentials", body).await;
        assert_error(&r, 400, "validation_error");
        assert_eq!(r.body["param"], param, "{}", r.text);
    }
    assert_eq!(
        app.get("/v1/accounts").await.body["accounts"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn a_number_is_connected_on_one_profile_and_a_refused_registration_only_warns() {
    let app = spawn_app().await;
    let p = app.default_profile().await.to_string();
    let q = app.create_profile("Other brand").await.to_string();
    let w = waba(&app, json!({"phoneNumbers": 1, "pin": "111111"})).await;
    let body = |profile: &str, pin: &str| json!({"profileId": profile, "accessToken": w["accessToken"], "wabaId": w["wabaId"], "phoneNumberId": w["phoneNumbers"][0]["id"], "pin": pin});
    let r = app
        .post("/v1/connect/whatsapp/credentials", body(&p, "222222"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body["registrationWarning"]
            .as_str()
            .is_some_and(|w| w.contains("register")),
        "{}",
        r.text
    );
    let r = app
        .post("/v1/connect/whatsapp/credentials", body(&q, "111111"))
        .await;
    assert_error(&r, 409, "WHATSAPP_NUMBER_ALREADY_CONNECTED");
}
