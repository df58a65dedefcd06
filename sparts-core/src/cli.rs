//! Running a service as a program: the command line, daemon control, the
//! runtime, and the exit code. The only place that decides the exit code.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::daemon::upgrade::{self, Takeover};
use crate::daemon::{
    DaemonStatus, Detached, KillOutcome, Pidfile, daemon_status, detach, kill_daemon,
};
use crate::error::Error;
use crate::listen::UnixSocket;
use crate::logging;
use crate::notify::Notifier;
use crate::options::CliExit;
use crate::service::VService;
use crate::supervise;

/// Exit status for a bad command line, as clap and most tools use.
const USAGE: u8 = 2;

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

impl VService {
    /// Parses the process's arguments, runs until shutdown, and returns the
    /// exit code: 0 after a clean shutdown, 1 when the service could not
    /// start or a task failed, 2 for a bad command line, 128+N after a
    /// second signal N during shutdown.
    pub fn run_from_cli(self) -> ExitCode {
        self.run_from_args(std::env::args_os())
    }

    /// [`run_from_cli`](Self::run_from_cli) with these arguments (the first
    /// is the program name). Builds its own tokio runtime, so it must not be
    /// called from inside one: use [`run_with_args`](Self::run_with_args) there.
    pub fn run_from_args<I, T>(mut self, argv: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            return fail(
                "run_from_cli builds its own runtime; inside a tokio runtime use run_with_args",
            );
        }
        let signals = self.signals.unwrap_or(true);
        let install_logging = self.logging.unwrap_or(true);
        let name = self.name.clone();
        let log_layers = std::mem::take(&mut self.log_layers);
        // Kept for the install actions, which write the command line out.
        let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
        let mut runner = match self.prepare(argv.iter().cloned()) {
            Ok(runner) => runner,
            Err(CliExit::Info(text)) => {
                let _ = std::io::stdout().write_all(text.as_bytes());
                return ExitCode::SUCCESS;
            }
            Err(CliExit::Usage(reason)) => {
                eprintln!("error: {reason} (see --help)");
                return ExitCode::from(USAGE);
            }
        };
        runner.signals = signals;
        let options = runner.handle.service_options();

