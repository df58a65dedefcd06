//! The config file (`--config`): errors with their line, the generated
//! file's round trip, and reading it again at a restart.

use std::path::Path;

use sparts_core::options::OptionSource;
use sparts_core::{BoxError, Error, IntoTaskSpec, Status, TaskContext, VService, VTask, clap};

#[derive(clap::Args, Clone, Debug)]
struct ServerOptions {
    /// The port to listen on.
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Peers allowed in.
    #[arg(long, value_delimiter = ',')]
    allow: Vec<String>,
    /// Say more.
    #[arg(long)]
    verbose: bool,
    /// A name, with no default.
    #[arg(long)]
    label: Option<String>,
}

#[derive(Clone)]
struct Server;

impl VTask<ServerOptions> for Server {
    async fn run(&self, ctx: TaskContext<ServerOptions>) -> Result<(), BoxError> {
        ctx.stopped().await;
        Ok(())
    }
}

fn service() -> VService {
    VService::new("Configured").with_task(Server.with_prefix("http"))
}

fn write(dir: &Path, text: &str) -> String {
    let path = dir.join("service.toml");
    std::fs::write(&path, text).expect("write the config file");
    path.display().to_string()
}

/// The message a bad start gives (`run_from_cli` prints it and exits 2).
async fn refused(text: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), text);
    match service().start_with_args(["svc", "--config", &path]).await {
        Err(Error::Usage(message)) => message,
        Err(other) => panic!("{text:?}: not a usage error: {other}"),
        Ok(running) => {
            let _ = running.shutdown().await;
            panic!("{text:?} was accepted")
        }
    }
}

#[tokio::test]
async fn file_values_go_through_the_options_own_parsers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "level = \"debug\"\nshutdown_timeout = 2.5\nadmin-trusted = [\"10.0.0.0/8\"]\n\n\
         [http]\nport = 0x1F90\nallow = [\"a\", \"b\"]\nverbose = true\n",
    );
    let running = service()
        .start_with_args(["svc", "--config", &path])
        .await
        .expect("starts");
    let h = running.handle();
    let value = |name: &str| h.option(name).expect("known");
    assert_eq!(value("http_port").as_deref(), Some("8080"));
    assert_eq!(value("http_allow").as_deref(), Some("a,b"));
    assert_eq!(value("http_verbose").as_deref(), Some("true"));
    assert_eq!(value("shutdown_timeout").as_deref(), Some("2.5"));
    assert_eq!(value("admin_trusted").as_deref(), Some("10.0.0.0/8"));
    assert_eq!(value("level").as_deref(), Some("debug"));
    let sources = h.option_sources();
    assert_eq!(sources["http_port"], OptionSource::File);
    assert_eq!(sources["http_label"], OptionSource::Default);
    running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn every_error_names_the_file_the_line_and_the_key() {
    let cases = [
        ("level = \"info\"\nport = = 1\n", "line 2", "expected"),
        (
            "[http]\nport = \"eighty\"\n",
            "line 2, [http] port",
            "invalid value 'eighty'",
        ),
        ("[http]\n\nport = 70000\n", "line 3, [http] port", "70000"),
        (
            "[http]\nprot = 1\n",
            "line 2, [http] prot",
            "did you mean port?",
        ),
        (
            "[htp]\nport = 1\n",
            "line 1, [htp]",
            "no task has the prefix htp; did you mean http?",
        ),
        (
            "shutdown_timeuot = 1\n",
            "line 1, shutdown_timeuot",
            "did you mean shutdown_timeout?",
        ),
        (
            "[http]\nport = [1, 2]\n",
            "line 2, [http] port",
            "expects one value, not an array",
        ),
        (
            "[http]\nlabel = 1979-05-27\n",
            "[http] label",
            "not the date 1979-05-27",
        ),
        ("[http]\nlabel = { a = 1 }\n", "[http] label", "not a table"),
        (
            "kill = true\n",
            "line 1, kill",
            "cannot be set in a config file",
        ),
        (
            "shutdown_timeout = \"soon\"\n",
            "line 1, shutdown_timeout",
            "soon",
        ),
    ];
    for (text, place, says) in cases {
        let message = refused(text).await;
        assert!(
            message.contains("config file ") && message.contains(place) && message.contains(says),
            "{text:?}: want {place:?} and {says:?} in {message:?}"
        );
    }
    let missing = service()
        .start_with_args(["svc", "--config", "/nonexistent/service.toml"])
        .await
        .expect_err("no file");
    assert!(
        missing
            .to_string()
            .contains("config file /nonexistent/service.toml: cannot be read"),
        "{missing}"
    );
}

#[test]
fn a_bad_file_is_a_usage_error_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "[http]\nport = \"x\"\n");
    let code = service()
        .with_signals(false)
        .run_from_args(["svc", "--config", &path]);
    assert_eq!(code, std::process::ExitCode::from(2));
}

