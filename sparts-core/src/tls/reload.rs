//! The certificate a server task presents, swapped for the new one when
//! its files change; a bad new pair is logged and the old one kept.

use std::fmt;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::load;
use crate::error::Result;

/// How often a serving task looks at its certificate files. A look is two
/// `stat`s; a change is loaded at the next look.
pub const RELOAD_CHECK: Duration = Duration::from_secs(2);

/// What tells a file changed: written in place, or replaced (a symlink
/// swapped, as secret mounts do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: i64,
    modified_ns: i64,
    len: u64,
    inode: u64,
}

impl Stamp {
    fn of(meta: &Metadata) -> Self {
        Self {
            modified: meta.mtime(),
            modified_ns: meta.mtime_nsec(),
            len: meta.len(),
            inode: meta.ino(),
        }
    }
}

fn stamps(cert: &Path, key: &Path) -> Option<(Stamp, Stamp)> {
    let cert = std::fs::metadata(cert).ok()?;
    let key = std::fs::metadata(key).ok()?;
    Some((Stamp::of(&cert), Stamp::of(&key)))
}

/// The certificate and key of one server task, from `cert` and `key`.
pub(super) struct Reloading {
    task: String,
    cert: PathBuf,
    key: PathBuf,
    current: ArcSwap<CertifiedKey>,
    seen: Mutex<Option<(Stamp, Stamp)>>,
}

impl fmt::Debug for Reloading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reloading")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Reloading {
    pub(super) fn load(task: &str, cert: PathBuf, key: PathBuf) -> Result<Self> {
        let seen = stamps(&cert, &key);
        let current = load::certified_key(&cert, &key)?;
        Ok(Self {
            task: task.to_owned(),
            cert,
            key,
            current: ArcSwap::new(current),
            seen: Mutex::new(seen),
        })
    }

    /// Looks at the files every [`RELOAD_CHECK`] until `this` is dropped.
    pub(super) fn watch(this: &Arc<Self>) {
        let weak = Arc::downgrade(this);
        // Outside a runtime (a tool loading a config) nothing watches.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let mut every = tokio::time::interval(RELOAD_CHECK);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(this) = weak.upgrade() else {
                    return;
                };
                this.check();
            }
        });
    }

    /// Loads the pair again if either file changed since the last look.
    pub(super) fn check(&self) {
        let now = stamps(&self.cert, &self.key);
        {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if *seen == now {
                return;
            }
            // Recorded before loading, so that a bad pair is told once, not
            // at every look.
            *seen = now;
        }
        match load::certified_key(&self.cert, &self.key) {
            Ok(pair) => {
                self.current.store(pair);
                tracing::info!(
                    "{}: TLS certificate reloaded from {}",
                    self.task,
                    self.cert.display()
                );
            }
            Err(e) => tracing::warn!("{}: keeping the TLS certificate in use: {e}", self.task),
        }
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}
