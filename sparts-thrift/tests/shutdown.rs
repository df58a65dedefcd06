//! Shutdown over real sockets: the lame duck keeps serving while the status
//! says STOPPING, requests in flight (and those already sent behind them)
//! are answered, idle connections close at once, and what outlives the budget is cut before it ends, counted
//! from the moment the shutdown began.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{FRAMED_BINARY, Gate, TestHandler, blocking, client, framed_call, handler, port};
use sparts_core::{Status, TaskSpec, VService};
use sparts_thrift::fb303::{FbStatus, TFacebookServiceSyncClient};
use sparts_thrift::{ThriftHandlerTask, ThriftServerTask};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const PATIENCE: Duration = Duration::from_secs(10);

/// With `--shutdown-timeout 2`, the cut comes a tenth of the budget before
/// its end: the service never has to abort the server.
const CUT: Duration = Duration::from_millis(1800);
const BUDGET: Duration = Duration::from_secs(2);

/// A handler task whose getStatus waits at `gate`.
fn held(gate: &Gate) -> ThriftHandlerTask {
    handler(
        "Held",
        TestHandler {
            gate: Some(gate.clone()),
            ..TestHandler::default()
        },
    )
}

/// Calls getStatus on a new connection, off the runtime; the reply and
/// when it came (or the connection failed).
fn call_get_status(port: u16) -> tokio::task::JoinHandle<(thrift::Result<FbStatus>, Instant)> {
    tokio::task::spawn_blocking(move || {
        let reply = client(port, FRAMED_BINARY, None).get_status();
        (reply, Instant::now())
    })
}

/// A raw connection that made one call (so the server has accepted it)
/// and now sits idle.
fn idle_connection(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream
        .write_all(&framed_call("getName", 1, 1))
        .expect("writes");
    let mut reply = [0u8; 64];
    assert!(stream.read(&mut reply).expect("a reply") > 0);
    stream
}

/// When the server closed `stream` cleanly; `None` if it did not within
/// the patience.
fn closed_at(mut stream: TcpStream) -> Option<Instant> {
    let mut buf = [0u8; 16];
    matches!(stream.read(&mut buf), Ok(0)).then(Instant::now)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lame_duck_answers_while_the_status_says_stopping() -> TestResult {
    let running = VService::new("Lame")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new())
        .start_with_args([
            "lame",
            "--thrift-host",
            "127.0.0.1",
            "--thrift-lameduck",
            "1",
        ])
        .await?;
    let handle = running.handle().clone();
    let port = port(&handle);
    let mut open = blocking(move || {
        let mut c = client(port, FRAMED_BINARY, None);
        assert_eq!(c.get_status().expect("before"), FbStatus::ALIVE);
        c
    })
    .await;

    let asked = Instant::now();
    handle.request_shutdown();
    assert_eq!(handle.status(), Status::Stopping);
    // Connections open and new are both served during the lame duck.
    let (on_open, on_new) = blocking(move || {
        let on_open = open.get_status().expect("answered on an open connection");
        let on_new = client(port, FRAMED_BINARY, None)
            .get_status()
            .expect("answered on a new connection");
        (on_open, on_new)
    })
    .await;
    assert_eq!(on_open, FbStatus::STOPPING);
    assert_eq!(on_new, FbStatus::STOPPING);
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "checked within the lame duck"
    );

    tokio::time::timeout(PATIENCE, running.wait()).await??;
    assert!(
        asked.elapsed() >= Duration::from_secs(1),
        "served the whole lame duck"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "closed after it"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_is_answered_before_shutdown_completes() -> TestResult {
    let gate = Gate::default();
    let held = TestHandler {
        gate: Some(gate.clone()),
        ..TestHandler::default()
    };
    let running = VService::new("Drain")
        .with_task(handler("Held", held))
        .with_task(ThriftServerTask::new())
        .start_with_args(["drain", "--thrift-host", "127.0.0.1"])
        .await?;
    let port = port(running.handle());
    let call = tokio::task::spawn_blocking(move || {
        let mut c = client(port, FRAMED_BINARY, None);
        assert_eq!(c.get_name().expect("connected"), "Held");
        c.get_status()
    });
    // Shutdown begins while the request is in its handler, held at the gate.
    assert!(gate.entered().await, "the request reached its handler");
    running.handle().request_shutdown();
    let mut status = running.handle().watch_status();
    tokio::time::timeout(PATIENCE, status.wait_for(|s| *s == Status::Stopping)).await??;
    gate.open();
    running.shutdown().await?;
    let reply = call.await?;
    assert_eq!(reply.expect("answered during shutdown"), FbStatus::WARNING);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "closed after shutdown"
    );
    Ok(())
}

