//! The logging options on real processes: `--log-format json` (every line
//! parses), `--level` directives changed over the HTTP admin API (a bad one
//! refused, nothing changed), the access log of HTTP, gRPC and Thrift
//! (Thrift over HTTP too) when `--<prefix>-access-log` is on and not when
//! off, and bad logging options exiting 2 with the reason.

mod common;

use std::process::Command;

use common::{Example, PATIENCE, TestResult, client, run};
use serde_json::Value;

/// A log line as JSON; a line that is not JSON fails the test.
fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
}

/// The port of the next `<task> Server Started on .. (port N)` line.
fn logged_port(child: &mut Example, task: &str) -> TestResult<u16> {
    let line = json(&child.expect_line(&format!("{task} Server Started on "))?);
    let message = line["message"].as_str().ok_or("a message")?;
    let port = message
        .rsplit("(port ")
        .next()
        .and_then(|rest| rest.strip_suffix(')'))
        .ok_or_else(|| format!("no port in {message:?}"))?;
    Ok(port.parse()?)
}

fn is_access(line: &str) -> bool {
    line.contains(r#""target":"sparts::access""#)
}

/// The next access line, as JSON.
fn next_access(child: &mut Example) -> TestResult<Value> {
    let lines = child.expect_lines(1, is_access)?;
    Ok(json(&lines[0]))
}

/// Everything the child wrote once it exited, each line parsed.
fn all_lines(child: &mut Example) -> TestResult<Vec<Value>> {
    Ok(child.output()?.lines().map(json).collect())
}

/// SIGTERMs the child, checks that it exits 0, and gives everything it
/// wrote, each line parsed.
fn stop(child: &mut Example) -> TestResult<Vec<Value>> {
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    all_lines(child)
}

/// How many of `lines` are access lines.
fn access_count(lines: &[Value]) -> usize {
    lines
        .iter()
        .filter(|l| l["target"] == "sparts::access")
        .count()
}

fn message(line: &Value) -> &str {
    line["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn http_access_lines_and_level_directives_change_over_http_admin() -> TestResult {
    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_http_app"),
        &[
            "--http-port",
            "0",
            "--log-format",
            "json",
            "--http-access-log",
        ],
    )?;
    let port = logged_port(&mut child, "HttpTask")?;
    child.expect_line("All tasks started")?;
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let c = client();

    let put = c.put(url("/kv/greeting")).body("hello").send().await?;
    assert_eq!(put.status().as_u16(), 200);
    let line = next_access(&mut child)?;
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["message"], "request");
    assert_eq!(line["task"], "HttpTask");
    assert_eq!(line["method"], "PUT");
    assert_eq!(line["route"], "/kv/{key}", "the template, not the path");
    assert_eq!(line["status"], 200);
    assert_eq!(line["peer"], "127.0.0.1");
    assert!(
        line["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
        "{line}"
    );

    assert_eq!(c.get(url("/nowhere")).send().await?.status().as_u16(), 404);
    let line = next_access(&mut child)?;
    assert_eq!(
        (&line["method"], &line["status"]),
        (&"GET".into(), &404.into())
    );
    assert!(line.get("route").is_none(), "no route matched: {line}");

    // Built-in endpoints are not logged; the next line is the user's GET.
    assert_eq!(c.get(url("/metrics")).send().await?.status().as_u16(), 200);
    assert_eq!(
        c.get(url("/kv/greeting")).send().await?.status().as_u16(),
        200
    );
    let line = next_access(&mut child)?;
    assert_eq!(
        (&line["method"], &line["route"]),
        (&"GET".into(), &"/kv/{key}".into())
    );

    // --level at run time, over the admin API: access lines off by target...
    let set = |value: &'static str| c.put(url("/admin/options/level")).body(value).send();
    assert_eq!(
        set("info,sparts::access=warn").await?.status().as_u16(),
        200
    );
    child.expect_line(r#"option level set to \"info,sparts::access=warn\""#)?;
    assert_eq!(
        c.get(url("/kv/hidden")).send().await?.status().as_u16(),
        404
    );
    // ...a bad directive refused with the reason, nothing changed...
    let refused = set("info,h2=loud").await?;
    assert_eq!(refused.status().as_u16(), 400);
    let reason = refused.text().await?;
    assert!(
        reason.contains("`loud` in `h2=loud` is not a log level"),
        "{reason}"
    );
    assert_eq!(
        c.get(url("/kv/still-hidden"))
            .send()
            .await?
            .status()
            .as_u16(),
        404
    );
    // ...and back on at debug for that target.
    assert_eq!(
        set("info,sparts::access=debug").await?.status().as_u16(),
        200
    );
    child.expect_line(r#"option level set to \"info,sparts::access=debug\""#)?;
    assert_eq!(c.get(url("/kv/shown")).send().await?.status().as_u16(), 404);
    let line = next_access(&mut child)?;
    assert_eq!(line["status"], 404);

    // The access log itself switches off at run time.
    let off = c
        .put(url("/admin/options/http_access_log"))
        .body("false")
        .send();
    assert_eq!(off.await?.status().as_u16(), 200);
    child.expect_line("HttpTask access log off")?;
    assert_eq!(
        c.get(url("/kv/unlogged")).send().await?.status().as_u16(),
        404
    );

    let lines = stop(&mut child)?;
    let access = access_count(&lines);
    assert_eq!(
        access, 4,
        "hidden, refused and unlogged requests wrote none"
    );
    let option_lines: Vec<&str> = lines
        .iter()
        .map(message)
        .filter(|m| m.starts_with("option "))
        .collect();
    assert_eq!(
        option_lines,
        [
            r#"option level set to "info,sparts::access=warn""#,
            r#"option level set to "info,sparts::access=debug""#,
            r#"option http_access_log set to "false""#,
        ],
        "the refused change logged nothing"
    );
    Ok(())
}

#[tokio::test]
async fn http_writes_no_access_lines_by_default() -> TestResult {
    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_http_app"),
        &["--http-port", "0", "--log-format", "json"],
    )?;
    let port = logged_port(&mut child, "HttpTask")?;
    child.expect_line("All tasks started")?;
    let got = client()
        .get(format!("http://127.0.0.1:{port}/kv/x"))
        .send()
        .await?;
    assert_eq!(got.status().as_u16(), 404);
    let lines = stop(&mut child)?;
    assert!(
        lines
            .iter()
            .any(|l| message(l) == "Instance shut down gracefully")
    );
    assert_eq!(access_count(&lines), 0);
    Ok(())
}

// Multi-threaded: the client's connection must answer the server's
// shutdown PING while the test thread blocks waiting for the exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_calls_are_access_logged_but_not_health_checks() -> TestResult {
    use sparts::grpc::pb::helloworld::HelloRequest;
    use sparts::grpc::pb::helloworld::greeter_client::GreeterClient;
    use sparts::grpc::tonic_health::pb::HealthCheckRequest;
    use sparts::grpc::tonic_health::pb::health_client::HealthClient;

    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_grpc_hello"),
        &[
            "--grpc-port",
            "0",
            "--log-format",
            "json",
            "--grpc-access-log",
        ],
    )?;
    let port = logged_port(&mut child, "GrpcTask")?;
    child.expect_line("All tasks started")?;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .timeout(PATIENCE)
        .connect()
        .await?;
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await?;
    GreeterClient::new(channel)
        .say_hello(HelloRequest { name: "you".into() })
        .await?;
    let line = next_access(&mut child)?;
    assert_eq!(line["task"], "GrpcTask");
    assert_eq!(line["system"], "grpc");
    assert_eq!(line["service"], "helloworld.Greeter");
    assert_eq!(line["method"], "SayHello");
    assert_eq!(line["status"], "OK");
    assert_eq!(line["peer"], "127.0.0.1");
    assert!(line["duration_ms"].is_number(), "{line}");
    let lines = stop(&mut child)?;
    let access = access_count(&lines);
    assert_eq!(access, 1, "the health check is not logged");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thrift_calls_are_access_logged_on_the_port_and_over_http() -> TestResult {
    use sparts::thrift::ThriftClient;
    use sparts::thrift::fb303::{FacebookServiceSyncClient, TFacebookServiceSyncClient};

    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_thrift_fb303"),
        &[
            "--thrift-port",
            "0",
            "--http-port",
            "0",
            "--log-format",
            "json",
            "--thrift-access-log",
            "--http-access-log",
        ],
    )?;
    let thrift_port = logged_port(&mut child, "ThriftServerTask")?;
    let http_port = logged_port(&mut child, "HttpTask")?;
    child.expect_line("All tasks started")?;
    let tcp = ThriftClient::new(
        FacebookServiceSyncClient::new,
        format!("127.0.0.1:{thrift_port}"),
    );
    tcp.call(|c| c.get_name()).await?;
    let line = next_access(&mut child)?;
    assert_eq!(line["task"], "ThriftServerTask");
    assert_eq!(line["system"], "thrift");
    assert_eq!(line["method"], "getName");
    assert_eq!(line["status"], "OK");
    assert_eq!(line["peer"], "127.0.0.1");
    assert_eq!(line["service"], "fb303", "the handler task's service name");

    let web = ThriftClient::http(
        FacebookServiceSyncClient::new,
        format!("http://127.0.0.1:{http_port}/thrift"),
    );
    web.call(|c| c.get_status()).await?;
    let mut lines: Vec<Value> = child
        .expect_lines(2, is_access)?
        .iter()
        .map(|l| json(l))
        .collect();
    // The Thrift line is written inside the HTTP request, before its line.
    lines.sort_by_key(|l| l["system"].is_null());
    let (rpc, http) = (&lines[0], &lines[1]);
    assert_eq!(
        (&rpc["task"], &rpc["system"]),
        (&"HttpTask".into(), &"thrift".into())
    );
    assert_eq!(
        (&rpc["service"], &rpc["method"]),
        (&"FacebookService".into(), &"getStatus".into()),
        "the processor's service name"
    );
    assert_eq!(rpc["status"], "OK");
    assert_eq!(
        (&http["method"], &http["route"]),
        (&"POST".into(), &"/thrift".into())
    );
    assert_eq!(http["status"], 200);

    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    all_lines(&mut child)?;
    Ok(())
}

