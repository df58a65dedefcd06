//! The `demo` example as a real process on free ports: every transport
//! answers from outside, the same counter reads the same everywhere, and a
//! shutdown through one transport ends the process with every port closed.
//! D-Bus is checked when a session bus is there (`dbus-run-session`).

mod common;

use std::net::TcpStream;

use common::{Example, PATIENCE, TestResult};
use sparts::dbus::zbus;
use sparts::grpc::pb::admin::GetCounterRequest;
use sparts::grpc::pb::admin::admin_client::AdminClient;
use sparts::grpc::tonic_health::pb::HealthCheckRequest;
use sparts::grpc::tonic_health::pb::health_check_response::ServingStatus;
use sparts::grpc::tonic_health::pb::health_client::HealthClient;
use sparts::thrift::ThriftClient;
use sparts::thrift::fb303::{FacebookServiceSyncClient, FbStatus, TFacebookServiceSyncClient};

/// A counter that holds still: the producer runs once at start and then
/// not for an hour.
const COUNTER: &str = "Producer.n_iterations";

#[zbus::proxy(
    interface = "com.facebook.fb303.Service",
    default_path = "/Demo/fb303",
    crate = "sparts::dbus::zbus"
)]
trait Fb303 {
    #[zbus(name = "getStatus")]
    fn get_status(&self) -> zbus::Result<String>;
    #[zbus(name = "getCounter")]
    fn get_counter(&self, name: &str) -> zbus::Result<i64>;
}

/// The D-Bus view, when a session bus is there: status and the counter.
async fn over_dbus(bus_name: &str) -> Result<Option<(String, i64)>, Box<dyn std::error::Error>> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        eprintln!("no session bus: D-Bus part skipped (run under dbus-run-session)");
        return Ok(None);
    }
    let conn = zbus::Connection::session().await?;
    let fb303 = Fb303Proxy::builder(&conn)
        .destination(bus_name.to_owned())?
        .build()
        .await?;
    Ok(Some((
        fb303.get_status().await?,
        fb303.get_counter(COUNTER).await?,
    )))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_speaks_every_transport_with_one_admin_model() -> TestResult {
    let bus_name = format!("org.sparts.DemoTest{}", std::process::id());
    let mut child = Example::spawn_command(&mut common::demo_command(&bus_name, &[]))?;
    let (http, grpc, thrift) = child.demo_ports()?;
    let web = reqwest::Client::builder().timeout(PATIENCE).build()?;
    let base = format!("http://127.0.0.1:{http}");

    // HTTP.
    assert_eq!(
        web.get(format!("{base}/")).send().await?.text().await?,
        "Hello, world"
    );
    assert!(
        web.get(format!("{base}/readyz"))
            .send()
            .await?
            .status()
            .is_success()
    );
    let counters: std::collections::BTreeMap<String, f64> = serde_json::from_str(
        &web.get(format!("{base}/admin/counters?filter=^{COUNTER}$"))
            .send()
            .await?
            .text()
            .await?,
    )?;
    let over_http = counters[COUNTER];

    // gRPC.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{grpc}"))?
        .timeout(PATIENCE)
        .connect()
        .await?;
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?
        .into_inner();
    assert_eq!(health.status(), ServingStatus::Serving);
    let over_grpc = AdminClient::new(channel)
        .get_counter(GetCounterRequest {
            name: COUNTER.to_owned(),
        })
        .await?
        .into_inner()
        .value;

    // Thrift, on its multiplexed port and over HTTP.
    let tcp = ThriftClient::new(
        FacebookServiceSyncClient::new,
        format!("127.0.0.1:{thrift}"),
    )
    .multiplexed("fb303");
    let post = ThriftClient::http(FacebookServiceSyncClient::new, format!("{base}/thrift"));
    assert_eq!(tcp.call(|c| c.get_status()).await?, FbStatus::ALIVE);
    assert_eq!(post.call(|c| c.get_status()).await?, FbStatus::ALIVE);
    let over_thrift = tcp.call(|c| c.get_counter(COUNTER.to_owned())).await?;
    let over_thrift_http = post.call(|c| c.get_counter(COUNTER.to_owned())).await?;

    // A plain fb303 client, as monitoring tools are: the default service.
    let plain = ThriftClient::new(
        FacebookServiceSyncClient::new,
        format!("127.0.0.1:{thrift}"),
    );
    assert_eq!(plain.call(|c| c.get_name()).await?, "Demo");

    // The fb303 commands the demo printed for the person who started it.
    let printed = child.seen_or_next(2, |line| line.contains("--bin fb303_client -- "))?;
    for line in printed {
        let args = line
            .split_once(" -- ")
            .map(|(_, rest)| rest.split('#').next().unwrap_or(rest))
            .ok_or("no arguments")?;
        let (status, out) = common::run(
            std::process::Command::new(env!("CARGO_BIN_EXE_fb303_client"))
                .args(args.split_whitespace()),
        )?;
        assert!(status.success(), "{line}: {out}");
        assert!(
            out.contains("ALIVE") || out.contains(COUNTER),
            "{line}: {out}"
        );
    }

    // The same value everywhere.
    assert!(over_http >= 0.0);
    assert_eq!(over_grpc, over_http);
    #[allow(clippy::cast_precision_loss)] // small integers
    let (t, th) = (over_thrift as f64, over_thrift_http as f64);
    assert_eq!((t, th), (over_http, over_http));
    if let Some((status, value)) = over_dbus(&bus_name).await? {
        assert_eq!(status, "ALIVE");
        #[allow(clippy::cast_precision_loss)]
        let value = value as f64;
        assert_eq!(value, over_http);
    }

    // Shut down through Thrift: exit 0, every transport closed.
    tcp.call(|c| c.shutdown()).await?;
    let status = tokio::task::spawn_blocking(move || child.wait_exit()).await??;
    assert_eq!(status.code(), Some(0));
    for port in [http, grpc, thrift] {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} closed"
        );
    }
    Ok(())
}
