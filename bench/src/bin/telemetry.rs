//! Cost of recording into the Prometheus view, uncontended and with two
//! threads on the same series, and of rendering it.
//!
//! Run with `cargo run --release -p sparts-bench --bin telemetry`. The last
//! line, `RATIO key=value ...`, is what `bench/suite.sh` reads.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use sparts::telemetry::prometheus_client::metrics::counter::Counter;
use sparts::telemetry::prometheus_client::metrics::family::Family;
use sparts::telemetry::{DEFAULT_LATENCY_BUCKETS, Format, Histogram, Telemetry};

const ITERATIONS: u32 = 10_000_000;
const RUNS: usize = 5;
const SERIES: usize = 1_000;

/// Median nanoseconds per call of `op` over `RUNS` runs of `ITERATIONS`
/// calls, on `threads` threads at once (each thread's own time per call).
fn ns_per_op(threads: usize, op: impl Fn(u32) + Sync) -> f64 {
    let mut runs: Vec<f64> = (0..RUNS)
        .map(|_| {
            let per_thread: Vec<f64> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        scope.spawn(|| {
                            let start = Instant::now();
                            for i in 0..ITERATIONS {
                                op(black_box(i));
                            }
                            start.elapsed().as_secs_f64() * 1e9 / f64::from(ITERATIONS)
                        })
                    })
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
            per_thread.iter().sum::<f64>() / per_thread.len().max(1) as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[RUNS / 2]
}

/// Median time to render `telemetry` over 21 renderings.
fn render_time(telemetry: &Telemetry) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..21 {
        let start = Instant::now();
        let text = telemetry.render(Format::Prometheus).unwrap_or_default();
        times.push(start.elapsed());
        bytes = black_box(text).len();
    }
    times.sort();
    (times[times.len() / 2], bytes)
}

fn main() {
    let counter = Counter::<u64>::default();
    let histogram = Histogram::new(DEFAULT_LATENCY_BUCKETS.iter().copied());
    let inc_1 = ns_per_op(1, |_| {
        counter.inc_by(1);
    });
    let inc_2 = ns_per_op(2, |_| {
        counter.inc_by(1);
    });
    let observe_1 = ns_per_op(1, |i| histogram.observe(f64::from(i % 1000) * 1e-5));
    let observe_2 = ns_per_op(2, |i| histogram.observe(f64::from(i % 1000) * 1e-5));

    // What an HTTP request records: the family lookup by its labels, then
    // the observation.
    let telemetry = Telemetry::new("Bench", None, None);
    let http = telemetry.http_server("HttpTask");
    let request_1 = ns_per_op(1, |_| {
        http.observe("GET", "/hello/{name}", 200, Duration::from_micros(40));
    });
    let request_2 = ns_per_op(2, |_| {
        http.observe("GET", "/hello/{name}", 200, Duration::from_micros(40));
    });

    // 1,000 counter series, then 1,000 histogram series, on /metrics.
    let counters = Telemetry::new("Bench", None, None);
    let family = Family::<Vec<(String, String)>, Counter>::default();
    counters.register("bench_items", "Items, for the benchmark.", family.clone());
    for i in 0..SERIES {
        family
            .get_or_create(&vec![("shard".to_owned(), i.to_string())])
            .inc();
    }
    let (render_counters, counter_bytes) = render_time(&counters);
    let histograms = Telemetry::new("Bench", None, None);
    let http = histograms.http_server("HttpTask");
    for i in 0..SERIES {
        http.observe("GET", &format!("/route/{i}"), 200, Duration::from_millis(3));
    }
    let (render_histograms, histogram_bytes) = render_time(&histograms);

    println!("telemetry microbenchmark (median of {RUNS} runs x {ITERATIONS} calls per thread)");
    println!("{:<52} {:>10} {:>12}", "operation", "1 thread", "2 threads");
    println!(
        "{:<52} {:>10.2} {:>12.2}",
        "counter increment (ns)", inc_1, inc_2
    );
    println!(
        "{:<52} {:>10.2} {:>12.2}",
        "histogram observation, 14 buckets (ns)", observe_1, observe_2
    );
    println!(
        "{:<52} {:>10.2} {:>12.2}",
        "HTTP request recorded: label lookup + observation (ns)", request_1, request_2
    );
    println!();
    println!(
        "render {SERIES} counter series: {:.3} ms ({counter_bytes} bytes)",
        render_counters.as_secs_f64() * 1e3
    );
    println!(
        "render {SERIES} histogram series: {:.3} ms ({histogram_bytes} bytes)",
        render_histograms.as_secs_f64() * 1e3
    );
    println!(
        "RATIO counter_ns={inc_1:.2} counter_2t_ns={inc_2:.2} histogram_ns={observe_1:.2} histogram_2t_ns={observe_2:.2} request_ns={request_1:.2} request_2t_ns={request_2:.2} render_1000_counters_ms={:.3} render_1000_histograms_ms={:.3}",
        render_counters.as_secs_f64() * 1e3,
        render_histograms.as_secs_f64() * 1e3
    );
}
