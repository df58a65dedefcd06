//! A periodic task: prints the unix time every `--print-clock-interval`
//! seconds (default 1, fractional, changeable at run time).
//!
//! ```sh
//! cargo run -p sparts-examples --bin print_clock -- --print-clock-interval 0.5
//! ```
#![allow(clippy::print_stdout)]

use sparts::{TaskSpec, VService};

fn main() -> std::process::ExitCode {
    VService::new("Clock")
        .with_task(TaskSpec::periodic("PrintClock", |_ctx| async {
            println!("{:.3}", std::time::UNIX_EPOCH.elapsed()?.as_secs_f64());
            Ok(())
        }))
        .run_from_cli()
}
