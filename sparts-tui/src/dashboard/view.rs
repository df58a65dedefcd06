//! Drawing the dashboard: a header with the service's name, version,
//! status and uptime, a tab per pane, the chosen pane, and a footer with
//! the keys, the last message or the option being edited.

use std::ops::Range;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Sparkline, Table, Tabs, Wrap};

use super::model::{AdminSnapshot, finite_range, scaled, sparkline};
use super::state::{Pane, State};

/// The smallest terminal the layout fits in.
pub(crate) const MIN_WIDTH: u16 = 40;
/// See [`MIN_WIDTH`].
pub(crate) const MIN_HEIGHT: u16 = 10;

/// The heights a chart of the selected counter draws between its lowest
/// and its highest read.
const CHART_STEPS: u32 = 1000;

/// How many reads a row's sparkline shows.
const ROW_SPARKLINE: usize = 20;

pub(crate) fn draw(state: &State, frame: &mut Frame<'_>) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "The terminal is {}x{}: the dashboard needs at least {MIN_WIDTH}x{MIN_HEIGHT}.",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let header = header(state);
    let height = u16::try_from(header.len()).unwrap_or(u16::MAX);
    let [top, tabs, body, footer] = Layout::vertical([
        Constraint::Length(height),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header), top);
    let titles = Pane::ALL
        .iter()
        .enumerate()
        .map(|(i, pane)| format!("{} {}", i + 1, pane.title()));
    frame.render_widget(
        Tabs::new(titles)
            .select(state.pane.index())
            .highlight_style(Style::new().reversed()),
        tabs,
    );
    let block = Block::new().borders(Borders::TOP);
    let inner = block.inner(body);
    frame.render_widget(block, body);
    match &state.snapshot {
        None => {
            frame.render_widget(Paragraph::new("reading the service…"), inner);
        }
        Some(snapshot) => draw_pane(state, snapshot, frame, inner),
    }
    frame.render_widget(Paragraph::new(footer_line(state)), footer);
}

fn status_style(status: &str) -> Style {
    match status {
        "ALIVE" => Style::new().fg(Color::Green).bold(),
        "STARTING" | "STOPPING" | "WARNING" => Style::new().fg(Color::Yellow).bold(),
        _ => Style::new().fg(Color::Red).bold(),
    }
}

/// `1d 02:03:04`, or `02:03:04` under a day.
pub(crate) fn uptime(seconds: i64) -> String {
    let s = seconds.max(0);
    let (days, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// How many lines of status details the header shows.
const DETAILS: usize = 3;

fn header(state: &State) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut first = Vec::new();
    match &state.snapshot {
        Some(s) => {
            first.push(Span::from(s.name.clone()).bold());
            if !s.version.is_empty() {
                first.push(Span::from(format!(" {}", s.version)));
            }
            first.push(Span::from("  "));
            first.push(Span::styled(s.status.clone(), status_style(&s.status)));
            first.push(Span::from(format!("  up {}", uptime(s.uptime))));
        }
        None => first.push(Span::from("…")),
    }
    first.push(Span::from(format!("  {}", state.target)).dim());
    lines.push(Line::from(first));
    if let Some(reason) = &state.disconnected {
        lines.push(Line::styled(
            format!("disconnected: {reason} (retrying)"),
            Style::new().fg(Color::Red).bold(),
        ));
    }
    if let Some(s) = &state.snapshot {
        for detail in s.details.iter().take(DETAILS) {
            lines.push(Line::from(detail.clone()).yellow());
        }
    }
    lines
}

fn footer_line(state: &State) -> Line<'static> {
    if let Some(edit) = &state.editing {
        return Line::from(vec![
            Span::from(format!("{} = ", edit.name)).bold(),
            Span::from(format!("{}▏", edit.input)),
            Span::from("  Enter applies, Esc cancels").dim(),
        ]);
    }
    if state.filtering {
        return Line::from(vec![
            Span::from("filter: ").bold(),
            Span::from(format!("{}▏", state.filter)),
            Span::from("  Enter keeps, Esc clears").dim(),
        ]);
    }
    if let Some(message) = &state.message {
        let style = if message.error {
            Style::new().fg(Color::Red)
        } else {
            Style::new().fg(Color::Green)
        };
        return Line::styled(message.text.clone(), style);
    }
    let extra = match state.pane {
        Pane::Options => "  Enter edit".to_owned(),
        Pane::Counters if state.filter.is_empty() => "  / filter".to_owned(),
        Pane::Counters => format!("  / filter ({})", state.filter),
        _ => String::new(),
    };
    Line::from(format!("←/→ pane  ↑/↓ select{extra}  q quit")).dim()
}

/// The rows of `len` that fit in `height` with `selected` among them.
fn window(len: usize, selected: usize, height: usize) -> Range<usize> {
    let start = (selected + 1).saturating_sub(height);
    start..len.min(start + height)
}

