//! A service with no tasks: every service option, logging, signals and the
//! daemon mode, and nothing else.
//!
//! ```sh
//! cargo run -p sparts-examples --bin empty_server -- --help
//! ```
fn main() -> std::process::ExitCode {
    sparts::VService::new("EmptyService").run_from_cli()
}
