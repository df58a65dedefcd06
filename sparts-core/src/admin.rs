//! The admin model: one set of fb303-style calls that every transport
//! (HTTP, gRPC, Thrift, D-Bus) serves, so their semantics live here.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use regex::Regex;

use crate::counters::CountersSnapshot;
use crate::error::{Error, Result};
use crate::handle::ServiceHandle;
use crate::options::OptionSource;
use crate::status::{Readiness, Status};

/// Who is calling an admin method, as the transport saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Peer {
    /// A peer on a unix socket (or D-Bus): only local users reach it, so it
    /// is trusted.
    Unix,
    /// A network peer.
    Ip(IpAddr),
    /// Code inside the process.
    InProcess,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Unix => f.write_str("unix socket"),
            Peer::Ip(ip) => write!(f, "{ip}"),
            Peer::InProcess => f.write_str("in-process"),
        }
    }
}

/// The admin calls of a service. Reads are open to everyone; the mutating
/// calls (set option, reinitialize, shutdown) accept only trusted peers: unix
/// socket peers and the networks of `--admin-trusted`.
///
/// ```
/// # async fn demo() -> sparts_core::Result<()> {
/// use sparts_core::{Admin, Peer, VService};
///
/// let running = VService::new("Demo").start_with_args(["demo"]).await?;
/// let admin = running.handle().admin();
/// assert_eq!(admin.status().as_str(), "ALIVE");
/// let from_afar = Peer::Ip("192.0.2.7".parse().unwrap());
/// assert!(admin.shutdown(&from_afar).is_err());
/// admin.shutdown(&Peer::InProcess)?;
/// running.wait().await?;
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Admin {
    service: ServiceHandle,
}

impl ServiceHandle {
    /// The admin model of this service.
    pub fn admin(&self) -> Admin {
        Admin {
            service: self.clone(),
        }
    }
}

impl Admin {
    /// The service's name (fb303 `getName`).
    pub fn name(&self) -> &str {
        self.service.name()
    }

    /// The service's version, empty if unset (fb303 `getVersion`).
    pub fn version(&self) -> &str {
        self.service.version().unwrap_or_default()
    }

    /// The status (fb303 `getStatus`).
    pub fn status(&self) -> Status {
        self.service.status()
    }

    /// Why the status is what it is, one reason per line (fb303 `getStatusDetails`).
    pub fn status_details(&self) -> String {
        self.service.status_details()
    }

    /// Whether the service should get traffic, and the reasons it is held
    /// not ready (see [`ServiceHandle::hold_not_ready`]).
    pub fn readiness(&self) -> Readiness {
        self.service.readiness()
    }

    /// Every counter (fb303 `getCounters`).
    pub fn counters(&self) -> CountersSnapshot {
        self.service.counters_snapshot()
    }

    /// The counters whose names match a regular expression.
    pub fn counters_matching(&self, pattern: &str) -> Result<CountersSnapshot> {
        let re = Regex::new(pattern).map_err(|source| Error::InvalidPattern {
            pattern: pattern.to_owned(),
            source,
        })?;
        Ok(self.counters().filter(&re))
    }

    /// One counter (fb303 `getCounter`); unknown names are an error.
    pub fn counter(&self, name: &str) -> Result<f64> {
        self.service.counter(name)
    }

    /// One option's value (fb303 `getOption`); `None` when unset with no default.
    pub fn option(&self, name: &str) -> Result<Option<String>> {
        self.service.option(name)
    }

    /// Every option with its value (fb303 `getOptions`).
    pub fn options(&self) -> BTreeMap<String, Option<String>> {
        self.service.options()
    }

    /// Where each option's value came from: `default`, `file`,
    /// `environment`, `command_line` or `run_time`.
    pub fn option_sources(&self) -> BTreeMap<String, OptionSource> {
        self.service.option_sources()
    }

    /// Every option name.
    pub fn option_names(&self) -> Vec<String> {
        self.service.option_names()
    }

    /// The longest option value a caller may set: 64 KiB. Option values
    /// are addresses, sizes, names and filter directives; longer input is
    /// refused before any parser sees it.
    pub const MAX_OPTION_VALUE: usize = 64 * 1024;

    /// Sets an option (fb303 `setOption`), if the peer is trusted.
    ///
    /// # Errors
    ///
    /// [`Error::NotTrusted`], then [`Error::InvalidOption`] for a value
    /// longer than [`MAX_OPTION_VALUE`](Self::MAX_OPTION_VALUE), then
    /// those of [`ServiceHandle::set_option`].
    pub fn set_option(&self, peer: &Peer, name: &str, value: &str) -> Result<()> {
        self.authorize(peer, "setOption")?;
        if value.len() > Self::MAX_OPTION_VALUE {
            return Err(Error::InvalidOption {
                name: name.to_owned(),
                reason: format!(
                    "a value of {} bytes; at most {} are accepted",
                    value.len(),
                    Self::MAX_OPTION_VALUE
                ),
            });
        }
        self.service.set_option(name, value)
    }

    /// Every exported value.
    pub fn exported_values(&self) -> BTreeMap<String, String> {
        self.service.exported_values()
    }

    /// Unix time the service started (fb303 `aliveSince`).
    pub fn alive_since(&self) -> i64 {
        self.service.alive_since()
    }

