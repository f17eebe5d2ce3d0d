//! Where a connect flow sends the user's browser back to. Validated once when the flow
//! starts; later redirects use only the stored, validated value (RFC 6749 §4.1.2.1 and
//! §10.15: never redirect to an unvalidated URI).

use std::fmt;
use url::Url;

const MAX_LEN: usize = 2048;

/// Schemes that must never be a redirect target: they run code or read local data in the
/// browser instead of navigating to an app.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "vbscript",
    "file",
    "about",
    "blob",
    "filesystem",
    "view-source",
    "ftp",
    "ws",
    "wss",
    "chrome",
    "chrome-extension",
    "intent",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUrlError {
    #[error("redirect_url is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("redirect_url must be an absolute URL")]
    NotAbsolute,
    #[error("redirect_url scheme '{0}' is not allowed; use http(s) or an app scheme")]
    ForbiddenScheme(String),
    #[error("redirect_url must have a host")]
    NoHost,
    #[error("redirect_url must not contain a user name or password")]
    Credentials,
}

/// An absolute http(s) URL with a host and no credentials, or an app scheme
/// (`myapp://callback`, `com.example.app:/oauth`).
#[derive(Clone, PartialEq, Eq)]
pub struct RedirectUrl(Url);

impl RedirectUrl {
    pub fn parse(raw: &str) -> Result<Self, RedirectUrlError> {
        if raw.len() > MAX_LEN {
            return Err(RedirectUrlError::TooLong);
        }
        let trimmed = raw.trim();
        let url = Url::parse(trimmed).map_err(|_| RedirectUrlError::NotAbsolute)?;
        let scheme = url.scheme();
        if FORBIDDEN_SCHEMES.contains(&scheme) {
            return Err(RedirectUrlError::ForbiddenScheme(scheme.to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectUrlError::Credentials);
        }
        if matches!(scheme, "http" | "https") && url.host_str().is_none_or(str::is_empty) {
            return Err(RedirectUrlError::NoHost);
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn is_web(&self) -> bool {
        matches!(self.0.scheme(), "http" | "https")
    }

    /// The URL with these query parameters appended (existing ones are kept).
    pub fn with_params<'a>(&self, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Url {
        let mut url = self.0.clone();
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
        }
        url
    }
}

impl fmt::Debug for RedirectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedirectUrl({})", self.0)
    }
}

impl fmt::Display for RedirectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn web_and_app_urls_are_accepted() {
        for ok in [
            "https://app.example/cb",
            "https://app.example/cb?x=1",
            "http://localhost:3000/done",
            "myapp://oauth/callback",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(RedirectUrl::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn dangerous_or_relative_urls_are_rejected_with_a_reason() {
        for (bad, want) in [
            ("/relative/path", RedirectUrlError::NotAbsolute),
            ("app.example/cb", RedirectUrlError::NotAbsolute),
            ("", RedirectUrlError::NotAbsolute),
            (
                "javascript:alert(1)",
                RedirectUrlError::ForbiddenScheme("javascript".into()),
            ),
            (
                "JavaScript:alert(1)",
                RedirectUrlError::ForbiddenScheme("javascript".into()),
            ),
            (
                "data:text/html,hi",
                RedirectUrlError::ForbiddenScheme("data".into()),
            ),
            (
                "file:///etc/passwd",
                RedirectUrlError::ForbiddenScheme("file".into()),
            ),
            (
                "https://user:pw@evil.example/",
                RedirectUrlError::Credentials,
            ),
            (
                "https://good.example@evil.example/",
                RedirectUrlError::Credentials,
            ),
        ] {
            assert_eq!(RedirectUrl::parse(bad), Err(want), "{bad:?}");
        }
        let long = format!("https://a.example/{}", "x".repeat(MAX_LEN));
        assert_eq!(RedirectUrl::parse(&long), Err(RedirectUrlError::TooLong));
    }

    #[test]
    fn params_are_appended_and_encoded() {
        let r = RedirectUrl::parse("https://app.example/cb?keep=1").unwrap();
        let u = r.with_params([("connected", "twitter"), ("username", "a b&c")]);
        assert_eq!(
            u.as_str(),
            "https://app.example/cb?keep=1&connected=twitter&username=a+b%26c"
        );
    }

    proptest! {
        #[test]
        fn any_accepted_url_is_absolute_and_safe(s in "\\PC{0,200}") {
            if let Ok(r) = RedirectUrl::parse(&s) {
                let u = Url::parse(r.as_str()).unwrap();
                prop_assert!(!FORBIDDEN_SCHEMES.contains(&u.scheme()));
                prop_assert!(u.username().is_empty() && u.password().is_none());
            }
        }

        #[test]
        fn https_urls_with_a_host_and_path_are_accepted(
            host in "[a-z][a-z0-9-]{0,20}(\\.[a-z]{2,6}){1,2}",
            path in "(/[A-Za-z0-9._~-]{0,12}){0,4}",
        ) {
            // `xn--` starts an IDNA A-label: only valid Punycode after it is a host, and
            // the URL parser rightly refuses the rest.
            prop_assume!(!host.starts_with("xn--"));
            let raw = format!("https://{host}{path}");
            let parsed = RedirectUrl::parse(&raw);
            prop_assert!(parsed.is_ok(), "{}", raw);
            prop_assert!(parsed.unwrap().is_web());
        }

        #[test]
        fn appended_params_read_back_unchanged(k in "[a-z]{1,8}", v in "\\PC{0,40}") {
            let r = RedirectUrl::parse("https://app.example/cb").unwrap();
            let u = r.with_params([(k.as_str(), v.as_str())]);
            let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
            prop_assert_eq!(pairs, vec![(k, v)]);
        }
    }
}
