//! `org.sparts.Service` at `/<Service>/sparts`: the original's interface,
//! method for method, plus a `Status` property that signals its changes.

use std::collections::HashMap;

use sparts_core::Admin;
use zbus::zvariant::{OwnedValue, Value};

use crate::admin_error::{self, AdminError};
use crate::value::{PEER, text, variant};

/// The object behind `org.sparts.Service`.
#[derive(Debug)]
pub(crate) struct SpartsService {
    pub(crate) admin: Admin,
}

#[zbus::interface(name = "org.sparts.Service")]
impl SpartsService {
    /// One option's value as a string variant, `__None__` when unset.
    #[zbus(name = "getOption")]
    fn get_option(&self, name: &str) -> admin_error::Result<OwnedValue> {
        self.admin
            .option(name)
            .map(variant)
            .map_err(AdminError::from)
    }

    /// Sets an option from a string, number or boolean.
    #[zbus(name = "setOption")]
    fn set_option(&self, name: &str, value: Value<'_>) -> admin_error::Result<()> {
        let value = text(&value)?;
        self.admin
            .set_option(&PEER, name, &value)
            .map_err(AdminError::from)
    }

    /// Every option with its value.
    #[zbus(name = "getOptions")]
    fn get_options(&self) -> HashMap<String, OwnedValue> {
        self.admin
            .options()
            .into_iter()
            .map(|(name, value)| (name, variant(value)))
            .collect()
    }

    /// Where each option's value came from: `default`, `file`,
    /// `environment`, `command_line` or `run_time`.
    #[zbus(name = "getOptionSources")]
    fn get_option_sources(&self) -> HashMap<String, String> {
        self.admin
            .option_sources()
            .into_iter()
            .map(|(name, source)| (name, source.as_str().to_owned()))
            .collect()
    }

    /// Every option name.
    #[zbus(name = "listOptions")]
    fn list_options(&self) -> Vec<String> {
        self.admin.option_names()
    }

    /// Shuts the service down.
    #[zbus(name = "shutdown")]
    fn shutdown(&self) -> admin_error::Result<()> {
        self.admin.shutdown(&PEER).map_err(AdminError::from)
    }

    /// Restarts the service in process.
    #[zbus(name = "restart")]
    fn restart(&self) -> admin_error::Result<()> {
        self.admin.reinitialize(&PEER).map_err(AdminError::from)
    }

    /// The names of the running tasks.
    #[zbus(name = "listTasks")]
    fn list_tasks(&self) -> Vec<String> {
        self.admin.task_names()
    }

    /// Seconds since the service started.
    #[zbus(name = "uptime")]
    fn uptime(&self) -> i64 {
        self.admin.uptime()
    }

    /// The status name (`ALIVE`, `WARNING`, `STOPPING`, ...); changes are
    /// signalled with `org.freedesktop.DBus.Properties.PropertiesChanged`.
    #[zbus(property, name = "Status")]
    fn status(&self) -> String {
        self.admin.status().as_str().to_owned()
    }
}
