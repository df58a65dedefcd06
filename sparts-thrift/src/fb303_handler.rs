//! fb303's `FacebookService`, answered by sparts-core's admin model.

use std::collections::BTreeMap;
use std::time::Duration;

use sparts_core::{Admin, ServiceHandle};
use thrift::{ApplicationError, ApplicationErrorKind};

use crate::current_peer;
use crate::fb303::{FacebookServiceSyncHandler, FacebookServiceSyncProcessor, FbStatus};
use crate::handler::ThriftHandlerTask;

/// The fb303 handler: every call goes to the service's [`Admin`]; the
/// mutating ones carry the caller from [`current_peer`] for the
/// `--admin-trusted` check.
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

/// An application exception carrying `reason`: what a client sees for a bad
/// argument, without losing its connection.
fn refused(reason: impl ToString) -> thrift::Error {
    thrift::Error::Application(ApplicationError::new(
        ApplicationErrorKind::Unknown,
        reason.to_string(),
    ))
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
        let value = self.admin.counter(&key).map_err(refused)?;
        as_i64(value).ok_or_else(|| refused(format!("counter {key} has no value yet")))
    }

    fn handle_set_option(&self, key: String, value: String) -> thrift::Result<()> {
        self.admin
            .set_option(&current_peer(), &key, &value)
            .map_err(refused)
    }

    fn handle_get_option(&self, key: String) -> thrift::Result<String> {
        Ok(self
            .admin
            .option(&key)
            .map_err(refused)?
            .unwrap_or_default())
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
        let seconds = u64::try_from(seconds)
            .map_err(|_| refused(format!("profile duration {seconds} s is negative")))?;
        self.runtime
            .block_on(self.admin.cpu_profile(Duration::from_secs(seconds)))
            .map_err(refused)
    }

    fn handle_alive_since(&self) -> thrift::Result<i64> {
        Ok(self.admin.alive_since())
    }

    fn handle_reinitialize(&self) -> thrift::Result<()> {
        // Oneway: a refusal is logged by the admin model; nobody reads a reply.
        self.admin.reinitialize(&current_peer()).map_err(refused)
    }

    fn handle_shutdown(&self) -> thrift::Result<()> {
        self.admin.shutdown(&current_peer()).map_err(refused)
    }
}
