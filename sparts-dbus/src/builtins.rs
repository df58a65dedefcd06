//! Where the built-in objects live and how they are put on a connection.

use sparts_core::Admin;
use zbus::connection::Builder;

use crate::fb303::{Fb303Service, SpartsFb303};
use crate::sparts::SpartsService;

/// `/<Service>`, with the characters an object path cannot hold replaced by `_`.
fn base(service: &str) -> String {
    let clean: String = service
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if clean.is_empty() {
        "/_".to_owned()
    } else {
        format!("/{clean}")
    }
}

/// The path of the `org.sparts.Service` object: `/<Service>/sparts`.
///
/// ```
/// assert_eq!(sparts_dbus::sparts_object_path("Demo"), "/Demo/sparts");
/// assert_eq!(sparts_dbus::sparts_object_path("my-svc"), "/my_svc/sparts");
/// ```
pub fn sparts_object_path(service: &str) -> String {
    format!("{}/sparts", base(service))
}

/// The path of the fb303 object: `/<Service>/fb303`.
///
/// ```
/// assert_eq!(sparts_dbus::fb303_object_path("Demo"), "/Demo/fb303");
/// ```
pub fn fb303_object_path(service: &str) -> String {
    format!("{}/fb303", base(service))
}

/// Adds the built-in objects, all answered by the service's admin model.
pub(crate) fn serve(builder: Builder<'static>, admin: &Admin) -> zbus::Result<Builder<'static>> {
    let fb303 = fb303_object_path(admin.name());
    builder
        .serve_at(
            sparts_object_path(admin.name()),
            SpartsService {
                admin: admin.clone(),
            },
        )?
        .serve_at(
            fb303.clone(),
            Fb303Service {
                admin: admin.clone(),
            },
        )?
        .serve_at(
            fb303,
            SpartsFb303 {
                admin: admin.clone(),
            },
        )
}
