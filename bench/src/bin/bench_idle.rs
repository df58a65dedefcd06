//! An idle service with no tasks: it runs until SIGINT or SIGTERM. The
//! `lifecycle` driver times SIGTERM to exit and reads its resident memory.
//!
//! ```sh
//! cargo run --release -p sparts-bench --bin bench_idle
//! ```
fn main() -> std::process::ExitCode {
    sparts::VService::new("IdleService").run_from_cli()
}
