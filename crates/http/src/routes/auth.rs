use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Auth;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResponse {
    valid: bool,
    user_id: String,
    name: Option<String>,
    email: Option<String>,
    /// Always `api_key` for API keys.
    auth_type: &'static str,
    /// OAuth scopes; null for API keys.
    scope: Option<String>,
}

/// Verify the credential sent as bearer.
#[utoipa::path(
    tag = "API keys",
    operation_id = "verifyCredential",
    responses(
        (status = 200, body = VerifyResponse),
        (status = 401, body = ErrorBody),
    ),
    security(("bearerAuth" = []))
)]
#[get("/auth/verify")]
pub async fn verify(
    state: web::Data<AppState>,
    Auth(caller): Auth,
) -> Result<HttpResponse, ApiError> {
    let owner = state
        .services
        .store
        .get_owner(&caller.owner)
        .await
        .map_err(plugboard_service::ServiceError::from)?;
    Ok(HttpResponse::Ok().json(VerifyResponse {
        valid: true,
        user_id: caller.owner.to_string(),
        name: owner.as_ref().map(|o| o.name.clone()),
        email: owner.and_then(|o| o.email),
        auth_type: "api_key",
        scope: None,
    }))
}
