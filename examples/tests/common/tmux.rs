//! A program in a real terminal: a detached tmux session of its own (its
//! own server, so tests run side by side), driven with `send-keys` and read
//! with `capture-pane`. When the program exits, the pane's shell prints
//! `EXIT=<status>` and the terminal's `echo` and `icanon` settings
//! (`TTY=echo` or `TTY=-echo`), so a test sees whether the terminal was
//! given back in cooked mode.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use super::{PATIENCE, TestResult};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A tmux session running one program.
pub(crate) struct Tmux {
    server: String,
}

impl Tmux {
    /// Whether tmux is installed (`.ci/run` installs it; elsewhere the
    /// terminal tests skip without it).
    pub(crate) fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|out| out.status.success())
    }

    /// Runs the shell command `program` in a 100x32 terminal.
    pub(crate) fn run(program: &str) -> TestResult<Self> {
        Self::run_sized(program, 100, 32)
    }

    /// Runs the shell command `program` in a terminal of `width` x `height`.
    pub(crate) fn run_sized(program: &str, width: u16, height: u16) -> TestResult<Self> {
        let server = format!(
            "sparts-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let script = format!(
            "{program}; echo \"EXIT=$?\"; stty -a | tr ' ;' '\\n\\n' \
             | grep -x -e echo -e -echo -e icanon -e -icanon | sed 's/^/TTY=/'; sleep 600"
        );
        let tmux = Self { server };
        let (width, height) = (width.to_string(), height.to_string());
        tmux.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &width,
            "-y",
            &height,
            "sh",
            "-c",
            &script,
        ])?;
        Ok(tmux)
    }

    fn tmux(&self, args: &[&str]) -> TestResult<String> {
        let out = Command::new("tmux")
            .args(["-L", &self.server, "-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .output()?;
        if !out.status.success() {
            return Err(format!("tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Sends keys by tmux's names (`Tab`, `Right`, `C-u`, `q`).
    pub(crate) fn keys(&self, keys: &[&str]) -> TestResult {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.tmux(&args).map(drop)
    }

    /// Types `text` as it is.
    pub(crate) fn type_text(&self, text: &str) -> TestResult {
        self.tmux(&["send-keys", "-t", "t", "-l", text]).map(drop)
    }

    /// What the terminal shows now.
    pub(crate) fn screen(&self) -> TestResult<String> {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    /// The screen once `want` holds for it, within the patience.
    pub(crate) fn wait_for(&self, what: &str, want: impl Fn(&str) -> bool) -> TestResult<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen()?;
            if want(&screen) {
                return Ok(screen);
            }
            if Instant::now() > deadline {
                return Err(format!("no {what} within {PATIENCE:?}; the screen:\n{screen}").into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The screen once it shows every one of `texts`.
    pub(crate) fn wait_for_all(&self, texts: &[&str]) -> TestResult<String> {
        self.wait_for(&format!("{texts:?}"), |screen| {
            texts.iter().all(|t| screen.contains(t))
        })
    }

    /// The screen once it shows `text` as an applied change (sparts-top's
    /// message after the service answered), not as the edit line, which
    /// reads the same until its cursor: Enter may not be handled yet.
    pub(crate) fn wait_for_applied(&self, text: &str) -> TestResult<String> {
        let editing = format!("{text}▏");
        self.wait_for(&format!("{text:?} applied"), |screen| {
            screen.contains(text) && !screen.contains(&editing)
        })
    }

    /// The screen once the program exited with `status` and the terminal
    /// is back in cooked mode.
    pub(crate) fn wait_exit(&self, status: i32) -> TestResult<String> {
        let exit = format!("EXIT={status}");
        self.wait_for_all(&[&exit, "TTY=echo", "TTY=icanon"])
    }

    /// The program's process id: the pane's shell's child.
    pub(crate) fn program_pid(&self) -> TestResult<Pid> {
        let shell = self.tmux(&["display-message", "-p", "-t", "t", "#{pane_pid}"])?;
        let shell = shell.trim();
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))?;
        let child = children
            .split_whitespace()
            .next()
            .ok_or("the program is not running")?;
        Ok(Pid::from_raw(child.parse()?))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}
