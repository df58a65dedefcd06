//! Options from environment variables. Its own test binary: it changes the
//! process environment, which no other test may read concurrently.

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

#[derive(Clone)]
struct Quiet;

impl VTask for Quiet {
    async fn run(&self, ctx: TaskContext) -> Result<(), BoxError> {
        ctx.stopped().await;
        Ok(())
    }
}

#[test]
fn environment_variables_set_options_and_the_command_line_wins() {
    // SAFETY: this binary's only test, and it sets the variables before it
    // starts any thread or runtime, so nothing reads the environment concurrently.
    unsafe {
        std::env::set_var("MYSERVICE_HTTP_PORT", "9123");
        std::env::set_var("MYSERVICE_SHUTDOWN_TIMEOUT", "3");
        std::env::set_var("MYSERVICE_DRYRUN", "true");
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let service = || {
            VService::new("MyService")
                .with_task(Server.with_prefix("http"))
                .with_task(Quiet)
        };
        let running = service().start_with_args(["svc"]).await.expect("starts");
        let h = running.handle().clone();
        assert_eq!(
            h.option("http_port").expect("known").as_deref(),
            Some("9123")
        );
        assert_eq!(
            h.option("shutdown_timeout").expect("known").as_deref(),
            Some("3")
        );
        assert!(h.is_dry_run());
        running.shutdown().await.expect("clean stop");

        let running = service()
            .start_with_args(["svc", "--http-port", "1"])
            .await
            .expect("starts");
        assert_eq!(
            running
                .handle()
                .option("http_port")
                .expect("known")
                .as_deref(),
            Some("1"),
            "the command line wins over the environment"
        );
        running.shutdown().await.expect("clean stop");

        // SAFETY: as above; the services of this test have stopped.
        unsafe { std::env::set_var("MYSERVICE_HTTP_PORT", "not-a-port") };
        let err = service()
            .start_with_args(["svc"])
            .await
            .expect_err("bad value from the environment");
        assert!(err.to_string().contains("not-a-port"), "{err}");
    });
}
