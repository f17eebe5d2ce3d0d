//! YouTube through Google OAuth 2.0. Facts: platforms.md §6.

use std::sync::Arc;

use async_trait::async_trait;
use plugboard_core::{Clock, Platform};
use serde_json::{Map, Value};
use url::Url;

use crate::connector::{
    AuthorizeParams, Connector, ConnectorError, Destination, Identity, PlatformApp, TokenSet,
};
use crate::engine::{Dialect, Engine, count_at, id_at, str_at};
use crate::google;
use crate::pkce::PkceVerifier;
use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh, ResolvedSpec, SpecError};
use crate::usage::{ApiCost, CostTable};

/// platforms.md §6. PKCE is optional for Google web clients; it is sent anyway because it
/// binds the code to this flow (RFC 9700 §2.1.1). The secret goes in the body (Basic is
/// also accepted). The refresh token does not rotate.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: google::AUTHORIZE_URL,
    token_url: google::TOKEN_URL,
    refresh: Refresh::Grant {
        url: google::TOKEN_URL,
    },
    revoke_url: Some(google::REVOKE_URL),
    long_lived_exchange: None,
    // Upload videos; read the channel for identity (`channels?mine=true`).
    scopes: &[
        "https://www.googleapis.com/auth/youtube.upload",
        "https://www.googleapis.com/auth/youtube.readonly",
    ],
    scope_separator: " ",
    pkce: Pkce::S256,
    client_auth: ClientAuth::Body,
    client_id_param: "client_id",
    extra_authorize_params: google::AUTHORIZE_PARAMS,
    user_agent_required: false,
};

/// The channels of the Google identity or brand account picked at consent, platforms.md §6
/// "Identity / secondary selection".
pub const CHANNELS_URL: &str =
    "https://www.googleapis.com/youtube/v3/channels?part=snippet,statistics&mine=true";

/// YouTube Data API quota costs (platforms.md §6; developers.google.com/youtube/v3/
/// determine_quota_cost): `channels.list` costs one unit, and every request, even an
/// invalid one, at least one.
pub(crate) const DATA_API_COSTS: CostTable = CostTable {
    methods: &[ApiCost {
        method: "GET",
        path: "/youtube/v3/channels",
        name: "channels.list",
        units: 1,
    }],
    other_units: 1,
};

/// YouTube through Google OAuth.
pub struct YoutubeConnector {
    engine: Engine,
    channels_url: Url,
}

impl YoutubeConnector {
    pub fn new(
        app: PlatformApp,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SpecError> {
        let engine = Engine::new(
            Platform::Youtube,
            &SPEC,
            app,
            http,
            clock,
            Dialect::Standard,
            Dialect::Standard,
        )?
        .with_costs(&DATA_API_COSTS);
        Ok(Self {
            channels_url: engine.api_url(CHANNELS_URL)?,
            engine,
        })
    }
}

/// A channel item: id `UC…`, `snippet.customUrl` handle (`@name`), title, thumbnail and
/// `statistics.subscriberCount` (a string; hidden counts are not reported).
pub(crate) fn parse_channel(item: &Value) -> Result<Identity, ConnectorError> {
    let id = id_at(item, "/id", "the YouTube channel")?;
    let handle = str_at(item, "/snippet/customUrl");
    let hidden = item
        .pointer("/statistics/hiddenSubscriberCount")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let thumbnail = ["high", "medium", "default"]
        .iter()
        .find_map(|size| str_at(item, &format!("/snippet/thumbnails/{size}/url")));
    Ok(Identity {
        profile_url: Some(match &handle {
            Some(h) => format!("https://www.youtube.com/{h}"),
            None => format!("https://www.youtube.com/channel/{id}"),
        }),
        platform_user_id: id,
        username: handle,
        display_name: str_at(item, "/snippet/title"),
        profile_picture: thumbnail,
        followers_count: if hidden {
            None
        } else {
            count_at(item, "/statistics/subscriberCount")
        },
        metadata: Map::new(),
    })
}

/// The first channel names the account; none means the Google account has no channel
/// (uploads would fail with `youtubeSignupRequired`).
pub(crate) fn parse_identity(v: &Value) -> Result<Identity, ConnectorError> {
    match v
        .get("items")
        .and_then(Value::as_array)
        .and_then(|i| i.first())
    {
        Some(first) => parse_channel(first),
        None => Err(ConnectorError::NotEligible {
            code: "no_youtube_channel",
            message: "This Google account has no YouTube channel".into(),
        }),
    }
}

fn channel_destination(item: &Value) -> Option<Destination> {
    let channel = parse_channel(item).ok()?;
    let mut extra = Map::new();
    if let Some(n) = channel.followers_count {
        extra.insert("subscriberCount".into(), n.into());
    }
    Some(Destination {
        name: channel
            .display_name
            .unwrap_or_else(|| channel.platform_user_id.clone()),
        id: channel.platform_user_id,
        username: channel.username,
        picture: channel.profile_picture,
        url: channel.profile_url,
        access_token: None,
        extra,
    })
}

#[async_trait]
impl Connector for YoutubeConnector {
    fn platform(&self) -> Platform {
        Platform::Youtube
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
            .get_json(&self.channels_url, &tokens.access_token, &[])
            .await?;
        parse_identity(&v)
    }

