//! Logs and traces. Logs go to stderr (text, or JSON with `ASSISTD_LOG_FORMAT=json`,
//! carrying the trace id). Traces are exported with OTLP/gRPC when the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and
//! `OTEL_SDK_DISABLED` is not `true`); W3C trace context links the gateway's spans
//! to the services' spans through gRPC metadata.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Owns the trace exporter; flush it with [`Telemetry::shutdown`] before exiting.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

fn env_set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.trim().is_empty())
}

/// Whether the OTLP trace exporter is configured by the standard variables.
pub fn otlp_configured() -> bool {
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
        || std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|v| v == "none");
    !disabled && (env_set("OTEL_EXPORTER_OTLP_ENDPOINT") || env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// Sets up logging and, when configured, trace export. Must run inside the runtime.
pub fn init() -> Telemetry {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_env("ASSISTD_LOG").unwrap_or_else(|_| {
        EnvFilter::new("info,sqlx=warn,sea_orm=warn,h2=warn,hyper=warn,tower=warn,opentelemetry=warn")
    });
    let mut export_error = None;
    let provider = if otlp_configured() {
        match opentelemetry_otlp::SpanExporter::builder().with_tonic().build() {
            Ok(exporter) => {
                let mut resource = opentelemetry_sdk::Resource::builder();
                if !env_set("OTEL_SERVICE_NAME") {
                    resource = resource.with_service_name("assistd");
                }
                Some(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build())
            }
            Err(e) => {
                export_error = Some(e.to_string());
                None
            }
        }
    } else {
        None
    };
    // The log level (ASSISTD_LOG) filters what is printed, not which spans are
    // exported: traces keep assistd's request and call spans at any log level.
    let otel_layer = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer().with_tracer(p.tracer("assistd")).with_tracked_inactivity(false).with_filter(
            tracing_subscriber::filter::Targets::new()
                .with_target("assistd", tracing::Level::INFO)
                .with_target("assistd_gateway", tracing::Level::INFO)
                .with_target("assistd_common", tracing::Level::INFO),
        )
    });
    let json = std::env::var("ASSISTD_LOG_FORMAT").is_ok_and(|v| v == "json");
    let fmt_layer = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter).boxed()
    };
    tracing_subscriber::registry().with(otel_layer).with(fmt_layer).init();
    if let Some(e) = export_error {
        tracing::warn!(error = %e, "OTLP trace export is configured but could not start");
    } else if provider.is_some() {
        tracing::info!("exporting traces with OTLP/gRPC");
    }
    Telemetry { provider }
}

impl Telemetry {
    /// Flushes and stops the trace exporter.
    pub fn shutdown(self) {
        if let Some(p) = self.provider
            && let Err(e) = p.shutdown()
        {
            eprintln!("trace exporter shutdown: {e}");
        }
    }
}
