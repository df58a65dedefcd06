//! A service with no tasks that asks to shut down as soon as it has started:
//! the whole lifecycle (options, logging, runtime, signals, start, stop) and
//! nothing else. The `lifecycle` driver times it from spawn to exit.
//!
//! ```sh
//! cargo run --release -p sparts-bench --bin bench_empty_exit -- --level error
//! ```
fn main() -> std::process::ExitCode {
    sparts::VService::new("EmptyExit")
        .on_started(sparts::ServiceHandle::request_shutdown)
        .run_from_cli()
}
