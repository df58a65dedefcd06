//! The dashboard's state and drawing, on ratatui's `TestBackend`, with
//! reads of a real service in this process.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sparts_core::{RunningService, VService};

use super::source::{AdminSource, LocalAdmin, SetOption};
use super::state::{Action, Pane, State};
use super::*;

async fn service() -> RunningService {
    VService::new("Dash")
        .with_version("1.2")
        .with_logging(false)
        .start_with_args(["dash"])
        .await
        .expect("the service starts")
}

fn screen(state: &State, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|frame| view::draw(state, frame))
        .expect("drawn");
    let buffer = terminal.backend().buffer();
    let lines = buffer.content().chunks(usize::from(width));
    let lines = lines.map(|row| row.iter().map(|cell| cell.symbol()).collect::<String>());
    lines.collect::<Vec<_>>().join("\n")
}

fn press(state: &mut State, code: KeyCode) -> Action {
    state.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn type_text(state: &mut State, text: &str) {
    for c in text.chars() {
        assert_eq!(press(state, KeyCode::Char(c)), Action::Continue);
    }
}

#[tokio::test]
async fn status_and_counters_with_their_sparklines() {
    let running = service().await;
    let requests = running.handle().counters().counter("requests");
    let source = LocalAdmin::new(running.handle().admin());
    let mut state = State::new(source.describe());
    for _ in 0..4 {
        requests.add(3);
        state.apply(Ok(source.snapshot().await.expect("a read")));
    }
    let text = screen(&state, 100, 30);
    assert!(text.contains("Dash 1.2  ALIVE  up 00:00:0"), "{text}");
    assert!(text.contains("in process"), "{text}");
    assert!(text.contains("1 Counters"), "{text}");
    let row = text
        .lines()
        .find(|line| line.contains("requests"))
        .expect("a row for the counter");
    assert!(row.contains(" 12 ") && row.contains("▁▃▆█"), "{row}");

    running.handle().counters().counter("other").increment();
    state.apply(Ok(source.snapshot().await.expect("a read")));
    press(&mut state, KeyCode::Char('/'));
    type_text(&mut state, "oth");
    assert!(screen(&state, 100, 30).contains("filter: oth▏"));
    press(&mut state, KeyCode::Enter);
    let text = screen(&state, 100, 30);
    assert!(
        text.contains("other") && !text.contains("requests"),
        "{text}"
    );
    assert!(
        text.contains(" other: 1 to 1 over 1 reads "),
        "the chart: {text}"
    );
    press(&mut state, KeyCode::Char('/'));
    press(&mut state, KeyCode::Esc);
    assert!(
        screen(&state, 100, 30).contains("requests"),
        "the filter cleared"
    );
    running.shutdown().await.expect("clean stop");
}

#[tokio::test]
async fn an_option_is_edited_set_and_a_bad_value_is_refused_with_the_reason() {
    let running = service().await;
    let source = LocalAdmin::new(running.handle().admin());
    let mut state = State::new(source.describe());
    state.apply(Ok(source.snapshot().await.expect("a read")));
    press(&mut state, KeyCode::Char('2'));
    assert_eq!(state.pane, Pane::Options);
    let snapshot = state.snapshot.as_ref().expect("read");
    let row = snapshot
        .options
        .keys()
        .position(|name| name == "level")
        .expect("level");
    for _ in 0..row {
        press(&mut state, KeyCode::Down);
    }
    assert_eq!(press(&mut state, KeyCode::Enter), Action::Continue);
    assert!(screen(&state, 100, 30).contains("level = info▏"));
    state.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    type_text(&mut state, "debug");
    assert_eq!(
        press(&mut state, KeyCode::Enter),
        Action::Set(SetOption {
            name: "level".to_owned(),
            value: "debug".to_owned(),
        })
    );
    let set = source.set_option("level", "debug").await;
    state.applied("level", set.map_err(|e| e.to_string()));
    assert!(screen(&state, 100, 30).contains("level = debug"));
    assert_eq!(
        running
            .handle()
            .option("level")
            .expect("an option")
            .as_deref(),
        Some("debug")
    );

    let refused = source.set_option("level", "loud").await;
    state.applied("level", refused.map_err(|e| e.to_string()));
    let text = screen(&state, 100, 30);
    assert!(text.contains("level not changed: "), "{text}");
    // Esc leaves an edit without closing; outside one it closes.
    press(&mut state, KeyCode::Enter);
    assert_eq!(press(&mut state, KeyCode::Esc), Action::Continue);
    assert!(state.editing.is_none());
    assert_eq!(press(&mut state, KeyCode::Esc), Action::Close);
    running.shutdown().await.expect("clean stop");
}

#[tokio::test]
async fn a_failed_read_shows_disconnected_and_keeps_the_last_one() {
    let running = service().await;
    let source = LocalAdmin::new(running.handle().admin());
    let mut state = State::new("http://127.0.0.1:9".to_owned());
    state.apply(Ok(source.snapshot().await.expect("a read")));
    state.apply(Err("connection refused".to_owned()));
    let text = screen(&state, 100, 30);
    assert!(
        text.contains("disconnected: connection refused (retrying)"),
        "{text}"
    );
    assert!(text.contains("Dash 1.2"), "{text}");
    state.apply(Ok(source.snapshot().await.expect("a read")));
    assert!(!screen(&state, 100, 30).contains("disconnected"));
    running.shutdown().await.expect("clean stop");
}

#[test]
fn every_pane_draws_and_a_small_terminal_says_what_it_needs() {
    let mut state = State::new("unix:/run/x.sock".to_owned());
    assert!(screen(&state, 80, 20).contains("reading the service…"));
    state.apply(Ok(AdminSnapshot {
        name: "Far".to_owned(),
        status: "WARNING".to_owned(),
        details: vec!["the disk is full".to_owned()],
        tasks: vec!["Worker".to_owned()],
        exported: [("build".to_owned(), "abc".to_owned())].into(),
        ..AdminSnapshot::default()
    }));
    let expected = [
        (KeyCode::Char('3'), "Worker"),
        (KeyCode::Right, "build"),
        (KeyCode::Right, "The log is not served over the admin API"),
    ];
    for (key, shows) in expected {
        press(&mut state, key);
        let text = screen(&state, 120, 20);
        assert!(text.contains(shows), "{text}");
        assert!(
            text.contains("WARNING") && text.contains("the disk is full"),
            "{text}"
        );
    }
    state.snapshot.as_mut().expect("read").log =
        Some((0..50).map(|i| format!("line {i}")).collect());
    let text = screen(&state, 120, 20);
    assert!(
        text.contains("line 49") && !text.contains("line 0\n"),
        "{text}"
    );
    let text = screen(&state, 30, 8);
    assert!(
        text.contains("needs at least") && text.contains("40x10."),
        "{text}"
    );
    // Keys with nothing to select are harmless.
    for code in [
        KeyCode::Down,
        KeyCode::End,
        KeyCode::PageUp,
        KeyCode::Left,
        KeyCode::Tab,
    ] {
        press(&mut state, code);
    }
}

#[tokio::test]
async fn the_app_reads_in_the_background_and_applies_changes() {
    let running = service().await;
    let mut dashboard = Dashboard::local(running.handle().admin());
    let read = |d: &mut Dashboard| {
        d.on_tick();
        d.state.snapshot.is_some()
    };
    let mut tries = 0;
    while !read(&mut dashboard) {
        tries += 1;
        assert!(tries < 200, "no read within 4 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    dashboard.on_key(KeyEvent::from(KeyCode::Char('2')));
    let row = dashboard
        .state
        .snapshot
        .as_ref()
        .expect("read")
        .options
        .keys()
        .position(|n| n == "level");
    for _ in 0..row.expect("level") {
        dashboard.on_key(KeyEvent::from(KeyCode::Down));
    }
    for code in [
        KeyCode::Enter,
        KeyCode::Backspace,
        KeyCode::Backspace,
        KeyCode::Backspace,
        KeyCode::Backspace,
    ] {
        assert_eq!(dashboard.on_key(KeyEvent::from(code)), Flow::Continue);
    }
    for c in "warn".chars() {
        dashboard.on_key(KeyEvent::from(KeyCode::Char(c)));
    }
    assert_eq!(
        dashboard.on_key(KeyEvent::from(KeyCode::Enter)),
        Flow::Continue
    );
    let mut tries = 0;
    while running
        .handle()
        .option("level")
        .expect("an option")
        .as_deref()
        != Some("warn")
    {
        tries += 1;
        assert!(tries < 200, "not set within 4 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    dashboard.on_tick();
    let message = dashboard.state.message.as_ref().expect("a message");
    assert_eq!(message.text, "level = warn");
    assert_eq!(
        dashboard.on_key(KeyEvent::from(KeyCode::Char('q'))),
        Flow::Close
    );
    running.shutdown().await.expect("clean stop");
}
