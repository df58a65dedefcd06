//! The loop of a UI: draw, then wait for a key, a refresh or the stop.
//! Generic over the backend and the event source, so that tests drive it
//! with ratatui's `TestBackend` and a channel of keys.

use std::future::Future;
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::time::MissedTickBehavior;

use crate::app::{Flow, TuiApp, is_interrupt};
use crate::error::{Error, Result};
use crate::terminal::TerminalSession;

/// How a UI's loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The user closed it.
    Closed,
    /// It was told to stop (the service is stopping, a signal).
    Stopped,
}

/// Takes the terminal over, runs `app` on it with the keyboard's events
/// until the user closes it or `stop` completes, and gives the terminal
/// back whatever the outcome.
pub(crate) async fn run_full_screen<A>(
    app: &mut A,
    refresh: Duration,
    stop: impl Future<Output = ()>,
) -> Result<Ended>
where
    A: TuiApp + ?Sized,
{
    let mut session = TerminalSession::enter()?;
    drive(
        app,
        &mut session.terminal,
        EventStream::new(),
        refresh,
        stop,
    )
    .await
}

/// Runs `app` on `terminal` until the user closes it or `stop` completes.
pub(crate) async fn drive<A, B, E>(
    app: &mut A,
    terminal: &mut Terminal<B>,
    mut events: E,
    refresh: Duration,
    stop: impl Future<Output = ()>,
) -> Result<Ended>
where
    A: TuiApp + ?Sized,
    B: Backend,
    B::Error: Send + Sync + 'static,
    E: Stream<Item = std::io::Result<Event>> + Unpin,
{
    let mut ticks = tokio::time::interval(refresh);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(stop);
    let mut draw = true;
    loop {
        if draw {
            terminal
                .draw(|frame| app.draw(frame))
                .map_err(|e| Error::Terminal(std::io::Error::other(e)))?;
        }
        draw = true;
        tokio::select! {
            biased;
            () = &mut stop => return Ok(Ended::Stopped),
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    if is_interrupt(&key) || app.on_key(key) == Flow::Close {
                        return Ok(Ended::Closed);
                    }
                }
                // A resize or a mouse event: drawn again above.
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(Error::Terminal(e)),
                None => {
                    return Err(Error::Terminal(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the terminal's input ended",
                    )));
                }
            },
            _ = ticks.tick() => draw = app.on_tick(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;
    use ratatui::widgets::Paragraph;
    use tokio::sync::mpsc;
    use tokio_stream::wrappers::ReceiverStream;

    use super::*;

    /// Counts its ticks and the keys it saw.
    #[derive(Default)]
    struct Counting {
        ticks: u32,
        keys: String,
    }

    impl TuiApp for Counting {
        fn draw(&mut self, frame: &mut ratatui::Frame<'_>) {
            let text = format!("ticks {} keys {}", self.ticks, self.keys);
            frame.render_widget(Paragraph::new(text), frame.area());
        }

        fn on_key(&mut self, key: KeyEvent) -> Flow {
            if let KeyCode::Char(c) = key.code {
                self.keys.push(c);
            }
            crate::app::TuiApp::on_key(&mut Closing, key)
        }

        fn on_tick(&mut self) -> bool {
            self.ticks += 1;
            // Drawn at every other tick only.
            self.ticks % 2 == 1
        }
    }

    /// The default key handling.
    struct Closing;

    impl TuiApp for Closing {
        fn draw(&mut self, _: &mut ratatui::Frame<'_>) {}
    }

    fn key(code: KeyCode, modifiers: KeyModifiers) -> std::io::Result<Event> {
        Ok(Event::Key(KeyEvent::new(code, modifiers)))
    }

    /// `drive` with keys from `rx`, a refresh every second.
    async fn drive_keys(
        app: &mut Counting,
        terminal: &mut Terminal<TestBackend>,
        rx: mpsc::Receiver<std::io::Result<Event>>,
        stop: impl Future<Output = ()>,
    ) -> Result<Ended> {
        let refresh = Duration::from_secs(1);
        drive(app, terminal, ReceiverStream::new(rx), refresh, stop).await
    }

    fn screen(terminal: &Terminal<TestBackend>) -> String {
        let buffer = terminal.backend().buffer();
        buffer.content().iter().map(|cell| cell.symbol()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn ticks_refresh_keys_reach_the_app_and_q_closes() {
        let (tx, rx) = mpsc::channel(8);
        let mut terminal = Terminal::new(TestBackend::new(30, 1)).expect("test backend");
        let mut app = Counting::default();
        let run = drive_keys(&mut app, &mut terminal, rx, std::future::pending());
        let keys = async {
            tokio::time::sleep(Duration::from_millis(2500)).await;
            for c in ['a', 'b', 'q', 'z'] {
                tx.send(key(KeyCode::Char(c), KeyModifiers::NONE))
                    .await
                    .expect("loop alive");
            }
        };
        let (ended, ()) = tokio::join!(run, keys);
        assert_eq!(ended.expect("no error"), Ended::Closed);
        assert_eq!(app.ticks, 3, "at 0 s, 1 s and 2 s");
        assert_eq!(app.keys, "abq", "nothing after the close");
        assert!(
            screen(&terminal).starts_with("ticks 3 keys ab "),
            "{}",
            screen(&terminal)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_tick_that_changed_nothing_is_not_drawn() {
        let mut terminal = Terminal::new(TestBackend::new(30, 1)).expect("test backend");
        let (_tx, rx) = mpsc::channel(8);
        let mut app = Counting::default();
        let stop = tokio::time::sleep(Duration::from_millis(1500));
        let ended = drive_keys(&mut app, &mut terminal, rx, stop);
        assert_eq!(ended.await.expect("no error"), Ended::Stopped);
        // Ticks at 0 s (drawn) and 1 s (not drawn): the screen is still
        // that of the first tick.
        assert_eq!(app.ticks, 2);
        let shown = screen(&terminal);
        assert!(shown.starts_with("ticks 1 keys "), "{shown}");
    }

    #[tokio::test(start_paused = true)]
    async fn ctrl_c_closes_the_stop_stops_and_a_lost_input_is_an_error() {
        let mut terminal = Terminal::new(TestBackend::new(10, 1)).expect("test backend");
        let mut app = Counting::default();
        let (tx, rx) = mpsc::channel(1);
        tx.send(key(KeyCode::Char('c'), KeyModifiers::CONTROL))
            .await
            .expect("room");
        let ended = drive_keys(&mut app, &mut terminal, rx, std::future::pending());
        assert_eq!(ended.await.expect("no error"), Ended::Closed);

        let (_tx, rx) = mpsc::channel(1);
        let stop = tokio::time::sleep(Duration::from_secs(5));
        let ended = drive_keys(&mut app, &mut terminal, rx, stop);
        assert_eq!(ended.await.expect("no error"), Ended::Stopped);

        let (tx, rx) = mpsc::channel(1);
        drop(tx);
        let ended = drive_keys(&mut app, &mut terminal, rx, std::future::pending());
        let error = ended.await.expect_err("input gone");
        assert!(error.to_string().contains("input ended"), "{error}");
    }
}
