//! The built-in objects over a peer-to-peer connection: no bus needed.

use std::collections::HashMap;

use sparts_core::{BoxError, RunningService, TaskContext, VService, VTask};
use tokio::net::UnixStream;
use zbus::connection::Builder;
use zbus::zvariant::{OwnedValue, Value};
use zbus::{Connection, Guid};

#[zbus::proxy(
    interface = "org.sparts.Service",
    default_service = "org.sparts.P2p",
    default_path = "/P2p/sparts"
)]
trait Sparts {
    #[zbus(name = "getOption")]
    fn get_option(&self, name: &str) -> zbus::Result<OwnedValue>;
    #[zbus(name = "setOption")]
    fn set_option(&self, name: &str, value: &Value<'_>) -> zbus::Result<()>;
    #[zbus(name = "getOptions")]
    fn get_options(&self) -> zbus::Result<HashMap<String, OwnedValue>>;
    #[zbus(name = "listOptions")]
    fn list_options(&self) -> zbus::Result<Vec<String>>;
    #[zbus(name = "listTasks")]
    fn list_tasks(&self) -> zbus::Result<Vec<String>>;
    #[zbus(name = "uptime")]
    fn uptime(&self) -> zbus::Result<i64>;
    #[zbus(name = "shutdown")]
    fn shutdown(&self) -> zbus::Result<()>;
    #[zbus(property, name = "Status")]
    fn status(&self) -> zbus::Result<String>;
}

#[zbus::proxy(
    interface = "com.facebook.fb303.Service",
    default_service = "org.sparts.P2p",
    default_path = "/P2p/fb303"
)]
trait Fb303 {
    #[zbus(name = "getName")]
    fn get_name(&self) -> zbus::Result<String>;
    #[zbus(name = "getStatus")]
    fn get_status(&self) -> zbus::Result<String>;
    #[zbus(name = "getCounter")]
    fn get_counter(&self, name: &str) -> zbus::Result<i64>;
    #[zbus(name = "getCounters")]
    fn get_counters(&self) -> zbus::Result<HashMap<String, i64>>;
    #[zbus(name = "getOption")]
    fn get_option(&self, name: &str) -> zbus::Result<String>;
    #[zbus(name = "setOption")]
    fn set_option(&self, name: &str, value: &str) -> zbus::Result<()>;
    #[zbus(name = "aliveSince")]
    fn alive_since(&self) -> zbus::Result<i64>;
}

#[zbus::proxy(
    interface = "org.sparts.FB303Service",
    default_service = "org.sparts.P2p",
    default_path = "/P2p/fb303"
)]
trait SpartsFb303 {
    #[zbus(name = "setOptionV")]
    fn set_option_v(&self, name: &str, value: &Value<'_>) -> zbus::Result<()>;
    #[zbus(name = "aliveSinceStr")]
    fn alive_since_str(&self) -> zbus::Result<String>;
}

/// A task with one option and one counter to read and write.
#[derive(Clone)]
struct Probe;

#[derive(Debug, Clone, clap::Args)]
struct ProbeOptions {
    /// A number to set.
    #[arg(long, default_value_t = 1)]
    level: u32,
    /// Unset unless given.
    #[arg(long)]
    label: Option<String>,
}

impl VTask<ProbeOptions> for Probe {
    async fn run(&self, ctx: TaskContext<ProbeOptions>) -> Result<(), BoxError> {
        ctx.counters().counter("hits").add(41);
        ctx.stopped().await;
        Ok(())
    }
}

/// A service with `Probe`, its built-in objects served to a peer: the
/// service, the serving end and the client end.
async fn serve() -> (RunningService, Connection, Connection) {
    let running = VService::new("P2p")
        .with_task(Probe)
        .start_with_args(["p2p"])
        .await
        .expect("service starts");
    let admin = running.handle().admin();
    let (ours, theirs) = UnixStream::pair().expect("socket pair");
    let server = async {
        let builder = Builder::unix_stream(ours)
            .server(Guid::generate())
            .expect("guid")
            .p2p();
        crate::builtins::serve(builder, &admin)
            .expect("objects")
            .build()
            .await
    };
    let client = Builder::unix_stream(theirs).p2p().build();
    let (server, client) = tokio::join!(server, client);
    (
        running,
        server.expect("server side"),
        client.expect("client side"),
    )
}

fn text(value: OwnedValue) -> String {
    String::try_from(value).expect("a string variant")
}

#[tokio::test]
async fn sparts_interface_answers_from_the_admin_model() {
    let (running, _server, conn) = serve().await;
    let sparts = SpartsProxy::new(&conn).await.expect("proxy");
    assert_eq!(
        text(sparts.get_option("probe_level").await.expect("get")),
        "1"
    );
    assert_eq!(
        text(sparts.get_option("probe_label").await.expect("get")),
        "__None__"
    );
    sparts
        .set_option("probe_level", &Value::from(5_i32))
        .await
        .expect("set");
    assert_eq!(
        running
            .handle()
            .option("probe_level")
            .expect("opt")
            .as_deref(),
        Some("5")
    );
    let err = sparts
        .set_option("probe_level", &Value::from("many"))
        .await
        .expect_err("not a number");
    assert!(err.to_string().contains("InvalidArgs"), "{err}");
    assert!(err.to_string().contains("probe_level"), "{err}");
    let options = sparts.get_options().await.expect("options");
    assert_eq!(
        text(options["probe_label"].try_clone().expect("clone")),
        "__None__"
    );
    assert!(
        sparts
            .list_options()
            .await
            .expect("list")
            .contains(&"probe_level".to_owned())
    );
    assert_eq!(sparts.list_tasks().await.expect("tasks"), ["Probe"]);
    assert!(sparts.uptime().await.expect("uptime") >= 0);
    assert_eq!(sparts.status().await.expect("status"), "ALIVE");
    sparts.shutdown().await.expect("shutdown");
    running.wait().await.expect("clean exit");
}

#[tokio::test]
async fn fb303_interfaces_answer_from_the_admin_model() {
    let (running, _server, conn) = serve().await;
    let fb303 = Fb303Proxy::new(&conn).await.expect("proxy");
    let extra = SpartsFb303Proxy::new(&conn).await.expect("proxy");
    assert_eq!(fb303.get_name().await.expect("name"), "P2p");
    assert_eq!(fb303.get_status().await.expect("status"), "ALIVE");
    let mut hits = 0;
    for _ in 0..100 {
        hits = fb303.get_counter("Probe.hits").await.expect("counter");
        if hits == 41 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(hits, 41);
    assert_eq!(
        fb303
            .get_counters()
            .await
            .expect("counters")
            .get("Probe.hits"),
        Some(&41)
    );
    let err = fb303
        .get_counter("No.such")
        .await
        .expect_err("unknown counter");
    assert!(err.to_string().contains("No.such"), "{err}");
    assert_eq!(
        fb303.get_option("probe_label").await.expect("get"),
        "__None__"
    );
    fb303.set_option("probe_level", "7").await.expect("set");
    extra
        .set_option_v("probe_label", &Value::from("x"))
        .await
        .expect("setV");
    assert_eq!(fb303.get_option("probe_level").await.expect("get"), "7");
    assert_eq!(fb303.get_option("probe_label").await.expect("get"), "x");
    let since = fb303.alive_since().await.expect("since");
    assert_eq!(
        extra.alive_since_str().await.expect("str"),
        since.to_string()
    );
    running.shutdown().await.expect("clean exit");
}
