//! The server of `thrift_python.sh`: a sparts service serving fb303 with a
//! `ThriftServerTask` (every service and `--thrift-*` option), or, with
//! `--tserver`, the same fb303 handler under the thrift crate's own
//! `TServer` (64 threads, framed binary), for a side-by-side baseline.
//!
//! ```sh
//! cargo run --release -p sparts-bench --bin thrift_fb303_server -- --thrift-port 9090
//! cargo run --release -p sparts-bench --bin thrift_fb303_server -- --tserver --thrift-port 9091
//! ```
//!
//! Both log their port to stderr as `(port N)`. `TServer` cannot stop:
//! end it with a signal.
use std::process::ExitCode;

use sparts::VService;
use sparts_bench::serve_tserver;
use sparts_thrift::{Fb303Handler, ThriftHandlerTask, ThriftServerTask};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn service() -> VService {
    VService::new("Fb303Server")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new())
}

/// `TServer` on 127.0.0.1 at `--thrift-port` (0: a free one), answering
/// with the handler of a running sparts service that has no server task.
fn tserver(argv: &[String]) -> Result<(), BoxError> {
    let port: u16 = match argv.iter().position(|a| a == "--thrift-port") {
        Some(i) => argv
            .get(i + 1)
            .ok_or("--thrift-port needs a value")?
            .parse()?,
        None => 0,
    };
    let port = if port == 0 {
        std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port()
    } else {
        port
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let running = runtime.block_on(
        VService::new("Fb303Server")
            .with_task(ThriftHandlerTask::fb303())
            .start_with_args(["thrift_fb303_server"]),
    )?;
    let handler = {
        let _inside = runtime.enter();
        Fb303Handler::new(running.handle())
    };
    // Logged before binding; clients retry until it listens.
    eprintln!("TServer listening on 127.0.0.1 (port {port})");
    serve_tserver(handler, port)?;
    Ok(())
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.iter().any(|a| a == "--tserver") {
        return match tserver(&argv) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("TServer: {e}");
                ExitCode::FAILURE
            }
        };
    }
    service().run_from_cli()
}
