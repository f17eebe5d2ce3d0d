//! Snapchat Public Profile API over the Snap Marketing API OAuth app. Facts: platforms.md §11.

use std::sync::Arc;

use async_trait::async_trait;
use plugboard_core::{Clock, Platform};
use serde_json::{Map, Value};
use url::Url;

use crate::connector::{
    AuthorizeParams, Connector, ConnectorError, Destination, Identity, PlatformApp, SelectionKind,
    TokenSet,
};
use crate::engine::{Dialect, Engine, count_at, fill_segment, id_at, query_param, str_at};
use crate::pkce::PkceVerifier;
use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh, ResolvedSpec, SpecError};

/// platforms.md §11. Posting goes through the allowlisted Public Profile API, which rides on
/// the Marketing API OAuth app (Snap Kit Login Kit cannot post). Nango disables PKCE here.
/// Whether refresh tokens rotate is UNCERTAIN (§19): keep any new one returned.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://accounts.snapchat.com/login/oauth2/authorize",
    token_url: "https://accounts.snapchat.com/login/oauth2/access_token",
    refresh: Refresh::Grant {
        url: "https://accounts.snapchat.com/login/oauth2/access_token",
    },
    revoke_url: None,
    long_lived_exchange: None,
    // Profile API for public profiles; Marketing API for `/v1/me` and organizations.
    scopes: &["snapchat-profile-api", "snapchat-marketing-api"],
    scope_separator: " ",
    pkce: Pkce::None,
    client_auth: ClientAuth::Body,
    client_id_param: "client_id",
    extra_authorize_params: &[],
    user_agent_required: false,
};

/// platforms.md §11 "Identity" (Marketing API).
pub const ME_URL: &str = "https://adsapi.snapchat.com/v1/me";
/// The member's organizations, §11.
pub const ORGANIZATIONS_URL: &str = "https://adsapi.snapchat.com/v1/me/organizations";
/// One organization's Public Profiles, §11 "Secondary selection" (Public Profile API).
pub const PUBLIC_PROFILES_URL: &str =
    "https://businessapi.snapchat.com/v1/organizations/{organization_id}/public_profiles";

/// Snapchat Public Profiles over the Marketing API login.
pub struct SnapchatConnector {
    engine: Engine,
    me_url: Url,
    organizations_url: Url,
    public_profiles_url: Url,
}

