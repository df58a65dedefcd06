//! How a call ended, read from the reply its processor writes: `OK`, the
//! declared exception's type name, or `APPLICATION_ERROR`, the `code` of
//! its metrics and the `status` of its access log line. A generated
//! processor answers a declared (IDL) exception inside a normal reply, as
//! a field of the result other than the success (field 0), and the
//! exception's type name is written only to the protocol, never to the
//! wire: [`Watched`] passes every write on and notes that name on the way.

use std::borrow::Cow;

use sparts_core::server::RPC_OK;
use thrift::Result;
use thrift::protocol::{
    TFieldIdentifier, TListIdentifier, TMapIdentifier, TMessageIdentifier, TMessageType,
    TOutputProtocol, TSetIdentifier, TStructIdentifier, TType,
};

/// The code of a call answered with an application exception (Thrift's
/// `TApplicationException`: an unknown service or method, a handler's
/// error outside the IDL, a panic), whatever its kind.
pub(crate) const APPLICATION_ERROR: &str = "APPLICATION_ERROR";

/// Where the reply's writes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing written yet.
    Start,
    /// A reply's header: its result struct comes next.
    Reply,
    /// In the result struct, before its first field.
    Result,
    /// The result's first field is an exception: its struct comes next.
    Exception,
    /// Nothing more to learn.
    Done,
}

/// An output protocol that notes the type name of a declared exception
/// the processor answers with.
pub(crate) struct Watched<'a> {
    inner: &'a mut dyn TOutputProtocol,
    state: State,
    exception: Option<String>,
}

impl<'a> Watched<'a> {
    pub(crate) fn new(inner: &'a mut dyn TOutputProtocol) -> Self {
        Self {
            inner,
            state: State::Start,
            exception: None,
        }
    }

    /// The code of the reply written, if a result: [`RPC_OK`], or the
    /// declared exception's type name. `None` for an exception message
    /// (its kind is read from the bytes instead) or nothing written (a
    /// oneway call).
    pub(crate) fn code(self) -> Option<Cow<'static, str>> {
        match self.state {
            State::Start => None,
            // The exception's struct never came: no name to give.
            State::Exception => Some(Cow::Borrowed(APPLICATION_ERROR)),
            State::Reply | State::Result | State::Done => {
                Some(self.exception.map_or(Cow::Borrowed(RPC_OK), Cow::Owned))
            }
        }
    }
}

impl TOutputProtocol for Watched<'_> {
    fn write_message_begin(&mut self, identifier: &TMessageIdentifier) -> Result<()> {
        if self.state == State::Start && identifier.message_type == TMessageType::Reply {
            self.state = State::Reply;
        }
        self.inner.write_message_begin(identifier)
    }

    fn write_message_end(&mut self) -> Result<()> {
        self.inner.write_message_end()
    }

    fn write_struct_begin(&mut self, identifier: &TStructIdentifier) -> Result<()> {
        match self.state {
            State::Reply => self.state = State::Result,
            State::Exception => {
                self.exception = Some(identifier.name.clone());
                self.state = State::Done;
            }
            _ => {}
        }
        self.inner.write_struct_begin(identifier)
    }

    fn write_struct_end(&mut self) -> Result<()> {
        self.inner.write_struct_end()
    }

    fn write_field_begin(&mut self, identifier: &TFieldIdentifier) -> Result<()> {
        if self.state == State::Result {
            let declared = identifier.id.is_some_and(|id| id != 0);
            self.state = if declared && identifier.field_type == TType::Struct {
                State::Exception
            } else {
                State::Done
            };
        }
        self.inner.write_field_begin(identifier)
    }

    fn write_field_end(&mut self) -> Result<()> {
        self.inner.write_field_end()
    }

    fn write_field_stop(&mut self) -> Result<()> {
        if self.state == State::Result {
            // A void method's empty result.
            self.state = State::Done;
        }
        self.inner.write_field_stop()
    }

    fn write_bool(&mut self, b: bool) -> Result<()> {
        self.inner.write_bool(b)
    }

    fn write_bytes(&mut self, b: &[u8]) -> Result<()> {
        self.inner.write_bytes(b)
    }

    fn write_i8(&mut self, i: i8) -> Result<()> {
        self.inner.write_i8(i)
    }

    fn write_i16(&mut self, i: i16) -> Result<()> {
        self.inner.write_i16(i)
    }

    fn write_i32(&mut self, i: i32) -> Result<()> {
        self.inner.write_i32(i)
    }

    fn write_i64(&mut self, i: i64) -> Result<()> {
        self.inner.write_i64(i)
    }

    fn write_double(&mut self, d: f64) -> Result<()> {
        self.inner.write_double(d)
    }

    fn write_uuid(&mut self, uuid: &uuid::Uuid) -> Result<()> {
        self.inner.write_uuid(uuid)
    }

    fn write_string(&mut self, s: &str) -> Result<()> {
        self.inner.write_string(s)
    }

    fn write_list_begin(&mut self, identifier: &TListIdentifier) -> Result<()> {
        self.inner.write_list_begin(identifier)
    }

    fn write_list_end(&mut self) -> Result<()> {
        self.inner.write_list_end()
    }

    fn write_set_begin(&mut self, identifier: &TSetIdentifier) -> Result<()> {
        self.inner.write_set_begin(identifier)
    }

    fn write_set_end(&mut self) -> Result<()> {
        self.inner.write_set_end()
    }

    fn write_map_begin(&mut self, identifier: &TMapIdentifier) -> Result<()> {
        self.inner.write_map_begin(identifier)
    }

    fn write_map_end(&mut self) -> Result<()> {
        self.inner.write_map_end()
    }

    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }

    fn write_byte(&mut self, b: u8) -> Result<()> {
        self.inner.write_byte(b)
    }
}

