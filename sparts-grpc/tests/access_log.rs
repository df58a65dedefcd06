//! The access log of a GrpcTask, read by a subscriber of the test's own
//! (its own test binary, since a subscriber is process-wide): one line per
//! call with the status gRPC names, built-in services left out, and the
//! option switching it on and off at run time.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{TestResult, start_greeter};
use sparts_core::tracing_subscriber::layer::{Context, SubscriberExt};
use sparts_core::tracing_subscriber::{Layer, Registry};
use sparts_grpc::pb::helloworld::HelloRequest;
use sparts_grpc::pb::helloworld::greeter_client::GreeterClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tracing::field::{Field, Visit};

type Line = BTreeMap<String, String>;

/// Keeps the fields of every `sparts::access` event.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<Line>>>);

impl Lines {
    fn take(&self) -> Vec<Line> {
        std::mem::take(&mut *self.0.lock().expect("lines"))
    }
}

struct Fields<'a>(&'a mut Line);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Layer<Registry> for Lines {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, Registry>) {
        if event.metadata().target() == sparts_core::server::ACCESS_LOG_TARGET {
            let mut line = Line::new();
            event.record(&mut Fields(&mut line));
            self.0.lock().expect("lines").push(line);
        }
    }
}

fn pairs(lines: &[Line], keys: [&str; 2]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|l| (l[keys[0]].clone(), l[keys[1]].clone()))
        .collect()
}

#[tokio::test]
async fn calls_are_logged_with_their_status_while_the_option_is_on() -> TestResult {
    let lines = Lines::default();
    tracing::subscriber::set_global_default(
        sparts_core::tracing_subscriber::registry().with(lines.clone()),
    )?;

    let started = start_greeter(&["--grpc-access-log"]).await?;
    let channel = started.channel().await?;
    let mut greeter = GreeterClient::new(channel.clone());
    greeter
        .say_hello(HelloRequest { name: "you".into() })
        .await?;
    let failed = greeter
        .say_hello(HelloRequest {
            name: "fail".into(),
        })
        .await;
    assert_eq!(
        failed.expect_err("fails").code(),
        tonic::Code::InvalidArgument
    );
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await?;
    let mut raw = tonic::client::Grpc::new(channel.clone());
    raw.ready().await?;
    let codec = tonic_prost::ProstCodec::<HelloRequest, HelloRequest>::default();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/nope.Nope/Nothing");
    let unknown = raw
        .unary(tonic::Request::new(HelloRequest::default()), path, codec)
        .await;
    assert_eq!(
        unknown.expect_err("unknown").code(),
        tonic::Code::Unimplemented
    );

    let logged = lines.take();
    assert_eq!(
        pairs(&logged, ["method", "status"]),
        [
            ("SayHello".into(), "OK".into()),
            ("SayHello".into(), "INVALID_ARGUMENT".into()),
            ("Nothing".into(), "UNIMPLEMENTED".into()),
        ],
        "the health check is left out: {logged:#?}"
    );
    let first = &logged[0];
    assert_eq!(first["task"], "GrpcTask");
    assert_eq!(first["system"], "grpc");
    assert_eq!(first["service"], "helloworld.Greeter");
    assert_eq!(first["peer"], "127.0.0.1");
    assert!(first["duration_ms"].parse::<f64>().is_ok(), "{first:?}");
    assert_eq!(logged[2]["service"], "nope.Nope");

    let handle = started.running.handle();
    handle.set_option("grpc_access_log", "false")?;
    // The task follows its options on this runtime: let it see the change.
    tokio::task::yield_now().await;
    greeter
        .say_hello(HelloRequest {
            name: "quiet".into(),
        })
        .await?;
    assert!(lines.take().is_empty(), "off at run time");
    handle.set_option("grpc_access_log", "true")?;
    tokio::task::yield_now().await;
    greeter
        .say_hello(HelloRequest {
            name: "loud".into(),
        })
        .await?;
    assert_eq!(
        pairs(&lines.take(), ["method", "status"]),
        [("SayHello".into(), "OK".into())]
    );
    started.running.shutdown().await?;
    Ok(())
}
