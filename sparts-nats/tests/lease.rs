//! `NatsLease` against a real nats-server: replicas of a coordinated
//! `PeriodicTask` run each tick once, a stopping leader hands over at once,
//! a killed one (a child process) is replaced within the lease's TTL, the
//! status warns while the server is away, and bad settings refuse the
//! start with errors naming the task.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sparts_core::{
    BoxError, Periodic, PeriodicContext, PeriodicTask, PeriodicTick, RunningService, Status,
    VService,
};
use sparts_nats::NatsLease;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The environment variable that makes this binary a replica (see
/// [`replica_process`]): the server's URL.
const REPLICA_URL: &str = "SPARTS_NATS_LEASE_REPLICA_URL";

/// One execution: which replica, which tick, which fencing token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    replica: usize,
    tick: u64,
    token: u64,
}

type Log = Arc<Mutex<Vec<Run>>>;

/// Records its ticks, as `Tick` in the examples logs them.
#[derive(Clone)]
struct Tick {
    replica: usize,
    log: Log,
}

impl Periodic for Tick {
    async fn execute(&self, _ctx: &PeriodicContext) -> Result<(), BoxError> {
        let tick = PeriodicTick::current().ok_or("no tick")?;
        let token = tick.token.ok_or("coordinated, so a fencing token")?;
        self.log.lock().map_err(|_| "log lock")?.push(Run {
            replica: self.replica,
            tick: tick.number,
            token,
        });
        Ok(())
    }
}

fn runs(log: &Log) -> Vec<Run> {
    log.lock().map(|runs| runs.clone()).unwrap_or_default()
}

/// Starts replica `replica` of service `Svc` with a coordinated `Tick`.
async fn replica(
    replica: usize,
    url: &str,
    log: &Log,
    interval: &str,
    ttl: &str,
) -> Result<RunningService, sparts_core::Error> {
    let tick = Tick {
        replica,
        log: Arc::clone(log),
    };
    VService::new("Svc")
        .with_task(PeriodicTask::new(tick).with_coordinator(NatsLease::new()))
        .start_with_args([
            "svc",
            "--tick-coordination",
            url,
            "--tick-interval",
            interval,
            "--tick-lease-ttl",
            ttl,
        ])
        .await
}

fn counter(service: &RunningService, name: &str) -> f64 {
    service
        .handle()
        .counter(&format!("Tick.{name}"))
        .unwrap_or(f64::NAN)
}

