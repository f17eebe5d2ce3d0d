//! Facebook Pages through Facebook Login (manual flow). Facts: platforms.md §3.

use std::sync::Arc;

use async_trait::async_trait;
use plugboard_core::{Clock, Platform};
use serde_json::{Map, Value};
use url::Url;

use crate::connector::{
    AdAccount, AuthorizeParams, Connector, ConnectorError, Destination, Identity, PlatformApp,
    SelectionKind, TokenSet,
};
use crate::engine::{Dialect, Engine, id_at, query_param, str_at};
use crate::pkce::PkceVerifier;
use crate::spec::{
    ClientAuth, LongLivedExchange, OAuthSpec, Pkce, Refresh, ResolvedSpec, SpecError,
};

/// platforms.md §3. The Graph version is pinned in the path because unversioned calls are
/// silently auto-upgraded. Which version to pin is UNCERTAIN (platforms.md §19: sources use
/// v20–v26); v24.0 is the one Zernio's own specs use. Config can only rebase the origin, so
/// moving versions is a change here.
///
/// The docs show the code exchange as a GET with `client_secret` in the query; the endpoint
/// also takes the same parameters as a POST form (as passport-facebook and Nango send them),
/// which keeps the secret out of URLs and logs (STYLE §7), so the token builder POSTs.
///
/// No refresh grant: the short-lived user token is swapped for a ~60-day one right away
/// (before reading `/me/accounts`, else page tokens expire with it) and the user logs in
/// again when that dies. Revocation is `DELETE /{user-id}/permissions`, which needs the user
/// id, so it is not a fixed URL here.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://www.facebook.com/v24.0/dialog/oauth",
    token_url: "https://graph.facebook.com/v24.0/oauth/access_token",
    refresh: Refresh::Reauthorize,
    revoke_url: None,
    long_lived_exchange: Some(LongLivedExchange {
        url: "https://graph.facebook.com/v24.0/oauth/access_token",
        grant_type: "fb_exchange_token",
        token_param: "fb_exchange_token",
        send_client_id: true,
    }),
    scopes: &[
        "pages_show_list",
        "business_management",
        "pages_manage_posts",
        "pages_manage_engagement",
        "pages_read_engagement",
        "read_insights",
    ],
    scope_separator: ",",
    pkce: Pkce::None,
    client_auth: ClientAuth::Body,
    client_id_param: "client_id",
    extra_authorize_params: &[],
    user_agent_required: false,
};

/// The Facebook user behind the token, platforms.md §3 "Identity" (app-scoped user id).
/// Also the identity of Instagram through Facebook Login (§2b).
pub const IDENTITY_URL: &str = "https://graph.facebook.com/v24.0/me?fields=id,name,picture";

/// The Pages the user granted, each with its Page token, platforms.md §3 "Secondary
/// selection".
pub const PAGES_URL: &str = "https://graph.facebook.com/v24.0/me/accounts?fields=id,name,username,access_token,category,tasks,picture.type(large)&limit=100";

/// What the Meta ads-only flow asks for on top of the Pages scopes (platforms.md §3: ads
/// need `ads_read` or `ads_management`).
pub const ADS_SCOPES: &[&str] = &["ads_read", "ads_management"];

/// The ad accounts the user can see, platforms.md §3 "Meta ads-only flow" (plus
/// `disable_reason`, which says why an account cannot be used).
pub const AD_ACCOUNTS_URL: &str = "https://graph.facebook.com/v24.0/me/adaccounts?fields=id,account_id,name,account_status,disable_reason,currency,timezone_name,business{id,name}&limit=100";

/// The permissions the user granted (`{data:[{permission, status}]}`); Graph's token
/// response does not say.
pub const PERMISSIONS_URL: &str = "https://graph.facebook.com/v24.0/me/permissions";

/// Where per-object Graph paths (`/{ad-account-id}/ads`) hang off.
const GRAPH_ROOT: &str = "https://graph.facebook.com/v24.0/";

