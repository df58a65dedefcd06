//! The whole framework in one service: HTTP (hello, a JSON route, health,
//! metrics, admin, fb303 at `/thrift`), gRPC (Greeter, health, reflection,
//! admin), Thrift (fb303 and FooService, multiplexed), D-Bus when a session
//! bus is there, a periodic producer feeding a queue, and a directory
//! watcher. One admin model answers on every transport. With
//! `--otel-endpoint` (or `OTEL_EXPORTER_OTLP_ENDPOINT`) every request's
//! span goes to that OpenTelemetry collector.
//!
//! ```sh
//! cargo run --release -p sparts-examples --bin demo
//! cargo run --release -p sparts-examples --bin demo -- --otel-endpoint http://localhost:4318
//! ```

use sparts::dbus::DBusServiceTask;
use sparts::grpc::{GrpcTask, pb::helloworld::FILE_DESCRIPTOR_SET};
use sparts::http::HttpTask;
use sparts::http::axum::{Json, Router, extract::Path, routing::get};
use sparts::thrift::{ThriftHandlerTask, ThriftServerTask, http::fb303};
use sparts::{
    IntoTaskSpec, PeriodicTask, QueueTask, TaskSpec, VService, tasks::DirectoryWatcherTask,
};
use sparts_examples::demo::{FooHandler, Greeter, Inbox, Jobs, Producer, greeter, print_commands};
use sparts_examples::foobar::FooServiceSyncProcessor;

fn main() -> std::process::ExitCode {
    let http = HttpTask::from_fn(|ctx| {
        Router::new()
            .route("/", get(|| async { "Hello, world" }))
            .route(
                "/hello/{name}",
                get(|Path(name): Path<String>| async { Json(greeter(name)) }),
            )
            .route("/thrift", fb303(ctx))
    });
    VService::new("Demo")
        .with_task(local(http.with_connect_info(), 8080))
        .with_task(local(
            GrpcTask::new()
                .with_service(Greeter::server())
                .with_file_descriptor_set(FILE_DESCRIPTOR_SET),
            50051,
        ))
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftHandlerTask::new(
            FooHandler,
            FooServiceSyncProcessor::new,
        ))
        .with_task(local(
            ThriftServerTask::new()
                .multiplexed()
                .with_default_service("fb303"),
            9090,
        ))
        .with_task(
            DBusServiceTask::new()
                .optional()
                .with_default("bus_name", "org.sparts.Demo"),
        )
        .with_task(QueueTask::new(Jobs))
        .with_task(PeriodicTask::new(Producer::default()))
        .with_task(DirectoryWatcherTask::new(Inbox).with_default("path", Inbox::path()))
        .on_first_started(print_commands)
        .run_from_cli()
}

/// On 127.0.0.1 at `port` unless the command line says otherwise.
fn local<M>(task: impl IntoTaskSpec<M>, port: u16) -> TaskSpec {
    task.with_default("host", "127.0.0.1")
        .with_default("port", port.to_string())
}
