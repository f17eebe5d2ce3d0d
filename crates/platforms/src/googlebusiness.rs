//! Google Business Profile through Google OAuth 2.0. Facts: platforms.md §7 (auth as §6).

use std::sync::Arc;

use async_trait::async_trait;
use plugboard_core::{Clock, Platform};
use serde_json::{Map, Value};
use url::Url;

use crate::connector::{
    AuthorizeParams, Connector, ConnectorError, Destination, Identity, PlatformApp, SelectionKind,
    TokenSet,
};
use crate::engine::{Dialect, Engine, fill_segment, id_at, str_at};
use crate::google;
use crate::pkce::PkceVerifier;
use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh, ResolvedSpec, SpecError};

/// platforms.md §7: identical to YouTube's Google OAuth (§6) with the single
/// `business.manage` scope, plus OpenID scopes to identify the connecting user.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: google::AUTHORIZE_URL,
    token_url: google::TOKEN_URL,
    refresh: Refresh::Grant {
        url: google::TOKEN_URL,
    },
    revoke_url: Some(google::REVOKE_URL),
    long_lived_exchange: None,
    scopes: &[
        "https://www.googleapis.com/auth/business.manage",
        "openid",
        "email",
        "profile",
    ],
    scope_separator: " ",
    pkce: Pkce::S256,
    client_auth: ClientAuth::Body,
    client_id_param: "client_id",
    extra_authorize_params: google::AUTHORIZE_PARAMS,
    user_agent_required: false,
};

/// The connecting Google user, platforms.md §6 "Endpoints" (userinfo).
pub const USERINFO_URL: &str = "https://www.googleapis.com/oauth2/v3/userinfo";
/// The Business Profile accounts the user can manage, §7 (pageSize max 20).
pub const ACCOUNTS_URL: &str =
    "https://mybusinessaccountmanagement.googleapis.com/v1/accounts?pageSize=20";
/// One account's locations, §7. `readMask` is required and names every field read here.
pub const LOCATIONS_URL: &str = "https://mybusinessbusinessinformation.googleapis.com/v1/accounts/{account}/locations?readMask=name,title,storefrontAddress,metadata,storeCode,categories,websiteUri&pageSize=100";

/// Google Business Profile: the user picks one location of one of their accounts.
pub struct GooglebusinessConnector {
    engine: Engine,
    userinfo_url: Url,
    accounts_url: Url,
    locations_url: Url,
}

