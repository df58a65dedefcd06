//! `/<Service>/fb303`: `com.facebook.fb303.Service` and the original's
//! additions in `org.sparts.FB303Service`.

use std::collections::HashMap;
use std::time::Duration;

use sparts_core::{Admin, AdminErrorKind};
use zbus::zvariant::Value;

use crate::admin_error::{self, AdminError};
use crate::value::{PEER, or_none, text};

/// The object behind `com.facebook.fb303.Service`.
#[derive(Debug)]
pub(crate) struct Fb303Service {
    pub(crate) admin: Admin,
}

/// A counter as fb303 sends it: an integer, or nothing when it is not a number.
fn as_i64(value: f64) -> Option<i64> {
    // `as` saturates at the i64 bounds, which is what a counter should do.
    #[allow(clippy::cast_possible_truncation)]
    value.is_finite().then_some(value as i64)
}

#[zbus::interface(name = "com.facebook.fb303.Service")]
impl Fb303Service {
    #[zbus(name = "getName")]
    fn get_name(&self) -> String {
        self.admin.name().to_owned()
    }

    #[zbus(name = "getVersion")]
    fn get_version(&self) -> String {
        self.admin.version().to_owned()
    }

    /// The status name, e.g. `ALIVE`.
    #[zbus(name = "getStatus")]
    fn get_status(&self) -> String {
        self.admin.status().as_str().to_owned()
    }

    #[zbus(name = "getStatusDetails")]
    fn get_status_details(&self) -> String {
        self.admin.status_details()
    }

    /// Every counter as an integer; counters that are not a number are left out.
    #[zbus(name = "getCounters")]
    fn get_counters(&self) -> HashMap<String, i64> {
        self.admin
            .counters()
            .iter()
            .filter_map(|c| as_i64(c.value).map(|v| (c.name.clone(), v)))
            .collect()
    }

    #[zbus(name = "getCounter")]
    fn get_counter(&self, name: &str) -> admin_error::Result<i64> {
        let value = self.admin.counter(name).map_err(AdminError::from)?;
        // Not a number (a callback's ratio of nothing to nothing): fb303's
        // integers cannot carry it, and the counter may have one later.
        as_i64(value).ok_or_else(|| {
            AdminError::new(
                AdminErrorKind::Unavailable,
                format!("counter {name} has no value yet"),
            )
        })
    }

    #[zbus(name = "setOption")]
    fn set_option(&self, name: &str, value: &str) -> admin_error::Result<()> {
        text(&Value::from(value))?;
        self.admin
            .set_option(&PEER, name, value)
            .map_err(AdminError::from)
    }

    /// The option's value, `__None__` when unset.
    #[zbus(name = "getOption")]
    fn get_option(&self, name: &str) -> admin_error::Result<String> {
        self.admin
            .option(name)
            .map(or_none)
            .map_err(AdminError::from)
    }

    #[zbus(name = "getOptions")]
    fn get_options(&self) -> HashMap<String, String> {
        self.admin
            .options()
            .into_iter()
            .map(|(name, value)| (name, or_none(value)))
            .collect()
    }

    /// Profiles the whole process's CPU use for `seconds` (1 to 300) and
    /// answers with folded stacks, one `thread;outer;...;inner COUNT` line
    /// per stack (see `Admin::cpu_profile`). The answer comes after
    /// `seconds`: callers need a reply timeout longer than that (busctl's
    /// default is 25 s, `--timeout` sets it). Other calls are served
    /// meanwhile.
    #[zbus(name = "getCpuProfile")]
    async fn get_cpu_profile(&self, seconds: i32) -> admin_error::Result<String> {
        let Ok(seconds) = u64::try_from(seconds) else {
            return Err(AdminError::new(
                AdminErrorKind::InvalidArgument,
                format!(
                    "a CPU profile lasts more than 0 s and at most {} s, not {seconds} s",
                    Admin::MAX_CPU_PROFILE.as_secs()
                ),
            ));
        };
        self.admin
            .cpu_profile(Duration::from_secs(seconds))
            .await
            .map_err(AdminError::from)
    }

    #[zbus(name = "aliveSince")]
    fn alive_since(&self) -> i64 {
        self.admin.alive_since()
    }

    #[zbus(name = "reinitialize")]
    fn reinitialize(&self) -> admin_error::Result<()> {
        self.admin.reinitialize(&PEER).map_err(AdminError::from)
    }

    #[zbus(name = "shutdown")]
    fn shutdown(&self) -> admin_error::Result<()> {
        self.admin.shutdown(&PEER).map_err(AdminError::from)
    }
}

/// The object behind `org.sparts.FB303Service`.
#[derive(Debug)]
pub(crate) struct SpartsFb303 {
    pub(crate) admin: Admin,
}

#[zbus::interface(name = "org.sparts.FB303Service")]
impl SpartsFb303 {
    /// Sets an option from a variant (string, number or boolean).
    #[zbus(name = "setOptionV")]
    fn set_option_v(&self, name: &str, value: Value<'_>) -> admin_error::Result<()> {
        let value = text(&value)?;
        self.admin
            .set_option(&PEER, name, &value)
            .map_err(AdminError::from)
    }

    /// `aliveSince` as a decimal string (for clients without 64-bit integers).
    #[zbus(name = "aliveSinceStr")]
    fn alive_since_str(&self) -> String {
        self.admin.alive_since().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_become_integers_or_nothing() {
        assert_eq!(as_i64(3.7), Some(3));
        assert_eq!(as_i64(f64::NAN), None);
        assert_eq!(as_i64(1e300), Some(i64::MAX));
        assert_eq!(crate::value::NONE, "__None__");
    }
}
