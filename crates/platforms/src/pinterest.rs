//! Pinterest API v5. Facts: platforms.md §8.

use std::sync::Arc;

use async_trait::async_trait;
use plugboard_core::{Clock, Platform};
use serde_json::{Map, Value};
use url::Url;

use crate::connector::{
    AuthorizeParams, Connector, ConnectorError, Destination, Identity, PlatformApp, SelectionKind,
    TokenSet,
};
use crate::engine::{Dialect, Engine, count_at, id_at, str_at};
use crate::pkce::PkceVerifier;
use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh, ResolvedSpec, SpecError};

/// platforms.md §8. Basic auth is mandatory at the token endpoint; scopes are comma-separated
/// (what production uses). PKCE support is not documented (UNCERTAIN, §19), so none is sent.
/// The refresh token is "continuous" and rotates. Apps created before 2025-09-25 must add
/// `continuous_refresh=true` to the code exchange; this spec targets newer apps. No revoke
/// endpoint is documented.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://www.pinterest.com/oauth/",
    token_url: "https://api.pinterest.com/v5/oauth/token",
    refresh: Refresh::Grant {
        url: "https://api.pinterest.com/v5/oauth/token",
    },
    revoke_url: None,
    long_lived_exchange: None,
    scopes: &[
        "user_accounts:read",
        "boards:read",
        "boards:write",
        "pins:read",
        "pins:write",
    ],
    scope_separator: ",",
    pkce: Pkce::None,
    client_auth: ClientAuth::Basic,
    client_id_param: "client_id",
    extra_authorize_params: &[],
    user_agent_required: false,
};

/// platforms.md §8 "Identity".
pub const USER_ACCOUNT_URL: &str = "https://api.pinterest.com/v5/user_account";
/// §8 "Secondary selection": boards, 250 a page (the maximum), paged by `bookmark`.
pub const BOARDS_URL: &str = "https://api.pinterest.com/v5/boards?page_size=250";

/// Pinterest API v5: the user picks a board.
pub struct PinterestConnector {
    engine: Engine,
    user_account_url: Url,
    boards_url: Url,
}

impl PinterestConnector {
    pub fn new(
        app: PlatformApp,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SpecError> {
        let engine = Engine::new(
            Platform::Pinterest,
            &SPEC,
            app,
            http,
            clock,
            Dialect::Pinterest,
            Dialect::Pinterest,
        )?;
        Ok(Self {
            user_account_url: engine.api_url(USER_ACCOUNT_URL)?,
            boards_url: engine.api_url(BOARDS_URL)?,
            engine,
        })
    }
}

/// `{id, username, account_type, profile_image, business_name, follower_count, …}`.
pub(crate) fn parse_identity(v: &Value) -> Result<Identity, ConnectorError> {
    let username = str_at(v, "/username");
    let mut metadata = Map::new();
    if let Some(t) = str_at(v, "/account_type") {
        metadata.insert("accountType".into(), t.into());
    }
    Ok(Identity {
        platform_user_id: id_at(v, "/id", "the Pinterest user")?,
        display_name: str_at(v, "/business_name").or_else(|| username.clone()),
        profile_url: username
            .as_ref()
            .map(|u| format!("https://www.pinterest.com/{u}/")),
        username,
        profile_picture: str_at(v, "/profile_image"),
        followers_count: count_at(v, "/follower_count"),
        metadata,
    })
}

/// One board of `{"items":[…],"bookmark":…}`.
pub(crate) fn parse_board(board: &Value) -> Option<Destination> {
    let id = id_at(board, "/id", "a board").ok()?;
    let mut extra = Map::new();
    for key in ["description", "privacy"] {
        if let Some(v) = str_at(board, &format!("/{key}")) {
            extra.insert(key.into(), v.into());
        }
    }
    Some(Destination {
        name: str_at(board, "/name").unwrap_or_else(|| id.clone()),
        username: str_at(board, "/owner/username"),
        picture: str_at(board, "/media/image_cover_url"),
        url: None,
        access_token: None,
        extra,
        id,
    })
}

/// The `bookmark` of the next page; `null` at the end.
pub(crate) fn next_bookmark(page: &Value) -> Option<String> {
    str_at(page, "/bookmark")
}

#[async_trait]
impl Connector for PinterestConnector {
    fn platform(&self) -> Platform {
        Platform::Pinterest
    }

