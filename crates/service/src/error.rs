use chrono::{DateTime, Utc};
use plugboard_core::Platform;
use plugboard_store::StoreError;
use thiserror::Error;

/// What a use case can report. Variants carry meaning; the HTTP crate maps them to
/// statuses and Zernio error codes in one place.
#[derive(Debug, Error)]
pub enum ServiceError {
    #[error("{message}")]
    Unauthenticated { message: &'static str },
    /// The key is valid but may not do this.
    #[error("{message}")]
    Forbidden {
        message: String,
        required_group: Option<&'static str>,
    },
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// Bad input; `param` names the offending field.
    #[error("{message}")]
    Invalid {
        message: String,
        param: Option<&'static str>,
    },
    /// The request clashes with existing state.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        details: Option<serde_json::Value>,
    },
    /// Bad input with its own stable code (`INVALID_REDIRECT_URL`, `unsupported_platform`…).
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        param: Option<&'static str>,
    },
    /// Like `BadRequest`, with structured details for the client (`availablePhoneNumbers`).
    #[error("{message}")]
    BadRequestWithDetails {
        code: &'static str,
        message: String,
        param: Option<&'static str>,
        details: Box<serde_json::Value>,
    },
    /// A platform refused credentials the caller handed over (a Meta token): Zernio answers
    /// these 401.
    #[error("{message}")]
    PlatformUnauthorized { code: &'static str, message: String },
    /// The server is not set up for this (a platform without app credentials).
    #[error("{message}")]
    NotConfigured { message: String },
    /// A feature Zernio offers that this server does not provide (Zernio answers these
    /// 503: Facebook Login for Business).
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// A platform refused or failed a call made on the caller's behalf. `details` is the
    /// platform's own description, free of secrets.
    #[error("{message}")]
    Upstream {
        code: &'static str,
        message: String,
        details: Option<String>,
    },
    /// The platform app's API quota is used up, or the platform refuses calls for quota,
    /// until `reset_at` ([`crate::quota`]).
    #[error("{message}")]
    QuotaExceeded {
        platform: Platform,
        reset_at: Option<DateTime<Utc>>,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    pub fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            message: message.into(),
            param: Some(param),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
