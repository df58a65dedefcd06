//! The built-in task examples as real processes: each starts, does its
//! work, and exits 0 on SIGTERM.

mod common;

use common::{Example, TestResult};

#[test]
fn print_clock_prints_unix_times_at_its_interval() -> TestResult {
    const INTERVAL: f64 = 0.05;
    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_print_clock"),
        &["--print-clock-interval", &INTERVAL.to_string()],
    )?;
    let times = child.expect_lines(7, |l| l.parse::<f64>().is_ok())?;
    let times: Vec<f64> = times.iter().filter_map(|l| l.parse().ok()).collect();
    assert!(times[0] > 1.7e9, "a unix time: {times:?}");
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|&gap| gap > 0.0), "increasing: {times:?}");
    // At the interval. Deadlines are absolute, so a late tick shortens the
    // gap after it as much as it lengthens the one before: the mean of five
    // gaps is the interval give or take a fifth of two wake-up delays,
    // where a single gap would carry both delays whole. The first tick is
    // left out, as it may wait for the start-up.
    let mean = (times[6] - times[1]) / 5.0;
    assert!(
        (INTERVAL * 0.8..INTERVAL * 5.0).contains(&mean),
        "a mean gap of {mean:.3} s for an interval of {INTERVAL} s: {gaps:?}"
    );
    assert_eq!(child.sigterm()?.code(), Some(0));
    Ok(())
}

#[test]
fn option_example_resolves_its_host_and_reads_the_other_tasks_counters() -> TestResult {
    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_option_example"),
        &[
            "--host-check-name",
            "localhost",
            "--host-check-interval",
            "0.05",
            "--print-counters-interval",
            "0.1",
        ],
    )?;
    child.expect_line("LOOKUP localhost =>")?;
    child.expect_lines(1, |l| l.contains("HostCheck:") && l.contains("lookups"))?;
    assert_eq!(child.sigterm()?.code(), Some(0));
    Ok(())
}

#[test]
fn dev_watcher_logs_changes_in_its_directory() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().to_str().ok_or("utf-8 path")?;
    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_dev_watcher"),
        &["--dev-watcher-path", path],
    )?;
    // Files present before the watch is set up count as existing ones.
    child.expect_line("watching")?;
    let file = dir.path().join("new-device");
    std::fs::write(&file, b"x")?;
    child.expect_lines(1, |l| l.contains("created") && l.contains("new-device"))?;
    std::fs::remove_file(&file)?;
    child.expect_lines(1, |l| l.contains("deleted") && l.contains("new-device"))?;
    assert_eq!(child.sigterm()?.code(), Some(0));
    Ok(())
}

#[test]
fn producer_consumer_works_items_off_on_several_workers() -> TestResult {
    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_producer_consumer"),
        &["--producer-interval", "0.05", "--consumer-workers", "2"],
    )?;
    let consumed = child.expect_lines(9, |l| l.contains("consumed item"))?;
    let mut items: Vec<u64> = consumed
        .iter()
        .filter_map(|l| {
            l.split("consumed item ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    items.sort_unstable();
    items.dedup();
    assert_eq!(items.len(), 9, "each item once: {consumed:#?}");
    assert!(
        items.iter().all(|&i| i < 12),
        "in production order: {items:?}"
    );
    assert!(
        consumed.iter().all(|l| l.contains("task{name=Consumer-")),
        "lines name their worker: {consumed:#?}"
    );
    assert_eq!(child.sigterm()?.code(), Some(0));
    Ok(())
}
