//! A child's output, cut into lines for the callbacks.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::counters::Counter;

/// Receives one line of a command's output, without its line ending.
pub(super) type LineCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// A line longer than this is delivered in pieces of this size: a child that
/// never writes a newline cannot make the task's memory grow without bound.
const MAX_LINE: usize = 64 * 1024;

/// Calls `on_line` for each line until the end of the stream. Invalid UTF-8
/// is replaced (U+FFFD), never fatal; a final line without a newline is
/// still a line.
pub(super) async fn pump<R: AsyncRead + Unpin>(
    reader: Option<R>,
    on_line: &LineCallback,
    counter: &Counter,
) {
    let Some(reader) = reader else {
        return;
    };
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    let emit = |line: &mut Vec<u8>| {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        counter.increment();
        on_line(&String::from_utf8_lossy(line));
        line.clear();
    };
    loop {
        let available = match reader.fill_buf().await {
            Ok(available) => available,
            Err(e) => {
                tracing::debug!("reading a command's output failed: {e}");
                break;
            }
        };
        if available.is_empty() {
            break;
        }
        let room = MAX_LINE - line.len();
        match available.iter().take(room).position(|&b| b == b'\n') {
            Some(end) => {
                line.extend_from_slice(&available[..end]);
                reader.consume(end + 1);
                emit(&mut line);
            }
            None => {
                let n = available.len().min(room);
                line.extend_from_slice(&available[..n]);
                reader.consume(n);
                if line.len() == MAX_LINE {
                    emit(&mut line);
                }
            }
        }
    }
    if !line.is_empty() {
        emit(&mut line);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    async fn lines_of(input: &[u8]) -> Vec<String> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let callback: LineCallback = Arc::new(move |line: &str| {
            sink.lock().expect("lines").push(line.to_owned());
        });
        let counter = Counter::new();
        pump(Some(input), &callback, &counter).await;
        let lines = seen.lock().expect("lines").clone();
        assert_eq!(counter.value(), lines.len() as u64);
        lines
    }

    #[tokio::test]
    async fn lines_lose_their_endings_and_the_last_one_counts() {
        assert_eq!(
            lines_of(b"one\r\ntwo\n\nthree").await,
            ["one", "two", "", "three"]
        );
        assert!(lines_of(b"").await.is_empty());
    }

    #[tokio::test]
    async fn invalid_utf8_is_replaced_not_fatal() {
        assert_eq!(lines_of(b"caf\xe9\nnext\n").await, ["caf\u{fffd}", "next"]);
    }

    #[tokio::test]
    async fn endless_lines_come_in_pieces() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.push(b'\n');
        let lines = lines_of(&input).await;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines[1].len(), 10);
    }
}
