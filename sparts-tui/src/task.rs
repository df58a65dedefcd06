//! [`TuiTask`]: a full-screen terminal application as a task of a service.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use sparts_core::logging::ConsoleCapture;
use sparts_core::{BoxError, SkipTask, TaskContext, VTask, clap};

use crate::app::TuiApp;
use crate::drive::{Ended, run_full_screen};
use crate::error::Error;
use crate::terminal::missing_terminal;

/// The options of a [`TuiTask`] (`--tui-…` by default).
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct TuiOptions {
    /// Seconds between refreshes of the screen (fractional); read when the UI starts.
    #[arg(long, default_value = "0.25", value_parser = sparts_core::options::parse_interval, value_name = "SECONDS")]
    pub refresh: Duration,

    /// Shut the service down when the UI is closed (the original's SHUTDOWN_ON_FORM_CLOSE).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub shutdown_on_close: bool,
}

type MakeApp = dyn Fn(&TaskContext<TuiOptions>) -> Box<dyn TuiApp> + Send + Sync;

/// A task that runs a terminal application ([`TuiApp`]) full-screen.
///
/// It owns the terminal while it runs: raw mode and the alternate screen,
/// given back on every way out (the user closing it, an error, a panic,
/// SIGINT or SIGTERM, a shutdown asked by another task or an admin call).
/// The service's log stays off the screen meanwhile (see
/// [`ConsoleCapture`]): a `--logfile` keeps it, and lines meant for stderr
/// are held and printed once the terminal is back.
///
/// Closing the UI (`q`, Esc, Ctrl-C by default) shuts the service down;
/// `--tui-shutdown-on-close false`, or
/// `.with_default("shutdown_on_close", "false")` where it is registered,
/// leaves the service running without it.
///
/// Without a terminal (stdin or stdout not a tty, `--daemon`) the service
/// does not start, with an error naming the task; a task made
/// [`optional`](Self::optional) removes itself instead.
///
/// The app is made anew at every (re)start, by the function given to
/// [`new`](Self::new), which gets the task's context (the service's
/// counters, options and handle).
#[derive(Clone)]
pub struct TuiTask {
    make: Arc<MakeApp>,
    optional: bool,
}

impl std::fmt::Debug for TuiTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TuiTask")
            .field("optional", &self.optional)
            .finish_non_exhaustive()
    }
}

impl TuiTask {
    /// A task that runs the app `make` builds.
    pub fn new<A, F>(make: F) -> Self
    where
        A: TuiApp,
        F: Fn(&TaskContext<TuiOptions>) -> A + Send + Sync + 'static,
    {
        Self {
            make: Arc::new(move |ctx| Box::new(make(ctx))),
            optional: false,
        }
    }

    /// The built-in dashboard of this service: status, tasks, counters
    /// with sparklines, options (editable), exported values and the recent
    /// log lines. Registered as `Dashboard`.
    pub fn dashboard() -> sparts_core::TaskSpec {
        use sparts_core::IntoTaskSpec;
        Self::new(|ctx| crate::Dashboard::local(ctx.service().admin())).with_name("Dashboard")
    }

    /// Without a terminal, the task removes itself from the run (logged)
    /// rather than stopping the service from starting. Default: required.
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

impl VTask<TuiOptions> for TuiTask {
    fn default_prefix() -> Cow<'static, str> {
        "tui".into()
    }

    async fn init(&mut self, ctx: &TaskContext<TuiOptions>) -> Result<(), BoxError> {
        let missing = if ctx.service().service_options().daemon {
            Some("--daemon detaches the service from its terminal")
        } else {
            missing_terminal()
        };
        match missing {
            None => Ok(()),
            Some(reason) if self.optional => Err(SkipTask(format!("no terminal: {reason}")).into()),
            Some(reason) => Err(Error::NoTerminal {
                task: ctx.name().to_owned(),
                reason,
            }
            .into()),
        }
    }

    async fn run(&self, ctx: TaskContext<TuiOptions>) -> Result<(), BoxError> {
        let mut app = (self.make)(&ctx);
        let options = ctx.options();
        // Declared first so it ends last: the terminal is back before the
        // held log lines are written to it.
        let capture = ConsoleCapture::start();
        let ended = run_full_screen(&mut *app, options.refresh, ctx.stopped()).await;
        drop(capture);
        if ended? == Ended::Closed {
            if options.shutdown_on_close {
                tracing::info!("the UI was closed: shutting the service down");
                ctx.service().request_shutdown();
            } else {
                tracing::info!("the UI was closed; the service runs on");
            }
        }
        Ok(())
    }
}