/// The method names of the framed replies in `bytes`, in order.
fn reply_names(mut bytes: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    while let Some((len, rest)) = bytes.split_first_chunk::<4>() {
        let len = u32::from_be_bytes(*len) as usize;
        let Some((reply, rest)) = rest.split_at_checked(len) else {
            break;
        };
        // Strict binary: version and type (4 bytes), the name's length, the name.
        let name_len = u32::from_be_bytes(reply[4..8].try_into().expect("4 bytes")) as usize;
        names.push(String::from_utf8_lossy(&reply[8..8 + name_len]).into_owned());
        bytes = rest;
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_already_sent_when_the_drain_begins_are_answered() -> TestResult {
    let gate = Gate::default();
    let running = VService::new("Drain")
        .with_task(held(&gate))
        .with_task(ThriftServerTask::new())
        .start_with_args(["drain", "--thrift-host", "127.0.0.1"])
        .await?;
    let port = port(running.handle());
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(PATIENCE))?;
    // Two calls in one write: the second waits in the connection while the
    // first is held in its handler, and closing there would reset it.
    let mut calls = framed_call("getStatus", 1, 1);
    calls.extend(framed_call("getName", 1, 2));
    stream.write_all(&calls)?;
    assert!(gate.entered().await, "the first call reached its handler");
    running.handle().request_shutdown();
    let mut status = running.handle().watch_status();
    tokio::time::timeout(PATIENCE, status.wait_for(|s| *s == Status::Stopping)).await??;
    gate.open();
    let replies = blocking(move || {
        let mut replies = Vec::new();
        stream.read_to_end(&mut replies).map(|_| replies)
    })
    .await?;
    assert_eq!(reply_names(&replies), ["getStatus", "getName"]);
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_outlives_the_budget_is_cut_and_counted() -> TestResult {
    let gate = Gate::default();
    let running = VService::new("Stuck")
        .with_task(held(&gate))
        .with_task(ThriftServerTask::new())
        .start_with_args([
            "stuck",
            "--thrift-host",
            "127.0.0.1",
            "--shutdown-timeout",
            "2",
        ])
        .await?;
    let handle = running.handle().clone();
    let port = port(&handle);
    let idle = blocking(move || idle_connection(port)).await;
    let call = call_get_status(port);
    assert!(gate.entered().await, "the request reached its handler");
    assert_eq!(handle.counter("ThriftServerTask.open_connections")?, 2.0);
    let idle = tokio::task::spawn_blocking(move || closed_at(idle));

    let asked = Instant::now();
    // The service exits cleanly: a cut is part of the plan, not a failure.
    tokio::time::timeout(PATIENCE, running.shutdown()).await??;
    let took = asked.elapsed();
    gate.open();
    assert!(took >= CUT && took < BUDGET, "{took:?}");
    let (reply, ended) = tokio::time::timeout(PATIENCE, call).await??;
    assert!(reply.is_err(), "no reply to a request cut: {reply:?}");
    let cut = ended - asked;
    assert!(cut >= CUT && cut < BUDGET, "cut after {cut:?}");
    // The idle connection closed when the drain began, and is not a cut one.
    let idle = idle.await?.expect("the idle connection is closed");
    assert!(idle - asked < Duration::from_secs(1), "{:?}", idle - asked);
    assert_eq!(handle.counter("ThriftServerTask.cut_connections")?, 1.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_counts_from_stopping_not_from_the_servers_own_stop() -> TestResult {
    let gate = Gate::default();
    // Tasks stop in reverse order: the slow one first, the server only
    // 1.5 s into the 2 s budget.
    let running = VService::new("Late")
        .with_task(held(&gate))
        .with_task(ThriftServerTask::new())
        .with_task(TaskSpec::task("SlowToStop", |ctx| async move {
            // Stopped before the server, it takes most of the budget to end:
            // the server's own stop comes late.
            ctx.stopped().await;
            tokio::time::sleep(Duration::from_millis(1500)).await;
            Ok(())
        }))
        .start_with_args([
            "late",
            "--thrift-host",
            "127.0.0.1",
            "--shutdown-timeout",
            "2",
        ])
        .await?;
    let handle = running.handle().clone();
    let call = call_get_status(port(&handle));
    assert!(gate.entered().await, "the request reached its handler");

    let asked = Instant::now();
    tokio::time::timeout(PATIENCE, running.shutdown()).await??;
    let took = asked.elapsed();
    gate.open();
    // Cut by the server's own plan before the service's deadline; a
    // server aborted by the service would end at the deadline or after.
    let (reply, ended) = tokio::time::timeout(PATIENCE, call).await??;
    assert!(reply.is_err(), "no reply to a request cut: {reply:?}");
    let cut = ended - asked;
    assert!(cut >= CUT && cut < BUDGET, "cut after {cut:?}");
    assert!(took < BUDGET, "{took:?}");
    assert_eq!(handle.counter("ThriftServerTask.cut_connections")?, 1.0);
    Ok(())
}
