//! Telling a failed call that no server ran from one that may have run.

/// Whether a call failed without the server ever seeing it, so that
/// sending it again is safe whatever it does.
///
/// Two such failures come from a server that restarts or shuts down
/// gracefully:
/// - tonic's channel handed the request to a connection that had just
///   received GOAWAY, and hyper cancelled it unsent (`Cancelled`,
///   "connection closed");
/// - the request went out on a new stream after the server's last GOAWAY,
///   which the server refused unprocessed (h2's `GoAway(.., NO_ERROR,
///   Remote)` on the stream, as RFC 9113 section 6.8 says).
///
/// gRPC's own clients send such calls again transparently (gRPC's retry
/// design); tonic's do not, so a caller that wants no error across a
/// restart sends them again when this says so.
///
/// ```
/// use sparts_grpc::never_processed;
/// use sparts_grpc::tonic::{Code, Status};
///
/// // A handler's error ran on the server: not to be sent blindly again.
/// assert!(!never_processed(&Status::new(Code::Unavailable, "overloaded")));
/// ```
#[must_use]
pub fn never_processed(status: &tonic::Status) -> bool {
    use std::error::Error as _;
    let mut source = status.source();
    while let Some(e) = source {
        let unsent =
            status.code() == tonic::Code::Cancelled && e.to_string().contains("connection closed");
        // h2's error names the GOAWAY only in its Debug form.
        let refused = format!("{e:?}").contains("NO_ERROR, Remote)");
        if unsent || refused {
            return true;
        }
        source = e.source();
    }
    false
}
