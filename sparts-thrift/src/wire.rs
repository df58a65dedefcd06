//! Thrift on the wire: the transports and protocols a server speaks, the
//! limits every decoder gets, and where a message ends on a buffered
//! connection.

use std::io::{self, Read};

use thrift::ProtocolErrorKind;
use thrift::TConfiguration;
use thrift::protocol::{
    TBinaryInputProtocol, TBinaryOutputProtocol, TCompactInputProtocol, TCompactOutputProtocol,
    TInputProtocol, TMessageIdentifier, TMessageType, TOutputProtocol, TType,
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
    pub(crate) fn input<R: Read>(self, source: R, limits: &TConfiguration) -> Input<R> {
        match self {
            Protocol::Binary => Input::Binary(TBinaryInputProtocol::with_config(
                source,
                false,
                limits.clone(),
            )),
            Protocol::Compact => {
                Input::Compact(TCompactInputProtocol::with_config(source, limits.clone()))
            }
        }
    }

    /// An encoder appending to `sink`.
    pub(crate) fn output(self, sink: &mut Vec<u8>) -> Output<'_> {
        match self {
            Protocol::Binary => Output::Binary(TBinaryOutputProtocol::new(sink, true)),
            Protocol::Compact => Output::Compact(TCompactOutputProtocol::new(sink)),
        }
    }

    /// The header of the message `bytes` starts with, its name borrowed
    /// from them: the dispatcher reads every request's header before the
    /// processor does, and copying the name for that would be one
    /// allocation a call for nothing. Non-strict binary headers (no
    /// version) are accepted, as the server's decoder accepts them.
    pub(crate) fn header(self, bytes: &[u8]) -> Result<Header<'_>, String> {
        let mut at = Cursor { bytes, pos: 0 };
        let (name, kind, sequence_number) = match self {
            Protocol::Binary => {
                let first = at.i32()?;
                if first < 0 {
                    // `as`: the bits of the version word, not a number.
                    let word = first as u32;
                    if word & 0xffff_0000 != 0x8001_0000 {
                        return Err(format!("bad binary protocol version {word:#010x}"));
                    }
                    let len = first_len(at.i32()?)?;
                    let name = at.string_of(len)?;
                    (name, (word & 0xff) as u8, at.i32()?)
                } else {
                    let name = at.string_of(first_len(first)?)?;
                    let kind = at.u8()?;
                    (name, kind, at.i32()?)
                }
            }
            Protocol::Compact => {
                if at.u8()? != 0x82 {
                    return Err("not a compact protocol message (no 0x82 first)".to_owned());
                }
                let byte = at.u8()?;
                if byte & 0x1f != 1 {
                    return Err(format!("bad compact protocol version {}", byte & 0x1f));
                }
                // The sequence number is a varint of an i32's bits.
                let sequence = at.varint()? as i32;
                let len = usize::try_from(at.varint()?).map_err(|e| e.to_string())?;
                (at.string_of(len)?, byte >> 5, sequence)
            }
        };
        let message_type = TMessageType::try_from(kind).map_err(|e| e.to_string())?;
        Ok(Header {
            name,
            message_type,
            sequence_number,
            body: at.pos,
        })
    }
}

/// A decoder of either protocol, on the stack: one is made for every
/// request, and boxing it would cost an allocation each time.
pub(crate) enum Input<R: Read> {
    Binary(TBinaryInputProtocol<R>),
    Compact(TCompactInputProtocol<R>),
}

impl<R: Read> Input<R> {
    /// The decoder, as processors take it.
    pub(crate) fn get(&mut self) -> &mut dyn TInputProtocol {
        match self {
            Input::Binary(input) => input,
            Input::Compact(input) => input,
        }
    }
}

/// An encoder of either protocol, on the stack, as [`Input`].
pub(crate) enum Output<'a> {
    Binary(TBinaryOutputProtocol<&'a mut Vec<u8>>),
    Compact(TCompactOutputProtocol<&'a mut Vec<u8>>),
}

impl Output<'_> {
    /// The encoder, as processors take it.
    pub(crate) fn get(&mut self) -> &mut dyn TOutputProtocol {
        match self {
            Output::Binary(output) => output,
            Output::Compact(output) => output,
        }
    }
}

/// A message's header, read in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    pub(crate) name: &'a str,
    pub(crate) message_type: TMessageType,
    pub(crate) sequence_number: i32,
    /// Where the message's body (its arguments) starts.
    pub(crate) body: usize,
}

impl Header<'_> {
    /// The header as the thrift crate's decoders return it, under `name`.
    pub(crate) fn ident(&self, name: &str) -> TMessageIdentifier {
        TMessageIdentifier::new(name, self.message_type, self.sequence_number)
    }
}

/// A binary name's length, which a negative number cannot be.
fn first_len(len: i32) -> Result<usize, String> {
    usize::try_from(len).map_err(|_| format!("negative message name length {len}"))
}

