//! The named registry of counters and snapshots of their values.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use super::clock::{MonotonicClock, SharedClock};
use super::counter::{Average, CallbackCounter, Count, Counter, Max, Min};
use super::lock;
use super::samples::{Samples, SamplesConfig};

/// How a value behaves over time, for the Prometheus `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CounterKind {
    /// Only ever grows (until the process restarts): a [`Counter`], a
    /// [`Count`], the all-time `count` of a [`Samples`].
    Counter,
    /// Anything else: may go up and down.
    Gauge,
}

impl CounterKind {
    /// `counter` or `gauge`, as in the Prometheus text format.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CounterKind::Counter => "counter",
            CounterKind::Gauge => "gauge",
        }
    }
}

/// One exported value.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterValue {
    /// The full name, such as `HttpTask.execute_duration_ms.avg.60`.
    pub name: String,
    /// The value.
    pub value: f64,
    /// Counter or gauge.
    pub kind: CounterKind,
}

/// Exported values at one moment, sorted by name, names unique.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CountersSnapshot {
    values: Vec<CounterValue>,
}

impl CountersSnapshot {
    /// Sorts `values` by name; of values with the same name, the first wins.
    #[must_use]
    pub fn new(mut values: Vec<CounterValue>) -> Self {
        // Stable, so "first" keeps meaning first in the input.
        values.sort_by(|a, b| a.name.cmp(&b.name));
        values.dedup_by(|later, earlier| later.name == earlier.name);
        Self { values }
    }

    /// The value named `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values
            .binary_search_by(|v| v.name.as_str().cmp(name))
            .ok()
            .map(|i| self.values[i].value)
    }

    /// The values, by name.
    pub fn iter(&self) -> std::slice::Iter<'_, CounterValue> {
        self.values.iter()
    }

    /// The values, by name, as a slice.
    #[must_use]
    pub fn as_slice(&self) -> &[CounterValue] {
        &self.values
    }

    /// How many values there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no values.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Name to value.
    #[must_use]
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        self.values
            .iter()
            .map(|v| (v.name.clone(), v.value))
            .collect()
    }

    /// The values whose name matches `pattern` anywhere (anchor it with `^…$`
    /// for a whole-name match).
    #[must_use]
    pub fn filter(&self, pattern: &regex::Regex) -> CountersSnapshot {
        Self {
            values: self
                .values
                .iter()
                .filter(|v| pattern.is_match(&v.name))
                .cloned()
                .collect(),
        }
    }
}

impl FromIterator<CounterValue> for CountersSnapshot {
    fn from_iter<I: IntoIterator<Item = CounterValue>>(iter: I) -> Self {
        Self::new(iter.into_iter().collect())
    }
}

impl IntoIterator for CountersSnapshot {
    type Item = CounterValue;
    type IntoIter = std::vec::IntoIter<CounterValue>;

    fn into_iter(self) -> Self::IntoIter {
        self.values.into_iter()
    }
}

impl<'a> IntoIterator for &'a CountersSnapshot {
    type Item = &'a CounterValue;
    type IntoIter = std::slice::Iter<'a, CounterValue>;

    fn into_iter(self) -> Self::IntoIter {
        self.values.iter()
    }
}

/// A registered counter of any kind.
#[derive(Debug, Clone)]
enum Entry {
    Counter(Counter),
    Max(Max),
    Min(Min),
    Average(Average),
    Count(Count),
    Samples(Samples),
    Callback(CallbackCounter),
}

impl Entry {
    fn kind_name(&self) -> &'static str {
        match self {
            Entry::Counter(_) => "counter",
            Entry::Max(_) => "max",
            Entry::Min(_) => "min",
            Entry::Average(_) => "average",
            Entry::Count(_) => "count",
            Entry::Samples(_) => "samples",
            Entry::Callback(_) => "callback",
        }
    }
}

