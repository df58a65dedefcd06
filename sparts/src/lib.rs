//! sparts: write long-running services with as little code as possible.

pub use sparts_core::*;
