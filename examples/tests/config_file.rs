//! `--config` on a real process: `http_hello` reads its port and lame-duck
//! time from a file, SIGHUP applies what changed in it, and a file broken
//! meanwhile keeps the options and raises a warning.

mod common;

use common::{Example, TestResult, get_json};
use nix::sys::signal::Signal;

const HELLO: &str = env!("CARGO_BIN_EXE_http_hello");

#[tokio::test]
async fn sighup_reads_the_config_file_again() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("hello.toml");
    std::fs::write(
        &file,
        "[http]\nhost = \"127.0.0.1\"\nport = 0\nlameduck = 1\n",
    )?;
    let file_arg = file.to_str().ok_or("utf-8 path")?;
    let mut server = Example::spawn(HELLO, &["--config", file_arg])?;
    let port = server.logged_port("HttpTask")?;
    server.expect_line("All tasks started")?;
    let options = get_json(port, "/admin/options?source=true").await?;
    assert_eq!(options["http_lameduck"]["value"], "1");
    assert_eq!(options["http_lameduck"]["source"], "file");
    assert_eq!(options["http_host"]["source"], "file");

    // The port stays what the listener has (0 would pick another).
    std::fs::write(
        &file,
        format!("[http]\nhost = \"127.0.0.1\"\nport = {port}\nlameduck = 2.5\n"),
    )?;
    server.signal(Signal::SIGHUP)?;
    server.expect_line("option http_lameduck set from the config file")?;
    server.expect_line("All tasks started")?;
    let options = get_json(port, "/admin/options?source=true").await?;
    assert_eq!(options["http_lameduck"]["value"], "2.5");

    std::fs::write(&file, "[http]\nlameduck = \"soon\"\n")?;
    server.signal(Signal::SIGHUP)?;
    server.expect_line("All tasks started")?;
    let status = get_json(port, "/admin/status").await?;
    assert_eq!(status["status"], "WARNING", "{status}");
    let details = status["details"].to_string();
    assert!(
        details.contains("line 2, [http] lameduck") && details.contains("soon"),
        "{status}"
    );
    let options = get_json(port, "/admin/options").await?;
    assert_eq!(options["http_lameduck"], "2.5", "the options stay");
    assert_eq!(server.sigterm()?.code(), Some(0));
    Ok(())
}

#[test]
fn a_bad_file_exits_2_and_generate_config_prints_one_that_works() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("hello.toml");
    std::fs::write(&file, "[htp]\nport = 1\n")?;
    let out = std::process::Command::new(HELLO)
        .args(["--config", file.to_str().ok_or("utf-8 path")?])
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 1, [htp]: no task has the prefix htp; did you mean http?"),
        "{stderr}"
    );
    let out = std::process::Command::new(HELLO)
        .args(["--http-port", "8123", "--generate-config"])
        .output()?;
    assert_eq!(out.status.code(), Some(0));
    let generated = String::from_utf8(out.stdout)?;
    assert!(
        generated.contains("\n[http]\n") && generated.contains("port = 8123\n"),
        "{generated}"
    );
    std::fs::write(&file, &generated)?;
    let again = std::process::Command::new(HELLO)
        .args([
            "--config",
            file.to_str().ok_or("utf-8 path")?,
            "--generate-config",
        ])
        .output()?;
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(String::from_utf8(again.stdout)?, generated);
    Ok(())
}
