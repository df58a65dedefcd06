//! The original's README example: an HTTP server whose `/` answers
//! `Hello, world`, with health, metrics and admin endpoints beside it.
//!
//! ```sh
//! cargo run -p sparts-examples --bin http_hello -- --http-port 8000
//! curl localhost:8000
//! ```
use sparts::{VService, http::HttpTask};

fn main() -> std::process::ExitCode {
    VService::new("HelloService")
        .with_task(HttpTask::default())
        .run_from_cli()
}
