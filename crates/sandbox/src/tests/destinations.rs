//! The destination listings ("secondary selection"), driven as a connector drives them:
//! log in through the consent form with a `destinations` number, then list.

use super::*;

/// Every platform with listings, and only those.
const LISTING_PLATFORMS: [&str; 6] = [
    "facebook",
    "linkedin",
    "pinterest",
    "googlebusiness",
    "snapchat",
    "youtube",
];

/// Extra request headers.
type Headers = &'static [(&'static str, &'static str)];

const LINKEDIN_HEADERS: Headers = &[
    ("LinkedIn-Version", "202601"),
    ("X-Restli-Protocol-Version", "2.0.0"),
];

const LINKEDIN_ACLS: &str =
    "/sandbox/linkedin/rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED";

const FB_PAGE_FIELDS: &str = "id,name,username,access_token,category,tasks,picture.type(large),instagram_business_account{id,username,name,profile_picture_url}";

/// The scopes a connector asks for to read the platform's destinations.
fn listing_scope(slug: &str) -> Option<&'static str> {
    match slug {
        "linkedin" => Some("openid profile w_member_social rw_organization_admin r_basicprofile"),
        "facebook" => Some("public_profile,pages_show_list,ads_read,instagram_basic"),
        _ => None,
    }
}

/// Connects `username` through the consent form; `destinations` is the form's number
/// (`None` posts no such field, as a script would); `scope` replaces the listing scopes.
async fn login<S>(
    app: &S,
    slug: &str,
    client: &str,
    username: &str,
    destinations: Option<&str>,
    scope: Option<&str>,
) -> Value
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let fake = find(slug).unwrap();
    register(app, fake, client).await;
    let mut q = authorize_query(fake, client, "st-d");
    if let Some(scope) = scope.or(listing_scope(slug)) {
        for (k, v) in &mut q {
            if k == "scope" {
                *v = scope.to_owned();
            }
        }
    }
    let extra: Vec<(&str, &str)> = destinations
        .map(|d| vec![("destinations", d)])
        .unwrap_or_default();
    let resp =
        submit_consent_with(app, &authorize_uri(fake, &q), username, "approve", &extra).await;
    let code = param(&location(&resp), "code").expect("a code");
    let (status, tokens) = exchange(app, fake, client, &code).await;
    assert_eq!(status, StatusCode::OK, "{slug}: {tokens}");
    tokens
}

async fn login_token<S>(app: &S, slug: &str, client: &str, username: &str, n: &str) -> String
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let tokens = login(app, slug, client, username, Some(n), None).await;
    str_at(&tokens, "/access_token").to_owned()
}

async fn get<S>(
    app: &S,
    uri: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let mut req = test::TestRequest::get().uri(uri);
    if let Some(t) = token {
        req = req.insert_header(("Authorization", format!("Bearer {t}")));
    }
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    call_json(app, req.to_request()).await
}

async fn get_ok<S>(app: &S, uri: &str, token: &str, headers: &[(&str, &str)]) -> Value
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let (status, body) = get(app, uri, Some(token), headers).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

/// The path and query of an absolute `next` link, to follow it through the test service.
fn local(link: &str) -> String {
    let url = Url::parse(link).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// Drops what differs on every call (trace and request ids).
fn stable(mut v: Value) -> Value {
    for (parent, key) in [("/error", "fbtrace_id"), ("", "request_id")] {
        if let Some(obj) = v.pointer_mut(parent).and_then(Value::as_object_mut) {
            obj.remove(key);
        }
    }
    v
}

fn sorted_keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

fn keys_of(want: &[&str]) -> Vec<String> {
    let mut keys: Vec<String> = want.iter().map(|k| (*k).to_owned()).collect();
    keys.sort();
    keys
}

fn strings_at(v: &Value, list: &str, field: &str) -> Vec<String> {
    v.pointer(list)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|e| str_at(e, field).to_owned()).collect())
        .unwrap_or_default()
}

/// The ids of what the user can pick, read the way the platform's connector reads them.
async fn listed_ids<S>(app: &S, slug: &str, token: &str) -> Vec<String>
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    match slug {
        "facebook" => {
            let b = get_ok(
                app,
                "/sandbox/facebook/v24.0/me/accounts?fields=id",
                token,
                &[],
            )
            .await;
            strings_at(&b, "/data", "/id")
        }
        "linkedin" => {
            let b = get_ok(app, LINKEDIN_ACLS, token, LINKEDIN_HEADERS).await;
            strings_at(&b, "/elements", "/organization")
        }
        "pinterest" => {
            let b = get_ok(app, "/sandbox/pinterest/v5/boards", token, &[]).await;
            strings_at(&b, "/items", "/id")
        }
        "googlebusiness" => {
            let b = get_ok(app, "/sandbox/googlebusiness/v1/accounts", token, &[]).await;
            let Some(account) = strings_at(&b, "/accounts", "/name").pop() else {
                return Vec::new();
            };
            let uri = format!("/sandbox/googlebusiness/v1/{account}/locations?readMask=name");
            strings_at(&get_ok(app, &uri, token, &[]).await, "/locations", "/name")
        }
        "snapchat" => {
            let me = get_ok(app, "/sandbox/snapchat/v1/me", token, &[]).await;
            let org = str_at(&me, "/me/organization_id");
            let uri = format!("/sandbox/snapchat/v1/organizations/{org}/public_profiles");
            let b = get_ok(app, &uri, token, &[]).await;
            strings_at(&b, "/public_profiles", "/public_profile/id")
        }
        "youtube" => {
            let uri = "/sandbox/youtube/youtube/v3/channels?part=snippet&mine=true";
            strings_at(&get_ok(app, uri, token, &[]).await, "/items", "/id")
        }
        other => panic!("no listing for {other}"),
    }
}

