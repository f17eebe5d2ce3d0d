//! Error bodies in each platform's own shape, so connectors meet the same parsing problems
//! they meet in production.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::table::{ApiErrors, Fake, TokenErrors};

/// What went wrong at a token endpoint, in RFC 6749 §5.2 terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenErrorKind {
    InvalidRequest,
    InvalidClient,
    /// X's answer to a confidential client that did not use Basic.
    MissingBasic,
    InvalidGrant,
    UnsupportedGrantType,
    ServerError,
}

#[derive(Debug, Clone)]
pub(crate) struct TokenError {
    pub kind: TokenErrorKind,
    pub description: String,
}

impl TokenError {
    pub fn new(kind: TokenErrorKind, description: impl Into<String>) -> Self {
        Self {
            kind,
            description: description.into(),
        }
    }

    pub fn render(&self, shape: TokenErrors) -> HttpResponse {
        use TokenErrorKind as K;
        let status = match self.kind {
            K::InvalidClient | K::MissingBasic => StatusCode::UNAUTHORIZED,
            K::ServerError => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        let rfc_code = match self.kind {
            K::InvalidRequest => "invalid_request",
            K::InvalidClient => "invalid_client",
            K::MissingBasic => "unauthorized_client",
            K::InvalidGrant => "invalid_grant",
            K::UnsupportedGrantType => "unsupported_grant_type",
            K::ServerError => "temporarily_unavailable",
        };
        let desc = self.description.as_str();
        let (status, body) = match shape {
            TokenErrors::OAuth => (
                status,
                json!({"error": rfc_code, "error_description": desc}),
            ),
            // platforms.md §1: X answers a dead code or refresh token with invalid_request.
            TokenErrors::X => {
                let code = if self.kind == K::InvalidGrant {
                    "invalid_request"
                } else {
                    rfc_code
                };
                (status, json!({"error": code, "error_description": desc}))
            }
            TokenErrors::Tiktok => (
                status,
                json!({"error": rfc_code, "error_description": desc, "log_id": log_id()}),
            ),
            TokenErrors::Pinterest => {
                let code = match self.kind {
                    K::InvalidClient | K::MissingBasic => 2,
                    K::ServerError => 3,
                    _ => 1,
                };
                (status, json!({"code": code, "message": desc}))
            }
            TokenErrors::Reddit => match self.kind {
                K::InvalidClient | K::MissingBasic => {
                    (status, json!({"message": "Unauthorized", "error": 401}))
                }
                _ => (status, json!({"error": rfc_code})),
            },
            TokenErrors::InstagramApi => {
                let status = if self.kind == K::ServerError {
                    status
                } else {
                    StatusCode::BAD_REQUEST
                };
                (
                    status,
                    json!({"error_type": "OAuthException", "code": status.as_u16(), "error_message": desc}),
                )
            }
            TokenErrors::Graph => {
                let (code, subcode) = match self.kind {
                    K::InvalidClient | K::MissingBasic => (1, None),
                    K::InvalidGrant => (100, Some(36009)),
                    K::ServerError => (2, None),
                    _ => (100, None),
                };
                let status = if self.kind == K::ServerError {
                    status
                } else {
                    StatusCode::BAD_REQUEST
                };
                (status, graph_error(desc, code, subcode))
            }
        };
        json_response(status, &body)
    }
}

/// Why an API endpoint (identity or listing) refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiErrorKind {
    Unauthorized,
    ServerError,
}

