//! The Prometheus text exposition format (version 0.0.4).

use std::collections::HashSet;
use std::fmt::Write as _;

use super::registry::CountersSnapshot;

impl CountersSnapshot {
    /// The values in the Prometheus text exposition format: one
    /// `# TYPE <name> counter|gauge` line, then one `<name> <value>` line,
    /// per value.
    ///
    /// Names are sanitized to `[a-zA-Z_:][a-zA-Z0-9_:]*`: every other
    /// character becomes `_` and a leading digit gets a `_` prefix, so
    /// `HttpTask.latency.avg.60` is exported as `HttpTask_latency_avg_60`.
    /// When two names sanitize to the same one, the first (by original name)
    /// is kept and the others are left out, since a repeated metric makes the
    /// whole page invalid. Values are written as `NaN`, `+Inf`, `-Inf`,
    /// integers without a fractional part, or the shortest decimal that
    /// reads back as the same `f64`.
    #[must_use]
    pub fn to_prometheus(&self) -> String {
        let mut out = String::with_capacity(self.len() * 64);
        let mut seen = HashSet::with_capacity(self.len());
        for value in self {
            let name = sanitize_name(&value.name);
            if !seen.insert(name.clone()) {
                tracing::debug!(
                    counter = %value.name,
                    prometheus_name = %name,
                    "left out of Prometheus output: its sanitized name is taken"
                );
                continue;
            }
            // Writing to a String cannot fail.
            let _ = writeln!(out, "# TYPE {name} {}", value.kind.as_str());
            let _ = writeln!(out, "{name} {}", format_value(value.value));
        }
        out
    }
}

/// `name` with every character outside `[a-zA-Z0-9_:]` replaced by `_`, and a
/// `_` in front when it would start with a digit (or be empty).
pub(crate) fn sanitize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.chars().next().is_none_or(|c| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        }
    }));
    out
}

/// A sample value as Prometheus (Go's `ParseFloat`) reads it.
pub(crate) fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        // Display prints integral floats without ".0"; below 1e15 it never
        // switches to long digit strings.
        format!("{value}")
    } else {
        // Debug is the shortest round-trip form and uses an exponent for very
        // large or small magnitudes (Display would print every digit).
        format!("{value:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::{CounterKind, CounterValue};

    /// A minimal parser of the text format: every line is a `# TYPE` line or
    /// a `name value` sample, every sample is preceded by its own TYPE line,
    /// names are valid and unique. Returns name to value.
    fn check_exposition(text: &str) -> Vec<(String, f64)> {
        let name_re = regex::Regex::new("^[a-zA-Z_:][a-zA-Z0-9_:]*$").expect("valid regex");
        let mut typed: Option<String> = None;
        let mut seen = HashSet::new();
        let mut samples = Vec::new();
        assert!(text.is_empty() || text.ends_with('\n'), "no final newline");
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let parts: Vec<&str> = rest.split(' ').collect();
                assert_eq!(parts.len(), 2, "bad TYPE line {line:?}");
                assert!(name_re.is_match(parts[0]), "bad name in {line:?}");
                assert!(
                    matches!(parts[1], "counter" | "gauge"),
                    "bad type in {line:?}"
                );
                assert!(seen.insert(parts[0].to_owned()), "duplicate {line:?}");
                typed = Some(parts[0].to_owned());
                continue;
            }
            let parts: Vec<&str> = line.split(' ').collect();
            assert_eq!(parts.len(), 2, "bad sample line {line:?}");
            assert!(name_re.is_match(parts[0]), "bad name in {line:?}");
            assert_eq!(
                typed.take().as_deref(),
                Some(parts[0]),
                "no TYPE line before {line:?}"
            );
            let value = match parts[1] {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|e| panic!("bad value in {line:?}: {e}")),
            };
            samples.push((parts[0].to_owned(), value));
        }
        assert!(typed.is_none(), "TYPE line without a sample");
        samples
    }

    fn value(name: &str, value: f64, kind: CounterKind) -> CounterValue {
        CounterValue {
            name: name.to_owned(),
            value,
            kind,
        }
    }

    #[test]
    fn sanitizes_names() {
        assert_eq!(
            sanitize_name("HttpTask.latency.avg.60"),
            "HttpTask_latency_avg_60"
        );
        assert_eq!(sanitize_name("a:b_c-d é"), "a:b_c_d__");
        assert_eq!(sanitize_name("9lives"), "_9lives");
        assert_eq!(sanitize_name(""), "_");
    }

    #[test]
    fn formats_values() {
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(-42.0), "-42");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(1e300), "1e300");
        assert_eq!(format_value(1e-9), "1e-9");
        assert_eq!(format_value(123_456_789_012.0), "123456789012");
    }

    #[test]
    fn output_parses() {
        let snapshot = CountersSnapshot::new(vec![
            value("requests", 10.0, CounterKind::Counter),
            value("HttpTask.latency.avg.60", 1.5, CounterKind::Gauge),
            value("weird", f64::NAN, CounterKind::Gauge),
            value("big", f64::INFINITY, CounterKind::Gauge),
            value("1st", -1.0, CounterKind::Gauge),
        ]);
        let text = snapshot.to_prometheus();
        let samples = check_exposition(&text);
        assert_eq!(samples.len(), 5);
        assert!(text.contains("# TYPE requests counter\nrequests 10\n"));
        assert!(
            text.contains("# TYPE HttpTask_latency_avg_60 gauge\nHttpTask_latency_avg_60 1.5\n")
        );
        assert!(text.contains("_1st -1\n"));
        assert!(text.contains("weird NaN\n"));
        assert!(text.contains("big +Inf\n"));
    }

    #[test]
    fn names_that_collide_keep_the_first() {
        let snapshot = CountersSnapshot::new(vec![
            value("a_b", 2.0, CounterKind::Gauge),
            value("a.b", 1.0, CounterKind::Counter),
            value("a-b", 3.0, CounterKind::Gauge),
        ]);
        let samples = check_exposition(&snapshot.to_prometheus());
        // Sorted by original name, "a-b" < "a.b" < "a_b": "a-b" wins.
        assert_eq!(samples, [("a_b".to_owned(), 3.0)]);
    }

    #[test]
    fn empty_snapshot_is_an_empty_page() {
        assert_eq!(CountersSnapshot::default().to_prometheus(), "");
    }
}
