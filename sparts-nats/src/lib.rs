//! sparts-nats: a sparts service's `QueueTask` and `PeriodicTask` shared by
//! every replica, on NATS JetStream ([async-nats]).
//!
//! - [`NatsBackend`] keeps a queue's items in a JetStream work-queue stream:
//!   any replica submits, any replica executes, at least once.
//! - [`NatsLease`] runs a periodic task's ticks on one replica at a time,
//!   holding a lease in a JetStream key-value bucket.
//!
//! Both are offered to the task in code and chosen by the operator at run
//! time: without `--<prefix>-backend nats://…` (`--<prefix>-coordination
//! nats://…`) the task keeps its single-process behaviour, and nothing
//! else needs to run.
//!
//! ```
//! use sparts_core::{BoxError, ItemContext, QueueTask, QueueWork, VService};
//! use sparts_nats::NatsBackend;
//!
//! #[derive(Clone)]
//! struct Resize;
//!
//! impl QueueWork for Resize {
//!     type Item = String;
//!
//!     async fn execute(&self, path: &String, _ctx: &ItemContext) -> Result<(), BoxError> {
//!         println!("resizing {path}");
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! let service = || VService::new("Images").with_task(QueueTask::new(Resize).with_backend(NatsBackend::new()));
//! // Alone: the in-process queue.
//! let alone = service().start_with_args(["images"]).await?;
//! alone.handle().queue::<String, ()>("Resize")?.enqueue("cat.png".into()).await?;
//! alone.shutdown().await?;
//! // Shared: a server must answer at start.
//! let shared = service()
//!     .start_with_args(["images", "--resize-backend", "nats://127.0.0.1:1"])
//!     .await;
//! let error = format!("{:#}", shared.err().expect("no server on port 1"));
//! assert!(error.contains("Resize: cannot reach the NATS server at nats://127.0.0.1:1"), "{error}");
//! # Ok(())
//! # }
//! ```
//!
//! [async-nats]: https://docs.rs/async-nats

mod connection;
mod error;
mod lease;
mod queue;

pub use error::{Error, Result};
pub use lease::NatsLease;
pub use queue::{DeadLetter, NatsBackend, dead_letters, delete_queue};
