//! Extractors: the authenticated caller, validated path ids, and JSON bodies whose errors
//! come out in the API's error shape.

use crate::AppState;
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures::future::LocalBoxFuture;
use plugboard_service::Caller;

/// The caller resolved from `Authorization: Bearer <key>`.
pub struct Auth(pub Caller);

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let request = Some(req.clone());
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned));
        Box::pin(async move {
            let state = state.ok_or_else(ApiError::internal)?;
            let header = match header {
                None => {
                    return Err(ApiError::unauthorized(
                        "Missing API key: send 'Authorization: Bearer <key>'",
                    ));
                }
                Some(Err(_)) => return Err(malformed()),
                Some(Ok(h)) => h,
            };
            let (scheme, key) = header.split_once(' ').ok_or_else(malformed)?;
            if !scheme.eq_ignore_ascii_case("bearer") || key.trim().is_empty() {
                return Err(malformed());
            }
            let caller = state.services.authenticate(key.trim()).await?;
            let now = state.services.clock.now().timestamp_millis();
            if let Some(info) = state.rate_limiter.check(caller.key_id.as_str(), now) {
                // The response middleware turns it into the X-RateLimit-* headers.
                if let Some(r) = &request {
                    r.extensions_mut().insert(info);
                }
                if !info.allowed {
                    state.services.metrics.rate_limited.inc();
                    tracing::info!(key_id = %caller.key_id, "rate limit exceeded");
                    return Err(ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "rate_limit_exceeded",
                        format!(
                            "Rate limit exceeded: {} requests per minute for this API key; retry after the time in X-RateLimit-Reset",
                            info.limit
                        ),
                    ));
                }
            }
            Ok(Auth(caller))
        })
    }
}

fn malformed() -> ApiError {
    ApiError::unauthorized("Malformed Authorization header: expected 'Bearer <key>'")
}

/// Parses a path segment as a 24-hex id.
pub fn parse_id<T>(raw: &str, param: &'static str) -> Result<T, ApiError>
where
    T: std::str::FromStr<Err = plugboard_core::IdError>,
{
    raw.parse::<T>()
        .map_err(|e| ApiError::bad_request("invalid_id", param, format!("{param}: {e}")))
}

pub const JSON_LIMIT: usize = 64 * 1024;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT)
        // The Python SDK sends JSON with the right content type, but curl users often do
        // not; accept a JSON body either way.
        .content_type_required(false)
        .error_handler(|err, _req| json_error(err).into())
}

fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body is {length} bytes; the limit is {limit}"),
        ),
        JsonPayloadError::Overflow { limit } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body is larger than the limit of {limit} bytes"),
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::new(
            StatusCode::BAD_REQUEST,
            "validation_error",
            format!("invalid request body: {e}"),
        ),
        JsonPayloadError::Deserialize(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("request body is not valid JSON: {e}"),
        ),
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "request body must be application/json",
        ),
        other => ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", other.to_string()),
    }
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", err.to_string()).into()
    })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", err.to_string()).into()
    })
}

pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::default().limit(JSON_LIMIT)
}
