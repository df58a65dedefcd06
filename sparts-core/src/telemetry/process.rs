//! The process metrics every Prometheus client exports (client_golang's
//! names): CPU time, resident memory, open file descriptors, start time.
//! Read from `/proc` at each scrape; on systems without it there are none.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// The process's own numbers, as `/proc/self` says.
#[derive(Debug, Default)]
pub(crate) struct ProcessCollector;

/// What one scrape reads.
struct Reading {
    cpu_seconds: f64,
    resident_bytes: f64,
    open_fds: f64,
    start_time_seconds: f64,
}

fn read() -> Option<Reading> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields
    // are counted after its closing parenthesis, from field 3 on.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| -> Option<f64> { fields.get(n - 3)?.parse().ok() };
    let ticks = clock_ticks()?;
    let cpu_seconds = (field(14)? + field(15)?) / ticks;
    let resident_bytes = field(24)? * page_size()?;
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse::<f64>()
        .ok()?;
    let start_time_seconds = boot + field(22)? / ticks;
    // usize to f64 is exact for any number of descriptors a process holds.
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as f64;
    Some(Reading {
        cpu_seconds,
        resident_bytes,
        open_fds,
        start_time_seconds,
    })
}

fn clock_ticks() -> Option<f64> {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
    // i64 to f64 is exact for any clock rate.
    Some(ticks as f64)
}

fn page_size() -> Option<f64> {
    let size = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok()??;
    Some(size as f64)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Some(reading) = read() else {
            return Ok(());
        };
        let counter = encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(reading.cpu_seconds).encode(counter)?;
        for (name, help, value) in [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                reading.resident_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                reading.open_fds,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                reading.start_time_seconds,
            ),
        ] {
            let gauge = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            ConstGauge::new(value).encode(gauge)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_reads_itself() {
        let reading = read().expect("/proc is there on Linux");
        assert!(reading.resident_bytes > 1_000_000.0);
        assert!(reading.open_fds >= 3.0);
        assert!(reading.start_time_seconds > 1.7e9);
        assert!(reading.cpu_seconds >= 0.0);
    }
}
