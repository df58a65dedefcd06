//! The admin API over HTTP: the core's admin model as JSON. Reads are
//! open; writes need a trusted peer (a unix socket peer or an address in
//! `--admin-trusted`), others get 403.

use std::collections::BTreeMap;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sparts_core::{Admin, Peer};

const PATHS: [&str; 6] = [
    "/admin/status",
    "/admin/counters",
    "/admin/options",
    "/admin/exported",
    "/admin/reinitialize",
    "/admin/shutdown",
];
const OPTION_PREFIX: &str = "/admin/options/";

/// Whether `path` is an admin endpoint.
pub(crate) fn serves(path: &str) -> bool {
    PATHS.contains(&path)
        || path
            .strip_prefix(OPTION_PREFIX)
            .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// Adds the admin routes.
pub(crate) fn routes(router: Router<Admin>) -> Router<Admin> {
    router
        .route("/admin/status", get(status))
        .route("/admin/counters", get(counters))
        .route("/admin/options", get(options))
        .route("/admin/options/{name}", get(option).put(set_option))
        .route("/admin/exported", get(exported))
        .route("/admin/reinitialize", post(reinitialize))
        .route("/admin/shutdown", post(shutdown))
}

/// An admin error as `{"error": "..."}` with its HTTP status.
struct AdminError(sparts_core::Error);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        use sparts_core::Error as E;
        let code = match &self.0 {
            E::UnknownOption(_) | E::UnknownCounter(_) => StatusCode::NOT_FOUND,
            E::InvalidOption { .. } | E::ReadOnlyOption(_) | E::InvalidPattern { .. } => {
                StatusCode::BAD_REQUEST
            }
            E::NotTrusted { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = ErrorBody {
            error: self.0.to_string(),
        };
        (code, Json(body)).into_response()
    }
}

impl From<sparts_core::Error> for AdminError {
    fn from(e: sparts_core::Error) -> Self {
        Self(e)
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

#[derive(Serialize)]
struct StatusBody {
    name: String,
    version: String,
    status: &'static str,
    details: Vec<String>,
    alive_since: i64,
    uptime: i64,
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

/// `GET /admin/options`: name to value (`null`: unset, no default).
async fn options(State(admin): State<Admin>) -> Json<BTreeMap<String, Option<String>>> {
    Json(admin.options())
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
