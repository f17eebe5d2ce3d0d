//! The one place that maps a platform (and flavor) to its connector.

use std::sync::Arc;

use plugboard_core::{Clock, Platform};

use crate::connector::{Connector, Flavor, PlatformApp};
use crate::spec::SpecError;
use crate::{
    facebook, googlebusiness, instagram, linkedin, pinterest, reddit, snapchat, threads, tiktok,
    twitter, whatsapp, youtube,
};

/// The connector of `platform` in `flavor`, with `app`'s credentials, scopes and base URL.
/// `None` for the platforms that do not connect through OAuth (Bluesky, Telegram) and for a
/// flavor the platform does not have. WhatsApp's is its Meta login; its credentials path
/// uses [`whatsapp::WhatsAppClient`]. For
/// [`Flavor::InstagramFacebookLogin`], `app` is the Facebook app (credentials and base URL).
pub fn build_connector(
    platform: Platform,
    flavor: Flavor,
    app: PlatformApp,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
) -> Result<Option<Arc<dyn Connector>>, SpecError> {
    fn boxed<C: Connector + 'static>(c: C) -> Option<Arc<dyn Connector>> {
        Some(Arc::new(c))
    }
    Ok(match (platform, flavor) {
        (Platform::Twitter, Flavor::Standard) => {
            boxed(twitter::TwitterConnector::new(app, http, clock)?)
        }
        (Platform::Instagram, Flavor::Standard) => {
            boxed(instagram::InstagramLoginConnector::new(app, http, clock)?)
        }
        (Platform::Instagram, Flavor::InstagramFacebookLogin) => boxed(
            instagram::InstagramFacebookLoginConnector::new(app, http, clock)?,
        ),
        (Platform::Facebook, Flavor::Standard) => {
            boxed(facebook::FacebookConnector::new(app, http, clock)?)
        }
        (Platform::Linkedin, Flavor::Standard) => {
            boxed(linkedin::LinkedinConnector::new(app, http, clock)?)
        }
        (Platform::Tiktok, Flavor::Standard) => {
            boxed(tiktok::TiktokConnector::new(app, http, clock)?)
        }
        (Platform::Youtube, Flavor::Standard) => {
            boxed(youtube::YoutubeConnector::new(app, http, clock)?)
        }
        (Platform::Pinterest, Flavor::Standard) => {
            boxed(pinterest::PinterestConnector::new(app, http, clock)?)
        }
        (Platform::Reddit, Flavor::Standard) => {
            boxed(reddit::RedditConnector::new(app, http, clock)?)
        }
        (Platform::Threads, Flavor::Standard) => {
            boxed(threads::ThreadsConnector::new(app, http, clock)?)
        }
        (Platform::Googlebusiness, Flavor::Standard) => boxed(
            googlebusiness::GooglebusinessConnector::new(app, http, clock)?,
        ),
        (Platform::Snapchat, Flavor::Standard) => {
            boxed(snapchat::SnapchatConnector::new(app, http, clock)?)
        }
        (Platform::Whatsapp, Flavor::Standard) => {
            boxed(whatsapp::WhatsAppConnector::new(app, http, clock)?)
        }
        _ => None,
    })
}
