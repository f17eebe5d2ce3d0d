//! X (Twitter): OAuth 2.0 authorization code with PKCE. Facts: platforms.md §1.

use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh};

/// platforms.md §1. PKCE is mandatory even for confidential clients, and a confidential
/// client must authenticate with Basic (a secret in the body is refused). The refresh token
/// is issued only with `offline.access` and rotates on every use.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://x.com/i/oauth2/authorize",
    token_url: "https://api.x.com/2/oauth2/token",
    refresh: Refresh::Grant {
        url: "https://api.x.com/2/oauth2/token",
    },
    revoke_url: Some("https://api.x.com/2/oauth2/revoke"),
    long_lived_exchange: None,
    // `media.write` for the v2 media upload (v1.1 upload is deprecated).
    scopes: &[
        "tweet.read",
        "tweet.write",
        "users.read",
        "media.write",
        "offline.access",
    ],
    scope_separator: " ",
    pkce: Pkce::S256,
    client_auth: ClientAuth::Basic,
    client_id_param: "client_id",
    extra_authorize_params: &[],
    user_agent_required: false,
};
