//! Request bodies of the HTTP admin API, as a client on loopback sends
//! them to a real `HttpTask`: `PUT /admin/options/<name>` with the input as
//! the body (the option picked by the first byte), through hyper, axum's
//! extractors and body limit, and the admin model. Every answer must be a
//! whole HTTP response, and the server must keep answering.
#![no_main]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sparts_core::VService;
use sparts_fuzz::{Started, started_once};
use sparts_http::HttpTask;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    static SERVICE: OnceLock<Started> = OnceLock::new();
    let args = ["--http-host", "127.0.0.1", "--http-port", "0"];
    let service = started_once(
        &SERVICE,
        || VService::new("Fuzz").with_task(HttpTask::default()),
        &args,
    );
    let port = service
        .handle()
        .get::<HttpTask>()
        .and_then(|task| task.port())
        .expect("a port");
    let names = &service.option_names;
    let name = &names[usize::from(which) % names.len()];
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the server accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    let head = format!(
        "PUT /admin/options/{name} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("the head is sent");
    // A body refused early may see the connection closed before it is all sent.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 200")
            || answer.starts_with(b"HTTP/1.1 400")
            || answer.starts_with(b"HTTP/1.1 404")
            || answer.starts_with(b"HTTP/1.1 409")
            || answer.starts_with(b"HTTP/1.1 413"),
        "PUT {name}: {}",
        String::from_utf8_lossy(&answer[..answer.len().min(200)])
    );
});
