//! A service with no tasks.
fn main() {}
