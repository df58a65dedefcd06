//! Owning the terminal: raw mode and the alternate screen while a UI runs,
//! and the terminal given back on every way out. Dropping the session
//! restores it (a normal close, an error, a stop, a panic unwinding), and
//! the panic hook restores it before the panic's message is printed, so the
//! message lands on the normal screen where it can be read.

use std::io::{IsTerminal, Stdout, stdout};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::error::{Error, Result};

/// Whether a session has the terminal in raw mode now.
static OWNED: AtomicBool = AtomicBool::new(false);

/// Why this process cannot run a full-screen UI, if it cannot.
pub(crate) fn missing_terminal() -> Option<&'static str> {
    if !std::io::stdin().is_terminal() {
        Some("stdin is not a terminal")
    } else if !stdout().is_terminal() {
        Some("stdout is not a terminal")
    } else {
        None
    }
}

/// The terminal, in raw mode on the alternate screen until dropped.
#[derive(Debug)]
pub(crate) struct TerminalSession {
    pub(crate) terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalSession {
    /// Takes the terminal over. Fails if another session has it.
    pub(crate) fn enter() -> Result<Self> {
        install_panic_hook();
        if OWNED.swap(true, Ordering::AcqRel) {
            return Err(Error::Terminal(std::io::Error::other(
                "another UI of this process has the terminal",
            )));
        }
        // From here a failure gives the terminal back as it unwinds.
        let restore = Restore;
        enable_raw_mode().map_err(Error::Terminal)?;
        execute!(stdout(), EnterAlternateScreen, Hide).map_err(Error::Terminal)?;
        let terminal = Terminal::new(CrosstermBackend::new(stdout())).map_err(Error::Terminal)?;
        std::mem::forget(restore);
        Ok(Self { terminal })
    }
}

impl Drop for TerminalSession {
    fn drop(&mut self) {
        restore();
    }
}

/// Restores the terminal when dropped.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        restore();
    }
}

/// Gives the terminal back: cooked mode, the main screen, the cursor. Does
/// nothing when no session has it, so it is safe from the panic hook too.
pub(crate) fn restore() {
    if OWNED.swap(false, Ordering::AcqRel) {
        let _ = execute!(stdout(), LeaveAlternateScreen, Show);
        let _ = disable_raw_mode();
    }
}

fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
