//! A CPU profile in pprof's format: `profile.proto` of github.com/google/pprof,
//! gzip-compressed, as Go's `net/http/pprof` serves it and as `go tool
//! pprof`, Pyroscope and Parca read it.
//!
//! The messages are written out here, with the workspace's prost, rather
//! than taken from pprof's `prost-codec` feature, which brings a second,
//! older prost and a code generator; only the fields this writer fills are
//! declared, with their numbers in `profile.proto`.

use std::collections::HashMap;
use std::io::Write as _;
use std::time::UNIX_EPOCH;

use flate2::Compression;
use flate2::write::GzEncoder;
use pprof::{Report, Symbol};
use prost::Message as _;

/// `perftools.profiles.Profile`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Profile {
    #[prost(message, repeated, tag = "1")]
    pub(super) sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub(super) sample: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    pub(super) location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub(super) function: Vec<Function>,
    /// Every string of the profile; the other messages hold indexes into
    /// it, and the first is always "".
    #[prost(string, repeated, tag = "6")]
    pub(super) string_table: Vec<String>,
    #[prost(int64, tag = "9")]
    pub(super) time_nanos: i64,
    #[prost(int64, tag = "10")]
    pub(super) duration_nanos: i64,
    #[prost(message, optional, tag = "11")]
    pub(super) period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub(super) period: i64,
}

/// `perftools.profiles.ValueType`: what a sample value measures.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub(super) struct ValueType {
    #[prost(int64, tag = "1")]
    pub(super) r#type: i64,
    #[prost(int64, tag = "2")]
    pub(super) unit: i64,
}

/// `perftools.profiles.Sample`: one stack, leaf first, and its values.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    pub(super) location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    pub(super) value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub(super) label: Vec<Label>,
}

/// `perftools.profiles.Label` with a string value.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub(super) struct Label {
    #[prost(int64, tag = "1")]
    pub(super) key: i64,
    #[prost(int64, tag = "2")]
    pub(super) str: i64,
}

/// `perftools.profiles.Location`: one frame; several lines when functions
/// were inlined into it, the caller last.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Location {
    #[prost(uint64, tag = "1")]
    pub(super) id: u64,
    #[prost(message, repeated, tag = "4")]
    pub(super) line: Vec<Line>,
}

/// `perftools.profiles.Line`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub(super) struct Line {
    #[prost(uint64, tag = "1")]
    pub(super) function_id: u64,
    #[prost(int64, tag = "2")]
    pub(super) line: i64,
}

/// `perftools.profiles.Function`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub(super) struct Function {
    #[prost(uint64, tag = "1")]
    pub(super) id: u64,
    #[prost(int64, tag = "2")]
    pub(super) name: i64,
    #[prost(int64, tag = "3")]
    pub(super) system_name: i64,
    #[prost(int64, tag = "4")]
    pub(super) filename: i64,
}

/// The report as gzip-compressed `profile.proto`.
pub(super) fn encode(report: &Report) -> Vec<u8> {
    gzip(&profile(report).encode_to_vec())
}

/// The report as a `Profile`, with Go's CPU profile sample types: a count
/// of samples and the CPU time they stand for.
pub(super) fn profile(report: &Report) -> Profile {
    let mut tables = Tables::default();
    let period = 1_000_000_000 / i64::from(report.timing.frequency.max(1));
    let cpu = ValueType {
        r#type: tables.string("cpu"),
        unit: tables.string("nanoseconds"),
    };
    let sample_type = vec![
        ValueType {
            r#type: tables.string("samples"),
            unit: tables.string("count"),
        },
        cpu,
    ];
    let thread = tables.string("thread");
    let mut sample = Vec::with_capacity(report.data.len());
    for (frames, &count) in &report.data {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        sample.push(Sample {
            location_id: frames
                .frames
                .iter()
                .filter_map(|frame| tables.location(frame))
                .collect(),
            value: vec![count, count.saturating_mul(period)],
            label: vec![Label {
                key: thread,
                str: tables.string(&frames.thread_name_or_id()),
            }],
        });
    }
    let nanos = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    Profile {
        sample_type,
        sample,
        location: tables.locations,
        function: tables.functions,
        string_table: tables.strings,
        time_nanos: report
            .timing
            .start_time
            .duration_since(UNIX_EPOCH)
            .map_or(0, nanos),
        duration_nanos: nanos(report.timing.duration),
        period_type: Some(cpu),
        period,
    }
}

/// The profile's tables, each entry stored once and found by its content.
struct Tables {
    strings: Vec<String>,
    string_ids: HashMap<String, i64>,
    functions: Vec<Function>,
    /// Name, system name and file of a function, as string indexes.
    function_ids: HashMap<(i64, i64, i64), u64>,
    locations: Vec<Location>,
    location_ids: HashMap<Vec<(u64, i64)>, u64>,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            strings: vec![String::new()],
            string_ids: HashMap::from([(String::new(), 0)]),
            functions: Vec::new(),
            function_ids: HashMap::new(),
            locations: Vec::new(),
            location_ids: HashMap::new(),
        }
    }
}

impl Tables {
    fn string(&mut self, s: &str) -> i64 {
        if let Some(&id) = self.string_ids.get(s) {
            return id;
        }
        let id = i64::try_from(self.strings.len()).unwrap_or(i64::MAX);
        self.strings.push(s.to_owned());
        self.string_ids.insert(s.to_owned(), id);
        id
    }

    fn function(&mut self, symbol: &Symbol) -> u64 {
        let key = (
            self.string(&symbol.name()),
            self.string(&symbol.sys_name()),
            self.string(&symbol.filename()),
        );
        if let Some(&id) = self.function_ids.get(&key) {
            return id;
        }
        // Ids start at 1: 0 means "none" in profile.proto.
        let id = self.functions.len() as u64 + 1;
        let (name, system_name, filename) = key;
        self.functions.push(Function {
            id,
            name,
            system_name,
            filename,
        });
        self.function_ids.insert(key, id);
        id
    }

