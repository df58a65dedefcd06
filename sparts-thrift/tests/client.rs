//! The client helper against real servers on 127.0.0.1: every transport and
//! protocol, multiplexing, lazy connection, reconnection and timeouts.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{Gate, TestHandler};
use sparts_core::{RunningService, VService};
use sparts_thrift::fb303::{
    FacebookServiceSyncClient, FacebookServiceSyncProcessor, FbStatus, TFacebookServiceSyncClient,
};
use sparts_thrift::{
    BoxInputProtocol, BoxOutputProtocol, Error, ThriftClient, ThriftHandlerTask, ThriftServerTask,
};

/// The longest any single wait in a test may take.
const PATIENCE: Duration = Duration::from_secs(10);

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
type Fb303Client = FacebookServiceSyncClient<BoxInputProtocol, BoxOutputProtocol>;

/// Starts `service` with `args` after the program name, bounded in time;
/// the service and its Thrift port.
async fn start(
    service: VService,
    args: &[&str],
) -> Result<(RunningService, u16), sparts_core::Error> {
    let argv = ["svc", "--thrift-host", "127.0.0.1"]
        .into_iter()
        .chain(args.iter().copied());
    let running = tokio::time::timeout(PATIENCE, service.start_with_args(argv))
        .await
        .expect("the service starts in time")?;
    let port = running
        .handle()
        .require::<ThriftServerTask>()?
        .port()
        .expect("a TCP port");
    Ok((running, port))
}

fn fb303(name: &str) -> VService {
    VService::new(name)
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new())
}

fn connections(running: &RunningService) -> Result<f64, sparts_core::Error> {
    running.handle().counter("ThriftServerTask.connections")
}

/// A port nothing listens on (bound, then let go).
fn closed_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[tokio::test]
async fn every_transport_and_protocol() -> TestResult {
    type Setup = fn(ThriftClient<Fb303Client>) -> ThriftClient<Fb303Client>;
    let cases: [(&[&str], Setup); 4] = [
        (&[], |c| c),
        (&["--thrift-transport", "buffered"], ThriftClient::buffered),
        (&["--thrift-protocol", "compact"], ThriftClient::compact),
        (
            &[
                "--thrift-transport",
                "buffered",
                "--thrift-protocol",
                "compact",
            ],
            |c| c.buffered().compact(),
        ),
    ];
    for (args, setup) in cases {
        let (running, port) = start(fb303("Wire"), args).await?;
        let client = setup(ThriftClient::new(
            FacebookServiceSyncClient::new,
            format!("127.0.0.1:{port}"),
        ));
        assert_eq!(
            client.call(|c| c.get_status()).await?,
            FbStatus::ALIVE,
            "{args:?}"
        );
        assert_eq!(client.call(|c| c.get_name()).await?, "Wire", "{args:?}");
        let counters = client.call(|c| c.get_counters()).await?;
        assert!(
            counters
                .get("ThriftServerTask.requests")
                .is_some_and(|n| *n >= 2),
            "{args:?}: {counters:?}"
        );
        assert_eq!(
            connections(&running)?,
            1.0,
            "{args:?}: one connection for all calls"
        );
        running.shutdown().await?;
    }
    Ok(())
}

