//! `sparts-top http://HOST:PORT` (or `unix:/PATH`): a live dashboard of a
//! running sparts-rs service, through its HTTP admin endpoints. `q` quits.
//!
//! Exits 0 when the user quits, 1 when the service cannot be read at start
//! or there is no terminal, 2 for a bad command line.

use std::process::ExitCode;
use std::time::Duration;

use sparts_core::clap::{self, Parser};
use sparts_core::options::parse_interval;
use sparts_tui::{HttpAdmin, Target, TopOptions, watch};

/// Watch a running sparts-rs service: status, tasks, counters, options.
#[derive(Parser)]
#[command(name = "sparts-top", version)]
struct Args {
    /// The service's HTTP admin endpoints: http://HOST:PORT or unix:/PATH.
    target: String,

    /// Seconds between reads of the service (fractional).
    #[arg(long, default_value = "1", value_parser = parse_interval, value_name = "SECONDS")]
    interval: Duration,

    /// Seconds to wait for each answer of the service (fractional).
    #[arg(long, default_value = "5", value_parser = parse_interval, value_name = "SECONDS")]
    timeout: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let target: Target = match args.target.parse() {
        Ok(target) => target,
        Err(e) => {
            eprintln!("sparts-top: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sparts-top: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let admin = HttpAdmin::new(target).with_timeout(args.timeout);
    let options = TopOptions::default().with_interval(args.interval);
    match runtime.block_on(watch(admin, options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sparts-top: {e}");
            ExitCode::FAILURE
        }
    }
}