    /// Seconds since the service started.
    pub fn uptime(&self) -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        now.saturating_sub(self.alive_since())
    }

    /// The names of the running tasks.
    pub fn task_names(&self) -> Vec<String> {
        self.service.task_names()
    }

    /// Restarts the service in process (fb303 `reinitialize`), if the peer is trusted.
    pub fn reinitialize(&self, peer: &Peer) -> Result<()> {
        self.authorize(peer, "reinitialize")?;
        self.service.request_restart();
        Ok(())
    }

    /// Shuts the service down (fb303 `shutdown`), if the peer is trusted.
    pub fn shutdown(&self, peer: &Peer) -> Result<()> {
        self.authorize(peer, "shutdown")?;
        self.service.request_shutdown();
        Ok(())
    }

    /// The longest [`cpu_profile`](Self::cpu_profile) allowed: 300 s.
    pub const MAX_CPU_PROFILE: Duration = crate::profile::MAX_DURATION;

    /// Profiles the CPU use of the whole process, every thread, for
    /// `duration` (fb303 `getCpuProfile`). Open to every peer: it reads.
    ///
    /// The answer is *folded stacks*, the input of `flamegraph.pl` and
    /// `inferno-flamegraph`: one line per distinct stack, sorted,
    ///
    /// ```text
    /// thread-name;outermost_function;...;innermost_function COUNT
    /// ```
    ///
    /// where `COUNT` is the number of samples (taken at 99 Hz of CPU time,
    /// so an idle process gives few lines or none) with that stack. A thread
    /// without a name shows its id. The profiler's own frames are left out,
    /// and a `;` inside a name (`[u8; 4]`) becomes `,`.
    ///
    /// The call waits `duration` without holding a runtime thread.
    /// Dropping the future stops the profile.
    ///
    /// Profiling needs the `cpu-profile` feature (on by default in the
    /// `sparts` crate); without it, the call checks its duration and then
    /// answers [`Error::ProfilingUnavailable`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidProfileDuration`] for a zero duration or one over
    /// [`MAX_CPU_PROFILE`](Self::MAX_CPU_PROFILE); [`Error::ProfileRunning`],
    /// at once, while another profile runs (the process has one profiler);
    /// [`Error::ProfilingUnavailable`] when the profiler cannot start or is
    /// not built in.
    ///
    /// ```
    /// # async fn demo() -> sparts_core::Result<()> {
    /// use std::time::Duration;
    /// use sparts_core::{Error, VService};
    ///
    /// let running = VService::new("Demo").start_with_args(["demo"]).await?;
    /// let admin = running.handle().admin();
    /// let profile = admin.cpu_profile(Duration::from_millis(100)).await;
    /// # #[cfg(feature = "cpu-profile")]
    /// assert!(profile?.lines().all(|line| line.rsplit_once(' ').is_some()));
    /// # #[cfg(not(feature = "cpu-profile"))]
    /// # assert!(matches!(profile, Err(Error::ProfilingUnavailable(_))));
    /// assert!(matches!(
    ///     admin.cpu_profile(Duration::ZERO).await,
    ///     Err(Error::InvalidProfileDuration { .. })
    /// ));
    /// # running.shutdown().await }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub async fn cpu_profile(&self, duration: Duration) -> Result<String> {
        crate::profile::cpu_profile(duration).await
    }

    /// Profiles the CPU use of the whole process for `duration`, as
    /// [`cpu_profile`](Self::cpu_profile) does, and answers in pprof's
    /// format: gzip-compressed `profile.proto`, what Go's
    /// `/debug/pprof/profile` serves and `go tool pprof`, Pyroscope and
    /// Parca read. Each sample is one stack (leaf first, the profiler's own
    /// frames left out) with a `thread` label, valued in samples and in CPU
    /// nanoseconds.
    ///
    /// Trusted peers only, unlike the folded stacks of fb303's
    /// `getCpuProfile`: this is the call served where untrusted clients
    /// reach (HTTP), and a profile holds the process's one profiler for up
    /// to five minutes.
    ///
    /// # Errors
    ///
    /// [`Error::NotTrusted`] for a peer outside `--admin-trusted`, then
    /// those of [`cpu_profile`](Self::cpu_profile).
    pub async fn cpu_profile_pprof(&self, peer: &Peer, duration: Duration) -> Result<Vec<u8>> {
        self.authorize(peer, "CPU profile")?;
        crate::profile::cpu_profile_pprof(duration).await
    }

    /// Whether this peer may call the mutating methods.
    pub fn is_trusted(&self, peer: &Peer) -> bool {
        match peer {
            Peer::Unix | Peer::InProcess => true,
            Peer::Ip(ip) => {
                let ip = ip.to_canonical();
                self.service
                    .service_options()
                    .admin_trusted
                    .iter()
                    .any(|net| net.contains(&ip))
            }
        }
    }

    fn authorize(&self, peer: &Peer, action: &str) -> Result<()> {
        if self.is_trusted(peer) {
            return Ok(());
        }
        tracing::warn!(service = %self.service.name(), %peer, "refused admin call {action}: peer not in --admin-trusted");
        Err(Error::NotTrusted {
            action: action.to_owned(),
            peer: peer.to_string(),
        })
    }
}
