//! A systemd unit for the service: `--print-systemd-unit` and
//! `--install-systemd`.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::Invocation;
use super::files::{self, File};
use crate::error::{Error, Result};

/// Where a unit for the user's manager goes, under its configuration home.
const USER_UNITS: &str = "systemd/user";

/// The unit's text.
pub(super) fn unit(inv: &Invocation, user: bool) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_unit(&mut out, inv, user);
    out
}

fn write_unit(out: &mut String, inv: &Invocation, user: bool) -> std::fmt::Result {
    let exec = std::iter::once(&inv.exe)
        .chain(&inv.args)
        .map(|a| quote_exec(a))
        .collect::<Vec<_>>()
        .join(" ");
    writeln!(out, "[Unit]")?;
    writeln!(
        out,
        "Description={}",
        escape_specifiers(&format!("The {} service", inv.service))
    )?;
    writeln!(out)?;
    writeln!(out, "[Service]")?;
    // The service sends READY=1 once every task has started.
    writeln!(out, "Type=notify")?;
    if inv.dropped_daemon {
        writeln!(
            out,
            "# --daemon is left out: systemd supervises the process in the foreground."
        )?;
    }
    writeln!(out, "ExecStart={exec}")?;
    // SIGHUP restarts the service in-process, announced with RELOADING=1.
    writeln!(out, "ExecReload=/bin/kill -HUP $MAINPID")?;
    writeln!(out, "Restart=on-failure")?;
    writeln!(
        out,
        "# The service pings the watchdog at half of this whenever systemd sets\n\
         # WATCHDOG_USEC; a service that hangs is restarted within 30 s."
    )?;
    writeln!(out, "WatchdogSec=30s")?;
    writeln!(out, "NoNewPrivileges=yes")?;
    writeln!(out, "ProtectSystem=strict")?;
    let in_home = |p: &Path| {
        ["/home", "/root", "/run/user"]
            .iter()
            .any(|h| p.starts_with(h))
    };
    if in_home(Path::new(&inv.exe)) || inv.writable.iter().chain(&inv.read).any(|p| in_home(p)) {
        writeln!(
            out,
            "# Read-only, not hidden: the program or its files are under a home directory."
        )?;
        writeln!(out, "ProtectHome=read-only")?;
    } else {
        writeln!(out, "ProtectHome=yes")?;
    }
    let in_tmp = |p: &Path| p.starts_with("/tmp") || p.starts_with("/var/tmp");
    if inv.writable.iter().any(|p| in_tmp(p)) {
        writeln!(
            out,
            "# Not private: --logfile or --pidfile is in the shared temporary directory."
        )?;
        writeln!(out, "PrivateTmp=no")?;
    } else {
        writeln!(out, "PrivateTmp=yes")?;
    }
    if !inv.writable.is_empty() {
        writeln!(
            out,
            "# Where --logfile and --pidfile write; the rest of the system is read-only."
        )?;
    }
    for dir in &inv.writable {
        let (key, value) = directory_setting(dir, user);
        writeln!(out, "{key}={}", quote_word(&escape_specifiers(&value)))?;
    }
    writeln!(out)?;
    writeln!(out, "[Install]")?;
    let target = if user {
        "default.target"
    } else {
        "multi-user.target"
    };
    writeln!(out, "WantedBy={target}")
}

/// The setting that makes `dir` writable. systemd's own directories
/// (`StateDirectory=` and the like) are created for the service and
/// survive `DynamicUser=`; they exist for the system manager's paths only,
/// as the user manager puts them elsewhere.
fn directory_setting(dir: &Path, user: bool) -> (&'static str, String) {
    const OWN: &[(&str, &str)] = &[
        ("/var/lib", "StateDirectory"),
        ("/var/log", "LogsDirectory"),
        ("/var/cache", "CacheDirectory"),
        ("/run", "RuntimeDirectory"),
        ("/var/run", "RuntimeDirectory"),
    ];
    if !user {
        for (base, key) in OWN {
            if let Ok(rest) = dir.strip_prefix(base)
                && let Some(rest) = rest.to_str().filter(|r| !r.is_empty())
            {
                return (key, rest.to_owned());
            }
        }
    }
    ("ReadWritePaths", dir.to_string_lossy().into_owned())
}

/// The directory `--install-systemd` writes to: the system manager's, or
/// with `--user` the user manager's under `$XDG_CONFIG_HOME` (or
/// `~/.config`). `env` reads a non-empty environment variable.
pub(super) fn default_dir(user: bool, env: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    if !user {
        return Ok(PathBuf::from("/etc/systemd/system"));
    }
    let absolute = |v: OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(config) = env("XDG_CONFIG_HOME").and_then(absolute) {
        return Ok(config.join(USER_UNITS));
    }
    if let Some(home) = env("HOME").and_then(absolute) {
        return Ok(home.join(".config").join(USER_UNITS));
    }
    Err(Error::Usage(
        "--user: neither XDG_CONFIG_HOME nor HOME is an absolute path; give --systemd-dir".into(),
    ))
}

