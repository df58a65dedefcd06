//! The pieces of the `demo` example that are not about composing a
//! service: a Greeter, a FooService handler, a watched inbox, and the block
//! of commands it prints at start.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sparts::grpc::GrpcTask;
use sparts::grpc::pb::helloworld::greeter_server::{self, GreeterServer};
use sparts::grpc::pb::helloworld::{HelloReply, HelloRequest};
use sparts::grpc::tonic::{self, Request, Response, Status};
use sparts::http::HttpTask;
use sparts::thrift::ThriftServerTask;
use sparts::{BoxError, ItemContext, ServiceHandle, tasks::DirectoryHandler};
use sparts::{Periodic, PeriodicContext, QueueTask, QueueWork};

use crate::foobar::FooServiceSyncHandler;

/// `helloworld.Greeter`.
#[derive(Debug, Clone, Copy)]
pub struct Greeter;

impl Greeter {
    /// The tonic service.
    #[must_use]
    pub fn server() -> GreeterServer<Self> {
        GreeterServer::new(Self)
    }
}

#[tonic::async_trait]
impl greeter_server::Greeter for Greeter {
    async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let message = format!("Hello {}!", req.into_inner().name);
        Ok(Response::new(HelloReply { message }))
    }
}

/// The JSON the HTTP route `/hello/{name}` answers.
#[derive(Debug, serde::Serialize)]
pub struct Greeting {
    /// Who is greeted.
    pub hello: String,
}

/// A greeting for `name`.
#[must_use]
pub fn greeter(name: String) -> Greeting {
    Greeting { hello: name }
}

/// `FooService`: "foo" `numfoos` times.
#[derive(Debug, Clone, Copy)]
pub struct FooHandler;

impl FooServiceSyncHandler for FooHandler {
    fn handle_make_foos(&self, numfoos: i16) -> thrift::Result<String> {
        Ok("foo".repeat(usize::try_from(numfoos).unwrap_or(0)))
    }
}

/// Logs what lands in the demo's inbox directory.
#[derive(Debug, Clone, Copy)]
pub struct Inbox;

impl Inbox {
    /// The inbox: `sparts-demo-inbox` in the temporary directory, created
    /// if missing (the watcher warns, and retries, while it is missing).
    #[must_use]
    pub fn path() -> String {
        let dir: PathBuf = std::env::temp_dir().join("sparts-demo-inbox");
        let _ = std::fs::create_dir_all(&dir);
        dir.display().to_string()
    }
}

impl DirectoryHandler for Inbox {
    const PATH: &'static str = "/tmp/sparts-demo-inbox";

    async fn on_created(&self, path: &Path, meta: &Metadata) {
        tracing::info!("inbox: {} arrived ({} bytes)", path.display(), meta.len());
    }

    async fn on_deleted(&self, path: &Path, _last: &Metadata) {
        tracing::info!("inbox: {} left", path.display());
    }
}

/// Works off what the producer queues.
#[derive(Debug, Clone)]
pub struct Jobs;

impl QueueWork for Jobs {
    type Item = u64;

    async fn execute(&self, item: &u64, _ctx: &ItemContext) -> Result<(), BoxError> {
        tracing::debug!("job {item} done");
        Ok(())
    }
}

/// Queues a job every interval.
#[derive(Debug, Clone, Default)]
pub struct Producer(Arc<AtomicU64>);

impl Periodic for Producer {
    async fn execute(&self, ctx: &PeriodicContext) -> Result<(), BoxError> {
        let jobs = ctx.service().require::<QueueTask<Jobs>>()?;
        Ok(jobs.enqueue(self.0.fetch_add(1, Ordering::Relaxed)).await?)
    }
}

/// Prints, once, commands to try against the running demo.
#[allow(clippy::print_stdout)] // The demo's output for the person who started it.
pub fn print_commands(service: &ServiceHandle) {
    let port = |p: Option<u16>| p.map_or_else(|| "?".to_owned(), |p| p.to_string());
    let http = port(service.get::<HttpTask>().and_then(|t| t.port()));
    let grpc = port(service.get::<GrpcTask>().and_then(|t| t.port()));
    let thrift = port(service.get::<ThriftServerTask>().and_then(|t| t.port()));
    let inbox = service
        .option("inbox_path")
        .ok()
        .flatten()
        .unwrap_or_default();
    println!(
        "\nsparts demo is up. Try:\n\
         \x20 curl localhost:{http}/                     # Hello, world\n\
         \x20 curl localhost:{http}/hello/you            # JSON\n\
         \x20 curl localhost:{http}/admin/counters       # the admin model (also /readyz, /metrics)\n\
         \x20 cargo run --release -p sparts-examples --bin fb303_client -- localhost:{thrift} getStatus    # Thrift, plain fb303 or multiplexed\n\
         \x20 cargo run --release -p sparts-examples --bin fb303_client -- http://localhost:{http}/thrift getCounters\n\
         \x20 grpcurl -plaintext localhost:{grpc} grpc.health.v1.Health/Check    # grpcurl: github.com/fullstorydev/grpcurl\n\
         \x20 grpcurl -plaintext -d '{{\"name\":\"you\"}}' localhost:{grpc} helloworld.Greeter/SayHello\n"
    );
    if let Ok(Some(name)) = service.option("dbus_bus_name")
        && service.task_names().iter().any(|t| t == "DBusServiceTask")
    {
        println!("  busctl --user call {name} /Demo/fb303 com.facebook.fb303.Service getStatus\n");
    }
    println!("  touch {inbox}/hello            # the directory watcher logs it\n");
}
