//! Connecting to the bus and asking for the name.

use std::time::Duration;

use zbus::connection::Builder;
use zbus::fdo::{RequestNameFlags, RequestNameReply};
use zbus::names::WellKnownName;
use zbus::{Connection, DBusError};

use crate::error::Error;
use crate::options::DBusOptions;

/// How long the connection handshake may take: a bus that accepts the socket
/// but never answers must not hang the start.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The bus the options point at, for messages.
pub(crate) fn bus_label(opts: &DBusOptions) -> String {
    match (&opts.address, opts.system_bus) {
        (Some(address), _) => format!("bus at {address}"),
        (None, true) => "system bus".to_owned(),
        (None, false) if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() => {
            "session bus (DBUS_SESSION_BUS_ADDRESS is unset: run under dbus-run-session or give --dbus-address)".to_owned()
        }
        (None, false) => "session bus".to_owned(),
    }
}

/// A connection builder for the bus the options point at.
pub(crate) fn builder(opts: &DBusOptions) -> Result<Builder<'static>, Error> {
    let builder = match (&opts.address, opts.system_bus) {
        (Some(address), _) => Builder::address(address.as_str()),
        (None, true) => Builder::system(),
        (None, false) => Builder::session(),
    };
    builder.map_err(|source| Error::Connect {
        bus: bus_label(opts),
        source,
    })
}

/// Finishes the connection, within [`CONNECT_TIMEOUT`].
pub(crate) async fn build(
    builder: Builder<'static>,
    opts: &DBusOptions,
) -> Result<Connection, Error> {
    match tokio::time::timeout(CONNECT_TIMEOUT, builder.build()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(source)) => Err(Error::Connect {
            bus: bus_label(opts),
            source,
        }),
        Err(_) => Err(Error::ConnectTimeout {
            bus: bus_label(opts),
            after: CONNECT_TIMEOUT,
        }),
    }
}

/// Whether we own the name or wait in line for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ownership {
    Owner,
    Queued,
}

/// Asks the bus for the name with the flags the options ask for.
pub(crate) async fn request_name(
    conn: &Connection,
    name: WellKnownName<'static>,
    opts: &DBusOptions,
    prefix: &str,
) -> Result<Ownership, Error> {
    let mut flags = enumflags2::BitFlags::empty();
    if opts.replace {
        flags |= RequestNameFlags::ReplaceExisting | RequestNameFlags::AllowReplacement;
    }
    if !opts.queue {
        flags |= RequestNameFlags::DoNotQueue;
    }
    match conn.request_name_with_flags(name.clone(), flags).await {
        Ok(RequestNameReply::InQueue) => Ok(Ownership::Queued),
        Ok(_) => Ok(Ownership::Owner),
        Err(zbus::Error::NameTaken) => Err(Error::NameTaken {
            name: name.to_string(),
            prefix: prefix.to_owned(),
        }),
        Err(zbus::Error::MethodError(error_name, message, _)) => Err(Error::NameRefused {
            name: name.to_string(),
            error_name: error_name.to_string(),
            message: message.unwrap_or_default(),
        }),
        Err(zbus::Error::FDO(err)) => Err(Error::NameRefused {
            name: name.to_string(),
            error_name: err.name().to_string(),
            message: err.description().unwrap_or_default().to_owned(),
        }),
        Err(source) => Err(Error::Bus {
            action: format!("requesting the name {name}"),
            source,
        }),
    }
}
