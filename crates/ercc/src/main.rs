//! The `ercc` binary.
fn main() {}