async fn set_knob<S>(app: &S, slug: &str, client: &str, knob: Option<&str>)
where
    S: Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
{
    let body = match knob {
        Some(k) => json!({"platform": slug, "clientId": client, "destinations": k}),
        None => json!({"platform": slug, "clientId": client}),
    };
    set_faults(app, body).await;
}

#[actix_web::test]
async fn the_platforms_with_listings_are_exactly_those_the_table_gives_destinations() {
    let with: Vec<&str> = FAKES
        .iter()
        .filter(|f| f.destinations.is_some())
        .map(|f| f.slug)
        .collect();
    let mut want = LISTING_PLATFORMS.to_vec();
    let mut got = with.clone();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want);
}

#[actix_web::test]
async fn every_listing_has_as_many_destinations_as_the_consent_form_said() {
    let app = app().await;
    for slug in LISTING_PLATFORMS {
        let client = format!("count-{slug}");
        for n in [1usize, 3, 5] {
            let token = login_token(&app, slug, &client, "counter", &n.to_string()).await;
            let ids = listed_ids(&app, slug, &token).await;
            assert_eq!(ids.len(), n, "{slug}: {ids:?}");
            let mut unique = ids.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), n, "{slug}: distinct ids {ids:?}");
        }
        // No field posted (a script): the platform's default, 1 on YouTube, else 2.
        let tokens = login(&app, slug, &client, "counter", None, None).await;
        let ids = listed_ids(&app, slug, str_at(&tokens, "/access_token")).await;
        let default = if slug == "youtube" { 1 } else { 2 };
        assert_eq!(ids.len(), default, "{slug}: default count");
    }
}

#[actix_web::test]
async fn destination_ids_are_the_same_on_every_login_of_the_same_username() {
    let app = app().await;
    for slug in LISTING_PLATFORMS {
        let client = format!("stable-{slug}");
        let first = login_token(&app, slug, &client, "steady", "3").await;
        let second = login_token(&app, slug, &client, "steady", "3").await;
        assert_ne!(first, second);
        let ids = listed_ids(&app, slug, &first).await;
        assert_eq!(ids, listed_ids(&app, slug, &second).await, "{slug}");
        // Fewer destinations are the first ones of the same list.
        let fewer = login_token(&app, slug, &client, "steady", "2").await;
        assert_eq!(listed_ids(&app, slug, &fewer).await, ids[..2], "{slug}");
        let other = login_token(&app, slug, &client, "someone_else", "3").await;
        let others = listed_ids(&app, slug, &other).await;
        assert!(
            others.iter().all(|id| !ids.contains(id)),
            "{slug}: another user has other destinations"
        );
    }
}

#[actix_web::test]
async fn zero_destinations_give_each_listing_its_empty_state() {
    let app = app().await;
    let token = |slug: &'static str| {
        let app = &app;
        async move { login_token(app, slug, &format!("zero-{slug}"), "nobody_home", "0").await }
    };

    let fb = token("facebook").await;
    for edge in ["accounts", "adaccounts", "businesses"] {
        let uri = format!("/sandbox/facebook/v24.0/me/{edge}");
        assert_eq!(
            get_ok(&app, &uri, &fb, &[]).await,
            json!({"data": []}),
            "{edge}"
        );
    }

    let li = token("linkedin").await;
    assert_eq!(
        get_ok(&app, LINKEDIN_ACLS, &li, LINKEDIN_HEADERS).await,
        json!({"elements": [], "paging": {"start": 0, "count": 10, "total": 0, "links": []}})
    );

    let pin = token("pinterest").await;
    assert_eq!(
        get_ok(&app, "/sandbox/pinterest/v5/boards", &pin, &[]).await,
        json!({"items": [], "bookmark": null})
    );

    // The account is still there; it has no locations, and Google omits empty lists.
    let gb = token("googlebusiness").await;
    let accounts = get_ok(&app, "/sandbox/googlebusiness/v1/accounts", &gb, &[]).await;
    let account = strings_at(&accounts, "/accounts", "/name");
    assert_eq!(account.len(), 1, "{accounts}");
    let uri = format!(
        "/sandbox/googlebusiness/v1/{}/locations?readMask=name,title",
        account[0]
    );
    assert_eq!(get_ok(&app, &uri, &gb, &[]).await, json!({}));

    let snap = token("snapchat").await;
    let orgs = get_ok(&app, "/sandbox/snapchat/v1/me/organizations", &snap, &[]).await;
    let org = str_at(&orgs, "/organizations/0/organization/id");
    let uri = format!("/sandbox/snapchat/v1/organizations/{org}/public_profiles");
    assert_eq!(
        stable(get_ok(&app, &uri, &snap, &[]).await),
        json!({"request_status": "SUCCESS", "public_profiles": [], "paging": {}})
    );
    let (status, body) = get(
        &app,
        "/sandbox/snapchat/v1/public_profiles/my_profile",
        Some(&snap),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["request_status"], json!("ERROR"));

    // YouTube: a Google account without a channel has no `items` at all.
    let yt = token("youtube").await;
    assert_eq!(
        get_ok(
            &app,
            "/sandbox/youtube/youtube/v3/channels?part=snippet&mine=true",
            &yt,
            &[]
        )
        .await,
        json!({
            "kind": "youtube#channelListResponse", "etag": "sandbox",
            "pageInfo": {"totalResults": 0, "resultsPerPage": 5},
        })
    );
}

