//! What reading a config file of 1,000 keys adds to a start: a service of
//! 100 tasks with 10 options each, started and stopped in this process
//! with and without `--config` (every option given by the file), in turn.
//!
//! ```sh
//! cargo run --release -p sparts-bench --bin config_load -- --runs 50
//! ```
//!
//! The last line is for scripts: `RATIO config_1000_keys_ms=<median of
//! (with - without), run by run> config_start_ms=<median with>
//! plain_start_ms=<median without>`.

// A report printed for people: stdout is its output.
#![allow(clippy::print_stdout)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use clap::Parser;
use sparts::{BoxError, IntoTaskSpec, TaskContext, VService, VTask};

/// Config file benchmark.
#[derive(Parser, Debug)]
struct Args {
    /// Starts with the file and without it, each.
    #[arg(long, default_value_t = 50)]
    runs: usize,
}

/// Ten options of the kinds services have.
#[derive(clap::Args, Clone, Debug)]
struct TenOptions {
    #[arg(long, default_value_t = 8000)]
    port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value = "1.5", value_parser = sparts::options::parse_seconds)]
    timeout: Duration,
    #[arg(long)]
    verbose: bool,
    #[arg(long, value_delimiter = ',')]
    peers: Vec<String>,
    #[arg(long, default_value_t = 4)]
    threads: usize,
    #[arg(long, default_value_t = 0.5)]
    ratio: f64,
    #[arg(long)]
    label: Option<String>,
    #[arg(long, default_value_t = -1)]
    offset: i64,
    #[arg(long, default_value = "/tmp/x")]
    path: std::path::PathBuf,
}

#[derive(Clone)]
struct Ten;

impl VTask<TenOptions> for Ten {
    async fn run(&self, ctx: TaskContext<TenOptions>) -> Result<(), BoxError> {
        ctx.stopped().await;
        Ok(())
    }
}

const TASKS: usize = 100;

fn service() -> VService {
    (0..TASKS).fold(VService::new("ConfigLoad"), |service, i| {
        service.with_task(
            Ten.with_name(format!("Ten{i}"))
                .with_prefix(format!("t{i}")),
        )
    })
}

/// 1,000 keys: every option of every task.
fn file_text() -> String {
    let mut text = String::new();
    for i in 0..TASKS {
        let _ = write!(
            text,
            "[t{i}]\nport = {}\nhost = \"10.0.0.{}\"\ntimeout = 2.5\nverbose = true\n\
             peers = [\"a\", \"b\"]\nthreads = 8\nratio = 0.25\nlabel = \"task {i}\"\n\
             offset = {i}\npath = \"/var/lib/t{i}\"\n",
            9000 + i,
            i % 250
        );
    }
    text
}

async fn start_stop(args: &[&str]) -> Result<Duration, BoxError> {
    let begun = Instant::now();
    let running = service().start_with_args(args.iter().copied()).await?;
    let took = begun.elapsed();
    running.shutdown().await?;
    Ok(took)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("config_load.toml");
    std::fs::write(&file, file_text())?;
    let file = file.display().to_string();
    let with_file = ["config_load", "--level", "error", "--config", &file];
    let without = ["config_load", "--level", "error"];
    let runtime = tokio::runtime::Runtime::new()?;
    let (mut plain, mut config, mut extra) = (Vec::new(), Vec::new(), Vec::new());
    runtime.block_on(async {
        // The file must give every option, and each its value.
        let running = service().start_with_args(with_file).await?;
        let given = running
            .handle()
            .option_sources()
            .values()
            .filter(|s| **s == sparts::options::OptionSource::File)
            .count();
        running.shutdown().await?;
        if given != TASKS * 10 {
            return Err(format!("the file gave {given} options, not {}", TASKS * 10).into());
        }
        for _ in 0..3 {
            start_stop(&without).await?;
            start_stop(&with_file).await?;
        }
        for _ in 0..args.runs {
            let a = start_stop(&without).await?.as_secs_f64() * 1e3;
            let b = start_stop(&with_file).await?.as_secs_f64() * 1e3;
            plain.push(a);
            config.push(b);
            extra.push(b - a);
        }
        Ok::<(), BoxError>(())
    })?;
    let (plain, config, extra) = (median(plain), median(config), median(extra));
    println!(
        "## Config file of {} keys ({TASKS} tasks × 10 options), {} starts each",
        TASKS * 10,
        args.runs
    );
    println!();
    println!("| measure | median | target |");
    println!("|---|---:|---|");
    println!("| start of the 100-task service, no file | {plain:.2} ms | |");
    println!("| the same with `--config` giving all 1,000 options | {config:.2} ms | |");
    println!("| what the file adds, run by run | {extra:.2} ms | ≤ 5 ms |");
    println!();
    println!(
        "RATIO config_1000_keys_ms={extra:.3} config_start_ms={config:.3} plain_start_ms={plain:.3}"
    );
    Ok(())
}