impl SnapchatConnector {
    pub fn new(
        app: PlatformApp,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SpecError> {
        let engine = Engine::new(
            Platform::Snapchat,
            &SPEC,
            app,
            http,
            clock,
            Dialect::Standard,
            Dialect::Standard,
        )?;
        Ok(Self {
            me_url: engine.api_url(ME_URL)?,
            organizations_url: engine.api_url(ORGANIZATIONS_URL)?,
            public_profiles_url: engine.api_url(PUBLIC_PROFILES_URL)?,
            engine,
        })
    }
}

/// `{"request_status":"SUCCESS","me":{id, display_name, organization_id, email, …}}`.
/// The email is not kept.
pub(crate) fn parse_identity(v: &Value) -> Result<Identity, ConnectorError> {
    let me = v
        .get("me")
        .filter(|m| m.is_object())
        .ok_or_else(|| ConnectorError::Malformed("the Snapchat answer has no me".into()))?;
    let mut metadata = Map::new();
    if let Some(org) = str_at(me, "/organization_id") {
        metadata.insert("organizationId".into(), org.into());
    }
    Ok(Identity {
        platform_user_id: id_at(me, "/id", "the Snapchat member")?,
        username: None,
        display_name: str_at(me, "/display_name"),
        profile_picture: None,
        profile_url: None,
        followers_count: None,
        metadata,
    })
}

/// Organization ids of `{"organizations":[{"sub_request_status","organization":{id,…}}]}`;
/// only ids usable as one path segment.
pub(crate) fn organization_ids(v: &Value) -> Vec<String> {
    v.get("organizations")
        .and_then(Value::as_array)
        .map(|orgs| {
            orgs.iter()
                .filter_map(|o| str_at(o, "/organization/id"))
                .filter(|id| id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
                .collect()
        })
        .unwrap_or_default()
}

/// One `public_profiles[].public_profile`, with the fields Zernio's select step keeps.
pub(crate) fn parse_public_profile(entry: &Value) -> Option<Destination> {
    let profile = entry.get("public_profile").filter(|p| p.is_object())?;
    let id = id_at(profile, "/id", "a public profile").ok()?;
    let display_name = str_at(profile, "/display_name");
    let username = str_at(profile, "/snap_user_name");
    let picture = str_at(profile, "/logo_urls/original_logo_url");
    let mut extra = Map::new();
    extra.insert("display_name".into(), display_name.clone().into());
    extra.insert("username".into(), username.clone().into());
    extra.insert("profile_image_url".into(), picture.clone().into());
    extra.insert(
        "subscriber_count".into(),
        count_at(profile, "/subscriber_count").into(),
    );
    Some(Destination {
        name: display_name
            .or_else(|| username.clone())
            .unwrap_or_else(|| id.clone()),
        url: None,
        username,
        picture,
        access_token: None,
        extra,
        id,
    })
}

/// The `cursor` of `paging.next_link`.
pub(crate) fn next_cursor(page: &Value) -> Option<String> {
    let link = page.pointer("/paging/next_link").and_then(Value::as_str)?;
    query_param(link, "cursor")
}

#[async_trait]
impl Connector for SnapchatConnector {
    fn platform(&self) -> Platform {
        Platform::Snapchat
    }

    fn spec(&self) -> &ResolvedSpec {
        &self.engine.spec
    }

    fn selection(&self) -> Option<SelectionKind> {
        Some(SelectionKind::SnapchatPublicProfile)
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

    async fn destinations(
        &self,
        tokens: &TokenSet,
        _identity: &Identity,
    ) -> Result<Vec<Destination>, ConnectorError> {
        let token = &tokens.access_token;
        let orgs = self
            .engine
            .get_json(&self.organizations_url, token, &[])
            .await?;
        let mut out = Vec::new();
        for org in organization_ids(&orgs) {
            let url = fill_segment(&self.public_profiles_url, "organization_id", &org)?;
            let pages = self
                .engine
                .get_pages(&url, token, &[], "cursor", next_cursor)
                .await?;
            out.extend(
                pages
                    .iter()
                    .flat_map(|p| {
                        p.get("public_profiles")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default()
                    })
                    .filter_map(|e| parse_public_profile(&e)),
            );
        }
        Ok(out)
    }

    /// Whether refresh tokens rotate is UNCERTAIN (§19): a returned one replaces the old.
    async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, ConnectorError> {
        self.engine.refresh(tokens).await
    }

    async fn revoke(&self, _tokens: &TokenSet) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported(
            "Snapchat documents no revocation endpoint for this API",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_snap_member_keeps_the_organization_and_drops_the_email() {
        let v = json!({"request_status": "SUCCESS", "request_id": "r", "me": {
            "id": "2f8d0e04-35a2-4b6b-9c8e-2f3c3bb3f1d2", "email": "ada@example.com",
            "organization_id": "8fdeefec-f502-4ca8-9a84-6411e0a51053", "display_name": "Ada", "member_status": "MEMBER"}});
        let id = parse_identity(&v).unwrap();
        let mut metadata = Map::new();
        metadata.insert(
            "organizationId".into(),
            json!("8fdeefec-f502-4ca8-9a84-6411e0a51053"),
        );
        assert_eq!(
            id,
            Identity {
                platform_user_id: "2f8d0e04-35a2-4b6b-9c8e-2f3c3bb3f1d2".into(),
                display_name: Some("Ada".into()),
                metadata,
                ..Identity::default()
            }
        );
    }

    #[test]
    fn public_profiles_carry_what_the_select_step_shows() {
        let orgs = json!({"request_status": "SUCCESS", "organizations": [
            {"sub_request_status": "SUCCESS", "organization": {"id": "8fdeefec-f502-4ca8-9a84-6411e0a51053", "name": "Ada Co"}},
            {"sub_request_status": "SUCCESS", "organization": {"id": "../x"}}]});
        assert_eq!(
            organization_ids(&orgs),
            vec!["8fdeefec-f502-4ca8-9a84-6411e0a51053"]
        );
        let page = json!({"request_status": "SUCCESS", "public_profiles": [
            {"sub_request_status": "SUCCESS", "public_profile": {"id": "c1b2", "organization_id": "8fde",
              "display_name": "Ada Bakes", "snap_user_name": "adabakes",
              "logo_urls": {"original_logo_url": "https://cf-st.sc-cdn.net/logo.png"},
              "subscriber_count": 1500, "profile_type": "PUBLIC"}}],
            "paging": {"next_link": "https://businessapi.snapchat.com/v1/organizations/8fde/public_profiles?cursor=abc&limit=50"}});
        let got: Vec<_> = page["public_profiles"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(parse_public_profile)
            .collect();
        let mut extra = Map::new();
        extra.insert("display_name".into(), json!("Ada Bakes"));
        extra.insert("username".into(), json!("adabakes"));
        extra.insert(
            "profile_image_url".into(),
            json!("https://cf-st.sc-cdn.net/logo.png"),
        );
        extra.insert("subscriber_count".into(), json!(1500));
        assert_eq!(
            got,
            vec![Destination {
                id: "c1b2".into(),
                name: "Ada Bakes".into(),
                username: Some("adabakes".into()),
                picture: Some("https://cf-st.sc-cdn.net/logo.png".into()),
                url: None,
                access_token: None,
                extra,
            }]
        );
        assert_eq!(next_cursor(&page).as_deref(), Some("abc"));
        assert_eq!(next_cursor(&json!({"paging": {}})), None);
    }
}
