//! One worker of a queue whose items live in a backend: take a delivery,
//! execute it while telling the backend it is alive, settle it.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tracing::{error, warn};

use super::backend::{Delivery, RemoteQueue, Settle};
use super::context::ItemContext;
use super::worker::{Counters, execute_caught};
use super::{QueueOptions, QueueWork};
use crate::error::BoxError;
use crate::task::{TaskContext, TaskOptions};
use crate::tasks::TryLater;

/// The longest pause after the backend failed to deliver, before asking
/// again (it doubles from 100 ms).
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How an execution ended.
enum Executed<R> {
    Returned(Result<R, BoxError>),
    /// Still running when the shutdown timeout came near.
    CutShort,
}

/// Works deliveries until the backend, closed at the stop, has no more.
pub(super) async fn run<W, O, R>(
    work: &W,
    remote: &dyn RemoteQueue<W::Item, R>,
    ctx: TaskContext<QueueOptions<O>>,
) -> Result<(), BoxError>
where
    W: QueueWork<O, R>,
    O: TaskOptions,
    R: Send + 'static,
{
    let counters = Counters::register(&ctx);
    let token = ctx.token().clone();
    let name = ctx.name().to_owned();
    let mut item_ctx = ItemContext {
        attempt: 0,
        enqueued_at: Instant::now(),
        task: ctx,
    };
    let mut backoff = Duration::from_millis(100);
    let mut closed = false;
    loop {
        // A take in progress is kept across the stop, not dropped: the
        // backend may be fetching an item for it, which it then hands back
        // at once rather than leaving it to the ack wait.
        let taking = remote.next();
        tokio::pin!(taking);
        let next = loop {
            tokio::select! {
                biased;
                () = token.cancelled(), if !closed => {
                    remote.close();
                    closed = true;
                }
                next = &mut taking => break next,
            }
        };
        let delivery = match next {
            Ok(Some(delivery)) => delivery,
            Ok(None) => break,
            Err(e) => {
                warn!("{name}: cannot take an item from the backend: {e}; retrying in {backoff:?}");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = token.cancelled(), if !closed => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        if token.is_cancelled() {
            settle(&name, delivery, Settle::HandBack).await;
            continue;
        }
        item_ctx.attempt = delivery.attempt();
        item_ctx.enqueued_at = on_tokio_clock(delivery.enqueued_at());
        let started = Instant::now();
        let executed = execute(work, delivery.as_ref(), &item_ctx).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let how = match executed {
            Executed::CutShort => {
                error!(
                    "{name}: item {:?} was still executing at the shutdown timeout; \
                     handed back for another replica",
                    delivery.item()
                );
                Settle::HandBack
            }
            Executed::Returned(Ok(output)) => {
                counters.executed(true, elapsed_ms);
                Settle::Done(Ok(output))
            }
            Executed::Returned(Err(e)) => match TryLater::find(&e) {
                Some(later) => {
                    counters.retried();
                    Settle::Retry {
                        after: later.after,
                        error: e.to_string(),
                    }
                }
                None => {
                    counters.executed(false, elapsed_ms);
                    Settle::Done(Err(e))
                }
            },
        };
        settle(&name, delivery, how).await;
    }
    Ok(())
}

/// Executes one item, telling the backend it is alive meanwhile; cuts it
/// short just before the service's shutdown timeout, so that the item is
/// handed back rather than held until the ack wait expires.
async fn execute<W, O, R>(
    work: &W,
    delivery: &dyn Delivery<W::Item, R>,
    ctx: &ItemContext<O>,
) -> Executed<R>
where
    W: QueueWork<O, R>,
    O: TaskOptions,
    R: Send + 'static,
{
    let execution = execute_caught(work, delivery.item(), ctx);
    tokio::pin!(execution);
    let every = delivery.keep_alive_every().max(Duration::from_millis(10));
    let mut beat = tokio::time::interval_at(Instant::now() + every, every);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let cut = cut_short_at(ctx);
    tokio::pin!(cut);
    loop {
        tokio::select! {
            biased;
            returned = &mut execution => return Executed::Returned(returned),
            () = &mut cut => return Executed::CutShort,
            _ = beat.tick() => {
                if let Err(e) = delivery.keep_alive().await {
                    warn!("{}: cannot tell the backend item {:?} is alive: {e}", ctx.name(), delivery.item());
                }
            }
        }
    }
}

/// Resolves a little before the tasks are aborted at the stop's timeout.
async fn cut_short_at<O: TaskOptions>(ctx: &ItemContext<O>) {
    ctx.token().cancelled().await;
    let service = ctx.service();
    let timeout = service.service_options().shutdown_timeout;
    let began = service.stop_began().unwrap_or_else(Instant::now);
    // Time to send the hand-back before the abort.
    let margin = (timeout / 10).min(Duration::from_secs(1));
    tokio::time::sleep_until(began + timeout.saturating_sub(margin)).await;
}

async fn settle<T, R>(name: &str, delivery: Box<dyn Delivery<T, R>>, how: Settle<R>) {
    let kind = how.kind();
    if let Err(e) = delivery.settle(how).await {
        // The backend delivers it again after its ack wait: late, not lost.
        warn!("{name}: cannot settle an item ({kind}) with the backend: {e}");
    }
}

/// An instant on tokio's clock for a time on the wall clock.
fn on_tokio_clock(at: SystemTime) -> Instant {
    let now = Instant::now();
    match SystemTime::now().duration_since(at) {
        Ok(ago) => now.checked_sub(ago).unwrap_or(now),
        Err(_) => now,
    }
}
