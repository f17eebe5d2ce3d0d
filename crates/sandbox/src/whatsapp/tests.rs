//! The WhatsApp fake driven over HTTP as the connector and a test script drive it. State
//! is process-wide, so every test creates its own WABAs.

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use serde_json::{Value, json};

use super::graph::field_names;
use super::world::World;

mod login;

type Resp = ServiceResponse;

const V: &str = "/sandbox/whatsapp/v24.0";
const NUMBER_FIELDS: &str = "id,display_phone_number,verified_name,quality_rating,code_verification_status,name_status,messaging_limit_tier,platform_type,throughput{level}";

async fn app() -> impl Service<actix_http::Request, Response = Resp, Error = actix_web::Error> {
    test::init_service(App::new().service(web::scope("/sandbox").configure(crate::configure))).await
}

async fn call<S>(app: &S, req: actix_http::Request) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let resp = test::call_service(app, req).await;
    let status = resp.status();
    let body = test::read_body(resp).await;
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| json!({"unparsed": String::from_utf8_lossy(&body)}));
    (status, value)
}

async fn admin<S>(app: &S, path: &str, body: Value) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let req = test::TestRequest::post()
        .uri(&format!("/sandbox/whatsapp/{path}"))
        .set_json(body)
        .to_request();
    call(app, req).await
}

/// A new WABA: `(waba id, token, phone number ids)`.
async fn waba<S>(app: &S, body: Value) -> (String, String, Vec<String>)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let (status, v) = admin(app, "_wabas", body).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let numbers = v["phoneNumbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    (
        v["wabaId"].as_str().unwrap().to_owned(),
        v["accessToken"].as_str().unwrap().to_owned(),
        numbers,
    )
}

async fn get<S>(app: &S, path: &str, token: Option<&str>) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let mut req = test::TestRequest::get().uri(&format!("{V}{path}"));
    if let Some(t) = token {
        req = req.insert_header(("Authorization", format!("Bearer {t}")));
    }
    call(app, req.to_request()).await
}

