//! A form of fields for a [`TuiApp`] that asks the user for values, as the
//! original's npyscreen forms did: text inputs, choices from a list and
//! sliders, one focused at a time. A form is an app itself, with a live
//! [`panel`](Form::panel) beside it if one is given, or a part of a
//! larger app's screen ([`Form::render`], [`Form::on_key`]).
//!
//! Keys: Tab, ↓ or Enter go to the next field and Shift-Tab or ↑ to the
//! one before; a text field takes what is typed (Backspace erases); ← and
//! → change a choice or a slider. Esc closes the form, and so does `q`
//! outside a text field.
//!
//! ```
//! use crossterm::event::{KeyCode, KeyEvent};
//! use sparts_tui::Flow;
//! use sparts_tui::form::Form;
//!
//! let mut form = Form::new("Order")
//!     .text("Name", "")
//!     .choice("Size", ["small", "large"])
//!     .slider("Sugar", 0, 10);
//! for key in [KeyCode::Char('A'), KeyCode::Tab, KeyCode::Right, KeyCode::Tab, KeyCode::Right] {
//!     assert_eq!(form.on_key(KeyEvent::from(key)), Flow::Continue);
//! }
//! assert_eq!(form.text_of("Name"), Some("A"));
//! assert_eq!(form.choice_of("Size"), Some("large"));
//! assert_eq!(form.number_of("Sugar"), Some(1));
//! assert_eq!(form.on_key(KeyEvent::from(KeyCode::Char('q'))), Flow::Close);
//! ```

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use std::sync::Arc;

use ratatui::widgets::{Block, Gauge, Paragraph};

use crate::app::{Flow, TuiApp};

#[derive(Debug, Clone)]
enum Kind {
    Text(String),
    Choice {
        options: Vec<String>,
        selected: usize,
    },
    Slider {
        value: u16,
        max: u16,
    },
}

#[derive(Debug, Clone)]
struct Field {
    label: String,
    kind: Kind,
}

/// A text drawn anew at every refresh, from the form's values.
type PanelText = Arc<dyn Fn(&Form) -> String + Send + Sync>;

/// A titled form of fields, in the order they were added.
#[derive(Clone)]
pub struct Form {
    title: String,
    fields: Vec<Field>,
    focus: usize,
    panel: Option<(String, PanelText)>,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form")
            .field("title", &self.title)
            .field("fields", &self.fields)
            .field("focus", &self.focus)
            .field("panel", &self.panel.as_ref().map(|(title, _)| title))
            .finish()
    }
}