#[actix_web::test]
async fn the_destinations_knob_fails_or_empties_every_listing_until_cleared() {
    let app = app().await;
    // (platform, first listing a connector calls, its headers, the 500 body without ids)
    let rows: &[(&str, &str, Headers, Value)] = &[
        (
            "facebook",
            "/sandbox/facebook/v24.0/me/accounts",
            &[],
            json!({"error": {"message": "An unexpected error has occurred. Please retry your request later.", "type": "OAuthException", "code": 2}}),
        ),
        (
            "linkedin",
            LINKEDIN_ACLS,
            LINKEDIN_HEADERS,
            json!({"message": "Internal Server Error", "status": 500}),
        ),
        (
            "pinterest",
            "/sandbox/pinterest/v5/boards",
            &[],
            json!({"code": 3, "message": "Internal error"}),
        ),
        (
            "googlebusiness",
            "/sandbox/googlebusiness/v1/accounts",
            &[],
            json!({"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}}),
        ),
        (
            "snapchat",
            "/sandbox/snapchat/v1/me/organizations",
            &[],
            json!({"request_status": "ERROR", "debug_message": "Internal Server Error", "display_message": "We're sorry, but the requested resource is not available at this time", "error_code": "E1001"}),
        ),
        (
            "youtube",
            "/sandbox/youtube/youtube/v3/channels?part=snippet&mine=true",
            &[],
            json!({"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}}),
        ),
    ];
    assert_eq!(rows.len(), LISTING_PLATFORMS.len());
    for (slug, uri, headers, failed) in rows {
        let client = format!("knob-{slug}");
        let token = login_token(&app, slug, &client, "knobbed", "3").await;

        set_knob(&app, slug, &client, Some("fail")).await;
        let (status, body) = get(&app, uri, Some(&token), headers).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{slug}: {body}");
        assert_eq!(&stable(body), failed, "{slug}");

        set_knob(&app, slug, &client, Some("empty")).await;
        assert_eq!(
            listed_ids(&app, slug, &token).await,
            Vec::<String>::new(),
            "{slug}"
        );

        set_knob(&app, slug, &client, None).await;
        assert_eq!(listed_ids(&app, slug, &token).await.len(), 3, "{slug}");
    }
}

/// Every listing endpoint, with placeholder ids where the path needs one.
const ENDPOINTS: &[(&str, &str)] = &[
    ("facebook", "/v24.0/me/accounts"),
    ("facebook", "/v24.0/me/adaccounts"),
    ("facebook", "/v24.0/me/permissions"),
    ("facebook", "/v24.0/me/businesses"),
    ("facebook", "/v24.0/100000000000001"),
    (
        "linkedin",
        "/rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED",
    ),
    ("linkedin", "/rest/organizations/12345678"),
    ("linkedin", "/v2/me"),
    ("pinterest", "/v5/boards"),
    ("googlebusiness", "/v1/accounts"),
    ("googlebusiness", "/v1/accounts/1/locations?readMask=name"),
    ("snapchat", "/v1/me/organizations"),
    ("snapchat", "/v1/organizations/x/public_profiles"),
    ("snapchat", "/v1/public_profiles/my_profile"),
    ("youtube", "/youtube/v3/channels?mine=true"),
];

#[actix_web::test]
async fn listings_refuse_a_missing_or_foreign_token_in_the_platforms_shape() {
    let app = app().await;
    // A live token, but of another platform.
    let foreign = login_token(&app, "twitter", "foreign-x", "stranger", "2").await;
    for (slug, path) in ENDPOINTS {
        let uri = format!("/sandbox/{slug}{path}");
        for token in [None, Some("sbx-not-a-token"), Some(foreign.as_str())] {
            let (status, body) = get(&app, &uri, token, LINKEDIN_HEADERS).await;
            if *slug == "facebook" {
                // Graph: HTTP 400, OAuthException 190 (platforms.md §3).
                assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
                assert_eq!(body["error"]["code"], json!(190), "{uri}: {body}");
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} {token:?}: {body}");
            }
        }
    }
}

#[actix_web::test]
async fn the_identity_knob_also_refuses_or_fails_the_listings() {
    let app = app().await;
    let token = login_token(&app, "pinterest", "identity-knob-pin", "knobbed", "2").await;
    let uri = "/sandbox/pinterest/v5/boards";
    set_faults(&app, json!({"platform": "pinterest", "clientId": "identity-knob-pin", "identity": "unauthorized"})).await;
    let (status, body) = get(&app, uri, Some(&token), &[]).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"code": 2, "message": "Authentication failed."})
        )
    );
    set_faults(
        &app,
        json!({"platform": "pinterest", "clientId": "identity-knob-pin", "identity": "fail"}),
    )
    .await;
    let (status, _) = get(&app, uri, Some(&token), &[]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[actix_web::test]
async fn facebook_lists_pages_with_page_tokens_and_linked_instagram_accounts_a_page_at_a_time() {
    let app = app().await;
    let token = login_token(&app, "facebook", "fb-pages", "pager", "3").await;
    let uri = format!(
        "/sandbox/facebook/v24.0/me/accounts?{}",
        encode(&[
            ("fields".into(), FB_PAGE_FIELDS.into()),
            ("limit".into(), "2".into())
        ])
    );
    let first = get_ok(&app, &uri, &token, &[]).await;
    let data = first["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{first}");
    for (i, page) in data.iter().enumerate() {
        assert_eq!(
            sorted_keys(page),
            keys_of(&[
                "id",
                "name",
                "username",
                "access_token",
                "category",
                "tasks",
                "picture",
                "instagram_business_account"
            ]),
            "{page}"
        );
        assert_eq!(
            page["name"],
            json!(format!("Sandbox Page {} of pager", i + 1))
        );
        assert_eq!(
            page["tasks"],
            json!([
                "ADVERTISE",
                "ANALYZE",
                "CREATE_CONTENT",
                "MESSAGING",
                "MODERATE",
                "MANAGE"
            ])
        );
        assert_eq!(page["picture"]["data"]["width"], json!(200), "type(large)");
        assert!(str_at(page, "/picture/data/url").contains("/sandbox/_avatar/facebook/"));
        assert!(str_at(page, "/access_token").starts_with("sbx-facebook-page-"));
        let ig = &page["instagram_business_account"];
        assert_eq!(
            sorted_keys(ig),
            keys_of(&["id", "username", "name", "profile_picture_url"])
        );
        assert!(str_at(ig, "/id").starts_with("1784"));
    }
    assert!(first["paging"]["cursors"]["before"].is_string());
    assert!(first["paging"]["cursors"]["after"].is_string());
    let next = local(str_at(&first, "/paging/next"));

    // The last page of a user with three or more has no Instagram account, and no `next`.
    let second = get_ok(&app, &next, &token, &[]).await;
    let data = second["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{second}");
    assert_eq!(data[0]["name"], json!("Sandbox Page 3 of pager"));
    assert!(data[0].get("instagram_business_account").is_none());
    assert!(second["paging"].get("next").is_none(), "{second}");
    assert!(second["paging"]["cursors"].is_object());

    // Listing again hands out the same Page tokens.
    let again = get_ok(&app, &uri, &token, &[]).await;
    assert_eq!(
        again["data"][0]["access_token"],
        first["data"][0]["access_token"]
    );

    // Without `fields`, Graph's defaults.
    let plain = get_ok(&app, "/sandbox/facebook/v24.0/me/accounts", &token, &[]).await;
    assert_eq!(
        sorted_keys(&plain["data"][0]),
        keys_of(&[
            "access_token",
            "category",
            "category_list",
            "name",
            "id",
            "tasks"
        ])
    );
    assert!(plain["paging"].get("next").is_none());
}

#[actix_web::test]
async fn facebook_answers_a_page_a_linked_instagram_account_and_refuses_an_unknown_id() {
    let app = app().await;
    let token = login_token(&app, "facebook", "fb-nodes", "noder", "2").await;
    let uri = format!(
        "/sandbox/facebook/v24.0/me/accounts?{}",
        encode(&[("fields".into(), FB_PAGE_FIELDS.into())])
    );
    let pages = get_ok(&app, &uri, &token, &[]).await;
    let page = &pages["data"][0];
    let page_id = str_at(page, "/id");

    let uri =
        format!("/sandbox/facebook/v24.0/{page_id}?fields=access_token,name,picture.type(large)");
    let got = get_ok(&app, &uri, &token, &[]).await;
    assert_eq!(
        sorted_keys(&got),
        keys_of(&["id", "access_token", "name", "picture"])
    );
    assert_eq!(got["access_token"], page["access_token"]);
    assert_eq!(got["name"], page["name"]);

    // Meta also takes the token in the query.
    let ig_id = str_at(page, "/instagram_business_account/id");
    let uri = format!(
        "/sandbox/facebook/v24.0/{ig_id}?fields=username,name,profile_picture_url,followers_count&access_token={token}"
    );
    let (status, ig) = get(&app, &uri, None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{ig}");
    assert_eq!(
        sorted_keys(&ig),
        keys_of(&[
            "id",
            "username",
            "name",
            "profile_picture_url",
            "followers_count"
        ])
    );
    assert_eq!(
        ig["username"],
        page["instagram_business_account"]["username"]
    );

    let (status, body) = get(
        &app,
        "/sandbox/facebook/v24.0/999?fields=name",
        Some(&token),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        stable(body),
        json!({"error": {
            "message": "Unsupported get request. Object with ID '999' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
            "type": "GraphMethodException", "code": 100, "error_subcode": 33,
        }})
    );
}

#[actix_web::test]
async fn a_facebook_page_token_is_the_page_at_me_and_dies_when_the_user_is_revoked() {
    let app = app().await;
    let user = login_token(&app, "facebook", "fb-page-token", "page_owner", "2").await;
    let pages = get_ok(
        &app,
        "/sandbox/facebook/v24.0/me/accounts?fields=id,name,access_token,instagram_business_account",
        &user,
        &[],
    )
    .await;
    let page_id = str_at(&pages, "/data/1/id").to_owned();
    let page_token = str_at(&pages, "/data/1/access_token").to_owned();
    let ig_id = str_at(&pages, "/data/1/instagram_business_account/id").to_owned();

    let me = get_ok(
        &app,
        "/sandbox/facebook/v24.0/me?fields=id,name",
        &page_token,
        &[],
    )
    .await;
    assert_eq!(
        me,
        json!({"id": page_id, "name": "Sandbox Page 2 of page_owner"})
    );
    // The Page token reads the linked Instagram account, as publishing does.
    let uri = format!("/sandbox/facebook/v24.0/{ig_id}?fields=username");
    get_ok(&app, &uri, &page_token, &[]).await;
    // A Page is not a user: it has no Pages of its own.
    let (status, body) = get(
        &app,
        "/sandbox/facebook/v24.0/me/accounts",
        Some(&page_token),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        stable(body),
        json!({"error": {"message": "(#100) Tried accessing nonexisting field (accounts) on node type (Page)", "type": "OAuthException", "code": 100}})
    );

    let req = test::TestRequest::post()
        .uri("/sandbox/_revoke")
        .set_json(
            json!({"platform": "facebook", "username": "page_owner", "clientId": "fb-page-token"}),
        )
        .to_request();
    let (status, body) = call_json(&app, req).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"revoked": 3})),
        "the user token and both Page tokens"
    );
    for token in [&page_token, &user] {
        let (status, body) = get(&app, "/sandbox/facebook/v24.0/me", Some(token), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], json!(190), "{body}");
    }
}

