//! Thrift on the wire: the transports and protocols a server speaks, the
//! limits every decoder gets, and where a message ends on a buffered
//! connection.

use std::io::{self, Read};

use thrift::ProtocolErrorKind;
use thrift::TConfiguration;
use thrift::protocol::{
    TBinaryInputProtocol, TBinaryOutputProtocol, TCompactInputProtocol, TCompactOutputProtocol,
    TInputProtocol, TOutputProtocol, TType,
};

/// How messages are delimited on a connection.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Transport {
    /// Each message after its length as a 4-byte big-endian integer
    /// (`TFramedTransport`).
    #[default]
    Framed,
    /// Messages back to back with nothing between them (`TBufferedTransport`).
    Buffered,
}

/// How messages are encoded.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// `TBinaryProtocol` (strict on output, both forms accepted on input).
    #[default]
    Binary,
    /// `TCompactProtocol`.
    Compact,
}

/// Deepest nesting of structs and containers a request may have: deeper
/// input is an attack on the decoder's stack, not a real request.
const MAX_DEPTH: usize = 64;

impl Protocol {
    /// Limits for decoding a message of at most `max_bytes`: no string,
    /// container or message may claim more than the bytes that exist, so a
    /// lying length never allocates.
    pub(crate) fn limits(max_bytes: usize) -> TConfiguration {
        TConfiguration::builder()
            .max_message_size(Some(max_bytes))
            .max_frame_size(Some(max_bytes))
            .max_string_size(Some(max_bytes))
            .max_container_size(Some(max_bytes))
            .max_recursion_depth(Some(MAX_DEPTH))
            .build()
            .unwrap_or_default()
    }

    /// A decoder reading `source`.
    pub(crate) fn input<'a, R: Read + 'a>(
        self,
        source: R,
        limits: &TConfiguration,
    ) -> Box<dyn TInputProtocol + 'a> {
        match self {
            Protocol::Binary => Box::new(TBinaryInputProtocol::with_config(
                source,
                false,
                limits.clone(),
            )),
            Protocol::Compact => {
                Box::new(TCompactInputProtocol::with_config(source, limits.clone()))
            }
        }
    }

    /// An encoder appending to `sink`.
    pub(crate) fn output<'a>(self, sink: &'a mut Vec<u8>) -> Box<dyn TOutputProtocol + 'a> {
        match self {
            Protocol::Binary => Box::new(TBinaryOutputProtocol::new(sink, true)),
            Protocol::Compact => Box::new(TCompactOutputProtocol::new(sink)),
        }
    }

    /// The header of the message in `bytes`.
    #[cfg(test)]
    pub(crate) fn header(
        self,
        bytes: &[u8],
        limits: &TConfiguration,
    ) -> thrift::Result<thrift::protocol::TMessageIdentifier> {
        self.input(bytes, limits).read_message_begin()
    }
}

/// What a buffered connection's bytes hold so far.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// A whole message of this many bytes.
    Complete(usize),
    /// Not a whole message yet: nothing is worth trying again before the
    /// buffer holds `need` bytes.
    Incomplete { need: usize },
    /// Not a Thrift message.
    Invalid(String),
}

/// Finds where the first message in `bytes` ends, by skipping over it
/// without building anything. No length inside may claim more than the
/// bytes there are, so a lie allocates nothing; a claim past them is an
/// incomplete message, looked at again when more bytes have arrived (the
/// connection's frame limit and idle timeout end one that never does).
pub(crate) fn scan(protocol: Protocol, bytes: &[u8]) -> Scan {
    let limits = &Protocol::limits(bytes.len());
    let mut source = Tracked {
        bytes,
        pos: 0,
        need: None,
    };
    let result = {
        let mut input = protocol.input(&mut source, limits);
        input
            .read_message_begin()
            .and_then(|_| input.skip(TType::Struct))
            .and_then(|()| input.read_message_end())
    };
    match (result, source.need) {
        (Ok(()), _) => Scan::Complete(source.pos),
        (Err(_), Some(need)) => Scan::Incomplete { need },
        (Err(thrift::Error::Protocol(e)), None) if e.kind == ProtocolErrorKind::SizeLimit => {
            Scan::Incomplete {
                need: bytes.len() + 1,
            }
        }
        (Err(e), None) => Scan::Invalid(e.to_string()),
    }
}

/// A reader over a buffer that remembers how far a read wanted to go past
/// its end.
struct Tracked<'a> {
    bytes: &'a [u8],
    pos: usize,
    need: Option<usize>,
}

impl Read for Tracked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.bytes[self.pos..];
        if rest.len() < buf.len() {
            let wanted = self.pos + buf.len();
            self.need = Some(self.need.map_or(wanted, |n| n.max(wanted)));
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thrift::protocol::{TMessageIdentifier, TMessageType, TStructIdentifier};

    fn message(protocol: Protocol, text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut o = protocol.output(&mut out);
            o.write_message_begin(&TMessageIdentifier::new("echo", TMessageType::Call, 7))
                .expect("write");
            o.write_struct_begin(&TStructIdentifier::new("args"))
                .expect("write");
            o.write_field_begin(&thrift::protocol::TFieldIdentifier::new(
                "text",
                TType::String,
                1,
            ))
            .expect("write");
            o.write_string(text).expect("write");
            o.write_field_end().expect("write");
            o.write_field_stop().expect("write");
            o.write_struct_end().expect("write");
            o.write_message_end().expect("write");
        }
        out
    }

    #[test]
    fn finds_the_end_of_each_message_in_both_protocols() {
        let limits = Protocol::limits(1 << 20);
        for protocol in [Protocol::Binary, Protocol::Compact] {
            let one = message(protocol, "hello");
            let mut two = one.clone();
            two.extend(message(protocol, "world!"));
            assert_eq!(scan(protocol, &two), Scan::Complete(one.len()));
            for cut in 0..one.len() {
                match scan(protocol, &one[..cut]) {
                    Scan::Incomplete { need } => assert!(need > cut, "{protocol:?} at {cut}"),
                    other => panic!("{protocol:?} cut at {cut}: {other:?}"),
                }
            }
            let header = protocol.header(&one, &limits).expect("header");
            assert_eq!((header.name.as_str(), header.sequence_number), ("echo", 7));
        }
    }

    #[test]
    fn a_length_past_the_bytes_there_are_waits_for_more_and_garbage_is_invalid() {
        let long = message(Protocol::Binary, &"x".repeat(100));
        assert_eq!(scan(Protocol::Binary, &long), Scan::Complete(long.len()));
        // The string's length is there, its bytes not yet.
        let cut = &long[..30];
        assert_eq!(scan(Protocol::Binary, cut), Scan::Incomplete { need: 31 });
        // A name claiming 13 MB, in 22 bytes (non-strict binary).
        let mut lie = 13_000_000_u32.to_be_bytes().to_vec();
        lie.extend(b"getName\x01\0\0\0\x01\0\0\0\0\0\0");
        assert_eq!(scan(Protocol::Binary, &lie), Scan::Incomplete { need: 23 });
        assert!(matches!(
            scan(Protocol::Binary, b"\xde\xad\xbe\xef garbage"),
            Scan::Invalid(_)
        ));
    }
}
