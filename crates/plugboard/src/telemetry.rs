//! Structured logs with `tracing`: human-readable text by default, JSON with
//! `PLUGBOARD_LOG_FORMAT=json`; and, when `PLUGBOARD_OTLP_ENDPOINT` names a collector,
//! the same spans exported as OpenTelemetry traces over OTLP/HTTP.

use crate::config::LogFormat;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Keeps the trace exporter alive; [`Telemetry::shutdown`] flushes what is still queued.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still queued (at most a few seconds) and stops the exporter.
    pub fn shutdown(self) {
        if let Some(p) = self.provider
            && let Err(e) = p.shutdown()
        {
            eprintln!("plugboard: flushing traces failed: {e}");
        }
    }
}

/// Where a collector's OTLP/HTTP receiver takes traces: `<endpoint>/v1/traces`, unless the
/// endpoint already names a path.
pub fn traces_url(endpoint: &url::Url) -> String {
    if endpoint.path().trim_matches('/').is_empty() {
        format!("{}/v1/traces", endpoint.as_str().trim_end_matches('/'))
    } else {
        endpoint.to_string()
    }
}

fn tracer_provider(endpoint: &url::Url) -> Option<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(traces_url(endpoint))
        .build();
    match exporter {
        Ok(exporter) => Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name("plugboard")
                        .build(),
                )
                .build(),
        ),
        Err(e) => {
            eprintln!("plugboard: traces will not be exported: {e}");
            None
        }
    }
}

pub fn init(format: LogFormat, filter: &str, otlp: Option<&url::Url>) -> Telemetry {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let provider = otlp.and_then(tracer_provider);
    let traces = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("plugboard")));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter).with(traces);
    // A second init (tests) is harmless; ignore the error it returns.
    let _ = match format {
        LogFormat::Json => registry
            .with(logs.json().flatten_event(true).with_current_span(true))
            .try_init(),
        LogFormat::Text => registry.with(logs).try_init(),
    };
    Telemetry { provider }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_added_to_a_bare_collector_url() {
        let bare = url::Url::parse("http://collector:4318").unwrap();
        assert_eq!(traces_url(&bare), "http://collector:4318/v1/traces");
        let full = url::Url::parse("https://otel.example/custom/traces").unwrap();
        assert_eq!(traces_url(&full), "https://otel.example/custom/traces");
    }
}
