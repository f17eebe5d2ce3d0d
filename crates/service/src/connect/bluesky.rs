//! `POST /v1/connect/bluesky/credentials`: a handle (or email, or DID) and an app password
//! become a Bluesky session, stored sealed; the account is the DID (platforms.md §13).

use super::session::AccountTokens;
use crate::auth::ResourceGroup;
use crate::{Caller, ServiceError, ServiceResult, Services};
use plugboard_core::{Platform, ProfileId, Secret};
use plugboard_platforms::{ConnectorError, TokenSet};
use plugboard_store::Account;

/// A validated Bluesky credentials connect.
#[derive(Debug, Clone)]
pub struct BlueskyCredentials {
    pub identifier: String,
    pub app_password: Secret<String>,
    pub profile_id: ProfileId,
}

/// The profile a Bluesky `state` names: Zernio's guide writes `profile_id=<id>`, the SDK
/// `{userId}-{profileId}`; a bare profile id is taken too.
pub fn profile_from_state(state: &str) -> Option<ProfileId> {
    let s = state.trim();
    let raw = s
        .strip_prefix("profile_id=")
        .or_else(|| s.strip_prefix("profileId="))
        .or_else(|| s.rsplit_once('-').map(|(_, p)| p))
        .unwrap_or(s);
    ProfileId::parse(raw).ok()
}

/// Handles, emails and DIDs: what a person types into the identifier field.
pub fn valid_identifier(raw: &str) -> bool {
    let s = raw.trim().trim_start_matches('@');
    (3..=253).contains(&s.len()) && !s.chars().any(char::is_whitespace)
}

fn login_error(e: ConnectorError) -> ServiceError {
    match e {
        ConnectorError::InvalidGrant { .. } | ConnectorError::InvalidClient { .. } => ServiceError::BadRequest {
            code: "invalid_credentials",
            message: "Bluesky refused the identifier or app password".into(),
            param: Some("appPassword"),
        },
        ConnectorError::NotEligible { code, message } => ServiceError::BadRequest {
            code,
            message,
            param: Some("appPassword"),
        },
        ConnectorError::Platform { status: 429, .. } => ServiceError::Upstream {
            code: "platform_rate_limited",
            message: "Bluesky is rate-limiting logins for this account (30 per 5 minutes); try again later".into(),
            details: None,
        },
        other => ServiceError::Upstream {
            code: "connection_failed",
            message: "Could not reach the Bluesky server; try again".into(),
            details: Some(other.to_string()),
        },
    }
}

impl Services {
    pub async fn connect_bluesky(
        &self,
        caller: &Caller,
        req: BlueskyCredentials,
    ) -> ServiceResult<Account> {
        caller.require(ResourceGroup::Accounts, true)?;
        self.visible_profile(caller, &req.profile_id).await?;
        let ctx = self.connect_context()?;
        let client = ctx
            .bluesky
            .as_ref()
            .ok_or_else(|| ServiceError::NotConfigured {
                message: "Bluesky is not configured on this server".into(),
            })?;
        let identifier = req.identifier.trim().trim_start_matches('@');
        let session = client
            .login(identifier, &req.app_password)
            .await
            .map_err(login_error)?;
        let identity = match client.profile(&session).await {
            Ok(i) => i,
            Err(e) => {
                // The session is ours to close: a failed connect leaves none behind.
                let _ = client.logout(&session).await;
                return Err(login_error(e));
            }
        };
        let mut metadata = identity.metadata.clone();
        metadata.insert("pdsUrl".into(), session.pds.as_str().into());
        let tokens = AccountTokens {
            tokens: TokenSet {
                access_token: session.access_jwt.clone(),
                refresh_token: Some(session.refresh_jwt.clone()),
                expires_at: session.access_expires_at,
                refresh_expires_at: session.refresh_expires_at,
                scopes: vec![],
                user_id: Some(session.did.clone()),
            },
            login: None,
        };
        let flow = super::session::FlowRecord {
            platform: Platform::Bluesky,
            login_method: String::new(),
            profile_id: req.profile_id.to_string(),
            key_id: caller.key_id.to_string(),
            redirect_url: None,
            headless: true,
            reconnect_account_id: None,
            expected_platform_user_id: None,
            expected_username: None,
            ads: None,
            all_destinations: false,
        };
        let mut identity = identity;
        identity.metadata = metadata;
        self.store_account(
            &caller.owner,
            &flow,
            &identity,
            None,
            tokens,
            Default::default(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_names_the_profile_in_either_documented_form() {
        let p = "6553f100aaaaaaaaaaaaaaaa";
        for state in [
            format!("profile_id={p}"),
            format!("6553f100bbbbbbbbbbbbbbbb-{p}"),
            p.to_owned(),
            format!("  profileId={p} "),
        ] {
            assert_eq!(
                profile_from_state(&state).map(|x| x.to_string()),
                Some(p.to_owned()),
                "{state}"
            );
        }
        for bad in ["", "profile_id=", "user-notanid", "profile_id=xyz"] {
            assert!(profile_from_state(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn identifiers_are_handles_emails_or_dids() {
        for ok in [
            "alice.bsky.social",
            "@alice.bsky.social",
            "a@b.co",
            "did:plc:abc123",
        ] {
            assert!(valid_identifier(ok), "{ok}");
        }
        for bad in ["", "ab", "with space.bsky.social"] {
            assert!(!valid_identifier(bad), "{bad}");
        }
    }
}
