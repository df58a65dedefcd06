//! Thrift for sparts services: handler and server tasks on tokio, the fb303
//! admin interface, multiplexing, Thrift over HTTP and a client helper.
//!
//! - [`ThriftHandlerTask`] holds one implementation of a generated service
//!   (`FooServiceSyncHandler`) and gives its processor to the servers;
//!   [`ThriftHandlerTask::fb303`] is the built-in fb303 `FacebookService`,
//!   answered by the service's admin model.
//! - [`ThriftServerTask`] (options `--thrift-*`) serves them: async accept
//!   and reads, handler code on worker threads, framed or buffered
//!   transport, binary or compact protocol, multiplexed or not.
//! - `http::post` serves a processor on an axum route of an `HttpTask`:
//!   Thrift over HTTP, one message per POST (feature `http`).
//! - [`ThriftClient`] calls a generated service from async code, over TCP or
//!   (feature `http`) HTTP: lazy connection, reconnection, timeouts.
//!
//! Generated code comes from Debian's `thrift-compiler` (0.17, `thrift --gen
//! rs`), checked in as a module: users of this crate need no compiler.
//!
//! ```
//! use sparts_core::VService;
//! use sparts_thrift::fb303::{FacebookServiceSyncClient, FbStatus, TFacebookServiceSyncClient};
//! use sparts_thrift::{ThriftHandlerTask, ThriftServerTask};
//! use thrift::protocol::{TBinaryInputProtocol, TBinaryOutputProtocol};
//! use thrift::transport::{TFramedReadTransport, TFramedWriteTransport, TIoChannel, TTcpChannel};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let running = VService::new("Demo")
//!     .with_task(ThriftHandlerTask::fb303())
//!     .with_task(ThriftServerTask::new())
//!     .start_with_args(["demo", "--thrift-host", "127.0.0.1"])
//!     .await?;
//! let port = running.handle().require::<ThriftServerTask>()?.port().unwrap_or_default();
//!
//! let status = tokio::task::spawn_blocking(move || -> thrift::Result<FbStatus> {
//!     let mut channel = TTcpChannel::new();
//!     channel.open(format!("127.0.0.1:{port}"))?;
//!     let (read, write) = channel.split()?;
//!     let mut client = FacebookServiceSyncClient::new(
//!         TBinaryInputProtocol::new(TFramedReadTransport::new(read), true),
//!         TBinaryOutputProtocol::new(TFramedWriteTransport::new(write), true),
//!     );
//!     client.get_status()
//! })
//! .await??;
//! assert_eq!(status, FbStatus::ALIVE);
//! running.shutdown().await?;
//! # Ok(()) }
//! ```

mod busy_poll;
mod client;
mod conn;
mod dispatch;
mod error;
mod fb303_handler;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod generated;
mod handler;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http")]
mod http_client;
mod metrics;
mod options;
mod outcome;
mod peer;
mod pool;
mod serve;
mod server;
mod wire;

pub use client::{BoxInputProtocol, BoxOutputProtocol, ThriftClient};
pub use error::{Error, Result};
pub use fb303_handler::Fb303Handler;
pub use generated::fb303;
pub use handler::{Processor, ThriftHandlerTask};
pub use options::ThriftOptions;
pub use peer::current_peer;
pub use server::ThriftServerTask;
pub use wire::{Protocol, Transport};

pub use thrift;
