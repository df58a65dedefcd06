//! The classic `helloworld.Greeter/SayHello` gRPC service, with health,
//! reflection and the `sparts.admin.v1.Admin` service beside it.
//!
//! ```sh
//! cargo run -p sparts-examples --bin grpc_hello -- --grpc-port 50051
//! grpcurl -plaintext -d '{"name": "you"}' localhost:50051 helloworld.Greeter/SayHello
//! grpcurl -plaintext localhost:50051 grpc.health.v1.Health/Check
//! grpcurl -plaintext localhost:50051 sparts.admin.v1.Admin/GetCounters
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
