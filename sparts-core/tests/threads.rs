//! Tasks off the service's runtime: a `!Send` future on a thread of its
//! own (in process, and as a real process stopped by SIGTERM or failing
//! by a panic), a runtime of the task's own, a foreign loop quit by
//! `on_stop`, and one that ignores the stop.

mod common;

use common::Logs;
use std::cell::RefCell;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sparts_core::{BoxError, Error, TaskContext, TaskSpec, VService};

/// The longest any wait in these tests may take.
const PATIENCE: Duration = Duration::from_secs(10);

/// A local task: its state is `Rc<RefCell<..>>`, it spawns local tasks,
/// and it reports its thread's name and each tick to `seen`.
fn tally(seen: mpsc::Sender<String>) -> TaskSpec {
    let seen = Mutex::new(seen);
    TaskSpec::local("Tally", move |ctx| {
        let seen = seen.lock().expect("lock").clone();
        async move {
            let thread = std::thread::current().name().unwrap_or_default().to_owned();
            let _ = seen.send(format!("thread {thread}"));
            let ticks = Rc::new(RefCell::new(0_u32));
            let local = tokio::task::spawn_local({
                let ticks = Rc::clone(&ticks);
                async move { *ticks.borrow_mut() += 1 }
            });
            local.await?;
            while ctx.sleep(Duration::from_millis(5)).await {
                *ticks.borrow_mut() += 1;
                if *ticks.borrow() == 3 {
                    let _ = seen.send("ticked".to_owned());
                }
            }
            let _ = seen.send("stopped".to_owned());
            Ok(())
        }
    })
}

#[tokio::test]
async fn a_local_task_runs_on_its_own_thread_and_stops() -> Result<(), Error> {
    let (tx, rx) = mpsc::channel();
    let running = VService::new("Local")
        .with_task(tally(tx))
        .start_with_args(["local"])
        .await?;
    assert_eq!(
        rx.recv_timeout(PATIENCE).ok().as_deref(),
        Some("thread Tally")
    );
    assert_eq!(rx.recv_timeout(PATIENCE).ok().as_deref(), Some("ticked"));
    running.shutdown().await?;
    assert_eq!(rx.recv_timeout(PATIENCE).ok().as_deref(), Some("stopped"));
    Ok(())
}

#[tokio::test]
async fn a_panic_in_a_local_task_fails_the_service_naming_it() {
    let failing = TaskSpec::local("Broken", |_ctx| async move {
        let state = Rc::new(());
        if Rc::strong_count(&state) == 1 {
            panic!("the local state broke");
        }
        Ok(())
    });
    let err = tokio::time::timeout(
        PATIENCE,
        VService::new("Local")
            .with_task(failing)
            .run_with_args(["local"]),
    )
    .await
    .expect("stops by itself")
    .expect_err("fails");
    let text = err.to_string();
    assert!(
        text.contains("Broken") && text.contains("the local state broke"),
        "{text}"
    );
}

