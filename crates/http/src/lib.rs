//! The HTTP surface: the Zernio-compatible `/v1` API (also under `/api/v1`), health,
//! metrics and the OpenAPI document generated from the handlers.

pub mod dto;
pub mod error;
pub mod extract;
pub mod mcp;
pub mod metrics;
pub mod middleware;
pub mod pages;
pub mod query;
pub mod rate_limit;
pub mod routes;
pub mod telegram_webhook;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpServer, web};
use error::ApiError;
use plugboard_service::Services;
use std::net::TcpListener;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa_actix_web::{AppExt, scope};

pub use metrics::Metrics;

/// Shared by every handler.
pub struct AppState {
    pub services: Services,
    pub openapi_json: Arc<String>,
    /// Set when the process is shutting down: `/readyz` answers 503 so load balancers stop
    /// sending before the listener closes.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    pub rate_limiter: Arc<rate_limit::RateLimiter>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Plugboard",
        description = "Self-hosted social account connections, wire-compatible with the connection part of Zernio's REST API. Every path is served under both `/v1` and `/api/v1`. Errors are `{\"error\", \"type\", \"code\"}`.",
    ),
    modifiers(&BearerAuth),
)]
struct BaseDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "connectToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Connect-Token",
                "The connect_token handed back on a headless redirect (15 minutes)",
            ))),
        );
    }
}

/// The OpenAPI document, collected from the same registration the server uses.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(BaseDoc::openapi())
        .service(scope::scope("/v1").configure(routes::v1))
        .configure(routes::pages)
        .configure(routes::system)
        .split_for_parts();
    api
}

async fn unknown_route(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        format!("No route for {} {}", req.method(), req.path()),
    ))
}

/// Options for [`server`].
pub struct ServerOptions {
    /// Extra routes mounted at `/sandbox` (the built-in fake platforms), when enabled.
    pub sandbox: Option<fn(&mut web::ServiceConfig)>,
    pub workers: Option<usize>,
    /// How long a graceful stop waits for in-flight requests.
    pub shutdown_grace: std::time::Duration,
    /// Shared with whoever handles the process's signals (see [`AppState::draining`]).
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// Requests per minute per API key (0: no limit).
    pub rate_limit_per_minute: u32,
}

/// Builds the HTTP server on an already bound listener.
pub fn server(
    services: Services,
    metrics: Arc<Metrics>,
    listener: TcpListener,
    options: ServerOptions,
) -> std::io::Result<Server> {
    let openapi_json = Arc::new(serde_json::to_string(&openapi()).unwrap_or_default());
    // Built once: every worker shares the one (stateless) MCP service.
    let mcp_service = mcp::service(&services);
    let mcp_services = services.clone();
    let state = web::Data::new(AppState {
        services,
        openapi_json,
        draining: options.draining.clone(),
        rate_limiter: Arc::new(rate_limit::RateLimiter::new(options.rate_limit_per_minute)),
    });
    let metrics = web::Data::from(metrics);
    let sandbox = options.sandbox;
    let mut http = HttpServer::new(move || {
        let app = App::new()
            .app_data(state.clone())
            .app_data(metrics.clone())
            .app_data(extract::json_config())
            .app_data(extract::path_config())
            .app_data(extract::query_config())
            .app_data(extract::payload_config())
            .wrap(actix_web::middleware::from_fn(middleware::observe))
            .into_utoipa_app()
            .service(scope::scope("/v1").configure(routes::v1))
            .configure(routes::pages)
            .configure(routes::system)
            .into_app()
            .configure(|cfg| mcp::mount(cfg, &mcp_services, mcp_service.clone()));
        let app = match sandbox {
            Some(mount) => app.service(web::scope("/sandbox").configure(mount)),
            None => app,
        };
        app.default_service(web::to(unknown_route))
    })
    // The application handles SIGTERM itself: readiness turns first, then a graceful stop.
    .disable_signals()
    .shutdown_timeout(options.shutdown_grace.as_secs().max(1));
    if let Some(w) = options.workers {
        http = http.workers(w);
    }
    Ok(http.listen(listener)?.run())
}
