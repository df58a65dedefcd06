//! The service `bench/top.sh` watches: `http_hello` (an `HttpTask` with its
//! defaults) plus a task with 1,000 counters, each moved every second, so
//! that every read of `/admin/counters` is about 40 kB and every sparkline
//! moves.
//!
//! ```sh
//! cargo run --release -p sparts-bench --bin many_counters -- --http-port 8000
//! ```
use sparts::http::HttpTask;
use sparts::{TaskSpec, VService};

/// How many counters the `Load` task keeps.
const COUNTERS: usize = 1000;

fn main() -> std::process::ExitCode {
    let load = TaskSpec::periodic("Load", |ctx| async move {
        for i in 0..COUNTERS {
            ctx.counters()
                .counter(&format!("c{i:04}"))
                .add(i as u64 % 7 + 1);
        }
        Ok(())
    });
    VService::new("Counted")
        .with_task(HttpTask::default())
        .with_task(load)
        .run_from_cli()
}