        if options.tasks.as_ref().is_some_and(Vec::is_empty) {
            eprintln!("Available tasks: {}", runner.task_list());
            return ExitCode::FAILURE;
        }
        let pidfile_path = options
            .pidfile
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("/var/run/{name}.pid")));
        if options.status {
            return match daemon_status(&pidfile_path) {
                Ok(DaemonStatus::Running(pid)) => {
                    eprintln!("{name} is running (pid {pid})");
                    ExitCode::SUCCESS
                }
                Ok(DaemonStatus::NotRunning) => {
                    eprintln!("{name} is not running");
                    ExitCode::FAILURE
                }
                Err(e) => fail(e),
            };
        }
        if options.kill {
            return match kill_daemon(&pidfile_path, options.shutdown_timeout) {
                Ok(KillOutcome::Stopped(pid)) => {
                    eprintln!("{name} (pid {pid}) stopped");
                    ExitCode::SUCCESS
                }
                Ok(KillOutcome::NotRunning) => {
                    eprintln!("{name} is not running");
                    ExitCode::FAILURE
                }
                Err(e) => fail(e),
            };
        }
        if supervise::is_requested(&options) {
            return match supervise::run(&name, &argv, &options) {
                Ok(text) => {
                    let _ = std::io::stdout().write_all(text.as_bytes());
                    ExitCode::SUCCESS
                }
                Err(Error::Usage(reason)) => {
                    eprintln!("error: {reason} (see --help)");
                    ExitCode::from(USAGE)
                }
                Err(e) => fail(e),
            };
        }

        // Checked before detaching, so a bad value is refused in the
        // foreground, as a bad option is.
        #[cfg(feature = "otel")]
        let otel = if install_logging {
            let version = runner.handle.version();
            let env = |name: &str| std::env::var(name).ok();
            match crate::otel::Config::resolve(&options.otel, &name, version, env) {
                Ok(config) => config,
                Err(reason) => {
                    eprintln!("error: {reason}");
                    return ExitCode::from(USAGE);
                }
            }
        } else {
            None
        };

        // The sockets systemd passed, read before anything binds or forks:
        // a bad LISTEN_FDS is refused in the foreground, and the daemon
        // (another pid) keeps what its parent was given.
        // SAFETY: no runtime or other thread exists yet in this process;
        // the environment variables it read are removed, which is only
        // sound while single-threaded.
        if let Err(e) = unsafe { crate::listen::activation::take_from_env() } {
            return fail(e);
        }
        // Before anything binds: a new process taking over listens on the
        // running one's sockets, and holds its pidfile's lock with it.
        let mut pidfile = None;
        let mut takeover = None;
        if options.upgrade {
            match take_over(&runner.handle, &pidfile_path) {
                Ok((t, p)) => {
                    takeover = Some(t);
                    pidfile = p;
                }
                Err(e) => return fail(e),
            }
        }
        // The lock is taken before detaching so a second instance is refused
        // in the foreground, where its user sees why.
        if takeover.is_none() && (options.daemon || options.pidfile.is_some()) {
            match Pidfile::acquire(&pidfile_path) {
                Ok(p) => pidfile = Some(p),
                Err(e) => return fail(e),
            }
        }
        // The daemon runs in `/`: a relative log file must be resolved first.
        let logfile = match options
            .logfile
            .as_deref()
            .map(std::path::absolute)
            .transpose()
        {
            Ok(path) => path,
            Err(e) => return fail(format!("--logfile: {e}")),
        };
        let mut ready_pipe = None;
        if options.daemon {
            if options.logfile.is_none() {
                eprintln!("warning: --daemon without --logfile: the service's logs are discarded");
            }
            // SAFETY: no runtime or other thread exists yet in this process;
            // `detach` forks, which is only sound while single-threaded.
            match unsafe { detach() } {
                Ok(Detached::Parent(Ok(()))) => return ExitCode::SUCCESS,
                Ok(Detached::Parent(Err(reason))) => return fail(reason),
                Ok(Detached::Child(pipe)) => ready_pipe = Some(pipe),
                Err(e) => return fail(e),
            }
        }
        // A new process taking over writes its pid once the old one let go.
        if let Some(p) = &mut pidfile
            && takeover.is_none()
            && let Err(e) = p.write_pid(std::process::id())
        {
            return fail(e);
        }
        // Before the logger: OpenTelemetry's exporter runs on it.
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return fail(format!("cannot build the tokio runtime: {e}")),
        };
        // Its layer filters for itself, as one given to
        // `with_filtered_log_layer` does: `--level` applies to the log
        // output only, and `--level warn` does not switch traces off.
        #[cfg(feature = "otel")]
        let mut log_layers = log_layers;
        #[cfg(feature = "otel")]
        let otel = match otel.map(|c| crate::otel::Pipeline::start(&c, runtime.handle())) {
            Some(Ok((pipeline, layer))) => {
                log_layers.push(layer);
                Some(pipeline)
            }
            Some(Err(reason)) => {
                if let Some(pipe) = ready_pipe.take() {
                    pipe.fail(&reason);
                }
                return fail(reason);
            }
            None => None,
        };
        if install_logging {
            let config = logging::LogConfig {
                filter: &options.level,
                format: options.log_format,
                logfile: logfile.as_deref(),
            };
            match logging::install(&config, log_layers) {
                Ok(control) => runner.logging = control,
                Err(e) => {
                    if let Some(pipe) = ready_pipe.take() {
                        pipe.fail(&e.to_string());
                    }
                    return fail(e);
                }
            }
        }
        // A server's connections are files: the soft limit is raised at
        // start, for the process, where `run_from_cli` owns it.
        crate::limits::log(&crate::limits::raise_open_files());
        let logged = runner.logging.is_some();
        // Requests get spans only once the layer that takes them is in
        // the installed subscriber.
        #[cfg(feature = "otel")]
        let otel = otel
            .filter(|_| logged)
            .inspect(crate::otel::Pipeline::enable);
        // After detaching: the watchdog is meant for the daemon's pid.
        let _ = runner.handle.shared.notifier.set(Notifier::from_env());
        #[cfg(feature = "otel")]
        let handle = runner.handle.clone();
        let service_handle = runner.handle.clone();
        let handed_over = Arc::new(AtomicBool::new(false));
        let pidfile_ref = &mut pidfile;
        let handed = Arc::clone(&handed_over);
        let result = runtime.block_on(async move {
            // Bound before the tasks start, so that a process started with
            // `--upgrade` as soon as this one logs its start finds it (and
            // waits in its backlog); a process taking over binds it once
            // the old one let go of it.
            let mut upgrades = match (&takeover, pidfile_ref.as_ref()) {
                (None, Some(p)) => upgrade_socket(p),
                _ => None,
            };
            let (tx, rx) = oneshot::channel();
            let service = tokio::spawn(runner.run(Some(tx)));
            let started = rx.await;
            if matches!(started, Ok(Ok(()))) {
                if let Some(t) = takeover.take() {
                    upgrades = took_over(t, pidfile_ref.as_mut()).await;
                }
                if let (Some(socket), Some(p)) = (upgrades.take(), pidfile_ref.as_ref()) {
                    serve_upgrades(&service_handle, p, socket, handed);
                }
            }
            if let Some(pipe) = ready_pipe.take() {
                match started {
                    Ok(Ok(())) => pipe.ready(),
                    Ok(Err(reason)) => pipe.fail(&reason),
                    Err(_) => pipe.fail("the service ended before it started"),
                }
            }
            match service.await {
                Ok(result) => result,
                Err(e) => Err(Error::Aborted(e.to_string())),
            }
        });
        // Spans still queued go out within what is left of the budget,
        // while the runtime they are sent on still runs.
        #[cfg(feature = "otel")]
        if let Some(pipeline) = otel {
            pipeline.shutdown(budget_left(&handle));
        }
        // Blocking threads that overran the shutdown timeout are left behind.
        runtime.shutdown_timeout(Duration::from_millis(100));

        // Handed over, the pidfile (and its lock) is the new process's.
        if handed_over.load(Ordering::SeqCst) {
            drop(pidfile.take());
        }
        match result {
            Ok(()) => {
                if let Some(Err(e)) = pidfile.map(crate::daemon::Pidfile::release) {
                    eprintln!("warning: could not remove the pidfile: {e}");
                }
                ExitCode::SUCCESS
            }
            Err(Error::Interrupted(signo)) => {
                ExitCode::from(u8::try_from(128 + signo).unwrap_or(u8::MAX))
            }
            Err(e) => {
                if !logged {
                    eprintln!("error: {e}");
                }
                ExitCode::FAILURE
            }
        }
    }
}

