//! The one place where meaning becomes an HTTP status and a Zernio error `code`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use plugboard_service::ServiceError;
use serde::Serialize;
use std::fmt;

/// An error response: `{"error", "type", "code", "param"?, "details"?}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub param: Option<&'static str>,
    pub details: Option<Box<serde_json::Value>>,
    pub required_group: Option<&'static str>,
    /// The platform's own error description (502s on platform failures).
    pub platform_error: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Human-readable message.
    error: String,
    /// Error class: invalid_request_error, authentication_error, permission_error,
    /// not_found, rate_limit_error, api_error.
    #[serde(rename = "type")]
    kind: &'static str,
    /// Stable machine-readable code.
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    details: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    required_group: Option<&'static str>,
    #[serde(rename = "platformError", skip_serializing_if = "Option::is_none")]
    platform_error: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            param: None,
            details: None,
            required_group: None,
            platform_error: None,
        }
    }

    pub fn bad_request(
        code: &'static str,
        param: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            param: Some(param),
            ..Self::new(StatusCode::BAD_REQUEST, code, message)
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error; the request id in X-Request-Id identifies it in the logs",
        )
    }

    /// A 429's `Retry-After` (RFC 9110 §10.2.3) from the `resetAt` of its details, as an
    /// IMF-fixdate (§5.6.7), so no clock is read here.
    fn retry_after(&self) -> Option<String> {
        if self.status != StatusCode::TOO_MANY_REQUESTS {
            return None;
        }
        let raw = self.details.as_ref()?.get("resetAt")?.as_str()?;
        let at = chrono::DateTime::parse_from_rfc3339(raw).ok()?;
        Some(
            at.with_timezone(&chrono::Utc)
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        )
    }

    fn kind(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found",
            429 => "rate_limit_error",
            400..=499 => "invalid_request_error",
            502 => "platform_error",
            _ => "api_error",
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(date) = self.retry_after() {
            response.insert_header((actix_web::http::header::RETRY_AFTER, date));
        }
        response.json(ErrorBody {
            error: self.message.clone(),
            kind: self.kind(),
            code: self.code,
            param: self.param,
            details: self.details.as_deref().cloned(),
            required_group: self.required_group,
            platform_error: self.platform_error.clone(),
        })
    }
}

fn not_found_code(what: &str) -> &'static str {
    match what {
        "Profile" => "profile_not_found",
        "Account" => "account_not_found",
        "API key" => "api_key_not_found",
        "Pending selection" => "pending_selection_not_found",
        "Page" => "page_not_found",
        "Organization" => "organization_not_found",
        "Board" => "board_not_found",
        "Location" => "location_not_found",
        "Public profile" => "public_profile_not_found",
        "Telegram code" => "code_not_found",
        "Webhook" => "webhook_not_found",
        "Webhook event" => "event_not_found",
        _ => "not_found",
    }
}

