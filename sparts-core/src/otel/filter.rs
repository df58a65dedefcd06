//! What the OpenTelemetry layer sees, whatever `--level` says: request
//! spans, and the spans and events (INFO and above) that happen inside
//! them. Everything else stays out: the framework's long-lived service and
//! task spans (a trace that began there would never end, and would collect
//! every log line), and the spans libraries make on their own (zbus
//! instruments every message it reads).

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

use crate::logging::REQUEST_SPAN_TARGET;

/// Request spans, and what runs inside one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Traced;

impl<S> Filter<S> for Traced
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        // The lookup sees only spans this filter let through.
        *meta.level() <= Level::INFO
            && (meta.target() == REQUEST_SPAN_TARGET || cx.lookup_current().is_some())
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if *meta.level() > Level::INFO {
            Interest::never()
        } else if meta.target() == REQUEST_SPAN_TARGET {
            Interest::always()
        } else {
            // Depends on where it happens.
            Interest::sometimes()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::INFO)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, PoisonError};

    use tracing::Event;
    use tracing::span::{Attributes, Id};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// Records what it is shown: span names, events' targets.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);

    impl<S: Subscriber> Layer<S> for Seen {
        fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
            let name = format!("span {}", attrs.metadata().name());
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(name);
        }

        fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
            let name = format!("event {}", event.metadata().target());
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(name);
        }
    }

    #[test]
    fn request_spans_and_what_runs_inside_them_pass_nothing_else() {
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry().with(seen.clone().with_filter(Traced));
        tracing::subscriber::with_default(subscriber, || {
            let task = tracing::info_span!(target: "sparts_core::runner", "task");
            let _task = task.enter();
            tracing::info_span!(target: "zbus::connection", "read_command").in_scope(|| {
                tracing::info!(target: "zbus::connection", "outside any request");
            });
            let request = tracing::info_span!(target: REQUEST_SPAN_TARGET, "request");
            let _request = request.enter();
            tracing::info_span!(target: "my_service::db", "query").in_scope(|| {
                tracing::debug_span!(target: "my_service::db", "row").in_scope(|| {});
            });
            // The framework's events inside a request (a panicked handler) count.
            tracing::error!(target: "sparts_thrift::dispatch", "handler panicked");
            tracing::debug!(target: "my_service::db", "chatty");
        });
        let seen = seen
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        assert_eq!(
            seen,
            [
                "span request",
                "span query",
                "event sparts_thrift::dispatch"
            ]
        );
    }
}
