//! The terminal's share of the log. While a task owns the terminal (a
//! full-screen UI), a line written to stderr would land in the middle of
//! its screen; a [`ConsoleCapture`] holds such lines in a ring instead,
//! where the UI can show them, and gives the terminal back the recent
//! ones when it ends. A log file keeps its lines and the ring gets a copy.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracing_subscriber::fmt::MakeWriter;

/// How many lines the ring keeps.
const KEPT: usize = 1000;

/// How many captures are open: lines are held while one is.
static OPEN: AtomicUsize = AtomicUsize::new(0);

static RING: Mutex<Ring> = Mutex::new(Ring {
    lines: VecDeque::new(),
    dropped: 0,
});

#[derive(Debug)]
struct Ring {
    lines: VecDeque<String>,
    /// Lines pushed out of the ring since the capture began.
    dropped: u64,
}

fn ring() -> std::sync::MutexGuard<'static, Ring> {
    RING.lock().unwrap_or_else(|e| e.into_inner())
}

fn capturing() -> bool {
    OPEN.load(Ordering::Acquire) > 0
}

/// Keeps the log off the terminal while it lives: what the service would
/// write to stderr goes to a ring of the last 1,000 lines instead (and a
/// `--logfile` keeps its lines and copies them to the ring), so nothing
/// scribbles over a full-screen UI. When the last capture ends, the lines
/// it held are written to stderr, so an error logged while the UI was up
/// is still seen once the terminal is back.
///
/// ```
/// use sparts_core::logging::ConsoleCapture;
///
/// let capture = ConsoleCapture::start();
/// // ... the UI owns the terminal; it can show capture.recent_lines(20)
/// assert!(capture.recent_lines(20).len() <= 20);
/// drop(capture); // held lines go to stderr
/// ```
#[derive(Debug)]
#[must_use = "the capture ends when dropped"]
pub struct ConsoleCapture {
    _private: (),
}

impl ConsoleCapture {
    /// Starts holding the log's terminal lines.
    pub fn start() -> Self {
        if OPEN.fetch_add(1, Ordering::AcqRel) == 0 {
            let mut ring = ring();
            ring.lines.clear();
            ring.dropped = 0;
        }
        Self { _private: () }
    }

    /// The last `n` lines logged while capturing, oldest first, without
    /// their colours.
    pub fn recent_lines(&self, n: usize) -> Vec<String> {
        let ring = ring();
        let skip = ring.lines.len().saturating_sub(n);
        ring.lines.iter().skip(skip).cloned().collect()
    }
}

impl Drop for ConsoleCapture {
    fn drop(&mut self) {
        if OPEN.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let mut ring = ring();
        let mut stderr = std::io::stderr().lock();
        if ring.dropped > 0 {
            let _ = writeln!(
                stderr,
                "({} earlier log lines were held while the terminal was in use and are not shown)",
                ring.dropped
            );
        }
        for line in ring.lines.drain(..) {
            let _ = writeln!(stderr, "{line}");
        }
    }
}

/// Adds what one write holds to the ring, a line at a time.
fn keep(bytes: &[u8]) {
    let text = strip_ansi(&String::from_utf8_lossy(bytes));
    let mut ring = ring();
    for line in text.lines().filter(|line| !line.is_empty()) {
        if ring.lines.len() == KEPT {
            ring.lines.pop_front();
            ring.dropped += 1;
        }
        ring.lines.push_back(line.to_owned());
    }
}

/// `text` without its terminal escape sequences (colours, bold).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        // CSI: ESC '[' parameters, ended by a byte in '@'..='~'.
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

/// The log's writer for stderr: to the terminal, or to the ring while a
/// capture is open.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Console;

/// The log's writer for a file: to it, and a copy to the ring while a
/// capture is open.
#[derive(Debug, Clone)]
pub(crate) struct Teed<W>(pub(crate) W);

/// One log line's writer of [`Console`] or [`Teed`].
#[derive(Debug)]
pub(crate) enum LineWriter<W> {
    /// Not capturing: straight through.
    Through(W),
    /// Capturing: collected, then kept (and written through, if `Some`).
    Held(Vec<u8>, Option<W>),
}

impl<W: Write> Write for LineWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Through(w) => w.write(buf),
            Self::Held(held, through) => {
                if let Some(w) = through {
                    w.write_all(buf)?;
                }
                held.extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Through(w) | Self::Held(_, Some(w)) => w.flush(),
            Self::Held(_, None) => Ok(()),
        }
    }
}

impl<W> Drop for LineWriter<W> {
    fn drop(&mut self) {
        if let Self::Held(held, _) = self {
            keep(held);
        }
    }
}

impl<'a> MakeWriter<'a> for Console {
    type Writer = LineWriter<std::io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        if capturing() {
            LineWriter::Held(Vec::new(), None)
        } else {
            LineWriter::Through(std::io::stderr())
        }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Teed<M> {
    type Writer = LineWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        let through = self.0.make_writer();
        if capturing() {
            LineWriter::Held(Vec::new(), Some(through))
        } else {
            LineWriter::Through(through)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_left_out() {
        assert_eq!(
            strip_ansi("\x1b[2m2026\x1b[0m \x1b[32m INFO\x1b[0m hello"),
            "2026  INFO hello"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }

    /// One test holds the process-wide ring, so no other test sees it.
    #[test]
    fn lines_are_held_while_capturing_and_the_ring_is_bounded() {
        let capture = ConsoleCapture::start();
        let mut file = Vec::new();
        {
            let mut w = Console.make_writer();
            w.write_all(b"\x1b[1mfirst\x1b[0m\nsecond\n").expect("held");
        }
        {
            let mut w = LineWriter::Held(Vec::new(), Some(&mut file));
            w.write_all(b"to the file too\n").expect("teed");
        }
        assert_eq!(file, b"to the file too\n");
        assert_eq!(
            capture.recent_lines(2),
            ["second".to_owned(), "to the file too".to_owned()]
        );
        for i in 0..KEPT + 5 {
            keep(format!("line {i}\n").as_bytes());
        }
        let lines = capture.recent_lines(usize::MAX);
        assert_eq!(lines.len(), KEPT);
        assert_eq!(lines[KEPT - 1], format!("line {}", KEPT + 4));
        assert_eq!(ring().dropped, 8);
        // Given back to stderr: one line, not a thousand, in the test's output.
        ring().lines.truncate(1);
        drop(capture);
        assert!(ring().lines.is_empty(), "given back to stderr");
        assert!(matches!(Console.make_writer(), LineWriter::Through(_)));
    }
}