/// Reads a header's fields, each checked against the bytes there are.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!(
                "message header claims {n} bytes at byte {}, past its end ({} bytes)",
                self.pos,
                self.bytes.len()
            ));
        };
        let taken = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn i32(&mut self) -> Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An unsigned LEB128 varint of at most 32 bits, as compact writes them.
    fn varint(&mut self) -> Result<u32, String> {
        let mut value = 0_u32;
        for shift in (0..35).step_by(7) {
            let byte = self.u8()?;
            value |= u32::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 5 bytes in a message header".to_owned())
    }

    fn string_of(&mut self, len: usize) -> Result<&'a str, String> {
        std::str::from_utf8(self.take(len)?).map_err(|e| format!("message name is not UTF-8: {e}"))
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
        let input = input.get();
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
    use thrift::protocol::TStructIdentifier;

    fn message(protocol: Protocol, text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut o = protocol.output(&mut out);
            let o = o.get();
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
            let header = protocol.header(&one).expect("header");
            assert_eq!((header.name, header.sequence_number), ("echo", 7));
            let mut input = protocol.input(&one[..], &limits);
            let ident = input.get().read_message_begin().expect("thrift's header");
            assert_eq!(header.ident(&ident.name), ident);
            for cut in 0..header.body {
                assert!(
                    protocol.header(&one[..cut]).is_err(),
                    "{protocol:?} at {cut}"
                );
            }
        }
    }

    /// Reads nested structs the way generated code reads a recursive type
    /// (a tree in a user's IDL): each struct's field 1, when there, is the
    /// next struct.
    fn read_nested(input: &mut dyn TInputProtocol) -> thrift::Result<usize> {
        input.read_struct_begin()?;
        let field = input.read_field_begin()?;
        let depth = if field.field_type == TType::Struct {
            let depth = read_nested(input)?;
            input.read_field_end()?;
            input.read_field_begin()?; // its stop
            depth + 1
        } else {
            1
        };
        input.read_struct_end()?;
        Ok(depth)
    }

    /// Hostile bytes would make such a reader recurse once per three bytes
    /// (binary) or one (compact), past any thread's stack: both decoders
    /// stop at `MAX_DEPTH`.
    #[test]
    fn structs_deeper_than_the_limit_are_refused_in_both_protocols() {
        let limits = Protocol::limits(1 << 20);
        let binary = |levels: usize| {
            let mut bytes = [12_u8, 0, 1].repeat(levels - 1); // a struct, field 1
            bytes.extend(vec![0_u8; levels]); // the stops
            bytes
        };
        let compact = |levels: usize| {
            let mut bytes = vec![0x1c_u8; levels - 1]; // field 1 (delta), a struct
            bytes.extend(vec![0_u8; levels]);
            bytes
        };
        for (protocol, encode) in [
            (Protocol::Binary, &binary as &dyn Fn(usize) -> Vec<u8>),
            (Protocol::Compact, &compact),
        ] {
            let fine = encode(MAX_DEPTH);
            let mut input = protocol.input(&fine[..], &limits);
            assert_eq!(read_nested(input.get()).expect("at the limit"), MAX_DEPTH);
            let deep = encode(300_000);
            let mut input = protocol.input(&deep[..], &limits);
            let refused = read_nested(input.get()).expect_err("too deep");
            assert!(
                matches!(&refused, thrift::Error::Protocol(e) if e.kind == ProtocolErrorKind::DepthLimit),
                "{protocol:?}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_header_that_lies_or_breaks_off_is_refused_with_why() {
        let refused =
            |protocol: Protocol, bytes: &[u8]| protocol.header(bytes).expect_err("not a header");
        // Non-strict binary: a name claiming 13 MB in 22 bytes.
        let mut lie = 13_000_000_u32.to_be_bytes().to_vec();
        lie.extend(b"getName\x01\0\0\0\x01\0\0\0\0\0\0");
        assert!(refused(Protocol::Binary, &lie).contains("past its end"));
        assert!(refused(Protocol::Binary, b"\x80\x02\0\x01").contains("version"));
        let negative = [0x80, 0x01, 0x00, 0x01, 0xff, 0xff, 0xff, 0xfe];
        assert!(refused(Protocol::Binary, &negative).contains("negative"));
        let not_utf8 = [0x80, 0x01, 0x00, 0x01, 0, 0, 0, 2, 0xff, 0xfe, 0, 0, 0, 1];
        assert!(refused(Protocol::Binary, &not_utf8).contains("UTF-8"));
        let bad_type = [0x80, 0x01, 0x00, 0x09, 0, 0, 0, 1, b'x', 0, 0, 0, 1];
        assert!(!refused(Protocol::Binary, &bad_type).is_empty());
        assert!(refused(Protocol::Compact, b"\x81\x21").contains("0x82"));
        assert!(refused(Protocol::Compact, b"\x82\x22").contains("version"));
        // A sequence number whose varint never ends.
        let endless = [0x82, 0x21, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert!(refused(Protocol::Compact, &endless).contains("varint"));
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
