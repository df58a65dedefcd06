//! A periodic task with an option of its own (`--host-check-name`, the host
//! to resolve every 5 s), and a second task logging the first one's counters.
//!
//! ```sh
//! cargo run -p sparts-examples --bin option_example -- --host-check-name example.com
//! ```
use std::net::ToSocketAddrs;
use std::time::Duration;

use sparts::{BoxError, Periodic, PeriodicContext, PeriodicTask, VService, clap};

/// Options of `HostCheck`, under its prefix: `--host-check-name`.
#[derive(clap::Args, Debug, Clone)]
struct HostCheckOptions {
    /// The host name to resolve.
    #[arg(long, default_value = "localhost")]
    name: String,
}

#[derive(Clone)]
struct HostCheck;

impl Periodic<HostCheckOptions> for HostCheck {
    const INTERVAL: Duration = Duration::from_secs(5);

    async fn execute(&self, ctx: &PeriodicContext<HostCheckOptions>) -> Result<(), BoxError> {
        let name = ctx.options().name.clone();
        let lookup = tokio::task::spawn_blocking(move || (name, 0).to_socket_addrs());
        let ips: Vec<_> = lookup.await??.map(|a| a.ip()).collect();
        tracing::info!("LOOKUP {} => {ips:?}", ctx.options().name);
        Ok(())
    }
}

#[derive(Clone)]
struct PrintCounters;

impl Periodic for PrintCounters {
    const INTERVAL: Duration = Duration::from_secs(6);

    async fn execute(&self, ctx: &PeriodicContext) -> Result<(), BoxError> {
        let service = ctx.service();
        let runs = service.counter("HostCheck.n_iterations")?;
        // Absent until HostCheck's first lookup ends.
        let slowest = service.counter("HostCheck.execute_duration_ms.max.60").ok();
        tracing::info!("HostCheck: {runs} lookups, slowest of the last minute: {slowest:?} ms");
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    VService::new("DnsChecker")
        .with_task(PeriodicTask::new(HostCheck))
        .with_task(PeriodicTask::new(PrintCounters))
        .run_from_cli()
}
