//! The crate's error type.

use std::time::Duration;

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop the D-Bus task from starting. Every variant names
/// the bus or the name involved, since it is what an operator must fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `--<prefix>-bus-name` was not given.
    #[error(
        "--{flag} is required: the well-known name to own on the bus, e.g. org.example.MyService"
    )]
    MissingBusName {
        /// The flag, without its dashes (`dbus-bus-name`).
        flag: String,
    },

    /// The bus name is not a valid D-Bus well-known name.
    #[error("`{name}` is not a valid D-Bus bus name: {source}")]
    InvalidBusName {
        /// The name, as given.
        name: String,
        /// What is wrong with it.
        #[source]
        source: zbus::names::Error,
    },

    /// No connection to the bus (no bus running, bad address, refused).
    #[error("cannot connect to the {bus}: {source}")]
    Connect {
        /// Which bus: `session bus`, `system bus` or `bus at <address>`.
        bus: String,
        /// Why.
        #[source]
        source: zbus::Error,
    },

    /// The bus did not answer the connection handshake in time.
    #[error("cannot connect to the {bus}: no answer within {after:?}")]
    ConnectTimeout {
        /// Which bus.
        bus: String,
        /// How long we waited.
        after: Duration,
    },

    /// Another connection owns the name and did not allow replacement.
    #[error(
        "the bus name {name} is taken by another connection (--{prefix}-replace takes it over, --{prefix}-queue waits for it)"
    )]
    NameTaken {
        /// The bus name.
        name: String,
        /// The task's option prefix, for the hint.
        prefix: String,
    },

    /// The bus refused the name request, typically by its policy.
    #[error("the bus refused the name {name}: {error_name}: {message}")]
    NameRefused {
        /// The bus name.
        name: String,
        /// The bus's own error name, e.g. `org.freedesktop.DBus.Error.AccessDenied`.
        error_name: String,
        /// The bus's message.
        message: String,
    },

    /// Any other D-Bus failure while exporting the objects or asking for the name.
    #[error("d-bus {action}: {source}")]
    Bus {
        /// What was being done.
        action: String,
        /// The zbus error.
        #[source]
        source: zbus::Error,
    },
}
