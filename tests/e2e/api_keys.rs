use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn created_key_is_shown_once_works_and_dies_when_revoked() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/v1/api-keys",
            json!({"name": "ci", "expiresIn": 30, "scope": "full", "permission": "read-write"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let key = r.body["apiKey"]["key"].as_str().unwrap().to_owned();
    let id = r.body["apiKey"]["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk_") && key.len() == 67);
    assert_eq!(r.body["message"], "API key created successfully");
    assert_eq!(r.body["apiKey"]["scope"], "full");
    assert_eq!(r.body["apiKey"]["permission"], "read-write");
    assert!(
        r.body["apiKey"]["expiresAt"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let preview = r.body["apiKey"]["keyPreview"].as_str().unwrap();
    assert!(preview.starts_with(&key[..7]) && preview.ends_with(&key[63..]));

    assert_eq!(
        app.call_as(&key, Method::GET, "/v1/profiles", None)
            .await
            .status,
        200
    );
    let listed = app.get("/v1/api-keys").await;
    assert_eq!(listed.status, 200);
    assert!(!listed.text.contains(&key), "a listing never shows a key");
    let names: Vec<_> = listed.body["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Default key", "ci"]);

    let del = app
        .call(Method::DELETE, &format!("/v1/api-keys/{id}"), None)
        .await;
    assert_eq!(del.status, 200);
    assert_eq!(del.body, json!({"message": "API key deleted successfully"}));
    assert_error(
        &app.call_as(&key, Method::GET, "/v1/profiles", None).await,
        401,
        "unauthorized",
    );
    assert_error(
        &app.call(Method::DELETE, &format!("/v1/api-keys/{id}"), None)
            .await,
        404,
        "api_key_not_found",
    );
}

#[tokio::test]
async fn invalid_key_requests_are_rejected_and_create_nothing() {
    let app = spawn_app().await;
    let p = app.default_profile().await;
    for (body, param, why) in [
        (json!({}), "name", "name missing"),
        (json!({"name": "  "}), "name", "blank name"),
        (
            json!({"name": "k", "scope": "everything"}),
            "scope",
            "unknown scope",
        ),
        (
            json!({"name": "k", "permission": "admin"}),
            "permission",
            "unknown permission",
        ),
        (
            json!({"name": "k", "scope": "profiles"}),
            "profileIds",
            "profiles scope needs ids",
        ),
        (
            json!({"name": "k", "scope": "profiles", "profileIds": ["nope"]}),
            "profileIds",
            "malformed id: invalid_id",
        ),
        (
            json!({"name": "k", "scope": "profiles", "profileIds": ["6553f100aaaaaaaaaaaaaaaa"]}),
            "profileIds",
            "unknown profile",
        ),
        (
            json!({"name": "k", "expiresIn": 0}),
            "expiresIn",
            "zero days",
        ),
        (
            json!({"name": "k", "disabledResourceGroups": ["nope"]}),
            "disabledResourceGroups",
            "unknown group",
        ),
    ] {
        let r = app.post("/v1/api-keys", body).await;
        assert_error(
            &r,
            400,
            if why.ends_with("invalid_id") {
                "invalid_id"
            } else {
                "validation_error"
            },
        );
        assert_eq!(r.body["param"], param, "{why}");
    }
    let listed = app.get("/v1/api-keys").await;
    assert_eq!(
        listed.body["apiKeys"].as_array().unwrap().len(),
        1,
        "nothing was created"
    );
    let _ = p;
}

#[tokio::test]
async fn read_only_key_may_only_read() {
    let app = spawn_app().await;
    let key = app
        .create_key(json!({"name": "ro", "permission": "read"}))
        .await;
    assert_eq!(
        app.call_as(&key, Method::GET, "/v1/accounts", None)
            .await
            .status,
        200
    );
    let r = app
        .call_as(
            &key,
            Method::POST,
            "/v1/profiles",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_error(&r, 403, "insufficient_permissions");
    let r = app
        .call_as(
            &key,
            Method::POST,
            "/v1/api-keys",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_error(&r, 403, "insufficient_permissions");
}

#[tokio::test]
async fn restricted_and_profile_scoped_keys_see_only_what_they_may() {
    let app = spawn_app().await;
    let restricted = app
        .create_key(json!({"name": "r", "disabledResourceGroups": ["accounts"]}))
        .await;
    assert!(restricted.starts_with("zrk_"));
    let r = app
        .call_as(&restricted, Method::GET, "/v1/accounts", None)
        .await;
    assert_error(&r, 403, "insufficient_permissions");
    assert_eq!(r.body["required_group"], "accounts");
    assert_error(
        &app.call_as(&restricted, Method::GET, "/v1/api-keys", None)
            .await,
        403,
        "insufficient_permissions",
    );

    let mine = app.create_profile("Mine").await;
    let other = app.create_profile("Other").await;
    app.seed_account(&mine, plugboard_core::Platform::Twitter, "1", "tok-a")
        .await;
    let hidden = app
        .seed_account(&other, plugboard_core::Platform::Twitter, "2", "tok-b")
        .await;
    let scoped = app
        .create_key(json!({"name": "s", "scope": "profiles", "profileIds": [mine.to_string()]}))
        .await;
    let profiles = app
        .call_as(&scoped, Method::GET, "/v1/profiles", None)
        .await;
    let ids: Vec<_> = profiles.body["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [mine.to_string()]);
    let accounts = app
        .call_as(&scoped, Method::GET, "/v1/accounts", None)
        .await;
    assert_eq!(accounts.body["accounts"].as_array().unwrap().len(), 1);
    assert_error(
        &app.call_as(&scoped, Method::GET, &format!("/v1/profiles/{other}"), None)
            .await,
        404,
        "profile_not_found",
    );
    assert_error(
        &app.call_as(
            &scoped,
            Method::GET,
            &format!("/v1/accounts/{}", hidden.id),
            None,
        )
        .await,
        404,
        "account_not_found",
    );
    assert_error(
        &app.call_as(&scoped, Method::GET, "/v1/api-keys", None)
            .await,
        403,
        "insufficient_permissions",
    );
    let keys = app.get("/v1/api-keys").await;
    let scoped_entry = keys.body["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "s")
        .unwrap()
        .clone();
    assert_eq!(scoped_entry["scope"], "profiles");
    assert_eq!(scoped_entry["profileIds"][0]["name"], "Mine");
}

#[tokio::test]
async fn verify_reports_the_key_owner() {
    let app = spawn_app().await;
    let r = app.get("/v1/auth/verify").await;
    assert_eq!(r.status, 200);
    let owner = app.owner().await;
    assert_eq!(
        r.body,
        json!({"valid": true, "userId": owner.to_string(), "name": "Owner", "email": null, "authType": "api_key", "scope": null})
    );
}

#[tokio::test]
async fn every_authenticated_route_rejects_missing_malformed_and_revoked_keys() {
    let app = spawn_app().await;
    let revoked = app.create_key(json!({"name": "gone"})).await;
    let keys = app.get("/v1/api-keys").await;
    let id = keys.body["apiKeys"][1]["id"].as_str().unwrap().to_owned();
    app.call(Method::DELETE, &format!("/v1/api-keys/{id}"), None)
        .await;
    let some = "6553f100aaaaaaaaaaaaaaaa";
    let routes = [
        (Method::GET, "/v1/auth/verify".to_owned()),
        (Method::GET, "/v1/admin/quota".to_owned()),
        (Method::GET, "/v1/api-keys".to_owned()),
        (Method::POST, "/v1/api-keys".to_owned()),
        (Method::DELETE, format!("/v1/api-keys/{some}")),
        (Method::GET, "/v1/profiles".to_owned()),
        (Method::POST, "/v1/profiles".to_owned()),
        (Method::GET, format!("/v1/profiles/{some}")),
        (Method::PUT, format!("/v1/profiles/{some}")),
        (Method::DELETE, format!("/v1/profiles/{some}")),
        (Method::GET, "/v1/accounts".to_owned()),
        (Method::GET, format!("/v1/accounts/{some}")),
        (Method::PUT, format!("/v1/accounts/{some}")),
        (Method::PATCH, format!("/v1/accounts/{some}")),
        (Method::DELETE, format!("/v1/accounts/{some}")),
        (Method::GET, format!("/v1/accounts/{some}/facebook-page")),
        (Method::PUT, format!("/v1/accounts/{some}/facebook-page")),
        (
            Method::GET,
            format!("/v1/accounts/{some}/linkedin-organizations"),
        ),
        (
            Method::PUT,
            format!("/v1/accounts/{some}/linkedin-organization"),
        ),
        (Method::GET, format!("/v1/accounts/{some}/pinterest-boards")),
        (Method::PUT, format!("/v1/accounts/{some}/pinterest-boards")),
        (Method::GET, format!("/v1/accounts/{some}/gmb-locations")),
        (Method::PUT, format!("/v1/accounts/{some}/gmb-locations")),
        (
            Method::GET,
            "/v1/connect/twitter?profileId=6553f100aaaaaaaaaaaaaaaa".to_owned(),
        ),
        (Method::POST, "/v1/connect/twitter".to_owned()),
        (Method::POST, format!("/v1/accounts/{some}/refresh-token")),
        (Method::GET, "/v1/accounts/health".to_owned()),
        (Method::GET, format!("/v1/accounts/{some}/health")),
        (
            Method::GET,
            "/v1/connect/whatsapp/select-phone-number".to_owned(),
        ),
        (
            Method::POST,
            "/v1/connect/whatsapp/select-phone-number".to_owned(),
        ),
        (Method::POST, "/v1/connect/bluesky/credentials".to_owned()),
        (
            Method::GET,
            "/v1/connect/telegram?profileId=6553f100aaaaaaaaaaaaaaaa".to_owned(),
        ),
        (Method::POST, "/v1/connect/telegram".to_owned()),
        (
            Method::PATCH,
            "/v1/connect/telegram?code=PB-00000000".to_owned(),
        ),
        (Method::POST, "/v1/connect/whatsapp/credentials".to_owned()),
        (Method::GET, "/v1/connect/facebook/select-page".to_owned()),
        (Method::POST, "/v1/connect/facebook/select-page".to_owned()),
        (
            Method::GET,
            "/v1/connect/instagram/select-account".to_owned(),
        ),
        (
            Method::POST,
            "/v1/connect/instagram/select-account".to_owned(),
        ),
        (
            Method::POST,
            "/v1/connect/linkedin/select-organization".to_owned(),
        ),
        (Method::GET, "/v1/connect/pinterest/select-board".to_owned()),
        (
            Method::POST,
            "/v1/connect/pinterest/select-board".to_owned(),
        ),
        (
            Method::GET,
            "/v1/connect/snapchat/select-profile".to_owned(),
        ),
        (
            Method::POST,
            "/v1/connect/snapchat/select-profile".to_owned(),
        ),
        (
            Method::GET,
            "/v1/connect/googlebusiness/locations".to_owned(),
        ),
        (
            Method::POST,
            "/v1/connect/googlebusiness/select-location".to_owned(),
        ),
        (
            Method::GET,
            "/v1/connect/facebook/ads?profileId=6553f100aaaaaaaaaaaaaaaa".to_owned(),
        ),
        (Method::GET, "/v1/webhooks/settings".to_owned()),
        (Method::POST, "/v1/webhooks/settings".to_owned()),
        (Method::PUT, "/v1/webhooks/settings".to_owned()),
        (Method::DELETE, "/v1/webhooks/settings".to_owned()),
        (Method::POST, "/v1/webhooks/test".to_owned()),
        (Method::GET, "/v1/webhooks/logs".to_owned()),
        (Method::POST, "/v1/webhooks/logs/redeliver".to_owned()),
        (Method::POST, "/v1/oauth/tickets".to_owned()),
        (Method::GET, "/v1/connections".to_owned()),
        (Method::PATCH, format!("/v1/connections/{some}")),
        (
            Method::POST,
            format!("/v1/connections/{some}/refresh-token"),
        ),
    ];
    // Public by design (Zernio's "public" group): the token in the query is the capability.
    let public = [
        "/v1/connect/pending-data",
        "/v1/connect/linkedin/organizations",
        // The ticket is the capability; the browser holds no key.
        "/v1/oauth/{platform}/authorize",
    ];
    let openapi = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let documented: usize = openapi["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with("/v1/") && !public.contains(&p.as_str()))
        .map(|(_, ops)| ops.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        routes.len(),
        "this table covers every documented /v1 operation"
    );
    for (method, path) in routes {
        for prefix in ["", "/api"] {
            let url = app.url(&format!("{prefix}{path}"));
            let cases: [(&str, Option<String>); 4] = [
                ("missing", None),
                ("not bearer", Some(format!("Basic {}", app.key))),
                ("malformed", Some("Bearer not-a-key".into())),
                ("revoked", Some(format!("Bearer {revoked}"))),
            ];
            for (why, header) in cases {
                let mut req = app
                    .client
                    .request(method.clone(), &url)
                    .json(&json!({"name": "x"}));
                if let Some(h) = header {
                    req = req.header("authorization", h);
                }
                let r = reply(req.send().await.unwrap()).await;
                assert_error(&r, 401, "unauthorized");
                assert!(!r.text.contains(&app.key), "{why} {method} {url}");
            }
        }
    }
}
