//! Running one request message through the right processor: the part every
//! way in (a server connection, an HTTP POST) shares.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use rustc_hash::{FxHashMap, FxHashSet};
use sparts_core::server::{AccessLog, RPC_OK, RequestSpan};
use sparts_core::{Peer, panic_text};
use thrift::protocol::{TMessageIdentifier, TMessageType, TStoredInputProtocol};
use thrift::{ApplicationError, ApplicationErrorKind};

use crate::handler::Processor;
use crate::metrics::Metrics;
use crate::outcome::{APPLICATION_ERROR, Watched};
use crate::peer::PeerScope;
use crate::wire::{Header, Protocol};

/// One service a dispatcher routes to.
#[derive(Clone)]
pub(crate) struct Route {
    pub(crate) service: String,
    pub(crate) processor: Processor,
    /// Methods that never block, run on the connection's task.
    pub(crate) inline: Arc<FxHashSet<String>>,
}

/// Where calls go: the one processor, or by service name (`service:method`).
#[derive(Clone)]
pub(crate) enum Routes {
    Single(Route),
    Multiplexed {
        routes: FxHashMap<String, Route>,
        /// The service of calls that name none, if any.
        default: Option<String>,
    },
}

impl Routes {
    /// The route for a call named `name`, and the method name it carries.
    fn find<'n>(&self, name: &'n str) -> Result<(&Route, &'n str), String> {
        match self {
            Routes::Single(route) => Ok((route, name)),
            Routes::Multiplexed { routes, default } => {
                let Some((service, method)) = name.split_once(':') else {
                    return match default.as_ref().and_then(|service| routes.get(service)) {
                        Some(route) => Ok((route, name)),
                        None => Err(format!(
                            "call {name:?} names no service: this server is multiplexed (service:method)"
                        )),
                    };
                };
                routes
                    .get(service)
                    .map(|route| (route, method))
                    .ok_or_else(|| format!("no service named {service:?} on this server"))
            }
        }
    }
}

/// What went wrong, with the details a protocol error keeps apart from its
/// kind (thrift's `Display` shows only the kind: "bad data").
fn why(e: &thrift::Error) -> String {
    match e {
        thrift::Error::Protocol(p) if !p.message.is_empty() => format!("{e}: {}", p.message),
        _ => e.to_string(),
    }
}

/// The reply bytes a call's buffer starts with room for: most replies
/// (a status, a name, a counter) fit.
const SMALL_REPLY: usize = 256;

/// What a request turned into.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The reply (empty for a oneway call) after the reserved prefix.
    Reply(Vec<u8>),
    /// Not a Thrift message: the connection cannot go on.
    Malformed(String),
}

/// Runs requests through processors, recording them (metrics, access log,
/// and the end of their span) in one place, at the end of
/// [`call`](Self::call).
pub(crate) struct Dispatcher {
    routes: Routes,
    protocol: Protocol,
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
    pub(crate) fn new(routes: Routes, protocol: Protocol, metrics: Arc<Metrics>) -> Self {
        Self {
            routes,
            protocol,
            metrics,
        }
    }

    /// The access log the calls are written to, the task's.
    pub(crate) fn access_log(&self) -> &AccessLog {
        self.metrics.requests.access_log()
    }

