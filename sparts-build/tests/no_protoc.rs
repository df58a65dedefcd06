//! `.proto` files compile with no `protoc` anywhere: the whole point of
//! using protox. A test binary of its own, since it empties the process's
//! `PATH`.

#[test]
fn compiles_with_no_protoc_on_the_path() {
    let src = tempfile::tempdir().expect("temporary directory");
    let out = tempfile::tempdir().expect("temporary directory");
    let proto = src.path().join("echo.proto");
    std::fs::write(
        &proto,
        "syntax = \"proto3\";\npackage echo;\nmessage Ping { string text = 1; }\n\
         service Echo { rpc Say(Ping) returns (Ping); }\n",
    )
    .expect("write echo.proto");
    // SAFETY: this binary's only test, so no other thread reads the
    // environment while it changes. prost-build would look for `protoc` in
    // PROTOC, then on the PATH: neither finds one now.
    unsafe {
        std::env::set_var("PATH", "");
        std::env::set_var("PROTOC", src.path().join("no-such-protoc"));
    }
    sparts_build::Grpc::new()
        .with_out_dir(out.path())
        .compile(&[&proto], &[src.path()])
        .expect("echo.proto compiles without protoc");
    let code = std::fs::read_to_string(out.path().join("echo.rs")).expect("echo.rs");
    assert!(code.contains("pub mod echo_server"), "{code}");
}