/// `--upgrade`: takes the listening sockets and the pidfile of the process
/// running with `pidfile_path`, the sockets for `handle`'s tasks to listen
/// on.
fn take_over(
    handle: &crate::ServiceHandle,
    pidfile_path: &Path,
) -> Result<(Takeover, Option<Pidfile>), Error> {
    let (takeover, handed) = upgrade::take_over(pidfile_path)?;
    let mut kept = crate::handle::lock(&handle.shared.kept);
    for (prefix, key, fd) in handed.sockets {
        kept.adopt(&prefix, &key, fd).map_err(|reason| {
            Error::Daemon(format!(
                "--upgrade: the socket handed over for `{prefix}` ({key}) {reason}"
            ))
        })?;
    }
    let pidfile = handed
        .pidfile
        .map(|fd| Pidfile::adopt(pidfile_path, fd))
        .transpose()?;
    Ok((takeover, pidfile))
}

/// Every task started on the sockets taken over: tells the old process,
/// which lets go and drains, then writes this process's pid and binds the
/// upgrade socket in turn.
async fn took_over(takeover: Takeover, pidfile: Option<&mut Pidfile>) -> Option<UnixSocket> {
    let confirmed = match tokio::task::spawn_blocking(move || takeover.ready()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!("{e}");
            false
        }
        Err(e) => {
            tracing::warn!("--upgrade: {e}");
            false
        }
    };
    let pidfile = pidfile?;
    if let Err(e) = pidfile.write_pid(std::process::id()) {
        tracing::warn!("{e}");
    }
    let socket = upgrade_socket(pidfile);
    if confirmed {
        tracing::info!("Upgrade: took over; the old process drains and exits");
    }
    socket
}

/// The upgrade socket of `pidfile`, or `None` (logged) when it cannot be
/// made: the service runs on, without upgrades.
fn upgrade_socket(pidfile: &Pidfile) -> Option<UnixSocket> {
    upgrade::listen(pidfile.path())
        .inspect_err(|e| tracing::warn!("no upgrades: {e}"))
        .ok()
}

/// Serves upgrades on `socket` beside the service; `handed_over` is set
/// once a process took over.
fn serve_upgrades(
    handle: &crate::ServiceHandle,
    pidfile: &Pidfile,
    socket: UnixSocket,
    handed_over: Arc<AtomicBool>,
) {
    let fd = match pidfile.duplicate() {
        Ok(fd) => fd,
        Err(e) => {
            tracing::warn!("no upgrades: {e}");
            return;
        }
    };
    tokio::spawn(upgrade::serve(
        socket,
        handle.clone(),
        Some(fd),
        handed_over,
    ));
}

/// What is left of `--shutdown-timeout`, counted from the moment the
/// shutdown began (or from now, if it never did).
#[cfg(feature = "otel")]
fn budget_left(handle: &crate::ServiceHandle) -> Duration {
    use tokio::time::Instant;
    let began = handle.shutdown_began().unwrap_or_else(Instant::now);
    let deadline = began + handle.service_options().shutdown_timeout;
    deadline.saturating_duration_since(Instant::now())
}
