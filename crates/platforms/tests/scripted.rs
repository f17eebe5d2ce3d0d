//! Connectors against a scripted platform that answers fixture JSON in the documented
//! shapes at the real paths: paging limits, headers, and answers the sandbox does not give.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod common;

use common::*;
use plugboard_core::Platform;
use plugboard_platforms::{ConnectorError, Flavor, Identity};
use serde_json::{Value, json};

fn scripted_connector(
    platform: Platform,
    flavor: Flavor,
    server: &Scripted,
) -> std::sync::Arc<dyn plugboard_platforms::Connector> {
    connector(platform, flavor, app(&server.base, "cid", "secret"))
}

#[tokio::test]
async fn listings_stop_after_ten_pages_even_when_the_platform_always_has_more() {
    let server = Scripted::start(|req| {
        let n = req.param("bookmark").map_or(0, |b| b.len());
        (
            200,
            json!({"items": [{"id": format!("board{n}"), "name": "B", "privacy": "PUBLIC"}],
                   "bookmark": "x".repeat(n + 1)}),
        )
    });
    let c = scripted_connector(Platform::Pinterest, Flavor::Standard, &server);
    let boards = c
        .destinations(&tokens("pina", &[]), &Identity::default())
        .await
        .unwrap();
    assert_eq!(boards.len(), 10);
    assert_eq!(server.requests().len(), 10);
}

#[tokio::test]
async fn a_cursor_that_repeats_ends_the_listing() {
    let server = Scripted::start(|_| {
        (
            200,
            json!({"items": [{"id": "1", "name": "B"}], "bookmark": "same"}),
        )
    });
    let c = scripted_connector(Platform::Pinterest, Flavor::Standard, &server);
    c.destinations(&tokens("pina", &[]), &Identity::default())
        .await
        .unwrap();
    assert_eq!(
        server.requests().len(),
        2,
        "first page, then the page 'same' names"
    );
}

#[tokio::test]
async fn graph_pages_are_followed_by_cursor_without_replaying_next_urls() {
    let server = Scripted::start(|req| {
        let page = |id: &str, name: &str| {
            json!({"id": id, "name": name, "access_token": format!("EAAPAGE{id}"), "category": "Bakery",
                   "tasks": ["CREATE_CONTENT"], "picture": {"data": {"url": "https://scontent.example/p.jpg"}}})
        };
        match req.param("after") {
            None => (
                200,
                json!({"data": [page("1", "First")],
                       "paging": {"cursors": {"before": "b", "after": "QVFIUAFTER"},
                                  "next": "https://graph.facebook.com/v24.0/100/accounts?access_token=EAAUSERTOKEN&limit=100&after=QVFIUAFTER"}}),
            ),
            Some("QVFIUAFTER") => (
                200,
                json!({"data": [page("2", "Second")], "paging": {"cursors": {"before": "c", "after": "END"}}}),
            ),
            Some(other) => panic!("unexpected cursor {other}"),
        }
    });
    let c = scripted_connector(Platform::Facebook, Flavor::Standard, &server);
    let pages = c
        .destinations(&tokens("EAAUSERTOKEN", &[]), &Identity::default())
        .await
        .unwrap();
    let names: Vec<_> = pages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["First", "Second"]);
    assert_eq!(pages[1].access_token.as_deref(), Some("EAAPAGE2"));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!(r.path, "/v24.0/me/accounts");
        assert_eq!(
            r.param("fields"),
            Some("id,name,username,access_token,category,tasks,picture.type(large)")
        );
        assert_eq!(
            r.param("access_token"),
            None,
            "the token travels in the header only"
        );
        assert_eq!(r.header("authorization"), Some("Bearer EAAUSERTOKEN"));
    }
}

#[tokio::test]
async fn instagram_through_facebook_login_offers_only_pages_with_a_linked_account() {
    let server = Scripted::start(|req| {
        assert_eq!(req.path, "/v24.0/me/accounts");
        assert_eq!(
            req.param("fields"),
            Some(
                "id,name,access_token,instagram_business_account{id,username,name,profile_picture_url}"
            )
        );
        (
            200,
            json!({"data": [
                {"id": "111", "name": "Bakery", "access_token": "EAAPAGE1",
                 "instagram_business_account": {"id": "17841400123456789", "username": "ada.bakes"}},
                {"id": "222", "name": "Plain Page", "access_token": "EAAPAGE2"}]}),
        )
    });
    let c = scripted_connector(Platform::Instagram, Flavor::InstagramFacebookLogin, &server);
    let list = c
        .destinations(&tokens("EAAUSER", &[]), &Identity::default())
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, "111");
    assert_eq!(list[0].extra["pageName"], json!("Bakery"));
    assert_eq!(
        list[0].extra["instagram_business_account"]["id"],
        json!("17841400123456789")
    );
}

