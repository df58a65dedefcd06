//! The endpoints every HttpTask serves unless turned off: liveness,
//! readiness, Prometheus metrics, and the admin API.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use sparts_core::telemetry::Telemetry;
use sparts_core::{Admin, Status};

use crate::admin;
use crate::scrape::scrape;

/// Which built-in endpoints a task serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Endpoints {
    pub(crate) health: bool,
    pub(crate) metrics: bool,
    pub(crate) admin: bool,
}

impl Endpoints {
    pub(crate) const ALL: Endpoints = Endpoints {
        health: true,
        metrics: true,
        admin: true,
    };

    /// Whether `path` is one of the built-in endpoints turned on: those go
    /// to the built-in router, everything else to the user's.
    #[inline]
    pub(crate) fn serves(self, path: &str) -> bool {
        match path {
            "/livez" | "/healthz" | "/readyz" => self.health,
            "/metrics" => self.metrics,
            _ => self.admin && admin::serves(path),
        }
    }

    /// The router of the endpoints turned on.
    pub(crate) fn router(self, admin: Admin, telemetry: Telemetry) -> Router {
        let mut router = Router::new();
        if self.health {
            router = router
                .route("/livez", get(livez))
                .route("/healthz", get(livez))
                .route("/readyz", get(readyz));
        }
        if self.metrics {
            router = router.route(
                "/metrics",
                get(move |headers: HeaderMap| async move { scrape(&telemetry, &headers) }),
            );
        }
        if self.admin {
            router = admin::routes(router);
        }
        router.with_state(admin)
    }
}

/// Liveness, for `/livez` and its older name `/healthz`: 200 while the
/// process runs (starting, serving, stopping; held not ready or with
/// warnings too), 503 once it is dead or stopped. A failing liveness probe
/// gets the process restarted, so it fails only when a restart is the
/// cure. The body is the status.
async fn livez(State(admin): State<Admin>) -> impl IntoResponse {
    let status = admin.status();
    let code = match status {
        Status::Dead | Status::Stopped => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    (code, format!("{status}\n"))
}

/// Readiness: 200 only while the service should get traffic (ALIVE or
/// WARNING, and no readiness hold); 503 while it starts, while a task
/// holds it not ready, and from the moment shutdown begins. A failing
/// readiness probe takes the process out of rotation, nothing more. The
/// body is the status, then `not ready: <reason>` for each hold.
async fn readyz(State(admin): State<Admin>) -> impl IntoResponse {
    let readiness = admin.readiness();
    let code = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = format!("{}\n", readiness.status);
    for reason in &readiness.holds {
        body.push_str("not ready: ");
        body.push_str(reason);
        body.push('\n');
    }
    (code, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_go_to_the_endpoints_turned_on() {
        let all = Endpoints::ALL;
        for path in [
            "/livez",
            "/healthz",
            "/readyz",
            "/metrics",
            "/admin/status",
            "/admin/options/http_port",
            "/admin/counters/HttpTask.requests",
            "/debug/pprof/profile",
        ] {
            assert!(all.serves(path), "{path}");
        }
        for path in [
            "/",
            "/health",
            "/admin",
            "/admin/",
            "/admin/users",
            "/admin/counters/",
            "/admin/options/a/b",
            "/metrics/x",
        ] {
            assert!(!all.serves(path), "{path}");
        }
        let no_admin = Endpoints {
            admin: false,
            ..all
        };
        assert!(!no_admin.serves("/admin/status"));
        assert!(no_admin.serves("/metrics"));
        let none = Endpoints {
            health: false,
            metrics: false,
            admin: false,
        };
        assert!(!none.serves("/healthz") && !none.serves("/metrics"));
    }
}
