//! `glib_loop` as a real process: its ticks at the interval, SIGTERM
//! quitting glib's main loop within a second; and a glib loop that cannot
//! start (its context owned by another thread) failing the start with
//! exit 1.

mod common;

use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Example, TestResult};
use sparts::{TaskContext, TaskSpec, VService};

#[test]
fn glib_loop_ticks_and_quits_on_sigterm() -> TestResult {
    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_glib_loop"),
        &["--glib-interval", "0.05"],
    )?;
    for n in 1..=3 {
        child.expect_line(&format!("glib tick {n}"))?;
    }
    let asked = Instant::now();
    assert_eq!(child.sigterm()?.code(), Some(0));
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    Ok(())
}

#[test]
fn a_glib_loop_whose_context_is_owned_elsewhere_fails_the_start() -> TestResult {
    // Another thread owns glib's default context for the whole test, as a
    // GTK application's main thread would.
    let (owned, is_owned) = mpsc::channel();
    let (done, release) = mpsc::channel::<()>();
    let owner = std::thread::spawn(move || {
        let context = glib::MainContext::default();
        let guard = context.acquire();
        let _ = owned.send(guard.is_ok());
        let _ = release.recv_timeout(common::PATIENCE);
    });
    assert_eq!(is_owned.recv_timeout(common::PATIENCE).ok(), Some(true));
    // The start of glib_loop's task.
    let task = TaskSpec::blocking("Glib", |_ctx: TaskContext| {
        let context = glib::MainContext::default();
        let _owner = context
            .acquire()
            .map_err(|_| "glib's default main context is owned by another thread")?;
        Ok(())
    });
    let code = VService::new("GlibLoop")
        .with_task(task)
        .run_from_args(["glib_loop"]);
    let _ = done.send(());
    owner.join().map_err(|_| "the owner thread panicked")?;
    assert_eq!(code, ExitCode::from(1));
    Ok(())
}
