//! One run of a command: its output to the callbacks, its exit, and its
//! end at shutdown.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::process::Child;
use tokio::time::Instant;

use super::group::Group;
use super::lines::{LineCallback, pump};
use crate::counters::Counter;
use crate::task::TaskContext;

/// How long the output may still flow once the command has exited: only a
/// process that left the command's group can hold its pipes longer.
const DRAIN: Duration = Duration::from_secs(1);

/// What a run needs besides the child.
pub(super) struct Outputs<'a> {
    pub(super) on_stdout: &'a LineCallback,
    pub(super) on_stderr: &'a LineCallback,
    pub(super) stdout_lines: &'a Counter,
    pub(super) stderr_lines: &'a Counter,
}

/// How a run ended.
pub(super) struct Exit {
    pub(super) status: ExitStatus,
    /// The task was stopping: the command was asked to end.
    pub(super) stopped: bool,
}

/// Runs `child` to its end. When the task stops, its group gets SIGTERM,
/// then SIGKILL after `kill_timeout`; output keeps flowing meanwhile, so a
/// command that logs while it shuts down is not blocked on a full pipe.
/// Once the command has exited, whatever is left in its group is killed.
pub(super) async fn supervise<O: Send + Sync + 'static>(
    mut child: Child,
    ctx: &TaskContext<O>,
    outputs: Outputs<'_>,
    kill_timeout: impl Fn() -> Duration,
) -> io::Result<Exit> {
    let group = Group::led_by(child.id());
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let output = async {
        tokio::join!(
            pump(stdout, outputs.on_stdout, outputs.stdout_lines),
            pump(stderr, outputs.on_stderr, outputs.stderr_lines),
        );
    };
    tokio::pin!(output);
    let mut output_done = false;
    let mut kill_at: Option<Instant> = None;
    let mut killed = false;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            () = &mut output, if !output_done => output_done = true,
            () = ctx.stopped(), if kill_at.is_none() => {
                let grace = kill_timeout();
                tracing::info!("stopping the command: SIGTERM, then SIGKILL after {grace:?}");
                group.signal(Signal::SIGTERM);
                kill_at = Some(Instant::now() + grace);
            }
            () = sleep_until(kill_at), if !killed => {
                tracing::warn!("the command outlived its kill timeout: SIGKILL");
                group.signal(Signal::SIGKILL);
                killed = true;
            }
        }
    };
    group.kill_rest();
    if !output_done {
        let _ = tokio::time::timeout(DRAIN, output).await;
    }
    Ok(Exit {
        status,
        stopped: kill_at.is_some(),
    })
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