struct RegistryInner {
    clock: SharedClock,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Per name: its description (the HELP line on `/metrics`), and whether
    /// it stays off `/metrics` (a counter with a labelled family of its own).
    meta: Mutex<BTreeMap<String, Meta>>,
}

/// What `/metrics` knows of a counter besides its value.
#[derive(Debug, Clone, Default)]
struct Meta {
    help: Option<String>,
    fb303_only: bool,
}

/// A counter as `/metrics` shows it: from [`CounterRegistry::exported`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedCounter {
    /// The name it was registered under.
    pub name: String,
    /// Its description, when one was given ([`CounterRegistry::describe`]).
    pub help: Option<String>,
    /// Whether it only grows (a sum or a count) or goes up and down.
    pub kind: CounterKind,
    /// Its value now.
    pub value: f64,
}

/// A thread-safe registry of named counters: the source of a service's
/// `/counters` and Prometheus pages.
///
/// A cheap [`Clone`] handle. The get-or-create methods return a handle to the
/// counter registered under the name, creating it if needed, so workers of
/// one task asking for the same name share one counter. Asking for a name
/// registered as another kind replaces the old counter (with a warning):
/// handles to it keep working but are no longer exported.
///
/// ```
/// use sparts_core::counters::CounterRegistry;
///
/// let registry = CounterRegistry::new();
/// registry.counter("requests").increment();
/// registry.counter("requests").increment();
/// registry.samples("latency_ms").add(12.0);
///
/// let snapshot = registry.snapshot();
/// assert_eq!(snapshot.get("requests"), Some(2.0));
/// assert_eq!(snapshot.get("latency_ms.avg.60"), Some(12.0));
/// ```
#[derive(Clone)]
pub struct CounterRegistry {
    inner: Arc<RegistryInner>,
    /// Registrations through this handle stay off `/metrics`.
    fb303_only: bool,
}

