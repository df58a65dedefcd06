//! The admin API over HTTP: the core's admin model as JSON, and the CPU
//! profile (`crate::pprof`). Reads are open; writes and profiles need a
//! trusted peer (a unix socket peer or an address in
//! `--admin-trusted`), others get 403. Errors are `{"error": "..."}` with
//! the status of their [`AdminErrorKind`].

use std::collections::BTreeMap;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sparts_core::{Admin, AdminErrorKind, Peer};

use crate::pprof;

const PATHS: [&str; 7] = [
    "/admin/status",
    "/admin/counters",
    "/admin/options",
    "/admin/exported",
    "/admin/reinitialize",
    "/admin/shutdown",
    pprof::PATH,
];
/// The endpoints that end in a counter's or an option's name.
const NAMED: [&str; 2] = ["/admin/counters/", "/admin/options/"];

/// Whether `path` is an admin endpoint.
pub(crate) fn serves(path: &str) -> bool {
    PATHS.contains(&path)
        || NAMED.iter().any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|name| !name.is_empty() && !name.contains('/'))
        })
}

/// Adds the admin routes.
pub(crate) fn routes(router: Router<Admin>) -> Router<Admin> {
    router
        .route("/admin/status", get(status))
        .route("/admin/counters", get(counters))
        .route("/admin/counters/{name}", get(counter))
        .route("/admin/options", get(options))
        .route(
            "/admin/options/{name}",
            // A body past the longest value the admin model takes is a 413,
            // read no further.
            get(option).put(set_option.layer(DefaultBodyLimit::max(Admin::MAX_OPTION_VALUE + 2))),
        )
        .route("/admin/exported", get(exported))
        .route("/admin/reinitialize", post(reinitialize))
        .route("/admin/shutdown", post(shutdown))
        .route(pprof::PATH, get(pprof::profile))
}

/// An admin error as `{"error": "..."}` with the HTTP status of its kind.
struct AdminError(sparts_core::Error);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.0.to_string(),
        };
        (status_code(self.0.admin_kind()), Json(body)).into_response()
    }
}

impl From<sparts_core::Error> for AdminError {
    fn from(e: sparts_core::Error) -> Self {
        Self(e)
    }
}

