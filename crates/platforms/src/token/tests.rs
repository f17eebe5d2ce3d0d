use super::*;
use crate::spec::{BaseUrl, OAuthSpec};
use crate::{facebook, instagram, linkedin, pinterest, reddit, threads, tiktok, twitter, youtube};

const REDIRECT: &str = "https://plugboard.test/v1/connect/callback";

fn secret() -> Secret<String> {
    Secret::new("s3cr:et".to_owned())
}

fn build(spec: &'static OAuthSpec, grant: Grant<'_>) -> Result<TokenRequest, BuildError> {
    let secret = secret();
    let client = ClientCredentials {
        client_id: "cid",
        client_secret: &secret,
        user_agent: "web:plugboard:0.1 (by /u/plugboard)",
    };
    token_request(&spec.resolve(None).unwrap(), &client, grant)
}

fn code(verifier: Option<&PkceVerifier>) -> Grant<'_> {
    Grant::AuthorizationCode {
        code: "the-code",
        redirect_uri: REDIRECT,
        code_verifier: verifier,
    }
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn basic_auth_platforms_put_the_secret_in_the_header_only() {
    let verifier = PkceVerifier::generate();
    let req = build(&twitter::SPEC, code(Some(&verifier))).unwrap();
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64 (`:` → `%3A`).
    let expected = format!("Basic {}", STANDARD.encode("cid:s3cr%3Aet"));
    assert_eq!(
        req,
        TokenRequest {
            method: Method::Post,
            url: "https://api.x.com/2/oauth2/token".to_owned(),
            headers: owned(&[("Accept", "application/json"), ("Authorization", &expected)]),
            form: owned(&[
                ("grant_type", "authorization_code"),
                ("code", "the-code"),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier.expose()),
            ]),
        }
    );
}

#[test]
fn body_auth_platforms_put_id_and_secret_in_the_form_under_their_names() {
    let cases: [(&str, &'static OAuthSpec, &str, &str); 3] = [
        (
            "linkedin",
            &linkedin::SPEC,
            "https://www.linkedin.com/oauth/v2/accessToken",
            "client_id",
        ),
        (
            "tiktok renames client_id to client_key",
            &tiktok::SPEC,
            "https://open.tiktokapis.com/v2/oauth/token/",
            "client_key",
        ),
        (
            "facebook is POSTed, not a GET with the secret in the URL",
            &facebook::SPEC,
            "https://graph.facebook.com/v24.0/oauth/access_token",
            "client_id",
        ),
    ];
    for (why, spec, url, id_param) in cases {
        let req = build(spec, code(None)).unwrap();
        assert_eq!(
            req,
            TokenRequest {
                method: Method::Post,
                url: url.to_owned(),
                headers: owned(&[("Accept", "application/json")]),
                form: owned(&[
                    ("grant_type", "authorization_code"),
                    ("code", "the-code"),
                    ("redirect_uri", REDIRECT),
                    (id_param, "cid"),
                    ("client_secret", "s3cr:et"),
                ]),
            },
            "{why}"
        );
    }
}

#[test]
fn refresh_uses_the_refresh_grant_with_the_same_client_auth() {
    let req = build(
        &youtube::SPEC,
        Grant::RefreshToken {
            refresh_token: "rt",
        },
    )
    .unwrap();
    assert_eq!(req.url, "https://oauth2.googleapis.com/token");
    assert_eq!(
        req.form,
        owned(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "rt"),
            ("client_id", "cid"),
            ("client_secret", "s3cr:et"),
        ])
    );

    let req = build(
        &pinterest::SPEC,
        Grant::RefreshToken {
            refresh_token: "rt",
        },
    )
    .unwrap();
    assert_eq!(
        req.form,
        owned(&[("grant_type", "refresh_token"), ("refresh_token", "rt")])
    );
    assert!(req.headers.iter().any(|(k, _)| k == "Authorization"));
}

#[test]
fn reddit_token_calls_carry_the_descriptive_user_agent_and_others_do_not() {
    let reddit = build(&reddit::SPEC, code(None)).unwrap();
    assert!(reddit.headers.contains(&(
        "User-Agent".to_owned(),
        "web:plugboard:0.1 (by /u/plugboard)".to_owned()
    )));
    let linkedin = build(&linkedin::SPEC, code(None)).unwrap();
    assert!(!linkedin.headers.iter().any(|(k, _)| k == "User-Agent"));
}

