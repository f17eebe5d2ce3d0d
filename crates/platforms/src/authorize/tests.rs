use super::*;
use crate::pkce::PkceVerifier;
use crate::spec::{BaseUrl, OAuthSpec};
use crate::{facebook, googlebusiness, instagram, linkedin, pinterest, reddit, snapchat};
use crate::{threads, tiktok, twitter, youtube};

const REDIRECT: &str = "https://plugboard.test/v1/connect/callback";
const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn challenge() -> PkceChallenge {
    PkceVerifier::parse(RFC_VERIFIER.to_owned())
        .unwrap()
        .challenge()
}

/// The default authorization URL of a spec, with a challenge exactly when it takes PKCE.
fn default_url(spec: &'static OAuthSpec) -> String {
    let challenge = challenge();
    let req = AuthorizeRequest {
        client_id: "cid",
        redirect_uri: REDIRECT,
        state: "st",
        pkce: (spec.pkce == Pkce::S256).then_some(&challenge),
        scopes: None,
        extra_params: &[],
    };
    authorization_url(&spec.resolve(None).unwrap(), &req).unwrap()
}

fn split(url: &str) -> (String, Vec<(String, String)>) {
    let parsed = url::Url::parse(url).unwrap();
    let pairs = parsed.query_pairs().into_owned().collect();
    let mut base = parsed.clone();
    base.set_query(None);
    (base.into(), pairs)
}

