//! The gRPC, Thrift and admin load of `bench/soak.sh` against a running
//! demo: SayHello calls, fb303 getStatus calls, and every second the
//! counters read over HTTP, gRPC and Thrift. Clients reconnect after a
//! restart, and send again a call that provably never reached a handler
//! (as gRPC's own clients do): a gRPC call refused or cancelled unsent
//! around a GOAWAY (`sparts_grpc::never_processed`), a Thrift call whose
//! connection the server reset with it unread (`Error::Reset`). Prints one
//! line a second, `t=<s> ok=<n> errors=<n> resent=<n>`, and
//! `error t=<s> <what>: <why>` for the first error of each kind in a second.
//!
//! ```sh
//! cargo run --release -p sparts-bench --bin soak_load -- HTTP_PORT GRPC_PORT THRIFT_PORT SECONDS
//! ```
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sparts::grpc::never_processed;
use sparts::grpc::pb::admin::GetCountersRequest;
use sparts::grpc::pb::admin::admin_client::AdminClient;
use sparts::grpc::pb::helloworld::HelloRequest;
use sparts::grpc::pb::helloworld::greeter_client::GreeterClient;
use sparts::grpc::tonic::transport::Endpoint;
use sparts_thrift::ThriftClient;
use sparts_thrift::fb303::{FacebookServiceSyncClient, TFacebookServiceSyncClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Calls that succeeded, and the errors of the current second by kind.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    /// Calls sent again because no server saw the first attempt.
    resent: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, (u64, String)>>,
}

impl Tally {
    fn record<T, E: std::fmt::Display>(&self, what: &'static str, result: Result<T, E>) {
        match result {
            Ok(_) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
                let entry = errors.entry(what).or_insert((0, e.to_string()));
                entry.0 += 1;
            }
        }
    }
}

/// How often a call no server saw is sent, at most.
const ATTEMPTS: usize = 3;

/// `call` sent until it is answered or fails in a way `unseen` does not
/// prove harmless, at most `ATTEMPTS` times.
async fn resending<T, E, F, Fut>(tally: &Tally, unseen: fn(&E) -> bool, mut call: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    for _ in 1..ATTEMPTS {
        match call().await {
            Err(e) if unseen(&e) => {
                tally.resent.fetch_add(1, Ordering::Relaxed);
            }
            other => return other,
        }
    }
    call().await
}

fn thrift_unseen(e: &sparts_thrift::Error) -> bool {
    matches!(e, sparts_thrift::Error::Reset { .. })
}

/// GET `path` over a fresh HTTP/1.0 connection; an error unless 200.
async fn http_get(port: u16, path: &str) -> Result<(), BoxError> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET {path} HTTP/1.0\r\nhost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    if answer.starts_with(b"HTTP/1.1 200") || answer.starts_with(b"HTTP/1.0 200") {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&answer[..answer.len().min(40)])
            .into_owned()
            .into())
    }
}

fn port(arg: Option<String>, what: &str) -> Result<u16, BoxError> {
    Ok(arg.ok_or(format!("no {what}"))?.parse()?)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let http = port(args.next(), "HTTP port")?;
    let grpc = port(args.next(), "gRPC port")?;
    let thrift = port(args.next(), "Thrift port")?;
    let seconds: u64 = args.next().ok_or("no SECONDS")?.parse()?;
    let end = Instant::now() + Duration::from_secs(seconds);
    let tally = Arc::new(Tally::default());
    let timeout = Duration::from_secs(2);
    let channel = Endpoint::from_shared(format!("http://127.0.0.1:{grpc}"))?
        .timeout(timeout)
        .connect_timeout(timeout)
        .connect_lazy();
    let thrift_client = || {
        ThriftClient::new(
            FacebookServiceSyncClient::new,
            format!("127.0.0.1:{thrift}"),
        )
        .connect_timeout(timeout)
        .call_timeout(timeout)
    };

    let mut workers = Vec::new();
    for _ in 0..4 {
        let greeter = GreeterClient::new(channel.clone());
        let tally = Arc::clone(&tally);
        workers.push(tokio::spawn(async move {
            while Instant::now() < end {
                let said = resending(&tally, never_processed, || {
                    let mut greeter = greeter.clone();
                    async move {
                        let request = HelloRequest {
                            name: "soak".into(),
                        };
                        greeter.say_hello(request).await
                    }
                })
                .await;
                tally.record("grpc SayHello", said);
            }
        }));
    }
    for _ in 0..2 {
        let client = thrift_client();
        let tally = Arc::clone(&tally);
        workers.push(tokio::spawn(async move {
            let client = &client;
            while Instant::now() < end {
                let status =
                    resending(&tally, thrift_unseen, || client.call(|c| c.get_status())).await;
                tally.record("thrift getStatus", status);
            }
        }));
    }
    {
        let tally = Arc::clone(&tally);
        let mut admin = AdminClient::new(channel.clone());
        let fb303 = thrift_client();
        workers.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            while Instant::now() < end {
                ticks.tick().await;
                let request = GetCountersRequest::default();
                tally.record("grpc getCounters", admin.get_counters(request).await);
                tally.record("thrift getCounters", fb303.call(|c| c.get_counters()).await);
                tally.record(
                    "http /admin/counters",
                    http_get(http, "/admin/counters").await,
                );
            }
        }));
    }

    let started = Instant::now();
    let mut report = tokio::time::interval(Duration::from_secs(1));
    report.tick().await;
    while Instant::now() < end {
        report.tick().await;
        let t = started.elapsed().as_secs();
        let ok = tally.ok.swap(0, Ordering::Relaxed);
        let resent = tally.resent.swap(0, Ordering::Relaxed);
        let errors = std::mem::take(&mut *tally.errors.lock().unwrap_or_else(|e| e.into_inner()));
        let count: u64 = errors.values().map(|(n, _)| n).sum();
        println!("t={t} ok={ok} errors={count} resent={resent}");
        for (what, (n, why)) in errors {
            println!("error t={t} {what} x{n}: {why}");
        }
    }
    for worker in workers {
        let _ = worker.await;
    }
    Ok(())
}
