//! Process-wide logging: tracing-subscriber to stderr or an appended file
//! that SIGHUP reopens, as text or JSON, under `--level`'s filter
//! directives, which can change at run time; plus the layers the service
//! was given (OpenTelemetry, Sentry, a second sink).
//!
//! Every layer has its own copy of the filter (a per-layer filter), so a
//! layer that filters for itself sees what `--level` hides from the others:
//! OpenTelemetry's (the `otel` feature) is one, added as
//! [`VService::with_filtered_log_layer`](crate::VService::with_filtered_log_layer)
//! adds the user's, so `--level warn` quiets the log and leaves traces on.
//! The log output leaves out the request spans made for it
//! ([`RequestSpan`](crate::server::RequestSpan)).
//!
//! A task that takes the terminal over (a full-screen UI) keeps the log off
//! it with a [`ConsoleCapture`].

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{EnvFilter, FilterExt, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, reload};

use crate::error::{Error, Result};
use crate::options::{LogFilter, LogFormat};

mod console;
mod json;

pub use console::ConsoleCapture;
use console::{Console, Teed};
use json::JsonLines;

/// The target of request spans ([`RequestSpan`](crate::server::RequestSpan)):
/// the log output leaves them out, the OpenTelemetry layer takes them.
pub(crate) const REQUEST_SPAN_TARGET: &str = "sparts::request";

/// Applies new `--level` directives to the installed logger.
pub(crate) type LevelSetter = Box<dyn Fn(&LogFilter) + Send + Sync>;

/// A layer as the service keeps it.
pub(crate) type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync + 'static>;

/// A layer given to [`VService::with_log_layer`](crate::VService::with_log_layer)
/// or its unfiltered sibling.
pub(crate) struct ExtraLayer {
    pub(crate) layer: BoxedLayer,
    /// Whether `--level` filters what it sees.
    pub(crate) under_level: bool,
}

impl ExtraLayer {
    /// A layer under `--level`'s directives.
    pub(crate) fn under_level(layer: BoxedLayer) -> Self {
        Self {
            layer,
            under_level: true,
        }
    }

    /// A layer that filters for itself.
    pub(crate) fn filtered(layer: BoxedLayer) -> Self {
        Self {
            layer,
            under_level: false,
        }
    }
}

impl std::fmt::Debug for ExtraLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtraLayer")
            .field("under_level", &self.under_level)
            .finish_non_exhaustive()
    }
}

/// Changes the installed logging while the service runs.
pub(crate) struct LogControl {
    /// One per layer under `--level`, all reloaded together.
    filters: Vec<reload::Handle<EnvFilter, Registry>>,
    file: Option<LogFile>,
}

impl std::fmt::Debug for LogControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogControl")
            .field("filters", &self.filters.len())
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl LogControl {
    /// A function that applies new `--level` directives to every layer
    /// under them, for the option store.
    pub(crate) fn level_setter(&self) -> impl Fn(&LogFilter) + Send + Sync + 'static {
        let handles = self.filters.clone();
        move |filter| {
            for handle in &handles {
                // Fails only once the subscriber is gone: nothing to filter.
                let _ = handle.reload(filter.env_filter());
            }
        }
    }

    /// Reopens the log file, so a rotated file is let go.
    pub(crate) fn reopen(&self) -> Result<()> {
        match &self.file {
            Some(file) => file.reopen(),
            None => Ok(()),
        }
    }
}

/// A log file shared by every writer, reopenable in place.
#[derive(Debug, Clone)]
struct LogFile {
    sink: Arc<Mutex<Sink>>,
}

/// The open file, and how many lines could not be written to it since the
/// last that could.
#[derive(Debug)]
pub(crate) struct Sink {
    file: File,
    path: PathBuf,
    lost: u64,
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| Error::File {
            path: path.to_owned(),
            source,
        })
}

impl LogFile {
    fn open(path: &Path) -> Result<Self> {
        let sink = Sink {
            file: open_append(path)?,
            path: path.to_owned(),
            lost: 0,
        };
        Ok(Self {
            sink: Arc::new(Mutex::new(sink)),
        })
    }

    fn reopen(&self) -> Result<()> {
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        sink.file = open_append(&sink.path)?;
        Ok(())
    }
}