fn highlight(row: Row<'_>, selected: bool) -> Row<'_> {
    if selected {
        row.style(Style::new().add_modifier(Modifier::REVERSED))
    } else {
        row
    }
}

/// A counter's value: whole numbers without a fraction.
fn number(value: f64) -> String {
    if !value.is_finite() {
        "-".to_owned()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

/// The width of the name column: the longest name, within half the area.
fn name_width<'a>(names: impl Iterator<Item = &'a String>, area: Rect) -> u16 {
    let longest = names.map(|n| n.chars().count()).max().unwrap_or(0);
    u16::try_from(longest)
        .unwrap_or(u16::MAX)
        .min(area.width / 2)
        .max(4)
}

fn draw_pane(state: &State, s: &AdminSnapshot, frame: &mut Frame<'_>, area: Rect) {
    let selected = state.selected();
    match state.pane {
        Pane::Counters => draw_counters(state, s, frame, area),
        Pane::Options => {
            let values = s
                .options
                .iter()
                .map(|(name, value)| (name, value.clone().unwrap_or_else(|| "(unset)".to_owned())));
            draw_pairs(values, s.options.len(), selected, frame, area);
        }
        Pane::Exported => {
            let values = s.exported.iter().map(|(name, value)| (name, value.clone()));
            draw_pairs(values, s.exported.len(), selected, frame, area);
        }
        Pane::Tasks => {
            let rows = window(s.tasks.len(), selected, usize::from(area.height));
            let rows = rows.clone().zip(&s.tasks[rows]);
            let rows = rows.map(|(i, task)| highlight(Row::new([task.clone()]), i == selected));
            frame.render_widget(Table::new(rows, [Constraint::Fill(1)]), area);
        }
        Pane::Log => {
            let text = match &s.log {
                Some(lines) => {
                    let skip = lines.len().saturating_sub(usize::from(area.height));
                    lines[skip..].join("\n")
                }
                None => "The log is not served over the admin API: read it where the service writes it (stderr, --logfile).".to_owned(),
            };
            frame.render_widget(Paragraph::new(text), area);
        }
    }
}

fn draw_pairs<'a>(
    pairs: impl Iterator<Item = (&'a String, String)> + Clone,
    len: usize,
    selected: usize,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    let width = name_width(pairs.clone().map(|(name, _)| name), area);
    let rows = window(len, selected, usize::from(area.height));
    let rows = pairs
        .enumerate()
        .skip(rows.start)
        .take(rows.len())
        .map(|(i, (name, value))| highlight(Row::new([name.clone(), value]), i == selected));
    let widths = [Constraint::Length(width), Constraint::Fill(1)];
    frame.render_widget(Table::new(rows, widths).column_spacing(2), area);
}

fn draw_counters(state: &State, s: &AdminSnapshot, frame: &mut Frame<'_>, area: Rect) {
    // Filtered once for the whole drawing.
    let counters: Vec<(&String, &f64)> = state.counters(s).collect();
    let selected = state.selected_within(counters.len());
    // A chart of the selected counter below the table, when there is room.
    let (table, chart) = if area.height >= 12 {
        let [table, chart] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(5)]).areas(area);
        (table, Some(chart))
    } else {
        (area, None)
    };
    let width = name_width(counters.iter().map(|(name, _)| *name), table);
    let rows = window(counters.len(), selected, usize::from(table.height));
    let rows = counters[rows.clone()]
        .iter()
        .zip(rows)
        .map(|((name, value), i)| {
            let line = sparkline(state.history.of(name), ROW_SPARKLINE);
            let cells = [(*name).clone(), number(**value), line];
            highlight(Row::new(cells), i == selected)
        });
    let widths = [
        Constraint::Length(width),
        Constraint::Length(14),
        Constraint::Length(u16::try_from(ROW_SPARKLINE).unwrap_or(20)),
    ];
    frame.render_widget(Table::new(rows, widths).column_spacing(2), table);
    let (Some(chart), Some((name, _))) = (chart, counters.get(selected)) else {
        return;
    };
    let values: Vec<f64> = state.history.of(name).collect();
    let (low, high) = finite_range(&values).unwrap_or((f64::NAN, f64::NAN));
    // The chart draws heights from zero: shift by the lowest value so a
    // counter that moves a little far from zero still shows its moves.
    let data: Vec<u64> = scaled(&values, CHART_STEPS)
        .into_iter()
        .map(|step| u64::from(step.unwrap_or(0)))
        .collect();
    let title = if values.is_empty() {
        format!(" {name} ")
    } else {
        format!(
            " {name}: {} to {} over {} reads ",
            number(low),
            number(high),
            values.len()
        )
    };
    let block = Block::new().borders(Borders::TOP).title(title);
    frame.render_widget(
        Sparkline::default()
            .block(block)
            .data(&data)
            .max(u64::from(CHART_STEPS)),
        chart,
    );
}
