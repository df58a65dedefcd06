//! The sparts side of `grpc_load`: the `grpc_hello` example (a `GrpcTask`
//! with the Greeter plus health, reflection, admin, counters and tracing at
//! info level), built in the bench package so one release build has both.
//!
//! ```sh
//! cargo run --release -p sparts-bench --bin sparts_grpc_hello -- --grpc-port 50051
//! ```
use sparts::VService;
use sparts::grpc::GrpcTask;
use sparts::grpc::pb::helloworld::greeter_server::{Greeter, GreeterServer};
use sparts::grpc::pb::helloworld::{FILE_DESCRIPTOR_SET, HelloReply, HelloRequest};
use sparts::grpc::tonic::{self, Request, Response, Status};

struct Hello;

#[tonic::async_trait]
impl Greeter for Hello {
    async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let message = format!("Hello {}!", req.into_inner().name);
        Ok(Response::new(HelloReply { message }))
    }
}

fn main() -> std::process::ExitCode {
    let grpc = GrpcTask::new()
        .with_service(GreeterServer::new(Hello))
        .with_file_descriptor_set(FILE_DESCRIPTOR_SET);
    VService::new("HelloService").with_task(grpc).run_from_cli()
}