/// One log line's writer: holds the file for the line so lines never mix.
///
/// A line the file refuses (a full disk, a file system gone read-only) is
/// lost rather than retried, and the service goes on: stderr is told once
/// when the first line is lost, and once when the file takes lines again,
/// where a line in the file itself says how many were lost.
#[derive(Debug)]
pub(crate) struct LogFileWriter<'a>(std::sync::MutexGuard<'a, Sink>);

impl Write for LogFileWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let sink = &mut *self.0;
        if sink.lost > 0 {
            let lost = sink.lost;
            let notice = format!(
                "{lost} log lines before this one were lost: the log file could not be written\n"
            );
            if sink.file.write_all(notice.as_bytes()).is_ok() {
                sink.lost = 0;
                eprintln!(
                    "the log file {} is written again; {lost} lines were lost",
                    sink.path.display()
                );
            }
        }
        match sink.file.write(buf) {
            Ok(n) => Ok(n),
            Err(e) => {
                if sink.lost == 0 {
                    eprintln!(
                        "cannot write to the log file {}: {e}; log lines are lost until it can be written again",
                        sink.path.display()
                    );
                }
                sink.lost += 1;
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // A flush the file refuses loses nothing more than its write did.
        let _ = self.0.file.flush();
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogFile {
    type Writer = LogFileWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogFileWriter(self.sink.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// What the command line says about logging.
#[derive(Debug)]
pub(crate) struct LogConfig<'a> {
    pub(crate) filter: &'a LogFilter,
    pub(crate) format: LogFormat,
    pub(crate) logfile: Option<&'a Path>,
}

/// The service's own output: lines in `format` to `writer`.
pub(crate) fn output_layer<W>(format: LogFormat, writer: W, ansi: bool) -> BoxedLayer
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        // The task and service are in the span list; the target (a module
        // path) would only lengthen the line.
        LogFormat::Text => fmt.with_target(false).with_ansi(ansi).boxed(),
        LogFormat::Json => fmt
            .fmt_fields(JsonFields::new())
            .event_format(JsonLines)
            .with_ansi(false)
            .boxed(),
    }
}

/// The layers of the process's subscriber: the service's output and the
/// extra layers, those under `--level` each with its own reloadable copy
/// of the filter, whose handles come back in the [`LogControl`].
///
/// The output also leaves out request spans, with a static filter: a
/// callsite it refuses costs nothing after its first call, and `--level`
/// stays the only say in the process's maximum level (a filter function
/// would have no level hint and raise it to TRACE).
pub(crate) fn layers(
    filter: &LogFilter,
    output: BoxedLayer,
    extra: Vec<ExtraLayer>,
) -> (Vec<BoxedLayer>, Vec<reload::Handle<EnvFilter, Registry>>) {
    let mut handles = Vec::new();
    let mut reloadable = || {
        let (filter, handle) = reload::Layer::new(filter.env_filter());
        handles.push(handle);
        filter
    };
    let no_requests = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target(REQUEST_SPAN_TARGET, LevelFilter::OFF);
    let mut layers = vec![output.with_filter(reloadable().and(no_requests)).boxed()];
    for extra in extra {
        layers.push(if extra.under_level {
            extra.layer.with_filter(reloadable()).boxed()
        } else {
            extra.layer
        });
    }
    (layers, handles)
}

/// Installs the process's logger. Returns `None` when the process already
/// has one (an embedding program's, or an earlier service's in tests).
pub(crate) fn install(
    config: &LogConfig<'_>,
    extra: Vec<ExtraLayer>,
) -> Result<Option<LogControl>> {
    let (output, file) = match config.logfile {
        Some(path) => {
            let file = LogFile::open(path)?;
            (
                output_layer(config.format, Teed(file.clone()), false),
                Some(file),
            )
        }
        None => {
            let ansi = config.format == LogFormat::Text && std::io::stderr().is_terminal();
            (output_layer(config.format, Console, ansi), None)
        }
    };
    let (layers, filters) = layers(config.filter, output, extra);
    let installed = tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .is_ok();
    Ok(installed.then_some(LogControl { filters, file }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer into memory, to read what the layers wrote.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("buffer").clone()).expect("utf-8 logs")
        }
    }

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    fn filter(s: &str) -> LogFilter {
        s.parse().expect("valid directives")
    }

    #[test]
    fn json_lines_carry_target_level_fields_and_spans() {
        let out = Buffer::default();
        let output = output_layer(LogFormat::Json, out.clone(), false);
        let (layers, _) = layers(&filter("info"), output, Vec::new());
        let subscriber = tracing_subscriber::registry().with(layers);
        tracing::subscriber::with_default(subscriber, || {
            let _service = tracing::info_span!("service", name = "Logged").entered();
            let _task = tracing::info_span!("task", name = "Worker").entered();
            tracing::info!(target: "sparts::access", status = 200, route = "/kv/{key}", "request");
            tracing::debug!("hidden at info");
        });
        let text = out.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON line");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["target"], "sparts::access");
        assert_eq!(line["message"], "request");
        assert_eq!(line["status"], 200);
        assert_eq!(line["route"], "/kv/{key}");
        assert_eq!(line["spans"]["task"]["name"], "Worker");
        assert_eq!(line["spans"]["service"]["name"], "Logged");
        assert!(line["timestamp"].is_string(), "{line}");
        let at = |key: &str| lines[0].find(&format!("\"{key}\":")).expect(key);
        let order = [
            "timestamp",
            "level",
            "target",
            "message",
            "status",
            "route",
            "spans",
        ]
        .map(at);
        assert!(order.is_sorted(), "keys in the order written: {}", lines[0]);
    }

    #[test]
    fn the_output_leaves_request_spans_out_and_keeps_the_level_hint() {
        let out = Buffer::default();
        let own = Buffer::default();
        let extra = vec![ExtraLayer::filtered(
            output_layer(LogFormat::Text, own.clone(), false)
                .with_filter(LevelFilter::INFO)
                .boxed(),
        )];
        let output = output_layer(LogFormat::Text, out.clone(), false);
        let (layers, _) = layers(&filter("info"), output, extra);
        let subscriber = tracing_subscriber::registry().with(layers);
        // A filter function would make it TRACE: every callsite checked.
        assert_eq!(
            tracing::Subscriber::max_level_hint(&subscriber),
            Some(LevelFilter::INFO)
        );
        tracing::subscriber::with_default(subscriber, || {
            let _task = tracing::info_span!("task", name = "HttpTask").entered();
            let _request = tracing::info_span!(
                target: REQUEST_SPAN_TARGET,
                "request",
                route = "/kv/{key}"
            )
            .entered();
            tracing::info!("inside a request");
        });
        let text = out.text();
        assert!(text.contains("inside a request"), "{text}");
        assert!(text.contains("task{name=\"HttpTask\"}"), "{text}");
        assert!(!text.contains("request{"), "{text}");
        let text = own.text();
        assert!(text.contains("request{route="), "its own filter: {text}");
    }

    #[test]
    fn extra_layers_share_the_level_or_filter_for_themselves() {
        let out = Buffer::default();
        let shared = Buffer::default();
        let own = Buffer::default();
        let extra = vec![
            ExtraLayer::under_level(output_layer(LogFormat::Text, shared.clone(), false)),
            ExtraLayer::filtered(
                output_layer(LogFormat::Text, own.clone(), false)
                    .with_filter(LevelFilter::DEBUG)
                    .boxed(),
            ),
        ];
        let output = output_layer(LogFormat::Text, out.clone(), false);
        let (layers, handles) = layers(&filter("warn,chatty=debug"), output, extra);
        assert_eq!(handles.len(), 2, "the output and the shared layer");
        let control = LogControl {
            filters: handles,
            file: None,
        };
        let subscriber = tracing_subscriber::registry().with(layers);
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "chatty", "chatty at debug");
            tracing::info!(target: "quiet", "quiet at info");
            control.level_setter()(&filter("info"));
            tracing::info!(target: "quiet", "quiet after the change");
            tracing::debug!(target: "chatty", "chatty after the change");
        });
        for sink in [&out, &shared] {
            let text = sink.text();
            assert!(text.contains("chatty at debug"), "{text}");
            assert!(!text.contains("quiet at info"), "{text}");
            assert!(text.contains("quiet after the change"), "{text}");
            assert!(!text.contains("chatty after the change"), "{text}");
        }
        let text = own.text();
        for line in [
            "chatty at debug",
            "quiet at info",
            "quiet after the change",
            "chatty after the change",
        ] {
            assert!(text.contains(line), "its own filter: {text}");
        }
    }
}
