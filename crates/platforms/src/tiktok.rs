//! TikTok Login Kit (OAuth v2) for the Content Posting API. Facts: platforms.md §5.

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
use crate::token::TokenTypeHint;

/// platforms.md §5. The client id is `client_key` at authorize and token; scopes are
/// comma-separated; the trailing slashes are part of the URLs. This is the web flow, which has
/// no PKCE (desktop/mobile flows require it, with a reported hex-encoding quirk that is
/// UNCERTAIN, §19, and irrelevant here). Refresh tokens rotate; lifetimes changed across doc
/// versions (UNCERTAIN, §19), so only `expires_in`/`refresh_expires_in` are to be trusted.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://www.tiktok.com/v2/auth/authorize/",
    token_url: "https://open.tiktokapis.com/v2/oauth/token/",
    refresh: Refresh::Grant {
        url: "https://open.tiktokapis.com/v2/oauth/token/",
    },
    revoke_url: Some("https://open.tiktokapis.com/v2/oauth/revoke/"),
    long_lived_exchange: None,
    // basic: open_id, avatar, display name; profile: username, deep link; stats: followers.
    scopes: &[
        "user.info.basic",
        "user.info.profile",
        "user.info.stats",
        "video.publish",
        "video.upload",
    ],
    scope_separator: ",",
    pkce: Pkce::None,
    client_auth: ClientAuth::Body,
    client_id_param: "client_key",
    extra_authorize_params: &[],
    user_agent_required: false,
};

/// platforms.md §5 "Identity" (Bearer; `username` and `profile_deep_link` need
/// `user.info.profile`).
pub const USER_INFO_URL: &str = "https://open.tiktokapis.com/v2/user/info/?fields=open_id,union_id,avatar_url,display_name,username,profile_deep_link";

/// TikTok Login Kit (web).
pub struct TiktokConnector {
    engine: Engine,
    user_info_url: Url,
}

impl TiktokConnector {
    pub fn new(
        app: PlatformApp,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SpecError> {
        let engine = Engine::new(
            Platform::Tiktok,
            &SPEC,
            app,
            http,
            clock,
            Dialect::Tiktok,
            Dialect::Tiktok,
        )?;
        Ok(Self {
            user_info_url: engine.api_url(USER_INFO_URL)?,
            engine,
        })
    }
}

/// `{"data":{"user":{open_id, union_id, avatar_url, display_name, username,
/// profile_deep_link}},"error":{"code":"ok"}}` (the error was checked by the engine).
pub(crate) fn parse_identity(v: &Value) -> Result<Identity, ConnectorError> {
    let user = v
        .pointer("/data/user")
        .filter(|u| u.is_object())
        .ok_or_else(|| malformed("the TikTok user answer has no data.user"))?;
    let username = str_at(user, "/username");
    let mut metadata = Map::new();
    if let Some(union_id) = str_at(user, "/union_id") {
        metadata.insert("unionId".into(), union_id.into());
    }
    Ok(Identity {
        platform_user_id: id_at(user, "/open_id", "the TikTok user")?,
        profile_url: str_at(user, "/profile_deep_link").or_else(|| {
            username
                .as_ref()
                .map(|u| format!("https://www.tiktok.com/@{u}"))
        }),
        username,
        display_name: str_at(user, "/display_name"),
        profile_picture: str_at(user, "/avatar_url"),
        followers_count: count_at(user, "/follower_count"),
        metadata,
    })
}

#[async_trait]
impl Connector for TiktokConnector {
    fn platform(&self) -> Platform {
        Platform::Tiktok
    }

    fn spec(&self) -> &ResolvedSpec {
        &self.engine.spec
    }

    fn authorization_url(&self, params: &AuthorizeParams<'_>) -> Result<String, ConnectorError> {
        self.engine.authorization_url(params, &[])
    }

    /// Flat v2 answer with `open_id` (kept as the token's user id); an `error` in it fails
    /// the exchange even with HTTP 200 (§5).
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
            .get_json(&self.user_info_url, &tokens.access_token, &[])
            .await?;
        parse_identity(&v)
    }

    /// Rotating: always store the newest refresh token (§5).
    async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, ConnectorError> {
        self.engine.refresh(tokens).await
    }

    /// TikTok's revoke endpoint takes the access token (§5).
    async fn revoke(&self, tokens: &TokenSet) -> Result<(), ConnectorError> {
        self.engine
            .revoke_token(&tokens.access_token, TokenTypeHint::AccessToken)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_tiktok_user_is_named_by_open_id_and_keeps_the_union_id() {
        let v = json!({"data": {"user": {
            "open_id": "723f24d7-e717-40f8-a2b6-cb8464cd23b4", "union_id": "c9c60f44-a68e-4f5d-84dd-ce22faeb0ba1",
            "avatar_url": "https://p16.tiktokcdn.com/a.jpeg", "display_name": "Ada", "username": "ada.l",
            "profile_deep_link": "https://vm.tiktok.com/ZMabc/"}},
            "error": {"code": "ok", "message": "", "log_id": "2022"}});
        let mut metadata = Map::new();
        metadata.insert(
            "unionId".into(),
            json!("c9c60f44-a68e-4f5d-84dd-ce22faeb0ba1"),
        );
        assert_eq!(
            parse_identity(&v).unwrap(),
            Identity {
                platform_user_id: "723f24d7-e717-40f8-a2b6-cb8464cd23b4".into(),
                username: Some("ada.l".into()),
                display_name: Some("Ada".into()),
                profile_picture: Some("https://p16.tiktokcdn.com/a.jpeg".into()),
                profile_url: Some("https://vm.tiktok.com/ZMabc/".into()),
                followers_count: None,
                metadata,
            }
        );
    }

    #[test]
    fn without_a_deep_link_the_profile_url_is_built_from_the_username() {
        let v = json!({"data": {"user": {"open_id": "o", "username": "ada.l"}}});
        assert_eq!(
            parse_identity(&v).unwrap().profile_url.as_deref(),
            Some("https://www.tiktok.com/@ada.l")
        );
        assert!(matches!(
            parse_identity(&json!({"data": {}})),
            Err(ConnectorError::Malformed(_))
        ));
    }
}
