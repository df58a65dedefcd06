//! TLS on the examples, with real clients: curl over TLS (HTTP/1.1, and
//! HTTP/2 chosen by ALPN), Python's `ssl`, mutual TLS refusing a client
//! without a certificate, a certificate rotated under `wrk` with no failed
//! request, and each bad certificate, key or CA file a clear error at start.
//! (grpcio and Thrift's TSSLSocket connect in scripts/grpc_python_check.py
//! and scripts/thrift_python_check.py.)
//!
//! The certificates are in tests/fixtures/tls (scripts/tls-fixtures.sh).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Example, PATIENCE, TestResult, curl, found, wrk};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
        .display()
        .to_string()
}

/// `http_hello` over TLS on a free port, ready, with `more` flags.
fn https_hello(cert: &str, key: &str, more: &[&str]) -> TestResult<(Example, u16)> {
    let mut args = vec![
        "--http-host",
        "127.0.0.1",
        "--http-port",
        "0",
        "--http-tls-cert",
        cert,
        "--http-tls-key",
        key,
    ];
    args.extend_from_slice(more);
    let mut child = Example::spawn(env!("CARGO_BIN_EXE_http_hello"), &args)?;
    let port = child.logged_port("HttpTask")?;
    child.expect_line("All tasks started")?;
    Ok((child, port))
}

#[tokio::test]
async fn curl_speaks_http1_and_http2_by_alpn_over_tls() -> TestResult {
    if !found("curl") {
        return Ok(());
    }
    let (_child, port) = https_hello(&fixture("server.pem"), &fixture("server.key"), &[])?;
    let url = format!("https://localhost:{port}/");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let ca = fixture("ca.pem");
    let common = ["--cacert", &ca, "--resolve", &resolve];
    let (ok, h2) = curl(&[&common[..], &["--http2", "-w", " %{http_version}", &url]].concat())?;
    assert!(ok, "{h2}");
    assert_eq!(h2, "Hello, world 2");
    let (ok, h1) = curl(&[&common[..], &["--http1.1", "-w", " %{http_version}", &url]].concat())?;
    assert!(ok, "{h1}");
    assert_eq!(h1, "Hello, world 1.1");
    // Without the CA, curl cannot trust the server: the handshake is real.
    let (ok, untrusted) = curl(&["--resolve", &resolve, &url])?;
    assert!(!ok, "{untrusted}");
    Ok(())
}

#[tokio::test]
async fn python_ssl_connects_and_a_client_without_a_certificate_is_refused_under_mutual_tls()
-> TestResult {
    if !found("curl") || !found("python3") {
        return Ok(());
    }
    let ca = fixture("ca.pem");
    let (_child, port) = https_hello(
        &fixture("server.pem"),
        &fixture("server.key"),
        &["--http-tls-client-ca", &ca],
    )?;
    let url = format!("https://localhost:{port}/");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let (ok, anonymous) = curl(&["--cacert", &ca, "--resolve", &resolve, &url])?;
    assert!(!ok, "served without a client certificate: {anonymous}");
    let (cert, key) = (fixture("client.pem"), fixture("client.key"));
    let (ok, body) = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
        "--resolve",
        &resolve,
        &url,
    ])?;
    assert!(ok, "{body}");
    assert_eq!(body, "Hello, world");

    let script = r#"
import socket, ssl, sys
port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
context = ssl.create_default_context(cafile=ca)
context.load_cert_chain(cert, key)
with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
    with context.wrap_socket(raw, server_hostname="localhost") as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
print(answer.decode().splitlines()[0], answer.decode().split("\r\n\r\n", 1)[1])
"#;
    let out = Command::new("python3")
        .args(["-c", script, &port.to_string(), &ca, &cert, &key])
        .output()?;
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(printed.trim(), "HTTP/1.1 200 OK Hello, world");
    Ok(())
}

/// The SHA-256 fingerprint of the certificate the server on `port` presents now.
fn presented(port: u16) -> TestResult<String> {
    let script = r#"
import hashlib, socket, ssl, sys
context = ssl.create_default_context(cafile=sys.argv[2])
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20) as raw:
    with context.wrap_socket(raw, server_hostname="localhost") as conn:
        print(hashlib.sha256(conn.getpeercert(binary_form=True)).hexdigest())
