//! Listeners for every sparts transport: TCP on every interface (IPv4 and
//! IPv6 on one port) or on a host, and unix sockets created with their final
//! mode before anyone can reach them. sparts-grpc binds through these too.

pub use crate::bind::{BoundAddr, bind_tcp};
pub use crate::unix::UnixSocket;
