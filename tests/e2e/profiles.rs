use crate::helpers::*;
use plugboard_core::Platform;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn profile_lifecycle_in_zernio_shapes() {
    let app = spawn_app().await;
    let r = app
        .post("/v1/profiles", json!({"name": " Brand ", "description": "d", "color": "#123456", "timezone": "Europe/Paris", "externalId": "t42"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["message"], "Profile created successfully");
    let p = &r.body["profile"];
    let id = p["_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 24);
    assert_eq!(
        (
            p["name"].as_str(),
            p["timezone"].as_str(),
            p["externalId"].as_str()
        ),
        (Some("Brand"), Some("Europe/Paris"), Some("t42"))
    );
    assert_eq!(p["isDefault"], false);
    assert_eq!(p["userId"], app.owner().await.to_string());
    assert!(p["createdAt"].as_str().unwrap().ends_with('Z'));

    let got = app.get(&format!("/v1/profiles/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["profile"]["name"], "Brand");
    assert_eq!(got.body["profile"]["accountCount"], 0);

    let up = app
        .call(Method::PUT, &format!("/v1/profiles/{id}"), Some(json!({"name": "Brand 2", "description": null, "timezone": null, "isDefault": true})))
        .await;
    assert_eq!(up.status, 200, "{}", up.text);
    assert_eq!(up.body["message"], "Profile updated successfully");
    assert_eq!(up.body["profile"]["description"], serde_json::Value::Null);
    assert_eq!(up.body["profile"]["timezone"], serde_json::Value::Null);
    assert_eq!(
        up.body["profile"]["color"], "#123456",
        "fields left out stay"
    );
    let list = app.get("/v1/profiles").await;
    let names: Vec<_> = list.body["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Brand 2", "Default"], "default first");
    assert!(
        list.body.get("total").is_none(),
        "no paging fields unless asked"
    );

    let del = app
        .call(Method::DELETE, &format!("/v1/profiles/{id}"), None)
        .await;
    assert_eq!(del.body, json!({"message": "Profile deleted successfully"}));
    assert_error(
        &app.get(&format!("/v1/profiles/{id}")).await,
        404,
        "profile_not_found",
    );
    let after = app.get("/v1/profiles").await;
    assert_eq!(
        after.body["profiles"][0]["isDefault"], true,
        "another profile became default"
    );
}

#[tokio::test]
async fn profile_listing_pages_with_limit_and_skip() {
    let app = spawn_app().await;
    for i in 0..4 {
        app.create_profile(&format!("P{i}")).await;
    }
    let r = app.get("/v1/profiles?limit=2&skip=1").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (
            r.body["total"].as_u64(),
            r.body["skip"].as_u64(),
            r.body["limit"].as_u64()
        ),
        (Some(5), Some(1), Some(2))
    );
    let names: Vec<_> = r.body["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["P0", "P1"]);
    let r = app.get("/v1/profiles?name=P3").await;
    assert_eq!(r.body["profiles"].as_array().unwrap().len(), 1);
    for (q, param) in [
        ("limit=0", "limit"),
        ("skip=-1", "skip"),
        ("limit=x", "limit"),
        ("includeOverLimit=perhaps", "includeOverLimit"),
    ] {
        let r = app.get(&format!("/v1/profiles?{q}")).await;
        assert_error(&r, 400, "validation_error");
        assert_eq!(r.body["param"], param);
    }
}

#[tokio::test]
async fn duplicate_names_and_external_ids_conflict_and_change_nothing() {
    let app = spawn_app().await;
    let first = app
        .post("/v1/profiles", json!({"name": "Brand", "externalId": "e1"}))
        .await;
    let r = app.post("/v1/profiles", json!({"name": "Brand"})).await;
    assert_error(&r, 409, "profile_name_conflict");
    assert_eq!(
        r.body["details"]["existingProfileId"],
        first.body["profile"]["_id"]
    );
    assert_error(
        &app.post("/v1/profiles", json!({"name": "Other", "externalId": "e1"}))
            .await,
        409,
        "profile_external_id_conflict",
    );
    let id = app.create_profile("Third").await;
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/profiles/{id}"),
            Some(json!({"name": "Brand"})),
        )
        .await;
    assert_error(&r, 409, "profile_name_conflict");
    assert_eq!(
        app.get(&format!("/v1/profiles/{id}")).await.body["profile"]["name"],
        "Third"
    );
    assert_eq!(
        app.get("/v1/profiles").await.body["profiles"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn invalid_profile_input_is_rejected_with_the_field_named() {
    let app = spawn_app().await;
    for (body, param) in [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"name": "n", "timezone": "Mars/Olympus"}), "timezone"),
        (
            json!({"name": "n", "externalId": "e".repeat(256)}),
            "externalId",
        ),
    ] {
        let r = app.post("/v1/profiles", body).await;
        assert_error(&r, 400, "validation_error");
        assert_eq!(r.body["param"], param);
    }
    assert_error(&app.get("/v1/profiles/not-an-id").await, 400, "invalid_id");
    assert_error(
        &app.get("/v1/profiles/6553f100aaaaaaaaaaaaaaaa").await,
        404,
        "profile_not_found",
    );
    assert_eq!(
        app.get("/v1/profiles").await.body["profiles"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn deleting_a_profile_with_active_accounts_is_refused_and_disconnected_ones_move() {
    let app = spawn_app().await;
    let brand = app.create_profile("Brand").await;
    let acc = app
        .seed_account(&brand, Platform::Linkedin, "li-1", "tok")
        .await;
    let r = app
        .call(Method::DELETE, &format!("/v1/profiles/{brand}"), None)
        .await;
    assert_error(&r, 400, "profile_has_active_accounts");
    assert_eq!(
        app.get(&format!("/v1/profiles/{brand}")).await.status,
        200,
        "nothing deleted"
    );

    let off = app
        .call(
            Method::PUT,
            &format!("/v1/accounts/{}", acc.id),
            Some(json!({"isActive": false})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    let r = app
        .call(Method::DELETE, &format!("/v1/profiles/{brand}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let moved = app.get(&format!("/v1/accounts/{}", acc.id)).await;
    assert_eq!(
        moved.body["account"]["profileId"],
        app.default_profile().await.to_string(),
        "the account moved, not deleted"
    );
}

#[tokio::test]
async fn a_retried_create_with_the_same_idempotency_key_replays_the_first_answer() {
    let app = spawn_app().await;
    let send = |key: &'static str, body: serde_json::Value| {
        app.client
            .post(app.url("/v1/profiles"))
            .bearer_auth(&app.key)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = reply(
        send("k-1", json!({"name": "Idem", "externalId": "x1"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = reply(
        send("k-1", json!({"externalId": "x1", "name": "Idem"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.body, first.body, "same answer, same _id");
    let other = reply(send("k-1", json!({"name": "Different"})).await.unwrap()).await;
    assert_error(&other, 422, "idempotency_key_reused");
    // A failed request frees its key: the retry runs again.
    let bad = reply(
        send("k-2", json!({"name": "Tz", "timezone": "Nowhere/Land"}))
            .await
            .unwrap(),
    )
    .await;
    assert_error(&bad, 400, "validation_error");
    let fixed = reply(
        send("k-2", json!({"name": "Tz", "timezone": "Nowhere/Land"}))
            .await
            .unwrap(),
    )
    .await;
    assert_error(&fixed, 400, "validation_error");
    let ok = reply(
        send("k-3", json!({"name": "Tz", "timezone": "UTC"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ok.status, 201);
    let names: Vec<_> = app.get("/v1/profiles").await.body["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Default", "Idem", "Tz"], "one profile per key");
    let r = app
        .client
        .post(app.url("/v1/profiles"))
        .bearer_auth(&app.key)
        .header("idempotency-key", "x".repeat(256))
        .json(&json!({"name": "Long"}))
        .send()
        .await
        .unwrap();
    assert_error(&reply(r).await, 400, "validation_error");
}
