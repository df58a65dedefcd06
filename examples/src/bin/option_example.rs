//! A periodic task with an option of its own (`--host-check-name`, the host
//! to resolve every 5 s), and a second task, a closure, logging the first
//! one's counters every 6 s.
//!
//! ```sh
//! cargo run -p sparts-examples --bin option_example -- --host-check-name example.com
//! ```
use std::net::ToSocketAddrs;

use sparts::{BoxError, Periodic, PeriodicContext, PeriodicTask, TaskSpec, VService, clap};

/// Options of `HostCheck`, under its prefix: `--host-check-name`.
#[derive(clap::Args)]
struct HostCheckOptions {
    /// The host name to resolve.
    #[arg(long, default_value = "localhost")]
    name: String,
}

#[derive(Clone)]
struct HostCheck;

impl Periodic<HostCheckOptions> for HostCheck {
    async fn execute(&self, ctx: &PeriodicContext<HostCheckOptions>) -> Result<(), BoxError> {
        let name = ctx.options().name.clone();
        let lookup = tokio::task::spawn_blocking(move || (name, 0).to_socket_addrs());
        let ips: Vec<_> = lookup.await??.map(|a| a.ip()).collect();
        tracing::info!("LOOKUP {} => {ips:?}", ctx.options().name);
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    let print_counters = TaskSpec::periodic("PrintCounters", |ctx| async move {
        let service = ctx.service();
        let runs = service.counter("HostCheck.n_iterations")?;
        // Absent until HostCheck's first lookup ends.
        let slowest = service.counter("HostCheck.execute_duration_ms.max.60").ok();
        tracing::info!("HostCheck: {runs} lookups, slowest of the last minute: {slowest:?} ms");
        Ok(())
    });
    VService::new("DnsChecker")
        .with_task(TaskSpec::new(PeriodicTask::new(HostCheck)).with_default("interval", "5"))
        .with_task(print_counters.with_default("interval", "6"))
        .run_from_cli()
}
