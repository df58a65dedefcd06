//! The local OpenTelemetry collector of `bench/otel.sh`: an OTLP/gRPC
//! `TraceService` that counts the spans it receives and drops them. It
//! logs its port like the servers do, and the count when it gets SIGTERM.
//!
//! ```sh
//! cargo run --release -p sparts-bench --features otel --bin otlp_sink -- 4317
//! ```
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::signal::unix::{SignalKind, signal};

/// Spans and export calls received.
#[derive(Debug, Default, Clone)]
struct Sink {
    spans: Arc<AtomicU64>,
    exports: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.spans.fetch_add(spans as u64, Ordering::Relaxed);
        self.exports.fetch_add(1, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!(
        "OTLP sink listening on 127.0.0.1 (port {})",
        listener.local_addr()?.port()
    );
    let sink = Sink::default();
    let mut term = signal(SignalKind::terminate())?;
    tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(sink.clone()))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            async move {
                term.recv().await;
            },
        )
        .await?;
    eprintln!(
        "SINK spans={} exports={}",
        sink.spans.load(Ordering::Relaxed),
        sink.exports.load(Ordering::Relaxed)
    );
    Ok(())
}
