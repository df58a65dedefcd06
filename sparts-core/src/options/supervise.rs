//! The options that install the service under a supervisor (systemd or
//! runit) instead of running it.

use std::path::PathBuf;

/// Install actions: print or write a systemd unit, or a runit service
/// directory, for this binary with its current arguments, then exit.
#[derive(clap::Args, Debug, Clone, Default)]
#[non_exhaustive]
pub struct SuperviseOptions {
    /// Print a systemd unit that runs this binary with these arguments (less --daemon) and exit.
    #[arg(long, conflicts_with_all = ["install_systemd", "runit_install", "status", "kill"])]
    pub print_systemd_unit: bool,

    /// Write that unit to /etc/systemd/system/NAME.service (see --systemd-dir, --user), print how to enable it, and exit.
    #[arg(long, conflicts_with_all = ["runit_install", "status", "kill"])]
    pub install_systemd: bool,

    /// With --print-systemd-unit or --install-systemd: a unit for the user's manager (systemctl --user).
    #[arg(long)]
    pub user: bool,

    /// Where --install-systemd writes the unit (default: /etc/systemd/system, or with --user $XDG_CONFIG_HOME/systemd/user).
    #[arg(long, value_name = "DIR")]
    pub systemd_dir: Option<PathBuf>,

    /// Write a runit service directory, DIR/NAME with run and log/run (see --runit-dir), and exit.
    #[arg(long, conflicts_with_all = ["status", "kill"])]
    pub runit_install: bool,

    /// The directory runsvdir watches, where --runit-install writes.
    #[arg(long, default_value = "/etc/service", value_name = "DIR")]
    pub runit_dir: PathBuf,

    /// Let --install-systemd and --runit-install replace files whose content differs.
    #[arg(long)]
    pub force: bool,
}
