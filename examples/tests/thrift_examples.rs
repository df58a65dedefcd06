//! The Thrift examples as real processes, called by the generated Rust
//! clients over real sockets.

mod common;

use common::{Example, TestResult};
use sparts_examples::foobar::{
    BarServiceSyncClient, FooServiceSyncClient, TBarServiceSyncClient, TFooServiceSyncClient,
};
use thrift::protocol::{
    TBinaryInputProtocol, TBinaryOutputProtocol, TInputProtocol, TMultiplexedOutputProtocol,
    TOutputProtocol,
};
use thrift::transport::{TFramedReadTransport, TFramedWriteTransport, TIoChannel, TTcpChannel};

type Input = Box<dyn TInputProtocol + Send>;
type Output = Box<dyn TOutputProtocol + Send>;

/// Framed binary protocols to 127.0.0.1:`port`, multiplexed under `service`.
fn protocols(port: u16, service: &str) -> thrift::Result<(Input, Output)> {
    let mut channel = TTcpChannel::new();
    channel.open(format!("127.0.0.1:{port}"))?;
    let (read, write) = channel.split()?;
    let output = TBinaryOutputProtocol::new(TFramedWriteTransport::new(write), true);
    Ok((
        Box::new(TBinaryInputProtocol::new(
            TFramedReadTransport::new(read),
            true,
        )),
        Box::new(TMultiplexedOutputProtocol::new(service, output)),
    ))
}

#[test]
fn thrift_multiplexed_routes_by_service_name_and_exits_0_on_sigterm() -> TestResult {
    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_thrift_multiplexed"),
        &["--thrift-port", "0", "--thrift-idle-timeout", "30"],
    )?;
    let port = child.logged_port("ThriftServerTask")?;
    // Ready: ports are logged in init, the status is ALIVE only after.
    child.expect_line("All tasks started")?;
    let (i, o) = protocols(port, "FooHandler")?;
    let mut foo = FooServiceSyncClient::new(i, o);
    assert_eq!(foo.make_foos(3)?, "foofoofoo");
    let (i, o) = protocols(port, "bar")?;
    let mut bar = BarServiceSyncClient::new(i, o);
    assert_eq!(bar.make_bars(2)?, "barbar");
    // A FooService call under the name `bar` fails cleanly...
    let (i, o) = protocols(port, "bar")?;
    let mut foo_on_bar = FooServiceSyncClient::new(i, o);
    match foo_on_bar.make_foos(1) {
        Err(thrift::Error::Application(e)) => assert!(e.message.contains("makeFoos"), "{e:?}"),
        other => panic!("expected an unknown-method exception, got {other:?}"),
    }
    // ...and leaves that connection, and the others, working.
    match foo_on_bar.make_foos(0) {
        Err(thrift::Error::Application(_)) => {}
        other => panic!("expected the same exception again, got {other:?}"),
    }
    assert_eq!(foo.make_foos(0)?, "");
    assert_eq!(bar.make_bars(1)?, "bar");
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thrift_fb303_answers_on_its_port_and_over_http_and_shuts_down() -> TestResult {
    use sparts::thrift::ThriftClient;
    use sparts::thrift::fb303::{FacebookServiceSyncClient, FbStatus, TFacebookServiceSyncClient};

    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_thrift_fb303"),
        &["--thrift-port", "0", "--http-port", "0"],
    )?;
    let thrift_port = child.logged_port("ThriftServerTask")?;
    let http_port = child.logged_port("HttpTask")?;
    // Ready: ports are logged in init, the status is ALIVE only after.
    child.expect_line("All tasks started")?;
    let tcp = ThriftClient::new(
        FacebookServiceSyncClient::new,
        format!("127.0.0.1:{thrift_port}"),
    );
    let web = ThriftClient::http(
        FacebookServiceSyncClient::new,
        format!("http://127.0.0.1:{http_port}/thrift"),
    );
    assert_eq!(tcp.call(|c| c.get_status()).await?, FbStatus::ALIVE);
    assert_eq!(web.call(|c| c.get_status()).await?, FbStatus::ALIVE);
    assert_eq!(web.call(|c| c.get_name()).await?, "Fb303Service");
    let counters = tcp.call(|c| c.get_counters()).await?;
    assert_eq!(counters.get("HttpTask.thrift.requests"), Some(&2));
    assert!(counters["ThriftServerTask.requests"] >= 2);
    // The oneway shutdown over HTTP, from loopback (trusted): a clean exit.
    web.call(|c| c.shutdown()).await?;
    let status = tokio::task::spawn_blocking(move || child.wait_exit()).await??;
    assert_eq!(status.code(), Some(0));
    Ok(())
}
