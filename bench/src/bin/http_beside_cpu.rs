//! The server of `bench/isolation.sh`: `http_hello`'s HttpTask beside a
//! CPU-bound task (`BURN_MS` of computing between yields, 20 by default:
//! a block compressed, an image resized), which runs on a
//! runtime of its own (`CPU_TASK=dedicated`), on the service's runtime
//! (`CPU_TASK=shared`), or not at all (`CPU_TASK=none`, the default);
//! `--cpu-nice 19` lowers the dedicated runtime's threads' priority.
//!
//! ```sh
//! CPU_TASK=dedicated cargo run --release -p sparts-bench --bin http_beside_cpu -- --http-port 8000
//! ```
use std::time::{Duration, Instant};

use sparts::http::HttpTask;
use sparts::{BoxError, TaskSpec, VService};

/// Computes until the task must stop, yielding every `BURN_MS`.
async fn burn(stopping: impl Fn() -> bool) -> Result<(), BoxError> {
    let chunk = std::env::var("BURN_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(20);
    while !stopping() {
        let until = Instant::now() + Duration::from_millis(chunk);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        tokio::task::yield_now().await;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let service = VService::new("HelloService").with_task(HttpTask::default());
    let service = match std::env::var("CPU_TASK").as_deref() {
        Ok("dedicated") => service.with_task(TaskSpec::runtime("Cpu", |ctx| async move {
            burn(|| ctx.is_stopping()).await
        })),
        Ok("shared") => service.with_task(TaskSpec::task("Cpu", |ctx| async move {
            burn(|| ctx.is_stopping()).await
        })),
        _ => service,
    };
    service.run_from_cli()
}
