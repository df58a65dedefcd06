//! Terminal UIs for sparts-rs services: [`TuiTask`] runs a full-screen
//! ratatui application as a task (the original sparts' `UITask`), the
//! built-in [`Dashboard`] shows a service's status, tasks, counters,
//! options, exported values and log live, and the `sparts-top` binary
//! shows the same dashboard for a service running elsewhere, through its
//! HTTP admin endpoints.
//!
//! A service whose task is a terminal app: closing it (`q` or Esc) shuts
//! the service down.
//!
//! ```no_run
//! use ratatui::widgets::Paragraph;
//! use sparts_core::VService;
//! use sparts_tui::{TuiApp, TuiTask};
//!
//! struct Hello;
//!
//! impl TuiApp for Hello {
//!     fn draw(&mut self, frame: &mut ratatui::Frame<'_>) {
//!         frame.render_widget(Paragraph::new("Hello! q quits."), frame.area());
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     VService::new("Hello")
//!         .with_task(TuiTask::new(|_ctx| Hello))
//!         .run_from_cli()
//! }
//! ```
//!
//! The dashboard of the service itself is one more task,
//! `.with_task(TuiTask::dashboard())`. What [`TuiApp`] needs is tested
//! without a terminal on ratatui's `TestBackend`:
//!
//! ```
//! use ratatui::{Terminal, backend::TestBackend, widgets::Paragraph};
//! use sparts_tui::TuiApp;
//!
//! struct Hello;
//! impl TuiApp for Hello {
//!     fn draw(&mut self, frame: &mut ratatui::Frame<'_>) {
//!         frame.render_widget(Paragraph::new("Hello"), frame.area());
//!     }
//! }
//!
//! let mut terminal = Terminal::new(TestBackend::new(10, 1)).unwrap();
//! terminal.draw(|frame| Hello.draw(frame)).unwrap();
//! terminal.backend().assert_buffer_lines(["Hello     "]);
//! ```

mod app;
mod dashboard;
mod drive;
mod error;
pub mod form;
mod remote;
mod task;
mod terminal;
mod top;

pub use app::{Flow, TuiApp, is_close_key};
pub use dashboard::{AdminSnapshot, AdminSource, Dashboard, LocalAdmin};
pub use error::{Error, Result};
pub use remote::{HttpAdmin, Target};
pub use task::{TuiOptions, TuiTask};
pub use top::{TopOptions, watch};

/// Re-exported so apps draw with the version the task runs.
pub use crossterm;
/// Re-exported so apps draw with the version the task runs.
pub use ratatui;
