//! Code the example services share: Thrift code generated from
//! `examples/idl` (`scripts/thrift-codegen.sh` regenerates it) and the
//! handlers of the `demo` example.

pub mod demo;

/// `FooService` and `BarService` (`examples/idl/foobar.thrift`), the
/// services of the `thrift_multiplexed` example.
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::restriction,
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    rust_2018_idioms
)]
pub mod foobar;
