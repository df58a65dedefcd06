//! The logger a CLI run installs: every line names the service and the
//! task, `--logfile` appends, and `--level` changes at run time. Its own
//! test binary, since the logger is process-wide.

use sparts_core::{BoxError, TaskContext, VService, VTask};

#[derive(Clone)]
struct Worker;

impl VTask for Worker {
    async fn init(&mut self, _: &TaskContext) -> Result<(), BoxError> {
        tracing::info!("hello from the worker");
        Ok(())
    }

    async fn run(&self, ctx: TaskContext) -> Result<(), BoxError> {
        ctx.stopped().await;
        Ok(())
    }
}

#[test]
fn log_lines_name_the_service_and_task_and_the_level_changes_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("service.log");
    std::fs::write(&path, "an earlier line\n").expect("seed the log");
    let code = VService::new("Logged")
        .with_task(Worker)
        .with_signals(false)
        .on_started(|service| {
            tracing::info!("visible at info");
            service
                .set_option("level", "WARNING")
                .expect("a valid level");
            tracing::info!("hidden at warn");
            tracing::warn!("visible at warn");
            service.request_shutdown();
        })
        .run_from_args(["logged", "--logfile", path.to_str().expect("utf-8 path")]);
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    let log = std::fs::read_to_string(&path).expect("the log file");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines[0], "an earlier line", "the file is appended to");
    let worker = lines
        .iter()
        .find(|l| l.contains("hello from the worker"))
        .unwrap_or_else(|| panic!("worker line in {log}"));
    assert!(
        worker.contains("INFO") && worker.contains("service{name=Logged}:task{name=Worker}"),
        "{worker}"
    );
    assert!(log.contains("All tasks started"), "{log}");
    assert!(log.contains("visible at info"), "{log}");
    assert!(log.contains("visible at warn"), "{log}");
    assert!(!log.contains("hidden at warn"), "{log}");
    assert!(
        !log.contains("Instance shut down gracefully"),
        "info is off now: {log}"
    );
    assert!(!log.contains('\u{1b}'), "no colour codes in a file");
}
