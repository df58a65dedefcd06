//! The pprof sampler: every thread of the process is sampled, without the
//! profiler's own frames; the report comes out folded (the text flamegraph
//! tools read, [`fold`]) or as `profile.proto` (`super::proto`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pprof::{ProfilerGuard, ProfilerGuardBuilder, Report};

use crate::error::{Error, Result};

/// Samples per second of CPU time: 99 rather than 100 so sampling does not
/// run in lockstep with work done on 10 ms timers.
const FREQUENCY: i32 = 99;

/// pprof keeps one profiler per process; this says whether it is ours to
/// start. A flag rather than a lock so a second caller fails at once.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Profiles the whole process for `duration`, already checked, and returns
/// the report as `render` writes it.
pub(super) async fn profile<T: Send + 'static>(
    duration: Duration,
    render: fn(&Report) -> T,
) -> Result<T> {
    let claim = Claim::take()?;
    // Starting resolves a first backtrace (pprof warms its symbol cache),
    // which can read debug info for a while: not on a runtime thread.
    let session = blocking(move || Session::start(claim)).await??;
    tokio::time::sleep(duration).await;
    // Symbolizing every sampled address, and rendering (the report is not
    // Send), are the costly part.
    blocking(move || session.finish(render)).await?
}

/// Runs `work` on tokio's blocking pool. If the caller gives up (the
/// future is dropped), the work still ends and its result, a running
/// profiler included, is dropped there, which stops it.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| Error::ProfilingUnavailable(format!("the profiler failed: {err}")))
}

/// The right to run the process's one profiler, given back on drop.
#[derive(Debug)]
struct Claim(());

impl Claim {
    fn take() -> Result<Self> {
        RUNNING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| Claim(()))
            .map_err(|_| Error::ProfileRunning)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::Release);
    }
}

/// A running profiler and the claim it runs under.
struct Session {
    // Fields drop in order: the profiler stops before the claim is given
    // back, so the next caller never meets pprof's own "already running".
    guard: ProfilerGuard<'static>,
    _claim: Claim,
}

impl Session {
    fn start(claim: Claim) -> Result<Self> {
        let guard = ProfilerGuardBuilder::default()
            .frequency(FREQUENCY)
            .build()
            .map_err(|err| match err {
                // Someone else in the process uses pprof directly.
                pprof::Error::Running => Error::ProfileRunning,
                other => Error::ProfilingUnavailable(other.to_string()),
            })?;
        Ok(Session {
            guard,
            _claim: claim,
        })
    }

    fn finish<T>(self, render: fn(&Report) -> T) -> Result<T> {
        let report = self
            .guard
            .report()
            .frames_post_processor(skip_own_frames)
            .build()
            .map_err(|err| Error::ProfilingUnavailable(err.to_string()))?;
        Ok(render(&report))
    }
}

/// Drops the profiler's own frames from a sampled stack; stacks that then
/// read the same are merged by the report.
fn skip_own_frames(frames: &mut pprof::Frames) {
    let own = frames.frames.len() - own_frames_skipped(&frames.frames).len();
    frames.frames.drain(..own);
}

/// The report as folded stacks, one line per distinct stack, sorted.
pub(super) fn fold(report: &Report) -> String {
    // pprof keys samples by address, so two keys can read the same once
    // symbolized (and its resolved keys also differ by sample time): the
    // text is the key that counts.
    let mut stacks: BTreeMap<String, isize> = BTreeMap::new();
    for (frames, count) in &report.data {
        let mut stack = clean(&frames.thread_name_or_id());
        // Same order as pprof's flamegraph writer: frames outermost first,
        // and within a frame the inlined functions outermost first.
        for symbol in frames
            .frames
            .iter()
            .rev()
            .flat_map(|frame| frame.iter().rev())
        {
            stack.push(';');
            stack.push_str(&clean(&symbol.name()));
        }
        *stacks.entry(stack).or_default() += count;
    }
    let mut folded = String::new();
    for (stack, count) in stacks {
        // Writing to a String cannot fail.
        let _ = writeln!(folded, "{stack} {count}");
    }
    folded
}

/// The sampled stack without the profiler's own frames: every sample is
/// taken in pprof's signal handler, whose frames (its unwinder's, its own,
/// the kernel's signal trampoline) sit innermost and say nothing about the
/// program. Frames are innermost first.
fn own_frames_skipped(frames: &[Vec<pprof::Symbol>]) -> &[Vec<pprof::Symbol>] {
    // backtrace's frames are pprof's unwinder when a pprof frame follows,
    // and the program's own otherwise: drop up to the last pprof frame.
    let mut end = 0;
    for (i, frame) in frames.iter().enumerate() {
        let names: Vec<String> = frame.iter().map(pprof::Symbol::name).collect();
        if names.iter().any(|name| is_profiler(name)) {
            end = i + 1;
        } else if !names.iter().any(|name| name.starts_with("backtrace::")) {
            break;
        }
    }
    &frames[end..]
}

/// Whether a function is pprof's or the signal trampoline the kernel
/// returns through after its handler (glibc's `__restore_rt`, the vDSO's
/// `__kernel_rt_sigreturn`, ...).
fn is_profiler(name: &str) -> bool {
    name.starts_with("pprof::")
        || name.starts_with("<pprof::")
        || name == "perf_signal_handler"
        || name == "__restore_rt"
        || name.contains("sigreturn")
}

/// A name as one field of a folded line: `;` separates frames and a line
/// break ends the stack, so neither may appear inside a name (Rust array
/// types such as `[u8; 4]` do have `;`).
fn clean(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            ';' => ',',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_break_the_folded_format() {
        assert_eq!(clean("<[u8; 4] as Debug>::fmt"), "<[u8, 4] as Debug>::fmt");
        assert_eq!(clean("tokio-runtime\nworker"), "tokio-runtime worker");
    }

    #[test]
    fn the_profilers_own_functions_are_recognised() {
        assert!(is_profiler(
            "<pprof::backtrace::backtrace_rs::Trace as pprof::backtrace::Trace>::trace"
        ));
        assert!(is_profiler("perf_signal_handler"));
        assert!(is_profiler("__restore_rt"));
        assert!(is_profiler("__kernel_rt_sigreturn"));
        assert!(!is_profiler("my_pprof::main"));
        assert!(!is_profiler("backtrace::backtrace::trace_unsynchronized"));
    }
}