#[tokio::test]
async fn linkedin_organizations_use_the_versioned_api_headers_and_page_by_total() {
    let server = Scripted::start(|req| match req.path.as_str() {
        "/rest/organizationAcls" => {
            let start: usize = req.param("start").map_or(0, |s| s.parse().unwrap());
            let id = 1000 + start;
            (
                200,
                json!({"elements": [{"role": "ADMINISTRATOR", "state": "APPROVED",
                        "organization": format!("urn:li:organization:{id}")}],
                       "paging": {"start": start, "count": 1, "total": 2}}),
            )
        }
        path => {
            let id = path.rsplit('/').next().unwrap();
            (
                200,
                json!({"id": id.parse::<u64>().unwrap(), "localizedName": format!("Org {id}"), "vanityName": format!("org-{id}")}),
            )
        }
    });
    let c = scripted_connector(Platform::Linkedin, Flavor::Standard, &server);
    let orgs = c
        .destinations(
            &tokens("AQX", &["openid", "rw_organization_admin"]),
            &Identity::default(),
        )
        .await
        .unwrap();
    let ids: Vec<_> = orgs.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["1000", "1001"]);
    assert_eq!(
        orgs[0].url.as_deref(),
        Some("https://www.linkedin.com/company/org-1000")
    );
    let requests = server.requests();
    let paths: Vec<_> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/rest/organizationAcls",
            "/rest/organizationAcls",
            "/rest/organizations/1000",
            "/rest/organizations/1001"
        ]
    );
    for r in &requests {
        assert_eq!(r.header("linkedin-version"), Some("202601"), "{}", r.path);
        assert_eq!(
            r.header("x-restli-protocol-version"),
            Some("2.0.0"),
            "{}",
            r.path
        );
    }
    assert_eq!(requests[0].param("q"), Some("roleAssignee"));
    assert_eq!(requests[0].param("role"), Some("ADMINISTRATOR"));
    assert_eq!(requests[0].param("state"), Some("APPROVED"));
    assert_eq!(requests[1].param("start"), Some("1"));
}

#[tokio::test]
async fn linkedin_without_organization_access_offers_the_personal_profile_only() {
    let refused = Scripted::start(|_| {
        (
            403,
            json!({"serviceErrorCode": 100, "message": "Not enough permissions to access: organizationAcls.FINDER-roleAssignee.20260101", "status": 403}),
        )
    });
    let c = scripted_connector(Platform::Linkedin, Flavor::Standard, &refused);
    let scoped = tokens("AQX", &["rw_organization_admin"]);
    assert!(
        c.destinations(&scoped, &Identity::default())
            .await
            .unwrap()
            .is_empty()
    );
    let unscoped = tokens("AQX", &["openid", "profile", "w_member_social"]);
    let before = refused.requests().len();
    assert!(
        c.destinations(&unscoped, &Identity::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        refused.requests().len(),
        before,
        "no call without the scopes"
    );
}

#[tokio::test]
async fn google_locations_are_listed_per_account_with_the_read_mask() {
    let server = Scripted::start(|req| match req.path.as_str() {
        "/v1/accounts" => match req.param("pageToken") {
            None => (
                200,
                json!({"accounts": [{"name": "accounts/111", "accountName": "First"}], "nextPageToken": "p2"}),
            ),
            Some(_) => (
                200,
                json!({"accounts": [{"name": "accounts/222", "accountName": "Second"}]}),
            ),
        },
        "/v1/accounts/111/locations" => (
            200,
            json!({"locations": [{"name": "locations/9", "title": "Soho",
                   "metadata": {"mapsUri": "https://maps.google.com/?cid=9"}}]}),
        ),
        "/v1/accounts/222/locations" => (200, json!({})),
        other => panic!("unexpected {other}"),
    });
    let c = scripted_connector(Platform::Googlebusiness, Flavor::Standard, &server);
    let list = c
        .destinations(&tokens("ya29", &[]), &Identity::default())
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, "9");
    assert_eq!(list[0].extra["accountId"], json!("accounts/111"));
    assert_eq!(list[0].extra["accountName"], json!("First"));
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[0].param("pageSize"), Some("20"));
    assert_eq!(requests[1].param("pageToken"), Some("p2"));
    for r in requests.iter().filter(|r| r.path.ends_with("/locations")) {
        assert_eq!(
            r.param("readMask"),
            Some("name,title,storefrontAddress,metadata,storeCode,categories,websiteUri")
        );
        assert_eq!(r.param("pageSize"), Some("100"));
    }
}

