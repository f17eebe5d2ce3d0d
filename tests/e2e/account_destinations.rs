//! Changing a connected account's Page, organization, board or location without a new
//! OAuth: listed live from the (sandboxed) platform, the account keeps its id.

use crate::flows::*;
use crate::helpers::*;
use plugboard_core::Platform;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_facebook_account_switches_to_another_page_of_the_same_login_in_place() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let q = app
        .connect_standard(Platform::Facebook, "", &profile, "page_owner")
        .await;
    let id = q["accountId"].clone();
    let r = app
        .get(&format!("/v1/accounts/{id}/facebook-page?refresh=true"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let pages = r.body["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(
        r.body["selectedPageId"], pages[0]["id"],
        "the picker chose the first Page"
    );
    assert!(!r.text.contains("access_token") && !r.text.contains("sbx-"));
    let second = pages[1].clone();
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/accounts/{id}/facebook-page"),
            Some(json!({"selectedPageId": second["id"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["selectedPage"],
        json!({"id": second["id"], "name": second["name"]})
    );
    let account = app.account_json(&id).await;
    assert_eq!(account["displayName"], second["name"]);
    assert_eq!(account["metadata"]["selectedPageId"], second["id"]);
    let again = app.get(&format!("/v1/accounts/{id}/facebook-page")).await;
    assert_eq!(again.body["selectedPageId"], second["id"]);
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/accounts/{id}/facebook-page"),
            Some(json!({"selectedPageId": "404404"})),
        )
        .await;
    assert_error(&r, 400, "destination_not_available");
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/accounts/{id}/facebook-page"),
            Some(json!({})),
        )
        .await;
    assert_error(&r, 400, "validation_error");
}

#[tokio::test]
async fn two_accounts_cannot_be_pointed_at_one_page() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let first = app
        .connect_standard(Platform::Facebook, "", &profile, "two_pages")
        .await;
    // The same login again, picking the second Page this time, is a second account.
    let extra = format!("&redirect_url={}", urlencode(APP_REDIRECT));
    let auth = app
        .start_connect(Platform::Facebook, &profile, &extra)
        .await;
    let callback = app.consent(&auth, "two_pages", "approve", None).await;
    let page = reply(app.client.get(&callback).send().await.unwrap()).await;
    let picker = reply(app.client.get(location(&page)).send().await.unwrap()).await;
    let second_choice = choices(&picker.text)[1].clone();
    let _ = picker;
    let auth = app
        .start_connect(Platform::Facebook, &profile, &extra)
        .await;
    let callback = app.consent(&auth, "two_pages", "approve", None).await;
    let done = app.finish_in_browser(&callback, Some(&second_choice)).await;
    let second = query(&url::Url::parse(&location(&done)).unwrap());
    assert_ne!(first["accountId"], second["accountId"]);
    let page_of_second =
        app.account_json(&second["accountId"]).await["metadata"]["selectedPageId"].clone();
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/accounts/{}/facebook-page", first["accountId"]),
            Some(json!({"selectedPageId": page_of_second})),
        )
        .await;
    assert_error(&r, 409, "destination_already_connected");
}

