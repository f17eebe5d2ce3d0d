//! Instagram, through either of its two incompatible logins (platforms.md §2), chosen by
//! Zernio's `loginMethod` connect parameter.

use std::sync::Arc;

use async_trait::async_trait;
use plugboard_core::{Clock, Platform};
use serde_json::{Map, Value};
use url::Url;

use crate::connector::{
    AuthorizeParams, Connector, ConnectorError, Destination, Identity, PlatformApp, SelectionKind,
    TokenSet,
};
use crate::engine::{Dialect, Engine, count_at, id_string, str_at, tokens_from_json};
use crate::facebook;
use crate::pkce::PkceVerifier;
use crate::spec::{
    ClientAuth, LongLivedExchange, OAuthSpec, Pkce, Refresh, ResolvedSpec, SpecError,
};

/// Zernio's `loginMethod`: `instagram_login` (default) or `facebook_login`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoginMethod {
    #[default]
    InstagramLogin,
    FacebookLogin,
}

impl LoginMethod {
    pub const fn spec(self) -> &'static OAuthSpec {
        match self {
            LoginMethod::InstagramLogin => &INSTAGRAM_LOGIN,
            LoginMethod::FacebookLogin => &FACEBOOK_LOGIN,
        }
    }
}

/// "Instagram API with Instagram Login", platforms.md §2a. `client_id` is the Instagram app
/// id, not the Facebook one. No refresh token: the 1-hour token is exchanged for a 60-day one
/// (`ig_exchange_token`), which is then extended (`ig_refresh_token`) while ≥24 h old and
/// unexpired. The optional `enable_fb_login=0` / `force_reauth=true` parameters have
/// UNCERTAIN semantics, so none is sent by default; `force_reauth` is added per request when
/// the caller asks for `forceReauth`.
pub const INSTAGRAM_LOGIN: OAuthSpec = OAuthSpec {
    authorize_url: "https://www.instagram.com/oauth/authorize",
    token_url: "https://api.instagram.com/oauth/access_token",
    refresh: Refresh::ExtendAccessToken {
        url: "https://graph.instagram.com/refresh_access_token",
        grant_type: "ig_refresh_token",
    },
    revoke_url: None,
    long_lived_exchange: Some(LongLivedExchange {
        url: "https://graph.instagram.com/access_token",
        grant_type: "ig_exchange_token",
        token_param: "access_token",
        send_client_id: false,
    }),
    // The `business_*` names stopped working on 27 Jan 2025.
    scopes: &[
        "instagram_business_basic",
        "instagram_business_content_publish",
    ],
    scope_separator: ",",
    pkce: Pkce::None,
    client_auth: ClientAuth::Body,
    client_id_param: "client_id",
    extra_authorize_params: &[],
    user_agent_required: false,
};

/// "Instagram API with Facebook Login", platforms.md §2b: plain Facebook Login (§3) with
/// Instagram scopes; the account is then picked among the Pages' linked IG accounts.
pub const FACEBOOK_LOGIN: OAuthSpec = OAuthSpec {
    scopes: &[
        "instagram_basic",
        "pages_show_list",
        "pages_read_engagement",
        "business_management",
        "instagram_content_publish",
        "instagram_manage_comments",
        "instagram_manage_insights",
    ],
    ..crate::facebook::SPEC
};

/// platforms.md §2a "Identity": `user_id` is the professional account id used for
/// publishing, `id` the app-scoped one. Versioned because unversioned calls get upgraded.
pub const IDENTITY_URL: &str = "https://graph.instagram.com/v24.0/me?fields=user_id,username,name,account_type,profile_picture_url,followers_count";

/// platforms.md §2b: the user's Pages with their linked Instagram professional accounts.
pub const FACEBOOK_PAGES_URL: &str = "https://graph.facebook.com/v24.0/me/accounts?fields=id,name,access_token,instagram_business_account{id,username,name,profile_picture_url}&limit=100";

/// "Instagram API with Instagram Login" (platforms.md §2a).
pub struct InstagramLoginConnector {
    engine: Engine,
    identity_url: Url,
}

