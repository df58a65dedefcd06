//! `GET /debug/pprof/profile` over real HTTP: a real CPU profile of this
//! process, decoded from pprof's format; one at a time; trusted peers
//! only. Profiling needs real CPU time, so these tests take real seconds,
//! and the process has one profiler, so the tests that run one take turns.

mod common;

use std::hint::black_box;
use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::http::StatusCode;
use common::{TestResult, client, start};
use serde_json::Value;
use sparts_core::VService;
use sparts_http::HttpTask;

/// One profile at a time in this test binary.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The parts of pprof's `profile.proto` (perftools.profiles) the tests
/// read, declared from its field numbers: decoding does not go through
/// the writer's own types.
mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub(crate) sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub(crate) sample: Vec<Sample>,
        #[prost(message, repeated, tag = "4")]
        pub(crate) location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub(crate) function: Vec<Function>,
        #[prost(string, repeated, tag = "6")]
        pub(crate) string_table: Vec<String>,
        #[prost(int64, tag = "10")]
        pub(crate) duration_nanos: i64,
        #[prost(int64, tag = "12")]
        pub(crate) period: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct ValueType {
        #[prost(int64, tag = "1")]
        pub(crate) r#type: i64,
        #[prost(int64, tag = "2")]
        pub(crate) unit: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub(crate) location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub(crate) value: Vec<i64>,
        #[prost(message, repeated, tag = "3")]
        pub(crate) label: Vec<Label>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Label {
        #[prost(int64, tag = "1")]
        pub(crate) key: i64,
        #[prost(int64, tag = "2")]
        pub(crate) str: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Location {
        #[prost(uint64, tag = "1")]
        pub(crate) id: u64,
        #[prost(message, repeated, tag = "4")]
        pub(crate) line: Vec<Line>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Line {
        #[prost(uint64, tag = "1")]
        pub(crate) function_id: u64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Function {
        #[prost(uint64, tag = "1")]
        pub(crate) id: u64,
        #[prost(int64, tag = "2")]
        pub(crate) name: i64,
    }
}

/// Spins until `stop`: a function the profile must name.
#[inline(never)]
fn burn_cpu_for_pprof(stop: &AtomicBool) -> u64 {
    let mut x = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        for i in 0..10_000 {
            x = black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
    x
}

/// A thread named `burner` that burns CPU until the result is dropped.
struct Burner {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Burner {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("burner".to_owned())
            .spawn(move || burn_cpu_for_pprof(&flag))
            .expect("thread starts");
        Burner {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Burner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn profiled(args: &[&str]) -> Result<common::Started, sparts_core::Error> {
    let mut all = vec!["--http-host", "127.0.0.1"];
    all.extend_from_slice(args);
    start(
        VService::new("Profiled").with_task(HttpTask::default()),
        &all,
    )
    .await
}

fn decode(gzipped: &[u8]) -> Result<proto::Profile, Box<dyn std::error::Error + Send + Sync>> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gzipped).read_to_end(&mut raw)?;
    Ok(prost::Message::decode(raw.as_slice())?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_over_http_names_the_function_burning_cpu() -> TestResult {
    let _turn = TURN.lock().await;
    let s = profiled(&[]).await?;
    let burner = Burner::start();
    let response = client()
        .get(s.url("/debug/pprof/profile?seconds=1"))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"profile\""
    );
    let body = response.bytes().await?;
    drop(burner);
    assert_eq!(body[..2], [0x1f, 0x8b], "gzip, as Go serves it");
    let profile = decode(&body)?;

    let s_ = |i: i64| profile.string_table[usize::try_from(i).expect("index")].as_str();
    assert_eq!(profile.string_table[0], "");
    let types: Vec<(&str, &str)> = profile
        .sample_type
        .iter()
        .map(|t| (s_(t.r#type), s_(t.unit)))
        .collect();
    assert_eq!(types, [("samples", "count"), ("cpu", "nanoseconds")]);
    assert!(profile.period > 0);
    assert!(
        profile.duration_nanos >= 1_000_000_000,
        "one second or more"
    );
    assert!(!profile.sample.is_empty(), "a busy second gives samples");

    let function = |id: u64| {
        let f = profile.function.iter().find(|f| f.id == id).expect("known");
        s_(f.name)
    };
    // Each sample's stack, leaf first, and its thread.
    let stacks: Vec<(Vec<&str>, &str, i64)> = profile
        .sample
        .iter()
        .map(|sample| {
            let names = sample
                .location_id
                .iter()
                .flat_map(|&id| {
                    let l = profile.location.iter().find(|l| l.id == id).expect("known");
                    l.line.iter().map(|line| function(line.function_id))
                })
                .collect();
            let thread = sample
                .label
                .iter()
                .find(|l| s_(l.key) == "thread")
                .map_or("", |l| s_(l.str));
            (names, thread, sample.value[0])
        })
        .collect();
    let burning: Vec<_> = stacks
        .iter()
        .filter(|(names, _, _)| names.iter().any(|n| n.contains("burn_cpu_for_pprof")))
        .collect();
    assert!(
        !burning.is_empty(),
        "no sample names burn_cpu_for_pprof: {stacks:?}"
    );
    for (names, thread, count) in &burning {
        assert_eq!(*thread, "burner");
        assert!(*count > 0);
        assert!(
            !names.iter().any(|n| n.starts_with("pprof::")),
            "the profiler's own frames are left out: {names:?}"
        );
        let leafward = names.iter().position(|n| n.contains("burn_cpu_for_pprof"));
        let rootward = names.iter().position(|n| n.contains("std::thread"));
        assert!(leafward < rootward, "leaf first: {names:?}");
    }
    s.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_second_profile_while_one_runs_is_a_conflict() -> TestResult {
    let _turn = TURN.lock().await;
    let s = profiled(&[]).await?;
    let c = client();
    let url = s.url("/debug/pprof/profile?seconds=2");
    let ask = || async {
        let response = c.get(&url).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        Ok::<_, reqwest::Error>((status, body, Instant::now()))
    };
    let started = Instant::now();
    // Sent together: whichever arrives second meets the first's profiler.
    let (a, b) = tokio::join!(ask(), ask());
    let (mut first, mut second) = (a?, b?);
    if first.0 == StatusCode::CONFLICT {
        std::mem::swap(&mut first, &mut second);
    }
    assert_eq!(first.0, StatusCode::OK);
    assert_eq!(second.0, StatusCode::CONFLICT);
    assert!(second.2 < first.2, "refused at once, not after waiting");
    assert!(first.2 - started >= std::time::Duration::from_secs(2));
    let reason: Value = serde_json::from_slice(&second.1)?;
    assert!(
        reason["error"]
            .as_str()
            .is_some_and(|e| e.contains("already running")),
        "{reason}"
    );
    // Released when done: the next one runs.
    let next = c
        .get(s.url("/debug/pprof/profile?seconds=1"))
        .send()
        .await?;
    assert_eq!(next.status(), StatusCode::OK);
    s.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn only_trusted_peers_get_a_profile_and_bad_seconds_are_refused() -> TestResult {
    // 127.0.0.1 is outside the only trusted network.
    let untrusted = profiled(&["--admin-trusted", "10.0.0.0/8"]).await?;
    let refused = client()
        .get(untrusted.url("/debug/pprof/profile?seconds=1"))
        .send()
        .await?;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let reason: Value = refused.json().await?;
    assert!(
        reason["error"]
            .as_str()
            .is_some_and(|e| e.contains("127.0.0.1") && e.contains("--admin-trusted")),
        "{reason}"
    );
    untrusted.running.shutdown().await?;

    // Refused before any profiling starts: no turn needed.
    let s = profiled(&[]).await?;
    for (query, says) in [
        ("seconds=0", "at most 300 s"),
        ("seconds=301", "at most 300 s"),
        ("seconds=soon", "`soon`"),
        ("seconds=1.5", "whole number"),
    ] {
        let response = client()
            .get(s.url(&format!("/debug/pprof/profile?{query}")))
            .send()
            .await?;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let reason: Value = response.json().await?;
        assert!(
            reason["error"].as_str().is_some_and(|e| e.contains(says)),
            "{query}: {reason}"
        );
    }
    s.running.shutdown().await?;

    let without_admin = start(
        VService::new("Plain").with_task(HttpTask::default().without_admin()),
        &["--http-host", "127.0.0.1"],
    )
    .await?;
    let missing = client()
        .get(without_admin.url("/debug/pprof/profile?seconds=1"))
        .send()
        .await?;
    assert_eq!(
        missing.status(),
        StatusCode::NOT_FOUND,
        "part of the admin endpoints"
    );
    without_admin.running.shutdown().await?;
    Ok(())
}
