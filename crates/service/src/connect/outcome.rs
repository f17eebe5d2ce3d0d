//! How a browser flow ends: Zernio's redirect parameters (shared/api-scope.md §3.2), or a
//! page when no redirect is known.

use chrono::{DateTime, Utc};
use plugboard_core::{Platform, RedirectUrl};
use url::Url;

/// Zernio-style code of a connect refused for the platform's API quota.
pub const QUOTA_EXCEEDED: &str = "QUOTA_EXCEEDED";

/// A failed connect as the redirect reports it. `code` is Zernio's `error` value; clients
/// treat unknown values as a generic failure, so new ones may be added.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    pub code: &'static str,
    /// `error_message`: for the person, never a token or a raw upstream body.
    pub message: String,
    pub user_fixable: bool,
    /// `authorize` (the consent dialog failed), `callback`, or `select_page`.
    pub stage: &'static str,
    pub error_reason: Option<String>,
    pub platform_error: Option<String>,
    pub platform_error_description: Option<String>,
    /// For [`QUOTA_EXCEEDED`]: the exhausted platform and when it takes calls again.
    pub quota: Option<(Platform, Option<DateTime<Utc>>)>,
}

impl ConnectError {
    pub fn new(code: &'static str, stage: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            user_fixable: false,
            stage,
            error_reason: None,
            platform_error: None,
            platform_error_description: None,
            quota: None,
        }
    }

    /// A connect refused because `platform` is exhausted (crate::quota): said in the
    /// message, with the platform and the reset kept for the API's answer.
    pub fn quota_exceeded(
        platform: Platform,
        reset_at: Option<DateTime<Utc>>,
        message: String,
    ) -> Self {
        Self {
            quota: Some((platform, reset_at)),
            ..Self::new(QUOTA_EXCEEDED, "callback", message)
        }
    }

    pub fn user_fixable(mut self) -> Self {
        self.user_fixable = true;
        self
    }

    /// The query parameters of the failure redirect, in Zernio's names.
    pub fn params(&self, platform: Platform) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("error", self.code.to_owned()),
            ("platform", platform.to_string()),
            ("error_message", self.message.clone()),
        ];
        if self.user_fixable {
            p.push(("is_user_fixable", "true".into()));
        }
        if let Some(r) = &self.error_reason {
            p.push(("error_reason", r.clone()));
        }
        if let Some(e) = &self.platform_error {
            p.push(("platform_error", e.clone()));
        }
        if let Some(d) = &self.platform_error_description {
            // Zernio caps it at 500 characters.
            p.push(("platform_error_description", d.chars().take(500).collect()));
        }
        p.push(("stage", self.stage.to_owned()));
        p
    }
}

/// A page shown when the flow ends with no redirect URL to go back to.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultPage {
    pub success: bool,
    pub platform: Option<Platform>,
    pub title: String,
    pub message: String,
}

/// `url` with `params` set: the caller's own query is kept, but a parameter of ours replaces
/// a caller's parameter of the same name (URL API semantics, as Zernio does).
pub(crate) fn with_params(url: &RedirectUrl, params: &[(&str, String)]) -> Url {
    let mut out = Url::parse(url.as_str()).unwrap_or_else(|_| url.with_params([]));
    let kept: Vec<(String, String)> = out
        .query_pairs()
        .filter(|(k, _)| !params.iter().any(|(p, _)| p == k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    out.set_query(None);
    if !kept.is_empty() || !params.is_empty() {
        let mut q = out.query_pairs_mut();
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_parameters_replace_the_callers_and_the_rest_is_kept() {
        let url = RedirectUrl::parse("https://app.example/cb?x=1&error=old#frag").unwrap();
        let out = with_params(
            &url,
            &[("error", "oauth_denied".into()), ("platform", "x".into())],
        );
        assert_eq!(
            out.as_str(),
            "https://app.example/cb?x=1&error=oauth_denied&platform=x#frag"
        );
    }

    #[test]
    fn app_schemes_get_parameters_too() {
        let url = RedirectUrl::parse("myapp://connected").unwrap();
        let out = with_params(&url, &[("connected", "twitter".into())]);
        assert_eq!(out.as_str(), "myapp://connected?connected=twitter");
    }

    #[test]
    fn failure_parameters_name_the_platform_and_stage() {
        let mut e = ConnectError::new("oauth_denied", "authorize", "You cancelled").user_fixable();
        e.platform_error = Some("access_denied".into());
        let p = e.params(Platform::Twitter);
        let keys: Vec<_> = p.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "error",
                "platform",
                "error_message",
                "is_user_fixable",
                "platform_error",
                "stage"
            ]
        );
        assert_eq!(p[1].1, "twitter");
    }
}
