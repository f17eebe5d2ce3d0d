use super::*;
use chrono::Duration;
use serde_json::json;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000, 0).unwrap()
}

/// What a classified error is, without its text.
#[derive(Debug, PartialEq, Eq)]
enum Is {
    Grant,
    Client,
    Permission,
    /// `Platform` with this status and whether it is transient.
    Platform(u16, bool),
}

fn is(e: &ConnectorError) -> Is {
    match e {
        ConnectorError::InvalidGrant { .. } => Is::Grant,
        ConnectorError::InvalidClient { .. } => Is::Client,
        ConnectorError::PermissionDenied { .. } => Is::Permission,
        ConnectorError::Platform { status, .. } => Is::Platform(*status, e.is_transient()),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn token_endpoint_errors_are_classified_per_platform_family() {
    use Dialect as D;
    let cases: Vec<(&str, Dialect, u16, Value, Is)> = vec![
        (
            "RFC 6749 invalid_grant (Google, LinkedIn, Snapchat)",
            D::Standard,
            400,
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
            Is::Grant,
        ),
        (
            "RFC 6749 invalid_client",
            D::Standard,
            401,
            json!({"error": "invalid_client", "error_description": "The OAuth client was not found."}),
            Is::Client,
        ),
        (
            "unauthorized_client counts as a client problem",
            D::Standard,
            400,
            json!({"error": "unauthorized_client"}),
            Is::Client,
        ),
        (
            "invalid_request elsewhere is our bug, not a dead grant",
            D::Standard,
            400,
            json!({"error": "invalid_request", "error_description": "Missing code"}),
            Is::Platform(400, false),
        ),
        (
            "X reports a dead refresh token as invalid_request",
            D::X,
            400,
            json!({"error": "invalid_request", "error_description": "Value passed for the token was invalid."}),
            Is::Grant,
        ),
        (
            "X reports a dead code as invalid_request",
            D::X,
            400,
            json!({"error": "invalid_request", "error_description": "Value passed for the authorization code was invalid."}),
            Is::Grant,
        ),
        (
            "X's other invalid_request at the token endpoint also means a new grant",
            D::X,
            400,
            json!({"error": "invalid_request", "error_description": "Missing required parameter [code_verifier]."}),
            Is::Grant,
        ),
        (
            "X without Basic auth",
            D::X,
            401,
            json!({"error": "unauthorized_client", "error_description": "Missing valid authorization header"}),
            Is::Client,
        ),
        (
            "Graph 190",
            D::Graph,
            400,
            json!({"error": {"message": "Error validating access token: Session has expired", "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "A"}}),
            Is::Grant,
        ),
        (
            "Graph code already used (100/36009)",
            D::Graph,
            400,
            json!({"error": {"message": "This authorization code has been used.", "type": "OAuthException", "code": 100, "error_subcode": 36009}}),
            Is::Grant,
        ),
        (
            "Graph bad client secret (code 1)",
            D::Graph,
            400,
            json!({"error": {"message": "Error validating client secret.", "type": "OAuthException", "code": 1}}),
            Is::Client,
        ),
        (
            "Graph invalid client id (code 101)",
            D::Graph,
            400,
            json!({"error": {"message": "Error validating application. Invalid application ID.", "type": "OAuthException", "code": 101}}),
            Is::Client,
        ),
        (
            "Graph other 100 stays a platform error",
            D::Graph,
            400,
            json!({"error": {"message": "Unsupported get request.", "type": "GraphMethodException", "code": 100, "error_subcode": 33}}),
            Is::Platform(400, false),
        ),
        (
            "Graph outage",
            D::Graph,
            503,
            json!({"error": {"message": "Please retry", "type": "OAuthException", "code": 2}}),
            Is::Platform(503, true),
        ),
        (
            "Instagram API dead code",
            D::InstagramApi,
            400,
            json!({"error_type": "OAuthException", "code": 400, "error_message": "This authorization code has been used"}),
            Is::Grant,
        ),
        (
            "Instagram API bad app",
            D::InstagramApi,
            400,
            json!({"error_type": "OAuthException", "code": 400, "error_message": "Invalid platform app"}),
            Is::Client,
        ),
        (
            "Instagram API bad secret",
            D::InstagramApi,
            400,
            json!({"error_type": "OAuthException", "code": 400, "error_message": "Error validating client secret."}),
            Is::Client,
        ),
        (
            "Pinterest bad client",
            D::Pinterest,
            401,
            json!({"code": 2, "message": "Authentication failed."}),
            Is::Client,
        ),
        (
            "Pinterest dead code",
            D::Pinterest,
            400,
            json!({"code": 1, "message": "Invalid authorization code"}),
            Is::Grant,
        ),
        (
            "Reddit dead refresh token",
            D::Reddit,
            400,
            json!({"error": "invalid_grant"}),
            Is::Grant,
        ),
        (
            "Reddit bad client",
            D::Reddit,
            401,
            json!({"message": "Unauthorized", "error": 401}),
            Is::Client,
        ),
        (
            "TikTok dead code",
            D::Tiktok,
            400,
            json!({"error": "invalid_grant", "error_description": "Authorization code is expired.", "log_id": "2023"}),
            Is::Grant,
        ),
        (
            "TikTok error with HTTP 200",
            D::Tiktok,
            200,
            json!({"error": "invalid_grant", "error_description": "Authorization code is expired.", "log_id": "2023"}),
            Is::Grant,
        ),
        (
            "TikTok bad client key",
            D::Tiktok,
            200,
            json!({"error": "invalid_client", "error_description": "Client key or secret is incorrect.", "log_id": "1"}),
            Is::Client,
        ),
        (
            "429 is transient whatever the body",
            D::Standard,
            429,
            json!({"error": "invalid_grant"}),
            Is::Platform(429, true),
        ),
        (
            "an HTML 502 page",
            D::Standard,
            502,
            Value::Null,
            Is::Platform(502, true),
        ),
        (
            "a bare 401 at the token endpoint blames the client",
            D::Standard,
            401,
            Value::Null,
            Is::Client,
        ),
    ];
    for (why, dialect, status, body, want) in cases {
        let got = classify(dialect, Endpoint::Token, status, &body, &[]);
        assert_eq!(is(&got), want, "{why}: {got:?}");
    }
}

#[test]
fn api_errors_are_classified_per_platform_family() {
    use Dialect as D;
    let cases: Vec<(&str, Dialect, u16, Value, Is)> = vec![
        (
            "X 401",
            D::X,
            401,
            json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
            Is::Grant,
        ),
        (
            "Graph 190 arrives as HTTP 400",
            D::Graph,
            400,
            json!({"error": {"message": "Invalid OAuth access token - Cannot parse access token", "type": "OAuthException", "code": 190}}),
            Is::Grant,
        ),
        (
            "Graph permission code 10",
            D::Graph,
            403,
            json!({"error": {"message": "(#10) Application does not have permission for this action", "type": "OAuthException", "code": 10}}),
            Is::Permission,
        ),
        (
            "Graph permission code 200",
            D::Graph,
            400,
            json!({"error": {"message": "(#200) Requires pages_read_engagement", "type": "OAuthException", "code": 200}}),
            Is::Permission,
        ),
        (
            "Graph permission code 299",
            D::Graph,
            400,
            json!({"error": {"message": "(#299) Requires extended permission", "type": "OAuthException", "code": 299}}),
            Is::Permission,
        ),
        (
            "Graph rate limit code 4 is not a dead grant",
            D::Graph,
            400,
            json!({"error": {"message": "(#4) Application request limit reached", "type": "OAuthException", "code": 4}}),
            Is::Platform(400, false),
        ),
        (
            "LinkedIn expired token",
            D::Standard,
            401,
            json!({"serviceErrorCode": 65601, "message": "The token used in the request has been revoked by the user", "status": 401}),
            Is::Grant,
        ),
        (
            "LinkedIn missing permission",
            D::Standard,
            403,
            json!({"serviceErrorCode": 100, "message": "Not enough permissions to access: GET /organizationAcls", "status": 403}),
            Is::Permission,
        ),
        (
            "Google UNAUTHENTICATED",
            D::Standard,
            401,
            json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}),
            Is::Grant,
        ),
        (
            "Google PERMISSION_DENIED",
            D::Standard,
            403,
            json!({"error": {"code": 403, "message": "Request had insufficient authentication scopes.", "status": "PERMISSION_DENIED"}}),
            Is::Permission,
        ),
        (
            "Google Business Profile quota 0 before approval",
            D::Standard,
            429,
            json!({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}),
            Is::Platform(429, true),
        ),
        (
            "TikTok invalid token",
            D::Tiktok,
            401,
            json!({"data": {}, "error": {"code": "access_token_invalid", "message": "The access token is invalid", "log_id": "1"}}),
            Is::Grant,
        ),
        (
            "TikTok missing scope, HTTP 200",
            D::Tiktok,
            200,
            json!({"data": {}, "error": {"code": "scope_not_authorized", "message": "The user did not authorize the scope", "log_id": "1"}}),
            Is::Permission,
        ),
        (
            "Pinterest 401",
            D::Pinterest,
            401,
            json!({"code": 2, "message": "Authentication failed."}),
            Is::Grant,
        ),
        (
            "Reddit 401 at the API is a dead token",
            D::Reddit,
            401,
            json!({"message": "Unauthorized", "error": 401}),
            Is::Grant,
        ),
        (
            "Snapchat 401",
            D::Standard,
            401,
            json!({"request_status": "ERROR", "request_id": "r", "debug_message": "Unauthorized", "error_code": "E3003"}),
            Is::Grant,
        ),
        (
            "a 500 is transient",
            D::Standard,
            500,
            json!({"message": "Internal Server Error"}),
            Is::Platform(500, true),
        ),
        (
            "a 404 is a plain platform error",
            D::Standard,
            404,
            Value::Null,
            Is::Platform(404, false),
        ),
    ];
    for (why, dialect, status, body, want) in cases {
        let got = classify(dialect, Endpoint::Api, status, &body, &[]);
        assert_eq!(is(&got), want, "{why}: {got:?}");
    }
}

#[test]
fn classified_errors_keep_the_platform_code_and_description() {
    let body = json!({"error": {"message": "(#4) Application request limit reached", "type": "OAuthException", "code": 4}});
    match classify(Dialect::Graph, Endpoint::Api, 400, &body, &[]) {
        ConnectorError::Platform {
            status,
            code,
            message,
        } => {
            assert_eq!(status, 400);
            assert_eq!(code.as_deref(), Some("4"));
            assert_eq!(message, "(#4) Application request limit reached");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_messages_never_repeat_a_value_we_sent_and_stay_short() {
    let body = json!({"error": "invalid_grant",
        "error_description": "code sbx-code-ABCDEF123 is invalid for client secret hunter2-secret"});
    let e = classify(
        Dialect::Standard,
        Endpoint::Token,
        400,
        &body,
        &["sbx-code-ABCDEF123", "hunter2-secret"],
    );
    let shown = e.to_string();
    assert!(!shown.contains("sbx-code-ABCDEF123"), "{shown}");
    assert!(!shown.contains("hunter2-secret"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");

    let long = json!({"error": "server_error", "error_description": "x".repeat(5000)});
    let e = classify(Dialect::Standard, Endpoint::Token, 400, &long, &[]);
    assert!(e.to_string().chars().count() < 400, "{e}");
}

#[test]
fn success_bodies_that_are_errors_in_disguise_are_detected() {
    let cases = [
        (
            json!({"error": "invalid_grant", "error_description": "x", "log_id": "1"}),
            true,
            "TikTok",
        ),
        (json!({"error": {"code": 190}}), true, "Graph"),
        (
            json!({"error_type": "OAuthException", "code": 400, "error_message": "x"}),
            true,
            "Instagram API",
        ),
        (
            json!({"access_token": "t", "error": ""}),
            false,
            "a token with an empty error field",
        ),
        (
            json!({"access_token": "t", "expires_in": 3600}),
            false,
            "a plain token",
        ),
        (
            json!({"expires_in": 3600}),
            false,
            "no token but no error either: malformed later",
        ),
    ];
    for (v, want, why) in cases {
        assert_eq!(token_body_is_error(&v), want, "{why}");
    }
    assert!(api_body_is_error(
        Dialect::Tiktok,
        &json!({"data": {}, "error": {"code": "access_token_invalid"}})
    ));
    assert!(!api_body_is_error(
        Dialect::Tiktok,
        &json!({"data": {"user": {}}, "error": {"code": "ok", "message": ""}})
    ));
}

#[test]
fn a_standard_token_response_becomes_a_token_set() {
    let v = json!({"token_type": "bearer", "expires_in": 7200, "access_token": "AT",
        "scope": "tweet.read users.read offline.access", "refresh_token": "RT"});
    assert_eq!(
        tokens_from_json(&v, now(), &[]).unwrap(),
        TokenSet {
            access_token: "AT".into(),
            refresh_token: Some("RT".into()),
            expires_at: Some(now() + Duration::seconds(7200)),
            refresh_expires_at: None,
            scopes: vec![
                "tweet.read".into(),
                "users.read".into(),
                "offline.access".into()
            ],
            user_id: None,
        }
    );
}

#[test]
fn refresh_lifetimes_come_from_each_platforms_field() {
    let cases = [
        (
            json!({"access_token": "a", "refresh_token": "r", "refresh_expires_in": 31_536_000, "open_id": "o"}),
            Some(now() + Duration::seconds(31_536_000)),
            "TikTok refresh_expires_in",
        ),
        (
            json!({"access_token": "a", "refresh_token": "r", "refresh_token_expires_in": 100}),
            Some(now() + Duration::seconds(100)),
            "LinkedIn / Pinterest refresh_token_expires_in",
        ),
        (
            json!({"access_token": "a", "refresh_token": "r", "refresh_token_expires_at": 1_760_000_000}),
            DateTime::from_timestamp(1_760_000_000, 0),
            "Pinterest absolute refresh_token_expires_at",
        ),
        (
            json!({"access_token": "a", "refresh_token_expires_in": 100}),
            None,
            "no refresh token, no refresh lifetime",
        ),
    ];
    for (v, want, why) in cases {
        assert_eq!(
            tokens_from_json(&v, now(), &[]).unwrap().refresh_expires_at,
            want,
            "{why}"
        );
    }
}

#[test]
fn token_sets_take_ids_and_scopes_in_every_shape_platforms_send() {
    let fallback = vec!["requested".to_owned()];
    let big: Value =
        serde_json::from_str(r#"{"access_token":"a","user_id":17841400123456789}"#).unwrap();
    let cases = [
        (
            big,
            Some("17841400123456789"),
            vec!["requested"],
            "a number beyond 2^53 stays exact",
        ),
        (
            json!({"access_token": "a", "user_id": "26193620000000001"}),
            Some("26193620000000001"),
            vec!["requested"],
            "a string id",
        ),
        (
            json!({"access_token": "a", "open_id": "723f-uuid", "scope": "user.info.basic,video.publish"}),
            Some("723f-uuid"),
            vec!["user.info.basic", "video.publish"],
            "TikTok open_id and comma scopes",
        ),
        (
            json!({"access_token": "a", "scope": "openid,profile,w_member_social"}),
            None,
            vec!["openid", "profile", "w_member_social"],
            "LinkedIn answers with commas",
        ),
        (
            json!({"access_token": "a", "permissions": "instagram_business_basic"}),
            None,
            vec!["instagram_business_basic"],
            "Instagram permissions",
        ),
        (
            json!({"access_token": "a", "scope": ["a", "b"]}),
            None,
            vec!["a", "b"],
            "a scope array",
        ),
        (
            json!({"access_token": "a", "expires_in": "5183944"}),
            None,
            vec!["requested"],
            "a string lifetime",
        ),
    ];
    for (v, id, scopes, why) in cases {
        let t = tokens_from_json(&v, now(), &fallback).unwrap();
        assert_eq!(t.user_id.as_deref(), id, "{why}");
        assert_eq!(t.scopes, scopes, "{why}");
    }
}

#[test]
fn token_responses_without_a_usable_token_or_id_are_malformed() {
    let cases = [
        (json!({}), "empty"),
        (json!({"access_token": ""}), "empty token"),
        (json!({"access_token": 5}), "token not a string"),
        (
            json!({"access_token": "a", "user_id": 1.5}),
            "fractional id",
        ),
        (
            json!({"access_token": "a", "user_id": {"id": 1}}),
            "object id",
        ),
        (
            serde_json::from_str(
                r#"{"access_token":"a","user_id":123456789012345678901234567890}"#,
            )
            .unwrap(),
            "an id beyond u64 would go through f64",
        ),
    ];
    for (v, why) in cases {
        assert!(
            matches!(
                tokens_from_json(&v, now(), &[]),
                Err(ConnectorError::Malformed(_))
            ),
            "{why}"
        );
    }
}

#[test]
fn absurd_lifetimes_are_bounded_instead_of_overflowing() {
    let v = json!({"access_token": "a", "expires_in": i64::MAX});
    let t = tokens_from_json(&v, now(), &[]).unwrap();
    assert_eq!(
        t.expires_at,
        Some(now() + Duration::seconds(MAX_LIFETIME_SECONDS))
    );
    let negative = json!({"access_token": "a", "expires_in": -5});
    assert_eq!(
        tokens_from_json(&negative, now(), &[]).unwrap().expires_at,
        Some(now())
    );
}

fn set(access: &str, refresh: Option<&str>) -> TokenSet {
    TokenSet {
        access_token: access.into(),
        refresh_token: refresh.map(Into::into),
        expires_at: Some(now()),
        refresh_expires_at: refresh.map(|_| now() + Duration::days(365)),
        scopes: vec!["s".into()],
        user_id: Some("u".into()),
    }
}

#[test]
fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let old = set("old", Some("RT"));
    let fresh = TokenSet {
        refresh_expires_at: None,
        user_id: None,
        ..set("new", None)
    };
    let merged = merge_refreshed(&old, fresh);
    assert_eq!(merged.access_token, "new");
    assert_eq!(merged.refresh_token.as_deref(), Some("RT"));
    assert_eq!(merged.refresh_expires_at, old.refresh_expires_at);
    assert_eq!(merged.user_id.as_deref(), Some("u"));
}

#[test]
fn a_rotated_refresh_token_replaces_the_old_one() {
    let old = set("old", Some("RT1"));
    let merged = merge_refreshed(&old, set("new", Some("RT2")));
    assert_eq!(merged.refresh_token.as_deref(), Some("RT2"));
}

#[test]
fn endpoints_in_messages_show_origin_and_path_but_never_the_query() {
    let url = Url::parse("https://graph.instagram.com:8443/refresh_access_token?grant_type=ig_refresh_token&access_token=IGQVJsecret").unwrap();
    let shown = Where(&url).to_string();
    assert_eq!(
        shown,
        "https://graph.instagram.com:8443/refresh_access_token"
    );
}

#[test]
fn secret_values_of_a_token_request_are_collected_from_form_query_and_app() {
    let app = PlatformApp {
        client_id: "cid".into(),
        client_secret: plugboard_core::Secret::new("app-secret".into()),
        base_url: None,
        scopes: None,
        user_agent: String::new(),
        usage: crate::usage::no_usage(),
    };
    let req = TokenRequest {
        method: Method::Get,
        url: "https://graph.threads.net/access_token?grant_type=th_exchange_token&client_secret=app-secret&access_token=short-token".into(),
        headers: vec![],
        form: vec![("code".into(), "the-code".into()), ("client_id".into(), "cid".into())],
    };
    let sent = sent_values(&req, &app);
    for secret in ["app-secret", "short-token", "the-code"] {
        assert!(sent.iter().any(|s| s == secret), "{secret} not scrubbed");
    }
    for public in ["cid", "th_exchange_token"] {
        assert!(
            !sent.iter().any(|s| s == public),
            "{public} needlessly scrubbed"
        );
    }
}

#[test]
fn path_placeholders_take_one_encoded_segment() {
    let url = Url::parse(
        "https://businessapi.snapchat.com/v1/organizations/{organization_id}/public_profiles",
    )
    .unwrap();
    assert_eq!(
        fill_segment(&url, "organization_id", "8fde-1")
            .unwrap()
            .as_str(),
        "https://businessapi.snapchat.com/v1/organizations/8fde-1/public_profiles"
    );
    assert_eq!(
        fill_segment(&url, "organization_id", "a/b?c")
            .unwrap()
            .as_str(),
        "https://businessapi.snapchat.com/v1/organizations/a%2Fb%3Fc/public_profiles"
    );
}