impl InstagramLoginConnector {
    pub fn new(
        app: PlatformApp,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SpecError> {
        let engine = Engine::new(
            Platform::Instagram,
            &INSTAGRAM_LOGIN,
            app,
            http,
            clock,
            Dialect::InstagramApi,
            Dialect::Graph,
        )?;
        Ok(Self {
            identity_url: engine.api_url(IDENTITY_URL)?,
            engine,
        })
    }
}

/// The code exchange answers `{"data":[{access_token, user_id, permissions}]}` in the docs
/// and flat in production (platforms.md §2a, §19): both become the flat object.
pub(crate) fn unwrap_code_exchange(v: Value) -> Value {
    match v
        .get("data")
        .and_then(Value::as_array)
        .and_then(|d| d.first())
    {
        Some(first) if first.is_object() => first.clone(),
        _ => v,
    }
}

/// `/me` of Instagram Login. Personal accounts cannot publish through the API (§2a
/// pitfalls), so they are refused here rather than failing at the first post.
pub(crate) fn parse_identity(v: &Value, tokens: &TokenSet) -> Result<Identity, ConnectorError> {
    let account_type = str_at(v, "/account_type");
    if account_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("PERSONAL"))
    {
        return Err(ConnectorError::NotEligible {
            code: "personal_account_not_supported",
            message: "This is a personal Instagram account; only Business and Creator accounts can be connected".into(),
        });
    }
    let professional_id = match v.get("user_id") {
        Some(id) => id_string(id)?,
        None => None,
    };
    let platform_user_id = professional_id
        .or_else(|| tokens.user_id.clone())
        .ok_or_else(|| ConnectorError::Malformed("the Instagram account has no user_id".into()))?;
    let mut metadata = Map::new();
    if let Some(scoped) = v.get("id").map(id_string).transpose()?.flatten() {
        metadata.insert("instagramScopedId".into(), scoped.into());
    }
    if let Some(t) = account_type {
        metadata.insert("accountType".into(), t.into());
    }
    let username = str_at(v, "/username");
    Ok(Identity {
        platform_user_id,
        profile_url: username
            .as_ref()
            .map(|u| format!("https://www.instagram.com/{u}")),
        username,
        display_name: str_at(v, "/name"),
        profile_picture: str_at(v, "/profile_picture_url"),
        followers_count: count_at(v, "/followers_count"),
        metadata,
    })
}

#[async_trait]
impl Connector for InstagramLoginConnector {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    fn spec(&self) -> &ResolvedSpec {
        &self.engine.spec
    }

    fn authorization_url(&self, params: &AuthorizeParams<'_>) -> Result<String, ConnectorError> {
        // Semantics UNCERTAIN (platforms.md §2a), so sent only when the caller asks.
        let extra: &[(&str, &str)] = if params.force_reauth {
            &[("force_reauth", "true")]
        } else {
            &[]
        };
        self.engine.authorization_url(params, extra)
    }

    /// Code → 1-hour token → 60-day token (`ig_exchange_token`), keeping the `user_id`
    /// and `permissions` of the first answer.
    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&PkceVerifier>,
    ) -> Result<TokenSet, ConnectorError> {
        let json = self
            .engine
            .exchange_code_json(code, redirect_uri, verifier)
            .await?;
        let short = tokens_from_json(
            &unwrap_code_exchange(json),
            self.engine.now(),
            &self.engine.requested_scopes(),
        )?;
        self.engine.long_lived(short).await
    }

    async fn identity(&self, tokens: &TokenSet) -> Result<Identity, ConnectorError> {
        let v = self
            .engine
            .get_json(&self.identity_url, &tokens.access_token, &[])
            .await?;
        parse_identity(&v, tokens)
    }

    /// `ig_refresh_token` extension: the long-lived token itself is renewed (works once it
    /// is 24 h old and still valid).
    async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, ConnectorError> {
        self.engine.refresh(tokens).await
    }

    async fn revoke(&self, _tokens: &TokenSet) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported(
            "Instagram has no revocation endpoint; the user removes the app in Instagram's settings",
        ))
    }
}

/// "Instagram API with Facebook Login" (platforms.md §2b): Facebook Login with the Meta
/// app's credentials and Facebook's endpoints; the account is picked among the granted
/// Pages' linked Instagram accounts, and the Page token becomes the account's token.
pub struct InstagramFacebookLoginConnector {
    engine: Engine,
    identity_url: Url,
    pages_url: Url,
}

