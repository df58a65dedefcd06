//! The `metrics` facade's recorder: `metrics::counter!`, `gauge!` and
//! `histogram!` in a service's code, or in the libraries it uses, land in
//! the service's `/metrics` (a family per name, labelled by the call's
//! labels) and in fb303 `getCounters` (`name{label=value,...}`).
//!
//! The facade has one recorder per process; it forwards to the service
//! started last, so a program that runs one service (the usual case) sees
//! every call, and tests that start several see each one's while it is the
//! latest.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use prometheus_client::metrics::counter::Counter as PromCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge as PromGauge;

use super::histogram::Histogram as PromHistogram;
use super::{Buckets, Telemetry};
use crate::counters::{CounterRegistry, SampleType, Samples, SamplesConfig, Window};

type Labels = Vec<(String, String)>;
type FloatGauge = PromGauge<f64, AtomicU64>;

/// The families the facade's calls created, by metric name.
#[derive(Debug, Default)]
pub(crate) struct FacadeFamilies {
    help: HashMap<String, String>,
    counters: HashMap<String, Family<Labels, PromCounter>>,
    gauges: HashMap<String, Family<Labels, FloatGauge>>,
    histograms: HashMap<String, Family<Labels, PromHistogram, Buckets>>,
}

/// Where the facade's calls go: the latest started service's views.
#[derive(Debug, Clone)]
struct Target {
    telemetry: Telemetry,
    counters: CounterRegistry,
}

