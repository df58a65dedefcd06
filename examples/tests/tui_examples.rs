//! The terminal UIs in a real terminal (tmux): `tui_demo`'s form and its
//! ways out, and `sparts-top` watching the demo; and both without one.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::tmux::Tmux;
use common::{Example, TestResult, client, demo_command, run};
use nix::sys::signal::{Signal, kill};

/// `sparts-top`, a binary of another package of the workspace: built by
/// the workspace's test command, or here if it is not.
fn sparts_top() -> TestResult<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or("no target directory")?;
    let top = dir.join("sparts-top");
    if !top.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "sparts-tui",
                "--bin",
                "sparts-top",
            ])
            .status()?;
        assert!(status.success(), "cargo build of sparts-top failed");
    }
    Ok(top)
}

/// Whether to skip a terminal test: only where tmux is missing.
fn no_tmux() -> bool {
    let missing = !Tmux::available();
    if missing {
        eprintln!("skipping: tmux is not installed (apt-get install tmux)");
    }
    missing
}

/// The demo with a producer ticking every half second, and its HTTP port.
fn demo(bus_name: &str, port: u16) -> TestResult<(Example, u16)> {
    let command = demo_command(bus_name, &[]);
    let args: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    let port = port.to_string();
    for (flag, value) in [
        ("--producer-interval", "0.5"),
        ("--http-port", port.as_str()),
    ] {
        let at = args.iter().position(|a| *a == flag).ok_or(flag)?;
        args[at + 1] = value;
    }
    let mut demo = Example::spawn(env!("CARGO_BIN_EXE_demo"), &args)?;
    let (http, _, _) = demo.demo_ports()?;
    Ok((demo, http))
}

async fn get_json(url: &str) -> TestResult<serde_json::Value> {
    let body = client().get(url).send().await?.bytes().await?;
    Ok(serde_json::from_slice(&body)?)
}

