//! Threads. Facts: platforms.md §10.

use crate::spec::{ClientAuth, LongLivedExchange, OAuthSpec, Pkce, Refresh};

/// platforms.md §10. `client_id` is the Threads app id, distinct from the Meta app id.
/// Domains are UNCERTAIN (§19): the browser-facing authorize URL follows the 2026 docs
/// (`threads.com`; a browser would follow a redirect from `threads.net` anyway), while the
/// server-to-server calls stay on `graph.threads.net`, which production code (Nango, Postiz)
/// uses and where a redirect of a POST would be harmful. No refresh token: the 1-hour token is
/// exchanged for a 60-day one (`th_exchange_token`) and extended with `th_refresh_token`.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://threads.com/oauth/authorize",
    token_url: "https://graph.threads.net/oauth/access_token",
    refresh: Refresh::ExtendAccessToken {
        url: "https://graph.threads.net/refresh_access_token",
        grant_type: "th_refresh_token",
    },
    revoke_url: None,
    long_lived_exchange: Some(LongLivedExchange {
        url: "https://graph.threads.net/access_token",
        grant_type: "th_exchange_token",
        token_param: "access_token",
        send_client_id: false,
    }),
    scopes: &[
        "threads_basic",
        "threads_content_publish",
        "threads_manage_replies",
        "threads_read_replies",
        "threads_manage_insights",
    ],
    scope_separator: ",",
    pkce: Pkce::None,
    client_auth: ClientAuth::Body,
    client_id_param: "client_id",
    extra_authorize_params: &[],
    user_agent_required: false,
};
