//! Handler tasks: a user's implementation of a generated service, served by
//! the service's [`ThriftServerTask`](crate::ThriftServerTask)s.

use rustc_hash::FxHashSet;
use std::fmt;
use std::sync::Arc;

use sparts_core::{BoxError, IntoTaskSpec, TaskContext, TaskSpec, VTask, short_type_name};
use thrift::server::TProcessor;

/// A generated processor, shared by every connection and worker thread.
pub type Processor = Arc<dyn TProcessor + Send + Sync>;

type Build = Arc<dyn Fn(&TaskContext) -> Processor + Send + Sync>;

/// A task that holds one Thrift service implementation and gives its
/// processor to the server tasks, under a service name for multiplexing.
///
/// Build it from the handler value and the generated processor's `new`;
/// the task is named after the handler type (`FooHandler` below) and, unless
/// [`with_service_name`](Self::with_service_name) says otherwise,
/// multiplexed clients reach it under that name. It has no worker of its
/// own: the server tasks' threads run its code.
///
/// ```
/// use sparts_core::VService;
/// use sparts_thrift::fb303::{FacebookServiceSyncProcessor, FbStatus, FacebookServiceSyncHandler};
/// use sparts_thrift::{ThriftHandlerTask, ThriftServerTask};
/// # use std::collections::BTreeMap;
///
/// #[derive(Clone)]
/// struct AlwaysAlive;
///
/// impl FacebookServiceSyncHandler for AlwaysAlive {
///     fn handle_get_status(&self) -> thrift::Result<FbStatus> {
///         Ok(FbStatus::ALIVE)
///     }
///     // ...
/// #   fn handle_get_name(&self) -> thrift::Result<String> { Ok("x".into()) }
/// #   fn handle_get_version(&self) -> thrift::Result<String> { Ok("".into()) }
/// #   fn handle_get_status_details(&self) -> thrift::Result<String> { Ok("".into()) }
/// #   fn handle_get_counters(&self) -> thrift::Result<BTreeMap<String, i64>> { Ok(BTreeMap::new()) }
/// #   fn handle_get_counter(&self, _: String) -> thrift::Result<i64> { Ok(0) }
/// #   fn handle_set_option(&self, _: String, _: String) -> thrift::Result<()> { Ok(()) }
/// #   fn handle_get_option(&self, _: String) -> thrift::Result<String> { Ok("".into()) }
/// #   fn handle_get_options(&self) -> thrift::Result<BTreeMap<String, String>> { Ok(BTreeMap::new()) }
/// #   fn handle_get_cpu_profile(&self, _: i32) -> thrift::Result<String> { Ok("".into()) }
/// #   fn handle_alive_since(&self) -> thrift::Result<i64> { Ok(0) }
/// #   fn handle_reinitialize(&self) -> thrift::Result<()> { Ok(()) }
/// #   fn handle_shutdown(&self) -> thrift::Result<()> { Ok(()) }
/// }
///
/// let service = VService::new("Status")
///     .with_task(ThriftHandlerTask::new(AlwaysAlive, FacebookServiceSyncProcessor::new))
///     .with_task(ThriftServerTask::new());
/// ```
pub struct ThriftHandlerTask {
    name: String,
    service_name: Option<String>,
    inline: Arc<FxHashSet<String>>,
    build: Build,
    processor: Option<Processor>,
}

impl fmt::Debug for ThriftHandlerTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThriftHandlerTask")
            .field("name", &self.name)
            .field("service_name", &self.service_name())
            .finish_non_exhaustive()
    }
}

impl ThriftHandlerTask {
    /// A task serving `handler` through the processor `processor` makes of it
    /// (the generated `FooServiceSyncProcessor::new`). Named after the
    /// handler's type.
    pub fn new<H, P>(handler: H, processor: fn(H) -> P) -> Self
    where
        H: Clone + Send + Sync + 'static,
        P: TProcessor + Send + Sync + 'static,
    {
        Self::from_fn(short_type_name::<H>(), move |_| processor(handler.clone()))
    }

    /// A task named `name` whose processor `build` makes at each start, with
    /// the task's context at hand (the service handle, counters).
    pub fn from_fn<P, F>(name: impl Into<String>, build: F) -> Self
    where
        P: TProcessor + Send + Sync + 'static,
        F: Fn(&TaskContext) -> P + Send + Sync + 'static,
    {
        Self {
            name: name.into(),
            service_name: None,
            inline: Arc::default(),
            build: Arc::new(move |ctx| Arc::new(build(ctx)) as Processor),
            processor: None,
        }
    }

    /// The name multiplexed clients call it by. Default: the task's name.
    #[must_use]
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Methods (IDL names, `getStatus`) that never block: no I/O, no sleep,
    /// no lock held across either. A server runs them on the connection's
    /// task, where the request was read, instead of handing them to a
    /// worker thread and back: two thread wake-ups less per call, as
    /// fbthrift's `thread='eb'` methods. A listed method that does block
    /// stalls the other connections on its runtime thread meanwhile, so list
    /// only what is cheap. Default: none, every call on a worker thread.
    #[must_use]
    pub fn with_inline_methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inline = Arc::new(methods.into_iter().map(Into::into).collect());
        self
    }

    pub(crate) fn inline_methods(&self) -> Arc<FxHashSet<String>> {
        Arc::clone(&self.inline)
    }

    /// The task's name (logs, counters, `ThriftServerTask::with_handlers`).
    #[must_use]
    pub fn task_name(&self) -> &str {
        &self.name
    }

    /// The name multiplexed clients call it by.
    #[must_use]
    pub fn service_name(&self) -> &str {
        self.service_name.as_deref().unwrap_or(&self.name)
    }

    /// The processor, once the task has started.
    #[must_use]
    pub fn processor(&self) -> Option<Processor> {
        self.processor.clone()
    }

    fn fresh(&self) -> Self {
        Self {
            name: self.name.clone(),
            service_name: self.service_name.clone(),
            inline: Arc::clone(&self.inline),
            build: Arc::clone(&self.build),
            processor: None,
        }
    }
}

impl VTask for ThriftHandlerTask {
    fn workers(&self) -> usize {
        0
    }

    async fn init(&mut self, ctx: &TaskContext) -> Result<(), BoxError> {
        self.name = ctx.name().to_owned();
        self.processor = Some((self.build)(ctx));
        Ok(())
    }

    async fn run(&self, _ctx: TaskContext) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Registered under the handler's own name, so several handlers live side
/// by side (`with_name` renames one).
impl IntoTaskSpec<ThriftHandlerTask> for ThriftHandlerTask {
    fn into_spec(self) -> TaskSpec {
        let name = self.name.clone();
        TaskSpec::from_fn(move || self.fresh()).with_name(name)
    }
}
