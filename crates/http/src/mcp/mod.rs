//! `/_mcp` for AI agents, and the OAuth 2.1 authorization server that lets them in.
//!
//! - `oauth.rs`: metadata (RFC 8414, RFC 9728), registration (RFC 7591), consent, token.
//! - `tools.rs`: the tools, over the service layer.
//! - this file: mounting, CORS, the `Origin` check and the bearer guard in front of rmcp's
//!   streamable HTTP transport (stateless: any replica serves any request).

pub mod limiter;
pub mod oauth;
pub mod tools;

use crate::AppState;
use actix_cors::Cors;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpMessage, HttpResponse, web};
use plugboard_service::Services;
use plugboard_service::mcp::{McpPrincipal, McpScope, McpSettings};
use rmcp::RoleServer;
use rmcp::model::Extensions;
use rmcp::service::RequestContext;
use rmcp_actix_web::transport::{LocalSessionManager, StreamableHttpService};
use serde_json::{Value, json};
use std::sync::Arc;

/// Browser origins allowed to call the MCP and OAuth endpoints cross-origin (claude.ai's
/// own traffic is server-side; this is for browser clients on those sites), besides the
/// server's own origin.
pub const CLAUDE_ORIGINS: [&str; 2] = ["https://claude.ai", "https://claude.com"];

/// The MCP service, built once and shared by every worker.
pub type McpService = StreamableHttpService<tools::PlugboardTools, LocalSessionManager>;

