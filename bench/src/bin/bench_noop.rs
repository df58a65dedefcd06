//! A Rust program that does nothing: the floor under `bench_empty_exit`
//! (process spawn, exec, dynamic loading, Rust's runtime start and exit).
//!
//! ```sh
//! cargo run --release -p sparts-bench --bin bench_noop
//! ```
fn main() {}
