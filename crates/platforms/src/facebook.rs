//! Facebook Pages through Facebook Login (manual flow). Facts: platforms.md §3.

use crate::spec::{ClientAuth, LongLivedExchange, OAuthSpec, Pkce, Refresh};

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