fn own_origin(settings: &McpSettings) -> String {
    url::Url::parse(&settings.issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

fn allowed_origins(settings: &McpSettings) -> Vec<String> {
    let mut v: Vec<String> = CLAUDE_ORIGINS.iter().map(|s| (*s).to_owned()).collect();
    v.push(own_origin(settings));
    v
}

/// `Host` values rmcp accepts: the public URL's host, with and without its port.
fn allowed_hosts(settings: &McpSettings) -> Vec<String> {
    let mut hosts = Vec::new();
    if let Ok(u) = url::Url::parse(&settings.issuer)
        && let Some(host) = u.host_str()
    {
        hosts.push(host.to_owned());
        if let Some(port) = u.port_or_known_default() {
            hosts.push(format!("{host}:{port}"));
        }
    }
    hosts
}

/// Builds the MCP service for this server's public URL; `None` when the connect flow
/// (and so the public URL) is not set up.
pub fn service(services: &Services) -> Option<McpService> {
    let settings = services.mcp_settings().ok()?;
    let tools_services = services.clone();
    Some(
        StreamableHttpService::builder()
            .service_factory(Arc::new(move || {
                Ok(tools::PlugboardTools::new(tools_services.clone()))
            }))
            .session_manager(Arc::new(LocalSessionManager::default()))
            // No sessions in memory: any replica serves any request.
            .stateful_mode(false)
            .json_response(true)
            .allowed_hosts(allowed_hosts(&settings))
            .allowed_origins(allowed_origins(&settings))
            .on_request_fn(|req, ext: &mut Extensions| {
                if let Some(p) = req.extensions().get::<McpPrincipal>() {
                    ext.insert(p.clone());
                }
            })
            .build(),
    )
}

fn cors(settings: &McpSettings) -> Cors {
    let mut c = Cors::default();
    for origin in allowed_origins(settings) {
        c = c.allowed_origin(&origin);
    }
    c.allowed_methods(["GET", "POST", "DELETE", "OPTIONS"])
        .allowed_headers([
            "authorization",
            "content-type",
            "accept",
            "mcp-protocol-version",
            "mcp-session-id",
            "last-event-id",
            "mcp-method",
            "mcp-name",
        ])
        .expose_headers(["www-authenticate", "mcp-session-id", "mcp-protocol-version"])
        .max_age(3600)
}

/// Mounts the metadata, OAuth and MCP routes (outside `/v1`: they are not Zernio's).
pub fn mount(cfg: &mut web::ServiceConfig, services: &Services, mcp: Option<McpService>) {
    let (Ok(settings), Some(mcp)) = (services.mcp_settings(), mcp) else {
        return;
    };
    let guard_settings = settings.clone();
    cfg.app_data(web::Data::new(limiter::ConsentLimiter::default()))
        .service(
            web::resource([
                "/.well-known/oauth-authorization-server",
                "/.well-known/oauth-authorization-server/{tail:.*}",
            ])
            .wrap(cors(&settings))
            .route(web::get().to(oauth::authorization_server_metadata)),
        )
        .service(
            web::resource([
                "/.well-known/oauth-protected-resource",
                "/.well-known/oauth-protected-resource/{tail:.*}",
            ])
            .wrap(cors(&settings))
            .route(web::get().to(oauth::protected_resource_metadata)),
        )
        .service(
            web::resource(oauth::REGISTER_PATH)
                .wrap(cors(&settings))
                .route(web::post().to(oauth::register)),
        )
        .service(
            web::resource(oauth::TOKEN_PATH)
                .wrap(cors(&settings))
                .route(web::post().to(oauth::token)),
        )
        .service(
            web::resource(oauth::AUTHORIZE_PATH)
                .route(web::get().to(oauth::authorize_page))
                .route(web::post().to(oauth::authorize_submit)),
        )
        .service(
            mcp.scope_with_path("/_mcp")
                .wrap(from_fn(guard))
                .wrap(cors(&settings))
                .wrap(from_fn(move |req, next| {
                    origin_check(guard_settings.clone(), req, next)
                })),
        );
}

/// The spec's 403 for a present-and-wrong `Origin` (DNS rebinding), before CORS would
/// answer it 400 and before authentication.
async fn origin_check(
    settings: McpSettings,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .is_ok_and(|o| allowed_origins(&settings).iter().any(|a| a == o));
        if !ok {
            tracing::info!(target: "security", "MCP request from a foreign Origin refused");
            let resp = HttpResponse::Forbidden().json(json!({
                "error": "This Origin may not call the MCP endpoint",
                "code": "origin_not_allowed",
            }));
            return Ok(req.into_response(resp).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

fn all_scopes() -> String {
    McpScope::ALL.map(McpScope::as_str).join(" ")
}

fn challenge(settings: &McpSettings, error: Option<(&str, &str)>, scope: &str) -> String {
    let mut v = format!(
        "Bearer resource_metadata=\"{}{}\", scope=\"{scope}\"",
        settings.issuer,
        oauth::PRM_PATH
    );
    if let Some((code, description)) = error {
        v.push_str(&format!(
            ", error=\"{code}\", error_description=\"{description}\""
        ));
    }
    v
}

fn with_challenge(mut resp: HttpResponse, value: String) -> HttpResponse {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

fn bearer(req: &ServiceRequest) -> Option<String> {
    let raw = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = raw.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The tools a JSON-RPC body calls (one message, or a batch from an older client).
fn called_tools(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let messages = match v {
        Value::Array(items) => items,
        one => vec![one],
    };
    messages
        .iter()
        .filter(|m| m.get("method").and_then(Value::as_str) == Some("tools/call"))
        .filter_map(|m| m.pointer("/params/name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// Every `/_mcp` request: a valid access token for this resource, and for a tool call
/// the tool's scope. Answers the challenges itself; hands the principal to the tools.
async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(actix_web::error::ErrorInternalServerError("no state"));
    };
    let Ok(settings) = state.services.mcp_settings() else {
        return Err(actix_web::error::ErrorServiceUnavailable(
            "MCP is not set up",
        ));
    };
    let unauthorized = |req: ServiceRequest, error: Option<(&str, &str)>, message: &str| {
        let resp = with_challenge(
            HttpResponse::Unauthorized().json(json!({"error": message, "code": "invalid_token"})),
            challenge(&settings, error, &all_scopes()),
        );
        Ok(req.into_response(resp).map_into_right_body())
    };
    let Some(token) = bearer(&req) else {
        return unauthorized(
            req,
            None,
            "Authorization required: connect this MCP client to Plugboard (OAuth)",
        );
    };
    let principal = match state.services.authenticate_mcp_token(&token).await {
        Ok(Ok(p)) => p,
        Ok(Err(rejection)) => {
            tracing::info!(target: "security", reason = rejection.description(), "MCP token refused");
            let d = rejection.description();
            return unauthorized(req, Some(("invalid_token", d)), d);
        }
        Err(e) => {
            tracing::error!(error = %e, "MCP token check failed");
            return Err(actix_web::error::ErrorInternalServerError(
                "token check failed",
            ));
        }
    };
    if req.method() == actix_web::http::Method::POST {
        let body = req.extract::<web::Bytes>().await?;
        let mut missing: Vec<McpScope> = called_tools(&body)
            .iter()
            .filter_map(|t| tools::scope_of(t))
            .filter(|s| !principal.scopes.allows(*s))
            .collect();
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            let needed = missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            tracing::info!(client_id = %principal.client_id, needed, "MCP tool call lacks a scope");
            let resp = with_challenge(
                HttpResponse::Forbidden().json(json!({
                    "error": format!("This client was not granted {needed}; reconnect it and approve that access"),
                    "code": "insufficient_scope",
                })),
                challenge(
                    &settings,
                    Some(("insufficient_scope", "The token lacks a scope this tool needs")),
                    &needed,
                ),
            );
            return Ok(req.into_response(resp).map_into_right_body());
        }
        req.set_payload(Payload::from(body));
    }
    req.extensions_mut().insert(principal);
    Ok(next.call(req).await?.map_into_left_body())
}

/// The principal the guard resolved, inside a tool.
pub trait McpPrincipalExt {
    fn principal(&self) -> Option<McpPrincipal>;
}

impl McpPrincipalExt for RequestContext<RoleServer> {
    fn principal(&self) -> Option<McpPrincipal> {
        rmcp_actix_web::transport::on_request_extensions(&self.extensions)
            .and_then(|e| e.get::<McpPrincipal>())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_are_read_from_single_and_batched_messages() {
        let one =
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"usage_stats"}}"#;
        assert_eq!(called_tools(one), vec!["usage_stats"]);
        let batch = br#"[{"method":"tools/list"},{"method":"tools/call","params":{"name":"a"}}]"#;
        assert_eq!(called_tools(batch), vec!["a"]);
        assert!(called_tools(b"not json").is_empty());
    }

    #[test]
    fn hosts_and_origins_come_from_the_public_url() {
        let s = McpSettings::from_public_url(&url::Url::parse("https://pb.example.com/").unwrap());
        assert_eq!(
            allowed_hosts(&s),
            vec!["pb.example.com", "pb.example.com:443"]
        );
        assert_eq!(
            allowed_origins(&s),
            vec![
                "https://claude.ai",
                "https://claude.com",
                "https://pb.example.com"
            ]
        );
    }

    #[test]
    fn the_challenge_points_at_the_path_inserted_metadata_and_names_every_scope() {
        let s = McpSettings::from_public_url(&url::Url::parse("https://pb.example.com").unwrap());
        let c = challenge(&s, None, &all_scopes());
        assert!(c.starts_with("Bearer resource_metadata=\"https://pb.example.com/.well-known/oauth-protected-resource/_mcp\""));
        for scope in McpScope::ALL {
            assert!(c.contains(scope.as_str()));
        }
    }
}