async fn post<S>(app: &S, path: &str, token: &str, body: Value) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let req = test::TestRequest::post()
        .uri(&format!("{V}{path}"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .set_json(body)
        .to_request();
    call(app, req).await
}

async fn delete<S>(app: &S, path: &str, token: &str) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let req = test::TestRequest::delete()
        .uri(&format!("{V}{path}"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_request();
    call(app, req).await
}

/// A Graph error with its random `fbtrace_id` checked and taken out, so bodies compare whole.
fn traced(mut v: Value) -> Value {
    let trace = v
        .get_mut("error")
        .and_then(Value::as_object_mut)
        .and_then(|e| e.remove("fbtrace_id"));
    assert!(
        trace
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty()),
        "no fbtrace_id in {v}"
    );
    v
}

fn graph_error(message: &str, kind: &str, code: u32) -> Value {
    json!({"error": {"message": message, "type": kind, "code": code}})
}

fn does_not_exist(id: &str, method: &str) -> Value {
    json!({"error": {
        "message": format!("Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"),
        "type": "GraphMethodException", "code": 100, "error_subcode": 33,
    }})
}

fn register_body(pin: &str) -> Value {
    json!({"messaging_product": "whatsapp", "pin": pin})
}

fn is_graph_id(id: &str) -> bool {
    id.len() == 15 && id.starts_with('1') && id.bytes().all(|b| b.is_ascii_digit())
}

#[actix_web::test]
async fn creating_a_waba_answers_its_id_a_token_and_two_numbers_by_default() {
    let app = app().await;
    let (status, v) = admin(&app, "_wabas", json!({"name": "Acme Support"})).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let waba_id = v["wabaId"].as_str().unwrap();
    assert!(is_graph_id(waba_id), "{waba_id}");
    assert!(
        v["accessToken"]
            .as_str()
            .unwrap()
            .starts_with("sbx-whatsapp-")
    );
    assert_eq!(v["name"], "Acme Support");
    let numbers = v["phoneNumbers"].as_array().unwrap();
    assert_eq!(numbers.len(), 2);
    for (i, n) in numbers.iter().enumerate() {
        assert!(is_graph_id(n["id"].as_str().unwrap()), "{n}");
        assert_eq!(
            n["verifiedName"],
            format!("Sandbox Number {} of Acme Support", i + 1)
        );
        let display = n["displayPhoneNumber"].as_str().unwrap();
        assert!(
            display.starts_with("+1 ") && display.contains("-555-01"),
            "{display}"
        );
    }
    assert_ne!(numbers[0]["id"], numbers[1]["id"]);
    assert_ne!(
        numbers[0]["displayPhoneNumber"],
        numbers[1]["displayPhoneNumber"]
    );

    let (_, none) = admin(&app, "_wabas", json!({"phoneNumbers": 0})).await;
    assert_eq!(none["phoneNumbers"], json!([]));
    let (status, empty_body) = call(
        &app,
        test::TestRequest::post()
            .uri("/sandbox/whatsapp/_wabas")
            .to_request(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a body-less POST takes the defaults"
    );
    assert_eq!(empty_body["phoneNumbers"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn creating_a_waba_refuses_a_bad_body_with_a_message() {
    let app = app().await;
    let cases = [
        (
            json!({"phoneNumbers": 21}),
            "phoneNumbers",
            "too many numbers",
        ),
        (
            json!({"phoneNumbers": -1}),
            "invalid JSON",
            "negative count",
        ),
        (json!({"pin": "12345"}), "pin", "five digits"),
        (json!({"pin": "12a456"}), "pin", "not digits"),
        (json!({"name": "  "}), "name", "blank name"),
        (json!({"nmae": "typo"}), "invalid JSON", "unknown field"),
    ];
    for (body, says, why) in cases {
        let (status, v) = admin(&app, "_wabas", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {v}");
        assert!(v["error"].as_str().unwrap().contains(says), "{why}: {v}");
    }
}

// `test` is actix-web's module here, so the attribute is spelled out.
#[core::prelude::v1::test]
fn a_fresh_world_hands_out_the_same_ids_in_the_same_order() {
    let ids = || {
        let mut w = World::default();
        (0..3)
            .map(|_| {
                let (waba, _) = w.create_waba(None, 2, None);
                let numbers: Vec<String> = waba.numbers.iter().map(|n| n.id.clone()).collect();
                (waba.id, numbers, waba.name)
            })
            .collect::<Vec<_>>()
    };
    let first = ids();
    assert_eq!(first, ids());
    assert_eq!(first[0].2, "Sandbox WABA 1");
}

#[actix_web::test]
async fn the_waba_answers_the_fields_asked_for_and_graphs_defaults_without_fields() {
    let app = app().await;
    let (waba_id, token, _) = waba(&app, json!({"name": "Fields Inc"})).await;
    let (status, v) = get(
        &app,
        &format!("/{waba_id}?fields=id,name,currency,timezone_id,message_template_namespace"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let namespace = v["message_template_namespace"].as_str().unwrap().to_owned();
    assert_eq!(namespace.len(), 36, "{namespace}");
    assert_eq!(
        v,
        json!({"id": waba_id, "name": "Fields Inc", "currency": "USD", "timezone_id": "1",
            "message_template_namespace": namespace})
    );

    let (_, v) = get(&app, &format!("/{waba_id}"), Some(&token)).await;
    assert_eq!(
        v,
        json!({"id": waba_id, "name": "Fields Inc", "timezone_id": "1",
            "message_template_namespace": namespace})
    );

    let (_, v) = get(&app, &format!("/{waba_id}?fields=name"), Some(&token)).await;
    assert_eq!(
        v,
        json!({"id": waba_id, "name": "Fields Inc"}),
        "id always comes"
    );

    let (status, v) = get(
        &app,
        &format!("/{waba_id}?fields=name,colour"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        traced(v),
        graph_error(
            "(#100) Tried accessing nonexisting field (colour) on node type (WhatsAppBusinessAccount)",
            "OAuthException",
            100
        )
    );
}

#[actix_web::test]
async fn phone_numbers_list_every_number_with_quality_name_status_and_tier() {
    let app = app().await;
    let (status, created) = admin(&app, "_wabas", json!({"name": "List Co"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let waba_id = created["wabaId"].as_str().unwrap();
    let token = created["accessToken"].as_str().unwrap();
    let (status, v) = get(
        &app,
        &format!("/{waba_id}/phone_numbers?fields={NUMBER_FIELDS}"),
        Some(token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let expected: Vec<Value> = created["phoneNumbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            json!({
                "id": n["id"], "display_phone_number": n["displayPhoneNumber"],
                "verified_name": n["verifiedName"], "quality_rating": "GREEN",
                "code_verification_status": "VERIFIED", "name_status": "APPROVED",
                "messaging_limit_tier": "TIER_1K", "platform_type": "NOT_APPLICABLE",
                "throughput": {"level": "STANDARD"},
            })
        })
        .collect();
    let cursors = v["paging"]["cursors"].clone();
    assert_eq!(v, json!({"data": expected, "paging": {"cursors": cursors}}));
    assert!(cursors["before"].is_string() && cursors["after"].is_string());

    let (_, defaults) = get(&app, &format!("/{waba_id}/phone_numbers"), Some(token)).await;
    let mut keys: Vec<&str> = defaults["data"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "code_verification_status",
            "display_phone_number",
            "id",
            "platform_type",
            "quality_rating",
            "throughput",
            "verified_name"
        ],
        "Graph's default fields of a phone number"
    );
}

#[actix_web::test]
async fn phone_numbers_page_with_limit_and_cursors_and_refuse_bad_ones() {
    let app = app().await;
    let (waba_id, token, numbers) = waba(&app, json!({"phoneNumbers": 3})).await;
    let path = format!("/{waba_id}/phone_numbers?fields=id&limit=2");
    let (_, first) = get(&app, &path, Some(&token)).await;
    assert_eq!(
        first["data"],
        json!([{"id": numbers[0]}, {"id": numbers[1]}])
    );
    let next = first["paging"]["next"].as_str().unwrap();
    assert!(
        next.contains("limit=2") && next.contains("after="),
        "{next}"
    );
    let after = first["paging"]["cursors"]["after"].as_str().unwrap();
    let (_, second) = get(&app, &format!("{path}&after={after}"), Some(&token)).await;
    assert_eq!(second["data"], json!([{"id": numbers[2]}]));
    assert!(second["paging"].get("next").is_none(), "{second}");
    let before = second["paging"]["cursors"]["before"].as_str().unwrap();
    let (_, back) = get(&app, &format!("{path}&before={before}"), Some(&token)).await;
    assert_eq!(back["data"], first["data"]);

    for (query, why) in [("limit=ten", "limit"), ("after=bogus", "cursor")] {
        let (status, v) = get(
            &app,
            &format!("/{waba_id}/phone_numbers?{query}"),
            Some(&token),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}");
        assert_eq!(v["error"]["code"], 100, "{why}: {v}");
    }
}

#[actix_web::test]
async fn a_waba_without_numbers_lists_no_data_and_no_paging() {
    let app = app().await;
    let (waba_id, token, _) = waba(&app, json!({"phoneNumbers": 0})).await;
    let (status, v) = get(&app, &format!("/{waba_id}/phone_numbers"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v, json!({"data": []}));
}

#[actix_web::test]
async fn one_phone_number_is_served_by_its_id() {
    let app = app().await;
    let (status, created) = admin(&app, "_wabas", json!({"name": "One", "phoneNumbers": 1})).await;
    assert_eq!(status, StatusCode::CREATED);
    let token = created["accessToken"].as_str().unwrap();
    let n = &created["phoneNumbers"][0];
    let id = n["id"].as_str().unwrap();
    let (status, v) = get(
        &app,
        &format!("/{id}?fields=display_phone_number,verified_name,quality_rating,name_status,messaging_limit_tier,is_pin_enabled"),
        Some(token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!({"id": id, "display_phone_number": n["displayPhoneNumber"],
            "verified_name": "Sandbox Number 1 of One", "quality_rating": "GREEN",
            "name_status": "APPROVED", "messaging_limit_tier": "TIER_1K", "is_pin_enabled": false})
    );
    let (status, v) = get(&app, &format!("/{id}?fields=currency"), Some(token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["error"]["message"],
        "(#100) Tried accessing nonexisting field (currency) on node type (WhatsAppBusinessPhoneNumber)"
    );
}

#[actix_web::test]
async fn an_unknown_id_is_graphs_does_not_exist_error() {
    let app = app().await;
    let (_, token, _) = waba(&app, json!({})).await;
    let unknown = "100000000000000";
    for (path, method) in [
        (format!("/{unknown}"), "get"),
        (format!("/{unknown}/phone_numbers"), "get"),
        (format!("/{unknown}/subscribed_apps"), "get"),
    ] {
        let (status, v) = get(&app, &path, Some(&token)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(traced(v), does_not_exist(unknown, method), "{path}");
    }
    let (status, v) = post(
        &app,
        &format!("/{unknown}/register"),
        &token,
        register_body("123456"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(traced(v), does_not_exist(unknown, "post"));
}

#[actix_web::test]
async fn a_token_of_another_waba_gets_the_permissions_error_everywhere() {
    let app = app().await;
    let (waba_id, _, numbers) = waba(&app, json!({})).await;
    let (_, other_token, _) = waba(&app, json!({})).await;
    let number = &numbers[0];
    let cases: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/{waba_id}"), None),
        ("GET", format!("/{waba_id}/phone_numbers"), None),
        ("GET", format!("/{number}"), None),
        ("GET", format!("/{waba_id}/subscribed_apps"), None),
        (
            "POST",
            format!("/{waba_id}/subscribed_apps"),
            Some(json!({})),
        ),
        ("DELETE", format!("/{waba_id}/subscribed_apps"), None),
        (
            "POST",
            format!("/{number}/register"),
            Some(register_body("123456")),
        ),
    ];
    for (method, path, body) in cases {
        let (status, v) = match (method, body) {
            ("GET", _) => get(&app, &path, Some(&other_token)).await,
            ("DELETE", _) => delete(&app, &path, &other_token).await,
            (_, body) => post(&app, &path, &other_token, body.unwrap_or_default()).await,
        };
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}");
        assert_eq!(
            traced(v),
            graph_error("(#200) Permissions error", "OAuthException", 200),
            "{method} {path}"
        );
    }
}

#[actix_web::test]
async fn every_endpoint_refuses_a_missing_unknown_or_revoked_token() {
    let app = app().await;
    let (waba_id, token, numbers) = waba(&app, json!({})).await;
    let (status, v) = admin(&app, "_revoke", json!({"accessToken": token})).await;
    assert_eq!((status, v), (StatusCode::OK, json!({"revoked": 1})));
    let number = &numbers[0];
    let paths = [
        ("GET", format!("/{waba_id}")),
        ("GET", format!("/{waba_id}/phone_numbers")),
        ("GET", format!("/{number}")),
        ("GET", "/me".to_owned()),
        ("GET", format!("/debug_token?input_token={token}")),
        ("GET", format!("/{waba_id}/subscribed_apps")),
        ("POST", format!("/{waba_id}/subscribed_apps")),
        ("DELETE", format!("/{waba_id}/subscribed_apps")),
        ("POST", format!("/{number}/register")),
    ];
    let revoked = format!(
        "Error validating access token: The user has not authorized application {}.",
        super::world::app_id()
    );
    let tokens: [(Option<&str>, Value, &str); 3] = [
        (
            None,
            graph_error(
                "An access token is required to request this resource.",
                "OAuthException",
                104,
            ),
            "missing",
        ),
        (
            Some("sbx-whatsapp-su-nosuchtoken"),
            graph_error(
                "Invalid OAuth access token - Cannot parse access token",
                "OAuthException",
                190,
            ),
            "unknown",
        ),
        (
            Some(token.as_str()),
            json!({"error": {"message": revoked, "type": "OAuthException", "code": 190, "error_subcode": 458}}),
            "revoked",
        ),
    ];
    for (method, path) in &paths {
        for (token, expected, why) in &tokens {
            let mut req = match *method {
                "GET" => test::TestRequest::get(),
                "DELETE" => test::TestRequest::delete(),
                _ => test::TestRequest::post().set_json(register_body("123456")),
            }
            .uri(&format!("{V}{path}"));
            if let Some(t) = token {
                req = req.insert_header(("Authorization", format!("Bearer {t}")));
            }
            let resp = test::call_service(&app, req.to_request()).await;
            assert_eq!(
                resp.status(),
                StatusCode::BAD_REQUEST,
                "{why} {method} {path}"
            );
            let www = resp.headers().get("www-authenticate").cloned();
            let v: Value = serde_json::from_slice(&test::read_body(resp).await).unwrap();
            assert_eq!(&traced(v), expected, "{why} {method} {path}");
            assert_eq!(www.is_some(), token.is_some(), "{why} {method} {path}");
        }
    }
}

#[actix_web::test]
async fn an_access_token_in_the_query_works_like_the_bearer_header() {
    let app = app().await;
    let (waba_id, token, _) = waba(&app, json!({"name": "Query"})).await;
    let (status, v) = get(
        &app,
        &format!("/{waba_id}?fields=name&access_token={token}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"id": waba_id, "name": "Query"}));
}

#[actix_web::test]
async fn any_graph_version_is_served_and_a_path_that_is_not_one_is_unknown() {
    let app = app().await;
    let (waba_id, token, _) = waba(&app, json!({})).await;
    for version in ["v1.0", "v24.0", "v99.9"] {
        let req = test::TestRequest::get()
            .uri(&format!("/sandbox/whatsapp/{version}/{waba_id}"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .to_request();
        let (status, _) = call(&app, req).await;
        assert_eq!(status, StatusCode::OK, "{version}");
    }
    for path in [
        format!("/sandbox/whatsapp/latest/{waba_id}"),
        format!("/sandbox/whatsapp/v24.0/{waba_id}/message_templates/x/y"),
    ] {
        let req = test::TestRequest::get()
            .uri(&path)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .to_request();
        let (status, v) = call(&app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(v["error"]["code"], 2500, "{path}: {v}");
    }
    let req = test::TestRequest::get()
        .uri("/sandbox/whatsapp/_nothing")
        .to_request();
    let (status, v) = call(&app, req).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(v["error"].as_str().unwrap().contains("WhatsApp"), "{v}");
}

#[actix_web::test]
async fn me_is_the_system_user_behind_the_token() {
    let app = app().await;
    let (_, token, _) = waba(&app, json!({})).await;
    let (status, v) = get(&app, "/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(is_graph_id(v["id"].as_str().unwrap()), "{v}");
    assert_eq!(v["name"], "Sandbox system user");
}

#[actix_web::test]
async fn subscribing_the_app_shows_in_subscribed_apps_and_unsubscribing_removes_it() {
    let app = app().await;
    let (waba_id, token, _) = waba(&app, json!({})).await;
    let path = format!("/{waba_id}/subscribed_apps");
    assert_eq!(
        get(&app, &path, Some(&token)).await,
        (StatusCode::OK, json!({"data": []}))
    );
    assert_eq!(
        post(&app, &path, &token, json!({})).await,
        (StatusCode::OK, json!({"success": true}))
    );
    let app_id = super::world::app_id();
    let app_data = json!({"id": app_id, "name": "Plugboard sandbox",
        "link": format!("https://www.facebook.com/games/?app_id={app_id}")});
    assert_eq!(
        get(&app, &path, Some(&token)).await,
        (
            StatusCode::OK,
            json!({"data": [{"whatsapp_business_api_data": app_data}]})
        )
    );

    let hook = "https://hooks.example/whatsapp";
    let (status, _) = post(
        &app,
        &path,
        &token,
        json!({"override_callback_uri": hook, "verify_token": "vt-123"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, v) = get(&app, &path, Some(&token)).await;
    assert_eq!(v["data"][0]["override_callback_uri"], hook);
    let (_, shown) = call(
        &app,
        test::TestRequest::get()
            .uri(&format!("/sandbox/whatsapp/_wabas/{waba_id}"))
            .to_request(),
    )
    .await;
    assert_eq!(shown["subscribed"], true);
    assert_eq!(shown["overrideCallbackUri"], hook);

    assert_eq!(
        delete(&app, &path, &token).await,
        (StatusCode::OK, json!({"success": true}))
    );
    assert_eq!(get(&app, &path, Some(&token)).await.1, json!({"data": []}));
}

#[actix_web::test]
async fn an_override_callback_without_verify_token_or_with_a_bad_url_is_refused() {
    let app = app().await;
    let (waba_id, token, _) = waba(&app, json!({})).await;
    let path = format!("/{waba_id}/subscribed_apps");
    let cases = [
        (
            json!({"override_callback_uri": "https://hooks.example/x"}),
            "verify_token",
        ),
        (
            json!({"override_callback_uri": "not a url", "verify_token": "v"}),
            "valid URL",
        ),
    ];
    for (body, says) in cases {
        let (status, v) = post(&app, &path, &token, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{says}");
        assert_eq!(v["error"]["code"], 100, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(says),
            "{v}"
        );
    }
    let (_, v) = get(&app, &path, Some(&token)).await;
    assert_eq!(v, json!({"data": []}), "a refused subscription is not made");
}

#[actix_web::test]
async fn registering_sets_the_two_step_pin_and_another_pin_is_then_a_mismatch() {
    let app = app().await;
    let (waba_id, token, numbers) = waba(&app, json!({})).await;
    let number = &numbers[0];
    let path = format!("/{number}/register");
    assert_eq!(
        post(&app, &path, &token, register_body("123456")).await,
        (StatusCode::OK, json!({"success": true}))
    );
    let (_, v) = get(
        &app,
        &format!("/{number}?fields=platform_type,status,is_pin_enabled"),
        Some(&token),
    )
    .await;
    assert_eq!(
        v,
        json!({"id": number, "platform_type": "CLOUD_API", "status": "CONNECTED", "is_pin_enabled": true})
    );
    assert_eq!(
        post(&app, &path, &token, register_body("123456")).await.1,
        json!({"success": true}),
        "registering again with the same PIN is fine"
    );
    let (status, v) = post(&app, &path, &token, register_body("654321")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        traced(v),
        json!({"error": {"message": "(#133005) Two step verification PIN Mismatch",
            "type": "OAuthException", "code": 133005,
            "error_data": {"messaging_product": "whatsapp",
                "details": "The PIN does not match this number's two-step verification PIN"}}})
    );
    let (_, shown) = call(
        &app,
        test::TestRequest::get()
            .uri(&format!("/sandbox/whatsapp/_wabas/{waba_id}"))
            .to_request(),
    )
    .await;
    assert_eq!(shown["phoneNumbers"][0]["registered"], true);
    assert_eq!(shown["phoneNumbers"][1]["registered"], false);
}

#[actix_web::test]
async fn a_number_created_with_two_step_verification_takes_only_its_pin() {
    let app = app().await;
    let (_, token, numbers) = waba(&app, json!({"pin": "246810", "phoneNumbers": 1})).await;
    let path = format!("/{}/register", numbers[0]);
    let (status, v) = post(&app, &path, &token, register_body("123456")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], 133005, "{v}");
    let (status, v) = post(&app, &path, &token, register_body("246810")).await;
    assert_eq!((status, v), (StatusCode::OK, json!({"success": true})));
}

#[actix_web::test]
async fn register_takes_a_form_body_as_graph_does() {
    let app = app().await;
    let (_, token, numbers) = waba(&app, json!({})).await;
    let req = test::TestRequest::post()
        .uri(&format!("{V}/{}/register", numbers[0]))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .set_form([("messaging_product", "whatsapp"), ("pin", "112233")])
        .to_request();
    assert_eq!(
        call(&app, req).await,
        (StatusCode::OK, json!({"success": true}))
    );
}

#[actix_web::test]
async fn register_refuses_a_malformed_pin_or_product_with_code_100() {
    let app = app().await;
    let (_, token, numbers) = waba(&app, json!({})).await;
    let path = format!("/{}/register", numbers[0]);
    let cases = [
        (
            json!({"messaging_product": "whatsapp", "pin": "12345"}),
            "five digits",
        ),
        (
            json!({"messaging_product": "whatsapp", "pin": "1234567"}),
            "seven digits",
        ),
        (
            json!({"messaging_product": "whatsapp", "pin": "12345a"}),
            "a letter",
        ),
        (json!({"messaging_product": "whatsapp"}), "no pin"),
        (json!({"pin": "123456"}), "no messaging_product"),
        (
            json!({"messaging_product": "sms", "pin": "123456"}),
            "another product",
        ),
    ];
    for (body, why) in cases {
        let (status, v) = post(&app, &path, &token, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}");
        assert_eq!(v["error"]["code"], 100, "{why}: {v}");
        assert_eq!(v["error"]["type"], "OAuthException", "{why}");
    }
    let (_, v) = post(&app, &path, &token, register_body("12345")).await;
    assert_eq!(
        traced(v),
        json!({"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100,
            "error_data": {"messaging_product": "whatsapp",
                "details": "The two-step verification PIN must be exactly 6 digits"}}})
    );
    let (_, v) = get(
        &app,
        &format!("/{}?fields=is_pin_enabled", numbers[0]),
        Some(&token),
    )
    .await;
    assert_eq!(
        v["is_pin_enabled"], false,
        "a refused registration sets no PIN"
    );
}

#[actix_web::test]
async fn debug_token_names_the_waba_in_granular_scopes() {
    let app = app().await;
    let (waba_id, token, _) = waba(&app, json!({})).await;
    let (_, me) = get(&app, "/me", Some(&token)).await;
    let (status, v) = get(
        &app,
        &format!("/debug_token?input_token={token}"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let issued_at = v["data"]["issued_at"].clone();
    assert!(issued_at.as_i64().is_some_and(|t| t > 0), "{v}");
    assert_eq!(
        v,
        json!({"data": {
            "app_id": super::world::app_id(), "type": "SYSTEM_USER",
            "application": "Plugboard sandbox", "data_access_expires_at": 0, "expires_at": 0,
            "is_valid": true, "issued_at": issued_at,
            "scopes": ["whatsapp_business_management", "whatsapp_business_messaging", "public_profile"],
            "granular_scopes": [
                {"scope": "whatsapp_business_management", "target_ids": [waba_id]},
                {"scope": "whatsapp_business_messaging", "target_ids": [waba_id]},
            ],
            "user_id": me["id"],
        }})
    );
}

#[actix_web::test]
async fn debug_token_reports_unknown_and_revoked_input_tokens_as_invalid() {
    let app = app().await;
    let (waba_id, token, _) = waba(&app, json!({})).await;
    let (status, v) = admin(&app, &format!("_wabas/{waba_id}/tokens"), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let dead = v["accessToken"].as_str().unwrap().to_owned();
    admin(&app, "_revoke", json!({"accessToken": dead})).await;
    let (_, v) = get(&app, "/debug_token?input_token=nope", Some(&token)).await;
    assert_eq!(
        v,
        json!({"data": {"error": {"code": 190, "message": "Invalid OAuth access token."},
            "is_valid": false, "scopes": []}})
    );
    let (_, v) = get(
        &app,
        &format!("/debug_token?input_token={dead}"),
        Some(&token),
    )
    .await;
    assert_eq!(v["data"]["is_valid"], false, "{v}");
    assert_eq!(v["data"]["error"]["code"], 190);
    assert_eq!(v["data"]["error"]["subcode"], 458);
    let (status, v) = get(&app, "/debug_token", Some(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], 100);
}

#[actix_web::test]
async fn more_tokens_for_a_waba_work_and_revoking_the_waba_kills_them_all() {
    let app = app().await;
    let (waba_id, first, _) = waba(&app, json!({})).await;
    let (status, v) = admin(&app, &format!("_wabas/{waba_id}/tokens"), json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let second = v["accessToken"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        get(&app, &format!("/{waba_id}"), Some(&second)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        admin(&app, "_revoke", json!({"wabaId": waba_id})).await,
        (StatusCode::OK, json!({"revoked": 2}))
    );
    for t in [&first, &second] {
        let (status, v) = get(&app, &format!("/{waba_id}"), Some(t)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(v["error"]["code"], 190);
    }
    assert_eq!(
        admin(&app, "_revoke", json!({"wabaId": waba_id})).await.1,
        json!({"revoked": 0}),
        "revoking again finds nothing live"
    );
}

#[actix_web::test]
async fn the_admin_routes_refuse_what_they_cannot_do() {
    let app = app().await;
    let cases = [
        ("_revoke", json!({}), StatusCode::BAD_REQUEST, "neither"),
        (
            "_revoke",
            json!({"accessToken": "a", "wabaId": "1"}),
            StatusCode::BAD_REQUEST,
            "both",
        ),
        (
            "_wabas/100000000000000/tokens",
            json!({}),
            StatusCode::NOT_FOUND,
            "unknown WABA",
        ),
        (
            "_faults",
            json!({"wabaId": "100000000000000", "listings": "fail"}),
            StatusCode::NOT_FOUND,
            "knobs of an unknown WABA",
        ),
        (
            "_faults",
            json!({"register": "empty"}),
            StatusCode::BAD_REQUEST,
            "empty register",
        ),
        (
            "_faults",
            json!({"listings": "broken"}),
            StatusCode::BAD_REQUEST,
            "unknown knob",
        ),
    ];
    for (path, body, want, why) in cases {
        let (status, v) = admin(&app, path, body).await;
        assert_eq!(status, want, "{why}: {v}");
        assert!(v["error"].is_string(), "{why}: {v}");
    }
    let (status, _) = call(
        &app,
        test::TestRequest::get()
            .uri("/sandbox/whatsapp/_wabas/100000000000000")
            .to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn the_listings_knob_fails_throttles_or_empties_one_wabas_reads() {
    let app = app().await;
    let (waba_id, token, numbers) = waba(&app, json!({})).await;
    let (bystander, other_token, _) = waba(&app, json!({})).await;
    let reads = [
        format!("/{waba_id}"),
        format!("/{waba_id}/phone_numbers"),
        format!("/{}", numbers[0]),
    ];
    let set = |knob: &str| json!({"wabaId": waba_id, "listings": knob});

    let (status, v) = admin(&app, "_faults", set("fail")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"wabaId": waba_id, "listings": "fail"}));
    for path in &reads {
        let (status, v) = get(&app, path, Some(&token)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(
            traced(v),
            graph_error(
                "An unexpected error has occurred. Please retry your request later.",
                "OAuthException",
                2
            ),
            "{path}"
        );
    }
    let (status, _) = get(
        &app,
        &format!("/{bystander}/phone_numbers"),
        Some(&other_token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "another WABA is not affected");
    let (_, listed) = call(
        &app,
        test::TestRequest::get()
            .uri("/sandbox/whatsapp/_faults")
            .to_request(),
    )
    .await;
    assert!(
        listed["faults"]
            .as_array()
            .unwrap()
            .contains(&json!({"wabaId": waba_id, "listings": "fail"})),
        "{listed}"
    );

    admin(&app, "_faults", set("throttled")).await;
    for path in &reads {
        let (status, v) = get(&app, path, Some(&token)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(v["error"]["code"], 80007, "{path}: {v}");
    }

    admin(&app, "_faults", set("empty")).await;
    let (_, v) = get(&app, &reads[1], Some(&token)).await;
    assert_eq!(v, json!({"data": []}));
    let (_, v) = get(&app, &reads[2], Some(&token)).await;
    assert_eq!(traced(v), does_not_exist(&numbers[0], "get"));
    assert_eq!(get(&app, &reads[0], Some(&token)).await.0, StatusCode::OK);

    let (status, v) = admin(&app, "_faults", json!({"wabaId": waba_id})).await;
    assert_eq!((status, v), (StatusCode::OK, json!({"wabaId": waba_id})));
    let (_, v) = get(&app, &reads[1], Some(&token)).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 2, "knobs cleared");
}

#[actix_web::test]
async fn the_register_and_subscribe_knobs_fail_or_throttle_those_writes() {
    let app = app().await;
    let (waba_id, token, numbers) = waba(&app, json!({})).await;
    let register = format!("/{}/register", numbers[0]);
    let subscribe = format!("/{waba_id}/subscribed_apps");
    let cases = [
        (
            "register",
            "fail",
            &register,
            StatusCode::SERVICE_UNAVAILABLE,
            133004,
        ),
        (
            "register",
            "throttled",
            &register,
            StatusCode::BAD_REQUEST,
            133016,
        ),
        (
            "subscribe",
            "fail",
            &subscribe,
            StatusCode::INTERNAL_SERVER_ERROR,
            2,
        ),
        (
            "subscribe",
            "throttled",
            &subscribe,
            StatusCode::BAD_REQUEST,
            80007,
        ),
    ];
    for (knob, value, path, status, code) in cases {
        admin(&app, "_faults", json!({"wabaId": waba_id, knob: value})).await;
        let (got, v) = post(&app, path, &token, register_body("123456")).await;
        assert_eq!(got, status, "{knob}={value}");
        assert_eq!(v["error"]["code"], code, "{knob}={value}: {v}");
    }
    admin(&app, "_faults", json!({"wabaId": waba_id})).await;
    let (_, shown) = call(
        &app,
        test::TestRequest::get()
            .uri(&format!("/sandbox/whatsapp/_wabas/{waba_id}"))
            .to_request(),
    )
    .await;
    assert_eq!(shown["subscribed"], false);
    assert_eq!(shown["phoneNumbers"][0]["registered"], false);
    assert_eq!(shown["phoneNumbers"][0]["pinEnabled"], false);
}

// `test` is actix-web's module here, so the attribute is spelled out.
#[core::prelude::v1::test]
fn field_names_keep_the_top_level_names_of_a_graph_fields_list() {
    let cases = [
        ("id,name", vec!["id", "name"]),
        (" id , throughput{level} ", vec!["id", "throughput"]),
        ("a{b,c{d}},e.limit(5),f", vec!["a", "e", "f"]),
        ("", vec![]),
        (",,", vec![]),
    ];
    for (raw, want) in cases {
        assert_eq!(field_names(raw), want, "{raw:?}");
    }
}

// `test` is actix-web's module here, so the attribute is spelled out.
#[core::prelude::v1::test]
fn the_sandbox_lists_whatsapp_among_its_fakes() {
    assert!(crate::platforms().any(|p| p == "whatsapp"));
}
