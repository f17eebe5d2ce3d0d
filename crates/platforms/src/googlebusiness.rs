//! Google Business Profile through Google OAuth 2.0. Facts: platforms.md §7 (auth as §6).

use crate::google;
use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh};

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