#[tokio::test]
async fn snapchat_profiles_are_listed_per_organization_across_both_hosts() {
    let server = Scripted::start(|req| match req.path.as_str() {
        "/v1/me/organizations" => (
            200,
            json!({"request_status": "SUCCESS", "organizations": [
                {"sub_request_status": "SUCCESS", "organization": {"id": "org-1", "name": "Ada Co"}}]}),
        ),
        "/v1/organizations/org-1/public_profiles" => (
            200,
            json!({"request_status": "SUCCESS", "public_profiles": [
                {"sub_request_status": "SUCCESS", "public_profile": {"id": "pp-1", "display_name": "Ada",
                  "snap_user_name": "ada", "logo_urls": {"original_logo_url": "https://cf-st.sc-cdn.net/l.png"},
                  "subscriber_count": 3}}]}),
        ),
        other => panic!("unexpected {other}"),
    });
    let c = scripted_connector(Platform::Snapchat, Flavor::Standard, &server);
    let list = c
        .destinations(&tokens("snap", &[]), &Identity::default())
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, "pp-1");
    assert_eq!(list[0].username.as_deref(), Some("ada"));
    assert_eq!(list[0].extra["subscriber_count"], json!(3));
}

#[tokio::test]
async fn reddit_api_calls_carry_the_descriptive_user_agent() {
    let server = Scripted::start(|_| (200, json!({"id": "abc", "name": "ada"})));
    let c = scripted_connector(Platform::Reddit, Flavor::Standard, &server);
    c.identity(&tokens("rt", &[])).await.unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.path, "/api/v1/me");
    assert_eq!(r.header("user-agent"), Some(USER_AGENT));
    assert_eq!(r.header("authorization"), Some("Bearer rt"));
}