impl InstagramFacebookLoginConnector {
    /// `app` is the Facebook app, and its `base_url` Facebook's.
    pub fn new(
        app: PlatformApp,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SpecError> {
        let engine = Engine::new(
            Platform::Instagram,
            &FACEBOOK_LOGIN,
            app,
            http,
            clock,
            Dialect::Graph,
            Dialect::Graph,
        )?;
        Ok(Self {
            identity_url: engine.api_url(facebook::IDENTITY_URL)?,
            pages_url: engine.api_url(FACEBOOK_PAGES_URL)?,
            engine,
        })
    }
}

/// A Page with a linked Instagram professional account; other Pages are skipped.
pub(crate) fn parse_linked_page(page: &Value) -> Option<Destination> {
    let account = page
        .get("instagram_business_account")
        .filter(|a| a.is_object())?;
    let page_id = page.get("id").and_then(|id| id_string(id).ok().flatten())?;
    let page_name = str_at(page, "/name");
    let username = str_at(account, "/username");
    let mut extra = Map::new();
    extra.insert("instagram_business_account".into(), account.clone());
    if let Some(name) = &page_name {
        extra.insert("pageName".into(), name.clone().into());
    }
    Some(Destination {
        name: page_name
            .or_else(|| username.clone())
            .unwrap_or_else(|| page_id.clone()),
        url: username
            .as_ref()
            .map(|u| format!("https://www.instagram.com/{u}")),
        username,
        picture: str_at(account, "/profile_picture_url"),
        access_token: str_at(page, "/access_token"),
        extra,
        id: page_id,
    })
}

#[async_trait]
impl Connector for InstagramFacebookLoginConnector {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    fn spec(&self) -> &ResolvedSpec {
        &self.engine.spec
    }

    fn selection(&self) -> Option<SelectionKind> {
        Some(SelectionKind::InstagramAccount)
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
        facebook::exchange_long_lived(&self.engine, code, redirect_uri, verifier).await
    }

    /// The Facebook user who logged in; the Instagram account comes with the selection.
    async fn identity(&self, tokens: &TokenSet) -> Result<Identity, ConnectorError> {
        let v = self
            .engine
            .get_json(&self.identity_url, &tokens.access_token, &[])
            .await?;
        facebook::parse_user(&v)
    }

    async fn destinations(
        &self,
        tokens: &TokenSet,
        _identity: &Identity,
    ) -> Result<Vec<Destination>, ConnectorError> {
        let pages =
            facebook::graph_list(&self.engine, &self.pages_url, &tokens.access_token).await?;
        Ok(pages.iter().filter_map(parse_linked_page).collect())
    }

    async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, ConnectorError> {
        self.engine.refresh(tokens).await
    }