#[actix_web::test]
async fn facebook_lists_ad_accounts_granted_permissions_and_no_businesses() {
    let app = app().await;
    let token = login_token(&app, "facebook", "fb-ads", "advertiser", "2").await;
    let uri = "/sandbox/facebook/v24.0/me/adaccounts?fields=id,account_id,name,account_status,currency,timezone_name,business{id,name}&limit=100";
    let body = get_ok(&app, uri, &token, &[]).await;
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{body}");
    for (i, account) in data.iter().enumerate() {
        let bare = str_at(account, "/account_id");
        assert!(bare.chars().all(|c| c.is_ascii_digit()), "{account}");
        assert_eq!(account["id"], json!(format!("act_{bare}")));
        let mut want = account.clone();
        for k in ["id", "account_id"] {
            want.as_object_mut().unwrap().remove(k);
        }
        let business = &account["business"];
        assert_eq!(
            want,
            json!({
                "name": format!("Sandbox Ad Account {} of advertiser", i + 1),
                "account_status": 1, "currency": "USD", "timezone_name": "America/Los_Angeles",
                "business": {"id": str_at(business, "/id"), "name": "Sandbox Business of advertiser"},
            })
        );
    }
    assert!(body["paging"].get("next").is_none());

    // Each ad account lists its ads; an id that is not the user's is Graph's error.
    for (i, account) in data.iter().enumerate() {
        let ads = get_ok(
            &app,
            &format!(
                "/sandbox/facebook/v24.0/{}/ads?fields=id,name,effective_status&limit=2",
                str_at(account, "/id")
            ),
            &token,
            &[],
        )
        .await;
        assert_eq!(ads["data"].as_array().unwrap().len(), 2, "{ads}");
        assert_eq!(ads["data"][0]["effective_status"], "ACTIVE");
        let total = 3 + i;
        assert!(ads["paging"]["next"].is_string(), "{total} ads page on");
    }
    let req = actix_web::test::TestRequest::get()
        .uri("/sandbox/facebook/v24.0/act_999/ads")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_request();
    let res = actix_web::test::call_service(&app, req).await;
    assert_eq!(res.status(), 400);

    let perms = get_ok(&app, "/sandbox/facebook/v24.0/me/permissions", &token, &[]).await;
    assert_eq!(
        perms,
        json!({"data": [
            {"permission": "public_profile", "status": "granted"},
            {"permission": "pages_show_list", "status": "granted"},
            {"permission": "ads_read", "status": "granted"},
            {"permission": "instagram_basic", "status": "granted"},
        ]})
    );
    let businesses = get_ok(&app, "/sandbox/facebook/v24.0/me/businesses", &token, &[]).await;
    assert_eq!(businesses, json!({"data": []}));
}

