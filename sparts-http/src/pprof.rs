//! `GET /debug/pprof/profile?seconds=N`: a CPU profile of the process in
//! pprof's format (gzip-compressed `profile.proto`), as Go's
//! `net/http/pprof` serves it, so that `go tool pprof`, Pyroscope and
//! Parca fetch it as they would from a Go service. Trusted peers only.

use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sparts_core::{Admin, Error, Peer};

use crate::admin::{ErrorBody, status_code};

/// The path, as Go serves it.
pub(crate) const PATH: &str = "/debug/pprof/profile";

/// How long a profile lasts when `seconds` is left out: Go's default.
const DEFAULT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
pub(crate) struct ProfileQuery {
    seconds: Option<String>,
}

/// `GET /debug/pprof/profile[?seconds=N]`: profiles for N seconds (1 to
/// 300, default 30), then answers the profile as a download named
/// `profile`, as Go does. Errors are `{"error": "..."}`: 400 for a bad
/// `seconds`, 403 for a peer outside `--admin-trusted`, 409 while another
/// profile runs, 501 when the service cannot profile (built without the
/// `cpu-profile` feature, or the profiler cannot start here).
pub(crate) async fn profile(
    State(admin): State<Admin>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Query(query): Query<ProfileQuery>,
) -> Response {
    let duration = match seconds(query.seconds.as_deref()) {
        Ok(duration) => duration,
        Err(error) => return (StatusCode::BAD_REQUEST, Json(ErrorBody { error })).into_response(),
    };
    match admin.cpu_profile_pprof(&peer, duration).await {
        Ok(profile) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"profile\"",
                ),
            ],
            profile,
        )
            .into_response(),
        Err(err) => (
            status(&err),
            Json(ErrorBody {
                error: err.to_string(),
            }),
        )
            .into_response(),
    }
}

/// The profile's duration from `seconds`: whole seconds, as Go takes them;
/// the admin model checks the range.
fn seconds(given: Option<&str>) -> Result<Duration, String> {
    match given {
        None => Ok(DEFAULT),
        Some(text) => text.parse().map(Duration::from_secs).map_err(|_| {
            format!(
                "seconds must be a whole number of seconds from 1 to {}, not `{text}`",
                Admin::MAX_CPU_PROFILE.as_secs()
            )
        }),
    }
}

/// The status of a failed profile: the admin errors' own, but for two
/// cases this endpoint answers as profiling clients expect.
fn status(err: &Error) -> StatusCode {
    match err {
        // The process has one profiler: the request conflicts with the
        // profile in progress (the admin model's kind, Unavailable, would
        // be 503, which health checkers read as the service being down).
        Error::ProfileRunning => StatusCode::CONFLICT,
        // Not built in, or the profiler cannot run on this system: this
        // server does not do profiles, and asking again will not help.
        Error::ProfilingUnavailable(_) => StatusCode::NOT_IMPLEMENTED,
        other => status_code(other.admin_kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_whole_and_default_to_thirty() {
        assert_eq!(seconds(None), Ok(Duration::from_secs(30)));
        assert_eq!(seconds(Some("5")), Ok(Duration::from_secs(5)));
        // Out of range is for the admin model to refuse, with its words.
        assert_eq!(seconds(Some("0")), Ok(Duration::ZERO));
        for bad in ["", "1.5", "-1", "five", "99999999999999999999"] {
            let err = seconds(Some(bad)).expect_err(bad);
            assert!(err.contains("from 1 to 300") && err.contains(bad), "{err}");
        }
    }

    #[test]
    fn a_running_profile_is_a_conflict_and_no_profiler_is_not_implemented() {
        let cases = [
            (Error::ProfileRunning, 409),
            (Error::ProfilingUnavailable("no perf".into()), 501),
            (
                Error::InvalidProfileDuration {
                    requested: Duration::ZERO,
                    max: Admin::MAX_CPU_PROFILE,
                },
                400,
            ),
            (
                Error::NotTrusted {
                    action: "CPU profile".into(),
                    peer: "192.0.2.7".into(),
                },
                403,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(status(&err).as_u16(), code, "{err}");
        }
    }
}