/// Writes the unit to `dir/NAME.service` and returns what to print: where
/// it went and how to enable it.
pub(super) fn install(inv: &Invocation, dir: &Path, user: bool, force: bool) -> Result<String> {
    let file = format!("{}.service", inv.name);
    let path = dir.join(&file);
    files::write_all(
        &[File {
            path: path.clone(),
            content: unit(inv, user),
            mode: 0o644,
        }],
        force,
    )?;
    let systemctl = if user {
        "systemctl --user"
    } else {
        "systemctl"
    };
    Ok(format!(
        "Wrote {}. To enable and start it:\n  {systemctl} daemon-reload\n  {systemctl} enable --now {file}\n",
        path.display()
    ))
}

/// `%` starts a specifier in most unit settings; `%%` is a literal one.
fn escape_specifiers(s: &str) -> String {
    s.replace('%', "%%")
}

/// One word of `ExecStart=`, read back by systemd as `arg`: specifiers
/// and `$` variables (`$$` is a literal `$`) escaped, then quoted.
fn quote_exec(arg: &str) -> String {
    quote_word(&escape_specifiers(arg).replace('$', "$$"))
}

/// A word as systemd splits settings: bare when it has no space, quote or
/// backslash, else in double quotes with C escapes. A lone `;` would
/// separate commands.
fn quote_word(word: &str) -> String {
    let plain = |c: char| !(c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\'));
    if word == ";" {
        return "\\;".to_owned();
    }
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c) & 0xff);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_words_are_quoted_for_systemd() {
        assert_eq!(quote_exec("--http-port"), "--http-port");
        assert_eq!(quote_exec("two words"), "\"two words\"");
        assert_eq!(quote_exec("it's \"x\""), "\"it's \\\"x\\\"\"");
        assert_eq!(quote_exec("$HOME"), "$$HOME");
        assert_eq!(quote_exec("${X} y"), "\"$${X} y\"");
        assert_eq!(quote_exec("100%"), "100%%");
        assert_eq!(quote_exec("a\\b"), "\"a\\\\b\"");
        assert_eq!(quote_exec(""), "\"\"");
        assert_eq!(quote_exec(";"), "\\;");
        assert_eq!(quote_exec("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn written_directories_use_systemds_own_where_they_can() {
        let setting = |d: &str, user| directory_setting(Path::new(d), user);
        assert_eq!(
            setting("/var/lib/hello", false),
            ("StateDirectory", "hello".into())
        );
        assert_eq!(
            setting("/var/log/a/b", false),
            ("LogsDirectory", "a/b".into())
        );
        assert_eq!(
            setting("/var/log", false),
            ("ReadWritePaths", "/var/log".into())
        );
        assert_eq!(
            setting("/var/log/a", true),
            ("ReadWritePaths", "/var/log/a".into())
        );
        assert_eq!(
            setting("/srv/x", false),
            ("ReadWritePaths", "/srv/x".into())
        );
    }

    #[test]
    fn user_units_go_under_the_config_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        let dir = |pairs| default_dir(true, env(pairs)).ok();
        assert_eq!(
            dir(&[("XDG_CONFIG_HOME", "/c"), ("HOME", "/h")]),
            Some(PathBuf::from("/c/systemd/user"))
        );
        assert_eq!(
            dir(&[("HOME", "/h")]),
            Some(PathBuf::from("/h/.config/systemd/user"))
        );
        assert_eq!(dir(&[("XDG_CONFIG_HOME", "rel")]), None);
        assert_eq!(
            default_dir(false, env(&[])).ok(),
            Some(PathBuf::from("/etc/systemd/system"))
        );
    }

    #[test]
    fn a_config_file_under_a_home_is_read_only_not_hidden() {
        let inv = Invocation {
            name: "hello".into(),
            service: "Hello".into(),
            exe: "/usr/bin/hello".into(),
            args: vec!["--config".into(), "/home/ops/hello.toml".into()],
            dropped_daemon: false,
            writable: vec![],
            read: vec![PathBuf::from("/home/ops/hello.toml")],
        };
        let text = unit(&inv, false);
        assert!(text.contains("ProtectHome=read-only"), "{text}");
        assert!(
            text.contains("ExecStart=/usr/bin/hello --config /home/ops/hello.toml"),
            "{text}"
        );
    }

    #[test]
    fn the_unit_names_the_service_and_drops_daemon() {
        let inv = Invocation {
            name: "hello-service".into(),
            service: "HelloService".into(),
            exe: "/usr/bin/hello".into(),
            args: vec!["--http-port".into(), "8000".into()],
            dropped_daemon: true,
            writable: vec![PathBuf::from("/var/log/hello")],
            read: vec![],
        };
        let text = unit(&inv, false);
        for line in [
            "Description=The HelloService service",
            "Type=notify",
            "# --daemon is left out",
            "ExecStart=/usr/bin/hello --http-port 8000",
            "ExecReload=/bin/kill -HUP $MAINPID",
            "Restart=on-failure",
            "WatchdogSec=30s",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "LogsDirectory=hello",
            "WantedBy=multi-user.target",
        ] {
            assert!(text.contains(line), "{line:?} not in\n{text}");
        }
        assert!(unit(&inv, true).contains("WantedBy=default.target"));
    }
}
