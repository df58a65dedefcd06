//! gRPC load: sparts' `GrpcTask` (Greeter plus health, reflection, admin
//! and counters, info logging) against a bare tonic server with the same
//! Greeter, side by side in one run, plus the sparts server's idle RSS.
//!
//! ```sh
//! cargo build --release -p sparts-bench --bin grpc_load --bin bare_tonic --bin sparts_grpc_hello
//! target/release/grpc_load [ROUNDS] [SECONDS]    # default: 5 rounds of 5 s
//! ```
//!
//! Each round drives both servers in turn, alternating which goes first,
//! with a tonic client: unary `SayHello`, 64 calls in flight over 4
//! connections, for SECONDS after a 1 s warm-up. The table shows the median
//! of the rounds, and as ratios the median of each round's sparts/bare
//! ratio (the two runs of a round see the same machine load).
//!
//! The last line is for scripts: `RATIO grpc_rps=<sparts> grpc_rps_bare=<tonic>
//! grpc_rps_ratio=<x> grpc_p99_ms=<sparts> grpc_p99_bare_ms=<tonic>
//! grpc_p99_ratio=<y> grpc_idle_rss_mb=<sparts>` (medians; MB = 2^20 bytes,
//! as the table).

// A report printed for people: stdout is its output.
#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sparts::grpc::pb::helloworld::HelloRequest;
use sparts::grpc::pb::helloworld::greeter_client::GreeterClient;
use sparts::grpc::tonic::transport::{Channel, Endpoint};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const CONNECTIONS: usize = 4;
const IN_FLIGHT: usize = 64;
const WARMUP: Duration = Duration::from_secs(1);
const PATIENCE: Duration = Duration::from_secs(20);

/// A server process, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `bin` and reads its port from the first `(port N)` it logs.
fn start(bin: &Path, args: &[&str]) -> Result<Server, BoxError> {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let (tx, rx) = mpsc::channel();
    // Drains stderr to the end so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .map_err(|_| format!("{} logged no port", bin.display()))?;
        if let Some(port) = line
            .split("(port ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .and_then(|p| p.parse().ok())
        {
            return Ok(Server { child, port });
        }
    }
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .ok_or("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .next()
        .ok_or("malformed VmRSS")?
        .parse()?)
}

struct Run {
    rps: f64,
    p99_ms: f64,
}

/// Drives `port` for `secs` after the warm-up; requests/s and p99.
async fn load(port: u16, secs: Duration) -> Result<Run, BoxError> {
    let mut channels: Vec<Channel> = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        channels.push(
            Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
                .connect()
                .await?,
        );
    }
    let start = Instant::now();
    let measure_from = start + WARMUP;
    let end = measure_from + secs;
    let mut workers = Vec::with_capacity(IN_FLIGHT);
    for i in 0..IN_FLIGHT {
        let mut client = GreeterClient::new(channels[i % CONNECTIONS].clone());
        workers.push(tokio::spawn(async move {
            let mut micros: Vec<u32> = Vec::with_capacity(1 << 16);
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let request = HelloRequest {
                    name: "bench".into(),
                };
                client.say_hello(request).await?;
                if sent >= measure_from {
                    let us = sent.elapsed().as_micros();
                    micros.push(u32::try_from(us).unwrap_or(u32::MAX));
                }
            }
            Ok::<_, BoxError>(micros)
        }));
    }
    let mut all: Vec<u32> = Vec::new();
    for worker in workers {
        all.extend(worker.await??);
    }
    all.sort_unstable();
    let p99 = all
        .get(all.len().saturating_sub(1) * 99 / 100)
        .copied()
        .unwrap_or(0);
    Ok(Run {
        rps: all.len() as f64 / secs.as_secs_f64(),
        p99_ms: f64::from(p99) / 1000.0,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn sibling(name: &str) -> Result<PathBuf, BoxError> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or("no directory for this binary")?;
    Ok(dir.join(name))
}

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let secs = Duration::from_secs(args.next().map(|a| a.parse()).transpose()?.unwrap_or(5));

    let sparts = start(&sibling("sparts_grpc_hello")?, &["--grpc-port", "0"])?;
    let bare = start(&sibling("bare_tonic")?, &["0"])?;
    std::thread::sleep(Duration::from_millis(500));
    let idle_sparts = rss_kib(sparts.child.id())?;
    let idle_bare = rss_kib(bare.child.id())?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (mut s_rps, mut b_rps, mut s_p99, mut b_p99) = (vec![], vec![], vec![], vec![]);
    let (mut rps_ratio, mut p99_ratio) = (vec![], vec![]);
    for round in 0..rounds {
        let (s, b) = runtime.block_on(async {
            if round % 2 == 0 {
                let s = load(sparts.port, secs).await?;
                let b = load(bare.port, secs).await?;
                Ok::<_, BoxError>((s, b))
            } else {
                let b = load(bare.port, secs).await?;
                let s = load(sparts.port, secs).await?;
                Ok((s, b))
            }
        })?;
        eprintln!(
            "round {}: sparts {:.0} req/s p99 {:.2} ms; bare {:.0} req/s p99 {:.2} ms",
            round + 1,
            s.rps,
            s.p99_ms,
            b.rps,
            b.p99_ms
        );
        rps_ratio.push(s.rps / b.rps);
        p99_ratio.push(s.p99_ms / b.p99_ms);
        s_rps.push(s.rps);
        b_rps.push(b.rps);
        s_p99.push(s.p99_ms);
        b_p99.push(b.p99_ms);
    }
    println!(
        "gRPC SayHello, {IN_FLIGHT} in flight over {CONNECTIONS} connections, {rounds} rounds of {} s",
        secs.as_secs()
    );
    let (s_rps, b_rps, s_p99, b_p99) = (median(s_rps), median(b_rps), median(s_p99), median(b_p99));
    let (rps_ratio, p99_ratio) = (median(rps_ratio), median(p99_ratio));
    let idle_sparts_mb = idle_sparts as f64 / 1024.0;
    println!("| server | req/s | p99 ms | idle RSS MB |");
    println!("|---|---|---|---|");
    println!("| sparts GrpcTask | {s_rps:.0} | {s_p99:.2} | {idle_sparts_mb:.1} |");
    println!(
        "| bare tonic | {b_rps:.0} | {b_p99:.2} | {:.1} |",
        idle_bare as f64 / 1024.0
    );
    println!(
        "ratios sparts/bare (median of rounds): req/s {rps_ratio:.3} (target >= 0.97), p99 {p99_ratio:.3} (target <= 1.1)"
    );
    println!(
        "RATIO grpc_rps={s_rps:.0} grpc_rps_bare={b_rps:.0} grpc_rps_ratio={rps_ratio:.3} \
         grpc_p99_ms={s_p99:.2} grpc_p99_bare_ms={b_p99:.2} grpc_p99_ratio={p99_ratio:.3} \
         grpc_idle_rss_mb={idle_sparts_mb:.1}"
    );
    Ok(())
}