#[actix_web::test]
async fn linkedin_lists_the_organizations_the_member_administers_and_their_details() {
    let app = app().await;
    let token = login_token(&app, "linkedin", "li-orgs", "orga", "2").await;
    let me = get_ok(&app, "/sandbox/linkedin/v2/userinfo", &token, &[]).await;
    let person = format!("urn:li:person:{}", str_at(&me, "/sub"));

    let acls = get_ok(&app, LINKEDIN_ACLS, &token, LINKEDIN_HEADERS).await;
    let orgs = strings_at(&acls, "/elements", "/organization");
    assert_eq!(
        acls,
        json!({
            "elements": orgs.iter().map(|o| json!({
                "roleAssignee": person, "role": "ADMINISTRATOR", "state": "APPROVED", "organization": o,
            })).collect::<Vec<_>>(),
            "paging": {"start": 0, "count": 10, "total": 2, "links": []},
        })
    );
    let page = get_ok(
        &app,
        &format!("{LINKEDIN_ACLS}&start=1&count=1"),
        &token,
        LINKEDIN_HEADERS,
    )
    .await;
    assert_eq!(strings_at(&page, "/elements", "/organization"), orgs[1..]);
    assert_eq!(
        page["paging"],
        json!({"start": 1, "count": 1, "total": 2, "links": []})
    );

    let ids: Vec<&str> = orgs
        .iter()
        .map(|o| o.strip_prefix("urn:li:organization:").unwrap())
        .collect();
    let uri = format!("/sandbox/linkedin/rest/organizations/{}", ids[0]);
    let first = get_ok(&app, &uri, &token, LINKEDIN_HEADERS).await;
    assert_eq!(
        first["id"],
        json!(ids[0].parse::<u64>().unwrap()),
        "a JSON number"
    );
    assert_eq!(
        first["localizedName"],
        json!("Sandbox Organization 1 of orga")
    );
    assert_eq!(first["vanityName"], json!("sandbox-org-1-orga"));
    assert!(
        first["logoV2"]["original"]
            .as_str()
            .unwrap()
            .starts_with("urn:li:digitalmediaAsset:")
    );
    assert!(first["localizedWebsite"].is_string());
    assert!(first["logoV2"].get("original~").is_none());
    // The second has neither logo nor website.
    let uri = format!("/sandbox/linkedin/rest/organizations/{}", ids[1]);
    let second = get_ok(&app, &uri, &token, LINKEDIN_HEADERS).await;
    assert_eq!(
        sorted_keys(&second),
        keys_of(&[
            "id",
            "localizedName",
            "vanityName",
            "name",
            "primaryOrganizationType"
        ])
    );
    // Decoration resolves the logo to a URL.
    let uri = format!(
        "/sandbox/linkedin/rest/organizations/{}?projection=(id,localizedName,logoV2(original~:playableStreams))",
        ids[0]
    );
    let decorated = get_ok(&app, &uri, &token, LINKEDIN_HEADERS).await;
    assert!(
        str_at(
            &decorated,
            "/logoV2/original~/elements/0/identifiers/0/identifier"
        )
        .contains("/sandbox/_avatar/linkedin/")
    );
    let (status, body) = get(
        &app,
        "/sandbox/linkedin/rest/organizations/1",
        Some(&token),
        LINKEDIN_HEADERS,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let profile = get_ok(&app, "/sandbox/linkedin/v2/me", &token, &[]).await;
    assert_eq!(
        profile,
        json!({"id": str_at(&me, "/sub"), "localizedFirstName": "orga", "localizedLastName": "Sandbox", "vanityName": "orga"})
    );
}

#[actix_web::test]
async fn linkedin_refuses_organizations_without_the_org_scope_or_the_version_headers() {
    let app = app().await;
    let scoped = login_token(&app, "linkedin", "li-refuse", "refused", "2").await;
    let read_only = str_at(
        &login(
            &app,
            "linkedin",
            "li-refuse",
            "refused",
            Some("2"),
            Some("openid r_organization_admin"),
        )
        .await,
        "/access_token",
    )
    .to_owned();
    let bare = str_at(
        &login(
            &app,
            "linkedin",
            "li-refuse",
            "refused",
            Some("2"),
            Some("openid profile"),
        )
        .await,
        "/access_token",
    )
    .to_owned();
    let denied = |resource: &str| json!({"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED", "message": format!("Not enough permissions to access: {resource}")});
    let version_only: Headers = &[("LinkedIn-Version", "202601")];
    let restli_only: Headers = &[("X-Restli-Protocol-Version", "2.0.0")];
    let bad_version: Headers = &[
        ("LinkedIn-Version", "2026-01"),
        ("X-Restli-Protocol-Version", "2.0.0"),
    ];
    // (why, token, uri, headers, status, whole body or null for "any 2xx")
    let rows: Vec<(&str, &str, &str, Headers, u16, Value)> = vec![
        (
            "r_organization_admin is enough",
            &read_only,
            LINKEDIN_ACLS,
            LINKEDIN_HEADERS,
            200,
            Value::Null,
        ),
        (
            "no organization scope",
            &bare,
            LINKEDIN_ACLS,
            LINKEDIN_HEADERS,
            403,
            denied("organizationAcls.FINDER-roleAssignee.20260101"),
        ),
        (
            "no organization scope on one organization",
            &bare,
            "/sandbox/linkedin/rest/organizations/12345678",
            LINKEDIN_HEADERS,
            403,
            denied("organizations.GET.20260101"),
        ),
        (
            "no r_basicprofile",
            &read_only,
            "/sandbox/linkedin/v2/me",
            &[],
            403,
            denied("me.GET.NO_VERSION"),
        ),
        (
            "no LinkedIn-Version",
            &scoped,
            LINKEDIN_ACLS,
            restli_only,
            400,
            json!({"status": 400, "code": "VERSION_MISSING", "message": "A version must be present. Please specify a version by adding the LinkedIn-Version header."}),
        ),
        (
            "a LinkedIn-Version that is not YYYYMM",
            &scoped,
            LINKEDIN_ACLS,
            bad_version,
            400,
            json!({"status": 400, "code": "INVALID_VERSION", "message": "The LinkedIn-Version header must be YYYYMM (or YYYYMM.RR)"}),
        ),
        (
            "no X-Restli-Protocol-Version",
            &scoped,
            "/sandbox/linkedin/rest/organizations/12345678",
            version_only,
            400,
            json!({"status": 400, "code": "INVALID_PROTOCOL_VERSION", "message": "Send X-Restli-Protocol-Version: 2.0.0 with the versioned APIs (Rest.li 2.0 syntax)"}),
        ),
    ];
    for (why, token, uri, headers, status, want) in rows {
        let (got, body) = get(&app, uri, Some(token), headers).await;
        assert_eq!(got.as_u16(), status, "{why}: {body}");
        if !want.is_null() {
            assert_eq!(body, want, "{why}");
        }
    }
}

#[actix_web::test]
async fn pinterest_lists_boards_a_page_at_a_time_with_a_bookmark() {
    let app = app().await;
    let token = login_token(&app, "pinterest", "pin-boards", "pinner", "5").await;
    let mut uri = "/sandbox/pinterest/v5/boards?page_size=2".to_owned();
    let mut names = Vec::new();
    loop {
        let body = get_ok(&app, &uri, &token, &[]).await;
        for board in body["items"].as_array().unwrap() {
            for key in [
                "id",
                "name",
                "description",
                "privacy",
                "owner",
                "pin_count",
                "follower_count",
            ] {
                assert!(board.get(key).is_some(), "{key} in {board}");
            }
            assert_eq!(board["privacy"], json!("PUBLIC"));
            assert_eq!(board["owner"], json!({"username": "pinner"}));
            names.push(str_at(board, "/name").to_owned());
        }
        match body["bookmark"].as_str() {
            Some(b) => uri = format!("/sandbox/pinterest/v5/boards?page_size=2&bookmark={b}"),
            None => break,
        }
    }
    assert_eq!(
        names,
        (1..=5)
            .map(|i| format!("Sandbox Board {i} of pinner"))
            .collect::<Vec<_>>()
    );
    for bad in ["page_size=251", "page_size=0", "bookmark=not-a-bookmark"] {
        let (status, body) = get(
            &app,
            &format!("/sandbox/pinterest/v5/boards?{bad}"),
            Some(&token),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["code"], json!(1), "{bad}");
    }
}

#[actix_web::test]
async fn google_business_lists_one_account_and_its_locations_limited_to_the_read_mask() {
    let app = app().await;
    let token = login_token(&app, "googlebusiness", "gb-locations", "shopkeeper", "2").await;
    let accounts = get_ok(
        &app,
        "/sandbox/googlebusiness/v1/accounts?pageSize=20",
        &token,
        &[],
    )
    .await;
    let name = str_at(&accounts, "/accounts/0/name").to_owned();
    assert!(
        name.strip_prefix("accounts/")
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_digit())
    );
    assert_eq!(
        accounts,
        json!({"accounts": [{
            "name": name, "accountName": "shopkeeper (sandbox)", "type": "PERSONAL",
            "role": "PRIMARY_OWNER", "verificationState": "VERIFIED", "vettedState": "NOT_VETTED",
            "permissionLevel": "OWNER_LEVEL",
        }]})
    );

    let base = format!("/sandbox/googlebusiness/v1/{name}/locations");
    let full = get_ok(
        &app,
        &format!(
            "{base}?readMask=title,storeCode,storefrontAddress,categories,websiteUri,metadata"
        ),
        &token,
        &[],
    )
    .await;
    let locations = full["locations"].as_array().unwrap();
    assert_eq!(locations.len(), 2);
    assert!(full.get("nextPageToken").is_none());
    let first = &locations[0];
    assert_eq!(
        sorted_keys(first),
        keys_of(&[
            "name",
            "title",
            "storeCode",
            "storefrontAddress",
            "categories",
            "websiteUri",
            "metadata"
        ])
    );
    assert!(str_at(first, "/name").starts_with("locations/"));
    assert_eq!(first["title"], json!("Sandbox Location 1 of shopkeeper"));
    assert_eq!(
        sorted_keys(&first["storefrontAddress"]),
        keys_of(&[
            "regionCode",
            "languageCode",
            "postalCode",
            "administrativeArea",
            "locality",
            "addressLines"
        ])
    );
    assert_eq!(
        first["categories"]["primaryCategory"]["displayName"],
        json!("Software company")
    );
    assert_eq!(first["metadata"]["canOperateLocalPost"], json!(true));
    let place = str_at(first, "/metadata/placeId");
    assert!(str_at(first, "/metadata/newReviewUri").ends_with(place));
    assert!(str_at(first, "/metadata/mapsUri").starts_with("https://maps.google.com/"));

    let title = get_ok(&app, &format!("{base}?readMask=title"), &token, &[]).await;
    assert_eq!(
        sorted_keys(&title["locations"][0]),
        keys_of(&["name", "title"])
    );
    let nested = get_ok(
        &app,
        &format!("{base}?readMask=metadata.placeId"),
        &token,
        &[],
    )
    .await;
    assert_eq!(
        nested["locations"][0],
        json!({"name": first["name"], "metadata": {"placeId": place}})
    );

    let one = get_ok(
        &app,
        &format!("{base}?readMask=name&pageSize=1"),
        &token,
        &[],
    )
    .await;
    assert_eq!(one["locations"].as_array().unwrap().len(), 1);
    let next = str_at(&one, "/nextPageToken");
    let rest = get_ok(
        &app,
        &format!("{base}?readMask=name&pageSize=1&pageToken={next}"),
        &token,
        &[],
    )
    .await;
    assert_eq!(rest["locations"][0]["name"], locations[1]["name"]);
    assert!(rest.get("nextPageToken").is_none());
}

