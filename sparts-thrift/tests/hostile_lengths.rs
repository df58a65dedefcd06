//! Lengths inside a Thrift message that claim more than the message holds
//! (a 22-byte frame whose method name claims 13 MB): refused before
//! anything is allocated for them, in both protocols and both transports.
//! This binary's allocator remembers the largest allocation the process
//! made, so it has a test binary of its own.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{FRAMED_BINARY, blocking, client, port};
use sparts_core::{RunningService, VService};
use sparts_thrift::fb303::{FbStatus, TFacebookServiceSyncClient};
use sparts_thrift::{ThriftHandlerTask, ThriftServerTask};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The system allocator, remembering the largest size asked of it.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on unchanged to the system allocator.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// What the lying lengths claim.
const CLAIM: u32 = 13_000_000;
/// More than any honest part of handling these bytes allocates.
const BOUND: usize = 1 << 20;

async fn server(args: &[&str]) -> Result<RunningService, sparts_core::Error> {
    let argv = ["hostile", "--thrift-host", "127.0.0.1"].iter().chain(args);
    VService::new("Hostile")
        .with_logging(false)
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new())
        .start_with_args(argv.copied())
        .await
}

/// `payload` in a frame.
fn framed(payload: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(payload.len())
        .expect("small")
        .to_be_bytes()
        .to_vec();
    out.extend(payload);
    out
}

/// `n` as a compact protocol varint.
fn varint(mut n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push(u8::try_from(n & 0x7f).expect("7 bits") | 0x80);
        n >>= 7;
    }
    out.push(u8::try_from(n).expect("7 bits"));
    out
}

/// Sends `bytes`, closes the sending side, and reads to the end (bounded).
fn exchange(port: u16, bytes: &[u8]) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(bytes)?;
    stream.shutdown(Shutdown::Write)?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    Ok(())
}

/// Sends each of `cases` to `running`, and checks that none made the
/// process allocate by the claim and that the server still serves.
async fn refused_without_allocating(
    running: RunningService,
    cases: Vec<(&'static str, Vec<u8>)>,
) -> TestResult {
    let port = port(running.handle());
    let report = blocking(move || -> Result<(), String> {
        for (name, bytes) in cases {
            LARGEST.store(0, Ordering::Relaxed);
            exchange(port, &bytes).map_err(|e| format!("{name}: {e}"))?;
            let largest = LARGEST.load(Ordering::Relaxed);
            if largest > BOUND {
                return Err(format!("{name}: {largest} bytes allocated at once"));
            }
        }
        Ok(())
    })
    .await;
    report?;
    if running.handle().option("thrift_transport")?.as_deref() == Some("framed")
        && running.handle().option("thrift_protocol")?.as_deref() == Some("binary")
    {
        let status = blocking(move || {
            client(port, FRAMED_BINARY, None)
                .get_status()
                .map_err(|e| e.to_string())
        })
        .await?;
        assert_eq!(status, FbStatus::ALIVE);
    }
    running.shutdown().await?;
    Ok(())
}

fn name_claiming(claim: u32) -> Vec<u8> {
    let mut out = claim.to_be_bytes().to_vec();
    out.extend(b"getName");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_binary_lies_in_names_and_arguments() -> TestResult {
    // Non-strict: the name's length comes first. 22 bytes on the wire.
    let mut loose = name_claiming(CLAIM);
    loose.extend([1, 0, 0, 0, 1, 0, 0]);
    assert_eq!(framed(&loose).len(), 22);
    // Strict: version, then the name as a string.
    let mut strict = vec![0x80, 0x01, 0x00, 0x01];
    strict.extend(name_claiming(CLAIM));
    // An honest getCounter whose key claims 13 MB.
    let mut argument = vec![0x80, 0x01, 0x00, 0x01, 0, 0, 0, 10];
    argument.extend(b"getCounter");
    argument.extend([0, 0, 0, 1, 11, 0, 1]);
    argument.extend(CLAIM.to_be_bytes());
    argument.extend(b"abc");
    // A list of strings claiming 13 M elements.
    let mut list = vec![0x80, 0x01, 0x00, 0x01, 0, 0, 0, 10];
    list.extend(b"getCounter");
    list.extend([0, 0, 0, 1, 15, 0, 1, 11]);
    list.extend(CLAIM.to_be_bytes());
    let cases = vec![
        ("non-strict name", framed(&loose)),
        ("strict name", framed(&strict)),
        ("string argument", framed(&argument)),
        ("list argument", framed(&list)),
    ];
    refused_without_allocating(server(&[]).await?, cases).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_compact_lies_in_names() -> TestResult {
    // Protocol id, version 1 with type call, sequence 1, then the name.
    let mut name = vec![0x82, 0x21, 0x01];
    name.extend(varint(CLAIM));
    name.extend(b"getName");
    let running = server(&["--thrift-protocol", "compact"]).await?;
    refused_without_allocating(running, vec![("compact name", framed(&name))]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_binary_lies_wait_for_bytes_that_never_come() -> TestResult {
    let mut strict = vec![0x80, 0x01, 0x00, 0x01];
    strict.extend(name_claiming(CLAIM));
    let mut loose = name_claiming(CLAIM);
    loose.extend([1, 0, 0, 0, 1, 0, 0]);
    let running = server(&["--thrift-transport", "buffered"]).await?;
    refused_without_allocating(
        running,
        vec![("strict name", strict), ("non-strict name", loose)],
    )
    .await
}