#[test]
fn token_requests_that_break_the_platform_contract_are_refused() {
    let verifier = PkceVerifier::generate();
    let refresh = Grant::RefreshToken {
        refresh_token: "rt",
    };
    let cases: [(&str, &'static OAuthSpec, Grant<'_>, BuildError); 4] = [
        (
            "X code without verifier",
            &twitter::SPEC,
            code(None),
            BuildError::PkceRequired,
        ),
        (
            "LinkedIn code with a verifier",
            &linkedin::SPEC,
            code(Some(&verifier)),
            BuildError::PkceNotSupported,
        ),
        (
            "Facebook has no refresh grant",
            &facebook::SPEC,
            refresh,
            BuildError::NoRefreshGrant,
        ),
        (
            "Threads extends its token instead of refreshing",
            &threads::SPEC,
            refresh,
            BuildError::NoRefreshGrant,
        ),
    ];
    for (why, spec, grant, err) in cases {
        assert_eq!(build(spec, grant), Err(err), "{why}");
    }
}

#[test]
fn meta_long_lived_exchanges_follow_each_products_parameters() {
    let secret = secret();
    let client = ClientCredentials {
        client_id: "cid",
        client_secret: &secret,
        user_agent: "ua",
    };
    let cases: [(&'static OAuthSpec, &str); 3] = [
        (
            &facebook::SPEC,
            "https://graph.facebook.com/v24.0/oauth/access_token?grant_type=fb_exchange_token\
             &client_id=cid&client_secret=s3cr%3Aet&fb_exchange_token=short",
        ),
        (
            &instagram::INSTAGRAM_LOGIN,
            "https://graph.instagram.com/access_token?grant_type=ig_exchange_token\
             &client_secret=s3cr%3Aet&access_token=short",
        ),
        (
            &threads::SPEC,
            "https://graph.threads.net/access_token?grant_type=th_exchange_token\
             &client_secret=s3cr%3Aet&access_token=short",
        ),
    ];
    for (spec, url) in cases {
        let req =
            long_lived_exchange_request(&spec.resolve(None).unwrap(), &client, "short").unwrap();
        assert_eq!((req.method, req.url.as_str()), (Method::Get, url));
        assert!(req.form.is_empty());
    }
    assert_eq!(
        long_lived_exchange_request(&twitter::SPEC.resolve(None).unwrap(), &client, "t"),
        Err(BuildError::NoLongLivedExchange)
    );
}

#[test]
fn instagram_and_threads_extend_the_access_token_itself() {
    let secret = secret();
    let client = ClientCredentials {
        client_id: "cid",
        client_secret: &secret,
        user_agent: "ua",
    };
    let base = BaseUrl::parse("http://127.0.0.1:4000/threads").unwrap();
    let req = extend_access_token_request(
        &threads::SPEC.resolve(Some(&base)).unwrap(),
        &client,
        "long",
    )
    .unwrap();
    assert_eq!(
        req.url,
        "http://127.0.0.1:4000/threads/refresh_access_token?grant_type=th_refresh_token&access_token=long"
    );
    assert_eq!(
        extend_access_token_request(&youtube::SPEC.resolve(None).unwrap(), &client, "t"),
        Err(BuildError::NoTokenExtension)
    );
}

#[test]
fn revocation_uses_rfc_7009_with_the_platform_client_auth() {
    let secret = secret();
    let client = ClientCredentials {
        client_id: "cid",
        client_secret: &secret,
        user_agent: "ua",
    };
    let req = revoke_request(
        &tiktok::SPEC.resolve(None).unwrap(),
        &client,
        "tok",
        TokenTypeHint::AccessToken,
    )
    .unwrap();
    assert_eq!(req.url, "https://open.tiktokapis.com/v2/oauth/revoke/");
    assert_eq!(
        req.form,
        owned(&[
            ("token", "tok"),
            ("token_type_hint", "access_token"),
            ("client_key", "cid"),
            ("client_secret", "s3cr:et"),
        ])
    );
    assert_eq!(
        revoke_request(
            &facebook::SPEC.resolve(None).unwrap(),
            &client,
            "tok",
            TokenTypeHint::AccessToken
        ),
        Err(BuildError::NoRevocation)
    );
}

#[test]
fn debug_output_never_shows_secrets_codes_or_tokens() {
    let verifier = PkceVerifier::generate();
    let secret = secret();
    let client = ClientCredentials {
        client_id: "cid",
        client_secret: &secret,
        user_agent: "ua",
    };
    let requests = [
        build(&twitter::SPEC, code(Some(&verifier))).unwrap(),
        build(&linkedin::SPEC, code(None)).unwrap(),
        long_lived_exchange_request(&facebook::SPEC.resolve(None).unwrap(), &client, "short")
            .unwrap(),
    ];
    for req in requests {
        let shown = format!("{req:?}");
        for leak in ["s3cr", "the-code", "short", verifier.expose(), "Basic Y2lk"] {
            assert!(!shown.contains(leak), "{leak} in {shown}");
        }
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
