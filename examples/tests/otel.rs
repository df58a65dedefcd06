//! OpenTelemetry traces of the `demo` example (built with the `otel`
//! feature) as a real process, exporting to real OTLP receivers in this
//! test: a tonic `TraceService` (gRPC) and an axum route (HTTP/protobuf),
//! both from the `opentelemetry-proto` crate's types.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use common::{Example, PATIENCE, TestResult, run};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use sparts::grpc::pb::helloworld::HelloRequest;
use sparts::grpc::pb::helloworld::greeter_client::GreeterClient;
use sparts::http::axum;
use sparts::thrift::ThriftClient;
use sparts_examples::foobar::{FooServiceSyncClient, TFooServiceSyncClient};
use thrift::protocol::{
    TBinaryOutputProtocol, TMessageIdentifier, TMessageType, TOutputProtocol, TStructIdentifier,
};
use tokio::net::TcpListener;

/// The callers' traces and spans, as `traceparent` carries them.
const HTTP_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const GRPC_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const THRIFT_TRACE: &str = "5d7a1f3e9b2c4d6e8f0a1b2c3d4e5f60";
const PARENT: &str = "00f067aa0ba902b7";

fn traceparent(trace: &str) -> String {
    format!("00-{trace}-{PARENT}-01")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One span as received, with the `service.name` of its resource.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: Span,
}

impl Received {
    fn attribute(&self, key: &str) -> Option<any_value::Value> {
        value_of(&self.span.attributes, key)
    }
}

fn value_of(attributes: &[KeyValue], key: &str) -> Option<any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone())
        .and_then(|AnyValue { value }| value)
}

fn text(value: &str) -> Option<any_value::Value> {
    Some(any_value::Value::StringValue(value.to_owned()))
}

fn int(value: i64) -> Option<any_value::Value> {
    Some(any_value::Value::IntValue(value))
}

/// What a receiver collected.
#[derive(Debug, Clone, Default)]
struct Collector(Arc<Mutex<Vec<Received>>>);

impl Collector {
    fn add(&self, request: ExportTraceServiceRequest) {
        let mut spans = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for resource_spans in request.resource_spans {
            let service = resource_spans
                .resource
                .and_then(|r| value_of(&r.attributes, "service.name"))
                .map(|v| match v {
                    any_value::Value::StringValue(s) => s,
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans.into_iter().map(|span| Received {
                    service: service.clone(),
                    span,
                }));
            }
        }
    }

