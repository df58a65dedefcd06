//! The endpoints every HttpTask serves unless turned off: health,
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
            "/healthz" | "/readyz" => self.health,
            "/metrics" => self.metrics,
            _ => self.admin && admin::serves(path),
        }
    }

    /// The router of the endpoints turned on.
    pub(crate) fn router(self, admin: Admin, telemetry: Telemetry) -> Router {
        let mut router = Router::new();
        if self.health {
            router = router
                .route("/healthz", get(healthz))
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

/// 200 while the process runs (starting, serving, stopping); 503 once it is
/// dead or stopped. The body is the status.
async fn healthz(State(admin): State<Admin>) -> impl IntoResponse {
    let status = admin.status();
    let code = match status {
        Status::Dead | Status::Stopped => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    (code, format!("{status}\n"))
}

/// 200 only while the service serves (ALIVE or WARNING): 503 while it
/// starts and from the moment shutdown begins.
async fn readyz(State(admin): State<Admin>) -> impl IntoResponse {
    let status = admin.status();
    let code = if status.is_serving() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, format!("{status}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_go_to_the_endpoints_turned_on() {
        let all = Endpoints::ALL;
        for path in [
            "/healthz",
            "/readyz",
            "/metrics",
            "/admin/status",
            "/admin/options/http_port",
            "/admin/counters/HttpTask.requests",
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
