//! What a terminal application supplies: how it draws, what it does with
//! a key, and what it refreshes.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;

/// What the UI does after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep going.
    Continue,
    /// Close the UI (and, by default, shut the service down).
    Close,
}

/// A full-screen terminal application, run by a
/// [`TuiTask`](crate::TuiTask) (or by `sparts-top`). Only
/// [`draw`](TuiApp::draw) is required: the default
/// [`on_key`](TuiApp::on_key) closes on `q` and Esc.
///
/// The loop around it draws after every key, every resize and every
/// refresh (`--<prefix>-refresh`) that asks for it, and Ctrl-C always
/// closes: the terminal is in raw mode, where it sends no SIGINT.
pub trait TuiApp: Send + 'static {
    /// Draws the whole screen (ratatui redraws only what changed).
    fn draw(&mut self, frame: &mut Frame<'_>);

    /// Handles a key press. Default: [`Flow::Close`] on `q` and Esc.
    fn on_key(&mut self, key: KeyEvent) -> Flow {
        if is_close_key(&key) {
            Flow::Close
        } else {
            Flow::Continue
        }
    }

    /// Refreshes what the screen shows, every refresh interval, and says
    /// whether it must be drawn again: `false` when nothing it shows has
    /// changed saves the drawing. Default: nothing to refresh, and drawn
    /// again (the screen may show what changes by itself, such as a
    /// counter read in [`draw`](TuiApp::draw)).
    fn on_tick(&mut self) -> bool {
        true
    }
}

/// Whether `key` is one that closes a UI by convention: `q` or Esc.
pub fn is_close_key(key: &KeyEvent) -> bool {
    matches!(key.code, KeyCode::Esc | KeyCode::Char('q'))
        && key.modifiers - KeyModifiers::SHIFT == KeyModifiers::NONE
}

/// Whether `key` is Ctrl-C, which always closes.
pub(crate) fn is_interrupt(key: &KeyEvent) -> bool {
    key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)
}
