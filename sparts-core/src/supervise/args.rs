//! The command line a supervisor runs the service with: the one given,
//! less the install flags and `--daemon`.

use std::ffi::OsString;

use crate::error::{Error, Result};

/// Flags that only ask for the install.
const INSTALL_FLAGS: &[&str] = &[
    "--print-systemd-unit",
    "--install-systemd",
    "--runit-install",
    "--user",
    "--force",
];

/// Install options that take a value (`--runit-dir DIR` or `--runit-dir=DIR`).
const INSTALL_OPTIONS: &[&str] = &["--systemd-dir", "--runit-dir"];

/// The arguments kept, and whether `--daemon` was among those left out.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Kept {
    pub(super) args: Vec<String>,
    pub(super) dropped_daemon: bool,
}

/// Filters `args` (without the program name).
///
/// Arguments are matched as clap matched them: flags take no value, so a
/// flag's spelling can only be a flag (the service takes no positional
/// arguments, so there is no `--` to stop at).
pub(super) fn kept(args: &[OsString]) -> Result<Kept> {
    let mut kept = Kept {
        args: Vec::with_capacity(args.len()),
        dropped_daemon: false,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let arg = arg.to_str().ok_or_else(|| {
            Error::Usage(format!(
                "argument {arg:?} is not UTF-8, which a unit file or run script cannot hold"
            ))
        })?;
        if arg == "--daemon" {
            kept.dropped_daemon = true;
        } else if INSTALL_OPTIONS.contains(&arg) {
            iter.next();
        } else if !INSTALL_FLAGS.contains(&arg)
            && !INSTALL_OPTIONS
                .iter()
                .any(|o| arg.strip_prefix(o).is_some_and(|v| v.starts_with('=')))
        {
            kept.args.push(arg.to_owned());
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept_of(args: &[&str]) -> Kept {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        kept(&args).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn install_flags_and_daemon_are_left_out() {
        let k = kept_of(&[
            "--http-port",
            "8000",
            "--daemon",
            "--install-systemd",
            "--force",
            "--systemd-dir",
            "/tmp/units",
            "--runit-dir=/srv/sv",
            "--logfile",
            "/var/log/x.log",
        ]);
        assert_eq!(
            k.args,
            ["--http-port", "8000", "--logfile", "/var/log/x.log"]
        );
        assert!(k.dropped_daemon);
        assert!(!kept_of(&["--user", "--print-systemd-unit"]).dropped_daemon);
    }

    #[test]
    fn non_utf8_is_refused() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![0xff, b'x']);
        assert!(matches!(kept(&[bad]), Err(Error::Usage(_))));
    }
}
