//! The service lifecycle, in process: order, dependencies, skips, init
//! errors, reverse stop, shutdown timeout, failures, restart and status.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sparts_core::{
    BoxError, Error, SkipTask, Status, TaskContext, TaskFailurePolicy, TaskSpec, VService, VTask,
    task::Dependencies,
};

/// A shared record of what happened, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, event: impl Into<String>) {
        self.0.lock().expect("log lock").push(event.into());
    }
    fn events(&self) -> Vec<String> {
        self.0.lock().expect("log lock").clone()
    }
}

/// What a recording task does in each hook.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Behaviour {
    /// Runs until stopped.
    Serve,
    /// Skips itself in init.
    Skip,
    /// Fails in init.
    FailInit,
    /// Returns an error from run.
    FailRun,
    /// Panics in run.
    Panic,
    /// Ignores its token.
    Stuck,
    /// Returns Ok at once.
    Finish,
}

#[derive(Clone)]
struct Recorder {
    log: Log,
    behaviour: Behaviour,
    workers: usize,
}

impl Recorder {
    fn new(log: &Log, behaviour: Behaviour) -> Self {
        Self {
            log: log.clone(),
            behaviour,
            workers: 1,
        }
    }

    fn spec(log: &Log, name: &str, behaviour: Behaviour) -> TaskSpec {
        TaskSpec::new(Self::new(log, behaviour)).with_name(name)
    }
}

impl VTask for Recorder {
    fn workers(&self) -> usize {
        self.workers
    }

    async fn init(&mut self, ctx: &TaskContext) -> Result<(), BoxError> {
        self.log.push(format!(
            "init {} ({})",
            ctx.name(),
            ctx.service().status().as_str()
        ));
        match self.behaviour {
            Behaviour::Skip => Err(SkipTask::new("not needed here").into()),
            Behaviour::FailInit => Err(format!("{} cannot start", ctx.name()).into()),
            _ => Ok(()),
        }
    }

    async fn run(&self, ctx: TaskContext) -> Result<(), BoxError> {
        self.log.push(format!("run {}", ctx.worker_name()));
        match self.behaviour {
            Behaviour::FailRun => Err("the disk is gone".into()),
            Behaviour::Panic => panic!("invariant broken"),
            Behaviour::Finish => Ok(()),
            Behaviour::Stuck => {
                let _guard = DropFlag(self.log.clone(), ctx.worker_name().to_owned());
                loop {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            }
            _ => {
                ctx.stopped().await;
                Ok(())
            }
        }
    }

    async fn stop(&self, ctx: &TaskContext) {
        self.log.push(format!(
            "stop {} ({})",
            ctx.name(),
            ctx.service().status().as_str()
        ));
    }
}

/// Records that a future was dropped (aborted).
struct DropFlag(Log, String);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.push(format!("dropped {}", self.1));
    }
}

/// A dependency built by `Default`.
#[derive(Clone, Default)]
struct Database;

