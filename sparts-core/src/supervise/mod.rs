//! Installing the service under a supervisor instead of running it, as the
//! original's `--runit-install` did: `--print-systemd-unit`,
//! `--install-systemd` and `--runit-install` write what the supervisor
//! needs to run this binary with its current arguments, then the program
//! exits without starting a task.

mod args;
mod files;
mod runit;
mod systemd;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::options::ServiceOptions;

/// What the service runs as under a supervisor: the program and the
/// command line it was given, less what only made sense for the install.
#[derive(Debug)]
struct Invocation {
    /// The unit or service directory name, from [`unit_name`].
    name: String,
    /// The service's own name, for descriptions.
    service: String,
    /// The running executable, absolute.
    exe: String,
    /// The arguments to run it with.
    args: Vec<String>,
    /// `--daemon` was given and left out: the supervisor keeps the process
    /// in the foreground.
    dropped_daemon: bool,
    /// The directories the service writes to: those of `--logfile` and
    /// `--pidfile`.
    writable: Vec<PathBuf>,
    /// The files it reads besides its executable: `--config`.
    read: Vec<PathBuf>,
}

/// Whether `options` ask for an install action rather than a run. The
/// install's companions (`--user`, `--force`) count, so that alone they are
/// refused by [`run`] rather than ignored by a service that starts.
pub(crate) fn is_requested(options: &ServiceOptions) -> bool {
    let s = &options.supervise;
    s.print_systemd_unit || s.install_systemd || s.runit_install || s.user || s.force
}

/// Carries out the install action `options` ask for, for the service
/// `service` started with `argv` (the first item is the program name), and
/// returns what to print on stdout. Refusals of the command line are
/// [`Error::Usage`].
pub(crate) fn run(service: &str, argv: &[OsString], options: &ServiceOptions) -> Result<String> {
    let s = &options.supervise;
    if s.user && !(s.print_systemd_unit || s.install_systemd) {
        return Err(Error::Usage(
            "--user applies only to --print-systemd-unit and --install-systemd".into(),
        ));
    }
    if s.force && !(s.install_systemd || s.runit_install) {
        return Err(Error::Usage(
            "--force applies only to --install-systemd and --runit-install".into(),
        ));
    }
    let invocation = Invocation::new(service, argv, options)?;
    if s.print_systemd_unit {
        Ok(systemd::unit(&invocation, s.user))
    } else if s.install_systemd {
        let env = |key: &str| std::env::var_os(key).filter(|v| !v.is_empty());
        let dir = match &s.systemd_dir {
            Some(dir) => dir.clone(),
            None => systemd::default_dir(s.user, env)?,
        };
        systemd::install(&invocation, &dir, s.user, s.force)
    } else {
        runit::install(&invocation, &s.runit_dir, s.force)
    }
}

impl Invocation {
    fn new(service: &str, argv: &[OsString], options: &ServiceOptions) -> Result<Self> {
        let exe = std::env::current_exe().map_err(|source| Error::File {
            path: PathBuf::from("the running executable"),
            source,
        })?;
        let exe = exe
            .to_str()
            .ok_or_else(|| {
                Error::Usage(format!(
                    "the executable's path {} is not UTF-8",
                    exe.display()
                ))
            })?
            .to_owned();
        let kept = args::kept(argv.get(1..).unwrap_or_default())?;
        let mut writable = Vec::new();
        for (flag, path) in [
            ("--logfile", &options.logfile),
            ("--pidfile", &options.pidfile),
        ] {
            if let Some(path) = path {
                writable.push(writable_dir(flag, path)?);
            }
        }
        writable.dedup();
        let mut read = Vec::new();
        if let Some(config) = &options.config {
            // As a written file: a relative path names another file there.
            read.push(writable_dir("--config", config).map(|_| config.clone())?);
        }
        Ok(Self {
            name: unit_name(service)?,
            service: service.to_owned(),
            exe,
            args: kept.args,
            dropped_daemon: kept.dropped_daemon,
            writable,
            read,
        })
    }
}

/// The directory of a file the service writes (or reads: `--config`).
///
/// A relative path is refused: supervisors start services in another
/// directory (systemd in `/`, runit in the service directory), where it
/// would name another file.
fn writable_dir(flag: &str, path: &Path) -> Result<PathBuf> {
    if !path.is_absolute() {
        return Err(Error::Usage(format!(
            "{flag} {}: a supervised service needs an absolute path, as it does not run in this directory",
            path.display()
        )));
    }
    Ok(path.parent().unwrap_or(Path::new("/")).to_path_buf())
}

/// The name of the unit (`NAME.service`) or runit service directory: the
/// service name in kebab case (`HelloService` is `hello-service`), every
/// character other than an ASCII letter or digit a `-`, runs of them one,
/// none at either end.
fn unit_name(service: &str) -> Result<String> {
    let kebab = heck::ToKebabCase::to_kebab_case(service);
    let mut name = String::with_capacity(kebab.len());
    for c in kebab.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    while name.ends_with('-') {
        name.pop();
    }
    if name.is_empty() {
        return Err(Error::Usage(format!(
            "the service name {service:?} has no ASCII letter or digit to name a unit with"
        )));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_are_kebab_case_ascii() {
        assert_eq!(
            unit_name("HelloService").ok().as_deref(),
            Some("hello-service")
        );
        assert_eq!(unit_name("Demo").ok().as_deref(), Some("demo"));
        assert_eq!(
            unit_name("my service/2").ok().as_deref(),
            Some("my-service-2")
        );
        assert_eq!(unit_name(" Café ").ok().as_deref(), Some("caf"));
        assert!(matches!(unit_name("…"), Err(Error::Usage(_))));
    }

    #[test]
    fn relative_written_paths_are_refused() {
        assert!(matches!(
            writable_dir("--logfile", Path::new("x.log")),
            Err(Error::Usage(_))
        ));
        assert_eq!(
            writable_dir("--logfile", Path::new("/var/log/x/x.log")).ok(),
            Some(PathBuf::from("/var/log/x"))
        );
    }
}
