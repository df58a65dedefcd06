//! Gauges read at scrape time from the thing they measure (a queue's depth,
//! a server's open connections), one series per task.

use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use super::labels::TaskLabels;

type Read = Box<dyn Fn() -> Option<f64> + Send + Sync>;

/// One gauge family whose series are callbacks by task. A callback that
/// returns `None` (what it measured is gone: the task stopped) is dropped
/// at the next scrape.
pub(crate) struct CallbackGauges {
    name: &'static str,
    help: &'static str,
    series: Mutex<Vec<(TaskLabels, Read)>>,
}

impl std::fmt::Debug for CallbackGauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackGauges")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl CallbackGauges {
    pub(crate) fn new(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            series: Mutex::new(Vec::new()),
        }
    }

    /// Adds task `task`'s series, replacing one it had (from a start before
    /// a restart).
    pub(crate) fn add(
        &self,
        task: Arc<str>,
        read: impl Fn() -> Option<f64> + Send + Sync + 'static,
    ) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        series.retain(|(labels, _)| labels.task != task);
        series.push((TaskLabels { task }, Box::new(read)));
    }
}

impl Collector for CallbackGauges {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let mut values = Vec::with_capacity(series.len());
        series.retain(|(labels, read)| match read() {
            Some(value) => {
                values.push((labels.clone(), value));
                true
            }
            None => false,
        });
        drop(series);
        let mut family =
            encoder.encode_descriptor(self.name, self.help, None, MetricType::Gauge)?;
        for (labels, value) in &values {
            ConstGauge::new(*value).encode(family.encode_family(labels)?)?;
        }
        Ok(())
    }
}