    /// The location of one frame: its symbols are the functions inlined
    /// there, innermost first, as `Location.line` wants them. `None` for a
    /// frame that resolved to no symbol.
    fn location(&mut self, frame: &[Symbol]) -> Option<u64> {
        if frame.is_empty() {
            return None;
        }
        let lines: Vec<(u64, i64)> = frame
            .iter()
            .map(|symbol| (self.function(symbol), i64::from(symbol.lineno())))
            .collect();
        if let Some(&id) = self.location_ids.get(&lines) {
            return Some(id);
        }
        let id = self.locations.len() as u64 + 1;
        self.locations.push(Location {
            id,
            line: lines
                .iter()
                .map(|&(function_id, line)| Line { function_id, line })
                .collect(),
        });
        self.location_ids.insert(lines, id);
        Some(id)
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 2), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Read as _;
    use std::path::PathBuf;
    use std::time::{Duration, SystemTime};

    use pprof::{Frames, Report, Symbol};
    use prost::Message as _;

    use super::*;

    fn symbol(name: &str, line: u32) -> Symbol {
        Symbol {
            name: Some(name.as_bytes().to_vec()),
            addr: None,
            lineno: Some(line),
            filename: Some(PathBuf::from("src/main.rs")),
        }
    }

    fn frames(thread: &str, frames: Vec<Vec<Symbol>>) -> Frames {
        Frames {
            frames,
            thread_name: thread.to_owned(),
            thread_id: 7,
            sample_timestamp: SystemTime::UNIX_EPOCH,
        }
    }

    /// Two stacks of one thread that share their outer frames, and a
    /// frame with an inlined function.
    fn report() -> Report {
        let mut data = HashMap::new();
        data.insert(
            frames(
                "worker",
                vec![
                    vec![symbol("app::hash", 10)],
                    vec![symbol("app::handle", 20)],
                    vec![symbol("app::main", 30)],
                ],
            ),
            3,
        );
        data.insert(
            frames(
                "worker",
                vec![
                    vec![symbol("app::parse::inlined", 40), symbol("app::parse", 41)],
                    vec![],
                    vec![symbol("app::handle", 21)],
                    vec![symbol("app::main", 30)],
                ],
            ),
            2,
        );
        // pprof does not name the timing's type: built through the field.
        let mut report = Report {
            data,
            timing: Default::default(),
        };
        report.timing.frequency = 100;
        report.timing.start_time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        report.timing.duration = Duration::from_secs(5);
        report
    }

    fn decode(bytes: &[u8]) -> Profile {
        assert_eq!(&bytes[..2], [0x1f, 0x8b], "gzip magic");
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut raw)
            .expect("valid gzip");
        Profile::decode(raw.as_slice()).expect("valid profile.proto")
    }

    #[test]
    fn stacks_become_samples_over_shared_tables() {
        let profile = decode(&encode(&report()));
        let s = |i: i64| profile.string_table[usize::try_from(i).expect("index")].as_str();
        assert_eq!(profile.string_table[0], "", "the empty string comes first");
        let types: Vec<(&str, &str)> = profile
            .sample_type
            .iter()
            .map(|t| (s(t.r#type), s(t.unit)))
            .collect();
        assert_eq!(types, [("samples", "count"), ("cpu", "nanoseconds")]);
        assert_eq!(profile.period, 10_000_000, "100 Hz");
        assert_eq!(profile.duration_nanos, 5_000_000_000);
        assert_eq!(profile.time_nanos, 1_700_000_000_000_000_000);

        // main once, handle at two lines, hash, parse and its inlined callee.
        assert_eq!(profile.function.len(), 5);
        assert_eq!(profile.location.len(), 5, "one per distinct frame");
        let function = |id: u64| {
            let f = profile.function.iter().find(|f| f.id == id).expect("known");
            s(f.name)
        };
        let location = |id: u64| {
            let l = profile.location.iter().find(|l| l.id == id).expect("known");
            l.line
                .iter()
                .map(|line| (function(line.function_id), line.line))
                .collect::<Vec<_>>()
        };
        /// A sample read back: its frames (leaf first, each as its
        /// functions and lines), its values and its thread.
        type Stack<'a> = (Vec<Vec<(&'a str, i64)>>, Vec<i64>, &'a str);
        let mut stacks: Vec<Stack<'_>> = profile
            .sample
            .iter()
            .map(|sample| {
                let stack = sample.location_id.iter().map(|&id| location(id)).collect();
                assert_eq!(s(sample.label[0].key), "thread");
                (stack, sample.value.clone(), s(sample.label[0].str))
            })
            .collect();
        stacks.sort();
        assert_eq!(
            stacks,
            [
                (
                    vec![
                        vec![("app::hash", 10)],
                        vec![("app::handle", 20)],
                        vec![("app::main", 30)],
                    ],
                    vec![3, 30_000_000],
                    "worker"
                ),
                (
                    vec![
                        vec![("app::parse::inlined", 40), ("app::parse", 41)],
                        vec![("app::handle", 21)],
                        vec![("app::main", 30)],
                    ],
                    vec![2, 20_000_000],
                    "worker"
                ),
            ],
            "leaf first, the unresolved frame left out"
        );
    }

    #[test]
    fn an_empty_report_is_a_valid_empty_profile() {
        let report = Report {
            data: HashMap::new(),
            timing: Default::default(),
        };
        let profile = decode(&encode(&report));
        assert!(profile.sample.is_empty() && profile.location.is_empty());
        assert_eq!(profile.sample_type.len(), 2);
    }
}