/// (why, spec, endpoint without query, expected query parameters in order)
type Case = (
    &'static str,
    &'static OAuthSpec,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn each_platform_builds_the_authorization_url_platforms_md_requires() {
    let google_params = |scope: &'static str| {
        vec![
            ("response_type", "code"),
            ("client_id", "cid"),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "st"),
            ("code_challenge", RFC_CHALLENGE),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
            ("prompt", "consent"),
        ]
    };
    let plain = |id_param: &'static str, scope: &'static str| {
        vec![
            ("response_type", "code"),
            (id_param, "cid"),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "st"),
        ]
    };
    let cases: Vec<Case> = vec![
        (
            "twitter: PKCE S256, space-separated scopes with offline.access (§1)",
            &twitter::SPEC,
            "https://x.com/i/oauth2/authorize",
            vec![
                ("response_type", "code"),
                ("client_id", "cid"),
                ("redirect_uri", REDIRECT),
                (
                    "scope",
                    "tweet.read tweet.write users.read media.write offline.access",
                ),
                ("state", "st"),
                ("code_challenge", RFC_CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        ),
        (
            "instagram login: comma-separated instagram_business_* scopes (§2a)",
            &instagram::INSTAGRAM_LOGIN,
            "https://www.instagram.com/oauth/authorize",
            plain(
                "client_id",
                "instagram_business_basic,instagram_business_content_publish",
            ),
        ),
        (
            "instagram via facebook login: the Facebook dialog with IG scopes (§2b)",
            &instagram::FACEBOOK_LOGIN,
            "https://www.facebook.com/v24.0/dialog/oauth",
            plain(
                "client_id",
                "instagram_basic,pages_show_list,pages_read_engagement,business_management,\
                 instagram_content_publish,instagram_manage_comments,instagram_manage_insights",
            ),
        ),
        (
            "facebook: versioned dialog, comma-separated page scopes (§3)",
            &facebook::SPEC,
            "https://www.facebook.com/v24.0/dialog/oauth",
            plain(
                "client_id",
                "pages_show_list,business_management,pages_manage_posts,\
                 pages_manage_engagement,pages_read_engagement,read_insights",
            ),
        ),
        (
            "linkedin: space-separated, no PKCE parameters at all (§4)",
            &linkedin::SPEC,
            "https://www.linkedin.com/oauth/v2/authorization",
            plain("client_id", "openid profile email w_member_social"),
        ),
        (
            "tiktok: client_key not client_id, comma-separated scopes (§5)",
            &tiktok::SPEC,
            "https://www.tiktok.com/v2/auth/authorize/",
            plain(
                "client_key",
                "user.info.basic,user.info.profile,user.info.stats,video.publish,video.upload",
            ),
        ),
        (
            "youtube: access_type=offline and prompt=consent (§6)",
            &youtube::SPEC,
            "https://accounts.google.com/o/oauth2/v2/auth",
            google_params(
                "https://www.googleapis.com/auth/youtube.upload \
                 https://www.googleapis.com/auth/youtube.readonly",
            ),
        ),
        (
            "googlebusiness: Google OAuth with business.manage (§7)",
            &googlebusiness::SPEC,
            "https://accounts.google.com/o/oauth2/v2/auth",
            google_params("https://www.googleapis.com/auth/business.manage openid email profile"),
        ),
        (
            "pinterest: comma-separated scopes (§8)",
            &pinterest::SPEC,
            "https://www.pinterest.com/oauth/",
            plain(
                "client_id",
                "user_accounts:read,boards:read,boards:write,pins:read,pins:write",
            ),
        ),
        (
            "reddit: duration=permanent, space-separated scopes (§9)",
            &reddit::SPEC,
            "https://www.reddit.com/api/v1/authorize",
            {
                let mut p = plain("client_id", "identity read submit flair mysubreddits");
                p.push(("duration", "permanent"));
                p
            },
        ),
        (
            "threads: comma-separated threads_* scopes, response_type kept (§10)",
            &threads::SPEC,
            "https://threads.com/oauth/authorize",
            plain(
                "client_id",
                "threads_basic,threads_content_publish,threads_manage_replies,\
                 threads_read_replies,threads_manage_insights",
            ),
        ),
        (
            "snapchat: space-separated Snap API scopes (§11)",
            &snapchat::SPEC,
            "https://accounts.snapchat.com/login/oauth2/authorize",
            plain("client_id", "snapchat-profile-api snapchat-marketing-api"),
        ),
    ];
    for (why, spec, endpoint, expected) in cases {
        let (base, got) = split(&default_url(spec));
        assert_eq!(base, endpoint, "{why}");
        assert_eq!(got, pairs(&expected), "{why}");
    }
}

#[test]
fn spaces_are_percent_encoded_not_plus() {
    // X documents `%20` between scopes.
    let url = default_url(&twitter::SPEC);
    assert!(
        url.contains("scope=tweet.read%20tweet.write%20users.read"),
        "{url}"
    );
    assert!(!url.contains('+'), "{url}");
}

#[test]
fn requested_scopes_replace_the_defaults_with_the_platform_separator() {
    let spec = tiktok::SPEC.resolve(None).unwrap();
    let req = AuthorizeRequest {
        client_id: "cid",
        redirect_uri: REDIRECT,
        state: "st",
        pkce: None,
        scopes: Some(&["user.info.basic", "video.upload"]),
        extra_params: &[("disable_auto_auth", "1")],
    };
    let (_, got) = split(&authorization_url(&spec, &req).unwrap());
    assert!(got.contains(&(
        "scope".to_owned(),
        "user.info.basic,video.upload".to_owned()
    )));
    assert_eq!(
        got.last(),
        Some(&("disable_auto_auth".to_owned(), "1".to_owned()))
    );
}

#[test]
fn requests_that_break_the_platform_contract_are_refused() {
    let challenge = challenge();
    let ok = AuthorizeRequest {
        client_id: "cid",
        redirect_uri: REDIRECT,
        state: "st",
        pkce: None,
        scopes: None,
        extra_params: &[],
    };
    let cases: Vec<(&str, &'static OAuthSpec, AuthorizeRequest<'_>, BuildError)> = vec![
        (
            "X without a challenge",
            &twitter::SPEC,
            ok,
            BuildError::PkceRequired,
        ),
        (
            "LinkedIn with a challenge",
            &linkedin::SPEC,
            AuthorizeRequest {
                pkce: Some(&challenge),
                ..ok
            },
            BuildError::PkceNotSupported,
        ),
        (
            "an empty scope list",
            &reddit::SPEC,
            AuthorizeRequest {
                scopes: Some(&[]),
                ..ok
            },
            BuildError::NoScopes,
        ),
        (
            "an extra that overrides state",
            &reddit::SPEC,
            AuthorizeRequest {
                extra_params: &[("state", "forged")],
                ..ok
            },
            BuildError::ReservedParam("state".to_owned()),
        ),
        (
            "an extra that overrides TikTok's client_key",
            &tiktok::SPEC,
            AuthorizeRequest {
                extra_params: &[("client_key", "other")],
                ..ok
            },
            BuildError::ReservedParam("client_key".to_owned()),
        ),
    ];
    for (why, spec, req, err) in cases {
        assert_eq!(
            authorization_url(&spec.resolve(None).unwrap(), &req),
            Err(err),
            "{why}"
        );
    }
}

#[test]
fn a_rebased_spec_sends_the_browser_to_the_sandbox_with_the_same_parameters() {
    let base = BaseUrl::parse("http://127.0.0.1:4000/sandbox/reddit").unwrap();
    let req = AuthorizeRequest {
        client_id: "cid",
        redirect_uri: REDIRECT,
        state: "st",
        pkce: None,
        scopes: None,
        extra_params: &[],
    };
    let url = authorization_url(&reddit::SPEC.resolve(Some(&base)).unwrap(), &req).unwrap();
    let (endpoint, got) = split(&url);
    assert_eq!(
        endpoint,
        "http://127.0.0.1:4000/sandbox/reddit/api/v1/authorize"
    );
    assert_eq!(split(&default_url(&reddit::SPEC)).1, got);
}

#[test]
fn reserved_characters_in_values_are_escaped() {
    let spec = snapchat::SPEC.resolve(None).unwrap();
    let req = AuthorizeRequest {
        client_id: "c&d",
        redirect_uri: "https://app.test/cb?x=1&y=2",
        state: "a b+c",
        pkce: None,
        scopes: None,
        extra_params: &[],
    };
    let url = authorization_url(&spec, &req).unwrap();
    assert!(url.contains("client_id=c%26d"), "{url}");
    assert!(
        url.contains("redirect_uri=https%3A%2F%2Fapp.test%2Fcb%3Fx%3D1%26y%3D2"),
        "{url}"
    );
    assert!(url.contains("state=a%20b%2Bc"), "{url}");
}
