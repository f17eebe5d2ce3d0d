//! Cross-cutting request handling: request ids, the `/api` prefix alias, access logs,
//! metrics and security headers.

use crate::metrics::Metrics;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id a request is logged under.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// A client's id is kept when it is short and plain; anything else is replaced, so log
/// lines cannot be forged through it.
pub fn valid_request_id(raw: &str) -> bool {
    (1..=128).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Zernio's base URL is `https://host/api`, so SDKs call `/api/v1/...`; serve those as
/// `/v1/...` by rewriting the path before routing.
fn strip_api_prefix(req: &mut ServiceRequest) {
    let path = req.path();
    if let Some(rest) = path.strip_prefix("/api")
        && (rest.starts_with("/v1/") || rest == "/v1")
    {
        let pq = match req.uri().query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_owned(),
        };
        if let Ok(uri) = pq.parse::<Uri>() {
            req.match_info_mut().get_mut().update(&uri);
            req.head_mut().uri = uri;
        }
    }
}

pub async fn observe(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    strip_api_prefix(&mut req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let clock = req
        .app_data::<web::Data<crate::AppState>>()
        .map(|s| s.services.clock.clone());
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    let started = Instant::now();
    async move {
        let mut res = next.call(req).await?;
        let status = res.status().as_u16();
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        let elapsed = started.elapsed();
        if let Some(m) = metrics {
            m.observe(&method, &route, status, elapsed);
        }
        if status >= 500 {
            tracing::error!(
                status,
                latency_ms = elapsed.as_millis() as u64,
                "request failed"
            );
        } else {
            tracing::info!(
                status,
                latency_ms = elapsed.as_millis() as u64,
                "request completed"
            );
        }
        let limit = res
            .request()
            .extensions()
            .get::<crate::rate_limit::RateLimitInfo>()
            .copied();
        let headers = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&id) {
            headers.insert(REQUEST_ID, v);
        }
        if let Some(l) = limit {
            for (name, value) in [
                ("x-ratelimit-limit", l.limit.to_string()),
                ("x-ratelimit-remaining", l.remaining.to_string()),
                ("x-ratelimit-reset", l.reset.to_string()),
            ] {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(HeaderName::from_static(name), v);
                }
            }
            if !l.allowed {
                let now = clock
                    .as_ref()
                    .map(|c| c.now().timestamp_millis())
                    .unwrap_or(0);
                let wait = ((l.reset * 1000 - now + 999) / 1000).max(1);
                if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                    headers.insert(HeaderName::from_static("retry-after"), v);
                }
            }
        }
        headers.insert(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        );
        if path.starts_with("/v1") && !headers.contains_key("cache-control") {
            headers.insert(
                HeaderName::from_static("cache-control"),
                HeaderValue::from_static("no-store"),
            );
        }
        Ok(res)
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_only_when_plain() {
        for ok in ["abc", "550e8400-e29b-41d4-a716-446655440000", "req_1.2:3"] {
            assert!(valid_request_id(ok), "{ok}");
        }
        for bad in ["", "a b", "x\ny", "<script>", &"a".repeat(129), "é"] {
            assert!(!valid_request_id(bad), "{bad:?}");
        }
    }
}