/// The value on the screen's row for `counter`.
fn counter_on(screen: &str, counter: &str) -> Option<String> {
    let row = screen
        .lines()
        .find(|line| line.trim_start().starts_with(counter))?;
    row.split_whitespace().nth(1).map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn sparts_top_watches_the_demo_sets_an_option_and_quits() -> TestResult {
    if no_tmux() {
        return Ok(());
    }
    let (_demo, port) = demo("org.sparts.TopWatch", 0)?;
    let top = Tmux::run(&format!(
        "{} http://127.0.0.1:{port}",
        sparts_top()?.display()
    ))?;
    top.wait_for_all(&[
        "Demo",
        "ALIVE",
        "1 Counters",
        &format!("http://127.0.0.1:{port}"),
    ])?;

    // A counter that moves, found with the filter, read from two captures.
    top.type_text("/Producer.n_iterations")?;
    top.keys(&["Enter"])?;
    let counter = "Producer.n_iterations";
    let first = top.wait_for(counter, |s| counter_on(s, counter).is_some())?;
    let first = counter_on(&first, counter).ok_or("no value")?;
    top.wait_for("the counter to change", |s| {
        counter_on(s, counter).is_some_and(|now| now != first)
    })?;

    // An option edited in sparts-top is the service's.
    let base = format!("http://127.0.0.1:{port}");
    let options = get_json(&format!("{base}/admin/options")).await?;
    let names: Vec<&String> = options.as_object().ok_or("options")?.keys().collect();
    let row = names
        .iter()
        .position(|n| *n == "producer_interval")
        .ok_or("no option")?;
    top.keys(&["2"])?;
    top.wait_for_all(&["admin_trusted", "Enter edit"])?;
    for _ in 0..row {
        top.keys(&["Down"])?;
    }
    top.keys(&["Enter"])?;
    top.wait_for_all(&["producer_interval = 0.5▏"])?;
    top.keys(&["C-u"])?;
    top.type_text("7")?;
    top.keys(&["Enter"])?;
    top.wait_for_applied("producer_interval = 7")?;
    let set = get_json(&format!("{base}/admin/options/producer_interval")).await?;
    assert_eq!(set["value"], "7");
    // A value the service refuses is shown, not a crash.
    top.keys(&["Enter", "C-u"])?;
    top.type_text("soon")?;
    top.keys(&["Enter"])?;
    top.wait_for_all(&["producer_interval not changed: "])?;

    // Once this peer is no longer trusted, a change is refused, and shown.
    let trusted = names
        .iter()
        .position(|n| *n == "admin_trusted")
        .ok_or("no option")?;
    top.keys(&["Home"])?;
    for _ in 0..trusted {
        top.keys(&["Down"])?;
    }
    top.keys(&["Enter", "C-u"])?;
    top.type_text("10.0.0.0/8")?;
    top.keys(&["Enter"])?;
    top.wait_for_applied("admin_trusted = 10.0.0.0/8")?;
    top.keys(&["Home"])?;
    for _ in 0..row {
        top.keys(&["Down"])?;
    }
    top.keys(&["Enter", "C-u"])?;
    top.type_text("9")?;
    top.keys(&["Enter"])?;
    top.wait_for_all(&["producer_interval not changed: setOption refused: peer 127.0.0.1 is not"])?;
    let kept = get_json(&format!("{base}/admin/options/producer_interval")).await?;
    assert_eq!(kept["value"], "7");

    top.keys(&["q"])?;
    top.wait_exit(0)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn sparts_top_shows_a_service_gone_and_reconnects_when_it_is_back() -> TestResult {
    if no_tmux() {
        return Ok(());
    }
    let (mut demo_1, port) = demo("org.sparts.TopGone", 0)?;
    let top = Tmux::run(&format!(
        "{} http://127.0.0.1:{port}",
        sparts_top()?.display()
    ))?;
    top.wait_for_all(&["Demo", "ALIVE"])?;
    assert!(demo_1.sigterm()?.success());
    top.wait_for_all(&["disconnected: cannot reach", "(retrying)"])?;
    let (_demo_2, again) = demo("org.sparts.TopGone", port)?;
    assert_eq!(again, port);
    top.wait_for("the dashboard connected again", |s| {
        s.contains("ALIVE") && !s.contains("disconnected")
    })?;
    top.keys(&["C-c"])?;
    top.wait_exit(0)?;
    Ok(())
}

#[test]
fn sparts_top_watches_a_service_on_a_unix_socket_and_may_set_its_options() -> TestResult {
    if no_tmux() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let sock = dir.path().join("admin.sock");
    let sock = sock.to_str().ok_or("utf-8 path")?;
    let mut hello = Example::spawn(env!("CARGO_BIN_EXE_http_hello"), &["--http-sock", sock])?;
    hello.expect_line("All tasks started")?;
    let top = Tmux::run(&format!("{} unix:{sock}", sparts_top()?.display()))?;
    top.wait_for_all(&["HelloService", "ALIVE", &format!("unix:{sock}")])?;
    // A unix socket peer is trusted: the option is set.
    top.keys(&["2", "Home", "Enter", "C-u"])?;
    let screen = top.wait_for("an option being edited", |s| s.contains("▏  Enter applies"))?;
    let name = screen
        .lines()
        .rev()
        .find_map(|line| {
            line.split_once(" = ")
                .map(|(name, _)| name.trim().to_owned())
        })
        .ok_or("no option edited")?;
    assert_eq!(name, "admin_trusted", "{screen}");
    top.type_text("10.0.0.0/8")?;
    top.keys(&["Enter"])?;
    top.wait_for_applied("admin_trusted = 10.0.0.0/8")?;
    top.keys(&["q"])?;
    top.wait_exit(0)?;
    Ok(())
}

#[test]
fn sparts_top_says_why_it_cannot_watch() -> TestResult {
    let top = sparts_top()?;
    let (status, out) = run(Command::new(&top).arg("127.0.0.1:8080"))?;
    assert_eq!(status.code(), Some(2), "{out}");
    assert!(
        out.contains("invalid target \"127.0.0.1:8080\"") && out.contains("http://HOST:PORT"),
        "{out}"
    );

    let closed = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let (status, out) = run(Command::new(&top).arg(format!("http://127.0.0.1:{closed}")))?;
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("cannot reach http://127.0.0.1:{closed}")),
        "{out}"
    );

    // Something that answers HTTP, but not a sparts admin API.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let other = listener.local_addr()?.port();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut request = [0; 1024];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
        }
    });
    let (status, out) = run(Command::new(&top).arg(format!("http://127.0.0.1:{other}")))?;
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("does not serve a sparts admin API: GET /admin/status answered something other than its JSON"), "{out}");

    // A real service, but no terminal to show it on.
    let (_demo, port) = demo("org.sparts.TopNoTty", 0)?;
    let (status, out) = run(Command::new(&top).arg(format!("http://127.0.0.1:{port}")))?;
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        out.contains("sparts-top needs a terminal: stdin is not a terminal"),
        "{out}"
    );
    Ok(())
}

