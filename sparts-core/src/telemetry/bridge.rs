//! The fb303 counters a service's code registers (`ctx.counters()`), shown
//! on `/metrics` too: one family per name, labelled with the task.

use std::collections::BTreeMap;

use heck::ToSnakeCase;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::labels::TaskLabels;
use crate::counters::{CounterKind, CounterRegistry};

/// Where the registries come from at each scrape: the service's own (no
/// task) and each running task's.
type Registries = Box<dyn Fn() -> Vec<(Option<String>, CounterRegistry)> + Send + Sync>;

/// Shows what [`CounterRegistry::exported`] lists on `/metrics`.
pub(crate) struct Fb303Counters {
    registries: Registries,
}

impl std::fmt::Debug for Fb303Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fb303Counters").finish_non_exhaustive()
    }
}

/// The series of one family, gathered across registries.
struct FamilyValues {
    help: String,
    kind: CounterKind,
    values: Vec<(Option<String>, f64)>,
}

impl Fb303Counters {
    pub(crate) fn new(
        registries: impl Fn() -> Vec<(Option<String>, CounterRegistry)> + Send + Sync + 'static,
    ) -> Self {
        Self {
            registries: Box::new(registries),
        }
    }

    fn gather(&self) -> BTreeMap<String, FamilyValues> {
        let mut families: BTreeMap<String, FamilyValues> = BTreeMap::new();
        for (task, registry) in (self.registries)() {
            for counter in registry.exported() {
                let Some(name) = family_name(&counter.name, counter.kind) else {
                    continue;
                };
                let family = families.entry(name).or_insert_with(|| FamilyValues {
                    help: counter.help.clone().unwrap_or_else(|| {
                        format!("The fb303 counter {} (no description given).", counter.name)
                    }),
                    kind: counter.kind,
                    values: Vec::new(),
                });
                // One name registered as a sum in one task and a gauge in
                // another cannot share a family; the first kind seen wins.
                if family.kind == counter.kind {
                    family.values.push((task.clone(), counter.value));
                }
            }
        }
        families
    }
}

/// The Prometheus name of fb303 counter `name`: snake_case, only letters,
/// digits and underscores, not starting with a digit, and without the
/// `_total` a counter's series gets from the encoder.
fn family_name(name: &str, kind: CounterKind) -> Option<String> {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut snake = cleaned.to_snake_case();
    if kind == CounterKind::Counter
        && let Some(stem) = snake.strip_suffix("_total")
    {
        snake = stem.to_owned();
    }
    if snake.is_empty() {
        return None;
    }
    if snake.starts_with(|c: char| c.is_ascii_digit()) {
        snake.insert(0, '_');
    }
    Some(snake)
}

impl Collector for Fb303Counters {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for (name, family) in self.gather() {
            let metric_type = match family.kind {
                CounterKind::Counter => MetricType::Counter,
                _ => MetricType::Gauge,
            };
            let mut descriptor =
                encoder.encode_descriptor(&name, &family.help, None, metric_type)?;
            let none: &[(&str, &str)] = &[];
            for (task, value) in family.values {
                let labels = task.map(|task| TaskLabels { task: task.into() });
                let series = match &labels {
                    Some(labels) => descriptor.encode_family(labels)?,
                    None => descriptor.encode_family(&none)?,
                };
                match metric_type {
                    MetricType::Counter => ConstCounter::new(value).encode(series)?,
                    _ => ConstGauge::new(value).encode(series)?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_snake_case_without_total() {
        assert_eq!(
            family_name("kv_writes", CounterKind::Counter).as_deref(),
            Some("kv_writes")
        );
        assert_eq!(
            family_name("cache.hits_total", CounterKind::Counter).as_deref(),
            Some("cache_hits")
        );
        assert_eq!(
            family_name("queueDepth", CounterKind::Gauge).as_deref(),
            Some("queue_depth")
        );
        assert_eq!(
            family_name("5xx", CounterKind::Counter).as_deref(),
            Some("_5xx")
        );
        assert_eq!(family_name("..", CounterKind::Counter), None);
    }
}
