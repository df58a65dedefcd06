//! Cost of the counters' hot paths, and proof that samples use constant memory.
//!
//! Run with `cargo run --release -p sparts-bench --bin counters`.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use sparts::counters::{Clock, Counter, MonotonicClock, Samples, SamplesConfig};

const ITERATIONS: u32 = 50_000_000;
const RUNS: usize = 5;
const MEMORY_ADDS: u32 = 10_000_000;

/// Median nanoseconds per call of `op` over `RUNS` runs of `ITERATIONS` calls.
fn ns_per_op(mut op: impl FnMut(u32)) -> f64 {
    let mut runs: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            for i in 0..ITERATIONS {
                op(black_box(i));
            }
            start.elapsed().as_secs_f64() * 1e9 / f64::from(ITERATIONS)
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[RUNS / 2]
}

/// The process's resident set size in KiB, from /proc/self/status.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn show(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".to_owned(), |k| format!("{k} KiB"))
}

fn main() {
    let counter = Counter::new();
    let increment = ns_per_op(|_| counter.increment());
    black_box(counter.value());

    let clock = MonotonicClock::new();
    let clock_read = ns_per_op(|_| {
        black_box(clock.now());
    });

    let dyn_clock: Arc<dyn Clock> = Arc::new(MonotonicClock::new());
    let dyn_clock_read = ns_per_op(|_| {
        black_box(dyn_clock.now());
    });

    let samples = Samples::new(SamplesConfig::default());
    let add = ns_per_op(|i| samples.add(f64::from(i % 1000)));

    let fresh = Samples::new(SamplesConfig::default());
    let rss_before = rss_kib();
    let bytes_before = fresh.memory_bytes();
    for i in 0..MEMORY_ADDS {
        fresh.add(black_box(f64::from(i % 1000)));
    }
    let rss_after = rss_kib();
    let bytes_after = fresh.memory_bytes();

    println!("counters microbenchmark (median of {RUNS} runs x {ITERATIONS} calls, uncontended)");
    println!("{:<36} {:>12}", "operation", "ns/op");
    println!("{:<36} {:>12.2}", "Counter::increment", increment);
    println!(
        "{:<36} {:>12.2}",
        "MonotonicClock::now (direct)", clock_read
    );
    println!(
        "{:<36} {:>12.2}",
        "MonotonicClock::now (dyn Clock)", dyn_clock_read
    );
    println!("{:<36} {:>12.2}", "Samples::add (60 s + 3600 s)", add);
    println!();
    println!("memory around {MEMORY_ADDS} Samples::add calls");
    println!("{:<36} {:>12} {:>12}", "", "before", "after");
    println!(
        "{:<36} {:>12} {:>12}",
        "Samples::memory_bytes()", bytes_before, bytes_after
    );
    println!(
        "{:<36} {:>12} {:>12}",
        "process VmRSS",
        show(rss_before),
        show(rss_after)
    );
}
