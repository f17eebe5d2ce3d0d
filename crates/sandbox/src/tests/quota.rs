//! The rate-limit headers of normal answers and the `quota` knob, per platform family.

use super::*;

async fn tokens_of<S>(app: &S, slug: &str, client_id: &str) -> (&'static Fake, String)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let fake = find(slug).unwrap();
    register(app, fake, client_id).await;
    let code = approve(app, fake, client_id, "quota_user").await;
    let (status, tokens) = exchange(app, fake, client_id, &code).await;
    assert_eq!(status, StatusCode::OK, "{slug}: {tokens}");
    (fake, str_at(&tokens, "/access_token").to_owned())
}

async fn identity_response<S>(app: &S, fake: &Fake, access: &str) -> Resp
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let req = test::TestRequest::get()
        .uri(&identity_uri(fake))
        .insert_header(("Authorization", format!("Bearer {access}")))
        .to_request();
    test::call_service(app, req).await
}

fn header(resp: &Resp, name: &str) -> String {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}: {:?}", resp.headers()))
        .to_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn normal_answers_carry_each_familys_usage_headers() {
    let app = app().await;
    let (fb, access) = tokens_of(&app, "facebook", "usage-fb").await;
    let resp = identity_response(&app, fb, &access).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let usage: Value = serde_json::from_str(&header(&resp, "x-app-usage")).unwrap();
    assert_eq!(
        usage,
        json!({"call_count": 2, "total_cputime": 1, "total_time": 1})
    );
    let business: Value =
        serde_json::from_str(&header(&resp, "x-business-use-case-usage")).unwrap();
    assert_eq!(
        business["1000000000000001"][0]["estimated_time_to_regain_access"],
        0
    );

    let (x, access) = tokens_of(&app, "twitter", "usage-x").await;
    let resp = identity_response(&app, x, &access).await;
    assert_eq!(header(&resp, "x-rate-limit-limit"), "900");
    let remaining: u64 = header(&resp, "x-rate-limit-remaining").parse().unwrap();
    assert!(remaining < 900, "{remaining}");
    let reset: i64 = header(&resp, "x-rate-limit-reset").parse().unwrap();
    assert!(reset > crate::state::now().timestamp());

    let (reddit, access) = tokens_of(&app, "reddit", "usage-reddit").await;
    let resp = identity_response(&app, reddit, &access).await;
    let used: u64 = header(&resp, "x-ratelimit-used").parse().unwrap();
    let left: f64 = header(&resp, "x-ratelimit-remaining").parse().unwrap();
    assert_eq!(used as f64 + left, 600.0);
    let reset: i64 = header(&resp, "x-ratelimit-reset").parse().unwrap();
    assert!((0..=600).contains(&reset), "{reset}");
}

#[actix_web::test]
async fn the_usage_percent_knob_sets_what_the_headers_report() {
    let app = app().await;
    let (fb, access) = tokens_of(&app, "facebook", "usage-pct").await;
    set_faults(
        &app,
        json!({"platform": "facebook", "clientId": "usage-pct", "usagePercent": 85}),
    )
    .await;
    let resp = identity_response(&app, fb, &access).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let usage: Value = serde_json::from_str(&header(&resp, "x-app-usage")).unwrap();
    assert_eq!(usage["call_count"], 85);
    let req = test::TestRequest::post()
        .uri("/sandbox/_faults")
        .set_json(json!({"platform": "facebook", "usagePercent": 101}))
        .to_request();
    assert_eq!(call_json(&app, req).await.0, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn the_quota_knob_answers_with_each_platforms_real_quota_error() {
    let app = app().await;

    // Meta: code 4 with HTTP 400 and usage at 100%, on the API and the token endpoint.
    let (fb, access) = tokens_of(&app, "facebook", "quota-fb").await;
    set_faults(
        &app,
        json!({"platform": "facebook", "clientId": "quota-fb", "quota": "exceeded"}),
    )
    .await;
    let resp = identity_response(&app, fb, &access).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let usage: Value = serde_json::from_str(&header(&resp, "x-app-usage")).unwrap();
    assert_eq!(usage["call_count"], 100);
    let body: Value = test::read_body_json(resp).await;
    assert_eq!(body["error"]["code"], 4);
    assert_eq!(
        body["error"]["message"],
        "(#4) Application request limit reached"
    );
    let (status, body) = exchange(&app, fb, "quota-fb", "any-code").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(4))
    );

    // YouTube: the Data API refuses with 403 quotaExceeded; Google's token endpoint does
    // not count against it.
    let (yt, access) = tokens_of(&app, "youtube", "quota-yt").await;
    set_faults(
        &app,
        json!({"platform": "youtube", "clientId": "quota-yt", "quota": "exceeded"}),
    )
    .await;
    let (status, body) = whoami(&app, yt, &access).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["errors"][0]["reason"], "quotaExceeded");
    assert_eq!(body["error"]["errors"][0]["domain"], "youtube.quota");
    let code = approve(&app, yt, "quota-yt", "quota_user").await;
    assert_eq!(
        exchange(&app, yt, "quota-yt", &code).await.0,
        StatusCode::OK
    );

    // X and Reddit: 429 with their headers at the limit.
    let (x, access) = tokens_of(&app, "twitter", "quota-x").await;
    set_faults(
        &app,
        json!({"platform": "twitter", "clientId": "quota-x", "quota": "exceeded"}),
    )
    .await;
    let resp = identity_response(&app, x, &access).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&resp, "x-rate-limit-remaining"), "0");
    let (reddit, access) = tokens_of(&app, "reddit", "quota-reddit").await;
    set_faults(
        &app,
        json!({"platform": "reddit", "clientId": "quota-reddit", "quota": "exceeded"}),
    )
    .await;
    let resp = identity_response(&app, reddit, &access).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&resp, "x-ratelimit-remaining"), "0.0");

    // The consent page is the website, not the API: it still shows.
    let uri = authorize_uri(x, &authorize_query(x, "quota-x", "st-q"));
    let page = test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await;
    assert_eq!(page.status(), StatusCode::OK);
}
