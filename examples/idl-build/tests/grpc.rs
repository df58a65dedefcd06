//! The generated gRPC code for real: `EchoService` served by tonic on
//! loopback, called with the generated client.

use sparts_build_example::EchoService;
use sparts_build_example::echo::{
    FILE_DESCRIPTOR_SET, SayRequest, echo_client::EchoClient, echo_server::EchoServer,
};
use tokio_stream::wrappers::TcpListenerStream;

#[tokio::test]
async fn the_generated_client_calls_the_generated_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(EchoServer::new(EchoService))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

    let mut client = EchoClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    let reply = client
        .say(SayRequest {
            text: "hi".to_owned(),
            times: 3,
        })
        .await
        .expect("Say");
    assert_eq!(reply.into_inner().text, "hi hi hi");

    let status = client
        .say(SayRequest {
            text: "hi".to_owned(),
            times: EchoService::MAX_TIMES + 1,
        })
        .await
        .expect_err("too many times");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    server.abort();
}

#[test]
fn the_descriptor_set_describes_the_service() {
    use prost::Message as _;
    let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set");
    let echo = fds
        .file
        .iter()
        .find(|file| file.name() == "echo.proto")
        .expect("echo.proto in the set");
    assert_eq!(echo.package(), "echo");
    assert_eq!(echo.service[0].name(), "Echo");
    assert_eq!(echo.service[0].method[0].name(), "Say");
}
