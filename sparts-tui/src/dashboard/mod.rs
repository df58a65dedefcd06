//! The built-in dashboard: a service's status, tasks, counters (with
//! sparklines of their recent reads), options (editable through the admin
//! model), exported values and recent log lines, live. The same app runs
//! in a service ([`TuiTask::dashboard`](crate::TuiTask::dashboard)) and in
//! `sparts-top`, from any [`AdminSource`].

mod model;
mod source;
mod state;
mod view;

use std::time::Duration;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use sparts_core::Admin;

pub use model::AdminSnapshot;
pub use source::{AdminSource, LocalAdmin};

use crate::app::{Flow, TuiApp};
use source::{Feed, spawn_feed};
use state::{Action, State};

/// The dashboard app. Reads its source every interval on a task of its
/// own, so a slow or gone service never stalls the screen: a failed read
/// shows `disconnected` with the reason, and the next good one clears it.
///
/// Keys: ←/→ or Tab (or 1 to 5) choose the pane, ↑/↓ and PgUp/PgDn select,
/// `/` filters the counters by name, Enter edits the selected option
/// (Enter applies, Esc cancels), `q` or Esc quits.
#[derive(Debug)]
pub struct Dashboard {
    feed: Feed,
    state: State,
}

impl Dashboard {
    /// A dashboard of `source`, read every `interval`. Must be made inside
    /// a tokio runtime, where its reader runs.
    pub fn new<S: AdminSource>(source: S, interval: Duration) -> Self {
        let state = State::new(source.describe());
        Self {
            feed: spawn_feed(source, interval),
            state,
        }
    }

    /// A dashboard of the service in this process, read every second.
    pub fn local(admin: Admin) -> Self {
        Self::new(LocalAdmin::new(admin), Duration::from_secs(1))
    }
}

impl TuiApp for Dashboard {
    fn draw(&mut self, frame: &mut Frame<'_>) {
        view::draw(&self.state, frame);
    }

    fn on_key(&mut self, key: KeyEvent) -> Flow {
        match self.state.on_key(key) {
            Action::Continue => Flow::Continue,
            Action::Close => Flow::Close,
            Action::Set(change) => {
                if self.feed.changes.send(change).is_err() {
                    self.state.fail("the dashboard's reader has stopped");
                }
                Flow::Continue
            }
        }
    }

    /// Takes in what the reader brought; drawn again only then.
    fn on_tick(&mut self) -> bool {
        let mut changed = false;
        if self.feed.reads.has_changed().unwrap_or(false)
            && let Some(read) = self.feed.reads.borrow_and_update().clone()
        {
            self.state.apply(read);
            changed = true;
        }
        while let Ok((name, result)) = self.feed.results.try_recv() {
            self.state.applied(&name, result);
            changed = true;
        }
        changed
    }
}

#[cfg(test)]
mod tests;
