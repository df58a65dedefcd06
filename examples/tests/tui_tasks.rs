//! TuiTask in a real terminal (tmux), in services this test binary runs
//! as children of itself (`tui_tasks child <name>`): a panic in the
//! app's draw code, and the built-in dashboard of the service itself.
//! Its own `main` (no libtest harness), so a child is the whole process and
//! its exit status is the service's. It reports as libtest does, on stdout.
#![allow(clippy::print_stdout)]

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use common::TestResult;
use common::tmux::Tmux;
use sparts::http::HttpTask;
use sparts::tui::ratatui::Frame;
use sparts::tui::ratatui::widgets::Paragraph;
use sparts::tui::{Flow, TuiApp, TuiTask, crossterm::event::KeyEvent};
use sparts::{IntoTaskSpec, TaskSpec, VService};

/// Draws until a key arms it, then panics in `draw`.
struct Panicky {
    armed: bool,
}

impl TuiApp for Panicky {
    fn draw(&mut self, frame: &mut Frame<'_>) {
        assert!(!self.armed, "the draw code broke");
        frame.render_widget(Paragraph::new("Panicky is up: any key"), frame.area());
    }

    fn on_key(&mut self, _: KeyEvent) -> Flow {
        self.armed = true;
        Flow::Continue
    }
}

/// The child `name`, with `args` for its service.
fn child(name: &str, args: &[String]) -> ExitCode {
    let service = match name {
        "panic" => VService::new("PanicDemo")
            .with_task(TuiTask::new(|_| Panicky { armed: false }).with_name("Panicky")),
        "dashboard" => VService::new("Dashboarded")
            .with_task(HttpTask::default())
            .with_task(
                TaskSpec::periodic("Talker", |ctx| async move {
                    let talks = ctx.counters().counter("talks");
                    talks.increment();
                    tracing::info!("talking {}", talks.value());
                    Ok(())
                })
                .with_default("interval", "0.2"),
            )
            .with_task(TuiTask::dashboard()),
        _ => return ExitCode::from(3),
    };
    service.run_from_args(std::iter::once("tui_tasks".to_owned()).chain(args.iter().cloned()))
}

fn program(name: &str, args: &str) -> TestResult<String> {
    Ok(format!(
        "{} child {name} {args}",
        std::env::current_exe()?.display()
    ))
}

/// Asks the service on the unix socket `sock` to shut down.
fn admin_shutdown(sock: &std::path::Path) -> TestResult<String> {
    let mut stream = UnixStream::connect(sock)?;
    stream.set_read_timeout(Some(common::PATIENCE))?;
    stream.write_all(b"POST /admin/shutdown HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

fn a_panic_in_draw_restores_the_terminal_and_exits_1_naming_the_task() -> TestResult {
    let ui = Tmux::run(&program("panic", "")?)?;
    ui.wait_for_all(&["Panicky is up"])?;
    ui.keys(&["x"])?;
    let screen = ui.wait_exit(1)?;
    assert!(
        screen.contains("Panicky") && screen.contains("the draw code broke"),
        "{screen}"
    );
    assert!(
        !screen.contains("Panicky is up"),
        "the alternate screen is gone:\n{screen}"
    );
    Ok(())
}

fn the_dashboard_keeps_the_log_in_a_pane_and_an_admin_shutdown_restores_the_terminal() -> TestResult
{
    let dir = tempfile::tempdir()?;
    let sock = dir.path().join("admin.sock");
    let ui = Tmux::run(&program(
        "dashboard",
        &format!("--http-sock {}", sock.display()),
    )?)?;
    let screen = ui.wait_for_all(&["Dashboarded", "ALIVE", "in process", "Talker.talks"])?;
    assert!(
        !screen.contains("talking"),
        "a log line on the dashboard:\n{screen}"
    );
    ui.keys(&["3"])?;
    ui.wait_for_all(&["Talker", "Dashboard"])?;
    ui.keys(&["5"])?;
    ui.wait_for_all(&["INFO", "talking "])?;
    let answer = admin_shutdown(&sock)?;
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let screen = ui.wait_exit(0)?;
    assert!(screen.contains("Shutdown requested"), "{screen}");
    Ok(())
}

/// A test of this binary: its name and its body.
type Test = (&'static str, fn() -> TestResult);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, name, rest @ ..] = args.as_slice()
        && mode == "child"
    {
        return child(name, rest);
    }
    if !Tmux::available() {
        eprintln!(
            "skipping the TuiTask terminal tests: tmux is not installed (apt-get install tmux)"
        );
        return ExitCode::SUCCESS;
    }
    let tests: [Test; 2] = [
        (
            "a_panic_in_draw_restores_the_terminal_and_exits_1_naming_the_task",
            a_panic_in_draw_restores_the_terminal_and_exits_1_naming_the_task,
        ),
        (
            "the_dashboard_keeps_the_log_in_a_pane_and_an_admin_shutdown_restores_the_terminal",
            the_dashboard_keeps_the_log_in_a_pane_and_an_admin_shutdown_restores_the_terminal,
        ),
    ];
    let mut failed = 0;
    for (name, test) in tests {
        match test() {
            Ok(()) => println!("test {name} ... ok"),
            Err(e) => {
                println!("test {name} ... FAILED\n{e}");
                failed += 1;
            }
        }
    }
    println!(
        "test result: {} passed; {failed} failed",
        tests.len() - failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
