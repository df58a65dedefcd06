//! `distributed_jobs` as replicas do it: processes sharing one real
//! `nats-server -js`, one of them killed with SIGKILL; and alone, with
//! nothing else.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::nats::{NatsServer, available};
use common::{Example, TestResult, client, get_json};
use nix::sys::signal::Signal;

const BIN: &str = env!("CARGO_BIN_EXE_distributed_jobs");

/// A replica on a free HTTP port; returns it and its port.
fn replica(args: &[&str]) -> TestResult<(Example, u16)> {
    let mut all = vec!["--http-host", "127.0.0.1", "--http-port", "0"];
    all.extend_from_slice(args);
    let mut example = Example::spawn(BIN, &all)?;
    let port = example.logged_port("HttpTask")?;
    example.expect_line("All tasks started")?;
    Ok((example, port))
}

/// The numbers in lines `<word> N` (`job N done`, `tick N`) seen so far.
fn numbers(example: &mut Example, word: &str) -> Vec<u64> {
    let prefix = format!("{word} ");
    example
        .lines_so_far()
        .iter()
        .filter_map(|line| {
            let rest = &line[line.find(&prefix)? + prefix.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// Posts job `n` to one of `ports`, trying the next on a refusal or a
/// failure (a killed replica): the client's side of at least once.
async fn post_job(http: &reqwest::Client, ports: &[u16], n: u64) -> TestResult {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut turn = n as usize;
    loop {
        let port = ports[turn % ports.len()];
        let sent = http
            .post(format!("http://127.0.0.1:{port}/jobs/{n}"))
            .send()
            .await;
        if sent.is_ok_and(|response| response.status() == reqwest::StatusCode::ACCEPTED) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("job {n} was never accepted").into());
        }
        turn += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn alone_it_needs_nothing_else() -> TestResult {
    let (mut alone, port) = replica(&["--tick-interval", "0.2"])?;
    let response = client()
        .post(format!("http://127.0.0.1:{port}/jobs/42"))
        .send()
        .await?;
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
    assert_eq!(response.text().await?, "job 42 queued\n");
    alone.expect_line("job 42 done")?;
    let bad = client()
        .post(format!("http://127.0.0.1:{port}/jobs/forty-two"))
        .send()
        .await?;
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);
    // Ticks are numbered on the wall clock: tick k runs at k × 0.2 s.
    let line = alone.expect_line("tick ")?;
    let tick = numbers(&mut alone, "tick")
        .pop()
        .ok_or(format!("no number in {line:?}"))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let current = (now.as_secs_f64() / 0.2) as u64;
    assert!(
        tick + 10 >= current && tick <= current + 1,
        "tick {tick}, now {current}"
    );
    assert_eq!(alone.sigterm()?.code(), Some(0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_do_every_job_when_one_is_killed() -> TestResult {
    if !available("three_replicas_do_every_job_when_one_is_killed") {
        return Ok(());
    }
    let server = NatsServer::start();
    let url = server.url();
    let args = [
        "--jobs-backend",
        &url,
        "--jobs-work-ms",
        "2",
        "--jobs-workers",
        "4",
        "--jobs-ack-wait",
        "2",
        "--tick-interval",
        "60",
    ];
    let mut replicas = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..3 {
        let (example, port) = replica(&args)?;
        replicas.push(example);
        ports.push(port);
    }
    const JOBS: u64 = 2_000;
    let http = client();
    let mut killed = false;
    let mut posted = 0;
    let mut in_flight = futures_util::stream::FuturesUnordered::new();
    use futures_util::StreamExt;
    while posted < JOBS || !in_flight.is_empty() {
        while posted < JOBS && in_flight.len() < 16 {
            let (http, live) = (
                http.clone(),
                if killed {
                    ports[..2].to_vec()
                } else {
                    ports.clone()
                },
            );
            in_flight.push(async move {
                post_job(&http, &live, posted)
                    .await
                    .map_err(|e| e.to_string())
            });
            posted += 1;
        }
        if let Some(result) = in_flight.next().await {
            result?;
        }
        if posted == JOBS / 3 && !killed {
            replicas[2].signal(Signal::SIGKILL)?;
            killed = true;
        }
    }
    // Every job done somewhere, within the ack wait and a margin.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (done, duplicates) = loop {
        let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
        for replica in &mut replicas {
            for n in numbers(replica, "job") {
                *counts.entry(n).or_default() += 1;
            }
        }
        let duplicates: usize = counts.values().map(|c| c - 1).sum();
        if counts.len() as u64 == JOBS || Instant::now() > deadline {
            break (
                counts.keys().copied().collect::<BTreeSet<u64>>(),
                duplicates,
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let missing: Vec<u64> = (0..JOBS).filter(|n| !done.contains(n)).collect();
    assert!(missing.is_empty(), "jobs never done: {missing:?}");
    eprintln!(
        "{JOBS} jobs done by 3 replicas, one killed after {} posts: {duplicates} done twice",
        JOBS / 3
    );
    // At least once: what the killed replica had taken but not acknowledged
    // (4 workers), and what it had acknowledged without the client hearing.
    assert!(duplicates <= 64, "{duplicates} jobs done twice");
    for mut replica in replicas.drain(..2) {
        assert_eq!(replica.sigterm()?.code(), Some(0));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_finish_the_work_when_the_server_restarts() -> TestResult {
    if !available("replicas_finish_the_work_when_the_server_restarts") {
        return Ok(());
    }
    let mut server = NatsServer::start();
    let url = server.url();
    let args = [
        "--jobs-backend",
        &url,
        "--jobs-work-ms",
        "5",
        "--jobs-workers",
        "2",
        "--tick-interval",
        "60",
    ];
    let (mut a, a_port) = replica(&args)?;
    let (mut b, b_port) = replica(&args)?;
    let http = client();
    for n in 0..300 {
        post_job(&http, &[a_port, b_port], n).await?;
    }
    server.stop();
    // While it is down: WARNING, named.
    let deadline = Instant::now() + Duration::from_secs(20);
    let warned = loop {
        let status = get_json(a_port, "/admin/status").await?;
        if status["status"] == "WARNING" || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(warned["status"], "WARNING", "{warned}");
    assert!(
        warned["details"]
            .to_string()
            .contains("Jobs: NATS server at"),
        "{warned}"
    );
    server.restart();
    for n in 300..600 {
        post_job(&http, &[a_port, b_port], n).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let mut done = BTreeSet::new();
        done.extend(numbers(&mut a, "job"));
        done.extend(numbers(&mut b, "job"));
        if done.len() == 600 || Instant::now() > deadline {
            break done;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let missing: Vec<u64> = (0..600).filter(|n| !done.contains(n)).collect();
    assert!(missing.is_empty(), "jobs never done: {missing:?}");
    let status = get_json(a_port, "/admin/status").await?;
    assert_eq!(status["status"], "ALIVE", "reconnected: {status}");
    assert_eq!(a.sigterm()?.code(), Some(0));
    assert_eq!(b.sigterm()?.code(), Some(0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_run_each_tick_once_and_one_takes_over_from_a_killed_leader() -> TestResult {
    if !available("three_replicas_run_each_tick_once_and_one_takes_over_from_a_killed_leader") {
        return Ok(());
    }
    let server = NatsServer::start();
    let url = server.url();
    let args = [
        "--tick-coordination",
        &url,
        "--tick-interval",
        "0.2",
        "--tick-lease-ttl",
        "1",
    ];
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(replica(&args)?.0);
    }
    let ticks = |replicas: &mut Vec<Example>| -> Vec<Vec<u64>> {
        replicas.iter_mut().map(|r| numbers(r, "tick")).collect()
    };
    // Ten intervals and more.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = ticks(&mut replicas);
    while seen.iter().map(Vec::len).sum::<usize>() < 12 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = ticks(&mut replicas);
    }
    let all: Vec<u64> = seen.iter().flatten().copied().collect();
    let distinct: BTreeSet<u64> = all.iter().copied().collect();
    assert!(all.len() >= 12, "too few ticks: {seen:?}");
    assert_eq!(distinct.len(), all.len(), "a tick ran twice: {seen:?}");
    let leader = seen.iter().position(|t| !t.is_empty()).ok_or("no leader")?;
    let last = *distinct.last().ok_or("no tick")?;
    replicas[leader].signal(Signal::SIGKILL)?;
    let killed = Instant::now();
    // Another leads once the lease lapses (its TTL, 1 s, after the last
    // renewal) and runs the next tick on the grid: TTL, an interval, and
    // slack for a busy machine.
    let deadline = killed + Duration::from_secs(10);
    let taken_over = loop {
        let after: Vec<u64> = replicas
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| *i != leader)
            .flat_map(|(_, r)| numbers(r, "tick"))
            .filter(|t| *t > last)
            .collect();
        if !after.is_empty() || Instant::now() > deadline {
            break killed.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        taken_over < Duration::from_millis(1_800),
        "took over after {taken_over:?}"
    );
    let survivors: Vec<u64> = replicas
        .iter_mut()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .flat_map(|(_, r)| numbers(r, "tick"))
        .collect();
    let before: BTreeSet<u64> = seen[leader].iter().copied().collect();
    assert!(
        survivors.iter().all(|t| !before.contains(t)),
        "the new leader reran a tick"
    );
    eprintln!("the leader was killed after tick {last}; another led {taken_over:?} later");
    for (i, mut replica) in replicas.into_iter().enumerate() {
        if i != leader {
            assert_eq!(replica.sigterm()?.code(), Some(0));
        }
    }
    Ok(())
}

#[test]
fn a_backend_that_cannot_serve_stops_the_start_with_exit_1() -> TestResult {
    for (flag, url, said) in [
        (
            "--jobs-backend",
            "nats://127.0.0.1:1",
            "Jobs: cannot reach the NATS server at nats://127.0.0.1:1",
        ),
        (
            "--jobs-backend",
            "nats://localhost",
            "Jobs: \"nats://localhost\" is not a NATS URL",
        ),
        (
            "--jobs-backend",
            "redis://localhost:6379",
            "unknown backend (known: memory, nats)",
        ),
        (
            "--tick-coordination",
            "nats://127.0.0.1:1",
            "Tick: cannot reach the NATS server at nats://127.0.0.1:1",
        ),
    ] {
        let (status, out) =
            common::run(std::process::Command::new(BIN).args(["--http-port", "0", flag, url]))?;
        assert_eq!(status.code(), Some(1), "{flag} {url}: {out}");
        assert!(out.contains(said), "{flag} {url}: {out}");
    }
    Ok(())
}