    async fn revoke(&self, _tokens: &TokenSet) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported(
            "Facebook revokes only the whole app for the user (DELETE /{user-id}/permissions)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration};
    use serde_json::json;

    fn now() -> DateTime<chrono::Utc> {
        DateTime::from_timestamp(1_750_000_000, 0).unwrap()
    }

    /// Beyond 2^53 (9007199254740992): an f64 would round the last digits.
    const BIG_ID: &str = "17841400123456789";

    #[test]
    fn both_code_exchange_shapes_give_the_same_tokens_and_an_exact_big_user_id() {
        let flat: Value = serde_json::from_str(&format!(
            r#"{{"access_token":"IGQVJshort","user_id":{BIG_ID},"permissions":"instagram_business_basic,instagram_business_content_publish"}}"#
        ))
        .unwrap();
        let documented: Value = serde_json::from_str(&format!(
            r#"{{"data":[{{"access_token":"IGQVJshort","user_id":{BIG_ID},"permissions":"instagram_business_basic,instagram_business_content_publish"}}]}}"#
        ))
        .unwrap();
        let as_string = json!({"access_token": "IGQVJshort", "user_id": BIG_ID,
            "permissions": "instagram_business_basic,instagram_business_content_publish"});
        let expected = TokenSet {
            access_token: "IGQVJshort".into(),
            refresh_token: None,
            expires_at: None,
            refresh_expires_at: None,
            scopes: vec![
                "instagram_business_basic".into(),
                "instagram_business_content_publish".into(),
            ],
            user_id: Some(BIG_ID.into()),
        };
        for (why, v) in [
            ("flat", flat),
            ("data array", documented),
            ("string id", as_string),
        ] {
            let tokens = tokens_from_json(&unwrap_code_exchange(v), now(), &[]).unwrap();
            assert_eq!(tokens, expected, "{why}");
        }
    }

    #[test]
    fn the_long_lived_answer_sets_the_sixty_day_expiry() {
        let v =
            json!({"access_token": "IGQVJlong", "token_type": "bearer", "expires_in": 5_184_000});
        let tokens = tokens_from_json(&v, now(), &[]).unwrap();
        assert_eq!(
            tokens.expires_at,
            Some(now() + Duration::seconds(5_184_000))
        );
    }

    fn tokens() -> TokenSet {
        TokenSet {
            access_token: "IGQVJlong".into(),
            refresh_token: None,
            expires_at: None,
            refresh_expires_at: None,
            scopes: vec![],
            user_id: Some("1".into()),
        }
    }

    #[test]
    fn the_professional_account_id_names_the_account_and_the_scoped_id_is_kept() {
        let v: Value = serde_json::from_str(&format!(
            r#"{{"id":"7590000000000001","user_id":{BIG_ID},"username":"ada.bakes","name":"Ada",
                "account_type":"BUSINESS","profile_picture_url":"https://cdn.example/ig.jpg","followers_count":1200}}"#
        ))
        .unwrap();
        let mut metadata = Map::new();
        metadata.insert("instagramScopedId".into(), json!("7590000000000001"));
        metadata.insert("accountType".into(), json!("BUSINESS"));
        assert_eq!(
            parse_identity(&v, &tokens()).unwrap(),
            Identity {
                platform_user_id: BIG_ID.into(),
                username: Some("ada.bakes".into()),
                display_name: Some("Ada".into()),
                profile_picture: Some("https://cdn.example/ig.jpg".into()),
                profile_url: Some("https://www.instagram.com/ada.bakes".into()),
                followers_count: Some(1200),
                metadata,
            }
        );
    }

    #[test]
    fn personal_instagram_accounts_are_not_eligible() {
        for t in ["PERSONAL", "personal"] {
            let v = json!({"id": "1", "user_id": "2", "username": "me", "account_type": t});
            match parse_identity(&v, &tokens()) {
                Err(ConnectorError::NotEligible { code, .. }) => {
                    assert_eq!(code, "personal_account_not_supported")
                }
                other => panic!("{t}: {other:?}"),
            }
        }
    }

    #[test]
    fn without_user_id_in_me_the_one_from_the_token_answer_stands() {
        let v = json!({"id": "759", "username": "ada", "account_type": "MEDIA_CREATOR"});
        assert_eq!(parse_identity(&v, &tokens()).unwrap().platform_user_id, "1");
    }

    #[test]
    fn only_pages_with_a_linked_instagram_account_are_offered() {
        let pages = json!([
            {"id": "111", "name": "Bakery", "access_token": "EAAPAGE1",
             "instagram_business_account": {"id": BIG_ID, "username": "ada.bakes", "name": "Ada Bakes",
                "profile_picture_url": "https://cdn.example/ig.jpg"}},
            {"id": "222", "name": "No Instagram here", "access_token": "EAAPAGE2"},
        ]);
        let got: Vec<_> = pages
            .as_array()
            .unwrap()
            .iter()
            .filter_map(parse_linked_page)
            .collect();
        let mut extra = Map::new();
        extra.insert(
            "instagram_business_account".into(),
            json!({"id": BIG_ID, "username": "ada.bakes", "name": "Ada Bakes",
                "profile_picture_url": "https://cdn.example/ig.jpg"}),
        );
        extra.insert("pageName".into(), json!("Bakery"));
        assert_eq!(
            got,
            vec![Destination {
                id: "111".into(),
                name: "Bakery".into(),
                username: Some("ada.bakes".into()),
                picture: Some("https://cdn.example/ig.jpg".into()),
                url: Some("https://www.instagram.com/ada.bakes".into()),
                access_token: Some("EAAPAGE1".into()),
                extra,
            }]
        );
    }
}
