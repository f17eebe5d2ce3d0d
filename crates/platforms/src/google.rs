//! Google OAuth 2.0, shared by YouTube (platforms.md §6) and Google Business Profile (§7).

use serde_json::Value;

use crate::engine::str_at;

/// `accounts.google.com` authorization endpoint, platforms.md §6.
pub(crate) const AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Token and refresh endpoint, platforms.md §6.
pub(crate) const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub(crate) const REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";

/// Google returns a refresh token only with `access_type=offline`, and on a repeat login only
/// when consent is shown again (`prompt=consent`), platforms.md §6.
pub(crate) const AUTHORIZE_PARAMS: &[(&str, &str)] =
    &[("access_type", "offline"), ("prompt", "consent")];

/// The cursor of the next page of a Google list (`nextPageToken`, sent back as `pageToken`).
pub(crate) fn next_page_token(page: &Value) -> Option<String> {
    str_at(page, "/nextPageToken")
}