#[tokio::test]
async fn a_tiktok_token_error_with_http_200_fails_the_exchange() {
    let server = Scripted::start(|_| {
        (
            200,
            json!({"error": "invalid_grant", "error_description": "Authorization code is expired.", "log_id": "20230101"}),
        )
    });
    let c = scripted_connector(Platform::Tiktok, Flavor::Standard, &server);
    let got = c
        .exchange_code("code", "https://plugboard.test/cb", None)
        .await;
    match got {
        Err(ConnectorError::InvalidGrant { description }) => {
            assert_eq!(description, "Authorization code is expired.")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_tiktok_api_error_with_http_200_fails_the_identity() {
    let server = Scripted::start(|_| {
        (
            200,
            json!({"data": {}, "error": {"code": "scope_not_authorized", "message": "The user did not authorize the scope required.", "log_id": "1"}}),
        )
    });
    let c = scripted_connector(Platform::Tiktok, Flavor::Standard, &server);
    let got = c.identity(&tokens("act", &[])).await;
    assert!(
        matches!(got, Err(ConnectorError::PermissionDenied { .. })),
        "{got:?}"
    );
}

#[tokio::test]
async fn an_expired_graph_token_means_reconnect() {
    let server = Scripted::start(|_| {
        (
            400,
            json!({"error": {"message": "Error validating access token: Session has expired on Tuesday.", "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "AbC"}}),
        )
    });
    for (platform, flavor) in [
        (Platform::Facebook, Flavor::Standard),
        (Platform::Instagram, Flavor::Standard),
        (Platform::Instagram, Flavor::InstagramFacebookLogin),
        (Platform::Threads, Flavor::Standard),
    ] {
        let c = scripted_connector(platform, flavor, &server);
        let got = c.identity(&tokens("EAAX", &[])).await;
        assert!(
            matches!(got, Err(ConnectorError::InvalidGrant { .. })),
            "{platform} {flavor:?}: {got:?}"
        );
    }
}

#[tokio::test]
async fn an_instagram_code_exchange_in_the_documented_data_shape_is_understood() {
    let server = Scripted::start(|req| {
        match req.path.as_str() {
        "/oauth/access_token" => (
            200,
            serde_json::from_str::<Value>(
                r#"{"data":[{"access_token":"IGshort","user_id":17841400123456789,"permissions":"instagram_business_basic"}]}"#,
            )
            .unwrap(),
        ),
        "/access_token" => {
            assert_eq!(req.param("grant_type"), Some("ig_exchange_token"));
            assert_eq!(req.param("access_token"), Some("IGshort"));
            (200, json!({"access_token": "IGlong", "token_type": "bearer", "expires_in": 5_184_000}))
        }
        other => panic!("unexpected {other}"),
    }
    });
    let c = scripted_connector(Platform::Instagram, Flavor::Standard, &server);
    let t = c
        .exchange_code("code", "https://plugboard.test/cb", None)
        .await
        .unwrap();
    assert_eq!(t.access_token, "IGlong");
    assert_eq!(t.user_id.as_deref(), Some("17841400123456789"));
    assert_eq!(t.scopes, ["instagram_business_basic"]);
    assert!(t.expires_at.is_some());
}

#[tokio::test]
async fn a_personal_instagram_account_is_refused_with_zernios_code() {
    let server = Scripted::start(|_| {
        (
            200,
            json!({"id": "1", "user_id": "2", "username": "me", "account_type": "PERSONAL"}),
        )
    });
    let c = scripted_connector(Platform::Instagram, Flavor::Standard, &server);
    let got = c.identity(&tokens("IG", &[])).await;
    assert!(
        matches!(
            got,
            Err(ConnectorError::NotEligible {
                code: "personal_account_not_supported",
                ..
            })
        ),
        "{got:?}"
    );
    let r = &server.requests()[0];
    assert_eq!(r.path, "/v24.0/me");
    assert_eq!(
        r.param("fields"),
        Some("user_id,username,name,account_type,profile_picture_url,followers_count")
    );
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_malformed_and_not_echoed() {
    let server = Scripted::start(|_| (200, Value::String("sbx-secret-looking-body".into())));
    // A JSON string is valid JSON but no token response.
    let c = scripted_connector(Platform::Twitter, Flavor::Standard, &server);
    let verifier = plugboard_platforms::PkceVerifier::generate();
    let got = c
        .exchange_code("code", "https://plugboard.test/cb", Some(&verifier))
        .await;
    match got {
        Err(e @ ConnectorError::Malformed(_)) => {
            assert!(!e.to_string().contains("sbx-secret-looking-body"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_api_read_that_fails_transiently_is_retried_and_then_succeeds() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = calls.clone();
    let server = Scripted::start(move |_| {
        if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            (503, json!({"error": {"message": "try later"}}))
        } else {
            (
                200,
                json!({"items": [{"id": "b1", "name": "B", "privacy": "PUBLIC"}]}),
            )
        }
    });
    let c = scripted_connector(Platform::Pinterest, Flavor::Standard, &server);
    let boards = c
        .destinations(&tokens("pina", &[]), &Identity::default())
        .await
        .unwrap();
    assert_eq!(boards.len(), 1);
    assert_eq!(server.requests().len(), 2, "one failure, one retry");
}

#[tokio::test]
async fn a_platform_failing_repeatedly_opens_the_circuit_and_then_calls_fail_fast() {
    let server = Scripted::start(|_| (502, json!({"error": "bad gateway"})));
    let c = scripted_connector(Platform::Pinterest, Flavor::Standard, &server);
    for _ in 0..plugboard_platforms::resilience::FAILURE_THRESHOLD {
        let e = c
            .destinations(&tokens("pina", &[]), &Identity::default())
            .await
            .unwrap_err();
        assert!(
            matches!(e, ConnectorError::Platform { status: 502, .. }),
            "{e:?}"
        );
    }
    let sent = server.requests().len();
    assert_eq!(
        sent,
        3 * plugboard_platforms::resilience::FAILURE_THRESHOLD as usize,
        "each failed read was tried three times"
    );
    let e = c
        .destinations(&tokens("pina", &[]), &Identity::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Transport(m) if m.contains("circuit open")),
        "{e:?}"
    );
    assert_eq!(
        server.requests().len(),
        sent,
        "the open circuit sent nothing"
    );
}

#[tokio::test]
async fn a_token_call_that_reached_the_platform_is_not_retried() {
    let server = Scripted::start(|_| (503, json!({"error": "temporarily_unavailable"})));
    let c = scripted_connector(Platform::Pinterest, Flavor::Standard, &server);
    let e = c
        .exchange_code(
            "code-1",
            "https://pb.example/connect/pinterest/callback",
            None,
        )
        .await
        .unwrap_err();
    assert!(!matches!(e, ConnectorError::Transport(_)), "{e:?}");
    assert_eq!(
        server.requests().len(),
        1,
        "a code may be spent: never sent twice"
    );
}
