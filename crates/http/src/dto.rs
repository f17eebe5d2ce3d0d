//! Response shapes, in Zernio's field names. Built from domain types; tokens have no field
//! here to leak through.

use chrono::{DateTime, Utc};
use plugboard_service::api_keys::ApiKeyView;
use plugboard_service::profiles::ProfileView;
use plugboard_store::{Account, Profile};
use serde::Serialize;
use utoipa::ToSchema;

/// Zernio's `SocialAccount`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SocialAccount {
    #[serde(rename = "_id")]
    pub id: String,
    /// Platform wire name, e.g. `twitter`.
    pub platform: String,
    pub profile_id: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    /// The account's id on its platform; stable across reconnects.
    pub platform_user_id: String,
    pub profile_picture: Option<String>,
    pub profile_url: Option<String>,
    pub is_active: bool,
    /// The platform reported the token dead; reconnect to clear.
    pub needs_reconnection: bool,
    /// `false` for accounts created as a side effect; hidden by `excludeHidden=true`.
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followers_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followers_last_updated: Option<DateTime<Utc>>,
    pub parent_account_id: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Account> for SocialAccount {
    fn from(a: &Account) -> Self {
        SocialAccount {
            id: a.id.to_string(),
            platform: a.platform.to_string(),
            profile_id: a.profile_id.to_string(),
            username: a.username.clone(),
            display_name: a.display_name.clone(),
            platform_user_id: a.platform_user_id.clone(),
            profile_picture: a.profile_picture.clone(),
            profile_url: a.profile_url.clone(),
            is_active: a.is_active,
            needs_reconnection: a.needs_reconnection,
            enabled: a.enabled,
            followers_count: a.followers_count,
            followers_last_updated: a.followers_last_updated,
            parent_account_id: a.parent_account_id.as_ref().map(|p| p.to_string()),
            metadata: a.metadata.clone(),
            token_expires_at: a.token_expires_at,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// Zernio's `Profile`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileBody {
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub description: Option<String>,
    pub color: Option<String>,
    /// IANA time zone; null means UTC.
    pub timezone: Option<String>,
    pub external_id: Option<String>,
    pub is_default: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_count: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProfileBody {
    pub fn new(p: &Profile, account_count: Option<u64>) -> Self {
        ProfileBody {
            id: p.id.to_string(),
            user_id: p.owner_id.to_string(),
            name: p.name.clone(),
            description: p.description.clone(),
            color: p.color.clone(),
            timezone: p.timezone.clone(),
            external_id: p.external_id.clone(),
            is_default: p.is_default,
            account_count,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

impl From<&ProfileView> for ProfileBody {
    fn from(v: &ProfileView) -> Self {
        ProfileBody::new(&v.profile, Some(v.account_count))
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProfileRef {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub color: Option<String>,
}

/// Zernio's `ApiKey`. `key` is present only in the create response.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyBody {
    pub id: String,
    pub name: String,
    pub key_preview: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `full` or `profiles`.
    pub scope: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_ids: Option<Vec<ProfileRef>>,
    /// `read-write` or `read`.
    pub permission: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disabled_resource_groups: Vec<String>,
}

impl ApiKeyBody {
    pub fn new(v: &ApiKeyView, key: Option<String>) -> Self {
        let r = &v.record;
        ApiKeyBody {
            id: r.id.to_string(),
            name: r.name.clone(),
            key_preview: r.preview.clone(),
            expires_at: r.expires_at,
            created_at: r.created_at,
            key,
            scope: if r.profile_ids.is_some() {
                "profiles"
            } else {
                "full"
            },
            profile_ids: r.profile_ids.as_ref().map(|_| {
                v.profiles
                    .iter()
                    .map(|p| ProfileRef {
                        id: p.id.to_string(),
                        name: p.name.clone(),
                        color: p.color.clone(),
                    })
                    .collect()
            }),
            permission: r.permission.as_str(),
            disabled_resource_groups: r.disabled_resource_groups.clone(),
        }
    }
}

/// `{ "message": "..." }`
#[derive(Serialize, ToSchema)]
pub struct Message {
    pub message: &'static str,
}
