//! Helpers shared by the gRPC tests: start a service on port 0, talk to it
//! with real tonic clients.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use sparts_core::{RunningService, VService};
use sparts_grpc::GrpcTask;
use sparts_grpc::pb::helloworld::greeter_server::{Greeter, GreeterServer};
use sparts_grpc::pb::helloworld::{HelloReply, HelloRequest};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

/// The longest any single wait in a test may take.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// The Greeter: answers `Hello <name>!`; a name `slow:<ms>` waits that long
/// first, `fail` answers INVALID_ARGUMENT.
#[derive(Debug, Clone, Copy)]
pub struct Hello;

#[tonic::async_trait]
impl Greeter for Hello {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        let name = request.into_inner().name;
        if name == "fail" {
            return Err(Status::invalid_argument("no name"));
        }
        if let Some(ms) = name.strip_prefix("slow:") {
            let ms = ms.parse().map_err(|_| Status::invalid_argument("ms"))?;
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Ok(Response::new(HelloReply {
            message: format!("Hello {name}!"),
        }))
    }
}

/// A GrpcTask hosting the Greeter, with its descriptors for reflection.
pub fn greeter_task() -> GrpcTask {
    GrpcTask::new()
        .with_service(GreeterServer::new(Hello))
        .with_file_descriptor_set(sparts_grpc::pb::helloworld::FILE_DESCRIPTOR_SET)
}

/// A started service and its gRPC task.
pub struct Started {
    pub running: RunningService,
    pub grpc: Arc<GrpcTask>,
}

impl Started {
    pub fn port(&self) -> u16 {
        self.grpc.port().expect("a TCP port")
    }

    /// A new connection to the task.
    pub async fn channel(&self) -> Result<Channel, tonic::transport::Error> {
        channel(self.port()).await
    }
}

/// A new connection to `127.0.0.1:port`.
pub async fn channel(port: u16) -> Result<Channel, tonic::transport::Error> {
    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect_timeout(PATIENCE)
        .timeout(PATIENCE)
        .connect()
        .await
}

/// Starts `service` on 127.0.0.1, with `args` after the program name,
/// bounded in time.
pub async fn start(service: VService, args: &[&str]) -> Result<Started, sparts_core::Error> {
    let argv = ["svc", "--grpc-host", "127.0.0.1"]
        .into_iter()
        .chain(args.iter().copied());
    let running = tokio::time::timeout(PATIENCE, service.start_with_args(argv))
        .await
        .expect("the service starts in time")?;
    let grpc = running.handle().require::<GrpcTask>()?;
    Ok(Started { running, grpc })
}

/// Starts a service with the Greeter.
pub async fn start_greeter(args: &[&str]) -> Result<Started, sparts_core::Error> {
    start(VService::new("Svc").with_task(greeter_task()), args).await
}
