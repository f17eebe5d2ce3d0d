//! YouTube through Google OAuth 2.0. Facts: platforms.md §6.

use crate::google;
use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh};

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
