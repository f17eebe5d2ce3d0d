//! `POST /v1/connect/whatsapp/credentials`: a WhatsApp Business Cloud API number from a
//! system-user access token, its WABA and the phone number id, verified against the Graph
//! API (platforms.md §12, shared/api-scope.md §5.3).

use super::session::{AccountTokens, FlowRecord};
use crate::auth::ResourceGroup;
use crate::{Caller, ServiceError, ServiceResult, Services};
use plugboard_core::{Platform, ProfileId, Secret};
use plugboard_platforms::whatsapp::PhoneNumber;
use plugboard_platforms::{ConnectorError, Identity, TokenSet};
use plugboard_store::{Account, AccountQuery};
use serde_json::json;

/// A validated credentials connect.
#[derive(Debug, Clone)]
pub struct WhatsAppCredentials {
    pub profile_id: ProfileId,
    pub access_token: Secret<String>,
    pub waba_id: String,
    pub phone_number_id: String,
    /// Six digits: registers the number for the Cloud API with two-step verification.
    pub pin: Option<String>,
}

#[derive(Debug)]
pub struct WhatsAppConnected {
    pub account: Account,
    pub phone: PhoneNumber,
    /// The account was stored but the Cloud API registration was refused.
    pub registration_warning: Option<String>,
}

/// Graph ids are digits.
pub fn valid_graph_id(raw: &str) -> bool {
    (1..=32).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit())
}

pub fn valid_pin(raw: &str) -> bool {
    raw.len() == 6 && raw.bytes().all(|b| b.is_ascii_digit())
}

fn graph_error(e: ConnectorError) -> ServiceError {
    match e {
        ConnectorError::QuotaExceeded { reset_at, .. } => ServiceError::QuotaExceeded {
            platform: Platform::Whatsapp,
            reset_at,
            message: "Meta is refusing this server's API calls for quota; try the WhatsApp connect again later".into(),
        },
        ConnectorError::InvalidGrant { .. } => ServiceError::PlatformUnauthorized {
            code: "whatsapp_token_invalid",
            message: "Meta refused the access token: it is invalid, expired or revoked".into(),
        },
        ConnectorError::PermissionDenied { description } => ServiceError::BadRequest {
            code: "whatsapp_permission_denied",
            message: format!(
                "The token has no access to this WhatsApp Business Account: {description}"
            ),
            param: Some("wabaId"),
        },
        ConnectorError::Platform { status: 400, .. } => ServiceError::BadRequest {
            code: "whatsapp_error",
            message: "Meta does not know this WhatsApp Business Account id".into(),
            param: Some("wabaId"),
        },
        other => ServiceError::Upstream {
            code: "whatsapp_error",
            message: "The WhatsApp Cloud API could not be reached; try again".into(),
            details: Some(other.to_string()),
        },
    }
}

impl Services {
    pub async fn connect_whatsapp(
        &self,
        caller: &Caller,
        req: WhatsAppCredentials,
    ) -> ServiceResult<WhatsAppConnected> {
        caller.require(ResourceGroup::Accounts, true)?;
        self.visible_profile(caller, &req.profile_id).await?;
        let ctx = self.connect_context()?;
        let client = ctx
            .whatsapp
            .as_ref()
            .ok_or_else(|| ServiceError::NotConfigured {
                message: "WhatsApp is not configured on this server".into(),
            })?;
        self.check_quota(Platform::Whatsapp).await?;
        let numbers = client
            .phone_numbers(&req.access_token, &req.waba_id)
            .await
            .map_err(graph_error)?;
        let Some(phone) = numbers
            .iter()
            .find(|n| n.id == req.phone_number_id)
            .cloned()
        else {
            let available: Vec<_> = numbers
                .iter()
                .map(|n| json!({"id": n.id, "displayPhoneNumber": n.display_phone_number, "verifiedName": n.verified_name}))
                .collect();
            return Err(ServiceError::BadRequestWithDetails {
                code: "phone_number_not_in_waba",
                message: "That phone number id is not in this WhatsApp Business Account".into(),
                param: Some("phoneNumberId"),
                details: Box::new(json!({ "availablePhoneNumbers": available })),
            });
        };
        // One number, one profile (Zernio's WHATSAPP_NUMBER_ALREADY_CONNECTED).
        let elsewhere = self
            .scoped(caller)
            .list_accounts(&AccountQuery {
                platforms: Some(vec![Platform::Whatsapp]),
                search: None,
                ..Default::default()
            })
            .await?
            .accounts
            .into_iter()
            .any(|a| a.platform_user_id == phone.id && a.profile_id != req.profile_id);
        if elsewhere {
            return Err(ServiceError::Conflict {
                code: "WHATSAPP_NUMBER_ALREADY_CONNECTED",
                message:
                    "This number is already connected on another profile; disconnect it there first"
                        .into(),
                details: None,
            });
        }
        let registration_warning = match &req.pin {
            Some(pin) => match client.register(&req.access_token, &phone.id, pin).await {
                Ok(()) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "WhatsApp Cloud API registration refused");
                    Some(format!(
                        "The account was connected, but Meta refused to register the number for the Cloud API: {e}"
                    ))
                }
            },
            None => None,
        };
        let mut metadata = serde_json::Map::new();
        for (k, v) in [
            ("wabaId", Some(req.waba_id.clone())),
            ("phoneNumberId", Some(phone.id.clone())),
            (
                "displayPhoneNumber",
                Some(phone.display_phone_number.clone()),
            ),
            ("verifiedName", phone.verified_name.clone()),
            ("qualityRating", phone.quality_rating.clone()),
            ("nameStatus", phone.name_status.clone()),
            ("messagingLimitTier", phone.messaging_limit_tier.clone()),
        ] {
            if let Some(v) = v {
                metadata.insert(k.into(), v.into());
            }
        }
        let identity = Identity {
            platform_user_id: phone.id.clone(),
            username: Some(phone.display_phone_number.clone()),
            display_name: phone
                .verified_name
                .clone()
                .or_else(|| Some(phone.display_phone_number.clone())),
            profile_picture: None,
            profile_url: None,
            followers_count: None,
            metadata,
        };
        let tokens = AccountTokens {
            tokens: TokenSet {
                access_token: req.access_token.expose().clone(),
                refresh_token: None,
                // System-user tokens do not expire (platforms.md §12).
                expires_at: None,
                refresh_expires_at: None,
                scopes: vec![],
                user_id: None,
            },
            login: None,
        };
        let flow = FlowRecord {
            platform: Platform::Whatsapp,
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
        let account = self
            .store_account(
                &caller.owner,
                &flow,
                &identity,
                None,
                tokens,
                Default::default(),
            )
            .await?;
        Ok(WhatsAppConnected {
            account,
            phone,
            registration_warning,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_ids_and_pins_are_digits() {
        assert!(valid_graph_id("102290129340398"));
        assert!(!valid_graph_id("10229x"));
        assert!(!valid_graph_id(""));
        assert!(valid_pin("123456"));
        for bad in ["12345", "1234567", "12345a"] {
            assert!(!valid_pin(bad), "{bad}");
        }
    }
}
