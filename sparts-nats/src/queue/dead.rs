//! Reading a queue's dead letters, for an operator or a test.

use sparts_core::BoxError;

use super::delivery::{ATTEMPTS_HEADER, ERROR_HEADER};
use super::names::Names;
use crate::connection::{Connection, NatsUrl};
use crate::error::Error;

/// An item given up, as kept in `SPARTS_<Service>_<Task>_DEAD` (14 days).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// Its place in the dead-letter stream.
    pub sequence: u64,
    /// The item, as the JSON it was stored as.
    pub item: String,
    /// Why it was given up: its last error.
    pub error: String,
    /// How many deliveries it had.
    pub attempts: u32,
}

/// The newest `limit` dead letters of the queue task `task` of the service
/// `service`, oldest first, from the server at `url` (`nats://HOST:PORT`).
/// The same can be read with NATS's own tools
/// (`nats stream view SPARTS_<Service>_<Task>_DEAD`).
pub async fn dead_letters(
    url: &str,
    service: &str,
    task: &str,
    limit: usize,
) -> Result<Vec<DeadLetter>, Error> {
    let (connection, names) = queue_at(url, service, task).await?;
    let failed = |what: &'static str, e: &dyn std::fmt::Display| Error::Request {
        task: task.to_owned(),
        what,
        reason: e.to_string(),
    };
    let mut stream = connection
        .jetstream
        .get_stream(&names.dead_stream)
        .await
        .map_err(|e| failed("dead-letter stream lookup", &e))?;
    let state = stream
        .info()
        .await
        .map_err(|e| failed("dead-letter stream info", &e))?
        .state
        .clone();
    let mut letters = Vec::new();
    if state.messages == 0 {
        return Ok(letters);
    }
    let first = state
        .first_sequence
        .max(state.last_sequence.saturating_sub(limit as u64 - 1).max(1));
    for sequence in first..=state.last_sequence {
        let message = match stream.get_raw_message(sequence).await {
            Ok(message) => message,
            // Expired or deleted meanwhile.
            Err(_) => continue,
        };
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default()
        };
        letters.push(DeadLetter {
            sequence,
            item: String::from_utf8_lossy(&message.payload).into_owned(),
            error: header(ERROR_HEADER),
            attempts: header(ATTEMPTS_HEADER).parse().unwrap_or(0),
        });
    }
    Ok(letters)
}

/// Removes a queue's stream, consumer and dead letters from the server: for
/// tests, and for an operator changing settings every replica must share
/// (`--<prefix>-max-items`, the discipline, `--<prefix>-ack-wait`). Items
/// still queued are lost.
pub async fn delete_queue(url: &str, service: &str, task: &str) -> Result<(), Error> {
    let (connection, names) = queue_at(url, service, task).await?;
    for stream in [&names.stream, &names.dead_stream] {
        let deleted: Result<_, BoxError> = connection
            .jetstream
            .delete_stream(stream)
            .await
            .map_err(Into::into);
        if let Err(e) = deleted
            && !e.to_string().contains("not found")
        {
            return Err(Error::Request {
                task: task.to_owned(),
                what: "stream delete",
                reason: e.to_string(),
            });
        }
    }
    Ok(())
}

/// The client for `url` and the names of `service`'s queue task `task`.
async fn queue_at(url: &str, service: &str, task: &str) -> Result<(Connection, Names), Error> {
    let nats_url = NatsUrl::parse(task, url)?;
    Ok((
        Connection::get(task, &nats_url).await?,
        Names::new(service, task),
    ))
}
