//! The dashboard's state: the last read, the sparklines' history, the
//! chosen pane and row, an option being edited, and the last message; and
//! what each key does to it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::model::{AdminSnapshot, History};
use super::source::{Read, SetOption};
use crate::app::is_close_key;

/// The panes, in the order of their tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pane {
    Counters,
    Options,
    Tasks,
    Exported,
    Log,
}

impl Pane {
    pub(crate) const ALL: [Pane; 5] = [
        Pane::Counters,
        Pane::Options,
        Pane::Tasks,
        Pane::Exported,
        Pane::Log,
    ];

    pub(crate) fn title(self) -> &'static str {
        match self {
            Pane::Counters => "Counters",
            Pane::Options => "Options",
            Pane::Tasks => "Tasks",
            Pane::Exported => "Exported",
            Pane::Log => "Log",
        }
    }

    /// Its place among the tabs: the panes are declared in that order.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// An option being edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub(crate) name: String,
    pub(crate) input: String,
}

/// A line for the footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) text: String,
    pub(crate) error: bool,
}

/// What a key asks of the app.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Continue,
    Close,
    Set(SetOption),
}

#[derive(Debug)]
pub(crate) struct State {
    /// Where the service is.
    pub(crate) target: String,
    /// The last good read.
    pub(crate) snapshot: Option<AdminSnapshot>,
    /// Why the last read failed, while it does.
    pub(crate) disconnected: Option<String>,
    pub(crate) history: History,
    pub(crate) pane: Pane,
    /// The selected row of each pane.
    pub(crate) cursor: [usize; Pane::ALL.len()],
    pub(crate) editing: Option<Edit>,
    pub(crate) message: Option<Message>,
    /// The counters shown are those whose names contain it.
    pub(crate) filter: String,
    /// Whether keys go to the filter.
    pub(crate) filtering: bool,
}

impl State {
    pub(crate) fn new(target: String) -> Self {
        Self {
            target,
            snapshot: None,
            disconnected: None,
            history: History::default(),
            pane: Pane::Counters,
            cursor: [0; Pane::ALL.len()],
            editing: None,
            message: None,
            filter: String::new(),
            filtering: false,
        }
    }

    /// Takes a read in.
    pub(crate) fn apply(&mut self, read: Read) {
        match read {
            Ok(snapshot) => {
                self.history.record(&snapshot.counters);
                self.snapshot = Some(snapshot);
                self.disconnected = None;
            }
            Err(reason) => self.disconnected = Some(reason),
        }
    }

    /// Takes in what became of an option change.
    pub(crate) fn applied(&mut self, name: &str, result: Result<Option<String>, String>) {
        self.message = Some(match result {
            Ok(value) => Message {
                text: format!("{name} = {}", value.as_deref().unwrap_or("(unset)")),
                error: false,
            },
            Err(reason) => Message {
                text: format!("{name} not changed: {reason}"),
                error: true,
            },
        });
    }

    pub(crate) fn fail(&mut self, text: &str) {
        self.message = Some(Message {
            text: text.to_owned(),
            error: true,
        });
    }

    /// How many rows the current pane has.
    pub(crate) fn rows(&self) -> usize {
        let Some(s) = &self.snapshot else { return 0 };
        match self.pane {
            Pane::Counters => self.counters(s).count(),
            Pane::Options => s.options.len(),
            Pane::Tasks => s.tasks.len(),
            Pane::Exported => s.exported.len(),
            Pane::Log => s.log.as_ref().map_or(0, Vec::len),
        }
    }

    /// The counters the filter lets through, by name.
    pub(crate) fn counters<'a>(
        &'a self,
        snapshot: &'a AdminSnapshot,
    ) -> impl Iterator<Item = (&'a String, &'a f64)> + 'a {
        let counters = snapshot.counters.iter();
        counters.filter(|(name, _)| name.contains(self.filter.as_str()))
    }

    /// The selected row of the current pane, within its rows.
    pub(crate) fn selected(&self) -> usize {
        self.selected_within(self.rows())
    }

    /// The selected row of the current pane, within `rows` rows.
    pub(crate) fn selected_within(&self, rows: usize) -> usize {
        self.cursor[self.pane.index()].min(rows.saturating_sub(1))
    }

    fn select(&mut self, row: usize) {
        let last = self.rows().saturating_sub(1);
        self.cursor[self.pane.index()] = row.min(last);
    }

    fn switch(&mut self, step: isize) {
        let count = Pane::ALL.len().cast_signed();
        let next = (self.pane.index().cast_signed() + step).rem_euclid(count);
        self.pane = Pane::ALL[next.cast_unsigned()];
    }

    pub(crate) fn on_key(&mut self, key: KeyEvent) -> Action {
        if self.editing.is_some() {
            return self.on_edit_key(key);
        }
        if self.filtering {
            self.on_filter_key(key);
            return Action::Continue;
        }
        if is_close_key(&key) {
            return Action::Close;
        }
        let row = self.selected();
        match key.code {
            KeyCode::Right | KeyCode::Tab => self.switch(1),
            KeyCode::Left | KeyCode::BackTab => self.switch(-1),
            KeyCode::Char(c @ '1'..='5') => {
                self.pane = Pane::ALL[usize::from(c as u8 - b'1')];
            }
            KeyCode::Down | KeyCode::Char('j') => self.select(row + 1),
            KeyCode::Up | KeyCode::Char('k') => self.select(row.saturating_sub(1)),
            KeyCode::PageDown => self.select(row + 10),
            KeyCode::PageUp => self.select(row.saturating_sub(10)),
            KeyCode::Home => self.select(0),
            KeyCode::End => self.select(usize::MAX),
            KeyCode::Enter | KeyCode::Char('e') if self.pane == Pane::Options => {
                self.start_edit();
            }
            KeyCode::Char('/') if self.pane == Pane::Counters => self.filtering = true,
            _ => {}
        }
        Action::Continue
    }

    fn start_edit(&mut self) {
        let row = self.selected();
        let Some(snapshot) = &self.snapshot else {
            return;
        };
        if let Some((name, value)) = snapshot.options.iter().nth(row) {
            self.editing = Some(Edit {
                name: name.clone(),
                input: value.clone().unwrap_or_default(),
            });
            self.message = None;
        }
    }

    fn on_filter_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Enter => self.filtering = false,
            KeyCode::Esc => {
                self.filtering = false;
                self.filter.clear();
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.filter.push(c);
            }
            _ => return,
        }
        self.cursor[Pane::Counters.index()] = 0;
    }

    fn on_edit_key(&mut self, key: KeyEvent) -> Action {
        let Some(edit) = &mut self.editing else {
            return Action::Continue;
        };
        match key.code {
            KeyCode::Esc => self.editing = None,
            KeyCode::Enter => {
                if let Some(Edit { name, input }) = self.editing.take() {
                    self.message = Some(Message {
                        text: format!("setting {name}…"),
                        error: false,
                    });
                    return Action::Set(SetOption { name, value: input });
                }
            }
            KeyCode::Backspace => {
                edit.input.pop();
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                edit.input.clear();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                edit.input.push(c);
            }
            _ => {}
        }
        Action::Continue
    }
}