#[tokio::test]
async fn a_runtime_task_runs_on_its_own_threads_at_its_niceness() -> Result<(), Error> {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let task = TaskSpec::runtime("Hashing", move |ctx| {
        let tx = tx.lock().expect("lock").clone();
        async move {
            let workers = tokio::runtime::Handle::current().metrics().num_workers();
            let thread = std::thread::current().name().unwrap_or_default().to_owned();
            // The 19th field of a thread's stat is its niceness.
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
            let after_name = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest)
                .unwrap_or_default();
            let nice = after_name
                .split_whitespace()
                .nth(16)
                .unwrap_or("?")
                .to_owned();
            let _ = tx.send(format!(
                "{workers} {thread} {} nice {nice}",
                ctx.options().threads
            ));
            ctx.stopped().await;
            Ok(())
        }
    });
    let running = VService::new("Crunch")
        .with_task(task.with_default("threads", "2"))
        .start_with_args(["crunch", "--hashing-threads", "3", "--hashing-nice", "19"])
        .await?;
    let seen = rx.recv_timeout(PATIENCE).unwrap_or_default();
    assert!(
        seen.starts_with("3 Hashing-") && seen.ends_with(" 3 nice 19"),
        "{seen}"
    );
    running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn zero_threads_fail_the_start_naming_the_option() {
    let task = TaskSpec::runtime("Hashing", |ctx| async move {
        ctx.stopped().await;
        Ok(())
    });
    let err = VService::new("Crunch")
        .with_task(task)
        .start_with_args(["crunch", "--hashing-threads", "0"])
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("--hashing-threads must be at least 1"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_stop_quits_a_foreign_loop() -> Result<(), Error> {
    // A loop that only ends when told to through its own channel, as
    // glib's MainLoop ends on quit().
    let task = TaskSpec::blocking("Foreign", |ctx: TaskContext| {
        let (quit, events) = mpsc::channel::<()>();
        ctx.on_stop(move || {
            let _ = quit.send(());
        });
        assert_eq!(std::thread::current().name(), Some("Foreign"));
        events.recv().map_err(|e| BoxError::from(e.to_string()))
    });
    let running = VService::new("Loops")
        .with_task(task)
        .start_with_args(["loops"])
        .await?;
    tokio::time::timeout(PATIENCE, running.shutdown())
        .await
        .expect("the loop quits when asked")?;
    Ok(())
}

#[tokio::test]
async fn a_loop_that_ignores_the_stop_is_named_and_left_behind() -> Result<(), Error> {
    let (logs, _guard) = Logs::capture();
    let task = TaskSpec::task("Stubborn", |ctx| async move {
        ctx.run_blocking(|_token| -> Result<(), BoxError> {
            // Never looks at the token: a C library's run() that cannot be
            // told to stop.
            loop {
                std::thread::sleep(Duration::from_millis(50));
            }
        })
        .await
    });
    let running = VService::new("Loops")
        .with_task(task)
        .start_with_args(["loops", "--shutdown-timeout", "0.2"])
        .await?;
    let asked = Instant::now();
    tokio::time::timeout(PATIENCE, running.shutdown())
        .await
        .expect("the service stops at its deadline")?;
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
    let text = logs.text();
    assert!(
        text.contains("after the shutdown timeout") && text.contains("Stubborn"),
        "{text}"
    );
    Ok(())
}

/// Runs in a child process (see [`run_child`]): a service whose only task
/// is local, as `main` would run it. `THREADS_CHILD=panic` makes the task
/// panic after its first tick.
#[test]
fn child() {
    let Ok(mode) = std::env::var("THREADS_CHILD") else {
        return;
    };
    let task = TaskSpec::local("Tally", move |ctx| {
        let mode = mode.clone();
        async move {
            let ticks = Rc::new(RefCell::new(0_u32));
            eprintln!("tally started");
            while ctx.sleep(Duration::from_millis(5)).await {
                *ticks.borrow_mut() += 1;
                if mode == "panic" {
                    panic!("tally broke after {} ticks", ticks.borrow());
                }
            }
            eprintln!("tally stopped");
            Ok(())
        }
    });
    let code = VService::new("Local")
        .with_task(task)
        .run_from_args(["local"]);
    let code = if code == std::process::ExitCode::SUCCESS {
        0
    } else {
        1
    };
    std::process::exit(code);
}

/// This test binary as a child running only [`child`] in `mode`, its
/// stderr piped.
fn run_child(mode: &str) -> std::io::Result<std::process::Child> {
    Command::new(std::env::current_exe()?)
        .args(["--exact", "child", "--nocapture", "--test-threads", "1"])
        .env("THREADS_CHILD", mode)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
}

/// Waits (bounded) for the child to exit; its exit code and stderr.
fn finish(mut child: std::process::Child) -> Result<(Option<i32>, String), BoxError> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait()? {
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                std::io::Read::read_to_string(&mut stderr, &mut err)?;
            }
            return Ok((status.code(), err));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("the child did not exit in time".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sigterm_stops_a_local_task_and_the_process_exits_0() -> Result<(), BoxError> {
    let mut child = run_child("run")?;
    // Wait for the task's first line before signalling.
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("tally started")) {
        let left = deadline.saturating_duration_since(Instant::now());
        seen.push(
            rx.recv_timeout(left)
                .map_err(|_| format!("no start: {seen:?}"))?,
        );
    }
    let pid = Pid::from_raw(i32::try_from(child.id())?);
    kill(pid, Signal::SIGTERM)?;
    let (code, _) = finish(child)?;
    seen.extend(rx.try_iter());
    assert_eq!(code, Some(0), "{seen:?}");
    assert!(seen.iter().any(|l| l.contains("tally stopped")), "{seen:?}");
    Ok(())
}

#[test]
fn a_panicking_local_task_exits_non_zero_naming_it() -> Result<(), BoxError> {
    let (code, stderr) = finish(run_child("panic")?)?;
    assert_ne!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("Tally") && stderr.contains("tally broke after 1 ticks"),
        "{stderr}"
    );
    Ok(())
}

// Two workers: the callbacks run on the service's runtime while this test
// blocks one thread waiting for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_options_change_sees_each_new_value() -> Result<(), Error> {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let task = TaskSpec::runtime("Hashing", move |ctx| {
        let tx = tx.lock().expect("lock").clone();
        async move {
            let registered = tx.clone();
            ctx.on_options_change(move |options| {
                let _ = tx.send(options.threads);
            });
            let _ = registered.send(0);
            ctx.stopped().await;
            Ok(())
        }
    });
    let running = VService::new("Crunch")
        .with_task(task)
        .start_with_args(["crunch"])
        .await?;
    // The callback is registered once the task runs.
    assert_eq!(rx.recv_timeout(PATIENCE).ok(), Some(0));
    running.handle().set_option("hashing_threads", "4")?;
    assert_eq!(rx.recv_timeout(PATIENCE).ok(), Some(4));
    running.handle().set_option("hashing_threads", "5")?;
    assert_eq!(rx.recv_timeout(PATIENCE).ok(), Some(5));
    running.shutdown().await?;
    Ok(())
}
