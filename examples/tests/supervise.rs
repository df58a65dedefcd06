//! Installing the examples under a supervisor, as real processes:
//! `--print-systemd-unit` gives units `systemd-analyze verify` accepts,
//! `--install-systemd` and `--runit-install` write their files (and refuse
//! to overwrite other content without `--force`), and runit's `run`
//! script really starts the service.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, ExitStatus};

use common::{Example, TestResult, client};

const HELLO: &str = env!("CARGO_BIN_EXE_http_hello");
const DEMO: &str = env!("CARGO_BIN_EXE_demo");

/// Runs `bin` with `args` to its end (bounded): status and output.
fn run(bin: &str, args: &[&str]) -> TestResult<(ExitStatus, String)> {
    common::run(Command::new(bin).args(args))
}

/// `systemd-analyze verify` on `unit`, or `None` when it is not installed.
fn verify(unit: &Path) -> TestResult<Option<(ExitStatus, String)>> {
    match Command::new("systemd-analyze")
        .arg("verify")
        .arg(unit)
        .output()
    {
        Ok(out) => {
            let said = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            Ok(Some((out.status, said)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[test]
fn systemd_analyze_verifies_the_units_of_http_hello_and_demo() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cases: [(&str, &str, &[&str]); 3] = [
        ("hello-service", HELLO, &["--http-port", "8000"]),
        (
            "hello-service",
            HELLO,
            &[
                "--daemon",
                "--logfile",
                "/var/log/hello/hello.log",
                "--pidfile",
                "/srv/hello dir/hello.pid",
                "--http-host",
                "127.0.0.1",
            ],
        ),
        (
            "demo",
            DEMO,
            &["--http-port", "8080", "--level", "info,h2=warn"],
        ),
    ];
    for (name, bin, args) in cases {
        let mut with_flag = args.to_vec();
        with_flag.push("--print-systemd-unit");
        let (status, unit) = run(bin, &with_flag)?;
        assert!(status.success(), "{status}: {unit}");
        assert!(unit.contains(&format!("ExecStart={bin} ")), "{unit}");
        assert!(!unit.contains("--print-systemd-unit"), "{unit}");
        let exec = unit.lines().find(|l| l.starts_with("ExecStart="));
        assert!(exec.is_some_and(|l| !l.contains("--daemon")), "{unit}");
        for line in ["Type=notify", "WatchdogSec=", "ProtectSystem=strict"] {
            assert!(unit.contains(line), "{line} in {unit}");
        }
        let path = dir.path().join(format!("{name}.service"));
        std::fs::write(&path, format!("{unit}\n"))?;
        let Some((status, said)) = verify(&path)? else {
            eprintln!(
                "systemd-analyze not found: unit verification skipped (apt-get install systemd)"
            );
            return Ok(());
        };
        assert!(
            status.success(),
            "systemd-analyze verify ({status}):\n{said}\non:\n{unit}"
        );
        assert!(
            !said.contains(&path.display().to_string()),
            "warnings:\n{said}\non:\n{unit}"
        );
    }
    Ok(())
}

#[test]
fn install_systemd_writes_once_and_replaces_only_when_forced() -> TestResult {
    let dir = tempfile::tempdir()?;
    let units = dir.path().join("system");
    let units_arg = units.to_str().ok_or("utf-8 path")?;
    let install = |extra: &[&str]| {
        let mut args = vec!["--install-systemd", "--systemd-dir", units_arg];
        args.extend_from_slice(extra);
        run(HELLO, &args)
    };
    let unit = units.join("hello-service.service");

    let (status, said) = install(&["--http-port", "8000"])?;
    assert!(status.success(), "{status}: {said}");
    assert!(said.contains("systemctl daemon-reload"), "{said}");
    assert!(
        said.contains("systemctl enable --now hello-service.service"),
        "{said}"
    );
    let first = std::fs::read_to_string(&unit)?;
    assert!(first.contains("--http-port 8000"), "{first}");
    assert!(
        !first.contains("--install-systemd") && !first.contains(units_arg),
        "{first}"
    );

    let (status, said) = install(&["--http-port", "8000"])?;
    assert!(status.success(), "the same unit again: {status}: {said}");

    let (status, said) = install(&["--http-port", "9000"])?;
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(
        said.contains(&unit.display().to_string()) && said.contains("--force"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&unit)?, first);

    let (status, said) = install(&["--http-port", "9000", "--force"])?;
    assert!(status.success(), "{status}: {said}");
    assert!(std::fs::read_to_string(&unit)?.contains("--http-port 9000"));

    let (status, said) = install(&["--user", "--http-port", "9000", "--force"])?;
    assert!(status.success(), "{status}: {said}");
    assert!(said.contains("systemctl --user enable --now"), "{said}");
    assert!(std::fs::read_to_string(&unit)?.contains("WantedBy=default.target"));
    Ok(())
}

#[tokio::test]
async fn runit_run_script_starts_the_service() -> TestResult {
    let dir = tempfile::tempdir()?;
    let runsvdir = dir.path().to_str().ok_or("utf-8 path")?;
    let install = |port: &str, extra: &[&str]| {
        let mut args = vec!["--http-port", port, "--daemon", "--runit-install"];
        args.extend_from_slice(&["--runit-dir", runsvdir]);
        args.extend_from_slice(extra);
        run(HELLO, &args)
    };
    let (status, said) = install("0", &[])?;
    assert!(status.success(), "{status}: {said}");
    let service = dir.path().join("hello-service");
    for script in ["run", "log/run"] {
        let path = service.join(script);
        let mode = std::fs::metadata(&path)?.permissions().mode();
        assert_eq!(mode & 0o777, 0o755, "{script}");
        let (status, said) = common::run(Command::new("sh").arg("-n").arg(&path))?;
        assert!(status.success(), "sh -n {script}: {said}");
    }
    assert!(service.join("log/main").is_dir());
    let run_script = std::fs::read_to_string(service.join("run"))?;
    assert!(run_script.contains("exec 2>&1"), "{run_script}");
    let exec = run_script.lines().find(|l| l.starts_with("exec /"));
    assert!(
        exec.is_some_and(|l| !l.contains("--daemon")),
        "{run_script}"
    );

    // As runsv runs it: in the service directory, the log on stdout.
    let mut child =
        Example::spawn_command(Command::new(service.join("run")).current_dir(&service))?;
    let port = child.logged_port("HttpTask")?;
    child.expect_line("All tasks started")?;
    let body = client()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(body, "Hello, world");
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");

    assert!(install("0", &[])?.0.success(), "the same files again");
    let (status, said) = install("8000", &[])?;
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(
        said.contains(&service.join("run").display().to_string()),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(service.join("run"))?, run_script);
    assert!(install("8000", &["--force"])?.0.success());
    assert!(std::fs::read_to_string(service.join("run"))?.contains("--http-port 8000"));
    Ok(())
}

#[test]
fn bad_targets_and_paths_are_clear_errors() -> TestResult {
    let dir = tempfile::tempdir()?;
    // A directory below a file cannot be made, even by root.
    let file = dir.path().join("file");
    std::fs::write(&file, "")?;
    let below = file.join("units");
    let below_arg = below.to_str().ok_or("utf-8 path")?;
    for args in [
        ["--install-systemd", "--systemd-dir", below_arg],
        ["--runit-install", "--runit-dir", below_arg],
    ] {
        let (status, said) = run(HELLO, &args)?;
        assert_eq!(status.code(), Some(1), "{args:?}: {said}");
        assert!(
            said.contains(below_arg) && !said.contains("panicked"),
            "{said}"
        );
    }
    for (args, complaint) in [
        (
            ["--print-systemd-unit", "--logfile", "hello.log"],
            "absolute path",
        ),
        (["--user", "--http-port", "0"], "--user applies only"),
        (["--force", "--http-port", "0"], "--force applies only"),
    ] {
        let (status, said) = run(HELLO, &args)?;
        assert_eq!(status.code(), Some(2), "{args:?}: {said}");
        assert!(
            said.contains(complaint) && !said.contains("panicked"),
            "{said}"
        );
    }
    Ok(())
}
