//! The "secondary selection": what a fake user can pick after the login (Facebook Pages and
//! ad accounts, LinkedIn organizations, Pinterest boards, Google Business locations,
//! Snapchat public profiles, YouTube channels), served at the platforms' real listing paths
//! in their JSON shapes (platforms.md, "Secondary selection"). How many a user has is the
//! consent form's `destinations` number; ids derive from (platform, username, index), so a
//! reconnected user finds the same ones.

pub(crate) mod facebook;
mod fields;
mod google;
mod linkedin;
mod pinterest;
mod snapchat;
pub(crate) mod youtube;

use std::ops::Range;

use actix_web::{HttpRequest, HttpResponse};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::errors::{ApiErrorKind, api_error};
use crate::identity::{Caller, authenticate};
use crate::params::Params;
use crate::state::DestinationsFault;
use crate::table::{Fake, Listing};

/// A listing endpoint: the token and the `identity` knobs as at the identity endpoint, then
/// the `destinations` knob, then the endpoint itself.
pub(crate) fn serve(
    req: &HttpRequest,
    fake: &'static Fake,
    listing: Listing,
    captured: &[&str],
) -> HttpResponse {
    let caller = match authenticate(req, fake) {
        Ok(c) => c,
        Err(kind) => return api_error(fake, kind),
    };
    if caller.faults.destinations == Some(DestinationsFault::Fail) {
        return api_error(fake, ApiErrorKind::ServerError);
    }
    let id = captured.first().copied().unwrap_or_default();
    match listing {
        Listing::FacebookPages => facebook::pages(req, &caller),
        Listing::FacebookNode => facebook::node(req, fake, &caller, id),
        Listing::FacebookAdAccounts => facebook::ad_accounts(req, &caller),
        Listing::FacebookAds => facebook::ads(req, &caller, id),
        Listing::FacebookPermissions => facebook::permissions(&caller),
        Listing::FacebookBusinesses => facebook::businesses(&caller),
        Listing::LinkedinOrganizationAcls => linkedin::organization_acls(req, fake, &caller),
        Listing::LinkedinOrganization => linkedin::organization(req, &caller, id),
        Listing::LinkedinMe => linkedin::me(fake, &caller),
        Listing::PinterestBoards => pinterest::boards(req, &caller),
        Listing::GoogleAccounts => google::accounts(&caller),
        Listing::GoogleLocations => google::locations(&caller, id),
        Listing::SnapchatOrganizations => snapchat::organizations(fake, &caller),
        Listing::SnapchatProfiles => snapchat::profiles(req, fake, &caller, id),
        Listing::SnapchatMyProfile => snapchat::my_profile(req, fake, &caller),
    }
}

/// "Sandbox Page 1 of alice": says what it is, whose, and which.
fn label(kind: &str, index: usize, username: &str) -> String {
    format!("Sandbox {kind} {} of {username}", index + 1)
}

/// The indices one page of a listing shows.
fn window(total: usize, start: usize, size: usize) -> Range<usize> {
    let start = start.min(total);
    start..start.saturating_add(size).min(total)
}

/// An opaque paging cursor (Graph cursors, Pinterest bookmarks, Google page tokens): the
/// index it points at, encoded so connectors treat it as the opaque string it is.
fn cursor(index: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("sbx-cursor:{index}"))
}

fn parse_cursor(raw: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("sbx-cursor:")?
        .parse()
        .ok()
}

/// A page size from the query: `default` when absent, `Err` when not a number in
/// `1..=max` (platforms that clamp instead pass `usize::MAX` and clamp themselves).
fn page_size(query: &Params, param: &str, default: usize, max: usize) -> Result<usize, String> {
    match query.get(param) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("{param} must be a whole number from 1 to {max}")),
    }
}

/// This request's own URL with some query parameters replaced: the `next` link of a page.
fn self_url(req: &HttpRequest, query: &Params, set: &[(&str, &str)], drop: &[&str]) -> String {
    let info = req.connection_info();
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query.pairs() {
        if !drop.contains(&k) && !set.iter().any(|(s, _)| *s == k) {
            q.append_pair(k, v);
        }
    }
    for (k, v) in set {
        q.append_pair(k, v);
    }
    format!(
        "{}://{}{}?{}",
        info.scheme(),
        info.host(),
        req.path(),
        q.finish()
    )
}

/// The object inside a `json!` literal; builders here only ever pass objects.
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Caller {
    /// Whether the `destinations: "empty"` knob hides everything the user has.
    fn emptied(&self) -> bool {
        self.faults.destinations == Some(DestinationsFault::Empty)
    }

    fn has_scope(&self, any_of: &[&str]) -> bool {
        self.grant
            .scopes
            .iter()
            .any(|s| any_of.contains(&s.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_decodes_to_the_index_it_encodes_and_garbage_to_nothing() {
        for i in [0, 1, 4, 250] {
            assert_eq!(parse_cursor(&cursor(i)), Some(i));
        }
        for bad in ["", "abc", "c2J4LWN1cnNvcjp4"] {
            assert_eq!(parse_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_window_never_runs_past_the_list() {
        assert_eq!(window(5, 0, 2), 0..2);
        assert_eq!(window(5, 4, 2), 4..5);
        assert_eq!(window(5, 9, 2), 5..5);
        assert_eq!(window(0, 0, 25), 0..0);
    }
}
