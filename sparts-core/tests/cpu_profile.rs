//! `Admin::cpu_profile` on the real process: profiling needs real CPU time,
//! so these tests take real seconds. The process has one profiler, so the
//! tests that run one take turns.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sparts_core::{Admin, Error, RunningService, VService};

/// One profile at a time in this test binary.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn service() -> (RunningService, Admin) {
    let running = VService::new("Profiled")
        .start_with_args(["profiled"])
        .await
        .expect("starts");
    let admin = running.handle().admin();
    (running, admin)
}

/// Spins until `stop`: a function the profile must name.
#[inline(never)]
fn burn_cpu_for_profile(stop: &AtomicBool) -> u64 {
    let mut x = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        for i in 0..10_000 {
            x = black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
    x
}

/// A thread named `burner` that burns CPU until the result is dropped.
struct Burner {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Burner {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("burner".to_owned())
            .spawn(move || burn_cpu_for_profile(&flag))
            .expect("thread starts");
        Burner {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Burner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_names_the_function_burning_cpu() {
    let _turn = TURN.lock().await;
    let (running, admin) = service().await;
    let burner = Burner::start();
    let folded = admin
        .cpu_profile(Duration::from_secs(1))
        .await
        .expect("profiles");
    drop(burner);
    assert!(!folded.is_empty(), "a busy second gives samples");
    let lines: Vec<&str> = folded.lines().collect();
    for line in &lines {
        let (stack, count) = line.rsplit_once(' ').expect("`stack count`");
        assert!(count.parse::<u64>().expect("a count") > 0, "{line}");
        assert!(!stack.is_empty(), "{line}");
    }
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted, "lines are sorted");
    let burning = lines
        .iter()
        .find(|line| line.contains("burn_cpu_for_profile"))
        .unwrap_or_else(|| panic!("no line names burn_cpu_for_profile:\n{folded}"));
    // Thread name first, outermost frame next, the profiler's own frames
    // (its signal handler and unwinder) left out.
    assert!(burning.starts_with("burner;"), "{burning}");
    for line in lines.iter().filter(|line| line.starts_with("burner;")) {
        assert!(!line.contains("pprof::"), "{line}");
        assert!(!line.contains("backtrace::backtrace::"), "{line}");
    }
    let outer = burning.find("std::thread").expect("started by std::thread");
    let inner = burning.find("burn_cpu_for_profile").expect("named");
    assert!(outer < inner, "outermost frame first: {burning}");
    running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn durations_of_zero_or_over_five_minutes_are_refused() {
    let (running, admin) = service().await;
    for bad in [Duration::ZERO, Duration::from_secs(301)] {
        let err = admin.cpu_profile(bad).await.expect_err("refused");
        assert!(
            matches!(err, Error::InvalidProfileDuration { requested, max }
                if requested == bad && max == Admin::MAX_CPU_PROFILE),
            "{err:?}"
        );
        assert!(err.to_string().contains("at most 300 s"), "{err}");
    }
    running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_second_profile_fails_at_once_and_the_first_goes_on() {
    let _turn = TURN.lock().await;
    let (running, admin) = service().await;
    let started = Instant::now();
    // join! polls the first future first, so it holds the profiler when
    // the second one asks.
    let (first, (second, second_done)) = tokio::join!(
        async {
            let profile = admin.cpu_profile(Duration::from_secs(1)).await;
            (profile, Instant::now())
        },
        async {
            let profile = admin.cpu_profile(Duration::from_secs(1)).await;
            (profile, Instant::now())
        },
    );
    let (first, first_done) = first;
    first.expect("the first profile completes");
    let err = second.expect_err("the second is refused");
    assert!(matches!(err, Error::ProfileRunning), "{err:?}");
    assert_eq!(
        err.to_string(),
        "a CPU profile is already running: try again when it ends"
    );
    assert!(second_done < first_done, "refused without waiting");
    assert!(first_done - started >= Duration::from_secs(1));
    // Released when done: the next one runs.
    admin
        .cpu_profile(Duration::from_millis(50))
        .await
        .expect("runs once the first ended");
    running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_dropped_profile_releases_the_profiler() {
    let _turn = TURN.lock().await;
    let (running, admin) = service().await;
    let gave_up = tokio::time::timeout(
        Duration::from_millis(200),
        admin.cpu_profile(Duration::from_secs(300)),
    )
    .await;
    assert!(gave_up.is_err(), "still profiling when dropped");
    // A profiler started on the blocking pool stops there once its caller
    // is gone, so the next profile may wait a moment for it.
    let mut refused = 0;
    let profile = loop {
        match admin.cpu_profile(Duration::from_millis(50)).await {
            Err(Error::ProfileRunning) if refused < 100 => {
                refused += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => break other,
        }
    };
    profile.expect("the dropped profile let go of the profiler");
    running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn the_pprof_profile_is_gzip_and_for_trusted_peers_only() {
    let _turn = TURN.lock().await;
    let (running, admin) = service().await;
    let stranger = sparts_core::Peer::Ip("192.0.2.7".parse().expect("an address"));
    let err = admin
        .cpu_profile_pprof(&stranger, Duration::from_millis(50))
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::NotTrusted { .. }), "{err:?}");
    assert!(err.to_string().contains("192.0.2.7"), "{err}");
    let err = admin
        .cpu_profile_pprof(&sparts_core::Peer::InProcess, Duration::ZERO)
        .await
        .expect_err("refused");
    assert!(
        matches!(err, Error::InvalidProfileDuration { .. }),
        "{err:?}"
    );
    let profile = admin
        .cpu_profile_pprof(&sparts_core::Peer::InProcess, Duration::from_millis(100))
        .await
        .expect("profiles");
    // What the sample holds is checked where it is written (and over HTTP).
    assert_eq!(&profile[..2], [0x1f, 0x8b], "gzip magic");
    running.shutdown().await.expect("stops");
}
