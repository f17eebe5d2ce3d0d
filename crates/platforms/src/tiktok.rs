//! TikTok Login Kit (OAuth v2) for the Content Posting API. Facts: platforms.md §5.

use crate::spec::{ClientAuth, OAuthSpec, Pkce, Refresh};

/// platforms.md §5. The client id is `client_key` at authorize and token; scopes are
/// comma-separated; the trailing slashes are part of the URLs. This is the web flow, which has
/// no PKCE (desktop/mobile flows require it, with a reported hex-encoding quirk that is
/// UNCERTAIN, §19, and irrelevant here). Refresh tokens rotate; lifetimes changed across doc
/// versions (UNCERTAIN, §19), so only `expires_in`/`refresh_expires_in` are to be trusted.
pub const SPEC: OAuthSpec = OAuthSpec {
    authorize_url: "https://www.tiktok.com/v2/auth/authorize/",
    token_url: "https://open.tiktokapis.com/v2/oauth/token/",
    refresh: Refresh::Grant {
        url: "https://open.tiktokapis.com/v2/oauth/token/",
    },
    revoke_url: Some("https://open.tiktokapis.com/v2/oauth/revoke/"),
    long_lived_exchange: None,
    // basic: open_id, avatar, display name; profile: username, deep link; stats: followers.
    scopes: &[
        "user.info.basic",
        "user.info.profile",
        "user.info.stats",
        "video.publish",
        "video.upload",
    ],
    scope_separator: ",",
    pkce: Pkce::None,
    client_auth: ClientAuth::Body,
    client_id_param: "client_key",
    extra_authorize_params: &[],
    user_agent_required: false,
};
