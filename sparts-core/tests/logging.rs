//! The logger a CLI run installs: every line names the service and the
//! task, `--logfile` appends, `--level` filters by target and changes at
//! run time, a bad directive changing nothing. Its own
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
            tracing::debug!(target: "chatty", "chatty at debug");
            tracing::debug!(target: "other", "other at debug");
            tracing::info!(target: "quiet", "quiet at info");
            let refused = service
                .set_option("level", "info,h2=loud")
                .expect_err("a bad directive");
            assert!(
                matches!(&refused, sparts_core::Error::InvalidOption { name, reason }
                    if name == "level" && reason.contains("`loud` in `h2=loud` is not a log level")),
                "{refused}"
            );
            tracing::debug!(target: "chatty", "chatty still at debug");
            service
                .set_option("level", "WARNING")
                .expect("a valid level");
            tracing::info!("hidden at warn");
            tracing::warn!("visible at warn");
            service.request_shutdown();
        })
        .run_from_args([
            "logged",
            "--logfile",
            path.to_str().expect("utf-8 path"),
            "--level",
            "info,chatty=debug,quiet=warn",
        ]);
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
    assert!(log.contains("chatty at debug"), "a target at debug: {log}");
    assert!(
        !log.contains("other at debug"),
        "the default is info: {log}"
    );
    assert!(!log.contains("quiet at info"), "a target at warn: {log}");
    assert!(
        log.contains("chatty still at debug"),
        "a refused change changes nothing: {log}"
    );
    assert!(!log.contains("hidden at warn"), "{log}");
    assert!(
        !log.contains("Instance shut down gracefully"),
        "info is off now: {log}"
    );
    assert!(!log.contains('\u{1b}'), "no colour codes in a file");
}
