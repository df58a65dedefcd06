//! Admin errors on D-Bus: each [`AdminErrorKind`] as one error name, the
//! standard `org.freedesktop.DBus.Error.*` one where it means the same
//! thing, a sparts one (`org.sparts.Error.*`) where none does.

use sparts_core::AdminErrorKind;
use zbus::message::{Header, Message};
use zbus::names::ErrorName;

/// The result of an admin method on D-Bus. (zbus's interface macro knows a
/// fallible method by its return type's name, `Result`.)
pub(crate) type Result<T, E = AdminError> = std::result::Result<T, E>;

/// An admin call's failure as a D-Bus error: the name of its kind, with
/// the readable reason as the message.
///
/// zbus's `DBusError` derive gives every variant one prefix, and the names
/// here mix the standard prefix with ours, so the trait is written out.
#[derive(Debug)]
pub(crate) struct AdminError {
    kind: AdminErrorKind,
    message: String,
}

impl AdminError {
    /// A failure of `kind` that did not come from the admin model (a value
    /// D-Bus cannot carry, a counter fb303 cannot send).
    pub(crate) fn new(kind: AdminErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<sparts_core::Error> for AdminError {
    fn from(error: sparts_core::Error) -> Self {
        Self::new(error.admin_kind(), error.to_string())
    }
}

/// The D-Bus error name of each kind of admin error; the README's table of
/// admin errors lists it beside the other transports' codes.
///
/// The standard names cover a bad argument (`InvalidArgs`), a refusal
/// (`AccessDenied`) and a generic failure (`Failed`). The others
/// (`UnknownObject`, `PropertyReadOnly`, `ServiceUnknown`, ...) speak of
/// D-Bus objects, properties and bus names, not of a service's counters
/// and options, so those kinds get a sparts name.
fn error_name(kind: AdminErrorKind) -> &'static str {
    match kind {
        AdminErrorKind::NotFound => "org.sparts.Error.NotFound",
        AdminErrorKind::InvalidArgument => "org.freedesktop.DBus.Error.InvalidArgs",
        AdminErrorKind::FailedPrecondition => "org.sparts.Error.FailedPrecondition",
        AdminErrorKind::PermissionDenied => "org.freedesktop.DBus.Error.AccessDenied",
        AdminErrorKind::Unavailable => "org.sparts.Error.Unavailable",
        AdminErrorKind::Internal => "org.freedesktop.DBus.Error.Failed",
        // The enum is non-exhaustive: a kind core adds later is `Failed`
        // until it has its own line here.
        _ => "org.freedesktop.DBus.Error.Failed",
    }
}

impl zbus::DBusError for AdminError {
    fn create_reply(&self, call: &Header<'_>) -> zbus::Result<Message> {
        Message::error(call, self.name())?.build(&self.message)
    }

    fn name(&self) -> ErrorName<'_> {
        // Every name above is a valid error name: the tests parse each.
        ErrorName::from_static_str_unchecked(error_name(self.kind))
    }

    fn description(&self) -> Option<&str> {
        Some(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [AdminErrorKind; 6] = [
        AdminErrorKind::NotFound,
        AdminErrorKind::InvalidArgument,
        AdminErrorKind::FailedPrecondition,
        AdminErrorKind::PermissionDenied,
        AdminErrorKind::Unavailable,
        AdminErrorKind::Internal,
    ];

    /// The D-Bus column of the README's table of admin errors.
    #[test]
    fn every_kind_has_its_error_name() {
        let names = KINDS.map(error_name);
        assert_eq!(
            names,
            [
                "org.sparts.Error.NotFound",
                "org.freedesktop.DBus.Error.InvalidArgs",
                "org.sparts.Error.FailedPrecondition",
                "org.freedesktop.DBus.Error.AccessDenied",
                "org.sparts.Error.Unavailable",
                "org.freedesktop.DBus.Error.Failed",
            ]
        );
        for name in names {
            assert!(ErrorName::try_from(name).is_ok(), "{name}");
        }
    }

    /// Every D-Bus caller is local, so trusted: an untrusted peer never
    /// reaches the bus, but its error keeps its name.
    #[test]
    fn an_untrusted_peer_is_access_denied() {
        let error = AdminError::from(sparts_core::Error::NotTrusted {
            action: "shutdown".into(),
            peer: "192.0.2.7".into(),
        });
        let name = zbus::DBusError::name(&error);
        assert_eq!(name.as_str(), "org.freedesktop.DBus.Error.AccessDenied");
        let message = zbus::DBusError::description(&error).unwrap_or_default();
        assert!(message.contains("192.0.2.7"), "{message}");
    }
}
