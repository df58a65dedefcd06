//! A command-line fb303 client: calls one method on a sparts service over
//! Thrift (framed binary, multiplexed as `fb303` unless `--plain`) or over
//! HTTP, and prints the answer.
//!
//! ```sh
//! cargo run -p sparts-examples --bin fb303_client -- localhost:9090 getStatus
//! cargo run -p sparts-examples --bin fb303_client -- http://localhost:8080/thrift getCounters
//! ```
use std::process::ExitCode;

use sparts::thrift::ThriftClient;
use sparts::thrift::fb303::{FacebookServiceSyncClient, FbStatus, TFacebookServiceSyncClient};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(target), Some(method)) = (args.first(), args.get(1)) else {
        eprintln!(
            "usage: fb303_client HOST:PORT|URL getName|getVersion|getStatus|getStatusDetails|getCounters|getOptions|aliveSince|shutdown [--plain]"
        );
        return ExitCode::from(2);
    };
    let client = if target.starts_with("http") {
        ThriftClient::http(FacebookServiceSyncClient::new, target.clone())
    } else if args.iter().any(|a| a == "--plain") {
        ThriftClient::new(FacebookServiceSyncClient::new, target.clone())
    } else {
        ThriftClient::new(FacebookServiceSyncClient::new, target.clone()).multiplexed("fb303")
    };
    let answer = match method.as_str() {
        "getName" => client.call(|c| c.get_name()).await,
        "getVersion" => client.call(|c| c.get_version()).await,
        "getStatus" => client.call(|c| c.get_status().map(status_name)).await,
        "getStatusDetails" => client.call(|c| c.get_status_details()).await,
        "getCounters" => {
            client
                .call(|c| c.get_counters().map(|m| format!("{m:#?}")))
                .await
        }
        "getOptions" => {
            client
                .call(|c| c.get_options().map(|m| format!("{m:#?}")))
                .await
        }
        "aliveSince" => {
            client
                .call(|c| c.alive_since().map(|t| t.to_string()))
                .await
        }
        "shutdown" => {
            client
                .call(|c| c.shutdown().map(|()| "sent".to_owned()))
                .await
        }
        other => {
            eprintln!("fb303_client: unknown method {other}");
            return ExitCode::from(2);
        }
    };
    match answer {
        Ok(text) => {
            #[allow(clippy::print_stdout)] // The answer is the program's output.
            {
                println!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fb303_client: {e}");
            ExitCode::FAILURE
        }
    }
}

/// fb303's name for a status value.
fn status_name(status: FbStatus) -> String {
    let names = [
        "DEAD", "STARTING", "ALIVE", "STOPPING", "STOPPED", "WARNING",
    ];
    usize::try_from(status.0)
        .ok()
        .and_then(|i| names.get(i))
        .map_or_else(|| format!("unknown ({})", status.0), |n| (*n).to_owned())
}
