//! `QueueTask` on NATS JetStream (`sparts-nats`' `NatsBackend`) against raw
//! async-nats, side by side in one run against one local server with the
//! same stream and consumer settings.
//!
//! ```sh
//! cargo build --release -p sparts-bench --features nats --bin queue_nats
//! target/release/queue_nats [--rounds 3] [--items 20000] [--submits 5000] [--kill-items 5000]
//! ```
//!
//! It starts its own `nats-server -js` (Debian's `nats-server` package) on a
//! free loopback port with a temporary store. Each round runs every row once,
//! alternating which side goes first; the summary shows the medians of the
//! rounds (a ratio is the median of the rounds' ratios). Every side gets a
//! fresh stream: file storage, work-queue retention, discard new, a 120 s
//! duplicate window, and one durable pull consumer `workers` (explicit ack,
//! 30 s ack wait, 11 deliveries, 10,000 acks pending), as sparts declares.
//!
//! - **A, throughput**: `--items` no-op `u64` items stored by 8 concurrent
//!   producers, each awaiting its store, until all are done. sparts: a
//!   service whose `QueueTask` has 4 workers, `enqueue`, done when the
//!   task's `n_completed` reaches the count. Raw: publishes awaiting their
//!   PubAck, and what a hand-written consumer does: `consumer.messages()`
//!   with async-nats's defaults (a streaming pull of up to 200 messages per
//!   request), decoding each item and acking it.
//! - **B, `submit` with the result awaited**, 64 in flight: items/s and the
//!   p99 latency from `submit` to the result. Raw: a publish naming a reply
//!   inbox in a header, a pull and double ack, then a core NATS request
//!   carrying the result to that inbox, whose subscriber answers it.
//! - **C, a replica killed**: two replica processes (this binary, re-run
//!   with `--replica`), each a service whose `QueueTask` has 4 workers,
//!   `--sleepy-ack-wait 2` and items taking 1 ms; `--kill-items` items
//!   published raw to its stream, one replica SIGKILLed when a third are
//!   done, then the time from the kill until every item was delivered once
//!   and until every item was done (the items the dead replica held come
//!   back after the ack wait).
//!
//! The last line is for scripts: `RATIO queue_nats_items_per_s=<x>
//! queue_nats_raw_items_per_s=<y> queue_nats_ratio=<x/y> ...` (row A),
//! `queue_nats_submit_items_per_s`, `queue_nats_submit_p99_ms`, their
//! `queue_nats_raw_submit_*` and `queue_nats_submit_ratio` (row B),
//! `queue_nats_kill_recovery_s` (kill to every item done),
//! `queue_nats_kill_drain_s` (kill to every item delivered once) and
//! `queue_nats_ack_wait_s` (row C); every key is also printed on a line of
//! its own before it.

// A report printed for people: stdout is its output.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{self, PullConsumer};
use async_nats::jetstream::{self, Message, stream};
use clap::Parser;
use futures_util::StreamExt;
use sparts::{BoxError, ItemContext, NoOptions, QueueTask, QueueWork, VService};
use sparts_nats::NatsBackend;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

/// Workers per replica, on both sides.
const WORKERS: usize = 4;
/// Concurrent producers of row A (and C).
const PRODUCERS: u64 = 8;
/// Items awaited at once in row B.
const IN_FLIGHT: u64 = 64;
/// sparts' default `--<prefix>-ack-wait`, used by rows A and B.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// Row C's `--sleepy-ack-wait`, seconds.
const KILL_ACK_WAIT_S: u64 = 2;
/// How long one of row C's items takes.
const ITEM_TIME: Duration = Duration::from_millis(1);
/// How long a pull request for one message waits, as sparts' does.
const PULL_WAIT: Duration = Duration::from_secs(1);
/// How long an executing side may take to answer a result, as sparts' does.
const REPLY_WAIT: Duration = Duration::from_secs(5);
/// How long any one wait of this benchmark may last before it fails.
const PATIENCE: Duration = Duration::from_secs(120);
/// The header naming the inbox of a submitter waiting for its result.
const REPLY_HEADER: &str = "Sparts-Reply";
/// The services of rows A and B, and of row C's replicas.
const SERVICE: &str = "Bench";
const KILL_SERVICE: &str = "BenchKill";

