//! gRPC and HTTP on one port: the `helloworld.Greeter` service (with
//! health, reflection and admin) and the HTTP hello world, routed by
//! content type, for deployments that expose a single port.
//!
//! ```sh
//! cargo run -p sparts-examples --bin grpc_http -- --grpc-port 8080
//! curl localhost:8080
//! grpcurl -plaintext -d '{"name": "you"}' localhost:8080 helloworld.Greeter/SayHello
//! ```
use sparts::VService;
use sparts::grpc::GrpcTask;
use sparts::grpc::pb::helloworld::greeter_server::{Greeter, GreeterServer};
use sparts::grpc::pb::helloworld::{FILE_DESCRIPTOR_SET, HelloReply, HelloRequest};
use sparts::grpc::tonic::{self, Request, Response, Status};
use sparts::http::axum::{Router, routing::get};

struct Hello;

#[tonic::async_trait]
impl Greeter for Hello {
    async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let message = format!("Hello {}!", req.into_inner().name);
        Ok(Response::new(HelloReply { message }))
    }
}

fn main() -> std::process::ExitCode {
    let web = Router::new().route("/", get(|| async { "Hello, world" }));
    let task = GrpcTask::new()
        .with_service(GreeterServer::new(Hello))
        .with_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .with_http_router(web);
    VService::new("HelloService").with_task(task).run_from_cli()
}