#[actix_web::test]
async fn google_business_locations_require_a_read_mask_and_one_of_the_users_accounts() {
    let app = app().await;
    let token = login_token(&app, "googlebusiness", "gb-refuse", "masked", "2").await;
    let other = login_token(&app, "googlebusiness", "gb-refuse", "another_shop", "2").await;
    let accounts = get_ok(&app, "/sandbox/googlebusiness/v1/accounts", &token, &[]).await;
    let name = str_at(&accounts, "/accounts/0/name");
    let invalid = |description: &str| {
        json!({"error": {
            "code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": "read_mask", "description": description}]}],
        }})
    };
    let not_found = json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}});
    let rows: Vec<(&str, String, &str, u16, Value)> = vec![
        (
            "readMask is required",
            format!("{name}/locations"),
            &token,
            400,
            invalid("Field is required"),
        ),
        (
            "an unknown field",
            format!("{name}/locations?readMask=title,nosuch"),
            &token,
            400,
            invalid("Invalid field mask provided"),
        ),
        (
            "an unknown account",
            "accounts/1/locations?readMask=name".to_owned(),
            &token,
            404,
            not_found.clone(),
        ),
        (
            "another user's account",
            format!("{name}/locations?readMask=name"),
            &other,
            404,
            not_found,
        ),
    ];
    for (why, path, token, status, want) in rows {
        let (got, body) = get(
            &app,
            &format!("/sandbox/googlebusiness/v1/{path}"),
            Some(token),
            &[],
        )
        .await;
        assert_eq!((got.as_u16(), body), (status, want), "{why}");
    }
}

