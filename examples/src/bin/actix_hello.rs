//! An actix-web server as a task, on an actix system of its own on the
//! task's thread, its `/` answering `Hello from actix`; beside it an
//! `HttpTask` with only the health, admin and metrics endpoints.
//!
//! ```sh
//! cargo run -p sparts-examples --features actix --bin actix_hello -- --actix-port 8080 --http-port 8000
//! curl localhost:8080           # Hello from actix
//! curl localhost:8000/healthz
//! ```
use std::net::TcpListener;

use actix_web::{App, HttpServer, web};
use sparts::http::{HttpTask, axum::Router};
use sparts::server::Handoff;
use sparts::{BoxError, TaskContext, TaskSpec, VService, VTask, clap};

/// Options of `Actix`, under its prefix: `--actix-port`.
#[derive(clap::Args, Debug, Clone)]
struct ActixOptions {
    /// TCP port to listen on (127.0.0.1); 0 picks a free port (logged at start).
    #[arg(long, default_value = "0")]
    port: u16,
}

/// The actix-web server. Its socket is bound in `init`, so a port in use
/// stops the service's start, and taken by `run`.
#[derive(Debug, Default)]
struct Actix(Handoff<TcpListener>);

impl VTask<ActixOptions> for Actix {
    async fn init(&mut self, ctx: &TaskContext<ActixOptions>) -> Result<(), BoxError> {
        let port = ctx.options().port;
        let listener = TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let port = listener.local_addr()?.port();
        tracing::info!("{} Server Started on 127.0.0.1 (port {port})", ctx.name());
        self.0.put(listener);
        Ok(())
    }

    async fn run(&self, ctx: TaskContext<ActixOptions>) -> Result<(), BoxError> {
        let listener = self.0.take(ctx.name())?;
        // Whole seconds, so that actix gives up within the service's timeout.
        let grace = ctx.service().service_options().shutdown_timeout.as_secs();
        let stopper = ctx.clone();
        ctx.run_blocking(move |_| {
            let app = || App::new().route("/", web::get().to(|| async { "Hello from actix" }));
            let server = HttpServer::new(app)
                .listen(listener)?
                .disable_signals() // The service owns SIGTERM and SIGINT.
                .shutdown_timeout(grace)
                .run();
            // A graceful stop; `stop` sends it at once, its future only waits.
            let handle = server.handle();
            stopper.on_stop(move || drop(handle.stop(true)));
            Ok(actix_web::rt::System::new().block_on(server)?)
        })
        .await
    }
}

fn main() -> std::process::ExitCode {
    VService::new("ActixService")
        .with_task(TaskSpec::from_fn(Actix::default))
        .with_task(HttpTask::new(Router::new()))
        .run_from_cli()
}