#[test]
fn thrift_exceptions_are_application_errors_in_the_access_log() -> TestResult {
    use sparts_examples::foobar::{FooServiceSyncClient, TFooServiceSyncClient};
    use thrift::protocol::{
        TBinaryInputProtocol, TBinaryOutputProtocol, TMultiplexedOutputProtocol,
    };
    use thrift::transport::{TFramedReadTransport, TFramedWriteTransport, TIoChannel, TTcpChannel};

    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_thrift_multiplexed"),
        &[
            "--thrift-port",
            "0",
            "--log-format",
            "json",
            "--thrift-access-log",
        ],
    )?;
    let port = logged_port(&mut child, "ThriftServerTask")?;
    child.expect_line("All tasks started")?;
    let client = |service: &str| -> TestResult<_> {
        let mut channel = TTcpChannel::new();
        channel.open(format!("127.0.0.1:{port}"))?;
        let (read, write) = channel.split()?;
        let output = TBinaryOutputProtocol::new(TFramedWriteTransport::new(write), true);
        Ok(FooServiceSyncClient::new(
            TBinaryInputProtocol::new(TFramedReadTransport::new(read), true),
            TMultiplexedOutputProtocol::new(service, output),
        ))
    };
    assert_eq!(client("FooHandler")?.make_foos(1)?, "foo");
    let line = next_access(&mut child)?;
    assert_eq!(
        (&line["service"], &line["method"]),
        (&"FooHandler".into(), &"makeFoos".into())
    );
    assert_eq!(line["status"], "OK");
    // `bar` is a BarService: it has no makeFoos.
    assert!(client("bar")?.make_foos(1).is_err());
    let line = next_access(&mut child)?;
    assert_eq!(
        (&line["service"], &line["method"]),
        (&"bar".into(), &"makeFoos".into())
    );
    assert_eq!(line["status"], "APPLICATION_ERROR");
    assert!(client("nobody")?.make_foos(1).is_err());
    let line = next_access(&mut child)?;
    assert_eq!(
        (&line["service"], &line["status"]),
        (&"nobody".into(), &"APPLICATION_ERROR".into())
    );
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

#[test]
fn bad_logging_options_exit_2_with_the_reason() -> TestResult {
    let bin = env!("CARGO_BIN_EXE_http_hello");
    for (args, reason) in [
        (
            ["--level", "info,h2=loud"],
            "`loud` in `h2=loud` is not a log level",
        ),
        (["--level", "verbose"], "`verbose` is not a log level"),
        (["--log-format", "xml"], "[possible values: text, json]"),
    ] {
        let (status, output) = run(Command::new(bin).args(args))?;
        assert_eq!(status.code(), Some(2), "{args:?}: {output}");
        assert!(
            output.contains(reason) && output.contains(args[0]),
            "{args:?}: {output}"
        );
    }
    Ok(())
}