    fn spans(&self) -> Vec<Received> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn named(&self, name: &str) -> Result<Received, String> {
        let spans = self.spans();
        spans
            .iter()
            .find(|r| r.span.name == name)
            .cloned()
            .ok_or_else(|| format!("no span {name:?} among {spans:#?}"))
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.add(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// An OTLP/gRPC receiver on 127.0.0.1.
async fn grpc_receiver() -> TestResult<(SocketAddr, Collector)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let collector = Collector::default();
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(collector.clone()))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
    Ok((address, collector))
}

/// An OTLP/HTTP receiver on 127.0.0.1: protobuf bodies on `/v1/traces`.
async fn http_receiver() -> TestResult<(SocketAddr, Collector)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let collector = Collector::default();
    let sink = collector.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: sparts::http::axum::body::Bytes| async move {
            match ExportTraceServiceRequest::decode(body) {
                Ok(request) => {
                    sink.add(request);
                    let reply = ExportTraceServiceResponse::default().encode_to_vec();
                    (
                        axum::http::StatusCode::OK,
                        [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")],
                        reply,
                    )
                }
                Err(e) => (
                    axum::http::StatusCode::BAD_REQUEST,
                    [(axum::http::header::CONTENT_TYPE, "text/plain")],
                    e.to_string().into_bytes(),
                ),
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((address, collector))
}

/// The demo on free ports, with `args` and `env` added, and no other
/// OpenTelemetry variable than those.
fn demo(args: &[&str], env: &[(&str, &str)]) -> std::io::Result<Example> {
    Example::spawn_command(&mut demo_command(args, env))
}

fn demo_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let bus_name = format!(
        "org.sparts.OtelTest{}n{}",
        std::process::id(),
        args.len() * 100 + env.len()
    );
    let mut command = common::demo_command(&bus_name, args);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command
}

/// SIGTERM, and the exit: spans still queued are sent before it.
async fn stop(mut child: Example) -> TestResult<(std::process::ExitStatus, String)> {
    Ok(tokio::task::spawn_blocking(move || -> Result<_, String> {
        let status = child.sigterm().map_err(|e| e.to_string())?;
        Ok((status, child.output()?))
    })
    .await??)
}

/// A `getStatus` call of fb303 in Thrift's binary protocol: what
/// `THttpClient` posts.
fn get_status_call() -> thrift::Result<Vec<u8>> {
    let mut body = Vec::new();
    {
        let mut out = TBinaryOutputProtocol::new(&mut body, true);
        out.write_message_begin(&TMessageIdentifier::new("getStatus", TMessageType::Call, 1))?;
        out.write_struct_begin(&TStructIdentifier::new("getStatus_args"))?;
        out.write_field_stop()?;
        out.write_struct_end()?;
        out.write_message_end()?;
        out.flush()?;
    }
    Ok(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_exports_server_spans_that_continue_the_callers_trace() -> TestResult {
    let (receiver, collector) = grpc_receiver().await?;
    let endpoint = format!("http://{receiver}");
    let mut child = demo(
        &["--otel-endpoint", &endpoint, "--otel-protocol", "grpc"],
        &[],
    )?;
    let announced = child.expect_line("OpenTelemetry: exporting traces to")?;
    assert!(
        announced.contains(&format!("{endpoint} over grpc")),
        "{announced}"
    );
    let (http, grpc, thrift) = child.demo_ports()?;
    let web = reqwest::Client::builder().timeout(PATIENCE).build()?;
    let base = format!("http://127.0.0.1:{http}");

    // HTTP, with the caller's trace.
    let hello = web
        .get(format!("{base}/hello/you"))
        .header("traceparent", traceparent(HTTP_TRACE))
        .send()
        .await?;
    assert!(hello.status().is_success());

    // gRPC, the trace in the call's metadata.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{grpc}"))?
        .timeout(PATIENCE)
        .connect()
        .await?;
    let mut request = tonic::Request::new(HelloRequest {
        name: "you".to_owned(),
    });
    request
        .metadata_mut()
        .insert("traceparent", traceparent(GRPC_TRACE).parse()?);
    let reply = GreeterClient::new(channel).say_hello(request).await?;
    assert_eq!(reply.into_inner().message, "Hello you!");

    // Thrift over HTTP: the trace in the POST's headers.
    let posted = web
        .post(format!("{base}/thrift"))
        .header("content-type", "application/x-thrift")
        .header("traceparent", traceparent(THRIFT_TRACE))
        .body(get_status_call()?)
        .send()
        .await?;
    assert!(posted.status().is_success());

    // Thrift on its own port: no headers, a trace of its own.
    let foo = ThriftClient::new(FooServiceSyncClient::new, format!("127.0.0.1:{thrift}"))
        .multiplexed("FooHandler");
    assert_eq!(foo.call(|c| c.make_foos(2)).await?, "foofoo");

    // The spans go out at the latest at shutdown, within its budget.
    let (status, output) = stop(child).await?;
    assert_eq!(status.code(), Some(0), "{output}");

    let server = SpanKind::Server as i32;
    let parent = hex_bytes(PARENT)?;

    let span = collector.named("GET /hello/{name}")?;
    assert_eq!(span.service, "Demo");
    assert_eq!(hex(&span.span.trace_id), HTTP_TRACE);
    assert_eq!(span.span.parent_span_id, parent);
    assert_eq!(span.span.kind, server);
    assert_eq!(span.attribute("http.request.method"), text("GET"));
    assert_eq!(span.attribute("http.route"), text("/hello/{name}"));
    assert_eq!(span.attribute("http.response.status_code"), int(200));

    let span = collector.named("helloworld.Greeter/SayHello")?;
    assert_eq!(hex(&span.span.trace_id), GRPC_TRACE);
    assert_eq!(span.span.parent_span_id, parent);
    assert_eq!(span.span.kind, server);
    assert_eq!(span.attribute("rpc.system"), text("grpc"));
    assert_eq!(span.attribute("rpc.service"), text("helloworld.Greeter"));
    assert_eq!(span.attribute("rpc.method"), text("SayHello"));
    assert_eq!(span.attribute("rpc.grpc.status_code"), int(0));

    let post = collector.named("POST /thrift")?;
    assert_eq!(hex(&post.span.trace_id), THRIFT_TRACE);
    assert_eq!(post.span.parent_span_id, parent);
    let call = collector.named("FacebookService.getStatus")?;
    assert_eq!(hex(&call.span.trace_id), THRIFT_TRACE);
    assert_eq!(call.span.parent_span_id, post.span.span_id);
    assert_eq!(call.attribute("rpc.system"), text("thrift"));

    let span = collector.named("FooHandler.makeFoos")?;
    assert!(span.span.parent_span_id.is_empty(), "{span:?}");
    assert_eq!(span.span.kind, server);
    assert_eq!(span.attribute("rpc.method"), text("makeFoos"));

    // Only requests: none of the framework's own spans (service, tasks).
    let names: Vec<_> = collector.spans().into_iter().map(|r| r.span.name).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    Ok(())
}

fn hex_bytes(hex: &str) -> Result<Vec<u8>, std::num::ParseIntError> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_variables_export_over_http_protobuf() -> TestResult {
    let (receiver, collector) = http_receiver().await?;
    let endpoint = format!("http://{receiver}");
    let mut child = demo(
        // `--level` is the log's: below it, requests are still traced
        // (the lines this test waits for are sparts-core's).
        &["--level", "warn,sparts_core=info"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SERVICE_NAME", "demo-over-http"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
        ],
    )?;
    let (http, _, _) = child.demo_ports()?;
    let web = reqwest::Client::builder().timeout(PATIENCE).build()?;
    let hello = web
        .get(format!("http://127.0.0.1:{http}/hello/there"))
        .send()
        .await?;
    assert!(hello.status().is_success());
    // Built-in endpoints get no span.
    let ready = web
        .get(format!("http://127.0.0.1:{http}/readyz"))
        .send()
        .await?;
    assert!(ready.status().is_success());

    let (status, output) = stop(child).await?;
    assert_eq!(status.code(), Some(0), "{output}");
    let span = collector.named("GET /hello/{name}")?;
    assert_eq!(span.service, "demo-over-http");
    assert!(span.span.parent_span_id.is_empty(), "a root: {span:?}");
    assert_eq!(span.span.trace_id.len(), 16);
    assert_eq!(collector.spans().len(), 1, "{:#?}", collector.spans());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_nothing_is_exported_and_the_service_runs() -> TestResult {
    let (receiver, collector) = http_receiver().await?;
    let endpoint = format!("http://{receiver}");
    let cases: [&[(&str, &str)]; 2] = [
        // Sampling settings alone switch nothing on.
        &[
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_SERVICE_NAME", "x"),
        ],
        // An endpoint, but OpenTelemetry disabled.
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SDK_DISABLED", "true"),
        ],
    ];
    for env in cases {
        let mut child = demo(&[], env)?;
        let (http, _, _) = child.demo_ports()?;
        let web = reqwest::Client::builder().timeout(PATIENCE).build()?;
        let hello = web
            .get(format!("http://127.0.0.1:{http}/hello/you"))
            .header("traceparent", traceparent(HTTP_TRACE))
            .send()
            .await?;
        assert!(hello.status().is_success());
        let (status, output) = stop(child).await?;
        assert_eq!(status.code(), Some(0), "{output}");
        assert!(!output.contains("OpenTelemetry"), "{env:?}: {output}");
    }
    assert!(collector.spans().is_empty(), "{:#?}", collector.spans());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_never_answers_slows_no_request_nor_the_shutdown() -> TestResult {
    // Connections are accepted by the kernel and then never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
    let endpoint = format!("http://{}", silent.local_addr()?);
    let mut child = demo(
        &[
            "--otel-endpoint",
            &endpoint,
            "--otel-protocol",
            "grpc",
            "--shutdown-timeout",
            "1",
        ],
        // Export at once, and a queue small enough to overflow.
        &[
            ("OTEL_BSP_SCHEDULE_DELAY", "10"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "16"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4"),
        ],
    )?;
    let (http, _, _) = child.demo_ports()?;
    let web = reqwest::Client::builder().timeout(PATIENCE).build()?;
    let url = format!("http://127.0.0.1:{http}/hello/you");
    let began = Instant::now();
    for _ in 0..200 {
        let hello = web.get(&url).send().await?;
        assert!(hello.status().is_success());
    }
    let took = began.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "200 requests took {took:?} with an unanswering collector"
    );

    let stopping = Instant::now();
    let (status, output) = stop(child).await?;
    let stop_took = stopping.elapsed();
    assert_eq!(status.code(), Some(0), "{output}");
    // One second of budget, not the exporter's ten-second timeout.
    assert!(
        stop_took < Duration::from_secs(5),
        "stopped in {stop_took:?}"
    );
    assert!(output.contains("dropped a Span"), "{output}");
    assert!(
        output.contains("spans not all sent within what was left of the shutdown budget"),
        "{output}"
    );
    drop(silent);
    Ok(())
}

#[test]
fn a_bad_opentelemetry_setting_is_a_usage_error() -> TestResult {
    // Arguments, variables, and what the error names.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 4] = [
        (
            &[],
            &[("OTEL_TRACES_SAMPLER", "sometimes")],
            "OTEL_TRACES_SAMPLER",
        ),
        (
            &[],
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
                ("OTEL_TRACES_SAMPLER_ARG", "2"),
            ],
            "OTEL_TRACES_SAMPLER_ARG",
        ),
        (&["--otel-sampler", "sometimes"], &[], "--otel-sampler"),
        (&["--otel-endpoint", "https://collector:4317"], &[], "TLS"),
    ];
    for (args, env, named) in cases {
        let (status, output) = run(&mut demo_command(args, env))?;
        assert_eq!(status.code(), Some(2), "{args:?} {env:?}: {output}");
        assert!(output.contains(named), "{args:?} {env:?}: {output}");
        assert!(!output.contains("All tasks started"), "{output}");
    }
    Ok(())
}
