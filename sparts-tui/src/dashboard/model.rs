//! What the dashboard shows: one read of a service's admin model, and the
//! counters' recent values for the sparklines.

use std::collections::{BTreeMap, HashMap, VecDeque};

/// One read of a service's admin model: what `/admin/status`,
/// `/admin/counters`, `/admin/options` and `/admin/exported` answer.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct AdminSnapshot {
    /// The service's name.
    pub name: String,
    /// Its version, empty if unset.
    pub version: String,
    /// Its status (`ALIVE`, `WARNING`, ...).
    pub status: String,
    /// Why the status is what it is, one reason per line.
    pub details: Vec<String>,
    /// Seconds since it started.
    pub uptime: i64,
    /// Its running tasks.
    pub tasks: Vec<String>,
    /// Every counter (NaN where the service has no number).
    pub counters: BTreeMap<String, f64>,
    /// Every option with its value (`None`: unset, no default).
    pub options: BTreeMap<String, Option<String>>,
    /// Every exported value.
    pub exported: BTreeMap<String, String>,
    /// Recent log lines, when the service is in this process.
    pub log: Option<Vec<String>>,
}

/// How many reads a sparkline spans.
pub(crate) const HISTORY: usize = 60;

/// Each counter's last [`HISTORY`] values, oldest first.
#[derive(Debug, Default)]
pub(crate) struct History {
    series: HashMap<String, VecDeque<f64>>,
}

impl History {
    /// Adds one read; counters the service no longer has are forgotten.
    pub(crate) fn record(&mut self, counters: &BTreeMap<String, f64>) {
        self.series.retain(|name, _| counters.contains_key(name));
        for (name, value) in counters {
            let series = match self.series.get_mut(name) {
                Some(series) => series,
                None => self.series.entry(name.clone()).or_default(),
            };
            if series.len() == HISTORY {
                series.pop_front();
            }
            series.push_back(*value);
        }
    }

    /// A counter's recent values, oldest first.
    pub(crate) fn of(&self, name: &str) -> impl ExactSizeIterator<Item = f64> + '_ {
        static NONE: VecDeque<f64> = VecDeque::new();
        self.series.get(name).unwrap_or(&NONE).iter().copied()
    }
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The lowest and the highest of the values that are numbers.
pub(crate) fn finite_range(values: &[f64]) -> Option<(f64, f64)> {
    let mut finite = values.iter().copied().filter(|v| v.is_finite());
    let first = finite.next()?;
    Some(finite.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
}

/// Each value placed on `0..=steps` between the lowest and the highest of
/// them: a chart's height. `None` for a value that is not a number; 0 for
/// all when they are equal.
pub(crate) fn scaled(values: &[f64], steps: u32) -> Vec<Option<u32>> {
    let range = finite_range(values);
    values
        .iter()
        .map(|&v| {
            let (low, high) = range.filter(|_| v.is_finite())?;
            if high <= low {
                return Some(0);
            }
            let step = ((v - low) / (high - low) * f64::from(steps)).round();
            // In 0..=steps by construction; the cast only drops the fraction.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some((step as u32).min(steps))
        })
        .collect()
}

/// The last `width` values as a line of bars, lowest to highest between
/// their own minimum and maximum; values that are not numbers are blanks.
pub(crate) fn sparkline(values: impl ExactSizeIterator<Item = f64>, width: usize) -> String {
    let skip = values.len().saturating_sub(width);
    let values: Vec<f64> = values.skip(skip).collect();
    let top = u32::try_from(BARS.len() - 1).unwrap_or(0);
    scaled(&values, top)
        .into_iter()
        .map(|step| step.map_or(' ', |i| BARS[i as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_span_their_own_range_and_keep_the_last_values() {
        let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        assert_eq!(sparkline(values.into_iter(), 8), "▁▂▃▄▅▆▇█");
        assert_eq!(sparkline(values.into_iter(), 3), "▁▅█");
        assert_eq!(sparkline([5.0, 5.0].into_iter(), 4), "▁▁");
        assert_eq!(sparkline([0.0, f64::NAN, 1.0].into_iter(), 4), "▁ █");
        assert_eq!(sparkline([].into_iter(), 4), "");
    }

    #[test]
    fn history_is_bounded_and_forgets_counters_that_went_away() {
        let mut history = History::default();
        for i in 0..HISTORY + 10 {
            let read = BTreeMap::from([("a".to_owned(), i as f64), ("b".to_owned(), 0.0)]);
            history.record(&read);
        }
        let a: Vec<f64> = history.of("a").collect();
        assert_eq!(a.len(), HISTORY);
        assert_eq!(a[HISTORY - 1], (HISTORY + 9) as f64);
        history.record(&BTreeMap::from([("a".to_owned(), 1.0)]));
        assert_eq!(history.of("b").len(), 0);
    }
}
