//! systemd socket activation as real processes: `systemd-socket-activate`
//! (Debian's systemd package) listens, then runs the example on the first
//! connection with the socket as fd 3, the way a `.socket` unit does. The
//! HTTP, gRPC and Thrift examples answer on it, keep it across a SIGHUP
//! restart, and refuse to start (exit 1, with a message) on a socket no
//! task can take or a `LISTEN_FDS` that is not a number.
//!
//! Without `systemd-socket-activate` the tests that need it print a note
//! and pass; CI installs it.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use common::{Example, PATIENCE, TestResult, client, run};
use nix::sys::signal::Signal;

const ACTIVATE: &str = "/usr/bin/systemd-socket-activate";

/// A TCP port on loopback that was free a moment ago, for the tool to
/// listen on (it takes no port 0).
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `bin` with `args` under `systemd-socket-activate` on 127.0.0.1 (the
/// socket named `fdname`, or unnamed), once the tool listens, and the port;
/// `None` (with a note) when the tool is missing. The example itself starts
/// at the first connection.
fn activated(bin: &str, fdname: Option<&str>, args: &[&str]) -> TestResult<Option<(Example, u16)>> {
    let port = free_port()?;
    let child = activated_on(&format!("127.0.0.1:{port}"), bin, fdname, args)?;
    Ok(child.map(|child| (child, port)))
}

/// `bin` with `args` under `systemd-socket-activate` listening on `listen`
/// (an address or a unix socket's path), as [`activated`] does.
fn activated_on(
    listen: &str,
    bin: &str,
    fdname: Option<&str>,
    args: &[&str],
) -> TestResult<Option<Example>> {
    if !Path::new(ACTIVATE).exists() {
        eprintln!("note: {ACTIVATE} is missing (Debian's systemd package): test skipped");
        return Ok(None);
    }
    let mut command = Command::new(ACTIVATE);
    command.arg(format!("--listen={listen}"));
    if let Some(name) = fdname {
        command.arg(format!("--fdname={name}"));
    }
    command.arg(bin).args(args);
    let mut child = Example::spawn_command(&mut command)?;
    child.expect_line(&format!("Listening on {listen} as 3"))?;
    Ok(Some(child))
}

/// `child`'s exit code and output, once a connection made it start and it
/// gave up.
fn start_failure(mut child: Example, port: u16) -> TestResult<(Option<i32>, String)> {
    let _first = TcpStream::connect(("127.0.0.1", port))?;
    let status = child.wait_exit()?;
    Ok((status.code(), child.output()?))
}

#[tokio::test]
async fn http_hello_answers_on_the_lone_unnamed_socket() -> TestResult {
    let Some((mut child, port)) = activated(env!("CARGO_BIN_EXE_http_hello"), None, &[])? else {
        return Ok(());
    };
    let url = format!("http://127.0.0.1:{port}/");
    // The first connection starts the service, which then answers it.
    let body = client().get(&url).send().await?.text().await?;
    assert_eq!(body, "Hello, world");
    child.expect_line("HttpTask listens on the socket systemd passed as fd 3 (unnamed)")?;
    assert_eq!(child.logged_port("HttpTask")?, port);
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

#[tokio::test]
async fn http_hello_keeps_its_socket_across_a_sighup_restart() -> TestResult {
    let Some((mut child, port)) = activated(env!("CARGO_BIN_EXE_http_hello"), Some("http"), &[])?
    else {
        return Ok(());
    };
    let url = format!("http://127.0.0.1:{port}/");
    assert_eq!(
        client().get(&url).send().await?.text().await?,
        "Hello, world"
    );
    child.expect_line("as fd 3 (named `http`)")?;
    child.expect_line("All tasks started")?;
    child.signal(Signal::SIGHUP)?;
    child.expect_line("Restarting")?;
    // The new generation listens on the same socket, not a new port.
    assert_eq!(child.logged_port("HttpTask")?, port);
    child.expect_line("All tasks started")?;
    assert_eq!(
        client().get(&url).send().await?.text().await?,
        "Hello, world"
    );
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

#[test]
fn http_hello_answers_on_a_unix_socket_and_leaves_its_file() -> TestResult {
    use std::io::{Read as _, Write as _};
    use std::os::unix::net::UnixStream;

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("http.sock");
    let listen = path.to_str().ok_or("a UTF-8 path")?;
    let Some(mut child) =
        activated_on(listen, env!("CARGO_BIN_EXE_http_hello"), Some("http"), &[])?
    else {
        return Ok(());
    };
    let get = |path: &Path| -> std::io::Result<String> {
        let mut stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(PATIENCE))?;
        stream.write_all(b"GET / HTTP/1.1\r\nHost: sock\r\nConnection: close\r\n\r\n")?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply)?;
        Ok(reply)
    };
    let reply = get(&path)?;
    assert!(reply.ends_with("Hello, world"), "{reply}");
    child.expect_line(&format!("HttpTask Server Started on unix socket {listen}"))?;
    child.expect_line("All tasks started")?;
    // A restart drops its listener: the file, systemd's, stays.
    child.signal(Signal::SIGHUP)?;
    child.expect_line("Restarting")?;
    child.expect_line("All tasks started")?;
    let reply = get(&path)?;
    assert!(reply.ends_with("Hello, world"), "{reply}");
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(path.exists(), "the socket file is the tool's to remove");
    Ok(())
}

// Multi-threaded: the client's connection must answer the server's
// shutdown PING while the test thread blocks waiting for the exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_hello_greets_on_the_socket_named_grpc() -> TestResult {
    use sparts::grpc::pb::helloworld::HelloRequest;
    use sparts::grpc::pb::helloworld::greeter_client::GreeterClient;

    let Some((mut child, port)) = activated(env!("CARGO_BIN_EXE_grpc_hello"), Some("grpc"), &[])?
    else {
        return Ok(());
    };
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .timeout(PATIENCE)
        .connect()
        .await?;
    let reply = GreeterClient::new(channel)
        .say_hello(HelloRequest { name: "you".into() })
        .await?
        .into_inner();
    assert_eq!(reply.message, "Hello you!");
    child.expect_line("GrpcTask listens on the socket systemd passed as fd 3 (named `grpc`)")?;
    assert_eq!(child.logged_port("GrpcTask")?, port);
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thrift_fb303_serves_on_the_socket_named_thrift_and_binds_http_itself() -> TestResult {
    use sparts::thrift::ThriftClient;
    use sparts::thrift::fb303::{FacebookServiceSyncClient, FbStatus, TFacebookServiceSyncClient};

    let Some((mut child, port)) = activated(
        env!("CARGO_BIN_EXE_thrift_fb303"),
        Some("thrift"),
        &["--http-port", "0"],
    )?
    else {
        return Ok(());
    };
    // A first connection starts the service; the call waits until it is
    // ALIVE (a call in its first instants could see it STARTING).
    let first = TcpStream::connect(("127.0.0.1", port))?;
    assert_eq!(child.logged_port("ThriftServerTask")?, port);
    // The task with no socket of its name binds as its options say.
    assert_ne!(child.logged_port("HttpTask")?, port);
    child.expect_line("All tasks started")?;
    drop(first);
    let tcp = ThriftClient::new(FacebookServiceSyncClient::new, format!("127.0.0.1:{port}"));
    assert_eq!(tcp.call(|c| c.get_status()).await?, FbStatus::ALIVE);
    let status =
        tokio::task::spawn_blocking(move || child.sigterm().map_err(|e| e.to_string())).await??;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

#[test]
fn an_unnamed_socket_with_two_server_tasks_is_ambiguous() -> TestResult {
    let Some((child, port)) = activated(
        env!("CARGO_BIN_EXE_thrift_fb303"),
        None,
        &["--http-port", "0"],
    )?
    else {
        return Ok(());
    };
    let (code, output) = start_failure(child, port)?;
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("the unnamed fd 3 is ambiguous"), "{output}");
    assert!(output.contains("--fdname=<prefix>"), "{output}");
    assert!(!output.contains("panicked"), "{output}");
    Ok(())
}

#[test]
fn a_socket_named_for_no_task_stops_the_start() -> TestResult {
    let Some((child, port)) = activated(env!("CARGO_BIN_EXE_http_hello"), Some("nope"), &[])?
    else {
        return Ok(());
    };
    let (code, output) = start_failure(child, port)?;
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("fd 3 (named `nope`) matches no server task"),
        "{output}"
    );
    assert!(
        output.contains("the prefixes of the server tasks: http"),
        "{output}"
    );
    assert!(!output.contains("panicked"), "{output}");
    Ok(())
}

#[test]
fn a_listen_fds_that_is_not_a_number_stops_the_start() -> TestResult {
    // LISTEN_PID must be the service's own pid: the shell's, which `exec`
    // hands on.
    let script = r#"LISTEN_PID=$$ LISTEN_FDS=abc exec "$0" --http-port 0"#;
    let bin = env!("CARGO_BIN_EXE_http_hello");
    let (status, output) = run(Command::new("sh").args(["-c", script, bin]))?;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("socket activation: LISTEN_FDS is `abc`, not a number"),
        "{output}"
    );
    assert!(
        !output.contains("Server Started"),
        "nothing bound: {output}"
    );
    assert!(!output.contains("panicked"), "{output}");
    Ok(())
}
