//! Reddit. Facts: platforms.md §9.

use std::sync::Arc;

use async_trait::async_trait;
use plugboard_core::{Clock, Platform};
use serde_json::{Map, Value};
use url::Url;

use crate::connector::{
    AuthorizeParams, Connector, ConnectorError, Identity, PlatformApp, TokenSet,
};
use crate::engine::{Dialect, Engine, count_at, id_at, str_at};
use crate::pkce::PkceVerifier;
use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh, ResolvedSpec, SpecError};

/// platforms.md §9. Without `duration=permanent` there is no refresh token and the connection
/// dies after an hour. Basic auth at the token endpoint; a descriptive User-Agent is mandatory
/// on every call including the token ones (generic ones are throttled). Whether refresh now
/// rotates is UNCERTAIN (§19): keep any new refresh token returned.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://www.reddit.com/api/v1/authorize",
    token_url: "https://www.reddit.com/api/v1/access_token",
    refresh: Refresh::Grant {
        url: "https://www.reddit.com/api/v1/access_token",
    },
    revoke_url: Some("https://www.reddit.com/api/v1/revoke_token"),
    long_lived_exchange: None,
    // Postiz's set plus `mysubreddits` to offer the user's subreddits when posting.
    scopes: &["identity", "read", "submit", "flair", "mysubreddits"],
    scope_separator: " ",
    pkce: Pkce::None,
    client_auth: ClientAuth::Basic,
    client_id_param: "client_id",
    extra_authorize_params: &[("duration", "permanent")],
    user_agent_required: true,
};

/// platforms.md §9 "Identity" (API calls go to `oauth.reddit.com`, Bearer, with the
/// descriptive User-Agent like every Reddit call).
pub const ME_URL: &str = "https://oauth.reddit.com/api/v1/me";

/// Reddit.
pub struct RedditConnector {
    engine: Engine,
    me_url: Url,
}

impl RedditConnector {
    pub fn new(
        app: PlatformApp,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SpecError> {
        let engine = Engine::new(
            Platform::Reddit,
            &SPEC,
            app,
            http,
            clock,
            Dialect::Reddit,
            Dialect::Reddit,
        )?;
        Ok(Self {
            me_url: engine.api_url(ME_URL)?,
            engine,
        })
    }
}

/// `{id (base36), name, icon_img (HTML-escaped), subreddit:{subscribers}}`.
pub(crate) fn parse_identity(v: &Value) -> Result<Identity, ConnectorError> {
    let name = str_at(v, "/name");
    Ok(Identity {
        platform_user_id: id_at(v, "/id", "the Reddit user")?,
        display_name: name.clone(),
        profile_url: name
            .as_ref()
            .map(|n| format!("https://www.reddit.com/user/{n}")),
        username: name,
        // Reddit HTML-escapes the query of its avatar URLs (§9).
        profile_picture: str_at(v, "/icon_img").map(|u| u.replace("&amp;", "&")),
        followers_count: count_at(v, "/subreddit/subscribers"),
        metadata: Map::new(),
    })
}

#[async_trait]
impl Connector for RedditConnector {
    fn platform(&self) -> Platform {
        Platform::Reddit
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
            .get_json(&self.me_url, &tokens.access_token, &[])
            .await?;
        parse_identity(&v)
    }

    /// Historically non-rotating; a refresh token that does come back replaces the old
    /// (UNCERTAIN, §19).
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
    fn the_reddit_user_gets_an_unescaped_avatar_and_a_user_url() {
        let v = json!({"id": "1w72k4x0", "name": "ada_l",
            "icon_img": "https://styles.redditmedia.com/t5_1/styles/profileIcon_x.png?width=256&amp;height=256&amp;s=abc",
            "snoovatar_img": "", "subreddit": {"display_name_prefixed": "u/ada_l", "subscribers": 5}});
        assert_eq!(
            parse_identity(&v).unwrap(),
            Identity {
                platform_user_id: "1w72k4x0".into(),
                username: Some("ada_l".into()),
                display_name: Some("ada_l".into()),
                profile_picture: Some(
                    "https://styles.redditmedia.com/t5_1/styles/profileIcon_x.png?width=256&height=256&s=abc".into()
                ),
                profile_url: Some("https://www.reddit.com/user/ada_l".into()),
                followers_count: Some(5),
                metadata: Map::new(),
            }
        );
    }
}
