//! A network's OAuth 2.0 dialect as data (STYLE §1): URLs, scopes, PKCE, client
//! authentication and renamed or extra parameters. The builders in [`crate::authorize`] and
//! [`crate::token`] read only this, so adding a network is adding a row.

use thiserror::Error;
use url::Url;

/// Whether the authorization request carries a PKCE challenge (RFC 7636).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pkce {
    /// Never send PKCE parameters: some networks (LinkedIn) reject a request that has them.
    None,
    /// `code_challenge_method=S256` (RFC 7636 §4.2).
    S256,
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic base64(urlencode(id):urlencode(secret))`, no id or secret in the body.
    Basic,
    /// The id (under [`OAuthSpec::client_id_param`]) and `client_secret` in the form body.
    Body,
}

/// How an access token is kept alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// The RFC 6749 §6 `refresh_token` grant at this URL (usually the token URL).
    Grant { url: &'static str },
    /// No refresh token: the long-lived access token itself is extended with
    /// `GET url?grant_type=…&access_token=…` (Instagram Login, Threads).
    ExtendAccessToken {
        url: &'static str,
        grant_type: &'static str,
    },
    /// Nothing to refresh: when the token dies the user logs in again (Facebook user tokens).
    Reauthorize,
}

/// Exchange of a short-lived access token for a long-lived one, right after the code
/// exchange (Meta family): `GET url?grant_type=…&client_secret=…&{token_param}=<short>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongLivedExchange {
    pub url: &'static str,
    pub grant_type: &'static str,
    /// Name of the parameter that carries the short-lived token.
    pub token_param: &'static str,
    /// Facebook wants `client_id` too; Instagram Login and Threads do not.
    pub send_client_id: bool,
}

/// One network's OAuth 2.0 authorization-code dialect. Every URL the connect flow calls
/// lives here so that configuration (or the sandbox) can rebase them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthSpec {
    pub authorize_url: &'static str,
    pub token_url: &'static str,
    pub refresh: Refresh,
    pub revoke_url: Option<&'static str>,
    pub long_lived_exchange: Option<LongLivedExchange>,
    /// Requested when the caller names no scopes.
    pub scopes: &'static [&'static str],
    pub scope_separator: &'static str,
    pub pkce: Pkce,
    pub client_auth: ClientAuth,
    /// `client_id` everywhere except TikTok (`client_key`), at authorize and token.
    pub client_id_param: &'static str,
    /// Sent on every authorization request, after the standard parameters.
    pub extra_authorize_params: &'static [(&'static str, &'static str)],
    /// The token endpoint throttles or rejects generic User-Agents (Reddit), so the token
    /// request carries the configured descriptive one.
    pub user_agent_required: bool,
}

impl OAuthSpec {
    /// Every URL of the spec, for checks that must cover all of them.
    pub fn urls(&self) -> Vec<&'static str> {
        let mut urls = vec![self.authorize_url, self.token_url];
        match self.refresh {
            Refresh::Grant { url } | Refresh::ExtendAccessToken { url, .. } => urls.push(url),
            Refresh::Reauthorize => {}
        }
        urls.extend(self.revoke_url);
        urls.extend(self.long_lived_exchange.map(|l| l.url));
        urls
    }

    /// Parses the URLs once, rebased onto `base` when one is given (sandbox, tests, a proxy).
    pub fn resolve(&'static self, base: Option<&BaseUrl>) -> Result<ResolvedSpec, SpecError> {
        ResolvedSpec::new(self, base)
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("{url:?} is not an absolute URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("base URL {url:?} must be http(s) with a host and no query or fragment")]
    InvalidBase { url: String },
}

/// Where a platform's endpoints are served instead of the real network. May carry a path
/// prefix (`http://127.0.0.1:4000/sandbox/twitter`); the endpoint's own path follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(Url);

impl BaseUrl {
    pub fn parse(raw: &str) -> Result<Self, SpecError> {
        let invalid = || SpecError::InvalidBase {
            url: raw.to_owned(),
        };
        let url = Url::parse(raw).map_err(|_| invalid())?;
        let usable = matches!(url.scheme(), "http" | "https")
            && url.host().is_some()
            && url.query().is_none()
            && url.fragment().is_none();
        if usable {
            Ok(Self(url))
        } else {
            Err(invalid())
        }
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }
}

/// Moves `url` onto `base`: scheme, host and port come from `base`, the base's path (if any)
/// is prefixed, and the endpoint's own path and query are kept.
pub fn rebase(url: &Url, base: &BaseUrl) -> Url {
    let mut out = base.0.clone();
    let prefix = out.path().trim_end_matches('/').to_owned();
    out.set_path(&format!("{prefix}{}", url.path()));
    out.set_query(url.query());
    out
}

/// [`Refresh`] with parsed URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedRefresh {
    Grant { url: Url },
    ExtendAccessToken { url: Url, grant_type: &'static str },
    Reauthorize,
}

/// [`LongLivedExchange`] with a parsed URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedLongLivedExchange {
    pub url: Url,
    pub grant_type: &'static str,
    pub token_param: &'static str,
    pub send_client_id: bool,
}

