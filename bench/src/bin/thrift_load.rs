//! Thrift load: sparts' `ThriftServerTask` (async connections, 8 worker
//! threads) against the thrift crate's own `TServer` (64 threads, one per
//! connection for the connection's life), both serving the same fb303
//! handler, side by side in one run. sparts runs twice: as
//! `ThriftHandlerTask::fb303()` comes (its getters inline, on the
//! connection's task) and with every call handed to a worker thread
//! (`sparts-pool`), the price of a handler that may block.
//!
//! ```sh
//! cargo build --release -p sparts-bench --bin thrift_load
//! target/release/thrift_load [--rounds 3] [--seconds 5] [--idle 1000] [--busy 8]
//! ```
//!
//! Both servers live in this process: the sparts service on a tokio runtime
//! (`--thrift-host 127.0.0.1 --thrift-port 0 --thrift-threads 8`, framed
//! binary), `TServer` on its own thread with `FacebookServiceSyncProcessor`
//! over `Fb303Handler` built from the running sparts service, so both give
//! the same answers. The client is the generated `FacebookServiceSyncClient`
//! (framed binary over `TTcpChannel`, blocking), one thread per connection.
//!
//! 1. `getStatus` calls/s and latency at 1 and at 64 connections: each
//!    round drives both servers in turn, alternating which goes first, for
//!    `--seconds` after a 1 s warm-up; the table shows the median of the
//!    rounds, and as ratios the median of each round's sparts/TServer ratio.
//!    Beside them, per call: the CPU time of this process (clients and
//!    server) and the interrupts that woke a thread on another CPU
//!    (`/proc/interrupts`, machine-wide), where a round trip's time goes
//!    on one connection. `--busy-poll N` sets the sparts servers'
//!    `--thrift-busy-poll` (0 turns it off).
//! 2. Idle flood: `--idle` connections opened and left silent, then
//!    `--busy` connections calling `getStatus` in a loop. sparts first (the
//!    idle connections are closed after, and the server must count none
//!    open); `TServer` last, since every one of its threads is then held by
//!    an idle connection and it cannot be stopped: a busy call that gets no
//!    answer within `--call-timeout` counts as timed out.
//!
//! The last line is for scripts:
//! `RATIO thrift_1conn=<x> thrift_64conn=<y> ... idle_flood_p99_ms=<z> ...`:
//! the sparts/TServer calls/s ratios (`thrift_pool_*` for sparts with every
//! call on a worker), sparts' busy p99 under the flood, then the medians
//! behind the ratios (`thrift_1conn_calls_per_s`,
//! `thrift_1conn_tserver_calls_per_s`, the same for 64) and the flood on
//! both servers (`idle_flood_idle`, `idle_flood_busy`,
//! `idle_flood_calls_per_s`, `idle_flood_tserver_calls` answered,
//! `idle_flood_tserver_unanswered` busy connections that got no answer
//! within `idle_flood_call_timeout_s`, `idle_flood_tserver_p99_ms`), and
//! per call on one connection the CPU time and the wake-up interrupts
//! (`thrift_1conn_cpu_us`, `thrift_1conn_tserver_cpu_us`,
//! `thrift_1conn_ipis`, `thrift_1conn_tserver_ipis`). A p99 is `NaN` when
//! a busy call went unanswered.