/// The HTTP status of each kind of admin error; the README's table of
/// admin errors lists it beside the other transports' codes.
pub(crate) fn status_code(kind: AdminErrorKind) -> StatusCode {
    match kind {
        AdminErrorKind::NotFound => StatusCode::NOT_FOUND,
        AdminErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        AdminErrorKind::FailedPrecondition => StatusCode::CONFLICT,
        AdminErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        AdminErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        AdminErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        // The enum is non-exhaustive: a kind core adds later is a 500
        // until it has its own line here.
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[derive(Serialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: String,
}

#[derive(Serialize)]
struct StatusBody {
    name: String,
    version: String,
    status: &'static str,
    details: Vec<String>,
    alive_since: i64,
    uptime: i64,
    /// The running tasks' names.
    tasks: Vec<String>,
}

/// `GET /admin/status`.
async fn status(State(admin): State<Admin>) -> Json<StatusBody> {
    Json(StatusBody {
        name: admin.name().to_owned(),
        version: admin.version().to_owned(),
        status: admin.status().as_str(),
        details: admin.status_details().lines().map(str::to_owned).collect(),
        alive_since: admin.alive_since(),
        uptime: admin.uptime(),
        tasks: admin.task_names(),
    })
}

#[derive(Deserialize)]
struct CountersQuery {
    filter: Option<String>,
}

/// `GET /admin/counters[?filter=<regex>]`: name to value. Values JSON cannot
/// hold (NaN, infinities) are `null`.
async fn counters(
    State(admin): State<Admin>,
    Query(query): Query<CountersQuery>,
) -> Result<Json<BTreeMap<String, f64>>, AdminError> {
    let snapshot = match &query.filter {
        Some(pattern) => admin.counters_matching(pattern)?,
        None => admin.counters(),
    };
    Ok(Json(snapshot.to_map()))
}

#[derive(Serialize)]
struct CounterBody {
    name: String,
    /// `null` when not a number (NaN, infinities), as in `/admin/counters`.
    value: f64,
}

/// `GET /admin/counters/{name}`: one counter; an unknown name is a 404.
async fn counter(
    State(admin): State<Admin>,
    Path(name): Path<String>,
) -> Result<Json<CounterBody>, AdminError> {
    let value = admin.counter(&name)?;
    Ok(Json(CounterBody { name, value }))
}

/// `?source=true` on `GET /admin/options`.
#[derive(Deserialize)]
struct OptionsQuery {
    #[serde(default)]
    source: bool,
}

/// An option's value and where it came from.
#[derive(Serialize)]
struct SourcedValue {
    value: Option<String>,
    source: &'static str,
}

/// `GET /admin/options`: name to value (`null`: unset, no default). With
/// `?source=true`, name to `{"value": .., "source": ..}`, the source one of
/// `default`, `file`, `environment`, `command_line`, `run_time`.
async fn options(State(admin): State<Admin>, Query(query): Query<OptionsQuery>) -> Response {
    if !query.source {
        return Json(admin.options()).into_response();
    }
    let sources = admin.option_sources();
    let sourced: BTreeMap<String, SourcedValue> = admin
        .options()
        .into_iter()
        .map(|(name, value)| {
            let source = sources.get(&name).map_or("default", |s| s.as_str());
            (name, SourcedValue { value, source })
        })
        .collect();
    Json(sourced).into_response()
}

#[derive(Serialize)]
struct OptionBody {
    name: String,
    value: Option<String>,
}

/// `GET /admin/options/{name}`.
async fn option(
    State(admin): State<Admin>,
    Path(name): Path<String>,
) -> Result<Json<OptionBody>, AdminError> {
    let value = admin.option(&name)?;
    Ok(Json(OptionBody { name, value }))
}

/// `PUT /admin/options/{name}` with the new value as the body (a final
/// newline is dropped). Answers with the option's new value.
async fn set_option(
    State(admin): State<Admin>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Path(name): Path<String>,
    body: String,
) -> Result<Json<OptionBody>, AdminError> {
    let value = body.strip_suffix('\n').unwrap_or(&body);
    let value = value.strip_suffix('\r').unwrap_or(value);
    admin.set_option(&peer, &name, value)?;
    let value = admin.option(&name)?;
    Ok(Json(OptionBody { name, value }))
}

/// `GET /admin/exported`: every exported value.
async fn exported(State(admin): State<Admin>) -> Json<BTreeMap<String, String>> {
    Json(admin.exported_values())
}

#[derive(Serialize)]
struct Accepted {
    accepted: &'static str,
}

/// `POST /admin/reinitialize`: 202, then the service restarts in process.
async fn reinitialize(
    State(admin): State<Admin>,
    ConnectInfo(peer): ConnectInfo<Peer>,
) -> Result<(StatusCode, Json<Accepted>), AdminError> {
    admin.reinitialize(&peer)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            accepted: "reinitialize",
        }),
    ))
}

/// `POST /admin/shutdown`: 202, then the service shuts down.
async fn shutdown(
    State(admin): State<Admin>,
    ConnectInfo(peer): ConnectInfo<Peer>,
) -> Result<(StatusCode, Json<Accepted>), AdminError> {
    admin.shutdown(&peer)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            accepted: "shutdown",
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The HTTP column of the README's table of admin errors.
    #[test]
    fn every_kind_has_its_status() {
        let table = [
            (AdminErrorKind::NotFound, 404),
            (AdminErrorKind::InvalidArgument, 400),
            (AdminErrorKind::FailedPrecondition, 409),
            (AdminErrorKind::PermissionDenied, 403),
            (AdminErrorKind::Unavailable, 503),
            (AdminErrorKind::Internal, 500),
        ];
        for (kind, code) in table {
            assert_eq!(status_code(kind).as_u16(), code, "{kind}");
        }
    }
}