impl CounterRegistry {
    /// An empty registry on the real [`MonotonicClock`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_clock(Arc::new(MonotonicClock::new()))
    }

    /// An empty registry whose [`Samples`] read `clock`.
    #[must_use]
    pub fn with_clock(clock: SharedClock) -> Self {
        Self {
            inner: Arc::new(RegistryInner {
                clock,
                entries: Mutex::new(BTreeMap::new()),
                meta: Mutex::new(BTreeMap::new()),
            }),
            fb303_only: false,
        }
    }

    /// A handle on the same registry whose registrations are fb303's only:
    /// `getCounters` shows them, `/metrics` does not. For counters that have
    /// a labelled Prometheus family of their own (the servers' and built-in
    /// tasks' counters), so `/metrics` does not show them twice.
    #[must_use]
    pub fn fb303_only(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            fb303_only: true,
        }
    }

    /// Gives counter `name` a description: the HELP line of its family on
    /// `/metrics` (where it is `<name>_total` for a sum or a count, `<name>`
    /// otherwise, labelled with its task). Returns `self`, so it chains with
    /// a registration.
    ///
    /// ```
    /// use sparts_core::counters::CounterRegistry;
    ///
    /// let counters = CounterRegistry::new();
    /// let writes = counters.describe("kv_writes", "Keys written.").counter("kv_writes");
    /// writes.increment();
    /// ```
    pub fn describe(&self, name: &str, help: &str) -> &Self {
        lock(&self.inner.meta)
            .entry(name.to_owned())
            .or_default()
            .help = Some(help.to_owned());
        self
    }

    /// Every counter `/metrics` shows, with its description: all but
    /// windowed samples (their windows are fb303's; a histogram is what
    /// Prometheus reads) and those registered [`fb303_only`](Self::fb303_only).
    pub fn exported(&self) -> Vec<ExportedCounter> {
        let meta = lock(&self.inner.meta).clone();
        let mut values = Vec::new();
        self.snapshot_into("", &mut values);
        let samples: Vec<String> = lock(&self.inner.entries)
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Samples(_)))
            .map(|(name, _)| format!("{name}."))
            .collect();
        values
            .into_iter()
            .filter(|v| !samples.iter().any(|prefix| v.name.starts_with(prefix)))
            .filter_map(|v| {
                let meta = meta.get(&v.name).cloned().unwrap_or_default();
                (!meta.fb303_only).then_some(ExportedCounter {
                    help: meta.help,
                    name: v.name,
                    kind: v.kind,
                    value: v.value,
                })
            })
            .collect()
    }

    /// Marks `name` fb303-only when registered through such a handle.
    fn note_registration(&self, name: &str) {
        if self.fb303_only {
            lock(&self.inner.meta)
                .entry(name.to_owned())
                .or_default()
                .fb303_only = true;
        }
    }

    /// The clock given to the [`Samples`] this registry creates.
    #[must_use]
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// The running sum named `name`, exported as `name`.
    pub fn counter(&self, name: &str) -> Counter {
        self.get_or_insert(name, "counter", Counter::new, |e| match e {
            Entry::Counter(c) => Some(c),
            _ => None,
        })
        .0
    }

    /// The all-time maximum named `name`, exported as `name`.
    pub fn max(&self, name: &str) -> Max {
        self.get_or_insert(name, "max", Max::new, |e| match e {
            Entry::Max(c) => Some(c),
            _ => None,
        })
        .0
    }

    /// The all-time minimum named `name`, exported as `name`.
    pub fn min(&self, name: &str) -> Min {
        self.get_or_insert(name, "min", Min::new, |e| match e {
            Entry::Min(c) => Some(c),
            _ => None,
        })
        .0
    }

    /// The all-time average named `name`, exported as `name`.
    pub fn average(&self, name: &str) -> Average {
        self.get_or_insert(name, "average", Average::new, |e| match e {
            Entry::Average(c) => Some(c),
            _ => None,
        })
        .0
    }

    /// The count of records named `name`, exported as `name`.
    pub fn count(&self, name: &str) -> Count {
        self.get_or_insert(name, "count", Count::new, |e| match e {
            Entry::Count(c) => Some(c),
            _ => None,
        })
        .0
    }

    /// Windowed samples named `name` with the default types and windows,
    /// exported as `name.<type>.<secs>`.
    pub fn samples(&self, name: &str) -> Samples {
        self.samples_with(name, SamplesConfig::default())
    }

    /// Windowed samples named `name` with these types and windows.
    ///
    /// If samples of that name exist with another configuration, they are
    /// returned unchanged (so all holders keep sharing them) and a warning is
    /// logged.
    pub fn samples_with(&self, name: &str, config: SamplesConfig) -> Samples {
        let clock = &self.inner.clock;
        let (samples, existed) = self.get_or_insert(
            name,
            "samples",
            || Samples::with_clock(config.clone(), Arc::clone(clock)),
            |e| match e {
                Entry::Samples(s) => Some(s),
                _ => None,
            },
        );
        if existed {
            // Samples store their configuration normalized; compare like with like.
            let requested = config.normalized();
            if &requested != samples.config() {
                tracing::warn!(
                    counter = name,
                    existing = ?samples.config(),
                    ?requested,
                    "samples already registered with another configuration; keeping the existing one",
                );
            }
        }
        samples
    }

    /// A counter named `name` whose value is `callback()` at snapshot time,
    /// exported as `name` (left out when it returns `None`).
    ///
    /// Unlike the other methods this always installs the new callback,
    /// replacing any counter of that name: a closure cannot be compared, and
    /// the caller means this one.
    pub fn callback(
        &self,
        name: &str,
        callback: impl Fn() -> Option<f64> + Send + Sync + 'static,
    ) -> CallbackCounter {
        self.note_registration(name);
        let counter = CallbackCounter::new(callback);
        let old =
            lock(&self.inner.entries).insert(name.to_owned(), Entry::Callback(counter.clone()));
        if let Some(old) = old {
            warn_if_other_kind(name, &old, "callback");
        }
        counter
    }

    /// Removes the counter named `name`; whether there was one. Handles to it
    /// keep working but are no longer exported.
    pub fn remove(&self, name: &str) -> bool {
        lock(&self.inner.entries).remove(name).is_some()
    }

    /// Whether a counter named `name` is registered.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        lock(&self.inner.entries).contains_key(name)
    }

    /// The registered names (one per counter, not per exported value), sorted.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        lock(&self.inner.entries).keys().cloned().collect()
    }

    /// Appends every exported value, its name prefixed with `prefix` (such as
    /// `"HttpTask."`, or `""`). Values that are `None` are left out.
    ///
    /// Callbacks run after the registry lock is released, so they may use the
    /// registry; one that panics is left out with a warning.
    pub fn snapshot_into(&self, prefix: &str, out: &mut Vec<CounterValue>) {
        let mut callbacks = Vec::new();
        {
            let entries = lock(&self.inner.entries);
            for (name, entry) in entries.iter() {
                let simple = |value: Option<f64>, kind| {
                    value.map(|value| CounterValue {
                        name: format!("{prefix}{name}"),
                        value,
                        kind,
                    })
                };
                // u64 to f64 is exact up to 2^53, far beyond any real count.
                let value = match entry {
                    Entry::Counter(c) => simple(Some(c.value() as f64), CounterKind::Counter),
                    Entry::Max(c) => simple(c.value(), CounterKind::Gauge),
                    Entry::Min(c) => simple(c.value(), CounterKind::Gauge),
                    Entry::Average(c) => simple(c.value(), CounterKind::Gauge),
                    Entry::Count(c) => simple(c.value(), CounterKind::Counter),
                    Entry::Samples(s) => {
                        s.snapshot_into(prefix, name, out);
                        None
                    }
                    Entry::Callback(c) => {
                        callbacks.push((name.clone(), c.clone()));
                        None
                    }
                };
                out.extend(value);
            }
        }
        for (name, callback) in callbacks {
            match catch_unwind(AssertUnwindSafe(|| callback.value())) {
                Ok(Some(value)) => out.push(CounterValue {
                    name: format!("{prefix}{name}"),
                    value,
                    kind: CounterKind::Gauge,
                }),
                Ok(None) => {}
                Err(_) => {
                    tracing::warn!(counter = %name, "counter callback panicked; value left out")
                }
            }
        }
    }

    /// Every exported value, unprefixed, sorted by name.
    #[must_use]
    pub fn snapshot(&self) -> CountersSnapshot {
        let mut out = Vec::new();
        self.snapshot_into("", &mut out);
        CountersSnapshot::new(out)
    }

    /// Returns the entry's handle if it is of the wanted kind, else installs
    /// `make()`; the flag says whether the handle already existed.
    fn get_or_insert<T: Clone>(
        &self,
        name: &str,
        kind_name: &'static str,
        make: impl FnOnce() -> T,
        extract: fn(&Entry) -> Option<&T>,
    ) -> (T, bool)
    where
        Entry: From<T>,
    {
        self.note_registration(name);
        let mut entries = lock(&self.inner.entries);
        if let Some(entry) = entries.get(name) {
            if let Some(handle) = extract(entry) {
                return (handle.clone(), true);
            }
            warn_if_other_kind(name, entry, kind_name);
        }
        let handle = make();
        entries.insert(name.to_owned(), Entry::from(handle.clone()));
        (handle, false)
    }
}

