//! The actix example as a real process: actix-web answers on its own port
//! beside the `HttpTask`'s admin endpoints, SIGTERM stops both and exits 0
//! at once, and a port in use makes it exit 1 naming the task and address.
//! And the way it stops actix (`on_stop` asking for a graceful stop) lets a
//! request in flight finish.

mod common;

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpServer, web};
use common::{Example, PATIENCE, TestResult, client};
use sparts::{TaskContext, TaskSpec, VService};
use tokio::sync::Notify;

#[tokio::test]
async fn actix_hello_answers_beside_the_admin_endpoints_and_stops_on_sigterm() -> TestResult {
    let args = ["--actix-port", "0", "--http-port", "0"];
    let mut child = Example::spawn(env!("CARGO_BIN_EXE_actix_hello"), &args)?;
    let actix = child.logged_port("Actix")?;
    let http = child.logged_port("HttpTask")?;
    child.expect_line("All tasks started")?;
    let c = client();
    let body = c
        .get(format!("http://127.0.0.1:{actix}/"))
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(body, "Hello from actix");
    let health = c
        .get(format!("http://127.0.0.1:{http}/healthz"))
        .send()
        .await?;
    assert_eq!(health.status().as_u16(), 200);

    let began = Instant::now();
    let status = child.sigterm()?;
    let took = began.elapsed();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(took < Duration::from_secs(1), "stopped in {took:?}");
    let refused = TcpStream::connect_timeout(&([127, 0, 0, 1], actix).into(), PATIENCE);
    assert!(refused.is_err(), "actix's port still accepts: {refused:?}");
    Ok(())
}

#[test]
fn actix_hello_exits_1_naming_the_task_when_its_port_is_taken() -> TestResult {
    let taken = TcpListener::bind("127.0.0.1:0")?;
    let port = taken.local_addr()?.port().to_string();
    let args = ["--actix-port", &port, "--http-port", "0"];
    let mut child = Example::spawn(env!("CARGO_BIN_EXE_actix_hello"), &args)?;
    let line = child.expect_line("in use")?;
    assert!(line.contains("task Actix"), "{line}");
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    let status = child.wait_exit()?;
    assert_eq!(status.code(), Some(1), "{status:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_finishes_when_actix_is_stopped() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/slow", listener.local_addr()?);
    let listener = Mutex::new(Some(listener));
    let arrived = Arc::new(Notify::new());
    let in_handler = Arc::clone(&arrived);
    // As actix_hello runs actix, with a route that takes its time.
    let task = TaskSpec::blocking("Actix", move |ctx: TaskContext| {
        let listener = listener.lock().map_err(|e| e.to_string())?.take();
        let arrived = Arc::clone(&in_handler);
        let slow = move || {
            let arrived = Arc::clone(&arrived);
            async move {
                arrived.notify_one();
                tokio::time::sleep(Duration::from_millis(300)).await;
                "finished"
            }
        };
        let app = move || App::new().route("/slow", web::get().to(slow.clone()));
        let server = HttpServer::new(app)
            .listen(listener.ok_or("started twice")?)?
            .disable_signals()
            .shutdown_timeout(5)
            .run();
        let handle = server.handle();
        ctx.on_stop(move || drop(handle.stop(true)));
        Ok(actix_web::rt::System::new().block_on(server)?)
    });
    let running = VService::new("Slow")
        .with_task(task)
        .start_with_args(["slow", "--shutdown-timeout", "5"])
        .await?;
    let request = tokio::spawn(async move { client().get(url).send().await?.text().await });
    tokio::time::timeout(PATIENCE, arrived.notified()).await?;
    tokio::time::timeout(PATIENCE, running.shutdown()).await??;
    assert_eq!(request.await??, "finished");
    Ok(())
}
