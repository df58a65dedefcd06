//! What a Thrift call's access log line needs that the dispatcher does
//! not otherwise keep: the call's service and method, and its status:
//! `OK`, the declared exception's type name, or `APPLICATION_ERROR`.
//!
//! A declared exception travels as a field of the reply's result struct,
//! and no protocol puts a struct's type name on the wire: only the writer
//! sees it, so [`StatusRecorder`] watches the reply being written. Used
//! only while the access log is on.

use std::time::Duration;

use sparts_core::Peer;
use sparts_core::server::AccessLog;
use thrift::protocol::{
    TFieldIdentifier, TListIdentifier, TMapIdentifier, TMessageIdentifier, TOutputProtocol,
    TSetIdentifier, TStructIdentifier,
};

/// The status of a call that ended in an application exception (unknown
/// method or service, a handler's undeclared error, a panic).
pub(crate) const APPLICATION_ERROR: &str = "APPLICATION_ERROR";

/// What the dispatcher saw of one call.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Service and method, once the message was read.
    call: Option<(String, String)>,
    status: Option<String>,
}

impl Seen {
    /// The call's service (empty when no route names one) and method.
    pub(crate) fn call(&mut self, service: &str, method: &str) {
        self.call = Some((service.to_owned(), method.to_owned()));
    }

    /// The call's status.
    pub(crate) fn status(&mut self, status: impl Into<String>) {
        self.status = Some(status.into());
    }

    /// Writes the line, if the request was a call at all (bytes that are
    /// not a Thrift message close the connection and are logged as such).
    pub(crate) fn log(self, log: &AccessLog, latency: Duration, peer: Peer) {
        if let Some((service, method)) = &self.call {
            let status = self.status.as_deref().unwrap_or(APPLICATION_ERROR);
            log.rpc("thrift", service, method, status, latency, peer);
        }
    }
}

/// An output protocol that notes the type name of the declared exception a
/// reply carries, if any.
pub(crate) struct StatusRecorder<'a> {
    inner: &'a mut dyn TOutputProtocol,
    /// Structs open: the result struct is at depth 1, a field's at 2.
    depth: u32,
    /// Whether the result struct's field being written is an exception
    /// (any but field 0, the success value).
    in_exception: bool,
    exception: Option<String>,
}

impl<'a> StatusRecorder<'a> {
    pub(crate) fn new(inner: &'a mut dyn TOutputProtocol) -> Self {
        Self {
            inner,
            depth: 0,
            in_exception: false,
            exception: None,
        }
    }

    /// The declared exception's type name, when the reply carried one.
    pub(crate) fn exception(self) -> Option<String> {
        self.exception
    }
}

