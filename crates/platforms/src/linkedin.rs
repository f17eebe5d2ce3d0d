//! LinkedIn, personal profile and organization pages. Facts: platforms.md §4.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use plugboard_core::{Clock, Platform};
use serde_json::{Map, Value};
use url::Url;

use crate::connector::{
    AuthorizeParams, Connector, ConnectorError, Destination, Identity, PlatformApp, SelectionKind,
    TokenSet,
};
use crate::engine::{Dialect, Engine, count_at, fill_segment, id_at, str_at};
use crate::pkce::PkceVerifier;
use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh, ResolvedSpec, SpecError};
use crate::token::TokenTypeHint;

/// platforms.md §4. PKCE must not be sent: standard web apps fail when a `code_verifier`
/// arrives. The secret goes in the body. Refresh tokens come only to approved partner apps
/// and do not rotate. Postiz also sends `prompt=none`; whether LinkedIn honours it is
/// UNCERTAIN (§19), so it is left out.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://www.linkedin.com/oauth/v2/authorization",
    token_url: "https://www.linkedin.com/oauth/v2/accessToken",
    refresh: Refresh::Grant {
        url: "https://www.linkedin.com/oauth/v2/accessToken",
    },
    revoke_url: Some("https://www.linkedin.com/oauth/v2/revoke"),
    long_lived_exchange: None,
    // Sign In with LinkedIn (OpenID Connect) + Share on LinkedIn. Organization scopes need the
    // gated Community Management API, and asking for a scope the app lacks fails the whole
    // login, so they are opt-in: see ORGANIZATION_SCOPES.
    scopes: &["openid", "profile", "email", "w_member_social"],
    scope_separator: " ",
    pkce: Pkce::None,
    client_auth: ClientAuth::Body,
    client_id_param: "client_id",
    extra_authorize_params: &[],
    user_agent_required: false,
};

/// Added to [`SPEC`]'s scopes by apps approved for the Community Management API
/// (platforms.md §4, the set Postiz requests).
pub const ORGANIZATION_SCOPES: &[&str] = &[
    "r_basicprofile",
    "rw_organization_admin",
    "w_organization_social",
    "r_organization_social",
];

/// OpenID Connect userinfo, platforms.md §4 "Identity".
pub const USERINFO_URL: &str = "https://api.linkedin.com/v2/userinfo";
/// `vanityName` for the profile URL; needs `r_basicprofile` (§4 "Identity").
pub const ME_URL: &str = "https://api.linkedin.com/v2/me";
/// Organizations the member administers (§4 "Secondary selection", versioned API).
pub const ORGANIZATION_ACLS_URL: &str = "https://api.linkedin.com/rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED";
/// One organization's name, vanity name and logo; the projection decorates the logo asset
/// URN with its download URL (§4, as Postiz asks for it).
pub const ORGANIZATION_URL: &str = "https://api.linkedin.com/rest/organizations/{id}?projection=(id,localizedName,vanityName,logoV2(original~:playableStreams))";

/// The versioned API's version (§4: old versions are sunset regularly; 202601 is the one
/// production code uses). Moving versions is a change here.
pub const API_VERSION: &str = "202601";
const REST_HEADERS: &[(&str, &str)] = &[
    ("LinkedIn-Version", API_VERSION),
    ("X-Restli-Protocol-Version", "2.0.0"),
];
/// Page size of the ACL listing (LinkedIn's default is 10).
const ACL_PAGE: &str = "100";

/// LinkedIn: personal profile, plus organization pages for apps approved for the Community
/// Management API.
pub struct LinkedinConnector {
    engine: Engine,
    userinfo_url: Url,
    me_url: Url,
    acls_url: Url,
    organization_url: Url,
}

