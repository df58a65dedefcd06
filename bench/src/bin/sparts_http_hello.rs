//! The sparts side of `bench/http.sh`: the `http_hello` example (an
//! `HttpTask` with its defaults: counters, built-in endpoints, tracing at
//! info level), built in the bench package so one release build has both.
//!
//! ```sh
//! cargo run --release -p sparts-bench --bin sparts_http_hello -- --http-port 8000
//! ```
use sparts::VService;
use sparts::http::HttpTask;

fn main() -> std::process::ExitCode {
    VService::new("HelloService")
        .with_task(HttpTask::default())
        .run_from_cli()
}