impl TOutputProtocol for StatusRecorder<'_> {
    fn write_message_begin(&mut self, identifier: &TMessageIdentifier) -> thrift::Result<()> {
        self.inner.write_message_begin(identifier)
    }

    fn write_message_end(&mut self) -> thrift::Result<()> {
        self.inner.write_message_end()
    }

    fn write_struct_begin(&mut self, identifier: &TStructIdentifier) -> thrift::Result<()> {
        self.depth += 1;
        if self.depth == 2 && self.in_exception && self.exception.is_none() {
            self.exception = Some(identifier.name.clone());
        }
        self.inner.write_struct_begin(identifier)
    }

    fn write_struct_end(&mut self) -> thrift::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        self.inner.write_struct_end()
    }

    fn write_field_begin(&mut self, identifier: &TFieldIdentifier) -> thrift::Result<()> {
        if self.depth == 1 {
            self.in_exception = identifier.id.is_some_and(|id| id != 0);
        }
        self.inner.write_field_begin(identifier)
    }

    fn write_field_end(&mut self) -> thrift::Result<()> {
        self.inner.write_field_end()
    }

    fn write_field_stop(&mut self) -> thrift::Result<()> {
        self.inner.write_field_stop()
    }

    fn write_bool(&mut self, b: bool) -> thrift::Result<()> {
        self.inner.write_bool(b)
    }

    fn write_bytes(&mut self, b: &[u8]) -> thrift::Result<()> {
        self.inner.write_bytes(b)
    }

    fn write_i8(&mut self, i: i8) -> thrift::Result<()> {
        self.inner.write_i8(i)
    }

    fn write_i16(&mut self, i: i16) -> thrift::Result<()> {
        self.inner.write_i16(i)
    }

    fn write_i32(&mut self, i: i32) -> thrift::Result<()> {
        self.inner.write_i32(i)
    }

    fn write_i64(&mut self, i: i64) -> thrift::Result<()> {
        self.inner.write_i64(i)
    }

    fn write_double(&mut self, d: f64) -> thrift::Result<()> {
        self.inner.write_double(d)
    }

    fn write_uuid(&mut self, uuid: &uuid::Uuid) -> thrift::Result<()> {
        self.inner.write_uuid(uuid)
    }

    fn write_string(&mut self, s: &str) -> thrift::Result<()> {
        self.inner.write_string(s)
    }

    fn write_list_begin(&mut self, identifier: &TListIdentifier) -> thrift::Result<()> {
        self.inner.write_list_begin(identifier)
    }

    fn write_list_end(&mut self) -> thrift::Result<()> {
        self.inner.write_list_end()
    }

    fn write_set_begin(&mut self, identifier: &TSetIdentifier) -> thrift::Result<()> {
        self.inner.write_set_begin(identifier)
    }

    fn write_set_end(&mut self) -> thrift::Result<()> {
        self.inner.write_set_end()
    }

    fn write_map_begin(&mut self, identifier: &TMapIdentifier) -> thrift::Result<()> {
        self.inner.write_map_begin(identifier)
    }

    fn write_map_end(&mut self) -> thrift::Result<()> {
        self.inner.write_map_end()
    }

    fn flush(&mut self) -> thrift::Result<()> {
        self.inner.flush()
    }

    fn write_byte(&mut self, b: u8) -> thrift::Result<()> {
        self.inner.write_byte(b)
    }
}

#[cfg(test)]
mod tests {
    use thrift::protocol::{TMessageType, TType};

    use super::*;
    use crate::wire::Protocol;

    /// Writes a reply as generated code does: the result struct, one field.
    fn reply(field: i16, value: impl FnOnce(&mut dyn TOutputProtocol)) -> Option<String> {
        let mut out = Vec::new();
        let mut output = Protocol::Binary.output(&mut out);
        let mut recorder = StatusRecorder::new(&mut *output);
        let p: &mut dyn TOutputProtocol = &mut recorder;
        let message = TMessageIdentifier::new("get", TMessageType::Reply, 1);
        p.write_message_begin(&message).expect("write");
        p.write_struct_begin(&TStructIdentifier::new("KvGetResult"))
            .expect("write");
        p.write_field_begin(&TFieldIdentifier::new("f", TType::Struct, field))
            .expect("write");
        value(p);
        p.write_field_end().expect("write");
        p.write_field_stop().expect("write");
        p.write_struct_end().expect("write");
        p.write_message_end().expect("write");
        recorder.exception()
    }

    fn a_struct(name: &str) -> impl FnOnce(&mut dyn TOutputProtocol) + '_ {
        move |p| {
            p.write_struct_begin(&TStructIdentifier::new(name))
                .expect("write");
            p.write_field_stop().expect("write");
            p.write_struct_end().expect("write");
        }
    }

    #[test]
    fn a_declared_exception_is_named_by_its_type() {
        assert_eq!(reply(1, a_struct("NotFound")).as_deref(), Some("NotFound"));
        assert_eq!(reply(2, a_struct("Busy")).as_deref(), Some("Busy"));
    }

    #[test]
    fn a_success_value_is_no_exception_even_when_a_struct() {
        assert_eq!(reply(0, a_struct("Value")), None);
        assert_eq!(reply(0, |p| p.write_string("v").expect("write")), None);
    }
}
