use crate::AppState;
use crate::dto::{ApiKeyBody, Message};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Auth, parse_id};
use actix_web::{HttpResponse, delete, get, post, web};
use plugboard_core::{ApiKeyId, ProfileId};
use plugboard_service::api_keys::NewApiKey;
use plugboard_store::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyList {
    api_keys: Vec<ApiKeyBody>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreated {
    message: &'static str,
    api_key: ApiKeyBody,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiKey {
    name: Option<String>,
    /// Days until the key expires; none means never.
    expires_in: Option<u32>,
    /// `full` (default) or `profiles`.
    scope: Option<String>,
    /// Required when scope is `profiles`.
    profile_ids: Option<Vec<String>>,
    /// `read-write` (default) or `read` (GET only).
    permission: Option<String>,
    disabled_resource_groups: Option<Vec<String>>,
}

impl TryFrom<CreateApiKey> for NewApiKey {
    type Error = ApiError;
    fn try_from(b: CreateApiKey) -> Result<Self, ApiError> {
        let name = b
            .name
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| ApiError::bad_request("validation_error", "name", "name is required"))?;
        let scoped = match b.scope.as_deref() {
            None | Some("full") => false,
            Some("profiles") => true,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "validation_error",
                    "scope",
                    "scope must be 'full' or 'profiles'",
                ));
            }
        };
        let permission = match b.permission.as_deref() {
            None | Some("read-write") => Permission::ReadWrite,
            Some("read") => Permission::Read,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "validation_error",
                    "permission",
                    "permission must be 'read-write' or 'read'",
                ));
            }
        };
        if let Some(days) = b.expires_in
            && !(1..=3650).contains(&days)
        {
            return Err(ApiError::bad_request(
                "validation_error",
                "expiresIn",
                "expiresIn must be a number of days from 1 to 3650",
            ));
        }
        let profile_ids = match (scoped, b.profile_ids) {
            (false, _) => None,
            (true, None) => Some(vec![]),
            (true, Some(ids)) => Some(
                ids.iter()
                    .map(|i| parse_id::<ProfileId>(i, "profileIds"))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(NewApiKey {
            name: name.trim().to_owned(),
            expires_in_days: b.expires_in,
            profile_ids,
            permission,
            disabled_resource_groups: b.disabled_resource_groups.unwrap_or_default(),
        })
    }
}

/// List API keys (previews only).
#[utoipa::path(
    tag = "API keys",
    operation_id = "listApiKeys",
    responses((status = 200, body = ApiKeyList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearerAuth" = []))
)]
#[get("/api-keys")]
pub async fn list(
    state: web::Data<AppState>,
    Auth(caller): Auth,
) -> Result<HttpResponse, ApiError> {
    let keys = state.services.list_api_keys(&caller).await?;
    Ok(HttpResponse::Ok().json(ApiKeyList {
        api_keys: keys.iter().map(|k| ApiKeyBody::new(k, None)).collect(),
    }))
}

/// Create an API key. The full key is in this response only.
#[utoipa::path(
    tag = "API keys",
    operation_id = "createApiKey",
    request_body = CreateApiKey,
    responses((status = 201, body = ApiKeyCreated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearerAuth" = []))
)]
#[post("/api-keys")]
pub async fn create(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    body: web::Json<CreateApiKey>,
) -> Result<HttpResponse, ApiError> {
    let new = NewApiKey::try_from(body.into_inner())?;
    let created = state.services.create_api_key(&caller, new).await?;
    Ok(HttpResponse::Created().json(ApiKeyCreated {
        message: "API key created successfully",
        api_key: ApiKeyBody::new(&created.view, Some(created.key.into_inner())),
    }))
}

/// Revoke an API key.
#[utoipa::path(
    tag = "API keys",
    operation_id = "deleteApiKey",
    params(("keyId" = String, Path, description = "API key id")),
    responses((status = 200, body = Message), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearerAuth" = []))
)]
#[delete("/api-keys/{keyId}")]
pub async fn delete(
    state: web::Data<AppState>,
    Auth(caller): Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ApiKeyId = parse_id(&path, "keyId")?;
    state.services.delete_api_key(&caller, &id).await?;
    Ok(HttpResponse::Ok().json(Message {
        message: "API key deleted successfully",
    }))
}
