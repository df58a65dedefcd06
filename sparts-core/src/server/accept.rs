//! Accepting a listener's next connection within the server's maximum of
//! open connections (`--<prefix>-max-connections`).

use tokio_util::sync::CancellationToken;

use super::connections::{ConnectionGuard, Connections};
use crate::listen::{Accepted, Listener};

/// The next connection on `listener`, opened in `connections`, or `None`
/// once `stop` is cancelled. At the maximum it waits before accepting, so
/// that new clients wait in the listen backlog (their connection attempts
/// neither refused nor answered) until one closes.
pub async fn accept_within_limit(
    listener: &Listener,
    connections: &Connections,
    stop: &CancellationToken,
) -> Option<(Accepted, ConnectionGuard)> {
    tokio::select! {
        () = stop.cancelled() => return None,
        () = connections.room() => {}
    }
    let accepted = listener.accept(stop).await?;
    let guard = connections.open_admitted().await;
    Some((accepted, guard))
}
