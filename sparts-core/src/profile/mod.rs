//! The CPU profiler behind `Admin::cpu_profile`. The sampler itself (pprof
//! and the crates it brings) is the `cpu-profile` feature; without it the
//! call still checks its duration, then answers that profiling is not built
//! in.

#[cfg(feature = "cpu-profile")]
mod sampler;

use std::time::Duration;

use crate::error::{Error, Result};

/// The longest profile: long enough for a slow request, short enough that
/// a forgotten call does not keep every thread sampled for hours.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(300);

/// Profiles the whole process for `duration` and returns folded stacks.
pub(crate) async fn cpu_profile(duration: Duration) -> Result<String> {
    if duration.is_zero() || duration > MAX_DURATION {
        return Err(Error::InvalidProfileDuration {
            requested: duration,
            max: MAX_DURATION,
        });
    }
    run(duration).await
}

#[cfg(feature = "cpu-profile")]
async fn run(duration: Duration) -> Result<String> {
    sampler::profile(duration).await
}

#[cfg(not(feature = "cpu-profile"))]
async fn run(_: Duration) -> Result<String> {
    Err(Error::ProfilingUnavailable(
        "the service was built without the `cpu-profile` feature".to_owned(),
    ))
}

// With the feature, tests/cpu_profile.rs covers the call on the real process.
#[cfg(all(test, not(feature = "cpu-profile")))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_the_feature_durations_are_checked_and_the_answer_names_it() {
        for bad in [Duration::ZERO, MAX_DURATION + Duration::from_millis(1)] {
            let err = cpu_profile(bad).await.expect_err("refused");
            assert!(
                matches!(err, Error::InvalidProfileDuration { requested, .. } if requested == bad),
                "{err}"
            );
        }
        let err = cpu_profile(Duration::from_millis(50))
            .await
            .expect_err("not built in");
        assert!(matches!(err, Error::ProfilingUnavailable(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "CPU profiling is unavailable: the service was built without the `cpu-profile` feature"
        );
    }
}