/// A spec whose URLs are parsed and, when configured, rebased. This is what the builders
/// take, so the sandbox runs exactly the production code path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSpec {
    pub spec: &'static OAuthSpec,
    pub authorize_url: Url,
    pub token_url: Url,
    pub refresh: ResolvedRefresh,
    pub revoke_url: Option<Url>,
    pub long_lived_exchange: Option<ResolvedLongLivedExchange>,
}

impl ResolvedSpec {
    pub fn new(spec: &'static OAuthSpec, base: Option<&BaseUrl>) -> Result<Self, SpecError> {
        let resolve = |raw: &str| -> Result<Url, SpecError> {
            let url = Url::parse(raw).map_err(|e| SpecError::InvalidUrl {
                url: raw.to_owned(),
                reason: e.to_string(),
            })?;
            Ok(match base {
                Some(base) => rebase(&url, base),
                None => url,
            })
        };
        Ok(Self {
            spec,
            authorize_url: resolve(spec.authorize_url)?,
            token_url: resolve(spec.token_url)?,
            refresh: match spec.refresh {
                Refresh::Grant { url } => ResolvedRefresh::Grant { url: resolve(url)? },
                Refresh::ExtendAccessToken { url, grant_type } => {
                    ResolvedRefresh::ExtendAccessToken {
                        url: resolve(url)?,
                        grant_type,
                    }
                }
                Refresh::Reauthorize => ResolvedRefresh::Reauthorize,
            },
            revoke_url: spec.revoke_url.map(resolve).transpose()?,
            long_lived_exchange: spec
                .long_lived_exchange
                .map(|l| {
                    Ok::<_, SpecError>(ResolvedLongLivedExchange {
                        url: resolve(l.url)?,
                        grant_type: l.grant_type,
                        token_param: l.token_param,
                        send_client_id: l.send_client_id,
                    })
                })
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn rebase_replaces_the_origin_and_keeps_path_and_query() {
        let base = BaseUrl::parse("http://127.0.0.1:4000").unwrap();
        let cases = [
            (
                "https://api.x.com/2/oauth2/token",
                "http://127.0.0.1:4000/2/oauth2/token",
            ),
            (
                "https://www.pinterest.com/oauth/",
                "http://127.0.0.1:4000/oauth/",
            ),
            (
                "https://graph.instagram.com/access_token?grant_type=ig_exchange_token",
                "http://127.0.0.1:4000/access_token?grant_type=ig_exchange_token",
            ),
        ];
        for (from, to) in cases {
            assert_eq!(rebase(&url(from), &base).as_str(), to, "rebasing {from}");
        }
    }

    #[test]
    fn rebase_puts_the_base_path_in_front_of_the_endpoint_path() {
        for raw_base in [
            "http://sandbox.test/fake/tiktok",
            "http://sandbox.test/fake/tiktok/",
        ] {
            let base = BaseUrl::parse(raw_base).unwrap();
            assert_eq!(
                rebase(&url("https://open.tiktokapis.com/v2/oauth/token/"), &base).as_str(),
                "http://sandbox.test/fake/tiktok/v2/oauth/token/",
                "base {raw_base}"
            );
        }
    }

    #[test]
    fn base_urls_that_cannot_carry_endpoints_are_rejected() {
        let cases = [
            ("", "empty"),
            ("/relative", "relative"),
            ("ftp://host", "not http(s)"),
            ("mailto:a@b.c", "no host"),
            ("http://host/?a=b", "query"),
            ("http://host/#frag", "fragment"),
        ];
        for (raw, why) in cases {
            assert!(BaseUrl::parse(raw).is_err(), "{raw:?} ({why}) was accepted");
        }
    }

    #[test]
    fn resolving_without_a_base_keeps_the_real_urls() {
        let resolved = crate::reddit::SPEC.resolve(None).unwrap();
        assert_eq!(
            resolved.token_url.as_str(),
            "https://www.reddit.com/api/v1/access_token"
        );
    }

    #[test]
    fn resolving_with_a_base_moves_every_url() {
        let base = BaseUrl::parse("http://localhost:9/ig").unwrap();
        let resolved = crate::instagram::INSTAGRAM_LOGIN
            .resolve(Some(&base))
            .unwrap();
        let mut urls = vec![resolved.authorize_url, resolved.token_url];
        if let ResolvedRefresh::ExtendAccessToken { url, .. } = resolved.refresh {
            urls.push(url);
        }
        urls.extend(resolved.long_lived_exchange.map(|l| l.url));
        assert_eq!(urls.len(), 4);
        for u in urls {
            assert!(
                u.as_str().starts_with("http://localhost:9/ig/"),
                "{u} not rebased"
            );
        }
    }
}
