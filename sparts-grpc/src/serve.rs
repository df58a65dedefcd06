//! Serving until shutdown, then the shutdown sequence: NOT_SERVING at once
//! (the health service follows the status), lame duck, stop accepting,
//! drain, cut.

use std::convert::Infallible;
use std::sync::Arc;

use futures_util::StreamExt as _;
use sparts_core::listen::Listener;
use sparts_core::server::{Activity, Connections, Cuttable, Incoming, ShutdownPlan, Watched};
use sparts_core::tls::{TlsAcceptor, secure};
use sparts_core::{BoxError, TaskContext};
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;

use crate::connection::Connection;
use crate::health::Health;
use crate::metrics::{Metrics, MetricsLayer};
use crate::options::GrpcOptions;
use crate::router::Router;

/// TLS handshakes in progress at once, at most.
const HANDSHAKES: usize = 256;

/// What `init` prepared for `run`.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) listeners: Vec<Listener>,
    pub(crate) router: Router,
    pub(crate) health: Option<Health>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) connections: Connections,
    pub(crate) tls: Option<TlsAcceptor>,
    /// One-port mode: the router for requests that are not gRPC.
    #[cfg(feature = "http")]
    pub(crate) http: Option<axum::Router>,
}

impl Prepared {
    /// Serves until stopped, the access log following `--<prefix>-access-log`.
    pub(crate) async fn run(self, ctx: &TaskContext<GrpcOptions>) -> Result<(), BoxError> {
        let access = self.metrics.access_log().clone();
        access
            .while_serving(ctx, |o| o.access_log, self.serve_until_stopped(ctx))
            .await
    }

    async fn serve_until_stopped(mut self, ctx: &TaskContext<GrpcOptions>) -> Result<(), BoxError> {
        let accepting = CancellationToken::new();
        let incoming = Incoming::new(
            std::mem::take(&mut self.listeners),
            &self.connections,
            accepting.clone(),
        );
        let serve = self.serve(ctx, incoming, &accepting);
        let follow = async {
            if let Some(health) = &self.health {
                health.follow(ctx).await;
            }
        };
        let serving = async {
            tokio::pin!(serve);
            tokio::select! {
                served = &mut serve => served,
                // Drained or cut, every connection has ended and tonic returns.
                () = self.shutdown(ctx, &accepting) => serve.await,
            }
        };
        let (served, ()) = tokio::join!(serving, follow);
        served
    }

    async fn serve(
        &self,
        ctx: &TaskContext<GrpcOptions>,
        incoming: Incoming,
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
        // Accept errors are handled (skipped or backed off) by `Incoming`,
        // and the maximum of connections kept.
        let connections = self.connections.clone();
        let limits = opts.connection.time_limits();
        let tls = self.tls.clone();
        let incoming = incoming
            .map(move |(io, guard)| {
                let tls = tls.clone();
                async move {
                    let io = secure(tls.as_ref(), io, limits.header, &guard).await?;
                    Some(Cuttable::new(io, guard))
                }
            })
            // Handshakes side by side, so that a slow one holds no other
            // client back; without TLS each is ready at once.
            .buffer_unordered(HANDSHAKES)
            .filter_map(std::future::ready)
            .map(move |io| {
                // tonic tells no one when a call begins or ends: a
                // connection is idle once no byte has moved for the idle
                // limit.
                let activity = Arc::new(Activity::default());
                let io = Watched::new(io, limits, activity, &connections);
                Ok::<_, Infallible>(Connection(io))
            });
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

    /// Waits for the shutdown, serves the lame duck period, stops
    /// accepting (tonic's graceful shutdown: GOAWAY on every connection),
    /// and drains the connections, cutting those still open just before
    /// the budget runs out.
    async fn shutdown(&self, ctx: &TaskContext<GrpcOptions>, accepting: &CancellationToken) {
        let plan = ShutdownPlan::wait(ctx).await;
        plan.lame_duck(ctx.options().lameduck).await;
        accepting.cancel();
        plan.drain(&self.connections).await;
    }
}
