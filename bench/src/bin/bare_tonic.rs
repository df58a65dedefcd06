//! The baseline of `grpc_load`: tonic's own helloworld Greeter server, as
//! its example writes it (`Server::builder().add_service(..)` on a
//! multi-threaded runtime, TCP_NODELAY on as `serve(addr)` sets it), with
//! nothing of sparts. It logs its port to
//! stderr like the sparts server does.
//!
//! ```sh
//! cargo run --release -p sparts-bench --bin bare_tonic -- 50052
//! ```
use sparts::grpc::pb::helloworld::greeter_server::{Greeter, GreeterServer};
use sparts::grpc::pb::helloworld::{HelloReply, HelloRequest};
use sparts::grpc::tonic::{self, Request, Response, Status};
use tonic::transport::server::TcpIncoming;

struct Hello;

#[tonic::async_trait]
impl Greeter for Hello {
    async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let message = format!("Hello {}!", req.into_inner().name);
        Ok(Response::new(HelloReply { message }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    eprintln!(
        "bare tonic listening on 0.0.0.0 (port {})",
        listener.local_addr()?.port()
    );
    tonic::transport::Server::builder()
        .add_service(GreeterServer::new(Hello))
        .serve_with_incoming(TcpIncoming::from(listener).with_nodelay(Some(true)))
        .await?;
    Ok(())
}
