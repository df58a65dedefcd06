//! The peer of the request a worker thread is handling, for handlers whose
//! generated signatures have no room for it (fb303's `--admin-trusted` check).

use std::cell::Cell;

use sparts_core::Peer;

thread_local! {
    static CURRENT: Cell<Option<Peer>> = const { Cell::new(None) };
}

/// The peer whose request the calling thread is handling: the connection's
/// address (or [`Peer::Unix`]) inside a handler method, [`Peer::InProcess`]
/// anywhere else.
///
/// ```
/// use sparts_core::Peer;
/// assert_eq!(sparts_thrift::current_peer(), Peer::InProcess);
/// ```
#[must_use]
pub fn current_peer() -> Peer {
    CURRENT.get().unwrap_or(Peer::InProcess)
}

/// Sets the current peer until dropped.
pub(crate) struct PeerScope(Option<Peer>);

impl PeerScope {
    pub(crate) fn enter(peer: Peer) -> Self {
        Self(CURRENT.replace(Some(peer)))
    }
}

impl Drop for PeerScope {
    fn drop(&mut self) {
        CURRENT.set(self.0);
    }
}
