//! Snapchat Public Profile API over the Snap Marketing API OAuth app. Facts: platforms.md §11.

use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh};

/// platforms.md §11. Posting goes through the allowlisted Public Profile API, which rides on
/// the Marketing API OAuth app (Snap Kit Login Kit cannot post). Nango disables PKCE here.
/// Whether refresh tokens rotate is UNCERTAIN (§19): keep any new one returned.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://accounts.snapchat.com/login/oauth2/authorize",
    token_url: "https://accounts.snapchat.com/login/oauth2/access_token",
    refresh: Refresh::Grant {
        url: "https://accounts.snapchat.com/login/oauth2/access_token",
    },
    revoke_url: None,
    long_lived_exchange: None,
    // Profile API for public profiles; Marketing API for `/v1/me` and organizations.
    scopes: &["snapchat-profile-api", "snapchat-marketing-api"],
    scope_separator: " ",
    pkce: Pkce::None,
    client_auth: ClientAuth::Body,
    client_id_param: "client_id",
    extra_authorize_params: &[],
    user_agent_required: false,
};
