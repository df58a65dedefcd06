//! A small JSON API with state: a key-value store at `/kv/{key}` (GET and
//! PUT). Writes are counted by a counter of the task's own
//! (`HttpTask.kv_writes` in fb303's view, `kv_writes_total{task="HttpTask"}`
//! on `/metrics`), reads through the `metrics` facade, as a library would
//! (`kv_reads` and `kv_reads_total`), beside the task's request metrics.
//!
//! ```sh
//! cargo run -p sparts-examples --bin http_app -- --http-port 8000
//! curl -X PUT localhost:8000/kv/greeting -d hello
//! curl localhost:8000/kv/greeting      # {"key":"greeting","value":"hello"}
//! curl -s localhost:8000/metrics | grep kv_
//! ```
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;
use sparts::http::HttpTask;
use sparts::http::axum::extract::{Path, State};
use sparts::http::axum::{Json, Router, http::StatusCode, routing::get};
use sparts::{VService, counters::Counter};

type Map = Arc<RwLock<BTreeMap<String, String>>>;

#[derive(Clone)]
struct Store {
    map: Map,
    writes: Counter,
    reads: metrics::Counter,
}

#[derive(Serialize)]
struct Entry {
    key: String,
    value: String,
}

async fn get_key(
    State(s): State<Store>,
    Path(key): Path<String>,
) -> Result<Json<Entry>, StatusCode> {
    s.reads.increment(1);
    let map = s.map.read().unwrap_or_else(PoisonError::into_inner);
    let value = map.get(&key).cloned().ok_or(StatusCode::NOT_FOUND)?;
    Ok(Json(Entry { key, value }))
}

async fn put_key(State(s): State<Store>, Path(key): Path<String>, value: String) -> Json<Entry> {
    s.writes.increment();
    let mut map = s.map.write().unwrap_or_else(PoisonError::into_inner);
    map.insert(key.clone(), value.clone());
    Json(Entry { key, value })
}

fn main() -> std::process::ExitCode {
    // The map outlives restarts (POST /admin/reinitialize); the router and
    // its counter are made at each start, from the task's context.
    let map = Map::default();
    let api = HttpTask::from_fn(move |ctx| {
        let writes = ctx
            .counters()
            .describe("kv_writes", "Keys written.")
            .counter("kv_writes");
        // Described once the service is the facade's recorder: at start.
        metrics::describe_counter!("kv_reads", "Keys read, found or not.");
        let store = Store {
            map: Arc::clone(&map),
            writes,
            reads: metrics::counter!("kv_reads"),
        };
        Router::new()
            .route("/kv/{key}", get(get_key).put(put_key))
            .with_state(store)
    });
    VService::new("KvService").with_task(api).run_from_cli()
}