"#;
    let out = Command::new("python3")
        .args(["-c", script, &port.to_string(), &fixture("ca.pem")])
        .output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// Copies the server's pair into a directory of the test's own, where it
/// can be rotated.
fn rotatable() -> TestResult<(tempfile::TempDir, PathBuf, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::copy(fixture("server.pem"), &cert)?;
    std::fs::copy(fixture("server.key"), &key)?;
    Ok((dir, cert, key))
}

/// Replaces `to` with `from` at once, as a deploy tool does.
fn replace(from: &str, to: &Path) -> TestResult {
    let next = to.with_extension("next");
    std::fs::copy(from, &next)?;
    std::fs::rename(&next, to)?;
    Ok(())
}

#[tokio::test]
async fn a_certificate_rotated_under_load_is_served_with_no_failed_request() -> TestResult {
    if !found("python3") || !found("wrk") {
        return Ok(());
    }
    let (_dir, cert, key) = rotatable()?;
    let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());
    let (mut child, port) = https_hello(&cert_s, &key_s, &[])?;
    let before = presented(port)?;
    let url = format!("https://127.0.0.1:{port}/");
    let seconds = 6;
    let load = wrk::start(&[
        "-t2",
        "-c8",
        &format!("-d{seconds}s"),
        "--timeout",
        "5s",
        &url,
    ])?;
    std::thread::sleep(Duration::from_secs(1));
    // A bad pair first: it is refused and the one in use kept.
    replace(&fixture("stray.key"), &key)?;
    child.expect_line("keeping the TLS certificate in use")?;
    assert_eq!(presented(port)?, before);
    replace(&fixture("rotated.pem"), &cert)?;
    replace(&fixture("rotated.key"), &key)?;
    child.expect_line("TLS certificate reloaded")?;
    let deadline = Instant::now() + PATIENCE;
    while presented(port)? == before {
        assert!(
            Instant::now() < deadline,
            "the new certificate is never served"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wrk::finish(load, seconds)?.assert_clean();
    Ok(())
}

/// Starts `http_hello` with `tls` flags, expecting it to refuse to start:
/// its exit status and the line that says why.
fn refused(tls: &[&str], why: &str) -> TestResult<String> {
    let mut args = vec!["--http-host", "127.0.0.1", "--http-port", "0"];
    args.extend_from_slice(tls);
    let mut child = Example::spawn(env!("CARGO_BIN_EXE_http_hello"), &args)?;
    let line = child.expect_line(why)?;
    let status = child.wait_exit()?;
    assert_eq!(status.code(), Some(1), "{line}");
    let all = child.lines_so_far().join("\n");
    assert!(!all.contains("panicked"), "{all}");
    assert!(
        !all.contains("Server Started"),
        "nothing is bound before the files are checked: {all}"
    );
    Ok(line)
}

#[test]
fn each_bad_certificate_key_or_ca_file_is_a_clear_error_naming_it() -> TestResult {
    let (cert, key) = (fixture("server.pem"), fixture("server.key"));
    let missing = "/nonexistent/cert.pem";
    let line = refused(
        &["--http-tls-cert", missing, "--http-tls-key", &key],
        "cannot read it",
    )?;
    assert!(line.contains(missing), "{line}");
    let stray = fixture("stray.key");
    let line = refused(
        &["--http-tls-cert", &cert, "--http-tls-key", &stray],
        "does not match the certificate",
    )?;
    assert!(line.contains("stray.key"), "{line}");
    // A key file where the CA's certificates should be.
    let line = refused(
        &[
            "--http-tls-cert",
            &cert,
            "--http-tls-key",
            &key,
            "--http-tls-client-ca",
            &key,
        ],
        "no certificate in it",
    )?;
    assert!(line.contains("server.key"), "{line}");
    // A key without its certificate is a usage error.
    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_http_hello"),
        &["--http-port", "0", "--http-tls-key", &key],
    )?;
    let line = child.expect_line("--http-tls-cert")?;
    assert!(!child.wait_exit()?.success(), "{line}");
    Ok(())
}