/// Facebook Pages through Facebook Login.
pub struct FacebookConnector {
    engine: Engine,
    identity_url: Url,
    pages_url: Url,
    ad_accounts_url: Url,
    permissions_url: Url,
    graph_root: Url,
}

impl FacebookConnector {
    pub fn new(
        app: PlatformApp,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SpecError> {
        let engine = Engine::new(
            Platform::Facebook,
            &SPEC,
            app,
            http,
            clock,
            Dialect::Graph,
            Dialect::Graph,
        )?;
        Ok(Self {
            identity_url: engine.api_url(IDENTITY_URL)?,
            pages_url: engine.api_url(PAGES_URL)?,
            ad_accounts_url: engine.api_url(AD_ACCOUNTS_URL)?,
            permissions_url: engine.api_url(PERMISSIONS_URL)?,
            graph_root: engine.api_url(GRAPH_ROOT)?,
            engine,
        })
    }
}

/// The code exchange followed at once by the long-lived exchange: Page tokens read with a
/// short-lived user token expire with it (platforms.md §3 pitfalls).
pub(crate) async fn exchange_long_lived(
    engine: &Engine,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&PkceVerifier>,
) -> Result<TokenSet, ConnectorError> {
    let short = engine.exchange_code(code, redirect_uri, verifier).await?;
    engine.long_lived(short).await
}

/// `{id, name, picture:{data:{url}}}`.
pub(crate) fn parse_user(v: &Value) -> Result<Identity, ConnectorError> {
    let id = id_at(v, "/id", "the Facebook user")?;
    Ok(Identity {
        profile_url: Some(format!("https://www.facebook.com/{id}")),
        platform_user_id: id,
        username: None,
        display_name: str_at(v, "/name"),
        profile_picture: str_at(v, "/picture/data/url"),
        followers_count: None,
        metadata: Map::new(),
    })
}

/// The cursor of the next Graph page: only when Graph says there is one (`paging.next`),
/// read from `paging.cursors.after` or from the `after` of the `next` URL. The `next` URL
/// itself is not followed: it carries the access token in its query.
pub(crate) fn graph_next(page: &Value) -> Option<String> {
    let next = page.pointer("/paging/next").and_then(Value::as_str)?;
    str_at(page, "/paging/cursors/after").or_else(|| query_param(next, "after"))
}

/// Every `data` entry of a Graph listing, over at most [`crate::engine::MAX_PAGES`] pages.
pub(crate) async fn graph_list(
    engine: &Engine,
    first: &Url,
    access_token: &str,
) -> Result<Vec<Value>, ConnectorError> {
    let pages = engine
        .get_pages(first, access_token, &[], "after", graph_next)
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| {
            p.get("data")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .collect())
}

/// The `granted` entries of `/me/permissions`.
pub(crate) fn granted_permissions(v: &Value) -> Vec<String> {
    v.get("data")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .filter(|r| r.get("status").and_then(Value::as_str) == Some("granted"))
                .filter_map(|r| str_at(r, "/permission"))
                .collect()
        })
        .unwrap_or_default()
}

/// One `/me/adaccounts` entry; entries without an `act_` id are skipped.
pub(crate) fn parse_ad_account(v: &Value) -> Option<AdAccount> {
    let id = str_at(v, "/id").filter(|id| is_ad_account_id(id))?;
    Some(AdAccount {
        id,
        name: str_at(v, "/name"),
        status: v.get("account_status").and_then(Value::as_i64).unwrap_or(0),
        disable_reason: v.get("disable_reason").and_then(Value::as_i64),
        currency: str_at(v, "/currency"),
    })
}

