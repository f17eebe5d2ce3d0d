//! Reddit. Facts: platforms.md §9.

use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh};

/// platforms.md §9. Without `duration=permanent` there is no refresh token and the connection
/// dies after an hour. Basic auth at the token endpoint; a descriptive User-Agent is mandatory
/// on every call including the token ones (generic ones are throttled). Whether refresh now
/// rotates is UNCERTAIN (§19): keep any new refresh token returned.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://www.reddit.com/api/v1/authorize",
    token_url: "https://www.reddit.com/api/v1/access_token",
    refresh: Refresh::Grant {
        url: "https://www.reddit.com/api/v1/access_token",
    },
    revoke_url: Some("https://www.reddit.com/api/v1/revoke_token"),
    long_lived_exchange: None,
    // Postiz's set plus `mysubreddits` to offer the user's subreddits when posting.
    scopes: &["identity", "read", "submit", "flair", "mysubreddits"],
    scope_separator: " ",
    pkce: Pkce::None,
    client_auth: ClientAuth::Basic,
    client_id_param: "client_id",
    extra_authorize_params: &[("duration", "permanent")],
    user_agent_required: true,
};