/// NATS JetStream QueueTask against raw async-nats.
#[derive(Parser, Debug)]
struct Args {
    /// Rounds; each runs every row once.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Items of the throughput row (A).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    items: u64,
    /// Items submitted with their result awaited (row B).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    submits: u64,
    /// Items of the killed-replica row (C).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    kill_items: u64,
    /// Runs as one of row C's replicas against this server (internal).
    #[arg(long, hide = true, value_name = "URL")]
    replica: Option<String>,
}

/// Rows A and B's work: gives its item back.
#[derive(Clone)]
struct Echo;

impl QueueWork<NoOptions, u64> for Echo {
    type Item = u64;

    async fn execute(&self, item: &u64, _ctx: &ItemContext) -> Result<u64, BoxError> {
        Ok(*item)
    }
}

/// Row C's work: takes `ITEM_TIME`.
#[derive(Clone)]
struct Sleepy;

impl QueueWork for Sleepy {
    type Item = u64;

    async fn execute(&self, _item: &u64, _ctx: &ItemContext) -> Result<(), BoxError> {
        tokio::time::sleep(ITEM_TIME).await;
        Ok(())
    }
}

/// A private `nats-server -js`, killed when dropped.
struct NatsServer {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl NatsServer {
    fn start() -> Result<Self, BoxError> {
        let dir = tempfile::tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log_path = dir.path().join("server.log");
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.path().join("store"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path)?)
            .spawn()
            .map_err(|e| format!("cannot run nats-server: {e}"))?;
        // Built before the wait, so a server that never listens is killed.
        let server = Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("nats-server did not listen within 10 s:\n{log}").into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The raw side: its own client (one, for publishing and consuming, as
/// sparts has), and streams declared as sparts declares its own.
#[derive(Clone)]
struct Raw {
    client: async_nats::Client,
    js: jetstream::Context,
}

impl Raw {
    async fn connect(url: &str) -> Result<Self, BoxError> {
        let client = async_nats::connect(url).await?;
        Ok(Self {
            js: jetstream::new(client.clone()),
            client,
        })
    }

    /// A fresh stream `name` on subject `raw.<name>` with sparts' settings
    /// (sparts-nats `queue/mod.rs`), and its consumer.
    async fn queue(&self, name: &str) -> Result<PullConsumer, BoxError> {
        self.delete(&[name]).await;
        let stream = self
            .js
            .create_stream(stream::Config {
                name: name.to_owned(),
                subjects: vec![format!("raw.{name}")],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                discard: stream::DiscardPolicy::New,
                max_messages: -1,
                max_messages_per_subject: -1,
                duplicate_window: Duration::from_secs(120),
                num_replicas: 1,
                ..Default::default()
            })
            .await?;
        let consumer = stream
            .create_consumer(consumer::pull::Config {
                durable_name: Some("workers".to_owned()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_deliver: 11,
                max_ack_pending: 10_000,
                ..Default::default()
            })
            .await?;
        Ok(consumer)
    }

    /// Deletes streams so that the next round starts empty; one that does
    /// not exist is fine.
    async fn delete(&self, streams: &[&str]) {
        for name in streams {
            let _ = self.js.delete_stream(name).await;
        }
    }

    /// Stores an item as sparts does: JSON, a message id against duplicates,
    /// and the submitter's inbox when it waits for the result.
    async fn publish(&self, subject: &str, item: u64, reply: Option<&str>) -> Result<(), BoxError> {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", self.client.new_inbox().as_str());
        if let Some(inbox) = reply {
            headers.insert(REPLY_HEADER, inbox);
        }
        let payload = serde_json::to_vec(&item)?.into();
        self.js
            .publish_with_headers(subject.to_owned(), headers, payload)
            .await?
            .await?;
        Ok(())
    }
}

/// One message from a pull request for one, as a sparts worker takes it,
/// and its item, read as sparts reads it.
async fn pull_one(consumer: &PullConsumer) -> Result<Option<(Message, u64)>, BoxError> {
    let mut batch = consumer
        .batch()
        .max_messages(1)
        .expires(PULL_WAIT)
        .messages()
        .await?;
    match batch.next().await {
        None => Ok(None),
        Some(message) => {
            let message = message?;
            let item = decode(&message)?;
            Ok(Some((message, item)))
        }
    }
}

/// The item of a delivery, with its metadata parsed as sparts does.
fn decode(message: &Message) -> Result<u64, BoxError> {
    message.info()?;
    Ok(serde_json::from_slice(&message.payload)?)
}

/// How many items the raw consumers finished, and the first failure.
#[derive(Default)]
struct Progress {
    done: AtomicU64,
    failure: Mutex<Option<String>>,
}

impl Progress {
    /// Runs a consumer loop, keeping its error when it fails.
    async fn run(self: Arc<Self>, consumer: impl Future<Output = Result<(), BoxError>>) {
        if let Err(e) = consumer.await {
            let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
            failure.get_or_insert(e.to_string());
        }
    }

    /// A consumer's failure, as an error.
    fn failed(&self) -> Result<(), BoxError> {
        let failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        match &*failure {
            Some(e) => Err(format!("a raw consumer failed: {e}").into()),
            None => Ok(()),
        }
    }

    /// Whether `n` items are done; a consumer's failure as an error.
    fn reached(&self, n: u64) -> Result<bool, BoxError> {
        self.failed()?;
        Ok(self.done.load(Ordering::Relaxed) >= n)
    }
}

/// Polls `done` every 2 ms until it holds.
async fn wait_until(
    what: &str,
    mut done: impl FnMut() -> Result<bool, BoxError>,
) -> Result<(), BoxError> {
    let deadline = Instant::now() + PATIENCE;
    while !done()? {
        if Instant::now() > deadline {
            return Err(format!("{what}: not done within {PATIENCE:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// Stores `0..n` from `PRODUCERS` concurrent tasks, each awaiting its
/// stores in turn.
async fn produce<F, Fut>(n: u64, store: F) -> Result<(), BoxError>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send,
{
    let mut producers = JoinSet::new();
    for first in 0..PRODUCERS {
        let store = store.clone();
        producers.spawn(async move {
            for item in (first..n).step_by(PRODUCERS as usize) {
                store(item).await?;
            }
            Ok::<_, BoxError>(())
        });
    }
    while let Some(produced) = producers.join_next().await {
        produced??;
    }
    Ok(())
}

/// Starts rows A and B's service: 4 workers on the server at `url`.
async fn start_echo(url: &str) -> Result<sparts::RunningService, BoxError> {
    let workers = WORKERS.to_string();
    let args = ["bench", "--echo-workers", &workers, "--echo-backend", url];
    Ok(VService::new(SERVICE)
        .with_task(QueueTask::new(Echo).with_backend(NatsBackend::new()))
        .start_with_args(args)
        .await?)
}

/// Stops rows A and B's service and deletes its streams, so that the next
/// round starts empty.
async fn stop_echo(running: sparts::RunningService, raw: &Raw) -> Result<(), BoxError> {
    running.shutdown().await?;
    let stream = format!("SPARTS_{SERVICE}_Echo");
    raw.delete(&[&stream, &format!("{stream}_DEAD")]).await;
    Ok(())
}

/// Row A, sparts: `n` items enqueued until `n_completed` reaches `n`.
async fn sparts_throughput(url: &str, raw: &Raw, n: u64) -> Result<Duration, BoxError> {
    let running = start_echo(url).await?;
    let sender = running.handle().queue::<u64, u64>("Echo")?;
    let started = Instant::now();
    produce(n, move |item| {
        let sender = sender.clone();
        async move { Ok(sender.enqueue(item).await?) }
    })
    .await?;
    let handle = running.handle().clone();
    wait_until("sparts", || {
        Ok(handle.counter("Echo.n_completed")? >= n as f64)
    })
    .await?;
    let elapsed = started.elapsed();
    stop_echo(running, raw).await?;
    Ok(elapsed)
}

/// Row A, raw: `n` items published until all are acknowledged, by 4
/// per-item pulls with double acks, or by one streaming pull.
async fn raw_throughput(raw: &Raw, n: u64) -> Result<Duration, BoxError> {
    let name = "RAW_STREAM";
    let consumer = raw.queue(name).await?;
    let progress = Arc::new(Progress::default());
    // Dropped at the end, which stops the consumer.
    let mut consumers = JoinSet::new();
    consumers.spawn(
        progress
            .clone()
            .run(stream_consumer(consumer, progress.clone())),
    );
    let started = Instant::now();
    let subject = format!("raw.{name}");
    let publisher = raw.clone();
    produce(n, move |item| {
        let (raw, subject) = (publisher.clone(), subject.clone());
        async move { raw.publish(&subject, item, None).await }
    })
    .await?;
    wait_until(name, || progress.reached(n)).await?;
    let elapsed = started.elapsed();
    drop(consumers);
    raw.delete(&[name]).await;
    Ok(elapsed)
}

/// One streaming pull with async-nats's defaults, plain acks.
async fn stream_consumer(consumer: PullConsumer, progress: Arc<Progress>) -> Result<(), BoxError> {
    // async-nats's defaults (200 messages per request), as a hand-written
    // consumer has them.
    let mut messages = consumer.messages().await?;
    while let Some(message) = messages.next().await {
        let message = message?;
        decode(&message)?;
        message.ack().await?;
        progress.done.fetch_add(1, Ordering::Relaxed);
    }
    Err("the message stream ended".into())
}

/// What `IN_FLIGHT` concurrent callers measured.
struct Measured {
    items_per_s: f64,
    p99_ms: f64,
}

/// Calls `call` on each of `0..n` from `IN_FLIGHT` concurrent tasks.
async fn in_flight<F, Fut>(n: u64, call: F) -> Result<Measured, BoxError>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut callers = JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (call, next) = (call.clone(), next.clone());
        callers.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let item = next.fetch_add(1, Ordering::Relaxed);
                if item >= n {
                    return Ok::<_, BoxError>(latencies);
                }
                let sent = Instant::now();
                call(item).await?;
                latencies.push(sent.elapsed());
            }
        });
    }
    let mut latencies = Vec::with_capacity(n as usize);
    while let Some(measured) = callers.join_next().await {
        latencies.extend(measured??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99).div_ceil(100).saturating_sub(1)];
    Ok(Measured {
        items_per_s: n as f64 / elapsed.as_secs_f64(),
        p99_ms: p99.as_secs_f64() * 1000.0,
    })
}

/// Row B, sparts: `submit` and the result awaited.
async fn sparts_submit(url: &str, raw: &Raw, n: u64) -> Result<Measured, BoxError> {
    let running = start_echo(url).await?;
    let sender = running.handle().queue::<u64, u64>("Echo")?;
    let measured = in_flight(n, move |item| {
        let sender = sender.clone();
        async move {
            let output = sender.submit(item).await?.await?;
            expect_echo(item, Some(output))
        }
    })
    .await?;
    stop_echo(running, raw).await?;
    Ok(measured)
}

/// Checks that `item` came back as itself.
fn expect_echo(item: u64, output: Option<u64>) -> Result<(), BoxError> {
    match output {
        Some(output) if output == item => Ok(()),
        _ => Err(format!("item {item} came back as {output:?}").into()),
    }
}

/// The raw submitter's inbox: results routed to their waiting callers.
struct Inbox {
    prefix: String,
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<Vec<u8>>>>,
}

impl Inbox {
    /// Subscribes `<inbox>.*`; results are routed (and answered, as
    /// sparts answers them) by a task added to `tasks`.
    async fn subscribe(
        client: &async_nats::Client,
        tasks: &mut JoinSet<()>,
    ) -> Result<Arc<Self>, BoxError> {
        let prefix = client.new_inbox();
        let mut results = client.subscribe(format!("{prefix}.*")).await?;
        let inbox = Arc::new(Self {
            prefix,
            next: AtomicU64::new(0),
            waiting: Mutex::new(HashMap::new()),
        });
        let (router, client) = (inbox.clone(), client.clone());
        tasks.spawn(async move {
            while let Some(result) = results.next().await {
                let id = result
                    .subject
                    .rsplit('.')
                    .next()
                    .and_then(|id| id.parse().ok());
                let waiting = id.and_then(|id| router.lock().remove(&id));
                let taken = waiting.is_some_and(|tx| tx.send(result.payload.to_vec()).is_ok());
                if let Some(reply) = result.reply {
                    let answer: &'static [u8] = if taken { b"1" } else { b"0" };
                    let _ = client.publish(reply, answer.into()).await;
                }
            }
        });
        Ok(inbox)
    }

    /// A subject for one result, and where it arrives.
    fn register(&self) -> (String, oneshot::Receiver<Vec<u8>>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id, tx);
        (format!("{}.{id}", self.prefix), rx)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Vec<u8>>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Row B, raw: publish naming an inbox, pull, double ack, the result by
/// request/reply to the inbox.
async fn raw_submit(raw: &Raw, n: u64) -> Result<Measured, BoxError> {
    let name = "RAW_SUBMIT";
    let consumer = raw.queue(name).await?;
    let progress = Arc::new(Progress::default());
    // Dropped at the end, which stops them.
    let mut tasks = JoinSet::new();
    let inbox = Inbox::subscribe(&raw.client, &mut tasks).await?;
    for _ in 0..WORKERS {
        let task = reply_consumer(raw.client.clone(), consumer.clone());
        tasks.spawn(progress.clone().run(task));
    }
    let publisher = raw.clone();
    let measured = in_flight(n, move |item| {
        let (raw, inbox) = (publisher.clone(), inbox.clone());
        async move {
            let (subject, result) = inbox.register();
            raw.publish(&format!("raw.{name}"), item, Some(&subject))
                .await?;
            let result = tokio::time::timeout(PATIENCE, result).await??;
            let outcome: serde_json::Value = serde_json::from_slice(&result)?;
            expect_echo(item, outcome["ok"].as_u64())
        }
    })
    .await;
    // A consumer's failure says more than the callers' timeouts it caused.
    progress.failed()?;
    drop(tasks);
    raw.delete(&[name]).await;
    measured
}

/// Pulls one message per request, double-acks it, and sends the result
/// to the inbox it names, waiting for the answer, as a sparts worker.
async fn reply_consumer(
    client: async_nats::Client,
    consumer: PullConsumer,
) -> Result<(), BoxError> {
    loop {
        let Some((message, item)) = pull_one(&consumer).await? else {
            continue;
        };
        message.double_ack().await?;
        let inbox = message
            .headers
            .as_ref()
            .and_then(|h| h.get(REPLY_HEADER))
            .map(|inbox| inbox.as_str().to_owned())
            .ok_or("an item without its reply inbox")?;
        let result = serde_json::to_vec(&serde_json::json!({ "ok": item }))?;
        let answer =
            tokio::time::timeout(REPLY_WAIT, client.request(inbox, result.into())).await??;
        if answer.payload.as_ref() != b"1" {
            return Err("the submitter did not take a result".into());
        }
    }
}

/// Row C's service, in a replica process: runs until its stdin closes (or
/// it is killed); prints `ready` once started and its counters at the end.
async fn replica(url: &str) -> Result<(), BoxError> {
    let workers = WORKERS.to_string();
    let ack_wait = KILL_ACK_WAIT_S.to_string();
    let args = [
        "replica",
        "--sleepy-workers",
        &workers,
        "--sleepy-ack-wait",
        &ack_wait,
        "--sleepy-backend",
        url,
    ];
    let running = VService::new(KILL_SERVICE)
        .with_task(QueueTask::new(Sleepy).with_backend(NatsBackend::new()))
        .start_with_args(args)
        .await?;
    let handle = running.handle().clone();
    let stopper = handle.clone();
    // Stdin closes when the parent says stop, or dies: no replica outlives it.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        stopper.request_shutdown();
    });
    println!("ready");
    running.wait().await?;
    println!(
        "completed {} redelivered {}",
        handle.counter("Sleepy.n_completed")?,
        handle.counter("Sleepy.n_redelivered")?
    );
    Ok(())
}

/// A replica process of row C; killed when dropped.
struct Replica {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Replica {
    fn spawn(url: &str) -> Result<Self, BoxError> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--replica", url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("a replica without its stdout")?;
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self { child, lines })
    }

    /// The next line it prints.
    async fn line(&mut self) -> Result<String, BoxError> {
        match tokio::time::timeout(Duration::from_secs(30), self.lines.recv()).await {
            Ok(Some(line)) => Ok(line),
            Ok(None) => Err("a replica exited early (its error is above)".into()),
            Err(_) => Err("a replica printed nothing within 30 s".into()),
        }
    }

    /// Closes its stdin, which stops it; its last line.
    async fn stop(mut self) -> Result<String, BoxError> {
        drop(self.child.stdin.take());
        self.line().await
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What row C measured.
struct Recovery {
    killed_at_done: u64,
    /// From the kill until every item was delivered at least once.
    drained: Duration,
    /// From the kill until every item was done.
    recovered: Duration,
    survivor: String,
}

/// Row C: two replicas, one killed when a third of `n` items are done.
async fn kill_recovery(url: &str, raw: &Raw, n: u64) -> Result<Recovery, BoxError> {
    let mut replicas = [Replica::spawn(url)?, Replica::spawn(url)?];
    for replica in &mut replicas {
        let line = replica.line().await?;
        if line != "ready" {
            return Err(format!("a replica said {line:?} instead of ready").into());
        }
    }
    let stream = format!("SPARTS_{KILL_SERVICE}_Sleepy");
    let consumer: PullConsumer = raw
        .js
        .get_stream(&stream)
        .await?
        .get_consumer("workers")
        .await?;
    // Published as a sparts enqueue stores them: JSON on the items subject.
    let published = Arc::new(AtomicU64::new(0));
    let (publisher, counted) = (raw.clone(), published.clone());
    let producing = tokio::spawn(produce(n, move |item| {
        let (raw, counted) = (publisher.clone(), counted.clone());
        async move {
            let subject = format!("sparts.{KILL_SERVICE}.Sleepy.items");
            raw.publish(&subject, item, None).await?;
            counted.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }));
    let left = || async {
        let info = consumer.get_info().await?;
        Ok::<_, BoxError>((
            info.num_pending,
            info.num_pending + info.num_ack_pending as u64,
        ))
    };
    let deadline = Instant::now() + PATIENCE;
    let killed_at_done = loop {
        let done = published
            .load(Ordering::Relaxed)
            .saturating_sub(left().await?.1);
        if done >= n / 3 {
            replicas[0].child.kill()?;
            break done;
        }
        if Instant::now() > deadline {
            return Err(format!("a third of the items not done within {PATIENCE:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let killed = Instant::now();
    producing.await??;
    let mut drained = None;
    loop {
        let (pending, left) = left().await?;
        if pending == 0 {
            drained.get_or_insert(killed.elapsed());
        }
        if left == 0 {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("{left} items still not done after {PATIENCE:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let recovered = killed.elapsed();
    let [_dead, survivor] = replicas;
    let survivor = survivor.stop().await?;
    raw.delete(&[&stream, &format!("{stream}_DEAD")]).await;
    Ok(Recovery {
        killed_at_done,
        drained: drained.unwrap_or(recovered),
        recovered,
        survivor,
    })
}

/// The middle value (the upper one of an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// `n` rounded, with thousands separators.
fn thousands(n: f64) -> String {
    let digits = format!("{n:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One round's values, by key.
type Values = Vec<(&'static str, f64)>;

/// One round of row A; prints its line.
async fn row_a(round: usize, url: &str, raw: &Raw, n: u64) -> Result<Values, BoxError> {
    let rate = |elapsed: Duration| n as f64 / elapsed.as_secs_f64();
    // The order alternates by round, so that no side always meets the
    // server first.
    let (sparts, streaming) = if round % 2 == 1 {
        let sparts = rate(sparts_throughput(url, raw, n).await?);
        (sparts, rate(raw_throughput(raw, n).await?))
    } else {
        let streaming = rate(raw_throughput(raw, n).await?);
        (rate(sparts_throughput(url, raw, n).await?), streaming)
    };
    println!(
        "round {round} A: sparts {} items/s, raw streaming pull {} (ratio {:.3})",
        thousands(sparts),
        thousands(streaming),
        sparts / streaming,
    );
    Ok(vec![
        ("queue_nats_items_per_s", sparts),
        ("queue_nats_raw_items_per_s", streaming),
        ("queue_nats_ratio", sparts / streaming),
    ])
}

/// One round of row B; prints its line.
async fn row_b(round: usize, url: &str, raw: &Raw, n: u64) -> Result<Values, BoxError> {
    let (sparts, bare) = if round % 2 == 1 {
        let sparts = sparts_submit(url, raw, n).await?;
        (sparts, raw_submit(raw, n).await?)
    } else {
        let bare = raw_submit(raw, n).await?;
        (sparts_submit(url, raw, n).await?, bare)
    };
    println!(
        "round {round} B: sparts submit {} items/s p99 {:.2} ms, raw {} items/s p99 {:.2} ms",
        thousands(sparts.items_per_s),
        sparts.p99_ms,
        thousands(bare.items_per_s),
        bare.p99_ms
    );
    Ok(vec![
        ("queue_nats_submit_items_per_s", sparts.items_per_s),
        ("queue_nats_submit_p99_ms", sparts.p99_ms),
        ("queue_nats_raw_submit_items_per_s", bare.items_per_s),
        ("queue_nats_raw_submit_p99_ms", bare.p99_ms),
        (
            "queue_nats_submit_ratio",
            sparts.items_per_s / bare.items_per_s,
        ),
    ])
}

/// One round of row C; prints its line.
async fn row_c(round: usize, url: &str, raw: &Raw, n: u64) -> Result<Values, BoxError> {
    let c = kill_recovery(url, raw, n).await?;
    println!(
        "round {round} C: killed at {} done; every item delivered {:.2} s and done {:.2} s \
         after the kill (ack wait {KILL_ACK_WAIT_S} s); survivor: {}",
        thousands(c.killed_at_done as f64),
        c.drained.as_secs_f64(),
        c.recovered.as_secs_f64(),
        c.survivor
    );
    Ok(vec![
        ("queue_nats_kill_drain_s", c.drained.as_secs_f64()),
        ("queue_nats_kill_recovery_s", c.recovered.as_secs_f64()),
    ])
}

/// The medians: a line per row, then `key=value` lines and the RATIO line.
fn report(rounds: usize, values: &HashMap<&str, Vec<f64>>) {
    let m = |key: &str| values.get(key).map_or(f64::NAN, |v| median(v));
    println!();
    println!("medians of {rounds} rounds:");
    println!(
        "A: sparts QueueTask {} items/s = {:.3} of raw streaming pull + ack ({} items/s)",
        thousands(m("queue_nats_items_per_s")),
        m("queue_nats_ratio"),
        thousands(m("queue_nats_raw_items_per_s")),
    );
    println!(
        "B: sparts submit + await {} items/s, p99 {:.2} ms; raw publish + pull + request/reply \
         {} items/s, p99 {:.2} ms",
        thousands(m("queue_nats_submit_items_per_s")),
        m("queue_nats_submit_p99_ms"),
        thousands(m("queue_nats_raw_submit_items_per_s")),
        m("queue_nats_raw_submit_p99_ms"),
    );
    println!(
        "C: one of two replicas killed: every item done {:.2} s after the kill \
         (every item delivered after {:.2} s), ack wait {KILL_ACK_WAIT_S} s",
        m("queue_nats_kill_recovery_s"),
        m("queue_nats_kill_drain_s"),
    );
    let mut keys: Vec<_> = values.keys().copied().collect();
    keys.sort_unstable();
    let mut ratio = String::from("RATIO");
    for key in keys {
        println!("{key}={:.3}", m(key));
        ratio.push_str(&format!(" {key}={:.3}", m(key)));
    }
    println!("queue_nats_ack_wait_s={KILL_ACK_WAIT_S}");
    println!("{ratio} queue_nats_ack_wait_s={KILL_ACK_WAIT_S}");
}

/// Every round of every row, then the medians.
async fn bench(args: &Args) -> Result<(), BoxError> {
    let installed = Command::new("nats-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        return Err(
            "nats-server is not installed (apt-get install nats-server); \
                    this benchmark runs its own"
                .into(),
        );
    }
    let server = NatsServer::start()?;
    let url = server.url.as_str();
    let raw = Raw::connect(url).await?;
    println!(
        "nats-server -js at {url}; {} cores; A: {} items, B: {} submits ({IN_FLIGHT} in flight), \
         C: {} items of 1 ms, ack wait {KILL_ACK_WAIT_S} s",
        std::thread::available_parallelism().map_or(0, usize::from),
        thousands(args.items as f64),
        thousands(args.submits as f64),
        thousands(args.kill_items as f64),
    );
    let mut values: HashMap<&str, Vec<f64>> = HashMap::new();
    for round in 1..=args.rounds {
        let mut measured = row_a(round, url, &raw, args.items).await?;
        measured.extend(row_b(round, url, &raw, args.submits).await?);
        measured.extend(row_c(round, url, &raw, args.kill_items).await?);
        for (key, value) in measured {
            values.entry(key).or_default().push(value);
        }
    }
    report(args.rounds, &values);
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("queue_nats: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match &args.replica {
        Some(url) => runtime.block_on(replica(url)),
        None => runtime.block_on(bench(&args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("queue_nats: {e}");
            ExitCode::FAILURE
        }
    }
}
