//! LinkedIn, personal profile and organization pages. Facts: platforms.md §4.

use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh};

/// platforms.md §4. PKCE must not be sent: standard web apps fail when a `code_verifier`
/// arrives. The secret goes in the body. Refresh tokens come only to approved partner apps
/// and do not rotate. Postiz also sends `prompt=none`; whether LinkedIn honours it is
/// UNCERTAIN (§19), so it is left out.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://www.linkedin.com/oauth/v2/authorization",
    token_url: "https://www.linkedin.com/oauth/v2/accessToken",
    refresh: Refresh::Grant {
        url: "https://www.linkedin.com/oauth/v2/accessToken",
    },
    revoke_url: Some("https://www.linkedin.com/oauth/v2/revoke"),
    long_lived_exchange: None,
    // Sign In with LinkedIn (OpenID Connect) + Share on LinkedIn. Organization scopes need the
    // gated Community Management API, and asking for a scope the app lacks fails the whole
    // login, so they are opt-in: see ORGANIZATION_SCOPES.
    scopes: &["openid", "profile", "email", "w_member_social"],
    scope_separator: " ",
    pkce: Pkce::None,
    client_auth: ClientAuth::Body,
    client_id_param: "client_id",
    extra_authorize_params: &[],
    user_agent_required: false,
};

/// Added to [`SPEC`]'s scopes by apps approved for the Community Management API
/// (platforms.md §4, the set Postiz requests).
pub const ORGANIZATION_SCOPES: &[&str] = &[
    "r_basicprofile",
    "rw_organization_admin",
    "w_organization_social",
    "r_organization_social",
];