#[cfg(test)]
mod tests {
    use thrift::protocol::TBinaryOutputProtocol;

    use super::*;

    enum Answer {
        Made,
        Oops,
        Void,
    }

    /// Writes what a generated processor writes for a reply of a method
    /// declared `string make(1: i16 n) throws (1: Oops oops)`, whose result
    /// is the string, the exception, or nothing (a void method's).
    fn reply(answer: Answer) -> Option<Cow<'static, str>> {
        let mut bytes = Vec::new();
        let mut binary = TBinaryOutputProtocol::new(&mut bytes, true);
        let mut out = Watched::new(&mut binary);
        let written: thrift::Result<()> = (|| {
            out.write_message_begin(&TMessageIdentifier::new("make", TMessageType::Reply, 1))?;
            out.write_struct_begin(&TStructIdentifier::new("FooMakeResult"))?;
            match answer {
                Answer::Made => {
                    out.write_field_begin(&TFieldIdentifier::new(
                        "result_value",
                        TType::String,
                        0,
                    ))?;
                    out.write_string("made")?;
                    out.write_field_end()?;
                }
                Answer::Oops => {
                    out.write_field_begin(&TFieldIdentifier::new("oops", TType::Struct, 1))?;
                    out.write_struct_begin(&TStructIdentifier::new("Oops"))?;
                    out.write_field_begin(&TFieldIdentifier::new("why", TType::String, 1))?;
                    out.write_string("no")?;
                    out.write_field_end()?;
                    out.write_field_stop()?;
                    out.write_struct_end()?;
                    out.write_field_end()?;
                }
                Answer::Void => {}
            }
            out.write_field_stop()?;
            out.write_struct_end()?;
            out.write_message_end()?;
            out.flush()
        })();
        written.expect("writes to memory");
        out.code()
    }

    #[test]
    fn a_declared_exception_is_named_by_its_type() {
        assert_eq!(reply(Answer::Made).as_deref(), Some(RPC_OK));
        assert_eq!(reply(Answer::Oops).as_deref(), Some("Oops"));
        assert_eq!(
            reply(Answer::Void).as_deref(),
            Some(RPC_OK),
            "a void method"
        );
    }

    #[test]
    fn an_exception_message_or_no_reply_is_left_to_the_bytes() {
        let mut bytes = Vec::new();
        let mut binary = TBinaryOutputProtocol::new(&mut bytes, true);
        let mut out = Watched::new(&mut binary);
        out.write_message_begin(&TMessageIdentifier::new("make", TMessageType::Exception, 1))
            .expect("writes to memory");
        assert_eq!(out.code(), None);
        let mut binary = TBinaryOutputProtocol::new(Vec::new(), true);
        assert_eq!(Watched::new(&mut binary).code(), None, "oneway");
    }

    /// Writes a reply whose result's field `field` is `value`, as
    /// generated code does.
    fn result_field(field: i16, value: impl FnOnce(&mut dyn TOutputProtocol)) -> Option<String> {
        let mut binary = TBinaryOutputProtocol::new(Vec::new(), true);
        let mut out = Watched::new(&mut binary);
        let p: &mut dyn TOutputProtocol = &mut out;
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
        out.code().map(Cow::into_owned)
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
    fn any_declared_exception_is_named_by_its_type() {
        assert_eq!(
            result_field(1, a_struct("NotFound")).as_deref(),
            Some("NotFound")
        );
        assert_eq!(result_field(2, a_struct("Busy")).as_deref(), Some("Busy"));
    }

    #[test]
    fn a_success_value_is_no_exception_even_when_a_struct() {
        assert_eq!(result_field(0, a_struct("Value")).as_deref(), Some(RPC_OK));
        let string = |p: &mut dyn TOutputProtocol| p.write_string("v").expect("write");
        assert_eq!(result_field(0, string).as_deref(), Some(RPC_OK));
    }
}
