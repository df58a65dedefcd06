//! fb303 over Thrift, twice: on the Thrift server's port (framed binary) and
//! over HTTP at `POST /thrift`, as the original's `http_thrift` demo did.
//!
//! ```sh
//! cargo run -p sparts-examples --bin thrift_fb303 -- --thrift-port 9090 --http-port 8080
//! ```
use sparts::VService;
use sparts::http::{HttpTask, axum::Router};
use sparts::thrift::{Fb303Handler, ThriftHandlerTask, ThriftServerTask, http};

fn main() -> std::process::ExitCode {
    let fb303_over_http = HttpTask::from_fn(|ctx| {
        let fb303 = Fb303Handler::new(ctx.service()).processor();
        Router::new().route("/thrift", http::post(fb303, ctx.counters()))
    });
    VService::new("Fb303Service")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new())
        .with_task(fb303_over_http.with_connect_info())
        .run_from_cli()
}