    /// The header of `request`, read once for both [`runs_inline`] and
    /// [`call_read`].
    ///
    /// [`runs_inline`]: Self::runs_inline
    /// [`call_read`]: Self::call_read
    pub(crate) fn header<'r>(&self, request: &'r [u8]) -> Result<Header<'r>, String> {
        self.protocol.header(request)
    }

    /// Whether the request calls a method its handler declared
    /// non-blocking, to run where the request was read instead of on a
    /// worker thread (see `ThriftHandlerTask::with_inline_methods`).
    pub(crate) fn runs_inline(&self, header: &Header<'_>) -> bool {
        self.routes
            .find(header.name)
            .is_ok_and(|(route, method)| route.inline.contains(method))
    }

    /// Handles one request message from `peer`. The reply starts after
    /// `reserve` zero bytes, room for a frame header.
    pub(crate) fn call(&self, request: &[u8], peer: Peer, reserve: usize) -> Outcome {
        self.call_read(request, self.header(request), peer, reserve)
    }

    /// [`call`](Self::call), with the request's header read already.
    pub(crate) fn call_read(
        &self,
        request: &[u8],
        header: Result<Header<'_>, String>,
        peer: Peer,
        reserve: usize,
    ) -> Outcome {
        let started = Instant::now();
        let arrival = self.metrics.requests.request();
        let header = match header {
            Ok(header) => header,
            Err(e) => {
                self.metrics.requests.error(arrival);
                return Outcome::Malformed(format!("not a Thrift message: {e}"));
            }
        };
        // Room for a small reply, so that writing one does not grow the
        // buffer write by write.
        let mut out = Vec::with_capacity(reserve + SMALL_REPLY);
        out.resize(reserve, 0);
        let (route, method) = match self.routes.find(header.name) {
            Ok(found) => found,
            Err(reason) => {
                // Replies carry the bare method name, as the client expects.
                let (service, method) = header.name.split_once(':').unwrap_or(("", header.name));
                let kind = ApplicationErrorKind::UnknownMethod;
                self.exception(&mut out, &header.ident(method), kind, reason);
                let code = Cow::Borrowed(APPLICATION_ERROR);
                let call = (service, method, false);
                self.metrics
                    .record(arrival, call, code, started.elapsed(), peer);
                return Outcome::Reply(out);
            }
        };
        let arrival = arrival.with_span(RequestSpan::thrift(&route.service, method));
        let answered = {
            // The handler's spans and events, a panic's among them, are the
            // call's.
            let _entered = arrival.span().enter();
            let processed = {
                let _peer = PeerScope::enter(peer);
                // No length inside the message may claim more than the
                // message holds: a lie is refused before anything is
                // allocated for it.
                let body = &request[header.body..];
                let mut input = self.protocol.input(body, &Protocol::limits(request.len()));
                let mut input = TStoredInputProtocol::new(input.get(), header.ident(method));
                let mut output = self.protocol.output(&mut out);
                let mut watched = Watched::new(output.get());
                let processed = catch_unwind(AssertUnwindSafe(|| {
                    route.processor.process(&mut input, &mut watched)
                }));
                processed.map(|done| done.map(|()| watched.code()))
            };
            match processed {
                Ok(Ok(Some(code))) => Ok((code, true)),
                Ok(Ok(None)) => Ok(self.exception_code(&out[reserve..])),
                Ok(Err(e)) => Err(format!("cannot process {}: {}", header.name, why(&e))),
                Err(panic) => {
                    let message = panic_text(panic.as_ref());
                    tracing::error!(
                        "Thrift handler {} panicked in {method}: {message}",
                        route.service
                    );
                    out.truncate(reserve);
                    self.exception(
                        &mut out,
                        &header.ident(header.name),
                        ApplicationErrorKind::InternalError,
                        format!("handler panicked: {message}"),
                    );
                    Ok((Cow::Borrowed(APPLICATION_ERROR), true))
                }
            }
        };
        let (code, known) = match answered {
            Ok(answered) => answered,
            Err(reason) => {
                self.metrics.requests.error(arrival);
                return Outcome::Malformed(reason);
            }
        };
        let call = (route.service.as_str(), method, known);
        self.metrics
            .record(arrival, call, code, started.elapsed(), peer);
        if header.message_type == TMessageType::OneWay {
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
        let output = output.get();
        let written = output
            .write_message_begin(&reply)
            .and_then(|()| {
                thrift::Error::write_application_error_to_out_protocol(
                    &ApplicationError::new(kind, message),
                    output,
                )
            })
            .and_then(|()| output.write_message_end());
        if let Err(e) = written {
            // Writing to a Vec cannot fail; say so loudly if it ever does.
            tracing::error!("cannot encode a Thrift exception: {e}");
        }
    }

    /// The code of a reply that is no result, and whether its method is
    /// known: an exception message is an `APPLICATION_ERROR` (an unknown
    /// method's is left out of the per-method metrics); no reply at all is
    /// a oneway call's success.
    fn exception_code(&self, reply: &[u8]) -> (Cow<'static, str>, bool) {
        if reply.is_empty() {
            return (Cow::Borrowed(RPC_OK), true);
        }
        let mut input = self.protocol.input(reply, &Protocol::limits(reply.len()));
        let input = input.get();
        match input.read_message_begin() {
            Ok(ident) if ident.message_type == TMessageType::Exception => {
                let unknown_method =
                    thrift::Error::read_application_error_from_in_protocol(&mut *input)
                        .is_ok_and(|e| e.kind == ApplicationErrorKind::UnknownMethod);
                (Cow::Borrowed(APPLICATION_ERROR), !unknown_method)
            }
            _ => (Cow::Borrowed(RPC_OK), true),
        }
    }
}
