//! Serving until shutdown, then the shutdown sequence: NOT_SERVING at once,
//! lame duck, stop accepting, drain, cut.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use sparts_core::listen::{Incoming, Listener};
use sparts_core::{BoxError, Status, TaskContext};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;

use crate::health::Health;
use crate::io::{Cut, Cuttable};
use crate::metrics::{Metrics, MetricsLayer};
use crate::options::GrpcOptions;
use crate::router::Router;

/// The most the cut may be brought forward from the end of the shutdown
/// budget: the time to close what is left before the service gives up.
const MAX_CUT_MARGIN: Duration = Duration::from_millis(250);

/// What `init` prepared for `run`.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) listeners: Vec<Listener>,
    pub(crate) router: Router,
    pub(crate) health: Option<Health>,
    pub(crate) metrics: Arc<Metrics>,
    /// One-port mode: the router for requests that are not gRPC.
    #[cfg(feature = "http")]
    pub(crate) http: Option<axum::Router>,
}

impl Prepared {
    pub(crate) async fn run(mut self, ctx: &TaskContext<GrpcOptions>) -> Result<(), BoxError> {
        let cut = Arc::new(Cut::default());
        let accepting = CancellationToken::new();
        let incoming = Incoming::new(std::mem::take(&mut self.listeners), accepting.clone());
        let serve = self.serve(ctx, incoming, &cut, &accepting);
        let follow = async {
            if let Some(health) = &self.health {
                health.follow(ctx).await;
            }
        };
        let serving = async {
            tokio::pin!(serve);
            tokio::select! {
                served = &mut serve => served,
                // Once cut, the connections fail and tonic returns.
                () = self.shutdown_sequence(ctx, &cut, &accepting) => serve.await,
            }
        };
        let (served, ()) = tokio::join!(serving, follow);
        served
    }

    async fn serve(
        &self,
        ctx: &TaskContext<GrpcOptions>,
        incoming: Incoming,
        cut: &Arc<Cut>,
        accepting: &CancellationToken,
    ) -> Result<(), BoxError> {
        let opts = ctx.options();
        let mut builder = Server::builder();
        if opts.concurrency_per_connection > 0 {
            builder = builder.concurrency_limit_per_connection(opts.concurrency_per_connection);
        }
        if opts.max_concurrent_streams > 0 {
            builder = builder.max_concurrent_streams(opts.max_concurrent_streams);
        }
        if !opts.request_timeout.is_zero() {
            builder = builder.timeout(opts.request_timeout);
        }
        if !opts.keepalive.is_zero() {
            builder = builder.http2_keepalive_interval(Some(opts.keepalive));
        }
        let router = self.router.clone();
        let stop = accepting.clone().cancelled_owned();
        // Accept errors are handled (skipped or backed off) by `Incoming`.
        let cut = Arc::clone(cut);
        let incoming = incoming.map(move |io| Ok::<_, Infallible>(Cuttable::new(io, &cut)));
        let metrics = MetricsLayer(Arc::clone(&self.metrics));
        #[cfg(feature = "http")]
        if let Some(http) = &self.http {
            let dispatch = crate::one_port::Dispatch {
                grpc: tower::Layer::layer(&metrics, router),
                http: http.clone(),
            };
            builder
                .accept_http1(true)
                .serve_with_incoming_shutdown(dispatch, incoming, stop)
                .await?;
            return Ok(());
        }
        builder
            .layer(metrics)
            .serve_with_incoming_shutdown(router, incoming, stop)
            .await?;
        Ok(())
    }

    /// Waits for shutdown, serves the lame duck period, stops accepting,
    /// and cuts the streams still open just before the budget runs out.
    async fn shutdown_sequence(
        &self,
        ctx: &TaskContext<GrpcOptions>,
        cut: &Arc<Cut>,
        accepting: &CancellationToken,
    ) {
        let name = ctx.name();
        let began = shutdown_began(ctx).await;
        let budget = ctx.service().service_options().shutdown_timeout;
        let cut_at = began + budget.saturating_sub((budget / 10).min(MAX_CUT_MARGIN));
        let lameduck = ctx.options().lameduck;
        if !lameduck.is_zero() {
            tracing::info!(
                "{name} lame duck: serving {:.3} s more while health answers NOT_SERVING",
                lameduck.as_secs_f64()
            );
            if began + lameduck > cut_at {
                tracing::warn!(
                    "{name}: the lame duck period is longer than --shutdown-timeout allows; cut short"
                );
            }
            tokio::time::sleep_until((began + lameduck).min(cut_at)).await;
        }
        accepting.cancel();
        let open = self.metrics.open_streams();
        if open > 0 {
            tracing::info!("{name} stopped accepting; draining {open} open streams");
        }
        tokio::time::sleep_until(cut_at).await;
        let left = self.metrics.open_streams();
        if left > 0 {
            tracing::warn!(
                "{name}: {left} streams still open at the end of the shutdown budget: cut"
            );
            self.metrics.cut.add(left as u64);
        }
        cut.cut();
    }
}

/// Waits until the service begins to shut down (status STOPPING) or the
/// task is stopped (a restart); returns when.
async fn shutdown_began(ctx: &TaskContext<GrpcOptions>) -> Instant {
    let mut status = ctx.service().watch_status();
    tokio::select! {
        () = ctx.stopped() => {}
        Ok(_) = status.wait_for(|s| *s == Status::Stopping) => {}
    }
    Instant::now()
}