impl Form {
    /// An empty form.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            fields: Vec::new(),
            focus: 0,
            panel: None,
        }
    }

    /// Shows a bordered panel titled `title` right of the form, as a
    /// [`TuiApp`]: its text comes from `text` at every refresh, so it can
    /// show what the form holds and anything `text` reads (the service's
    /// counters, through a handle it keeps).
    #[must_use]
    pub fn panel<F>(mut self, title: impl Into<String>, text: F) -> Self
    where
        F: Fn(&Form) -> String + Send + Sync + 'static,
    {
        self.panel = Some((title.into(), Arc::new(text)));
        self
    }

    fn with(mut self, label: impl Into<String>, kind: Kind) -> Self {
        self.fields.push(Field {
            label: label.into(),
            kind,
        });
        self
    }

    /// Adds a text input holding `initial`.
    #[must_use]
    pub fn text(self, label: impl Into<String>, initial: &str) -> Self {
        self.with(label, Kind::Text(initial.to_owned()))
    }

    /// Adds a choice among `options`, the first chosen.
    #[must_use]
    pub fn choice<I, S>(self, label: impl Into<String>, options: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let options = options.into_iter().map(Into::into).collect();
        self.with(
            label,
            Kind::Choice {
                options,
                selected: 0,
            },
        )
    }

    /// Adds a slider from 0 to `max`, at `value`.
    #[must_use]
    pub fn slider(self, label: impl Into<String>, value: u16, max: u16) -> Self {
        let max = max.max(1);
        self.with(
            label,
            Kind::Slider {
                value: value.min(max),
                max,
            },
        )
    }

    fn field(&self, label: &str) -> Option<&Kind> {
        self.fields
            .iter()
            .find(|f| f.label == label)
            .map(|f| &f.kind)
    }

    /// The text of the text field `label`.
    pub fn text_of(&self, label: &str) -> Option<&str> {
        match self.field(label)? {
            Kind::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The chosen option of the choice `label`.
    pub fn choice_of(&self, label: &str) -> Option<&str> {
        match self.field(label)? {
            Kind::Choice { options, selected } => options.get(*selected).map(String::as_str),
            _ => None,
        }
    }

    /// The value of the slider `label`.
    pub fn number_of(&self, label: &str) -> Option<u16> {
        match self.field(label)? {
            Kind::Slider { value, .. } => Some(*value),
            _ => None,
        }
    }

    /// The label of the focused field.
    pub fn focused(&self) -> Option<&str> {
        self.fields.get(self.focus).map(|f| f.label.as_str())
    }

    fn step_focus(&mut self, forward: bool) {
        let n = self.fields.len().max(1);
        self.focus = if forward {
            (self.focus + 1) % n
        } else {
            (self.focus + n - 1) % n
        };
    }

    /// Handles a key; [`Flow::Close`] when it closes the form.
    pub fn on_key(&mut self, key: KeyEvent) -> Flow {
        match key.code {
            KeyCode::Esc => return Flow::Close,
            KeyCode::Tab | KeyCode::Down | KeyCode::Enter => self.step_focus(true),
            KeyCode::BackTab | KeyCode::Up => self.step_focus(false),
            _ => {}
        }
        let Some(field) = self.fields.get_mut(self.focus) else {
            return Flow::Continue;
        };
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match (&mut field.kind, key.code) {
            (Kind::Text(text), KeyCode::Char(c)) if plain => text.push(c),
            (Kind::Text(text), KeyCode::Backspace) => {
                text.pop();
            }
            (_, KeyCode::Char('q')) => return Flow::Close,
            (Kind::Choice { options, selected }, KeyCode::Right) => {
                *selected = (*selected + 1).min(options.len().saturating_sub(1));
            }
            (Kind::Choice { selected, .. }, KeyCode::Left) => {
                *selected = selected.saturating_sub(1)
            }
            (Kind::Slider { value, max }, KeyCode::Right) => *value = (*value + 1).min(*max),
            (Kind::Slider { value, .. }, KeyCode::Left) => *value = value.saturating_sub(1),
            _ => {}
        }
        Flow::Continue
    }

    /// Draws the form in `area`: a bordered block, a line per field.
    pub fn render(&self, frame: &mut Frame<'_>, area: Rect) {
        let block = Block::bordered().title(format!(" {} ", self.title));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let rows = Layout::vertical(self.fields.iter().map(|_| Constraint::Length(2))).split(inner);
        let width = self
            .fields
            .iter()
            .map(|f| f.label.chars().count())
            .max()
            .unwrap_or(0);
        for (i, (field, row)) in self.fields.iter().zip(rows.iter()).enumerate() {
            let focused = i == self.focus;
            let label = format!(
                "{} {:width$}  ",
                if focused { '›' } else { ' ' },
                field.label
            );
            let label = if focused {
                Span::from(label).bold().fg(Color::Yellow)
            } else {
                Span::from(label)
            };
            let label_width = u16::try_from(width + 4).unwrap_or(u16::MAX);
            let [left, right] =
                Layout::horizontal([Constraint::Length(label_width), Constraint::Fill(1)])
                    .areas(*row);
            frame.render_widget(Paragraph::new(label), left);
            match &field.kind {
                Kind::Text(text) => {
                    let cursor = if focused { "▏" } else { "" };
                    frame.render_widget(Paragraph::new(format!("[{text}{cursor}]")), right);
                }
                Kind::Choice { options, selected } => {
                    let spans = options.iter().enumerate().flat_map(|(j, option)| {
                        let span = if j == *selected {
                            Span::from(format!(" {option} ")).reversed()
                        } else {
                            Span::from(format!(" {option} "))
                        };
                        [span, Span::from(" ")]
                    });
                    frame.render_widget(Paragraph::new(Line::from_iter(spans)), right);
                }
                Kind::Slider { value, max } => {
                    let gauge = Gauge::default()
                        .ratio(f64::from(*value) / f64::from(*max))
                        .label(format!("{value}/{max}"))
                        .gauge_style(Style::new().fg(Color::Cyan));
                    let bar = Rect { height: 1, ..right };
                    frame.render_widget(gauge, bar);
                }
            }
        }
    }
}

/// The form as a whole app: the fields, and the panel right of them.
impl TuiApp for Form {
    fn draw(&mut self, frame: &mut Frame<'_>) {
        let Some((title, text)) = &self.panel else {
            self.render(frame, frame.area());
            return;
        };
        let [form, panel] =
            Layout::horizontal([Constraint::Fill(2), Constraint::Fill(1)]).areas(frame.area());
        self.render(frame, form);
        let block = Block::bordered().title(format!(" {title} "));
        frame.render_widget(Paragraph::new(text(self)).block(block), panel);
    }

    fn on_key(&mut self, key: KeyEvent) -> Flow {
        Form::on_key(self, key)
    }
}