#[actix_web::test]
async fn snapchat_lists_the_organization_and_its_public_profiles() {
    let app = app().await;
    let token = login_token(&app, "snapchat", "snap-profiles", "snapper", "2").await;
    let me = get_ok(&app, "/sandbox/snapchat/v1/me", &token, &[]).await;
    let org_id = str_at(&me, "/me/organization_id").to_owned();

    let orgs = get_ok(&app, "/sandbox/snapchat/v1/me/organizations", &token, &[]).await;
    assert_eq!(orgs["request_status"], json!("SUCCESS"));
    assert_eq!(orgs["organizations"].as_array().unwrap().len(), 1);
    assert_eq!(
        orgs["organizations"][0]["sub_request_status"],
        json!("SUCCESS")
    );
    let org = &orgs["organizations"][0]["organization"];
    assert_eq!(org["id"], json!(org_id));
    assert_eq!(org["type"], json!("ENTERPRISE"));
    assert_eq!(org["name"], json!("Sandbox Organization of snapper"));

    let uri = format!("/sandbox/snapchat/v1/organizations/{org_id}/public_profiles");
    let listed = get_ok(&app, &uri, &token, &[]).await;
    let profiles = listed["public_profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 2);
    assert_eq!(listed["paging"], json!({}));
    for (i, entry) in profiles.iter().enumerate() {
        assert_eq!(entry["sub_request_status"], json!("SUCCESS"));
        let p = &entry["public_profile"];
        assert_eq!(
            sorted_keys(p),
            keys_of(&[
                "id",
                "organization_id",
                "display_name",
                "snap_user_name",
                "logo_urls",
                "subscriber_count",
                "profile_type",
                "profile_tier",
                "created_at",
                "updated_at"
            ])
        );
        assert_eq!(p["organization_id"], json!(org_id));
        assert_eq!(
            p["display_name"],
            json!(format!("Sandbox Profile {} of snapper", i + 1))
        );
        assert_eq!(p["profile_type"], json!("PUBLIC"));
        assert!(p["logo_urls"]["original_logo_url"].is_string());
    }
    let paged = get_ok(&app, &format!("{uri}?limit=1"), &token, &[]).await;
    assert_eq!(paged["public_profiles"].as_array().unwrap().len(), 1);
    let next = get_ok(
        &app,
        &local(str_at(&paged, "/paging/next_link")),
        &token,
        &[],
    )
    .await;
    assert_eq!(next["public_profiles"][0], profiles[1]);

    let mine = get_ok(
        &app,
        "/sandbox/snapchat/v1/public_profiles/my_profile",
        &token,
        &[],
    )
    .await;
    assert_eq!(mine["public_profile"], profiles[0]["public_profile"]);

    let (status, body) = get(
        &app,
        "/sandbox/snapchat/v1/organizations/nope/public_profiles",
        Some(&token),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[actix_web::test]
async fn youtube_lists_as_many_channels_as_the_consent_form_said_and_keeps_the_first_ones_id() {
    let app = app().await;
    let uri = "/sandbox/youtube/youtube/v3/channels?part=snippet,statistics&mine=true";
    let one = login_token(&app, "youtube", "yt-channels", "tuber", "1").await;
    let three = login_token(&app, "youtube", "yt-channels", "tuber", "3").await;
    let single = get_ok(&app, uri, &one, &[]).await;
    let many = get_ok(&app, uri, &three, &[]).await;
    assert_eq!(
        many["pageInfo"],
        json!({"totalResults": 3, "resultsPerPage": 5})
    );
    let items = many["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[0], single["items"][0],
        "the identity's channel stays first"
    );
    assert_eq!(
        items[1]["snippet"]["title"],
        json!("Sandbox Channel 2 of tuber")
    );
    assert!(str_at(&items[2], "/id").starts_with("UC"));
}

#[actix_web::test]
async fn the_destinations_number_carries_through_refresh_and_long_lived_exchange() {
    let app = app().await;
    for slug in ["linkedin", "facebook", "youtube", "pinterest"] {
        let client = format!("carry-{slug}");
        let tokens = login(&app, slug, &client, "carrier", Some("4"), None).await;
        let renewed = renew(&app, find(slug).unwrap(), &client, &tokens).await;
        assert_eq!(listed_ids(&app, slug, &renewed).await.len(), 4, "{slug}");
    }
}

#[actix_web::test]
async fn the_consent_form_asks_for_destinations_only_where_there_are_listings() {
    let app = app().await;
    for fake in FAKES {
        let client = format!("form-{}", fake.slug);
        register(&app, fake, &client).await;
        let uri = authorize_uri(fake, &authorize_query(fake, &client, "st"));
        let resp = test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await;
        let html = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
        match &fake.destinations {
            Some(d) => {
                assert_eq!(
                    attr_after(&html, "name=\"destinations\"", "value"),
                    d.default_count.to_string(),
                    "{}",
                    fake.slug
                );
                assert_eq!(attr_after(&html, "name=\"destinations\"", "max"), "5");
            }
            None => assert!(!html.contains("name=\"destinations\""), "{}", fake.slug),
        }
    }
}

#[actix_web::test]
async fn a_destinations_number_out_of_range_shows_the_form_again_with_an_error() {
    let app = app().await;
    let fake = find("pinterest").unwrap();
    register(&app, fake, "form-range").await;
    let uri = authorize_uri(fake, &authorize_query(fake, "form-range", "st"));
    for bad in ["6", "-1", "two", "2.5"] {
        let resp =
            submit_consent_with(&app, &uri, "ranger", "approve", &[("destinations", bad)]).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(resp.headers().get("Location").is_none());
        let html = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
        assert!(
            html.contains("The number of destinations is a whole number from 0 to 5."),
            "{bad}: {html}"
        );
        assert_eq!(attr_after(&html, "name=\"destinations\"", "value"), bad);
        assert_eq!(attr_after(&html, "name=\"username\"", "value"), "ranger");
    }
    // The boundaries are accepted.
    for ok in ["0", "5"] {
        let resp =
            submit_consent_with(&app, &uri, "ranger", "approve", &[("destinations", ok)]).await;
        assert!(param(&location(&resp), "code").is_some(), "{ok}");
    }
}

#[actix_web::test]
async fn the_destinations_knob_is_listed_and_documented_on_the_landing_page() {
    let app = app().await;
    set_faults(
        &app,
        json!({"platform": "snapchat", "clientId": "knob-listed", "destinations": "empty"}),
    )
    .await;
    let (_, all) = call_json(
        &app,
        test::TestRequest::get()
            .uri("/sandbox/_faults")
            .to_request(),
    )
    .await;
    assert!(
        all["faults"].as_array().unwrap().contains(
            &json!({"platform": "snapchat", "clientId": "knob-listed", "destinations": "empty"})
        ),
        "{all}"
    );
    set_faults(
        &app,
        json!({"platform": "snapchat", "clientId": "knob-listed"}),
    )
    .await;
    let req = test::TestRequest::post()
        .uri("/sandbox/_faults")
        .set_json(json!({"platform": "snapchat", "destinations": "explode"}))
        .to_request();
    assert_eq!(call_json(&app, req).await.0, StatusCode::BAD_REQUEST);

    let resp =
        test::call_service(&app, test::TestRequest::get().uri("/sandbox/").to_request()).await;
    let html = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    assert!(html.contains("fail|empty"), "{html}");
    for (slug, path) in [
        ("facebook", "/{version}/me/accounts"),
        ("linkedin", "/rest/organizationAcls"),
        ("googlebusiness", "/v1/accounts/{id}/locations"),
    ] {
        assert!(
            html.contains(&format!("/sandbox/{slug}{path}")),
            "{slug}{path}"
        );
    }
}