static TARGET: RwLock<Option<Target>> = RwLock::new(None);
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Points the facade at this service (its Prometheus registry and its own
/// fb303 counters), installing the process's recorder the first time.
/// Returns whether the recorder is sparts' (another one installed before
/// keeps the facade's calls).
pub(crate) fn install(telemetry: &Telemetry, counters: &CounterRegistry) -> bool {
    *TARGET.write().unwrap_or_else(PoisonError::into_inner) = Some(Target {
        telemetry: telemetry.clone(),
        counters: counters.fb303_only(),
    });
    *INSTALLED.get_or_init(|| match metrics::set_global_recorder(Forwarder) {
        Ok(()) => true,
        Err(_) => {
            tracing::warn!(
                "another metrics recorder is installed: metrics::counter! and the like do not reach /metrics"
            );
            false
        }
    })
}

/// Forgets this service as the facade's target, if it still is.
pub(crate) fn uninstall(telemetry: &Telemetry) {
    let mut target = TARGET.write().unwrap_or_else(PoisonError::into_inner);
    if target
        .as_ref()
        .is_some_and(|t| Arc::ptr_eq(&t.telemetry.inner, &telemetry.inner))
    {
        *target = None;
    }
}

fn target() -> Option<Target> {
    TARGET
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// The process's recorder.
#[derive(Debug)]
struct Forwarder;

impl Recorder for Forwarder {
    fn describe_counter(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        describe(key, description);
    }

    fn describe_gauge(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        describe(key, description);
    }

    fn describe_histogram(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        describe(key, description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        target().map_or_else(Counter::noop, |t| t.counter(key))
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        target().map_or_else(Gauge::noop, |t| t.gauge(key))
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        target().map_or_else(Histogram::noop, |t| t.histogram(key))
    }
}

fn describe(key: KeyName, description: SharedString) {
    if let Some(target) = target() {
        target
            .telemetry
            .facade()
            .help
            .insert(key.as_str().to_owned(), description.into_owned());
    }
}

impl Telemetry {
    fn facade(&self) -> std::sync::MutexGuard<'_, FacadeFamilies> {
        // Each critical section is one map operation: never half done.
        self.inner
            .facade
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The key's labels, and its fb303 name: `name` or `name{k=v,...}`.
fn split(key: &Key) -> (Labels, String) {
    let labels: Labels = key
        .labels()
        .map(|l| (l.key().to_owned(), l.value().to_owned()))
        .collect();
    let fb303 = if labels.is_empty() {
        key.name().to_owned()
    } else {
        let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}{{{}}}", key.name(), pairs.join(","))
    };
    (labels, fb303)
}

impl Target {
    /// The help of `name` for its registration, given or made up.
    fn help(facade: &FacadeFamilies, name: &str) -> String {
        facade
            .help
            .get(name)
            .cloned()
            .unwrap_or_else(|| format!("{name}, recorded through the metrics facade."))
    }

    fn counter(&self, key: &Key) -> Counter {
        let (labels, fb303) = split(key);
        let name = family_name(key.name(), true);
        let family = {
            let mut facade = self.telemetry.facade();
            if let Some(family) = facade.counters.get(&name) {
                family.clone()
            } else {
                let family = Family::<Labels, PromCounter>::default();
                let help = Self::help(&facade, key.name());
                facade.counters.insert(name.clone(), family.clone());
                drop(facade);
                self.telemetry.register(&name, &help, family.clone());
                family
            }
        };
        Counter::from_arc(Arc::new(FacadeCounter {
            prometheus: family.get_or_create_owned(&labels),
            fb303: self.counters.counter(&fb303),
        }))
    }

    fn gauge(&self, key: &Key) -> Gauge {
        let (labels, fb303) = split(key);
        let name = family_name(key.name(), false);
        let family = {
            let mut facade = self.telemetry.facade();
            if let Some(family) = facade.gauges.get(&name) {
                family.clone()
            } else {
                let family = Family::<Labels, FloatGauge>::default();
                let help = Self::help(&facade, key.name());
                facade.gauges.insert(name.clone(), family.clone());
                drop(facade);
                self.telemetry.register(&name, &help, family.clone());
                family
            }
        };
        let gauge = family.get_or_create_owned(&labels);
        let read = gauge.clone();
        self.counters.callback(&fb303, move || Some(read.get()));
        Gauge::from_arc(Arc::new(FacadeGauge(gauge)))
    }

    fn histogram(&self, key: &Key) -> Histogram {
        let (labels, fb303) = split(key);
        let name = family_name(key.name(), false);
        let family = {
            let mut facade = self.telemetry.facade();
            if let Some(family) = facade.histograms.get(&name) {
                family.clone()
            } else {
                let family = Family::new_with_constructor(self.telemetry.inner.buckets.clone());
                let help = Self::help(&facade, key.name());
                facade.histograms.insert(name.clone(), family.clone());
                drop(facade);
                self.telemetry.register(&name, &help, family.clone());
                family
            }
        };
        let samples = SamplesConfig::default()
            .with_types([SampleType::Count, SampleType::Avg, SampleType::Max])
            .with_windows([Window::Secs(60), Window::Secs(600)]);
        Histogram::from_arc(Arc::new(FacadeHistogram {
            prometheus: family.get_or_create_owned(&labels),
            fb303: self.counters.samples_with(&fb303, samples),
        }))
    }
}

/// The facade's name as a Prometheus family name: characters other than
/// letters, digits and `_` become `_`, and a counter loses the `_total` the
/// encoder adds back.
fn family_name(name: &str, counter: bool) -> String {
    let name: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    match name.strip_suffix("_total") {
        Some(stem) if counter => stem.to_owned(),
        _ => name,
    }
}

#[derive(Debug)]
struct FacadeCounter {
    prometheus: PromCounter,
    fb303: crate::counters::Counter,
}

impl CounterFn for FacadeCounter {
    fn increment(&self, value: u64) {
        self.prometheus.inc_by(value);
        self.fb303.add(value);
    }

    fn absolute(&self, value: u64) {
        // Counters only grow: an absolute value below the current one is
        // ignored, as the facade documents for monotonic counters.
        let current = self.prometheus.get();
        if value > current {
            self.increment(value - current);
        }
    }
}

#[derive(Debug)]
struct FacadeGauge(FloatGauge);

impl GaugeFn for FacadeGauge {
    fn increment(&self, value: f64) {
        self.0.inc_by(value);
    }

    fn decrement(&self, value: f64) {
        self.0.dec_by(value);
    }

    fn set(&self, value: f64) {
        self.0.set(value);
    }
}

#[derive(Debug)]
struct FacadeHistogram {
    prometheus: PromHistogram,
    fb303: Samples,
}

impl HistogramFn for FacadeHistogram {
    fn record(&self, value: f64) {
        self.prometheus.observe(value);
        self.fb303.add(value);
    }
}

/// What [`Telemetry`] keeps for the facade.
pub(crate) type Facade = Mutex<FacadeFamilies>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Format;

    #[test]
    fn facade_calls_reach_prometheus_and_fb303() {
        let telemetry = Telemetry::new("Svc", None, None);
        let counters = CounterRegistry::new();
        let target = Target {
            telemetry: telemetry.clone(),
            counters: counters.fb303_only(),
        };
        let key = Key::from_parts("cache_hits_total", vec![metrics::Label::new("shard", "a")]);
        let hits = target.counter(&key);
        hits.increment(2);
        hits.absolute(5);
        target.gauge(&Key::from_name("temperature")).set(21.5);
        target
            .histogram(&Key::from_name("payload_bytes"))
            .record(512.0);
        let text = telemetry.render(Format::Prometheus).expect("encodes");
        assert!(text.contains(r#"cache_hits_total{shard="a"} 5"#), "{text}");
        assert!(text.contains("temperature 21.5"), "{text}");
        assert!(text.contains("payload_bytes_count 1"), "{text}");
        let fb303 = counters.snapshot();
        assert_eq!(fb303.get("cache_hits_total{shard=a}"), Some(5.0));
        assert_eq!(fb303.get("temperature"), Some(21.5));
        assert_eq!(fb303.get("payload_bytes.count.60"), Some(1.0));
        assert!(
            counters.exported().is_empty(),
            "fb303 only: /metrics has them already"
        );
    }
}
