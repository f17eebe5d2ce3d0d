//! Pinterest API v5. Facts: platforms.md §8.

use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh};

/// platforms.md §8. Basic auth is mandatory at the token endpoint; scopes are comma-separated
/// (what production uses). PKCE support is not documented (UNCERTAIN, §19), so none is sent.
/// The refresh token is "continuous" and rotates. Apps created before 2025-09-25 must add
/// `continuous_refresh=true` to the code exchange; this spec targets newer apps. No revoke
/// endpoint is documented.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://www.pinterest.com/oauth/",
    token_url: "https://api.pinterest.com/v5/oauth/token",
    refresh: Refresh::Grant {
        url: "https://api.pinterest.com/v5/oauth/token",
    },
    revoke_url: None,
    long_lived_exchange: None,
    scopes: &[
        "user_accounts:read",
        "boards:read",
        "boards:write",
        "pins:read",
        "pins:write",
    ],
    scope_separator: ",",
    pkce: Pkce::None,
    client_auth: ClientAuth::Basic,
    client_id_param: "client_id",
    extra_authorize_params: &[],
    user_agent_required: false,
};