fn warn_if_other_kind(name: &str, old: &Entry, new_kind: &'static str) {
    if old.kind_name() != new_kind {
        tracing::warn!(
            counter = name,
            old = old.kind_name(),
            new = new_kind,
            "counter re-registered as another kind; the old one is no longer exported",
        );
    }
}

impl From<Counter> for Entry {
    fn from(c: Counter) -> Self {
        Entry::Counter(c)
    }
}
impl From<Max> for Entry {
    fn from(c: Max) -> Self {
        Entry::Max(c)
    }
}
impl From<Min> for Entry {
    fn from(c: Min) -> Self {
        Entry::Min(c)
    }
}
impl From<Average> for Entry {
    fn from(c: Average) -> Self {
        Entry::Average(c)
    }
}
impl From<Count> for Entry {
    fn from(c: Count) -> Self {
        Entry::Count(c)
    }
}
impl From<Samples> for Entry {
    fn from(s: Samples) -> Self {
        Entry::Samples(s)
    }
}

impl Default for CounterRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CounterRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("CounterRegistry");
        d.field("clock", &self.inner.clock);
        // try_lock: Debug may be called by code that already holds the lock.
        if let Ok(entries) = self.inner.entries.try_lock() {
            d.field("names", &entries.keys().collect::<Vec<_>>());
        }
        d.finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::counters::{ManualClock, SampleType, Window};

    fn registry() -> (CounterRegistry, ManualClock) {
        let clock = ManualClock::new();
        (CounterRegistry::with_clock(clock.shared()), clock)
    }

    #[test]
    fn get_or_create_returns_the_same_handle() {
        let (r, _clock) = registry();
        let a = r.counter("requests");
        let b = r.counter("requests");
        a.increment();
        b.add(2);
        assert_eq!(a.value(), 3);
        assert_eq!(r.counter("requests").value(), 3);

        let s1 = r.samples("latency");
        r.samples("latency").add(5.0);
        assert_eq!(s1.value(SampleType::Count, Window::Secs(60)), Some(1.0));

        r.max("m").record(1.0);
        r.max("m").record(3.0);
        r.min("n").record(1.0);
        r.min("n").record(3.0);
        r.average("avg").record(1.0);
        r.average("avg").record(3.0);
        r.count("c").record(7.0);
        r.count("c").record(7.0);
        let snap = r.snapshot();
        assert_eq!(snap.get("m"), Some(3.0));
        assert_eq!(snap.get("n"), Some(1.0));
        assert_eq!(snap.get("avg"), Some(2.0));
        assert_eq!(snap.get("c"), Some(2.0));
        assert_eq!(r.names(), ["avg", "c", "latency", "m", "n", "requests"]);
    }

    #[test]
    fn another_kind_replaces() {
        let (r, _clock) = registry();
        let old = r.counter("x");
        old.add(5);
        let max = r.max("x");
        max.record(1.5);
        // The old handle still works but is no longer exported.
        old.increment();
        assert_eq!(old.value(), 6);
        assert_eq!(r.snapshot().get("x"), Some(1.5));
        assert_eq!(r.counter("x").value(), 0);
        assert_eq!(r.snapshot().get("x"), Some(0.0));
    }

    #[test]
    fn samples_with_another_config_keeps_the_existing() {
        let (r, _clock) = registry();
        let config = SamplesConfig::default().with_windows([Window::Secs(10)]);
        let a = r.samples_with("s", config.clone());
        let b = r.samples("s");
        assert_eq!(b.config(), a.config());
        a.add(1.0);
        assert_eq!(b.value(SampleType::Sum, Window::Secs(10)), Some(1.0));
        assert_eq!(r.samples_with("s", config).config(), a.config());
    }

    #[test]
    fn samples_use_the_registry_clock() {
        let (r, clock) = registry();
        r.samples("s").add(1.0);
        assert_eq!(r.snapshot().get("s.count.60"), Some(1.0));
        clock.advance(Duration::from_secs(61));
        let snap = r.snapshot();
        assert_eq!(snap.get("s.count.60"), Some(0.0));
        assert_eq!(snap.get("s.count.3600"), Some(1.0));
        assert_eq!(snap.get("s.avg.60"), None);
        assert_eq!(snap.get("s.avg.3600"), Some(1.0));
    }

    #[test]
    fn callbacks_run_at_snapshot_and_replace() {
        let (r, _clock) = registry();
        let source = Counter::new();
        let seen = source.clone();
        r.callback("queue", move || Some(seen.value() as f64));
        r.callback("nothing", || None);
        assert_eq!(r.snapshot().get("queue"), Some(0.0));
        source.add(4);
        assert_eq!(r.snapshot().get("queue"), Some(4.0));
        assert_eq!(r.snapshot().get("nothing"), None);
        r.callback("queue", || Some(-1.0));
        assert_eq!(r.snapshot().get("queue"), Some(-1.0));
    }

    #[test]
    fn callback_may_use_the_registry_and_panics_are_skipped() {
        let (r, _clock) = registry();
        let inner = r.clone();
        r.callback("names", move || Some(inner.names().len() as f64));
        r.callback("boom", || panic!("callback failure under test"));
        let snap = r.snapshot();
        assert_eq!(snap.get("names"), Some(2.0));
        assert_eq!(snap.get("boom"), None);
    }

    #[test]
    fn remove() {
        let (r, _clock) = registry();
        r.counter("a");
        assert!(r.contains("a"));
        assert!(r.remove("a"));
        assert!(!r.remove("a"));
        assert!(r.snapshot().is_empty());
    }

    #[test]
    fn snapshot_names_kinds_and_prefix() {
        let (r, _clock) = registry();
        r.counter("requests").add(3);
        r.max("unset");
        r.samples_with(
            "execute_duration_ms",
            SamplesConfig::default()
                .with_types([SampleType::Avg])
                .with_windows([Window::Secs(60)])
                .with_all_time(),
        )
        .add(8.0);
        let mut out = Vec::new();
        r.snapshot_into("HttpTask.", &mut out);
        let snap = CountersSnapshot::new(out);
        let got: Vec<(&str, f64, CounterKind)> = snap
            .iter()
            .map(|v| (v.name.as_str(), v.value, v.kind))
            .collect();
        assert_eq!(
            got,
            [
                ("HttpTask.execute_duration_ms.avg", 8.0, CounterKind::Gauge),
                (
                    "HttpTask.execute_duration_ms.avg.60",
                    8.0,
                    CounterKind::Gauge
                ),
                ("HttpTask.requests", 3.0, CounterKind::Counter),
            ]
        );
    }

    #[test]
    fn snapshot_helpers() {
        let snap: CountersSnapshot = [
            CounterValue {
                name: "b".into(),
                value: 2.0,
                kind: CounterKind::Gauge,
            },
            CounterValue {
                name: "a.x".into(),
                value: 1.0,
                kind: CounterKind::Gauge,
            },
            CounterValue {
                name: "b".into(),
                value: 99.0,
                kind: CounterKind::Gauge,
            },
        ]
        .into_iter()
        .collect();
        assert_eq!(snap.len(), 2);
        assert_eq!(snap.get("b"), Some(2.0));
        assert_eq!(snap.get("zzz"), None);
        let map = snap.to_map();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["a.x", "b"]);
        let re = regex::Regex::new(r"^a\.").expect("valid regex");
        let filtered = snap.filter(&re);
        assert_eq!(filtered.len(), 1);
        assert_eq!(filtered.get("a.x"), Some(1.0));
        assert!(
            snap.filter(&regex::Regex::new("nomatch").expect("valid regex"))
                .is_empty()
        );
    }

    #[test]
    fn registry_is_shared_across_threads() {
        let (r, _clock) = registry();
        std::thread::scope(|s| {
            for _ in 0..4 {
                let r = r.clone();
                s.spawn(move || {
                    let c = r.counter("hits");
                    for _ in 0..1000 {
                        c.increment();
                    }
                });
            }
        });
        assert_eq!(r.snapshot().get("hits"), Some(4000.0));
    }

    #[test]
    fn prometheus_from_a_registry() {
        let (r, _clock) = registry();
        r.counter("requests").add(2);
        r.samples("latency.ms").add(1.5);
        let text = r.snapshot().to_prometheus();
        assert!(text.contains("# TYPE requests counter\nrequests 2\n"));
        assert!(text.contains("# TYPE latency_ms_avg_60 gauge\nlatency_ms_avg_60 1.5\n"));
    }
}