// A report printed for people: stdout is its output.
#![allow(clippy::print_stdout)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clap::Parser;
use sparts::{TaskSpec, VService};
use sparts_bench::serve_tserver;
use sparts_thrift::fb303::{FacebookServiceSyncClient, FbStatus, TFacebookServiceSyncClient};
use sparts_thrift::{Fb303Handler, ThriftHandlerTask, ThriftServerTask};
use thrift::protocol::{TBinaryInputProtocol, TBinaryOutputProtocol};
use thrift::transport::{
    ReadHalf, TFramedReadTransport, TFramedWriteTransport, TIoChannel, TTcpChannel, WriteHalf,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

type Client = FacebookServiceSyncClient<
    TBinaryInputProtocol<TFramedReadTransport<ReadHalf<TTcpChannel>>>,
    TBinaryOutputProtocol<TFramedWriteTransport<WriteHalf<TTcpChannel>>>,
>;

const WARMUP: Duration = Duration::from_secs(1);
const CONNECT_PATIENCE: Duration = Duration::from_secs(5);

/// Thrift getStatus load against sparts' ThriftServerTask and thrift's TServer.
#[derive(Parser, Debug)]
struct Args {
    /// Rounds of the throughput phase (each drives both servers).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds measured per server and connection count (after a 1 s warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Connections of the wide throughput run.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Idle connections of the flood phase.
    #[arg(long, default_value_t = 1000)]
    idle: usize,
    /// Busy connections of the flood phase.
    #[arg(long, default_value_t = 8)]
    busy: usize,
    /// Seconds a call may wait for its answer in the flood phase.
    #[arg(long, default_value_t = 2)]
    call_timeout: u64,
    /// The sparts servers' `--thrift-busy-poll` (microseconds; their
    /// default when not given).
    #[arg(long)]
    busy_poll: Option<u16>,
}

/// A blocking generated client on a fresh connection.
fn connect(port: u16, timeout: Option<Duration>) -> Result<Client, BoxError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, CONNECT_PATIENCE)?;
    // As `TTcpChannel::open` does.
    stream.set_nodelay(true)?;
    stream.set_read_timeout(timeout)?;
    stream.set_write_timeout(timeout)?;
    let (read, write) = TTcpChannel::with_stream(stream).split()?;
    Ok(FacebookServiceSyncClient::new(
        TBinaryInputProtocol::new(TFramedReadTransport::new(read), true),
        TBinaryOutputProtocol::new(TFramedWriteTransport::new(write), true),
    ))
}

/// What one connection's loop measured.
struct Calls {
    micros: Vec<u32>,
    /// The call that failed, if one did (e.g. timed out).
    failed: Option<String>,
}

/// Calls `getStatus` on `client` until `end`, timing the calls sent from
/// `measure_from` on; a failed call ends the loop.
fn call_loop(mut client: Client, measure_from: Instant, end: Instant) -> Calls {
    let mut micros = Vec::with_capacity(1 << 16);
    loop {
        let sent = Instant::now();
        if sent >= end {
            return Calls {
                micros,
                failed: None,
            };
        }
        match client.get_status() {
            Ok(_) if sent >= measure_from => {
                micros.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
            }
            Ok(_) => {}
            Err(e) => {
                return Calls {
                    micros,
                    failed: Some(format!("{e:?}")),
                };
            }
        }
    }
}

/// The merged result of several connections.
#[derive(Default)]
struct Run {
    calls_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// CPU time of the process (clients and server) per call measured.
    cpu_us_per_call: f64,
    /// Interrupts that woke a thread on another CPU, machine-wide, per call.
    ipis_per_call: f64,
    calls: usize,
    failed: Vec<String>,
}

/// `connections` threads, each with its own connection, all connected
/// before the clock starts, calling for `secs` after the warm-up.
fn drive(
    port: u16,
    connections: usize,
    warmup: Duration,
    secs: Duration,
    timeout: Option<Duration>,
) -> Result<Run, BoxError> {
    let barrier = Arc::new(Barrier::new(connections + 1));
    let mut threads = Vec::with_capacity(connections);
    for _ in 0..connections {
        let barrier = Arc::clone(&barrier);
        threads.push(std::thread::spawn(move || {
            let client = connect(port, timeout);
            barrier.wait();
            let measure_from = Instant::now() + warmup;
            client.map(|c| call_loop(c, measure_from, measure_from + secs))
        }));
    }
    barrier.wait();
    std::thread::sleep(warmup);
    let cpu_from = process_cpu()?;
    let ipis_from = wakeup_interrupts();
    let mut all = Vec::new();
    let mut failed = Vec::new();
    for thread in threads {
        let calls = thread.join().map_err(|_| "a client thread panicked")??;
        all.extend(calls.micros);
        failed.extend(calls.failed);
    }
    let cpu = process_cpu()?.saturating_sub(cpu_from);
    let ipis = wakeup_interrupts()
        .zip(ipis_from)
        .map(|(to, from)| to.saturating_sub(from));
    all.sort_unstable();
    let at = |q: usize| {
        all.get(all.len().saturating_sub(1) * q / 100)
            .map_or(f64::NAN, |&us| f64::from(us) / 1000.0)
    };
    Ok(Run {
        calls_per_sec: all.len() as f64 / secs.as_secs_f64(),
        p50_ms: at(50),
        p99_ms: at(99),
        cpu_us_per_call: cpu.as_secs_f64() * 1e6 / all.len() as f64,
        ipis_per_call: ipis.map_or(f64::NAN, |n| n as f64 / all.len() as f64),
        calls: all.len(),
        failed,
    })
}

