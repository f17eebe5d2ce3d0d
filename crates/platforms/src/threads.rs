//! Threads. Facts: platforms.md §10.

use std::sync::Arc;

use async_trait::async_trait;
use plugboard_core::{Clock, Platform};
use serde_json::{Map, Value};
use url::Url;

use crate::connector::{
    AuthorizeParams, Connector, ConnectorError, Identity, PlatformApp, TokenSet,
};
use crate::engine::{Dialect, Engine, id_at, str_at};
use crate::pkce::PkceVerifier;
use crate::spec::{
    ClientAuth, LongLivedExchange, OAuthSpec, Pkce, Refresh, ResolvedSpec, SpecError,
};

/// platforms.md §10. `client_id` is the Threads app id, distinct from the Meta app id.
/// Domains are UNCERTAIN (§19): the browser-facing authorize URL follows the 2026 docs
/// (`threads.com`; a browser would follow a redirect from `threads.net` anyway), while the
/// server-to-server calls stay on `graph.threads.net`, which production code (Nango, Postiz)
/// uses and where a redirect of a POST would be harmful. No refresh token: the 1-hour token is
/// exchanged for a 60-day one (`th_exchange_token`) and extended with `th_refresh_token`.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://threads.com/oauth/authorize",
    token_url: "https://graph.threads.net/oauth/access_token",
    refresh: Refresh::ExtendAccessToken {
        url: "https://graph.threads.net/refresh_access_token",
        grant_type: "th_refresh_token",
    },
    revoke_url: None,
    long_lived_exchange: Some(LongLivedExchange {
        url: "https://graph.threads.net/access_token",
        grant_type: "th_exchange_token",
        token_param: "access_token",
        send_client_id: false,
    }),
    scopes: &[
        "threads_basic",
        "threads_content_publish",
        "threads_manage_replies",
        "threads_read_replies",
        "threads_manage_insights",
    ],
    scope_separator: ",",
    pkce: Pkce::None,
    client_auth: ClientAuth::Body,
    client_id_param: "client_id",
    extra_authorize_params: &[],
    user_agent_required: false,
};

/// platforms.md §10 "Identity".
pub const IDENTITY_URL: &str = "https://graph.threads.net/v1.0/me?fields=id,username,name,threads_profile_picture_url,threads_biography";

/// Threads.
pub struct ThreadsConnector {
    engine: Engine,
    identity_url: Url,
}

impl ThreadsConnector {
    pub fn new(
        app: PlatformApp,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SpecError> {
        let engine = Engine::new(
            Platform::Threads,
            &SPEC,
            app,
            http,
            clock,
            Dialect::Graph,
            Dialect::Graph,
        )?;
        Ok(Self {
            identity_url: engine.api_url(IDENTITY_URL)?,
            engine,
        })
    }
}

/// `{id, username, name, threads_profile_picture_url, threads_biography}`.
pub(crate) fn parse_identity(v: &Value) -> Result<Identity, ConnectorError> {
    let username = str_at(v, "/username");
    let mut metadata = Map::new();
    if let Some(bio) = str_at(v, "/threads_biography") {
        metadata.insert("biography".into(), bio.into());
    }
    Ok(Identity {
        platform_user_id: id_at(v, "/id", "the Threads user")?,
        profile_url: username
            .as_ref()
            .map(|u| format!("https://www.threads.com/@{u}")),
        username,
        display_name: str_at(v, "/name"),
        profile_picture: str_at(v, "/threads_profile_picture_url"),
        followers_count: None,
        metadata,
    })
}

#[async_trait]
impl Connector for ThreadsConnector {
    fn platform(&self) -> Platform {
        Platform::Threads
    }

    fn spec(&self) -> &ResolvedSpec {
        &self.engine.spec
    }

    fn authorization_url(&self, params: &AuthorizeParams<'_>) -> Result<String, ConnectorError> {
        self.engine.authorization_url(params, &[])
    }

    /// Code → `{access_token, user_id}` (1 h) → 60-day token (`th_exchange_token`).
    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&PkceVerifier>,
    ) -> Result<TokenSet, ConnectorError> {
        let short = self
            .engine
            .exchange_code(code, redirect_uri, verifier)
            .await?;
        self.engine.long_lived(short).await
    }

    async fn identity(&self, tokens: &TokenSet) -> Result<Identity, ConnectorError> {
        let v = self
            .engine
            .get_json(&self.identity_url, &tokens.access_token, &[])
            .await?;
        parse_identity(&v)
    }

    /// `th_refresh_token` extension of the long-lived token (≥24 h old, unexpired).
    async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, ConnectorError> {
        self.engine.refresh(tokens).await
    }

    async fn revoke(&self, _tokens: &TokenSet) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported(
            "Threads has no revocation endpoint; the user removes the app in Threads' settings",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_threads_user_gets_a_threads_com_profile_url() {
        let v = json!({"id": "26193620000000001", "username": "ada.bakes", "name": "Ada",
            "threads_profile_picture_url": "https://scontent.cdninstagram.com/t.jpg", "threads_biography": "cakes"});
        let mut metadata = Map::new();
        metadata.insert("biography".into(), json!("cakes"));
        assert_eq!(
            parse_identity(&v).unwrap(),
            Identity {
                platform_user_id: "26193620000000001".into(),
                username: Some("ada.bakes".into()),
                display_name: Some("Ada".into()),
                profile_picture: Some("https://scontent.cdninstagram.com/t.jpg".into()),
                profile_url: Some("https://www.threads.com/@ada.bakes".into()),
                followers_count: None,
                metadata,
            }
        );
    }
}