#[tokio::test]
async fn multiplexed_server() -> TestResult {
    let service = VService::new("Mux")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new().multiplexed());
    let (running, port) = start(service, &[]).await?;
    let address = format!("127.0.0.1:{port}");
    let client = ThriftClient::new(FacebookServiceSyncClient::new, &*address).multiplexed("fb303");
    assert_eq!(client.call(|c| c.get_name()).await?, "Mux");

    // A client that names no service gets an exception, and keeps its connection.
    let plain = ThriftClient::new(FacebookServiceSyncClient::new, &*address);
    for _ in 0..2 {
        let refused = plain
            .call(|c| c.get_name())
            .await
            .expect_err("no service named");
        assert!(matches!(&refused, Error::Application { .. }), "{refused:?}");
        assert!(refused.to_string().contains("service:method"), "{refused}");
    }
    assert_eq!(connections(&running)?, 2.0);
    running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn clones_share_a_connection_and_exceptions_keep_it() -> TestResult {
    let (running, port) = start(fb303("Shared"), &[]).await?;
    let client = ThriftClient::new(FacebookServiceSyncClient::new, format!("127.0.0.1:{port}"));
    let other = client.clone();
    assert_eq!(client.call(|c| c.get_name()).await?, "Shared");
    let missing = other
        .call(|c| c.get_counter("no.such.counter".to_owned()))
        .await
        .expect_err("an unknown counter");
    assert!(matches!(missing, Error::Application { .. }), "{missing:?}");
    let blocking = other.clone();
    let status =
        tokio::task::spawn_blocking(move || blocking.call_blocking(|c| c.get_status())).await??;
    assert_eq!(status, FbStatus::ALIVE);
    assert_eq!(connections(&running)?, 1.0);

    // A builder setting gives a client of its own.
    let compact = client.clone().compact();
    assert!(format!("{compact:?}").contains("Compact"));
    running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn connects_lazily_and_names_the_address_it_cannot_reach() -> TestResult {
    let port = closed_port()?;
    let address = format!("127.0.0.1:{port}");
    let client = ThriftClient::new(FacebookServiceSyncClient::new, &*address);
    let refused = client
        .call(|c| c.get_status())
        .await
        .expect_err("nothing listens");
    assert!(matches!(refused, Error::Connect { .. }), "{refused:?}");
    assert!(refused.to_string().contains(&address), "{refused}");

    // The same client connects once a server is there.
    let (running, _) = start(fb303("Late"), &["--thrift-port", &port.to_string()]).await?;
    assert_eq!(client.call(|c| c.get_name()).await?, "Late");
    running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn reconnects_after_the_server_restarts() -> TestResult {
    let (first, port) = start(fb303("First"), &[]).await?;
    let port_arg = port.to_string();
    let client = ThriftClient::new(FacebookServiceSyncClient::new, format!("127.0.0.1:{port}"));
    assert_eq!(client.call(|c| c.get_name()).await?, "First");
    first.shutdown().await?;

    // The server closed the connection; the client sees it before calling.
    let (second, _) = start(fb303("Second"), &["--thrift-port", &port_arg]).await?;
    assert_eq!(client.call(|c| c.get_name()).await?, "Second");
    second.shutdown().await?;

    let down = client.call(|c| c.get_name()).await.expect_err("no server");
    assert!(matches!(down, Error::Connect { .. }), "{down:?}");
    let (third, _) = start(fb303("Third"), &["--thrift-port", &port_arg]).await?;
    assert_eq!(client.call(|c| c.get_name()).await?, "Third");
    third.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_silent_server_times_the_call_out() -> TestResult {
    let gate = Gate::default();
    let gated = TestHandler {
        name: "gated",
        gate: Some(gate.clone()),
        ..TestHandler::default()
    };
    let service = VService::new("Slow")
        .with_task(ThriftHandlerTask::new(
            gated,
            FacebookServiceSyncProcessor::new,
        ))
        .with_task(ThriftServerTask::new());
    let (running, port) = start(service, &[]).await?;
    let timeout = Duration::from_millis(200);
    let client = ThriftClient::new(FacebookServiceSyncClient::new, format!("127.0.0.1:{port}"))
        .call_timeout(timeout);

    let started = Instant::now();
    let silent = client
        .call(|c| c.get_status())
        .await
        .expect_err("times out");
    let took = started.elapsed();
    assert!(
        matches!(&silent, Error::Timeout { after, .. } if *after == timeout),
        "{silent:?}"
    );
    // Measured: the call gives up at its timeout, not at some later bound.
    assert!(
        took >= timeout && took < timeout * 5,
        "gave up after {took:?}, the timeout is {timeout:?}"
    );
    assert!(silent.to_string().contains("200ms"), "{silent}");

    // The late reply must not answer the next call: it gets a new connection.
    gate.open();
    assert_eq!(client.call(|c| c.get_name()).await?, "gated");
    assert_eq!(client.call(|c| c.get_status()).await?, FbStatus::WARNING);
    assert_eq!(connections(&running)?, 2.0);
    running.shutdown().await?;
    Ok(())
}

/// A server that takes one connection, waits for a framed call to arrive,
/// reads it whole if `read_call`, and closes the connection unanswered.
fn closing_server(
    read_call: bool,
) -> std::io::Result<(u16, std::thread::JoinHandle<std::io::Result<()>>)> {
    use std::io::Read as _;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept()?;
        stream.set_read_timeout(Some(PATIENCE))?;
        // Blocks until the call's first bytes are here (bounded by PATIENCE).
        stream.peek(&mut [0; 1])?;
        if read_call {
            let mut len = [0; 4];
            stream.read_exact(&mut len)?;
            let mut call = vec![0; u32::from_be_bytes(len) as usize];
            stream.read_exact(&mut call)?;
        }
        Ok(())
    });
    Ok((port, server))
}

#[tokio::test]
async fn a_call_the_server_closed_on_unread_is_told_apart_from_one_it_read() -> TestResult {
    // Closed with the call unread: the kernel resets the connection, and
    // the call certainly did not run.
    let (port, server) = closing_server(false)?;
    let client = ThriftClient::new(FacebookServiceSyncClient::new, format!("127.0.0.1:{port}"));
    let unread = client.call(|c| c.get_status()).await.expect_err("reset");
    server.join().map_err(|_| "the server thread panicked")??;
    assert!(matches!(&unread, Error::Reset { .. }), "{unread:?}");
    assert!(unread.to_string().contains("did not run"), "{unread}");

    // Read, then closed without a reply: it may have run.
    let (port, server) = closing_server(true)?;
    let client = ThriftClient::new(FacebookServiceSyncClient::new, format!("127.0.0.1:{port}"));
    let read = client.call(|c| c.get_status()).await.expect_err("closed");
    server.join().map_err(|_| "the server thread panicked")??;
    assert!(matches!(&read, Error::Connection { .. }), "{read:?}");
    Ok(())
}
