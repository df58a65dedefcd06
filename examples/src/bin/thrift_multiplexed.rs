//! Two Thrift services on one multiplexed port, as in the original sparts
//! demo: `FooService` under the name `FooHandler` (its type's name) and
//! `BarService` under `bar`.
//!
//! ```sh
//! cargo run -p sparts-examples --bin thrift_multiplexed -- --thrift-port 9090
//! ```
use sparts::VService;
use sparts::thrift::{ThriftHandlerTask, ThriftServerTask};
use sparts_examples::foobar::{BarServiceSyncHandler, BarServiceSyncProcessor};
use sparts_examples::foobar::{FooServiceSyncHandler, FooServiceSyncProcessor};

#[derive(Clone)]
struct FooHandler;

impl FooServiceSyncHandler for FooHandler {
    fn handle_make_foos(&self, numfoos: i16) -> thrift::Result<String> {
        Ok("foo".repeat(usize::try_from(numfoos).unwrap_or(0)))
    }
}

#[derive(Clone)]
struct BarHandler;

impl BarServiceSyncHandler for BarHandler {
    fn handle_make_bars(&self, numbars: i16) -> thrift::Result<String> {
        Ok("bar".repeat(usize::try_from(numbars).unwrap_or(0)))
    }
}

fn main() -> std::process::ExitCode {
    VService::new("MultiplexedService")
        .with_task(ThriftHandlerTask::new(
            FooHandler,
            FooServiceSyncProcessor::new,
        ))
        .with_task(
            ThriftHandlerTask::new(BarHandler, BarServiceSyncProcessor::new)
                .with_service_name("bar"),
        )
        .with_task(ThriftServerTask::new().multiplexed())
        .run_from_cli()
}
