//! Compiles the `.proto` files of sparts-grpc into Rust with protox (no
//! `protoc`), the same two calls a user's `build.rs` makes.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let proto = root.join("proto");
    let out = root.join("src/generated");
    for file in ["sparts_admin.proto", "helloworld.proto"] {
        let fds = protox::compile([file], [&proto])?;
        let stem = file.trim_end_matches(".proto");
        std::fs::write(
            out.join(format!("{stem}.bin")),
            prost_encode(&fds),
        )?;
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            .build_transport(false)
            .out_dir(&out)
            .compile_fds(fds)?;
    }
    Ok(())
}

fn prost_encode(fds: &prost_types::FileDescriptorSet) -> Vec<u8> {
    use prost::Message as _;
    fds.encode_to_vec()
}
