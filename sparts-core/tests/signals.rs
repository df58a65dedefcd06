//! Signals raised at this test process (its own binary, since signals are
//! process-wide): SIGHUP restarts, SIGTERM stops, a second SIGTERM during
//! shutdown ends the service at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, raise};
use sparts_core::{BoxError, Error, Status, TaskContext, VService, VTask};
use tokio::sync::mpsc;

/// Takes a long time to stop, and counts its inits.
#[derive(Clone)]
struct SlowStop {
    inits: Arc<AtomicUsize>,
}

impl VTask for SlowStop {
    async fn init(&mut self, _: &TaskContext) -> Result<(), BoxError> {
        self.inits.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn run(&self, ctx: TaskContext) -> Result<(), BoxError> {
        ctx.stopped().await;
        // Draining something slow.
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(())
    }
}

/// Never finishes its init.
#[derive(Clone)]
struct HangingInit;

impl VTask for HangingInit {
    async fn init(&mut self, _: &TaskContext) -> Result<(), BoxError> {
        std::future::pending::<()>().await;
        Ok(())
    }

    async fn run(&self, _: TaskContext) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Both signal scenarios share the process's signals, so they run in order
/// in this one test.
#[tokio::test]
async fn signals() -> Result<(), Box<dyn std::error::Error>> {
    sigterm_during_a_hanging_init_stops_the_service().await?;
    sighup_restarts_and_a_second_sigterm_exits_at_once().await
}

async fn sigterm_during_a_hanging_init_stops_the_service() -> Result<(), Box<dyn std::error::Error>>
{
    let service = VService::new("Hanging")
        .with_signals(true)
        .with_task(HangingInit)
        .run_with_args(["hanging"]);
    let raiser = async {
        // Give the service time to reach the hanging init; the result does
        // not depend on it (a signal before init is handled the same way).
        tokio::time::sleep(Duration::from_millis(50)).await;
        raise(Signal::SIGTERM)
    };
    let (result, raised) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(service, raiser)
    })
    .await?;
    raised?;
    assert!(result.is_ok(), "{result:?}");
    Ok(())
}

async fn sighup_restarts_and_a_second_sigterm_exits_at_once()
-> Result<(), Box<dyn std::error::Error>> {
    let inits = Arc::new(AtomicUsize::new(0));
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let running = VService::new("Signals")
        .with_signals(true)
        .with_task(SlowStop {
            inits: Arc::clone(&inits),
        })
        .on_started(move |_| {
            let _ = started_tx.send(());
        })
        .start_with_args(["signals", "--shutdown-timeout", "60"])
        .await?;
    let handle = running.handle().clone();
    let within = Duration::from_secs(20);
    tokio::time::timeout(within, started.recv()).await?;

    // SIGHUP: every task stops and starts again. The slow stop would take
    // 30 s, so restart with a short timeout.
    handle.set_option("shutdown_timeout", "0.2")?;
    raise(Signal::SIGHUP)?;
    tokio::time::timeout(within, started.recv()).await?;
    assert_eq!(inits.load(Ordering::SeqCst), 2);
    assert_eq!(handle.status(), Status::Alive);

    // SIGTERM starts a graceful shutdown that the slow task holds up ...
    handle.set_option("shutdown_timeout", "60")?;
    let mut status = handle.watch_status();
    raise(Signal::SIGTERM)?;
    tokio::time::timeout(within, status.wait_for(|s| *s == Status::Stopping)).await??;
    // ... and a second one ends it at once.
    raise(Signal::SIGTERM)?;
    let result = tokio::time::timeout(within, running.wait()).await?;
    assert!(matches!(result, Err(Error::Interrupted(15))), "{result:?}");
    Ok(())
}
