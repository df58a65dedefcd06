//! Running one request message through the right processor: the part every
//! way in (a server connection, an HTTP POST) shares.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use sparts_core::server::RequestSpan;
use sparts_core::{Peer, panic_text};
use thrift::protocol::{TMessageIdentifier, TMessageType, TStoredInputProtocol};
use thrift::{ApplicationError, ApplicationErrorKind, TConfiguration};

use crate::handler::Processor;
use crate::metrics::Metrics;
use crate::peer::PeerScope;
use crate::wire::Protocol;

/// One service a dispatcher routes to.
#[derive(Clone)]
pub(crate) struct Route {
    pub(crate) service: String,
    pub(crate) processor: Processor,
    /// Methods that never block, run on the connection's task.
    pub(crate) inline: Arc<HashSet<String>>,
}

/// Where calls go: the one processor, or by service name (`service:method`).
#[derive(Clone)]
pub(crate) enum Routes {
    Single(Route),
    Multiplexed(HashMap<String, Route>),
}

impl Routes {
    /// The route for a call named `name`, and the method name it carries.
    fn find<'n>(&self, name: &'n str) -> Result<(&Route, &'n str), String> {
        match self {
            Routes::Single(route) => Ok((route, name)),
            Routes::Multiplexed(routes) => {
                let Some((service, method)) = name.split_once(':') else {
                    return Err(format!(
                        "call {name:?} names no service: this server is multiplexed (service:method)"
                    ));
                };
                routes
                    .get(service)
                    .map(|route| (route, method))
                    .ok_or_else(|| format!("no service named {service:?} on this server"))
            }
        }
    }
}

/// What a request turned into.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The reply (empty for a oneway call) after the reserved prefix.
    Reply(Vec<u8>),
    /// Not a Thrift message: the connection cannot go on.
    Malformed(String),
}

/// Runs requests through processors, counting them.
pub(crate) struct Dispatcher {
    routes: Routes,
    protocol: Protocol,
    limits: TConfiguration,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    pub(crate) fn new(
        routes: Routes,
        protocol: Protocol,
        max_bytes: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            routes,
            protocol,
            limits: Protocol::limits(max_bytes),
            metrics,
        }
    }

    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Whether the request calls a method its handler declared
    /// non-blocking, to run where the request was read instead of on a
    /// worker thread (see `ThriftHandlerTask::with_inline_methods`).
    pub(crate) fn runs_inline(&self, request: &[u8]) -> bool {
        let Ok(ident) = self
            .protocol
            .input(request, &self.limits)
            .read_message_begin()
        else {
            return false;
        };
        self.routes
            .find(&ident.name)
            .is_ok_and(|(route, method)| route.inline.contains(method))
    }

    /// Handles one request message from `peer`. The reply starts after
    /// `reserve` zero bytes, room for a frame header.
    pub(crate) fn call(&self, request: &[u8], peer: Peer, reserve: usize) -> Outcome {
        let started = Instant::now();
        self.metrics.requests.request();
        let mut input = self.protocol.input(request, &self.limits);
        let ident = match input.read_message_begin() {
            Ok(ident) => ident,
            Err(e) => {
                self.metrics.requests.error();
                return Outcome::Malformed(format!("not a Thrift message: {e}"));
            }
        };
        let mut out = vec![0; reserve];
        let (route, method) = match self.routes.find(&ident.name) {
            Ok(found) => found,
            Err(reason) => {
                self.metrics.requests.error();
                // Replies carry the bare method name, as the client expects.
                let method = ident.name.split_once(':').map_or(&*ident.name, |(_, m)| m);
                let bare =
                    TMessageIdentifier::new(method, ident.message_type, ident.sequence_number);
                self.exception(&mut out, &bare, ApplicationErrorKind::UnknownMethod, reason);
                return Outcome::Reply(out);
            }
        };
        let stored = TMessageIdentifier::new(method, ident.message_type, ident.sequence_number);
        let span = RequestSpan::thrift(&route.service, method);
        let _entered = span.enter();
        let processed = {
            let _peer = PeerScope::enter(peer);
            let mut input = TStoredInputProtocol::new(&mut *input, stored);
            let mut output = self.protocol.output(&mut out);
            catch_unwind(AssertUnwindSafe(|| {
                route.processor.process(&mut input, &mut *output)
            }))
        };
        match processed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                self.metrics.requests.error();
                span.error();
                return Outcome::Malformed(format!("cannot process {}: {e}", ident.name));
            }
            Err(panic) => {
                span.error();
                let message = panic_text(panic.as_ref());
                tracing::error!(
                    "Thrift handler {} panicked in {method}: {message}",
                    route.service
                );
                out.truncate(reserve);
                self.exception(
                    &mut out,
                    &ident,
                    ApplicationErrorKind::InternalError,
                    format!("handler panicked: {message}"),
                );
            }
        }
        let oneway = ident.message_type == TMessageType::OneWay;
        let known = match self.reply_kind(&out[reserve..]) {
            ReplyKind::Reply => true,
            ReplyKind::Exception { unknown_method } => {
                self.metrics.requests.error();
                span.error();
                !unknown_method
            }
        };
        if known {
            self.metrics
                .record(&route.service, method, started.elapsed());
        }
        if oneway {
            // Generated processors answer a failed oneway call with an
            // exception, which the client never reads: it would take the
            // place of the next reply.
            out.truncate(reserve);
        }
        Outcome::Reply(out)
    }

    /// Appends an exception reply, unless the call was oneway.
    fn exception(
        &self,
        out: &mut Vec<u8>,
        ident: &TMessageIdentifier,
        kind: ApplicationErrorKind,
        message: String,
    ) {
        if ident.message_type == TMessageType::OneWay {
            tracing::warn!("oneway Thrift call {} failed: {message}", ident.name);
            return;
        }
        let reply = TMessageIdentifier::new(
            ident.name.clone(),
            TMessageType::Exception,
            ident.sequence_number,
        );
        let mut output = self.protocol.output(out);
        let written = output
            .write_message_begin(&reply)
            .and_then(|()| {
                thrift::Error::write_application_error_to_out_protocol(
                    &ApplicationError::new(kind, message),
                    &mut *output,
                )
            })
            .and_then(|()| output.write_message_end());
        if let Err(e) = written {
            // Writing to a Vec cannot fail; say so loudly if it ever does.
            tracing::error!("cannot encode a Thrift exception: {e}");
        }
    }

    fn reply_kind(&self, reply: &[u8]) -> ReplyKind {
        if reply.is_empty() {
            return ReplyKind::Reply;
        }
        let mut input = self.protocol.input(reply, &self.limits);
        match input.read_message_begin() {
            Ok(ident) if ident.message_type == TMessageType::Exception => {
                let unknown_method =
                    thrift::Error::read_application_error_from_in_protocol(&mut *input)
                        .is_ok_and(|e| e.kind == ApplicationErrorKind::UnknownMethod);
                ReplyKind::Exception { unknown_method }
            }
            _ => ReplyKind::Reply,
        }
    }
}

enum ReplyKind {
    Reply,
    Exception { unknown_method: bool },
}
