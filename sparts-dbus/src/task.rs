//! The D-Bus task: connects, exports and takes the name in `init`; watches
//! the status and the name in `run`.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use sparts_core::{BoxError, SkipTask, Status, TaskContext, VTask, WarningId};
use zbus::Connection;
use zbus::connection::Builder;
use zbus::fdo::{DBusProxy, NameAcquiredStream, NameLostStream};
use zbus::names::WellKnownName;
use zbus::object_server::{Interface, InterfaceRef};
use zbus::zvariant::ObjectPath;

use crate::builtins::{self, sparts_object_path};
use crate::connect::{self, Ownership};
use crate::error::Error;
use crate::options::DBusOptions;
use crate::sparts::SpartsService;

type ServeFn = dyn Fn(Builder<'static>) -> zbus::Result<Builder<'static>> + Send + Sync;

/// How long releasing the name at shutdown may take.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(2);

/// Exports the service on D-Bus, wire-compatible with the original sparts:
/// `/<Service>/sparts` (`org.sparts.Service`) and `/<Service>/fb303`
/// (`com.facebook.fb303.Service`, `org.sparts.FB303Service`), all answered
/// by the service's [admin model](sparts_core::Admin), plus the user's own
/// [`#[zbus::interface]`](zbus::interface) objects on the same connection.
///
/// Options, under the prefix `dbus` (see [`DBusOptions`]): `--dbus-bus-name
/// NAME` (required), `--dbus-replace`, `--dbus-queue`, `--dbus-system-bus`,
/// `--dbus-address ADDRESS`.
///
/// The connection is made and the name taken in `init`: no bus, a name
/// taken by another connection or refused by the bus's policy stops the
/// start with an [`Error`] naming the bus's own error
/// (`org.freedesktop.DBus.Error.AccessDenied`, ...). Losing the name later
/// (to a `--dbus-replace` newcomer) is logged and registers a service
/// warning, cleared if the name comes back. Waiting in line
/// (`--dbus-queue`) is a warning too, until the name is ours.
///
/// The `Status` property of `org.sparts.Service` signals
/// `PropertiesChanged` when the status changes, up to `STOPPING`.
///
/// Callers on the bus are local, so they are trusted like unix socket peers
/// ([`Peer::Unix`](sparts_core::Peer::Unix)): the bus's policy decides who
/// may talk to the service. Options cannot be unset over D-Bus; a missing
/// value reads as `__None__`, as in the original.
///
/// ```no_run
/// use sparts_core::VService;
/// use sparts_dbus::DBusServiceTask;
///
/// #[derive(Clone)]
/// struct Greeter;
///
/// #[zbus::interface(name = "org.example.Greeter")]
/// impl Greeter {
///     fn hello(&self, name: &str) -> String {
///         format!("Hello, {name}!")
///     }
/// }
///
/// fn main() -> std::process::ExitCode {
///     let dbus = DBusServiceTask::new().with_interface("/Greeter", Greeter);
///     VService::new("Greeter").with_task(dbus).run_from_cli()
/// }
/// ```
///
/// Run it with `--dbus-bus-name org.example.Greeter`, then
/// `busctl --user call org.example.Greeter /Greeter org.example.Greeter Hello s you`.
#[derive(Default)]
pub struct DBusServiceTask {
    interfaces: Vec<Arc<ServeFn>>,
    optional: bool,
    running: Option<Running>,
    streams: Mutex<Option<NameStreams>>,
}

/// What `init` set up for one run.
#[derive(Debug, Clone)]
struct Running {
    connection: Connection,
    name: WellKnownName<'static>,
    queued: Option<WarningId>,
}

/// Name signals, subscribed to before asking for the name so none is missed.
struct NameStreams {
    acquired: NameAcquiredStream,
    lost: NameLostStream,
}

impl Clone for DBusServiceTask {
    /// A fresh, unstarted task with the same user interfaces.
    fn clone(&self) -> Self {
        Self {
            interfaces: self.interfaces.clone(),
            optional: self.optional,
            running: None,
            streams: Mutex::new(None),
        }
    }
}

impl fmt::Debug for DBusServiceTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DBusServiceTask")
            .field("interfaces", &self.interfaces.len())
            .field("running", &self.running)
            .finish_non_exhaustive()
    }
}

impl DBusServiceTask {
    /// A task exporting the built-in objects only.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves the task out of the run, with one info line, when the bus
    /// cannot be reached (no session bus, as on a server or in a
    /// container), instead of stopping the service from starting. Other
    /// errors (a bad or taken name) still stop it. Default: required.
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Also serves `iface` at `path` on the task's connection, exported
    /// before the name is taken so that no call finds it missing. The
    /// interface is cloned at each start of the service. Default: none.
    ///
    /// A path that is not a valid object path stops the start with an error.
    /// Through the `sparts` facade, without zbus among your own
    /// dependencies, write `#[sparts::dbus::zbus::interface(name = "..",
    /// crate = "sparts::dbus::zbus")]`.
    #[must_use]
    pub fn with_interface<I>(mut self, path: impl Into<String>, iface: I) -> Self
    where
        I: Interface + Clone,
    {
        let path = path.into();
        self.interfaces.push(Arc::new(move |builder| {
            let path = ObjectPath::try_from(path.clone())?;
            builder.serve_at(path, iface.clone())
        }));
        self
    }