/// Waits, checking every 20 ms for at most `limit`, until `ready`.
async fn wait_for(what: &str, limit: Duration, ready: impl Fn() -> bool) -> TestResult {
    let deadline = Instant::now() + limit;
    while !ready() {
        if Instant::now() > deadline {
            return Err(format!("{what}: not within {limit:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// No tick ran twice, and they ran in order with growing tokens.
fn assert_once_each(runs: &[Run]) {
    let ticks: BTreeSet<u64> = runs.iter().map(|r| r.tick).collect();
    assert_eq!(ticks.len(), runs.len(), "a tick ran twice: {runs:?}");
    assert!(
        runs.windows(2)
            .all(|w| w[0].tick < w[1].tick && w[0].token < w[1].token),
        "{runs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_run_each_tick_once() -> TestResult {
    if !common::available("three_replicas_run_each_tick_once") {
        return Ok(());
    }
    let server = common::NatsServer::start();
    let log = Log::default();
    let mut replicas = Vec::new();
    for i in 0..3 {
        replicas.push(replica(i, &server.url(), &log, "0.2", "1").await?);
    }
    wait_for("12 ticks", Duration::from_secs(10), || {
        runs(&log).len() >= 12
    })
    .await?;

    let runs = runs(&log);
    assert_once_each(&runs);
    let leaders: Vec<f64> = replicas.iter().map(|r| counter(r, "is_leader")).collect();
    assert_eq!(leaders.iter().sum::<f64>(), 1.0, "one leader: {leaders:?}");
    let changes: f64 = replicas
        .iter()
        .map(|r| counter(r, "n_leader_changes"))
        .sum();
    assert_eq!(changes, 1.0, "nobody took over");
    let leader = leaders.iter().position(|l| *l == 1.0).ok_or("a leader")?;
    assert!(runs.iter().all(|r| r.replica == leader), "{runs:?}");
    let gaps = runs
        .windows(2)
        .filter(|w| w[1].tick != w[0].tick + 1)
        .count();
    assert!(gaps <= 1, "ticks keep running: {runs:?}");

    for running in replicas {
        running.shutdown().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_leader_hands_over_at_once() -> TestResult {
    if !common::available("a_stopping_leader_hands_over_at_once") {
        return Ok(());
    }
    let server = common::NatsServer::start();
    let log = Log::default();
    let mut replicas = Vec::new();
    for i in 0..3 {
        replicas.push(Some(replica(i, &server.url(), &log, "0.3", "3").await?));
    }
    wait_for("3 ticks", Duration::from_secs(10), || runs(&log).len() >= 3).await?;
    let leader = replicas
        .iter()
        .position(|r| r.as_ref().is_some_and(|r| counter(r, "is_leader") == 1.0))
        .ok_or("a leader")?;

    let stopped = Instant::now();
    if let Some(running) = replicas[leader].take() {
        running.shutdown().await?;
    }
    let others: Vec<&RunningService> = replicas.iter().flatten().collect();
    let led = || others.iter().any(|r| counter(r, "is_leader") == 1.0);
    // A third of the 3 s TTL: only a release makes it that fast.
    wait_for("a new leader", Duration::from_secs(1), led).await?;
    let handover = stopped.elapsed();
    wait_for("3 more ticks", Duration::from_secs(10), || {
        runs(&log).iter().filter(|r| r.replica != leader).count() >= 3
    })
    .await?;

    let runs = runs(&log);
    assert_once_each(&runs);
    let last_old = runs.iter().rfind(|r| r.replica == leader);
    let first_new = runs.iter().find(|r| r.replica != leader);
    let (last_old, first_new) = last_old.zip(first_new).ok_or("both ran")?;
    assert_eq!(
        first_new.tick,
        last_old.tick + 1,
        "none missed, none twice (handover in {handover:?}): {runs:?}"
    );
    for running in replicas.into_iter().flatten() {
        running.shutdown().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_warns_while_the_server_is_away() -> TestResult {
    if !common::available("the_status_warns_while_the_server_is_away") {
        return Ok(());
    }
    let mut server = common::NatsServer::start();
    let log = Log::default();
    let running = replica(0, &server.url(), &log, "0.2", "1").await?;
    wait_for("a tick", Duration::from_secs(5), || !runs(&log).is_empty()).await?;
    assert_eq!(running.handle().status(), Status::Alive);

    server.stop();
    let handle = running.handle().clone();
    wait_for("a warning", Duration::from_secs(5), || {
        handle.status() == Status::Warning
    })
    .await?;
    let details = handle.status_details();
    assert!(details.contains("Tick: NATS server at"), "{details}");
    wait_for("stepping down", Duration::from_secs(2), || {
        counter(&running, "is_leader") == 0.0
    })
    .await?;
    let before = runs(&log).len();

    server.restart();
    wait_for("the warning cleared", Duration::from_secs(20), || {
        handle.status() == Status::Alive
    })
    .await?;
    wait_for("leading again", Duration::from_secs(10), || {
        runs(&log).len() > before + 2
    })
    .await?;
    assert_eq!(counter(&running, "is_leader"), 1.0);
    assert_eq!(counter(&running, "n_leader_changes"), 2.0);
    assert_once_each(&runs(&log));
    running.shutdown().await?;
    Ok(())
}

/// The start error of a replica given these arguments, as `{:#}` shows it.
async fn start_error(url: &str, ttl: &str) -> Result<String, Box<dyn std::error::Error>> {
    let started = replica(0, url, &Log::default(), "0.2", ttl).await;
    let error = started.err().ok_or("the start is refused")?;
    Ok(format!("{error:#}"))
}

#[tokio::test]
async fn a_bad_url_or_an_unreachable_server_refuses_the_start() -> TestResult {
    let error = start_error("nats://nohost", "1").await?;
    assert!(
        error.contains("Tick: \"nats://nohost\" is not a NATS URL"),
        "{error}"
    );
    let error = start_error("nats://127.0.0.1:1", "1").await?;
    assert!(
        error.contains("Tick: cannot reach the NATS server at nats://127.0.0.1:1"),
        "{error}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_with_another_ttl_refuses_the_start() -> TestResult {
    if !common::available("a_bucket_with_another_ttl_refuses_the_start") {
        return Ok(());
    }
    let server = common::NatsServer::start();
    let first = replica(0, &server.url(), &Log::default(), "0.2", "1").await?;
    let error = start_error(&server.url(), "2").await?;
    assert!(
        error.contains("Tick: NATS JetStream refused the lease bucket SPARTS_LEASE_Svc_Tick"),
        "{error}"
    );
    assert!(
        error.contains("a lease TTL (max_age) of 1s") && error.contains("is 2s"),
        "{error}"
    );
    first.shutdown().await?;

    // The same TTL, another history: the server's reason.
    let client = async_nats::connect(server.url()).await?;
    let js = async_nats::jetstream::new(client);
    js.delete_stream("KV_SPARTS_LEASE_Svc_Tick").await?;
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "KV_SPARTS_LEASE_Svc_Tick".to_owned(),
        subjects: vec!["$KV.SPARTS_LEASE_Svc_Tick.>".to_owned()],
        max_messages_per_subject: 5,
        max_age: Duration::from_secs(1),
        ..Default::default()
    })
    .await?;
    let error = start_error(&server.url(), "1").await?;
    assert!(
        error.contains("Tick: NATS JetStream refused the lease bucket SPARTS_LEASE_Svc_Tick: ")
            && error.contains("different configuration"),
        "{error}"
    );
    Ok(())
}

/// Not a test on its own: run as a child process by
/// [`a_killed_leader_is_replaced_within_the_ttl`], with the server's URL in
/// [`REPLICA_URL`], it is one replica, printing `replica tick <n>` for each
/// tick it runs, until its standard input closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_process() -> TestResult {
    let Ok(url) = std::env::var(REPLICA_URL) else {
        return Ok(());
    };
    let log = Log::default();
    let running = replica(0, &url, &log, "0.2", "1").await?;
    let (closed, stdin_closed) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = closed.send(());
    });
    let mut printed = 0;
    tokio::pin!(stdin_closed);
    loop {
        for run in runs(&log).iter().skip(printed) {
            let mut out = std::io::stdout().lock();
            writeln!(out, "replica tick {}", run.tick)?;
            out.flush()?;
            printed += 1;
        }
        tokio::select! {
            _ = &mut stdin_closed => break,
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
    running.shutdown().await?;
    Ok(())
}

/// A replica in a child process, its ticks read from its output.
struct ChildReplica {
    child: Child,
}

impl ChildReplica {
    fn spawn(index: usize, url: &str, ticks: mpsc::Sender<(usize, u64, Instant)>) -> Self {
        let exe = std::env::current_exe().expect("the test binary");
        let mut child = Command::new(exe)
            .args(["--exact", "replica_process", "--nocapture"])
            .env(REPLICA_URL, url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("a replica starts");
        let stdout = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let tick = line.strip_prefix("replica tick ").map(str::parse::<u64>);
                if let Some(Ok(tick)) = tick {
                    let _ = ticks.send((index, tick, Instant::now()));
                }
            }
        });
        Self { child }
    }
}

impl Drop for ChildReplica {
    fn drop(&mut self) {
        // Closing its input stops it; one that does not stop in time is killed.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_killed_leader_is_replaced_within_the_ttl() -> TestResult {
    if !common::available("a_killed_leader_is_replaced_within_the_ttl") {
        return Ok(());
    }
    const TTL: Duration = Duration::from_secs(1);
    const INTERVAL: Duration = Duration::from_millis(200);
    let server = common::NatsServer::start();
    let (tx, ticks) = mpsc::channel();
    let mut replicas: Vec<ChildReplica> = (0..3)
        .map(|i| ChildReplica::spawn(i, &server.url(), tx.clone()))
        .collect();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        seen.push(
            ticks
                .recv_timeout(left)
                .map_err(|_| "3 ticks within 20 s")?,
        );
    }
    let leader = seen[0].0;

    replicas[leader].child.kill()?;
    let killed = Instant::now();
    replicas[leader].child.wait()?;
    // Ticks it printed before it died may still be on their way.
    let first_new = loop {
        let left = (killed + Duration::from_secs(10)).saturating_duration_since(Instant::now());
        let run = ticks
            .recv_timeout(left)
            .map_err(|_| "no new leader within 10 s")?;
        seen.push(run);
        if run.0 != leader {
            break run;
        }
    };
    let takeover = first_new.2 - killed;
    // The lease expires at most one TTL after the kill, the next tick is
    // due at most one interval later; the rest is for the server's expiry
    // timer and a busy machine.
    let slack = Duration::from_millis(800);
    assert!(
        takeover <= TTL + INTERVAL + slack,
        "took over {takeover:?} after the kill"
    );
    let more = Instant::now() + Duration::from_secs(5);
    while seen.iter().filter(|r| r.0 != leader).count() < 3 {
        let left = more.saturating_duration_since(Instant::now());
        seen.push(
            ticks
                .recv_timeout(left)
                .map_err(|_| "3 ticks by the new leader")?,
        );
    }
    let numbers: BTreeSet<u64> = seen.iter().map(|r| r.1).collect();
    assert_eq!(numbers.len(), seen.len(), "a tick ran twice: {seen:?}");
    eprintln!("took over {takeover:?} after the kill");
    Ok(())
}
