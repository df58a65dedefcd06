//! Option values set at run time, as every admin transport sets them, on
//! options of every type an option can have: the service's own (log
//! directives, CIDR lists, durations, paths, flags) and a task's (integers,
//! floats, fractional seconds, enums, strings). The first byte picks the
//! option; the rest, as UTF-8, is the value.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sparts_core::options::parse_interval;
use sparts_core::{BoxError, Peer, TaskContext, VService, VTask, clap};
use sparts_fuzz::{Started, started_once};

#[derive(clap::ValueEnum, Clone, Debug)]
enum Mode {
    Fast,
    Safe,
}

#[derive(clap::Args, Clone, Debug)]
struct Every {
    #[arg(long, default_value_t = 8080)]
    port: u16,
    #[arg(long, default_value_t = 1)]
    workers: usize,
    #[arg(long, default_value_t = -1)]
    offset: i64,
    #[arg(long, default_value_t = 0.5)]
    ratio: f64,
    #[arg(long, default_value = "1", value_parser = parse_interval)]
    interval: Duration,
    #[arg(long, value_enum, default_value_t = Mode::Safe)]
    mode: Mode,
    #[arg(long, default_value = "name")]
    name: String,
    #[arg(long)]
    path: Option<PathBuf>,
    #[arg(long)]
    verbose: bool,
}

#[derive(Clone)]
struct Holder;

impl VTask<Every> for Holder {
    async fn run(&self, ctx: TaskContext<Every>) -> Result<(), BoxError> {
        ctx.stopped().await;
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, value)) = data.split_first() else {
        return;
    };
    let Ok(value) = std::str::from_utf8(value) else {
        return;
    };
    static SERVICE: OnceLock<Started> = OnceLock::new();
    let service = started_once(&SERVICE, || VService::new("Fuzz").with_task(Holder), &[]);
    let names = &service.option_names;
    let name = &names[usize::from(which) % names.len()];
    let admin = service.handle().admin();
    if admin.set_option(&Peer::InProcess, name, value).is_ok() {
        // What was set reads back.
        assert!(admin.option(name).is_ok(), "{name} set but not read");
    }
});
