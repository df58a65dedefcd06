//! fb303's `FacebookService`, answered by sparts-core's admin model; its
//! errors are application exceptions named by their kind (see [`refused`]).

use std::collections::BTreeMap;
use std::time::Duration;

use sparts_core::{Admin, AdminErrorKind, ServiceHandle};
use thrift::{ApplicationError, ApplicationErrorKind};

use crate::current_peer;
use crate::fb303::{FacebookServiceSyncHandler, FacebookServiceSyncProcessor, FbStatus};
use crate::handler::ThriftHandlerTask;

/// The fb303 handler: every call goes to the service's [`Admin`]; the
/// mutating ones carry the caller from [`current_peer`] for the
/// `--admin-trusted` check.
///
/// fb303 declares no exceptions, so an error is an application exception
/// whose message starts with the name of its
/// [`AdminErrorKind`] and a colon
/// (``NOT_FOUND: unknown counter `x` ``), of kind `InternalError` for
/// `INTERNAL` and `Unknown` for the others.
#[derive(Debug, Clone)]
pub struct Fb303Handler {
    admin: Admin,
    runtime: tokio::runtime::Handle,
}

impl Fb303Handler {
    /// The handler of `service`'s admin model. Call it inside the tokio
    /// runtime (as a task's `init` or an `HttpTask::from_fn` closure are):
    /// `getCpuProfile` waits on it.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    #[must_use]
    pub fn new(service: &ServiceHandle) -> Self {
        Self {
            admin: service.admin(),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// The generated processor over this handler, e.g. to mount on HTTP.
    #[must_use]
    pub fn processor(self) -> FacebookServiceSyncProcessor<Self> {
        FacebookServiceSyncProcessor::new(self)
    }
}

impl ThriftHandlerTask {
    /// The built-in fb303 handler task, named `fb303` (also its service name
    /// when multiplexed). Every call but `getCpuProfile` only reads or asks
    /// something of the admin model, so they run inline
    /// ([`with_inline_methods`](Self::with_inline_methods));
    /// `getCpuProfile` takes seconds and runs on a worker thread.
    ///
    /// ```
    /// use sparts_core::VService;
    /// use sparts_thrift::{ThriftHandlerTask, ThriftServerTask};
    ///
    /// let service = VService::new("Svc")
    ///     .with_task(ThriftHandlerTask::fb303())
    ///     .with_task(ThriftServerTask::new());
    /// ```
    #[must_use]
    pub fn fb303() -> Self {
        Self::from_fn("fb303", |ctx| Fb303Handler::new(ctx.service()).processor())
            .with_inline_methods(FB303_INLINE)
    }
}

/// The fb303 calls that never block.
const FB303_INLINE: [&str; 12] = [
    "getName",
    "getVersion",
    "getStatus",
    "getStatusDetails",
    "getCounters",
    "getCounter",
    "setOption",
    "getOption",
    "getOptions",
    "aliveSince",
    "reinitialize",
    "shutdown",
];

/// An admin error as the exception a client sees, without losing its
/// connection: the exception kind of its [`AdminErrorKind`], and a message
/// that starts with the kind's name and a colon:
/// ``NOT_FOUND: unknown counter `x` ``.
///
/// fb303's IDL declares no exceptions, so an admin error can only travel
/// as a `TApplicationException`, whose kinds describe failures of the
/// Thrift layer (unknown method, bad sequence id, protocol error, ...);
/// clients act on those (ours drops the connection after some), so an
/// admin error must not wear one. Only `InternalError` means what
/// [`AdminErrorKind::Internal`] means; every caller-side kind is `Unknown`,
/// Thrift's catch-all, and the message's prefix (`NOT_FOUND`,
/// `INVALID_ARGUMENT`, `FAILED_PRECONDITION`, `PERMISSION_DENIED`,
/// `UNAVAILABLE`, `INTERNAL`: [`AdminErrorKind::as_str`]) tells them apart.
fn refused(kind: AdminErrorKind, reason: impl std::fmt::Display) -> thrift::Error {
    thrift::Error::Application(ApplicationError::new(
        exception_kind(kind),
        format!("{kind}: {reason}"),
    ))
}

/// An error of the admin model as an exception (see [`refused`]).
fn failed(error: sparts_core::Error) -> thrift::Error {
    refused(error.admin_kind(), error)
}

/// The exception kind of each kind of admin error; the README's table of
/// admin errors lists it beside the other transports' codes.
fn exception_kind(kind: AdminErrorKind) -> ApplicationErrorKind {
    match kind {
        AdminErrorKind::NotFound
        | AdminErrorKind::InvalidArgument
        | AdminErrorKind::FailedPrecondition
        | AdminErrorKind::PermissionDenied
        | AdminErrorKind::Unavailable => ApplicationErrorKind::Unknown,
        AdminErrorKind::Internal => ApplicationErrorKind::InternalError,
        // The enum is non-exhaustive: a kind core adds later is an internal
        // error until it has its own line here.
        _ => ApplicationErrorKind::InternalError,
    }
}

/// A counter as fb303 sends it: an integer, or nothing when it is not a number.
fn as_i64(value: f64) -> Option<i64> {
    // `as` saturates at the i64 bounds, which is what a counter should do.
    #[allow(clippy::cast_possible_truncation)]
    value.is_finite().then_some(value as i64)
}

impl FacebookServiceSyncHandler for Fb303Handler {
    fn handle_get_name(&self) -> thrift::Result<String> {
        Ok(self.admin.name().to_owned())
    }

    fn handle_get_version(&self) -> thrift::Result<String> {
        Ok(self.admin.version().to_owned())
    }

    fn handle_get_status(&self) -> thrift::Result<FbStatus> {
        Ok(FbStatus(self.admin.status().fb303_value()))
    }

    fn handle_get_status_details(&self) -> thrift::Result<String> {
        Ok(self.admin.status_details())
    }

    fn handle_get_counters(&self) -> thrift::Result<BTreeMap<String, i64>> {
        Ok(self
            .admin
            .counters()
            .iter()
            .filter_map(|c| as_i64(c.value).map(|v| (c.name.clone(), v)))
            .collect())
    }

    fn handle_get_counter(&self, key: String) -> thrift::Result<i64> {
        let value = self.admin.counter(&key).map_err(failed)?;
        // Not a number (a callback's ratio of nothing to nothing): fb303's
        // integers cannot carry it, and the counter may have one later.
        as_i64(value).ok_or_else(|| {
            refused(
                AdminErrorKind::Unavailable,
                format!("counter {key} has no value yet"),
            )
        })
    }

    fn handle_set_option(&self, key: String, value: String) -> thrift::Result<()> {
        self.admin
            .set_option(&current_peer(), &key, &value)
            .map_err(failed)
    }

    fn handle_get_option(&self, key: String) -> thrift::Result<String> {
        Ok(self.admin.option(&key).map_err(failed)?.unwrap_or_default())
    }

    fn handle_get_options(&self) -> thrift::Result<BTreeMap<String, String>> {
        Ok(self
            .admin
            .options()
            .into_iter()
            .map(|(name, value)| (name, value.unwrap_or_default()))
            .collect())
    }

    /// Folded stacks (`thread;outer;...;inner COUNT` per line, the input of
    /// flamegraph.pl and inferno), sampled at 99 Hz.
    fn handle_get_cpu_profile(&self, seconds: i32) -> thrift::Result<String> {
        let seconds = u64::try_from(seconds).map_err(|_| {
            refused(
                AdminErrorKind::InvalidArgument,
                format!("profile duration {seconds} s is negative"),
            )
        })?;
        self.runtime
            .block_on(self.admin.cpu_profile(Duration::from_secs(seconds)))
            .map_err(failed)
    }

    fn handle_alive_since(&self) -> thrift::Result<i64> {
        Ok(self.admin.alive_since())
    }

    fn handle_reinitialize(&self) -> thrift::Result<()> {
        // Oneway: a refusal is logged by the admin model; nobody reads a reply.
        self.admin.reinitialize(&current_peer()).map_err(failed)
    }

    fn handle_shutdown(&self) -> thrift::Result<()> {
        self.admin.shutdown(&current_peer()).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Thrift column of the README's table of admin errors.
    #[test]
    fn every_kind_has_its_exception() {
        let table = [
            (AdminErrorKind::NotFound, ApplicationErrorKind::Unknown),
            (
                AdminErrorKind::InvalidArgument,
                ApplicationErrorKind::Unknown,
            ),
            (
                AdminErrorKind::FailedPrecondition,
                ApplicationErrorKind::Unknown,
            ),
            (
                AdminErrorKind::PermissionDenied,
                ApplicationErrorKind::Unknown,
            ),
            (AdminErrorKind::Unavailable, ApplicationErrorKind::Unknown),
            (
                AdminErrorKind::Internal,
                ApplicationErrorKind::InternalError,
            ),
        ];
        for (kind, exception) in table {
            let thrift::Error::Application(e) = refused(kind, "why") else {
                panic!("{kind}: not an application exception");
            };
            assert_eq!(e.kind, exception, "{kind}");
            assert_eq!(e.message, format!("{}: why", kind.as_str()));
        }
    }
}
