//! Options in process: prefixes, defaults from the task type, runtime reads
//! and writes, watching a change, and counters on an injected clock.

use std::sync::Arc;
use std::time::Duration;

use sparts_core::{
    BoxError, Error, IntoTaskSpec, TaskContext, VService, VTask, clap,
    counters::{ManualClock, Samples},
};

#[derive(clap::Args, Clone, Debug)]
struct TickOptions {
    /// Seconds between ticks.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// A label.
    #[arg(long)]
    label: Option<String>,
}

/// A task whose default interval comes from a constant on the type.
#[derive(Clone)]
struct Tick<const MS: u64>;

impl<const MS: u64> VTask<TickOptions> for Tick<MS> {
    fn option_defaults() -> Vec<(&'static str, String)> {
        vec![("interval", (MS as f64 / 1000.0).to_string())]
    }

    async fn run(&self, ctx: TaskContext<TickOptions>) -> Result<(), BoxError> {
        let seen = ctx.counters().counter("changes");
        let mut options = ctx.watch_options();
        loop {
            tokio::select! {
                () = ctx.stopped() => return Ok(()),
                _ = options.changed() => seen.increment(),
            }
        }
    }
}

#[tokio::test]
async fn the_same_type_twice_under_two_prefixes() -> Result<(), Error> {
    let running = VService::new("Twice")
        .with_task(Tick::<250>.with_name("Fast"))
        .with_task(Tick::<250>.with_name("Slow").with_prefix("slow"))
        .start_with_args(["twice", "--fast-interval", "0.1", "--slow-label", "s"])
        .await?;
    let h = running.handle();
    assert_eq!(h.option("fast_interval")?.as_deref(), Some("0.1"));
    assert_eq!(
        h.option("slow_interval")?.as_deref(),
        Some("0.25"),
        "type default"
    );
    assert_eq!(h.option("slow_label")?.as_deref(), Some("s"));
    assert_eq!(h.option("fast_label")?, None);
    let names = h.option_names();
    for name in ["level", "shutdown_timeout", "fast_interval", "slow_label"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    assert_eq!(
        h.options().get("slow_interval"),
        Some(&Some("0.25".to_owned()))
    );
    running.shutdown().await
}

#[tokio::test]
async fn a_registration_sets_its_own_defaults_below_the_command_line() -> Result<(), Error> {
    let running = VService::new("Defaults")
        .with_task(
            Tick::<250>
                .with_name("Tick")
                .with_default("interval", "0.5")
                .with_default("label", "from-spec"),
        )
        .start_with_args(["defaults", "--tick-label", "typed"])
        .await?;
    let h = running.handle();
    assert_eq!(
        h.option("tick_interval")?.as_deref(),
        Some("0.5"),
        "over the type's"
    );
    assert_eq!(
        h.option("tick_label")?.as_deref(),
        Some("typed"),
        "command line wins"
    );
    running.shutdown().await?;

    let unknown = VService::new("Defaults")
        .with_task(Tick::<250>.with_default("nope", "1"))
        .start_with_args(["defaults"])
        .await
        .expect_err("unknown id");
    assert!(unknown.to_string().contains("nope"), "{unknown}");
    Ok(())
}

#[tokio::test]
async fn runtime_set_goes_through_the_parser_and_tasks_see_it() -> Result<(), Error> {
    let running = VService::new("Live")
        .with_task(Tick::<1000>.with_name("Tick"))
        .start_with_args(["live"])
        .await?;
    let h = running.handle().clone();
    let task_options = || h.option("tick_interval");

    h.set_option("tick_interval", "2.5")?;
    assert_eq!(task_options()?.as_deref(), Some("2.5"));
    // The running task saw exactly that change.
    tokio::time::timeout(Duration::from_secs(10), async {
        while h.counter("Tick.changes").unwrap_or(0.0) < 1.0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the task sees the change");

    let bad = h
        .set_option("tick_interval", "fast")
        .expect_err("not a number");
    let text = bad.to_string();
    assert!(
        text.contains("tick_interval") && text.contains("fast") && text.contains("--tick-interval"),
        "{text}"
    );
    assert_eq!(task_options()?.as_deref(), Some("2.5"), "nothing changed");
    assert!(
        matches!(h.set_option("tick_nope", "1"), Err(Error::UnknownOption(n)) if n == "tick_nope")
    );
    assert!(matches!(
        h.set_option("pidfile", "/tmp/x"),
        Err(Error::ReadOnlyOption(_))
    ));
    h.set_option("level", "WARNING")?;
    assert_eq!(h.option("level")?.as_deref(), Some("WARNING"));
    assert!(h.set_option("level", "loud").is_err());
    h.set_option("shutdown_timeout", "0.5")?;
    assert_eq!(
        h.service_options().shutdown_timeout,
        Duration::from_millis(500)
    );
    running.shutdown().await
}

#[tokio::test]
async fn bad_command_lines_are_errors_not_panics() {
    for argv in [
        vec!["svc", "--tick-interval", "x"],
        vec!["svc", "--nope"],
        vec!["svc", "--level", "loud"],
        vec!["svc", "--admin-trusted", "10.0.0.0/99"],
        vec!["svc", "--shutdown-timeout", "-3"],
        vec!["svc", "--status", "--daemon"],
    ] {
        let result = VService::new("Svc")
            .with_task(Tick::<1000>.with_name("Tick"))
            .start_with_args(argv.clone())
            .await;
        match result {
            Err(Error::Usage(reason)) => assert!(!reason.contains('\n'), "one line: {reason}"),
            other => panic!("{argv:?}: expected a usage error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn duplicate_names_or_prefixes_are_refused() {
    let err = VService::new("Dup")
        .with_task(Tick::<1>.with_name("A"))
        .with_task(Tick::<1>.with_name("A"))
        .start_with_args(["dup"])
        .await
        .expect_err("duplicate name");
    assert!(err.to_string().contains("duplicate task name `A`"), "{err}");
}

#[derive(Clone, Default)]
struct Timed {
    latency: Option<Samples>,
}

impl VTask<sparts_core::NoOptions> for Timed {
    async fn init(&mut self, ctx: &TaskContext<sparts_core::NoOptions>) -> Result<(), BoxError> {
        self.latency = Some(ctx.counters().samples("latency_ms"));
        Ok(())
    }

    async fn run(&self, ctx: TaskContext<sparts_core::NoOptions>) -> Result<(), BoxError> {
        ctx.stopped().await;
        Ok(())
    }
}

#[tokio::test]
async fn task_samples_follow_the_services_clock() -> Result<(), Error> {
    let clock = ManualClock::new();
    let running = VService::new("Clocked")
        .with_clock(Arc::new(clock.clone()))
        .with_task(Timed::default())
        .start_with_args(["clocked"])
        .await?;
    let h = running.handle().clone();
    let timed = h.require::<Timed>()?;
    let latency = timed
        .latency
        .as_ref()
        .ok_or(Error::UnknownCounter("latency".into()))?;
    latency.add(10.0);
    clock.advance(Duration::from_secs(30));
    latency.add(30.0);
    assert_eq!(h.counter("Timed.latency_ms.avg.60")?, 20.0);
    clock.advance(Duration::from_secs(45));
    assert_eq!(
        h.counter("Timed.latency_ms.avg.60")?,
        30.0,
        "the first value left the 60 s window"
    );
    assert_eq!(h.counter("Timed.latency_ms.avg.3600")?, 20.0);
    assert_eq!(h.counter("Timed.latency_ms.count.60")?, 1.0);
    assert_eq!(h.counter("Timed.latency_ms.max.3600")?, 30.0);
    assert!(matches!(h.counter("nope"), Err(Error::UnknownCounter(_))));
    let prometheus = h.counters_snapshot().to_prometheus();
    assert!(
        prometheus.contains("# TYPE Timed_latency_ms_avg_60 gauge\nTimed_latency_ms_avg_60 30\n"),
        "{prometheus}"
    );
    running.shutdown().await
}
