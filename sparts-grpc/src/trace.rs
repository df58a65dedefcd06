//! The server span of each call to the user's services, for OpenTelemetry
//! (sparts-core's `otel` feature): named `helloworld.Greeter/SayHello`,
//! continuing the `traceparent` of the call's metadata, with its status
//! code. Health, reflection and admin calls get none.

use sparts_core::server::RequestSpan;
use tonic::codegen::http::{self, HeaderValue};

use crate::pb::admin::admin_server::SERVICE_NAME as ADMIN;

/// The services every task hosts, probed and scraped all day: not traced.
fn built_in(service: &str) -> bool {
    service == ADMIN
        || service.starts_with("grpc.health.")
        || service.starts_with("grpc.reflection.")
}

/// The span of a call to a `hosted` service's method; an empty one when
/// spans are off, and for unknown or built-in services.
pub(crate) fn span<B>(req: &http::Request<B>, hosted: bool) -> RequestSpan {
    if !(hosted && RequestSpan::enabled()) {
        return RequestSpan::none();
    }
    let path = req.uri().path();
    let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
        return RequestSpan::none();
    };
    if built_in(service) {
        return RequestSpan::none();
    }
    let headers = req.headers();
    RequestSpan::grpc(service, method, |name| {
        headers.get(name).and_then(|v| v.to_str().ok())
    })
}

/// Records a call's `grpc-status` on its span.
pub(crate) fn status(span: &RequestSpan, value: &HeaderValue) {
    if RequestSpan::enabled() {
        let code = std::str::from_utf8(value.as_bytes())
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2);
        span.grpc_status(code);
    }
}
