//! The server task over real sockets: transports, protocols, multiplexing,
//! worker threads, bad input, unix sockets (shutdown: `shutdown.rs`).

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use common::{
    FRAMED_BINARY, TestHandler, Wire, app_error, blocking, client, framed_call, handler, port,
};
use sparts_core::VService;
use sparts_thrift::fb303::{FbStatus, TFacebookServiceSyncClient};
use sparts_thrift::{ThriftHandlerTask, ThriftServerTask};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_every_transport_and_protocol() -> TestResult {
    for (transport, protocol) in [
        ("framed", "binary"),
        ("framed", "compact"),
        ("buffered", "binary"),
        ("buffered", "compact"),
    ] {
        let running = VService::new("Wire")
            .with_task(ThriftHandlerTask::fb303())
            .with_task(ThriftServerTask::new())
            .start_with_args([
                "wire",
                "--thrift-host",
                "127.0.0.1",
                "--thrift-transport",
                transport,
                "--thrift-protocol",
                protocol,
            ])
            .await?;
        let port = port(running.handle());
        let wire = Wire {
            framed: transport == "framed",
            compact: protocol == "compact",
        };
        blocking(move || {
            let mut c = client(port, wire, None);
            for _ in 0..3 {
                assert_eq!(c.get_status().expect("getStatus"), FbStatus::ALIVE);
                assert_eq!(c.get_name().expect("getName"), "Wire");
            }
            assert!(!c.get_counters().expect("getCounters").is_empty());
        })
        .await;
        running.shutdown().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiplexed_calls_reach_the_named_service() -> TestResult {
    let running = VService::new("Mux")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(handler("Other", TestHandler::default()).with_service_name("other"))
        .with_task(ThriftServerTask::new().multiplexed())
        .start_with_args(["mux", "--thrift-host", "127.0.0.1"])
        .await?;
    let port = port(running.handle());
    blocking(move || {
        let mut fb303 = client(port, FRAMED_BINARY, Some("fb303"));
        assert_eq!(fb303.get_name().expect("fb303"), "Mux");
        let mut other = client(port, FRAMED_BINARY, Some("other"));
        assert_eq!(other.get_name().expect("other"), "Other");
        assert_eq!(other.get_status().expect("other"), FbStatus::WARNING);
        // Unknown service names and unprefixed calls fail cleanly...
        let mut nobody = client(port, FRAMED_BINARY, Some("nobody"));
        assert!(app_error(nobody.get_name()).contains("nobody"));
        assert!(app_error(nobody.get_name()).contains("nobody"));
        let mut plain = client(port, FRAMED_BINARY, None);
        assert!(app_error(plain.get_name()).contains("multiplexed"));
        // ...and a connection goes on after them.
        assert_eq!(fb303.get_status().expect("fb303 again"), FbStatus::ALIVE);
    })
    .await;
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_each_serve_the_handlers_they_name() -> TestResult {
    let running = VService::new("Two")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(handler("Other", TestHandler::default()))
        .with_task(ThriftServerTask::new().with_handlers(["fb303"]))
        .with_task(
            sparts_core::TaskSpec::new(ThriftServerTask::new().with_handlers(["Other"]))
                .with_name("Internal")
                .with_prefix("internal"),
        )
        .start_with_args([
            "two",
            "--thrift-host",
            "127.0.0.1",
            "--internal-host",
            "127.0.0.1",
        ])
        .await?;
    let public = port(running.handle());
    let internal = running
        .handle()
        .require_named::<ThriftServerTask>("Internal")?
        .port()
        .expect("bound");
    blocking(move || {
        assert_eq!(
            client(public, FRAMED_BINARY, None)
                .get_name()
                .expect("public"),
            "Two"
        );
        assert_eq!(
            client(internal, FRAMED_BINARY, None)
                .get_name()
                .expect("internal"),
            "Other"
        );
    })
    .await;
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_service_answers_plain_calls_beside_multiplexed_ones() -> TestResult {
    let running = VService::new("Mux")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(handler("Other", TestHandler::default()).with_service_name("other"))
        .with_task(
            ThriftServerTask::new()
                .multiplexed()
                .with_default_service("fb303"),
        )
        .start_with_args(["mux", "--thrift-host", "127.0.0.1"])
        .await?;
    let port = port(running.handle());
    blocking(move || {
        let mut plain = client(port, FRAMED_BINARY, None);
        assert_eq!(plain.get_name().expect("plain fb303"), "Mux");
        assert_eq!(plain.get_status().expect("plain fb303"), FbStatus::ALIVE);
        let mut fb303 = client(port, FRAMED_BINARY, Some("fb303"));
        assert_eq!(fb303.get_name().expect("fb303"), "Mux");
        let mut other = client(port, FRAMED_BINARY, Some("other"));
        assert_eq!(other.get_name().expect("other"), "Other");
        let mut nobody = client(port, FRAMED_BINARY, Some("nobody"));
        assert!(app_error(nobody.get_name()).contains("nobody"));
    })
    .await;
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_service_must_be_served_and_multiplexed() {
    let missing = VService::new("Missing")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(
            ThriftServerTask::new()
                .multiplexed()
                .with_default_service("nope"),
        )
        .start_with_args(["missing", "--thrift-host", "127.0.0.1"])
        .await
        .expect_err("no such handler");
    let message = format!("{missing:?}");
    assert!(
        message.contains("no handler named nope for calls that name no service"),
        "{message}"
    );

    let single = VService::new("Single")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new().with_default_service("fb303"))
        .start_with_args(["single", "--thrift-host", "127.0.0.1"])
        .await
        .expect_err("not multiplexed");
    let message = format!("{single:?}");
    assert!(message.contains("without multiplexing"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_ambiguous_handler_stops_the_start() {
    let none = VService::new("None")
        .with_task(ThriftServerTask::new())
        .start_with_args(["none", "--thrift-host", "127.0.0.1"])
        .await
        .expect_err("no handler");
    assert!(none.to_string().contains("start") || format!("{none:?}").contains("no handler"));
    assert!(
        format!("{none:?}").contains("no handler to serve"),
        "{none:?}"
    );

    let two = VService::new("Two")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(handler("Other", TestHandler::default()))
        .with_task(ThriftServerTask::new())
        .start_with_args(["two", "--thrift-host", "127.0.0.1"])
        .await
        .expect_err("ambiguous");
    let message = format!("{two:?}");
    assert!(message.contains("several handlers"), "{message}");
    assert!(
        message.contains("fb303") && message.contains("Other"),
        "{message}"
    );

    let unknown = VService::new("Unknown")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new().with_handlers(["nope"]))
        .start_with_args(["unknown", "--thrift-host", "127.0.0.1"])
        .await
        .expect_err("unknown handler");
    assert!(format!("{unknown:?}").contains("no handler named nope"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_connections_share_four_threads() -> TestResult {
    let running = VService::new("Many")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new())
        .start_with_args([
            "many",
            "--thrift-host",
            "127.0.0.1",
            "--thrift-threads",
            "4",
        ])
        .await?;
    let port = port(running.handle());
    let answered = blocking(move || {
        // Every connection opens before any calls, so all 200 are open at once.
        let mut clients: Vec<_> = (0..200)
            .map(|_| client(port, FRAMED_BINARY, None))
            .collect();
        let threads: Vec<_> = clients
            .drain(..)
            .map(|mut c| std::thread::spawn(move || c.get_status().expect("answered")))
            .collect();
        threads
            .into_iter()
            .filter(|_| true)
            .map(|t| t.join().expect("client thread"))
            .filter(|s| *s == FbStatus::ALIVE)
            .count()
    })
    .await;
    assert_eq!(answered, 200);
    assert_eq!(
        running.handle().counter("ThriftServerTask.connections")?,
        200.0
    );
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_does_not_stall_other_connections() -> TestResult {
    let slow = TestHandler {
        delay: Some(Duration::from_secs(2)),
        ..TestHandler::default()
    };
    let running = VService::new("Slow")
        .with_task(handler("Slow", slow))
        .with_task(ThriftServerTask::new())
        .start_with_args([
            "slow",
            "--thrift-host",
            "127.0.0.1",
            "--thrift-threads",
            "2",
        ])
        .await?;
    let port = port(running.handle());
    let (done_fast, slow_reply) = blocking(move || {
        let slow = std::thread::spawn(move || {
            client(port, FRAMED_BINARY, None)
                .get_status()
                .expect("slow reply")
        });
        let mut fast = client(port, FRAMED_BINARY, None);
        let mut done = 0;
        for _ in 0..50 {
            assert_eq!(fast.get_name().expect("fast"), "Slow");
            done += 1;
        }
        // All fast calls completed while the slow one was still running.
        let slow_finished_first = slow.is_finished();
        (
            (done, slow_finished_first),
            slow.join().expect("slow thread"),
        )
    })
    .await;
    assert_eq!(done_fast, (50, false));
    assert_eq!(slow_reply, FbStatus::WARNING);
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_methods_run_where_the_request_was_read() -> TestResult {
    let running = VService::new("Inline")
        .with_task(handler("Inline", TestHandler::default()).with_inline_methods(["getVersion"]))
        .with_task(handler("Pooled", TestHandler::default()))
        .with_task(ThriftServerTask::new().multiplexed())
        .start_with_args(["inline", "--thrift-host", "127.0.0.1"])
        .await?;
    let port = port(running.handle());
    let (inline, pooled) = blocking(move || {
        let inline = client(port, FRAMED_BINARY, Some("Inline")).get_version();
        let pooled = client(port, FRAMED_BINARY, Some("Pooled")).get_version();
        (inline.expect("inline"), pooled.expect("pooled"))
    })
    .await;
    assert!(!inline.starts_with("ThriftServ-w-"), "{inline}");
    assert!(pooled.starts_with("ThriftServ-w-"), "{pooled}");
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_answers_an_exception() -> TestResult {
    let running = VService::new("Panics")
        .with_task(handler(
            "Panicky",
            TestHandler {
                panics: true,
                ..TestHandler::default()
            },
        ))
        .with_task(ThriftServerTask::new())
        .start_with_args(["panics", "--thrift-host", "127.0.0.1"])
        .await?;
    let port = port(running.handle());
    blocking(move || {
        let mut c = client(port, FRAMED_BINARY, None);
        assert!(app_error(c.get_status()).contains("handler panicked"));
        assert_eq!(c.get_name().expect("connection lives on"), "Panicky");
    })
    .await;
    running.shutdown().await?;
    Ok(())
}

/// Sends `bytes`, then waits (bounded) for the server to close the connection.
fn closed_after(port: u16, bytes: &[u8]) -> bool {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(bytes).expect("writes");
    let mut buf = [0u8; 64];
    matches!(stream.read(&mut buf), Ok(0) | Err(_))
        && !matches!(stream.read(&mut buf), Ok(n) if n > 0)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_closes_only_that_connection() -> TestResult {
    let running = VService::new("Bad")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new())
        .start_with_args([
            "bad",
            "--thrift-host",
            "127.0.0.1",
            "--thrift-max-frame-bytes",
            "65536",
            "--thrift-idle-timeout",
            "0.3",
        ])
        .await?;
    let port = port(running.handle());
    let handle = running.handle().clone();
    let rss = blocking(move || {
        let mut rss = Vec::new();
        for _round in 0..3 {
            for _ in 0..30 {
                // A frame over the limit, claimed and partly sent.
                let mut big = 1_000_000u32.to_be_bytes().to_vec();
                big.extend(vec![7u8; 60_000]);
                assert!(closed_after(port, &big), "oversized frame");
                // Random bytes inside a frame.
                let mut junk = 32u32.to_be_bytes().to_vec();
                junk.extend((0..32u8).map(|i| i.wrapping_mul(97).wrapping_add(13)));
                assert!(closed_after(port, &junk), "garbage");
                // Raw garbage where a frame header should be.
                assert!(closed_after(
                    port,
                    b"\xff\xff\xff\xffGET / HTTP/1.1\r\n\r\n"
                ));
            }
            // A truncated frame, then silence: the idle timeout closes it.
            let mut truncated = 100u32.to_be_bytes().to_vec();
            truncated.extend([0x80, 0x01, 0x00, 0x01]);
            assert!(closed_after(port, &truncated), "truncated frame");
            // A client that says nothing at all.
            assert!(closed_after(port, b""), "silent client");
            // A new client is served meanwhile (an old one would have idled out).
            let mut good = client(port, FRAMED_BINARY, None);
            assert_eq!(
                good.get_status().expect("others still served"),
                FbStatus::ALIVE
            );
            rss.push(rss_kib());
        }
        rss
    })
    .await;
    assert!(handle.counter("ThriftServerTask.bad_input")? >= 270.0);
    let text = handle
        .telemetry()
        .render(sparts_core::telemetry::Format::Prometheus)?;
    let prometheus = text
        .lines()
        .find_map(|l| l.strip_prefix(r#"sparts_server_bad_input_total{task="ThriftServerTask"} "#))
        .and_then(|v| v.parse::<f64>().ok());
    assert_eq!(
        prometheus,
        Some(handle.counter("ThriftServerTask.bad_input")?),
        "{text}"
    );
    assert!(handle.counter("ThriftServerTask.open_connections")? <= 1.0);
    // Memory after the third round is where it was after the first.
    assert!(rss[2] <= rss[0] + 4096, "RSS grew: {rss:?} KiB");
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_messages_split_across_writes_are_reassembled() -> TestResult {
    let running = VService::new("Split")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new())
        .start_with_args([
            "split",
            "--thrift-host",
            "127.0.0.1",
            "--thrift-transport",
            "buffered",
        ])
        .await?;
    let port = port(running.handle());
    let reply = blocking(move || {
        // getName() in strict binary: header, empty args struct.
        let mut call = vec![0x80, 0x01, 0x00, 0x01, 0, 0, 0, 7];
        call.extend(b"getName");
        call.extend([0, 0, 0, 9, 0]);
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        for byte in &call {
            stream.write_all(&[*byte]).expect("writes");
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut reply = vec![0u8; 64];
        let n = stream.read(&mut reply).expect("reply");
        reply.truncate(n);
        reply
    })
    .await;
    assert!(reply.windows(5).any(|w| w == b"Split"), "{reply:?}");
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_a_unix_socket_whose_peers_are_trusted() -> TestResult {
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::net::UnixStream;

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("thrift.sock");
    let running = VService::new("Unix")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new())
        .start_with_args([
            "unix".as_ref(),
            "--thrift-sock".as_ref(),
            path.as_os_str(),
            // No network peer may shut it down; a local one may.
            "--admin-trusted".as_ref(),
            "10.0.0.0/8".as_ref(),
        ])
        .await?;
    let task = running.handle().require::<ThriftServerTask>()?;
    assert_eq!(task.bound().unix_path(), Some(path.as_path()));
    assert_eq!(task.port(), None);
    assert_eq!(
        std::fs::metadata(&path)?.permissions().mode() & 0o777,
        0o600
    );
    let socket = path.clone();
    let reply = blocking(move || {
        let mut stream = UnixStream::connect(&socket).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        stream
            .write_all(&framed_call("getName", 1, 1))
            .expect("writes");
        let mut reply = vec![0u8; 64];
        let n = stream.read(&mut reply).expect("reply");
        reply.truncate(n);
        // The oneway shutdown, from a trusted local peer.
        stream
            .write_all(&framed_call("shutdown", 4, 2))
            .expect("writes");
        reply
    })
    .await;
    assert!(reply.windows(4).any(|w| w == b"Unix"), "{reply:?}");
    tokio::time::timeout(Duration::from_secs(10), running.wait()).await??;
    assert!(!path.exists(), "the socket file is removed at exit");
    Ok(())
}

#[tokio::test]
async fn a_host_and_a_socket_together_are_refused() {
    let refused = VService::new("Both")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new())
        .start_with_args([
            "both",
            "--thrift-host",
            "127.0.0.1",
            "--thrift-sock",
            "x.sock",
        ])
        .await
        .expect_err("conflicting flags");
    let message = refused.to_string();
    assert!(
        message.contains("--thrift-sock") && message.contains("--thrift-host"),
        "{message}"
    );
}