#[test]
fn tui_demo_keys_change_the_form_and_q_exits_0_with_the_log_kept_off_the_screen() -> TestResult {
    if no_tmux() {
        return Ok(());
    }
    let ui = Tmux::run(env!("CARGO_BIN_EXE_tui_demo"))?;
    let screen = ui.wait_for_all(&["Demo form", "› Name", "Ticks: "])?;
    assert!(!screen.contains("INFO"), "a log line on the UI:\n{screen}");
    ui.type_text("Ada")?;
    ui.keys(&["Tab", "Right"])?;
    ui.wait_for_all(&["Hello, Ada!", "Colour: green", "› Colour"])?;
    ui.keys(&["Tab", "Right", "Right"])?;
    ui.wait_for_all(&["7/10", "› Volume"])?;
    // `q` in the text field is text; elsewhere it closes.
    ui.keys(&["Tab", "q"])?;
    ui.wait_for_all(&["Hello, Adaq!"])?;
    ui.keys(&["Tab", "q"])?;
    let screen = ui.wait_exit(0)?;
    // What was logged while the UI was up is printed once it is gone.
    assert!(
        screen.contains("All tasks started") && screen.contains("the UI was closed"),
        "{screen}"
    );
    Ok(())
}

#[test]
fn tui_demo_exits_0_on_sigterm_or_sigint_and_gives_the_terminal_back() -> TestResult {
    if no_tmux() {
        return Ok(());
    }
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let ui = Tmux::run(env!("CARGO_BIN_EXE_tui_demo"))?;
        ui.wait_for_all(&["Demo form", "Ticks: "])?;
        kill(ui.program_pid()?, signal)?;
        let screen = ui.wait_exit(0)?;
        assert!(
            !screen.contains("Demo form"),
            "{signal}: the alternate screen is gone:\n{screen}"
        );
    }
    Ok(())
}

#[test]
fn tui_demo_closed_without_shutting_down_runs_on_until_sigterm() -> TestResult {
    if no_tmux() {
        return Ok(());
    }
    let program = format!(
        "{} --tui-shutdown-on-close false",
        env!("CARGO_BIN_EXE_tui_demo")
    );
    let ui = Tmux::run(&program)?;
    ui.wait_for_all(&["Demo form"])?;
    let pid = ui.program_pid()?;
    ui.keys(&["Escape"])?;
    ui.wait_for_all(&["the UI was closed; the s"])?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    kill(pid, None).map_err(|e| format!("the service is gone: {e}"))?;
    kill(pid, Signal::SIGTERM)?;
    ui.wait_exit(0)?;
    Ok(())
}

#[test]
fn a_terminal_too_small_says_what_it_needs() -> TestResult {
    if no_tmux() {
        return Ok(());
    }
    let (_demo, port) = demo("org.sparts.TopSmall", 0)?;
    let top = Tmux::run_sized(
        &format!("{} http://127.0.0.1:{port}", sparts_top()?.display()),
        30,
        8,
    )?;
    top.wait_for_all(&["The terminal is 30x8", "needs at least"])?;
    top.keys(&["q"])?;
    top.wait_exit(0)?;
    // The form draws what fits, and closes as ever.
    let ui = Tmux::run_sized(env!("CARGO_BIN_EXE_tui_demo"), 20, 4)?;
    ui.wait_for_all(&["Demo"])?;
    ui.keys(&["Escape"])?;
    ui.wait_exit(0)?;
    Ok(())
}

#[test]
fn tui_demo_without_a_terminal_names_the_task_and_exits_1() -> TestResult {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tui_demo"));
    let (status, out) = run(command.stdin(Stdio::null()))?;
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        out.contains("TuiTask needs a terminal: stdin is not a terminal"),
        "{out}"
    );
    Ok(())
}
