//! TLS on the gRPC task with a real tonic client over rustls: `h2` by
//! ALPN, and under mutual TLS the client's certificate in each call's
//! extensions, beside its address. (grpcio connects in
//! scripts/grpc_python_check.py.)

mod common;

use std::sync::Arc;

use common::{PATIENCE, TestResult, start};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sparts_core::VService;
use sparts_core::tls::ClientIdentity;
use sparts_grpc::GrpcTask;
use sparts_grpc::pb::helloworld::greeter_client::GreeterClient;
use sparts_grpc::pb::helloworld::greeter_server::{Greeter, GreeterServer};
use sparts_grpc::pb::helloworld::{HelloReply, HelloRequest};
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::{Request, Response, Status};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/tests/fixtures/tls/"
);

fn fixture(name: &str) -> String {
    format!("{FIXTURES}{name}")
}

/// Answers with the size of the client's certificate and where it called
/// from, as the handler sees them.
struct WhoAmI;

#[tonic::async_trait]
impl Greeter for WhoAmI {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        let identity = request
            .extensions()
            .get::<ClientIdentity>()
            .ok_or_else(|| Status::unauthenticated("no client certificate"))?;
        let from = request.remote_addr().map(|a| a.ip().to_string());
        Ok(Response::new(HelloReply {
            message: format!(
                "{} {}",
                identity.certificate().len(),
                from.unwrap_or_default()
            ),
        }))
    }
}

/// A channel over TLS to `port`, trusting the tests' CA, with the client
/// certificate, asking for `h2`.
#[allow(deprecated)]
async fn tls_channel(port: u16) -> Result<Channel, Box<dyn std::error::Error + Send + Sync>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(fixture("ca.pem"))?)?;
    let chain = vec![CertificateDer::from_pem_file(fixture("client.pem"))?];
    let key = PrivateKeyDer::from_pem_file(fixture("client.key"))?;
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let channel = Endpoint::from_static("http://localhost")
        .connect_timeout(PATIENCE)
        .timeout(PATIENCE)
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let connector = connector.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
                let name = ServerName::try_from("localhost")?.to_owned();
                let tls = connector.connect(name, tcp).await?;
                assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(TokioIo::new(tls))
            }
        }))
        .await?;
    Ok(channel)
}

#[tokio::test]
async fn a_call_over_mutual_tls_sees_the_client_certificate() -> TestResult {
    let (cert, key, ca) = (
        fixture("server.pem"),
        fixture("server.key"),
        fixture("ca.pem"),
    );
    let s = start(
        VService::new("Mtls").with_task(GrpcTask::new().with_service(GreeterServer::new(WhoAmI))),
        &[
            "--grpc-tls-cert",
            &cert,
            "--grpc-tls-key",
            &key,
            "--grpc-tls-client-ca",
            &ca,
        ],
    )
    .await?;
    let mut client = GreeterClient::new(tls_channel(s.port()).await?);
    let reply = client
        .say_hello(HelloRequest { name: "me".into() })
        .await?
        .into_inner();
    let der = CertificateDer::from_pem_file(fixture("client.pem"))?;
    assert_eq!(reply.message, format!("{} 127.0.0.1", der.len()));
    s.running.shutdown().await?;
    Ok(())
}