    fn spec(&self) -> &ResolvedSpec {
        &self.engine.spec
    }

    fn selection(&self) -> Option<SelectionKind> {
        Some(SelectionKind::PinterestBoard)
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
            .get_json(&self.user_account_url, &tokens.access_token, &[])
            .await?;
        parse_identity(&v)
    }

    async fn destinations(
        &self,
        tokens: &TokenSet,
        _identity: &Identity,
    ) -> Result<Vec<Destination>, ConnectorError> {
        let pages = self
            .engine
            .get_pages(
                &self.boards_url,
                &tokens.access_token,
                &[],
                "bookmark",
                next_bookmark,
            )
            .await?;
        Ok(pages
            .iter()
            .flat_map(|p| {
                p.get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|b| parse_board(&b))
            .collect())
    }

    /// Continuous refresh: a new refresh token every time (§8), stored by the caller.
    async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, ConnectorError> {
        self.engine.refresh(tokens).await
    }

    async fn revoke(&self, _tokens: &TokenSet) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported(
            "Pinterest documents no revocation endpoint; the user removes the app in Pinterest's settings",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_pinterest_account_prefers_the_business_name_for_display() {
        let v = json!({"account_type": "BUSINESS", "id": "549755885175", "username": "adabakes",
            "profile_image": "https://i.pinimg.com/a.jpg", "website_url": "https://ada.example",
            "business_name": "Ada Bakes", "board_count": 3, "follower_count": 77});
        let mut metadata = Map::new();
        metadata.insert("accountType".into(), json!("BUSINESS"));
        assert_eq!(
            parse_identity(&v).unwrap(),
            Identity {
                platform_user_id: "549755885175".into(),
                username: Some("adabakes".into()),
                display_name: Some("Ada Bakes".into()),
                profile_picture: Some("https://i.pinimg.com/a.jpg".into()),
                profile_url: Some("https://www.pinterest.com/adabakes/".into()),
                followers_count: Some(77),
                metadata,
            }
        );
        let pinner = json!({"account_type": "PINNER", "id": "1", "username": "ada"});
        assert_eq!(
            parse_identity(&pinner).unwrap().display_name.as_deref(),
            Some("ada")
        );
    }

    #[test]
    fn boards_keep_description_and_privacy_and_the_bookmark_pages_them() {
        let page = json!({"items": [
            {"id": "549755885175", "name": "Cakes", "description": "Layer cakes", "privacy": "PUBLIC",
             "owner": {"username": "adabakes"}, "pin_count": 12, "media": {"image_cover_url": "https://i.pinimg.com/c.jpg"}},
            {"name": "no id"}
        ], "bookmark": "Pz8xMjM="});
        let boards: Vec<_> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(parse_board)
            .collect();
        let mut extra = Map::new();
        extra.insert("description".into(), json!("Layer cakes"));
        extra.insert("privacy".into(), json!("PUBLIC"));
        assert_eq!(
            boards,
            vec![Destination {
                id: "549755885175".into(),
                name: "Cakes".into(),
                username: Some("adabakes".into()),
                picture: Some("https://i.pinimg.com/c.jpg".into()),
                url: None,
                access_token: None,
                extra,
            }]
        );
        assert_eq!(next_bookmark(&page).as_deref(), Some("Pz8xMjM="));
        assert_eq!(next_bookmark(&json!({"items": [], "bookmark": null})), None);
    }
}