impl VTask for Database {
    async fn run(&self, ctx: TaskContext) -> Result<(), BoxError> {
        ctx.stopped().await;
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Cache;

impl VTask for Cache {
    fn dependencies(deps: &mut Dependencies) {
        deps.add(Database);
    }

    async fn init(&mut self, ctx: &TaskContext) -> Result<(), BoxError> {
        // Dependencies are initialized first and can be found.
        ctx.service().require::<Database>()?;
        Ok(())
    }

    async fn run(&self, ctx: TaskContext) -> Result<(), BoxError> {
        ctx.stopped().await;
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Api;

impl VTask for Api {
    fn dependencies(deps: &mut Dependencies) {
        deps.add(Cache).add(Database);
    }

    async fn run(&self, ctx: TaskContext) -> Result<(), BoxError> {
        ctx.stopped().await;
        Ok(())
    }
}

#[tokio::test]
async fn lifecycle_runs_in_order_and_stops_in_reverse() -> Result<(), Error> {
    let log = Log::default();
    let hook_log = log.clone();
    let running = VService::new("Order")
        .on_init(move |s| {
            hook_log.push(format!("service init ({})", s.status().as_str()));
            Ok(())
        })
        .with_task(Recorder::spec(&log, "First", Behaviour::Serve))
        .with_task(Recorder::spec(&log, "Second", Behaviour::Serve))
        .start_with_args(["order"])
        .await?;
    let handle = running.handle().clone();
    assert_eq!(handle.status(), Status::Alive);
    assert_eq!(handle.task_names(), ["First", "Second"]);
    running.shutdown().await?;
    assert_eq!(handle.status(), Status::Stopped);
    let events = log.events();
    assert_eq!(
        &events[..3],
        [
            "service init (STARTING)",
            "init First (STARTING)",
            "init Second (STARTING)"
        ]
    );
    let mut runs = events[3..5].to_vec();
    runs.sort();
    assert_eq!(runs, ["run First", "run Second"]);
    assert_eq!(
        &events[5..],
        ["stop Second (STOPPING)", "stop First (STOPPING)"],
        "tasks stop in reverse order, with the status STOPPING"
    );
    Ok(())
}

#[tokio::test]
async fn dependencies_come_first_once_each() -> Result<(), Error> {
    let running = VService::new("Deps")
        .with_task(Api)
        .start_with_args(["deps"])
        .await?;
    assert_eq!(running.handle().task_names(), ["Database", "Cache", "Api"]);
    assert!(running.handle().get::<Cache>().is_some());
    assert!(running.handle().get_named::<Cache>("Nope").is_none());
    assert!(matches!(
        running.handle().require::<Recorder>(),
        Err(Error::TaskNotFound(name)) if name == "Recorder"
    ));
    running.shutdown().await
}

#[tokio::test]
async fn tasks_option_runs_only_the_named_tasks_and_their_dependencies() -> Result<(), Error> {
    let log = Log::default();
    let service = || {
        VService::new("Pick")
            .with_task(Api)
            .with_task(Recorder::spec(&log, "Other", Behaviour::Serve))
    };
    let running = service()
        .start_with_args(["pick", "--tasks", "Cache"])
        .await?;
    assert_eq!(running.handle().task_names(), ["Database", "Cache"]);
    running.shutdown().await?;
    let err = service()
        .start_with_args(["pick", "--tasks", "Nope"])
        .await
        .expect_err("unknown task");
    assert!(
        err.to_string().contains("unknown task `Nope`") && err.to_string().contains("Other"),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn a_skipped_task_is_removed() -> Result<(), Error> {
    let log = Log::default();
    let running = VService::new("Skip")
        .with_task(Recorder::spec(&log, "Optional", Behaviour::Skip))
        .with_task(Recorder::spec(&log, "Main", Behaviour::Serve))
        .start_with_args(["skip"])
        .await?;
    assert_eq!(running.handle().task_names(), ["Main"]);
    assert_eq!(running.handle().status(), Status::Alive);
    running.shutdown().await?;
    assert!(!log.events().iter().any(|e| e == "run Optional"));
    Ok(())
}

#[tokio::test]
async fn init_errors_are_all_collected_and_the_service_does_not_start() {
    let log = Log::default();
    let err = VService::new("Broken")
        .with_task(Recorder::spec(&log, "A", Behaviour::FailInit))
        .with_task(Recorder::spec(&log, "B", Behaviour::Serve))
        .with_task(Recorder::spec(&log, "C", Behaviour::FailInit))
        .start_with_args(["broken"])
        .await
        .expect_err("two tasks fail");
    match &err {
        Error::StartFailed(failures) => {
            let names: Vec<_> = failures.iter().map(|f| f.task.as_str()).collect();
            assert_eq!(names, ["A", "C"]);
        }
        other => panic!("expected StartFailed, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with("Unable to start service (2 task start errors)"),
        "{text}"
    );
    assert!(
        text.contains("A cannot start") && text.contains("C cannot start"),
        "{text}"
    );
    let events = log.events();
    assert!(
        events.contains(&"init C (STARTING)".to_owned()),
        "every task was tried"
    );
    assert!(!events.iter().any(|e| e.starts_with("run")), "nothing ran");
}

#[tokio::test(start_paused = true)]
async fn shutdown_timeout_aborts_a_stuck_task() -> Result<(), Error> {
    let log = Log::default();
    let running = VService::new("Stuck")
        .with_task(Recorder::spec(&log, "Polite", Behaviour::Serve))
        .with_task(Recorder::spec(&log, "Stubborn", Behaviour::Stuck))
        .start_with_args(["stuck", "--shutdown-timeout", "2.5"])
        .await?;
    tokio::task::yield_now().await;
    let started = tokio::time::Instant::now();
    running.shutdown().await?;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(2500) && waited < Duration::from_secs(4),
        "waited {waited:?}"
    );
    let events = log.events();
    assert!(
        events.contains(&"dropped Stubborn".to_owned()),
        "{events:?}"
    );
    assert!(
        events.contains(&"stop Polite (STOPPING)".to_owned()),
        "{events:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_task_error_shuts_the_service_down_with_its_name() {
    let log = Log::default();
    let running = VService::new("Failing")
        .with_task(Recorder::spec(&log, "Healthy", Behaviour::Serve))
        .with_task(Recorder::spec(&log, "Faulty", Behaviour::FailRun))
        .start_with_args(["failing"])
        .await
        .expect("starts");
    let handle = running.handle().clone();
    let err = tokio::time::timeout(Duration::from_secs(10), running.wait())
        .await
        .expect("the service stops by itself")
        .expect_err("a task failed");
    assert!(
        matches!(&err, Error::TaskFailed(f) if f.task == "Faulty" && f.error.to_string() == "the disk is gone"),
        "{err:?}"
    );
    assert_eq!(handle.status(), Status::Dead);
    assert!(
        handle
            .status_details()
            .contains("task Faulty died: the disk is gone")
    );
    assert!(log.events().contains(&"stop Healthy (STOPPING)".to_owned()));
}

#[tokio::test]
async fn a_panic_shuts_the_service_down() {
    let log = Log::default();
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        VService::new("Panicky")
            .with_task(Recorder::spec(&log, "Boom", Behaviour::Panic))
            .run_with_args(["panicky"]),
    )
    .await
    .expect("the service stops by itself")
    .expect_err("a task panicked");
    assert!(
        matches!(&err, Error::TaskFailed(f) if f.task == "Boom" && f.error.to_string().contains("panicked: invariant broken")),
        "{err:?}"
    );
}

#[test]
fn failures_give_a_non_zero_exit_code() {
    let log = Log::default();
    let code = VService::new("Exit")
        .with_task(Recorder::spec(&log, "Boom", Behaviour::Panic))
        .with_logging(false)
        .with_signals(false)
        .run_from_args(["exit"]);
    assert_eq!(code, std::process::ExitCode::FAILURE);
    let code = VService::new("Exit")
        .with_task(Recorder::spec(&log, "Bad", Behaviour::FailInit))
        .with_logging(false)
        .with_signals(false)
        .run_from_args(["exit"]);
    assert_eq!(code, std::process::ExitCode::FAILURE);
    let code = VService::new("Exit").with_logging(false).run_from_args([
        "exit",
        "--shutdown-timeout",
        "soon",
    ]);
    assert_eq!(code, std::process::ExitCode::from(2), "bad command line");
    let code = VService::new("Exit")
        .with_logging(false)
        .run_from_args(["exit", "--kill", "--daemon"]);
    assert_eq!(code, std::process::ExitCode::from(2), "conflicting options");
}

#[tokio::test]
async fn the_warn_policy_keeps_running_with_status_warning() -> Result<(), Error> {
    let log = Log::default();
    let running = VService::new("Tolerant")
        .on_task_failure(TaskFailurePolicy::Warn)
        .with_task(Recorder::spec(&log, "Healthy", Behaviour::Serve))
        .with_task(Recorder::spec(&log, "Faulty", Behaviour::FailRun))
        .start_with_args(["tolerant"])
        .await?;
    let mut status = running.handle().watch_status();
    tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| *s == Status::Warning),
    )
    .await
    .expect("status turns WARNING")
    .expect("status channel open");
    assert_eq!(
        running.handle().status_details(),
        "task Faulty died: the disk is gone"
    );
    running.shutdown().await
}

#[tokio::test]
async fn when_every_worker_finishes_the_service_stops_cleanly() -> Result<(), Error> {
    let log = Log::default();
    tokio::time::timeout(
        Duration::from_secs(10),
        VService::new("Batch")
            .with_task(Recorder::spec(&log, "Job", Behaviour::Finish))
            .run_with_args(["batch"]),
    )
    .await
    .expect("stops by itself")
}

#[tokio::test]
async fn workers_are_named_after_their_task() -> Result<(), Error> {
    let log = Log::default();
    let mut task = Recorder::new(&log, Behaviour::Serve);
    task.workers = 3;
    let running = VService::new("Pool")
        .with_task(TaskSpec::new(task).with_name("Pool"))
        .start_with_args(["pool"])
        .await?;
    running.shutdown().await?;
    let mut runs: Vec<_> = log
        .events()
        .into_iter()
        .filter(|e| e.starts_with("run"))
        .collect();
    runs.sort();
    assert_eq!(runs, ["run Pool-0", "run Pool-1", "run Pool-2"]);
    Ok(())
}

#[tokio::test]
async fn restart_rebuilds_every_task_in_process() -> Result<(), Error> {
    let log = Log::default();
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let running = VService::new("Again")
        .with_task(Recorder::spec(&log, "Worker", Behaviour::Serve))
        .on_started(move |s| {
            let _ = started_tx.send(s.status());
        })
        .start_with_args(["again"])
        .await?;
    assert_eq!(started.recv().await, Some(Status::Alive));
    running.handle().request_restart();
    let again = tokio::time::timeout(Duration::from_secs(10), started.recv()).await;
    assert_eq!(again.expect("restarts"), Some(Status::Alive));
    running.shutdown().await?;
    let inits = log
        .events()
        .iter()
        .filter(|e| e.starts_with("init"))
        .count();
    let stops = log
        .events()
        .iter()
        .filter(|e| e.starts_with("stop"))
        .count();
    assert_eq!((inits, stops), (2, 2), "{:?}", log.events());
    Ok(())
}

#[tokio::test]
async fn warnings_exported_values_and_status_rules() -> Result<(), Error> {
    let running = VService::new("Status")
        .with_version("1.2.3")
        .start_with_args(["status"])
        .await?;
    let h = running.handle().clone();
    assert_eq!((h.name(), h.version()), ("Status", Some("1.2.3")));
    assert_eq!(h.status(), Status::Alive);
    let disk = h.register_warning("disk 95% full");
    let net = h.register_warning("upstream slow");
    assert_eq!(h.status(), Status::Warning);
    assert_eq!(h.status_details(), "disk 95% full\nupstream slow");
    assert!(h.clear_warning(disk));
    assert!(!h.clear_warning(disk));
    assert_eq!(h.status_details(), "upstream slow");
    h.clear_warnings();
    assert!(!h.clear_warning(net));
    assert_eq!(h.status(), Status::Alive);

    h.set_exported("build.rev", Some("abc123"));
    h.set_exported("build.host", Some("h1"));
    assert_eq!(h.exported("build.rev"), "abc123");
    assert_eq!(h.exported("nope"), "");
    assert_eq!(h.exported_matching("^build")?.len(), 2);
    assert!(h.exported_matching("(").is_err());
    h.set_exported("build.host", None);
    assert_eq!(
        h.exported_selected(["build.rev", "build.host"]),
        [
            ("build.host".to_owned(), String::new()),
            ("build.rev".to_owned(), "abc123".to_owned())
        ]
        .into_iter()
        .collect()
    );
    assert!(h.alive_since() > 1_700_000_000);
    h.request_shutdown();
    assert_eq!(
        h.status(),
        Status::Stopping,
        "STOPPING from the moment it is asked"
    );
    running.wait().await?;
    assert_eq!(h.status(), Status::Stopped);
    Ok(())
}

/// A task whose loop belongs to a blocking library.
#[derive(Clone)]
struct Blocking {
    log: Log,
}

impl VTask for Blocking {
    async fn run(&self, ctx: TaskContext) -> Result<(), BoxError> {
        let log = self.log.clone();
        ctx.run_blocking(move |token| {
            let name = std::thread::current().name().map(str::to_owned);
            log.push(format!("thread {}", name.unwrap_or_default()));
            while !token.is_cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
            log.push("blocking loop saw the stop");
            Ok(())
        })
        .await
    }
}

#[tokio::test]
async fn blocking_tasks_run_on_named_threads_and_stop_on_cancel() -> Result<(), Error> {
    let log = Log::default();
    let running = VService::new("Blocky")
        .with_task(TaskSpec::new(Blocking { log: log.clone() }).with_name("Legacy"))
        .start_with_args(["blocky"])
        .await?;
    tokio::time::timeout(Duration::from_secs(10), async {
        while log.events().is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the thread starts");
    running.shutdown().await?;
    assert_eq!(
        log.events(),
        ["thread Legacy", "blocking loop saw the stop"]
    );
    Ok(())
}

#[tokio::test]
async fn a_panic_in_a_blocking_thread_is_a_task_failure() {
    #[derive(Clone)]
    struct Crashy;
    impl VTask for Crashy {
        async fn run(&self, ctx: TaskContext) -> Result<(), BoxError> {
            ctx.run_blocking(|_| -> Result<(), BoxError> { panic!("the C library crashed") })
                .await
        }
    }
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        VService::new("Crashy")
            .with_task(Crashy)
            .run_with_args(["crashy"]),
    )
    .await
    .expect("stops by itself")
    .expect_err("fails");
    assert!(err.to_string().contains("the C library crashed"), "{err}");
}
