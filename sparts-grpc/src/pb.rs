//! Generated protobuf code (`scripts/grpc-codegen.sh` regenerates it from
//! `sparts-grpc/proto` with protox, no `protoc` needed).

/// `sparts.admin.v1`: the admin service's messages, its server and a client.
///
/// ```no_run
/// # async fn demo(channel: tonic::transport::Channel) -> Result<(), tonic::Status> {
/// use sparts_grpc::pb::admin::{GetStatusRequest, admin_client::AdminClient};
///
/// let mut admin = AdminClient::new(channel);
/// let status = admin.get_status(GetStatusRequest {}).await?.into_inner();
/// println!("{} {}", status.name, status.details);
/// # Ok(()) }
/// ```
#[allow(clippy::all, missing_docs, unreachable_pub, missing_debug_implementations)]
#[rustfmt::skip]
pub mod admin {
    include!("generated/sparts.admin.v1.rs");

    /// The encoded file descriptor set of `sparts_admin.proto`, for reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("generated/sparts_admin.bin");
}

/// `helloworld`: the classic gRPC example service (`Greeter/SayHello`), for
/// examples, tests and benchmarks.
#[allow(clippy::all, missing_docs, unreachable_pub, missing_debug_implementations)]
#[rustfmt::skip]
pub mod helloworld {
    include!("generated/helloworld.rs");

    /// The encoded file descriptor set of `helloworld.proto`, for reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("generated/helloworld.bin");
}