#[tokio::test]
async fn the_generated_file_gives_the_same_options_back() {
    const FLAGS: [&str; 9] = [
        "svc",
        "--http-port",
        "9001",
        "--http-allow",
        "x,y z",
        "--level",
        "warn,h2=error",
        "--shutdown-timeout",
        "0.5",
    ];
    let generating = FLAGS.iter().copied().chain(["--generate-config"]);
    let generated = match service().start_with_args(generating).await {
        Err(Error::Usage(text)) => text,
        other => panic!("--generate-config prints the file: {other:?}"),
    };
    assert!(
        generated.contains("# The port to listen on\nport = 9001\n"),
        "{generated}"
    );
    assert!(
        generated.contains("allow = [\"x\", \"y z\"]"),
        "{generated}"
    );
    assert!(generated.contains("# label =\n"), "{generated}");
    assert!(generated.contains("\n[http]\n"), "{generated}");
    assert!(!generated.contains("kill"), "{generated}");
    let flags = service().start_with_args(FLAGS).await.expect("starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), &generated);
    let file = service()
        .start_with_args(["svc", "--config", &path])
        .await
        .expect("the generated file reads");
    let mut from_flags = flags.handle().options();
    let mut from_file = file.handle().options();
    // Only the file's own name differs.
    from_flags.remove("config");
    from_file.remove("config");
    assert_eq!(from_flags, from_file);
    flags.shutdown().await.expect("stops");
    file.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_restart_reads_the_file_again_and_a_broken_one_keeps_the_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "shutdown_timeout = 4\n[http]\nport = 8200\nlabel = \"one\"\n",
    );
    let running = service()
        .start_with_args(["svc", "--config", &path, "--http-verbose"])
        .await
        .expect("starts");
    let h = running.handle().clone();
    let restart = || async {
        let before = h.start_count();
        h.request_restart();
        h.wait_for_start(before).await.expect("restarts");
    };
    // Changed values are applied; a value the file no longer gives goes
    // back to its default; the command line still wins.
    write(
        dir.path(),
        "shutdown_timeout = 3\n[http]\nport = 8201\nverbose = false\n",
    );
    restart().await;
    assert_eq!(
        h.option("http_port").expect("known").as_deref(),
        Some("8201")
    );
    assert_eq!(
        h.option("shutdown_timeout").expect("known").as_deref(),
        Some("3")
    );
    assert_eq!(h.option("http_label").expect("known"), None);
    assert_eq!(
        h.option("http_verbose").expect("known").as_deref(),
        Some("true")
    );
    assert_eq!(
        h.option_sources()["http_verbose"],
        OptionSource::CommandLine
    );

    // A file that does not read: the options stay, and a warning says why.
    write(dir.path(), "[http]\nport = \"x\"\n");
    restart().await;
    assert_eq!(
        h.option("http_port").expect("known").as_deref(),
        Some("8201")
    );
    assert_eq!(h.status(), Status::Warning, "{}", h.status_details());
    let details = h.status_details();
    assert!(
        details.contains("line 2, [http] port") && details.contains("the options stay"),
        "{details}"
    );

    // Mended: applied, and the warning is gone.
    write(dir.path(), "[http]\nport = 8202\n");
    restart().await;
    assert_eq!(
        h.option("http_port").expect("known").as_deref(),
        Some("8202")
    );
    assert_eq!(h.status(), Status::Alive);
    running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_task_without_a_prefix_has_its_options_at_the_top_level() {
    let unprefixed = || {
        VService::new("Bare")
            .with_task(Server.with_prefix("http"))
            .with_task(Server.with_name("Plain").with_prefix(""))
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "port = 9100\nlevel = \"warn\"\n[http]\nport = 9200\n",
    );
    let generated = match unprefixed()
        .start_with_args(["svc", "--config", &path, "--generate-config"])
        .await
    {
        Err(Error::Usage(text)) => text,
        other => panic!("--generate-config prints the file: {other:?}"),
    };
    // Both top-level groups come before the first table.
    let table = generated.find("\n[http]\n").expect("the http table");
    assert!(
        generated
            .find("\nport = 9100\n")
            .is_some_and(|at| at < table),
        "{generated}"
    );
    let path = write(dir.path(), &generated);
    let running = unprefixed()
        .start_with_args(["svc", "--config", &path])
        .await
        .expect("the generated file reads");
    let h = running.handle();
    assert_eq!(h.option("port").expect("known").as_deref(), Some("9100"));
    assert_eq!(
        h.option("http_port").expect("known").as_deref(),
        Some("9200")
    );
    assert_eq!(h.option("level").expect("known").as_deref(), Some("warn"));
    running.shutdown().await.expect("stops");
}
