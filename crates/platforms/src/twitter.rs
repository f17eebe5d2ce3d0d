//! X (Twitter): OAuth 2.0 authorization code with PKCE. Facts: platforms.md §1.

use std::sync::Arc;

use async_trait::async_trait;
use plugboard_core::{Clock, Platform};
use serde_json::{Map, Value};
use url::Url;

use crate::connector::{
    AuthorizeParams, Connector, ConnectorError, Identity, PlatformApp, TokenSet,
};
use crate::engine::{Dialect, Engine, count_at, id_at, malformed, str_at};
use crate::pkce::PkceVerifier;
use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh, ResolvedSpec, SpecError};

/// platforms.md §1. PKCE is mandatory even for confidential clients, and a confidential
/// client must authenticate with Basic (a secret in the body is refused). The refresh token
/// is issued only with `offline.access` and rotates on every use.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://x.com/i/oauth2/authorize",
    token_url: "https://api.x.com/2/oauth2/token",
    refresh: Refresh::Grant {
        url: "https://api.x.com/2/oauth2/token",
    },
    revoke_url: Some("https://api.x.com/2/oauth2/revoke"),
    long_lived_exchange: None,
    // `media.write` for the v2 media upload (v1.1 upload is deprecated).
    scopes: &[
        "tweet.read",
        "tweet.write",
        "users.read",
        "media.write",
        "offline.access",
    ],
    scope_separator: " ",
    pkce: Pkce::S256,
    client_auth: ClientAuth::Basic,
    client_id_param: "client_id",
    extra_authorize_params: &[],
    user_agent_required: false,
};

/// platforms.md §1 "Identity after exchange" (needs `users.read` + `tweet.read`).
pub const IDENTITY_URL: &str = "https://api.x.com/2/users/me?user.fields=profile_image_url,verified,description,public_metrics";

/// X: the standard code flow with PKCE; rotating refresh tokens; RFC 7009 revocation.
pub struct TwitterConnector {
    engine: Engine,
    identity_url: Url,
}

impl TwitterConnector {
    pub fn new(
        app: PlatformApp,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SpecError> {
        let engine = Engine::new(
            Platform::Twitter,
            &SPEC,
            app,
            http,
            clock,
            Dialect::X,
            Dialect::X,
        )?;
        Ok(Self {
            identity_url: engine.api_url(IDENTITY_URL)?,
            engine,
        })
    }
}

/// `{"data":{id, name, username, profile_image_url, verified, public_metrics}}`.
pub(crate) fn parse_identity(v: &Value) -> Result<Identity, ConnectorError> {
    let user = v
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| malformed("the X user answer has no data"))?;
    let username = str_at(user, "/username");
    let mut metadata = Map::new();
    if let Some(verified) = user.get("verified").and_then(Value::as_bool) {
        metadata.insert("verified".into(), verified.into());
    }
    Ok(Identity {
        platform_user_id: id_at(user, "/id", "the X user")?,
        profile_url: username.as_ref().map(|u| format!("https://x.com/{u}")),
        username,
        display_name: str_at(user, "/name"),
        profile_picture: str_at(user, "/profile_image_url"),
        followers_count: count_at(user, "/public_metrics/followers_count"),
        metadata,
    })
}

#[async_trait]
impl Connector for TwitterConnector {
    fn platform(&self) -> Platform {
        Platform::Twitter
    }

    fn spec(&self) -> &ResolvedSpec {
        &self.engine.spec
    }

    fn authorization_url(&self, params: &AuthorizeParams<'_>) -> Result<String, ConnectorError> {
        self.engine.authorization_url(params, &[])
    }

    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&PkceVerifier>,
    ) -> Result<TokenSet, ConnectorError> {
        self.engine
            .exchange_code(code, redirect_uri, verifier)
            .await
    }

    async fn identity(&self, tokens: &TokenSet) -> Result<Identity, ConnectorError> {
        let v = self
            .engine
            .get_json(&self.identity_url, &tokens.access_token, &[])
            .await?;
        parse_identity(&v)
    }

    /// Rotating: the answer carries the new refresh token, which the caller must store
    /// before using the access token (platforms.md §1 pitfalls).
    async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, ConnectorError> {
        self.engine.refresh(tokens).await
    }

    async fn revoke(&self, tokens: &TokenSet) -> Result<(), ConnectorError> {
        self.engine.revoke_grant(tokens).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_x_user_becomes_an_identity_with_handle_url_and_followers() {
        let v = json!({"data": {
            "id": "1445880548472328192", "name": "Ada", "username": "ada_l",
            "profile_image_url": "https://pbs.twimg.com/profile_images/1/a_normal.jpg",
            "verified": false, "description": "hi",
            "public_metrics": {"followers_count": 42, "following_count": 1, "tweet_count": 7, "listed_count": 0}
        }});
        let mut metadata = Map::new();
        metadata.insert("verified".into(), false.into());
        assert_eq!(
            parse_identity(&v).unwrap(),
            Identity {
                platform_user_id: "1445880548472328192".into(),
                username: Some("ada_l".into()),
                display_name: Some("Ada".into()),
                profile_picture: Some("https://pbs.twimg.com/profile_images/1/a_normal.jpg".into()),
                profile_url: Some("https://x.com/ada_l".into()),
                followers_count: Some(42),
                metadata,
            }
        );
    }

    #[test]
    fn x_user_answers_without_a_user_id_are_malformed() {
        let cases = [
            (json!({}), "no data"),
            (json!({"data": null}), "null data"),
            (json!({"data": {"username": "a"}}), "no id"),
            (json!({"data": {"id": 1.5}}), "fractional id"),
        ];
        for (v, why) in cases {
            assert!(
                matches!(parse_identity(&v), Err(ConnectorError::Malformed(_))),
                "{why}"
            );
        }
    }
}
