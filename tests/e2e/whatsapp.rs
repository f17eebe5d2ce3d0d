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

/// The Meta login variant: Facebook Login with WhatsApp permissions, then a number.
mod login {
    use crate::flows::*;
    use crate::helpers::*;
    use plugboard_core::Platform;
    use reqwest::Method;
    use serde_json::json;
    use url::Url;

    #[tokio::test]
    async fn a_waba_with_one_number_connects_in_the_callback() {
        let app = spawn_app().await;
        let profile = app.default_profile().await;
        let extra = format!("&redirect_url={}", urlencode(APP_REDIRECT));
        let auth = app
            .start_connect(Platform::Whatsapp, &profile, &extra)
            .await;
        let callback = app.consent(&auth, "wa_single", "approve", Some(1)).await;
        let r = reply(app.client.get(&callback).send().await.unwrap()).await;
        let q = query(&Url::parse(&location(&r)).unwrap());
        assert_eq!(q["connected"], "whatsapp", "{q:?}");
        let account = app.account_json(&q["accountId"]).await;
        assert_eq!(
            account["metadata"]["phoneNumberId"],
            account["platformUserId"]
        );
        assert!(account["metadata"]["wabaId"].is_string(), "{account}");
        assert_eq!(
            account["username"],
            account["metadata"]["displayPhoneNumber"]
        );
    }

    #[tokio::test]
    async fn several_numbers_are_picked_in_the_hosted_picker_or_through_the_selection_routes() {
        let app = spawn_app().await;
        let profile = app.default_profile().await;
        let p = profile.to_string();
        let q = app
            .connect_standard(Platform::Whatsapp, "", &profile, "wa_picker")
            .await;
        assert_eq!(q["connected"], "whatsapp");
        assert_eq!(q["stage"], "select_page");

        let extra = format!("&headless=true&redirect_url={}", urlencode(APP_REDIRECT));
        let auth = app
            .start_connect(Platform::Whatsapp, &profile, &extra)
            .await;
        let callback = app.consent(&auth, "wa_headless", "approve", Some(3)).await;
        let r = reply(app.client.get(&callback).send().await.unwrap()).await;
        let q = query(&Url::parse(&location(&r)).unwrap());
        assert_eq!(q["step"], "select_phone_number", "{q:?}");
        assert_eq!(q["profileId"], p);
        let temp = q["tempToken"].clone();
        let numbers = app
            .call_with(
                Method::GET,
                &format!("/v1/connect/whatsapp/select-phone-number?profileId={p}&tempToken={temp}"),
                &[("X-Connect-Token", &q["connect_token"])],
                false,
                None,
            )
            .await;
        assert_eq!(numbers.status, 200, "{}", numbers.text);
        let list = numbers.body["phoneNumbers"].as_array().unwrap().clone();
        assert_eq!(list.len(), 3, "{}", numbers.text);
        assert!(
            list.iter()
                .all(|n| n["wabaId"].is_string() && n["display_phone_number"].is_string())
        );
        let pick = &list[2];
        let wrong_waba = app
            .post(
                "/v1/connect/whatsapp/select-phone-number",
                json!({"profileId": p, "phoneNumberId": pick["id"], "wabaId": "1", "tempToken": temp}),
            )
            .await;
        assert_error(&wrong_waba, 400, "validation_error");
        let done = app
            .post(
                "/v1/connect/whatsapp/select-phone-number",
                json!({"profileId": p, "phoneNumberId": pick["id"], "wabaId": pick["wabaId"], "tempToken": temp, "redirect_url": APP_REDIRECT}),
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!(done.body["account"]["platform"], "whatsapp");
        assert_eq!(
            done.body["account"]["selectedPhoneNumber"],
            pick["display_phone_number"]
        );
        assert!(
            done.body["redirect_url"]
                .as_str()
                .unwrap()
                .contains("connected=whatsapp")
        );
        let stored = app
            .account_json(done.body["account"]["accountId"].as_str().unwrap())
            .await;
        assert_eq!(stored["platformUserId"], pick["id"]);
        assert_eq!(stored["metadata"]["verifiedName"], pick["verified_name"]);
    }

    #[tokio::test]
    async fn a_login_that_grants_no_number_redirects_with_whatsapp_error() {
        let app = spawn_app().await;
        let profile = app.default_profile().await;
        let extra = format!("&redirect_url={}", urlencode(APP_REDIRECT));
        let auth = app
            .start_connect(Platform::Whatsapp, &profile, &extra)
            .await;
        let callback = app.consent(&auth, "wa_empty", "approve", Some(0)).await;
        let r = reply(app.client.get(&callback).send().await.unwrap()).await;
        let q = query(&Url::parse(&location(&r)).unwrap());
        assert_eq!(q["error"], "whatsapp_error", "{q:?}");
        assert_eq!(app.account_count().await, 0);
    }
}