impl GooglebusinessConnector {
    pub fn new(
        app: PlatformApp,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SpecError> {
        let engine = Engine::new(
            Platform::Googlebusiness,
            &SPEC,
            app,
            http,
            clock,
            Dialect::Standard,
            Dialect::Standard,
        )?;
        Ok(Self {
            userinfo_url: engine.api_url(USERINFO_URL)?,
            accounts_url: engine.api_url(ACCOUNTS_URL)?,
            locations_url: engine.api_url(LOCATIONS_URL)?,
            engine,
        })
    }
}

/// `{sub, name, picture}`. The email is not kept.
pub(crate) fn parse_userinfo(v: &Value) -> Result<Identity, ConnectorError> {
    Ok(Identity {
        platform_user_id: id_at(v, "/sub", "the Google user")?,
        username: None,
        display_name: str_at(v, "/name"),
        profile_picture: str_at(v, "/picture"),
        profile_url: None,
        followers_count: None,
        metadata: Map::new(),
    })
}

/// A Business Profile account: its resource name (`accounts/123`) and its bare id. Names
/// of another shape are skipped: the id goes into a URL path.
pub(crate) struct Account {
    pub name: String,
    pub id: String,
    pub display_name: Option<String>,
}

pub(crate) fn parse_accounts(page: &Value) -> Vec<Account> {
    page.get("accounts")
        .and_then(Value::as_array)
        .map(|accounts| {
            accounts
                .iter()
                .filter_map(|a| {
                    let name = str_at(a, "/name")?;
                    let id = name.strip_prefix("accounts/")?;
                    let usable = !id.is_empty()
                        && id
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                    let id = id.to_owned();
                    usable.then(|| Account {
                        id,
                        display_name: str_at(a, "/accountName"),
                        name,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `storefrontAddress` (a PostalAddress) as one line.
pub(crate) fn one_line_address(address: &Value) -> Option<String> {
    let mut parts: Vec<String> = address
        .get("addressLines")
        .and_then(Value::as_array)
        .map(|lines| lines.iter().filter_map(text).collect())
        .unwrap_or_default();
    for key in ["locality", "administrativeArea", "postalCode", "regionCode"] {
        parts.extend(address.get(key).and_then(text));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A location (`name` is `locations/456`, without the account) as a destination.
pub(crate) fn parse_location(location: &Value, account: &Account) -> Option<Destination> {
    let name = str_at(location, "/name")?;
    let id = name
        .strip_prefix("locations/")
        .filter(|id| !id.is_empty())?;
    let mut extra = Map::new();
    extra.insert("accountId".into(), account.name.clone().into());
    let optional = [
        ("accountName", account.display_name.clone()),
        (
            "address",
            location.get("storefrontAddress").and_then(one_line_address),
        ),
        (
            "category",
            str_at(location, "/categories/primaryCategory/displayName"),
        ),
        ("storeCode", str_at(location, "/storeCode")),
        ("websiteUrl", str_at(location, "/websiteUri")),
    ];
    for (key, value) in optional {
        if let Some(v) = value {
            extra.insert(key.into(), v.into());
        }
    }
    Some(Destination {
        id: id.to_owned(),
        name: str_at(location, "/title").unwrap_or_else(|| name.clone()),
        username: None,
        picture: None,
        url: str_at(location, "/metadata/mapsUri"),
        access_token: None,
        extra,
    })
}

#[async_trait]
impl Connector for GooglebusinessConnector {
    fn platform(&self) -> Platform {
        Platform::Googlebusiness
    }

    fn spec(&self) -> &ResolvedSpec {
        &self.engine.spec
    }

    fn selection(&self) -> Option<SelectionKind> {
        Some(SelectionKind::GoogleBusinessLocation)
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
            .get_json(&self.userinfo_url, &tokens.access_token, &[])
            .await?;
        parse_userinfo(&v)
    }

    /// Every location of every account, each listing bounded to
    /// [`crate::engine::MAX_PAGES`] pages.
    async fn destinations(
        &self,
        tokens: &TokenSet,
        _identity: &Identity,
    ) -> Result<Vec<Destination>, ConnectorError> {
        let token = &tokens.access_token;
        let account_pages = self
            .engine
            .get_pages(
                &self.accounts_url,
                token,
                &[],
                "pageToken",
                google::next_page_token,
            )
            .await?;
        let mut out = Vec::new();
        for account in account_pages.iter().flat_map(parse_accounts) {
            let url = fill_segment(&self.locations_url, "account", &account.id)?;
            let pages = self
                .engine
                .get_pages(&url, token, &[], "pageToken", google::next_page_token)
                .await?;
            out.extend(
                pages
                    .iter()
                    .flat_map(|p| {
                        p.get("locations")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default()
                    })
                    .filter_map(|l| parse_location(&l, &account)),
            );
        }
        Ok(out)
    }

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
    fn accounts_keep_their_resource_name_and_odd_names_are_skipped() {
        let page = json!({"accounts": [
            {"name": "accounts/106324567890", "accountName": "Ada's Bakeries", "type": "LOCATION_GROUP", "role": "OWNER"},
            {"name": "accounts/../../v1/x", "accountName": "path trick"},
            {"name": "locations/1"},
            {"accountName": "no name"}
        ], "nextPageToken": "tok2"});
        let accounts = parse_accounts(&page);
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].name, "accounts/106324567890");
        assert_eq!(accounts[0].id, "106324567890");
        assert_eq!(google::next_page_token(&page).as_deref(), Some("tok2"));
    }

    #[test]
    fn a_location_becomes_a_destination_with_a_one_line_address() {
        let account = Account {
            name: "accounts/123".into(),
            id: "123".into(),
            display_name: Some("Ada's Bakeries".into()),
        };
        let location = json!({
            "name": "locations/4567", "title": "Ada's Bakery Soho", "storeCode": "SOHO-1",
            "websiteUri": "https://ada.example/soho",
            "categories": {"primaryCategory": {"name": "categories/gcid:bakery", "displayName": "Bakery"}},
            "storefrontAddress": {"regionCode": "GB", "languageCode": "en", "postalCode": "W1D 3QF",
                "administrativeArea": "", "locality": "London", "addressLines": ["12 Greek Street", "Soho"]},
            "metadata": {"placeId": "ChIJ", "mapsUri": "https://maps.google.com/maps?cid=42", "canOperateLocalPost": true}
        });
        let mut extra = Map::new();
        extra.insert("accountId".into(), json!("accounts/123"));
        extra.insert("accountName".into(), json!("Ada's Bakeries"));
        extra.insert(
            "address".into(),
            json!("12 Greek Street, Soho, London, W1D 3QF, GB"),
        );
        extra.insert("category".into(), json!("Bakery"));
        extra.insert("storeCode".into(), json!("SOHO-1"));
        extra.insert("websiteUrl".into(), json!("https://ada.example/soho"));
        assert_eq!(
            parse_location(&location, &account).unwrap(),
            Destination {
                id: "4567".into(),
                name: "Ada's Bakery Soho".into(),
                username: None,
                picture: None,
                url: Some("https://maps.google.com/maps?cid=42".into()),
                access_token: None,
                extra,
            }
        );
        assert!(parse_location(&json!({"title": "no name"}), &account).is_none());
    }

    #[test]
    fn the_locations_url_asks_for_exactly_the_fields_read() {
        let url = fill_segment(&Url::parse(LOCATIONS_URL).unwrap(), "account", "123").unwrap();
        assert_eq!(url.path(), "/v1/accounts/123/locations");
        let mask = url
            .query_pairs()
            .find(|(k, _)| k == "readMask")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        for field in [
            "name",
            "title",
            "storefrontAddress",
            "metadata",
            "storeCode",
            "categories",
            "websiteUri",
        ] {
            assert!(
                mask.split(',').any(|f| f == field),
                "{field} missing from readMask"
            );
        }
    }
}
