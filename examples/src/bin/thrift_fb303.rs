//! fb303 over Thrift, twice: on the Thrift server's port (framed binary) and
//! over HTTP at `POST /thrift`, as the original's `http_thrift` demo did.
//!
//! ```sh
//! cargo run -p sparts-examples --bin thrift_fb303 -- --thrift-port 9090 --http-port 8080
//! ```
use sparts::VService;
use sparts::http::{HttpTask, axum::Router};
use sparts::thrift::{ThriftHandlerTask, ThriftServerTask, http};

fn main() -> std::process::ExitCode {
    let over_http = HttpTask::from_fn(|ctx| Router::new().route("/thrift", http::fb303(ctx)));
    VService::new("Fb303Service")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new())
        .with_task(over_http.with_connect_info())
        .run_from_cli()
}
