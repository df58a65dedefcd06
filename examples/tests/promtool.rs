//! The demo's `/metrics` after traffic over HTTP, gRPC and Thrift, checked
//! by Prometheus' own linter: `promtool check metrics` (Debian's
//! `prometheus` package) must find nothing. Skipped, saying so, where
//! promtool is not installed; CI installs it.

mod common;

use std::io::Write as _;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::channel;

use common::{Example, PATIENCE, TestResult};
use sparts::grpc::pb::admin::GetCounterRequest;
use sparts::grpc::pb::admin::admin_client::AdminClient;
use sparts::grpc::pb::helloworld::HelloRequest;
use sparts::grpc::pb::helloworld::greeter_client::GreeterClient;
use sparts::thrift::ThriftClient;
use sparts::thrift::fb303::{FacebookServiceSyncClient, FbStatus, TFacebookServiceSyncClient};
use sparts_examples::foobar::{FooServiceSyncClient, TFooServiceSyncClient};

/// What `promtool check metrics` says of `text` (its exit status and
/// output), or `None` where it is not installed.
fn promtool_check(text: &str) -> TestResult<Option<(ExitStatus, String)>> {
    let spawned = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id())?);
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    stdin.write_all(text.as_bytes())?;
    drop(stdin);
    // Waited for on a thread of its own, so the wait is bounded and the
    // output pipes are read while it runs.
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(output) = rx.recv_timeout(PATIENCE) else {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        return Err(format!("promtool did not finish within {PATIENCE:?}").into());
    };
    let output = output?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(Some((output.status, said)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_finds_nothing_on_the_demos_metrics_after_traffic() -> TestResult {
    let bus_name = format!("org.sparts.PromtoolTest{}", std::process::id());
    let mut child = Example::spawn_command(&mut common::demo_command(&bus_name, &[]))?;
    let (http, grpc, thrift) = child.demo_ports()?;
    let web = reqwest::Client::builder().timeout(PATIENCE).build()?;
    let base = format!("http://127.0.0.1:{http}");

    // HTTP: routes with and without parameters, and one no route matches.
    for (path, status) in [("/", 200), ("/hello/promtool", 200), ("/no/such", 404)] {
        let got = web.get(format!("{base}{path}")).send().await?.status();
        assert_eq!(got.as_u16(), status, "{path}");
    }
    // gRPC: a call that succeeds and one that fails.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{grpc}"))?
        .timeout(PATIENCE)
        .connect()
        .await?;
    let reply = GreeterClient::new(channel.clone())
        .say_hello(HelloRequest {
            name: "promtool".into(),
        })
        .await?
        .into_inner();
    assert_eq!(reply.message, "Hello promtool!");
    let missing = AdminClient::new(channel)
        .get_counter(GetCounterRequest {
            name: "No.such".into(),
        })
        .await
        .expect_err("no such counter");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    // Thrift: two services on the multiplexed port, an exception, and
    // fb303 over HTTP.
    let address = format!("127.0.0.1:{thrift}");
    let fb303 =
        ThriftClient::new(FacebookServiceSyncClient::new, address.clone()).multiplexed("fb303");
    assert_eq!(fb303.call(|c| c.get_status()).await?, FbStatus::ALIVE);
    assert!(
        fb303
            .call(|c| c.get_counter("No.such".into()))
            .await
            .is_err()
    );
    let foo = ThriftClient::new(FooServiceSyncClient::new, address).multiplexed("FooHandler");
    assert_eq!(foo.call(|c| c.make_foos(2)).await?, "foofoo");
    let post = ThriftClient::http(FacebookServiceSyncClient::new, format!("{base}/thrift"));
    assert_eq!(post.call(|c| c.get_status()).await?, FbStatus::ALIVE);

    let text = web
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    // The traffic is there, by transport, before the linter reads it.
    for want in [
        r#"http_server_request_duration_seconds_count{task="HttpTask",method="GET",route="/hello/{name}",status="200"} 1"#,
        r#"rpc_server_call_duration_seconds_count{task="GrpcTask",system="grpc",service="helloworld.Greeter",method="SayHello",code="OK"} 1"#,
        r#"rpc_server_call_duration_seconds_count{task="GrpcTask",system="grpc",service="sparts.admin.v1.Admin",method="GetCounter",code="NOT_FOUND"} 1"#,
        r#"rpc_server_call_duration_seconds_count{task="ThriftServerTask",system="thrift",service="FooHandler",method="makeFoos",code="OK"} 1"#,
        r#"rpc_server_call_duration_seconds_count{task="ThriftServerTask",system="thrift",service="fb303",method="getCounter",code="APPLICATION_ERROR"} 1"#,
        r#"rpc_server_call_duration_seconds_count{task="HttpTask",system="thrift",service="FacebookService",method="getStatus",code="OK"} 1"#,
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }

    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    let Some((status, said)) = promtool_check(&text)? else {
        eprintln!(
            "promtool not found: `promtool check metrics` skipped (apt-get install prometheus)"
        );
        return Ok(());
    };
    assert!(
        status.success() && said.trim().is_empty(),
        "promtool check metrics ({status}):\n{said}\non:\n{text}"
    );
    Ok(())
}
