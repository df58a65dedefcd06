//! Pieces the benchmark binaries share.

use sparts_thrift::Fb303Handler;
use sparts_thrift::fb303::FacebookServiceSyncProcessor;
use thrift::protocol::{TBinaryInputProtocolFactory, TBinaryOutputProtocolFactory};
use thrift::server::TServer;
use thrift::transport::{TFramedReadTransportFactory, TFramedWriteTransportFactory};

/// Threads of the `TServer` the Thrift benchmarks compare against: one per
/// connection for the connection's whole life.
pub const TSERVER_THREADS: usize = 64;

/// Serves `handler` with the `thrift` crate's own `TServer` (framed binary,
/// [`TSERVER_THREADS`] threads) on 127.0.0.1:`port`. Blocks for good: a
/// `TServer` cannot be stopped.
pub fn serve_tserver(handler: Fb303Handler, port: u16) -> thrift::Result<()> {
    TServer::new(
        TFramedReadTransportFactory::new(),
        TBinaryInputProtocolFactory::new(),
        TFramedWriteTransportFactory::new(),
        TBinaryOutputProtocolFactory::new(),
        FacebookServiceSyncProcessor::new(handler),
        TSERVER_THREADS,
    )
    .listen(("127.0.0.1", port))
}
