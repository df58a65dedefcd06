//! The baseline of `bench/actix.sh`: actix-web's own hello world, as its
//! README writes it (default worker count; `System::new().block_on` is
//! what `#[actix_web::main]` expands to, without the macros feature), with
//! nothing of sparts. It logs its port to stderr like the sparts server
//! does.
//!
//! ```sh
//! cargo run --release -p sparts-bench --bin bare_actix -- 8001
//! ```
use actix_web::{App, HttpServer, web};

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    actix_web::rt::System::new().block_on(async move {
        let app = || App::new().route("/", web::get().to(|| async { "Hello from actix" }));
        let server = HttpServer::new(app).bind(("127.0.0.1", port))?;
        let bound = server.addrs().first().map_or(port, |a| a.port());
        eprintln!("bare actix listening on 127.0.0.1 (port {bound})");
        server.run().await
    })
}
