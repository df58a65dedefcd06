//! `--log-format json`: one JSON object per line.
//!
//! Written here rather than by tracing-subscriber's JSON format, which puts
//! a span's name and its fields in one object: the service's spans
//! (`service{name=..}`, `task{name=..}`) would lose their `name` field to
//! the span's own name. Here the spans are an object keyed by span name.

use std::fmt;

use serde::Serializer as _;
use serde::ser::SerializeMap as _;
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event format of `--log-format json`:
///
/// ```json
/// {"timestamp":"2026-12-05T23:47:27.848906Z","level":"INFO","target":"sparts::access",
///  "message":"request","task":"HttpTask","status":200,
///  "spans":{"service":{"name":"KvService"},"task":{"name":"HttpTask"}}}
/// ```
///
/// (on one line). The event's fields follow `message` in the order they
/// were written; `spans` holds each span from the root in, by name, with
/// its fields (an inner span of the same name as an outer one wins), and
/// is left out when there is none. Spans store their fields as JSON
/// ([`JsonFields`]).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct JsonLines;

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut spans = serde_json::Map::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let fields = extensions
                    .get::<FormattedFields<JsonFields>>()
                    .and_then(|f| serde_json::from_str::<Value>(f).ok())
                    .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
                spans.insert(span.name().to_owned(), fields);
            }
        }

        let mut line = Vec::with_capacity(256);
        let mut serializer = serde_json::Serializer::new(&mut line);
        let written = (|| {
            let mut map = serializer.serialize_map(None)?;
            map.serialize_entry("timestamp", &timestamp)?;
            map.serialize_entry("level", meta.level().as_str())?;
            map.serialize_entry("target", meta.target())?;
            for (name, value) in &fields.0 {
                map.serialize_entry(name, value)?;
            }
            if !spans.is_empty() {
                map.serialize_entry("spans", &spans)?;
            }
            map.end()
        })();
        written.map_err(|_| fmt::Error)?;
        let line = String::from_utf8(line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

/// An event's fields in the order they were written, `message` first as
/// tracing records it.
#[derive(Default)]
struct Fields(Vec<(&'static str, Value)>);

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        self.0.push((field.name(), value));
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // NaN and infinities are not JSON numbers: written as text.
        let value = serde_json::Number::from_f64(value)
            .map_or_else(|| Value::String(value.to_string()), Value::Number);
        self.push(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, format!("{value:?}").into());
    }
}
