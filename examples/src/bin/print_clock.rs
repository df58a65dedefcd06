//! A periodic task: prints the unix time every `--print-clock-interval`
//! seconds (default 1, fractional, changeable at run time).
//!
//! ```sh
//! cargo run -p sparts-examples --bin print_clock -- --print-clock-interval 0.5
//! ```
#![allow(clippy::print_stdout)]

use std::time::{SystemTime, UNIX_EPOCH};

use sparts::{BoxError, Periodic, PeriodicContext, PeriodicTask, VService};

#[derive(Clone)]
struct PrintClock;

impl Periodic for PrintClock {
    async fn execute(&self, _ctx: &PeriodicContext) -> Result<(), BoxError> {
        println!(
            "{:.3}",
            SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64()
        );
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    VService::new("Clock")
        .with_task(PeriodicTask::new(PrintClock))
        .run_from_cli()
}
