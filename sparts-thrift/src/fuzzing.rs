//! The entry points of the fuzz targets (`fuzz/`, run by
//! `scripts/fuzz.sh`): a connection's bytes through the server's own
//! decoders, without a socket. Not an API: behind the `fuzzing` feature,
//! hidden from the docs.

use std::collections::BTreeMap;

use thrift::server::TProcessor;

use crate::conn::Reader;
use crate::fb303::{FacebookServiceSyncHandler, FacebookServiceSyncProcessor, FbStatus};
use crate::wire::{Protocol, Transport};

/// The largest request taken, as `--thrift-max-frame-bytes` would say.
const MAX_BYTES: usize = 1 << 20;

/// Splits `bytes`, arriving `chunk` bytes at a time, into requests as a
/// connection of `transport` would, and answers each as an fb303 call
/// in `protocol`, until the bytes end or the connection would be closed.
pub fn serve_bytes(transport: Transport, protocol: Protocol, bytes: &[u8], chunk: usize) {
    let mut reader = Reader::with(transport, protocol, MAX_BYTES);
    for piece in bytes.chunks(chunk.max(1)) {
        reader.feed(piece);
        loop {
            match reader.take() {
                Ok(Some(request)) => answer(protocol, &request),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// Decodes `request` as the server does and answers it.
fn answer(protocol: Protocol, request: &[u8]) {
    let limits = Protocol::limits(request.len());
    let mut input = protocol.input(request, &limits);
    let input = input.get();
    // The dispatcher reads every header itself before the processor does:
    // where thrift's decoder reads one, it must read the same.
    let header = protocol.header(request);
    if let Ok(ident) = input.read_message_begin() {
        match header {
            Ok(header) => assert_eq!(header.ident(&ident.name), ident, "{header:?}"),
            Err(e) => panic!("thrift reads {ident:?}, the dispatcher cannot: {e}"),
        }
    }
    let mut input = protocol.input(request, &limits);
    let mut out = Vec::new();
    let mut output = protocol.output(&mut out);
    let processor = FacebookServiceSyncProcessor::new(Answers);
    let _ = processor.process(input.get(), output.get());
}

/// An fb303 handler that answers every call at once.
struct Answers;

impl FacebookServiceSyncHandler for Answers {
    fn handle_get_name(&self) -> thrift::Result<String> {
        Ok("fuzz".to_owned())
    }
    fn handle_get_version(&self) -> thrift::Result<String> {
        Ok(String::new())
    }
    fn handle_get_status(&self) -> thrift::Result<FbStatus> {
        Ok(FbStatus::ALIVE)
    }
    fn handle_get_status_details(&self) -> thrift::Result<String> {
        Ok(String::new())
    }
    fn handle_get_counters(&self) -> thrift::Result<BTreeMap<String, i64>> {
        Ok(BTreeMap::new())
    }
    fn handle_get_counter(&self, _key: String) -> thrift::Result<i64> {
        Ok(0)
    }
    fn handle_set_option(&self, _key: String, _value: String) -> thrift::Result<()> {
        Ok(())
    }
    fn handle_get_option(&self, key: String) -> thrift::Result<String> {
        Ok(key)
    }
    fn handle_get_options(&self) -> thrift::Result<BTreeMap<String, String>> {
        Ok(BTreeMap::new())
    }
    fn handle_get_cpu_profile(&self, _seconds: i32) -> thrift::Result<String> {
        Ok(String::new())
    }
    fn handle_alive_since(&self) -> thrift::Result<i64> {
        Ok(0)
    }
    fn handle_reinitialize(&self) -> thrift::Result<()> {
        Ok(())
    }
    fn handle_shutdown(&self) -> thrift::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds of the fuzz target's corpus, each fed one byte at a time
    /// and whole: answered or refused, never a panic.
    #[test]
    fn the_seeds_go_through_every_framing() {
        let mut call = vec![0x80, 0x01, 0x00, 0x01, 0, 0, 0, 7];
        call.extend(b"getName");
        call.extend([0, 0, 0, 1, 0]);
        let mut framed = u32::try_from(call.len())
            .expect("small")
            .to_be_bytes()
            .to_vec();
        framed.extend(&call);
        let mut lie = 13_000_000_u32.to_be_bytes().to_vec();
        lie.extend(b"getName\x01\0\0\0\x01\0\0\0\0\0\0");
        for transport in [Transport::Framed, Transport::Buffered] {
            for protocol in [Protocol::Binary, Protocol::Compact] {
                for bytes in [&call[..], &framed, &lie] {
                    for chunk in [1, bytes.len()] {
                        serve_bytes(transport, protocol, bytes, chunk);
                    }
                }
            }
        }
    }
}