pub(crate) fn api_error(fake: &Fake, kind: ApiErrorKind) -> HttpResponse {
    let server = kind == ApiErrorKind::ServerError;
    let status = if server {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::UNAUTHORIZED
    };
    let (status, body) = match fake.api_errors {
        ApiErrors::X if server => (
            status,
            json!({"title": "Internal Server Error", "type": "about:blank", "status": 500, "detail": "Internal Server Error"}),
        ),
        ApiErrors::X => (
            status,
            json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
        ),
        // Graph answers an invalid token with HTTP 400 and OAuthException code 190.
        ApiErrors::Graph if server => (
            status,
            graph_error(
                "An unexpected error has occurred. Please retry your request later.",
                2,
                None,
            ),
        ),
        ApiErrors::Graph => (
            StatusCode::BAD_REQUEST,
            graph_error(
                "Invalid OAuth access token - Cannot parse access token",
                190,
                None,
            ),
        ),
        ApiErrors::Linkedin => (
            status,
            if server {
                json!({"message": "Internal Server Error", "status": 500})
            } else {
                json!({"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401})
            },
        ),
        ApiErrors::Tiktok => {
            let (code, message) = if server {
                (
                    "internal_error",
                    "Something went wrong. Please try again later.",
                )
            } else {
                (
                    "access_token_invalid",
                    "The access token is invalid or not found in the request.",
                )
            };
            (
                status,
                json!({"data": {}, "error": {"code": code, "message": message, "log_id": log_id()}}),
            )
        }
        ApiErrors::Google => {
            let (message, google_status) = if server {
                ("Internal error encountered.", "INTERNAL")
            } else {
                (
                    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                    "UNAUTHENTICATED",
                )
            };
            (
                status,
                json!({"error": {"code": status.as_u16(), "message": message, "status": google_status}}),
            )
        }
        ApiErrors::Pinterest => (
            status,
            if server {
                json!({"code": 3, "message": "Internal error"})
            } else {
                json!({"code": 2, "message": "Authentication failed."})
            },
        ),
        ApiErrors::Reddit => (
            status,
            json!({"message": if server { "Internal Server Error" } else { "Unauthorized" }, "error": status.as_u16()}),
        ),
        ApiErrors::Snapchat => (
            status,
            json!({
                "request_status": "ERROR",
                "request_id": log_id(),
                "debug_message": if server { "Internal Server Error" } else { "Unauthorized" },
                "display_message": "We're sorry, but the requested resource is not available at this time",
                "error_code": if server { "E1001" } else { "E3003" },
            }),
        ),
    };
    let mut resp = json_response(status, &body);
    if !server {
        // RFC 6750 §3: a resource server names the scheme it expects.
        resp.headers_mut().insert(
            actix_web::http::header::WWW_AUTHENTICATE,
            actix_web::http::header::HeaderValue::from_static(
                "Bearer realm=\"sandbox\", error=\"invalid_token\"",
            ),
        );
    }
    resp
}

fn graph_error(message: &str, code: u32, subcode: Option<u32>) -> Value {
    graph_error_of_type(message, "OAuthException", code, subcode)
}

/// The Graph API's `{error:{message, type, code, error_subcode?, fbtrace_id}}`.
pub(crate) fn graph_error_of_type(
    message: &str,
    kind: &str,
    code: u32,
    subcode: Option<u32>,
) -> Value {
    let mut err = json!({"message": message, "type": kind, "code": code, "fbtrace_id": log_id()});
    if let (Some(sub), Some(obj)) = (subcode, err.as_object_mut()) {
        obj.insert("error_subcode".into(), json!(sub));
    }
    json!({ "error": err })
}

/// LinkedIn's REST error `{status, serviceErrorCode?, code, message}` (the 403 of a missing
/// permission carries `serviceErrorCode` 100; version errors do not).
pub(crate) fn linkedin_error(
    status: StatusCode,
    code: &str,
    service_error_code: Option<u32>,
    message: &str,
) -> HttpResponse {
    let mut body = json!({"status": status.as_u16(), "code": code, "message": message});
    if let (Some(sec), Some(obj)) = (service_error_code, body.as_object_mut()) {
        obj.insert("serviceErrorCode".into(), json!(sec));
    }
    json_response(status, &body)
}

/// Google's `{error:{code, message, status}}`, with a `google.rpc.BadRequest` detail naming
/// the offending field when there is one.
pub(crate) fn google_error(
    status: StatusCode,
    google_status: &str,
    message: &str,
    field: Option<(&str, &str)>,
) -> HttpResponse {
    let mut err = json!({"code": status.as_u16(), "message": message, "status": google_status});
    if let (Some((field, description)), Some(obj)) = (field, err.as_object_mut()) {
        obj.insert(
            "details".into(),
            json!([{
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": description}],
            }]),
        );
    }
    json_response(status, &json!({ "error": err }))
}

/// Pinterest's `{code, message}`.
pub(crate) fn pinterest_error(status: StatusCode, code: u32, message: &str) -> HttpResponse {
    json_response(status, &json!({"code": code, "message": message}))
}

/// The Snap APIs' error envelope.
pub(crate) fn snapchat_error(status: StatusCode, error_code: &str, message: &str) -> HttpResponse {
    json_response(
        status,
        &json!({
            "request_status": "ERROR",
            "request_id": log_id(),
            "debug_message": message,
            "display_message": "We're sorry, but the requested resource is not available at this time",
            "error_code": error_code,
        }),
    )
}

pub(crate) fn log_id() -> String {
    crate::state::random_token("log", "id")
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}