/// Conflicts that Zernio reports as 400 rather than 409.
fn conflict_status(code: &str) -> StatusCode {
    match code {
        "profile_has_active_accounts" => StatusCode::BAD_REQUEST,
        "idempotency_key_reused" | "redelivery_window_expired" => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::CONFLICT,
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Unauthenticated { message } => ApiError::unauthorized(message),
            ServiceError::Forbidden {
                message,
                required_group,
            } => ApiError {
                required_group,
                ..ApiError::new(StatusCode::FORBIDDEN, "insufficient_permissions", message)
            },
            ServiceError::NotFound { what } => ApiError::new(
                StatusCode::NOT_FOUND,
                not_found_code(what),
                format!("{what} not found"),
            ),
            ServiceError::Invalid { message, param } => ApiError {
                param,
                ..ApiError::new(StatusCode::BAD_REQUEST, "validation_error", message)
            },
            ServiceError::Conflict {
                code,
                message,
                details,
            } => ApiError {
                details: details.map(Box::new),
                ..ApiError::new(conflict_status(code), code, message)
            },
            ServiceError::BadRequest {
                code,
                message,
                param,
            } => ApiError {
                param,
                ..ApiError::new(StatusCode::BAD_REQUEST, code, message)
            },
            ServiceError::BadRequestWithDetails {
                code,
                message,
                param,
                details,
            } => ApiError {
                param,
                details: Some(details),
                ..ApiError::new(StatusCode::BAD_REQUEST, code, message)
            },
            ServiceError::PlatformUnauthorized { code, message } => {
                ApiError::new(StatusCode::UNAUTHORIZED, code, message)
            }
            // A 4xx: the request is fine but this server is not set up to serve it, which
            // the operator fixes, not a retry.
            ServiceError::NotConfigured { message } => {
                ApiError::new(StatusCode::BAD_REQUEST, "platform_not_configured", message)
            }
            ServiceError::Unavailable { code, message } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
            }
            ServiceError::Upstream {
                code,
                message,
                details,
            } => ApiError {
                platform_error: details,
                ..ApiError::new(StatusCode::BAD_GATEWAY, code, message)
            },
            // A 429, not a 502: the platform app's quota is used up (or the platform says
            // so) until the reset named in the message and in `details`.
            ServiceError::QuotaExceeded {
                platform,
                reset_at,
                message,
            } => ApiError {
                details: Some(Box::new(serde_json::json!({
                    "platform": platform,
                    "resetAt": reset_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                }))),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "QUOTA_EXCEEDED", message)
            },
            ServiceError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                ApiError::internal()
            }
            ServiceError::Internal(msg) => {
                tracing::error!(error = %msg, "internal failure");
                ApiError::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugboard_store::StoreError;

    #[test]
    fn each_service_error_maps_to_one_status_and_code() {
        let table: Vec<(ServiceError, u16, &str)> = vec![
            (
                ServiceError::Unauthenticated { message: "x" },
                401,
                "unauthorized",
            ),
            (
                ServiceError::Forbidden {
                    message: "x".into(),
                    required_group: None,
                },
                403,
                "insufficient_permissions",
            ),
            (
                ServiceError::NotFound { what: "Profile" },
                404,
                "profile_not_found",
            ),
            (
                ServiceError::NotFound { what: "Account" },
                404,
                "account_not_found",
            ),
            (
                ServiceError::NotFound { what: "API key" },
                404,
                "api_key_not_found",
            ),
            (ServiceError::invalid("name", "x"), 400, "validation_error"),
            (
                ServiceError::Conflict {
                    code: "profile_name_conflict",
                    message: "x".into(),
                    details: None,
                },
                409,
                "profile_name_conflict",
            ),
            (
                ServiceError::Conflict {
                    code: "profile_has_active_accounts",
                    message: "x".into(),
                    details: None,
                },
                400,
                "profile_has_active_accounts",
            ),
            (
                ServiceError::Store(StoreError::Backend("disk on fire".into())),
                500,
                "internal_error",
            ),
            (ServiceError::Internal("boom".into()), 500, "internal_error"),
            (
                ServiceError::BadRequest {
                    code: "INVALID_REDIRECT_URL",
                    message: "x".into(),
                    param: Some("redirect_url"),
                },
                400,
                "INVALID_REDIRECT_URL",
            ),
            (
                ServiceError::NotConfigured {
                    message: "x".into(),
                },
                400,
                "platform_not_configured",
            ),
            (
                ServiceError::Upstream {
                    code: "token_exchange_failed",
                    message: "x".into(),
                    details: None,
                },
                502,
                "token_exchange_failed",
            ),
            (
                ServiceError::NotFound {
                    what: "Pending selection",
                },
                404,
                "pending_selection_not_found",
            ),
            (
                ServiceError::QuotaExceeded {
                    platform: plugboard_core::Platform::Youtube,
                    reset_at: None,
                    message: "x".into(),
                },
                429,
                "QUOTA_EXCEEDED",
            ),
        ];
        for (err, status, code) in table {
            let label = format!("{err:?}");
            let api = ApiError::from(err);
            assert_eq!((api.status.as_u16(), api.code), (status, code), "{label}");
        }
    }

    #[test]
    fn server_errors_never_carry_the_cause() {
        let api = ApiError::from(ServiceError::Store(StoreError::Backend(
            "password=hunter2".into(),
        )));
        assert!(!api.message.contains("hunter2"));
    }
}
