//! A Thrift connection's bytes through the server's framing (framed or
//! buffered) and decoding (binary or compact) into fb303 calls. The first
//! byte picks the transport (bit 0), the protocol (bit 1) and how many
//! bytes arrive at a time (the rest, plus one).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sparts_thrift::{Protocol, Transport, fuzzing};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let transport = if mode & 1 == 0 {
        Transport::Framed
    } else {
        Transport::Buffered
    };
    let protocol = if mode & 2 == 0 {
        Protocol::Binary
    } else {
        Protocol::Compact
    };
    fuzzing::serve_bytes(transport, protocol, bytes, usize::from(mode >> 2) + 1);
});