    /// The bus connection, once started: to emit the user's signals or to
    /// call other services.
    pub fn connection(&self) -> Option<&Connection> {
        self.running.as_ref().map(|r| &r.connection)
    }

    /// The well-known name the task asked for, once started.
    pub fn bus_name(&self) -> Option<&str> {
        self.running.as_ref().map(|r| r.name.as_str())
    }

    async fn start(&mut self, ctx: &TaskContext<DBusOptions>) -> Result<(), Error> {
        let opts = ctx.options();
        let raw_name = opts.bus_name.clone().ok_or_else(|| Error::MissingBusName {
            flag: format!("{}-bus-name", ctx.prefix()),
        })?;
        let name =
            WellKnownName::try_from(raw_name.clone()).map_err(|source| Error::InvalidBusName {
                name: raw_name,
                source,
            })?;
        let admin = ctx.service().admin();
        let mut builder =
            builtins::serve(connect::builder(&opts)?, &admin).map_err(|source| Error::Bus {
                action: "exporting the built-in objects".to_owned(),
                source,
            })?;
        for serve in &self.interfaces {
            builder = serve(builder).map_err(|source| Error::Bus {
                action: "exporting the user's objects".to_owned(),
                source,
            })?;
        }
        let connection = connect::build(builder, &opts).await?;
        let streams = subscribe(&connection).await?;
        let ownership =
            connect::request_name(&connection, name.clone(), &opts, ctx.prefix()).await?;
        let queued = (ownership == Ownership::Queued).then(|| {
            tracing::warn!(task = ctx.name(), "waiting in line for the bus name {name}");
            ctx.service()
                .register_warning(format!("waiting in line for the D-Bus name {name}"))
        });
        if ownership == Ownership::Owner {
            tracing::info!(
                task = ctx.name(),
                "{name} on the bus, objects at {}",
                sparts_object_path(admin.name())
            );
        }
        *self.streams.lock().unwrap_or_else(PoisonError::into_inner) = Some(streams);
        self.running = Some(Running {
            connection,
            name,
            queued,
        });
        Ok(())
    }
}

async fn subscribe(connection: &Connection) -> Result<NameStreams, Error> {
    let subscribe = async {
        let proxy = DBusProxy::new(connection).await?;
        Ok(NameStreams {
            acquired: proxy.receive_name_acquired().await?,
            lost: proxy.receive_name_lost().await?,
        })
    };
    subscribe.await.map_err(|source| Error::Bus {
        action: "subscribing to name signals".to_owned(),
        source,
    })
}

impl VTask<DBusOptions> for DBusServiceTask {
    fn default_prefix() -> Cow<'static, str> {
        "dbus".into()
    }

    async fn init(&mut self, ctx: &TaskContext<DBusOptions>) -> Result<(), BoxError> {
        match self.start(ctx).await {
            Err(e @ (Error::Connect { .. } | Error::ConnectTimeout { .. })) if self.optional => {
                Err(SkipTask::new(format!("serving without D-Bus: {e}")).into())
            }
            started => Ok(started?),
        }
    }

    async fn run(&self, ctx: TaskContext<DBusOptions>) -> Result<(), BoxError> {
        let Some(running) = self.running.clone() else {
            return Ok(());
        };
        let streams = self
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(NameStreams {
            mut acquired,
            mut lost,
        }) = streams
        else {
            return Ok(());
        };
        let service = ctx.service();
        let path = sparts_object_path(service.name());
        let iface = running
            .connection
            .object_server()
            .interface::<_, SpartsService>(path.as_str())
            .await?;
        let mut status = service.watch_status();
        let mut announced = *status.borrow_and_update();
        let mut warning = running.queued;
        loop {
            tokio::select! {
                () = ctx.stopped() => break,
                changed = status.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let now = *status.borrow_and_update();
                    announce(&iface, &mut announced, now).await;
                }
                Some(signal) = lost.next() => {
                    if signal.args().is_ok_and(|a| a.name == running.name) {
                        tracing::warn!(task = ctx.name(), "lost the bus name {} to another connection", running.name);
                        if warning.is_none() {
                            warning = Some(service.register_warning(format!("lost the D-Bus name {}", running.name)));
                        }
                    }
                }
                Some(signal) = acquired.next() => {
                    if signal.args().is_ok_and(|a| a.name == running.name) {
                        tracing::info!(task = ctx.name(), "{} acquired on the bus", running.name);
                        if let Some(id) = warning.take() {
                            service.clear_warning(id);
                        }
                    }
                }
            }
        }
        // The status turns STOPPING as the stop begins; say so before leaving.
        let now = service.status();
        announce(&iface, &mut announced, now).await;
        // Releasing at once hands the name to whoever waits in line.
        let _ = tokio::time::timeout(
            RELEASE_TIMEOUT,
            running.connection.release_name(running.name.clone()),
        )
        .await;
        Ok(())
    }
}

/// Emits `PropertiesChanged` for `Status` if it differs from what was last said.
async fn announce(iface: &InterfaceRef<SpartsService>, announced: &mut Status, now: Status) {
    if now == *announced {
        return;
    }
    *announced = now;
    let emitter = iface.signal_emitter();
    if let Err(err) = iface.get().await.status_changed(emitter).await {
        tracing::warn!("cannot signal the status change on D-Bus: {err}");
    }
}