    /// Every channel of the grant. No selection step today (`mine=true` normally answers
    /// with the one channel picked in Google's account chooser); kept for multi-channel
    /// grants.
    async fn destinations(
        &self,
        tokens: &TokenSet,
        _identity: &Identity,
    ) -> Result<Vec<Destination>, ConnectorError> {
        let pages = self
            .engine
            .get_pages(
                &self.channels_url,
                &tokens.access_token,
                &[],
                "pageToken",
                google::next_page_token,
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
            .filter_map(|item| channel_destination(&item))
            .collect())
    }

    /// Google does not re-issue the refresh token: the old one is kept (§6).
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

    fn channel(id: &str, handle: Option<&str>, subscribers: Value, hidden: bool) -> Value {
        let mut snippet = json!({"title": "Ada's Lab", "thumbnails": {
            "default": {"url": "https://yt3.ggpht.com/88.jpg"}, "high": {"url": "https://yt3.ggpht.com/800.jpg"}}});
        if let Some(h) = handle {
            snippet["customUrl"] = json!(h);
        }
        json!({"kind": "youtube#channel", "id": id, "snippet": snippet,
            "statistics": {"viewCount": "10", "subscriberCount": subscribers, "hiddenSubscriberCount": hidden, "videoCount": "3"}})
    }

    #[test]
    fn the_first_channel_names_the_account() {
        let v = json!({"kind": "youtube#channelListResponse", "items": [
            channel("UCabcdefghijklmnopqrstuv", Some("@adaslab"), json!("1234"), false),
            channel("UCsecondsecondsecondsecx", None, json!("1"), false)]});
        assert_eq!(
            parse_identity(&v).unwrap(),
            Identity {
                platform_user_id: "UCabcdefghijklmnopqrstuv".into(),
                username: Some("@adaslab".into()),
                display_name: Some("Ada's Lab".into()),
                profile_picture: Some("https://yt3.ggpht.com/800.jpg".into()),
                profile_url: Some("https://www.youtube.com/@adaslab".into()),
                followers_count: Some(1234),
                metadata: Map::new(),
            }
        );
    }

    #[test]
    fn a_channel_without_handle_or_visible_count_still_has_a_url() {
        let item = channel("UCabcdefghijklmnopqrstuv", None, json!("99"), true);
        let id = parse_channel(&item).unwrap();
        assert_eq!(
            id.profile_url.as_deref(),
            Some("https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv")
        );
        assert_eq!(id.followers_count, None);
    }

    #[test]
    fn a_google_account_without_a_channel_is_not_eligible() {
        for v in [
            json!({"kind": "youtube#channelListResponse", "pageInfo": {"totalResults": 0}}),
            json!({"items": []}),
        ] {
            match parse_identity(&v) {
                Err(ConnectorError::NotEligible { code, .. }) => {
                    assert_eq!(code, "no_youtube_channel")
                }
                other => panic!("{v}: {other:?}"),
            }
        }
    }
}
