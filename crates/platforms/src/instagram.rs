//! Instagram, through either of its two incompatible logins (platforms.md §2), chosen by
//! Zernio's `loginMethod` connect parameter.

use crate::spec::{ClientAuth, LongLivedExchange, OAuthSpec, Pkce, Refresh};

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
