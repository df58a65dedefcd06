//! The CPU profiler behind `Admin::cpu_profile` and
//! `Admin::cpu_profile_pprof`. The sampler itself (pprof and the crates it
//! brings) is the `cpu-profile` feature; without it the calls still check
//! their duration, then answer that profiling is not built in.

#[cfg(feature = "cpu-profile")]
mod proto;
#[cfg(feature = "cpu-profile")]
mod sampler;

use std::time::Duration;

use crate::error::{Error, Result};

/// The longest profile: long enough for a slow request, short enough that
/// a forgotten call does not keep every thread sampled for hours.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(300);

/// Profiles the whole process for `duration` and returns folded stacks.
pub(crate) async fn cpu_profile(duration: Duration) -> Result<String> {
    check(duration)?;
    #[cfg(feature = "cpu-profile")]
    let folded = sampler::profile(duration, sampler::fold);
    #[cfg(not(feature = "cpu-profile"))]
    let folded = not_built_in();
    folded.await
}

/// Profiles the whole process for `duration` and returns gzip-compressed
/// `profile.proto`.
pub(crate) async fn cpu_profile_pprof(duration: Duration) -> Result<Vec<u8>> {
    check(duration)?;
    #[cfg(feature = "cpu-profile")]
    let encoded = sampler::profile(duration, proto::encode);
    #[cfg(not(feature = "cpu-profile"))]
    let encoded = not_built_in();
    encoded.await
}

fn check(duration: Duration) -> Result<()> {
    if duration.is_zero() || duration > MAX_DURATION {
        return Err(Error::InvalidProfileDuration {
            requested: duration,
            max: MAX_DURATION,
        });
    }
    Ok(())
}

#[cfg(not(feature = "cpu-profile"))]
async fn not_built_in<T>() -> Result<T> {
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
        for bad in [Duration::ZERO, MAX_DURATION + Duration::from_millis(1)] {
            let err = cpu_profile_pprof(bad).await.expect_err("refused");
            assert!(matches!(err, Error::InvalidProfileDuration { .. }), "{err}");
        }
        let folded = cpu_profile(Duration::from_millis(50)).await;
        let pprof = cpu_profile_pprof(Duration::from_millis(50)).await;
        for err in [
            folded.expect_err("not built in"),
            pprof.expect_err("neither"),
        ] {
            assert!(matches!(err, Error::ProfilingUnavailable(_)), "{err:?}");
            assert_eq!(
                err.to_string(),
                "CPU profiling is unavailable: the service was built without the `cpu-profile` feature"
            );
        }
    }
}