/// Interrupts one CPU sends another to wake a thread there (Linux's
/// rescheduling and function-call interrupts), summed over CPUs since
/// boot; none where `/proc/interrupts` cannot tell.
fn wakeup_interrupts() -> Option<u64> {
    let table = std::fs::read_to_string("/proc/interrupts").ok()?;
    let sum = table
        .lines()
        .filter(|line| matches!(line.split_whitespace().next(), Some("RES:" | "CAL:")))
        .flat_map(|line| {
            line.split_whitespace()
                .skip(1)
                .map_while(|n| n.parse::<u64>().ok())
        })
        .sum();
    Some(sum)
}

/// The command line of the sparts servers.
fn service_args(busy_poll: Option<u16>) -> Vec<String> {
    let mut argv: Vec<String> = [
        "thrift_load",
        "--thrift-host",
        "127.0.0.1",
        "--thrift-threads",
        "8",
        "--pool-host",
        "127.0.0.1",
        "--pool-threads",
        "8",
    ]
    .map(String::from)
    .into();
    if let Some(us) = busy_poll {
        for prefix in ["thrift", "pool"] {
            argv.extend([format!("--{prefix}-busy-poll"), us.to_string()]);
        }
    }
    argv
}

/// CPU time of this whole process so far: its clients' and its servers'.
fn process_cpu() -> Result<Duration, BoxError> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF)?;
    let time = |t: nix::sys::time::TimeVal| {
        Duration::new(
            u64::try_from(t.tv_sec()).unwrap_or(0),
            u32::try_from(t.tv_usec()).unwrap_or(0) * 1000,
        )
    };
    Ok(time(usage.user_time()) + time(usage.system_time()))
}

/// `count` connections opened and left silent.
fn open_idle(port: u16, count: usize) -> Result<Vec<TcpStream>, BoxError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    (0..count)
        .map(|i| {
            TcpStream::connect_timeout(&addr, CONNECT_PATIENCE)
                .map_err(|e| format!("idle connection {i} of {count}: {e}").into())
        })
        .collect()
}

/// The idle flood against one server: busy calls/s and latency while
/// `idle` connections sit open.
fn flood(port: u16, args: &Args) -> Result<(Run, Vec<TcpStream>), BoxError> {
    let idle = open_idle(port, args.idle)?;
    // Let the server accept them all before the busy ones queue behind.
    std::thread::sleep(Duration::from_millis(300));
    let run = drive(
        port,
        args.busy,
        Duration::ZERO,
        Duration::from_secs(args.seconds),
        Some(Duration::from_secs(args.call_timeout)),
    )?;
    Ok((run, idle))
}

/// Allows this process the descriptors the flood needs: both ends of
/// every connection live here.
fn raise_fd_limit(needed: u64) -> Result<(), BoxError> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < needed {
        if hard < needed {
            return Err(
                format!("RLIMIT_NOFILE hard limit {hard} is below the {needed} needed").into(),
            );
        }
        setrlimit(Resource::RLIMIT_NOFILE, needed, hard)?;
    }
    Ok(())
}

