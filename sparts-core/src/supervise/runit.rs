//! A runit service directory for the service: `--runit-install`, as the
//! original had it.

use std::path::Path;

use super::Invocation;
use super::files::{self, File};
use crate::error::{Error, Result};

/// Writes `runsvdir/NAME/run` and `runsvdir/NAME/log/run` (and the log
/// directory `log/main`) and returns what to print.
pub(super) fn install(inv: &Invocation, runsvdir: &Path, force: bool) -> Result<String> {
    let dir = runsvdir.join(&inv.name);
    let mut run = String::from("#!/bin/sh\n");
    if inv.dropped_daemon {
        run.push_str("# --daemon is left out: runsv supervises the process in the foreground.\n");
    }
    // svlogd reads the service's stdout; the service logs on stderr.
    run.push_str("exec 2>&1\nexec");
    for word in std::iter::once(&inv.exe).chain(&inv.args) {
        run.push(' ');
        run.push_str(&quote_sh(word));
    }
    run.push('\n');
    let log_run = "#!/bin/sh\nexec svlogd -tt ./main\n".to_owned();
    let files = [
        File {
            path: dir.join("log/run"),
            content: log_run,
            mode: 0o755,
        },
        File {
            path: dir.join("run"),
            content: run,
            mode: 0o755,
        },
    ];
    files::check(&files, force)?;
    // svlogd does not create the directory it logs to, and runsv may start
    // it as soon as `run` is there.
    let main = dir.join("log/main");
    std::fs::create_dir_all(&main).map_err(|source| Error::File { path: main, source })?;
    files::write(&files)?;
    Ok(format!(
        "Wrote {0}/run and {0}/log/run. runsvdir starts it within 5 seconds; `sv status {0}` shows it.\n",
        dir.display()
    ))
}

/// A word for `sh`: bare when it holds nothing the shell reads, else in
/// single quotes (inside which only `'` needs care).
fn quote_sh(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted() {
        assert_eq!(quote_sh("--http-port"), "--http-port");
        assert_eq!(quote_sh("a b"), "'a b'");
        assert_eq!(quote_sh("it's"), r"'it'\''s'");
        assert_eq!(quote_sh("$HOME"), "'$HOME'");
        assert_eq!(quote_sh(""), "''");
    }
}
