//! The task on a unix socket: the Greeter answers, and its peers are
//! trusted for mutating admin calls.

mod common;

use std::path::PathBuf;

use common::{PATIENCE, TestResult};
use hyper_util::rt::TokioIo;
use sparts_grpc::pb::admin::SetOptionRequest;
use sparts_grpc::pb::admin::admin_client::AdminClient;
use sparts_grpc::pb::helloworld::HelloRequest;
use sparts_grpc::pb::helloworld::greeter_client::GreeterClient;
use tonic::transport::{Channel, Endpoint, Uri};

async fn unix_channel(path: PathBuf) -> Result<Channel, tonic::transport::Error> {
    // The URI is not used: every connection goes to the socket.
    Endpoint::from_static("http://unix.invalid")
        .timeout(PATIENCE)
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unix_socket_serves_and_its_peers_are_trusted() -> TestResult {
    let dir = tempfile::tempdir()?;
    let sock = dir.path().join("grpc.sock");
    let sock_arg = sock.to_str().expect("a UTF-8 path");
    // --admin-trusted excludes loopback, so only the unix peer is trusted.
    let argv = [
        "svc",
        "--grpc-sock",
        sock_arg,
        "--admin-trusted",
        "192.0.2.0/24",
    ];
    let running = sparts_core::VService::new("Svc")
        .with_task(common::greeter_task())
        .start_with_args(argv)
        .await?;
    let grpc = running.handle().require::<sparts_grpc::GrpcTask>()?;
    assert_eq!(grpc.bound().unix_path(), Some(sock.as_path()));
    assert_eq!(grpc.port(), None);

    let channel = unix_channel(sock.clone()).await?;
    let reply = GreeterClient::new(channel.clone())
        .say_hello(HelloRequest {
            name: "unix".into(),
        })
        .await?
        .into_inner();
    assert_eq!(reply.message, "Hello unix!");
    AdminClient::new(channel)
        .set_option(SetOptionRequest {
            name: "grpc_lameduck".into(),
            value: "0.25".into(),
        })
        .await?;
    assert_eq!(
        running.handle().option("grpc_lameduck")?.as_deref(),
        Some("0.25")
    );
    running.shutdown().await?;
    assert!(!sock.exists(), "the socket file is removed");
    Ok(())
}