/// Meta's ad account id: `act_` and digits.
pub fn is_ad_account_id(id: &str) -> bool {
    id.strip_prefix("act_")
        .is_some_and(|d| !d.is_empty() && d.len() <= 32 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// One `/me/accounts` entry as a Page to pick; entries without an id are skipped.
pub(crate) fn parse_page(page: &Value) -> Option<Destination> {
    let id = id_at(page, "/id", "a Page").ok()?;
    let mut extra = Map::new();
    for key in ["category", "tasks"] {
        if let Some(v) = page.get(key).filter(|v| !v.is_null()) {
            extra.insert(key.into(), v.clone());
        }
    }
    Some(Destination {
        name: str_at(page, "/name").unwrap_or_else(|| id.clone()),
        username: str_at(page, "/username"),
        picture: str_at(page, "/picture/data/url"),
        url: Some(format!("https://www.facebook.com/{id}")),
        access_token: str_at(page, "/access_token"),
        extra,
        id,
    })
}

#[async_trait]
impl Connector for FacebookConnector {
    fn platform(&self) -> Platform {
        Platform::Facebook
    }

    fn spec(&self) -> &ResolvedSpec {
        &self.engine.spec
    }

    fn selection(&self) -> Option<SelectionKind> {
        Some(SelectionKind::FacebookPage)
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
        let mut tokens = exchange_long_lived(&self.engine, code, redirect_uri, verifier).await?;
        // The user may decline permissions in the dialog, and the token response does not
        // say which were granted (the scopes it carries are only the ones asked for): ask,
        // so the account records what it may do. A failure here costs only that record.
        match self
            .engine
            .get_json(&self.permissions_url, &tokens.access_token, &[])
            .await
        {
            Ok(v) => {
                let granted = granted_permissions(&v);
                if !granted.is_empty() {
                    tokens.scopes = granted;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "could not read the granted Facebook permissions")
            }
        }
        Ok(tokens)
    }

    async fn identity(&self, tokens: &TokenSet) -> Result<Identity, ConnectorError> {
        let v = self
            .engine
            .get_json(&self.identity_url, &tokens.access_token, &[])
            .await?;
        parse_user(&v)
    }

    async fn destinations(
        &self,
        tokens: &TokenSet,
        _identity: &Identity,
    ) -> Result<Vec<Destination>, ConnectorError> {
        let pages = graph_list(&self.engine, &self.pages_url, &tokens.access_token).await?;
        Ok(pages.iter().filter_map(parse_page).collect())
    }

    /// No refresh grant (platforms.md §3): the user logs in again when the ~60-day user
    /// token dies; Page tokens read with it do not expire.
    async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, ConnectorError> {
        self.engine.refresh(tokens).await
    }

    /// Graph revokes with `DELETE /{user-id}/permissions`, which removes the app for the
    /// user altogether: every Page connected through that login would go with this one,
    /// and the connected account holds a Page token, which cannot call it. So Plugboard
    /// forgets the tokens and the user removes the app in Facebook's settings.
    async fn revoke(&self, _tokens: &TokenSet) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported(
            "Facebook revokes only the whole app for the user (DELETE /{user-id}/permissions)",
        ))
    }

    async fn ad_accounts(&self, tokens: &TokenSet) -> Result<Vec<AdAccount>, ConnectorError> {
        let rows = graph_list(&self.engine, &self.ad_accounts_url, &tokens.access_token).await?;
        Ok(rows.iter().filter_map(parse_ad_account).collect())
    }

    async fn ads(
        &self,
        tokens: &TokenSet,
        ad_account_id: &str,
    ) -> Result<Vec<String>, ConnectorError> {
        // The id becomes a path segment: only Meta's own shape is let through.
        if !is_ad_account_id(ad_account_id) {
            return Err(ConnectorError::Platform {
                status: 400,
                code: None,
                message: format!("{ad_account_id:?} is not a Meta ad account id"),
            });
        }
        let mut url = self
            .graph_root
            .join(&format!("{ad_account_id}/ads"))
            .map_err(|e| ConnectorError::Platform {
                status: 400,
                code: None,
                message: e.to_string(),
            })?;
        url.query_pairs_mut()
            .append_pair("fields", "id,name,effective_status")
            .append_pair("limit", "100");
        let rows = graph_list(&self.engine, &url, &tokens.access_token).await?;
        Ok(rows.iter().filter_map(|r| str_at(r, "/id")).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_facebook_user_becomes_an_identity_with_picture_and_url() {
        let v = json!({"id": "10158000000000001", "name": "Ada L",
            "picture": {"data": {"height": 50, "is_silhouette": false, "url": "https://scontent.example/p.jpg", "width": 50}}});
        assert_eq!(
            parse_user(&v).unwrap(),
            Identity {
                platform_user_id: "10158000000000001".into(),
                display_name: Some("Ada L".into()),
                profile_picture: Some("https://scontent.example/p.jpg".into()),
                profile_url: Some("https://www.facebook.com/10158000000000001".into()),
                ..Identity::default()
            }
        );
    }

    #[test]
    fn a_page_keeps_its_token_category_and_tasks() {
        let v = json!({"id": "1122334455", "name": "Ada's Bakery", "username": "adasbakery",
            "access_token": "EAAPAGE", "category": "Bakery", "tasks": ["ANALYZE", "CREATE_CONTENT", "MANAGE"],
            "picture": {"data": {"url": "https://scontent.example/page.jpg"}}});
        let page = parse_page(&v).unwrap();
        let mut extra = Map::new();
        extra.insert("category".into(), json!("Bakery"));
        extra.insert(
            "tasks".into(),
            json!(["ANALYZE", "CREATE_CONTENT", "MANAGE"]),
        );
        assert_eq!(
            page,
            Destination {
                id: "1122334455".into(),
                name: "Ada's Bakery".into(),
                username: Some("adasbakery".into()),
                picture: Some("https://scontent.example/page.jpg".into()),
                url: Some("https://www.facebook.com/1122334455".into()),
                access_token: Some("EAAPAGE".into()),
                extra,
            }
        );
    }

    #[test]
    fn only_granted_permissions_count() {
        let v = json!({"data": [
            {"permission": "public_profile", "status": "granted"},
            {"permission": "ads_read", "status": "declined"},
            {"permission": "ads_management", "status": "granted"},
        ]});
        assert_eq!(
            granted_permissions(&v),
            ["public_profile", "ads_management"]
        );
    }

    #[test]
    fn ad_accounts_keep_their_act_id_status_and_disable_reason() {
        let v = json!({"id": "act_1234", "account_id": "1234", "name": "Main", "account_status": 2,
            "disable_reason": 3, "currency": "EUR"});
        let a = parse_ad_account(&v).unwrap();
        assert_eq!(
            (a.id.as_str(), a.status, a.disable_reason),
            ("act_1234", 2, Some(3))
        );
        assert!(!a.is_usable());
        assert!(
            parse_ad_account(&json!({"id": "1234"})).is_none(),
            "no act_ prefix"
        );
        for bad in ["act_", "act_12a", "1234", "act_1/../x", "act_1?x=1"] {
            assert!(!is_ad_account_id(bad), "{bad}");
        }
    }

    #[test]
    fn graph_paging_continues_only_while_graph_names_a_next_page() {
        let cases = [
            (
                json!({"data": [], "paging": {"cursors": {"before": "b", "after": "QVFI"}, "next": "https://graph.facebook.com/v24.0/1/accounts?access_token=EAAX&after=QVFI"}}),
                Some("QVFI"),
                "cursor from paging.cursors.after",
            ),
            (
                json!({"data": [], "paging": {"next": "https://graph.facebook.com/v24.0/1/accounts?access_token=EAAX&limit=100&after=Zm9v"}}),
                Some("Zm9v"),
                "cursor from the next URL",
            ),
            (
                json!({"data": [], "paging": {"cursors": {"before": "b", "after": "QVFI"}}}),
                None,
                "a last page still has cursors but no next",
            ),
            (json!({"data": []}), None, "no paging at all"),
        ];
        for (page, want, why) in cases {
            assert_eq!(graph_next(&page).as_deref(), want, "{why}");
        }
    }
}
