//! The five sources of an option, each beating those below it: run time,
//! command line, environment, config file, the registration's default,
//! the type's default. Its own test binary: it changes the process
//! environment, which no other test may read concurrently.

use sparts_core::options::OptionSource;
use sparts_core::{BoxError, IntoTaskSpec, TaskContext, VService, VTask, clap};

#[derive(clap::Args, Clone, Debug)]
struct ServerOptions {
    /// Port.
    #[arg(long, default_value_t = 8000)]
    port: u16,
}

#[derive(Clone)]
struct Server;

impl VTask<ServerOptions> for Server {
    async fn run(&self, ctx: TaskContext<ServerOptions>) -> Result<(), BoxError> {
        ctx.stopped().await;
        Ok(())
    }
}

#[test]
fn each_source_beats_the_ones_below_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ordered.toml");
    std::fs::write(&file, "shutdown_timeout = 4\n[http]\nport = 8200\n").expect("write");
    let file = file.display().to_string();
    let service = || {
        VService::new("Ordered").with_task(Server.with_prefix("http").with_default("port", "8100"))
    };
    let bare = || VService::new("Ordered").with_task(Server.with_prefix("http"));
    // What one start gives the service option and the task option, with
    // their sources.
    let read = |service: VService, args: &[&str]| {
        let args: Vec<&str> = std::iter::once("svc").chain(args.iter().copied()).collect();
        // A runtime of its own, gone before the environment changes.
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let running = service.start_with_args(args).await.expect("starts");
            let h = running.handle().clone();
            let value = |name: &str| h.option(name).expect("known").unwrap_or_default();
            let sources = h.option_sources();
            let got = [
                (value("shutdown_timeout"), sources["shutdown_timeout"]),
                (value("http_port"), sources["http_port"]),
            ];
            running.shutdown().await.expect("stops");
            got
        })
    };
    let pair = |t: &str, ts, p: &str, ps| [(t.to_owned(), ts), (p.to_owned(), ps)];
    use OptionSource::{CommandLine, Default, Environment, File};

    assert_eq!(
        read(bare(), &[]),
        pair("10", Default, "8000", Default),
        "the type's defaults"
    );
    assert_eq!(
        read(service(), &[]),
        pair("10", Default, "8100", Default),
        "the registration's"
    );
    assert_eq!(
        read(service(), &["--config", &file]),
        pair("4", File, "8200", File),
        "the file beats the defaults"
    );
    // SAFETY: this binary's only test, and no runtime or service is
    // running: nothing reads the environment concurrently.
    unsafe {
        std::env::set_var("ORDERED_SHUTDOWN_TIMEOUT", "3");
        std::env::set_var("ORDERED_HTTP_PORT", "8300");
    }
    assert_eq!(
        read(service(), &["--config", &file]),
        pair("3", Environment, "8300", Environment),
        "the environment beats the file"
    );
    assert_eq!(
        read(
            service(),
            &[
                "--config",
                &file,
                "--shutdown-timeout",
                "2",
                "--http-port",
                "8400"
            ]
        ),
        pair("2", CommandLine, "8400", CommandLine),
        "the command line beats the environment"
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let running = service()
            .start_with_args([
                "svc",
                "--config",
                &file,
                "--shutdown-timeout",
                "2",
                "--http-port",
                "8400",
            ])
            .await
            .expect("starts");
        let h = running.handle().clone();
        h.set_option("shutdown_timeout", "1").expect("live");
        h.set_option("http_port", "8500").expect("live");
        assert_eq!(
            h.option("shutdown_timeout").expect("known").as_deref(),
            Some("1")
        );
        assert_eq!(
            h.option("http_port").expect("known").as_deref(),
            Some("8500")
        );
        let sources = h.option_sources();
        assert_eq!(sources["shutdown_timeout"], OptionSource::RunTime);
        assert_eq!(sources["http_port"], OptionSource::RunTime);
        running.shutdown().await.expect("stops");
    });
}