impl LinkedinConnector {
    pub fn new(
        app: PlatformApp,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SpecError> {
        let engine = Engine::new(
            Platform::Linkedin,
            &SPEC,
            app,
            http,
            clock,
            Dialect::Standard,
            Dialect::Standard,
        )?;
        let mut acls_url = engine.api_url(ORGANIZATION_ACLS_URL)?;
        acls_url.query_pairs_mut().append_pair("count", ACL_PAGE);
        Ok(Self {
            userinfo_url: engine.api_url(USERINFO_URL)?,
            me_url: engine.api_url(ME_URL)?,
            acls_url,
            organization_url: engine.api_url(ORGANIZATION_URL)?,
            engine,
        })
    }
}

fn granted(tokens: &TokenSet, any_of: &[&str]) -> bool {
    tokens.scopes.iter().any(|s| any_of.contains(&s.as_str()))
}

/// `{sub, name, picture, …}`. The email is not kept: Plugboard has no use for it.
pub(crate) fn parse_userinfo(
    v: &Value,
    vanity_name: Option<String>,
) -> Result<Identity, ConnectorError> {
    let sub = id_at(v, "/sub", "the LinkedIn member")?;
    let mut metadata = Map::new();
    if let Some(vanity) = &vanity_name {
        metadata.insert("vanityName".into(), vanity.clone().into());
    }
    Ok(Identity {
        profile_url: vanity_name
            .as_ref()
            .map(|v| format!("https://www.linkedin.com/in/{v}")),
        username: Some(vanity_name.unwrap_or_else(|| sub.clone())),
        platform_user_id: sub,
        display_name: str_at(v, "/name"),
        profile_picture: str_at(v, "/picture"),
        followers_count: None,
        metadata,
    })
}

/// The bare ids of the organizations in one ACL page (`urn:li:organization:123` → `123`;
/// the legacy API names the field `organizationalTarget`).
pub(crate) fn acl_organization_ids(page: &Value) -> Vec<String> {
    page.get("elements")
        .and_then(Value::as_array)
        .map(|elements| {
            elements
                .iter()
                .filter_map(|e| {
                    let urn = str_at(e, "/organization")
                        .or_else(|| str_at(e, "/organizationalTarget"))?;
                    let id = urn.strip_prefix("urn:li:organization:")?;
                    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| id.to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The `start` of the next ACL page, when `paging.total` says there is one.
pub(crate) fn acl_next(page: &Value) -> Option<String> {
    let n = page.get("elements").and_then(Value::as_array)?.len();
    let start = count_at(page, "/paging/start").unwrap_or(0);
    let next = start + i64::try_from(n).ok()?;
    let total = count_at(page, "/paging/total")?;
    (n > 0 && next < total).then(|| next.to_string())
}

/// `/rest/organizations/{id}` as an organization to post as.
pub(crate) fn parse_organization(id: &str, v: &Value) -> Destination {
    let vanity = str_at(v, "/vanityName");
    // A URL only when the logo was decorated; `logoV2.original` alone is an asset URN.
    let logo = str_at(v, "/logoV2/original~/elements/0/identifiers/0/identifier");
    let mut extra = Map::new();
    extra.insert("urn".into(), format!("urn:li:organization:{id}").into());
    if let Some(vanity) = &vanity {
        extra.insert("vanityName".into(), vanity.clone().into());
    }
    if let Some(logo) = &logo {
        extra.insert("logoUrl".into(), logo.clone().into());
    }
    Destination {
        id: id.to_owned(),
        name: str_at(v, "/localizedName").unwrap_or_else(|| format!("Organization {id}")),
        url: vanity
            .as_ref()
            .map(|v| format!("https://www.linkedin.com/company/{v}")),
        username: vanity,
        picture: logo,
        access_token: None,
        extra,
    }
}

#[async_trait]
impl Connector for LinkedinConnector {
    fn platform(&self) -> Platform {
        Platform::Linkedin
    }

    fn spec(&self) -> &ResolvedSpec {
        &self.engine.spec
    }

    fn selection(&self) -> Option<SelectionKind> {
        Some(SelectionKind::LinkedinOrganization)
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
        let token = &tokens.access_token;
        let userinfo = self.engine.get_json(&self.userinfo_url, token, &[]).await?;
        let vanity = if granted(tokens, &["r_basicprofile"]) {
            match self.engine.get_json(&self.me_url, token, &[]).await {
                Ok(me) => str_at(&me, "/vanityName"),
                // The profile URL is a nicety; a refused `/v2/me` does not fail the login.
                Err(ConnectorError::PermissionDenied { .. }) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        parse_userinfo(&userinfo, vanity)
    }

    /// Organizations the member administers; empty without the organization scopes or when
    /// LinkedIn refuses the listing (the personal profile is then the only choice).
    async fn destinations(
        &self,
        tokens: &TokenSet,
        _identity: &Identity,
    ) -> Result<Vec<Destination>, ConnectorError> {
        if !granted(tokens, &["rw_organization_admin", "r_organization_admin"]) {
            return Ok(Vec::new());
        }
        let token = &tokens.access_token;
        let pages = match self
            .engine
            .get_pages(&self.acls_url, token, REST_HEADERS, "start", acl_next)
            .await
        {
            Ok(pages) => pages,
            Err(ConnectorError::PermissionDenied { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let ids: BTreeSet<String> = pages.iter().flat_map(acl_organization_ids).collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let url = fill_segment(&self.organization_url, "id", &id)?;
            match self.engine.get_json(&url, token, REST_HEADERS).await {
                Ok(org) => out.push(parse_organization(&id, &org)),
                Err(ConnectorError::PermissionDenied { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Non-rotating with a fixed 365-day TTL (§4): the same refresh token comes back, or
    /// none, in which case the old one is kept.
    async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, ConnectorError> {
        self.engine.refresh(tokens).await
    }

    /// LinkedIn's revoke endpoint takes the access token.
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
    fn the_member_is_named_by_sub_and_the_email_is_dropped() {
        let v = json!({"sub": "782bbtaQ", "name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
            "picture": "https://media.licdn.com/ada.jpg", "locale": {"country": "US", "language": "en"},
            "email": "ada@example.com", "email_verified": true});
        let plain = parse_userinfo(&v, None).unwrap();
        assert_eq!(
            plain,
            Identity {
                platform_user_id: "782bbtaQ".into(),
                username: Some("782bbtaQ".into()),
                display_name: Some("Ada Lovelace".into()),
                profile_picture: Some("https://media.licdn.com/ada.jpg".into()),
                ..Identity::default()
            }
        );
        let with_vanity = parse_userinfo(&v, Some("ada-lovelace".into())).unwrap();
        assert_eq!(with_vanity.username.as_deref(), Some("ada-lovelace"));
        assert_eq!(
            with_vanity.profile_url.as_deref(),
            Some("https://www.linkedin.com/in/ada-lovelace")
        );
        assert_eq!(
            with_vanity.metadata.get("vanityName"),
            Some(&json!("ada-lovelace"))
        );
        assert!(!format!("{with_vanity:?}").contains("ada@example.com"));
    }

    #[test]
    fn acl_pages_yield_bare_organization_ids_and_page_by_total() {
        let page = json!({"elements": [
            {"roleAssignee": "urn:li:person:782bbtaQ", "role": "ADMINISTRATOR", "state": "APPROVED", "organization": "urn:li:organization:2414183"},
            {"role": "ADMINISTRATOR", "organizationalTarget": "urn:li:organization:5515715"},
            {"role": "ADMINISTRATOR", "organization": "urn:li:organizationBrand:9"},
            {"role": "ADMINISTRATOR", "organization": "urn:li:organization:../1"}
        ], "paging": {"start": 0, "count": 4, "total": 9}});
        assert_eq!(acl_organization_ids(&page), vec!["2414183", "5515715"]);
        assert_eq!(acl_next(&page).as_deref(), Some("4"));
        let last = json!({"elements": [{"organization": "urn:li:organization:1"}], "paging": {"start": 8, "count": 4, "total": 9}});
        assert_eq!(acl_next(&last), None);
        let no_total = json!({"elements": [{"organization": "urn:li:organization:1"}], "paging": {"start": 0, "count": 1}});
        assert_eq!(acl_next(&no_total), None);
    }

    #[test]
    fn a_decorated_logo_becomes_the_picture_and_logo_url() {
        let v = json!({"id": 1, "localizedName": "Org", "logoV2": {"original": "urn:li:digitalmediaAsset:C4",
            "original~": {"elements": [{"identifiers": [{"identifier": "https://media.licdn.com/logo.png", "identifierType": "EXTERNAL_URL"}]}]}}});
        let org = parse_organization("1", &v);
        assert_eq!(
            org.picture.as_deref(),
            Some("https://media.licdn.com/logo.png")
        );
        assert_eq!(
            org.extra["logoUrl"],
            json!("https://media.licdn.com/logo.png")
        );
    }

    #[test]
    fn an_organization_carries_urn_vanity_name_and_company_url() {
        let v = json!({"id": 2414183, "localizedName": "Ada's Engines", "vanityName": "ada-engines",
            "logoV2": {"original": "urn:li:digitalmediaAsset:C4D0BAQ"}});
        let mut extra = Map::new();
        extra.insert("urn".into(), json!("urn:li:organization:2414183"));
        extra.insert("vanityName".into(), json!("ada-engines"));
        assert_eq!(
            parse_organization("2414183", &v),
            Destination {
                id: "2414183".into(),
                name: "Ada's Engines".into(),
                username: Some("ada-engines".into()),
                picture: None,
                url: Some("https://www.linkedin.com/company/ada-engines".into()),
                access_token: None,
                extra,
            }
        );
    }

    #[test]
    fn the_organization_url_takes_the_id_as_one_segment() {
        let url = Url::parse(ORGANIZATION_URL).unwrap();
        let filled = |id: &str| fill_segment(&url, "id", id).map(|u| u.to_string());
        assert_eq!(
            filled("2414183").unwrap(),
            "https://api.linkedin.com/rest/organizations/2414183?projection=(id,localizedName,vanityName,logoV2(original~:playableStreams))"
        );
        assert!(
            filled("../x")
                .unwrap()
                .starts_with("https://api.linkedin.com/rest/organizations/..%2Fx?")
        );
        for bad in ["", ".", ".."] {
            assert!(filled(bad).is_err(), "{bad:?}");
        }
    }
}