/// A free port for `TServer`, which binds by itself.
fn free_port() -> Result<u16, BoxError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until `port` answers `getStatus`.
fn wait_ready(port: u16) -> Result<(), BoxError> {
    let deadline = Instant::now() + CONNECT_PATIENCE;
    loop {
        match connect(port, Some(Duration::from_secs(1))).and_then(|mut c| Ok(c.get_status()?)) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The servers driven, in the order of [`Series::runs`].
const SIDES: [&str; 3] = ["sparts", "sparts-pool", "TServer"];
const TSERVER: usize = 2;

/// The medians of each server and of the per-round ratios to `TServer`,
/// for one connection count.
#[derive(Default)]
struct Series {
    /// sparts with fb303's calls inline, sparts with every call on a worker
    /// thread, TServer.
    runs: [Vec<Run>; 3],
}

impl Series {
    fn rate(&self, side: usize) -> f64 {
        median(self.runs[side].iter().map(|r| r.calls_per_sec).collect())
    }

    fn p(&self, side: usize, f: fn(&Run) -> f64) -> f64 {
        median(self.runs[side].iter().map(f).collect())
    }

    fn ratio(&self, side: usize) -> f64 {
        median(
            self.runs[side]
                .iter()
                .zip(&self.runs[TSERVER])
                .map(|(s, t)| s.calls_per_sec / t.calls_per_sec)
                .collect(),
        )
    }
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let secs = Duration::from_secs(args.seconds);
    let descriptors = u64::try_from(2 * (args.idle + args.busy + args.connections))? + 256;
    raise_fd_limit(descriptors)?;

    // As `run_from_cli` builds it: one worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let running = runtime.block_on(
        VService::new("ThriftBench")
            .with_task(ThriftHandlerTask::fb303())
            // The same handler with every call on a worker thread.
            .with_task(ThriftHandlerTask::from_fn("Fb303Pool", |ctx| {
                Fb303Handler::new(ctx.service()).processor()
            }))
            .with_task(ThriftServerTask::new().with_handlers(["fb303"]))
            .with_task(
                TaskSpec::new(ThriftServerTask::new().with_handlers(["Fb303Pool"]))
                    .with_name("PoolServer")
                    .with_prefix("pool"),
            )
            .start_with_args(service_args(args.busy_poll)),
    )?;
    let sparts_port = running
        .handle()
        .require::<ThriftServerTask>()?
        .port()
        .ok_or("the sparts server has no port")?;
    let pool_port = running
        .handle()
        .require_named::<ThriftServerTask>("PoolServer")?
        .port()
        .ok_or("the sparts pool server has no port")?;

    let handler = {
        let _inside = runtime.enter();
        Fb303Handler::new(running.handle())
    };
    let tserver_port = free_port()?;
    std::thread::Builder::new()
        .name("tserver".to_owned())
        .spawn(move || {
            if let Err(e) = serve_tserver(handler, tserver_port) {
                eprintln!("TServer stopped: {e}");
            }
        })?;
    let ports = [sparts_port, pool_port, tserver_port];
    for port in ports {
        wait_ready(port)?;
    }
    for port in ports {
        let mut client = connect(port, Some(Duration::from_secs(1)))?;
        let (name, status) = (client.get_name()?, client.get_status()?);
        if status != FbStatus::ALIVE {
            return Err(format!("port {port} answers {status:?} as {name}").into());
        }
    }

    let widths = [1, args.connections];
    let mut series: Vec<Series> = widths.iter().map(|_| Series::default()).collect();
    for round in 0..args.rounds {
        for (width, s) in widths.iter().zip(&mut series) {
            // Alternate which server goes first, round by round.
            let mut order = [0, 1, 2];
            order.rotate_left(round % 3);
            for side in order {
                let run = drive(ports[side], *width, WARMUP, secs, None)?;
                if let Some(e) = run.failed.first() {
                    return Err(format!("a call failed: {e}").into());
                }
                eprintln!(
                    "round {}: {width:>2} conn {:>11}: {:>8.0} calls/s p50 {:.3} ms p99 {:.3} ms",
                    round + 1,
                    SIDES[side],
                    run.calls_per_sec,
                    run.p50_ms,
                    run.p99_ms
                );
                s.runs[side].push(run);
            }
        }
    }

    eprintln!(
        "flood: {} idle + {} busy connections on sparts",
        args.idle, args.busy
    );
    let (sparts_flood, idle) = flood(sparts_port, &args)?;
    drop(idle);
    let admin = running.handle().admin();
    let deadline = Instant::now() + CONNECT_PATIENCE;
    let mut left = f64::NAN;
    while Instant::now() < deadline {
        left = admin.counter("ThriftServerTask.open_connections")?;
        if left == 0.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("flood: the same on TServer");
    let (tserver_flood, _idle_left_open) = flood(tserver_port, &args)?;
    if let Some(e) = tserver_flood.failed.first() {
        eprintln!("flood: a busy TServer call failed: {e}");
    }

    println!();
    println!(
        "Thrift fb303 getStatus, framed binary, generated blocking Rust client (one thread per connection), median of {} rounds of {} s, {} cores",
        args.rounds,
        args.seconds,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!();
    println!(
        "| measure | sparts ThriftServerTask (fb303 getters inline) | sparts, every call on the 8 workers | thrift TServer (64 threads) | sparts/TServer | sparts-pool/TServer |"
    );
    println!("|---|---|---|---|---|---|");
    for (width, s) in widths.iter().zip(&series) {
        println!(
            "| calls/s, {width} connection(s) | {:.0} | {:.0} | {:.0} | {:.3} | {:.3} |",
            s.rate(0),
            s.rate(1),
            s.rate(TSERVER),
            s.ratio(0),
            s.ratio(1)
        );
        println!(
            "| p50 / p99 ms, {width} connection(s) | {:.3} / {:.3} | {:.3} / {:.3} | {:.3} / {:.3} | | |",
            s.p(0, |r| r.p50_ms),
            s.p(0, |r| r.p99_ms),
            s.p(1, |r| r.p50_ms),
            s.p(1, |r| r.p99_ms),
            s.p(TSERVER, |r| r.p50_ms),
            s.p(TSERVER, |r| r.p99_ms),
        );
        println!(
            "| process CPU µs per call (client and server), {width} connection(s) | {:.1} | {:.1} | {:.1} | | |",
            s.p(0, |r| r.cpu_us_per_call),
            s.p(1, |r| r.cpu_us_per_call),
            s.p(TSERVER, |r| r.cpu_us_per_call),
        );
        println!(
            "| cross-CPU wake-ups (interrupts, machine-wide) per call, {width} connection(s) | {:.2} | {:.2} | {:.2} | | |",
            s.p(0, |r| r.ipis_per_call),
            s.p(1, |r| r.ipis_per_call),
            s.p(TSERVER, |r| r.ipis_per_call),
        );
    }
    let describe = |run: &Run| {
        if run.failed.is_empty() {
            format!(
                "{:.0} calls/s, p50 {:.3} ms, p99 {:.3} ms",
                run.calls_per_sec, run.p50_ms, run.p99_ms
            )
        } else {
            format!(
                "connected, {} calls answered; {} of {} connections got no answer within {} s",
                run.calls,
                run.failed.len(),
                args.busy,
                args.call_timeout
            )
        }
    };
    println!(
        "| {} busy connections beside {} idle ones | {} | | {} | | |",
        args.busy,
        args.idle,
        describe(&sparts_flood),
        describe(&tserver_flood)
    );
    println!("| connections open after the idle ones closed | {left} | | (cannot stop) | | |");
    println!();
    let flood_p99 = |run: &Run| {
        if run.failed.is_empty() {
            run.p99_ms
        } else {
            f64::NAN
        }
    };
    println!(
        "RATIO thrift_1conn={:.3} thrift_64conn={:.3} thrift_pool_1conn={:.3} thrift_pool_64conn={:.3} idle_flood_p99_ms={:.3} \
         thrift_1conn_calls_per_s={:.0} thrift_1conn_tserver_calls_per_s={:.0} \
         thrift_64conn_calls_per_s={:.0} thrift_64conn_tserver_calls_per_s={:.0} \
         idle_flood_idle={} idle_flood_busy={} idle_flood_calls_per_s={:.0} \
         idle_flood_tserver_calls={} idle_flood_tserver_unanswered={} \
         idle_flood_call_timeout_s={} idle_flood_tserver_p99_ms={:.3} \
         thrift_1conn_cpu_us={:.1} thrift_1conn_tserver_cpu_us={:.1} \
         thrift_1conn_ipis={:.2} thrift_1conn_tserver_ipis={:.2}",
        series[0].ratio(0),
        series[1].ratio(0),
        series[0].ratio(1),
        series[1].ratio(1),
        flood_p99(&sparts_flood),
        series[0].rate(0),
        series[0].rate(TSERVER),
        series[1].rate(0),
        series[1].rate(TSERVER),
        args.idle,
        args.busy,
        sparts_flood.calls_per_sec,
        tserver_flood.calls,
        tserver_flood.failed.len(),
        args.call_timeout,
        flood_p99(&tserver_flood),
        series[0].p(0, |r| r.cpu_us_per_call),
        series[0].p(TSERVER, |r| r.cpu_us_per_call),
        series[0].p(0, |r| r.ipis_per_call),
        series[0].p(TSERVER, |r| r.ipis_per_call),
    );

    runtime.block_on(running.shutdown())?;
    // TServer's threads stay blocked on its idle connections: leave them.
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(())
}
