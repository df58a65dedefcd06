//! The export pipeline: an OTLP exporter behind the SDK's batch processor,
//! and the tracing layer that turns request spans (and the user's spans
//! inside them) into OpenTelemetry spans.

use std::sync::atomic::Ordering;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
use tokio::runtime::Handle;
use tracing_subscriber::Layer as _;

use super::config::Config;
use super::filter::Traced;
use super::on_runtime::OnRuntime;
use crate::logging::ExtraLayer;
use crate::options::otel::{Protocol, Sampler};

/// A running pipeline; [`shutdown`](Self::shutdown) sends what is queued.
#[derive(Debug)]
pub(crate) struct Pipeline {
    provider: SdkTracerProvider,
    /// Where spans go, for the log.
    destination: String,
}

impl Pipeline {
    /// Builds the exporter (the gRPC channel connects lazily: a collector
    /// that is not there yet is no error) and the layer that feeds it, with
    /// its own filter (not `--level`'s), exporting on `runtime`. Requests
    /// get spans once the layer is installed and [`enable`](Self::enable)
    /// was called.
    ///
    /// The batch processor holds up to 2,048 spans (`OTEL_BSP_MAX_QUEUE_SIZE`)
    /// and sends them every 5 s (`OTEL_BSP_SCHEDULE_DELAY`) from a thread of
    /// its own; when the queue is full new spans are dropped, and the SDK
    /// logs it.
    pub(crate) fn start(config: &Config, runtime: &Handle) -> Result<(Self, ExtraLayer), String> {
        // Building the gRPC channel spawns its worker on the runtime.
        let _entered = runtime.enter();
        let built = match config.protocol {
            Protocol::Grpc => SpanExporter::builder()
                .with_tonic()
                .with_endpoint(&config.endpoint)
                .build(),
            Protocol::HttpProtobuf => SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(&config.endpoint)
                .build(),
        };
        let exporter = built.map_err(|e| {
            format!(
                "OpenTelemetry: cannot export to {} over {}: {e}",
                config.endpoint, config.protocol
            )
        })?;
        let mut resource = Resource::builder().with_service_name(config.service_name.clone());
        if let Some(version) = &config.service_version {
            resource = resource.with_attribute(KeyValue::new("service.version", version.clone()));
        }
        let processor =
            BatchSpanProcessor::builder(OnRuntime::new(exporter, runtime.clone())).build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(sampler(config.sampler))
            .with_resource(resource.build())
            .build();
        // Lean spans: no source location, thread or target attributes, no
        // busy/idle timings (two clock reads per poll).
        let layer = tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("sparts"))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_filter(Traced);
        let destination = format!(
            "{} over {} as service {:?}",
            config.endpoint, config.protocol, config.service_name
        );
        Ok((
            Self {
                provider,
                destination,
            },
            ExtraLayer::filtered(Box::new(layer)),
        ))
    }

    /// Requests get spans from now on: the layer is in the subscriber.
    pub(crate) fn enable(&self) {
        super::ON.store(true, Ordering::Relaxed);
        tracing::info!("OpenTelemetry: exporting traces to {}", self.destination);
    }

    /// Stops making spans and sends those still queued, for at most
    /// `budget` (what is left of the shutdown budget).
    pub(crate) fn shutdown(self, budget: Duration) {
        super::ON.store(false, Ordering::Relaxed);
        if let Err(e) = self.provider.shutdown_with_timeout(budget) {
            tracing::warn!(
                "OpenTelemetry: spans not all sent within what was left of the shutdown budget ({budget:?}): {e}"
            );
        }
    }
}

/// The SDK's sampler for a configured one.
fn sampler(sampler: Sampler) -> opentelemetry_sdk::trace::Sampler {
    use opentelemetry_sdk::trace::Sampler as Sdk;
    match sampler {
        Sampler::AlwaysOn => Sdk::AlwaysOn,
        Sampler::AlwaysOff => Sdk::AlwaysOff,
        Sampler::TraceIdRatio(ratio) => Sdk::TraceIdRatioBased(ratio),
        Sampler::ParentBasedAlwaysOn => Sdk::ParentBased(Box::new(Sdk::AlwaysOn)),
        Sampler::ParentBasedAlwaysOff => Sdk::ParentBased(Box::new(Sdk::AlwaysOff)),
        Sampler::ParentBasedTraceIdRatio(ratio) => {
            Sdk::ParentBased(Box::new(Sdk::TraceIdRatioBased(ratio)))
        }
    }
}
