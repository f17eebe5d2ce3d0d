use crate::helpers::*;
use plugboard_core::Platform;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn accounts_are_listed_in_the_social_account_shape_without_tokens() {
    let app = spawn_app().await;
    let p = app.default_profile().await;
    let acc = app
        .seed_account(&p, Platform::Twitter, "12345", "secret-access-token")
        .await;
    let r = app.get("/v1/accounts").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["hasAnalyticsAccess"], false);
    let a = &r.body["accounts"][0];
    assert_eq!(a["_id"], acc.id.to_string());
    assert_eq!(a["platform"], "twitter");
    assert_eq!(a["profileId"], p.to_string());
    assert_eq!(a["platformUserId"], "12345");
    assert_eq!(a["username"], "twitter_12345");
    assert_eq!(a["isActive"], true);
    assert_eq!(a["needsReconnection"], false);
    assert!(a["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(
        !r.text.contains("secret-access-token"),
        "tokens are never returned"
    );
    assert!(!r.text.contains("v1."), "not even sealed");
    let one = app.get(&format!("/v1/accounts/{}", acc.id)).await;
    assert_eq!(one.body["account"], *a);
}

#[tokio::test]
async fn account_listing_filters_and_pages_as_zernio_documents() {
    let app = spawn_app().await;
    let p = app.default_profile().await;
    let q = app.create_profile("Second").await;
    let mut ids = vec![];
    for (i, platform) in [
        Platform::Twitter,
        Platform::Facebook,
        Platform::Twitter,
        Platform::Telegram,
        Platform::Youtube,
    ]
    .into_iter()
    .enumerate()
    {
        ids.push(
            app.seed_account(&p, platform, &format!("u{i}"), "t")
                .await
                .id
                .to_string(),
        );
    }
    app.seed_account(&q, Platform::Twitter, "other", "t").await;

    let r = app.get(&format!("/v1/accounts?profileId={p}&page=2&limit=2&order=asc&includeOverLimit=false&excludeHidden=false&includeSandbox=false&includeStatusCounts=true")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["pagination"],
        json!({"page": 2, "limit": 2, "total": 5, "pages": 3})
    );
    assert_eq!(r.body["statusCounts"], json!({"all": 5, "disconnected": 0}));
    let got: Vec<_> = r.body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ids[2..4]);

    let r = app.get("/v1/accounts?platform=twitter").await;
    assert_eq!(r.body["accounts"].as_array().unwrap().len(), 3);
    let r = app.get("/v1/accounts?category=communication").await;
    assert_eq!(r.body["accounts"][0]["platform"], "telegram");
    let r = app.get("/v1/accounts?platform=metaads").await;
    assert_eq!(
        r.body["accounts"].as_array().unwrap().len(),
        0,
        "a Zernio platform we do not connect matches nothing"
    );
    let r = app.get("/v1/accounts?search=OTHER").await;
    assert_eq!(r.body["accounts"].as_array().unwrap().len(), 1);
    let r = app.get(&format!("/v1/accounts?search={}", ids[1])).await;
    assert_eq!(r.body["accounts"][0]["_id"], ids[1]);
    let r = app
        .get(&format!(
            "/v1/accounts?profileIds={p},{q}&sort=platform&order=desc&page=1&limit=10"
        ))
        .await;
    assert_eq!(r.body["accounts"][0]["platform"], "youtube");

    let mut seen = vec![];
    let mut url = "/v1/accounts?limit=4".to_owned();
    loop {
        let r = app.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen.extend(
            r.body["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["_id"].as_str().unwrap().to_owned()),
        );
        assert_eq!(r.body["pagination"]["limit"], 4);
        match r.body["pagination"]["nextCursor"].as_str() {
            Some(c) => url = format!("/v1/accounts?limit=4&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);

    for (q, param) in [
        ("page=1", "limit"),
        ("limit=501", "limit"),
        ("cursor=zzz", "cursor"),
        ("status=x", "status"),
        ("profileId=x", "profileId"),
    ] {
        let r = app.get(&format!("/v1/accounts?{q}")).await;
        assert_error(
            &r,
            400,
            if param == "profileId" {
                "invalid_id"
            } else {
                "validation_error"
            },
        );
        assert_eq!(r.body["param"], param, "{q}");
    }
}

#[tokio::test]
async fn account_can_be_renamed_deactivated_moved_and_disconnected_once() {
    let app = spawn_app().await;
    let p = app.default_profile().await;
    let q = app.create_profile("Target").await;
    let acc = app
        .seed_account(&p, Platform::Pinterest, "pin-1", "t")
        .await;
    let path = format!("/v1/accounts/{}", acc.id);

    let r = app
        .call(Method::PUT, &path, Some(json!({"displayName": "Pins"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["message"], "Account updated successfully");
    assert_eq!(r.body["displayName"], "Pins");
    assert_eq!(r.body["account"]["displayName"], "Pins");
    assert_eq!(
        r.body["account"]["username"], "pinterest_pin-1",
        "untouched"
    );
    let r = app
        .call(Method::PUT, &path, Some(json!({"isActive": false})))
        .await;
    assert_eq!(r.body["account"]["isActive"], false);
    assert_error(
        &app.call(Method::PUT, &path, Some(json!({"displayName": ""})))
            .await,
        400,
        "validation_error",
    );
    assert_error(
        &app.call(
            Method::PUT,
            &path,
            Some(json!({"xCapabilities": {"inbox": true}})),
        )
        .await,
        400,
        "unsupported_parameter",
    );

    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"profileId": q.to_string()})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"message": "Account moved successfully", "profileId": q.to_string()})
    );
    assert_error(
        &app.call(
            Method::PATCH,
            &path,
            Some(json!({"profileId": "6553f100aaaaaaaaaaaaaaaa"})),
        )
        .await,
        404,
        "profile_not_found",
    );
    assert_error(
        &app.call(Method::PATCH, &path, Some(json!({}))).await,
        400,
        "validation_error",
    );

    let r = app.call(Method::DELETE, &path, None).await;
    assert_eq!(
        r.body,
        json!({"message": "Account disconnected successfully"})
    );
    assert_error(
        &app.call(Method::DELETE, &path, None).await,
        404,
        "account_not_found",
    );
    assert_error(&app.get(&path).await, 404, "account_not_found");
    assert_eq!(
        app.get("/v1/accounts").await.body["accounts"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn one_users_key_never_reaches_another_users_rows() {
    let app = spawn_app().await;
    let p = app.default_profile().await;
    let acc = app.seed_account(&p, Platform::Reddit, "t2_a", "t").await;
    // A second tenant, with its own key, created through the service layer as the CLI does.
    let now = app.services.clock.now();
    let other = plugboard_store::Owner {
        id: plugboard_core::OwnerId::generate(now.timestamp()),
        name: "Other tenant".into(),
        email: None,
        created_at: now,
    };
    app.services.store.insert_owner(&other).await.unwrap();
    let created = app
        .services
        .create_api_key_for(
            &other.id,
            plugboard_service::api_keys::NewApiKey::full("theirs"),
        )
        .await
        .unwrap();
    let theirs = created.key.expose().clone();
    assert_eq!(
        app.call_as(&theirs, Method::GET, "/v1/accounts", None)
            .await
            .body["accounts"],
        json!([])
    );
    assert_eq!(
        app.call_as(&theirs, Method::GET, "/v1/profiles", None)
            .await
            .body["profiles"],
        json!([])
    );
    for (m, path) in [
        (Method::GET, format!("/v1/accounts/{}", acc.id)),
        (Method::PUT, format!("/v1/accounts/{}", acc.id)),
        (Method::DELETE, format!("/v1/accounts/{}", acc.id)),
    ] {
        let r = app
            .call_as(&theirs, m, &path, Some(json!({"displayName": "hijack"})))
            .await;
        assert_error(&r, 404, "account_not_found");
    }
    assert_error(
        &app.call_as(&theirs, Method::GET, &format!("/v1/profiles/{p}"), None)
            .await,
        404,
        "profile_not_found",
    );
    let keys = app
        .call_as(&theirs, Method::GET, "/v1/api-keys", None)
        .await;
    assert_eq!(keys.body["apiKeys"].as_array().unwrap().len(), 1);
    let mine = app.get(&format!("/v1/accounts/{}", acc.id)).await;
    assert_eq!(mine.body["account"]["displayName"], "Display t2_a");
}
