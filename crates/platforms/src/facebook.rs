//! Facebook Pages through Facebook Login (manual flow). Facts: platforms.md §3.

use std::sync::Arc;

use async_trait::async_trait;
use plugboard_core::{Clock, Platform};
use serde_json::{Map, Value};
use url::Url;

use crate::connector::{
    AuthorizeParams, Connector, ConnectorError, Destination, Identity, PlatformApp, SelectionKind,
    TokenSet,
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

/// Facebook Pages through Facebook Login.
pub struct FacebookConnector {
    engine: Engine,
    identity_url: Url,
    pages_url: Url,
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
        exchange_long_lived(&self.engine, code, redirect_uri, verifier).await
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