#[tokio::test]
async fn a_linkedin_account_moves_between_the_profile_and_an_organization() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let extra = format!("&redirect_url={}", urlencode(APP_REDIRECT));
    let auth = app
        .start_connect(Platform::Linkedin, &profile, &extra)
        .await;
    let callback = app.consent(&auth, "li_member", "approve", None).await;
    let done = app.finish_in_browser(&callback, Some("personal")).await;
    let id = query(&url::Url::parse(&location(&done)).unwrap())["accountId"].clone();
    let orgs = app
        .get(&format!("/v1/accounts/{id}/linkedin-organizations"))
        .await;
    assert_eq!(orgs.status, 200, "{}", orgs.text);
    let org = orgs.body["organizations"][0].clone();
    let r = app
        .call(Method::PUT, &format!("/v1/accounts/{id}/linkedin-organization"), Some(json!({"accountType": "organization", "selectedOrganization": {"id": org["id"], "urn": org["urn"], "name": org["name"]}})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["accountType"], "organization");
    assert_eq!(r.body["accountName"], org["name"]);
    let account = app.account_json(&id).await;
    assert_eq!(account["metadata"]["accountType"], "organization");
    assert_eq!(account["metadata"]["organizationId"], org["id"]);
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/accounts/{id}/linkedin-organization"),
            Some(json!({"accountType": "personal"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let account = app.account_json(&id).await;
    assert_eq!(account["metadata"]["accountType"], "personal");
    assert!(
        account["metadata"].get("organizationId").is_none(),
        "{account}"
    );
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/accounts/{id}/linkedin-organization"),
            Some(json!({"accountType": "board"})),
        )
        .await;
    assert_error(&r, 400, "validation_error");
}

#[tokio::test]
async fn a_pinterest_account_changes_its_default_board() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let q = app
        .connect_standard(Platform::Pinterest, "", &profile, "pinner")
        .await;
    let id = q["accountId"].clone();
    let boards = app
        .get(&format!("/v1/accounts/{id}/pinterest-boards"))
        .await;
    assert_eq!(boards.status, 200, "{}", boards.text);
    let board = boards.body["boards"][1].clone();
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/accounts/{id}/pinterest-boards"),
            Some(json!({"defaultBoardId": board["id"], "defaultBoardName": "ignored"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["account"]["_id"], id);
    assert_eq!(r.body["account"]["metadata"]["defaultBoardId"], board["id"]);
    assert_eq!(
        r.body["account"]["metadata"]["defaultBoardName"], board["name"],
        "the name comes from Pinterest"
    );
}

#[tokio::test]
async fn a_google_business_account_switches_location_and_checks_the_google_account() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let q = app
        .connect_standard(Platform::Googlebusiness, "", &profile, "shopkeeper")
        .await;
    let id = q["accountId"].clone();
    let r = app
        .get(&format!("/v1/accounts/{id}/gmb-locations?limit=1"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["locations"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["hasMore"], true);
    let all = app.get(&format!("/v1/accounts/{id}/gmb-locations")).await;
    let locations = all.body["locations"].as_array().unwrap().clone();
    assert_eq!(all.body["selectedLocationId"], locations[0]["id"]);
    let r = app
        .call(Method::PUT, &format!("/v1/accounts/{id}/gmb-locations"), Some(json!({"selectedLocationId": locations[1]["id"], "googleAccountId": "accounts/999"})))
        .await;
    assert_error(&r, 400, "validation_error");
    let r = app
        .call(Method::PUT, &format!("/v1/accounts/{id}/gmb-locations"), Some(json!({"selectedLocationId": format!("locations/{}", locations[1]["id"].as_str().unwrap()), "googleAccountId": locations[1]["accountId"]})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["selectedLocation"]["id"], locations[1]["id"]);
    assert_eq!(
        app.account_json(&id).await["displayName"],
        locations[1]["name"]
    );
    let r = app
        .get(&format!("/v1/accounts/{id}/gmb-locations?limit=501"))
        .await;
    assert_error(&r, 400, "validation_error");
}

#[tokio::test]
async fn destination_routes_refuse_other_platforms_and_dead_tokens() {
    let app = spawn_app().await;
    let profile = app.default_profile().await;
    let tw = app
        .connect_standard(Platform::Twitter, "", &profile, "not_a_page")
        .await;
    let r = app
        .get(&format!("/v1/accounts/{}/facebook-page", tw["accountId"]))
        .await;
    assert_error(&r, 400, "wrong_platform");
    let r = app
        .get("/v1/accounts/0123456789abcdef01234567/pinterest-boards")
        .await;
    assert_error(&r, 404, "account_not_found");
    let q = app
        .connect_standard(Platform::Pinterest, "", &profile, "revoked_pinner")
        .await;
    let r = app
        .post(
            "/sandbox/_revoke",
            json!({"platform": "pinterest", "username": "revoked_pinner"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .get(&format!("/v1/accounts/{}/pinterest-boards", q["accountId"]))
        .await;
    assert_error(&r, 409, "reconnect_required");
}
