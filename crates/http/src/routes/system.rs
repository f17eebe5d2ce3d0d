use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::metrics::Metrics;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<&'static str>,
}

/// Liveness: the process serves HTTP.
#[utoipa::path(tag = "Operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        store: None,
    })
}

/// Readiness: the store answers.
#[utoipa::path(tag = "Operations", responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "this replica is shutting down",
        ));
    }
    match state.services.store.ping().await {
        Ok(()) => Ok(HttpResponse::Ok().json(Health {
            status: "ok",
            store: Some(state.services.store.backend_name()),
        })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the store is not answering",
            ))
        }
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(tag = "Operations", responses((status = 200, content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(metrics: web::Data<Metrics>, state: web::Data<AppState>) -> HttpResponse {
    // The backlog is read at scrape time: one count query per scrape.
    match state
        .services
        .store
        .count_jobs(&plugboard_service::webhooks::QUEUED_JOB_KINDS)
        .await
    {
        Ok(n) => state
            .services
            .metrics
            .webhook_backlog
            .set(i64::try_from(n).unwrap_or(i64::MAX)),
        Err(e) => tracing::warn!(error = %e, "cannot count the webhook backlog"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render_with(&state.services.metrics.gather()))
}

/// This OpenAPI document.
#[utoipa::path(tag = "Operations", responses((status = 200, content_type = "application/json", body = Object)))]
#[get("/openapi.json")]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.as_str().to_owned())
}
