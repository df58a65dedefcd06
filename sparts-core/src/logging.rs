//! Process-wide logging: tracing-subscriber to stderr or an appended file
//! that SIGHUP reopens, with a level that can change at run time.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{FilterExt, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry, reload};

use crate::error::{Error, Result};

/// A layer beside the log output (OpenTelemetry's), with a filter of its
/// own: `--level` applies to the log output only.
pub(crate) type ExtraLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// The subscriber under the log output: the registry and the extra layer.
type Base = Layered<Option<ExtraLayer>, Registry>;

/// Changes the installed logging while the service runs.
pub(crate) struct LogControl {
    level: reload::Handle<LevelFilter, Base>,
    file: Option<LogFile>,
}

impl std::fmt::Debug for LogControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogControl")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl LogControl {
    /// A function that applies a new level, for a background watcher.
    pub(crate) fn level_setter(&self) -> impl Fn(tracing::Level) + Send + Sync + 'static {
        let handle = self.level.clone();
        move |level| {
            let _ = handle.modify(|f| *f = LevelFilter::from_level(level));
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
    path: PathBuf,
    file: Arc<Mutex<File>>,
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
        Ok(Self {
            path: path.to_owned(),
            file: Arc::new(Mutex::new(open_append(path)?)),
        })
    }

    fn reopen(&self) -> Result<()> {
        let fresh = open_append(&self.path)?;
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }
}

/// One log line's writer: holds the file for the line so lines never mix.
#[derive(Debug)]
pub(crate) struct LogFileWriter<'a>(std::sync::MutexGuard<'a, File>);

impl Write for LogFileWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<'a> MakeWriter<'a> for LogFile {
    type Writer = LogFileWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogFileWriter(self.file.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Installs the process's logger, and `extra` beside it. Returns `None`
/// when the process already has one (an embedding program's, or an earlier
/// service's in tests).
pub(crate) fn install(
    level: tracing::Level,
    logfile: Option<&Path>,
    extra: Option<ExtraLayer>,
) -> Result<Option<LogControl>> {
    let (filter, level_handle) = reload::Layer::new(LevelFilter::from_level(level));
    // Request spans are OpenTelemetry's; log lines do not carry them. A
    // static filter, so `--level` stays the global maximum level and
    // callsites above it cost one comparison.
    let filter = filter.and(
        Targets::new()
            .with_default(LevelFilter::TRACE)
            .with_target(crate::server::REQUEST_SPAN_TARGET, LevelFilter::OFF),
    );
    let registry = tracing_subscriber::registry().with(extra);
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    let (installed, file) = match logfile {
        Some(path) => {
            let file = LogFile::open(path)?;
            let layer = fmt.with_ansi(false).with_writer(file.clone());
            (
                registry.with(layer.with_filter(filter)).try_init().is_ok(),
                Some(file),
            )
        }
        None => {
            let layer = fmt
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr);
            (
                registry.with(layer.with_filter(filter)).try_init().is_ok(),
                None,
            )
        }
    };
    Ok(installed.then_some(LogControl {
        level: level_handle,
        file,
    }))
}
